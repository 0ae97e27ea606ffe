//! The failure grace's clocks: per workload, how long each fatal trouble of
//! its pods has been seen, counted in the live time of the pods' watch, so
//! the clocks stop while the watch is down (the API server restarting, say).
//! After the watch has listed again (a resync), a trouble still there keeps
//! its clock and one that is gone is forgotten. Pure: the watch's live time
//! and its count of full lists come in.

use std::collections::HashMap;
use std::time::Duration;

/// Every workload's trouble clocks.
#[derive(Debug, Default)]
pub(super) struct Clocks {
    workloads: HashMap<String, Workload>,
}

#[derive(Debug, Default)]
struct Workload {
    /// The watch's full lists when the clocks were last looked at.
    syncs: u64,
    /// Per trouble (`pod/reason`), the watch's live time when first seen.
    started: HashMap<String, Duration>,
}

impl Clocks {
    /// How long `trouble` has been seen for `workload`, its clock starting
    /// now if it is new. `present`: every trouble of the workload's pods now;
    /// `live`: the pods' watch's live time, and its count of full lists.
    pub(super) fn seen(
        &mut self,
        workload: &str,
        trouble: &str,
        present: &[String],
        (live, syncs): (Duration, u64),
    ) -> Duration {
        let clocks = self.workloads.entry(workload.to_string()).or_default();
        if clocks.syncs != syncs {
            clocks.started.retain(|t, _| present.contains(t));
            clocks.syncs = syncs;
        }
        let started = *clocks.started.entry(trouble.to_string()).or_insert(live);
        live.saturating_sub(started)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PULL: &str = "pg-0/ImagePullBackOff";

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn a_clock_runs_on_the_watch_live_time_only() {
        let mut clocks = Clocks::default();
        let present = [PULL.to_string()];
        assert_eq!(
            clocks.seen("sts/pg", PULL, &present, (secs(10), 1)),
            secs(0)
        );
        assert_eq!(
            clocks.seen("sts/pg", PULL, &present, (secs(15), 1)),
            secs(5)
        );
        // The watch was down for a minute: its live time did not move.
        assert_eq!(
            clocks.seen("sts/pg", PULL, &present, (secs(16), 2)),
            secs(6)
        );
        assert_eq!(
            clocks.seen("sts/other", PULL, &present, (secs(16), 2)),
            secs(0),
            "per workload"
        );
    }

    #[test]
    fn after_a_resync_a_trouble_gone_is_forgotten_and_one_still_there_keeps_its_clock() {
        let mut clocks = Clocks::default();
        let both = [PULL.to_string(), "pg-1/CrashLoopBackOff".to_string()];
        clocks.seen("sts/pg", PULL, &both, (secs(0), 1));
        clocks.seen("sts/pg", "pg-1/CrashLoopBackOff", &both, (secs(0), 1));
        let only_crash = ["pg-1/CrashLoopBackOff".to_string()];
        assert_eq!(
            clocks.seen(
                "sts/pg",
                "pg-1/CrashLoopBackOff",
                &only_crash,
                (secs(30), 2)
            ),
            secs(30)
        );
        assert_eq!(
            clocks.seen("sts/pg", PULL, &both, (secs(31), 2)),
            secs(0),
            "gone at the resync: starts again"
        );
    }
}
