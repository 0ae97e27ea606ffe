//! A rendered Kubernetes object together with where it came from (scope,
//! component, template) and the standard labels every object carries. Beside
//! it, the rules read from objects: the order of kinds ([`kinds`]) and the
//! generated Secret keys ([`generated`]). Pure data; no I/O.

pub mod generated;
pub mod kinds;

use std::fmt;

use serde_json::{Map, Value};

pub use kinds::kind_rank;

/// Label and annotation keys cnvrgctl sets.
pub mod keys {
    pub const NAME: &str = "app.kubernetes.io/name";
    pub const COMPONENT: &str = "app.kubernetes.io/component";
    pub const INSTANCE: &str = "app.kubernetes.io/instance";
    pub const PART_OF: &str = "app.kubernetes.io/part-of";
    pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
    pub const SCOPE: &str = "cnvrgctl.io/scope";
    /// Comma-separated Secret keys whose values are generated once on apply
    /// (`KEY` or `KEY:FORMAT`); read by [`super::generated`].
    pub const GENERATED_KEYS: &str = "cnvrgctl.io/generated-keys";
    /// Comma-separated components (`postgres`, `infra/prometheus-operator`) an
    /// object waits for; read by the planner.
    pub const DEPENDS_ON: &str = "cnvrgctl.io/depends-on";
    /// `Kind/name` of a workload in the same namespace that is scaled to zero
    /// (its pods gone) before this object is created: the writer of a
    /// database a Job copies. Read by the executor.
    pub const STOP_FIRST: &str = "cnvrgctl.io/stop-first";
    /// `Kind/namespace/name` of the operator's object whose data this Job
    /// copies (adoption lists it).
    pub const COPIES: &str = "cnvrgctl.io/copies";
    /// Hash of the body cnvrgctl last applied (its bookkeeping: hidden in
    /// diffs).
    pub const APPLIED_HASH: &str = "cnvrgctl.io/applied-hash";
}

/// The value `managed-by` carries.
pub const MANAGER: &str = "cnvrgctl";

/// Which part of the cluster an object belongs to: the infra scope or one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    Infra,
    Tenant(String),
}

impl Scope {
    /// The `app.kubernetes.io/instance` value: `infra` or the tenant name.
    pub fn instance(&self) -> &str {
        match self {
            Scope::Infra => "infra",
            Scope::Tenant(name) => name,
        }
    }

    /// The `cnvrgctl.io/scope` label value: `infra` or `tenant.NAME`.
    pub fn label(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Infra => f.write_str("infra"),
            Scope::Tenant(name) => write!(f, "tenant.{name}"),
        }
    }
}

/// Where an object came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub scope: Scope,
    /// The `app.kubernetes.io/component` label value.
    pub component: String,
    /// Template path relative to the templates root, e.g. `workspace/postgres.yaml.j2`.
    pub template: String,
}

/// One rendered object.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub object: Value,
    pub origin: Origin,
}

impl Manifest {
    pub fn api_version(&self) -> &str {
        self.object["apiVersion"].as_str().unwrap_or_default()
    }

    pub fn kind(&self) -> &str {
        self.object["kind"].as_str().unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        self.object["metadata"]["name"].as_str().unwrap_or_default()
    }

    pub fn namespace(&self) -> Option<&str> {
        self.object["metadata"]["namespace"].as_str()
    }

    /// `Kind/namespace/name`, or `Kind/name` for cluster-scoped objects.
    pub fn id(&self) -> String {
        match self.namespace() {
            Some(ns) => format!("{}/{}/{}", self.kind(), ns, self.name()),
            None => format!("{}/{}", self.kind(), self.name()),
        }
    }

    /// The API group (empty for the core group).
    pub fn group(&self) -> &str {
        self.api_version()
            .rsplit_once('/')
            .map(|(g, _)| g)
            .unwrap_or("")
    }
}

/// Kinds whose `spec.template` is a pod template that gets the standard labels.
const POD_TEMPLATE_KINDS: &[&str] = &[
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "ReplicaSet",
];

/// The standard labels, filled in where the template left them out. Returns
/// the object's component (its `app.kubernetes.io/component`).
pub fn add_standard_labels(
    object: &mut Value,
    scope: &Scope,
    default_component: &str,
    part_of: &str,
) -> String {
    let defaults = |labels: &Map<String, Value>| {
        let component = labels
            .get(keys::COMPONENT)
            .and_then(Value::as_str)
            .unwrap_or(default_component)
            .to_string();
        [
            (keys::NAME, component.clone()),
            (keys::COMPONENT, component),
            (keys::INSTANCE, scope.instance().to_string()),
            (keys::PART_OF, part_of.to_string()),
            (keys::MANAGED_BY, MANAGER.to_string()),
            (keys::SCOPE, scope.label()),
        ]
    };
    let kind = object["kind"].as_str().unwrap_or_default().to_string();
    let labels = labels_of(object);
    for (k, v) in defaults(labels) {
        labels.entry(k).or_insert(Value::String(v));
    }
    let component = labels[keys::COMPONENT]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if POD_TEMPLATE_KINDS.contains(&kind.as_str())
        && let Some(template) = object.pointer_mut("/spec/template")
        && template.is_object()
    {
        let labels = labels_of(template);
        for (k, v) in defaults(labels) {
            labels.entry(k).or_insert(Value::String(v));
        }
    }
    component
}

/// The `metadata.labels` map of `object` (an object), created where missing; a
/// new `metadata` goes first, where people look for it.
fn labels_of(object: &mut Value) -> &mut Map<String, Value> {
    let map = object.as_object_mut().expect("checked to be an object");
    if !map.get("metadata").is_some_and(Value::is_object) {
        map.shift_insert(0, "metadata".into(), Value::Object(Map::new()));
    }
    let meta = map["metadata"]
        .as_object_mut()
        .expect("made an object above");
    let labels = meta
        .entry("labels")
        .or_insert_with(|| Value::Object(Map::new()));
    if !labels.is_object() {
        *labels = Value::Object(Map::new());
    }
    labels.as_object_mut().expect("made an object above")
}
