//! The error a command ends with, and the exit code each kind maps to (the
//! README's table).

use crate::output::WriteError;
use crate::plan::PlanError;
use crate::render::RenderError;
use crate::spec::SpecError;
use crate::validate::ValidateError;

/// Exit code for usage, spec, template and validation errors.
pub const EXIT_INVALID: i32 = 2;
/// Exit code when output could not be written.
pub const EXIT_OUTPUT: i32 = 4;

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
    /// Output could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// Writing to stdout failed.
    #[error("cannot write output: {0}")]
    Stdout(#[from] std::io::Error),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Spec(_)
            | Error::Render(_)
            | Error::Validate(_)
            | Error::Plan(_)
            | Error::Usage(_) => EXIT_INVALID,
            Error::Write(_) | Error::Stdout(_) => EXIT_OUTPUT,
        }
    }
}
