//! Readiness of a Service: Ready once it has a cluster IP (`None` for a
//! headless Service counts), or at once for an `ExternalName` Service.
//!
//! A `LoadBalancer` Service is Ready by the same rule: its cluster IP already
//! routes inside the cluster, and on clusters without a load-balancer
//! controller the external address never comes. Callers that need the external
//! address (DESIGN §6: "only when asked") use [`load_balancer_ready`].

use serde_json::Value;

use super::{Facts, Readiness, at, str_at};

pub(super) fn service(object: &Value, _: &Facts) -> Readiness {
    if str_at(object, &["spec", "type"]) == Some("ExternalName") {
        return Readiness::Ready;
    }
    match str_at(object, &["spec", "clusterIP"]) {
        Some(ip) if !ip.is_empty() => Readiness::Ready,
        _ => Readiness::Progressing("waiting for a cluster IP".to_owned()),
    }
}

/// Readiness of a Service including its external address: for a `LoadBalancer`
/// Service, Ready only once `status.loadBalancer.ingress` has an IP or
/// hostname; any other Service as [`super::readiness`] judges it.
pub fn load_balancer_ready(object: &Value) -> Readiness {
    let base = super::readiness(object, &Facts::default());
    if !base.is_ready() || str_at(object, &["spec", "type"]) != Some("LoadBalancer") {
        return base;
    }
    let has_address = at(object, &["status", "loadBalancer", "ingress"])
        .and_then(Value::as_array)
        .is_some_and(|ingress| {
            ingress.iter().any(|entry| {
                ["ip", "hostname"]
                    .iter()
                    .any(|field| str_at(entry, &[field]).is_some_and(|s| !s.is_empty()))
            })
        });
    if has_address {
        Readiness::Ready
    } else {
        Readiness::Progressing("waiting for a load balancer address".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, readiness};
    use super::*;

    fn check(yaml: &str) -> Readiness {
        readiness(&fixture(yaml), &Facts::default())
    }

    #[test]
    fn service_with_cluster_ip_is_ready() {
        let got = check(
            "{apiVersion: v1, kind: Service, metadata: {name: web}, spec: {type: ClusterIP, clusterIP: 10.96.0.12}}",
        );
        assert_eq!(got, Readiness::Ready);
    }

    #[test]
    fn headless_service_is_ready() {
        let got =
            check("{apiVersion: v1, kind: Service, metadata: {name: db}, spec: {clusterIP: None}}");
        assert_eq!(got, Readiness::Ready);
    }

    #[test]
    fn external_name_service_is_ready() {
        let got = check(
            "{apiVersion: v1, kind: Service, metadata: {name: s3}, spec: {type: ExternalName, externalName: s3.amazonaws.com}}",
        );
        assert_eq!(got, Readiness::Ready);
    }

    #[test]
    fn service_without_cluster_ip_waits() {
        let got = check("{apiVersion: v1, kind: Service, metadata: {name: web}, spec: {}}");
        assert_eq!(
            got,
            Readiness::Progressing("waiting for a cluster IP".into())
        );
    }

    #[test]
    fn load_balancer_address_only_when_asked() {
        let pending = fixture(
            "{apiVersion: v1, kind: Service, metadata: {name: gw}, spec: {type: LoadBalancer, clusterIP: 10.96.0.9}, status: {loadBalancer: {}}}",
        );
        assert_eq!(readiness(&pending, &Facts::default()), Readiness::Ready);
        assert_eq!(
            load_balancer_ready(&pending),
            Readiness::Progressing("waiting for a load balancer address".into())
        );
        let assigned = fixture(
            "{apiVersion: v1, kind: Service, metadata: {name: gw}, spec: {type: LoadBalancer, clusterIP: 10.96.0.9}, status: {loadBalancer: {ingress: [{hostname: gw.elb.example.com}]}}}",
        );
        assert_eq!(load_balancer_ready(&assigned), Readiness::Ready);
    }
}
