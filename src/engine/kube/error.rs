//! What can go wrong talking to a cluster, each variant carrying the object
//! (`Kind/namespace/name`) and the API's own reason so the user can act on it.

use std::path::PathBuf;

/// A field another manager owns, from a 409's `details.causes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    pub field: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The kubeconfig could not be read or has no usable context.
    #[error("cannot use kubeconfig {}: {message}", path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "(default: $KUBECONFIG or ~/.kube/config)".into()))]
    Kubeconfig {
        path: Option<PathBuf>,
        message: String,
    },
    /// The API server answered with an error status.
    #[error("{object}: {verb} failed: {reason} ({code}): {message}")]
    Api {
        object: String,
        verb: &'static str,
        code: u16,
        reason: String,
        message: String,
        causes: Vec<Cause>,
    },
    /// The API server could not be reached or the connection broke.
    #[error("{object}: {verb} failed: cannot reach the API server at {server}: {message}")]
    Unreachable {
        object: String,
        verb: &'static str,
        server: String,
        message: String,
    },
    /// The API server did not answer in time.
    #[error("{object}: {verb} failed: no answer from the API server within {secs}s")]
    Timeout {
        object: String,
        verb: &'static str,
        secs: u64,
    },
    /// The cluster does not serve this kind (no CRD, or an API group it lacks).
    #[error("{object}: the cluster does not serve {kind} in {api_version}")]
    UnknownKind {
        object: String,
        api_version: String,
        kind: String,
    },
}

impl ClusterError {
    /// The HTTP status the API answered with, if it answered.
    pub fn code(&self) -> Option<u16> {
        match self {
            ClusterError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The API's machine-readable reason (`Conflict`, `Invalid`, `NotFound`...).
    pub fn reason(&self) -> Option<&str> {
        match self {
            ClusterError::Api { reason, .. } => Some(reason),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.code() == Some(404)
    }

    pub fn is_conflict(&self) -> bool {
        self.code() == Some(409)
    }

    /// The fields other managers own, when a server-side apply was refused
    /// for them (a 409 with causes); empty for any other error.
    pub fn conflict_causes(&self) -> &[Cause] {
        match self {
            ClusterError::Api {
                code: 409, causes, ..
            } => causes,
            _ => &[],
        }
    }
}
