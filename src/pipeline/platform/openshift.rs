//! OpenShift: pods admitted by SecurityContextConstraints. Every pod is made
//! admissible by `restricted-v2`, the SCC every authenticated account may
//! use, except the workloads of [`BOUND_TO_SCC`], each bound (a RoleBinding
//! to OpenShift's `system:openshift:scc:NAME` ClusterRole) to the narrowest
//! SCC that admits it: the host agents, which need the host, and the cnvrg
//! app, whose image needs its own uid. A workload under an SCC that assigns
//! uids from the namespace's range (`hostaccess`) loses its fixed ids too;
//! one under an `anyuid` or `nonroot` SCC keeps them.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::{Platform, pod_spec_mut};
use crate::pipeline::manifest::{self, Manifest, Origin};
use crate::pipeline::spec::Spec;

/// A workload that restricted-v2 does not admit: its component, the
/// narrowest SCC that does, whether that SCC lets it keep fixed ids, whether
/// it is otherwise as strict as restricted-v2 (the pod is then restricted
/// like any other), and why.
pub struct Bound {
    pub component: &'static str,
    pub scc: &'static str,
    pub keeps_ids: bool,
    pub restricted: bool,
    pub why: &'static str,
}

const HOST_ACCESS: &str = "host network and PID namespace, read-only hostPath mounts of /proc, /sys and /; any uid of the namespace's range will do";
const CNVRG_APP: &str = "the cnvrg app image runs as uid 1000, which owns its files and home, and is not known to run under an arbitrary uid (the cnvrg operator gave it an SCC of its own with RunAsAny); nonroot-v2 admits that fixed non-root uid and is otherwise as strict as restricted-v2";

/// The workloads bound to an SCC of their own.
pub const BOUND_TO_SCC: &[Bound] = &[
    Bound {
        component: "node-exporter",
        scc: "hostaccess",
        keeps_ids: false,
        restricted: false,
        why: HOST_ACCESS,
    },
    Bound {
        component: "fluent-bit",
        scc: "hostmount-anyuid",
        keeps_ids: true,
        restricted: false,
        why: "reads the nodes' /var/log through hostPath as root; no host network",
    },
    Bound {
        component: "hostpath-provisioner",
        scc: "hostmount-anyuid",
        keeps_ids: true,
        restricted: false,
        why: "its helper pods (same account) create and delete volume directories on the node's disk through hostPath as root",
    },
    Bound {
        component: "nfs-provisioner",
        scc: "hostmount-anyuid",
        keeps_ids: true,
        restricted: false,
        why: "mounts the NFS export (an nfs volume, which restricted-v2 does not allow) as root",
    },
    Bound {
        component: "webapp",
        scc: "nonroot-v2",
        keeps_ids: true,
        restricted: true,
        why: CNVRG_APP,
    },
    Bound {
        component: "sidekiq",
        scc: "nonroot-v2",
        keeps_ids: true,
        restricted: true,
        why: CNVRG_APP,
    },
    Bound {
        component: "searchkiq",
        scc: "nonroot-v2",
        keeps_ids: true,
        restricted: true,
        why: CNVRG_APP,
    },
    Bound {
        component: "systemkiq",
        scc: "nonroot-v2",
        keeps_ids: true,
        restricted: true,
        why: CNVRG_APP,
    },
    Bound {
        component: "migrate",
        scc: "nonroot-v2",
        keeps_ids: true,
        restricted: true,
        why: CNVRG_APP,
    },
];

/// The entry of [`BOUND_TO_SCC`] for a component.
pub fn bound(component: &str) -> Option<&'static Bound> {
    BOUND_TO_SCC.iter().find(|b| b.component == component)
}

/// Id fields the namespace's range assigns under restricted-v2.
const ASSIGNED_POD: &[&str] = &["runAsUser", "runAsGroup", "fsGroup", "seLinuxOptions"];
const ASSIGNED_CONTAINER: &[&str] = &["runAsUser", "runAsGroup", "seLinuxOptions"];

/// The one capability restricted-v2 lets a container add.
const ALLOWED_ADD: &str = "NET_BIND_SERVICE";

// Every rule of the table has one signature; some add objects.
#[allow(clippy::ptr_arg)]
pub(super) fn restrict_pods(_: &Spec, manifests: &mut Vec<Manifest>) {
    for m in manifests.iter_mut() {
        let bound = bound(&m.origin.component);
        let Some(pod) = pod_spec_mut(&mut m.object) else {
            continue;
        };
        if !bound.is_some_and(|b| b.keeps_ids) {
            strip_ids(pod);
        }
        if bound.is_none_or(|b| b.restricted) {
            restrict(pod);
        }
    }
}

/// Drops the ids the namespace's range assigns.
fn strip_ids(pod: &mut Value) {
    if let Some(context) = pod["securityContext"].as_object_mut() {
        for field in ASSIGNED_POD {
            context.remove(*field);
        }
    }
    for container in containers(pod) {
        if let Some(context) = container["securityContext"].as_object_mut() {
            for field in ASSIGNED_CONTAINER {
                context.remove(*field);
            }
        }
    }
}

/// What restricted-v2 requires of every container and the pod.
fn restrict(pod: &mut Value) {
    let context = object_at(pod, "securityContext");
    context.insert("runAsNonRoot".into(), json!(true));
    context.insert("seccompProfile".into(), json!({"type": "RuntimeDefault"}));
    for container in containers(pod) {
        let context = object_at(container, "securityContext");
        context.remove("privileged");
        context.insert("allowPrivilegeEscalation".into(), json!(false));
        let added: Vec<Value> = context
            .get("capabilities")
            .and_then(|c| c["add"].as_array())
            .into_iter()
            .flatten()
            .filter(|c| c.as_str() == Some(ALLOWED_ADD))
            .cloned()
            .collect();
        let mut capabilities = json!({"drop": ["ALL"]});
        if !added.is_empty() {
            capabilities["add"] = json!(added);
        }
        context.insert("capabilities".into(), capabilities);
        if context
            .get("seccompProfile")
            .is_some_and(|p| p["type"] != "RuntimeDefault")
        {
            context.insert("seccompProfile".into(), json!({"type": "RuntimeDefault"}));
        }
    }
}

/// The pod's init and app containers.
fn containers(pod: &mut Value) -> impl Iterator<Item = &mut Value> {
    let Value::Object(pod) = pod else {
        unreachable!("a pod spec is an object");
    };
    pod.iter_mut()
        .filter(|(key, _)| *key == "containers" || *key == "initContainers")
        .filter_map(|(_, list)| list.as_array_mut())
        .flatten()
}

/// `value[key]` as an object, made one where missing.
fn object_at<'a>(value: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    if !value[key].is_object() {
        value[key] = json!({});
    }
    value[key].as_object_mut().expect("just made an object")
}

/// One RoleBinding per account and SCC (several workloads may share an
/// account).
pub(super) fn bind_to_sccs(_: &Spec, manifests: &mut Vec<Manifest>) {
    let mut bindings = Vec::new();
    let mut seen = BTreeSet::new();
    for m in manifests.iter() {
        let Some(agent) = bound(&m.origin.component) else {
            continue;
        };
        let Some(pod) = super::pod_spec(&m.object) else {
            continue;
        };
        let namespace = m.namespace().unwrap_or_default().to_owned();
        let account = pod["serviceAccountName"].as_str().unwrap_or("default");
        if !seen.insert((namespace.clone(), account.to_owned(), agent.scc)) {
            continue;
        }
        let mut object = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {
                "name": format!("{account}-scc-{}", agent.scc),
                "namespace": namespace,
                "annotations": {"cnvrgctl.io/why": agent.why},
            },
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": format!("system:openshift:scc:{}", agent.scc),
            },
            "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
        });
        let part_of = m.object["metadata"]["labels"][manifest::keys::PART_OF]
            .as_str()
            .unwrap_or("cnvrg")
            .to_owned();
        let component =
            manifest::add_standard_labels(&mut object, &m.origin.scope, agent.component, &part_of);
        bindings.push(Manifest {
            object,
            origin: Origin {
                scope: m.origin.scope.clone(),
                component,
                template: format!("platform/{}", Platform::Openshift.as_str()),
            },
        });
    }
    manifests.extend(bindings);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pod_loses_its_ids_and_gains_what_restricted_v2_requires() {
        let mut pod = json!({
            "securityContext": {"runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000, "runAsNonRoot": true},
            "initContainers": [{"name": "init", "securityContext": {"runAsUser": 0, "privileged": true}}],
            "containers": [{"name": "app", "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_BIND_SERVICE"]}}}],
        });
        strip_ids(&mut pod);
        restrict(&mut pod);
        assert_eq!(
            pod["securityContext"],
            json!({"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}})
        );
        assert_eq!(
            pod["initContainers"][0]["securityContext"],
            json!({"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}})
        );
        assert_eq!(
            pod["containers"][0]["securityContext"]["capabilities"],
            json!({"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]})
        );
        assert!(super::super::restricted::violations(&pod).is_empty());
    }
}
