//! Why the operators' resources could not be imported: each problem names
//! where it was read (file and line, or the cluster), the resource
//! (`Kind/namespace/name`) and the field.

use std::fmt;
use std::path::PathBuf;

/// Where a resource was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A YAML file given with `-f`; `line` is where the document starts.
    File { path: PathBuf, line: usize },
    /// The live cluster (`--from-cluster`).
    Cluster,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line } => write!(f, "{}:{line}", path.display()),
            Origin::Cluster => f.write_str("cluster"),
        }
    }
}

/// One thing wrong with the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file and line (of the field when known), or the cluster.
    pub origin: Origin,
    /// `Kind/namespace/name` (or `Kind/name`), when the document got that far.
    pub resource: Option<String>,
    /// Dotted path of the field, from the document's root.
    pub field: Option<String>,
    pub message: String,
    /// What to do about it.
    pub help: Option<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.origin)?;
        if let Some(resource) = &self.resource {
            write!(f, " {resource}:")?;
        }
        if let Some(field) = &self.field {
            write!(f, " {field}:")?;
        }
        write!(f, " {}", self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// Every problem found in the input; nothing was written.
#[derive(Debug, thiserror::Error)]
#[error("{}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct ImportError {
    pub problems: Vec<Problem>,
}

impl From<Problem> for ImportError {
    fn from(problem: Problem) -> ImportError {
        ImportError {
            problems: vec![problem],
        }
    }
}
