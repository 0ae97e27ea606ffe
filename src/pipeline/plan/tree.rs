//! The plan as a tree, for `render --plan`: per scope, the stages in order,
//! then the workloads as a tree of components (a component under the ones it
//! waits for; one seen before is marked `(*)`, as `cargo tree` does). It
//! draws the reduced [`Graph`] the pictures draw too. Pure text.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use super::graph::{Cluster, Graph};
use super::{Plan, Stage};
use crate::pipeline::manifest::{Manifest, Scope};

/// The tree of `plan` over `manifests`, for every scope or only `only`.
pub fn print(manifests: &[Manifest], plan: &Plan, only: Option<&Scope>) -> String {
    let graph = Graph::of(manifests, plan, only);
    let mut out = String::new();
    for cluster in graph.scopes.iter().filter(|c| !c.outside) {
        print_scope(&mut out, &graph, cluster);
    }
    out
}

fn print_scope(out: &mut String, graph: &Graph, cluster: &Cluster) {
    writeln!(out, "{}", cluster.title()).expect("writing to a String");

    let mut lines: Vec<(String, Vec<String>)> = Vec::new();
    let mut workloads = Vec::new();
    for &n in &cluster.nodes {
        let node = &graph.nodes[n];
        match node.stage {
            Stage::Workloads => workloads.push(n),
            stage => lines.push((
                format!("{}: {}", stage.title(), node.parts().join(" → ")),
                Vec::new(),
            )),
        }
    }
    if !workloads.is_empty() {
        // The workloads come after the setup and before the webhooks.
        let at = lines.len()
            - usize::from(
                cluster
                    .nodes
                    .iter()
                    .any(|&n| graph.nodes[n].stage == Stage::Webhooks),
            );
        lines.insert(
            at,
            (
                Stage::Workloads.title().to_string(),
                component_tree(graph, &workloads),
            ),
        );
    }

    let n = lines.len();
    for (k, (head, children)) in lines.into_iter().enumerate() {
        let last = k + 1 == n;
        out.push_str(if last { "└── " } else { "├── " });
        out.push_str(&head);
        out.push('\n');
        for child in children {
            out.push_str(if last { "    " } else { "│   " });
            out.push_str(&child);
            out.push('\n');
        }
    }
}

/// The workload components of one scope (`workloads`, nodes of `graph`) as
/// tree lines, without the scope's own prefix: each under the components of
/// its scope it waits for after the reduction.
fn component_tree(graph: &Graph, workloads: &[usize]) -> Vec<String> {
    let mut children: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let mut roots = Vec::new();
    for &c in workloads {
        let parents: Vec<usize> = graph
            .before(c)
            .iter()
            .copied()
            .filter(|p| workloads.contains(p))
            .collect();
        if parents.is_empty() {
            roots.push(c);
        }
        for p in parents {
            children.entry(p).or_default().push(c);
        }
    }
    let forest = Forest { graph, children };
    let mut lines = Vec::new();
    let mut seen = BTreeSet::new();
    let n = roots.len();
    for (k, root) in roots.into_iter().enumerate() {
        forest.walk(root, "", k + 1 == n, &mut seen, &mut lines);
    }
    lines
}

/// The component graph of one scope, walked as a tree.
struct Forest<'g, 'a> {
    graph: &'g Graph<'a>,
    children: BTreeMap<usize, Vec<usize>>,
}

impl Forest<'_, '_> {
    fn walk(
        &self,
        node: usize,
        prefix: &str,
        last: bool,
        seen: &mut BTreeSet<usize>,
        lines: &mut Vec<String>,
    ) {
        let branch = if last { "└── " } else { "├── " };
        let component = &self.graph.nodes[node];
        let mut line = format!("{prefix}{branch}{}", component.name());
        if !seen.insert(node) {
            line.push_str(" (*)");
            lines.push(line);
            return;
        }
        write!(line, ": {}", component.parts().join(" → ")).expect("writing to a String");
        // Components of other scopes it waits for (`infra/...`).
        let outside: BTreeSet<String> = self
            .graph
            .before(node)
            .iter()
            .filter(|&&p| self.graph.nodes[p].scope != component.scope)
            .filter_map(|&p| self.graph.nodes[p].dependency())
            .map(|d| d.to_string())
            .collect();
        if !outside.is_empty() {
            let deps: Vec<&str> = outside.iter().map(String::as_str).collect();
            write!(line, " (after {})", deps.join(", ")).expect("writing to a String");
        }
        lines.push(line);
        let kids = self.children.get(&node).cloned().unwrap_or_default();
        let deeper = format!("{prefix}{}", if last { "    " } else { "│   " });
        let n = kids.len();
        for (k, kid) in kids.into_iter().enumerate() {
            self.walk(kid, &deeper, k + 1 == n, seen, lines);
        }
    }
}
