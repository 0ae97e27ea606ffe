//! The capacity judgement: each pod the run adds must fit some node it may
//! land on (a DaemonSet's pod, every such node), counting what the node has
//! free plus what the workload's own live pods there free as they are
//! replaced; and per resource, what the run adds must fit the sum of what
//! the open nodes have free. A rolling update adds its surge beside the live
//! pods, or the growth over them when that is larger. Pure.

use super::CHECK;
use super::adds::{Spread, Workload};
use super::amounts::{Amounts, CPU, MEMORY, PODS, order, show};
use super::fit::Node;
use crate::engine::preflight::Row;

/// How many of the largest contributors a total's row names.
const LARGEST: usize = 3;

pub(super) fn judge(workloads: &[Workload], nodes: &[Node]) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut shares: Vec<(&str, Amounts)> = Vec::new();
    for w in workloads {
        let (share, row) = match w.spread {
            Spread::Replicas { replicas, surge } => replicas_share(w, nodes, replicas, surge),
            Spread::Daemon => daemon_share(w, nodes),
        };
        rows.extend(row);
        shares.push((&w.id, share));
    }
    let mut adds = Amounts::default();
    for (_, share) in &shares {
        adds.add(share);
    }
    let mut free = Amounts::default();
    for n in nodes.iter().filter(|n| n.closed.is_none()) {
        free.add(&n.free);
    }
    for (resource, need) in adds.asked() {
        let have = free.get(resource);
        if need > have {
            rows.push(total_row(resource, need, have, &shares));
        }
    }
    if rows.is_empty() {
        rows.push(Row::pass(CHECK, "-", pass_detail(&adds, &free)));
    }
    rows
}

/// Replicas (and the surge) anywhere they fit: the share is the larger of
/// the surge and the growth over the live pods.
fn replicas_share(
    w: &Workload,
    nodes: &[Node],
    replicas: u64,
    surge: u64,
) -> (Amounts, Option<Row>) {
    if replicas == 0 {
        return (Amounts::default(), None);
    }
    let mut old = Amounts::default();
    for pods in w.old.values() {
        old.add(pods);
    }
    let share = w.pod.times(surge).max(&w.pod.times(replicas).minus(&old));
    let reasons: Vec<String> = nodes.iter().filter_map(|n| refusal(w, n)).collect();
    let row = (reasons.len() == nodes.len()).then(|| {
        let reasons = if reasons.is_empty() {
            "the cluster has no nodes".to_owned()
        } else {
            reasons.join(", ")
        };
        fit_row(w, format!("no node can take it: {reasons}"))
    });
    (share, row)
}

/// One pod on every node it may land on, each of which must hold it.
fn daemon_share(w: &Workload, nodes: &[Node]) -> (Amounts, Option<Row>) {
    let mut share = Amounts::default();
    let mut short = Vec::new();
    for n in nodes.iter().filter(|n| n.refuses(&w.pod_spec).is_none()) {
        share.add(
            &w.pod
                .minus(w.old.get(&n.name).unwrap_or(&Amounts::default())),
        );
        short.extend(refusal(w, n));
    }
    let row = (!short.is_empty()).then(|| {
        fit_row(
            w,
            format!(
                "it runs on every node it may land on, and {}",
                short.join(", ")
            ),
        )
    });
    (share, row)
}

/// Why node `n` cannot take one pod of `w` (its placement rules, or the
/// first resource it lacks), or `None` when it can.
fn refusal(w: &Workload, n: &Node) -> Option<String> {
    if let Some(why) = n.refuses(&w.pod_spec) {
        return Some(format!("{} {why}", n.name));
    }
    let mut room = n.free.clone();
    if let Some(old) = w.old.get(&n.name) {
        room.add(old);
    }
    let mut asked: Vec<(&str, u64)> = w.pod.asked().collect();
    asked.sort_by_key(|(name, _)| (order(name), *name));
    let (resource, _) = asked.into_iter().find(|(r, v)| *v > room.get(r))?;
    Some(match room.get(resource) {
        0 => format!("{} has no {resource} free", n.name),
        have => format!("{} has {} {resource} free", n.name, show(resource, have)),
    })
}

fn fit_row(w: &Workload, why: String) -> Row {
    let fix = match &w.sized_by {
        Some(field) => format!(
            "lower the requests in {field}, or add a node that fits (or give the nodes the labels and tolerations the pod needs)"
        ),
        None => format!(
            "lower the requests of {} in the spec, or add a node that fits",
            w.id
        ),
    };
    // Every pod takes one slot: not worth saying of one pod.
    let mut asks = w.pod.clone();
    asks.0.remove(PODS);
    Row::fail(
        CHECK,
        &w.id,
        format!("a pod asks {}; {why}", asks.show()),
        fix,
    )
}

/// One resource the whole run needs more of than the nodes have free.
fn total_row(resource: &str, need: u64, have: u64, shares: &[(&str, Amounts)]) -> Row {
    let mut largest: Vec<(&str, u64)> = shares
        .iter()
        .map(|(id, share)| (*id, share.get(resource)))
        .filter(|(_, v)| *v > 0)
        .collect();
    largest.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let largest: Vec<String> = largest
        .iter()
        .take(LARGEST)
        .map(|(id, v)| format!("{id} {}", show(resource, *v)))
        .collect();
    Row::fail(
        CHECK,
        "-",
        format!(
            "the run adds {resource} {} but the nodes have {} free (largest: {})",
            show(resource, need),
            show(resource, have),
            largest.join(", ")
        ),
        format!(
            "add nodes with more {resource}, or lower the requests (or replicas) of the largest workloads in the spec"
        ),
    )
}

/// `the run adds cpu 3.2, memory 9.5Gi, pods 12; the nodes have cpu 14, ...`
fn pass_detail(adds: &Amounts, free: &Amounts) -> String {
    let shown = |r: &str| r == CPU || r == MEMORY || adds.get(r) > 0;
    let free = Amounts(
        free.0
            .iter()
            .filter(|(r, _)| shown(r))
            .map(|(r, v)| (r.clone(), *v))
            .collect(),
    );
    let adds = if adds.asked().next().is_none() {
        "no pods".to_owned()
    } else {
        adds.show()
    };
    format!("the run adds {adds}; the nodes have {} free", free.show())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::assess;
    use crate::engine::preflight::{Level, Row};
    use crate::pipeline::manifest::keys::APPLIED_HASH;
    use crate::pipeline::manifest::{Manifest, Origin, Scope};

    fn node(name: &str, allocatable: Value, labels: Value, taints: Value) -> Value {
        json!({"kind": "Node", "metadata": {"name": name, "labels": labels}, "spec": {"taints": taints},
               "status": {"allocatable": allocatable, "conditions": [{"type": "Ready", "status": "True"}]}})
    }

    fn small(name: &str, cpu: &str) -> Value {
        node(
            name,
            json!({"cpu": cpu, "memory": "16Gi", "pods": "110"}),
            json!({}),
            json!([]),
        )
    }

    /// A node with 4 GPUs, tainted `gpu=true:NoSchedule`.
    fn gpu_node(name: &str, labels: Value) -> Value {
        node(
            name,
            json!({"cpu": "8", "memory": "32Gi", "pods": "110", "nvidia.com/gpu": "4"}),
            labels,
            json!([{"key": "gpu", "value": "true", "effect": "NoSchedule"}]),
        )
    }

    fn workload(kind: &str, name: &str, replicas: u64, pod: Value) -> Manifest {
        Manifest {
            object: json!({"apiVersion": "apps/v1", "kind": kind,
                "metadata": {"name": name, "namespace": "cnvrg"},
                "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                         "template": {"metadata": {"labels": {"app": name}}, "spec": pod}}}),
            origin: Origin {
                scope: Scope::Tenant("team-a".into()),
                component: name.into(),
                template: format!("cnvrg/{name}.yaml.j2"),
            },
        }
    }

    fn asking(requests: Value) -> Value {
        json!({"containers": [{"name": "c", "resources": {"requests": requests}}]})
    }

    /// A pod bound to `node` with `requests`, as the kubelet runs it.
    fn running(node: &str, app: &str, requests: Value, phase: &str) -> Value {
        let mut spec = asking(requests);
        spec["nodeName"] = json!(node);
        json!({"kind": "Pod", "metadata": {"namespace": "cnvrg", "labels": {"app": app}},
               "spec": spec, "status": {"phase": phase}})
    }

    fn fails(rows: &[Row]) -> Vec<&Row> {
        rows.iter().filter(|r| r.level == Level::Fail).collect()
    }

    #[test]
    fn a_pod_that_fits_no_node_names_each_nodes_reason_and_the_spec_field() {
        let gpu = asking(json!({"cpu": "4", "memory": "8Gi", "nvidia.com/gpu": 1}));
        let nodes = [
            small("node-1", "2"),
            small("node-2", "8"),
            gpu_node("node-3", json!({})),
        ];
        let rows = assess(
            &[workload("Deployment", "webapp", 1, gpu)],
            &[],
            &nodes,
            &[],
        );
        let fails = fails(&rows);
        assert_eq!(fails.len(), 1, "{rows:?}");
        assert_eq!(fails[0].subject, "Deployment/cnvrg/webapp");
        assert_eq!(
            fails[0].detail,
            "a pod asks cpu 4, memory 8Gi, nvidia.com/gpu 1; no node can take it: \
             node-1 has 2 cpu free, node-2 has no nvidia.com/gpu free, node-3 is tainted gpu=true:NoSchedule"
        );
        assert!(
            fails[0]
                .fix
                .as_deref()
                .unwrap()
                .starts_with("lower the requests in spec.tenants[team-a].cnvrg.webapp.resources")
        );
    }

    #[test]
    fn a_tolerated_taint_and_a_matching_selector_let_the_pod_in() {
        let mut gpu = asking(json!({"cpu": "4", "nvidia.com/gpu": 1}));
        gpu["tolerations"] = json!([{"key": "gpu", "operator": "Exists"}]);
        gpu["nodeSelector"] = json!({"pool": "gpu"});
        let nodes = [
            small("node-1", "8"),
            gpu_node("node-2", json!({"pool": "gpu"})),
        ];
        let rows = assess(
            &[workload("Deployment", "webapp", 1, gpu)],
            &[],
            &nodes,
            &[],
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].level, Level::Pass);
        assert_eq!(
            rows[0].detail,
            "the run adds cpu 4, nvidia.com/gpu 1, pods 1; the nodes have cpu 16, memory 48Gi, nvidia.com/gpu 4, pods 220 free"
        );
    }

    #[test]
    fn a_total_that_does_not_fit_names_the_numbers_and_the_largest_workloads() {
        let nodes = [small("node-1", "4"), small("node-2", "4")];
        let manifests = [
            workload("Deployment", "webapp", 3, asking(json!({"cpu": "2"}))),
            workload(
                "StatefulSet",
                "postgres",
                1,
                asking(json!({"cpu": "2500m"})),
            ),
        ];
        // The nodes are cordoned or busy beyond what is counted: a third,
        // cordoned node adds nothing.
        let mut cordoned = small("node-3", "64");
        cordoned["spec"]["unschedulable"] = json!(true);
        let busy = running("node-1", "other", json!({"cpu": "1"}), "Running");
        let rows = assess(
            &manifests,
            &[],
            &[&nodes[..], &[cordoned]].concat(),
            &[busy],
        );
        let fails = fails(&rows);
        assert_eq!(fails.len(), 1, "{rows:?}");
        assert_eq!(fails[0].subject, "-");
        assert_eq!(
            fails[0].detail,
            "the run adds cpu 8.5 but the nodes have 7 free (largest: Deployment/cnvrg/webapp 6, StatefulSet/cnvrg/postgres 2.5)"
        );
    }

    #[test]
    fn completed_pods_hold_nothing() {
        let nodes = [small("node-1", "2")];
        let done = running("node-1", "job", json!({"cpu": "2"}), "Succeeded");
        let failed = running("node-1", "job", json!({"cpu": "2"}), "Failed");
        let unbound = json!({"kind": "Pod", "metadata": {"namespace": "x"}, "spec": asking(json!({"cpu": "2"}))});
        let rows = assess(
            &[workload(
                "Deployment",
                "webapp",
                1,
                asking(json!({"cpu": "2"})),
            )],
            &[],
            &nodes,
            &[done, failed, unbound],
        );
        assert_eq!(rows[0].level, Level::Pass, "{rows:?}");
    }

    #[test]
    fn a_rolling_update_adds_its_surge_beside_the_live_pods() {
        let pod = asking(json!({"cpu": "500m"}));
        let rendered = workload("Deployment", "webapp", 4, pod.clone());
        let mut live = rendered.object.clone();
        live["metadata"]["annotations"] = json!({APPLIED_HASH: "older"});
        let old: Vec<Value> = (0..4)
            .map(|_| running("node-1", "webapp", json!({"cpu": "500m"}), "Running"))
            .collect();
        // 4 cpu, 2 of them taken by the live pods: the surge (1 pod) fits.
        let nodes = [small("node-1", "4")];
        let rows = assess(std::slice::from_ref(&rendered), &[&live], &nodes, &old);
        assert_eq!(rows[0].level, Level::Pass, "{rows:?}");
        assert!(
            rows[0].detail.starts_with("the run adds cpu 0.5, pods 1;"),
            "{}",
            rows[0].detail
        );
        // Recreate replaces them: nothing beyond the live pods.
        let mut recreate = rendered.clone();
        recreate.object["spec"]["strategy"] = json!({"type": "Recreate"});
        let rows = assess(&[recreate], &[&live], &nodes, &old);
        assert!(
            rows[0].detail.starts_with("the run adds no pods;"),
            "{}",
            rows[0].detail
        );
        // With 2.2 cpu, the live pods leave 0.2 free: the surge does not fit.
        let rows = assess(&[rendered], &[&live], &[small("node-1", "2200m")], &old);
        assert_eq!(
            fails(&rows)[0].detail,
            "the run adds cpu 0.5 but the nodes have 0.2 free (largest: Deployment/cnvrg/webapp 0.5)"
        );
    }

    #[test]
    fn an_unchanged_workload_adds_nothing() {
        let rendered = workload("StatefulSet", "postgres", 1, asking(json!({"cpu": "64"})));
        let live = {
            let set = crate::engine::inventory::ApplySet::new(&rendered.origin.scope, "cnvrg");
            crate::engine::apply::prepare::body(&rendered.object, &set, None)
        };
        let rows = assess(&[rendered], &[&live], &[small("node-1", "1")], &[]);
        assert_eq!(rows[0].level, Level::Pass, "{rows:?}");
    }

    #[test]
    fn a_daemonset_counts_once_per_eligible_node_and_must_fit_each() {
        let nodes = [
            small("node-1", "4"),
            small("node-2", "4"),
            node(
                "node-3",
                json!({"cpu": "4", "memory": "16Gi", "pods": "110"}),
                json!({}),
                json!([{"key": "dedicated", "value": "db", "effect": "NoExecute"}]),
            ),
        ];
        let ds = workload(
            "DaemonSet",
            "fluent-bit",
            0,
            asking(json!({"cpu": "1", "memory": "1Gi"})),
        );
        let rows = assess(std::slice::from_ref(&ds), &[], &nodes, &[]);
        assert_eq!(
            rows[0].detail,
            "the run adds cpu 2, memory 2Gi, pods 2; the nodes have cpu 12, memory 48Gi, pods 330 free"
        );
        let busy = running("node-2", "other", json!({"cpu": "3500m"}), "Running");
        let rows = assess(&[ds], &[], &nodes, &[busy]);
        let fails = fails(&rows);
        assert_eq!(fails.len(), 1, "{rows:?}");
        assert_eq!(
            fails[0].detail,
            "a pod asks cpu 1, memory 1Gi; it runs on every node it may land on, and node-2 has 0.5 cpu free"
        );
    }

    #[test]
    fn init_containers_size_the_pod() {
        let mut pod = asking(json!({"cpu": "100m"}));
        pod["initContainers"] =
            json!([{"name": "migrate", "resources": {"requests": {"cpu": "3"}}}]);
        let rows = assess(
            &[workload("Deployment", "webapp", 1, pod)],
            &[],
            &[small("node-1", "2")],
            &[],
        );
        assert!(
            fails(&rows)[0]
                .detail
                .starts_with("a pod asks cpu 3; no node can take it: node-1 has 2 cpu free")
        );
    }
}
