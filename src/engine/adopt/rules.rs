//! The pure half of adoption: which live objects the operators made (an
//! ownerReference to one of their custom resources, or one of their field
//! managers), the JSON patch that frees an object from them, the refusal
//! without `--adopt`, the Secrets whose values come from an operator Secret
//! of another name, a StatefulSet's immutable fields that differ, the pods a
//! change restarts, and the commands that remove an operator. Values in,
//! values out.

use serde_json::{Value, json};

/// The API groups of the operators' custom resources.
pub const OPERATOR_GROUPS: &[&str] = &["mlops.cnvrg.io", "mlops.aigency.com"];

/// The field managers the operators write under (controller-runtime names
/// the manager after the binary: `cnvrg-operator`, kubebuilder's `manager`).
pub const OPERATOR_MANAGERS: &[&str] = &["cnvrg-operator", "cartographer", "manager"];

/// A live object's ties to the operators.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Claim {
    /// `Kind/name` of each owner among the operators' resources.
    pub owners: Vec<String>,
    /// The operators' field managers of the object.
    pub managers: Vec<String>,
}

impl Claim {
    pub fn is_empty(&self) -> bool {
        self.owners.is_empty() && self.managers.is_empty()
    }

    /// `owned by CnvrgApp/cnvrg-app; field manager cnvrg-operator`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.owners.is_empty() {
            parts.push(format!("owned by {}", self.owners.join(", ")));
        }
        if !self.managers.is_empty() {
            parts.push(format!("field manager {}", self.managers.join(", ")));
        }
        parts.join("; ")
    }
}

/// Whether an ownerReference points at one of the operators' resources.
pub fn operator_reference(reference: &Value) -> bool {
    let group = reference["apiVersion"]
        .as_str()
        .and_then(|av| av.split_once('/'))
        .map(|(g, _)| g)
        .unwrap_or_default();
    OPERATOR_GROUPS.contains(&group)
}

/// What ties `live` to the operators (empty: nothing does).
pub fn claim(live: &Value) -> Claim {
    let owners = references(live)
        .iter()
        .filter(|r| operator_reference(r))
        .map(|r| {
            format!(
                "{}/{}",
                r["kind"].as_str().unwrap_or("?"),
                r["name"].as_str().unwrap_or("?")
            )
        })
        .collect();
    let mut managers: Vec<String> = live["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["manager"].as_str())
        .filter(|m| OPERATOR_MANAGERS.contains(m))
        .map(str::to_string)
        .collect();
    managers.sort();
    managers.dedup();
    Claim { owners, managers }
}

fn references(live: &Value) -> Vec<Value> {
    live["metadata"]["ownerReferences"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The JSON patch removing every ownerReference to the operators from
/// `live`, or `None` when it has none. It tests the uid and the references
/// as read first, so a concurrent change makes the server refuse it.
pub fn release_patch(live: &Value) -> Option<Value> {
    let all = references(live);
    let kept: Vec<Value> = all
        .iter()
        .filter(|r| !operator_reference(r))
        .cloned()
        .collect();
    if kept.len() == all.len() {
        return None;
    }
    let uid = live["metadata"]["uid"].clone();
    let change = if kept.is_empty() {
        json!({"op": "remove", "path": "/metadata/ownerReferences"})
    } else {
        json!({"op": "replace", "path": "/metadata/ownerReferences", "value": kept})
    };
    Some(json!([
        {"op": "test", "path": "/metadata/uid", "value": uid},
        {"op": "test", "path": "/metadata/ownerReferences", "value": all},
        change
    ]))
}

/// Why a live object cnvrgctl does not manage is not applied: with the
/// operators' ties, how to adopt it; without, the general refusal.
pub fn refusal(id: &str, claim: &Claim, other_managers: &[String]) -> String {
    if !claim.is_empty() {
        return format!(
            "{id} exists and was made by an operator ({}); run `cnvrgctl import` for the spec, then `cnvrgctl apply --adopt` to take it over (`cnvrgctl diff --adopt` shows what changes)",
            claim.describe()
        );
    }
    format!(
        "{id} exists and is not managed by cnvrgctl{}; delete it, disable the component, or pass --force-conflicts to take it over",
        if other_managers.is_empty() {
            String::new()
        } else {
            format!(" (field managers: {})", other_managers.join(", "))
        }
    )
}

/// Where an operator Secret of another name feeds one of ours: its name
/// (`{ws}` the tenant's name) and, per key of ours, the operator's key.
#[derive(Debug, Clone, Copy)]
pub struct SecretSource {
    pub component: &'static str,
    pub ours: &'static str,
    pub operator: &'static str,
    /// (our key, the operator's key).
    pub keys: &'static [(&'static str, &'static str)],
}

/// The operators' Secrets whose values ours take over (the cnvrg operator's
/// `secret-object-storage.tpl`; Crunchy PGO's pguser Secret for
/// Cartographer's Postgres). Secrets of the same name keep their values by
/// the create-once rule of generated keys.
pub const SECRET_SOURCES: &[SecretSource] = &[
    SecretSource {
        component: "minio",
        ours: "minio-creds",
        operator: "cp-object-storage",
        keys: &[
            ("MINIO_ROOT_USER", "CNVRG_STORAGE_ACCESS_KEY"),
            ("MINIO_ROOT_PASSWORD", "CNVRG_STORAGE_SECRET_KEY"),
        ],
    },
    SecretSource {
        component: "postgres",
        ours: "{ws}-postgres",
        operator: "{ws}-pguser-prefect",
        keys: &[("password", "password")],
    },
];

/// The operator Secret feeding our Secret `name` of tenant `tenant`.
pub fn secret_source(name: &str, tenant: &str) -> Option<(String, &'static SecretSource)> {
    SECRET_SOURCES.iter().find_map(|s| {
        (s.ours.replace("{ws}", tenant) == name).then(|| (s.operator.replace("{ws}", tenant), s))
    })
}

/// The operator's Secret re-keyed as ours (its `data`, base64 as stored),
/// to seed our generated keys: only the mapped keys are carried.
pub fn seed(operator_secret: &Value, source: &SecretSource) -> Value {
    let mut data = serde_json::Map::new();
    for (ours, theirs) in source.keys {
        if let Some(v) = operator_secret["data"][*theirs].as_str() {
            data.insert((*ours).to_string(), v.into());
        }
    }
    json!({"data": data})
}

/// A StatefulSet's fields the API server refuses to change.
pub const STATEFULSET_IMMUTABLE: &[&str] = &[
    "selector",
    "serviceName",
    "volumeClaimTemplates",
    "podManagementPolicy",
    "revisionHistoryLimit",
];

/// The immutable fields of a StatefulSet whose rendered value is not what
/// is live (a value the body sets that the live spec lacks or holds
/// otherwise).
pub fn immutable_differences(body: &Value, live: &Value) -> Vec<&'static str> {
    STATEFULSET_IMMUTABLE
        .iter()
        .copied()
        .filter(|f| {
            let wanted = &body["spec"][*f];
            !wanted.is_null() && !within(wanted, &live["spec"][*f])
        })
        .collect()
}

/// Whether every value `part` sets is in `whole` (lists by position).
fn within(part: &Value, whole: &Value) -> bool {
    match (part, whole) {
        (Value::Object(p), Value::Object(w)) => p
            .iter()
            .all(|(k, v)| w.get(k).is_some_and(|wv| within(v, wv))),
        (Value::Array(p), Value::Array(w)) => {
            p.len() == w.len() && p.iter().zip(w).all(|(a, b)| within(a, b))
        }
        _ => part == whole,
    }
}

/// The kinds whose pods roll when their pod template changes.
pub const ROLLING_KINDS: &[&str] = &["Deployment", "StatefulSet", "DaemonSet"];

/// Why the pods of a workload will restart (`before` live, `after` what
/// applying makes it): its pod template changes. `None`: they stay.
pub fn restart_reason(kind: &str, before: Option<&Value>, after: Option<&Value>) -> Option<String> {
    let (before, after) = (before?, after?);
    if !ROLLING_KINDS.contains(&kind) {
        return None;
    }
    let (b, a) = (&before["spec"]["template"], &after["spec"]["template"]);
    if b == a {
        return None;
    }
    let mut parts: Vec<String> = Vec::new();
    for field in ["metadata", "spec"] {
        if let (Some(bo), Some(ao)) = (b[field].as_object(), a[field].as_object()) {
            let mut keys: Vec<&String> = bo.keys().chain(ao.keys()).collect();
            keys.sort();
            keys.dedup();
            parts.extend(
                keys.into_iter()
                    .filter(|k| bo.get(*k) != ao.get(*k))
                    .map(|k| format!("template.{field}.{k}")),
            );
        }
    }
    Some(format!("pod template changes ({})", parts.join(", ")))
}

/// The commands removing an operator once cnvrgctl runs the platform:
/// stop it, delete its resources without their dependents, then its CRDs.
pub fn way_out(resources: &[(String, String, String)]) -> Vec<String> {
    // (kind with group, namespace, name) of each operator custom resource.
    let mut lines = vec![
        "kubectl get deployments -A -l control-plane=controller-manager   # find the operator's Deployment".to_string(),
        "kubectl -n OPERATOR_NAMESPACE scale deployment OPERATOR_DEPLOYMENT --replicas=0".to_string(),
    ];
    for (kind, ns, name) in resources {
        let namespaced = if ns.is_empty() {
            String::new()
        } else {
            format!(" -n {ns}")
        };
        lines.push(format!(
            "kubectl delete {kind} {name}{namespaced} --cascade=orphan"
        ));
    }
    let mut crds: Vec<&str> = resources.iter().map(|(k, _, _)| k.as_str()).collect();
    crds.sort();
    crds.dedup();
    for kind in crds {
        lines.push(format!("kubectl delete crd {kind}"));
    }
    lines
}
