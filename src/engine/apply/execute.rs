//! The run in stages, as kapp's cluster apply: every object is blocked until
//! what it waits for is ready ([`super::blocked`]), then written
//! ([`super::applying`]), then waited on ([`super::waiting`]); independent
//! objects go at once. A failure stops what has not started, and so does a
//! stop from outside ([`super::stop`]). The objects' typed ends
//! ([`super::ended`]) make the report. Only a run that converged prunes (in
//! reverse order) and then settles its inventories. Everything goes through
//! [`Actions`], so this runs against a fake as well as a cluster.

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::time::Instant;

use super::actions::Actions;
use super::applying::Applying;
use super::blocked::Blocked;
use super::ended::{Ended, Ends};
use super::observe::{Observed, Target};
use super::parents::Parents;
use super::slots::Slots;
use super::stop::Stop;
use super::waiting::Waiting;
use super::{Event, Observer, Options, Problem, Summary, cost, remove};
use crate::engine::kube::Resource;
use crate::engine::wait::{Failure, Stuck};
use crate::pipeline::manifest::Manifest;

/// Applies what `observed` says, each object after those it waits for
/// (`after`, by manifest index), waits, then prunes.
pub(super) async fn execute<A: Actions>(
    actions: &A,
    manifests: &[Manifest],
    after: &[&[usize]],
    observed: &Observed,
    options: &Options,
    observer: &dyn Observer,
) -> Result<Summary, Problem> {
    let deadline = Instant::now() + options.timeout;
    let stop = Stop::new(options.stop.clone());
    let parents = Parents::new(actions, manifests, observed);
    let stages = Stages {
        blocked: Blocked::new(manifests.len(), observed.targets.iter().map(|t| t.index)),
        applying: Applying {
            actions,
            parents: &parents,
            options,
            observer,
            stop: &stop,
            writes: Slots::new(
                options.concurrency,
                after,
                &manifests.iter().map(cost::of).collect::<Vec<_>>(),
            ),
            deadline,
            stops: crate::engine::adopt::database::stops(&observed.targets),
        },
        waiting: Waiting {
            actions,
            options,
            observer,
            stop: &stop,
            deadline,
        },
        stop: &stop,
        observer,
    };
    let ends = Ends(
        observed
            .targets
            .iter()
            .map(|target| stages.turn(target, after[target.index]))
            .collect::<FuturesUnordered<_>>()
            .collect()
            .await,
    );
    let failed = ends.failures().next().is_some();
    if stop.interrupted() && !failed {
        return Err(ends.interrupted());
    }
    if failed {
        return Err(not_ready(actions, &ends).await);
    }
    let mut summary = ends.summary();
    if !options.no_prune {
        let removed = remove::delete_in_order(
            actions,
            &observed.prune,
            options.object_timeout,
            observer,
            deadline,
        )
        .await?;
        summary.pruned = removed.pruned;
        summary.kept = removed.kept;
    }
    parents.settle().await?;
    Ok(summary)
}

/// The three stages and the stop, shared by every object's turn.
struct Stages<'a, A> {
    blocked: Blocked,
    applying: Applying<'a, A>,
    waiting: Waiting<'a, A>,
    stop: &'a Stop,
    observer: &'a dyn Observer,
}

impl<A: Actions> Stages<'_, A> {
    /// One object through the stages; how it ended is told, and published
    /// to those waiting on it.
    async fn turn<'t>(&self, target: &'t Target, after: &[usize]) -> (&'t Target, Ended) {
        let object = target.change.id();
        let ended = if !self.blocked.until_free(after).await || self.stop.stopping() {
            Ended::NotStarted
        } else {
            self.observer.event(Event::Unblocked {
                object: object.clone(),
            });
            // Boxed: every object's turn is pending at once, and the write
            // and the wait are most of a turn's size (a thousand tenants'
            // turns held them inline: about 200 MB).
            Box::pin(self.work(target, &object)).await
        };
        match &ended {
            Ended::Ready { .. } => self.observer.event(Event::Ready {
                object,
                op: target.change.op,
            }),
            Ended::Failed { failure, why } => {
                self.observer.event(Event::Failed {
                    object,
                    why: why.clone(),
                    failure: *failure,
                });
                self.stop.fail();
            }
            Ended::NotStarted | Ended::Stopped { .. } => {}
        }
        self.blocked
            .publish(target.index, matches!(ended, Ended::Ready { .. }));
        (target, ended)
    }

    /// The write (when there is something to write) and the wait.
    async fn work(&self, target: &Target, object: &str) -> Ended {
        match self.applying.apply(target).await {
            Ok(applied) => {
                if applied.written() {
                    self.observer.event(Event::Written {
                        object: object.to_string(),
                    });
                }
                self.waiting.until_ready(target, &applied).await
            }
            Err(ended) => ended,
        }
    }
}

/// The report of a run where objects failed or timed out: each with what it
/// is waiting for; only those that failed (not timed out) count as failed.
async fn not_ready<A: Actions>(actions: &A, ends: &Ends<'_>) -> Problem {
    let mut stuck = Vec::new();
    for (target, failure, why) in ends.failures() {
        if let Some(resource) = resolved(actions, target).await {
            stuck.push(Stuck {
                resource,
                namespace: target.body["metadata"]["namespace"]
                    .as_str()
                    .map(str::to_string),
                name: target.change.name.clone(),
                failure,
                message: why.to_string(),
            });
        }
    }
    let blockers = actions.blockers(&stuck).await;
    let failed = blockers
        .iter()
        .filter(|b| b.failure == Failure::Failed)
        .map(|b| b.object.clone())
        .collect();
    Problem::NotReady {
        failed,
        blockers,
        skipped: ends.skipped(),
    }
}

/// A target's resource, discovering it if it had none yet.
async fn resolved<A: Actions>(actions: &A, target: &Target) -> Option<Resource> {
    match &target.resource {
        Some(r) => Some(r.clone()),
        None => {
            let api_version = target.body["apiVersion"].as_str()?;
            let kind = target.body["kind"].as_str()?;
            actions.served(api_version, kind).await.ok().flatten()
        }
    }
}
