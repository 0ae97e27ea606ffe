//! kapp's "applying changes": the write of one object whose turn has come.
//! Its kind is resolved (discovery lags a CRD this run just established), the
//! scope's inventory parent goes first ([`super::parents`]), a Job whose pod
//! template changed is deleted and gone before it is made again, then the
//! server-side apply, with at most `concurrency` writes in flight
//! ([`super::slots`]: the costliest chain ahead first). A slot covers
//! one write request, never a wait: a replace gives it back while the old
//! object goes. Unchanged
//! objects are not written. It does not wait for readiness
//! ([`super::waiting`]); a stop cuts short what comes before a write and the
//! wait for a deletion, never a write.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::actions::Actions;
use super::ended::Ended;
use super::observe::Target;
use super::parents::Parents;
use super::slots::{Slot, Slots};
use super::stop::Stop;
use super::{Event, Observer, Options, describe};
use crate::engine::diff::Op;
use crate::engine::kube::{Propagation, Resource};

/// An object written (or left as it was), ready to be waited on.
pub(super) struct Applied {
    pub resource: Resource,
    /// The object as the write returned it; `None` when nothing was written.
    pub returned: Option<Value>,
}

impl Applied {
    /// A write was sent.
    pub fn written(&self) -> bool {
        self.returned.is_some()
    }
}

/// The write stage, shared by every object of the run.
pub(super) struct Applying<'a, A> {
    pub actions: &'a A,
    pub parents: &'a Parents<'a, A>,
    pub options: &'a Options,
    pub observer: &'a dyn Observer,
    pub stop: &'a Stop,
    pub writes: Slots,
    /// The end of the run's time.
    pub deadline: Instant,
    /// Per manifest index, the workload stopped before that object is
    /// created ([`crate::engine::adopt::database::stops`]).
    pub stops: HashMap<usize, &'a Target>,
}

impl<A: Actions> Applying<'_, A> {
    /// Writes the target if it changed (or its applied-hash is stale).
    pub(super) async fn apply(&self, target: &Target) -> Result<Applied, Ended> {
        let resource = match &target.resource {
            Some(r) => r.clone(),
            None => match self.stop.unless_stopped(self.discover(target)).await {
                Some(found) => found?,
                None => return Err(Ended::NotStarted),
            },
        };
        let returned = if target.change.op != Op::Unchanged || target.refresh {
            Some(self.write(target, &resource).await?)
        } else {
            None
        };
        Ok(Applied { resource, returned })
    }

    /// The parent, then (a replace's delete and) the server-side apply; the
    /// object as the server returned it. A write slot is held for each write
    /// request and nothing else: a replace gives it back while the old object
    /// goes, and asks again for the apply.
    async fn write(&self, target: &Target, resource: &Resource) -> Result<Value, Ended> {
        let failed = |e| Ended::failed(describe(&e));
        self.parents
            .before_member(target, resource)
            .await
            .map_err(failed)?;
        if let Some(writer) = self.stops.get(&target.index) {
            self.stop_writer(target, writer).await?;
        }
        let mut slot = self.slot(target).await?;
        self.observer.event(Event::Applying {
            object: target.change.id(),
            op: target.change.op,
        });
        if target.change.op == Op::Replace {
            let gone_by = (Instant::now() + self.options.object_timeout).min(self.deadline);
            self.delete_first(target, resource).await?;
            drop(slot);
            self.until_gone(target, resource, gone_by).await?;
            slot = self.slot(target).await?;
        }
        let applied = self
            .actions
            .apply(
                resource,
                &target.body,
                self.options.force_conflicts || target.adopted,
            )
            .await
            .map_err(failed);
        drop(slot);
        applied
    }

    /// The workload writing what `target` copies, scaled to zero and its pods
    /// gone (it is rewritten after `target`, and comes back up).
    async fn stop_writer(&self, target: &Target, writer: &Target) -> Result<(), Ended> {
        let (Some(resource), Some(live)) = (&writer.resource, &writer.live) else {
            return Ok(());
        };
        self.observer.event(Event::Waiting {
            object: target.change.id(),
            why: format!(
                "stopping {} (scaled to zero) before the copy",
                writer.change.id()
            ),
        });
        let until = (Instant::now() + self.options.object_timeout).min(self.deadline);
        match self
            .stop
            .unless_stopped(self.actions.stop(resource, live, until))
            .await
        {
            None => Err(Ended::NotStarted),
            Some(result) => result.map_err(Ended::failed),
        }
    }

    /// A write slot for the target, unless the run stops first.
    async fn slot(&self, target: &Target) -> Result<Slot<'_>, Ended> {
        self.stop
            .unless_stopped(self.writes.acquire(target.index))
            .await
            .ok_or(Ended::NotStarted)
    }

    /// A replace: the old object is deleted.
    async fn delete_first(&self, target: &Target, resource: &Resource) -> Result<(), Ended> {
        // A StatefulSet goes without its pods and claims, which the new
        // one takes back; a Job's pods go with it.
        let propagation = match target.body["kind"].as_str() {
            Some("StatefulSet") => Propagation::Orphan,
            _ => Propagation::Foreground,
        };
        self.actions
            .delete(target.at(resource), propagation)
            .await
            .map(|_| ())
            .map_err(|e| Ended::failed(describe(&e)))
    }

    /// A replace: the old object (by its uid) is waited on until it is gone.
    async fn until_gone(
        &self,
        target: &Target,
        resource: &Resource,
        gone_by: Instant,
    ) -> Result<(), Ended> {
        let uid = target
            .live
            .as_ref()
            .and_then(|live| live["metadata"]["uid"].as_str());
        let gone = self.actions.until_gone(target.at(resource), uid, gone_by);
        match self.stop.unless_stopped(gone).await {
            None => Err(Ended::NotStarted),
            Some(true) => Ok(()),
            Some(false) => Err(Ended::Failed {
                failure: crate::engine::wait::Failure::TimedOut,
                why: "timed out waiting for the old object to be deleted before re-creating it"
                    .into(),
            }),
        }
    }

    /// The kind of a custom resource whose CRD this run just established:
    /// discovery lags `Established`, so ask again (with backoff) until it is
    /// served or the object's time is up.
    async fn discover(&self, target: &Target) -> Result<Resource, Ended> {
        let api_version = target.body["apiVersion"].as_str().unwrap_or_default();
        let kind = target.body["kind"].as_str().unwrap_or_default();
        let until = (Instant::now() + self.options.object_timeout).min(self.deadline);
        let mut delay = Duration::from_millis(50);
        loop {
            match self.actions.rediscover(api_version, kind).await {
                Ok(Some(r)) => return Ok(r),
                Ok(None) if Instant::now() + delay < until => {
                    self.observer.event(Event::Waiting {
                        object: target.change.id(),
                        why: format!("waiting for the API server to serve {api_version} {kind}"),
                    });
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
                Ok(None) => {
                    return Err(Ended::failed(format!(
                        "the cluster still does not serve {api_version} {kind} although its CRD is established"
                    )));
                }
                Err(e) => return Err(Ended::failed(describe(&e))),
            }
        }
    }
}
