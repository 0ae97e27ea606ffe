//! Secrets never reach what a user or a log sees: every command is run
//! against the test API server with a registry password and the generated
//! credentials in play, in text and JSON, with `-v`, through success, a
//! conflict and removal, and every byte of stdout and stderr is searched for
//! each secret value (raw and base64) found on the cluster afterwards. Only
//! `diff --show-secrets`, which asks for them, shows them — which also proves
//! the search would find them.

use base64::Engine;
use serde_json::{Value, json};

use crate::common::cluster::Env;

pub const PASSWORD_VAR: &str = "CNVRGCTL_TEST_REGISTRY_PASSWORD";
pub const REGISTRY_PASSWORD: &str = "reg-pw-Zq8w1x9Lk2pR";

/// A small cluster with registry credentials: a pull secret in every namespace.
pub const SPEC: &str = "\
apiVersion: cnvrgctl.io/v1alpha1
kind: Cluster
metadata:
  name: acme
spec:
  profile: dev
  clusterDomain: ml.acme.example
  registry: {server: registry.acme.example, user: acme-robot, passwordEnv: CNVRGCTL_TEST_REGISTRY_PASSWORD}
  ingress:
    type: nodeport
  infra:
    monitoring: {enabled: false}
    logging: {enabled: false}
  tenants:
    - name: research
      type: workspace
      workspace:
        agentPools:
          - {name: default}
    - name: team-a
      type: cnvrg
";

pub const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Every output of the commands run so far.
struct Transcript {
    env: Env,
    outputs: Vec<(String, String)>,
}

impl Transcript {
    /// Runs `args`, keeps its stdout and stderr, returns its exit code.
    fn run(&mut self, args: &[&str]) -> i32 {
        let out = self
            .env
            .process(args)
            .env(PASSWORD_VAR, REGISTRY_PASSWORD)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        self.outputs.push((args.join(" "), text));
        out.status.code().unwrap_or(-1)
    }
}

/// The secret values on the server: registry credentials and every
/// password-like or generated key of every Secret, raw and base64.
pub fn secrets_on(env: &Env) -> Vec<String> {
    let mut found = vec![
        REGISTRY_PASSWORD.to_string(),
        B64.encode(format!("acme-robot:{REGISTRY_PASSWORD}")),
    ];
    for ns in ["cnvrg-infra", "research", "cnvrg-team-a"] {
        for secret in env.server.list("v1", "Secret", Some(ns)) {
            let generated = secret["metadata"]["annotations"]["cnvrgctl.io/generated-keys"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            for (key, value) in secret["data"].as_object().into_iter().flatten() {
                let secretish = generated.contains(key.as_str())
                    || key.starts_with(".docker")
                    || key.to_ascii_lowercase().contains("password");
                if !secretish {
                    continue;
                }
                let encoded = value.as_str().unwrap().to_string();
                let decoded = String::from_utf8(B64.decode(&encoded).unwrap()).unwrap();
                found.push(encoded);
                found.push(decoded);
            }
        }
    }
    found.retain(|s| s.len() >= 8);
    found
}

#[test]
fn no_command_prints_a_secret() {
    let mut t = Transcript {
        env: Env::new(SPEC),
        outputs: Vec::new(),
    };
    assert_eq!(t.run(&["render"]), 0);
    assert_eq!(t.run(&["render", "-o", "json"]), 0);
    assert_eq!(t.run(&["validate"]), 0);
    assert_eq!(t.run(&["diff", "-v"]), 1);
    assert_eq!(t.run(&["diff", "-o", "json"]), 1);
    assert_eq!(t.run(&["install", "infra", "--yes", "-v"]), 0);
    assert_eq!(t.run(&["apply", "--yes", "-v", "-o", "json"]), 0);
    assert_eq!(t.run(&["apply", "--yes", "-vv"]), 0);
    assert_eq!(t.run(&["diff", "-v"]), 0);
    assert_eq!(t.run(&["diff", "-o", "json"]), 0);
    assert_eq!(t.run(&["status"]), 0);
    assert_eq!(t.run(&["status", "-o", "json"]), 0);
    assert_eq!(t.run(&["tenant", "list", "-o", "json"]), 0);

    // Another manager takes the pull secret over: the conflict is reported
    // with the manager's name and fields, never the values.
    let secrets = secrets_on(&t.env);
    assert!(secrets.len() >= 10, "{secrets:?}");
    t.env.server.apply_as(
        "helm",
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "cnvrg-registry", "namespace": "research",
                         "labels": {"app.kubernetes.io/managed-by": "Helm"}},
            "type": "kubernetes.io/dockerconfigjson",
        }),
    );
    // `diff` shows the drift (a conflict row and the forced hunk, masked),
    // `apply` refuses it.
    assert_eq!(t.run(&["diff"]), 1);
    let drift = &t.outputs.last().unwrap().1;
    assert!(
        drift.contains("conflict") && drift.contains("helm"),
        "{drift}"
    );
    assert_eq!(t.run(&["diff", "-o", "json"]), 1);
    assert_eq!(t.run(&["apply", "--yes"]), 3);
    let conflict = &t.outputs.last().unwrap().1;
    assert!(conflict.contains("helm"), "{conflict}");
    assert_eq!(t.run(&["apply", "--yes", "--force-conflicts"]), 0);
    assert_eq!(t.run(&["tenant", "remove", "research", "--yes"]), 0);
    assert_eq!(t.run(&["uninstall", "--yes", "-v"]), 0);

    for (command, text) in &t.outputs {
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "`cnvrgctl {command}` printed a secret ({}…):\n{text}",
                &secret[..4]
            );
        }
    }

    // Asked for, they are shown: the search above would have found them.
    let mut reveal = Transcript {
        env: Env::new(SPEC),
        outputs: Vec::new(),
    };
    assert_eq!(reveal.run(&["diff", "--show-secrets"]), 1);
    let shown = &reveal.outputs[0].1;
    let config = Value::String(
        json!({"auths": {"registry.acme.example": {
            "username": "acme-robot", "password": REGISTRY_PASSWORD,
            "auth": B64.encode(format!("acme-robot:{REGISTRY_PASSWORD}"))}}})
        .to_string(),
    );
    assert!(
        shown.contains(REGISTRY_PASSWORD) || shown.contains(&B64.encode(config.as_str().unwrap())),
        "{shown}"
    );
}
