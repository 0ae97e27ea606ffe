//! The critical path: the chain of dependency edges through the plan whose
//! objects' own active times (write → ready, see [`Phases::active`]) add up
//! to the most. No scheduler can finish the run sooner than that; the rest of
//! the wall time is overhead (a write slot, a late wait, round trips). Pure.

use std::time::Duration;

use super::{Row, Timings, seconds};

/// Chains longer than this are shortened to the first and the last few.
const LONGEST_SHOWN: usize = 6;
/// The last objects shown of a shortened chain.
const LAST_SHOWN: usize = 4;

/// The critical path of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Critical {
    /// Rows (indices into [`Timings::rows`]), first to last.
    pub chain: Vec<usize>,
    /// The sum of their active times.
    pub length: Duration,
    /// The run's wall time.
    pub wall: Duration,
}

/// The longest chain; of equal ones, the first in plan order. Objects that
/// took no time of their own (unchanged and ready) weigh nothing and are
/// left out of the chain.
pub fn critical(timings: &Timings) -> Critical {
    let mut row_of = vec![None; timings.after.len()];
    for (r, row) in timings.rows.iter().enumerate() {
        if let Some(step) = row.step.filter(|s| *s < row_of.len()) {
            row_of[step] = Some(r);
        }
    }
    let mut best: Vec<Option<(Duration, Option<usize>)>> = vec![None; row_of.len()];
    for step in 0..row_of.len() {
        longest(step, timings, &row_of, &mut best);
    }
    let mut end = None;
    for (step, b) in best.iter().enumerate() {
        let length = b.map_or(Duration::ZERO, |(d, _)| d);
        if length > end.map_or(Duration::ZERO, |(d, _)| d) {
            end = Some((length, step));
        }
    }
    let mut chain = Vec::new();
    let mut at = end.map(|(_, step)| step);
    while let Some(step) = at {
        let (_, before) = best[step].unwrap_or_default();
        if let Some(r) = row_of[step].filter(|r| timings.rows[*r].phases.active() > Duration::ZERO)
        {
            chain.push(r);
        }
        at = before;
    }
    chain.reverse();
    Critical {
        chain,
        length: end.map_or(Duration::ZERO, |(d, _)| d),
        wall: timings.wall,
    }
}

/// The longest chain ending at `step` (its length, and the step before it
/// on the chain), memoised in `best`. The plan has no cycles.
fn longest(
    step: usize,
    timings: &Timings,
    row_of: &[Option<usize>],
    best: &mut [Option<(Duration, Option<usize>)>],
) -> (Duration, Option<usize>) {
    if let Some(known) = best[step] {
        return known;
    }
    let own = row_of[step].map_or(Duration::ZERO, |r| timings.rows[r].phases.active());
    let mut before: Option<(Duration, usize)> = None;
    let steps = best.len();
    for &dep in timings.after[step].iter().filter(|d| **d < steps) {
        let (length, _) = longest(dep, timings, row_of, best);
        if length > before.map_or(Duration::ZERO, |(d, _)| d) {
            before = Some((length, dep));
        }
    }
    let found = (
        own + before.map_or(Duration::ZERO, |(d, _)| d),
        before.map(|(_, dep)| dep),
    );
    best[step] = Some(found);
    found
}

impl Critical {
    /// `critical path 8.1 s of 12.9 s: Namespace/x → StatefulSet/pg → …`
    pub fn line(&self, rows: &[Row]) -> String {
        let head = format!(
            "critical path {} of {}",
            seconds(self.length),
            seconds(self.wall)
        );
        if self.chain.is_empty() {
            return format!("{head}: nothing was written or waited for");
        }
        let names: Vec<String> = self.chain.iter().map(|r| rows[*r].short()).collect();
        let shown = if names.len() > LONGEST_SHOWN {
            let mut shown = vec![names[0].clone(), "…".to_string()];
            shown.extend_from_slice(&names[names.len() - LAST_SHOWN..]);
            shown
        } else {
            names
        };
        format!("{head}: {}", shown.join(" → "))
    }

    /// The path for the JSON `done` event.
    pub fn json(&self, rows: &[Row]) -> serde_json::Value {
        serde_json::json!({
            "ms": self.length.as_millis() as u64,
            "wallMs": self.wall.as_millis() as u64,
            "objects": self.chain.iter().map(|r| rows[*r].id.clone()).collect::<Vec<_>>(),
        })
    }
}
