//! What is stuck and why, for the report at a timeout or failure, read fresh
//! from the cluster when the report is made, not from what the waits saw
//! last: each object as it is now, the troubles of the pods that speak for it
//! and the events still true about them ([`crate::engine::diagnosis`]). Pods,
//! ReplicaSets and Events are listed once per namespace.

use std::collections::HashMap;

use serde_json::Value;

use super::{Failure, Stuck, Waiter};
use crate::engine::diagnosis::{self, Diagnosis, Related};
use crate::engine::kube::Resource;
use crate::engine::readiness::Timestamp;

/// What is stuck and why, for the report at a timeout or failure.
#[derive(Debug, Clone)]
pub struct Blocker {
    pub object: String,
    pub failure: Failure,
    pub message: String,
    /// What the cluster showed about it when the report was made.
    pub found: Diagnosis,
}

impl Blocker {
    /// A blocker with nothing known beyond its message.
    pub fn new(object: String, failure: Failure, message: String) -> Blocker {
        Blocker {
            object,
            failure,
            message,
            found: Diagnosis::default(),
        }
    }
}

/// A namespace's Pods, ReplicaSets and Events, as listed now.
#[derive(Default)]
struct Around {
    pods: Vec<Value>,
    replica_sets: Vec<Value>,
    events: Vec<Value>,
}

impl Waiter {
    /// What each object not ready is waiting for, as the cluster shows it
    /// now: its last message, the present troubles of its pods and the
    /// events still true about it or them.
    pub async fn blockers(&self, stuck: &[Stuck]) -> Vec<Blocker> {
        let mut around: HashMap<String, Around> = HashMap::new();
        let now = Timestamp::now();
        let mut out = Vec::new();
        for s in stuck {
            let (resource, namespace, name) = (&s.resource, s.namespace.as_deref(), &s.name);
            let object = crate::engine::kube::id(resource, namespace, name);
            let mut blocker = Blocker::new(object, s.failure, s.message.clone());
            let live = self.cluster.get(resource, namespace, name).await;
            if let (Some(ns), Ok(Some(object))) = (namespace, live) {
                if !around.contains_key(ns) {
                    around.insert(ns.to_owned(), self.around(ns).await);
                }
                let lists = &around[ns];
                let related = Related {
                    pods: &lists.pods,
                    replica_sets: &lists.replica_sets,
                    events: &lists.events,
                };
                blocker.found = diagnosis::diagnose(&object, &related, Some(now));
            }
            out.push(blocker);
        }
        out
    }

    /// Lists a namespace's Pods, ReplicaSets and Events (a list refused
    /// leaves its part empty: the report says less, it does not fail).
    async fn around(&self, ns: &str) -> Around {
        let list = async |api_version: &str, kind: &str| -> Vec<Value> {
            let resource: Option<Resource> = self
                .cluster
                .resource(api_version, kind)
                .await
                .ok()
                .flatten();
            match resource {
                Some(resource) => self
                    .cluster
                    .list(&resource, Some(ns), None)
                    .await
                    .unwrap_or_default(),
                None => Vec::new(),
            }
        };
        Around {
            pods: list("v1", "Pod").await,
            replica_sets: list("apps/v1", "ReplicaSet").await,
            events: list("v1", "Event").await,
        }
    }
}
