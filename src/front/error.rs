//! The error a command ends with, and the exit code each kind maps to (the
//! README's table).

use crate::pipeline::output::WriteError;
use crate::pipeline::plan::PlanError;
use crate::pipeline::render::RenderError;
use crate::pipeline::spec::SpecError;
use crate::pipeline::validate::ValidateError;

/// Exit code for usage, spec, template and validation errors.
pub const EXIT_INVALID: i32 = 2;
/// Exit code when output could not be written.
pub const EXIT_OUTPUT: i32 = 4;
/// Exit code of `diff` when applying would change something.
pub const EXIT_CHANGES: i32 = 1;
/// Exit code when the cluster could not be reached, refused, or conflicts.
pub const EXIT_CLUSTER: i32 = 3;
/// Exit code when objects failed or were not ready in time.
pub const EXIT_NOT_READY: i32 = 5;
/// Exit code when a preflight check failed (nothing was written).
pub const EXIT_PREFLIGHT: i32 = 6;
/// Exit code when the user declined a confirmation.
pub const EXIT_DECLINED: i32 = 1;
/// Exit code after Ctrl-C.
pub const EXIT_INTERRUPTED: i32 = 130;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec is wrong: files, fields, values.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A template failed or produced something that is not an object.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// Rendered objects do not match the Kubernetes schemas.
    #[error(transparent)]
    Validate(#[from] ValidateError),
    /// The objects' dependencies are broken (a cycle, an unknown component).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A flag's value is wrong.
    #[error("{0}")]
    Usage(String),
    /// The operators' resources could not be imported.
    #[error(transparent)]
    Import(#[from] crate::pipeline::import::ImportError),
    /// Output could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// Writing to stdout failed.
    #[error("cannot write output: {0}")]
    Stdout(#[from] std::io::Error),
    /// The cluster could not be reached or read, or refused what was asked.
    #[error(transparent)]
    Cluster(crate::engine::apply::Problem),
    /// The cluster is not in the state the command needs: infra not
    /// installed, a namespace taken, nothing ready to `port-forward` to.
    #[error("{0}")]
    Precondition(String),
    /// Objects failed or were not ready in time.
    #[error(transparent)]
    NotReady(crate::engine::apply::Problem),
    /// `status` found components not ready (not an error: an exit code).
    #[error("{0} component(s) not ready")]
    NotReadyYet(usize),
    /// A preflight check failed: what fails and what to change.
    #[error("{0}")]
    Preflight(String),
    /// `diff` found changes (not an error: an exit code).
    #[error("")]
    Changes,
    /// The user answered no.
    #[error("declined; nothing was changed")]
    Declined,
    /// Ctrl-C: what was written before it (when known).
    #[error("{}", .0.as_ref().map_or_else(|| "interrupted; what was applied stays, run the command again to continue".to_string(), |p| p.to_string()))]
    Interrupted(Option<crate::engine::apply::Problem>),
}

impl From<crate::engine::kube::ClusterError> for Error {
    fn from(e: crate::engine::kube::ClusterError) -> Error {
        Error::Cluster(crate::engine::apply::Problem::Cluster(e))
    }
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Spec(_)
            | Error::Render(_)
            | Error::Validate(_)
            | Error::Plan(_)
            | Error::Usage(_)
            | Error::Import(_) => EXIT_INVALID,
            Error::Write(_) | Error::Stdout(_) => EXIT_OUTPUT,
            Error::Cluster(_) | Error::Precondition(_) => EXIT_CLUSTER,
            Error::NotReady(_) | Error::NotReadyYet(_) => EXIT_NOT_READY,
            Error::Preflight(_) => EXIT_PREFLIGHT,
            Error::Changes => EXIT_CHANGES,
            Error::Declined => EXIT_DECLINED,
            Error::Interrupted(_) => EXIT_INTERRUPTED,
        }
    }
}
