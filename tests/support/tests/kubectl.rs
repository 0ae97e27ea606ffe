//! The test server against kubectl, the reference client: listing, server-side
//! apply (including a conflict and its takeover), `get -o json` and
//! `diff --server-side`. Skipped, with a printed reason, without kubectl.

use std::process::{Command, Output};

use serde_json::{Value, json};
use testserver::{TestServer, Verb};

fn kubectl(server: &TestServer, args: &[&str], stdin: Option<&str>) -> Option<Output> {
    let mut cmd = Command::new("kubectl");
    cmd.arg("--kubeconfig").arg(server.kubeconfig()).args(args);
    cmd.env_remove("KUBECONFIG");
    let out = match stdin {
        None => cmd.output(),
        Some(text) => {
            use std::io::Write;
            cmd.stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            cmd.spawn().and_then(|mut child| {
                child
                    .stdin
                    .take()
                    .expect("stdin")
                    .write_all(text.as_bytes())?;
                child.wait_with_output()
            })
        }
    };
    match out {
        Ok(o) => Some(o),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("skipped: kubectl is not on PATH");
            None
        }
        Err(e) => panic!("kubectl: {e}"),
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const MANIFEST: &str = "
apiVersion: v1
kind: Namespace
metadata:
  name: app
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: app
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: app
spec:
  selector: {app: web}
  ports:
  - port: 80
";

#[test]
fn kubectl_lists_applies_gets_and_diffs() {
    let server = TestServer::start();
    let Some(out) = kubectl(&server, &["get", "ns"], None) else {
        return;
    };
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("kube-system"));

    let out = kubectl(
        &server,
        &["apply", "--server-side", "--validate=false", "-f", "-"],
        Some(MANIFEST),
    )
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("deployment.apps/web serverside-applied"),
        "{}",
        text(&out.stdout)
    );
    let writes = server.writes();
    assert_eq!(writes.len(), 3, "{writes:?}");
    assert!(writes.iter().all(|w| w.manager == "kubectl"));

    let out = kubectl(
        &server,
        &["get", "deploy", "web", "-n", "app", "-o", "json"],
        None,
    )
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(d["metadata"]["generation"], 1);
    let svc = server.get("v1", "Service", Some("app"), "web").unwrap();
    assert!(
        svc["spec"]["clusterIP"]
            .as_str()
            .unwrap()
            .starts_with("10.96.")
    );

    // Unchanged: no diff, exit 0, nothing written.
    server.clear_log();
    let out = kubectl(
        &server,
        &["diff", "--server-side", "-f", "-"],
        Some(MANIFEST),
    )
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(server.writes().is_empty());
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.verb == Verb::Apply && r.dry_run)
    );

    // Changed: a diff, exit 1, still nothing written.
    let changed = MANIFEST.replace("nginx:1.27", "nginx:1.28");
    let out = kubectl(
        &server,
        &["diff", "--server-side", "-f", "-"],
        Some(&changed),
    )
    .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("+      - image: nginx:1.28"),
        "{}",
        text(&out.stdout)
    );
    assert!(server.writes().is_empty());

    // Another manager owns replicas: kubectl reports the conflict, then forces.
    server.apply_as(
        "hpa",
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "app"}, "spec": {"replicas": 5}}),
    );
    let out = kubectl(
        &server,
        &["apply", "--server-side", "--validate=false", "-f", "-"],
        Some(MANIFEST),
    )
    .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("conflict with \"hpa\""), "{err}");
    assert!(err.contains(".spec.replicas"), "{err}");
    let out = kubectl(
        &server,
        &[
            "apply",
            "--server-side",
            "--force-conflicts",
            "--validate=false",
            "-f",
            "-",
        ],
        Some(MANIFEST),
    )
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        server
            .get("apps/v1", "Deployment", Some("app"), "web")
            .unwrap()["spec"]["replicas"],
        2
    );

    let out = kubectl(
        &server,
        &["scale", "deploy/web", "-n", "app", "--replicas=4"],
        None,
    )
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        server
            .get("apps/v1", "Deployment", Some("app"), "web")
            .unwrap()["spec"]["replicas"],
        4
    );
    // The scale went through `/scale`: kubectl owns replicas with subresource
    // "scale", and its own apply (another manager identity) now conflicts.
    let live = server
        .get("apps/v1", "Deployment", Some("app"), "web")
        .unwrap();
    let scaler = live["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["subresource"] == "scale")
        .cloned()
        .unwrap();
    assert_eq!(scaler["manager"], "kubectl");
    assert_eq!(scaler["operation"], "Update");
    assert_eq!(scaler["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
    let out = kubectl(
        &server,
        &["apply", "--server-side", "--validate=false", "-f", "-"],
        Some(MANIFEST),
    )
    .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("conflict with \"kubectl\" with subresource \"scale\" using apps/v1"),
        "{err}"
    );

    let out = kubectl(&server, &["delete", "ns", "app", "--wait=false"], None).unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}
