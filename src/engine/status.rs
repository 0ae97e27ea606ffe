//! How each component of each scope is doing on the cluster right now, from
//! the same readiness rules the waits use: per component Ready, Progressing
//! (why) or Failed (why), the worst of its objects. Reading is cheap: one list
//! per member kind and namespace (through the scope's inventory) plus the
//! namespace's Pods, so a stuck workload shows its pods' trouble. The
//! summary itself ([`components`]) is pure.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use serde_json::Value;

use crate::engine::diagnosis::{self, Diagnosis, Related};
use crate::engine::inventory::{self, ApplySet};
use crate::engine::kube::{Cluster, ClusterError};
use crate::engine::readiness::{self, Facts, Readiness, Timestamp};
use crate::pipeline::manifest::{Manifest, Scope};

/// One component's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComponentStatus {
    pub scope: String,
    pub component: String,
    /// `Ready`, `Progressing`, `Failed`, or `NotInstalled` (a tenant with
    /// nothing on the cluster, as one row with component `-`).
    pub state: &'static str,
    /// Why it is not ready: the first object not ready and its reason.
    pub detail: String,
    pub objects: usize,
}

/// A scope as found on the cluster: its live members, and the Pods,
/// ReplicaSets and Events of its namespaces (what a diagnosis reads).
#[derive(Debug, Clone, Default)]
pub struct LiveScope {
    pub members: Vec<Value>,
    pub pods: Vec<Value>,
    pub replica_sets: Vec<Value>,
    pub events: Vec<Value>,
}

impl LiveScope {
    fn related(&self) -> Related<'_> {
        Related {
            pods: &self.pods,
            replica_sets: &self.replica_sets,
            events: &self.events,
        }
    }
}

/// The live members of a scope (one list per member kind and namespace) and
/// the Pods and ReplicaSets of its namespaces, and their Events when
/// `events` (a full diagnosis needs them; a status row does not); empty when
/// the scope was never installed.
pub async fn read_scope(
    cluster: &Cluster,
    set: &ApplySet,
    events: bool,
) -> Result<LiveScope, ClusterError> {
    let Some(config_maps) = cluster.resource("v1", inventory::PARENT_KIND).await? else {
        return Ok(LiveScope::default());
    };
    let Some(parent) = cluster
        .get(&config_maps, Some(&set.namespace), &set.name)
        .await?
    else {
        return Ok(LiveScope::default());
    };
    let mut namespaces = inventory::namespaces(&parent);
    namespaces.insert(set.namespace.clone());
    let members = crate::engine::apply::list_members(
        cluster,
        set,
        &inventory::group_kinds(&parent),
        &namespaces,
    )
    .await
    .map_err(|p| match p {
        crate::engine::apply::Problem::Cluster(e) => e,
        other => unreachable!("listing members only fails on the cluster: {other}"),
    })?
    .into_iter()
    .map(|(_, object)| object)
    .collect();
    let in_namespaces = async |api_version: &str, kind: &str| {
        let mut all = Vec::new();
        if let Some(resource) = cluster.resource(api_version, kind).await? {
            for ns in &namespaces {
                all.extend(cluster.list(&resource, Some(ns), None).await?);
            }
        }
        Ok::<_, ClusterError>(all)
    };
    Ok(LiveScope {
        members,
        pods: in_namespaces("v1", "Pod").await?,
        replica_sets: in_namespaces("apps/v1", "ReplicaSet").await?,
        events: match events {
            true => in_namespaces("v1", "Event").await?,
            false => Vec::new(),
        },
    })
}

/// Per component of `scope`: the worst readiness of its rendered objects as
/// found live (`live`), missing objects counting as Progressing, a workload's
/// with its worst pod's present trouble. A tenant with nothing on the cluster
/// is one `NotInstalled` row instead: one fact, not a row per component.
pub fn components(
    scope: &Scope,
    desired: &[&Manifest],
    live: &LiveScope,
    facts: &Facts,
    now: Timestamp,
) -> Vec<ComponentStatus> {
    if let (Scope::Tenant(name), true) = (scope, live.members.is_empty()) {
        return vec![not_installed(scope, name)];
    }
    let key = |kind: &str, ns: Option<&str>, name: &str| {
        format!("{kind}/{}/{name}", ns.unwrap_or_default())
    };
    let by_key: HashMap<String, &Value> = live
        .members
        .iter()
        .map(|o| {
            let meta = &o["metadata"];
            (
                key(
                    o["kind"].as_str().unwrap_or_default(),
                    meta["namespace"].as_str(),
                    meta["name"].as_str().unwrap_or_default(),
                ),
                o,
            )
        })
        .collect();
    let mut per_component: BTreeMap<String, Vec<(String, Readiness)>> = BTreeMap::new();
    for m in desired {
        let state = match by_key.get(&key(m.kind(), m.namespace(), m.name())) {
            None => Readiness::Progressing("not on the cluster (run cnvrgctl apply)".into()),
            Some(object) => explained(object, live, facts, now),
        };
        per_component
            .entry(m.origin.component.clone())
            .or_default()
            .push((m.id(), state));
    }
    per_component
        .into_iter()
        .map(|(component, states)| {
            let worst = states
                .iter()
                .find(|(_, s)| s.is_failed())
                .or_else(|| states.iter().find(|(_, s)| !s.is_ready()));
            let (state, detail) = match worst {
                None => ("Ready", String::new()),
                Some((id, s)) => (
                    if s.is_failed() {
                        "Failed"
                    } else {
                        "Progressing"
                    },
                    format!("{id}: {}", s.message()),
                ),
            };
            ComponentStatus {
                scope: scope.to_string(),
                component,
                state,
                detail,
                objects: states.len(),
            }
        })
        .collect()
}

/// The one row of a tenant in the spec that was never installed.
fn not_installed(scope: &Scope, name: &str) -> ComponentStatus {
    ComponentStatus {
        scope: scope.to_string(),
        component: "-".into(),
        state: "NotInstalled",
        detail: format!("run cnvrgctl tenant add {name} or apply --scope tenant/{name}"),
        objects: 0,
    }
}

/// A live member that is not ready, as the timeout report shows one.
#[derive(Debug, Clone)]
pub struct NotReady {
    /// `Kind/namespace/name`.
    pub object: String,
    pub state: Readiness,
    pub found: Diagnosis,
}

/// Every live member of a scope that is not ready, with its diagnosis from
/// the present (pods, then events still true).
pub fn not_ready(live: &LiveScope, facts: &Facts, now: Timestamp) -> Vec<NotReady> {
    live.members
        .iter()
        .filter_map(|object| {
            let state = readiness::readiness(object, facts);
            if state.is_ready() {
                return None;
            }
            let meta = &object["metadata"];
            let object_id = [
                object["kind"].as_str(),
                meta["namespace"].as_str(),
                meta["name"].as_str(),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("/");
            Some(NotReady {
                object: object_id,
                state,
                found: diagnosis::diagnose(object, &live.related(), Some(now)),
            })
        })
        .collect()
}

/// An object's readiness, with its diagnosis folded in when it is not ready.
fn explained(object: &Value, live: &LiveScope, facts: &Facts, now: Timestamp) -> Readiness {
    let state = readiness::readiness(object, facts);
    if state.is_ready() {
        return state;
    }
    let diagnosis = diagnosis::troubles(object, &live.related(), Some(now));
    diagnosis::explain(state, &diagnosis)
}

/// The scopes installed on the cluster: every ApplySet parent cnvrgctl wrote,
/// as (scope label, namespace, creation time).
pub async fn installed(cluster: &Cluster) -> Result<Vec<(String, String, String)>, ClusterError> {
    let Some(config_maps) = cluster.resource("v1", inventory::PARENT_KIND).await? else {
        return Ok(Vec::new());
    };
    let selector = format!(
        "{},{}={}",
        inventory::ID_LABEL,
        crate::pipeline::manifest::keys::MANAGED_BY,
        crate::pipeline::manifest::MANAGER
    );
    let parents = cluster.list(&config_maps, None, Some(&selector)).await?;
    let mut seen = BTreeSet::new();
    Ok(parents
        .into_iter()
        .filter_map(|p| {
            let meta = &p["metadata"];
            let scope = meta["labels"][crate::pipeline::manifest::keys::SCOPE]
                .as_str()?
                .to_string();
            seen.insert(scope.clone()).then(|| {
                (
                    scope,
                    meta["namespace"].as_str().unwrap_or_default().to_string(),
                    meta["creationTimestamp"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                )
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::manifest::Origin;
    use serde_json::json;

    fn manifest(kind: &str, name: &str, component: &str) -> Manifest {
        Manifest {
            object: json!({"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "namespace": "ws"}}),
            origin: Origin {
                scope: Scope::Tenant("ws".into()),
                component: component.into(),
                template: "t".into(),
            },
        }
    }

    #[test]
    fn a_component_is_as_good_as_its_worst_object() {
        let desired = [
            manifest("Deployment", "orion", "orion-server"),
            manifest("ConfigMap", "cfg", "orion-server"),
            manifest("Deployment", "agent", "agent-default"),
        ];
        let refs: Vec<&Manifest> = desired.iter().collect();
        let live = vec![
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "orion", "namespace": "ws", "generation": 1},
                   "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "orion"}}},
                   "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 0, "availableReplicas": 0}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "ws"}}),
        ];
        let pods = vec![
            json!({"metadata": {"name": "orion-1", "namespace": "ws", "labels": {"app": "orion"}},
            "status": {"phase": "Pending", "containerStatuses": [{"name": "orion", "image": "prefect:3", "ready": false,
                "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}}]}}),
        ];
        let live = LiveScope {
            members: live,
            pods,
            ..LiveScope::default()
        };
        let got = components(
            &Scope::Tenant("ws".into()),
            &refs,
            &live,
            &Facts::default(),
            Timestamp::UNIX_EPOCH,
        );
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].component.as_str(), got[0].state),
            ("agent-default", "Progressing")
        );
        assert!(
            got[0].detail.contains("not on the cluster"),
            "{}",
            got[0].detail
        );
        assert_eq!(
            (got[1].component.as_str(), got[1].state, got[1].objects),
            ("orion-server", "Progressing", 2)
        );
        assert!(
            got[1].detail.contains("ImagePullBackOff") && got[1].detail.contains("pod orion-1"),
            "{}",
            got[1].detail
        );
    }

    #[test]
    fn a_tenant_with_nothing_on_the_cluster_is_one_row() {
        let desired = [
            manifest("Deployment", "orion", "orion-server"),
            manifest("Deployment", "agent", "agent-default"),
        ];
        let refs: Vec<&Manifest> = desired.iter().collect();
        let got = components(
            &Scope::Tenant("ws".into()),
            &refs,
            &LiveScope::default(),
            &Facts::default(),
            Timestamp::UNIX_EPOCH,
        );
        assert_eq!(
            got,
            vec![ComponentStatus {
                scope: "tenant.ws".into(),
                component: "-".into(),
                state: "NotInstalled",
                detail: "run cnvrgctl tenant add ws or apply --scope tenant/ws".into(),
                objects: 0,
            }]
        );
    }
}
