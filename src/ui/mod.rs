//! The terminal: the only module that writes to stdout and stderr. Commands hand
//! it text; it handles broken pipes and colour.

use std::io::{IsTerminal, Write};

/// Writes command output to stdout and messages to stderr.
pub struct Printer {
    color: bool,
}

impl Printer {
    pub fn new(no_color: bool) -> Printer {
        let color =
            !no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal();
        Printer { color }
    }

    /// Command output. A closed pipe (`cnvrgctl render | head`) is not an error.
    pub fn out(&self, text: &str) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => other,
        }
    }

    /// A status line on stderr.
    pub fn info(&self, text: &str) {
        eprintln!("{text}");
    }

    pub fn warn(&self, text: &str) {
        eprintln!("{}: {text}", self.paint("warning", "33"));
    }

    pub fn error(&self, text: &str) {
        eprintln!("{}: {text}", self.paint("error", "31"));
    }

    fn paint(&self, word: &str, code: &str) -> String {
        if self.color {
            format!("\x1b[1;{code}m{word}\x1b[0m")
        } else {
            word.to_string()
        }
    }
}
