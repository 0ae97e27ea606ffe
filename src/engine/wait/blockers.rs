//! What is stuck and why, for the report at a timeout or failure: each
//! object's last message, its pods' troubles from the live feeds, and the
//! recent Warning events about it or its pods (one list per namespace).

use std::collections::HashMap;

use serde_json::Value;

use super::{Failure, POD_OWNERS, Stuck, Waiter};
use crate::engine::readiness::PodTrouble;

/// Warning events shown per blocker.
const EVENTS_SHOWN: usize = 3;

/// What is stuck and why, for the report at a timeout or failure.
#[derive(Debug, Clone)]
pub struct Blocker {
    pub object: String,
    pub failure: Failure,
    pub message: String,
    pub pods: Vec<PodTrouble>,
    pub events: Vec<String>,
}

impl Waiter {
    /// What each object not ready is waiting for: its last message, its pods'
    /// troubles and recent Warning events about it or its pods.
    pub async fn blockers(&self, stuck: &[Stuck]) -> Vec<Blocker> {
        let mut events_by_ns: HashMap<String, Vec<Value>> = HashMap::new();
        let event_kind = self.cluster.resource("v1", "Event").await.ok().flatten();
        let pod_kind = self.cluster.resource("v1", "Pod").await.ok().flatten();
        let mut out = Vec::new();
        for s in stuck {
            let (resource, namespace, name) = (&s.resource, &s.namespace, &s.name);
            let object = crate::engine::kube::id(resource, namespace.as_deref(), name);
            let mut pods = Vec::new();
            if let (Some(ns), Some(pod_kind)) = (namespace, &pod_kind)
                && POD_OWNERS.contains(&resource.api.kind.as_str())
            {
                let feed = self.feed(resource, Some(ns));
                if let Some(workload) = feed.get(name) {
                    let pod_feed = self.feed(pod_kind, Some(ns));
                    pods = self.troubles(&pod_feed, &workload);
                }
            }
            let mut events = Vec::new();
            if let (Some(ns), Some(event_kind)) = (namespace, &event_kind) {
                if !events_by_ns.contains_key(ns) {
                    let list = self
                        .cluster
                        .list(event_kind, Some(ns), None)
                        .await
                        .unwrap_or_default();
                    events_by_ns.insert(ns.clone(), list);
                }
                let about: Vec<&str> = std::iter::once(name.as_str())
                    .chain(pods.iter().map(|p| p.pod.as_str()))
                    .collect();
                events = warnings(&events_by_ns[ns], &about, name);
            }
            out.push(Blocker {
                object,
                failure: s.failure,
                message: s.message.clone(),
                pods,
                events,
            });
        }
        out
    }
}

/// The last Warning events about `names` (or pods whose names start with the
/// workload's), oldest first, as "Reason: message (xN)".
fn warnings(events: &[Value], names: &[&str], workload: &str) -> Vec<String> {
    let mut picked: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "Warning")
        .filter(|e| {
            let about = e["involvedObject"]["name"].as_str().unwrap_or_default();
            names.contains(&about) || about.starts_with(&format!("{workload}-"))
        })
        .collect();
    let time = |e: &Value| {
        e["lastTimestamp"]
            .as_str()
            .or(e["eventTime"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    picked.sort_by_key(|e| time(e));
    let start = picked.len().saturating_sub(EVENTS_SHOWN);
    picked[start..]
        .iter()
        .map(|e| {
            let count = e["count"].as_u64().unwrap_or(1);
            let times = if count > 1 {
                format!(" (x{count})")
            } else {
                String::new()
            };
            format!(
                "{} {}: {}{times}",
                e["involvedObject"]["name"].as_str().unwrap_or_default(),
                e["reason"].as_str().unwrap_or_default(),
                e["message"].as_str().unwrap_or_default().trim()
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn warnings_pick_the_last_ones_about_the_object_or_its_pods() {
        let e = |name: &str, kind: &str, reason: &str, t: &str| {
            json!({"type": kind, "reason": reason, "message": "m", "lastTimestamp": t,
                   "involvedObject": {"name": name}, "count": 2})
        };
        let events = vec![
            e("web-abc", "Warning", "Failed", "2026-01-01T00:00:03Z"),
            e("web", "Normal", "ScalingReplicaSet", "2026-01-01T00:00:01Z"),
            e("other", "Warning", "Failed", "2026-01-01T00:00:02Z"),
            e(
                "web",
                "Warning",
                "ProgressDeadlineExceeded",
                "2026-01-01T00:00:02Z",
            ),
        ];
        let got = warnings(&events, &["web"], "web");
        assert_eq!(
            got,
            [
                "web ProgressDeadlineExceeded: m (x2)",
                "web-abc Failed: m (x2)"
            ]
        );
    }
}
