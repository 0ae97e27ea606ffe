//! The cluster half of moving the operator's claims to our names with the
//! data kept ([`super::moves`] decides): reads what each move stands at
//! ([`survey`]), then runs the steps that are left ([`run`]). Each step
//! checks what is live first, so a run stopped anywhere is finished by the
//! next: the volume is kept (`Retain`) before the old claim goes and gets
//! its policy back only once our claim is bound to it. Through
//! [`crate::engine::kube`] only.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;

use super::moves::{self, Move, Stage};
use crate::engine::apply::Problem;
use crate::engine::kube::{Cluster, ClusterError, Propagation, Resource, Seen};
use crate::pipeline::manifest::Manifest;

async fn served(
    cluster: &Cluster,
    api_version: &str,
    kind: &str,
) -> Result<Resource, ClusterError> {
    cluster
        .resource(api_version, kind)
        .await?
        .ok_or_else(|| ClusterError::UnknownKind {
            object: kind.to_string(),
            api_version: api_version.to_string(),
            kind: kind.to_string(),
        })
}

/// The moves the applied `manifests` call for, as the cluster stands.
pub async fn survey(cluster: &Cluster, manifests: &[Manifest]) -> Result<Vec<Move>, ClusterError> {
    let wanted = moves::wanted(manifests);
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let claims = served(cluster, "v1", "PersistentVolumeClaim").await?;
    let volumes = served(cluster, "v1", "PersistentVolume").await?;
    let all = cluster.list(&volumes, None, None).await?;
    let by_name: BTreeMap<&str, &Value> = all
        .iter()
        .filter_map(|v| Some((v["metadata"]["name"].as_str()?, v)))
        .collect();
    let mut found = Vec::new();
    for (ns, row, statefulset) in wanted {
        let theirs = cluster.get(&claims, Some(&ns), row.operator_claim).await?;
        let ours = cluster.get(&claims, Some(&ns), &row.ours()).await?;
        let target = format!("{ns}/{}", row.ours());
        let volume = theirs
            .as_ref()
            .or(ours.as_ref())
            .and_then(|c| c["spec"]["volumeName"].as_str())
            .and_then(|name| by_name.get(name).copied())
            .or_else(|| {
                all.iter().find(|v| {
                    v["metadata"]["annotations"][moves::TARGET_ANNOTATION] == target.as_str()
                })
            });
        found.extend(moves::plan(
            &ns,
            row,
            statefulset,
            theirs.as_ref(),
            ours.as_ref(),
            volume,
        ));
    }
    Ok(found)
}

/// The resources a move reads and writes.
struct Kinds {
    claims: Resource,
    volumes: Resource,
    pods: Resource,
}

/// Runs what is left of each move, one after the other; `timeout` bounds
/// each wait. `done` hears of each finished move.
pub async fn run(
    cluster: &Cluster,
    list: &[Move],
    timeout: Duration,
    done: impl Fn(&Move),
) -> Result<(), Problem> {
    if list.is_empty() {
        return Ok(());
    }
    let kinds = Kinds {
        claims: served(cluster, "v1", "PersistentVolumeClaim").await?,
        volumes: served(cluster, "v1", "PersistentVolume").await?,
        pods: served(cluster, "v1", "Pod").await?,
    };
    for m in list {
        if m.stage == Stage::Start {
            keep_volume(cluster, &kinds, m).await?;
            stop_workload(cluster, &kinds, m, timeout).await?;
            drop_old_claim(cluster, &kinds, m, timeout).await?;
        }
        if m.stage != Stage::Finish {
            rebind(cluster, &kinds, m).await?;
        }
        finish(cluster, &kinds, m, timeout).await?;
        done(m);
    }
    Ok(())
}

async fn volume(cluster: &Cluster, kinds: &Kinds, m: &Move) -> Result<Value, Problem> {
    cluster
        .get(&kinds.volumes, None, &m.volume)
        .await?
        .ok_or_else(|| stuck(m, "its volume is gone", 0))
}

/// (a) Reclaim `Retain`, the original policy noted on the volume.
async fn keep_volume(cluster: &Cluster, kinds: &Kinds, m: &Move) -> Result<(), Problem> {
    patch_volume(cluster, kinds, m, moves::retain_patch).await
}

/// Patches the move's volume with what `patch` makes of it as it is now.
async fn patch_volume(
    cluster: &Cluster,
    kinds: &Kinds,
    m: &Move,
    patch: fn(&Move, &Value) -> Value,
) -> Result<(), Problem> {
    let v = volume(cluster, kinds, m).await?;
    cluster
        .json_patch(&kinds.volumes, None, &m.volume, &patch(m, &v))
        .await?;
    Ok(())
}

/// (b) The operator's workload at zero replicas, and no pod mounting the
/// old claim.
async fn stop_workload(
    cluster: &Cluster,
    kinds: &Kinds,
    m: &Move,
    timeout: Duration,
) -> Result<(), Problem> {
    let (kind, name) = m.row.operator_workload;
    let workloads = served(cluster, "apps/v1", kind).await?;
    let live = cluster.get(&workloads, Some(&m.namespace), name).await?;
    if live.is_some_and(|w| w["spec"]["replicas"].as_u64() != Some(0)) {
        cluster
            .scale(&workloads, Some(&m.namespace), name, 0, moves::STOP_MANAGER)
            .await?;
    }
    let claim = m.row.operator_claim;
    until(
        cluster,
        &kinds.pods,
        m,
        timeout,
        "pods still mount the old claim",
        |pods| !pods.values().any(|p| moves::mounts(p, claim)),
    )
    .await
}

/// (c) The old claim deleted; its volume (kept) is released.
async fn drop_old_claim(
    cluster: &Cluster,
    kinds: &Kinds,
    m: &Move,
    timeout: Duration,
) -> Result<(), Problem> {
    let claim = m.row.operator_claim;
    cluster
        .delete(
            &kinds.claims,
            Some(&m.namespace),
            claim,
            Propagation::Background,
        )
        .await?;
    until(
        cluster,
        &kinds.claims,
        m,
        timeout,
        "the old claim is still there",
        |claims| !claims.contains_key(claim),
    )
    .await
}

/// (d) and (e): the volume names our claim, and our claim names the volume.
async fn rebind(cluster: &Cluster, kinds: &Kinds, m: &Move) -> Result<(), Problem> {
    let v = volume(cluster, kinds, m).await?;
    let to = m.row.ours();
    let points = v["spec"]["claimRef"]["name"] == to.as_str()
        && v["spec"]["claimRef"]["namespace"] == m.namespace.as_str();
    if !points {
        let patch = moves::rebind_patch(m, &v);
        cluster
            .json_patch(&kinds.volumes, None, &m.volume, &patch)
            .await?;
    }
    if cluster
        .get(&kinds.claims, Some(&m.namespace), &to)
        .await?
        .is_none()
    {
        cluster.apply(&kinds.claims, &m.claim, false, false).await?;
    }
    Ok(())
}

/// (f) Once our claim is bound to the volume, its reclaim policy back.
async fn finish(
    cluster: &Cluster,
    kinds: &Kinds,
    m: &Move,
    timeout: Duration,
) -> Result<(), Problem> {
    let to = m.row.ours();
    let volume_name = m.volume.clone();
    until(
        cluster,
        &kinds.claims,
        m,
        timeout,
        "our claim did not bind to the volume",
        |claims| {
            claims.get(&to).is_some_and(|c| {
                c["status"]["phase"] == "Bound" && c["spec"]["volumeName"] == volume_name.as_str()
            })
        },
    )
    .await?;
    patch_volume(cluster, kinds, m, moves::restore_patch).await
}

fn stuck(m: &Move, why: &str, secs: u64) -> Problem {
    Problem::NotReady {
        failed: vec![format!(
            "{} → {}: {why}{}; the volume {} and its data are kept, run again to continue",
            m.from_id(),
            m.to_id(),
            match secs {
                0 => String::new(),
                s => format!(" after {s}s"),
            },
            m.volume
        )],
        blockers: Vec::new(),
        skipped: 0,
    }
}

/// Watches `resource` in the move's namespace until `done` holds for the
/// objects (by name); after `timeout`, the move is stuck: `why`.
async fn until(
    cluster: &Cluster,
    resource: &Resource,
    m: &Move,
    timeout: Duration,
    why: &str,
    done: impl Fn(&BTreeMap<String, Value>) -> bool,
) -> Result<(), Problem> {
    let mut stream = Box::pin(cluster.watch(resource, Some(&m.namespace)));
    let mut seen: BTreeMap<String, Value> = BTreeMap::new();
    let mut synced = false;
    let watching = async {
        while let Some(event) = stream.next().await {
            match event {
                Seen::Restarted => {
                    seen.clear();
                    synced = false;
                }
                Seen::Applied(o) => {
                    let name = o["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    seen.insert(name, o);
                }
                Seen::Deleted(o) => {
                    seen.remove(o["metadata"]["name"].as_str().unwrap_or_default());
                }
                Seen::Synced => synced = true,
                Seen::Failing(_) => {}
            }
            if synced && done(&seen) {
                return;
            }
        }
    };
    tokio::time::timeout(timeout, watching)
        .await
        .map_err(|_| stuck(m, why, timeout.as_secs()))
}
