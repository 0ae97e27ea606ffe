//! The ingress gateway's cloud load balancer: each cloud's annotations for an
//! internal one (`spec.ingress.loadBalancer.internal`), from its documentation:
//! - EKS (AWS Load Balancer Controller): an NLB with the `internal` scheme;
//! - AKS: `service.beta.kubernetes.io/azure-load-balancer-internal: "true"`;
//! - GKE: `networking.gke.io/load-balancer-type: Internal`.
//!
//! and, on every platform, the annotations the spec gives, as given (they win).

use serde_json::{Value, json};

use crate::pipeline::manifest::Manifest;
use crate::pipeline::spec::{Platform, Spec};

/// The annotations that make each cloud's load balancer internal.
const INTERNAL: &[(Platform, &[(&str, &str)])] = &[
    (
        Platform::Eks,
        &[
            (
                "service.beta.kubernetes.io/aws-load-balancer-type",
                "external",
            ),
            (
                "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type",
                "ip",
            ),
            (
                "service.beta.kubernetes.io/aws-load-balancer-scheme",
                "internal",
            ),
        ],
    ),
    (
        Platform::Aks,
        &[(
            "service.beta.kubernetes.io/azure-load-balancer-internal",
            "true",
        )],
    ),
    (
        Platform::Gke,
        &[("networking.gke.io/load-balancer-type", "Internal")],
    ),
];

// Every rule of the table has one signature; some add objects.
#[allow(clippy::ptr_arg)]
pub(super) fn internal_load_balancer(spec: &Spec, manifests: &mut Vec<Manifest>) {
    if !spec.cluster.ingress.load_balancer.internal {
        return;
    }
    let Some((_, annotations)) = INTERNAL
        .iter()
        .find(|(platform, _)| *platform == spec.cluster.platform)
    else {
        return;
    };
    for service in gateway_services(manifests) {
        for (key, value) in *annotations {
            annotate(service, key, value);
        }
    }
}

// Every rule of the table has one signature; some add objects.
#[allow(clippy::ptr_arg)]
pub(super) fn extra_annotations(spec: &Spec, manifests: &mut Vec<Manifest>) {
    let given = &spec.cluster.ingress.load_balancer.annotations;
    if given.is_empty() {
        return;
    }
    for service in gateway_services(manifests) {
        for (key, value) in given {
            annotate(service, key, value);
        }
    }
}

/// The Services of type LoadBalancer: the ingress gateways'.
fn gateway_services(manifests: &mut [Manifest]) -> impl Iterator<Item = &mut Value> {
    manifests
        .iter_mut()
        .filter(|m| m.kind() == "Service" && m.object["spec"]["type"] == "LoadBalancer")
        .map(|m| &mut m.object)
}

fn annotate(object: &mut Value, key: &str, value: &str) {
    if !object["metadata"]["annotations"].is_object() {
        object["metadata"]["annotations"] = json!({});
    }
    object["metadata"]["annotations"][key] = json!(value);
}
