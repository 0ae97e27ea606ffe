//! The plan as a tree, for `render --plan`: per scope, the stages in order,
//! then the workloads as a tree of components (a component under the ones it
//! waits for; one seen before is marked `(*)`, as `cargo tree` does). Pure text.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use super::{Plan, Stage};
use crate::pipeline::manifest::kinds::{Group, kind_group};
use crate::pipeline::manifest::{Manifest, Scope};

/// The tree of `plan` over `manifests`, for every scope or only `only`.
pub fn print(manifests: &[Manifest], plan: &Plan, only: Option<&Scope>) -> String {
    let mut scopes: Vec<&Scope> = Vec::new();
    for m in manifests {
        if only.is_none_or(|s| *s == m.origin.scope) && !scopes.contains(&&m.origin.scope) {
            scopes.push(&m.origin.scope);
        }
    }
    let mut out = String::new();
    for scope in scopes {
        let members: Vec<usize> = (0..manifests.len())
            .filter(|&i| manifests[i].origin.scope == *scope)
            .collect();
        print_scope(&mut out, scope, &members, manifests, plan);
    }
    out
}

fn print_scope(
    out: &mut String,
    scope: &Scope,
    members: &[usize],
    manifests: &[Manifest],
    plan: &Plan,
) {
    let namespace = members.iter().find_map(|&i| manifests[i].namespace());
    match namespace {
        Some(ns) => writeln!(out, "{scope} (namespace {ns})"),
        None => writeln!(out, "{scope}"),
    }
    .expect("writing to a String");

    let mut lines: Vec<(String, Vec<String>)> = Vec::new();
    for stage in [
        Stage::Prerequisites,
        Stage::Crds,
        Stage::Namespaces,
        Stage::Setup,
    ] {
        let objects: Vec<&Manifest> = members
            .iter()
            .filter(|&&i| plan.steps[i].stage == stage)
            .map(|&i| &manifests[i])
            .collect();
        if objects.is_empty() {
            continue;
        }
        let text = if stage == Stage::Setup {
            setup_line(&objects)
        } else {
            summary(&objects)
        };
        lines.push((format!("{}: {text}", stage.title()), Vec::new()));
    }

    let workloads: Vec<usize> = members
        .iter()
        .copied()
        .filter(|&i| plan.steps[i].stage == Stage::Workloads)
        .collect();
    if !workloads.is_empty() {
        lines.push((
            Stage::Workloads.title().to_string(),
            component_tree(&workloads, manifests, plan),
        ));
    }
    let hooks: Vec<&Manifest> = members
        .iter()
        .filter(|&&i| plan.steps[i].stage == Stage::Webhooks)
        .map(|&i| &manifests[i])
        .collect();
    if !hooks.is_empty() {
        lines.push((
            format!("{}: {}", Stage::Webhooks.title(), summary(&hooks)),
            Vec::new(),
        ));
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

/// The setup groups in order, `→` between groups that wait for each other.
fn setup_line(objects: &[&Manifest]) -> String {
    let groups: Vec<String> = Group::SETUP
        .into_iter()
        .filter_map(|group| {
            let in_group: Vec<&Manifest> = objects
                .iter()
                .copied()
                .filter(|m| kind_group(m.kind()) == group)
                .collect();
            (!in_group.is_empty()).then(|| counts(&in_group))
        })
        .collect();
    groups.join(" → ")
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

/// The workload components of one scope as tree lines (without the scope's
/// own prefix).
fn component_tree(workloads: &[usize], manifests: &[Manifest], plan: &Plan) -> Vec<String> {
    let scope = &manifests[workloads[0]].origin.scope;
    // component → its workload objects; component → components it waits for.
    let mut objects: BTreeMap<&str, Vec<&Manifest>> = BTreeMap::new();
    let mut parents: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut outside: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for &i in workloads {
        let m = &manifests[i];
        let c = m.origin.component.as_str();
        objects.entry(c).or_default().push(m);
        parents.entry(c).or_default();
        for dep in &plan.steps[i].depends_on {
            if dep.scope == *scope {
                if dep.component != c {
                    parents
                        .get_mut(c)
                        .expect("inserted above")
                        .insert(dep.component.clone());
                }
            } else {
                outside.entry(c).or_default().insert(dep.to_string());
            }
        }
    }
    let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut roots: Vec<&str> = Vec::new();
    for (c, ps) in &parents {
        let known: Vec<&String> = ps
            .iter()
            .filter(|p| objects.contains_key(p.as_str()))
            .collect();
        // Show a component only under the parents it does not also reach
        // through another parent (webapp waits for migrate, which waits for
        // postgres: webapp appears under migrate, not under postgres too).
        let known: Vec<&String> = known
            .iter()
            .copied()
            .filter(|p| {
                !known
                    .iter()
                    .any(|q| q != p && ancestors(q.as_str(), &parents).contains(p.as_str()))
            })
            .collect();
        if known.is_empty() {
            roots.push(c);
        }
        for p in known {
            let key = objects.get_key_value(p.as_str()).expect("known").0;
            children.entry(key).or_default().push(c);
        }
    }
    let forest = Forest {
        objects,
        children,
        outside,
    };
    let mut lines = Vec::new();
    let mut seen = BTreeSet::new();
    let n = roots.len();
    for (k, root) in roots.into_iter().enumerate() {
        forest.walk(root, "", k + 1 == n, &mut seen, &mut lines);
    }
    lines
}

/// Every component `c` waits for, directly or not.
fn ancestors<'a>(c: &str, parents: &'a BTreeMap<&str, BTreeSet<String>>) -> BTreeSet<&'a str> {
    let mut out = BTreeSet::new();
    let mut todo: Vec<&str> = parents
        .get(c)
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    while let Some(p) = todo.pop() {
        if out.insert(p) {
            todo.extend(parents.get(p).into_iter().flatten().map(String::as_str));
        }
    }
    out
}

/// The component graph of one scope, walked as a tree.
struct Forest<'a> {
    objects: BTreeMap<&'a str, Vec<&'a Manifest>>,
    children: BTreeMap<&'a str, Vec<&'a str>>,
    /// Dependencies outside the scope (`infra/...`), per component.
    outside: BTreeMap<&'a str, BTreeSet<String>>,
}

impl<'a> Forest<'a> {
    fn walk(
        &self,
        component: &'a str,
        prefix: &str,
        last: bool,
        seen: &mut BTreeSet<&'a str>,
        lines: &mut Vec<String>,
    ) {
        let branch = if last { "└── " } else { "├── " };
        let first_time = seen.insert(component);
        let mut line = format!("{prefix}{branch}{component}");
        if !first_time {
            line.push_str(" (*)");
            lines.push(line);
            return;
        }
        write!(line, ": {}", summary(&self.objects[component])).expect("writing to a String");
        if let Some(deps) = self.outside.get(component) {
            let deps: Vec<&str> = deps.iter().map(String::as_str).collect();
            write!(line, " (after {})", deps.join(", ")).expect("writing to a String");
        }
        lines.push(line);
        let kids = self.children.get(component).cloned().unwrap_or_default();
        let deeper = format!("{prefix}{}", if last { "    " } else { "│   " });
        let n = kids.len();
        for (k, kid) in kids.into_iter().enumerate() {
            self.walk(kid, &deeper, k + 1 == n, seen, lines);
        }
    }
}
