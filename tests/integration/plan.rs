//! The plan: the apply order as a tree (snapshots of the examples), the edges
//! the executor relies on, and the errors of broken dependencies.

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
