//! The plan as a Mermaid flowchart, for `render --plan -o mermaid` (GitHub
//! and most Markdown viewers draw it): the same nodes, clusters and reduced
//! edges as the DOT graph ([`Graph`]), an arrow from what is applied first to
//! what waits for it. Node ids are names made safe for Mermaid; the text is
//! in quoted labels. Pure text.

use std::collections::HashSet;
use std::fmt::Write;

use super::Plan;
use super::graph::Graph;
use crate::pipeline::manifest::{Manifest, Scope};

/// How the stages look, and a scope drawn only for what the chosen one
/// waits for.
const STYLE: &[&str] = &[
    "classDef stage fill:#e3e8ee,stroke:#5a6b7b",
    "classDef component fill:#ffffff,stroke:#5a6b7b",
];
const OUTSIDE_STYLE: &str = "stroke-dasharray: 5 5";

/// The Mermaid flowchart of `plan` over `manifests`, for every scope or only
/// `only`.
pub fn print(manifests: &[Manifest], plan: &Plan, only: Option<&Scope>) -> String {
    let graph = Graph::of(manifests, plan, only);
    let mut ids = Ids::default();
    let node_ids: Vec<String> = graph.nodes.iter().map(|n| ids.make(&n.id())).collect();
    let mut out = String::from("flowchart LR\n");
    let mut outside = Vec::new();
    for cluster in &graph.scopes {
        let id = ids.make(&cluster.scope.to_string());
        writeln!(out, "  subgraph {id}[\"{}\"]", escape(&cluster.title()))
            .expect("writing to a String");
        for &n in &cluster.nodes {
            let label: Vec<String> = graph.nodes[n]
                .label_lines()
                .iter()
                .map(|l| escape(l))
                .collect();
            writeln!(out, "    {}[\"{}\"]", node_ids[n], label.join("<br>"))
                .expect("writing to a String");
        }
        out.push_str("  end\n");
        if cluster.outside {
            outside.push(id);
        }
    }
    for &(before, after) in &graph.edges {
        writeln!(out, "  {} --> {}", node_ids[before], node_ids[after])
            .expect("writing to a String");
    }
    for line in STYLE {
        writeln!(out, "  {line}").expect("writing to a String");
    }
    for (class, stage) in [("stage", true), ("component", false)] {
        let members: Vec<&str> = (0..graph.nodes.len())
            .filter(|&n| graph.nodes[n].component.is_none() == stage)
            .map(|n| node_ids[n].as_str())
            .collect();
        if !members.is_empty() {
            writeln!(out, "  class {} {class}", members.join(",")).expect("writing to a String");
        }
    }
    for id in outside {
        writeln!(out, "  style {id} {OUTSIDE_STYLE}").expect("writing to a String");
    }
    out
}

/// Mermaid ids made from names: letters, digits and `_` only, each once (a
/// clash gets `_2`, `_3`...).
#[derive(Default)]
struct Ids {
    taken: HashSet<String>,
}

impl Ids {
    fn make(&mut self, name: &str) -> String {
        let base: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let mut id = base.clone();
        let mut k = 1;
        while !self.taken.insert(id.clone()) {
            k += 1;
            id = format!("{base}_{k}");
        }
        id
    }
}

/// Label text safe inside `["..."]`: Mermaid's entity codes for the
/// characters its parser would read.
fn escape(text: &str) -> String {
    const CODES: [(char, &str); 4] = [('#', "#35;"), ('"', "#quot;"), ('<', "#lt;"), ('>', "#gt;")];
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match CODES.iter().find(|(k, _)| *k == c) {
            Some((_, code)) => out.push_str(code),
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mermaid_of_a_small_spec() {
        let manifests = super::super::graph::tests::small();
        let plan = super::super::build(&manifests).unwrap();
        insta::assert_snapshot!(print(&manifests, &plan, None));
        let team = Scope::Tenant("team-a".into());
        insta::assert_snapshot!(
            "mermaid_of_one_scope_of_a_small_spec",
            print(&manifests, &plan, Some(&team))
        );
    }

    #[test]
    fn ids_are_safe_and_unique() {
        let mut ids = Ids::default();
        assert_eq!(ids.make("tenant.team-a/postgres"), "tenant_team_a_postgres");
        assert_eq!(
            ids.make("tenant.team-a:postgres"),
            "tenant_team_a_postgres_2"
        );
        assert_eq!(ids.make("infra"), "infra");
    }

    #[test]
    fn labels_use_entity_codes() {
        assert_eq!(escape(r#"a "b" #1 <x>"#), "a #quot;b#quot; #35;1 #lt;x#gt;");
    }
}
