//! The full catalogue: every mode × ingress type × profile that matters renders
//! and passes the strict checks (built-in kinds against k8s-openapi, custom
//! resources against the CRDs of the same render); the ingress objects of each
//! type and the sizes of each profile are golden; requests never exceed limits;
//! nothing escapes the image hub; the cnvrg tenant is complete.

use cnvrgctl::pipeline::manifest::Manifest;
use cnvrgctl::pipeline::render::{SecretInputs, Templates};
use cnvrgctl::pipeline::spec::Quantity;
use serde_json::Value;

use crate::common::{EXAMPLES, load_texts, render_example};

/// A cluster spec with one cnvrg tenant `team-a`; `extra` goes under `spec:`.
fn cnvrg_cluster(profile: &str, mode: &str, extra: &str) -> String {
    format!(
        "apiVersion: cnvrgctl.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: acme\nspec:\n  profile: {profile}\n  mode: {mode}\n  clusterDomain: ml.acme.example\n{extra}  tenants:\n    - name: team-a\n      type: cnvrg\n"
    )
}

/// The combinations that change what is rendered: each mode, each ingress
/// type (with and without TLS where it matters), each profile, the
/// air-gapped image hub, and monitoring/logging switched off.
const MATRIX: &[(&str, &str, &str, &str)] = &[
    (
        "multi-istio-prod",
        "prod",
        "multi-tenant",
        "  ingress: {type: istio}\n",
    ),
    (
        "multi-istio-https-dev",
        "dev",
        "multi-tenant",
        "  ingress: {type: istio, https: {enabled: true, certSecret: wildcard-tls}}\n",
    ),
    (
        "multi-ingress-https-dev",
        "dev",
        "multi-tenant",
        "  ingress: {type: ingress, className: nginx, https: {enabled: true, certSecret: wildcard-tls}}\n",
    ),
    (
        "multi-openshift-prod",
        "prod",
        "multi-tenant",
        "  ingress: {type: openshift, https: {enabled: true, certSecret: router-certs}}\n",
    ),
    (
        "multi-nodeport-dev",
        "dev",
        "multi-tenant",
        "  ingress: {type: nodeport}\n",
    ),
    (
        "single-nodeport-dev",
        "dev",
        "single-namespace",
        "  ingress: {type: nodeport}\n",
    ),
    (
        "single-istio-prod",
        "prod",
        "single-namespace",
        "  ingress: {type: istio}\n",
    ),
    (
        "multi-hub-nfs-dev",
        "dev",
        "multi-tenant",
        "  imageHub: registry.local/cnvrg\n  storageClass: fast-ssd\n  registry: {server: registry.local, existingSecret: local-pull}\n  infra: {storage: {nfs: {enabled: true, server: nfs.local, path: /srv/nfs}}}\n",
    ),
    (
        "multi-no-monitoring-dev",
        "dev",
        "multi-tenant",
        "  ingress: {type: ingress}\n  infra: {monitoring: {enabled: false}, logging: {enabled: false}}\n",
    ),
];

fn render(text: &str) -> Vec<Manifest> {
    let spec = load_texts(text, &[]).expect("spec loads");
    let ms =
        cnvrgctl::pipeline::render::render(&spec, &Templates::built_in(), &SecretInputs::default())
            .expect("renders");
    cnvrgctl::pipeline::validate::validate(&ms).expect("validates");
    cnvrgctl::pipeline::plan::build(&ms).expect("plans");
    ms
}

fn matrix() -> impl Iterator<Item = (&'static str, Vec<Manifest>)> {
    MATRIX
        .iter()
        .map(|(name, profile, mode, extra)| (*name, render(&cnvrg_cluster(profile, mode, extra))))
}

fn find<'a>(ms: &'a [Manifest], kind: &str, name: &str) -> &'a Manifest {
    ms.iter()
        .find(|m| m.kind() == kind && m.name() == name)
        .unwrap_or_else(|| panic!("no {kind}/{name}"))
}

fn has(ms: &[Manifest], kind: &str, name: &str) -> bool {
    ms.iter().any(|m| m.kind() == kind && m.name() == name)
}

#[test]
fn every_combination_renders_validates_and_plans() {
    // `render` above asserts all three; count objects so a combination that
    // silently renders nothing fails too.
    for (name, ms) in matrix() {
        assert!(ms.len() > 30, "{name}: only {} objects", ms.len());
    }
}

#[test]
fn the_cnvrg_tenant_is_complete() {
    let (_, ms) = render_example("multi-tenant");
    let tenant: Vec<Manifest> = ms
        .into_iter()
        .filter(|m| m.origin.scope.to_string() == "tenant.team-a")
        .collect();
    for (kind, name) in [
        ("Deployment", "app"),
        ("Service", "app"),
        ("ServiceAccount", "cnvrg-app"),
        ("PodDisruptionBudget", "app"),
        ("Deployment", "sidekiq"),
        ("Deployment", "searchkiq"),
        ("Deployment", "systemkiq"),
        ("Job", "migrate"),
        ("StatefulSet", "postgres"),
        ("Secret", "pg-creds"),
        ("StatefulSet", "redis"),
        ("Secret", "redis-creds"),
        ("StatefulSet", "minio"),
        ("StatefulSet", "elasticsearch"),
        ("Deployment", "kibana"),
        ("Prometheus", "prometheus"),
        ("Deployment", "grafana"),
        ("ServiceMonitor", "postgres"),
        ("Gateway", "istio-gw-cnvrg-team-a"),
        ("VirtualService", "app"),
    ] {
        assert!(has(&tenant, kind, name), "team-a lacks {kind}/{name}");
    }
    let app = find(&tenant, "Deployment", "app");
    let c = &app.object["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/healthz");
    let minio = find(&tenant, "StatefulSet", "minio");
    let m = &minio.object["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        m["readinessProbe"]["httpGet"]["path"],
        "/minio/health/ready"
    );
    assert_eq!(m["livenessProbe"]["httpGet"]["path"], "/minio/health/live");
}

#[test]
fn combined_sidekiq_when_not_split() {
    let ms = render(&cnvrg_cluster("dev", "multi-tenant", "").replace(
        "type: cnvrg\n",
        "type: cnvrg\n      cnvrg: {sidekiq: {split: false}}\n",
    ));
    assert!(has(&ms, "Deployment", "sidekiq"));
    assert!(!has(&ms, "Deployment", "searchkiq"));
    assert!(!has(&ms, "Deployment", "systemkiq"));
}

#[test]
fn elasticsearch_heap_is_half_the_memory_request() {
    let (_, ms) = render_example("multi-tenant");
    let es = find(&ms, "StatefulSet", "elasticsearch");
    let text = es.object.to_string();
    // prod: 8Gi request → 4096m heap.
    assert!(text.contains("-Xms4096m -Xmx4096m"), "{text}");
}

#[test]
fn hostnames_are_service_dot_tenant_domain() {
    let ms = render(&cnvrg_cluster(
        "dev",
        "multi-tenant",
        "  ingress: {type: istio}\n",
    ));
    let gw = find(&ms, "Gateway", "istio-gw-cnvrg-team-a");
    assert_eq!(
        gw.object["spec"]["servers"][0]["hosts"][0],
        "*.team-a.ml.acme.example"
    );
    let vs = find(&ms, "VirtualService", "app");
    assert_eq!(vs.object["spec"]["hosts"][0], "app.team-a.ml.acme.example");
    let single = render(&cnvrg_cluster(
        "dev",
        "single-namespace",
        "  ingress: {type: ingress}\n",
    ));
    let ing = find(&single, "Ingress", "app");
    assert_eq!(
        ing.object["spec"]["rules"][0]["host"],
        "app.ml.acme.example"
    );
}

/// The objects that differ between ingress types: ingress objects and the
/// exposed Services' types.
fn ingress_view(ms: &[Manifest]) -> String {
    let mut out = String::new();
    for m in ms {
        if m.origin.scope.to_string() != "tenant.team-a" {
            continue;
        }
        if m.origin.component == "ingress" {
            out.push_str(&cnvrgctl::pipeline::output::yaml_stream(
                std::slice::from_ref(m),
            ));
        } else if m.kind() == "Service" {
            let t = m.object["spec"]["type"].as_str().unwrap_or("ClusterIP");
            out.push_str(&format!("# Service/{} type {t}\n", m.name()));
        }
    }
    out
}

#[test]
fn golden_ingress_per_type() {
    for (name, ms) in matrix() {
        if name.contains("hub") || name.contains("no-monitoring") {
            continue;
        }
        insta::assert_snapshot!(format!("ingress_{name}"), ingress_view(&ms));
    }
}

/// Every workload container of a render: `Kind/name container: replicas,
/// requests / limits`.
fn sizes(ms: &[Manifest]) -> String {
    let mut out = String::new();
    for m in ms {
        let Some(pod) = m.object.pointer("/spec/template/spec") else {
            continue;
        };
        let replicas = m.object["spec"]["replicas"]
            .as_u64()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "-".into());
        for c in pod["containers"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "{} {} ×{replicas}: {} / {}\n",
                m.id(),
                c["name"].as_str().unwrap_or("?"),
                c["resources"]["requests"],
                c["resources"]["limits"],
            ));
        }
    }
    out
}

#[test]
fn golden_sizes_per_profile() {
    for profile in ["dev", "prod"] {
        let ms = render(&cnvrg_cluster(
            profile,
            "multi-tenant",
            "  ingress: {type: istio}\n",
        ));
        insta::assert_snapshot!(format!("sizes_{profile}"), sizes(&ms));
    }
}

fn quantity(v: &Value) -> Option<f64> {
    v.as_str()
        .map(|s| {
            Quantity::parse(s)
                .expect("rendered quantities parse")
                .value()
        })
        .or_else(|| v.as_f64())
}

/// Calls `f` with every (key, value) pair anywhere in `v`.
fn each_field(v: &Value, f: &mut impl FnMut(&str, &Value)) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                f(k, child);
                each_field(child, f);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| each_field(i, f)),
        _ => {}
    }
}

/// Every container spec in an object, pod templates and custom resources alike.
fn containers(v: &Value, out: &mut Vec<Value>) {
    each_field(v, &mut |k, child| {
        if matches!(k, "containers" | "initContainers") {
            out.extend(child.as_array().into_iter().flatten().cloned());
        }
    });
}

#[test]
fn requests_never_exceed_limits() {
    let all = matrix().chain(EXAMPLES.iter().map(|e| (*e, render_example(e).1)));
    for (name, ms) in all {
        for m in &ms {
            let mut cs = Vec::new();
            containers(&m.object, &mut cs);
            // Prometheus custom resources carry `resources` at spec level.
            if let Some(r) = m.object.pointer("/spec/resources") {
                cs.push(serde_json::json!({"name": "spec", "resources": r}));
            }
            for c in cs {
                for key in ["cpu", "memory"] {
                    let req = quantity(&c["resources"]["requests"][key]);
                    let lim = quantity(&c["resources"]["limits"][key]);
                    if let (Some(r), Some(l)) = (req, lim) {
                        assert!(
                            r <= l,
                            "{name}: {} container {}: {key} request above limit",
                            m.id(),
                            c["name"]
                        );
                    }
                }
            }
        }
    }
}

/// Every string under an `image` key.
fn images(v: &Value, out: &mut Vec<String>) {
    each_field(v, &mut |k, child| {
        if let ("image", Some(s)) = (k, child.as_str()) {
            out.push(s.to_string());
        }
    });
}

#[test]
fn the_image_hub_rewrites_every_image_of_the_catalogue() {
    let (_, ms) = matrix().find(|(n, _)| *n == "multi-hub-nfs-dev").unwrap();
    let mut all = Vec::new();
    for m in &ms {
        images(&m.object, &mut all);
    }
    // Images passed as flags (the config reloader, the provisioner helper).
    let text = serde_json::to_string(&ms.iter().map(|m| &m.object).collect::<Vec<_>>()).unwrap();
    assert!(all.len() > 20);
    for image in &all {
        assert!(
            image.starts_with("registry.local/cnvrg/"),
            "{image} escaped the hub"
        );
    }
    for (_, reference) in cnvrgctl::pipeline::images::IMAGES {
        let registry = reference.split('/').next().unwrap();
        assert!(
            !text.contains(&format!("{registry}/")),
            "{registry} appears in an air-gapped render"
        );
    }
}

#[test]
fn no_storage_class_unless_the_spec_names_one() {
    for (name, ms) in matrix() {
        let text = cnvrgctl::pipeline::output::yaml_stream(&ms);
        for line in text.lines().filter(|l| l.contains("storageClassName:")) {
            let value = line.split(':').nth(1).unwrap().trim();
            assert!(
                ["fast-ssd", "cnvrg-hostpath", "cnvrg-nfs"].contains(&value),
                "{name}: {line}"
            );
        }
    }
}

#[test]
fn every_custom_resource_has_its_crd_in_the_render_or_is_a_prerequisite() {
    use cnvrgctl::pipeline::validate::PREREQUISITES;
    for (name, ms) in matrix() {
        let crds: Vec<(String, String)> = ms
            .iter()
            .filter(|m| m.kind() == "CustomResourceDefinition")
            .map(|m| {
                (
                    m.object["spec"]["group"].as_str().unwrap().to_string(),
                    m.object["spec"]["names"]["kind"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                )
            })
            .collect();
        for m in &ms {
            let group = m.group();
            if !group.contains('.') || group.ends_with(".k8s.io") {
                continue;
            }
            let known = crds.contains(&(group.to_string(), m.kind().to_string()))
                || PREREQUISITES.iter().any(|(g, _)| *g == group);
            assert!(known, "{name}: {} has no CRD", m.id());
        }
    }
    // Routes are OpenShift's own; nothing else in that render is.
    let (_, ms) = matrix()
        .find(|(n, _)| *n == "multi-openshift-prod")
        .unwrap();
    assert!(has(&ms, "Route", "app"));
}

/// Renders the multi-tenant example with `template` replaced by `source`;
/// returns the validation error.
fn invalid_with(template: &str, source: &str) -> String {
    let ms = crate::common::render_overlaid("multi-tenant", &[(template, source)]).unwrap();
    cnvrgctl::pipeline::validate::validate(&ms)
        .expect_err("should be invalid")
        .to_string()
}

#[test]
fn a_custom_resource_without_a_crd_is_rejected() {
    let err = invalid_with(
        "cnvrg/extra.yaml.j2",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: {{ tenant.namespace }}\nspec: {}\n",
    );
    insta::assert_snapshot!(err);
}

#[test]
fn a_custom_resource_that_does_not_fit_its_crd_is_rejected() {
    let err = invalid_with(
        "cnvrg/extra.yaml.j2",
        "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: w\n  namespace: {{ tenant.namespace }}\nspec:\n  selector: {matchLabels: {a: b}}\n  endpoints:\n    - port: 9090\n      intervall: 30s\n---\napiVersion: monitoring.coreos.com/v2\nkind: ServiceMonitor\nmetadata:\n  name: w2\n  namespace: {{ tenant.namespace }}\nspec: {}\n",
    );
    insta::assert_snapshot!(err);
}
