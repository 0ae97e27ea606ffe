//! `cnvrgctl secrets apply` against the test API server: the Secrets a
//! GitOps directory leaves out are created once, with the engines'
//! annotations; a second run changes nothing; an existing Secret is never
//! overwritten; no value is printed.

use base64::Engine;
use serde_json::json;

use crate::common::cluster::Env;
use crate::secrets::{B64, PASSWORD_VAR, REGISTRY_PASSWORD, SPEC, secrets_on};

/// Runs `secrets apply ARGS`: exit code, stdout and stderr.
fn secrets_apply(env: &Env, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["secrets", "apply"];
    all.extend(args);
    let out = env
        .process(&all)
        .env(PASSWORD_VAR, REGISTRY_PASSWORD)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn password_of(env: &Env) -> String {
    let secret = env
        .server
        .get("v1", "Secret", Some("cnvrg-team-a"), "pg-creds")
        .expect("pg-creds created");
    let encoded = secret["data"]["POSTGRES_PASSWORD"].as_str().unwrap();
    String::from_utf8(B64.decode(encoded).unwrap()).unwrap()
}

#[test]
fn secrets_are_created_once_and_a_second_run_changes_nothing() {
    let env = Env::new(SPEC);
    let (code, first, err) = secrets_apply(&env, &[]);
    assert_eq!(code, 0, "{first}{err}");
    assert!(
        first.contains("created Secret/cnvrg-team-a/pg-creds"),
        "{first}"
    );
    assert!(
        first.contains("created Secret/research/cnvrg-registry"),
        "{first}"
    );
    assert!(first.contains("created Namespace/cnvrg-team-a"), "{first}");

    let secret = env
        .server
        .get("v1", "Secret", Some("cnvrg-team-a"), "pg-creds")
        .unwrap();
    let annotations = &secret["metadata"]["annotations"];
    assert_eq!(annotations["kustomize.toolkit.fluxcd.io/prune"], "disabled");
    assert_eq!(
        annotations["argocd.argoproj.io/sync-options"],
        "Prune=false"
    );
    assert_eq!(
        annotations["argocd.argoproj.io/compare-options"],
        "IgnoreExtraneous"
    );
    let password = password_of(&env);
    assert_eq!(password.len(), 32);
    let pull = env
        .server
        .get("v1", "Secret", Some("research"), "cnvrg-registry")
        .unwrap();
    let config = B64
        .decode(pull["data"][".dockerconfigjson"].as_str().unwrap())
        .unwrap();
    assert!(
        String::from_utf8(config)
            .unwrap()
            .contains(REGISTRY_PASSWORD)
    );

    let writes = env.server.writes().len();
    let (code, second, err2) = secrets_apply(&env, &["-o", "json"]);
    assert_eq!(code, 0, "{second}{err2}");
    assert_eq!(env.server.writes().len(), writes, "the second run wrote");
    let outcomes: serde_json::Value =
        serde_json::from_str(&second).unwrap_or_else(|e| panic!("{e}: {second}"));
    let outcomes = outcomes.as_array().unwrap();
    assert!(!outcomes.is_empty());
    assert!(outcomes.iter().all(|o| o["outcome"] == "kept"), "{second}");
    assert_eq!(password_of(&env), password);

    for secret in secrets_on(&env) {
        for text in [&first, &err, &second, &err2] {
            assert!(!text.contains(&secret), "a value was printed");
        }
    }
}

#[test]
fn an_existing_secret_is_never_overwritten() {
    let env = Env::new(SPEC);
    env.server.apply_as(
        "kubectl",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cnvrg-team-a"}}),
    );
    env.server.apply_as(
        "kubectl",
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "pg-creds", "namespace": "cnvrg-team-a"},
            "data": {"POSTGRES_PASSWORD": B64.encode("chosen-by-the-admin")},
        }),
    );
    let (code, out, err) = secrets_apply(&env, &["--scope", "tenant/team-a"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("kept    Secret/cnvrg-team-a/pg-creds"),
        "{out}"
    );
    assert!(out.contains("kept    Namespace/cnvrg-team-a"), "{out}");
    assert!(
        out.contains("created Secret/cnvrg-team-a/redis-creds"),
        "{out}"
    );
    assert!(!out.contains("research"), "another scope: {out}");
    assert_eq!(password_of(&env), "chosen-by-the-admin");
    let secret = env
        .server
        .get("v1", "Secret", Some("cnvrg-team-a"), "pg-creds")
        .unwrap();
    assert!(
        secret["data"].get("POSTGRES_USER").is_none(),
        "keys were added"
    );
}
