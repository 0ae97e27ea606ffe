//! The plan as a Graphviz DOT graph, for `render --plan -o dot`: one cluster
//! per scope, a box per stage and per workload component (as the tree groups
//! them), an arrow from what is applied first to what waits for it, after the
//! reduction the tree uses ([`Graph`]). Pure text; `dot -Tsvg` draws it.

use std::fmt::Write;

use super::Plan;
use super::graph::{Graph, Node};
use crate::pipeline::manifest::{Manifest, Scope};

/// How the picture looks: attribute lines, written as they are.
const GRAPH_STYLE: &[&str] = &[
    "rankdir=LR",
    "newrank=true",
    "nodesep=0.25",
    "ranksep=0.5",
    "fontname=\"Helvetica\"",
    "node [shape=box, style=\"rounded,filled\", fillcolor=\"white\", color=\"#5a6b7b\", fontname=\"Helvetica\", fontsize=10]",
    "edge [color=\"#5a6b7b\", arrowsize=0.6]",
];
const CLUSTER_STYLE: &str =
    "style=\"rounded,filled\", fillcolor=\"#f3f6f9\", color=\"#9aa8b5\", fontsize=12";
/// A scope drawn only for the nodes the chosen scope waits for.
const OUTSIDE_STYLE: &str = "style=\"rounded,dashed\", color=\"#9aa8b5\", fontsize=12";
const STAGE_STYLE: &str = "fillcolor=\"#e3e8ee\"";

/// The DOT graph of `plan` over `manifests`, for every scope or only `only`.
pub fn print(manifests: &[Manifest], plan: &Plan, only: Option<&Scope>) -> String {
    let graph = Graph::of(manifests, plan, only);
    let mut out = String::from("digraph plan {\n");
    for line in GRAPH_STYLE {
        writeln!(out, "  {line};").expect("writing to a String");
    }
    for cluster in &graph.scopes {
        let style = if cluster.outside {
            OUTSIDE_STYLE
        } else {
            CLUSTER_STYLE
        };
        writeln!(
            out,
            "  subgraph {} {{\n    graph [label={}, {style}];",
            quote(&format!("cluster_{}", cluster.scope)),
            quote(&cluster.title())
        )
        .expect("writing to a String");
        for &n in &cluster.nodes {
            writeln!(out, "    {};", node(&graph.nodes[n])).expect("writing to a String");
        }
        out.push_str("  }\n");
    }
    for &(before, after) in &graph.edges {
        writeln!(
            out,
            "  {} -> {};",
            quote(&graph.nodes[before].id()),
            quote(&graph.nodes[after].id())
        )
        .expect("writing to a String");
    }
    out.push_str("}\n");
    out
}

/// A node statement: its id, its label (the name centred, then the objects
/// left-aligned) and, for a stage, its shade.
fn node(node: &Node) -> String {
    let lines = node.label_lines();
    let mut label = escape(&lines[0]) + "\\n";
    for line in &lines[1..] {
        label.push_str(&escape(line));
        label.push_str("\\l");
    }
    let shade = match node.component {
        Some(_) => String::new(),
        None => format!(", {STAGE_STYLE}"),
    };
    format!("{} [label=\"{label}\"{shade}]", quote(&node.id()))
}

/// A DOT quoted ID: any text, with `"` and `\` escaped.
fn quote(text: &str) -> String {
    format!("\"{}\"", escape(text))
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_of_a_small_spec() {
        let manifests = super::super::graph::tests::small();
        let plan = super::super::build(&manifests).unwrap();
        insta::assert_snapshot!(print(&manifests, &plan, None));
        let team = Scope::Tenant("team-a".into());
        insta::assert_snapshot!(
            "dot_of_one_scope_of_a_small_spec",
            print(&manifests, &plan, Some(&team))
        );
    }

    #[test]
    fn ids_are_quoted_with_quotes_and_backslashes_escaped() {
        assert_eq!(
            quote("tenant.team-a/postgres"),
            "\"tenant.team-a/postgres\""
        );
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
