//! What the checks share: the cluster, the spec, the rendered objects, and
//! read-only requests made once. A list of one kind in one namespace (or
//! cluster-wide) is sent once however many checks need it, and a read that
//! is refused is remembered with the API's reason, so that each check can say
//! which read it missed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::OnceCell;

use super::Purpose;
use crate::engine::apply::managers_only;
use crate::engine::kube::{Cluster, ClusterError};
use crate::pipeline::manifest::Manifest;
use crate::pipeline::spec::Spec;

/// What a read found.
#[derive(Debug, Clone)]
pub enum Read<T> {
    Found(T),
    /// The cluster does not serve the kind.
    NotServed,
    /// The read was refused or failed: the API's reason.
    Refused(String),
}

type Key = (String, String, Option<String>);
type Listed = Read<Arc<Vec<Value>>>;

/// The shared state of one preflight run.
pub struct Context<'a> {
    pub cluster: &'a Cluster,
    pub spec: &'a Spec,
    /// The rendered objects of the scopes checked.
    pub manifests: &'a [Manifest],
    pub purpose: Purpose,
    lists: Mutex<HashMap<Key, Arc<OnceCell<Listed>>>>,
    version: OnceCell<Result<Value, String>>,
}

impl<'a> Context<'a> {
    pub fn new(
        cluster: &'a Cluster,
        spec: &'a Spec,
        manifests: &'a [Manifest],
        purpose: Purpose,
    ) -> Context<'a> {
        Context {
            cluster,
            spec,
            manifests,
            purpose,
            lists: Mutex::default(),
            version: OnceCell::new(),
        }
    }

    /// The API server's `/version` answer, asked once per run (the version
    /// and platform checks both read it), or the API's reason.
    pub async fn version(&self) -> Result<Value, String> {
        self.version
            .get_or_init(|| async { self.cluster.version().await.map_err(|e| reason(&e)) })
            .await
            .clone()
    }

    /// One request that proves the API server answers (the discovery of
    /// `v1`, which every later call needs anyway).
    pub async fn reachable(&self) -> Result<(), ClusterError> {
        self.cluster.resource("v1", "Namespace").await.map(|_| ())
    }

    /// Every object of a kind in `namespace` (cluster-wide when `None`),
    /// listed once per run, each kept as [`thinned`] says.
    pub async fn list(&self, api_version: &str, kind: &str, namespace: Option<&str>) -> Listed {
        let key = (
            api_version.to_owned(),
            kind.to_owned(),
            namespace.map(str::to_owned),
        );
        let cell = self
            .lists
            .lock()
            .expect("not poisoned")
            .entry(key)
            .or_default()
            .clone();
        cell.get_or_init(|| async {
            let resource = match self.cluster.resource(api_version, kind).await {
                Ok(Some(resource)) => resource,
                Ok(None) => return Read::NotServed,
                Err(e) => return Read::Refused(reason(&e)),
            };
            match self
                .cluster
                .list_with(&resource, namespace, None, thinned(kind))
                .await
            {
                Ok(items) => Read::Found(Arc::new(items)),
                Err(e) => Read::Refused(reason(&e)),
            }
        })
        .await
        .clone()
    }
}

/// How an object of `kind` is kept as its list is parsed: what the checks
/// read of it ([`THINNED`]), else all but the fields each manager owns.
fn thinned(kind: &str) -> &'static (dyn Fn(Value) -> Value + Sync) {
    THINNED
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(&managers_only, |(_, thin)| thin)
}

/// The kinds the checks read only a little of, and what they keep.
const THINNED: &[(&str, Thin)] = &[
    ("Pod", super::capacity::pod_view),
    ("Deployment", super::capacity::workload_view),
    ("StatefulSet", super::capacity::workload_view),
    ("Job", super::capacity::workload_view),
    ("Prometheus", super::capacity::workload_view),
];

/// How a listed object is kept.
type Thin = fn(Value) -> Value;

/// The API's reason for a refused read, as a sentence.
pub fn reason(error: &ClusterError) -> String {
    error.to_string()
}
