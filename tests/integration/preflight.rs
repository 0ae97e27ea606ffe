//! Preflight: the cluster checked before anything is written. `preflight`
//! prints a row per finding and the fixes (exit 6 when one fails); `apply`
//! runs the same checks first and, when one fails, writes nothing. A read
//! that is refused makes that check a warning, not the end of the run.

use serde_json::Value;
use testserver::{Fault, FaultKind, FaultTarget};

use crate::common::cluster::{CNVRG_SPEC, Env, SMALL, SPEC, stderr_of};

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The table's text with runs of spaces as one (columns are aligned).
fn squashed(text: &str) -> String {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `preflight -o json`, with the exit code wanted: its rows.
pub(super) fn rows(env: &Env, code: i32) -> Vec<Value> {
    let out = env
        .cnvrgctl(&["preflight", "-o", "json"])
        .assert()
        .code(code)
        .get_output()
        .clone();
    stderr_of(&out);
    let report: Value = serde_json::from_str(&stdout_of(&out)).expect("one JSON document");
    report["checks"].as_array().expect("checks").clone()
}

fn row<'a>(rows: &'a [Value], check: &str, level: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["check"] == check && r["level"] == level)
        .unwrap_or_else(|| panic!("no {level} row for {check}: {rows:#?}"))
}

#[test]
fn a_healthy_cluster_passes_and_the_table_says_what_it_found() {
    let env = Env::new(SMALL);
    let out = env
        .cnvrgctl(&["preflight"])
        .assert()
        .success()
        .get_output()
        .clone();
    let stdout = squashed(&stdout_of(&out));
    assert!(
        stdout.starts_with("CHECK RESULT SUBJECT DETAIL"),
        "{stdout}"
    );
    assert!(stdout.contains("\nversion pass v1.33.0-testserver Kubernetes v1.33.0-testserver (supported: 1.28 to 1.34)"), "{stdout}");
    assert!(
        stdout.contains(
            "\nstorage pass StorageClass/standard 1 claim(s); binding WaitForFirstConsumer, provisioner rancher.io/local-path, the default"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("\nplatform pass generic detected generic"),
        "{stdout}"
    );
    assert!(stdout.ends_with(" 0 fail"), "{stdout}");
    // Read-only: no write of any kind, dry run included (a review of one's
    // own access is the only POST allowed).
    let writes: Vec<String> = env
        .server
        .requests()
        .iter()
        .filter(|r| r.method != "GET" && !r.path.ends_with("/selfsubjectaccessreviews"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
}

#[test]
fn a_storage_class_that_is_not_there_fails_and_apply_writes_nothing() {
    let env =
        Env::new(&SMALL.replace("  profile: dev\n", "  profile: dev\n  storageClass: gold\n"));
    let rows = rows(&env, 6);
    let failed = row(&rows, "storage", "fail");
    assert_eq!(failed["subject"], "StatefulSet/research/research-postgres");
    assert_eq!(
        failed["detail"],
        "its claim asks for storage class gold, which is not on the cluster"
    );
    assert!(
        failed["fix"]
            .as_str()
            .unwrap()
            .starts_with("set spec.storageClass to one of the cluster's classes (")
            && failed["fix"].as_str().unwrap().contains("standard"),
        "{failed}"
    );

    let out = env.apply(&[]).assert().code(6).get_output().clone();
    let stderr = stderr_of(&out);
    assert!(stderr.contains("1 fail; nothing was written"), "{stderr}");
    assert!(stderr.contains("fix: set spec.storageClass"), "{stderr}");
    assert!(env.writes().is_empty(), "{:?}", env.writes());
    // Skipping the checks is the user's call.
    env.apply(&["--skip-preflight", "--object-timeout", "2s"])
        .assert()
        .failure();
    assert!(!env.writes().is_empty());
}

#[test]
fn a_kind_the_cluster_does_not_serve_names_its_users_and_the_spec_field() {
    let env = Env::new(&CNVRG_SPEC.replace("type: nodeport", "type: openshift"));
    let rows = rows(&env, 6);
    let failed = row(&rows, "api", "fail");
    assert_eq!(failed["subject"], "route.openshift.io/v1 Route");
    assert!(
        failed["detail"]
            .as_str()
            .unwrap()
            .contains("used by Route/cnvrg-team-a/"),
        "{failed}"
    );
    assert!(
        failed["fix"]
            .as_str()
            .unwrap()
            .contains("spec.ingress.type"),
        "{failed}"
    );
}

#[test]
fn a_refused_read_is_a_warning_and_the_run_goes_on() {
    let env = Env::new(SMALL);
    env.server.inject(Fault::new(
        FaultTarget::method("GET").and_path("/storageclasses"),
        FaultKind::Reject {
            code: 403,
            reason: "Forbidden".into(),
            message: "storageclasses.storage.k8s.io is forbidden: User \"ops\" cannot list resource \"storageclasses\" in API group \"storage.k8s.io\" at the cluster scope".into(),
        },
    ));
    let rows = rows(&env, 0);
    let warned = row(&rows, "storage", "warn");
    assert!(
        warned["detail"]
            .as_str()
            .unwrap()
            .starts_with("cannot read storageclasses: ")
            && warned["detail"].as_str().unwrap().contains("forbidden"),
        "{warned}"
    );
}

/// The network plugin decides whether the render's NetworkPolicies do
/// anything: without a known enforcer preflight warns with the platform's
/// fix; with one (Calico's DaemonSet, as its operator installs it) it passes
/// and names it.
#[test]
fn network_policies_without_an_enforcer_are_a_warning_naming_the_fix() {
    let env = Env::new(SMALL);
    let warn = row(&rows(&env, 0), "network-policy", "warn").clone();
    assert!(
        warn["detail"]
            .as_str()
            .unwrap()
            .contains("no known NetworkPolicy enforcer runs here"),
        "{warn}"
    );
    assert!(
        warn["fix"].as_str().unwrap().contains("Calico, Cilium"),
        "{warn}"
    );
    env.server.create(serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "calico-node", "namespace": "kube-system"},
        "spec": {
            "selector": {"matchLabels": {"k8s-app": "calico-node"}},
            "template": {
                "metadata": {"labels": {"k8s-app": "calico-node"}},
                "spec": {"containers": [{"name": "calico-node", "image": "docker.io/calico/node:v3.30.3"}]},
            },
        },
    }));
    let pass = row(&rows(&env, 0), "network-policy", "pass").clone();
    assert!(
        pass["detail"]
            .as_str()
            .unwrap()
            .ends_with("enforced by Calico (DaemonSet kube-system/calico-node)"),
        "{pass}"
    );
}

/// A workload kind the render uses in several namespaces (infra and the
/// tenant) is listed once, cluster-wide, not once per namespace.
#[test]
fn capacity_lists_a_workload_kind_once_for_all_its_namespaces() {
    let env = Env::new(SPEC);
    rows(&env, 0);
    let deployments = env
        .server
        .requests()
        .into_iter()
        .filter(|r| r.resource.as_deref() == Some("deployments"))
        .map(|r| format!("{} {}", r.path, r.query))
        .collect::<Vec<_>>();
    assert_eq!(deployments.len(), 1, "{deployments:#?}");
    assert!(
        deployments[0].starts_with("/apis/apps/v1/deployments"),
        "{deployments:?}"
    );
}
