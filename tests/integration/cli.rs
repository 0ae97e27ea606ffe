//! The binary as a user runs it: exit codes, what goes to stdout and stderr.

use assert_cmd::cargo::cargo_bin_cmd;
use predicates::prelude::*;

use crate::common::{EXAMPLES, example, root};

fn cnvrgctl() -> assert_cmd::Command {
    let mut cmd = cargo_bin_cmd!("cnvrgctl");
    cmd.env_remove("KUBECONFIG").env("NO_COLOR", "1");
    cmd
}

#[test]
fn render_every_example_succeeds() {
    for name in EXAMPLES {
        cnvrgctl()
            .args(["render", "-f"])
            .arg(example(name))
            .assert()
            .success()
            .stdout(predicate::str::contains("kind: Namespace"))
            .stderr("");
    }
}

#[test]
fn validate_reports_counts() {
    cnvrgctl()
        .args(["validate", "-f"])
        .arg(example("workspace"))
        .assert()
        .success()
        .stderr(predicate::str::contains("valid (1 tenants,"));
}

#[test]
fn spec_error_exits_2_with_nothing_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cluster.yaml");
    std::fs::write(
        &file,
        "apiVersion: cnvrgctl.io/v1alpha1\nkind: Cluster\nmetadata: {name: acme}\nspec:\n  tenant: []\n",
    )
    .unwrap();
    cnvrgctl()
        .args(["render", "-f"])
        .arg(&file)
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(
            "cluster.yaml:5:3: spec.tenant: unknown field `tenant`",
        ))
        .stderr(predicate::str::contains("did you mean `tenants`?"));
}

#[test]
fn missing_spec_file_exits_2() {
    cnvrgctl()
        .current_dir(std::env::temp_dir())
        .args(["render", "-f", "no-such-cluster.yaml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read no-such-cluster.yaml"));
}

#[test]
fn usage_errors_exit_2() {
    cnvrgctl()
        .args(["render", "--no-such-flag"])
        .assert()
        .code(2);
    cnvrgctl().assert().code(2);
    cnvrgctl()
        .args(["render", "--scope", "tenant/nobody", "-f"])
        .arg(example("workspace"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no tenant `nobody` in the spec (tenants: test-environment)",
        ));
}

#[test]
fn scope_filter_keeps_one_scope() {
    let out = cnvrgctl()
        .args(["render", "--scope", "infra", "-f"])
        .arg(example("multi-tenant"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("(scope infra)"));
    assert!(!text.contains("(scope tenant."));
}

#[test]
fn json_output_is_a_list() {
    let out = cnvrgctl()
        .args(["render", "-o", "json", "-f"])
        .arg(example("workspace"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let list: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(list["kind"], "List");
    assert!(list["items"].as_array().unwrap().len() > 5);
}

#[test]
fn show_spec_prints_the_effective_spec() {
    cnvrgctl()
        .args(["render", "--show-spec", "-f"])
        .arg(example("workspace"))
        .assert()
        .success()
        .stdout(predicate::str::contains("profile: dev"))
        .stdout(predicate::str::contains("agentPools:"));
}

#[test]
fn out_dir_is_written_and_rewritten_but_never_over_foreign_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("manifests");
    for _ in 0..2 {
        cnvrgctl()
            .args(["render", "-f"])
            .arg(example("multi-tenant"))
            .arg("--out")
            .arg(&out)
            .assert()
            .success()
            .stdout("");
    }
    assert!(out.join("kustomization.yaml").is_file());
    assert!(out.join("tenants/research/orion-server.yaml").is_file());
    // Files holding a Secret are the owner's only; the others are not.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |rel: &str| {
            std::fs::metadata(out.join(rel))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("tenants/research/postgres.yaml"), 0o600);
        assert_ne!(mode("tenants/research/orion-server.yaml"), 0o600);
    }

    let foreign = dir.path().join("mine");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "keep me").unwrap();
    cnvrgctl()
        .args(["render", "-f"])
        .arg(example("workspace"))
        .arg("--out")
        .arg(&foreign)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("refusing to overwrite"));
    assert_eq!(
        std::fs::read_to_string(foreign.join("notes.txt")).unwrap(),
        "keep me"
    );
}

#[test]
fn broken_template_override_exits_2_naming_the_template() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("workspace")).unwrap();
    std::fs::write(
        dir.path().join("workspace/orion-server.yaml.j2"),
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ tenant.nmae }}\n",
    )
    .unwrap();
    cnvrgctl()
        .args(["render", "-f"])
        .arg(example("workspace"))
        .arg("--templates")
        .arg(dir.path())
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("workspace/orion-server.yaml.j2"))
        .stderr(predicate::str::contains("line 4"));
}

#[test]
fn the_readme_render_command_works_from_the_repo_root() {
    cnvrgctl()
        .current_dir(root())
        .args(["render", "-f", "examples/multi-tenant/cluster.yaml"])
        .assert()
        .success();
}

#[test]
fn closed_stdout_is_not_an_error() {
    // `cnvrgctl render | head -1`: the pipe closes early; exit stays 0.
    let bin = assert_cmd::cargo::cargo_bin!("cnvrgctl");
    let status = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -o pipefail; '{}' render -f '{}' | head -c 10 >/dev/null",
            bin.display(),
            example("multi-tenant").display()
        ))
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn rbac_grants_every_rendered_kind_and_is_valid_rbac() {
    for name in EXAMPLES {
        let (_, manifests) = crate::common::render_example(name);
        let role = cnvrgctl::pipeline::rbac::cluster_role(&manifests);
        let typed: k8s_openapi::api::rbac::v1::ClusterRole =
            serde_json::from_value(role.clone()).expect("a valid ClusterRole");
        let rules = typed.rules.unwrap_or_default();
        for m in &manifests {
            let granted = rules.iter().any(|r| {
                r.api_groups
                    .as_deref()
                    .unwrap_or_default()
                    .contains(&m.group().to_string())
                    && r.verbs.iter().any(|v| v == "patch")
                    && r.resources
                        .as_deref()
                        .unwrap_or_default()
                        .contains(&cnvrgctl::pipeline::rbac::plural(m, &manifests))
            });
            assert!(granted, "{name}: nothing lets cnvrgctl apply {}", m.id());
        }
    }
    // The command prints it, with the reasons for what is not rendered.
    cnvrgctl()
        .args(["rbac", "-f"])
        .arg(example("multi-tenant"))
        .args(["--scope", "tenant/research"])
        .assert()
        .success()
        .stdout(predicate::str::contains("kind: Role\n"))
        .stdout(predicate::str::contains("  namespace: research\n"))
        .stdout(predicate::str::contains(
            "pods/log (core) get: the log tail of a failed Job",
        ));
}
