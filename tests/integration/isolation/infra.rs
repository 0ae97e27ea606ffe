//! The infra namespace's isolation, in both modes: it denies by default, no
//! tenant pod reaches an infra pod but the ingress gateway and the
//! federation endpoint (the infra Prometheus' web port), and the infra
//! components still reach what they need (DNS, the API, what Prometheus
//! scrapes, Fluent Bit's Elasticsearch, istiod from the gateway). Its Pod
//! Security level is the lowest its components need.

use std::collections::BTreeSet;

use cnvrgctl::pipeline::manifest::{Manifest, Scope};

use super::MIXED;
use super::eval::{Endpoint, Pod, World, assert_open_inside, probe_ports, render, scraped};
use super::pod_security::pod_security_violations;

/// The one cnvrg tenant sharing the infra namespace, with monitoring, logging,
/// Istio and hostpath storage.
const SINGLE: &str = "\
apiVersion: cnvrgctl.io/v1alpha1
kind: Cluster
metadata:
  name: acme
spec:
  profile: dev
  mode: single-namespace
  clusterDomain: ml.acme.example
  ingress:
    type: istio
  infra:
    monitoring: {enabled: true}
    logging: {enabled: true}
    storage:
      hostpath: {enabled: true}
  tenants:
    - name: team-a
      type: cnvrg
";

/// No monitoring, logging, Istio or hostpath storage: no host-access component.
const BARE: &str = "\
apiVersion: cnvrgctl.io/v1alpha1
kind: Cluster
metadata:
  name: acme
spec:
  profile: dev
  ingress:
    type: nodeport
  infra:
    monitoring: {enabled: false}
    logging: {enabled: false}
    storage:
      hostpath: {enabled: false}
  tenants:
    - name: research
      type: workspace
      workspace:
        agentPools: [{name: default}]
";

fn infra_namespace(ms: &[Manifest]) -> String {
    ms.iter()
        .find(|m| m.kind() == "Namespace" && m.origin.scope == Scope::Infra)
        .map(|m| m.name().to_string())
        .expect("an infra namespace")
}

/// The infra pods on the pod network (node-exporter, on the host network, is
/// outside what a NetworkPolicy polices; see `host_network_pods_are_known`).
fn infra_pods<'a>(world: &'a World, ns: &str) -> Vec<&'a Pod> {
    world
        .pods
        .iter()
        .filter(|p| p.tenant.is_none() && p.namespace == ns && !p.host_network)
        .collect()
}

/// Whether a tenant pod `src` may reach infra pod `dst` on `port`: the
/// gateway on the ports its Service targets, and the infra Prometheus' web
/// port from the pods that federate from it (a tenant's Prometheus) or, in
/// single-namespace mode, query it (the tenant's Grafana).
fn may_reach(src: &Pod, dst: &Pod, port: u16, proto: &str) -> bool {
    let federates = src.name == "Prometheus/prometheus"
        || (src.name == "Deployment/grafana" && src.namespace == dst.namespace);
    proto == "TCP"
        && match dst.name.as_str() {
            "Deployment/istio-ingressgateway" => [8080, 8443, 15021].contains(&port),
            "Prometheus/infra" => federates && port == 9090,
            _ => false,
        }
}

/// No pod of any tenant reaches an infra pod beyond `may_reach` (what they
/// do reach of it is checked in the tests of each flow).
fn assert_tenants_kept_out(world: &World, ns: &str) {
    let infra = infra_pods(world, ns);
    assert!(infra.len() >= 6, "only {} infra pods", infra.len());
    let tenants: Vec<&Pod> = world.pods.iter().filter(|p| p.tenant.is_some()).collect();
    for src in tenants {
        for dst in &infra {
            for (port, proto) in probe_ports(dst) {
                let allowed = world.allowed(Endpoint::Pod(src), Endpoint::Pod(dst), port, &proto);
                assert!(
                    !allowed || may_reach(src, dst, port, &proto),
                    "{} ({}) reaches {} on {port}/{proto}",
                    src.name,
                    src.namespace,
                    dst.name
                );
            }
        }
    }
}

#[test]
fn no_tenant_pod_reaches_an_infra_pod_but_the_gateway_and_federation() {
    for text in [MIXED, SINGLE] {
        let ms = render(text);
        let world = World::of(&ms);
        assert_tenants_kept_out(&world, &infra_namespace(&ms));
    }
}

#[test]
fn host_network_pods_are_known() {
    // A host-network pod has the node's address: tenants' pods allowed out to
    // any address reach it there, whatever its namespace's policies say.
    for text in [MIXED, SINGLE] {
        let world = World::of(&render(text));
        let host: Vec<&str> = world
            .pods
            .iter()
            .filter(|p| p.host_network)
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(host, ["DaemonSet/node-exporter"]);
    }
}

#[test]
fn an_infra_pod_the_policies_do_not_name_gets_dns_and_nothing_else() {
    for text in [MIXED, SINGLE] {
        let ms = render(text);
        let mut world = World::of(&ms);
        let stranger = Pod {
            name: "stranger".into(),
            namespace: infra_namespace(&ms),
            tenant: None,
            labels: [
                ("cnvrgctl.io/scope", "infra"),
                ("app.kubernetes.io/managed-by", "cnvrgctl"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            ports: vec![("http".into(), 8080, "TCP".into())],
            host_network: false,
        };
        world.pods.push(stranger.clone());
        let me = Endpoint::Pod(&stranger);
        for other in world.pods.iter().filter(|p| !p.host_network) {
            for (port, proto) in probe_ports(other) {
                let dns = other.name == "coredns" && port == 53;
                let them = Endpoint::Pod(other);
                let out = world.allowed(me, them, port, &proto);
                assert_eq!(out, dns, "stranger → {} {port}/{proto}", other.name);
                if other.name != "stranger" {
                    let port = 8080;
                    let allowed = world.allowed(them, me, port, "TCP");
                    assert!(!allowed, "{} → stranger", other.name);
                }
            }
        }
        for port in [80, 443, 6443, 9100, 10250] {
            assert!(
                !world.allowed(me, Endpoint::External, port, "TCP"),
                "{port}"
            );
        }
    }
}

/// What each infra component needs, in both modes.
fn assert_infra_reaches_what_it_needs(ms: &[Manifest], world: &World, ns: &str) {
    let reach = |src: &str, dst: Endpoint, port: u16, proto: &str| {
        world.allowed(Endpoint::Pod(world.pod(src)), dst, port, proto)
    };
    let pod = |name: &str| Endpoint::Pod(world.pod(name));
    let api = Endpoint::External;
    for p in infra_pods(world, ns) {
        for proto in ["UDP", "TCP"] {
            assert!(reach(&p.name, pod("coredns"), 53, proto), "{} DNS", p.name);
        }
    }
    let api_users = [
        "Deployment/prometheus-operator",
        "Deployment/kube-state-metrics",
        "Prometheus/infra",
        "DaemonSet/fluent-bit",
        "Deployment/istiod",
        "Deployment/hostpath-provisioner",
        "Deployment/nfs-provisioner",
    ];
    let present = |name: &str| world.pods.iter().any(|p| p.name == name);
    for user in api_users.into_iter().filter(|u| present(u)) {
        for port in [443, 6443] {
            assert!(reach(user, api, port, "TCP"), "{user} → API {port}");
        }
    }
    assert!(!reach("Deployment/istio-ingressgateway", api, 443, "TCP"));
    // Prometheus scrapes what its infra ServiceMonitors name, node-exporter
    // at the node's address and the kubelets included.
    let infra_scraped = scraped(ms, world, ns);
    let names: BTreeSet<&str> = infra_scraped.iter().map(|(p, _)| p.as_str()).collect();
    for expected in [
        "Deployment/prometheus-operator",
        "Prometheus/infra",
        "DaemonSet/node-exporter",
        "Deployment/kube-state-metrics",
    ] {
        assert!(names.contains(expected), "{expected} not scraped");
    }
    for (target, port) in &infra_scraped {
        assert!(
            reach("Prometheus/infra", pod(target), *port, "TCP"),
            "Prometheus → {target} {port}"
        );
    }
    assert!(reach("Prometheus/infra", api, 10250, "TCP"), "kubelets");
    // Only Prometheus scrapes.
    let ksm = pod("Deployment/kube-state-metrics");
    assert!(!reach("DaemonSet/fluent-bit", ksm, 8080, "TCP"));
    assert!(!reach("Deployment/istiod", ksm, 8080, "TCP"));
    // The gateway: from anywhere on its ports, out to istiod's xDS/CA port.
    let gateway = pod("Deployment/istio-ingressgateway");
    for port in [8080, 8443, 15021] {
        assert!(world.allowed(api, gateway, port, "TCP"), "gateway {port}");
    }
    assert!(
        !world.allowed(api, gateway, 15090, "TCP"),
        "Envoy's metrics"
    );
    let istiod = pod("Deployment/istiod");
    assert!(reach(
        "Deployment/istio-ingressgateway",
        istiod,
        15012,
        "TCP"
    ));
    assert!(!reach(
        "Deployment/istio-ingressgateway",
        istiod,
        15017,
        "TCP"
    ));
    assert!(!reach(
        "Deployment/kube-state-metrics",
        istiod,
        15012,
        "TCP"
    ));
}

#[test]
fn the_infra_components_reach_what_they_need_in_both_modes() {
    for text in [MIXED, SINGLE] {
        let ms = render(text);
        let world = World::of(&ms);
        assert_infra_reaches_what_it_needs(&ms, &world, &infra_namespace(&ms));
    }
}

#[test]
fn tenants_federate_and_fluent_bit_ships_where_its_output_points() {
    // Multi-tenant: the tenant Prometheus federates from the infra one; Fluent
    // Bit's output is the infra namespace's Elasticsearch (there is none), so
    // it reaches no tenant's.
    let world = World::of(&render(MIXED));
    let reach = |src: &str, dst: &str, port: u16| {
        let (src, dst) = (world.pod(src), world.pod(dst));
        world.allowed(Endpoint::Pod(src), Endpoint::Pod(dst), port, "TCP")
    };
    assert!(reach("Prometheus/prometheus", "Prometheus/infra", 9090));
    assert!(!reach("Prometheus/prometheus", "Prometheus/infra", 8080));
    assert!(!reach(
        "DaemonSet/fluent-bit",
        "StatefulSet/elasticsearch",
        9200
    ));

    // Single-namespace: the tenant's Grafana queries the infra Prometheus,
    // Fluent Bit ships to the tenant's Elasticsearch, and the tenant's pods
    // still reach each other.
    let world = World::of(&render(SINGLE));
    let reach = |src: &str, dst: &str, port: u16| {
        let (src, dst) = (world.pod(src), world.pod(dst));
        world.allowed(Endpoint::Pod(src), Endpoint::Pod(dst), port, "TCP")
    };
    assert!(reach("Deployment/grafana", "Prometheus/infra", 9090));
    assert!(reach(
        "DaemonSet/fluent-bit",
        "StatefulSet/elasticsearch",
        9200
    ));
    assert!(!reach("DaemonSet/fluent-bit", "StatefulSet/postgres", 5432));
    assert!(!reach("Deployment/app", "Prometheus/infra", 9090));
    assert_open_inside(&world, "team-a");
}

/// The infra NetworkPolicies rendered for `text`, by name.
fn infra_policies(text: &str) -> Vec<String> {
    render(text)
        .iter()
        .filter(|m| m.kind() == "NetworkPolicy" && m.origin.scope == Scope::Infra)
        .map(|m| m.name().to_string())
        .collect()
}

#[test]
fn only_enabled_components_get_rules() {
    assert_eq!(infra_policies(BARE), ["allow-dns", "default-deny"]);
    let all = infra_policies(MIXED);
    for name in [
        "allow-api-egress",
        "allow-federation",
        "allow-fluent-bit-egress",
        "allow-gateway",
        "allow-istiod",
        "allow-prometheus-egress",
        "allow-scrape-kube-state-metrics",
    ] {
        assert!(all.iter().any(|n| n == name), "{name}: {all:?}");
    }
    // Fluent Bit's Elasticsearch lives in the infra namespace only in
    // single-namespace mode.
    assert!(!all.iter().any(|n| n == "allow-fluent-bit-to-elasticsearch"));
    assert!(
        infra_policies(SINGLE)
            .iter()
            .any(|n| n == "allow-fluent-bit-to-elasticsearch")
    );
}

#[test]
fn the_infra_namespace_enforces_the_lowest_level_its_pods_need() {
    for (text, level) in [
        (MIXED, "privileged"),
        (SINGLE, "privileged"),
        (BARE, "baseline"),
    ] {
        let ms = render(text);
        let ns = ms
            .iter()
            .find(|m| m.kind() == "Namespace" && m.origin.scope == Scope::Infra)
            .unwrap();
        let enforced = &ns.object["metadata"]["labels"]["pod-security.kubernetes.io/enforce"];
        assert_eq!(enforced, level, "{}", ns.id());
        // `privileged` only for the host-access components.
        let below_baseline: Vec<&str> = ms
            .iter()
            .filter(|m| m.origin.scope == Scope::Infra)
            .filter_map(|m| Some((m, m.object.pointer("/spec/template/spec")?)))
            .filter(|(_, pod)| !pod_security_violations(pod, "baseline").is_empty())
            .map(|(m, _)| m.name())
            .collect();
        let expected: &[&str] = if level == "baseline" {
            &[]
        } else {
            &["fluent-bit", "node-exporter"]
        };
        assert_eq!(below_baseline, expected, "{}", ns.id());
    }
}

/// Files a scrape endpoint may name (prometheus-operator's
/// `arbitraryFSAccessThroughSMs` refuses them all when denied).
const FILE_FIELDS: &[&str] = &["bearerTokenFile", "caFile", "certFile", "keyFile"];

fn names_a_file(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Object(map) => map
            .iter()
            .any(|(k, v)| FILE_FIELDS.contains(&k.as_str()) || names_a_file(v)),
        serde_json::Value::Array(items) => items.iter().any(names_a_file),
        _ => false,
    }
}

/// A tenant's user may write ServiceMonitors in their namespace, and the
/// infra Prometheus loads those with its label. Such a monitor must not be
/// able to make it send its token anywhere (no monitor may name a file, ours
/// included: the kubelets get the token from a Secret), nor to label its
/// series or rules as another namespace's (enforced namespace label), except
/// in the infra namespace, where only admins write. The token Secret is
/// written after its account, or the token controller would delete it.
#[test]
fn a_tenants_monitor_cannot_borrow_the_infra_prometheus_token_or_namespace() {
    for text in [MIXED, SINGLE] {
        let ms = render(text);
        let ns = infra_namespace(&ms);
        let prometheus = ms
            .iter()
            .find(|m| m.kind() == "Prometheus" && m.origin.scope == Scope::Infra)
            .expect("the infra Prometheus");
        let spec = &prometheus.object["spec"];
        assert_eq!(spec["arbitraryFSAccessThroughSMs"]["deny"], true);
        assert_eq!(spec["enforcedNamespaceLabel"], "namespace");
        let exempt: BTreeSet<&str> = spec["excludedFromEnforcement"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["namespace"].as_str().unwrap())
            .collect();
        assert_eq!(exempt, BTreeSet::from([ns.as_str()]));
        for m in &ms {
            if matches!(m.kind(), "ServiceMonitor" | "PodMonitor" | "Probe") {
                assert!(!names_a_file(&m.object["spec"]), "{} names a file", m.id());
            }
        }
        let plan = cnvrgctl::pipeline::plan::build(&ms).unwrap();
        let token = ms
            .iter()
            .position(|m| m.object["type"] == "kubernetes.io/service-account-token")
            .expect("the token Secret");
        let account =
            &ms[token].object["metadata"]["annotations"]["kubernetes.io/service-account.name"];
        assert!(
            plan.steps[token].after.iter().any(|&i| {
                ms[i].kind() == "ServiceAccount" && ms[i].object["metadata"]["name"] == *account
            }),
            "the token Secret waits for {account}"
        );
    }
}
