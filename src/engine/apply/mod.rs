//! The executor over the plan (DESIGN §5–§7): read what is live
//! ([`observe`]), then run each object through kapp's stages ([`execute`]):
//! blocked until everything it waits for is applied and ready
//! ([`blocked`]), written with server-side apply ([`applying`]), waited on
//! until ready ([`waiting`]) — independent objects at once, with at most
//! `concurrency` writes in flight — and once everything converged prune the
//! members that left the spec, in reverse order ([`remove`]). A failed object
//! stops everything not yet started; so does an interrupt ([`Options::stop`]);
//! writes in flight finish, waits end. The stages act on the cluster only
//! through [`actions::Actions`]. What happens is told to an [`Observer`] as
//! [`Event`]s; the terminal is not this module's business.

mod actions;
mod applying;
mod blocked;
mod cost;
mod ended;
mod execute;
mod held;
mod keep;
mod members;
mod observe;
mod parents;
pub mod prepare;
mod remove;
mod slim;
mod slots;
mod stop;
mod sweep;
mod waiting;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

pub use members::list_members;
pub use observe::{Observed, Prunable, Target, observe, scope_namespace, scope_namespaces};
pub use remove::{Removal, RemoveOptions, plan_removal, remove};
pub use slim::managers_only;

use actions::OnCluster;

use crate::engine::diff::Op;
use crate::engine::kube::{Cluster, ClusterError};
use crate::engine::wait::{Blocker, Failure, Waiter};
use crate::pipeline::manifest::Manifest;
use crate::pipeline::plan::Plan;

/// How a run behaves (from the command line).
#[derive(Debug, Clone)]
pub struct Options {
    /// Writes in flight at once.
    pub concurrency: usize,
    /// Take over fields other managers own, and objects cnvrgctl did not create.
    pub force_conflicts: bool,
    /// Take over objects the operators made (`--adopt`).
    pub adopt: bool,
    /// Re-create a StatefulSet whose immutable fields differ, orphaning its
    /// pods and claims (`--recreate-statefulsets`).
    pub recreate_statefulsets: bool,
    /// Ask the server what a created object would look like (for `diff`).
    pub dry_run_creates: bool,
    /// Delete PersistentVolumeClaims that left the spec.
    pub prune_volumes: bool,
    /// Delete CRDs that left the spec.
    pub prune_crds: bool,
    /// Do not prune at all.
    pub no_prune: bool,
    /// Longest wait for one object.
    pub object_timeout: Duration,
    /// Longest the whole run may take.
    pub timeout: Duration,
    /// How long a fatal pod trouble (ImagePullBackOff...) may last before its
    /// workload counts as Failed.
    pub failure_grace: Duration,
    /// Set to `true` (Ctrl-C) to stop: nothing new starts, writes in flight
    /// finish, waits end, nothing is pruned; the run ends with
    /// [`Problem::Interrupted`].
    pub stop: Option<watch::Receiver<bool>>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            concurrency: 8,
            force_conflicts: false,
            adopt: false,
            recreate_statefulsets: false,
            dry_run_creates: false,
            prune_volumes: false,
            prune_crds: false,
            no_prune: false,
            object_timeout: Duration::from_secs(300),
            timeout: Duration::from_secs(900),
            failure_grace: Duration::from_secs(60),
            stop: None,
        }
    }
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    /// The cluster could not be read or written.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// Objects that cannot be applied as they stand (conflicts, foreign
    /// objects, kinds the cluster lacks); nothing was written.
    #[error("nothing was applied; {} object(s) cannot be applied:\n{}", .0.len(), .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Refused(Vec<String>),
    /// Objects failed or did not become ready in time.
    #[error("{}", report(.failed, .blockers, *.skipped))]
    NotReady {
        failed: Vec<String>,
        blockers: Vec<Blocker>,
        skipped: usize,
    },
    /// The run was told to stop ([`Options::stop`]).
    #[error("interrupted: {written} object(s) written before the stop, {not_started} not started{}; what was written stays, run the command again to continue", if .waiting.is_empty() { String::new() } else { format!("; not yet ready: {}", .waiting.join(", ")) })]
    Interrupted {
        /// Objects written during this run.
        written: usize,
        /// Objects whose wait the stop ended.
        waiting: Vec<String>,
        /// Objects not started.
        not_started: usize,
    },
}

/// A cluster error as one line for a list of problems, with the other field
/// managers of a conflict named.
pub fn describe(error: &ClusterError) -> String {
    match error {
        ClusterError::Api {
            object,
            code: 409,
            causes,
            message,
            ..
        } if !causes.is_empty() => {
            let fields: Vec<String> = causes
                .iter()
                .map(|c| format!("{} ({})", c.field, c.message))
                .collect();
            format!(
                "{object}: conflict with another field manager: {}; pass --force-conflicts to take these fields over",
                if fields.is_empty() {
                    message.clone()
                } else {
                    fields.join(", ")
                }
            )
        }
        other => other.to_string(),
    }
}

fn report(failed: &[String], blockers: &[Blocker], skipped: usize) -> String {
    let mut out = String::new();
    if failed.is_empty() {
        out.push_str(&format!(
            "timed out: {} object(s) not ready",
            blockers.len()
        ));
    } else {
        out.push_str(&format!("{} object(s) failed", failed.len()));
    }
    for b in blockers {
        // Cluster errors already name their object.
        let message = b
            .message
            .strip_prefix(&format!("{}: ", b.object))
            .unwrap_or(&b.message);
        out.push_str(&format!("\n  {}: {message}", b.object));
        for line in b.found.lines() {
            out.push_str(&format!("\n    {line}"));
        }
    }
    if skipped > 0 {
        out.push_str(&format!(
            "\n{skipped} object(s) not started because of this; re-run to continue"
        ));
    }
    out
}

/// What the executor tells its observer, at the moment it happens (a
/// recorder stamps them: [`crate::engine::timings::Recorder`]).
#[derive(Debug, Clone)]
pub enum Event {
    /// Everything the object waits for is ready: its turn has come (it may
    /// still wait for a write slot, or for its kind to be served).
    Unblocked {
        object: String,
    },
    /// An object is being written (create, update, replace).
    Applying {
        object: String,
        op: Op,
    },
    /// The write returned; the wait for readiness starts.
    Written {
        object: String,
    },
    /// Waiting on an object; the sentence says for what.
    Waiting {
        object: String,
        why: String,
    },
    Ready {
        object: String,
        op: Op,
    },
    /// Failed or timed out (`failure` says which).
    Failed {
        object: String,
        why: String,
        failure: Failure,
    },
    Pruned {
        object: String,
    },
    /// Left the spec but stays (PVCs, CRDs without the flag).
    Kept {
        object: String,
        why: String,
    },
}

/// Hears what the executor does (the terminal UI, or nothing).
pub trait Observer: Sync {
    fn event(&self, event: Event);
}

/// What a run did.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub created: usize,
    pub updated: usize,
    pub replaced: usize,
    pub unchanged: usize,
    pub pruned: usize,
    pub kept: usize,
}

/// Applies what `observed` says, in plan order, waits, then prunes; refused
/// before any write when other managers own fields it would change (see
/// [`Observed::conflicts`]).
pub async fn run(
    cluster: Arc<Cluster>,
    manifests: &[Manifest],
    plan: &Plan,
    observed: &Observed,
    options: &Options,
    observer: &dyn Observer,
) -> Result<Summary, Problem> {
    let conflicts = observed.conflicts();
    if !conflicts.is_empty() {
        return Err(Problem::Refused(conflicts));
    }
    crate::engine::adopt::release(&cluster, observed).await?;
    let waiter = Waiter::new(cluster.clone(), options.failure_grace);
    let actions = OnCluster {
        cluster: &cluster,
        waiter: &waiter,
    };
    let after: Vec<&[usize]> = plan.steps.iter().map(|s| s.after.as_slice()).collect();
    execute::execute(&actions, manifests, &after, observed, options, observer).await
}
