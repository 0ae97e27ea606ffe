//! The plan: the apply order as a tree, DOT and Mermaid (snapshots of the
//! examples; DOT drawn by Graphviz), the edges the executor relies on, and
//! the errors of broken dependencies.

use std::collections::BTreeSet;

use cnvrgctl::pipeline::manifest::Manifest;
use cnvrgctl::pipeline::plan::{Plan, Stage};

use crate::common::{self, render_example};

fn plan_of(name: &str) -> (Vec<Manifest>, Plan) {
    let (_, ms) = render_example(name);
    let plan = cnvrgctl::pipeline::plan::build(&ms).expect("plans");
    (ms, plan)
}

#[test]
fn tree_of_the_multi_tenant_example() {
    let (ms, plan) = plan_of("multi-tenant");
    insta::assert_snapshot!(cnvrgctl::pipeline::plan::print(&ms, &plan, None));
}

#[test]
fn tree_of_the_single_namespace_example() {
    let (ms, plan) = plan_of("single-namespace");
    insta::assert_snapshot!(cnvrgctl::pipeline::plan::print(&ms, &plan, None));
}

#[test]
fn dot_of_the_multi_tenant_example() {
    let (ms, plan) = plan_of("multi-tenant");
    insta::assert_snapshot!(cnvrgctl::pipeline::plan::print_dot(&ms, &plan, None));
}

#[test]
fn mermaid_of_the_multi_tenant_example() {
    let (ms, plan) = plan_of("multi-tenant");
    insta::assert_snapshot!(cnvrgctl::pipeline::plan::print_mermaid(&ms, &plan, None));
}

/// `render --plan -o json` is the same graph as data: every rendered object
/// in exactly one node, node ids unique, every edge between known nodes, and
/// the tenant's Prometheus after the infra operator.
#[test]
fn json_of_the_multi_tenant_example_holds_every_object_once() {
    let (ms, plan) = plan_of("multi-tenant");
    let graph: serde_json::Value =
        serde_json::from_str(&cnvrgctl::pipeline::plan::print_json(&ms, &plan, None))
            .expect("one JSON document");
    let nodes = graph["nodes"].as_array().unwrap();
    let ids: BTreeSet<&str> = nodes.iter().map(|n| n["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), nodes.len(), "node ids are unique");
    let objects: Vec<&str> = nodes
        .iter()
        .flat_map(|n| n["objects"].as_array().unwrap())
        .map(|o| o.as_str().unwrap())
        .collect();
    let unique: BTreeSet<&str> = objects.iter().copied().collect();
    assert_eq!(objects.len(), ms.len());
    assert_eq!(unique.len(), ms.len());
    for edge in graph["edges"].as_array().unwrap() {
        for end in ["from", "to"] {
            assert!(ids.contains(edge[end].as_str().unwrap()), "{edge}");
        }
    }
    assert!(
        graph["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["from"] == "infra/prometheus-operator"
                && e["to"] == "tenant.team-a/prometheus"),
        "{:#}",
        graph["edges"]
    );
}

/// Graphviz draws the DOT graph: every scope a cluster, every node a box.
/// Under CI Graphviz must be there (`.ci/run` installs it); elsewhere the
/// test says it skipped.
#[test]
fn graphviz_draws_the_dot_graph() {
    let (ms, plan) = plan_of("multi-tenant");
    let dot = cnvrgctl::pipeline::plan::print_dot(&ms, &plan, None);
    let child = std::process::Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("skipped: Graphviz `dot` cannot run ({e}); CI installs it");
            return;
        }
        other => other.expect("Graphviz `dot` runs (CI installs it)"),
    };
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(dot.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.is_empty(), "{stderr}");
    let svg = String::from_utf8(out.stdout).unwrap();
    for title in [
        "cluster_infra",
        "cluster_tenant.team&#45;a",
        "cluster_tenant.research",
        "cluster_tenant.vision",
        "tenant.team&#45;a/webapp",
        "infra/prometheus&#45;operator&#45;&gt;tenant.team&#45;a/prometheus",
    ] {
        assert!(svg.contains(&format!("<title>{title}</title>")), "{title}");
    }
}

fn index(ms: &[Manifest], kind: &str, ns: Option<&str>, name: &str) -> usize {
    ms.iter()
        .position(|m| m.kind() == kind && m.name() == name && (ns.is_none() || m.namespace() == ns))
        .unwrap_or_else(|| panic!("no {kind}/{name}"))
}

/// Everything `i` waits for, directly or not.
fn waits_for(plan: &Plan, i: usize) -> BTreeSet<usize> {
    let mut out = BTreeSet::new();
    let mut todo = plan.steps[i].after.clone();
    while let Some(j) = todo.pop() {
        if out.insert(j) {
            todo.extend(&plan.steps[j].after);
        }
    }
    out
}

#[test]
fn webapp_waits_for_its_data_services_and_the_migration() {
    let (ms, plan) = plan_of("multi-tenant");
    let ns = Some("cnvrg-team-a");
    let app = index(&ms, "Deployment", ns, "app");
    let all = waits_for(&plan, app);
    for (kind, name) in [
        ("StatefulSet", "postgres"),
        ("StatefulSet", "redis"),
        ("StatefulSet", "minio"),
        ("StatefulSet", "elasticsearch"),
        ("Job", "migrate"),
        ("Job", "minio-buckets"),
        ("Secret", "pg-creds"),
        ("Service", "app"),
        ("Namespace", "cnvrg-team-a"),
    ] {
        let j = index(&ms, kind, if kind == "Namespace" { None } else { ns }, name);
        assert!(all.contains(&j), "app does not wait for {kind}/{name}");
    }
    // The migration waits for the databases, not for the app.
    let migrate = index(&ms, "Job", ns, "migrate");
    assert!(waits_for(&plan, migrate).contains(&index(&ms, "StatefulSet", ns, "postgres")));
    assert!(!waits_for(&plan, migrate).contains(&app));
    // Independent data services do not wait for each other.
    let pg = index(&ms, "StatefulSet", ns, "postgres");
    let redis = index(&ms, "StatefulSet", ns, "redis");
    assert!(!waits_for(&plan, pg).contains(&redis));
    assert!(!waits_for(&plan, redis).contains(&pg));
}

#[test]
fn tenant_monitoring_waits_for_the_infra_operator_and_crds() {
    let (ms, plan) = plan_of("multi-tenant");
    let prom = index(&ms, "Prometheus", Some("cnvrg-team-a"), "prometheus");
    let all = waits_for(&plan, prom);
    assert!(all.contains(&index(
        &ms,
        "Deployment",
        Some("cnvrg-infra"),
        "prometheus-operator"
    )));
    assert!(all.contains(&index(
        &ms,
        "CustomResourceDefinition",
        None,
        "prometheuses.monitoring.coreos.com"
    )));
}

#[test]
fn workspace_workers_wait_for_orion_which_waits_for_its_database() {
    let (ms, plan) = plan_of("workspace");
    let ns = Some("test-environment");
    let worker = index(&ms, "Deployment", ns, "test-environment-agent-default");
    let orion = index(&ms, "Deployment", ns, "test-environment-orion-server");
    let pg = index(&ms, "StatefulSet", ns, "test-environment-postgres");
    assert!(plan.steps[worker].after.contains(&orion));
    assert!(plan.steps[orion].after.contains(&pg));
}

#[test]
fn stages_follow_design_order() {
    let (ms, plan) = plan_of("multi-tenant");
    for (i, step) in plan.steps.iter().enumerate() {
        for &j in &step.after {
            let (a, b) = (plan.steps[j].stage, step.stage);
            let same_scope = ms[i].origin.scope == ms[j].origin.scope;
            // Across a dependency, a later stage never comes first, except
            // where a component names another explicitly.
            if same_scope && step.depends_on.is_empty() {
                assert!(
                    a <= b,
                    "{} ({b:?}) waits for {} ({a:?})",
                    ms[i].id(),
                    ms[j].id()
                );
            }
        }
        if step.stage != Stage::Prerequisites {
            for (j, other) in plan.steps.iter().enumerate() {
                if other.stage == Stage::Prerequisites {
                    assert!(step.after.contains(&j));
                }
            }
        }
    }
}

/// The plan error of the workspace example with `files` overlaid.
fn plan_error(files: &[(&str, &str)]) -> String {
    let ms = common::render_overlaid("workspace", files).unwrap();
    cnvrgctl::pipeline::plan::build(&ms)
        .expect_err("plan fails")
        .to_string()
}

const JOB: &str = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: NAME\n  namespace: {{ tenant.namespace }}\n  annotations:\n    cnvrgctl.io/depends-on: DEPS\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: x\n          image: {{ image(\"busybox\") }}\n";

#[test]
fn a_dependency_on_a_missing_component_is_an_error_with_a_suggestion() {
    let src = JOB.replace("NAME", "check").replace("DEPS", "orion-sever");
    insta::assert_snapshot!(plan_error(&[("workspace/check.yaml.j2", &src)]));
}

#[test]
fn a_dependency_cycle_is_an_error_naming_the_objects() {
    let a = JOB.replace("NAME", "a").replace("DEPS", "b");
    let b = JOB.replace("NAME", "b").replace("DEPS", "a");
    insta::assert_snapshot!(plan_error(&[
        ("workspace/a.yaml.j2", &a),
        ("workspace/b.yaml.j2", &b),
    ]));
}
