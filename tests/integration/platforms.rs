//! Platforms: every example renders, validates and plans on every platform,
//! in both modes and with every ingress type; on OpenShift every pod is
//! admitted by restricted-v2 or belongs to a host agent bound to its named
//! SCC; on the clouds the gateway's load balancer is made internal by each
//! cloud's annotations.

use cnvrgctl::pipeline::manifest::Manifest;
use cnvrgctl::pipeline::platform::restricted::{Scc, violations_under};
use cnvrgctl::pipeline::platform::{BOUND_TO_SCC, bound as bound_to, pod_spec, restricted};
use cnvrgctl::pipeline::render::{SecretInputs, Templates};
use cnvrgctl::pipeline::spec::Spec;
use serde_json::Value;

use crate::common::{EXAMPLES, example, load_texts, workspace_cluster};

const PLATFORMS: &[&str] = &["generic", "openshift", "eks", "aks", "gke"];

/// Example `name` with `spec.platform` set: its cluster file and tenant
/// files, loaded from text.
fn example_on(name: &str, platform: &str) -> Spec {
    let path = example(name);
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "\nspec:\n",
        &format!("\nspec:\n  platform: {platform}\n"),
        1,
    );
    let tenants_dir = path.parent().unwrap().join("tenants");
    let tenants: Vec<(String, String)> = std::fs::read_dir(&tenants_dir)
        .map(|dir| {
            dir.flatten()
                .map(|f| {
                    let name = f.file_name().to_string_lossy().into_owned();
                    (name, std::fs::read_to_string(f.path()).unwrap())
                })
                .collect()
        })
        .unwrap_or_default();
    let tenants: Vec<(&str, &str)> = tenants
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    load_texts(&text, &tenants).unwrap_or_else(|e| panic!("{name} on {platform}: {e}"))
}

/// Renders, validates (strict schemas) and plans.
fn render(spec: &Spec, what: &str) -> Vec<Manifest> {
    let ms =
        cnvrgctl::pipeline::render::render(spec, &Templates::built_in(), &SecretInputs::default())
            .unwrap_or_else(|e| panic!("{what}: {e}"));
    cnvrgctl::pipeline::validate::validate(&ms).unwrap_or_else(|e| panic!("{what}: {e}"));
    cnvrgctl::pipeline::plan::build(&ms).unwrap_or_else(|e| panic!("{what}: {e}"));
    ms
}

#[test]
fn every_example_renders_validates_and_plans_on_every_platform() {
    for name in EXAMPLES {
        for platform in PLATFORMS {
            let spec = example_on(name, platform);
            assert_eq!(spec.cluster.platform.as_str(), *platform);
            render(&spec, &format!("{name} on {platform}"));
        }
    }
}

#[test]
fn every_platform_mode_and_ingress_renders_validates_and_plans() {
    for platform in PLATFORMS {
        for ingress in ["istio", "ingress", "nodeport", "openshift"] {
            let multi = workspace_cluster(&format!(
                "  platform: {platform}\n  ingress: {{type: {ingress}}}\n"
            ));
            let single = format!(
                "apiVersion: cnvrgctl.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: acme\nspec:\n  platform: {platform}\n  mode: single-namespace\n  clusterDomain: ml.acme.example\n  ingress: {{type: {ingress}}}\n  tenants:\n    - {{name: main, type: cnvrg}}\n"
            );
            for (mode, text) in [("multi-tenant", multi), ("single-namespace", single)] {
                let spec = load_texts(&text, &[])
                    .unwrap_or_else(|e| panic!("{platform}/{mode}/{ingress}: {e}"));
                render(&spec, &format!("{platform}/{mode}/{ingress}"));
            }
        }
    }
}

/// Whether a RoleBinding grants `account` in `namespace` the SCC.
fn bound(ms: &[Manifest], namespace: &str, account: &str, scc: &str) -> bool {
    ms.iter().any(|m| {
        m.kind() == "RoleBinding"
            && m.namespace() == Some(namespace)
            && m.object["roleRef"]["name"] == format!("system:openshift:scc:{scc}")
            && m.object["subjects"][0]["name"] == account
    })
}

#[test]
fn on_openshift_every_pod_is_restricted_v2_or_bound_to_the_scc_that_admits_it() {
    let everything = workspace_cluster(
        "  platform: openshift\n  infra:\n    monitoring: {enabled: true, nodeExporter: {enabled: true}}\n    logging: {enabled: true}\n    storage:\n      hostpath: {enabled: true}\n      nfs: {enabled: true, server: nfs.example, path: /export}\n",
    );
    let mut specs: Vec<(String, Spec)> = EXAMPLES
        .iter()
        .map(|name| (name.to_string(), example_on(name, "openshift")))
        .collect();
    specs.push((
        "every host agent".into(),
        load_texts(&everything, &[]).unwrap(),
    ));
    let mut agents_seen = std::collections::BTreeSet::new();
    for (what, spec) in &specs {
        let ms = render(spec, what);
        for m in &ms {
            let Some(pod) = pod_spec(&m.object) else {
                continue;
            };
            let violations = restricted::violations(pod);
            match bound_to(&m.origin.component) {
                Some(agent) => {
                    let account = pod["serviceAccountName"].as_str().unwrap_or("default");
                    assert!(
                        bound(&ms, m.namespace().unwrap(), account, agent.scc),
                        "{what}: {} is not bound to {}",
                        m.id(),
                        agent.scc
                    );
                    if agent.scc == "nonroot-v2" {
                        let violations = violations_under(pod, Scc::NonrootV2);
                        assert!(violations.is_empty(), "{what}: {}: {violations:#?}", m.id());
                    }
                    agents_seen.insert(agent.component);
                }
                None => assert!(violations.is_empty(), "{what}: {}: {violations:#?}", m.id()),
            }
        }
    }
    assert_eq!(agents_seen.len(), BOUND_TO_SCC.len(), "{agents_seen:?}");
}

#[test]
fn openshift_defaults_routes_and_leaves_node_exporter_to_the_cluster() {
    let spec = load_texts(&workspace_cluster("  platform: openshift\n"), &[]).unwrap();
    assert_eq!(format!("{:?}", spec.cluster.ingress.kind), "Openshift");
    assert!(!spec.infra.monitoring.node_exporter.enabled);
    let on = load_texts(
        &workspace_cluster(
            "  platform: openshift\n  infra:\n    monitoring: {nodeExporter: {enabled: true}}\n",
        ),
        &[],
    )
    .unwrap();
    let ms = render(&on, "node-exporter on openshift");
    let ds = ms
        .iter()
        .find(|m| m.kind() == "DaemonSet" && m.name() == "node-exporter")
        .expect("node-exporter");
    let container = &ds.object["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["ports"][0]["hostPort"], 9110,
        "clear of OpenShift's own 9100"
    );
    assert!(ds.object["spec"]["template"]["spec"]["securityContext"]["runAsUser"].is_null());
}

#[test]
fn an_internal_load_balancer_carries_each_clouds_annotations() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "eks",
            "service.beta.kubernetes.io/aws-load-balancer-scheme",
            "internal",
        ),
        (
            "aks",
            "service.beta.kubernetes.io/azure-load-balancer-internal",
            "true",
        ),
        ("gke", "networking.gke.io/load-balancer-type", "Internal"),
    ];
    for (platform, key, value) in cases {
        let text = workspace_cluster(&format!(
            "  platform: {platform}\n  ingress:\n    type: istio\n    loadBalancer:\n      internal: true\n      annotations: {{example.com/team: ml}}\n"
        ));
        let ms = render(&load_texts(&text, &[]).unwrap(), platform);
        let service = ms
            .iter()
            .find(|m| m.kind() == "Service" && m.object["spec"]["type"] == "LoadBalancer")
            .expect("the gateway Service");
        let annotations: &Value = &service.object["metadata"]["annotations"];
        assert_eq!(annotations[*key], *value, "{platform}: {annotations}");
        assert_eq!(annotations["example.com/team"], "ml", "{platform}");
    }
}

#[test]
fn platform_mistakes_are_spec_errors_or_warnings() {
    let err = load_texts(&workspace_cluster("  platform: openshfit\n"), &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("did you mean `openshift`?"), "{err}");
    let err = load_texts(
        &workspace_cluster("  platform: openshift\n  ingress: {type: istio}\n  infra:\n    istio: {enabled: false}\n"),
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("spec.ingress.type") && err.contains("spec.infra.istio.enabled"),
        "{err}"
    );
    let spec = load_texts(
        &workspace_cluster("  ingress:\n    type: istio\n    loadBalancer: {internal: true}\n"),
        &[],
    )
    .unwrap();
    assert!(
        spec.warnings
            .iter()
            .any(|w| w.to_string().contains("platform `generic` has none")),
        "{:?}",
        spec.warnings
    );
}

/// One line per JSON value, keys sorted (serde_json's map is ordered), or
/// `-` when absent.
fn compact(value: &Value) -> String {
    if value.is_null() {
        "-".into()
    } else {
        value.to_string()
    }
}

/// What a platform changes, as a reviewer reads it: for every pod-bearing
/// object its pod-level and container-level security settings, host access,
/// service account and volume kinds; the RoleBindings to OpenShift SCCs; and
/// every ingress object (Services that leave the cluster, Routes, Gateways).
fn platform_view(ms: &[Manifest]) -> String {
    let mut out = String::new();
    for m in ms {
        let Some(pod) = pod_spec(&m.object) else {
            continue;
        };
        out.push_str(&format!(
            "{}/{} ({})\n  pod: {} sa={} host={}\n",
            m.kind(),
            m.name(),
            m.namespace().unwrap_or("-"),
            compact(&pod["securityContext"]),
            pod["serviceAccountName"].as_str().unwrap_or("-"),
            ["hostNetwork", "hostPID", "hostIPC"]
                .iter()
                .filter(|k| pod[**k] == true)
                .copied()
                .collect::<Vec<_>>()
                .join(",")
        ));
        let volumes: Vec<String> = pod["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_object())
            .filter_map(|v| v.keys().find(|k| *k != "name").cloned())
            .collect();
        out.push_str(&format!("  volumes: {}\n", volumes.join(",")));
        for list in ["initContainers", "containers"] {
            for c in pod[list].as_array().into_iter().flatten() {
                let host_ports: Vec<String> = c["ports"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p["hostPort"].as_u64())
                    .map(|p| p.to_string())
                    .collect();
                out.push_str(&format!(
                    "  {list}/{}: {}{}\n",
                    c["name"].as_str().unwrap_or("?"),
                    compact(&c["securityContext"]),
                    if host_ports.is_empty() {
                        String::new()
                    } else {
                        format!(" hostPorts={}", host_ports.join(","))
                    }
                ));
            }
        }
    }
    for m in ms {
        let object = &m.object;
        let line = match m.kind() {
            "RoleBinding"
                if object["roleRef"]["name"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("system:openshift:scc:")) =>
            {
                format!("binds {}", compact(&object["roleRef"]["name"]))
            }
            "Service"
                if matches!(
                    object["spec"]["type"].as_str(),
                    Some("LoadBalancer" | "NodePort")
                ) =>
            {
                format!(
                    "type {} annotations {}",
                    compact(&object["spec"]["type"]),
                    compact(&object["metadata"]["annotations"])
                )
            }
            "Route" | "Gateway" | "Ingress" => compact(&object["spec"]),
            _ => continue,
        };
        out.push_str(&format!(
            "{}/{} ({}): {line}\n",
            m.kind(),
            m.name(),
            m.namespace().unwrap_or("-")
        ));
    }
    out
}

/// The reviewed goldens: the multi-tenant example's security contexts and
/// ingress objects on every platform (on the clouds with an internal load
/// balancer, so that their annotations show).
#[test]
fn golden_security_and_ingress_per_platform() {
    for platform in PLATFORMS {
        let mut spec = example_on("multi-tenant", platform);
        if matches!(*platform, "eks" | "aks" | "gke") {
            spec.cluster.ingress.load_balancer.internal = true;
        }
        let ms = render(&spec, platform);
        insta::assert_snapshot!(format!("platform_{platform}"), platform_view(&ms));
    }
}
