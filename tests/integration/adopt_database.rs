//! Adopting a Cartographer workspace whose database is Crunchy's
//! PostgresCluster (`tests/fixtures/adopt/workspace-operator.yaml`): the
//! imported spec names it (`postgres.importFrom`), and `apply --adopt`
//! copies its data into ours with a Job that runs after our PostgreSQL is
//! ready and before the Orion server starts on it, with the old server
//! stopped meanwhile. The test server runs no PostgreSQL: the tests check the
//! Job's spec, its place in the run, and that a second run writes nothing.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::adopt::operator_tenant_of;
use crate::common::cluster::{Env, SMALL, stderr_of};
use testserver::{Behavior, Target, WriteOp};

/// The spec `cnvrgctl import` writes for the workspace (its database part).
fn imported() -> String {
    SMALL.replace(
        "        agentPools:",
        "        postgres:\n          importFrom: {postgresCluster: research}\n        agentPools:",
    )
}

const JOB: &str = "research-postgres-import";
const PASSWORD: &str = "operator-made-password";

fn stopped_operator() -> Env {
    let env = operator_tenant_of(&imported());
    env.server.apply_as(
        "kubectl",
        serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "cartographer-controller-manager", "namespace": "cartographer-system"},
            "spec": {"replicas": 0}}),
    );
    env
}

fn get(env: &Env, api_version: &str, kind: &str, name: &str) -> Option<Value> {
    env.server.get(api_version, kind, Some("research"), name)
}

/// The position of the first write of `kind/name` with `op` in the log.
fn position(writes: &[testserver::Write], op: WriteOp, kind: &str, name: &str) -> usize {
    writes
        .iter()
        .position(|w| w.op == op && w.kind == kind && w.name == name)
        .unwrap_or_else(|| panic!("no {op:?} of {kind}/{name} in {writes:#?}"))
}

#[test]
fn the_copy_job_reads_both_secrets_by_reference_and_never_copies_twice() {
    let env = stopped_operator();
    let out = env
        .cnvrgctl(&["render", "--scope", "tenant/research", "-o", "json"])
        .output()
        .unwrap();
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let job = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "Job" && o["metadata"]["name"] == JOB)
        .expect("the copy Job is rendered");
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    let script = container["command"][2].as_str().unwrap();
    for needle in [
        "set -euo pipefail",
        "ON_ERROR_STOP=1",
        "--single-transaction",
        "pg_dump -h \"$SOURCE_HOST\"",
        "--exclude-extension=pgaudit",
        "public.cnvrgctl_import",
        "already copied",
    ] {
        assert!(script.contains(needle), "{needle} in\n{script}");
    }
    let env_of = |name: &str| {
        container["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("{name}"))
            .clone()
    };
    for (var, secret, key) in [
        ("SOURCE_HOST", "research-pguser-prefect", "host"),
        ("SOURCE_PASSWORD", "research-pguser-prefect", "password"),
        ("SOURCE_DB", "research-pguser-prefect", "dbname"),
        ("TARGET_PASSWORD", "research-postgres", "password"),
        ("TARGET_USER", "research-postgres", "username"),
    ] {
        let e = env_of(var);
        assert_eq!(e["valueFrom"]["secretKeyRef"]["name"], secret, "{var}");
        assert_eq!(e["valueFrom"]["secretKeyRef"]["key"], key, "{var}");
        assert!(e.get("value").is_none(), "{var} is never inline");
    }
    assert!(!String::from_utf8_lossy(&out.stdout).contains(PASSWORD));
    assert_eq!(
        job["metadata"]["annotations"]["cnvrgctl.io/stop-first"],
        "Deployment/research-orion-server"
    );
}

/// After our PostgreSQL is ready the old Orion server is scaled to zero and
/// its pods are gone; only then is the Job created; the server rolls onto
/// our database (our template, its replicas back) once the Job completed. A
/// second run writes nothing, and the PostgresCluster is never deleted.
#[test]
fn adopt_stops_the_old_server_copies_then_starts_ours_and_a_rerun_writes_nothing() {
    let env = stopped_operator();
    env.server.behave(
        Target::kind("Job").named(JOB),
        Behavior::Ready {
            after: Duration::from_secs(3),
        },
    );
    env.server.clear_log();
    let child = env
        .process(&["apply", "--yes", "--adopt", "--object-timeout", "60s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // While the Job runs (it completes after 3 s), the old server is down.
    let until = Instant::now() + Duration::from_secs(60);
    while get(&env, "batch/v1", "Job", JOB).is_none() {
        assert!(Instant::now() < until, "the Job was never created");
        std::thread::sleep(Duration::from_millis(20));
    }
    let orion = get(&env, "apps/v1", "Deployment", "research-orion-server").unwrap();
    assert_eq!(orion["spec"]["replicas"], 0, "{orion}");
    let serving: Vec<Value> = env
        .server
        .list("v1", "Pod", Some("research"))
        .into_iter()
        .filter(|p| p["metadata"]["labels"]["mlops.aigency.com/component"] == "workflow-server")
        .collect();
    assert!(serving.is_empty(), "orion pods while copying: {serving:#?}");
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(!stdout.contains(PASSWORD) && !stderr.contains(PASSWORD));

    let writes = env.writes();
    let postgres = position(&writes, WriteOp::Create, "StatefulSet", "research-postgres");
    // The first update of the server frees it of its ownerReferences (before
    // any apply); the next one, after our PostgreSQL, stops it.
    let stop = postgres
        + 1
        + position(
            &writes[postgres + 1..],
            WriteOp::Update,
            "Deployment",
            "research-orion-server",
        );
    let job = position(&writes, WriteOp::Create, "Job", JOB);
    let last_orion = writes
        .iter()
        .rposition(|w| w.kind == "Deployment" && w.name == "research-orion-server")
        .unwrap();
    assert!(
        postgres < stop && stop < job && job < last_orion,
        "{writes:#?}"
    );
    let orion = get(&env, "apps/v1", "Deployment", "research-orion-server").unwrap();
    assert_eq!(orion["spec"]["replicas"], 1, "back up: {orion}");
    let containers = orion["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    // Cartographer's selector is not ours (immutable): the Deployment was
    // made again, so nothing of the operator's template is left.
    let names: Vec<&Value> = containers.iter().map(|c| &c["name"]).collect();
    assert_eq!(names, ["prefect-server"], "our template only: {orion}");
    assert_eq!(
        orion["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"],
        "orion-server"
    );
    assert!(
        get(
            &env,
            "postgres-operator.crunchydata.com/v1beta1",
            "PostgresCluster",
            "research"
        )
        .is_some()
    );

    env.server.clear_log();
    env.apply(&["--adopt"]).assert().success();
    assert!(env.writes().is_empty(), "{:#?}", env.writes());
}

/// `diff --adopt -o json`: the changes and the adoption's lists as data,
/// the same facts the text shows.
#[test]
fn diff_adopt_json_lists_what_is_adopted_replaced_copied_and_the_way_out() {
    let env = stopped_operator();
    let out = env
        .cnvrgctl(&[
            "diff",
            "--adopt",
            "--scope",
            "tenant/research",
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!text.contains(PASSWORD));
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert!(doc["changes"].as_array().is_some_and(|c| !c.is_empty()));
    let a = &doc["adoption"];
    let orion = a["adopted"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["object"] == "Deployment/research/research-orion-server")
        .unwrap();
    assert_eq!(orion["owners"], serde_json::json!(["Workspace/research"]));
    assert_eq!(orion["managers"], serde_json::json!(["manager"]));
    assert!(
        a["restarts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["object"] == "Deployment/research/research-orion-server"),
        "{a}"
    );
    let pool = &a["replaced"][0];
    assert_eq!(pool["old"], "StatefulSet/research/research-agent-default");
    assert_eq!(pool["new"], "Deployment/research/research-agent-default");
    assert_eq!(
        pool["retire"][0],
        "kubectl -n research scale statefulset research-agent-default --replicas=0"
    );
    let copy = &a["copies"][0];
    assert_eq!(copy["from"], "PostgresCluster/research/research");
    assert_eq!(copy["by"], "Job/research/research-postgres-import");
    assert_eq!(copy["stops"], "Deployment/research/research-orion-server");
    assert_eq!(a["moves"], serde_json::json!([]));
    assert!(
        a["stays"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["object"] == "PostgresCluster/research/research"),
        "{a}"
    );
    let way_out: Vec<&str> = a["wayOut"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let at = |needle: &str| {
        way_out
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle} in {way_out:#?}"))
    };
    assert!(
        at("scale deployment cartographer-controller-manager")
            < at("scale statefulset research-agent-default")
    );
    assert!(
        at("delete statefulset research-agent-default")
            < at("delete postgresclusters.postgres-operator.crunchydata.com research")
    );
    assert_eq!(a["operatorsRunning"], serde_json::json!([]));

    // The text says the same.
    let out = env
        .cnvrgctl(&["diff", "--adopt", "--scope", "tenant/research"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let replaced = text
        .split("replaced beside the operators' objects")
        .nth(1)
        .unwrap();
    assert!(
        replaced.contains("StatefulSet/research/research-agent-default -> Deployment/research/research-agent-default"),
        "{text}"
    );
    let copied = text.split("data copied").nth(1).unwrap();
    assert!(
        copied.contains(
            "PostgresCluster/research/research -> copied by Job/research/research-postgres-import"
        ),
        "{text}"
    );
}

/// `apply --adopt -o json`: the lists are one `adoption` event, before the
/// steps.
#[test]
fn apply_adopt_json_emits_the_adoption_event_before_the_steps() {
    let env = stopped_operator();
    let out = env.apply(&["--adopt", "-o", "json"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}\n{}", stderr_of(&out));
    assert!(!stdout.contains(PASSWORD));
    let events: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let at = |name: &str| events.iter().position(|e| e["event"] == name).unwrap();
    assert!(at("preflight") < at("adoption") && at("adoption") < at("unblocked"));
    let adoption = &events[at("adoption")];
    assert_eq!(
        adoption["copies"][0]["from"],
        "PostgresCluster/research/research"
    );
    assert!(adoption["wayOut"].as_array().is_some_and(|w| !w.is_empty()));
}
