//! Which nodes a pod may land on, before its size is counted: the node must
//! take pods at all (Ready, not cordoned), match the pod's `nodeSelector` and
//! required node affinity (`In`, `NotIn`, `Exists`, `DoesNotExist`, `Gt`,
//! `Lt`; `matchFields` on `metadata.name`), and carry no `NoSchedule` or
//! `NoExecute` taint the pod does not tolerate (`PreferNoSchedule` is only a
//! preference). Each refusal is a phrase naming the node's reason, for the
//! row. Pure.

use std::collections::BTreeMap;

use serde_json::Value;

use super::amounts::Amounts;

/// A node as the capacity check sees it.
#[derive(Debug, Clone)]
pub(super) struct Node {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    /// Why it takes no pods (`is cordoned`, `is not Ready`), if it does not.
    pub closed: Option<&'static str>,
    /// `status.allocatable` minus the requests of the pods bound to it.
    pub free: Amounts,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Taint {
    pub key: String,
    pub value: String,
    pub effect: String,
}

impl Node {
    /// A node object with the requests of the pods already on it.
    pub(super) fn from_object(node: &Value, used: &Amounts) -> Node {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let ready = node["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Ready" && c["status"] == "True");
        let closed = if node["spec"]["unschedulable"] == true {
            Some("is cordoned (spec.unschedulable)")
        } else if !ready {
            Some("is not Ready")
        } else {
            None
        };
        Node {
            name: text(&node["metadata"]["name"]),
            labels: node["metadata"]["labels"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), text(v)))
                .collect(),
            taints: node["spec"]["taints"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| Taint {
                    key: text(&t["key"]),
                    value: text(&t["value"]),
                    effect: text(&t["effect"]),
                })
                .collect(),
            closed,
            free: Amounts::parse(&node["status"]["allocatable"]).minus(used),
        }
    }

    /// Why a pod with `pod_spec` cannot be placed here, whatever its size.
    pub(super) fn refuses(&self, pod_spec: &Value) -> Option<String> {
        if let Some(closed) = self.closed {
            return Some(closed.to_owned());
        }
        for (key, want) in pod_spec["nodeSelector"].as_object().into_iter().flatten() {
            let want = want.as_str().unwrap_or_default();
            if self.labels.get(key).map(String::as_str) != Some(want) {
                return Some(format!("does not match nodeSelector {key}={want}"));
            }
        }
        let required =
            &pod_spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"];
        if let Some(terms) = required["nodeSelectorTerms"].as_array()
            && !terms.iter().any(|term| self.matches(term))
        {
            return Some("does not match the pod's required node affinity".to_owned());
        }
        let tolerations = pod_spec["tolerations"].as_array();
        self.taints
            .iter()
            .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
            .find(|t| {
                !tolerations
                    .into_iter()
                    .flatten()
                    .any(|tol| tolerates(tol, t))
            })
            .map(|t| format!("is tainted {}={}:{}", t.key, t.value, t.effect))
    }

    /// One node selector term: every expression and field holds (an empty
    /// term matches nothing, as the scheduler has it).
    fn matches(&self, term: &Value) -> bool {
        let expressions = term["matchExpressions"].as_array();
        let fields = term["matchFields"].as_array();
        if expressions.is_none_or(Vec::is_empty) && fields.is_none_or(Vec::is_empty) {
            return false;
        }
        let name = Some(self.name.as_str());
        expressions.into_iter().flatten().all(|e| {
            holds(
                e,
                self.labels
                    .get(e["key"].as_str().unwrap_or_default())
                    .map(String::as_str),
            )
        }) && fields
            .into_iter()
            .flatten()
            .all(|e| holds(e, name.filter(|_| e["key"] == "metadata.name")))
    }
}

/// One node selector requirement against the node's value for its key.
fn holds(requirement: &Value, value: Option<&str>) -> bool {
    let values: Vec<&str> = requirement["values"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let number = |text: &str| text.parse::<i64>().ok();
    let compare = |pick: fn(i64, i64) -> bool| match (
        value.and_then(number),
        values.first().and_then(|v| number(v)),
    ) {
        (Some(have), Some(bound)) => pick(have, bound),
        _ => false,
    };
    match requirement["operator"].as_str().unwrap_or_default() {
        "In" => value.is_some_and(|v| values.contains(&v)),
        "NotIn" => value.is_none_or(|v| !values.contains(&v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" => compare(|have, bound| have > bound),
        "Lt" => compare(|have, bound| have < bound),
        _ => false,
    }
}

/// Whether a toleration tolerates a taint (`Exists` with no key tolerates
/// every taint; no effect tolerates every effect).
fn tolerates(toleration: &Value, taint: &Taint) -> bool {
    let key = toleration["key"].as_str().unwrap_or_default();
    let effect = toleration["effect"].as_str().unwrap_or_default();
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    match toleration["operator"].as_str().unwrap_or("Equal") {
        "Exists" => key.is_empty() || key == taint.key,
        _ => key == taint.key && toleration["value"].as_str().unwrap_or_default() == taint.value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(labels: Value, taints: Value) -> Node {
        Node::from_object(
            &json!({
                "metadata": {"name": "node-1", "labels": labels},
                "spec": {"taints": taints},
                "status": {"allocatable": {"cpu": "4"}, "conditions": [{"type": "Ready", "status": "True"}]},
            }),
            &Amounts::default(),
        )
    }

    #[test]
    fn taints_keep_out_pods_that_do_not_tolerate_them() {
        let n = node(
            json!({}),
            json!([{"key": "gpu", "value": "true", "effect": "NoSchedule"},
                   {"key": "spot", "effect": "PreferNoSchedule"}]),
        );
        assert_eq!(
            n.refuses(&json!({})).as_deref(),
            Some("is tainted gpu=true:NoSchedule")
        );
        for toleration in [
            json!({"key": "gpu", "value": "true"}),
            json!({"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}),
            json!({"operator": "Exists"}),
        ] {
            assert_eq!(n.refuses(&json!({"tolerations": [toleration]})), None);
        }
        let wrong = json!({"tolerations": [{"key": "gpu", "value": "false"}]});
        assert!(n.refuses(&wrong).is_some());
        let wrong_effect =
            json!({"tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoExecute"}]});
        assert!(n.refuses(&wrong_effect).is_some());
    }

    #[test]
    fn node_selector_and_required_affinity_pick_nodes() {
        let n = node(
            json!({"pool": "gpu", "zone": "a", "cores": "16"}),
            json!([]),
        );
        assert_eq!(n.refuses(&json!({"nodeSelector": {"pool": "gpu"}})), None);
        assert_eq!(
            n.refuses(&json!({"nodeSelector": {"pool": "cpu"}}))
                .as_deref(),
            Some("does not match nodeSelector pool=cpu")
        );
        let affinity = |term: Value| {
            json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
                {"nodeSelectorTerms": [term]}}}})
        };
        let expr = |key: &str, op: &str, values: Value| {
            affinity(json!({"matchExpressions": [{"key": key, "operator": op, "values": values}]}))
        };
        for (pod, fits) in [
            (expr("zone", "In", json!(["a", "b"])), true),
            (expr("zone", "In", json!(["b"])), false),
            (expr("zone", "NotIn", json!(["b"])), true),
            (expr("zone", "NotIn", json!(["a"])), false),
            (expr("gpu", "NotIn", json!(["x"])), true),
            (expr("zone", "Exists", json!(null)), true),
            (expr("spot", "Exists", json!(null)), false),
            (expr("spot", "DoesNotExist", json!(null)), true),
            (expr("cores", "Gt", json!(["8"])), true),
            (expr("cores", "Lt", json!(["8"])), false),
            (
                affinity(
                    json!({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-1"]}]}),
                ),
                true,
            ),
            (affinity(json!({})), false),
        ] {
            assert_eq!(n.refuses(&pod).is_none(), fits, "{pod}");
        }
    }

    #[test]
    fn cordoned_and_unready_nodes_take_nothing() {
        let cordoned = Node::from_object(
            &json!({"metadata": {"name": "n"}, "spec": {"unschedulable": true},
                    "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
            &Amounts::default(),
        );
        assert_eq!(
            cordoned.refuses(&json!({})).as_deref(),
            Some("is cordoned (spec.unschedulable)")
        );
        let unready = Node::from_object(
            &json!({"metadata": {"name": "n"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}),
            &Amounts::default(),
        );
        assert_eq!(unready.refuses(&json!({})).as_deref(), Some("is not Ready"));
    }
}
