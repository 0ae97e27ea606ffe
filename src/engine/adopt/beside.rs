//! What adoption cannot take over in place and makes beside the operator's
//! object instead: a Cartographer agent pool (the operator's StatefulSet
//! `{ws}-agent-{pool}`, our Deployment of the same name) and a workspace's
//! database (Crunchy's PostgresCluster, copied into ours by the Job of
//! `cnvrgctl.io/copies`). Each says what runs meanwhile and the commands that
//! retire the old object once ours runs; cnvrgctl never deletes it. Pure:
//! values in, values out.

use crate::engine::apply::Target;
use crate::pipeline::manifest::keys;

use super::database::stop_first;

/// An operator's object replaced by one of ours made beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Beside {
    /// `Kind/namespace/name` of the operator's object (it stays).
    pub old: String,
    /// Ours.
    pub new: String,
    /// What runs meanwhile, and what the user has to know.
    pub how: String,
    /// The commands that retire the old object, in order.
    pub retire: Vec<String>,
}

/// A database copied into ours.
#[derive(Debug, Clone, PartialEq)]
pub struct Copy {
    /// `Kind/namespace/name` of the operator's database (it stays).
    pub from: String,
    /// The Job that copies it.
    pub by: String,
    /// The workload stopped while it copies, if any.
    pub stops: Option<String>,
    /// The commands that retire the old database once the copy is checked.
    pub retire: Vec<String>,
}

fn id(t: &Target) -> String {
    t.change.id()
}

/// The operator's StatefulSets (`StatefulSet/ns/name` among `leftovers`)
/// that one of our Deployments of the same name replaces.
pub fn pools(targets: &[Target], leftovers: &[String]) -> Vec<Beside> {
    targets
        .iter()
        .filter(|t| t.change.kind == "Deployment" && !t.external)
        .filter_map(|t| {
            let ns = t.change.namespace.as_deref()?;
            let name = &t.change.name;
            let old = format!("StatefulSet/{ns}/{name}");
            let pool = name.replacen("-agent-", "-", 1);
            leftovers.contains(&old).then(|| Beside {
                how: format!("created beside it: the operator's Prefect 2 agents keep running until you retire them; our Prefect 3 workers poll the work pool `{pool}` and never take the agents' runs, but deployments made for the agents' work queue must be deployed again to that work pool"),
                retire: vec![
                    format!("kubectl -n {ns} scale statefulset {name} --replicas=0"),
                    format!("kubectl -n {ns} delete statefulset {name}"),
                ],
                old,
                new: id(t),
            })
        })
        .collect()
}

/// The databases the Jobs of `targets` copy (`cnvrgctl.io/copies`).
pub fn copies(targets: &[Target]) -> Vec<Copy> {
    targets
        .iter()
        .filter(|t| t.change.kind == "Job" && !t.external)
        .filter_map(|t| {
            let from = t.body["metadata"]["annotations"][keys::COPIES].as_str()?;
            let ns = t.change.namespace.as_deref().unwrap_or_default();
            let name = from.rsplit('/').next().unwrap_or_default();
            Some(Copy {
                from: from.to_string(),
                by: id(t),
                stops: stop_first(&t.body).map(|(kind, name)| format!("{kind}/{ns}/{name}")),
                retire: vec![format!(
                    "kubectl -n {ns} delete postgresclusters.postgres-operator.crunchydata.com {name}   # once the copy is checked: PGO deletes its claims (the old database and its backups) with it"
                )],
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::engine::diff::Op;

    fn target(kind: &str, name: &str, annotations: serde_json::Value) -> Target {
        let body = json!({"kind": kind, "metadata": {"name": name, "annotations": annotations}});
        super::super::database::test_target(0, Op::Create, body, false)
    }

    #[test]
    fn a_pool_statefulset_is_replaced_by_our_deployment_and_retired_by_hand() {
        let targets = [target("Deployment", "ws-agent-default", json!({}))];
        let found = pools(&targets, &["StatefulSet/ws/ws-agent-default".into()]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].new, "Deployment/ws/ws-agent-default");
        assert_eq!(
            found[0].retire,
            [
                "kubectl -n ws scale statefulset ws-agent-default --replicas=0",
                "kubectl -n ws delete statefulset ws-agent-default"
            ]
        );
        assert!(pools(&targets, &[]).is_empty());
    }

    #[test]
    fn a_copy_names_its_source_its_job_and_the_stopped_server() {
        let job = target(
            "Job",
            "ws-postgres-import",
            json!({keys::COPIES: "PostgresCluster/ws/ws", keys::STOP_FIRST: "Deployment/ws-orion-server"}),
        );
        let found = copies(&[job]);
        assert_eq!(found[0].from, "PostgresCluster/ws/ws");
        assert_eq!(found[0].by, "Job/ws/ws-postgres-import");
        assert_eq!(
            found[0].stops.as_deref(),
            Some("Deployment/ws/ws-orion-server")
        );
        assert!(found[0].retire[0].starts_with(
            "kubectl -n ws delete postgresclusters.postgres-operator.crunchydata.com ws "
        ));
    }
}
