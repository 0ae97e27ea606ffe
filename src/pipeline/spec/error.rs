//! Spec errors: each one names the file, line, column and field it is about, shows
//! the offending line, and says what was expected.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::pipeline::yaml::{Pos, Positions};

/// One spec file as read, with its position index.
#[derive(Debug)]
pub struct Source {
    pub path: PathBuf,
    pub text: String,
    pub positions: Positions,
}

impl Source {
    pub fn new(path: impl Into<PathBuf>, text: String) -> Arc<Source> {
        let positions = Positions::index(&text);
        Arc::new(Source {
            path: path.into(),
            text,
            positions,
        })
    }

    /// A diagnostic about `field` (a dotted path) in this file.
    pub fn at(&self, field: &str, message: impl Into<String>) -> Diagnostic {
        let pos = self.positions.find(field);
        self.at_pos(field, pos, message)
    }

    pub fn at_pos(&self, field: &str, pos: Option<Pos>, message: impl Into<String>) -> Diagnostic {
        let line = pos.and_then(|p| {
            let line = self.text.lines().nth(p.line.checked_sub(1)?)?;
            Some(printable(&mask_secret(line)))
        });
        Diagnostic {
            file: self.path.clone(),
            pos,
            field: field.to_string(),
            message: message.into(),
            help: None,
            line,
        }
    }
}

/// A source line as shown under a message, with the value of any key that
/// looks like it holds a secret (`password`, `token`, `secret`) masked.
fn mask_secret(line: &str) -> String {
    let Some((key, value)) = line.split_once(':') else {
        return line.to_string();
    };
    let k = key.to_ascii_lowercase();
    let secret = ["password", "passwd", "token", "secret"]
        .iter()
        .any(|w| k.contains(w));
    if secret && !value.trim().is_empty() && !k.ends_with("env") && !k.ends_with("file") {
        format!("{key}: ***")
    } else {
        line.to_string()
    }
}

/// A source line as it can be shown on a terminal: a tab as `→` and any other
/// control character as `�`, one character each so the caret stays aligned.
fn printable(line: &str) -> String {
    line.chars()
        .map(|c| match c {
            '\t' => '→',
            c if c.is_control() => '\u{fffd}',
            c => c,
        })
        .collect()
}

/// A message as it can be shown on a terminal: line breaks kept, any other
/// control character (from a quoted value) as `�`.
fn printable_text(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' => '\n',
            c if c.is_control() => '\u{fffd}',
            c => c,
        })
        .collect()
}

/// A problem at one place in one file.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub pos: Option<Pos>,
    /// Dotted path of the field, e.g. `spec.tenants[1].workspace.agentPools`.
    pub field: String,
    pub message: String,
    /// What would fix it: a suggestion or the accepted values.
    pub help: Option<String>,
    /// The source line, shown under the message.
    line: Option<String>,
}

impl Diagnostic {
    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Drops the source line from the message, for fields that hold a secret.
    pub fn hide_line(mut self) -> Diagnostic {
        self.line = None;
        self
    }

    /// A diagnostic about a whole file (I/O, wrong kind) with no position.
    pub fn file(path: &Path, message: impl Into<String>) -> Diagnostic {
        Diagnostic::file_at(path, None, message)
    }

    /// A diagnostic at a position of a file whose text cannot be shown (not
    /// UTF-8, say).
    pub fn file_at(path: &Path, pos: Option<Pos>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: path.to_path_buf(),
            pos,
            field: String::new(),
            message: message.into(),
            help: None,
            line: None,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(p) = self.pos {
            write!(f, ":{}:{}", p.line, p.col)?;
        }
        if !self.field.is_empty() && self.field != "." {
            write!(f, ": {}", printable_text(&self.field))?;
        }
        write!(f, ": {}", printable_text(&self.message))?;
        if let (Some(p), Some(line)) = (self.pos, &self.line) {
            let (shown, col) = window(line, p.col);
            let n = p.line.to_string();
            let pad = " ".repeat(n.len());
            write!(f, "\n {pad} |\n {n} | {shown}\n {pad} | ")?;
            write!(f, "{}^", " ".repeat(col.saturating_sub(1)))?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  = help: {}", printable_text(help))?;
        }
        Ok(())
    }
}

/// Why a spec could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// One or more problems in the spec files, all reported at once.
    #[error("{}", render_all(.0))]
    Invalid(Vec<Diagnostic>),
}

fn render_all(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for (i, d) in diags.iter().enumerate() {
        if i > 0 {
            out.push_str("\n\n");
        }
        out.push_str(&d.to_string());
    }
    if diags.len() > 1 {
        out.push_str(&format!("\n\n{} problems found in the spec", diags.len()));
    }
    out
}

/// At most [`WINDOW`] characters of `line` around column `col` (1-based), and
/// the column within what is shown.
fn window(line: &str, col: usize) -> (String, usize) {
    let chars: Vec<char> = line.chars().collect();
    if chars.len() <= WINDOW {
        return (line.to_string(), col);
    }
    let start = col.saturating_sub(WINDOW / 2).min(chars.len() - WINDOW);
    let text: String = chars[start..start + WINDOW].iter().collect();
    let (lead, shift) = if start > 0 { ("…", 1) } else { ("", 0) };
    let tail = if start + WINDOW < chars.len() {
        "…"
    } else {
        ""
    };
    (format!("{lead}{text}{tail}"), col - start + shift)
}

/// Longest part of a source line a diagnostic shows.
const WINDOW: usize = 100;

/// The closest of `candidates` to `word`, when it is close enough to be a typo.
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| {
            (
                strsim::jaro_winkler(&word.to_lowercase(), &c.to_lowercase()),
                *c,
            )
        })
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}
