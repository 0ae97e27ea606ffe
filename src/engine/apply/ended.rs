//! How each object's turn through the stages ended ([`Ended`]), and what
//! those ends add up to: the [`Summary`] of a run that converged, the
//! [`Problem::Interrupted`] of one the user stopped, or the objects that did
//! not become ready. Pure: no requests, no events.

use super::observe::Target;
use super::{Problem, Summary};
use crate::engine::diff::Op;
use crate::engine::wait::Failure;

/// How one object's turn ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Ended {
    /// Written (or unchanged) and ready.
    Ready { written: bool },
    /// Could not be written, or did not become ready; `why` says what to do.
    Failed { failure: Failure, why: String },
    /// Never started: something it waits for did not become ready, or the
    /// run stopped first.
    NotStarted,
    /// The stop ended its wait (after its write, if it had one).
    Stopped { written: bool },
}

impl Ended {
    pub(super) fn failed(why: String) -> Ended {
        Ended::Failed {
            failure: Failure::Failed,
            why,
        }
    }
}

/// Every object's end, in the order they ended.
pub(super) struct Ends<'a>(pub Vec<(&'a Target, Ended)>);

impl<'a> Ends<'a> {
    /// The objects that failed or timed out, with how and why.
    pub(super) fn failures(&self) -> impl Iterator<Item = (&'a Target, Failure, &str)> {
        self.0.iter().filter_map(|(target, ended)| match ended {
            Ended::Failed { failure, why } => Some((*target, *failure, why.as_str())),
            _ => None,
        })
    }

    /// Objects not started or whose wait was ended.
    pub(super) fn skipped(&self) -> usize {
        self.0
            .iter()
            .filter(|(_, e)| matches!(e, Ended::NotStarted | Ended::Stopped { .. }))
            .count()
    }

    /// What was applied, by op (pruning adds its own counts).
    pub(super) fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for (target, _) in self
            .0
            .iter()
            .filter(|(_, e)| matches!(e, Ended::Ready { .. }))
        {
            match target.change.op {
                Op::Create => summary.created += 1,
                Op::Update => summary.updated += 1,
                Op::Replace => summary.replaced += 1,
                _ => summary.unchanged += 1,
            }
        }
        summary
    }

    /// The report of a run the user stopped: what was written, whose wait
    /// ended, what never started.
    pub(super) fn interrupted(&self) -> Problem {
        let mut written = 0;
        let mut waiting = Vec::new();
        let mut not_started = 0;
        for (target, ended) in &self.0 {
            match ended {
                Ended::Ready { written: true } => written += 1,
                Ended::Stopped { written: wrote } => {
                    written += usize::from(*wrote);
                    waiting.push(target.change.id());
                }
                Ended::NotStarted => not_started += 1,
                Ended::Ready { written: false } | Ended::Failed { .. } => {}
            }
        }
        Problem::Interrupted {
            written,
            waiting,
            not_started,
        }
    }
}
