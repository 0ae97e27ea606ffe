//! The recorder: an [`Observer`] between the executor and whoever else
//! listens (the terminal). Each event is stamped on the run's clock as it
//! arrives — the executor tells events when they happen — and folded into
//! its object's [`Phases`]; then passed on. At the end it hands over the
//! [`Timings`]. It makes no request.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::time::Instant;

use super::{End, Phases, Row, Timings};
use crate::engine::apply::{Event, Observed, Observer};
use crate::engine::diff::Change;
use crate::engine::wait::Failure;

/// Records a run's phases and passes every event on.
pub struct Recorder<'a> {
    inner: &'a dyn Observer,
    start: Instant,
    by_id: HashMap<String, usize>,
    rows: Mutex<Vec<Row>>,
}

fn row(change: &Change, step: Option<usize>) -> Row {
    Row {
        id: change.id(),
        kind: change.kind.clone(),
        scope: change.scope.to_string(),
        step,
        op: change.op,
        phases: Phases::default(),
    }
}

impl<'a> Recorder<'a> {
    /// A recorder for the run `observed` describes, starting its clock now.
    pub fn new(inner: &'a dyn Observer, observed: &Observed) -> Recorder<'a> {
        let rows: Vec<Row> = observed
            .targets
            .iter()
            .map(|t| row(&t.change, Some(t.index)))
            .chain(observed.prune.iter().map(|p| row(&p.change, None)))
            .collect();
        let by_id = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        Recorder {
            inner,
            start: Instant::now(),
            by_id,
            rows: Mutex::new(rows),
        }
    }

    /// The timings so far, the wall time ending now.
    pub fn timings(
        &self,
        after: Vec<Vec<usize>>,
        requests: u64,
        parameters: Vec<(String, String)>,
    ) -> Timings {
        Timings {
            rows: self.rows.lock().expect("not poisoned").clone(),
            after,
            wall: self.start.elapsed(),
            requests,
            parameters,
        }
    }

    fn stamp(&self, object: &str, mark: impl FnOnce(&mut Phases, std::time::Duration)) {
        let at = self.start.elapsed();
        if let Some(&i) = self.by_id.get(object) {
            mark(&mut self.rows.lock().expect("not poisoned")[i].phases, at);
        }
    }
}

impl Observer for Recorder<'_> {
    fn event(&self, event: Event) {
        match &event {
            Event::Unblocked { object } => self.stamp(object, |p, at| p.unblocked = Some(at)),
            Event::Applying { object, .. } => {
                self.stamp(object, |p, at| p.write_start = Some(at));
            }
            Event::Written { object } => self.stamp(object, |p, at| p.write_end = Some(at)),
            Event::Waiting { object, .. } => self.stamp(object, |p, at| {
                if p.write_start.is_none() && p.wait_start.is_none() {
                    p.wait_start = Some(at);
                }
            }),
            Event::Ready { object, .. } => self.stamp(object, |p, at| ended(p, at, End::Ready)),
            Event::Failed {
                object, failure, ..
            } => {
                let end = match failure {
                    Failure::Failed => End::Failed,
                    Failure::TimedOut => End::TimedOut,
                };
                self.stamp(object, |p, at| ended(p, at, end));
            }
            Event::Pruned { object } => self.stamp(object, |p, at| ended(p, at, End::Pruned)),
            Event::Kept { object, .. } => self.stamp(object, |p, at| ended(p, at, End::Kept)),
        }
        self.inner.event(event);
    }
}

fn ended(phases: &mut Phases, at: std::time::Duration, end: End) {
    phases.end = Some(at);
    phases.end_as = end;
}
