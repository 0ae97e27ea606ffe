//! Preflight's capacity check against nodes with allocatable, taints and
//! cordons: a pod that fits no node names each node's reason and the spec
//! field that sizes it, a total the nodes cannot hold names the numbers, a
//! taint keeps pods out until it is lifted, and a healthy cluster passes with
//! the totals. Each failure also stops `apply` before its first write.

use serde_json::Value;
use testserver::{Fault, FaultKind, FaultTarget, Node, Verb};

use crate::common::cluster::{Env, SMALL, stderr_of};

/// SMALL with the agent pool asking `cpu` (request and limit).
fn pool_asking(cpu: &str) -> String {
    SMALL.replace(
        "          - {name: default}\n",
        &format!(
            "          - name: default\n            resources:\n              requests: {{cpu: \"{cpu}\", memory: 1Gi}}\n              limits: {{cpu: \"{cpu}\", memory: 2Gi}}\n"
        ),
    )
}

/// `preflight -o json` with the exit code wanted: its capacity rows.
fn capacity_rows(env: &Env, code: i32) -> Vec<Value> {
    super::preflight::rows(env, code)
        .into_iter()
        .filter(|r| r["check"] == "capacity")
        .collect()
}

/// Two nodes: `node-1` with 1 cpu, and `node-2` with 8 cpu and 4 GPUs,
/// tainted `KEY=VALUE:EFFECT`.
fn small_and_tainted(env: &Env, key: &str, value: &str, effect: &str) {
    env.server
        .set_node(Node::new("node-1").allocatable("cpu", "1"));
    env.server.set_node(
        Node::new("node-2")
            .allocatable("cpu", "8")
            .allocatable("nvidia.com/gpu", "4")
            .taint(key, value, effect),
    );
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// `apply` stops with exit 6 before writing anything.
fn apply_writes_nothing(env: &Env) {
    let out = env.apply(&[]).assert().code(6).get_output().clone();
    let stderr = stderr_of(&out);
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert!(env.writes().is_empty(), "{:?}", env.writes());
}

#[test]
fn a_pod_that_fits_no_node_names_each_nodes_reason_and_apply_writes_nothing() {
    let env = Env::new(&pool_asking("1.5"));
    small_and_tainted(&env, "gpu", "true", "NoSchedule");
    env.server
        .set_node(Node::new("node-3").allocatable("cpu", "16").cordoned());
    let rows = capacity_rows(&env, 6);
    let failed: Vec<&Value> = rows.iter().filter(|r| r["level"] == "fail").collect();
    assert_eq!(failed.len(), 1, "{rows:#?}");
    assert_eq!(
        failed[0]["subject"],
        "Deployment/research/research-agent-default"
    );
    assert_eq!(
        text(&failed[0]["detail"]),
        "a pod asks cpu 1.5, memory 1Gi; no node can take it: node-1 has 1 cpu free, \
         node-2 is tainted gpu=true:NoSchedule, node-3 is cordoned (spec.unschedulable)"
    );
    assert!(
        text(&failed[0]["fix"]).starts_with(
            "lower the requests in spec.tenants[research].workspace.agentPools[default].resources"
        ),
        "{}",
        failed[0]
    );
    apply_writes_nothing(&env);
}

#[test]
fn a_total_the_nodes_cannot_hold_names_the_numbers_and_apply_writes_nothing() {
    let env = Env::new(SMALL);
    for name in ["node-1", "node-2"] {
        env.server
            .set_node(Node::new(name).allocatable("memory", "300Mi"));
    }
    let rows = capacity_rows(&env, 6);
    let total = rows
        .iter()
        .find(|r| r["level"] == "fail" && r["subject"] == "-")
        .unwrap_or_else(|| panic!("no total row: {rows:#?}"));
    let detail = text(&total["detail"]);
    assert!(
        detail.starts_with("the run adds memory ")
            && detail.contains(" but the nodes have 600Mi free (largest: "),
        "{detail}"
    );
    assert!(
        text(&total["fix"]).starts_with("add nodes with more memory"),
        "{total}"
    );
    apply_writes_nothing(&env);
}

#[test]
fn a_taint_keeps_pods_out_until_it_is_lifted() {
    let env = Env::new(&pool_asking("1.5"));
    small_and_tainted(&env, "dedicated", "db", "NoExecute");
    let rows = capacity_rows(&env, 6);
    assert!(
        rows.iter().any(|r| r["level"] == "fail"
            && text(&r["detail"]).ends_with(
                "no node can take it: node-1 has 1 cpu free, node-2 is tainted dedicated=db:NoExecute"
            )),
        "{rows:#?}"
    );
    // A preference is no refusal.
    small_and_tainted(&env, "dedicated", "db", "PreferNoSchedule");
    let rows = capacity_rows(&env, 0);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["level"], "pass");
}

#[test]
fn a_healthy_cluster_passes_with_the_totals_and_an_applied_one_adds_nothing() {
    let env = Env::new(SMALL);
    let rows = capacity_rows(&env, 0);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["level"], "pass");
    assert_eq!(rows[0]["subject"], "-");
    let detail = text(&rows[0]["detail"]);
    assert!(
        detail.starts_with("the run adds cpu ")
            && detail.contains("; the nodes have cpu 8, memory 32Gi, pods 220 free"),
        "{detail}"
    );
    env.cnvrgctl(&["install", "infra", "--yes"])
        .assert()
        .success();
    env.apply(&[]).assert().success();
    // Everything is applied: the run adds nothing; the pods now running
    // hold their requests.
    let rows = capacity_rows(&env, 0);
    let detail = text(&rows[0]["detail"]);
    assert!(
        detail.starts_with("the run adds no pods; the nodes have cpu "),
        "{detail}"
    );
    assert!(!detail.contains("cpu 8,"), "{detail}");
}

#[test]
fn refused_node_or_pod_reads_skip_the_check_with_a_warning() {
    for (path, what) in [("/api/v1/nodes", "nodes"), ("/api/v1/pods", "pods")] {
        let env = Env::new(SMALL);
        env.server.inject(
            Fault::new(
                FaultTarget::method("GET").and_path(path),
                FaultKind::Reject {
                    code: 403,
                    reason: "Forbidden".into(),
                    message: format!("{what} is forbidden: User \"ops\" cannot list resource \"{what}\" in API group \"\" at the cluster scope"),
                },
            )
            .times(10),
        );
        let rows = capacity_rows(&env, 0);
        assert_eq!(rows.len(), 1, "{rows:#?}");
        assert_eq!(rows[0]["level"], "warn");
        assert!(
            text(&rows[0]["detail"]).starts_with(&format!("cannot read {what}: "))
                && text(&rows[0]["detail"]).contains("forbidden"),
            "{}",
            rows[0]
        );
    }
}

#[test]
fn a_run_that_adds_no_pods_does_not_read_the_clusters_pods() {
    let env = Env::new(SMALL);
    env.install();
    env.server.clear_log();
    let out = env.apply(&["-o", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let capacity: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event"] == "preflight")
        .flat_map(|e| e["checks"].as_array().cloned().unwrap_or_default())
        .filter(|r| r["check"] == "capacity")
        .collect();
    assert_eq!(capacity.len(), 1, "{stdout}");
    assert_eq!(capacity[0]["level"], "pass");
    assert_eq!(
        capacity[0]["detail"],
        "the run adds no pods (every workload is as applied)"
    );
    let pod_lists = |env: &Env| {
        env.server
            .requests()
            .iter()
            .filter(|r| r.verb == Verb::List && r.resource.as_deref() == Some("pods"))
            .count()
    };
    assert_eq!(pod_lists(&env), 0, "the run read the cluster's pods");
    // `preflight` itself still reports the nodes' free capacity.
    let rows = capacity_rows(&env, 0);
    let detail = rows[0]["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("the run adds no pods; the nodes have cpu "),
        "{detail}"
    );
    assert_eq!(pod_lists(&env), 1);
}
