//! Pods: the readiness of a pod waited on directly and whether a workload's
//! selector picks a pod. What a pod not ready is going through is
//! [`trouble`]'s.

mod trouble;

use serde_json::{Map, Value};

use super::{Facts, Readiness, at, condition, str_at};

pub use trouble::{PodTrouble, pod_trouble};

/// Readiness of a pod waited on directly (not through a workload): Ready once
/// Succeeded or its `Ready` condition is True, Failed when its phase is Failed,
/// otherwise Progressing with its trouble (the caller applies the grace period)
/// or with what it is waiting for.
pub(super) fn pod(object: &Value, _: &Facts) -> Readiness {
    let phase = str_at(object, &["status", "phase"]).unwrap_or("Pending");
    if phase == "Succeeded" || condition(object, "Ready").is_some_and(|c| c.is_true()) {
        return Readiness::Ready;
    }
    let trouble = pod_trouble(object, None);
    if phase == "Failed" {
        return Readiness::Failed(match trouble {
            Some(trouble) => format!("pod failed: {}", trouble.message),
            None => "pod failed".to_owned(),
        });
    }
    if let Some(trouble) = trouble {
        return Readiness::Progressing(trouble.message);
    }
    let not_ready: Vec<&str> = at(object, &["status", "containerStatuses"])
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|status| status.get("ready").and_then(Value::as_bool) != Some(true))
        .filter_map(|status| str_at(status, &["name"]))
        .collect();
    if phase == "Running" && !not_ready.is_empty() {
        return Readiness::Progressing(format!(
            "waiting for containers to become ready: {}",
            not_ready.join(", ")
        ));
    }
    Readiness::Progressing(format!("pod is {phase}"))
}

/// Whether the workload's `spec.selector` picks the pod: same namespace, every
/// `matchLabels` entry present, every `matchExpressions` entry (In, NotIn,
/// Exists, DoesNotExist) satisfied. A missing or empty selector picks nothing:
/// the API rejects empty selectors on workloads, and matching every pod in the
/// namespace would pin other workloads' troubles on this one.
pub fn selects(workload: &Value, pod: &Value) -> bool {
    if str_at(workload, &["metadata", "namespace"]) != str_at(pod, &["metadata", "namespace"]) {
        return false;
    }
    let Some(selector) = at(workload, &["spec", "selector"]).and_then(Value::as_object) else {
        return false;
    };
    let empty = Map::new();
    let labels = at(pod, &["metadata", "labels"])
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let match_labels = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let expressions = selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if match_labels.is_empty() && expressions.is_empty() {
        return false;
    }
    match_labels
        .iter()
        .all(|(key, value)| labels.get(key) == Some(value))
        && expressions
            .iter()
            .all(|expression| matches_expression(expression, labels))
}

fn matches_expression(expression: &Value, labels: &Map<String, Value>) -> bool {
    let key = str_at(expression, &["key"]).unwrap_or_default();
    let value = labels.get(key).and_then(Value::as_str);
    let values = super::strings_at(expression, &["values"]);
    match str_at(expression, &["operator"]).unwrap_or_default() {
        "In" => value.is_some_and(|value| values.contains(&value)),
        "NotIn" => value.is_none_or(|value| !values.contains(&value)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    fn pod(labels: &str) -> Value {
        fixture(&format!(
            "{{apiVersion: v1, kind: Pod, metadata: {{name: p, namespace: cnvrg, labels: {labels}}}}}"
        ))
    }

    #[test]
    fn selector_with_match_labels() {
        let deployment = fixture(
            "{apiVersion: apps/v1, kind: Deployment, metadata: {name: web, namespace: cnvrg}, spec: {selector: {matchLabels: {app: web}}}}",
        );
        assert!(selects(
            &deployment,
            &pod("{app: web, pod-template-hash: 5d9c}")
        ));
        assert!(!selects(&deployment, &pod("{app: api}")));
        let elsewhere = fixture(
            "{apiVersion: v1, kind: Pod, metadata: {name: p, namespace: other, labels: {app: web}}}",
        );
        assert!(!selects(&deployment, &elsewhere));
    }

    #[test]
    fn selector_with_match_expressions() {
        let workload = fixture(
            "
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: cnvrg}
spec:
  selector:
    matchLabels: {app: db}
    matchExpressions:
    - {key: tier, operator: In, values: [primary, replica]}
    - {key: canary, operator: NotIn, values: ['true']}
    - {key: tenant, operator: Exists}
    - {key: debug, operator: DoesNotExist}
",
        );
        assert!(selects(
            &workload,
            &pod("{app: db, tier: primary, tenant: acme}")
        ));
        assert!(selects(
            &workload,
            &pod("{app: db, tier: replica, tenant: acme, canary: 'false'}")
        ));
        assert!(!selects(
            &workload,
            &pod("{app: db, tier: backup, tenant: acme}")
        ));
        assert!(!selects(
            &workload,
            &pod("{app: db, tier: primary, tenant: acme, canary: 'true'}")
        ));
        assert!(!selects(&workload, &pod("{app: db, tier: primary}")));
        assert!(!selects(
            &workload,
            &pod("{app: db, tier: primary, tenant: acme, debug: '1'}")
        ));
    }

    #[test]
    fn empty_selector_selects_nothing() {
        let workload = fixture(
            "{apiVersion: apps/v1, kind: Deployment, metadata: {name: w, namespace: cnvrg}, spec: {selector: {}}}",
        );
        assert!(!selects(&workload, &pod("{app: web}")));
    }
}
