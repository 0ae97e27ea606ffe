//! Render errors: each names the template (and the scope it was rendered for),
//! the line, and shows the source around it.

use std::path::PathBuf;

/// Why rendering failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The `--templates` directory could not be read.
    #[error("cannot read templates from {}: {message}", path.display())]
    Overlay { path: PathBuf, message: String },
    /// A template failed to compile or evaluate (undefined value, bad syntax, a
    /// failing function). `window` is minijinja's source excerpt.
    #[error("template {template}{}{}: {detail}{}", scope_suffix(scope), line_suffix(*line), window_block(window))]
    Template {
        template: String,
        /// The scope being rendered; `None` when the template does not compile.
        scope: Option<String>,
        line: Option<usize>,
        detail: String,
        window: String,
    },
    /// A template produced text that is not valid YAML.
    #[error("template {template} (scope {scope}) produced invalid YAML{}: {message}{}", line_suffix(*line), window_block(window))]
    Yaml {
        template: String,
        scope: String,
        line: Option<usize>,
        message: String,
        window: String,
    },
    /// A template produced a document that is not a Kubernetes object.
    #[error("template {template} (scope {scope}), document {doc}: {message}")]
    Object {
        template: String,
        scope: String,
        doc: usize,
        message: String,
    },
    /// Two templates produced the same object.
    #[error("{id} is rendered twice: by {first} and by {second}")]
    Duplicate {
        id: String,
        first: String,
        second: String,
    },
}

fn scope_suffix(scope: &Option<String>) -> String {
    scope
        .as_ref()
        .map(|s| format!(" (scope {s})"))
        .unwrap_or_default()
}

fn line_suffix(line: Option<usize>) -> String {
    line.map(|l| format!(", line {l}")).unwrap_or_default()
}

fn window_block(window: &str) -> String {
    if window.trim().is_empty() {
        String::new()
    } else {
        format!("\n{}", window.trim_end())
    }
}

/// Lines `line-2 ..= line+2` of `text`, numbered, with the line marked.
pub fn excerpt(text: &str, line: usize) -> String {
    let lo = line.saturating_sub(3);
    text.lines()
        .enumerate()
        .skip(lo)
        .take(5)
        .map(|(i, l)| {
            let mark = if i + 1 == line { ">" } else { " " };
            format!("{mark}{:>5} | {l}", i + 1)
        })
        .collect::<Vec<_>>()
        .join("\n")
}
