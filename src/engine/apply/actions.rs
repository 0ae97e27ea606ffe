//! The executor's one seam: everything its stages do to the cluster (write,
//! delete, read discovery) and wait for (readiness, deletion), as a trait.
//! The real one is [`OnCluster`], a [`Cluster`] and its [`Waiter`]; the
//! stages' unit tests put a fake in its place. It holds no rules: when to
//! write or wait is the stages' business.

use serde_json::Value;
use tokio::time::Instant;

use crate::engine::kube::{Cluster, ClusterError, Propagation, Resource};
use crate::engine::readiness::Readiness;
use crate::engine::wait::{Blocker, Outcome, Stuck, Waiter};

/// One object on the cluster: where it is served, its namespace and name.
#[derive(Debug, Clone, Copy)]
pub(super) struct At<'a> {
    pub resource: &'a Resource,
    pub namespace: Option<&'a str>,
    pub name: &'a str,
}

/// Where a kind is served, if it is.
pub(super) type Served = Result<Option<Resource>, ClusterError>;

/// Hears each new reason an object is not ready yet.
pub(super) type Progress<'a> = &'a (dyn Fn(&str) + Sync);

/// What the executor does to the cluster.
pub(super) trait Actions: Sync {
    /// Where `kind` of `api_version` is served (cached discovery).
    async fn served(&self, api_version: &str, kind: &str) -> Served;

    /// Discovery read again (a CRD of this run was just established).
    async fn rediscover(&self, api_version: &str, kind: &str) -> Served;

    /// Server-side apply; `force` takes over fields other managers own. The
    /// object as the server returned it.
    async fn apply(
        &self,
        resource: &Resource,
        body: &Value,
        force: bool,
    ) -> Result<Value, ClusterError>;

    /// Deletes an object (`false`: it was already gone).
    async fn delete(&self, at: At<'_>, propagation: Propagation) -> Result<bool, ClusterError>;

    /// The readiness of an object as read.
    async fn check(&self, live: &Value) -> Readiness;

    /// Waits until the object is ready, fails, or `deadline` passes.
    async fn until_ready(&self, at: At<'_>, deadline: Instant, progress: Progress<'_>) -> Outcome;

    /// Waits until the object with `uid` is gone; `false` at the deadline.
    async fn until_gone(&self, at: At<'_>, uid: Option<&str>, deadline: Instant) -> bool;

    /// What each stuck object is waiting for, for the report.
    async fn blockers(&self, stuck: &[Stuck]) -> Vec<Blocker>;

    /// Scales the workload `live` to zero and waits until its pods are gone
    /// ([`crate::engine::adopt::database::stop`]); the reason when it cannot.
    async fn stop(
        &self,
        resource: &Resource,
        live: &Value,
        deadline: Instant,
    ) -> Result<(), String>;
}

/// The real seam: writes go to the cluster, waits to its watches.
pub(super) struct OnCluster<'a> {
    pub cluster: &'a Cluster,
    pub waiter: &'a Waiter,
}

impl Actions for OnCluster<'_> {
    async fn served(&self, api_version: &str, kind: &str) -> Served {
        self.cluster.resource(api_version, kind).await
    }

    async fn rediscover(&self, api_version: &str, kind: &str) -> Served {
        self.cluster.rediscover(api_version, kind).await
    }

    async fn apply(
        &self,
        resource: &Resource,
        body: &Value,
        force: bool,
    ) -> Result<Value, ClusterError> {
        self.cluster.apply(resource, body, false, force).await
    }

    async fn delete(&self, at: At<'_>, propagation: Propagation) -> Result<bool, ClusterError> {
        self.cluster
            .delete(at.resource, at.namespace, at.name, propagation)
            .await
    }

    async fn check(&self, live: &Value) -> Readiness {
        self.waiter.check(live).await
    }

    async fn until_ready(&self, at: At<'_>, deadline: Instant, progress: Progress<'_>) -> Outcome {
        self.waiter
            .until_ready(at.resource, at.namespace, at.name, deadline, progress)
            .await
    }

    async fn until_gone(&self, at: At<'_>, uid: Option<&str>, deadline: Instant) -> bool {
        self.waiter
            .until_gone(at.resource, at.namespace, at.name, uid, deadline)
            .await
    }

    async fn blockers(&self, stuck: &[Stuck]) -> Vec<Blocker> {
        self.waiter.blockers(stuck).await
    }

    async fn stop(
        &self,
        resource: &Resource,
        live: &Value,
        deadline: Instant,
    ) -> Result<(), String> {
        crate::engine::adopt::database::stop(self.cluster, self.waiter, resource, live, deadline)
            .await
    }
}
