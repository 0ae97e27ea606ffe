//! Which events are still true. An event is about one object by uid: a pod
//! deleted and made again under the same name (a StatefulSet's) is another
//! object, and its predecessor's events say nothing about it. An event about
//! a pod that is older than the pod's last condition change describes a state
//! the pod has left (`FailedScheduling` from before its claim was bound). What
//! is left is deduplicated (the same reason and message, counts added), and
//! the last few are shown, with a readiness probe's failure (`Unhealthy`)
//! always among them when there is one.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{name_of, uid_of};

/// Events shown per object.
const SHOWN: usize = 3;

/// Normal events that say why something waits (the rest of what is shown is
/// Warnings): a claim waiting on its provisioner or its first consumer.
const TELLING_NORMALS: &[&str] = &[
    "ExternalProvisioning",
    "Provisioning",
    "WaitForFirstConsumer",
    "WaitForPodScheduled",
];

/// Events are always quoted when still true: the probe says why a running
/// container is not ready.
const ALWAYS_QUOTED: &[&str] = &["Unhealthy"];

/// An object whose events are wanted, and since when they are still true.
pub(super) struct Subject<'a> {
    uid: &'a str,
    name: &'a str,
    since: Option<&'a str>,
}

impl<'a> Subject<'a> {
    pub fn of(object: &'a Value) -> Subject<'a> {
        Subject {
            uid: uid_of(object),
            name: name_of(object),
            since: None,
        }
    }

    /// An object known only by name (a pod's claim), in the same namespace.
    pub fn named(name: &'a str) -> Subject<'a> {
        Subject {
            uid: "",
            name,
            since: None,
        }
    }

    /// A pod: events since its last condition change.
    pub fn of_pod(pod: &'a Value) -> Subject<'a> {
        let since = pod["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["lastTransitionTime"].as_str())
            .max();
        Subject {
            since,
            ..Subject::of(pod)
        }
    }

    fn about(&self, event: &Value) -> bool {
        let involved = &event["involvedObject"];
        let same = match involved["uid"].as_str() {
            Some(uid) if !uid.is_empty() && !self.uid.is_empty() => uid == self.uid,
            _ => involved["name"].as_str() == Some(self.name),
        };
        same && self.since.is_none_or(|since| last_seen(event) >= since)
    }
}

/// When the event was last seen (RFC 3339; seconds compare as text).
fn last_seen(event: &Value) -> &str {
    ["lastTimestamp", "eventTime", "firstTimestamp"]
        .iter()
        .find_map(|field| event[field].as_str())
        .or_else(|| event["series"]["lastObservedTime"].as_str())
        .unwrap_or_default()
}

/// The events about `subjects` that are still true, deduplicated, oldest
/// first, as "name Reason: message (xN)".
pub(super) fn still_true(events: &[Value], subjects: &[Subject]) -> Vec<String> {
    // (name, reason, message) → (count, last seen)
    let mut merged: BTreeMap<(&str, &str, &str), (u64, &str)> = BTreeMap::new();
    for event in events {
        let reason = event["reason"].as_str().unwrap_or_default();
        let telling = event["type"] == "Warning" || TELLING_NORMALS.contains(&reason);
        if !telling || !subjects.iter().any(|s| s.about(event)) {
            continue;
        }
        let key = (
            event["involvedObject"]["name"].as_str().unwrap_or_default(),
            reason,
            event["message"].as_str().unwrap_or_default().trim(),
        );
        let count = event["count"]
            .as_u64()
            .or_else(|| event["series"]["count"].as_u64())
            .unwrap_or(1);
        let entry = merged.entry(key).or_insert((0, ""));
        entry.0 += count;
        entry.1 = entry.1.max(last_seen(event));
    }
    let mut picked: Vec<_> = merged.into_iter().collect();
    picked.sort_by(|a, b| a.1.1.cmp(b.1.1));
    let quoted = picked
        .iter()
        .rposition(|((_, reason, _), _)| ALWAYS_QUOTED.contains(reason));
    let start = picked.len().saturating_sub(SHOWN);
    picked
        .iter()
        .enumerate()
        .filter(|(i, _)| *i >= start || Some(*i) == quoted)
        .map(|(_, ((name, reason, message), (count, _)))| {
            let times = if *count > 1 {
                format!(" (x{count})")
            } else {
                String::new()
            };
            format!("{name} {reason}: {message}{times}")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(name: &str, uid: &str, kind: &str, reason: &str, message: &str, at: &str) -> Value {
        json!({"type": kind, "reason": reason, "message": message, "count": 1,
               "lastTimestamp": at, "involvedObject": {"name": name, "uid": uid}})
    }

    fn pod(uid: &str, changed: &str) -> Value {
        json!({"metadata": {"name": "db-0", "uid": uid},
               "status": {"conditions": [
                   {"type": "PodScheduled", "status": "True", "lastTransitionTime": changed},
                   {"type": "Ready", "status": "False", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}})
    }

    #[test]
    fn events_from_before_the_pods_last_change_are_history() {
        let pod = pod("u-2", "2026-01-01T00:01:00Z");
        let events = vec![
            event(
                "db-0",
                "u-2",
                "Warning",
                "FailedScheduling",
                "pod has unbound immediate PersistentVolumeClaims",
                "2026-01-01T00:00:30Z",
            ),
            event(
                "db-0",
                "u-2",
                "Warning",
                "Unhealthy",
                "Readiness probe failed: 503",
                "2026-01-01T00:02:00Z",
            ),
        ];
        let got = still_true(&events, &[Subject::of_pod(&pod)]);
        assert_eq!(got, ["db-0 Unhealthy: Readiness probe failed: 503"]);
    }

    #[test]
    fn events_about_an_earlier_pod_of_the_same_name_are_not_about_this_one() {
        let pod = pod("u-2", "2026-01-01T00:01:00Z");
        let events = vec![
            event(
                "db-0",
                "u-1",
                "Warning",
                "BackOff",
                "Back-off restarting failed container",
                "2026-01-01T00:05:00Z",
            ),
            event(
                "db-0",
                "u-2",
                "Warning",
                "Unhealthy",
                "Readiness probe failed: 503",
                "2026-01-01T00:02:00Z",
            ),
        ];
        let got = still_true(&events, &[Subject::of_pod(&pod)]);
        assert_eq!(got, ["db-0 Unhealthy: Readiness probe failed: 503"]);
    }

    #[test]
    fn repeats_are_merged_with_their_counts_and_the_probe_is_always_quoted() {
        let web = json!({"metadata": {"name": "web", "uid": "w"}});
        let mut events = vec![event(
            "web",
            "w",
            "Warning",
            "Unhealthy",
            "Readiness probe failed",
            "2026-01-01T00:00:01Z",
        )];
        for (i, reason) in ["A", "B", "C", "A"].iter().enumerate() {
            events.push(event(
                "web",
                "w",
                "Warning",
                reason,
                "m",
                &format!("2026-01-01T00:00:1{i}Z"),
            ));
        }
        events.push(event(
            "web",
            "w",
            "Normal",
            "Pulled",
            "pulled",
            "2026-01-01T00:00:30Z",
        ));
        let got = still_true(&events, &[Subject::of(&web)]);
        assert_eq!(
            got,
            [
                "web Unhealthy: Readiness probe failed",
                "web B: m",
                "web C: m",
                "web A: m (x2)"
            ]
        );
    }

    #[test]
    fn a_claim_names_its_provisioner_from_a_normal_event() {
        let claim = json!({"metadata": {"name": "data", "uid": "c"}});
        let events = vec![event(
            "data",
            "c",
            "Normal",
            "ExternalProvisioning",
            "Waiting for a volume to be created by the external provisioner \"ebs.csi.aws.com\"",
            "2026-01-01T00:00:01Z",
        )];
        let got = still_true(&events, &[Subject::of(&claim)]);
        assert_eq!(got.len(), 1);
        assert!(got[0].contains("ebs.csi.aws.com"), "{got:?}");
    }
}
