//! Drift: fields another manager took over show in `diff` as `conflict` rows
//! naming the manager, with the hunk a forced apply would make; `apply`
//! refuses them (with the same table) until `--force-conflicts`.

use serde_json::Value;

use crate::common::cluster::{Env, SMALL, stderr_of};

const AGENT: &str = "research-agent-default";

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `cnvrgctl diff`, which must exit 1: its stdout.
fn diff_showing_changes(env: &Env) -> String {
    let out = env
        .cnvrgctl(&["diff"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    stderr_of(&out);
    stdout_of(&out)
}

/// The table row of `name`, split into its cells.
fn row<'a>(stdout: &'a str, name: &str) -> Option<Vec<&'a str>> {
    stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.len() >= 5 && cells[3] == name)
}

#[test]
fn a_kubectl_scale_shows_as_a_conflict_row_with_the_forced_hunk() {
    let env = Env::new(SMALL);
    env.install();
    assert_eq!(
        env.deployment("research", AGENT).unwrap()["spec"]["replicas"],
        1
    );
    env.kubectl_scale("research", AGENT, 3);

    let stdout = diff_showing_changes(&env);
    let cells = row(&stdout, AGENT).unwrap_or_else(|| panic!("no row for {AGENT}:\n{stdout}"));
    assert_eq!(
        cells[..5],
        [
            "tenant.research",
            "Deployment",
            "research",
            AGENT,
            "conflict"
        ]
    );
    let line = stdout.lines().find(|l| l.contains(AGENT)).unwrap();
    assert!(line.contains("kubectl (scale): .spec.replicas"), "{line}");
    assert!(
        stdout.contains("0 to create, 0 to update, 0 to replace, 0 to prune"),
        "every other object is unchanged:\n{stdout}"
    );
    assert!(stdout.contains(", 1 in conflict"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "+++ desired/Deployment/research/{AGENT} (--force-conflicts)"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("\n-  replicas: 3\n+  replicas: 1\n"),
        "{stdout}"
    );

    let out = env
        .cnvrgctl(&["diff", "-o", "json"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let changes: Value = serde_json::from_slice(&out.stdout).unwrap();
    let changes = changes.as_array().unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["op"], "conflict");
    assert_eq!(changes[0]["name"], AGENT);
    assert_eq!(
        changes[0]["conflicts"],
        serde_json::json!([{"manager": "kubectl", "subresource": "scale",
            "operation": "Update", "fields": [".spec.replicas"]}])
    );
    assert!(
        changes[0]["diff"]
            .as_str()
            .unwrap()
            .contains("-  replicas: 3\n+  replicas: 1\n"),
        "{}",
        changes[0]["diff"]
    );

    // `apply` refuses before any write, showing the same table.
    env.server.clear_log();
    let out = env.apply(&[]).assert().code(3).get_output().clone();
    let stderr = stderr_of(&out);
    let table = stdout_of(&out);
    assert_eq!(row(&table, AGENT), Some(cells.clone()), "{table}");
    assert!(
        stderr.contains(&format!("Deployment/research/{AGENT}")),
        "{stderr}"
    );
    assert!(
        stderr.contains("\"kubectl\" with subresource \"scale\""),
        "{stderr}"
    );
    assert!(stderr.contains(".spec.replicas"), "{stderr}");
    assert!(stderr.contains("--force-conflicts"), "{stderr}");
    assert!(
        env.writes().is_empty(),
        "nothing applied: {:?}",
        env.writes()
    );
    assert_eq!(
        env.deployment("research", AGENT).unwrap()["spec"]["replicas"],
        3
    );

    env.apply(&["--force-conflicts"]).assert().success();
    assert_eq!(
        env.deployment("research", AGENT).unwrap()["spec"]["replicas"],
        1
    );
    env.cnvrgctl(&["diff"]).assert().code(0);
}

#[test]
fn a_field_someone_else_removed_is_an_ordinary_update() {
    let env = Env::new(SMALL);
    env.install();
    // A merge patch that drops a label cnvrgctl set takes nothing over: the
    // field is gone, and applying it again conflicts with no one.
    let live = env.deployment("research", AGENT).unwrap();
    let label = live["metadata"]["labels"]
        .as_object()
        .unwrap()
        .keys()
        .find(|k| !k.starts_with("applyset.kubernetes.io"))
        .unwrap()
        .clone();
    env.merge_patch(
        "kubectl-edit",
        &format!("/apis/apps/v1/namespaces/research/deployments/{AGENT}"),
        &serde_json::json!({"metadata": {"labels": {label.as_str(): null}}}),
    );
    let stdout = diff_showing_changes(&env);
    let cells = row(&stdout, AGENT).unwrap_or_else(|| panic!("no row for {AGENT}:\n{stdout}"));
    assert_eq!(cells.len(), 5, "{stdout}");
    assert_eq!(cells[4], "update");
    assert!(!stdout.contains("conflict"), "{stdout}");
}
