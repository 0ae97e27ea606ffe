//! Where a run's time went: each object's phases on the run's clock
//! ([`Phases`]: queued behind its dependencies, waiting for a write slot,
//! written, waiting for readiness, and how it ended), recorded from the
//! executor's events by a [`Recorder`]; the critical path through the plan's
//! edges ([`critical`]); and the HTML report ([`html`]). Everything but the
//! recorder is a pure function of the recorded rows and the plan's edges: it
//! makes no request and writes no file.

mod critical;
mod html;
mod record;

#[cfg(test)]
mod tests;

use std::time::Duration;

pub use critical::{Critical, critical};
pub use html::html;
pub use record::Recorder;

use crate::engine::diff::Op;

/// How an object's turn ended, as the timings show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Never started (something it waits for failed, or the run stopped).
    NotStarted,
    Ready,
    Failed,
    TimedOut,
    /// Left the spec and was deleted.
    Pruned,
    /// Left the spec and stays.
    Kept,
}

impl End {
    pub fn as_str(self) -> &'static str {
        match self {
            End::NotStarted => "not started",
            End::Ready => "ready",
            End::Failed => "failed",
            End::TimedOut => "timed out",
            End::Pruned => "pruned",
            End::Kept => "kept",
        }
    }
}

/// One object's moments, each since the run started; `None` when it did not
/// happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phases {
    /// Everything it waits for was ready (the end of "queued").
    pub unblocked: Option<Duration>,
    /// Its write began (a write slot was free).
    pub write_start: Option<Duration>,
    /// Its write returned: the wait for readiness begins.
    pub write_end: Option<Duration>,
    /// An object not written that was not ready at once: its wait began.
    pub wait_start: Option<Duration>,
    /// When it ended, and how.
    pub end: Option<Duration>,
    pub end_as: End,
}

impl Default for Phases {
    fn default() -> Phases {
        Phases {
            unblocked: None,
            write_start: None,
            write_end: None,
            wait_start: None,
            end: None,
            end_as: End::NotStarted,
        }
    }
}

fn span(from: Option<Duration>, to: Option<Duration>) -> Duration {
    match (from, to) {
        (Some(from), Some(to)) => to.saturating_sub(from),
        _ => Duration::ZERO,
    }
}

impl Phases {
    /// Its own time on the critical path: from its write (or, unwritten,
    /// from the start of its wait) to its end.
    pub fn active(&self) -> Duration {
        span(self.write_start.or(self.wait_start), self.end)
    }

    /// Eligible, but waiting for a write slot (or for its kind to be served).
    pub fn slot_wait(&self) -> Duration {
        span(self.unblocked, self.write_start)
    }

    /// The write itself.
    pub fn write(&self) -> Duration {
        span(self.write_start, self.write_end)
    }

    /// Waiting for readiness after the write (or without one).
    pub fn readiness_wait(&self) -> Duration {
        span(self.write_end.or(self.wait_start), self.end)
    }
}

/// One object of the run.
#[derive(Debug, Clone)]
pub struct Row {
    /// `Kind/namespace/name` or `Kind/name`.
    pub id: String,
    pub kind: String,
    /// `infra` or `tenant.NAME`.
    pub scope: String,
    /// Its plan step; `None` for an object pruned (not in the plan).
    pub step: Option<usize>,
    pub op: Op,
    pub phases: Phases,
}

impl Row {
    /// Written during the run (or, pruned, deleted).
    pub fn written(&self) -> bool {
        self.phases.write_start.is_some() || self.op == Op::Delete
    }

    /// `Kind/name`, short for a chain.
    pub fn short(&self) -> String {
        let name = self.id.rsplit('/').next().unwrap_or_default();
        format!("{}/{name}", self.kind)
    }
}

/// A run's timings: what the report and the critical path are made of.
#[derive(Debug, Clone, Default)]
pub struct Timings {
    pub rows: Vec<Row>,
    /// Per plan step, the steps it waits for (the plan's edges).
    pub after: Vec<Vec<usize>>,
    /// From the run's start to its end.
    pub wall: Duration,
    /// API requests the run sent.
    pub requests: u64,
    /// What the run was asked to do, as `(name, value)` for the report.
    pub parameters: Vec<(String, String)>,
}

/// Seconds with one decimal, as the critical-path line shows them.
pub fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}
