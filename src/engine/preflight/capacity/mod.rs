//! Capacity: the pods the run adds fit the nodes. From the render, every
//! workload that is new or changed ([`adds`]) with its pod's requests; from
//! the cluster, each node's allocatable minus the requests of the pods bound
//! to it, skipping pods that have finished ([`fit`]). Two failures, each
//! naming the workload and the numbers: a pod that fits no single node it may
//! land on (nodeSelector, required node affinity, taints), and a resource the
//! run adds more of than all open nodes have free ([`judge`]). Reads: nodes
//! and pods cluster-wide, and each rendered workload kind once (cluster-wide
//! when the render uses it in several namespaces, else in its namespace); a
//! refused read skips the check with a warning.

mod adds;
mod amounts;
mod fit;
mod judge;

pub(super) use adds::{pod_view, workload_view};

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::Value;

use amounts::Amounts;
use fit::Node;

use super::{Context, Purpose, Read, Row};
use crate::engine::apply::{prepare, scope_namespaces};
use crate::engine::inventory::ApplySet;
use crate::pipeline::manifest::keys::APPLIED_HASH;
use crate::pipeline::manifest::{Manifest, Scope};

const CHECK: &str = "capacity";

/// How many workload lists are in flight at once.
const LISTS_IN_FLIGHT: usize = 8;

pub(super) async fn check(cx: &Context<'_>) -> Vec<Row> {
    let lists = match workloads(cx).await {
        Ok(lists) => lists,
        Err(row) => return vec![row],
    };
    let live: Vec<&Value> = lists.iter().flat_map(|list| list.iter()).collect();
    let written = written(cx.manifests, &live);
    if written.is_empty() && cx.purpose == Purpose::Run {
        // Nothing to fit: the cluster's pods (most of what preflight would
        // read) are not needed to say so.
        return vec![Row::pass(CHECK, "-", NOTHING_ADDED)];
    }
    let (nodes, pods) = futures::join!(cx.list("v1", "Node", None), cx.list("v1", "Pod", None));
    let nodes = match found(nodes, "nodes") {
        Ok(list) => list,
        Err(row) => return vec![row],
    };
    let pods = match found(pods, "pods") {
        Ok(list) => list,
        Err(row) => return vec![row],
    };
    judge_written(&written, &nodes, &pods)
}

/// The row of a run that writes no workload.
const NOTHING_ADDED: &str = "the run adds no pods (every workload is as applied)";

/// The live workloads of the kinds and namespaces the render uses, as the
/// lists read (shared, not copied): a kind used in several namespaces is
/// listed once cluster-wide (a thousand tenants are one request, not a
/// thousand), else (or when that is refused) namespace by namespace,
/// [`LISTS_IN_FLIGHT`] at once.
async fn workloads(cx: &Context<'_>) -> Result<Vec<Arc<Vec<Value>>>, Row> {
    let mut kinds: BTreeMap<(&str, &str), BTreeSet<Option<&str>>> = BTreeMap::new();
    for m in cx.manifests.iter().filter(|m| adds::makes_pods(m.kind())) {
        kinds
            .entry((m.api_version(), m.kind()))
            .or_default()
            .insert(m.namespace());
    }
    let mut keys = Vec::new();
    let mut live = Vec::new();
    for ((api_version, kind), namespaces) in kinds {
        if namespaces.len() > 1 {
            match cx.list(api_version, kind, None).await {
                Read::Found(list) => {
                    live.push(list);
                    continue;
                }
                Read::NotServed => continue,
                Read::Refused(_) => {}
            }
        }
        keys.extend(namespaces.into_iter().map(|ns| (api_version, kind, ns)));
    }
    let mut lists = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(LISTS_IN_FLIGHT) {
        let reads = chunk
            .iter()
            .map(|(api_version, kind, ns)| cx.list(api_version, kind, *ns));
        lists.extend(futures::future::join_all(reads).await);
    }
    for ((_, kind, ns), list) in keys.iter().zip(lists) {
        let what = format!(
            "{}s in {}",
            kind.to_lowercase(),
            ns.unwrap_or("the cluster")
        );
        live.push(found(list, &what)?);
    }
    Ok(live)
}

/// A list (shared with the other checks, not copied: cluster-wide pods are
/// the largest thing preflight reads), or the row that says it was refused
/// (a kind not served is empty).
fn found(read: Read<Arc<Vec<Value>>>, what: &str) -> Result<Arc<Vec<Value>>, Row> {
    match read {
        Read::Found(list) => Ok(list),
        Read::NotServed => Ok(Arc::default()),
        Read::Refused(reason) => Err(Row::refused(CHECK, what, &reason)),
    }
}

/// The judgement from read-only lists: the rendered objects, the live
/// workloads of the kinds and namespaces they use, the nodes and the pods.
pub fn assess(
    manifests: &[Manifest],
    live: &[&Value],
    nodes: &[Value],
    pods: &[Value],
) -> Vec<Row> {
    judge_written(&written(manifests, live), nodes, pods)
}

/// A rendered workload the run writes: its applied-hash and its live copy.
type Written<'a> = (&'a Manifest, String, Option<&'a Value>);

/// The rendered workloads whose live copy is missing or not as they would
/// be applied (its applied-hash differs).
fn written<'a>(manifests: &'a [Manifest], live: &[&'a Value]) -> Vec<Written<'a>> {
    let live: HashMap<(&str, &str, &str), &Value> = live
        .iter()
        .map(|&o| {
            fn text(v: &Value) -> &str {
                v.as_str().unwrap_or_default()
            }
            let meta = &o["metadata"];
            (
                (
                    text(&o["kind"]),
                    text(&meta["namespace"]),
                    text(&meta["name"]),
                ),
                o,
            )
        })
        .collect();
    let namespaces = scope_namespaces(manifests);
    let mut sets: BTreeMap<&Scope, ApplySet> = BTreeMap::new();
    let mut out = Vec::new();
    for m in manifests.iter().filter(|m| adds::makes_pods(m.kind())) {
        let set = sets.entry(&m.origin.scope).or_insert_with(|| {
            let ns = namespaces.get(&m.origin.scope).copied();
            ApplySet::new(&m.origin.scope, ns.unwrap_or("default"))
        });
        let body = prepare::body(&m.object, set, None);
        let hash = body["metadata"]["annotations"][APPLIED_HASH]
            .as_str()
            .unwrap_or_default();
        let ns = m.namespace().unwrap_or_default();
        let current = live.get(&(m.kind(), ns, m.name())).copied();
        if !adds::as_applied(current, hash) {
            out.push((m, hash.to_string(), current));
        }
    }
    out
}

/// The judgement of the workloads the run writes, on the nodes and pods.
fn judge_written(written: &[Written], nodes: &[Value], pods: &[Value]) -> Vec<Row> {
    let mut by_namespace: HashMap<&str, Vec<&Value>> = HashMap::new();
    for pod in pods {
        let ns = pod["metadata"]["namespace"].as_str().unwrap_or_default();
        by_namespace.entry(ns).or_default().push(pod);
    }
    let workloads: Vec<_> = written
        .iter()
        .filter_map(|(m, hash, current)| {
            let ns = m.namespace().unwrap_or_default();
            let neighbours = by_namespace.get(ns).map(Vec::as_slice).unwrap_or_default();
            adds::workload(m, hash, *current, neighbours)
        })
        .collect();
    judge::judge(&workloads, &nodes_of(nodes, pods))
}

/// The nodes, each with the requests of the pods bound to it (pods that
/// have finished hold nothing).
fn nodes_of(nodes: &[Value], pods: &[Value]) -> Vec<Node> {
    let mut used: HashMap<&str, Amounts> = HashMap::new();
    for pod in pods {
        if let Some(node) = adds::holding(pod) {
            used.entry(node)
                .or_default()
                .add(&amounts::pod_requests(&pod["spec"]));
        }
    }
    let none = Amounts::default();
    nodes
        .iter()
        .map(|n| {
            let name = n["metadata"]["name"].as_str().unwrap_or_default();
            Node::from_object(n, used.get(name).unwrap_or(&none))
        })
        .collect()
}
