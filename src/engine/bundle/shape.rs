//! What the bundle's files say, from what was read: objects as YAML without
//! server noise and with Secrets reduced to their key names, a summary of
//! each node, events as time-ordered lines, the containers whose logs are
//! worth reading, and the blocker report. Pure: values in, text out; the
//! masking of secret values is the archive's last step, not done here.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::engine::status::ComponentStatus;
use crate::engine::status::NotReady;

/// The annotation `kubectl apply` (client side) keeps a copy of the object in.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// `objects/<namespace or _cluster>/<Kind>.<name>.yaml`.
pub fn object_path(object: &Value) -> String {
    let meta = &object["metadata"];
    format!(
        "objects/{}/{}.{}.yaml",
        meta["namespace"].as_str().unwrap_or("_cluster"),
        object["kind"].as_str().unwrap_or("Unknown"),
        meta["name"].as_str().unwrap_or_default()
    )
}

/// An object as the bundle keeps it: no `managedFields`, no last-applied
/// copy, and a Secret's values replaced by nothing (its keys and `type` stay).
pub fn clean(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(meta) = object["metadata"].as_object_mut() {
        meta.remove("managedFields");
        if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            annotations.remove(LAST_APPLIED);
            if annotations.is_empty() {
                meta.remove("annotations");
            }
        }
    }
    if object["kind"] == "Secret" {
        for field in ["data", "stringData"] {
            if let Some(data) = object.get_mut(field).and_then(Value::as_object_mut) {
                data.values_mut().for_each(|v| *v = json!(""));
            }
        }
    }
    object
}

/// [`clean`] as YAML.
pub fn object_yaml(object: &Value) -> String {
    crate::pipeline::yaml::to_string(&clean(object))
}

/// What matters about a node: capacity, allocatable, conditions, taints,
/// labels and its software (not the list of images it holds).
pub fn node_summary(node: &Value) -> Value {
    let status = &node["status"];
    let conditions: Vec<Value> = status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let mut kept = Map::new();
            for key in ["type", "status", "reason", "message", "lastTransitionTime"] {
                if !c[key].is_null() {
                    kept.insert(key.into(), c[key].clone());
                }
            }
            Value::Object(kept)
        })
        .collect();
    let info = &status["nodeInfo"];
    json!({
        "name": node["metadata"]["name"],
        "labels": node["metadata"]["labels"],
        "unschedulable": node["spec"]["unschedulable"].as_bool().unwrap_or(false),
        "taints": node["spec"]["taints"].as_array().cloned().unwrap_or_default(),
        "capacity": status["capacity"],
        "allocatable": status["allocatable"],
        "conditions": conditions,
        "nodeInfo": {
            "kubeletVersion": info["kubeletVersion"],
            "containerRuntimeVersion": info["containerRuntimeVersion"],
            "osImage": info["osImage"],
            "architecture": info["architecture"],
        },
    })
}

/// When an event last happened: `lastTimestamp`, else `eventTime`, else
/// `firstTimestamp`, else when it was created.
fn event_time(event: &Value) -> Option<Timestamp> {
    ["lastTimestamp", "eventTime", "firstTimestamp"]
        .iter()
        .map(|k| &event[*k])
        .chain(std::iter::once(&event["metadata"]["creationTimestamp"]))
        .find_map(|v| v.as_str()?.parse().ok())
}

/// Events newer than `since` before `now`, oldest first, one line each:
/// time, type, reason, object, message and the count when repeated.
pub fn events_text(events: &[Value], since: Duration, now: Timestamp) -> String {
    let oldest = now.as_second() - i64::try_from(since.as_secs()).unwrap_or(i64::MAX);
    let mut dated: Vec<(Timestamp, &Value)> = events
        .iter()
        .filter_map(|e| Some((event_time(e)?, e)))
        .filter(|(t, _)| t.as_second() >= oldest)
        .collect();
    dated.sort_by_key(|(t, e)| (*t, e["metadata"]["name"].as_str().unwrap_or_default()));
    let mut text = String::new();
    for (time, e) in dated {
        let object = &e["involvedObject"];
        let count = e["count"].as_i64().unwrap_or(1);
        text.push_str(&format!(
            "{time}  {}  {}  {}/{}  {}{}\n",
            e["type"].as_str().unwrap_or("-"),
            e["reason"].as_str().unwrap_or("-"),
            object["kind"].as_str().unwrap_or("-"),
            object["name"].as_str().unwrap_or("-"),
            e["message"].as_str().unwrap_or_default().trim_end(),
            if count > 1 {
                format!(" (x{count})")
            } else {
                String::new()
            },
        ));
    }
    text
}

/// A container whose log the bundle reads, and whether it restarted (so a
/// previous instance's log exists too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogTarget {
    pub container: String,
    pub restarted: bool,
}

/// The containers (init containers too) of `pod` that are not ready or
/// have restarted.
pub fn log_targets(pod: &Value) -> Vec<LogTarget> {
    let status = &pod["status"];
    ["initContainerStatuses", "containerStatuses"]
        .iter()
        .flat_map(|k| status[*k].as_array().into_iter().flatten())
        .filter_map(|c| {
            let restarted = c["restartCount"].as_i64().unwrap_or(0) > 0;
            let done = c["state"]["terminated"]["reason"] == "Completed";
            let ready = c["ready"].as_bool().unwrap_or(false) || done;
            let container = c["name"].as_str()?.to_string();
            (restarted || !ready).then_some(LogTarget {
                container,
                restarted,
            })
        })
        .collect()
}

/// Every component that is not ready with its detail, then every object
/// that is not ready as the timeout report shows it: the pods that speak for
/// it and what they go through now, then the events still true.
pub fn blockers_text(rows: &[ComponentStatus], not_ready: &[NotReady]) -> String {
    let mut text = String::new();
    for row in rows.iter().filter(|r| r.state != "Ready") {
        text.push_str(&format!(
            "{} {}: {}: {}\n",
            row.scope, row.component, row.state, row.detail
        ));
    }
    if text.is_empty() {
        text.push_str("every component is ready\n");
    }
    if !not_ready.is_empty() {
        text.push_str("\nobjects not ready:\n");
    }
    for blocker in not_ready {
        text.push_str(&format!(
            "  {}: {}\n",
            blocker.object,
            blocker.state.message()
        ));
        for line in blocker.found.lines() {
            text.push_str(&format!("    {line}\n"));
        }
    }
    text
}

/// `version.txt`: cnvrgctl's version and the API server's, when it said.
pub fn version_text(server: Option<&Value>) -> String {
    let mut text = format!("cnvrgctl: {}\n", env!("CARGO_PKG_VERSION"));
    match server {
        Some(v) => text.push_str(&format!(
            "server: {} ({})\n",
            v["gitVersion"].as_str().unwrap_or("?"),
            v["platform"].as_str().unwrap_or("?")
        )),
        None => text.push_str("server: unknown (see errors.txt)\n"),
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_keeps_its_keys_and_type_only() {
        let secret = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "namespace": "ws", "managedFields": [{"manager": "cnvrgctl"}],
                         "annotations": {LAST_APPLIED: "{\"data\":{\"password\":\"c2VjcmV0\"}}"}},
            "type": "Opaque",
            "data": {"password": "c2VjcmV0", "user": "YWRtaW4="},
        });
        let cleaned = clean(&secret);
        assert_eq!(
            cleaned,
            json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "db", "namespace": "ws"},
                "type": "Opaque",
                "data": {"password": "", "user": ""},
            })
        );
        assert_eq!(object_path(&secret), "objects/ws/Secret.db.yaml");
        assert_eq!(
            object_path(&json!({"kind": "ClusterRole", "metadata": {"name": "x"}})),
            "objects/_cluster/ClusterRole.x.yaml"
        );
    }

    #[test]
    fn events_are_ordered_and_bounded_in_time() {
        let event = |name: &str, at: &str, count: i64| {
            json!({"metadata": {"name": name}, "type": "Warning", "reason": "BackOff", "message": "back-off",
                   "involvedObject": {"kind": "Pod", "name": "p"}, "lastTimestamp": at, "count": count})
        };
        let now: Timestamp = "2026-12-03T12:00:00Z".parse().unwrap();
        let events = [
            event("b", "2026-12-03T11:59:00Z", 3),
            event("a", "2026-12-03T11:30:00Z", 1),
            event("old", "2026-12-03T10:00:00Z", 1),
        ];
        assert_eq!(
            events_text(&events, Duration::from_secs(3600), now),
            "2026-12-03T11:30:00Z  Warning  BackOff  Pod/p  back-off\n\
             2026-12-03T11:59:00Z  Warning  BackOff  Pod/p  back-off (x3)\n"
        );
    }

    #[test]
    fn logs_are_read_for_containers_not_ready_or_restarted() {
        let pod = json!({"status": {"containerStatuses": [
            {"name": "ok", "ready": true, "restartCount": 0},
            {"name": "flaky", "ready": true, "restartCount": 2},
            {"name": "stuck", "ready": false, "restartCount": 0},
        ], "initContainerStatuses": [
            {"name": "init", "ready": false, "restartCount": 0, "state": {"terminated": {"reason": "Completed"}}},
        ]}});
        let names: Vec<(String, bool)> = log_targets(&pod)
            .into_iter()
            .map(|t| (t.container, t.restarted))
            .collect();
        assert_eq!(
            names,
            [("flaky".to_string(), true), ("stuck".to_string(), false)]
        );
    }
}
