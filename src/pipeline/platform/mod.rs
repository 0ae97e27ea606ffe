//! Platform rules: what `spec.platform` changes in the rendered objects,
//! applied in one place after the templates ran (the templates know nothing
//! of platforms beyond the spec's own defaults). Each rule is a row of
//! [`RULES`]: the platforms it is for, what it does (the README's table says
//! the same), and a function over the rendered objects.
//!
//! - OpenShift (`openshift.rs`): every pod is made admissible by the
//!   restricted-v2 SCC (no fixed uid, gid or fsGroup: the namespace's range
//!   assigns them; no privilege escalation; capabilities dropped; the runtime's
//!   seccomp profile), except the host agents, which are bound to the
//!   narrowest SCC that admits them, each with the reason. `restricted.rs`
//!   checks a pod against restricted-v2, from the SCC's documented fields.
//! - EKS, AKS, GKE (`cloud.rs`): the ingress gateway's LoadBalancer made
//!   internal by each cloud's annotation when asked.
//! - Every platform: the annotations the spec gives the gateway's Service.

mod cloud;
mod openshift;
pub mod restricted;

use serde_json::Value;

use crate::pipeline::manifest::Manifest;
use crate::pipeline::spec::{Platform, Spec};

pub use openshift::{BOUND_TO_SCC, Bound, bound};

/// One platform rule.
pub struct Rule {
    /// The platforms it applies to.
    pub platforms: &'static [Platform],
    /// What it changes, as the README says it.
    pub what: &'static str,
    apply: fn(&Spec, &mut Vec<Manifest>),
}

const CLOUDS: &[Platform] = &[Platform::Eks, Platform::Aks, Platform::Gke];
const EVERY: &[Platform] = &[
    Platform::Generic,
    Platform::Openshift,
    Platform::Eks,
    Platform::Aks,
    Platform::Gke,
];

/// The rules, in the order they run.
pub const RULES: &[Rule] = &[
    Rule {
        platforms: &[Platform::Openshift],
        what: "every pod admissible by the restricted-v2 SCC: no runAsUser, runAsGroup or fsGroup (the namespace's range assigns them), allowPrivilegeEscalation false, capabilities drop ALL (NET_BIND_SERVICE the only add kept), seccompProfile RuntimeDefault",
        apply: openshift::restrict_pods,
    },
    Rule {
        platforms: &[Platform::Openshift],
        what: "the host agents (node-exporter, Fluent Bit, the hostpath and NFS provisioners) and the cnvrg app (its image needs uid 1000) bound to the narrowest SCC that admits them, with the reason on the RoleBinding",
        apply: openshift::bind_to_sccs,
    },
    Rule {
        platforms: CLOUDS,
        what: "`spec.ingress.loadBalancer.internal: true`: the cloud's internal load balancer annotations on the ingress gateway Service",
        apply: cloud::internal_load_balancer,
    },
    Rule {
        platforms: EVERY,
        what: "`spec.ingress.loadBalancer.annotations` added to the ingress gateway Service as given",
        apply: cloud::extra_annotations,
    },
];

/// Applies every rule for the spec's platform to the rendered objects.
pub fn adapt(spec: &Spec, manifests: &mut Vec<Manifest>) {
    for rule in RULES {
        if rule.platforms.contains(&spec.cluster.platform) {
            (rule.apply)(spec, manifests);
        }
    }
}

/// The pod spec inside an object that makes pods, where it has one.
pub fn pod_spec(object: &Value) -> Option<&Value> {
    POD_SPEC_PATHS
        .iter()
        .find(|(kind, _)| object["kind"] == *kind)
        .and_then(|(_, path)| object.pointer(path))
        .filter(|spec| spec.is_object())
}

fn pod_spec_mut(object: &mut Value) -> Option<&mut Value> {
    let path = POD_SPEC_PATHS
        .iter()
        .find(|(kind, _)| object["kind"] == *kind)?
        .1;
    object.pointer_mut(path).filter(|spec| spec.is_object())
}

/// Where each kind that makes pods keeps its pod spec.
const POD_SPEC_PATHS: &[(&str, &str)] = &[
    ("Deployment", "/spec/template/spec"),
    ("StatefulSet", "/spec/template/spec"),
    ("DaemonSet", "/spec/template/spec"),
    ("ReplicaSet", "/spec/template/spec"),
    ("Job", "/spec/template/spec"),
    ("CronJob", "/spec/jobTemplate/spec/template/spec"),
    ("Pod", "/spec"),
];
