//! Which pods speak for a workload that is not ready. A Deployment mid-rollout
//! still has the old ReplicaSet's pods, ready and on their way out: its new
//! ReplicaSet's pods are the ones to name. A StatefulSet with ordered pod
//! management makes one pod at a time: the lowest ordinal that is not ready is
//! where it is stuck. Anything else: the pods its selector picks.

use serde_json::Value;

use super::{Related, controlled_by, name_of, uid_of};
use crate::engine::readiness::selects;

/// The pods that speak for a workload, and what part of it they are.
pub(super) struct Speaking<'a> {
    pub focus: Option<String>,
    pub replica_set: Option<&'a Value>,
    pub pods: Vec<&'a Value>,
}

pub(super) fn speaking<'a>(object: &'a Value, related: &Related<'a>) -> Speaking<'a> {
    let selected = || -> Vec<&'a Value> {
        related
            .pods
            .iter()
            .filter(|pod| selects(object, pod))
            .collect()
    };
    match object["kind"].as_str().unwrap_or_default() {
        "Deployment" => match new_replica_set(object, related.replica_sets) {
            Some((new, rolling)) => Speaking {
                focus: rolling.then(|| format!("new ReplicaSet {}", name_of(new))),
                replica_set: Some(new),
                pods: related
                    .pods
                    .iter()
                    .filter(|pod| controlled_by(pod, uid_of(new)))
                    .collect(),
            },
            None => Speaking {
                focus: None,
                replica_set: None,
                pods: selected(),
            },
        },
        "StatefulSet" => stuck_ordinal(object, selected()),
        _ => Speaking {
            focus: None,
            replica_set: None,
            pods: selected(),
        },
    }
}

/// The Deployment's new ReplicaSet (the one with the highest revision, as the
/// deployment controller numbers them; else its newest), and whether an older
/// one still has pods (a rollout under way).
fn new_replica_set<'a>(deployment: &Value, sets: &'a [Value]) -> Option<(&'a Value, bool)> {
    let revision = |rs: &Value| {
        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
            .as_str()
            .and_then(|r| r.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let created = |rs: &Value| {
        rs["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let owned: Vec<&Value> = sets
        .iter()
        .filter(|rs| controlled_by(rs, uid_of(deployment)))
        .collect();
    let new = owned
        .iter()
        .copied()
        .max_by_key(|rs| (revision(rs), created(rs)))?;
    let old_with_pods = owned
        .iter()
        .any(|rs| uid_of(rs) != uid_of(new) && rs["status"]["replicas"].as_i64().unwrap_or(0) > 0);
    Some((new, old_with_pods))
}

/// With ordered pod management, the lowest ordinal not ready and its pod;
/// with `Parallel`, every selected pod.
fn stuck_ordinal<'a>(set: &Value, pods: Vec<&'a Value>) -> Speaking<'a> {
    if set["spec"]["podManagementPolicy"] == "Parallel" {
        return Speaking {
            focus: None,
            replica_set: None,
            pods,
        };
    }
    let prefix = format!("{}-", name_of(set));
    let ordinal = |pod: &Value| {
        name_of(pod)
            .strip_prefix(&prefix)
            .and_then(|n| n.parse::<u32>().ok())
    };
    let replicas = set["spec"]["replicas"].as_u64().unwrap_or(1) as u32;
    let stuck = (0..replicas).find(|n| {
        !pods
            .iter()
            .any(|pod| ordinal(pod) == Some(*n) && is_ready(pod))
    });
    let Some(stuck) = stuck else {
        return Speaking {
            focus: None,
            replica_set: None,
            pods,
        };
    };
    Speaking {
        focus: Some(format!("ordinal {stuck}")),
        replica_set: None,
        pods: pods
            .into_iter()
            .filter(|pod| ordinal(pod) == Some(stuck))
            .collect(),
    }
}

fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}
