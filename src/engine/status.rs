//! How each component of each scope is doing on the cluster right now, from
//! the same readiness rules the waits use: per component Ready, Progressing
//! (why) or Failed (why), the worst of its objects. Reading is cheap: one list
//! per member kind and namespace (through the scope's inventory) plus the
//! namespace's Pods, so a stuck workload shows its pods' trouble. The
//! summary itself ([`components`]) is pure.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use serde_json::Value;

use crate::engine::inventory::{self, ApplySet};
use crate::engine::kube::{Cluster, ClusterError};
use crate::engine::readiness::{self, Facts, Readiness};
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

/// The live members of a scope (one list per member kind and namespace) and
/// the Pods of its namespaces; empty when the scope was never installed.
pub async fn read_scope(
    cluster: &Cluster,
    set: &ApplySet,
) -> Result<(Vec<Value>, Vec<Value>), ClusterError> {
    let Some(config_maps) = cluster.resource("v1", inventory::PARENT_KIND).await? else {
        return Ok((Vec::new(), Vec::new()));
    };
    let Some(parent) = cluster
        .get(&config_maps, Some(&set.namespace), &set.name)
        .await?
    else {
        return Ok((Vec::new(), Vec::new()));
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
    let mut pods = Vec::new();
    if let Some(pod_kind) = cluster.resource("v1", "Pod").await? {
        for ns in &namespaces {
            pods.extend(cluster.list(&pod_kind, Some(ns), None).await?);
        }
    }
    Ok((members, pods))
}

/// Per component of `scope`: the worst readiness of its rendered objects as
/// found live (`live`), missing objects counting as Progressing. A tenant
/// with nothing on the cluster is one `NotInstalled` row instead: one fact,
/// not a row per component.
pub fn components(
    scope: &Scope,
    desired: &[&Manifest],
    live: &[Value],
    pods: &[Value],
    facts: &Facts,
) -> Vec<ComponentStatus> {
    if let (Scope::Tenant(name), true) = (scope, live.is_empty()) {
        return vec![not_installed(scope, name)];
    }
    let key = |kind: &str, ns: Option<&str>, name: &str| {
        format!("{kind}/{}/{name}", ns.unwrap_or_default())
    };
    let by_key: HashMap<String, &Value> = live
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
            Some(object) => with_pods(readiness::readiness(object, facts), object, pods),
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

/// A workload not ready, with its worst pod's trouble appended.
fn with_pods(state: Readiness, object: &Value, pods: &[Value]) -> Readiness {
    if state.is_ready() {
        return state;
    }
    let mut troubles: Vec<readiness::PodTrouble> = pods
        .iter()
        .filter(|p| readiness::selects(object, p))
        .filter_map(readiness::pod_trouble)
        .collect();
    troubles.sort_by(|a, b| b.fatal.cmp(&a.fatal).then(a.pod.cmp(&b.pod)));
    match (state, troubles.first()) {
        (Readiness::Progressing(why), Some(t)) => {
            Readiness::Progressing(format!("{why}; {} (pod {})", t.message, t.pod))
        }
        (state, _) => state,
    }
}

/// Storage facts for PVC readiness: WaitForFirstConsumer classes and the default.
pub fn facts(classes: &[Value]) -> Facts {
    let mut facts = Facts::default();
    for class in classes {
        let name = class["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if class["volumeBindingMode"] == "WaitForFirstConsumer" {
            facts.wait_for_first_consumer.insert(name.clone());
        }
        if class["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
        {
            facts.default_storage_class = Some(name);
        }
    }
    facts
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
        let got = components(
            &Scope::Tenant("ws".into()),
            &refs,
            &live,
            &pods,
            &Facts::default(),
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
            &[],
            &[],
            &Facts::default(),
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
