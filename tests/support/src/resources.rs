//! Which resources the server serves: the built-in table (rules as data), the
//! kinds CRDs add at run time, and the discovery documents built from both. A
//! CRD's kinds are routable and discoverable only once `visible_at` has passed,
//! which the controller sets after `Established` plus the discovery lag. This
//! module knows nothing about stored objects.

use std::time::Instant;

use serde_json::{Value, json};

/// One resource type at one group-version.
#[derive(Debug, Clone)]
pub struct ResourceDef {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    /// Has a `/status` subresource (writes to the main resource ignore `.status`).
    pub status: bool,
    pub short_names: Vec<String>,
    /// Extra subresources listed in discovery, with their verbs.
    pub extra: Vec<(&'static str, &'static [&'static str])>,
    /// `None` for built-ins; for CRD kinds, when they become servable.
    pub visible_at: Option<Instant>,
    /// Name of the CRD that registered it.
    pub crd: Option<String>,
}

impl ResourceDef {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn visible(&self, now: Instant) -> bool {
        match (&self.crd, self.visible_at) {
            (None, _) => true,
            (Some(_), Some(t)) => now >= t,
            (Some(_), None) => false,
        }
    }

    /// The storage key: group and plural (all versions share storage).
    pub fn gr(&self) -> (String, String) {
        (self.group.clone(), self.plural.clone())
    }
}

const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const STATUS_VERBS: &[&str] = &["get", "patch", "update"];

/// group, version, kind, plural, namespaced, status subresource, short names.
type Row = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    bool,
    &'static [&'static str],
);

const BUILTINS: &[Row] = &[
    ("", "v1", "Namespace", "namespaces", false, true, &["ns"]),
    ("", "v1", "Service", "services", true, true, &["svc"]),
    (
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        true,
        false,
        &["sa"],
    ),
    ("", "v1", "Secret", "secrets", true, false, &[]),
    ("", "v1", "ConfigMap", "configmaps", true, false, &["cm"]),
    (
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        true,
        true,
        &["pvc"],
    ),
    (
        "",
        "v1",
        "PersistentVolume",
        "persistentvolumes",
        false,
        true,
        &["pv"],
    ),
    ("", "v1", "Pod", "pods", true, true, &["po"]),
    ("", "v1", "Event", "events", true, false, &["ev"]),
    ("", "v1", "Node", "nodes", false, true, &["no"]),
    (
        "",
        "v1",
        "ResourceQuota",
        "resourcequotas",
        true,
        true,
        &["quota"],
    ),
    (
        "",
        "v1",
        "LimitRange",
        "limitranges",
        true,
        false,
        &["limits"],
    ),
    ("", "v1", "Endpoints", "endpoints", true, false, &["ep"]),
    (
        "apps",
        "v1",
        "Deployment",
        "deployments",
        true,
        true,
        &["deploy"],
    ),
    (
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        true,
        true,
        &["sts"],
    ),
    ("apps", "v1", "DaemonSet", "daemonsets", true, true, &["ds"]),
    (
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        true,
        true,
        &["rs"],
    ),
    ("batch", "v1", "Job", "jobs", true, true, &[]),
    ("batch", "v1", "CronJob", "cronjobs", true, true, &["cj"]),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "Role",
        "roles",
        true,
        false,
        &[],
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        true,
        false,
        &[],
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        false,
        false,
        &[],
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
        false,
        &[],
    ),
    (
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        true,
        true,
        &["ing"],
    ),
    (
        "networking.k8s.io",
        "v1",
        "IngressClass",
        "ingressclasses",
        false,
        false,
        &[],
    ),
    (
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        true,
        false,
        &["netpol"],
    ),
    (
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        true,
        true,
        &["pdb"],
    ),
    (
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        true,
        true,
        &["hpa"],
    ),
    (
        "storage.k8s.io",
        "v1",
        "StorageClass",
        "storageclasses",
        false,
        false,
        &["sc"],
    ),
    (
        "scheduling.k8s.io",
        "v1",
        "PriorityClass",
        "priorityclasses",
        false,
        false,
        &["pc"],
    ),
    (
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
        true,
        &["crd", "crds"],
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        false,
        false,
        &[],
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        false,
        false,
        &[],
    ),
    (
        "apiregistration.k8s.io",
        "v1",
        "APIService",
        "apiservices",
        false,
        true,
        &[],
    ),
    (
        "events.k8s.io",
        "v1",
        "Event",
        "events",
        true,
        false,
        &["ev"],
    ),
    (
        "coordination.k8s.io",
        "v1",
        "Lease",
        "leases",
        true,
        false,
        &[],
    ),
    (
        crate::access::GROUP,
        "v1",
        "SelfSubjectAccessReview",
        crate::access::PLURAL,
        false,
        false,
        &[],
    ),
];

/// Built-in plus CRD-registered resources.
#[derive(Debug)]
pub struct Registry {
    pub defs: Vec<ResourceDef>,
}

impl Registry {
    pub fn builtin() -> Registry {
        let defs = BUILTINS
            .iter()
            .map(
                |&(group, version, kind, plural, namespaced, status, short)| ResourceDef {
                    group: group.into(),
                    version: version.into(),
                    kind: kind.into(),
                    plural: plural.into(),
                    singular: kind.to_lowercase(),
                    namespaced,
                    status,
                    short_names: short.iter().map(|s| s.to_string()).collect(),
                    extra: match kind {
                        "Pod" => vec![
                            ("log", &["get"][..]),
                            ("portforward", &["create", "get"][..]),
                        ],
                        "Deployment" | "StatefulSet" | "ReplicaSet" => {
                            vec![("scale", &["get", "patch", "update"][..])]
                        }
                        _ => vec![],
                    },
                    visible_at: None,
                    crd: None,
                },
            )
            .collect();
        Registry { defs }
    }

    /// A servable resource at a path.
    pub fn by_path(
        &self,
        group: &str,
        version: &str,
        plural: &str,
        now: Instant,
    ) -> Option<&ResourceDef> {
        self.defs.iter().find(|d| {
            d.group == group && d.version == version && d.plural == plural && d.visible(now)
        })
    }

    /// A resource by `apiVersion` and kind, visible or not (for the test handle and the controller).
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<&ResourceDef> {
        let (group, version) = split_api_version(api_version);
        self.defs
            .iter()
            .find(|d| d.group == group && d.version == version && d.kind == kind)
    }

    /// Any version's definition for a group and plural (storage).
    pub fn by_gr(&self, group: &str, plural: &str) -> Option<&ResourceDef> {
        self.defs
            .iter()
            .find(|d| d.group == group && d.plural == plural)
    }

    /// Registers (or replaces) the kinds a CRD serves; they stay invisible until `visible_at`.
    pub fn register_crd(&mut self, crd: &Value) {
        let name = crd["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let spec = &crd["spec"];
        let group = spec["group"].as_str().unwrap_or_default();
        let names = &spec["names"];
        let old_visible = self
            .defs
            .iter()
            .find(|d| d.crd.as_deref() == Some(&name))
            .and_then(|d| d.visible_at);
        self.defs.retain(|d| d.crd.as_deref() != Some(&name));
        for v in spec["versions"].as_array().into_iter().flatten() {
            if v["served"].as_bool() == Some(false) {
                continue;
            }
            let kind = names["kind"].as_str().unwrap_or_default();
            self.defs.push(ResourceDef {
                group: group.into(),
                version: v["name"].as_str().unwrap_or_default().into(),
                kind: kind.into(),
                plural: names["plural"].as_str().unwrap_or_default().into(),
                singular: names["singular"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| kind.to_lowercase()),
                namespaced: spec["scope"].as_str() != Some("Cluster"),
                status: v["subresources"].get("status").is_some(),
                short_names: names["shortNames"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect(),
                extra: vec![],
                visible_at: old_visible,
                crd: Some(name.clone()),
            });
        }
    }

    pub fn set_crd_visible_at(&mut self, crd: &str, at: Instant) {
        for d in self
            .defs
            .iter_mut()
            .filter(|d| d.crd.as_deref() == Some(crd))
        {
            d.visible_at.get_or_insert(at);
        }
    }

    pub fn crd_visible_at(&self, crd: &str) -> Option<Instant> {
        self.defs
            .iter()
            .find(|d| d.crd.as_deref() == Some(crd))
            .and_then(|d| d.visible_at)
    }

    pub fn unregister_crd(&mut self, crd: &str) -> Vec<(String, String)> {
        let gone: Vec<_> = self
            .defs
            .iter()
            .filter(|d| d.crd.as_deref() == Some(crd))
            .map(|d| d.gr())
            .collect();
        self.defs.retain(|d| d.crd.as_deref() != Some(crd));
        gone
    }

    /// Group-versions servable now, groups in first-seen order.
    fn groups(&self, now: Instant) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = vec![];
        for d in self
            .defs
            .iter()
            .filter(|d| d.visible(now) && !d.group.is_empty())
        {
            match out.iter_mut().find(|(g, _)| *g == d.group) {
                Some((_, vs)) => {
                    if !vs.contains(&d.version) {
                        vs.push(d.version.clone());
                    }
                }
                None => out.push((d.group.clone(), vec![d.version.clone()])),
            }
        }
        out
    }

    fn group_doc(group: &str, versions: &[String]) -> Value {
        let vs: Vec<Value> = versions
            .iter()
            .map(|v| json!({ "groupVersion": format!("{group}/{v}"), "version": v }))
            .collect();
        json!({ "name": group, "versions": vs, "preferredVersion": vs[0] })
    }

    /// `/apis`.
    pub fn api_group_list(&self, now: Instant) -> Value {
        let groups: Vec<Value> = self
            .groups(now)
            .iter()
            .map(|(g, vs)| Self::group_doc(g, vs))
            .collect();
        json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups })
    }

    /// `/apis/{group}`.
    pub fn api_group(&self, group: &str, now: Instant) -> Option<Value> {
        let groups = self.groups(now);
        let (g, vs) = groups.iter().find(|(g, _)| g == group)?;
        let mut doc = Self::group_doc(g, vs);
        doc["kind"] = json!("APIGroup");
        doc["apiVersion"] = json!("v1");
        Some(doc)
    }

    /// `/api/v1` or `/apis/{group}/{version}`; `None` when nothing is served there.
    pub fn resource_list(&self, group: &str, version: &str, now: Instant) -> Option<Value> {
        let defs: Vec<&ResourceDef> = self
            .defs
            .iter()
            .filter(|d| d.group == group && d.version == version && d.visible(now))
            .collect();
        if defs.is_empty() {
            return None;
        }
        let mut resources = vec![];
        for d in defs {
            let mut r = json!({
                "name": d.plural,
                "singularName": d.singular,
                "namespaced": d.namespaced,
                "kind": d.kind,
                "verbs": match d.kind.as_str() {
                    "Namespace" => json!(["create", "delete", "get", "list", "patch", "update", "watch"]),
                    "SelfSubjectAccessReview" => json!(crate::access::VERBS),
                    _ => json!(VERBS),
                },
            });
            if !d.short_names.is_empty() {
                r["shortNames"] = json!(d.short_names);
            }
            if matches!(
                d.kind.as_str(),
                "Deployment"
                    | "StatefulSet"
                    | "DaemonSet"
                    | "ReplicaSet"
                    | "Pod"
                    | "Service"
                    | "Job"
                    | "CronJob"
                    | "HorizontalPodAutoscaler"
            ) && d.crd.is_none()
            {
                r["categories"] = json!(["all"]);
            }
            resources.push(r);
            if d.status {
                resources.push(json!({
                    "name": format!("{}/status", d.plural), "singularName": "", "namespaced": d.namespaced,
                    "kind": d.kind, "verbs": STATUS_VERBS,
                }));
            }
            for (sub, verbs) in &d.extra {
                resources.push(json!({
                    "name": format!("{}/{sub}", d.plural), "singularName": "", "namespaced": d.namespaced,
                    "kind": match *sub { "log" => "Pod", "scale" => "Scale", _ => "PodPortForwardOptions" }, "verbs": verbs,
                }));
            }
        }
        let gv = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        Some(
            json!({ "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources }),
        )
    }
}

/// `apps/v1` → (`apps`, `v1`); `v1` → (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}
