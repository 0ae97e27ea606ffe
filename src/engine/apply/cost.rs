//! What an object's own turn is expected to cost, by kind, for ranking the
//! objects that wait for a write slot ([`super::slots`]): a chain is as long
//! as the time its objects take, not their number. A ConfigMap is ready as
//! its write returns (a round trip, milliseconds); a CRD waits for the API
//! server to establish and serve it; a workload waits for its pods to be
//! scheduled, pull images and pass their probes (seconds to minutes). The
//! units are write round trips, rough on purpose: they only order chains.
//! A table, not a measurement; it makes no request.

use crate::pipeline::manifest::Manifest;
use crate::pipeline::validate;

/// Ready as written: one round trip.
const WRITE: u32 = 1;
/// Waits for a controller of the control plane or an operator to act on it.
const CONTROLLER: u32 = 10;
/// Waits for pods to start and turn ready.
const PODS: u32 = 30;

/// Kinds whose turn is more than their write. Every other built-in kind is
/// ready as written; a custom resource not named here waits for its
/// operator.
const COSTS: &[(&str, u32)] = &[
    ("Deployment", PODS),
    ("StatefulSet", PODS),
    ("DaemonSet", PODS),
    ("ReplicaSet", PODS),
    ("Job", PODS),
    ("Pod", PODS),
    // The monitoring operator runs it as a StatefulSet.
    ("Prometheus", PODS),
    ("CustomResourceDefinition", CONTROLLER),
    ("PersistentVolumeClaim", CONTROLLER),
    ("APIService", CONTROLLER),
];

/// The expected cost of `manifest`'s own turn.
pub(super) fn of(manifest: &Manifest) -> u32 {
    let kind = manifest.kind();
    match COSTS.iter().find(|(k, _)| *k == kind) {
        Some((_, cost)) => *cost,
        None if validate::built_in(manifest.api_version(), kind).is_some() => WRITE,
        None => CONTROLLER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::manifest::{Origin, Scope};

    fn manifest(api_version: &str, kind: &str) -> Manifest {
        Manifest {
            object: serde_json::json!({"apiVersion": api_version, "kind": kind,
                                       "metadata": {"name": "x"}}),
            origin: Origin {
                scope: Scope::Infra,
                component: "x".into(),
                template: "x.yaml.j2".into(),
            },
        }
    }

    #[test]
    fn workloads_outweigh_controllers_which_outweigh_writes() {
        let config_map = of(&manifest("v1", "ConfigMap"));
        let crd = of(&manifest(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
        ));
        let service_monitor = of(&manifest("monitoring.coreos.com/v1", "ServiceMonitor"));
        let statefulset = of(&manifest("apps/v1", "StatefulSet"));
        assert_eq!(config_map, WRITE);
        assert_eq!(of(&manifest("rbac.authorization.k8s.io/v1", "Role")), WRITE);
        assert_eq!(crd, CONTROLLER);
        assert_eq!(service_monitor, CONTROLLER, "a custom resource");
        assert_eq!(statefulset, PODS);
        assert!(config_map < crd && crd < statefulset);
    }
}
