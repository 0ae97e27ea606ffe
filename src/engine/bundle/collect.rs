//! What the bundle reads, through `kube` only: the server's version, the
//! nodes, every Secret of the scopes' namespaces (read so that their values
//! are known to the redaction filter, never written), every object of each
//! scope's inventory (one list per member kind), and per namespace its pods,
//! its events and the logs of containers not ready or restarted. A read that
//! is refused or fails is recorded as a line for `errors.txt` and the
//! collection goes on; only an API server that cannot be reached at all
//! (the first read) ends it. Once the server stops answering mid-way, the
//! remaining reads are skipped rather than each waiting for its timeout.

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use super::{File, Part, shape};
use crate::engine::apply::{self, Problem};
use crate::engine::inventory::{self, ApplySet};
use crate::engine::kube::{Cluster, ClusterError, Resource};

/// Lines of each container log kept.
const LOG_LINES: i64 = 500;

/// What was read: the files, the reads that failed, and the scopes' pods
/// (for the blocker report).
#[derive(Debug, Default)]
pub struct Collected {
    pub files: Vec<File>,
    /// One line per read refused or failed: what was read, the API's reason.
    pub errors: Vec<String>,
    pub pods: Vec<Value>,
}

/// Reads everything the bundle holds about `sets` (their inventories and
/// namespaces), with events newer than `since` before `now`. Fails only
/// when the API server cannot be reached at all.
pub async fn collect(
    cluster: &Cluster,
    sets: &[ApplySet],
    since: Duration,
    now: Timestamp,
) -> Result<Collected, ClusterError> {
    let mut reader = Reader {
        cluster,
        out: Collected::default(),
        down: false,
    };
    let version = match cluster.version().await {
        Ok(version) => Some(version),
        Err(e @ (ClusterError::Unreachable { .. } | ClusterError::Timeout { .. })) => {
            return Err(e);
        }
        Err(e) => {
            reader.refused(e);
            None
        }
    };
    reader.file(
        "version.txt",
        shape::version_text(version.as_ref()),
        Part::Summary,
    );
    let mut namespaces = BTreeSet::new();
    for set in sets {
        namespaces.extend(reader.inventory(set).await);
    }
    reader.secrets(&namespaces).await;
    reader.nodes().await;
    for namespace in &namespaces {
        reader.namespace(namespace, since, now).await;
    }
    Ok(reader.out)
}

struct Reader<'a> {
    cluster: &'a Cluster,
    out: Collected,
    /// The API server stopped answering: skip the remaining reads.
    down: bool,
}

impl Reader<'_> {
    fn file(&mut self, path: impl Into<String>, text: impl Into<String>, part: Part) {
        self.out.files.push(File::new(path, text, part));
    }

    fn refused(&mut self, error: ClusterError) {
        if matches!(
            error,
            ClusterError::Unreachable { .. } | ClusterError::Timeout { .. }
        ) {
            self.down = true;
        }
        self.out.errors.push(error.to_string());
    }

    /// The value of a read, or `None` with the failure recorded.
    fn ok<T>(&mut self, result: Result<T, ClusterError>) -> Option<T> {
        result.map_err(|e| self.refused(e)).ok()
    }

    /// A core (`v1`) kind's resource.
    async fn core(&mut self, kind: &str) -> Option<Resource> {
        if self.down {
            return None;
        }
        let found = self.cluster.resource("v1", kind).await;
        self.ok(found).flatten()
    }

    fn object(&mut self, object: &Value) {
        self.file(
            shape::object_path(object),
            shape::object_yaml(object),
            Part::Objects,
        );
    }

    /// The set's parent and every member, one list per member kind; the
    /// namespaces they are in (the set's own at least).
    async fn inventory(&mut self, set: &ApplySet) -> BTreeSet<String> {
        let mut namespaces = BTreeSet::from([set.namespace.clone()]);
        let Some(config_maps) = self.core(inventory::PARENT_KIND).await else {
            return namespaces;
        };
        let parent = self
            .cluster
            .get(&config_maps, Some(&set.namespace), &set.name)
            .await;
        let Some(parent) = self.ok(parent).flatten() else {
            return namespaces;
        };
        namespaces.extend(inventory::namespaces(&parent));
        self.object(&parent);
        for kind in inventory::group_kinds(&parent) {
            if self.down {
                break;
            }
            let one = BTreeSet::from([kind]);
            match apply::list_members(self.cluster, set, &one, &namespaces).await {
                Ok(found) => found.iter().for_each(|(_, o)| self.object(o)),
                Err(Problem::Cluster(e)) => self.refused(e),
                Err(other) => self.out.errors.push(other.to_string()),
            }
        }
        namespaces
    }

    /// Lists every Secret of `namespaces`: reading one registers its values
    /// with the redaction filter (`kube` does), so they are masked wherever
    /// they appear — a ConfigMap, an env var, a log line, an event.
    async fn secrets(&mut self, namespaces: &BTreeSet<String>) {
        let Some(secrets) = self.core("Secret").await else {
            return;
        };
        for namespace in namespaces {
            let listed = self.cluster.list(&secrets, Some(namespace), None).await;
            self.ok(listed);
        }
    }

    /// `nodes.yaml`: a summary of every node.
    async fn nodes(&mut self) {
        let Some(nodes) = self.core("Node").await else {
            return;
        };
        let listed = self.cluster.list(&nodes, None, None).await;
        if let Some(nodes) = self.ok(listed) {
            let summaries: Vec<Value> = nodes.iter().map(shape::node_summary).collect();
            let text = crate::pipeline::yaml::to_string(&summaries);
            self.file("nodes.yaml", text, Part::Summary);
        }
    }

    /// A namespace's events (`events/NS.txt`), its pods, and their logs.
    async fn namespace(&mut self, namespace: &str, since: Duration, now: Timestamp) {
        if let Some(events) = self.core("Event").await {
            let listed = self.cluster.list(&events, Some(namespace), None).await;
            if let Some(events) = self.ok(listed) {
                let text = shape::events_text(&events, since, now);
                self.file(format!("events/{namespace}.txt"), text, Part::Events);
            }
        }
        let Some(pods) = self.core("Pod").await else {
            return;
        };
        let listed = self.cluster.list(&pods, Some(namespace), None).await;
        let Some(pods) = self.ok(listed) else {
            return;
        };
        for pod in &pods {
            self.logs(namespace, pod).await;
        }
        self.out.pods.extend(pods);
    }

    /// The last [`LOG_LINES`] lines of each container of `pod` not ready or
    /// restarted, and of its previous instance when it restarted.
    async fn logs(&mut self, namespace: &str, pod: &Value) {
        let name = pod["metadata"]["name"].as_str().unwrap_or_default();
        for target in shape::log_targets(pod) {
            if self.down {
                return;
            }
            let container = Some(target.container.as_str());
            let base = format!("logs/{namespace}/{name}/{}", target.container);
            let current = self
                .cluster
                .logs(namespace, name, container, LOG_LINES, false)
                .await;
            if let Some(text) = self.ok(current) {
                self.file(format!("{base}.log"), text, Part::Logs);
            }
            if target.restarted {
                let previous = self
                    .cluster
                    .logs(namespace, name, container, LOG_LINES, true)
                    .await;
                if let Some(text) = self.ok(previous) {
                    self.file(format!("{base}.previous.log"), text, Part::Logs);
                }
            }
        }
    }
}
