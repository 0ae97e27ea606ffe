//! The terminal: the only module that writes to stdout and stderr. Commands hand
//! it text, diff lines and engine events; it handles broken pipes, colour,
//! progress lines and prompts. How all of that looks (JSON, live bars, plain
//! lines or quiet; colour; whether to ask) is decided once, in [`mode`], when
//! the [`Printer`] is made; the progress of a run is built from it.

mod mode;
mod progress;

use std::io::Write;

use crate::engine::apply::Observed;
use crate::engine::diff::{Line, Tone};

pub use mode::{Flags, Mode, Progress as ProgressMode, Terminal};
pub use progress::Progress;

/// Writes command output to stdout and messages to stderr.
pub struct Printer {
    mode: Mode,
}

impl Printer {
    /// A printer for this process's terminal (read once, here).
    pub fn new(flags: Flags) -> Printer {
        Printer::with_mode(Mode::decide(flags, Terminal::detect()))
    }

    pub fn with_mode(mode: Mode) -> Printer {
        Printer { mode }
    }

    /// How this printer writes.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Progress for a run that is not a plan's (a removal): no bars.
    pub fn progress(&self) -> Progress {
        Progress::new(self.mode.progress, None)
    }

    /// Progress for the run `observed` describes, with a bar per scope.
    pub fn progress_for(&self, observed: &Observed) -> Progress {
        Progress::new(self.mode.progress, Some(observed))
    }

    /// Command output. A closed pipe (`cnvrgctl render | head`) is not an error.
    pub fn out(&self, text: &str) -> std::io::Result<()> {
        let text = crate::pipeline::redact::redact(text);
        let mut out = std::io::stdout().lock();
        match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => other,
        }
    }

    /// Diff lines on stdout, coloured by tone when stdout is a terminal.
    pub fn lines(&self, lines: &[Line]) -> std::io::Result<()> {
        let mut text = String::new();
        for line in lines {
            let code = match line.tone {
                Tone::Added => Some("32"),
                Tone::Removed => Some("31"),
                Tone::Header => Some("1;36"),
                Tone::Dim => Some("2"),
                Tone::Plain | Tone::Context => None,
            };
            match code {
                Some(code) if self.mode.color_out => {
                    text.push_str(&format!("\x1b[{code}m{}\x1b[0m\n", line.text))
                }
                _ => {
                    text.push_str(&line.text);
                    text.push('\n');
                }
            }
        }
        self.out(&text)
    }

    /// A status line on stderr (none with `--quiet`).
    pub fn info(&self, text: &str) {
        if self.mode.status {
            eprintln!("{}", crate::pipeline::redact::redact(text));
        }
    }

    pub fn warn(&self, text: &str) {
        eprintln!(
            "{}: {}",
            self.paint("warning", "33"),
            crate::pipeline::redact::redact(text)
        );
    }

    pub fn error(&self, text: &str) {
        eprintln!(
            "{}: {}",
            self.paint("error", "31"),
            crate::pipeline::redact::redact(text)
        );
    }

    fn paint(&self, word: &str, code: &str) -> String {
        if self.mode.color_err {
            format!("\x1b[1;{code}m{word}\x1b[0m")
        } else {
            word.to_string()
        }
    }

    /// Asks a yes/no question; `yes` answers it. Without a terminal there is
    /// nobody to ask: an error says to pass `--yes`.
    pub fn confirm(&self, question: &str, yes: bool) -> Result<bool, String> {
        if yes {
            return Ok(true);
        }
        if !self.mode.interactive {
            return Err(format!(
                "{question} — stdin is not a terminal, so nobody can answer; pass --yes to proceed"
            ));
        }
        dialoguer::Confirm::new()
            .with_prompt(question)
            .default(false)
            .interact()
            .map_err(|e| format!("cannot ask for confirmation: {e}"))
    }

    /// Whether questions can be asked: stdin and stderr are terminals.
    pub fn can_ask(&self) -> bool {
        self.mode.interactive
    }

    /// Asks to pick one of `choices`; the index picked.
    pub fn choose(&self, question: &str, choices: &[&str]) -> Result<usize, String> {
        dialoguer::Select::new()
            .with_prompt(question)
            .items(choices)
            .default(0)
            .interact()
            .map_err(|e| format!("cannot ask: {e}"))
    }

    /// Asks for a line of text, `default` when the answer is empty; `check`
    /// refuses an answer with why, and the question is asked again.
    pub fn ask(
        &self,
        question: &str,
        default: &str,
        check: impl Fn(&str) -> Result<(), String>,
    ) -> Result<String, String> {
        dialoguer::Input::<String>::new()
            .with_prompt(question)
            .default(default.to_string())
            .validate_with(|text: &String| check(text))
            .interact_text()
            .map_err(|e| format!("cannot ask: {e}"))
    }
}
