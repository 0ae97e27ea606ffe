//! `apply --adopt` takes over the operators' fields, not only those it
//! renders: what the operator set that cnvrgctl does not render (an env var,
//! a label) is removed, what another tool set stays that tool's, and
//! `diff --adopt` shows the removal first.

use serde_json::{Value, json};

use super::adopt::{diff_adopt, operator_tenant_of};
use crate::common::cluster::{Env, SMALL, stderr_of};

const DEPLOYMENT: &str = "/apis/apps/v1/namespaces/research/deployments/research-orion-server";

/// The operator's tenant whose orion Deployment the operator made (a
/// create: every field its `manager`'s, as an Update) with our selector and
/// pod template (so it is updated in place, not re-created) plus an env var
/// and a label cnvrgctl does not render; an annotation `kubectl` set; the
/// operator scaled to zero.
fn tenant_with_extras() -> Env {
    let env = operator_tenant_of(SMALL);
    let ours = rendered(&env, "research-orion-server");
    let fixture = env.deployment("research", "research-orion-server").unwrap();
    env.server.delete(
        "apps/v1",
        "Deployment",
        Some("research"),
        "research-orion-server",
    );
    let mut spec = ours["spec"].clone();
    spec["template"]["spec"]["containers"][0]["env"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "OPERATOR_EXTRA", "value": "1"}));
    let mut labels = ours["spec"]["selector"]["matchLabels"].clone();
    labels["operator-extra"] = json!("yes");
    let made = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "research-orion-server", "namespace": "research", "labels": labels,
                     "ownerReferences": fixture["metadata"]["ownerReferences"]},
        "spec": spec});
    env.post(
        "manager",
        "/apis/apps/v1/namespaces/research/deployments",
        &made,
    );
    let note = json!({"metadata": {"annotations": {"team/note": "keep"}}});
    env.merge_patch("kubectl", DEPLOYMENT, &note);
    env.server.apply_as(
        "kubectl",
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "cartographer-controller-manager", "namespace": "cartographer-system"},
               "spec": {"replicas": 0}}),
    );
    env
}

/// Our rendered Deployment `name` of tenant `research`.
fn rendered(env: &Env, name: &str) -> Value {
    let out = env
        .cnvrgctl(&["render", "--scope", "tenant/research"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    text.split("\n---\n")
        .filter_map(|doc| serde_yaml::from_str::<Value>(doc).ok())
        .find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no Deployment {name} in\n{text}"))
}

fn env_names(deployment: &Value) -> Vec<String> {
    deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["env"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["name"].as_str().map(str::to_string))
        .collect()
}

/// The managers of the main resource (not `/status`).
fn managers(object: &Value) -> Vec<String> {
    object["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e.get("subresource").is_none())
        .map(|e| e["manager"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn adopting_removes_what_the_operator_set_and_we_do_not_render() {
    let env = tenant_with_extras();
    let out = env.apply(&["--adopt"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let adopted = env.deployment("research", "research-orion-server").unwrap();
    assert!(
        !env_names(&adopted).contains(&"OPERATOR_EXTRA".to_string()),
        "{adopted}"
    );
    let labels = &adopted["metadata"]["labels"];
    assert!(labels.get("operator-extra").is_none(), "{adopted}");
    assert_eq!(adopted["metadata"]["annotations"]["team/note"], "keep");
    let mut who = managers(&adopted);
    who.sort();
    assert_eq!(who, ["cnvrgctl", "kubectl"], "{adopted}");
    env.server.clear_log();
    env.apply(&[]).assert().success();
    assert!(env.writes().is_empty(), "{:?}", env.writes());
}

#[test]
fn diff_adopt_shows_the_removal() {
    let env = tenant_with_extras();
    let stdout = diff_adopt(&env, &["--scope", "tenant/research"]);
    let removed: Vec<&str> = stdout.lines().filter(|l| l.starts_with('-')).collect();
    assert!(
        removed.iter().any(|l| l.contains("OPERATOR_EXTRA")),
        "{stdout}"
    );
    assert!(
        removed.iter().any(|l| l.contains("operator-extra")),
        "{stdout}"
    );
    assert!(!removed.iter().any(|l| l.contains("team/note")), "{stdout}");
}
