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

/// The field managers the operators write under: without a `fieldManager`,
/// the API server names the manager after the client's binary (its user
/// agent), so the cnvrg operator's `/opt/app-root/cnvrg-operator` writes as
/// `cnvrg-operator` (AccessibleAI/cnvrg-operator
/// `charts/cnvrg-operator/templates/operator.yml`) and Cartographer's
/// kubebuilder `/manager` as `manager` (wmeints/cartographer
/// `config/cartographer/operator/manager/manager.yaml`).
pub const OPERATOR_MANAGERS: &[&str] = &["cnvrg-operator", "manager"];

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

/// Where an operator's Secret feeds one of ours: its name (`{ws}` the
/// tenant's name; the same as ours or another) and, per generated key of
/// ours, the operator's key holding the value.
#[derive(Debug, Clone, Copy)]
pub struct SecretSource {
    pub ours: &'static str,
    pub operator: &'static str,
    /// (our key, the operator's key).
    pub keys: &'static [(&'static str, &'static str)],
}

const fn source(
    ours: &'static str,
    operator: &'static str,
    keys: &'static [(&'static str, &'static str)],
) -> SecretSource {
    SecretSource {
        ours,
        operator,
        keys,
    }
}

/// The operators' Secrets whose values ours keep, from the operators'
/// templates (cnvrg operator: `pkg/dbs/tmpl/{redis,es}/secret.tpl`,
/// `secret-object-storage.tpl`; Crunchy PGO's `{cluster}-pguser-{user}`
/// for Cartographer's Postgres). A Secret of the same name whose keys are
/// ours already (`pg-creds`' `POSTGRES_PASSWORD`, `cp-base-secret`) keeps
/// its values by the create-once rule of generated keys.
pub const SECRET_SOURCES: &[SecretSource] = &[
    source(
        "redis-creds",
        "redis-creds",
        &[("REDIS_PASSWORD", "CNVRG_REDIS_PASSWORD")],
    ),
    source(
        "es-creds",
        "es-creds",
        &[("ELASTIC_PASSWORD", "CNVRG_ES_PASS")],
    ),
    source(
        "minio-creds",
        "cp-object-storage",
        &[
            ("MINIO_ROOT_USER", "CNVRG_STORAGE_ACCESS_KEY"),
            ("MINIO_ROOT_PASSWORD", "CNVRG_STORAGE_SECRET_KEY"),
        ],
    ),
    source(
        "{ws}-postgres",
        "{ws}-pguser-prefect",
        &[("password", "password")],
    ),
];

/// The operator Secret feeding our Secret `name` of tenant `tenant`.
pub fn secret_source(name: &str, tenant: &str) -> Option<(String, &'static SecretSource)> {
    SECRET_SOURCES.iter().find_map(|s| {
        (s.ours.replace("{ws}", tenant) == name).then(|| (s.operator.replace("{ws}", tenant), s))
    })
}

/// What our Secret's generated keys are filled from: its live `data` (if
/// any) with each mapped key the live one lacks taken from the operator's
/// Secret (base64 as stored). Values are carried, never shown.
pub fn seed(operator_secret: &Value, source: &SecretSource, live: Option<&Value>) -> Value {
    let mut data = live
        .and_then(|l| l["data"].as_object())
        .cloned()
        .unwrap_or_default();
    for (ours, theirs) in source.keys {
        if let (false, Some(v)) = (
            data.contains_key(*ours),
            operator_secret["data"][*theirs].as_str(),
        ) {
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

/// The claim template names of a StatefulSet, in order: its pods' claims
/// are `{template}-{statefulset}-{ordinal}`.
pub fn claim_templates(statefulset: &Value) -> Vec<String> {
    statefulset["spec"]["volumeClaimTemplates"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["metadata"]["name"].as_str().map(str::to_string))
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

/// How the operators' Deployments are named (the cnvrg operator's chart;
/// kubebuilder's `{project}-controller-manager` for Cartographer).
pub const OPERATOR_DEPLOYMENTS: &[&str] = &["cnvrg-operator", "cartographer"];

/// Whether a Deployment named `name` runs one of the operators.
pub fn operator_deployment(name: &str) -> bool {
    OPERATOR_DEPLOYMENTS.iter().any(|d| name.contains(d))
}

/// The commands removing the operators once cnvrgctl runs the platform:
/// stop them (`deployments`: namespace and name of each found, else a line
/// to find it), delete their resources (`resources`: `plural.group`,
/// namespace or empty, name) without their dependents, then their CRDs.
pub fn way_out(
    deployments: &[(String, String)],
    resources: &[(String, String, String)],
) -> Vec<String> {
    let mut lines: Vec<String> = deployments
        .iter()
        .map(|(ns, name)| format!("kubectl -n {ns} scale deployment {name} --replicas=0"))
        .collect();
    if lines.is_empty() {
        lines.push("kubectl get deployments -A | grep -e cnvrg-operator -e cartographer   # the operator's Deployment, to scale to zero:".into());
        lines.push(
            "kubectl -n OPERATOR_NAMESPACE scale deployment OPERATOR_DEPLOYMENT --replicas=0"
                .into(),
        );
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn owned_by(api_version: &str) -> Value {
        json!({"metadata": {"uid": "u1", "ownerReferences": [
            {"apiVersion": api_version, "kind": "CnvrgApp", "name": "cnvrg-app", "uid": "o1"},
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "o2"}
        ]}})
    }

    #[test]
    fn an_operator_reference_or_manager_claims_an_object() {
        let claim = claim(&owned_by("mlops.cnvrg.io/v1"));
        assert_eq!(claim.owners, vec!["CnvrgApp/cnvrg-app".to_string()]);
        assert!(super::claim(&owned_by("example.com/v1")).is_empty());
        let managed = json!({"metadata": {"managedFields": [
            {"manager": "cnvrg-operator"}, {"manager": "kubectl"}, {"manager": "cnvrg-operator"}
        ]}});
        assert_eq!(super::claim(&managed).managers, vec!["cnvrg-operator"]);
    }

    #[test]
    fn the_release_patch_tests_then_keeps_only_other_owners() {
        let live = owned_by("mlops.aigency.com/v1alpha1");
        let patch = release_patch(&live).unwrap();
        assert_eq!(
            patch[0],
            json!({"op": "test", "path": "/metadata/uid", "value": "u1"})
        );
        assert_eq!(patch[1]["op"], "test");
        assert_eq!(patch[2]["op"], "replace");
        assert_eq!(patch[2]["value"].as_array().unwrap().len(), 1);
        assert_eq!(patch[2]["value"][0]["kind"], "ReplicaSet");
        assert!(release_patch(&owned_by("example.com/v1")).is_none());
        let only = json!({"metadata": {"uid": "u", "ownerReferences": [
            {"apiVersion": "mlops.cnvrg.io/v1", "kind": "CnvrgApp", "name": "a", "uid": "o"}]}});
        assert_eq!(release_patch(&only).unwrap()[2]["op"], "remove");
    }

    #[test]
    fn the_refusal_points_at_import_and_adopt_only_for_operator_objects() {
        let claimed = claim(&owned_by("mlops.cnvrg.io/v1"));
        let text = refusal("Deployment/a/app", &claimed, &[]);
        assert!(text.contains("cnvrgctl import") && text.contains("apply --adopt"));
        let text = refusal("Deployment/a/app", &Claim::default(), &["helm".into()]);
        assert!(text.contains("--force-conflicts") && text.contains("helm"));
        assert!(!text.contains("--adopt"));
    }

    #[test]
    fn seeds_map_the_operators_keys_and_live_values_win() {
        let (name, source) = secret_source("research-postgres", "research").unwrap();
        assert_eq!(name, "research-pguser-prefect");
        let (name, redis) = secret_source("redis-creds", "team-a").unwrap();
        assert_eq!(name, "redis-creds");
        let operator = json!({"data": {"CNVRG_REDIS_PASSWORD": "b3Bz", "REDIS_URL": "eA=="}});
        let seeded = seed(&operator, redis, Some(&operator));
        assert_eq!(seeded["data"]["REDIS_PASSWORD"], "b3Bz");
        assert_eq!(seeded["data"]["REDIS_URL"], "eA==");
        let live = json!({"data": {"password": "bGl2ZQ=="}});
        let seeded = seed(&json!({"data": {"password": "b3Bz"}}), source, Some(&live));
        assert_eq!(seeded["data"]["password"], "bGl2ZQ==");
        assert!(secret_source("pg-creds", "team-a").is_none());
    }

    #[test]
    fn immutable_differences_name_the_fields_and_ignore_defaults() {
        let body = json!({"spec": {"serviceName": "pg", "selector": {"matchLabels": {"a": "1"}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}}], "replicas": 2}});
        let same = json!({"spec": {"serviceName": "pg", "selector": {"matchLabels": {"a": "1"}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "status": {"phase": "Pending"}}],
            "podManagementPolicy": "OrderedReady", "replicas": 1}});
        assert!(immutable_differences(&body, &same).is_empty());
        assert_eq!(claim_templates(&body), vec!["data"]);
        let other = json!({"spec": {"serviceName": "postgres", "selector": {"matchLabels": {"a": "1"}},
            "volumeClaimTemplates": [{"metadata": {"name": "pg-storage"}}]}});
        assert_eq!(
            immutable_differences(&body, &other),
            vec!["serviceName", "volumeClaimTemplates"]
        );
    }

    #[test]
    fn a_changed_pod_template_restarts_pods_and_says_where() {
        let before = json!({"spec": {"template": {"spec": {"containers": [{"image": "a"}]}, "metadata": {"labels": {}}}}});
        let after = json!({"spec": {"template": {"spec": {"containers": [{"image": "b"}]}, "metadata": {"labels": {}}}}});
        let why = restart_reason("Deployment", Some(&before), Some(&after)).unwrap();
        assert_eq!(why, "pod template changes (template.spec.containers)");
        assert!(restart_reason("Deployment", Some(&before), Some(&before)).is_none());
        assert!(restart_reason("Service", Some(&before), Some(&after)).is_none());
    }

    #[test]
    fn the_way_out_scales_then_orphans_then_drops_the_crds() {
        let lines = way_out(
            &[("cnvrg".into(), "cnvrg-operator".into())],
            &[
                (
                    "cnvrgapps.mlops.cnvrg.io".into(),
                    "cnvrg".into(),
                    "cnvrg-app".into(),
                ),
                (
                    "cnvrginfras.mlops.cnvrg.io".into(),
                    String::new(),
                    "infra".into(),
                ),
            ],
        );
        let at = |needle: &str| lines.iter().position(|l| l.contains(needle)).unwrap();
        assert!(
            at("-n cnvrg scale deployment cnvrg-operator --replicas=0")
                < at("cnvrg-app -n cnvrg --cascade=orphan")
        );
        assert!(
            at("cnvrginfras.mlops.cnvrg.io infra --cascade=orphan") < at("delete crd cnvrgapps")
        );
    }
}
