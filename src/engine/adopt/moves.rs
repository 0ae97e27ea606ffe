//! The pure half of moving an operator's claim to the name cnvrgctl's
//! StatefulSet gives its claim, with the data kept. A claim cannot be
//! renamed; its PersistentVolume is re-bound, as an admin does it by hand:
//! the volume's reclaim policy becomes `Retain` (the original kept in an
//! annotation on the volume, so a re-run after an interruption knows it),
//! the operator's workload stops, the old claim is deleted (the volume is
//! `Released`), the volume's `claimRef` names the new claim without a uid,
//! the new claim is created naming the volume, and once it is `Bound` the
//! reclaim policy is restored. Here: which claims move ([`CLAIM_MOVES`]),
//! what a move is from the live objects ([`plan`]) and the patches and
//! bodies each step sends. Values in, values out; [`super::claims`] makes
//! the calls.

use serde_json::{Value, json};

use crate::pipeline::manifest::Manifest;

/// The annotation on a moving volume holding its reclaim policy before the
/// move.
pub const RECLAIM_ANNOTATION: &str = "cnvrgctl.io/reclaim-policy";
/// The annotation on a moving volume naming the claim it moves to
/// (`namespace/name`): how a re-run finds it once the old claim is gone.
pub const TARGET_ANNOTATION: &str = "cnvrgctl.io/moving-to";

/// The field manager stopping the operator's workload (its `scale`): not
/// cnvrgctl's, so the workload stays the operator's until it is adopted
/// or removed.
pub const STOP_MANAGER: &str = "cnvrgctl-claim-move";

/// One claim the cnvrg operator makes under another name than ours, and
/// what reads it. From the operator's templates (`pkg/app/dbs/tmpl/…`,
/// defaults in `api/v1/dbs.go`) and ours (`templates/cnvrg/…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimMove {
    pub component: &'static str,
    /// Our StatefulSet and its claim template: the claim is
    /// `{template}-{statefulset}-0`.
    pub statefulset: &'static str,
    pub template: &'static str,
    /// The operator's claim.
    pub operator_claim: &'static str,
    /// The operator's workload mounting it (kind, name).
    pub operator_workload: (&'static str, &'static str),
    /// Whether our image reads the data as the operator's left it.
    pub readable: bool,
    /// Why (or why not), and what to do when not.
    pub data: &'static str,
}

const fn row(
    component: &'static str,
    statefulset: &'static str,
    operator_claim: &'static str,
    operator_workload: (&'static str, &'static str),
    (readable, data): (bool, &'static str),
) -> ClaimMove {
    ClaimMove {
        component,
        statefulset,
        template: "data",
        operator_claim,
        operator_workload,
        readable,
        data,
    }
}

/// The claims of a cnvrg tenant that move, in the tenant's namespace.
pub const CLAIM_MOVES: &[ClaimMove] = &[
    row(
        "postgres",
        "postgres",
        "pg-storage",
        ("Deployment", "postgres"),
        (
            false,
            "not read as it is: the operator's postgresql-12-centos7 mounts the claim at /var/lib/pgsql/data with PGDATA in its userdata/ directory (uid 26); ours (postgres 17) mounts it at /var/lib/postgresql with PGDATA in data/ (uid 999) and cannot open a PostgreSQL 12 cluster: upgrade it (pg_upgrade, or a dump and restore) into data/ before the app uses it",
        ),
    ),
    row(
        "redis",
        "redis",
        "redis-storage",
        ("Deployment", "redis"),
        (
            true,
            "read as it is: both mount the claim at /data and keep the RDB/AOF files there; Redis 7 loads older ones",
        ),
    ),
    row(
        "minio",
        "minio",
        "minio-storage",
        ("Deployment", "minio"),
        (
            false,
            "not read as it is: both mount the claim at /data, but the operator's MinIO (RELEASE.2021-05-22) keeps a single drive in the FS format, which today's MinIO refuses: copy the buckets over (mc mirror) from the old format",
        ),
    ),
    row(
        "elasticsearch",
        "elasticsearch",
        "es-storage-elasticsearch-0",
        ("StatefulSet", "elasticsearch"),
        (
            false,
            "not read as it is: the operator's Elasticsearch 7.8 keeps path.data in the claim's data/ directory, ours (8.x) the claim's root, and 8.x does not start on 7.8 data: reindex or restore a snapshot",
        ),
    ),
];

impl ClaimMove {
    /// Our claim's name.
    pub fn ours(&self) -> String {
        format!("{}-{}-0", self.template, self.statefulset)
    }
}

/// The moves `manifests` call for: our StatefulSets of the table with the
/// claim template, per namespace (namespace, row, our StatefulSet).
pub fn wanted(manifests: &[Manifest]) -> Vec<(String, &'static ClaimMove, &Manifest)> {
    let mut found = Vec::new();
    for m in manifests.iter().filter(|m| m.kind() == "StatefulSet") {
        let Some(ns) = m.namespace() else { continue };
        let templates = super::rules::claim_templates(&m.object);
        for row in CLAIM_MOVES {
            if row.statefulset == m.name() && templates.iter().any(|t| t == row.template) {
                found.push((ns.to_string(), row, m));
            }
        }
    }
    found
}

/// Whether a StatefulSet whose claim templates are `theirs` may be
/// re-created as ours (`ours`) because each template that differs is one
/// whose claim moves with its data.
pub fn templates_move(statefulset: &str, theirs: &[String], ours: &[String]) -> bool {
    theirs.len() == ours.len()
        && theirs.iter().zip(ours).all(|(t, o)| {
            t == o
                || CLAIM_MOVES.iter().any(|r| {
                    r.statefulset == statefulset
                        && r.template == o
                        && r.operator_claim == format!("{t}-{statefulset}-0")
                })
        })
}

/// One move, as read from the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Move {
    pub namespace: String,
    pub row: &'static ClaimMove,
    /// The volume's name, its size and reclaim policy before the move.
    pub volume: String,
    pub size: String,
    pub policy: String,
    /// Where the move stands.
    pub stage: Stage,
    /// Our claim's body, should it be created.
    pub claim: Value,
}

/// Where a move stands: what a run still has to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Nothing written yet: every step to do.
    Start,
    /// The old claim is gone (an earlier run stopped there): point the
    /// volume at ours and create it.
    Rebind,
    /// Our claim names the volume: wait for it to bind, restore the policy.
    Finish,
}

impl Move {
    pub fn from_id(&self) -> String {
        format!(
            "PersistentVolumeClaim/{}/{}",
            self.namespace, self.row.operator_claim
        )
    }

    pub fn to_id(&self) -> String {
        format!(
            "PersistentVolumeClaim/{}/{}",
            self.namespace,
            self.row.ours()
        )
    }

    pub fn workload_id(&self) -> String {
        let (kind, name) = self.row.operator_workload;
        format!("{kind}/{}/{name}", self.namespace)
    }

    /// The lines `diff --adopt` and `apply --adopt` show for it.
    pub fn describe(&self) -> Vec<String> {
        let (kind, name) = self.row.operator_workload;
        let fate = match kind {
            "Deployment" => "scaled to 0, listed for removal",
            _ => "scaled to 0, then re-created as ours",
        };
        let resumed = match self.stage {
            Stage::Start => "",
            Stage::Rebind | Stage::Finish => " (resumed: an earlier run began it)",
        };
        vec![
            format!(
                "{} → {}: volume {} ({}, reclaim {}, Retain while it moves){resumed}",
                self.from_id(),
                self.to_id(),
                self.volume,
                self.size,
                self.policy
            ),
            format!(
                "  {c} stops while its claim moves ({kind}/{}/{name} {fate}) and StatefulSet/{}/{} starts on it: {c} is down until that is ready",
                self.namespace,
                self.namespace,
                self.row.statefulset,
                c = self.row.component,
            ),
            format!("  data: {}", self.row.data),
        ]
    }
}

/// The move of `row` in `namespace`, from its live claims (`theirs`, `ours`)
/// and `volume` (the one behind the old claim, or the one moving to ours);
/// `None` when there is nothing to move (ours is there on a volume of its
/// own, or no operator claim and no volume moving).
pub fn plan(
    namespace: &str,
    row: &'static ClaimMove,
    statefulset: &Manifest,
    theirs: Option<&Value>,
    ours: Option<&Value>,
    volume: Option<&Value>,
) -> Option<Move> {
    let volume = volume?;
    let annotations = &volume["metadata"]["annotations"];
    let moving = annotations[TARGET_ANNOTATION] == format!("{namespace}/{}", row.ours()).as_str();
    let name = volume["metadata"]["name"].as_str()?.to_string();
    let stage = match (theirs, ours) {
        (_, Some(o)) if o["spec"]["volumeName"] == name.as_str() && moving => Stage::Finish,
        (_, Some(_)) => return None,
        (Some(_), None) => Stage::Start,
        (None, None) if moving => Stage::Rebind,
        (None, None) => return None,
    };
    let policy = annotations[RECLAIM_ANNOTATION]
        .as_str()
        .or(volume["spec"]["persistentVolumeReclaimPolicy"].as_str())
        .unwrap_or("Delete")
        .to_string();
    let size = volume["spec"]["capacity"]["storage"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    Some(Move {
        namespace: namespace.to_string(),
        row,
        claim: claim_body(namespace, row, statefulset, volume),
        volume: name,
        size,
        policy,
        stage,
    })
}

/// Our claim, bound to `volume` by name: its class, size and access modes,
/// the labels our StatefulSet gives its claims (its selector's).
fn claim_body(namespace: &str, row: &ClaimMove, statefulset: &Manifest, volume: &Value) -> Value {
    let spec = &volume["spec"];
    json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": row.ours(), "namespace": namespace,
                     "labels": statefulset.object["spec"]["selector"]["matchLabels"]},
        "spec": {"accessModes": spec["accessModes"], "storageClassName": spec["storageClassName"],
                 "volumeName": volume["metadata"]["name"],
                 "resources": {"requests": {"storage": spec["capacity"]["storage"]}}}})
}

/// The JSON patch keeping `volume` while it moves: reclaim `Retain`, the
/// original policy and the target in annotations (an earlier run's
/// original wins). It tests the volume's uid first.
pub fn retain_patch(m: &Move, volume: &Value) -> Value {
    let mut annotations = volume["metadata"]["annotations"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    annotations
        .entry(RECLAIM_ANNOTATION)
        .or_insert(json!(m.policy));
    annotations.insert(
        TARGET_ANNOTATION.into(),
        json!(format!("{}/{}", m.namespace, m.row.ours())),
    );
    json!([
        {"op": "test", "path": "/metadata/uid", "value": volume["metadata"]["uid"]},
        {"op": "add", "path": "/metadata/annotations", "value": annotations},
        {"op": "replace", "path": "/spec/persistentVolumeReclaimPolicy", "value": "Retain"}
    ])
}

/// The JSON patch pointing `volume` at our claim by name only (no uid: the
/// volume controller binds it when the claim appears).
pub fn rebind_patch(m: &Move, volume: &Value) -> Value {
    json!([
        {"op": "test", "path": "/metadata/uid", "value": volume["metadata"]["uid"]},
        {"op": "add", "path": "/spec/claimRef", "value": {
            "kind": "PersistentVolumeClaim", "apiVersion": "v1",
            "namespace": m.namespace, "name": m.row.ours()}}
    ])
}

/// The JSON patch giving `volume` its reclaim policy back and dropping the
/// move's annotations.
pub fn restore_patch(m: &Move, volume: &Value) -> Value {
    let mut annotations = volume["metadata"]["annotations"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    annotations.remove(RECLAIM_ANNOTATION);
    annotations.remove(TARGET_ANNOTATION);
    json!([
        {"op": "test", "path": "/metadata/uid", "value": volume["metadata"]["uid"]},
        {"op": "add", "path": "/metadata/annotations", "value": annotations},
        {"op": "replace", "path": "/spec/persistentVolumeReclaimPolicy", "value": m.policy}
    ])
}

/// Whether `volume` names the old claim `uid` (still bound to it).
pub fn holds(volume: &Value, uid: &Value) -> bool {
    volume["spec"]["claimRef"]["uid"] == *uid
}

/// Whether `pod` mounts claim `claim` and is not finished.
pub fn mounts(pod: &Value, claim: &str) -> bool {
    let done = matches!(
        pod["status"]["phase"].as_str(),
        Some("Succeeded" | "Failed")
    );
    !done
        && pod["spec"]["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|v| v["persistentVolumeClaim"]["claimName"] == claim)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::manifest::{Origin, Scope};

    fn statefulset() -> Manifest {
        Manifest {
            object: json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
                "metadata": {"name": "postgres", "namespace": "team"},
                "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "postgres"}},
                         "volumeClaimTemplates": [{"metadata": {"name": "data"}}]}}),
            origin: Origin {
                scope: Scope::Tenant("team".into()),
                component: "postgres".into(),
                template: "cnvrg/postgres.yaml.j2".into(),
            },
        }
    }

    fn volume(annotations: Value) -> Value {
        json!({"metadata": {"name": "pvc-1", "uid": "v1", "annotations": annotations},
               "spec": {"capacity": {"storage": "80Gi"}, "accessModes": ["ReadWriteOnce"],
                        "storageClassName": "standard", "persistentVolumeReclaimPolicy": "Delete",
                        "claimRef": {"name": "pg-storage", "namespace": "team", "uid": "c1"}}})
    }

    #[test]
    fn the_table_names_our_claims_and_finds_our_statefulsets() {
        let names: Vec<String> = CLAIM_MOVES.iter().map(ClaimMove::ours).collect();
        assert_eq!(
            names,
            [
                "data-postgres-0",
                "data-redis-0",
                "data-minio-0",
                "data-elasticsearch-0"
            ]
        );
        let ms = [statefulset()];
        let found = wanted(&ms);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].1.operator_claim, "pg-storage");
        let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(templates_move(
            "elasticsearch",
            &t(&["es-storage"]),
            &t(&["data"])
        ));
        assert!(!templates_move(
            "elasticsearch",
            &t(&["other"]),
            &t(&["data"])
        ));
        assert!(!templates_move(
            "postgres",
            &t(&["es-storage"]),
            &t(&["data"])
        ));
    }

    #[test]
    fn a_move_starts_resumes_or_finishes_from_what_is_live() {
        let row = &CLAIM_MOVES[0];
        let ms = statefulset();
        let theirs = json!({"metadata": {"uid": "c1"}});
        let fresh = volume(json!({}));
        let m = plan("team", row, &ms, Some(&theirs), None, Some(&fresh)).unwrap();
        assert_eq!(m.stage, Stage::Start);
        assert_eq!(m.policy, "Delete");
        assert_eq!(m.claim["spec"]["volumeName"], "pvc-1");
        assert_eq!(m.claim["spec"]["resources"]["requests"]["storage"], "80Gi");
        assert_eq!(
            m.claim["metadata"]["labels"]["app.kubernetes.io/name"],
            "postgres"
        );
        assert!(m.describe()[1].contains("postgres stops while its claim moves"));
        let moving = volume(
            json!({RECLAIM_ANNOTATION: "Delete", TARGET_ANNOTATION: "team/data-postgres-0"}),
        );
        let mut retained = moving.clone();
        retained["spec"]["persistentVolumeReclaimPolicy"] = json!("Retain");
        let m = plan("team", row, &ms, None, None, Some(&retained)).unwrap();
        assert_eq!((m.stage, m.policy.as_str()), (Stage::Rebind, "Delete"));
        let ours = json!({"spec": {"volumeName": "pvc-1"}});
        let m = plan("team", row, &ms, None, Some(&ours), Some(&retained)).unwrap();
        assert_eq!(m.stage, Stage::Finish);
        // Ours on a volume of its own, or nothing of the operator's: no move.
        assert!(
            plan(
                "team",
                row,
                &ms,
                Some(&theirs),
                Some(&json!({})),
                Some(&fresh)
            )
            .is_none()
        );
        assert!(plan("team", row, &ms, None, None, Some(&fresh)).is_none());
        assert!(plan("team", row, &ms, None, None, None).is_none());
    }

    #[test]
    fn the_patches_keep_then_restore_the_policy_and_test_the_uid() {
        let ms = statefulset();
        let theirs = json!({"metadata": {"uid": "c1"}});
        let v = volume(json!({"keep": "me"}));
        let m = plan("team", &CLAIM_MOVES[0], &ms, Some(&theirs), None, Some(&v)).unwrap();
        let retain = retain_patch(&m, &v);
        assert_eq!(retain[0]["value"], "v1");
        assert_eq!(retain[1]["value"][RECLAIM_ANNOTATION], "Delete");
        assert_eq!(retain[1]["value"]["keep"], "me");
        assert_eq!(retain[2]["value"], "Retain");
        let rebind = rebind_patch(&m, &v);
        assert_eq!(rebind[1]["value"]["name"], "data-postgres-0");
        assert!(rebind[1]["value"]["uid"].is_null());
        let restore = restore_patch(&m, &v);
        assert!(restore[1]["value"][TARGET_ANNOTATION].is_null());
        assert_eq!(restore[2]["value"], "Delete");
        assert!(holds(&v, &json!("c1")));
        let pod = json!({"spec": {"volumes": [{"persistentVolumeClaim": {"claimName": "pg-storage"}}]},
                         "status": {"phase": "Running"}});
        assert!(mounts(&pod, "pg-storage") && !mounts(&pod, "other"));
    }
}
