//! Waiting for objects to become ready, with watches, not polling: one watch
//! per (kind, namespace) however many objects of that kind are waited on, plus
//! one on the namespace's Pods while a workload is not ready, so its pods'
//! troubles show live ("ImagePullBackOff: postgres:16"). Readiness itself is
//! [`crate::engine::readiness`]'s; this module feeds it live objects and enforces the
//! time limits: every wait has a deadline, a fatal pod trouble turns its
//! workload Failed after a grace period, and a failed Job fails at once with
//! its pod's log tail. While a watch is down (the API server restarting, say)
//! nothing is judged: the grace clocks stop (`clocks.rs`) and the wait says
//! why it waits, until the feed (`feed.rs`) has listed again.
//! [`Waiter::blockers`] (`blockers.rs`) explains what is stuck.

mod blockers;
mod clocks;
mod feed;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{OnceCell, watch};
use tokio::time::Instant;

pub use blockers::Blocker;

use crate::engine::diagnosis::{self, Related};
use crate::engine::kube::{Cluster, Resource};
use crate::engine::readiness::{self, Facts, PodTrouble, Readiness};
use clocks::Clocks;
use feed::Feed;

/// Kinds whose pods are looked at while they are not ready.
const POD_OWNERS: &[&str] = &[
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
];
/// Lines of a failed Job's log shown.
const LOG_LINES: i64 = 20;

/// How a wait ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ready,
    Failed(String),
    /// The deadline passed; the last thing it was waiting for.
    TimedOut(String),
}

/// How an object fell short of ready: it failed (a write refused, a Job
/// failed, a pod trouble past its grace), or its time ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    Failed,
    TimedOut,
}

impl Failure {
    /// `failed` or `timed-out` (the JSON events' `outcome`).
    pub fn as_str(self) -> &'static str {
        match self {
            Failure::Failed => "failed",
            Failure::TimedOut => "timed-out",
        }
    }
}

/// A watch's kind (`Kind.group`) and namespace.
type FeedKey = (String, Option<String>);

/// An object that did not become ready, as the executor found it: what
/// [`Waiter::blockers`] explains.
#[derive(Debug, Clone)]
pub struct Stuck {
    pub resource: Resource,
    pub namespace: Option<String>,
    pub name: String,
    pub failure: Failure,
    /// Its last message.
    pub message: String,
}

/// Waits on objects; shares watches between waits.
pub struct Waiter {
    cluster: Arc<Cluster>,
    grace: Duration,
    feeds: Mutex<HashMap<FeedKey, Arc<Feed>>>,
    facts: OnceCell<Facts>,
    /// How long each workload's pod troubles have been seen, live.
    clocks: Mutex<Clocks>,
}

impl Waiter {
    /// `grace`: how long a fatal pod trouble may last before its workload is
    /// Failed.
    pub fn new(cluster: Arc<Cluster>, grace: Duration) -> Waiter {
        Waiter {
            cluster,
            grace,
            feeds: Mutex::default(),
            facts: OnceCell::new(),
            clocks: Mutex::default(),
        }
    }

    fn feed(&self, resource: &Resource, namespace: Option<&str>) -> Arc<Feed> {
        let namespace = namespace
            .filter(|_| resource.namespaced)
            .map(str::to_string);
        let key = (resource.group_kind(), namespace.clone());
        let mut feeds = self.feeds.lock().expect("not poisoned");
        feeds
            .entry(key)
            .or_insert_with(|| Feed::start(&self.cluster, resource, namespace.as_deref()))
            .clone()
    }

    /// Storage facts for PVC rules, read once.
    async fn facts(&self) -> Facts {
        self.facts
            .get_or_init(|| async {
                let classes = match self
                    .cluster
                    .resource("storage.k8s.io/v1", "StorageClass")
                    .await
                {
                    Ok(Some(classes)) => self
                        .cluster
                        .list(&classes, None, None)
                        .await
                        .unwrap_or_default(),
                    _ => Vec::new(),
                };
                Facts::from_classes(&classes)
            })
            .await
            .clone()
    }

    /// The readiness of an object as given (no request unless it is a PVC,
    /// which needs the storage classes once).
    pub async fn check(&self, object: &Value) -> Readiness {
        let facts = if object["kind"] == "PersistentVolumeClaim" {
            self.facts().await
        } else {
            Facts::default()
        };
        readiness::readiness(object, &facts)
    }

    /// Waits until the object is ready, fails, or `deadline` passes. `progress`
    /// hears each new "why".
    pub async fn until_ready(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        deadline: Instant,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Outcome {
        let feed = self.feed(resource, namespace);
        let mut changed = feed.version.subscribe();
        let mut around = Around::default();
        let mut last = String::new();
        loop {
            let (state, next_check) = self
                .evaluate(&feed, resource, namespace, name, &mut around)
                .await;
            match state {
                Readiness::Ready => return Outcome::Ready,
                Readiness::Failed(why) => return Outcome::Failed(why),
                Readiness::Progressing(why) => {
                    if why != last {
                        progress(&why);
                        last = why;
                    }
                }
            }
            let wake = next_check.map_or(deadline, |t| t.min(deadline));
            tokio::select! {
                _ = changed.changed() => {}
                _ = around.changed() => {}
                _ = tokio::time::sleep_until(wake) => {
                    if Instant::now() >= deadline {
                        return Outcome::TimedOut(last);
                    }
                }
            }
        }
    }

    /// One look at the object: its readiness, with its pods' troubles folded
    /// in, and when to look again without an event (a grace period ending).
    async fn evaluate(
        &self,
        feed: &Feed,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        around: &mut Around,
    ) -> (Readiness, Option<Instant>) {
        if !feed.synced() {
            let why = match feed.failing() {
                Some(why) => format!("{why}; retrying"),
                None => format!("watching {}", resource.api.plural),
            };
            return (Readiness::Progressing(why), None);
        }
        if let Some(why) = feed.failing() {
            return (paused(&why), None);
        }
        let Some(object) = feed.get(name) else {
            return (
                Readiness::Progressing("not found on the cluster yet".into()),
                None,
            );
        };
        let state = self.check(&object).await;
        let kind = resource.api.kind.as_str();
        if state.is_ready() || !POD_OWNERS.contains(&kind) {
            return (state, None);
        }
        if let Readiness::Failed(why) = &state {
            if kind == "Job" {
                let tail = self.job_log(feed, &object, namespace).await;
                return (Readiness::Failed(format!("{why}{tail}")), None);
            }
            return (state, None);
        }
        // Not ready: what are its pods doing?
        let Some(ns) = namespace else {
            return (state, None);
        };
        self.open_around(around, kind, ns).await;
        let workload = crate::engine::kube::id(resource, namespace, name);
        self.with_pods(state, &workload, &object, around)
    }

    /// Opens, once, the feeds a workload's diagnosis reads: its namespace's
    /// Pods, and ReplicaSets for a Deployment.
    async fn open_around(&self, around: &mut Around, kind: &str, ns: &str) {
        if around.pods.is_none()
            && let Ok(Some(pods)) = self.cluster.resource("v1", "Pod").await
        {
            let feed = self.feed(&pods, Some(ns));
            around.changes.push(feed.version.subscribe());
            around.pods = Some(feed);
        }
        if kind == "Deployment"
            && around.replica_sets.is_none()
            && let Ok(Some(sets)) = self.cluster.resource("apps/v1", "ReplicaSet").await
        {
            let feed = self.feed(&sets, Some(ns));
            around.changes.push(feed.version.subscribe());
            around.replica_sets = Some(feed);
        }
    }

    /// A workload not ready, with its worst pod trouble: Failed once a fatal
    /// one has been seen, live, for the grace period. No verdict while a
    /// watch it reads is down: what it holds may be stale.
    fn with_pods(
        &self,
        state: Readiness,
        workload: &str,
        object: &Value,
        around: &Around,
    ) -> (Readiness, Option<Instant>) {
        let Some(pods) = &around.pods else {
            return (state, None);
        };
        for feed in [Some(pods), around.replica_sets.as_ref()]
            .into_iter()
            .flatten()
        {
            if let Some(why) = feed.failing() {
                return (paused(&why), None);
            }
        }
        let (all_pods, replica_sets) = (pods.all(), around.replica_sets.as_ref().map(|f| f.all()));
        let related = Related {
            pods: &all_pods,
            replica_sets: replica_sets.as_deref().unwrap_or_default(),
            events: &[],
        };
        // No "for how long" live: the line would change every second.
        let diagnosis = diagnosis::troubles(object, &related, None);
        let Some(worst) = diagnosis.pods.first() else {
            return (state, None);
        };
        let why = diagnosis::explain(state, &diagnosis);
        if !worst.fatal {
            return (why, None);
        }
        let key = |t: &PodTrouble| format!("{}/{}", t.pod, t.reason);
        let present: Vec<String> = diagnosis.pods.iter().filter(|t| t.fatal).map(key).collect();
        let seen = self.clocks.lock().expect("not poisoned").seen(
            workload,
            &key(worst),
            &present,
            pods.live_time(),
        );
        if seen >= self.grace {
            return (Readiness::Failed(diagnosis::line(&diagnosis, worst)), None);
        }
        (why, Some(Instant::now() + (self.grace - seen)))
    }

    /// The log tail of a failed Job's most recent failed pod, as text to append.
    async fn job_log(&self, _feed: &Feed, job: &Value, namespace: Option<&str>) -> String {
        let Some(ns) = namespace else {
            return String::new();
        };
        let Ok(Some(pod_kind)) = self.cluster.resource("v1", "Pod").await else {
            return String::new();
        };
        let Ok(pods) = self.cluster.list(&pod_kind, Some(ns), None).await else {
            return String::new();
        };
        let mut failed: Vec<&Value> = pods
            .iter()
            .filter(|p| readiness::selects(job, p) && p["status"]["phase"] == "Failed")
            .collect();
        failed.sort_by_key(|p| {
            p["metadata"]["creationTimestamp"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        });
        let Some(pod) = failed.last() else {
            return String::new();
        };
        let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
        match self
            .cluster
            .logs(ns, pod_name, None, LOG_LINES, false)
            .await
        {
            Ok(log) if !log.trim().is_empty() => {
                let lines: Vec<String> = log.lines().map(|l| format!("    {l}")).collect();
                format!(
                    "\n  last {} log lines of pod {pod_name}:\n{}",
                    lines.len(),
                    lines.join("\n")
                )
            }
            Ok(_) => format!("\n  pod {pod_name} wrote no log"),
            Err(e) => format!("\n  cannot read the log of pod {pod_name}: {e}"),
        }
    }

    /// Waits until the object with `uid` is gone (after its delete), or the
    /// deadline. One of the same name but another uid (made again by someone
    /// else) does not count: kube-rs' `conditions::is_deleted`.
    pub async fn until_gone(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        uid: Option<&str>,
        deadline: Instant,
    ) -> bool {
        let feed = self.feed(resource, namespace);
        let mut changed = feed.version.subscribe();
        loop {
            if feed.synced() && gone(feed.get(name).as_ref(), uid) {
                return true;
            }
            tokio::select! {
                _ = changed.changed() => {}
                _ = tokio::time::sleep_until(deadline) => return false,
            }
        }
    }
}

impl Waiter {
    /// Waits until no pod of `namespace` carries every label of `selector`
    /// (a stopped workload's pods are gone, not only terminating); `false`
    /// at the deadline.
    pub async fn until_no_pods(
        &self,
        pods: &Resource,
        namespace: &str,
        selector: &serde_json::Map<String, Value>,
        deadline: Instant,
    ) -> bool {
        let feed = self.feed(pods, Some(namespace));
        let mut changed = feed.version.subscribe();
        let selected = |pod: &Value| {
            selector
                .iter()
                .all(|(k, v)| &pod["metadata"]["labels"][k] == v)
        };
        loop {
            if feed.synced() && !feed.all().iter().any(selected) {
                return true;
            }
            tokio::select! {
                _ = changed.changed() => {}
                _ = tokio::time::sleep_until(deadline) => return false,
            }
        }
    }
}

/// The feeds read around a workload that is not ready (opened on first
/// need), and their change signals.
#[derive(Default)]
struct Around {
    pods: Option<Arc<Feed>>,
    replica_sets: Option<Arc<Feed>>,
    changes: Vec<watch::Receiver<u64>>,
}

impl Around {
    /// Resolves when any of the feeds changes; never while none is open.
    async fn changed(&mut self) {
        if self.changes.is_empty() {
            return std::future::pending().await;
        }
        let changes = self.changes.iter_mut().map(|rx| Box::pin(rx.changed()));
        let _ = futures::future::select_all(changes).await;
    }
}

/// Waiting while the watch is down: `why` says what happened.
fn paused(why: &str) -> Readiness {
    Readiness::Progressing(format!(
        "{why}; waiting to see the cluster again (failure grace paused)"
    ))
}

/// Whether the object with `uid` is gone, given what has its name now: no
/// object, or another one (without a uid to compare, only no object).
fn gone(found: Option<&Value>, uid: Option<&str>) -> bool {
    match (found, uid) {
        (None, _) => true,
        (Some(object), Some(uid)) => object["metadata"]["uid"].as_str() != Some(uid),
        (Some(_), None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_object_made_again_under_the_same_name_counts_as_gone() {
        let old = json!({"metadata": {"name": "job", "uid": "u-1"}});
        let new = json!({"metadata": {"name": "job", "uid": "u-2"}});
        assert!(gone(None, Some("u-1")));
        assert!(!gone(Some(&old), Some("u-1")), "still there");
        assert!(gone(Some(&new), Some("u-1")), "deleted and made again");
        assert!(!gone(Some(&new), None), "no uid: by name only");
    }
}
