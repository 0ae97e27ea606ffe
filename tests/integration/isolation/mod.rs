//! Isolation by default: the network policies, Pod Security levels, quotas
//! and limit ranges every tenant namespace gets, and the infra namespace's
//! policies and level (infra.rs). The policies are proved with a small
//! NetworkPolicy evaluator (eval.rs) over the pods a render implies: no pod
//! of one tenant reaches a pod of another, in either direction, on any port,
//! while a tenant's pods reach each other and the infra Prometheus reaches
//! exactly the endpoints its ServiceMonitors scrape.

mod eval;
mod infra;
mod pod_security;

use std::collections::BTreeMap;

use cnvrgctl::pipeline::manifest::{Manifest, Scope};
use cnvrgctl::pipeline::render::{SecretInputs, Templates};

use crate::common::load_texts;
use eval::{Endpoint, World, assert_isolated, assert_open_inside, probe_ports, render, scraped};
use pod_security::pod_security_violations;

/// A cnvrg tenant and a workspace tenant (two pools), with monitoring,
/// logging and Istio in infra.
const MIXED: &str = "\
apiVersion: cnvrgctl.io/v1alpha1
kind: Cluster
metadata:
  name: acme
spec:
  profile: dev
  mode: multi-tenant
  clusterDomain: ml.acme.example
  ingress:
    type: istio
  infra:
    monitoring: {enabled: true}
    logging: {enabled: true}
  tenants:
    - name: team-a
      type: cnvrg
    - name: research
      type: workspace
      workspace:
        agentPools:
          - {name: default, replicas: 2}
          - {name: gpu}
";

/// Two workspace tenants.
const WORKSPACES: &str = "\
apiVersion: cnvrgctl.io/v1alpha1
kind: Cluster
metadata:
  name: acme
spec:
  profile: prod
  ingress:
    type: nodeport
  tenants:
    - name: research
      type: workspace
      workspace:
        agentPools: [{name: default}]
    - name: vision
      type: workspace
      namespace: vision-ws
      workspace:
        agentPools: [{name: default}, {name: batch}]
";

#[test]
fn no_policy_admits_a_cnvrg_tenant_and_a_workspace_to_each_other() {
    let world = World::of(&render(MIXED));
    assert_isolated(&world, "team-a", "research");
    assert_open_inside(&world, "team-a");
    assert_open_inside(&world, "research");
}

#[test]
fn no_policy_admits_one_workspace_to_another() {
    let world = World::of(&render(WORKSPACES));
    assert_isolated(&world, "research", "vision");
    assert_open_inside(&world, "research");
    assert_open_inside(&world, "vision");
}

#[test]
fn the_infra_prometheus_reaches_exactly_the_metrics_ports() {
    let ms = render(MIXED);
    let world = World::of(&ms);
    let prometheus = world.pod("Prometheus/infra");
    let scraped = scraped(&ms, &world, "cnvrg-team-a");
    assert_eq!(scraped.len(), 5, "{scraped:?}");
    for tenant in ["team-a", "research"] {
        for pod in world.pods_of(tenant) {
            for (port, proto) in probe_ports(pod) {
                let expected = proto == "TCP" && scraped.contains(&(pod.name.clone(), port));
                assert_eq!(
                    world.allowed(Endpoint::Pod(prometheus), Endpoint::Pod(pod), port, &proto),
                    expected,
                    "infra Prometheus → {} {port}/{proto}",
                    pod.name
                );
            }
        }
    }
    // Other infra pods get nowhere.
    let ksm = world.pod("Deployment/kube-state-metrics");
    let postgres = world.pod("StatefulSet/postgres");
    assert!(!world.allowed(Endpoint::Pod(ksm), Endpoint::Pod(postgres), 9187, "TCP"));
}

#[test]
fn the_rest_of_the_world_as_each_component_needs_it() {
    let world = World::of(&render(MIXED));
    let reach = |src: &str, dst: Endpoint, port: u16, proto: &str| {
        world.allowed(Endpoint::Pod(world.pod(src)), dst, port, proto)
    };
    let dns = Endpoint::Pod(world.pod("coredns"));
    let api = Endpoint::External;
    let gateway = Endpoint::Pod(world.pod("Deployment/istio-ingressgateway"));
    for tenant in ["team-a", "research"] {
        for pod in world.pods_of(tenant) {
            assert!(
                world.allowed(Endpoint::Pod(pod), dns, 53, "UDP"),
                "{}",
                pod.name
            );
            assert!(
                world.allowed(Endpoint::Pod(pod), dns, 53, "TCP"),
                "{}",
                pod.name
            );
        }
    }
    // The API server and the outside world: only what needs them.
    for pod in [
        "Deployment/research-agent-default",
        "Deployment/app",
        "Job/migrate",
    ] {
        assert!(reach(pod, api, 6443, "TCP"), "{pod}");
        assert!(reach(pod, api, 443, "TCP"), "{pod}");
    }
    assert!(reach("user workload of research", api, 443, "TCP"));
    assert!(reach("user workload of team-a", api, 6443, "TCP"));
    for pod in [
        "Deployment/research-orion-server",
        "StatefulSet/research-postgres",
        "StatefulSet/postgres",
        "Deployment/kibana",
        "Deployment/grafana",
        "Prometheus/prometheus",
    ] {
        for port in [80, 443, 6443] {
            assert!(!reach(pod, api, port, "TCP"), "{pod} reaches out on {port}");
        }
    }
    // The tenant Prometheus federates from the infra one, and nothing else
    // of the tenant goes to infra Prometheus.
    let infra_prometheus = Endpoint::Pod(world.pod("Prometheus/infra"));
    assert!(reach(
        "Prometheus/prometheus",
        infra_prometheus,
        9090,
        "TCP"
    ));
    assert!(!reach("Deployment/grafana", infra_prometheus, 9090, "TCP"));
    assert!(!reach(
        "Deployment/research-orion-server",
        infra_prometheus,
        9090,
        "TCP"
    ));
    // The gateway reaches the published services on their http port only.
    let gw = world.pod("Deployment/istio-ingressgateway");
    for (pod, port) in [
        ("Deployment/app", 8080),
        ("StatefulSet/minio", 9000),
        ("Deployment/kibana", 5601),
        ("Deployment/grafana", 3000),
    ] {
        let dst = Endpoint::Pod(world.pod(pod));
        assert!(world.allowed(Endpoint::Pod(gw), dst, port, "TCP"), "{pod}");
    }
    let minio = Endpoint::Pod(world.pod("StatefulSet/minio"));
    assert!(
        !world.allowed(Endpoint::Pod(gw), minio, 9001, "TCP"),
        "console"
    );
    let es = Endpoint::Pod(world.pod("StatefulSet/elasticsearch"));
    assert!(!world.allowed(Endpoint::Pod(gw), es, 9200, "TCP"));
    // ... and the app reaches MinIO's public address through it.
    assert!(reach("Deployment/app", gateway, 8080, "TCP"));
    assert!(!reach("StatefulSet/redis", gateway, 8080, "TCP"));
}

#[test]
fn single_namespace_mode_adds_no_quota_or_limit_range() {
    // Its network policies are the infra namespace's and the tenant's
    // together (infra.rs).
    let (_, ms) = crate::common::render_example("single-namespace");
    for kind in ["ResourceQuota", "LimitRange"] {
        assert!(!ms.iter().any(|m| m.kind() == kind), "{kind} rendered");
    }
    // The infra namespace keeps the level its host-access components need.
    let ns = ms.iter().find(|m| m.kind() == "Namespace").unwrap();
    assert_eq!(
        ns.object["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "privileged"
    );
}

/// The Pod Security level each tenant type's namespace enforces.
const LEVELS: &[(&str, &str)] = &[("cnvrg", "baseline"), ("workspace", "restricted")];

#[test]
fn tenant_namespaces_carry_the_pod_security_level_of_their_type() {
    for ms in [render(MIXED), render(WORKSPACES)] {
        for ns in ms
            .iter()
            .filter(|m| m.kind() == "Namespace" && m.origin.scope != Scope::Infra)
        {
            let labels = &ns.object["metadata"]["labels"];
            let kind = labels["app.kubernetes.io/part-of"].as_str().unwrap();
            let level = LEVELS.iter().find(|(k, _)| *k == kind).unwrap().1;
            for mode in ["enforce", "warn", "audit"] {
                assert_eq!(
                    labels[format!("pod-security.kubernetes.io/{mode}")],
                    level,
                    "{} {mode}",
                    ns.id()
                );
            }
            assert_eq!(
                labels["pod-security.kubernetes.io/enforce-version"],
                "v1.33"
            );
        }
    }
}

#[test]
fn every_tenant_pod_meets_the_level_its_namespace_enforces() {
    for ms in [render(MIXED), render(WORKSPACES)] {
        let levels: BTreeMap<&str, &str> = ms
            .iter()
            .filter(|m| m.kind() == "Namespace")
            .filter_map(|m| {
                let level = m.object["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
                    .as_str()?;
                Some((m.name(), level))
            })
            .collect();
        let mut checked = 0;
        for m in ms.iter().filter(|m| m.origin.scope != Scope::Infra) {
            let Some(pod) = m.object.pointer("/spec/template/spec") else {
                continue;
            };
            let level = levels[m.namespace().unwrap()];
            let wrong = pod_security_violations(pod, level);
            assert!(wrong.is_empty(), "{} ({level}): {wrong:?}", m.id());
            // Every pod cnvrgctl renders meets `restricted`, in a `baseline`
            // namespace too: only the users' workloads there need less.
            let wrong = pod_security_violations(pod, "restricted");
            assert!(wrong.is_empty(), "{} (restricted): {wrong:?}", m.id());
            checked += 1;
        }
        assert!(checked >= 5, "only {checked} pod templates");
        // The Prometheus pods prometheus-operator makes: the pod-level
        // settings come from the resource, the containers' (no escalation,
        // all capabilities dropped) from the operator.
        for m in ms.iter().filter(|m| m.kind() == "Prometheus") {
            let psc = &m.object["spec"]["securityContext"];
            assert_eq!(psc["runAsNonRoot"], true, "{}", m.id());
            assert_ne!(psc["runAsUser"], 0, "{}", m.id());
            assert_eq!(
                psc["seccompProfile"]["type"],
                "RuntimeDefault",
                "{}",
                m.id()
            );
        }
    }
}

#[test]
fn the_flow_run_pods_are_made_restricted_too() {
    // The base job template the workers' init container writes gives flow-run
    // pods the restricted settings (it is Python in the container's args).
    let ms = render(WORKSPACES);
    for m in ms
        .iter()
        .filter(|m| m.name().contains("-agent-") && m.kind() == "Deployment")
    {
        let script = m.object["spec"]["template"]["spec"]["initContainers"][0]["args"][2]
            .as_str()
            .unwrap();
        for needle in [
            "\"runAsNonRoot\": True",
            "\"seccompProfile\": {\"type\": \"RuntimeDefault\"}",
            "\"allowPrivilegeEscalation\": False",
            "\"capabilities\": {\"drop\": [\"ALL\"]}",
            "pod[\"automountServiceAccountToken\"] = False",
        ] {
            assert!(script.contains(needle), "{}: {needle}", m.id());
        }
    }
}

#[test]
fn only_pods_that_use_the_api_get_a_token() {
    let ms = render(MIXED);
    let needs_api = [
        "app",
        "sidekiq",
        "searchkiq",
        "systemkiq",
        "migrate",
        "research-agent-default",
        "research-agent-gpu",
    ];
    for m in ms.iter().filter(|m| m.origin.scope != Scope::Infra) {
        let Some(pod) = m.object.pointer("/spec/template/spec") else {
            continue;
        };
        let expected = needs_api.contains(&m.name());
        assert_eq!(pod["automountServiceAccountToken"], expected, "{}", m.id());
    }
    for m in ms
        .iter()
        .filter(|m| m.kind() == "Prometheus" && m.origin.scope != Scope::Infra)
    {
        assert_eq!(m.object["spec"]["automountServiceAccountToken"], false);
    }
}

#[test]
fn every_tenant_namespace_has_its_quota_and_limit_range() {
    let spec = load_texts(MIXED, &[]).unwrap();
    let ms = render(MIXED);
    for tenant in &spec.tenants {
        let quota = tenant
            .quota
            .as_ref()
            .expect("multi-tenant tenants have a quota");
        let in_ns = |kind: &str| {
            let found: Vec<&Manifest> = ms
                .iter()
                .filter(|m| m.kind() == kind && m.namespace() == Some(tenant.namespace.as_str()))
                .collect();
            assert_eq!(found.len(), 1, "{} {kind}", tenant.name);
            found[0]
        };
        let hard = &in_ns("ResourceQuota").object["spec"]["hard"];
        for (key, value) in [
            ("requests.cpu", quota.requests.cpu.to_string()),
            ("requests.memory", quota.requests.memory.to_string()),
            ("limits.cpu", quota.limits.cpu.to_string()),
            ("limits.memory", quota.limits.memory.to_string()),
            ("requests.storage", quota.storage.to_string()),
            (
                "persistentvolumeclaims",
                quota.persistent_volume_claims.to_string(),
            ),
            ("pods", quota.pods.to_string()),
        ] {
            assert_eq!(hard[key], value.as_str(), "{} {key}", tenant.name);
        }
        let limits = &in_ns("LimitRange").object["spec"]["limits"][0];
        assert_eq!(limits["type"], "Container");
        let d = &quota.container_defaults;
        assert_eq!(
            limits["defaultRequest"]["cpu"],
            d.requests.cpu.to_string().as_str()
        );
        assert_eq!(
            limits["defaultRequest"]["memory"],
            d.requests.memory.to_string().as_str()
        );
        assert_eq!(limits["default"]["cpu"], d.limits.cpu.to_string().as_str());
        assert_eq!(
            limits["default"]["memory"],
            d.limits.memory.to_string().as_str()
        );
    }
}

/// A spec directory using profile `tight`: the built-in dev profile with the
/// workspace quota's last lines replaced by `quota`.
fn with_tight_profile(quota: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let dev = std::fs::read_to_string(crate::common::root().join("profiles/dev.yaml")).unwrap();
    let head = &dev[..dev.find("    workspace:\n      requests:").unwrap()];
    let text = format!("{head}    workspace:\n{quota}").replace("name: dev", "name: tight");
    std::fs::create_dir(dir.path().join("profiles")).unwrap();
    std::fs::write(dir.path().join("profiles/tight.yaml"), text).unwrap();
    std::fs::write(
        dir.path().join("cluster.yaml"),
        MIXED.replace("profile: dev", "profile: tight"),
    )
    .unwrap();
    dir
}

#[test]
fn an_impossible_quota_in_a_profile_override_fails_before_anything_is_applied() {
    // Room for 4 pods and 300m of CPU: the workspace needs more.
    let dir = with_tight_profile(
        "      requests: {cpu: 300m, memory: 8Gi}\n      limits: {cpu: \"16\", memory: 24Gi}\n      storage: 50Gi\n      persistentVolumeClaims: 10\n      pods: 4\n      containerDefaults:\n        requests: {cpu: 100m, memory: 128Mi}\n        limits: {cpu: 500m, memory: 512Mi}\n",
    );
    let spec =
        cnvrgctl::pipeline::spec::load(&dir.path().join("cluster.yaml")).expect("the spec loads");
    let ms =
        cnvrgctl::pipeline::render::render(&spec, &Templates::built_in(), &SecretInputs::default())
            .expect("renders");
    let err = cnvrgctl::pipeline::validate::validate(&ms).expect_err("the quota is too small");
    insta::assert_snapshot!(err.to_string());

    // `apply` stops there, exit 2, before it reads a kubeconfig.
    let out = assert_cmd::cargo::cargo_bin_cmd!("cnvrgctl")
        .env_remove("KUBECONFIG")
        .env("NO_COLOR", "1")
        .args([
            "apply",
            "--yes",
            "--kubeconfig",
            "/nonexistent/kubeconfig",
            "-f",
        ])
        .arg(dir.path().join("cluster.yaml"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("tenant `research` needs pods 8 but its quota allows 4"),
        "{stderr}"
    );
}

#[test]
fn a_limit_range_default_above_its_limit_is_a_spec_error_in_the_profile() {
    let dir = with_tight_profile(
        "      requests: {cpu: \"4\", memory: 8Gi}\n      limits: {cpu: \"16\", memory: 24Gi}\n      storage: 50Gi\n      persistentVolumeClaims: 10\n      pods: 30\n      containerDefaults:\n        requests: {cpu: \"2\", memory: 128Mi}\n        limits: {cpu: 500m, memory: 512Mi}\n",
    );
    let err = cnvrgctl::pipeline::spec::load(&dir.path().join("cluster.yaml"))
        .expect_err("the default request is above the default limit")
        .to_string();
    let err = err.replace(&dir.path().display().to_string(), "<spec dir>");
    insta::assert_snapshot!(err);
}
