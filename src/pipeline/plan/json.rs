//! The plan as JSON, for `render --plan -o json`: the same nodes and reduced
//! edges the tree and the pictures draw ([`Graph`]), for tools that draw or
//! check it themselves. Pure.

use serde_json::{Value, json};

use super::Plan;
use super::graph::Graph;
use crate::pipeline::manifest::{Manifest, Scope};

/// `{"scopes": [...], "nodes": [...], "edges": [...]}` of `plan` over
/// `manifests`, for every scope or only `only` (plus what it waits for).
pub fn print(manifests: &[Manifest], plan: &Plan, only: Option<&Scope>) -> String {
    let graph = Graph::of(manifests, plan, only);
    let id = |n: usize| graph.nodes[n].id();
    let scopes: Vec<Value> = graph
        .scopes
        .iter()
        .map(|c| {
            json!({
                "scope": c.scope.to_string(),
                "namespace": c.namespace,
                "outside": c.outside,
                "nodes": c.nodes.iter().map(|&n| id(n)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let nodes: Vec<Value> = graph
        .nodes
        .iter()
        .map(|n| {
            json!({
                "id": n.id(),
                "scope": n.scope.to_string(),
                "stage": n.stage_name(),
                "component": n.component,
                "objects": n.objects.iter().map(|m| m.id()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let edges: Vec<Value> = graph
        .edges
        .iter()
        .map(|&(before, after)| json!({"from": id(before), "to": id(after)}))
        .collect();
    let mut text = serde_json::to_string_pretty(&json!({
        "scopes": scopes,
        "nodes": nodes,
        "edges": edges,
    }))
    .expect("JSON values always serialize");
    text.push('\n');
    text
}
