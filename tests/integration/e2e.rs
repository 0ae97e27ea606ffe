//! Against a real cluster (kind, k3d, any): runs only when
//! `CNVRGCTL_E2E_KUBECONFIG` names a kubeconfig, and prints why it is skipped
//! otherwise. Every example's rendered objects must be accepted by the API
//! server under strict field validation: Namespaces and CRDs are applied for
//! real (CRDs waited on until Established, so their custom resources can be
//! checked against the rendered schemas), everything else as a server-side dry
//! run. Only the Namespaces and CRDs this test created are deleted afterwards.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::common::{EXAMPLES, render_example};

fn kubeconfig() -> Option<String> {
    match std::env::var("CNVRGCTL_E2E_KUBECONFIG") {
        Ok(path) if !path.is_empty() => Some(path),
        _ => {
            eprintln!(
                "skipped: set CNVRGCTL_E2E_KUBECONFIG to a kind/k3d kubeconfig to run e2e tests"
            );
            None
        }
    }
}

#[test]
fn e2e_examples_pass_server_side_strict_validation() {
    let Some(kubeconfig) = kubeconfig() else {
        return;
    };
    for name in EXAMPLES {
        let (_, manifests) = render_example(name);
        // Namespaces and CRDs first, for real, so namespaced objects and custom
        // resources can be dry-run.
        let (namespaces, rest): (Vec<_>, Vec<_>) = manifests
            .into_iter()
            .partition(|m| matches!(m.kind(), "Namespace" | "CustomResourceDefinition"));
        // Only what this test creates is deleted afterwards.
        let created: Vec<(String, String)> = namespaces
            .iter()
            .filter(|m| !kubectl(&kubeconfig, &["get", m.kind(), m.name()]))
            .map(|m| (m.kind().to_string(), m.name().to_string()))
            .collect();
        let crds: Vec<String> = namespaces
            .iter()
            .filter(|m| m.kind() == "CustomResourceDefinition")
            .map(|m| format!("crd/{}", m.name()))
            .collect();
        for (objects, dry_run) in [(namespaces, false), (rest, true)] {
            if dry_run && !crds.is_empty() {
                let mut wait = vec!["wait", "--for=condition=Established", "--timeout=60s"];
                wait.extend(crds.iter().map(String::as_str));
                assert!(kubectl(&kubeconfig, &wait), "{name}: CRDs not established");
            }
            let mut args = vec![
                "--kubeconfig".to_string(),
                kubeconfig.clone(),
                "apply".into(),
                "--server-side".into(),
                "--field-manager=cnvrgctl-e2e".into(),
                "--validate=strict".into(),
                "-f".into(),
                "-".into(),
            ];
            if dry_run {
                args.push("--dry-run=server".into());
            }
            let mut child = Command::new("kubectl")
                .args(&args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("kubectl is installed");
            let text = cnvrgctl::pipeline::output::yaml_stream(&objects);
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{name}: the API server rejected objects:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        for (kind, name) in created {
            kubectl(&kubeconfig, &["delete", &kind, &name, "--wait=false"]);
        }
    }
}

/// Runs kubectl quietly; true when it succeeded.
fn kubectl(kubeconfig: &str, args: &[&str]) -> bool {
    Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The engine on a real cluster: `install infra`, `apply`, a clean `diff`,
/// an edit that shows exactly the edit, and an image that cannot be pulled
/// reported by name. Uses its own namespaces (`cnvrgctl-e2e-*`) and deletes
/// them afterwards; the monitoring CRDs are left (other things may use them).
#[test]
fn e2e_install_apply_diff_and_a_failure() {
    let Some(kubeconfig) = kubeconfig() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("cluster.yaml");
    let text = "\
apiVersion: cnvrgctl.io/v1alpha1
kind: Cluster
metadata:
  name: e2e
spec:
  profile: dev
  mode: multi-tenant
  clusterDomain: e2e.example
  ingress:
    type: nodeport
  infra:
    namespace: cnvrgctl-e2e-infra
    monitoring: {enabled: true}
    logging: {enabled: false}
  tenants:
    - name: cnvrgctl-e2e-ws
      type: workspace
      workspace:
        agentPools:
          - {name: default, replicas: 1}
";
    std::fs::write(&spec, text).unwrap();
    let run = |args: &[&str]| {
        let out = assert_cmd::cargo::cargo_bin_cmd!("cnvrgctl")
            .args(args)
            .arg("-f")
            .arg(&spec)
            .args(["--kubeconfig", &kubeconfig, "--timeout", "15m"])
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code().unwrap_or(-1), stdout, stderr)
    };
    let cleanup = || {
        kubectl(
            &kubeconfig,
            &[
                "delete",
                "namespace",
                "cnvrgctl-e2e-infra",
                "cnvrgctl-e2e-ws",
                "--wait=false",
                "--ignore-not-found",
            ],
        );
    };

    let (code, _, stderr) = run(&["install", "infra", "--yes"]);
    assert_eq!(code, 0, "install infra:\n{stderr}");
    let (code, _, stderr) = run(&["apply", "--yes"]);
    assert_eq!(code, 0, "apply:\n{stderr}");
    let (code, stdout, stderr) = run(&["diff"]);
    assert_eq!(
        code, 0,
        "diff after apply must be clean:\n{stdout}\n{stderr}"
    );

    std::fs::write(&spec, text.replace("replicas: 1}", "replicas: 2}")).unwrap();
    let (code, stdout, _) = run(&["diff"]);
    assert_eq!(code, 1, "{stdout}");
    let changed: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with(['+', '-']) && !l.starts_with("+++") && !l.starts_with("---"))
        .collect();
    assert_eq!(
        changed,
        ["-  replicas: 1", "+  replicas: 2"],
        "exactly the edit:\n{stdout}"
    );
    let (code, _, stderr) = run(&["apply", "--yes"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(run(&["diff"]).0, 0);

    // An image that does not exist: reported with the pod and the reason.
    let templates = dir.path().join("templates/workspace");
    std::fs::create_dir_all(&templates).unwrap();
    let pools = std::fs::read_to_string(
        crate::common::root().join("templates/workspace/agent-pools.yaml.j2"),
    )
    .unwrap();
    let broken = pools.replace(
        r#"image: {{ image("prefect-kubernetes") | tojson }}"#,
        r#"image: "registry.invalid/cnvrgctl/none:0""#,
    );
    assert_ne!(
        broken, pools,
        "the agent image line moved; update this test"
    );
    std::fs::write(templates.join("agent-pools.yaml.j2"), broken).unwrap();
    let (code, _, stderr) = run(&[
        "apply",
        "--yes",
        "--templates",
        dir.path().join("templates").to_str().unwrap(),
        "--failure-grace",
        "20s",
    ]);
    cleanup();
    assert_eq!(code, 5, "{stderr}");
    assert!(
        stderr.contains("ErrImagePull") || stderr.contains("ImagePullBackOff"),
        "{stderr}"
    );
    assert!(stderr.contains("cnvrgctl-e2e-ws-agent-default"), "{stderr}");
}

#[test]
fn e2e_preflight_reads_a_real_cluster_and_writes_nothing() {
    let Some(kubeconfig) = kubeconfig() else {
        return;
    };
    for name in EXAMPLES {
        let (_, manifests) = render_example(name);
        let namespaces: Vec<&str> = manifests
            .iter()
            .filter(|m| m.kind() == "Namespace")
            .map(|m| m.name())
            .collect();
        let existed: Vec<bool> = namespaces
            .iter()
            .map(|ns| kubectl(&kubeconfig, &["get", "namespace", ns]))
            .collect();
        let out = Command::new(assert_cmd::cargo::cargo_bin!("cnvrgctl"))
            .env_remove("KUBECONFIG")
            .env("CNVRG_REGISTRY_PASSWORD", "e2e-not-used")
            .args(["preflight", "-o", "json", "--kubeconfig", &kubeconfig, "-f"])
            .arg(crate::common::example(name))
            .output()
            .unwrap();
        // 0 (nothing fails) or 6 (a check fails on this cluster): either way
        // one report, every row with a level, every warn and fail a fix.
        let code = out.status.code();
        assert!(
            matches!(code, Some(0 | 6)),
            "{name}: {code:?} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("one JSON report");
        let rows = report["checks"].as_array().expect("checks");
        assert!(rows.iter().any(|r| r["check"] == "version"), "{report}");
        for row in rows {
            assert!(
                ["pass", "warn", "fail"].contains(&row["level"].as_str().unwrap()),
                "{row}"
            );
            if row["level"] != "pass" {
                assert!(row["fix"].is_string(), "{name}: {row}");
            }
        }
        assert_eq!(
            code == Some(6),
            rows.iter().any(|r| r["level"] == "fail"),
            "{name}"
        );
        // Nothing of the example was created.
        for (ns, existed) in namespaces.iter().zip(existed) {
            assert_eq!(
                kubectl(&kubeconfig, &["get", "namespace", ns]),
                existed,
                "{name}: {ns}"
            );
        }
    }
}
