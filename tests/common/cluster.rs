//! A test API server with a spec directory beside it, and the binary run
//! against it as a user runs it: what the cluster tests share.

use std::path::PathBuf;

use assert_cmd::cargo::cargo_bin;
use serde_json::Value;
use testserver::{TestServer, Write};

/// A multi-tenant cluster: infra with monitoring, logging and hostpath
/// storage, and a workspace tenant with two agent pools.
pub const SPEC: &str = "\
apiVersion: cnvrgctl.io/v1alpha1
kind: Cluster
metadata:
  name: acme
spec:
  profile: dev
  mode: multi-tenant
  clusterDomain: ml.acme.example
  ingress:
    type: nodeport
  infra:
    namespace: cnvrg-infra
    monitoring: {enabled: true}
    logging: {enabled: true}
    storage:
      hostpath: {enabled: true}
  tenants:
    - name: research
      type: workspace
      workspace:
        agentPools:
          - {name: default, replicas: 2}
          - {name: gpu, replicas: 1}
";

/// A cluster with one cnvrg control-plane tenant (for the migration Job).
pub const CNVRG_SPEC: &str = "\
apiVersion: cnvrgctl.io/v1alpha1
kind: Cluster
metadata:
  name: acme
spec:
  profile: dev
  mode: multi-tenant
  clusterDomain: ml.acme.example
  ingress:
    type: nodeport
  infra:
    namespace: cnvrg-infra
    monitoring: {enabled: false}
    logging: {enabled: false}
  tenants:
    - name: team-a
      type: cnvrg
";

/// A small cluster: infra with the hostpath provisioner, one workspace.
pub const SMALL: &str = "\
apiVersion: cnvrgctl.io/v1alpha1
kind: Cluster
metadata:
  name: acme
spec:
  profile: dev
  ingress:
    type: nodeport
  infra:
    monitoring: {enabled: false}
    logging: {enabled: false}
    storage:
      hostpath: {enabled: true}
  tenants:
    - name: research
      type: workspace
      workspace:
        agentPools:
          - {name: default}
";

/// A test API server and a spec directory.
pub struct Env {
    pub server: TestServer,
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new(spec: &str) -> Env {
        Env::with_server(spec, TestServer::start())
    }

    pub fn with_server(spec: &str, server: TestServer) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let env = Env { server, dir };
        env.write_spec(spec);
        env
    }

    pub fn spec(&self) -> PathBuf {
        self.dir.path().join("cluster.yaml")
    }

    pub fn write_spec(&self, text: &str) {
        std::fs::write(self.spec(), text).unwrap();
    }

    /// `cnvrgctl ARGS -f SPEC --kubeconfig ... --yes` with test-sized time limits.
    pub fn cnvrgctl(&self, args: &[&str]) -> assert_cmd::Command {
        assert_cmd::Command::from_std(self.process(args))
    }

    /// [`Env::cnvrgctl`] as a plain process, for running it in the background.
    pub fn process(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(cargo_bin!("cnvrgctl"));
        cmd.env_remove("KUBECONFIG")
            .env("NO_COLOR", "1")
            .args(args)
            .arg("-f")
            .arg(self.spec())
            .arg("--kubeconfig")
            .arg(self.server.kubeconfig())
            .args(["--timeout", "90s"]);
        cmd
    }

    pub fn apply(&self, extra: &[&str]) -> assert_cmd::Command {
        let mut cmd = self.cnvrgctl(&["apply", "--yes", "--object-timeout", "60s"]);
        cmd.args(extra);
        cmd
    }

    pub fn install(&self) {
        self.cnvrgctl(&["install", "infra", "--yes"])
            .assert()
            .success();
        self.apply(&[]).assert().success();
    }

    /// `kubectl scale deploy/NAME --replicas=N` as kubectl sends it: a merge
    /// patch of the Deployment's `/scale` subresource, with kubectl's user
    /// agent (so the server names the manager `kubectl`).
    pub fn kubectl_scale(&self, namespace: &str, name: &str, replicas: i64) {
        self.merge_patch(
            "kubectl",
            &format!("/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"),
            &serde_json::json!({"spec": {"replicas": replicas}}),
        );
    }

    /// A JSON merge patch over HTTP by a client whose user agent (and so
    /// field manager) is `agent`: another tool editing the cluster.
    pub fn merge_patch(&self, agent: &str, path: &str, patch: &Value) {
        let response = self.send(agent, "PATCH", path, "application/merge-patch+json", patch);
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    }

    /// A POST (a create, whose fields the server gives to `agent` as an
    /// Update, as a controller's create).
    pub fn post(&self, agent: &str, path: &str, object: &Value) {
        let response = self.send(agent, "POST", path, "application/json", object);
        assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    }

    /// One request over HTTP with `agent`'s user agent; the raw response.
    fn send(
        &self,
        agent: &str,
        method: &str,
        path: &str,
        content_type: &str,
        body: &Value,
    ) -> String {
        use std::io::{Read, Write};
        let url = self.server.url();
        let host = url.trim_start_matches("http://");
        let body = body.to_string();
        let mut stream = std::net::TcpStream::connect(host).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\n\
             User-Agent: {agent}/v1.32.4 (linux/amd64) kubernetes/59526cd\r\n\
             Authorization: Bearer testserver-token\r\n\
             Content-Type: {content_type}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    }

    /// Persisted writes by cnvrgctl (not by the test's own `apply_as`/`create`
    /// or `kubectl_scale`).
    pub fn writes(&self) -> Vec<Write> {
        self.server
            .writes()
            .into_iter()
            .filter(|w| !["helm", "kubectl-create", "kubectl"].contains(&w.manager.as_str()))
            .collect()
    }

    pub fn deployment(&self, ns: &str, name: &str) -> Option<Value> {
        self.server.get("apps/v1", "Deployment", Some(ns), name)
    }
}

/// The command's stderr, also echoed (shown with `--nocapture` or on failure).
pub fn stderr_of(out: &std::process::Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!("{text}");
    text
}

/// Sends SIGINT (what Ctrl-C sends) to process `pid`.
pub fn ctrl_c(pid: u32) {
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -INT {pid}");
}

impl Env {
    /// A copy of the server's kubeconfig pointing at `127.0.0.1:port` instead.
    pub fn kubeconfig_at(&self, port: u16) -> PathBuf {
        let path = self.dir.path().join(format!("kubeconfig-{port}"));
        let text = std::fs::read_to_string(self.server.kubeconfig()).unwrap();
        std::fs::write(
            &path,
            text.replace(&self.server.url(), &format!("http://127.0.0.1:{port}")),
        )
        .unwrap();
        path
    }
}
