//! `cnvrgctl import`: the operators' samples (tests/fixtures/import) become a
//! spec that validates and renders, with its comments as reviewed; the names
//! table names objects the render really has; bad input writes nothing;
//! `--from-cluster` reads the same resources from the API server; no secret
//! of a fixture reaches the files or the terminal.

use std::path::Path;

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::{Value, json};

use crate::common::cluster::Env;
use cnvrgctl::pipeline::import::names;

const FIXTURES: [&str; 3] = ["cnvrg-operator", "cnvrg-single-namespace", "cartographer"];

/// Every inline secret value in the fixtures.
const SECRETS: [&str; 2] = ["Sup3rS3cretRegistryPass", "MailerPassw0rd!"];

fn cnvrgctl() -> assert_cmd::Command {
    let mut cmd = cargo_bin_cmd!("cnvrgctl");
    cmd.env_remove("KUBECONFIG")
        .env_remove("CNVRG_REGISTRY_PASSWORD")
        .env("NO_COLOR", "1");
    cmd
}

/// Every file under `dir`, as `relative path` and text, sorted.
fn written(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for path in [dir.join("cluster.yaml")].into_iter().chain(
        std::fs::read_dir(dir.join("tenants"))
            .map(|d| d.map(|e| e.unwrap().path()).collect::<Vec<_>>())
            .unwrap_or_default(),
    ) {
        let name = path.strip_prefix(dir).unwrap().display().to_string();
        out.push((name, std::fs::read_to_string(&path).unwrap()));
    }
    out.sort();
    out
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(
            !text.contains(secret),
            "{what} holds a secret value:\n{text}"
        );
    }
}

#[test]
fn each_sample_imports_validates_and_renders_with_its_comments() {
    for fixture in FIXTURES {
        let dir = tempfile::tempdir().unwrap();
        let out = cnvrgctl()
            .args([
                "import",
                "-f",
                &format!("tests/fixtures/import/{fixture}.yaml"),
                "--out",
            ])
            .arg(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{fixture}: {stderr}");
        assert_no_secret("stdout", &String::from_utf8_lossy(&out.stdout));
        assert_no_secret("stderr", &stderr);
        let files = written(dir.path());
        let mut snapshot = String::new();
        for (name, text) in &files {
            assert_no_secret(name, text);
            snapshot.push_str(&format!("=== {name}\n{text}"));
        }
        snapshot.push_str(&format!(
            "=== stderr\n{}",
            stderr.replace(&dir.path().display().to_string(), "OUT")
        ));
        insta::assert_snapshot!(format!("import_{fixture}"), snapshot);

        let cluster = dir.path().join("cluster.yaml");
        cnvrgctl()
            .arg("validate")
            .arg("-f")
            .arg(&cluster)
            .assert()
            .success();
        let rendered = cnvrgctl()
            .args(["render", "-o", "json", "-f"])
            .arg(&cluster)
            .output()
            .unwrap();
        assert!(rendered.status.success(), "{fixture}: render failed");
        let list: Value = serde_json::from_slice(&rendered.stdout).unwrap();
        names_are_rendered(fixture, &list, &files);
    }
}

/// Every object the names table gives as ours is in the render, in the
/// tenant's namespace.
fn names_are_rendered(fixture: &str, list: &Value, files: &[(String, String)]) {
    let items = list["items"].as_array().unwrap();
    let has = |kind: &str, ns: &str, name: &str| {
        items.iter().any(|o| {
            o["kind"] == kind
                && o["metadata"]["name"] == name
                && o["metadata"]["namespace"].as_str() == Some(ns)
        })
    };
    for (file, text) in files.iter().filter(|f| f.0.starts_with("tenants")) {
        let tenant: Value = serde_yaml::from_str(text).unwrap();
        let name = tenant["metadata"]["name"].as_str().unwrap();
        let workspace = tenant["spec"]["type"] == "workspace";
        let ns = tenant["spec"]["namespace"].as_str().unwrap_or("cnvrg");
        let (rows, pool) = match workspace {
            true => (
                names::WORKSPACE,
                tenant["spec"]["workspace"]["agentPools"][0]["name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            ),
            false => (names::CNVRG, String::new()),
        };
        // Single-namespace mode has no tenant Prometheus: infra's serves.
        let single = tenant["spec"]["namespace"].is_null();
        for row in rows
            .iter()
            .filter(|r| !r.ours.0.is_empty())
            .filter(|r| !single || r.component != "prometheus")
        {
            let (kind, object) = row.ours;
            let object = object.replace("{ws}", name).replace("{pool}", &pool);
            // Claims come from the StatefulSets' templates.
            let found = match kind {
                "PersistentVolumeClaim" => items.iter().any(|o| {
                    o["kind"] == "StatefulSet"
                        && o["metadata"]["namespace"].as_str() == Some(ns)
                        && o["spec"]["volumeClaimTemplates"]
                            .as_array()
                            .is_some_and(|ts| {
                                ts.iter().any(|t| {
                                    format!(
                                        "{}-{}-0",
                                        t["metadata"]["name"].as_str().unwrap(),
                                        o["metadata"]["name"].as_str().unwrap()
                                    ) == object
                                })
                            })
                }),
                _ => has(kind, ns, &object),
            };
            assert!(
                found,
                "{fixture} {file}: {kind} {ns}/{object} of the names table is not rendered"
            );
        }
    }
}

#[test]
fn existing_files_are_refused_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let run = |force: bool| {
        let mut cmd = cnvrgctl();
        cmd.args([
            "import",
            "-f",
            "tests/fixtures/import/cartographer.yaml",
            "--out",
        ])
        .arg(dir.path());
        if force {
            cmd.arg("--force");
        }
        cmd.output().unwrap()
    };
    assert!(run(false).status.success());
    std::fs::write(dir.path().join("tenants/test-environment.yaml"), "mine").unwrap();
    let again = run(false);
    assert_eq!(again.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("refusing to overwrite"), "{stderr}");
    assert!(stderr.contains("tenants/test-environment.yaml"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("tenants/test-environment.yaml")).unwrap(),
        "mine"
    );
    assert!(run(true).status.success());
    assert_ne!(
        std::fs::read_to_string(dir.path().join("tenants/test-environment.yaml")).unwrap(),
        "mine"
    );
}

const APP: &str = "apiVersion: mlops.cnvrg.io/v1
kind: CnvrgApp
metadata: {name: team-a, namespace: cnvrg-team-a}
spec:
  clusterDomain: ml.acme.example
";

const WORKSPACE: &str = "apiVersion: mlops.aigency.com/v1alpha1
kind: Workspace
metadata: {name: research, namespace: research}
spec:
  workflows:
    agentPools:
      - name: default
        replicas: 1
      - name: gpu
        replicas: 1
";

#[test]
fn bad_input_names_the_resource_file_line_and_field_and_writes_nothing() {
    let infra = "apiVersion: mlops.cnvrg.io/v1\nkind: CnvrgInfra\nmetadata: {name: one}\n";
    let cases = [
        (
            "unknown apiVersion",
            APP.replace("mlops.cnvrg.io/v1", "mlops.cnvrg.io/v2"),
        ),
        (
            "misspelt kind",
            APP.replace("kind: CnvrgApp", "kind: CnvrgAp"),
        ),
        (
            "another kind",
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n".to_string(),
        ),
        (
            "two CnvrgInfras",
            format!("{infra}---\n{}", infra.replace("one", "two")),
        ),
        (
            "a CnvrgApp without a domain",
            APP.replace("  clusterDomain: ml.acme.example\n", "  controlPlane: {}\n"),
        ),
        (
            "a tenant name twice",
            format!(
                "{APP}---\n{}",
                WORKSPACE.replace("name: research,", "name: team-a,")
            ),
        ),
        (
            "duplicate pools",
            format!(
                "{APP}---\n{}",
                WORKSPACE.replace("name: gpu", "name: default")
            ),
        ),
    ];
    let mut snapshot = String::new();
    for (about, text) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("in.yaml"), &text).unwrap();
        let out = cnvrgctl()
            .current_dir(dir.path())
            .args(["import", "-f", "in.yaml", "--out", "spec"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{about}");
        assert!(
            !dir.path().join("spec").exists(),
            "{about}: something was written"
        );
        assert!(out.stdout.is_empty(), "{about}");
        snapshot.push_str(&format!(
            "=== {about}\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    insta::assert_snapshot!("import_bad_input", snapshot);
}

/// A CRD that serves `kind` (any fields) in `group`/`version`.
pub(super) fn crd(group: &str, version: &str, kind: &str, plural: &str, scope: &str) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{group}")},
        "spec": {
            "group": group,
            "scope": scope,
            "names": {"kind": kind, "plural": plural, "singular": kind.to_lowercase(), "listKind": format!("{kind}List")},
            "versions": [{
                "name": version, "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
            }]
        }
    })
}

/// Waits until the server's discovery document at `path` lists `plurals`
/// (a new CRD's kinds appear once the controller has established it).
pub(super) fn wait_served(env: &Env, path: &str, plurals: &[&str]) {
    use std::io::{Read, Write};
    let host = env.server.url().trim_start_matches("http://").to_string();
    for _ in 0..600 {
        let mut stream = std::net::TcpStream::connect(&host).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer testserver-token\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        if plurals
            .iter()
            .all(|p| response.contains(&format!("\"name\":\"{p}\"")))
        {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("{path} never served {plurals:?}");
}

#[test]
fn from_cluster_lists_every_namespace_and_a_missing_crd_is_none_found() {
    let env = Env::new(crate::common::cluster::SMALL);
    // The cnvrg operator's CRDs, not Cartographer's.
    env.server.create(crd(
        "mlops.cnvrg.io",
        "v1",
        "CnvrgInfra",
        "cnvrginfras",
        "Cluster",
    ));
    env.server.create(crd(
        "mlops.cnvrg.io",
        "v1",
        "CnvrgApp",
        "cnvrgapps",
        "Namespaced",
    ));
    wait_served(
        &env,
        "/apis/mlops.cnvrg.io/v1",
        &["cnvrginfras", "cnvrgapps"],
    );
    let text = std::fs::read_to_string("tests/fixtures/import/cnvrg-operator.yaml").unwrap();
    for doc in text.split("\n---\n") {
        let object: Value = serde_yaml::from_str(doc).unwrap();
        if let Some(ns) = object["metadata"]["namespace"].as_str() {
            env.server
                .create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}));
        }
        env.server.create(object);
    }
    let dir = tempfile::tempdir().unwrap();
    let out = cnvrgctl()
        .args(["import", "--from-cluster", "--kubeconfig"])
        .arg(env.server.kubeconfig())
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    assert_no_secret("stderr", &stderr);
    assert!(
        stderr.contains("CnvrgApp/cnvrg-team-a/team-a: 42 fields mapped"),
        "{stderr}"
    );
    let files = written(dir.path());
    assert_eq!(
        files.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(),
        ["cluster.yaml", "tenants/team-a.yaml"]
    );
    for (name, text) in &files {
        assert_no_secret(name, text);
    }
    assert!(
        files[0]
            .1
            .contains("from CnvrgInfra/cnvrginfra-sample (cluster)"),
        "{}",
        files[0].1
    );
    assert!(files[1].1.contains("appImage: docker.io/cnvrg/core:3.6.99"));
    cnvrgctl()
        .arg("validate")
        .arg("-f")
        .arg(dir.path().join("cluster.yaml"))
        .assert()
        .success();
}
