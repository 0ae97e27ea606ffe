//! Readiness rules: is a live Kubernetes object really up, still on its way, or
//! stuck for good? Each kind family has its own file with one pure function
//! from the object's JSON (as the API server returns it) to [`Readiness`], and
//! [`readiness`] picks the rule from one table (`RULES`) by API group and
//! kind. The "why" strings are sentences a user can act on ("2/3 replicas
//! ready", "ImagePullBackOff: postgres:16").
//!
//! Every rule first passes the generic checks: an object being deleted is
//! Progressing (listing its finalizers) and an object whose controller has not
//! yet observed its latest generation is Progressing, whatever its status says.
//!
//! This module does no I/O: no HTTP, no clock, no terminal. Whatever a rule
//! needs to know about the cluster (storage classes) comes in as [`Facts`];
//! grace periods for pod troubles, log tails of failed Jobs and the wait for a
//! new CRD's kinds to appear in discovery belong to the caller.

mod cluster;
mod custom;
mod job;
mod pods;
mod service;
mod storage;
mod view;
mod workloads;

use std::collections::BTreeMap;

use serde_json::Value;

pub use pods::{PodTrouble, pod_trouble, selects};
pub use view::view;

/// A point in time, as the API server writes it (RFC 3339).
pub type Timestamp = k8s_openapi::jiff::Timestamp;
pub use service::load_balancer_ready;

/// What the waits, `status` and progress lines show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// The object is up and serving what it was applied for.
    Ready,
    /// Not there yet; the sentence says what is still awaited.
    Progressing(String),
    /// Stuck for good until someone acts; the sentence says why.
    Failed(String),
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        matches!(self, Readiness::Ready)
    }

    pub fn is_failed(&self) -> bool {
        matches!(self, Readiness::Failed(_))
    }

    /// The "why" sentence; `"ready"` for [`Readiness::Ready`].
    pub fn message(&self) -> &str {
        match self {
            Readiness::Ready => "ready",
            Readiness::Progressing(why) | Readiness::Failed(why) => why,
        }
    }
}

/// Facts about the cluster some rules need (pure input, gathered by the caller).
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The storage classes, by name.
    pub classes: BTreeMap<String, StorageClass>,
    /// Name of the default StorageClass, if any.
    pub default_storage_class: Option<String>,
}

/// What a claim's readiness needs to know about its storage class.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageClass {
    /// `volumeBindingMode`: `Immediate` (the default) or `WaitForFirstConsumer`.
    pub binding_mode: String,
    pub provisioner: String,
}

impl Facts {
    /// The facts read off the cluster's StorageClass objects.
    pub fn from_classes(classes: &[Value]) -> Facts {
        let mut facts = Facts::default();
        for class in classes {
            let name = str_at(class, &["metadata", "name"]).unwrap_or_default();
            let default = str_at(
                class,
                &[
                    "metadata",
                    "annotations",
                    "storageclass.kubernetes.io/is-default-class",
                ],
            ) == Some("true");
            if default {
                facts.default_storage_class = Some(name.to_owned());
            }
            let class = StorageClass {
                binding_mode: str_at(class, &["volumeBindingMode"])
                    .unwrap_or("Immediate")
                    .to_owned(),
                provisioner: str_at(class, &["provisioner"])
                    .unwrap_or_default()
                    .to_owned(),
            };
            facts.classes.insert(name.to_owned(), class);
        }
        facts
    }

    /// Whether claims of `class` stay Pending until a pod uses them.
    pub fn binds_late(&self, class: &str) -> bool {
        self.classes
            .get(class)
            .is_some_and(|c| c.binding_mode == "WaitForFirstConsumer")
    }
}

/// How the generic `observedGeneration` check applies to a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Generation {
    /// The controller always writes `status.observedGeneration`: its absence
    /// means the object has not been seen yet.
    Required,
    /// Compared only when the status carries it.
    IfPresent,
    /// Not compared (kinds that are ready once they exist).
    Ignored,
}

/// What a pending deletion means for a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deletion {
    /// Wait for the finalizers to run.
    Wait,
    /// The kind's own rule reports it (a terminating Namespace is an error).
    Rule,
}

type Check = fn(&Value, &Facts) -> Readiness;

/// One row of the dispatch table.
struct Rule {
    group: &'static str,
    kind: &'static str,
    generation: Generation,
    deletion: Deletion,
    check: Check,
}

const fn rule(
    group: &'static str,
    kind: &'static str,
    generation: Generation,
    check: Check,
) -> Rule {
    Rule {
        group,
        kind,
        generation,
        deletion: Deletion::Wait,
        check,
    }
}

const fn exists(group: &'static str, kind: &'static str) -> Rule {
    rule(group, kind, Generation::Ignored, ready_once_it_exists)
}

use Generation::{IfPresent, Required};

/// The rule for each kind; anything not listed is a custom resource
/// (`custom::readiness`, kstatus style).
const RULES: &[Rule] = &[
    rule("apps", "Deployment", Required, workloads::deployment),
    rule("apps", "StatefulSet", Required, workloads::stateful_set),
    rule("apps", "DaemonSet", Required, workloads::daemon_set),
    rule("apps", "ReplicaSet", IfPresent, workloads::replica_set),
    rule("batch", "Job", IfPresent, job::job),
    exists("batch", "CronJob"),
    rule("", "Pod", IfPresent, pods::pod),
    rule(
        "",
        "PersistentVolumeClaim",
        IfPresent,
        storage::persistent_volume_claim,
    ),
    rule(
        "",
        "PersistentVolume",
        IfPresent,
        storage::persistent_volume,
    ),
    rule("", "Service", IfPresent, service::service),
    Rule {
        group: "",
        kind: "Namespace",
        generation: Generation::Ignored,
        deletion: Deletion::Rule,
        check: cluster::namespace,
    },
    rule(
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        IfPresent,
        cluster::custom_resource_definition,
    ),
    rule(
        "apiregistration.k8s.io",
        "APIService",
        IfPresent,
        cluster::api_service,
    ),
    exists("", "ConfigMap"),
    exists("", "Secret"),
    exists("", "ServiceAccount"),
    exists("", "Endpoints"),
    exists("", "LimitRange"),
    exists("", "ResourceQuota"),
    exists("autoscaling", "HorizontalPodAutoscaler"),
    exists("policy", "PodDisruptionBudget"),
    exists("rbac.authorization.k8s.io", "Role"),
    exists("rbac.authorization.k8s.io", "RoleBinding"),
    exists("rbac.authorization.k8s.io", "ClusterRole"),
    exists("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    exists("storage.k8s.io", "StorageClass"),
    exists("storage.k8s.io", "CSIDriver"),
    exists("scheduling.k8s.io", "PriorityClass"),
    exists("networking.k8s.io", "IngressClass"),
    exists("networking.k8s.io", "NetworkPolicy"),
    exists("networking.k8s.io", "Ingress"),
    exists("discovery.k8s.io", "EndpointSlice"),
    exists(
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
    ),
    exists(
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
    ),
    exists("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    exists(
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
    ),
    exists("coordination.k8s.io", "Lease"),
    exists("node.k8s.io", "RuntimeClass"),
];

/// The rule for custom resources and any kind not in [`RULES`].
const CUSTOM: Rule = rule("", "", IfPresent, custom::readiness);

/// The readiness of a live object, by the rule for its kind.
pub fn readiness(object: &Value, facts: &Facts) -> Readiness {
    let judged = judge(object, facts);
    // A run keeps only the view of the objects it read (`view.rs`).
    debug_assert_eq!(
        judge(&view(object.clone()), facts),
        judged,
        "an object's readiness view is judged as the object"
    );
    judged
}

fn judge(object: &Value, facts: &Facts) -> Readiness {
    let group = group_of(str_at(object, &["apiVersion"]).unwrap_or_default());
    let kind = str_at(object, &["kind"]).unwrap_or_default();
    let rule = RULES
        .iter()
        .find(|rule| rule.group == group && rule.kind == kind)
        .unwrap_or(&CUSTOM);
    if rule.deletion == Deletion::Wait
        && let Some(waiting) = being_deleted(object)
    {
        return waiting;
    }
    if let Some(waiting) = generation_not_observed(object, rule.generation) {
        return waiting;
    }
    (rule.check)(object, facts)
}

/// The API group of an `apiVersion` (`""` for the core group `v1`).
fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

fn ready_once_it_exists(_: &Value, _: &Facts) -> Readiness {
    Readiness::Ready
}

/// Progressing while `metadata.deletionTimestamp` is set.
fn being_deleted(object: &Value) -> Option<Readiness> {
    str_at(object, &["metadata", "deletionTimestamp"])?;
    let finalizers = finalizers(object);
    Some(Readiness::Progressing(if finalizers.is_empty() {
        "being deleted".to_owned()
    } else {
        format!(
            "being deleted, waiting for finalizers: {}",
            finalizers.join(", ")
        )
    }))
}

/// `metadata.finalizers`, in order.
fn finalizers(object: &Value) -> Vec<&str> {
    strings_at(object, &["metadata", "finalizers"])
}

/// Progressing while the controller has not caught up with `metadata.generation`.
fn generation_not_observed(object: &Value, generation: Generation) -> Option<Readiness> {
    let wanted = int_at(object, &["metadata", "generation"])?;
    let observed = int_at(object, &["status", "observedGeneration"]);
    let behind = match (generation, observed) {
        (Generation::Ignored, _) | (Generation::IfPresent, None) => false,
        (Generation::Required, None) => wanted > 0,
        (_, Some(observed)) => observed < wanted,
    };
    behind.then(|| not_observed(wanted))
}

fn not_observed(generation: i64) -> Readiness {
    Readiness::Progressing(format!(
        "waiting for the controller to observe generation {generation}"
    ))
}

/// One entry of `status.conditions`.
#[derive(Debug, Clone, Copy)]
struct Condition<'a> {
    status: &'a str,
    reason: &'a str,
    message: &'a str,
    observed_generation: Option<i64>,
    /// `lastTransitionTime`: since when the condition has had its status.
    since: &'a str,
}

impl Condition<'_> {
    fn is_true(&self) -> bool {
        self.status == "True"
    }

    fn is_false(&self) -> bool {
        self.status == "False"
    }

    /// "reason: message", or whichever of the two is set.
    fn explain(&self) -> String {
        match (self.reason.is_empty(), self.message.is_empty()) {
            (false, false) => format!("{}: {}", self.reason, self.message),
            (false, true) => self.reason.to_owned(),
            (true, false) => self.message.to_owned(),
            (true, true) => String::new(),
        }
    }
}

/// The condition of type `kind` in `status.conditions`, if reported.
fn condition<'a>(object: &'a Value, kind: &str) -> Option<Condition<'a>> {
    object
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
        .map(|c| Condition {
            status: str_at(c, &["status"]).unwrap_or_default(),
            reason: str_at(c, &["reason"]).unwrap_or_default(),
            message: str_at(c, &["message"]).unwrap_or_default(),
            observed_generation: int_at(c, &["observedGeneration"]),
            since: str_at(c, &["lastTransitionTime"]).unwrap_or_default(),
        })
}

fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |value, key| value.get(key))
}

fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(value, path)?.as_str()
}

fn int_at(value: &Value, path: &[&str]) -> Option<i64> {
    at(value, path)?.as_i64()
}

fn bool_at(value: &Value, path: &[&str]) -> bool {
    at(value, path).and_then(Value::as_bool).unwrap_or(false)
}

fn strings_at<'a>(value: &'a Value, path: &[&str]) -> Vec<&'a str> {
    at(value, path)
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// "1 replica", "2 replicas".
fn count(n: i64, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
fn fixture(yaml: &str) -> Value {
    crate::pipeline::yaml::from_str(yaml).expect("fixture is valid YAML")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(yaml: &str) -> Readiness {
        readiness(&fixture(yaml), &Facts::default())
    }

    #[test]
    fn being_deleted_lists_finalizers() {
        let got = check(
            "
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  deletionTimestamp: '2024-01-01T00:00:00Z'
  finalizers: [example.com/a, example.com/b]
",
        );
        assert_eq!(
            got,
            Readiness::Progressing(
                "being deleted, waiting for finalizers: example.com/a, example.com/b".into()
            )
        );
    }

    #[test]
    fn kinds_that_only_need_to_exist_are_ready() {
        for (api_version, kind) in [
            ("v1", "ConfigMap"),
            ("v1", "Secret"),
            ("autoscaling/v2", "HorizontalPodAutoscaler"),
            ("policy/v1", "PodDisruptionBudget"),
            ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
            ("batch/v1", "CronJob"),
            ("networking.k8s.io/v1", "Ingress"),
        ] {
            let object = serde_json::json!({
                "apiVersion": api_version,
                "kind": kind,
                "metadata": {"name": "x", "generation": 3},
                "status": {"observedGeneration": 1},
            });
            assert_eq!(
                readiness(&object, &Facts::default()),
                Readiness::Ready,
                "{kind}"
            );
        }
    }

    #[test]
    fn unknown_kinds_fall_back_to_the_custom_rule() {
        let got = check(
            "
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, generation: 2}
status:
  observedGeneration: 1
",
        );
        assert_eq!(
            got,
            Readiness::Progressing("waiting for the controller to observe generation 2".into())
        );
    }

    #[test]
    fn group_of_core_and_named_groups() {
        assert_eq!(group_of("v1"), "");
        assert_eq!(group_of("apps/v1"), "apps");
        assert_eq!(group_of("apiextensions.k8s.io/v1"), "apiextensions.k8s.io");
    }

    #[test]
    fn readiness_accessors() {
        assert!(Readiness::Ready.is_ready());
        assert!(Readiness::Failed("x".into()).is_failed());
        assert_eq!(
            Readiness::Progressing("2/3 replicas ready".into()).message(),
            "2/3 replicas ready"
        );
        assert_eq!(Readiness::Ready.message(), "ready");
    }
}
