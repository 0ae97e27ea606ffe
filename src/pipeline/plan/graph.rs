//! The plan at the size a person reads it, shared by the tree, DOT and
//! Mermaid: per scope, one node per stage (the setup kinds together, the
//! workloads one node per component), and the edges between nodes after a
//! transitive reduction (an edge that a longer path already implies is left
//! out, so webapp hangs under migrate, not also under postgres). The one
//! reduction all three pictures use. Pure: values in, values out.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{Dependency, Plan, Stage};
use crate::pipeline::manifest::kinds::{Group, kind_group};
use crate::pipeline::manifest::{Manifest, Scope};

/// The plan as nodes and reduced edges, for every scope or one.
#[derive(Debug)]
pub struct Graph<'a> {
    /// The scopes drawn, in manifest order.
    pub scopes: Vec<Cluster<'a>>,
    pub nodes: Vec<Node<'a>>,
    /// `(before, after)`: node `after` waits for node `before`. Reduced,
    /// sorted, each pair once.
    pub edges: Vec<(usize, usize)>,
    /// Per node, the nodes it waits for (the edges, read backwards).
    before: Vec<Vec<usize>>,
}

/// One scope: its namespace and its nodes (indices into [`Graph::nodes`]).
#[derive(Debug)]
pub struct Cluster<'a> {
    pub scope: &'a Scope,
    pub namespace: Option<&'a str>,
    /// Only drawn because a node of the chosen scope waits for these nodes.
    pub outside: bool,
    pub nodes: Vec<usize>,
}

impl Cluster<'_> {
    /// `tenant.team-a (namespace cnvrg-team-a)`, or the scope alone.
    pub fn title(&self) -> String {
        match self.namespace {
            Some(ns) => format!("{} (namespace {ns})", self.scope),
            None => self.scope.to_string(),
        }
    }
}

/// A stage of one scope, or one workload component.
#[derive(Debug)]
pub struct Node<'a> {
    pub scope: &'a Scope,
    pub stage: Stage,
    /// The component, for a node of the workloads stage.
    pub component: Option<&'a str>,
    pub objects: Vec<&'a Manifest>,
}

/// The short names of the stages in a picture.
const STAGE_NAMES: [(Stage, &str); 6] = [
    (Stage::Prerequisites, "prerequisites"),
    (Stage::Crds, "CRDs"),
    (Stage::Namespaces, "namespaces"),
    (Stage::Setup, "setup"),
    (Stage::Workloads, "workloads"),
    (Stage::Webhooks, "webhooks"),
];

/// Longest line of a node's label in a picture, before it wraps.
const LABEL_WIDTH: usize = 44;

impl Node<'_> {
    /// The component's name, or the stage's short name.
    pub fn name(&self) -> &str {
        self.component.unwrap_or_else(|| self.stage_name())
    }

    /// The short name of the node's stage (`CRDs`, `workloads`...).
    pub fn stage_name(&self) -> &'static str {
        STAGE_NAMES
            .iter()
            .find(|(s, _)| *s == self.stage)
            .map(|(_, name)| *name)
            .expect("every stage is named")
    }

    /// What the node holds: the setup groups in order (each waits for the
    /// one before), otherwise one [`summary`].
    pub fn parts(&self) -> Vec<String> {
        if self.stage != Stage::Setup {
            return vec![summary(&self.objects)];
        }
        Group::SETUP
            .into_iter()
            .filter_map(|group| {
                let in_group: Vec<&Manifest> = self
                    .objects
                    .iter()
                    .copied()
                    .filter(|m| kind_group(m.kind()) == group)
                    .collect();
                (!in_group.is_empty()).then(|| counts(&in_group))
            })
            .collect()
    }

    /// The label of a picture's box: the name, then the parts wrapped to
    /// [`LABEL_WIDTH`], a later setup group marked `→`.
    pub fn label_lines(&self) -> Vec<String> {
        let mut lines = vec![self.name().to_string()];
        for (k, part) in self.parts().into_iter().enumerate() {
            let part = if k == 0 { part } else { format!("→ {part}") };
            lines.extend(wrap(&part, LABEL_WIDTH));
        }
        lines
    }

    /// The node's stable identifier: `SCOPE/COMPONENT` for a component,
    /// `SCOPE:stage` for a stage (a scope's name holds neither `/` nor `:`,
    /// so the two kinds never meet).
    pub fn id(&self) -> String {
        match self.component {
            Some(c) => format!("{}/{c}", self.scope),
            None => format!("{}:{}", self.scope, self.name()),
        }
    }

    /// The node as a [`Dependency`] for a reader of another scope
    /// (`infra/prometheus-operator`), when it is a component.
    pub fn dependency(&self) -> Option<Dependency> {
        self.component.map(|c| Dependency {
            scope: self.scope.clone(),
            component: c.to_string(),
        })
    }
}

impl<'a> Graph<'a> {
    /// The graph of `plan` over `manifests`, for every scope or only `only`
    /// (with the nodes of other scopes it waits for).
    pub fn of(manifests: &'a [Manifest], plan: &Plan, only: Option<&Scope>) -> Self {
        let (nodes, node_of) = nodes(manifests, plan);
        let mut edges = BTreeSet::new();
        for (i, step) in plan.steps.iter().enumerate() {
            for &j in &step.after {
                if node_of[j] != node_of[i] {
                    edges.insert((node_of[j], node_of[i]));
                }
            }
        }
        let edges = reduce(nodes.len(), &edges);
        let drawn: BTreeSet<usize> = match only {
            None => (0..nodes.len()).collect(),
            Some(scope) => {
                let mine = |n: usize| nodes[n].scope == scope;
                let waited_for = edges.iter().filter(|e| mine(e.1)).map(|e| e.0);
                (0..nodes.len())
                    .filter(|&n| mine(n))
                    .chain(waited_for)
                    .collect()
            }
        };
        let mut namespaces: HashMap<&Scope, &str> = HashMap::new();
        for m in manifests {
            if let Some(ns) = m.namespace() {
                namespaces.entry(&m.origin.scope).or_insert(ns);
            }
        }
        let mut graph = Self::keep(nodes, &edges, &drawn);
        for cluster in &mut graph.scopes {
            cluster.namespace = namespaces.get(cluster.scope).copied();
            cluster.outside = only.is_some_and(|s| s != cluster.scope);
        }
        graph
    }

    /// The graph of the nodes in `drawn` and the edges between them,
    /// renumbered, grouped by scope.
    fn keep(nodes: Vec<Node<'a>>, edges: &[(usize, usize)], drawn: &BTreeSet<usize>) -> Self {
        let renumber: HashMap<usize, usize> = drawn
            .iter()
            .enumerate()
            .map(|(new, &old)| (old, new))
            .collect();
        let edges: Vec<(usize, usize)> = edges
            .iter()
            .filter_map(|(b, a)| Some((*renumber.get(b)?, *renumber.get(a)?)))
            .collect();
        let nodes: Vec<Node<'a>> = nodes
            .into_iter()
            .enumerate()
            .filter(|(n, _)| drawn.contains(n))
            .map(|(_, node)| node)
            .collect();
        // The nodes come grouped by scope.
        let mut scopes: Vec<Cluster<'a>> = Vec::new();
        for (n, node) in nodes.iter().enumerate() {
            match scopes.last_mut() {
                Some(cluster) if cluster.scope == node.scope => cluster.nodes.push(n),
                _ => scopes.push(Cluster {
                    scope: node.scope,
                    namespace: None,
                    outside: false,
                    nodes: vec![n],
                }),
            }
        }
        let mut before = vec![Vec::new(); nodes.len()];
        for &(b, a) in &edges {
            before[a].push(b);
        }
        Graph {
            scopes,
            nodes,
            edges,
            before,
        }
    }

    /// The nodes `node` waits for directly (after the reduction), in order.
    pub fn before(&self, node: usize) -> &[usize] {
        &self.before[node]
    }
}

/// The nodes, ordered by scope (first seen), stage and component name, and
/// the node of each manifest.
fn nodes<'a>(manifests: &'a [Manifest], plan: &Plan) -> (Vec<Node<'a>>, Vec<usize>) {
    let mut scope_order: Vec<&Scope> = Vec::new();
    let mut position: HashMap<&Scope, usize> = HashMap::new();
    for m in manifests {
        position.entry(&m.origin.scope).or_insert_with(|| {
            scope_order.push(&m.origin.scope);
            scope_order.len() - 1
        });
    }
    let key = |i: usize| {
        let m = &manifests[i];
        let stage = plan.steps[i].stage;
        let component = (stage == Stage::Workloads).then_some(m.origin.component.as_str());
        (position[&m.origin.scope], stage, component)
    };
    let mut grouped: BTreeMap<(usize, Stage, Option<&str>), Vec<usize>> = BTreeMap::new();
    for i in 0..manifests.len() {
        grouped.entry(key(i)).or_default().push(i);
    }
    let mut node_of = vec![0; manifests.len()];
    let nodes = grouped
        .into_iter()
        .enumerate()
        .map(|(n, ((scope, stage, component), members))| {
            members.iter().for_each(|&i| node_of[i] = n);
            Node {
                scope: scope_order[scope],
                stage,
                component,
                objects: members.iter().map(|&i| &manifests[i]).collect(),
            }
        })
        .collect();
    (nodes, node_of)
}

/// The edges no longer path implies: `(b, a)` goes when `a` also waits for
/// some `q` that waits for `b`. Nodes on a cycle (which objects that do not
/// wait in a circle can still form) keep their edges to each other.
fn reduce(n: usize, edges: &BTreeSet<(usize, usize)>) -> Vec<(usize, usize)> {
    let mut before: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(b, a) in edges {
        before[a].push(b);
    }
    let ancestors: Vec<BTreeSet<usize>> = (0..n).map(|v| ancestors(v, &before)).collect();
    let implied = |b: usize, a: usize| {
        before[a]
            .iter()
            .any(|&q| q != b && ancestors[q].contains(&b) && !ancestors[b].contains(&q))
    };
    edges
        .iter()
        .copied()
        .filter(|&(b, a)| !implied(b, a))
        .collect()
}

/// Every node `v` waits for, directly or not.
fn ancestors(v: usize, before: &[Vec<usize>]) -> BTreeSet<usize> {
    let mut out = BTreeSet::new();
    let mut todo = before[v].clone();
    while let Some(p) = todo.pop() {
        if out.insert(p) {
            todo.extend(&before[p]);
        }
    }
    out
}

/// `Kind/name` for up to three objects, counts per kind beyond that.
fn summary(objects: &[&Manifest]) -> String {
    if objects.len() <= 3 {
        objects
            .iter()
            .map(|m| format!("{}/{}", m.kind(), m.name()))
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        counts(objects)
    }
}

/// `Kind ×N` per kind, in first-seen order.
fn counts(objects: &[&Manifest]) -> String {
    let mut order: Vec<&str> = Vec::new();
    let mut n: BTreeMap<&str, usize> = BTreeMap::new();
    for m in objects {
        if !order.contains(&m.kind()) {
            order.push(m.kind());
        }
        *n.entry(m.kind()).or_default() += 1;
    }
    order
        .iter()
        .map(|k| format!("{k} ×{}", n[k]))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `text` in lines of at most `width` characters, broken after `, `
/// (a single item longer than `width` keeps its own line).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for item in text.split(", ") {
        if !line.is_empty() && line.chars().count() + 2 + item.chars().count() > width {
            lines.push(std::mem::take(&mut line) + ",");
        } else if !line.is_empty() {
            line.push_str(", ");
        }
        line.push_str(item);
    }
    lines.push(line);
    lines
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::pipeline::manifest::{Origin, keys};
    use serde_json::json;

    /// One object of `scope` (`None`: infra) and `component`, waiting for
    /// the components in `depends_on`.
    fn object(
        scope: Option<&str>,
        kind: &str,
        name: &str,
        component: &str,
        depends_on: &str,
    ) -> Manifest {
        let namespace = scope.unwrap_or("cnvrg-infra");
        let api = if kind == "Widget" {
            "example.com/v1"
        } else {
            "apps/v1"
        };
        let mut object = json!({"apiVersion": api, "kind": kind,
            "metadata": {"name": name, "namespace": namespace}});
        if !depends_on.is_empty() {
            object["metadata"]["annotations"] = json!({ keys::DEPENDS_ON: depends_on });
        }
        Manifest {
            object,
            origin: Origin {
                scope: scope.map_or(Scope::Infra, |s| Scope::Tenant(s.into())),
                component: component.into(),
                template: format!("{component}.yaml.j2"),
            },
        }
    }

    /// A small spec's objects: an infra operator, its CRD and an exporter; a tenant
    /// whose app (two Deployments) waits for its database and the operator.
    pub(in crate::pipeline::plan) fn small() -> Vec<Manifest> {
        let mut crd = object(
            None,
            "CustomResourceDefinition",
            "widgets.example.com",
            "crds",
            "",
        );
        crd.object["apiVersion"] = json!("apiextensions.k8s.io/v1");
        crd.object["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("namespace");
        crd.object["spec"] = json!({"group": "example.com", "names": {"kind": "Widget"}});
        let mut namespace = object(None, "Namespace", "team-a", "namespace", "");
        namespace.object["apiVersion"] = json!("v1");
        namespace.object["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("namespace");
        namespace.origin.scope = Scope::Tenant("team-a".into());
        let both = "db.v2, infra/widget-operator";
        vec![
            crd,
            object(None, "Deployment", "widget-operator", "widget-operator", ""),
            object(None, "DaemonSet", "node-exporter", "node-exporter", ""),
            namespace,
            object(Some("team-a"), "StatefulSet", "db", "db.v2", ""),
            object(Some("team-a"), "Deployment", "app", "app", both),
            object(Some("team-a"), "Deployment", "app-worker", "app", both),
            object(
                Some("team-a"),
                "Widget",
                "w",
                "widgets",
                "infra/widget-operator",
            ),
        ]
    }

    #[test]
    fn an_edge_across_scopes_is_drawn_once() {
        let manifests = small();
        let plan = super::super::build(&manifests).unwrap();
        let graph = Graph::of(&manifests, &plan, None);
        let ids: Vec<(String, String)> = graph
            .edges
            .iter()
            .map(|&(b, a)| (graph.nodes[b].id(), graph.nodes[a].id()))
            .collect();
        let across = (
            "infra/widget-operator".to_string(),
            "tenant.team-a/app".to_string(),
        );
        assert_eq!(ids.iter().filter(|e| **e == across).count(), 1, "{ids:?}");
        // The app waits for the operator and its database, nothing implied.
        let app = graph
            .nodes
            .iter()
            .position(|n| n.id() == "tenant.team-a/app")
            .unwrap();
        let before: Vec<String> = graph
            .before(app)
            .iter()
            .map(|&b| graph.nodes[b].id())
            .collect();
        assert_eq!(before, ["infra/widget-operator", "tenant.team-a/db.v2"]);
    }

    #[test]
    fn one_scope_brings_the_nodes_it_waits_for() {
        let manifests = small();
        let plan = super::super::build(&manifests).unwrap();
        let graph = Graph::of(&manifests, &plan, Some(&Scope::Tenant("team-a".into())));
        let outside: Vec<String> = graph
            .scopes
            .iter()
            .filter(|c| c.outside)
            .flat_map(|c| c.nodes.iter().map(|&n| graph.nodes[n].id()))
            .collect();
        assert_eq!(outside, ["infra:CRDs", "infra/widget-operator"]);
    }

    #[test]
    fn an_edge_a_longer_path_implies_is_left_out() {
        // 0 ← 1 ← 2, and 2 also waits for 0 directly.
        let edges = BTreeSet::from([(0, 1), (1, 2), (0, 2)]);
        assert_eq!(reduce(3, &edges), [(0, 1), (1, 2)]);
    }

    #[test]
    fn a_cycle_keeps_its_edges() {
        let edges = BTreeSet::from([(0, 1), (1, 0), (0, 2), (1, 2)]);
        assert_eq!(reduce(3, &edges), [(0, 1), (0, 2), (1, 0), (1, 2)]);
    }

    #[test]
    fn labels_wrap_after_commas() {
        assert_eq!(
            wrap("NetworkPolicy ×12, ServiceAccount ×8, Secret ×1", 30),
            ["NetworkPolicy ×12,", "ServiceAccount ×8, Secret ×1"]
        );
        assert_eq!(wrap("Deployment/app", 5), ["Deployment/app"]);
    }
}
