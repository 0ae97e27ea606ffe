//! `apply --adopt` and `diff --adopt` on a workspace tenant Cartographer
//! runs (`tests/fixtures/adopt/workspace-operator.yaml`): refused without
//! the flag, previewed without writes, taken over with no Secret value or
//! claim lost, and safe from the operator's garbage collection afterwards.

use serde_json::{Value, json};

use super::import::{crd, wait_served};
use crate::common::cluster::{Env, SMALL, stderr_of};

/// The fixture's value of the Postgres password (never printed by cnvrgctl).
const PASSWORD: &str = "operator-made-password";

/// Infra installed by cnvrgctl, tenant `research` as the operator made it.
fn operator_tenant() -> Env {
    operator_tenant_of(SMALL)
}

/// As [`operator_tenant`], for the spec `spec` (which declares `research`).
pub(super) fn operator_tenant_of(spec: &str) -> Env {
    let env = Env::new(spec);
    env.cnvrgctl(&["install", "infra", "--yes"])
        .assert()
        .success();
    env.server.create(crd(
        "mlops.aigency.com",
        "v1alpha1",
        "Workspace",
        "workspaces",
        "Namespaced",
    ));
    wait_served(&env, "/apis/mlops.aigency.com/v1alpha1", &["workspaces"]);
    env.server
        .create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "research"}}));
    let workspace = env.server.apply_as(
        "manager",
        json!({"apiVersion": "mlops.aigency.com/v1alpha1", "kind": "Workspace",
               "metadata": {"name": "research", "namespace": "research"},
               "spec": {"workflows": {"controllerReplicas": 1, "agentPools": [{"name": "default", "replicas": 1}]}}}),
    );
    env.server.create(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cartographer-system"}}),
    );
    env.server.create(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "cartographer-controller-manager", "namespace": "cartographer-system"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"control-plane": "controller-manager"}},
                 "template": {"metadata": {"labels": {"control-plane": "controller-manager"}},
                              "spec": {"containers": [{"name": "manager", "image": "cartographer:1"}]}}}}));
    let uid = workspace["metadata"]["uid"].as_str().unwrap();
    let cluster = postgres_cluster(&env, uid);
    let text = std::fs::read_to_string("tests/fixtures/adopt/workspace-operator.yaml").unwrap();
    let text = text
        .replace("OWNER_UID", uid)
        .replace("PG_UID", cluster["metadata"]["uid"].as_str().unwrap());
    for doc in text.split("\n---\n") {
        let object: Value = serde_yaml::from_str(doc).unwrap();
        let manager = match object["metadata"]["ownerReferences"][0]["kind"].as_str() {
            Some("PostgresCluster") => "postgrescluster-controller",
            _ => "manager",
        };
        env.server.apply_as(manager, object);
    }
    env
}

/// Cartographer's Crunchy PostgresCluster for workspace `research` (its
/// spec as wmeints/cartographer controllers/postgres.go writes it), owned by
/// the Workspace of uid `owner`.
fn postgres_cluster(env: &Env, owner: &str) -> Value {
    env.server.create(crd(
        "postgres-operator.crunchydata.com",
        "v1beta1",
        "PostgresCluster",
        "postgresclusters",
        "Namespaced",
    ));
    wait_served(
        env,
        "/apis/postgres-operator.crunchydata.com/v1beta1",
        &["postgresclusters"],
    );
    env.server.apply_as(
        "manager",
        json!({"apiVersion": "postgres-operator.crunchydata.com/v1beta1", "kind": "PostgresCluster",
               "metadata": {"name": "research", "namespace": "research",
                   "labels": {"mlops.aigency.com/workspace": "research", "mlops.aigency.com/component": "postgres-cluster"},
                   "ownerReferences": [{"apiVersion": "mlops.aigency.com/v1alpha1", "kind": "Workspace",
                       "name": "research", "uid": owner, "controller": true, "blockOwnerDeletion": true}]},
               "spec": {"postgresVersion": 14,
                   "instances": [{"name": "db01", "dataVolumeClaimSpec": {"accessModes": ["ReadWriteOnce"],
                       "resources": {"requests": {"storage": "8Gi"}}}}],
                   "users": [{"name": "mlflow", "databases": ["mlflow"]}, {"name": "prefect", "databases": ["prefect"]}]}}),
    )
}

/// Scales the operator to zero, as the README says to before adopting.
fn stop_operator(env: &Env) {
    env.server.apply_as(
        "kubectl",
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "cartographer-controller-manager", "namespace": "cartographer-system"},
               "spec": {"replicas": 0}}),
    );
}

/// The uid of the operator's Postgres claim (the same after adoption: never
/// recreated).
fn claim_uid(env: &Env) -> Value {
    get(
        env,
        "v1",
        "PersistentVolumeClaim",
        "data-research-postgres-0",
    )
    .unwrap()["metadata"]["uid"]
        .clone()
}

fn get(env: &Env, api_version: &str, kind: &str, name: &str) -> Option<Value> {
    env.server.get(api_version, kind, Some("research"), name)
}

fn secret_value(env: &Env, name: &str, key: &str) -> String {
    use base64::Engine;
    let secret = get(env, "v1", "Secret", name).unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(secret["data"][key].as_str().unwrap())
        .unwrap();
    String::from_utf8(bytes).unwrap()
}

fn owners(object: &Value) -> usize {
    object["metadata"]["ownerReferences"]
        .as_array()
        .map_or(0, Vec::len)
}

#[test]
fn without_adopt_an_operator_object_is_refused_and_nothing_is_written() {
    let env = operator_tenant();
    env.server.clear_log();
    let out = env.apply(&["--scope", "tenant/research"]).output().unwrap();
    let stderr = stderr_of(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("made by an operator"), "{stderr}");
    assert!(stderr.contains("cnvrgctl import"), "{stderr}");
    assert!(stderr.contains("apply --adopt"), "{stderr}");
    assert!(env.writes().is_empty(), "{:?}", env.writes());
}

/// A running operator would put back the ownerReferences and fields
/// adoption takes over: `apply --adopt` writes nothing until it is scaled to
/// zero, and says how.
#[test]
fn adopting_while_the_operator_runs_is_refused_naming_the_scale_command() {
    let env = operator_tenant();
    env.server.clear_log();
    let out = env.apply(&["--adopt"]).output().unwrap();
    let stderr = stderr_of(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("the operator still runs (Deployment cartographer-system/cartographer-controller-manager, 1 replica(s))"),
        "{stderr}"
    );
    assert!(
        stderr.contains("kubectl -n cartographer-system scale deployment cartographer-controller-manager --replicas=0"),
        "{stderr}"
    );
    assert!(env.writes().is_empty(), "{:?}", env.writes());
}

/// `diff --adopt ARGS`: its stdout, once it exited 1 (changes) having
/// written nothing.
pub(super) fn diff_adopt(env: &Env, args: &[&str]) -> String {
    env.server.clear_log();
    let out = env
        .cnvrgctl(&[&["diff", "--adopt"], args].concat())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(env.writes().is_empty(), "{:?}", env.writes());
    stdout
}

#[test]
fn diff_adopt_previews_and_writes_nothing() {
    let env = operator_tenant();
    let stdout = diff_adopt(&env, &["--scope", "tenant/research"]);
    let adopted = stdout.split("adopted from the operators").nth(1).unwrap();
    assert!(adopted.contains("Deployment/research/research-orion-server (owned by Workspace/research; field manager manager)"), "{stdout}");
    assert!(
        adopted.contains("Service/research/research-orion-server"),
        "{stdout}"
    );
    let restarts = stdout.split("pods that will restart:").nth(1).unwrap();
    assert!(
        restarts.contains("Deployment/research/research-orion-server: pod template changes"),
        "{stdout}"
    );
    let stays = stdout.split("never deleted):").nth(1).unwrap();
    assert!(
        stays.contains("StatefulSet/research/research-agent-default"),
        "{stdout}"
    );
    assert!(
        stays.contains("PersistentVolumeClaim/research/data-research-postgres-0"),
        "{stdout}"
    );
    // Crunchy's database (its user Secret is PGO's, under the cluster).
    assert!(
        stays.contains("PostgresCluster/research/research (owned by Workspace/research"),
        "{stdout}"
    );
    assert!(!stdout.contains(PASSWORD), "{stdout}");
    assert!(
        stdout.contains(
            "kubectl delete workspaces.mlops.aigency.com research -n research --cascade=orphan"
        ),
        "{stdout}"
    );
}

#[test]
fn adopt_takes_over_keeps_values_and_claims_and_survives_the_operators_gc() {
    let env = operator_tenant();
    let claim_uid = claim_uid(&env);
    stop_operator(&env);
    let out = env.apply(&["--adopt"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(!stdout.contains(PASSWORD) && !stderr.contains(PASSWORD));
    // The way out, as commands to copy.
    for line in [
        "kubectl -n cartographer-system scale deployment cartographer-controller-manager --replicas=0",
        "kubectl delete workspaces.mlops.aigency.com research -n research --cascade=orphan",
        "kubectl delete crd workspaces.mlops.aigency.com",
    ] {
        assert!(stdout.contains(line), "{line}\n{stdout}");
    }
    // Values: the operator's Secret as it was, ours seeded from it.
    assert_eq!(
        secret_value(&env, "research-pguser-prefect", "password"),
        PASSWORD
    );
    assert_eq!(
        secret_value(&env, "research-postgres", "password"),
        PASSWORD
    );
    // The claim is the same one, and no longer the operator's.
    let claim = get(
        &env,
        "v1",
        "PersistentVolumeClaim",
        "data-research-postgres-0",
    )
    .unwrap();
    assert_eq!(claim["metadata"]["uid"], claim_uid);
    assert_eq!(owners(&claim), 0);
    for (api_version, kind) in [("apps/v1", "Deployment"), ("v1", "Service")] {
        let object = get(&env, api_version, kind, "research-orion-server").unwrap();
        assert_eq!(owners(&object), 0, "{kind}: {object}");
        assert!(
            object["metadata"]["labels"]["applyset.kubernetes.io/part-of"].is_string(),
            "{kind} joins the inventory: {object}"
        );
    }
    // A second apply writes nothing.
    env.server.clear_log();
    env.apply(&[]).assert().success();
    assert!(env.writes().is_empty(), "{:?}", env.writes());
    // The operator's resource goes; nothing of ours goes with it.
    env.server.delete(
        "mlops.aigency.com/v1alpha1",
        "Workspace",
        Some("research"),
        "research",
    );
    for _ in 0..100 {
        if get(&env, "apps/v1", "StatefulSet", "research-agent-default").is_none() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        get(&env, "apps/v1", "StatefulSet", "research-agent-default").is_none(),
        "the collector ran: what the operator still owns went with its resource"
    );
    for (api_version, kind, name) in [
        ("apps/v1", "Deployment", "research-orion-server"),
        ("v1", "Service", "research-orion-server"),
        ("v1", "Secret", "research-postgres"),
        ("apps/v1", "StatefulSet", "research-postgres"),
        ("v1", "PersistentVolumeClaim", "data-research-postgres-0"),
    ] {
        assert!(
            get(&env, api_version, kind, name).is_some(),
            "{kind}/{name} was deleted"
        );
    }
}

/// The operator's StatefulSet under our name, with its own `serviceName`
/// (immutable): named and refused, then re-created over its claim.
#[test]
fn a_statefulset_whose_immutable_fields_differ_is_named_then_recreated_over_its_claim() {
    let env = operator_tenant();
    let workspace = env
        .server
        .get(
            "mlops.aigency.com/v1alpha1",
            "Workspace",
            Some("research"),
            "research",
        )
        .unwrap();
    let labels =
        json!({"app.kubernetes.io/instance": "research", "app.kubernetes.io/name": "postgres"});
    let old = env.server.apply_as("manager", json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "research-postgres", "namespace": "research",
            "ownerReferences": [{"apiVersion": "mlops.aigency.com/v1alpha1", "kind": "Workspace",
                "name": "research", "uid": workspace["metadata"]["uid"], "controller": true}]},
        "spec": {"replicas": 1, "serviceName": "postgres", "selector": {"matchLabels": labels},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "5Gi"}}}}],
            "template": {"metadata": {"labels": labels},
                "spec": {"containers": [{"name": "postgres", "image": "postgres:12"}]}}}}));
    let claim_uid = claim_uid(&env);
    stop_operator(&env);
    env.server.clear_log();
    let out = env.apply(&["--adopt"]).output().unwrap();
    let stderr = stderr_of(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("StatefulSet/research/research-postgres: the live StatefulSet differs in spec.serviceName"), "{stderr}");
    assert!(stderr.contains("--recreate-statefulsets"), "{stderr}");
    assert!(env.writes().is_empty(), "{:?}", env.writes());

    env.apply(&["--adopt", "--recreate-statefulsets"])
        .assert()
        .success();
    let new = get(&env, "apps/v1", "StatefulSet", "research-postgres").unwrap();
    assert_ne!(new["metadata"]["uid"], old["metadata"]["uid"]);
    assert_eq!(new["spec"]["serviceName"], "research-postgres");
    assert_eq!(owners(&new), 0);
    let claim = get(
        &env,
        "v1",
        "PersistentVolumeClaim",
        "data-research-postgres-0",
    )
    .unwrap();
    assert_eq!(
        claim["metadata"]["uid"], claim_uid,
        "the claim and its data stay"
    );
}

/// Infra installed by cnvrgctl, and tenant `team-a` (namespace
/// `cnvrg-team-a`) as the cnvrg operator made it: a CnvrgApp `cnvrg-app`
/// owning the objects of each of `fixtures` (under `tests/fixtures/adopt/`).
pub(super) fn cnvrg_operator_tenant(fixtures: &[&str]) -> Env {
    let env = Env::new(crate::common::cluster::CNVRG_SPEC);
    env.cnvrgctl(&["install", "infra", "--yes"])
        .assert()
        .success();
    env.server.create(crd(
        "mlops.cnvrg.io",
        "v1",
        "CnvrgApp",
        "cnvrgapps",
        "Namespaced",
    ));
    wait_served(&env, "/apis/mlops.cnvrg.io/v1", &["cnvrgapps"]);
    env.server.create(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cnvrg-team-a"}}),
    );
    let app = env.server.apply_as(
        "cnvrg-operator",
        json!({"apiVersion": "mlops.cnvrg.io/v1", "kind": "CnvrgApp",
               "metadata": {"name": "cnvrg-app", "namespace": "cnvrg-team-a"},
               "spec": {"clusterDomain": "ml.acme.example"}}),
    );
    let uid = app["metadata"]["uid"].as_str().unwrap();
    for fixture in fixtures {
        let text = std::fs::read_to_string(format!("tests/fixtures/adopt/{fixture}")).unwrap();
        for doc in text.replace("OWNER_UID", uid).split("\n---\n") {
            env.server
                .apply_as("cnvrg-operator", serde_yaml::from_str(doc).unwrap());
        }
    }
    env
}

/// A cnvrg tenant the cnvrg operator runs: each Secret's values stay (same
/// keys) or move to ours under our key names (other keys, other Secret).
#[test]
fn cnvrg_secrets_keep_their_values_mapped_by_key() {
    let env = cnvrg_operator_tenant(&["cnvrg-operator-secrets.yaml"]);
    let out = env
        .apply(&["--adopt", "--scope", "tenant/team-a"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let value = |name: &str, key: &str| {
        use base64::Engine;
        let secret = env
            .server
            .get("v1", "Secret", Some("cnvrg-team-a"), name)
            .unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(secret["data"][key].as_str().unwrap())
            .unwrap();
        String::from_utf8(bytes).unwrap()
    };
    for (name, key, expected) in [
        ("pg-creds", "POSTGRES_PASSWORD", "pg-operator-password"),
        ("redis-creds", "REDIS_PASSWORD", "redis-operator-password"),
        (
            "redis-creds",
            "CNVRG_REDIS_PASSWORD",
            "redis-operator-password",
        ),
        ("es-creds", "ELASTIC_PASSWORD", "es-operator-password"),
        ("minio-creds", "MINIO_ROOT_USER", "minioOperatorAccessKey"),
        (
            "minio-creds",
            "MINIO_ROOT_PASSWORD",
            "minio-operator-secret-key",
        ),
        (
            "cp-base-secret",
            "SECRET_KEY_BASE",
            "secret-key-base-of-the-operator",
        ),
        (
            "cp-base-secret",
            "STS_KEY",
            "05646d3cbf8baa5be7150b4283eda07d",
        ),
    ] {
        assert_eq!(value(name, key), expected, "{name} {key}");
        assert!(
            !stdout.contains(expected) && !stderr.contains(expected),
            "{expected} printed"
        );
    }
    assert!(
        stdout.contains(
            "kubectl delete cnvrgapps.mlops.cnvrg.io cnvrg-app -n cnvrg-team-a --cascade=orphan"
        ),
        "{stdout}"
    );
}
