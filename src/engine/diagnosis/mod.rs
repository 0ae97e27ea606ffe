//! Why an object is not ready, from the present only: the pods that speak for
//! it and what they are going through now (conditions and container states,
//! [`crate::engine::readiness::pod_trouble`]), then the events about exactly
//! those objects (their current uids) since their last change. The waits'
//! live progress, the timeout report and `status` all read it, so the three
//! say the same thing.
//!
//! Which pods speak for a workload is `pods.rs`'s: a Deployment's new
//! ReplicaSet's pods (the old ones are on their way out), the ordinal a
//! StatefulSet is stuck on, any other workload's selected pods. Which events
//! are still true is `events.rs`'s. Pure: the caller lists pods, ReplicaSets
//! and events and says what time it is.

mod events;
mod pods;

use serde_json::Value;

use crate::engine::readiness::{PodTrouble, Readiness, Timestamp};

/// What the caller read around the object: its namespace's pods, ReplicaSets
/// and events (any of them may be empty when not read).
#[derive(Debug, Clone, Copy, Default)]
pub struct Related<'a> {
    pub pods: &'a [Value],
    pub replica_sets: &'a [Value],
    pub events: &'a [Value],
}

/// What the cluster shows now about an object that is not ready.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnosis {
    /// The part of a rollout that is stuck: "new ReplicaSet web-7d9f",
    /// "ordinal 1".
    pub focus: Option<String>,
    /// The troubles of the pods that speak for the object, worst first.
    pub pods: Vec<PodTrouble>,
    /// Events about the object, its new ReplicaSet and those pods that are
    /// still true, oldest first, as "name Reason: message (xN)".
    pub events: Vec<String>,
}

/// The focus and the pod troubles of a workload, worst first: what the live
/// wait folds into its progress line (no events needed).
pub fn troubles(object: &Value, related: &Related, now: Option<Timestamp>) -> Diagnosis {
    troubles_of(pods::speaking(object, related), now).0
}

/// The troubles of the pods that speak, worst first, and those pods.
fn troubles_of<'a>(
    speaking: pods::Speaking<'a>,
    now: Option<Timestamp>,
) -> (Diagnosis, pods::Speaking<'a>) {
    let mut troubles: Vec<PodTrouble> = speaking
        .pods
        .iter()
        .filter_map(|pod| crate::engine::readiness::pod_trouble(pod, now))
        .collect();
    troubles.sort_by(|a, b| {
        b.fatal
            .cmp(&a.fatal)
            .then(a.pod.len().cmp(&b.pod.len()))
            .then(a.pod.cmp(&b.pod))
    });
    let diagnosis = Diagnosis {
        focus: speaking.focus.clone(),
        pods: troubles,
        events: Vec::new(),
    };
    (diagnosis, speaking)
}

/// The whole diagnosis of an object not ready: its pods' troubles, then the
/// events that are still true about it, its new ReplicaSet, those pods and
/// the claims they mount.
pub fn diagnose(object: &Value, related: &Related, now: Option<Timestamp>) -> Diagnosis {
    let (mut diagnosis, speaking) = troubles_of(pods::speaking(object, related), now);
    let troubled: Vec<&Value> = speaking
        .pods
        .iter()
        .copied()
        .filter(|pod| diagnosis.pods.iter().any(|t| t.pod == name_of(pod)))
        .collect();
    let claims: Vec<&str> = troubled.iter().flat_map(|pod| claims_of(pod)).collect();
    let mut subjects = vec![events::Subject::of(object)];
    subjects.extend(speaking.replica_set.map(events::Subject::of));
    subjects.extend(troubled.into_iter().map(events::Subject::of_pod));
    subjects.extend(claims.into_iter().map(events::Subject::named));
    diagnosis.events = events::still_true(related.events, &subjects);
    diagnosis
}

/// The readiness with the worst pod trouble folded into its sentence:
/// "0/1 replicas ready; ordinal 0: container db running but not ready for
/// 40s (pod db-0)".
pub fn explain(state: Readiness, diagnosis: &Diagnosis) -> Readiness {
    match (state, diagnosis.pods.first()) {
        (Readiness::Progressing(why), Some(worst)) => {
            Readiness::Progressing(format!("{why}; {}", line(diagnosis, worst)))
        }
        (state, _) => state,
    }
}

impl Diagnosis {
    /// The report's lines: each pod in trouble, then each event.
    pub fn lines(&self) -> Vec<String> {
        let focus = self
            .focus
            .as_ref()
            .map(|f| format!(" ({f})"))
            .unwrap_or_default();
        let pods = self
            .pods
            .iter()
            .map(|p| format!("pod {}{focus}: {}", p.pod, p.message));
        let events = self.events.iter().map(|e| format!("event: {e}"));
        pods.chain(events).collect()
    }
}

/// One pod trouble as the progress line and the report show it.
pub fn line(diagnosis: &Diagnosis, trouble: &PodTrouble) -> String {
    match &diagnosis.focus {
        Some(focus) => format!("{focus}: {} (pod {})", trouble.message, trouble.pod),
        None => format!("{} (pod {})", trouble.message, trouble.pod),
    }
}

/// The claims a pod mounts: their provisioner's events say why it waits.
fn claims_of(pod: &Value) -> impl Iterator<Item = &str> {
    pod["spec"]["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["persistentVolumeClaim"]["claimName"].as_str())
}

fn name_of(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap_or_default()
}

fn uid_of(object: &Value) -> &str {
    object["metadata"]["uid"].as_str().unwrap_or_default()
}

/// Whether `owner_uid` is the object's controller.
fn controlled_by(object: &Value, owner_uid: &str) -> bool {
    object["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|refs| {
            refs.iter()
                .any(|r| r["controller"] == true && r["uid"] == owner_uid)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, owner: &str, ready: bool) -> Value {
        json!({"metadata": {"name": name, "namespace": "ns", "uid": format!("u-{name}"),
                "labels": {"app": "web"},
                "ownerReferences": [{"controller": true, "uid": owner}]},
               "status": {"phase": "Running",
                 "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
                 "containerStatuses": [{"name": "web", "ready": ready, "state": {"running": {}}}]}})
    }

    #[test]
    fn a_deployment_mid_rollout_names_its_new_replica_sets_pod() {
        let deployment = json!({"kind": "Deployment",
            "metadata": {"name": "web", "namespace": "ns", "uid": "d"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}}});
        let rs = |name: &str, revision: &str, replicas: i64| {
            json!({"metadata": {"name": name, "uid": name, "annotations": {"deployment.kubernetes.io/revision": revision},
                    "ownerReferences": [{"controller": true, "uid": "d"}]},
                   "status": {"replicas": replicas}})
        };
        let sets = [rs("web-new", "10", 1), rs("web-old", "9", 1)];
        let pods = [
            pod("web-old-a", "web-old", true),
            pod("web-new-b", "web-new", false),
        ];
        let related = Related {
            pods: &pods,
            replica_sets: &sets,
            events: &[],
        };
        let got = troubles(&deployment, &related, None);
        assert_eq!(got.focus.as_deref(), Some("new ReplicaSet web-new"));
        assert_eq!(got.pods.len(), 1);
        assert_eq!(got.pods[0].pod, "web-new-b");
        let state =
            Readiness::Progressing("waiting for rollout: 1 old replica pending termination".into());
        assert_eq!(
            explain(state, &got).message(),
            "waiting for rollout: 1 old replica pending termination; new ReplicaSet web-new: \
             container web running but not ready (pod web-new-b)"
        );
    }

    #[test]
    fn a_stateful_set_names_the_ordinal_it_is_stuck_on() {
        let set = json!({"kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": "ns", "uid": "s"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}}});
        let pods = [pod("db-0", "s", true), pod("db-1", "s", false)];
        let related = Related {
            pods: &pods,
            ..Related::default()
        };
        let got = troubles(&set, &related, None);
        assert_eq!(got.focus.as_deref(), Some("ordinal 1"));
        assert_eq!(
            got.pods.iter().map(|t| t.pod.as_str()).collect::<Vec<_>>(),
            ["db-1"]
        );
    }
}
