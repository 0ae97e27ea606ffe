//! `apply --adopt` and `diff --adopt` on a cnvrg tenant the cnvrg operator
//! runs (`tests/fixtures/adopt/cnvrg-operator-data.yaml`): the operator's
//! claims move to the names our StatefulSets give theirs by re-binding the
//! same PersistentVolume (never deleted, its data intact), resumably, and
//! `diff --adopt` names each move without writing.

use std::collections::BTreeMap;

use serde_json::Value;
use testserver::{Fault, FaultKind, FaultTarget};

use super::adopt::{cnvrg_operator_tenant, diff_adopt};
use crate::common::cluster::{Env, stderr_of};

const NS: &str = "cnvrg-team-a";

/// (the operator's claim, ours).
const MOVES: &[(&str, &str)] = &[
    ("pg-storage", "data-postgres-0"),
    ("redis-storage", "data-redis-0"),
    ("minio-storage", "data-minio-0"),
    ("es-storage-elasticsearch-0", "data-elasticsearch-0"),
];

fn claim(env: &Env, name: &str) -> Option<Value> {
    env.server
        .get("v1", "PersistentVolumeClaim", Some(NS), name)
}

fn volume(env: &Env, name: &str) -> Option<Value> {
    env.server.get("v1", "PersistentVolume", None, name)
}

/// The tenant with its data services running on bound claims: per
/// operator claim, its volume's name and uid.
fn running_tenant() -> (Env, BTreeMap<&'static str, (String, Value)>) {
    let env = cnvrg_operator_tenant(&["cnvrg-operator-secrets.yaml", "cnvrg-operator-data.yaml"]);
    let mut volumes = BTreeMap::new();
    for _ in 0..400 {
        volumes = MOVES
            .iter()
            .filter_map(|(old, _)| {
                let name = claim(&env, old)?["spec"]["volumeName"]
                    .as_str()?
                    .to_string();
                let uid = volume(&env, &name)?["metadata"]["uid"].clone();
                Some((*old, (name, uid)))
            })
            .collect();
        if volumes.len() == MOVES.len() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    assert_eq!(volumes.len(), MOVES.len(), "the operator's claims bound");
    (env, volumes)
}

#[test]
fn diff_adopt_names_each_claim_move_and_writes_nothing() {
    let (env, volumes) = running_tenant();
    let stdout = diff_adopt(
        &env,
        &["--recreate-statefulsets", "--scope", "tenant/team-a"],
    );
    let moves = stdout
        .split("claims that move to our names")
        .nth(1)
        .unwrap();
    for (old, new) in MOVES {
        let line = format!(
            "PersistentVolumeClaim/{NS}/{old} → PersistentVolumeClaim/{NS}/{new}: volume {}",
            volumes[old].0
        );
        assert!(moves.contains(&line), "{line}\n{stdout}");
    }
    assert!(
        moves.contains("(80Gi, reclaim Delete, Retain while it moves)"),
        "{stdout}"
    );
    assert!(
        moves.contains(&format!("postgres stops while its claim moves (Deployment/{NS}/postgres scaled to 0, listed for removal) and StatefulSet/{NS}/postgres starts on it")),
        "{stdout}"
    );
    let stays = stdout.split("never deleted):").nth(1).unwrap();
    assert!(
        stays.contains(&format!("Deployment/{NS}/postgres")),
        "{stdout}"
    );
    assert!(
        !stays.contains("pg-storage"),
        "a moving claim is not left: {stdout}"
    );
}

/// `apply --adopt` moving claims whatever their data.
fn adopt_moving(env: &Env) -> std::process::Output {
    env.apply(&[
        "--adopt",
        "--recreate-statefulsets",
        "--move-unreadable-data",
    ])
    .output()
    .unwrap()
}

#[test]
fn adopt_moves_the_claims_onto_the_same_volumes_resumably_and_then_rests() {
    let (env, volumes) = running_tenant();
    // The first run stops after the old claim went: creating ours fails once.
    env.server.inject(Fault::new(
        FaultTarget::method("PATCH").and_path("persistentvolumeclaims/data-postgres-0"),
        FaultKind::Reject {
            code: 403,
            reason: "Forbidden".into(),
            message: "injected".into(),
        },
    ));
    let out = adopt_moving(&env);
    let stderr = stderr_of(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("data-postgres-0"), "{stderr}");
    assert!(claim(&env, "pg-storage").is_none(), "stopped mid-move");
    let kept = volume(&env, &volumes["pg-storage"].0).unwrap();
    assert_eq!(
        kept["spec"]["persistentVolumeReclaimPolicy"], "Retain",
        "{kept}"
    );

    let out = adopt_moving(&env);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for (old, new) in MOVES {
        let (name, uid) = &volumes[old];
        let pv = volume(&env, name).unwrap_or_else(|| panic!("{name} was deleted"));
        assert_eq!(&pv["metadata"]["uid"], uid, "{name} is the same volume");
        assert_eq!(
            pv["spec"]["persistentVolumeReclaimPolicy"], "Delete",
            "{pv}"
        );
        assert!(pv["metadata"]["annotations"]["cnvrgctl.io/reclaim-policy"].is_null());
        assert_eq!(pv["spec"]["claimRef"]["name"], *new);
        assert_eq!(
            env.server.volume_data(name).as_deref(),
            Some(format!("written by {NS}/{old}").as_str()),
            "the data of {old}"
        );
        let ours = claim(&env, new).unwrap();
        assert_eq!(ours["status"]["phase"], "Bound");
        assert_eq!(ours["spec"]["volumeName"], name.as_str());
        assert!(claim(&env, old).is_none(), "{old} is gone");
    }
    for name in ["postgres", "redis", "minio"] {
        let old = env.deployment(NS, name).expect("the old Deployment stays");
        assert_eq!(old["spec"]["replicas"], 0, "{name}");
        assert!(
            stdout.contains(&format!(
                "Deployment/{NS}/{name} (owned by CnvrgApp/cnvrg-app"
            )),
            "listed for removal: {stdout}"
        );
    }
    for name in ["postgres", "redis", "minio", "elasticsearch"] {
        let ours = env
            .server
            .get("apps/v1", "StatefulSet", Some(NS), name)
            .unwrap();
        assert_eq!(
            ours["spec"]["volumeClaimTemplates"][0]["metadata"]["name"],
            "data"
        );
    }
    // A second run has nothing to move or write.
    env.server.clear_log();
    env.apply(&[
        "--adopt",
        "--recreate-statefulsets",
        "--move-unreadable-data",
    ])
    .assert()
    .success();
    assert!(env.writes().is_empty(), "{:?}", env.writes());
}

#[test]
fn adopt_refuses_to_move_a_claim_our_image_cannot_read_unless_told() {
    let (env, volumes) = running_tenant();
    env.server.clear_log();
    let out = env
        .apply(&["--adopt", "--recreate-statefulsets"])
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert!(!out.status.success(), "{stderr}");
    for component in ["pg-storage", "minio-storage", "es-storage-elasticsearch-0"] {
        assert!(
            stderr.contains(&format!(
                "PersistentVolumeClaim/{NS}/{component} would move"
            )),
            "{stderr}"
        );
    }
    assert!(!stderr.contains("redis-storage would move"), "{stderr}");
    assert!(stderr.contains("--move-unreadable-data"), "{stderr}");
    assert!(env.writes().is_empty(), "{:?}", env.writes());
    for (old, _) in MOVES {
        assert!(claim(&env, old).is_some(), "{old} stays");
        let pv = volume(&env, &volumes[old].0).unwrap();
        assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Delete");
    }
}
