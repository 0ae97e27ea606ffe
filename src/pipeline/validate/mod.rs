//! Checks rendered objects before they go anywhere: every built-in kind must
//! deserialize into its k8s-openapi type (Kubernetes v1.33 schemas) with no
//! unknown field, sit in a namespace exactly when its kind is namespaced, and
//! carry valid names and labels; generated Secret keys must be declared; custom
//! resources must fit the schema of their CRD ([`schema`]); what cnvrgctl puts
//! in a namespace with a ResourceQuota must fit it ([`quota`]). A typo in a
//! template, or a quota too small for its tenant, fails here, not on a
//! cluster. Pure; no I/O.

mod quota;
mod schema;

pub(crate) use quota::deployment_surge;
pub use schema::{Crds, PREREQUISITES};

use std::any::TypeId;
use std::fmt;
use std::sync::LazyLock;

use k8s_openapi::api::{
    admissionregistration::v1 as admission, apps::v1 as apps, autoscaling::v2 as autoscaling,
    batch::v1 as batch, core::v1 as core, networking::v1 as networking, policy::v1 as policy,
    rbac::v1 as rbac, scheduling::v1 as scheduling, storage::v1 as storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1 as apiregistration;
use k8s_openapi::{NamespaceResourceScope, Resource};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::pipeline::manifest::generated::{format_names, generated_keys};
use crate::pipeline::manifest::{Manifest, keys};
use crate::pipeline::render::GENERATED;
use crate::pipeline::spec::{dns1123_label, dns1123_subdomain};

/// One object that failed a check.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// `Kind/namespace/name`.
    pub object: String,
    pub template: String,
    pub scope: String,
    pub message: String,
}

/// Every problem found in a set of rendered objects.
#[derive(Debug, thiserror::Error)]
pub struct ValidateError(pub Vec<Problem>);

impl fmt::Display for ValidateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "{} (template {}, scope {}): {}",
                p.object, p.template, p.scope, p.message
            )?;
        }
        if self.0.len() > 1 {
            write!(f, "\n{} rendered objects are invalid", self.0.len())?;
        }
        Ok(())
    }
}

/// A built-in kind the validator knows.
struct Kind {
    api_version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    check: fn(&Value) -> Result<(), String>,
}

fn kind<T: Resource + DeserializeOwned + 'static>() -> Kind {
    Kind {
        api_version: T::API_VERSION,
        kind: T::KIND,
        plural: T::URL_PATH_SEGMENT,
        namespaced: TypeId::of::<T::Scope>() == TypeId::of::<NamespaceResourceScope>(),
        check: strict::<T>,
    }
}

/// The resource (plural) of a built-in kind cnvrgctl may render, and whether
/// it is namespaced.
pub fn built_in(api_version: &str, kind: &str) -> Option<(&'static str, bool)> {
    KINDS
        .iter()
        .find(|k| k.api_version == api_version && k.kind == kind)
        .map(|k| (k.plural, k.namespaced))
}

/// The built-in kinds cnvrgctl may render.
static KINDS: LazyLock<Vec<Kind>> = LazyLock::new(|| {
    vec![
        kind::<core::Namespace>(),
        kind::<core::Secret>(),
        kind::<core::ConfigMap>(),
        kind::<core::ServiceAccount>(),
        kind::<core::Service>(),
        kind::<core::PersistentVolume>(),
        kind::<core::PersistentVolumeClaim>(),
        kind::<core::Pod>(),
        kind::<core::ResourceQuota>(),
        kind::<core::LimitRange>(),
        kind::<apps::Deployment>(),
        kind::<apps::StatefulSet>(),
        kind::<apps::DaemonSet>(),
        kind::<batch::Job>(),
        kind::<batch::CronJob>(),
        kind::<rbac::Role>(),
        kind::<rbac::RoleBinding>(),
        kind::<rbac::ClusterRole>(),
        kind::<rbac::ClusterRoleBinding>(),
        kind::<storage::StorageClass>(),
        kind::<networking::Ingress>(),
        kind::<networking::IngressClass>(),
        kind::<networking::NetworkPolicy>(),
        kind::<policy::PodDisruptionBudget>(),
        kind::<autoscaling::HorizontalPodAutoscaler>(),
        kind::<scheduling::PriorityClass>(),
        kind::<admission::MutatingWebhookConfiguration>(),
        kind::<admission::ValidatingWebhookConfiguration>(),
        kind::<apiextensions::CustomResourceDefinition>(),
        kind::<apiregistration::APIService>(),
    ]
});

/// Deserializes `value` as `T`, failing on any field `T` does not have.
fn strict<T: DeserializeOwned>(value: &Value) -> Result<(), String> {
    let mut unknown = Vec::new();
    let parsed: Result<T, _> = serde_ignored::deserialize(value, |path| {
        // serde_ignored writes `?` for levels it cannot name (Option wrappers).
        let path = path.to_string();
        let named: Vec<&str> = path.split('.').filter(|s| *s != "?").collect();
        unknown.push(named.join("."));
    });
    parsed.map_err(|e| e.to_string())?;
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(format!("unknown field `{}`", unknown.join("`, `")))
    }
}

/// Whether an API group is served by Kubernetes itself (not by a CRD).
fn is_built_in_group(group: &str) -> bool {
    !group.contains('.') || group.ends_with(".k8s.io")
}

/// Checks every object; returns all problems at once.
pub fn validate(manifests: &[Manifest]) -> Result<(), ValidateError> {
    let crds = schema::Crds::of(manifests);
    let mut problems: Vec<Problem> = manifests
        .iter()
        .flat_map(|m| {
            check(m, &crds).into_iter().map(|message| Problem {
                object: m.id(),
                template: m.origin.template.clone(),
                scope: m.origin.scope.to_string(),
                message,
            })
        })
        .collect();
    problems.extend(quota::check(manifests));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ValidateError(problems))
    }
}

fn check(m: &Manifest, crds: &schema::Crds) -> Vec<String> {
    let mut out = Vec::new();
    let known = KINDS
        .iter()
        .find(|k| k.api_version == m.api_version() && k.kind == m.kind());
    match known {
        Some(k) => {
            if let Err(e) = (k.check)(&m.object) {
                out.push(e);
            }
            match (k.namespaced, m.namespace()) {
                (true, None) => out.push(format!("{} is namespaced but has no metadata.namespace", k.kind)),
                (false, Some(_)) => out.push(format!(
                    "{} is cluster-scoped but has metadata.namespace",
                    k.kind
                )),
                _ => {}
            }
        }
        None if is_built_in_group(m.group()) => out.push(format!(
            "`{}` `{}` is not a Kubernetes v1.33 kind cnvrgctl knows (misspelt kind or apiVersion?)",
            m.api_version(),
            m.kind()
        )),
        None => out.extend(crds.check(m)),
    }
    let name_rule = match m.kind() {
        "Namespace" | "Service" => dns1123_label(m.name(), 63),
        _ => dns1123_subdomain(m.name()),
    };
    if let Err(e) = name_rule {
        out.push(format!("invalid metadata.name: {e}"));
    }
    if let Some(Value::Object(labels)) = m.object.pointer("/metadata/labels") {
        for (k, v) in labels {
            if let Err(e) = label_value(v) {
                out.push(format!("label `{k}`: {e}"));
            }
        }
    }
    if m.kind() == "Secret" {
        out.extend(check_generated(&m.object));
    }
    out
}

fn label_value(v: &Value) -> Result<(), String> {
    let Some(s) = v.as_str() else {
        return Err("label values must be strings".into());
    };
    let ok = s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && (s.is_empty()
            || (s.starts_with(|c: char| c.is_ascii_alphanumeric())
                && s.ends_with(|c: char| c.is_ascii_alphanumeric())));
    if ok {
        Ok(())
    } else {
        Err(format!("`{s}` is not a valid label value"))
    }
}

/// Generated keys and their placeholders must match one for one, and every
/// format named must be one the apply path knows
/// ([`crate::pipeline::manifest::generated::FORMATS`]).
fn check_generated(secret: &Value) -> Vec<String> {
    let data = secret.get("stringData").and_then(Value::as_object);
    let mut out = Vec::new();
    let mut declared = Vec::new();
    for entry in generated_keys(secret) {
        if let Err(format) = &entry.format {
            out.push(format!(
                "`{}` asks for format `{format}` for `{}`; known formats: {}",
                keys::GENERATED_KEYS,
                entry.key,
                format_names()
            ));
        }
        declared.push(entry.key);
    }
    if let Some(data) = data {
        for (key, value) in data {
            if value.as_str() == Some(GENERATED) && !declared.contains(key) {
                out.push(format!(
                    "stringData.{key} is generated but not listed in the `{}` annotation",
                    keys::GENERATED_KEYS
                ));
            }
        }
    }
    for key in declared {
        if data.and_then(|d| d.get(&key)).and_then(Value::as_str) != Some(GENERATED) {
            out.push(format!(
                "`{}` lists `{key}` but stringData.{key} is not the generated placeholder",
                keys::GENERATED_KEYS
            ));
        }
    }
    out
}
