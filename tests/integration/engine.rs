//! The cluster engine end to end, against the in-process test API server
//! (`tests/support`): the binary is run as a user runs it, with a kubeconfig
//! pointing at the server, and the tests assert what the server saw — objects,
//! their status, the order of writes, request counts — and what the user saw:
//! exit codes and messages.

use assert_cmd::cargo::cargo_bin_cmd;
use cnvrgctl::pipeline::render::{SecretInputs, Templates};
use predicates::prelude::*;
use serde_json::{Value, json};
use testserver::{
    Behavior, Fault, FaultKind, FaultTarget, PodTrouble, Target, TestServer, Verb, Write, WriteOp,
};

use crate::common::cluster::{CNVRG_SPEC, Env, SPEC, stderr_of};

/// Waits add at most one watch per (kind, namespace) in one run.
fn one_watch_per_kind_and_namespace(requests: &[testserver::Request]) {
    let mut watches: Vec<(Option<String>, Option<String>)> = requests
        .iter()
        .filter(|r| r.verb == Verb::Watch)
        .map(|r| (r.resource.clone(), r.namespace.clone()))
        .collect();
    let total = watches.len();
    watches.sort();
    watches.dedup();
    assert_eq!(
        total,
        watches.len(),
        "one watch per kind and namespace: {watches:?}"
    );
}

/// Index of the first write of `kind`/`name`.
fn first_write(writes: &[Write], kind: &str, name: &str) -> usize {
    writes
        .iter()
        .position(|w| w.kind == kind && w.name == name)
        .unwrap_or_else(|| panic!("no write of {kind}/{name} in {writes:#?}"))
}

#[test]
fn fresh_install_reaches_ready_in_dependency_order() {
    let env = Env::new(SPEC);
    env.cnvrgctl(&["install", "infra", "--yes"])
        .assert()
        .success()
        .stderr(predicate::str::contains("done: "));
    // `install infra` touches nothing of the tenant.
    assert!(
        env.writes()
            .iter()
            .all(|w| w.namespace.as_deref() != Some("research"))
    );
    assert!(
        env.server
            .get("v1", "Namespace", None, "research")
            .is_none()
    );

    one_watch_per_kind_and_namespace(&env.server.requests());
    let mut writes = env.writes();
    env.server.clear_log();
    env.apply(&[]).assert().success();
    one_watch_per_kind_and_namespace(&env.server.requests());
    writes.extend(env.writes());
    let before = |a: (&str, &str), b: (&str, &str)| {
        assert!(
            first_write(&writes, a.0, a.1) < first_write(&writes, b.0, b.1),
            "{a:?} must be written before {b:?}"
        );
    };
    before(
        (
            "CustomResourceDefinition",
            "prometheuses.monitoring.coreos.com",
        ),
        ("Prometheus", "infra"),
    );
    before(
        ("Deployment", "prometheus-operator"),
        ("Prometheus", "infra"),
    );
    before(
        ("Namespace", "cnvrg-infra"),
        ("Deployment", "prometheus-operator"),
    );
    before(
        ("StorageClass", "cnvrg-hostpath"),
        ("Namespace", "cnvrg-infra"),
    );
    before(("Namespace", "research"), ("Secret", "research-postgres"));
    before(
        ("Secret", "research-postgres"),
        ("StatefulSet", "research-postgres"),
    );
    before(
        ("StatefulSet", "research-postgres"),
        ("Deployment", "research-orion-server"),
    );
    before(
        ("Deployment", "research-orion-server"),
        ("Deployment", "research-agent-default"),
    );
    before(
        ("Deployment", "research-orion-server"),
        ("Deployment", "research-agent-gpu"),
    );

    // Everything is up.
    let orion = env.deployment("research", "research-orion-server").unwrap();
    assert_eq!(orion["status"]["readyReplicas"], 1);
    let pool = env
        .deployment("research", "research-agent-default")
        .unwrap();
    assert_eq!(pool["status"]["readyReplicas"], 2);
    // Every object carries its scope's ApplySet label, and the parents list the kinds.
    let parent = env
        .server
        .get(
            "v1",
            "ConfigMap",
            Some("research"),
            "cnvrgctl-tenant-research",
        )
        .unwrap();
    let id = parent["metadata"]["labels"]["applyset.kubernetes.io/id"]
        .as_str()
        .unwrap();
    assert_eq!(
        pool["metadata"]["labels"]["applyset.kubernetes.io/part-of"],
        id
    );
    let kinds = parent["metadata"]["annotations"]["applyset.kubernetes.io/contains-group-kinds"]
        .as_str()
        .unwrap();
    assert!(
        kinds.contains("Deployment.apps") && kinds.contains("Secret"),
        "{kinds}"
    );
}

#[test]
fn custom_resources_wait_until_discovery_serves_their_kind() {
    let server = TestServer::start_with(testserver::Options {
        crd_discovery_lag: std::time::Duration::from_millis(1500),
        ..testserver::Options::default()
    });
    let env = Env::with_server(SPEC, server);
    env.cnvrgctl(&["install", "infra", "--yes"])
        .assert()
        .success();
    assert!(
        env.server
            .get(
                "monitoring.coreos.com/v1",
                "Prometheus",
                Some("cnvrg-infra"),
                "infra"
            )
            .is_some()
    );
    let misses: Vec<String> = env
        .server
        .requests()
        .into_iter()
        .filter(|r| r.resource.as_deref() == Some("prometheuses") && r.status == 404)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(
        misses.is_empty(),
        "no request for a kind not served yet: {misses:?}"
    );
}

#[test]
fn rerun_writes_nothing_and_diff_is_clean() {
    let env = Env::new(SPEC);
    env.install();
    let spec = cnvrgctl::pipeline::spec::load(&env.spec()).unwrap();
    let objects =
        cnvrgctl::pipeline::render::render(&spec, &Templates::built_in(), &SecretInputs::default())
            .unwrap()
            .len();
    env.server.clear_log();

    env.apply(&["-v"])
        .assert()
        .success()
        .stderr(predicate::str::contains("no changes"));
    assert_eq!(env.writes(), Vec::<Write>::new(), "a re-run writes nothing");
    let requests = env.server.requests();
    let persisted = requests
        .iter()
        .filter(|r| {
            !r.dry_run
                && matches!(
                    r.verb,
                    Verb::Apply | Verb::Patch | Verb::Update | Verb::Create | Verb::Delete
                )
        })
        .count();
    assert_eq!(persisted, 0);
    assert!(
        requests.len() <= objects,
        "{} requests for {objects} objects on a re-run: {:#?}",
        requests.len(),
        requests
            .iter()
            .map(|r| format!("{:?} {}", r.verb, r.path))
            .collect::<Vec<_>>()
    );
    assert!(
        requests.iter().all(|r| r.verb != Verb::Watch),
        "nothing to wait for: no watch"
    );

    env.cnvrgctl(&["diff"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "0 to create, 0 to update, 0 to replace, 0 to prune",
        ));
}

#[test]
fn changed_replicas_is_exactly_one_update() {
    let env = Env::new(SPEC);
    env.install();
    env.write_spec(&SPEC.replace(
        "{name: default, replicas: 2}",
        "{name: default, replicas: 3}",
    ));
    let out = env
        .cnvrgctl(&["diff"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("-  replicas: 2") && stdout.contains("+  replicas: 3"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Deployment  research   research-agent-default  update"),
        "{stdout}"
    );
    env.server.clear_log();

    env.apply(&[]).assert().success();
    let writes = env.writes();
    assert_eq!(writes.len(), 1, "{writes:#?}");
    assert_eq!(
        (
            writes[0].op,
            writes[0].kind.as_str(),
            writes[0].name.as_str()
        ),
        (WriteOp::Update, "Deployment", "research-agent-default")
    );
    let pool = env
        .deployment("research", "research-agent-default")
        .unwrap();
    assert_eq!(pool["spec"]["replicas"], 3);
    env.cnvrgctl(&["diff"]).assert().code(0);
}

#[test]
fn removed_pool_is_pruned_and_volumes_are_kept() {
    let env = Env::new(SPEC);
    env.install();
    // A claim that was once part of the tenant and has left the spec.
    let parent = env
        .server
        .get(
            "v1",
            "ConfigMap",
            Some("research"),
            "cnvrgctl-tenant-research",
        )
        .unwrap();
    let id = parent["metadata"]["labels"]["applyset.kubernetes.io/id"]
        .as_str()
        .unwrap()
        .to_string();
    env.server.apply_as("cnvrgctl", json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "scratch", "namespace": "research", "labels": {"applyset.kubernetes.io/part-of": id}},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    }));
    let kinds = parent["metadata"]["annotations"]["applyset.kubernetes.io/contains-group-kinds"]
        .as_str()
        .unwrap();
    env.server.apply_as("cnvrgctl", json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cnvrgctl-tenant-research", "namespace": "research",
            "annotations": {"applyset.kubernetes.io/contains-group-kinds": format!("{kinds},PersistentVolumeClaim")}}
    }));

    env.write_spec(&SPEC.replace("          - {name: gpu, replicas: 1}\n", ""));
    let out = env
        .cnvrgctl(&["diff"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.contains(" research-agent-gpu ") && l.ends_with(" delete")),
        "{stdout}"
    );
    env.server.clear_log();

    let out = env.apply(&[]).assert().success().get_output().clone();
    assert!(
        stderr_of(&out).contains("kept     PersistentVolumeClaim/research/scratch"),
        "{}",
        stderr_of(&out)
    );
    assert!(
        env.deployment("research", "research-agent-gpu").is_none(),
        "the pool is pruned"
    );
    assert!(
        env.deployment("research", "research-agent-default")
            .is_some(),
        "the other pool stays"
    );
    assert!(
        env.server
            .get("v1", "PersistentVolumeClaim", Some("research"), "scratch")
            .is_some(),
        "PVCs are kept"
    );
    let deletes: Vec<String> = env
        .writes()
        .iter()
        .filter(|w| w.op == WriteOp::Delete)
        .map(|w| format!("{}/{}", w.kind, w.name))
        .collect();
    assert!(
        deletes.contains(&"Deployment/research-agent-gpu".to_string()),
        "{deletes:?}"
    );
    assert!(
        deletes
            .iter()
            .all(|d| !d.starts_with("PersistentVolumeClaim/")),
        "{deletes:?}"
    );

    env.apply(&["--prune-volumes"]).assert().success();
    assert!(
        env.server
            .get("v1", "PersistentVolumeClaim", Some("research"), "scratch")
            .is_none()
    );
}

#[test]
fn a_pruned_object_made_again_by_someone_else_counts_as_deleted() {
    let env = Env::new(SPEC);
    env.install();
    let uid = |d: Value| d["metadata"]["uid"].as_str().unwrap().to_string();
    let old = uid(env.deployment("research", "research-agent-gpu").unwrap());
    env.server
        .recreate_when_deleted(Target::kind("Deployment").named("research-agent-gpu"));
    env.write_spec(&SPEC.replace("          - {name: gpu, replicas: 1}\n", ""));
    let out = env
        .apply(&["--object-timeout", "20s"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(
        stderr_of(&out).contains("pruned   Deployment/research/research-agent-gpu"),
        "{}",
        stderr_of(&out)
    );
    let again = env
        .deployment("research", "research-agent-gpu")
        .expect("made again by someone else");
    assert_ne!(uid(again), old);
}

/// Infra installed; the tenant's Orion server will never be ready (its
/// image cannot be pulled).
fn orion_never_ready() -> Env {
    let env = Env::new(SPEC);
    env.cnvrgctl(&["install", "infra", "--yes"])
        .assert()
        .success();
    env.server.behave(
        Target::kind("Deployment").named("research-orion-server"),
        Behavior::NeverReady(PodTrouble::ImagePullBackOff),
    );
    env
}

#[test]
fn never_ready_deployment_times_out_naming_the_pod_and_reason() {
    let env = orion_never_ready();
    let out = env
        .apply(&["--object-timeout", "3s", "--failure-grace", "10m"])
        .assert()
        .code(5)
        .get_output()
        .clone();
    let stderr = stderr_of(&out);
    assert!(stderr.contains("timed out"), "{stderr}");
    assert!(
        stderr.contains("Deployment/research/research-orion-server"),
        "{stderr}"
    );
    assert!(stderr.contains("ImagePullBackOff"), "{stderr}");
    assert!(stderr.contains("pod research-orion-server-"), "{stderr}");
    // Its dependants were never started.
    assert!(
        env.deployment("research", "research-agent-default")
            .is_none()
    );
}

#[test]
fn a_json_failed_event_says_it_timed_out() {
    let env = orion_never_ready();
    let out = env
        .apply(&[
            "-o",
            "json",
            "--object-timeout",
            "2s",
            "--failure-grace",
            "10m",
        ])
        .assert()
        .code(5)
        .get_output()
        .clone();
    let failed: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["event"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(
        failed[0]["object"],
        "Deployment/research/research-orion-server"
    );
    assert_eq!(failed[0]["outcome"], "timed-out");
    assert_eq!(failed[0]["scope"], "tenant.research");
    assert!(
        failed[0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("timed out: "),
        "{}",
        failed[0]
    );
}

#[test]
fn crash_looping_pods_fail_after_the_grace_period() {
    let env = Env::new(SPEC);
    env.server.behave(
        Target::kind("StatefulSet").named("research-postgres"),
        Behavior::Fail(PodTrouble::CrashLoopBackOff),
    );
    let out = env
        .apply(&["--object-timeout", "5m", "--failure-grace", "1s"])
        .assert()
        .code(5)
        .get_output()
        .clone();
    let stderr = stderr_of(&out);
    assert!(stderr.contains("1 object(s) failed"), "{stderr}");
    assert!(stderr.contains("CrashLoopBackOff"), "{stderr}");
    assert!(!stderr.contains("timed out"), "{stderr}");
    assert!(
        env.deployment("research", "research-orion-server")
            .is_none()
    );
}

#[test]
fn failed_migration_job_fails_fast_with_its_log_tail() {
    let env = Env::new(CNVRG_SPEC);
    env.server.behave(
        Target::kind("Job").named("migrate"),
        Behavior::JobFails {
            log: vec![
                "rake aborted!".into(),
                "PG::ConnectionBad: connection to server at \"postgres\" failed".into(),
            ],
        },
    );
    let out = env
        .apply(&["--object-timeout", "5m"])
        .assert()
        .code(5)
        .get_output()
        .clone();
    let stderr = stderr_of(&out);
    assert!(stderr.contains("BackoffLimitExceeded"), "{stderr}");
    assert!(stderr.contains("PG::ConnectionBad"), "{stderr}");
    assert!(!stderr.contains("timed out"), "{stderr}");
    // The webapp waits for the migration: never written.
    assert!(
        env.writes()
            .iter()
            .all(|w| !(w.kind == "Deployment" && w.name == "app")),
        "webapp must not roll out"
    );
}

#[test]
fn a_completed_job_whose_template_changed_runs_again() {
    let env = Env::new(CNVRG_SPEC);
    env.apply(&[]).assert().success();
    let first = env
        .server
        .get("batch/v1", "Job", Some("cnvrg-team-a"), "migrate")
        .unwrap();
    assert_eq!(first["status"]["succeeded"], 1);
    env.server.clear_log();
    env.apply(&[]).assert().success();
    assert!(
        env.writes().is_empty(),
        "an unchanged completed Job is kept"
    );

    env.write_spec(&CNVRG_SPEC.replace(
        "      type: cnvrg\n",
        "      type: cnvrg\n      cnvrg:\n        appImage: docker.io/cnvrg/app:v4.8.3\n",
    ));
    let out = env
        .cnvrgctl(&["diff"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("Job") && l.contains("migrate") && l.ends_with("replace")),
        "{stdout}"
    );
    env.apply(&[]).assert().success();
    let second = env
        .server
        .get("batch/v1", "Job", Some("cnvrg-team-a"), "migrate")
        .unwrap();
    assert_ne!(
        second["metadata"]["uid"], first["metadata"]["uid"],
        "a new Job"
    );
    assert_eq!(second["status"]["succeeded"], 1);
    let jobs: Vec<(WriteOp, String)> = env
        .writes()
        .into_iter()
        .filter(|w| w.kind == "Job")
        .map(|w| (w.op, w.name))
        .collect();
    assert_eq!(
        jobs,
        [
            (WriteOp::Delete, "migrate".to_string()),
            (WriteOp::Create, "migrate".to_string())
        ]
    );
}

#[test]
fn server_errors_throttling_and_dropped_watches_are_survived() {
    let env = Env::new(SPEC);
    env.server
        .inject(Fault::new(FaultTarget::method("PATCH"), FaultKind::Status(500)).times(3));
    env.server.inject(
        Fault::new(
            FaultTarget::verb(Verb::Get),
            FaultKind::TooManyRequests {
                retry_after_secs: 1,
            },
        )
        .times(2),
    );
    env.server
        .inject(Fault::new(FaultTarget::verb(Verb::List), FaultKind::Status(503)).times(2));
    env.server.inject(
        Fault::new(
            FaultTarget::verb(Verb::Watch),
            FaultKind::DropWatch { after_events: 1 },
        )
        .times(5),
    );
    env.apply(&[]).assert().success();
    assert_eq!(
        env.deployment("research", "research-agent-gpu").unwrap()["status"]["readyReplicas"],
        1
    );
    let throttled = env
        .server
        .requests()
        .iter()
        .filter(|r| r.status == 429 || r.status == 500 || r.status == 503)
        .count();
    assert!(throttled >= 5, "the faults were hit: {throttled}");
    env.cnvrgctl(&["diff"]).assert().code(0);
}

/// A no-change `diff` of several scopes lists each kind once for all of
/// them: not once per namespace, nor a cluster-wide list per scope.
#[test]
fn diff_lists_each_kind_once_for_every_scope() {
    let env = Env::new(SPEC);
    env.install();
    env.server.clear_log();
    env.cnvrgctl(&["diff"]).assert().code(0);
    let mut lists: Vec<String> = env
        .server
        .requests()
        .into_iter()
        .filter(|r| r.verb == Verb::List)
        .map(|r| r.resource.unwrap_or_default())
        .collect();
    let total = lists.len();
    lists.sort();
    lists.dedup();
    assert!(lists.len() > 5, "members of many kinds: {lists:?}");
    assert_eq!(total, lists.len(), "one list per kind: {lists:?}");
}

#[test]
fn conflict_names_the_other_field_manager() {
    let env = Env::new(SPEC);
    env.install();
    env.server.apply_as(
        "helm",
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "research-agent-default", "namespace": "research"},
            "spec": {"replicas": 5}
        }),
    );
    env.server.clear_log();
    let out = env.apply(&[]).assert().code(3).get_output().clone();
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("Deployment/research/research-agent-default"),
        "{stderr}"
    );
    assert!(stderr.contains("\"helm\""), "{stderr}");
    assert!(stderr.contains(".spec.replicas"), "{stderr}");
    assert!(stderr.contains("--force-conflicts"), "{stderr}");
    assert!(env.writes().is_empty(), "nothing applied");

    env.apply(&["--force-conflicts"]).assert().success();
    assert_eq!(
        env.deployment("research", "research-agent-default")
            .unwrap()["spec"]["replicas"],
        2
    );
}

#[test]
fn objects_cnvrgctl_does_not_own_are_never_touched() {
    let env = Env::new(SPEC);
    env.server
        .create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "research"}}));
    let foreign = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "research-orion-server", "namespace": "research", "labels": {"owner": "someone"}},
        "spec": {"ports": [{"port": 9999}], "selector": {"app": "theirs"}}
    });
    env.server.create(foreign);
    let out = env.apply(&[]).assert().code(3).get_output().clone();
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains(
            "Service/research/research-orion-server exists and is not managed by cnvrgctl"
        ),
        "{stderr}"
    );
    assert!(env.writes().is_empty(), "nothing applied");
    let live = env
        .server
        .get("v1", "Service", Some("research"), "research-orion-server")
        .unwrap();
    assert_eq!(live["spec"]["ports"][0]["port"], 9999);
}

#[test]
fn diff_on_an_empty_cluster_lists_creates_and_masks_secrets() {
    let spec = SPEC.replace(
        "  ingress:\n",
        "  registry:\n    server: registry.acme.example\n    user: robot\n    passwordEnv: TEST_REGISTRY_PASSWORD\n  ingress:\n",
    );
    let env = Env::new(&spec);
    let out = env
        .cnvrgctl(&["diff"])
        .env("TEST_REGISTRY_PASSWORD", "hunter2-very-secret")
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let row = |kind: &str, name: &str| {
        stdout.lines().any(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            cells.len() == 5 && cells[1] == kind && cells[3] == name && cells[4] == "create"
        })
    };
    assert!(row("Namespace", "research"), "{stdout}");
    assert!(row("Secret", "cnvrg-registry"), "{stdout}");
    assert!(stdout.contains("to create, 0 to update"), "{stdout}");
    assert!(stdout.contains("***"), "secrets are masked");
    for leak in ["hunter2-very-secret", "aHVudGVyMi12ZXJ5LXNlY3JldA"] {
        assert!(
            !stdout.contains(leak) && !stderr_of(&out).contains(leak),
            "secret leaked: {leak}"
        );
    }
    // The same as JSON, masked too.
    let out = env
        .cnvrgctl(&["diff", "-o", "json"])
        .env("TEST_REGISTRY_PASSWORD", "hunter2-very-secret")
        .assert()
        .code(1)
        .get_output()
        .clone();
    let changes: Value = serde_json::from_slice(&out.stdout).expect("diff -o json is JSON");
    let secret = changes
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "Secret" && c["name"] == "cnvrg-registry")
        .expect("the pull secret is listed");
    assert_eq!(secret["op"], "create");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("hunter2-very-secret"));
    // --show-secrets reveals them.
    env.cnvrgctl(&["diff", "--show-secrets"])
        .env("TEST_REGISTRY_PASSWORD", "hunter2-very-secret")
        .assert()
        .code(1)
        .stdout(predicate::str::contains("hunter2-very-secret"));
    assert!(env.writes().is_empty(), "diff writes nothing");
}

#[test]
fn generated_secrets_are_created_once_and_kept() {
    let env = Env::new(SPEC);
    env.install();
    let before = env
        .server
        .get("v1", "Secret", Some("research"), "research-postgres")
        .unwrap();
    let password = before["data"]["password"].as_str().unwrap().to_string();
    assert!(!password.is_empty());
    env.write_spec(&SPEC.replace(
        "{name: default, replicas: 2}",
        "{name: default, replicas: 1}",
    ));
    env.apply(&[]).assert().success();
    let after = env
        .server
        .get("v1", "Secret", Some("research"), "research-postgres")
        .unwrap();
    assert_eq!(after["data"]["password"], password.as_str());
    assert_eq!(
        after["metadata"]["resourceVersion"],
        before["metadata"]["resourceVersion"]
    );
}

#[test]
fn apply_without_yes_on_a_pipe_refuses() {
    let env = Env::new(SPEC);
    let mut cmd = cargo_bin_cmd!("cnvrgctl");
    cmd.env_remove("KUBECONFIG")
        .args(["apply", "-f"])
        .arg(env.spec())
        .arg("--kubeconfig")
        .arg(env.server.kubeconfig())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("pass --yes"));
    assert!(env.writes().is_empty());
}

#[test]
fn status_reports_each_component_from_the_readiness_rules() {
    let env = Env::new(SPEC);
    env.server.behave(
        Target::kind("Deployment").named("research-agent-gpu"),
        Behavior::NeverReady(PodTrouble::ImagePullBackOff),
    );
    env.apply(&["--object-timeout", "3s"]).assert().code(5);
    let out = env
        .cnvrgctl(&["status"])
        .assert()
        .code(5)
        .get_output()
        .clone();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let row = |component: &str| {
        stdout
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(component))
            .unwrap_or_else(|| panic!("no row for {component}:\n{stdout}"))
            .to_string()
    };
    assert!(row("prometheus-operator").contains("Ready"), "{stdout}");
    assert!(row("orion-server").contains("Ready"), "{stdout}");
    let gpu = row("agent-gpu");
    assert!(
        gpu.contains("Progressing") && gpu.contains("ImagePullBackOff"),
        "{gpu}"
    );
    assert!(
        env.writes().iter().all(|w| w.op != WriteOp::Delete),
        "status writes nothing"
    );

    let out = env
        .cnvrgctl(&["status", "--scope", "infra", "-o", "json"])
        .assert()
        .code(0)
        .get_output()
        .clone();
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| r["scope"] == "infra" && r["state"] == "Ready"),
        "{rows}"
    );
}

#[test]
fn status_shows_a_tenant_never_installed_as_one_row() {
    let env = Env::new(SPEC);
    env.apply(&["--scope", "infra"]).assert().success();
    // Not all ready: exit 5, as for any component not ready.
    let not_ready = |args: &[&str]| {
        env.cnvrgctl(args)
            .assert()
            .code(5)
            .get_output()
            .stdout
            .clone()
    };
    let out = not_ready(&["status"]);
    let stdout = String::from_utf8_lossy(&out);
    let tenant: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("tenant.research"))
        .collect();
    assert_eq!(tenant.len(), 1, "{stdout}");
    let cells: Vec<&str> = tenant[0].split_whitespace().collect();
    assert_eq!(
        &cells[..3],
        ["tenant.research", "-", "NotInstalled"],
        "{stdout}"
    );
    assert!(
        tenant[0].ends_with("run cnvrgctl tenant add research or apply --scope tenant/research"),
        "{stdout}"
    );
    assert!(!stdout.contains("not on the cluster"), "{stdout}");

    let out = not_ready(&["status", "-o", "json", "--scope", "tenant/research"]);
    let rows: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        rows,
        serde_json::json!([{
            "scope": "tenant.research",
            "component": "-",
            "state": "NotInstalled",
            "detail": "run cnvrgctl tenant add research or apply --scope tenant/research",
            "objects": 0,
        }])
    );
}

#[test]
fn tenant_list_shows_spec_and_cluster_and_flags_strays() {
    let two = SPEC.replace(
        "  tenants:\n",
        "  tenants:\n    - name: vision\n      type: workspace\n      workspace:\n        agentPools:\n          - {name: default}\n",
    );
    let env = Env::new(&two);
    env.apply(&[]).assert().success();
    env.write_spec(SPEC);
    env.server.clear_log();
    let out = env
        .cnvrgctl(&["tenant", "list"])
        .assert()
        .success()
        .get_output()
        .clone();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let row = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_default()
            .to_string()
    };
    let research: Vec<String> = row("research")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    assert_eq!(
        &research[..4],
        ["research", "workspace", "research", "Ready"],
        "{stdout}"
    );
    assert!(row("vision").contains("not in the spec"), "{stdout}");
    assert!(
        stderr_of(&out)
            .contains("tenant `vision` is on the cluster but not in the spec; nothing was deleted")
    );
    // A plain apply leaves the stray tenant alone.
    env.apply(&[]).assert().success();
    assert!(
        env.writes()
            .iter()
            .all(|w| w.namespace.as_deref() != Some("vision"))
    );
    assert!(env.deployment("vision", "vision-orion-server").is_some());
}

/// SPEC with the research tenant in `tenants/research.yaml` instead.
fn spec_with_tenant_file(env: &Env) {
    let cluster = SPEC.split("  tenants:\n").next().unwrap();
    env.write_spec(cluster);
    std::fs::create_dir_all(env.dir.path().join("tenants")).unwrap();
    std::fs::write(
        env.dir.path().join("tenants/research.yaml"),
        "apiVersion: cnvrgctl.io/v1alpha1\nkind: Tenant\nmetadata:\n  name: research\nspec:\n  type: workspace\n  workspace:\n    agentPools:\n      - {name: default, replicas: 2}\n",
    )
    .unwrap();
}

#[test]
fn tenant_remove_keeps_data_unless_asked_then_removes_the_file() {
    let env = Env::new(SPEC);
    spec_with_tenant_file(&env);
    env.apply(&[]).assert().success();
    let claim = "data-research-postgres-0";
    assert!(
        env.server
            .get("v1", "PersistentVolumeClaim", Some("research"), claim)
            .is_some()
    );

    // Unknown tenants and a missing --yes are refused; nothing is deleted.
    env.cnvrgctl(&["tenant", "remove", "nope", "--yes"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no tenant `nope` in the spec or on the cluster (spec tenants: research)",
        ));
    env.cnvrgctl(&["tenant", "remove", "research"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("pass --yes"));
    env.server.clear_log();

    let out = env
        .cnvrgctl(&["tenant", "remove", "research", "--yes"])
        .assert()
        .success()
        .get_output()
        .clone();
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains(&format!(
            "keep PersistentVolumeClaim/research/{claim} (data is kept unless --delete-data)"
        )),
        "{stderr}"
    );
    assert!(
        env.deployment("research", "research-orion-server")
            .is_none()
    );
    assert!(
        env.server
            .get(
                "apps/v1",
                "StatefulSet",
                Some("research"),
                "research-postgres"
            )
            .is_none()
    );
    assert!(
        env.server
            .get("v1", "PersistentVolumeClaim", Some("research"), claim)
            .is_some(),
        "data kept"
    );
    assert!(
        env.server
            .get("v1", "Namespace", None, "research")
            .is_some(),
        "its namespace holds the data"
    );
    assert!(
        env.deployment("cnvrg-infra", "prometheus-operator")
            .is_some(),
        "infra untouched"
    );
    // Deleted in reverse order: dependants before what they depend on.
    let deletes: Vec<String> = env
        .writes()
        .iter()
        .filter(|w| w.op == WriteOp::Delete)
        .map(|w| format!("{}/{}", w.kind, w.name))
        .collect();
    let at = |d: &str| {
        deletes
            .iter()
            .position(|x| x == d)
            .unwrap_or_else(|| panic!("{d} not deleted: {deletes:?}"))
    };
    assert!(at("Deployment/research-agent-default") < at("Deployment/research-orion-server"));
    assert!(at("Deployment/research-orion-server") < at("Secret/research-postgres"));
    assert!(
        !env.dir.path().join("tenants/research.yaml").exists(),
        "the tenant file goes after the cluster side"
    );

    // The kept data can still be removed later (the tenant is no longer in the spec).
    env.cnvrgctl(&["tenant", "remove", "research", "--yes", "--delete-data"])
        .assert()
        .success();
    assert!(
        env.server
            .get("v1", "PersistentVolumeClaim", Some("research"), claim)
            .is_none()
    );
    assert!(
        env.server
            .get("v1", "Namespace", None, "research")
            .is_none()
    );
}

#[test]
fn uninstall_removes_tenants_then_infra_and_keeps_crds_and_data() {
    let env = Env::new(SPEC);
    env.install();
    env.server.clear_log();
    let out = env
        .cnvrgctl(&["uninstall", "--yes"])
        .assert()
        .success()
        .get_output()
        .clone();
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("tenant.research (namespace research): delete"),
        "{stderr}"
    );
    assert!(
        stderr.contains("CRDs are kept unless --delete-crds"),
        "{stderr}"
    );
    let deletes: Vec<(String, Option<String>)> = env
        .writes()
        .iter()
        .filter(|w| w.op == WriteOp::Delete)
        .map(|w| (w.kind.clone(), w.namespace.clone()))
        .collect();
    let last_tenant = deletes
        .iter()
        .rposition(|(_, ns)| ns.as_deref() == Some("research"))
        .unwrap();
    let first_infra = deletes
        .iter()
        .position(|(_, ns)| ns.as_deref() == Some("cnvrg-infra"))
        .unwrap();
    assert!(last_tenant < first_infra, "tenants first: {deletes:?}");
    assert!(
        env.deployment("cnvrg-infra", "prometheus-operator")
            .is_none()
    );
    assert!(
        env.server
            .get(
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                None,
                "prometheuses.monitoring.coreos.com"
            )
            .is_some()
    );
    assert!(
        env.server
            .get(
                "v1",
                "PersistentVolumeClaim",
                Some("research"),
                "data-research-postgres-0"
            )
            .is_some()
    );
    // A second uninstall finds only what was kept.
    env.cnvrgctl(&["uninstall", "--yes", "--delete-data", "--delete-crds"])
        .assert()
        .success();
    assert!(
        env.server
            .get(
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                None,
                "prometheuses.monitoring.coreos.com"
            )
            .is_none()
    );
    assert!(
        env.server
            .get("v1", "Namespace", None, "research")
            .is_none()
    );
}

/// SPEC without its tenants: infra only.
fn infra_only(env: &Env) {
    env.write_spec(SPEC.split("  tenants:\n").next().unwrap());
}

#[test]
fn tenant_add_needs_infra_then_installs_only_that_tenant_and_reruns_clean() {
    let env = Env::new(SPEC);
    infra_only(&env);
    let file = env.dir.path().join("tenants/vision.yaml");
    let add = |extra: &[&str]| {
        let mut args = vec!["tenant", "add", "vision", "--type", "workspace", "--yes"];
        args.extend_from_slice(extra);
        env.cnvrgctl(&args)
    };

    // Refused before infra is installed: nothing written anywhere.
    add(&[])
        .assert()
        .code(3)
        .stderr(predicate::str::contains(
            "infra is not installed on http://",
        ))
        .stderr(predicate::str::contains(
            "run `cnvrgctl install infra` first",
        ));
    assert!(!file.exists());
    assert!(env.writes().is_empty(), "{:?}", env.writes());

    env.cnvrgctl(&["install", "infra", "--yes"])
        .assert()
        .success();
    env.server.clear_log();
    add(&["--set", "workspace.agentPools[0].replicas=3"])
        .assert()
        .success()
        .stderr(predicate::str::contains(format!(
            "wrote {}",
            file.display()
        )));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.ends_with(
            "kind: Tenant\nmetadata:\n  name: vision\nspec:\n  type: workspace\n  workspace:\n    agentPools:\n    - name: default\n      replicas: 3\n"
        ),
        "{text}"
    );
    let agents = env.deployment("vision", "vision-agent-default").unwrap();
    assert_eq!(agents["spec"]["replicas"], 3);
    assert_eq!(agents["status"]["readyReplicas"], 3, "waited for");
    assert!(
        env.writes()
            .iter()
            .all(|w| w.namespace.as_deref() == Some("vision")
                || (w.namespace.is_none() && w.name == "vision")),
        "only the tenant's objects are written: {:?}",
        env.writes()
    );

    // The same command again continues (nothing left to do); other settings are refused.
    env.server.clear_log();
    add(&["--set", "workspace.agentPools[0].replicas=3"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "exists from an earlier `tenant add`",
        ));
    assert!(env.writes().is_empty(), "{:?}", env.writes());
    add(&[]).assert().code(2).stderr(predicate::str::contains(
        "vision.yaml already exists with other settings",
    ));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        text,
        "kept as it was"
    );
    env.cnvrgctl(&["diff"]).assert().code(0);
}

#[test]
fn tenant_add_refuses_taken_names_and_namespaces_and_asks_for_type_off_a_terminal() {
    let env = Env::new(SPEC);
    env.cnvrgctl(&["install", "infra", "--yes"])
        .assert()
        .success();
    env.server.create(json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lab"}
    }));
    env.server.clear_log();
    let cases: [(&[&str], i32, &str); 5] = [
        (
            &["research", "--type", "workspace"],
            2,
            "tenant `research` already exists in",
        ),
        (
            &[
                "vision",
                "--type",
                "workspace",
                "--namespace",
                "cnvrg-infra",
            ],
            2,
            "namespace `cnvrg-infra` is the infra namespace",
        ),
        (
            &["vision", "--type", "cnvrg", "--namespace", "research"],
            2,
            "namespace `research` is taken by tenant `research`",
        ),
        (
            &["lab", "--type", "workspace"],
            3,
            "namespace `lab` already exists on http://",
        ),
        (&["vision"], 2, "--type is required (cnvrg or workspace)"),
    ];
    for (args, code, message) in cases {
        let mut full = vec!["tenant", "add"];
        full.extend_from_slice(args);
        full.push("--yes");
        env.cnvrgctl(&full)
            .assert()
            .code(code)
            .stderr(predicate::str::contains(message));
    }
    // A mistake in --set is reported against the tenant file, like any spec error.
    env.cnvrgctl(&[
        "tenant",
        "add",
        "vision",
        "--type",
        "workspace",
        "--set",
        "workspace.agentPool[0].name=x",
        "--yes",
    ])
    .assert()
    .code(2)
    .stderr(predicate::str::contains("tenants/vision.yaml:"))
    .stderr(predicate::str::contains("agentPools"));
    assert!(!env.dir.path().join("tenants").exists(), "no file written");
    assert!(env.writes().is_empty(), "{:?}", env.writes());
}

#[test]
fn tenant_add_that_fails_keeps_its_file_and_a_rerun_continues() {
    let env = Env::new(SPEC);
    infra_only(&env);
    env.cnvrgctl(&["install", "infra", "--yes"])
        .assert()
        .success();
    let target = || Target::kind("Deployment").named("vision-orion-server");
    // The registry refuses the Orion image until the user fixes its credentials.
    env.server
        .behave(target(), Behavior::NeverReady(PodTrouble::ImagePullBackOff));
    let add = || {
        env.cnvrgctl(&[
            "tenant",
            "add",
            "vision",
            "--type",
            "workspace",
            "--yes",
            "--object-timeout",
            "3s",
        ])
    };
    let out = add().assert().code(5).get_output().clone();
    let stderr = stderr_of(&out);
    assert!(stderr.contains("ImagePullBackOff"), "{stderr}");
    assert!(
        stderr.contains(
            "vision.yaml is kept; once the problem is fixed, run `cnvrgctl tenant add vision` again"
        ),
        "{stderr}"
    );
    assert!(env.dir.path().join("tenants/vision.yaml").exists());
    assert!(env.deployment("vision", "vision-agent-default").is_none());

    env.server.behave(
        target(),
        Behavior::Ready {
            after: std::time::Duration::ZERO,
        },
    );
    add().assert().success();
    assert!(env.deployment("vision", "vision-agent-default").is_some());
    env.cnvrgctl(&["diff"]).assert().code(0);
}
