//! The support bundle (`cnvrgctl support-bundle`): everything a vendor needs
//! to diagnose an install, as files of one archive. [`collect`] says what is
//! read from the cluster (the server's version, nodes, every object of the
//! scopes' inventories, events, the logs of containers in trouble) and keeps
//! going when a read is refused, recording it instead; [`shape`] turns what
//! was read into the files' text (pure); [`archive`] masks every file through
//! the one redaction filter, applies the size cap and writes the tar.gz. The
//! spec, plan and status files come from the front end, which has them.

pub mod archive;
mod collect;
pub mod shape;

pub use collect::{Collected, collect};

/// What a file holds, in the order files are cut when the archive is over
/// its size cap: logs first, then events, then objects; the summaries last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    /// Version, spec, plan, status, blockers, nodes, errors.
    Summary,
    /// The scopes' objects as YAML.
    Objects,
    /// Events of the scopes' namespaces.
    Events,
    /// Container logs.
    Logs,
}

/// One file of the bundle, its path relative to the archive's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub path: String,
    pub text: String,
    pub part: Part,
}

impl File {
    pub fn new(path: impl Into<String>, text: impl Into<String>, part: Part) -> File {
        File {
            path: path.into(),
            text: text.into(),
            part,
        }
    }
}
