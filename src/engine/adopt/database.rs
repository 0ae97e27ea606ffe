//! A database copied rather than taken over (a Cartographer workspace's
//! Crunchy PostgresCluster into our PostgreSQL, by the Job
//! `templates/workspace/postgres-import.yaml.j2`): its writer must be
//! stopped before the copy starts, or what it writes after the dump is lost.
//! The Job names that writer in `cnvrgctl.io/stop-first`; [`stops`] decides,
//! from what the run will do, whether it is stopped (the Job is about to be
//! created and the writer is rewritten after it, which brings it back up with
//! our template), and [`stop`] scales it to zero and waits until its pods are
//! gone. Through [`crate::engine::kube`] and the waiter only.

use std::collections::HashMap;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::engine::apply::Target;
use crate::engine::diff::Op;
use crate::engine::kube::{Cluster, Resource};
use crate::engine::wait::Waiter;
use crate::pipeline::manifest::keys;

/// The API group of Crunchy's PostgreSQL operator (PGO v5), whose
/// PostgresCluster holds a Cartographer workspace's database.
pub const CRUNCHY_GROUP: &str = "postgres-operator.crunchydata.com";

/// Whether `live` is owned by a Crunchy PostgresCluster (its user Secrets:
/// PGO owns them, Cartographer does not).
pub fn crunchy(live: &Value) -> bool {
    live["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|r| {
            r["kind"] == "PostgresCluster"
                && r["apiVersion"]
                    .as_str()
                    .is_some_and(|v| v.starts_with(&format!("{CRUNCHY_GROUP}/")))
        })
}

/// The workload a target stops first, as `(kind, name)` in its namespace.
pub fn stop_first(body: &Value) -> Option<(&str, &str)> {
    body["metadata"]["annotations"][keys::STOP_FIRST]
        .as_str()?
        .split_once('/')
}

/// For each target (by manifest index) that stops a workload before it is
/// written, that workload's target: only when the target is created (or
/// re-created) in this run, and the workload is the operator's, adopted in
/// this run and rewritten after it (so it comes back up, ours). A workload
/// cnvrgctl already runs is never stopped: it is not the writer being
/// replaced.
pub fn stops(targets: &[Target]) -> HashMap<usize, &Target> {
    let mut found = HashMap::new();
    for t in targets
        .iter()
        .filter(|t| matches!(t.change.op, Op::Create | Op::Replace) && !t.external)
    {
        let Some((kind, name)) = stop_first(&t.body) else {
            continue;
        };
        let namespace = t.body["metadata"]["namespace"].as_str();
        let writer = targets.iter().find(|w| {
            w.body["kind"] == kind
                && w.body["metadata"]["name"] == name
                && w.body["metadata"]["namespace"].as_str() == namespace
        });
        if let Some(w) =
            writer.filter(|w| w.adopted && w.live.is_some() && w.change.op != Op::Unchanged)
        {
            found.insert(t.index, w);
        }
    }
    found
}

/// Scales the workload `live` (served at `resource`) to zero, with a patch
/// that tests its uid first, and waits until no pod its selector picks is
/// left; the reason when it cannot.
pub async fn stop(
    cluster: &Cluster,
    waiter: &Waiter,
    resource: &Resource,
    live: &Value,
    deadline: Instant,
) -> Result<(), String> {
    let namespace = live["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = live["metadata"]["name"].as_str().unwrap_or_default();
    let ops = json!([
        {"op": "test", "path": "/metadata/uid", "value": live["metadata"]["uid"]},
        {"op": "replace", "path": "/spec/replicas", "value": 0}
    ]);
    cluster
        .json_patch(resource, Some(namespace), name, &ops)
        .await
        .map_err(|e| crate::engine::apply::describe(&e))?;
    let Some(selector) = live["spec"]["selector"]["matchLabels"].as_object() else {
        return Ok(());
    };
    let pods = match cluster.resource("v1", "Pod").await {
        Ok(Some(pods)) => pods,
        Ok(None) => return Ok(()),
        Err(e) => return Err(crate::engine::apply::describe(&e)),
    };
    if waiter
        .until_no_pods(&pods, namespace, selector, deadline)
        .await
    {
        Ok(())
    } else {
        Err(format!(
            "timed out waiting for the pods of {} {namespace}/{name} to stop before the copy",
            live["kind"].as_str().unwrap_or("workload")
        ))
    }
}

/// A target in namespace `ws` for the adoption tests: `body` gets kind,
/// name and namespace; `live` makes the live object the body.
#[cfg(test)]
pub(super) fn test_target(index: usize, op: Op, mut body: Value, live: bool) -> Target {
    let kind = body["kind"].as_str().unwrap_or_default().to_string();
    let name = body["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    body["metadata"]["namespace"] = "ws".into();
    Target {
        index,
        resource: None,
        live: live.then(|| body.clone()),
        body,
        change: crate::engine::diff::Change {
            op,
            scope: crate::pipeline::manifest::Scope::Tenant("ws".into()),
            kind,
            namespace: Some("ws".into()),
            name,
            before: None,
            after: None,
            conflicts: Vec::new(),
        },
        external: false,
        refresh: false,
        refused: None,
        adopted: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(
        index: usize,
        kind: &str,
        name: &str,
        op: Op,
        live: bool,
        stop: Option<&str>,
    ) -> Target {
        let mut body = json!({"kind": kind, "metadata": {"name": name}});
        if let Some(s) = stop {
            body["metadata"]["annotations"] = json!({keys::STOP_FIRST: s});
        }
        test_target(index, op, body, live)
    }

    #[test]
    fn the_writer_stops_only_before_a_new_copy_and_when_it_is_rewritten_after() {
        let job = |op| {
            target(
                0,
                "Job",
                "ws-postgres-import",
                op,
                false,
                Some("Deployment/ws-orion-server"),
            )
        };
        let orion = |op, live| Target {
            adopted: live,
            ..target(1, "Deployment", "ws-orion-server", op, live, None)
        };
        let stopped = |targets: &[Target]| stops(targets).get(&0).map(|t| t.index);
        assert_eq!(
            stopped(&[job(Op::Create), orion(Op::Update, true)]),
            Some(1)
        );
        assert_eq!(
            stopped(&[job(Op::Unchanged), orion(Op::Update, true)]),
            None,
            "copied already"
        );
        assert_eq!(
            stopped(&[job(Op::Create), orion(Op::Unchanged, true)]),
            None,
            "ours already"
        );
        assert_eq!(
            stopped(&[job(Op::Create), orion(Op::Create, false)]),
            None,
            "nothing runs"
        );
        let ours = Target {
            adopted: false,
            ..orion(Op::Update, true)
        };
        assert_eq!(stopped(&[job(Op::Create), ours]), None, "cnvrgctl's server");
    }
}
