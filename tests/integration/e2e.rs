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
            let text = cnvrgctl::output::yaml_stream(&objects);
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
