//! `support-bundle`: on an install with a crash-looping agent, the archive
//! holds the versions, nodes, spec, plan, status and blockers, the scopes'
//! objects, events and the crashing container's current and previous log —
//! and not one secret value of the cluster. A refused read is listed in
//! `errors.txt` (exit 0), and a small `--max-size` cuts logs first and says
//! so in `truncated.txt`.

use std::collections::BTreeMap;
use std::io::Read;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use testserver::{Behavior, Fault, FaultKind, FaultTarget, PodTrouble, Target, Verb};

use crate::common::cluster::{Env, SMALL, stderr_of};
use crate::secrets::{B64, PASSWORD_VAR, REGISTRY_PASSWORD};

const AGENT: &str = "research-agent-default";

/// [`SMALL`] with registry credentials: a pull secret in every namespace,
/// beside the generated database password.
fn spec() -> String {
    SMALL.replace(
        "  ingress:",
        &format!(
            "  registry: {{server: registry.acme.example, user: acme-robot, passwordEnv: {PASSWORD_VAR}}}\n  ingress:"
        ),
    )
}

/// Installs [`spec`], then makes the agent crash-loop: its pod, once
/// restarted, logs the database password before it panics. Returns the
/// crashing pod and its container.
fn install_with_a_crashing_agent(env: &Env) -> (String, String) {
    for args in [&["install", "infra", "--yes"][..], &["apply", "--yes"]] {
        env.cnvrgctl(args)
            .env(PASSWORD_VAR, REGISTRY_PASSWORD)
            .assert()
            .success();
    }
    env.server.behave(
        Target::kind("Pod")
            .in_namespace("research")
            .named(&format!("{AGENT}-*")),
        Behavior::NeverReady(PodTrouble::CrashLoopBackOff),
    );
    for pod in env.server.list("v1", "Pod", Some("research")) {
        let name = pod["metadata"]["name"].as_str().unwrap();
        if name.starts_with(AGENT) {
            env.server.delete("v1", "Pod", Some("research"), name);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let pod = loop {
        let restarted = env
            .server
            .list("v1", "Pod", Some("research"))
            .into_iter()
            .find(|p| {
                p["metadata"]["name"].as_str().unwrap().starts_with(AGENT)
                    && p["metadata"]["deletionTimestamp"].is_null()
                    && p["status"]["containerStatuses"][0]["restartCount"].as_i64() > Some(0)
            });
        if let Some(pod) = restarted {
            break pod;
        }
        assert!(Instant::now() < deadline, "the agent never crash-looped");
        std::thread::sleep(Duration::from_millis(50));
    };
    let name = pod["metadata"]["name"].as_str().unwrap().to_string();
    let container = pod["spec"]["containers"][0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let password = secret_value(env, "research-postgres", "password");
    env.server.write_log(
        "research",
        &name,
        &container,
        &[
            &format!("connecting to postgres://prefect:{password}@research-postgres:5432"),
            "panic: simulated crash (testserver)",
        ],
    );
    (name, container)
}

/// One value of a Secret on the server, decoded.
fn secret_value(env: &Env, name: &str, key: &str) -> String {
    let secret = env
        .server
        .get("v1", "Secret", Some("research"), name)
        .unwrap();
    String::from_utf8(B64.decode(secret["data"][key].as_str().unwrap()).unwrap()).unwrap()
}

/// Every value of every Secret on the cluster, decoded and as stored
/// (values shorter than 8 characters, which the filter leaves alone as
/// they would hide ordinary words, aside).
fn secret_values(env: &Env) -> Vec<String> {
    let mut found = vec![REGISTRY_PASSWORD.to_string()];
    for secret in env.server.list("v1", "Secret", None) {
        for value in secret["data"].as_object().into_iter().flatten() {
            let encoded = value.1.as_str().unwrap().to_string();
            found.push(String::from_utf8(B64.decode(&encoded).unwrap()).unwrap());
            found.push(encoded);
        }
    }
    found.retain(|s| s.len() >= 8);
    found
}

/// Runs `support-bundle -o tmp/x.tar.gz EXTRA` (exit 0) and returns its
/// stderr and the archive's files by path, below the archive's folder.
fn bundle(env: &Env, extra: &[&str]) -> (String, BTreeMap<String, Vec<u8>>) {
    let path = env.dir.path().join("tmp/x.tar.gz");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut args = vec!["support-bundle", "-o", path.to_str().unwrap()];
    args.extend(extra);
    let out = env.cnvrgctl(&args).assert().code(0).get_output().clone();
    let stderr = stderr_of(&out);
    let gzip = flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap());
    let mut files = BTreeMap::new();
    for entry in tar::Archive::new(gzip).entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().display().to_string();
        let inner = path.strip_prefix("x/").unwrap_or_else(|| panic!("{path}"));
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        files.insert(inner.to_string(), bytes);
    }
    (stderr, files)
}

fn text<'a>(files: &'a BTreeMap<String, Vec<u8>>, path: &str) -> &'a str {
    let bytes = files
        .get(path)
        .unwrap_or_else(|| panic!("no {path} in {:?}", files.keys().collect::<Vec<_>>()));
    std::str::from_utf8(bytes).unwrap()
}

#[test]
fn the_bundle_holds_what_a_vendor_needs_and_no_secret() {
    let env = Env::new(&spec());
    let (pod, container) = install_with_a_crashing_agent(&env);
    // An event quoting the registry password: masked like everything else.
    env.server.create(json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "leak.1", "namespace": "research"},
        "involvedObject": {"kind": "Pod", "name": pod, "namespace": "research"},
        "reason": "Leaked", "message": format!("pulled with {REGISTRY_PASSWORD}"), "type": "Warning",
        "lastTimestamp": k8s_openapi::jiff::Timestamp::now().to_string(), "count": 1,
    }));

    let (stderr, files) = bundle(&env, &[]);
    assert!(stderr.contains("wrote "), "{stderr}");
    assert!(
        !files.contains_key("errors.txt"),
        "{}",
        text(&files, "errors.txt")
    );
    assert!(!files.contains_key("truncated.txt"));

    let version = text(&files, "version.txt");
    assert!(version.contains(&format!("cnvrgctl: {}", env!("CARGO_PKG_VERSION"))));
    assert!(
        version.contains("server: v1.33.0-testserver (linux/amd64)"),
        "{version}"
    );
    let nodes: Value = serde_yaml::from_str(text(&files, "nodes.yaml")).unwrap();
    assert_eq!(nodes[0]["name"], "node-1");
    assert_eq!(nodes[0]["allocatable"]["memory"], "16Gi");
    assert_eq!(nodes[0]["conditions"][0]["reason"], "KubeletReady");
    assert!(nodes[0].get("images").is_none());

    let spec = text(&files, "spec.yaml");
    assert!(
        spec.contains(&format!("passwordFrom: env:{PASSWORD_VAR}")),
        "{spec}"
    );
    assert!(text(&files, "plan.txt").contains(AGENT));
    let status = text(&files, "status.txt");
    assert!(status.starts_with("SCOPE"), "{status}");
    let rows: Value = serde_json::from_str(text(&files, "status.json")).unwrap();
    assert!(rows.as_array().unwrap().len() > 3, "{rows}");
    let blockers = text(&files, "blockers.txt");
    assert!(
        blockers.contains("tenant.research agent-default: Progressing")
            && blockers.contains("CrashLoopBackOff")
            && blockers.contains(&format!(
                "  Deployment/research/{AGENT}: 0/1 replicas available\n    pod {pod}: CrashLoopBackOff"
            ))
            && blockers.contains(&format!("event: {pod} BackOff: Back-off restarting")),
        "{blockers}"
    );

    let deployment: Value = serde_yaml::from_str(text(
        &files,
        &format!("objects/research/Deployment.{AGENT}.yaml"),
    ))
    .unwrap();
    assert_eq!(deployment["spec"]["replicas"], 1);
    assert!(deployment["metadata"].get("managedFields").is_none());
    let secret: Value = serde_yaml::from_str(text(
        &files,
        "objects/research/Secret.research-postgres.yaml",
    ))
    .unwrap();
    assert_eq!(secret["type"], "Opaque");
    assert_eq!(
        secret["data"],
        json!({"database": "", "password": "", "username": ""})
    );
    assert!(files.contains_key("objects/cnvrg-infra/ConfigMap.cnvrgctl-infra.yaml"));

    let events = text(&files, "events/research.txt");
    assert!(
        events.contains(&format!("Warning  BackOff  Pod/{pod}")),
        "{events}"
    );
    assert!(
        events.contains("Leaked  Pod/") && events.contains("pulled with ***"),
        "{events}"
    );
    let log = text(&files, &format!("logs/research/{pod}/{container}.log"));
    assert!(log.contains("panic: simulated crash"), "{log}");
    assert!(log.contains("postgres://prefect:***@"), "{log}");
    let previous = text(
        &files,
        &format!("logs/research/{pod}/{container}.previous.log"),
    );
    assert!(previous.contains("panic: simulated crash"), "{previous}");
    assert!(
        !files
            .keys()
            .any(|p| p.starts_with("logs/") && !p.contains(AGENT)),
        "only containers not ready or restarted: {:?}",
        files.keys().collect::<Vec<_>>()
    );

    // `-o json` is the output format, not an archive named `json`: one JSON
    // line says where the archive went.
    let out = env
        .cnvrgctl(&["support-bundle", "-o", "json"])
        .current_dir(env.dir.path())
        .assert()
        .code(0)
        .get_output()
        .clone();
    let event: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(event["event"], "support-bundle", "{event}");
    let archive = env.dir.path().join(event["archive"].as_str().unwrap());
    assert!(archive.is_file(), "{event}");
    assert!(event["files"].as_u64().unwrap() > 5, "{event}");
    assert!(!env.dir.path().join("json").exists());

    // An archive that cannot be written is an output error (exit 4).
    env.cnvrgctl(&["support-bundle", "-o", "/nonexistent/x.tar.gz"])
        .assert()
        .code(4)
        .stderr(predicates::str::contains(
            "cannot write /nonexistent/x.tar.gz",
        ));

    let secrets = secret_values(&env);
    assert!(secrets.len() >= 6, "{}", secrets.len());
    for (path, bytes) in &files {
        let body = String::from_utf8_lossy(bytes);
        for secret in &secrets {
            assert!(
                !body.contains(secret.as_str()),
                "{path} holds a secret ({}…)",
                &secret[..4]
            );
        }
    }
}

#[test]
fn a_refused_read_and_the_size_cap_do_not_fail_the_bundle() {
    let env = Env::new(&spec());
    let (pod, _) = install_with_a_crashing_agent(&env);
    let forbidden = "events is forbidden: User \"jane\" cannot list resource \"events\" in API group \"\" in the namespace \"research\"";
    env.server.inject(Fault::new(
        FaultTarget::path("/api/v1/namespaces/research/events").and_verb(Verb::List),
        FaultKind::Reject {
            code: 403,
            reason: "Forbidden".into(),
            message: forbidden.into(),
        },
    ));

    let cap = 24 * 1024;
    let (stderr, files) = bundle(&env, &["--max-size", "24Ki"]);
    assert!(
        stderr.contains("1 read(s) were refused or failed; the archive's errors.txt lists them"),
        "{stderr}"
    );
    assert!(stderr.contains("truncated.txt"), "{stderr}");
    let errors = text(&files, "errors.txt");
    assert_eq!(
        errors,
        format!("events in namespace research: list failed: Forbidden (403): {forbidden}\n")
    );
    assert!(!files.contains_key("events/research.txt"));

    let total: usize = files.values().map(Vec::len).sum();
    assert!(total <= cap, "{total} bytes > {cap}");
    let truncated = text(&files, "truncated.txt");
    assert!(
        truncated.contains(&format!("logs/research/{pod}/")),
        "logs are cut first: {truncated}"
    );
    assert!(!files.keys().any(|p| p.starts_with("logs/")));
    for summary in ["version.txt", "spec.yaml", "status.txt", "blockers.txt"] {
        assert!(files.contains_key(summary), "{summary}");
    }
}
