//! The plan stage: rendered objects → the dependency graph the executor walks
//! (DESIGN §5). An object may start only when everything it waits for is
//! applied and ready. The graph comes from one table and one annotation: the
//! kind table ([`crate::pipeline::manifest::kinds`]), which gives each kind its stage
//! ([`stage_of`]) and the setup kinds their order inside a scope, and the
//! components a workload names in `cnvrgctl.io/depends-on`. Pure: it never talks to a cluster. For
//! `render --plan`, `graph` groups it into stage and component nodes and
//! reduces the edges; `tree`, `dot` and `mermaid` draw that.

mod dot;
mod graph;
mod json;
mod mermaid;
mod tree;

use std::collections::HashMap;
use std::fmt;

use crate::pipeline::manifest::kinds::{Group, kind_group};
use crate::pipeline::manifest::{Manifest, Scope, keys};

pub use crate::pipeline::manifest::kinds::Stage;

pub use dot::print as print_dot;
pub use json::print as print_json;
pub use mermaid::print as print_mermaid;
pub use tree::print;

/// The stage of a kind (a lookup in the one kind table,
/// [`crate::pipeline::manifest::kinds`]).
pub fn stage_of(kind: &str) -> Stage {
    kind_group(kind).stage()
}

/// The position of a setup kind's group in [`Group::SETUP`].
fn setup_group(kind: &str) -> Option<usize> {
    kind_group(kind).setup_index()
}

/// One object of the plan: the index of its manifest and what it waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub stage: Stage,
    /// Indices (into the manifests and `Plan::steps`) of the objects this one
    /// waits for, sorted, direct edges only.
    pub after: Vec<usize>,
    /// The components named in `cnvrgctl.io/depends-on`, as written.
    pub depends_on: Vec<Dependency>,
}

/// A component named in `cnvrgctl.io/depends-on`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Dependency {
    pub scope: Scope,
    pub component: String,
}

impl fmt::Display for Dependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scope {
            Scope::Infra => write!(f, "infra/{}", self.component),
            Scope::Tenant(_) => f.write_str(&self.component),
        }
    }
}

/// The dependency graph, one step per manifest, in manifest order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<Step>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// `cnvrgctl.io/depends-on` names a component that renders nothing there.
    #[error(
        "{object} (template {template}) depends on `{dependency}`, but no object of that component is rendered{hint}"
    )]
    UnknownDependency {
        object: String,
        template: String,
        dependency: String,
        hint: String,
    },
    /// The objects wait for each other in a circle.
    #[error("dependency cycle (each object waits for the next): {}", .0.join(" → "))]
    Cycle(Vec<String>),
}

/// Builds the plan of `manifests` (in render order).
pub fn build(manifests: &[Manifest]) -> Result<Plan, PlanError> {
    let stages: Vec<Stage> = manifests.iter().map(|m| stage_of(m.kind())).collect();
    let index = Index::of(manifests, &stages);
    let steps = manifests
        .iter()
        .enumerate()
        .map(|(i, m)| index.step(i, m, stages[i]))
        .collect::<Result<Vec<Step>, PlanError>>()?;
    let plan = Plan { steps };
    if let Some(cycle) = find_cycle(&plan) {
        return Err(PlanError::Cycle(
            cycle.into_iter().map(|i| manifests[i].id()).collect(),
        ));
    }
    Ok(plan)
}

/// Where the objects others wait for are, by manifest index.
struct Index<'a> {
    prerequisites: Vec<usize>,
    namespaces: HashMap<&'a str, usize>,
    /// CRDs by the `(group, kind)` they define.
    crds: HashMap<(String, String), usize>,
    components: HashMap<(&'a Scope, &'a str), Vec<usize>>,
    /// ServiceAccounts by (namespace, name): a token Secret waits for its own.
    accounts: HashMap<(&'a str, &'a str), usize>,
    /// Per scope, the objects of each setup group (for the barrier edges).
    setup: HashMap<&'a Scope, Vec<Vec<usize>>>,
    workloads: HashMap<&'a Scope, Vec<usize>>,
}

impl<'a> Index<'a> {
    fn of(manifests: &'a [Manifest], stages: &[Stage]) -> Self {
        let mut index = Index {
            prerequisites: (0..stages.len())
                .filter(|&i| stages[i] == Stage::Prerequisites)
                .collect(),
            namespaces: HashMap::new(),
            crds: HashMap::new(),
            components: HashMap::new(),
            accounts: HashMap::new(),
            setup: HashMap::new(),
            workloads: HashMap::new(),
        };
        for (i, m) in manifests.iter().enumerate() {
            match m.kind() {
                "Namespace" => {
                    index.namespaces.insert(m.name(), i);
                }
                "ServiceAccount" => {
                    index
                        .accounts
                        .insert((m.namespace().unwrap_or_default(), m.name()), i);
                }
                "CustomResourceDefinition" => {
                    let group = m.object["spec"]["group"].as_str().unwrap_or_default();
                    let kind = m.object["spec"]["names"]["kind"]
                        .as_str()
                        .unwrap_or_default();
                    index.crds.insert((group.to_string(), kind.to_string()), i);
                }
                _ => {}
            }
            index
                .components
                .entry((&m.origin.scope, m.origin.component.as_str()))
                .or_default()
                .push(i);
            match stages[i] {
                Stage::Setup => {
                    let groups = index
                        .setup
                        .entry(&m.origin.scope)
                        .or_insert_with(|| vec![Vec::new(); Group::SETUP.len()]);
                    groups[setup_group(m.kind()).expect("setup kind")].push(i);
                }
                Stage::Workloads => index.workloads.entry(&m.origin.scope).or_default().push(i),
                _ => {}
            }
        }
        index
    }

    /// A ServiceAccount token Secret's account, when this render makes it:
    /// the token controller deletes a token Secret whose account does not
    /// exist yet, so the Secret is written only once the account is there.
    fn token_account(&self, m: &Manifest) -> Option<usize> {
        if m.kind() != "Secret" || m.object["type"] != "kubernetes.io/service-account-token" {
            return None;
        }
        let account =
            m.object["metadata"]["annotations"]["kubernetes.io/service-account.name"].as_str()?;
        self.accounts
            .get(&(m.namespace().unwrap_or_default(), account))
            .copied()
    }

    /// The step of object `i`: what it waits for.
    fn step(&self, i: usize, m: &Manifest, stage: Stage) -> Result<Step, PlanError> {
        let mut after = Vec::new();
        if stage != Stage::Prerequisites {
            after.extend(&self.prerequisites);
        }
        if let Some(ns) = m.namespace()
            && let Some(&n) = self.namespaces.get(ns)
        {
            after.push(n);
        }
        if let Some(&crd) = self
            .crds
            .get(&(m.group().to_string(), m.kind().to_string()))
        {
            after.push(crd);
        }
        after.extend(self.token_account(m));
        let scope = &m.origin.scope;
        let groups = self.setup.get(scope);
        let last_setup_before = |limit: usize| -> Vec<usize> {
            groups
                .and_then(|g| g[..limit].iter().rev().find(|g| !g.is_empty()))
                .cloned()
                .unwrap_or_default()
        };
        match stage {
            Stage::Setup => after.extend(last_setup_before(
                setup_group(m.kind()).expect("setup kind"),
            )),
            Stage::Workloads => after.extend(last_setup_before(Group::SETUP.len())),
            Stage::Webhooks => {
                after.extend(last_setup_before(Group::SETUP.len()));
                after.extend(self.workloads.get(scope).into_iter().flatten());
            }
            _ => {}
        }
        let mut named = Vec::new();
        for dep in depends_on(m) {
            let target = match &dep.scope {
                Scope::Infra => &Scope::Infra,
                _ => scope,
            };
            let Some(objects) = self.components.get(&(target, dep.component.as_str())) else {
                return Err(PlanError::UnknownDependency {
                    object: m.id(),
                    template: m.origin.template.clone(),
                    dependency: dep.to_string(),
                    hint: suggest(&self.components, target, &dep.component),
                });
            };
            after.extend(objects.iter().filter(|&&o| o != i));
            named.push(Dependency {
                scope: target.clone(),
                component: dep.component,
            });
        }
        after.sort_unstable();
        after.dedup();
        after.retain(|&a| a != i);
        Ok(Step {
            stage,
            after,
            depends_on: named,
        })
    }
}

/// The components an object names in `cnvrgctl.io/depends-on`.
fn depends_on(m: &Manifest) -> Vec<Dependency> {
    let Some(text) = m.object["metadata"]["annotations"][keys::DEPENDS_ON].as_str() else {
        return Vec::new();
    };
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match s.split_once('/') {
            Some(("infra", c)) => Dependency {
                scope: Scope::Infra,
                component: c.to_string(),
            },
            _ => Dependency {
                scope: m.origin.scope.clone(),
                component: s.to_string(),
            },
        })
        .collect()
}

fn suggest(components: &HashMap<(&Scope, &str), Vec<usize>>, scope: &Scope, name: &str) -> String {
    let mut names: Vec<&str> = components
        .keys()
        .filter(|(s, _)| *s == scope)
        .map(|(_, c)| *c)
        .collect();
    names.sort_unstable();
    match crate::pipeline::spec::did_you_mean(name, &names) {
        Some(best) => format!(" (did you mean `{best}`?)"),
        None => format!(" (components of scope {scope}: {})", names.join(", ")),
    }
}

/// A cycle in the graph, as a path that returns to its start, if there is one.
fn find_cycle(plan: &Plan) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let n = plan.steps.len();
    let mut mark = vec![Mark::New; n];
    for start in 0..n {
        if mark[start] != Mark::New {
            continue;
        }
        // Iterative DFS: (node, next edge to follow).
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        mark[start] = Mark::Open;
        while let Some(&mut (node, ref mut edge)) = stack.last_mut() {
            if let Some(&next) = plan.steps[node].after.get(*edge) {
                *edge += 1;
                match mark[next] {
                    Mark::New => {
                        mark[next] = Mark::Open;
                        stack.push((next, 0));
                    }
                    Mark::Open => {
                        let from = stack.iter().position(|(s, _)| *s == next).expect("open");
                        let mut path: Vec<usize> = stack[from..].iter().map(|(s, _)| *s).collect();
                        path.push(next);
                        return Some(path);
                    }
                    Mark::Done => {}
                }
            } else {
                mark[node] = Mark::Done;
                stack.pop();
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::manifest::Origin;
    use serde_json::json;

    fn object(kind: &str, name: &str) -> Manifest {
        Manifest {
            object: json!({"apiVersion": "v1", "kind": kind,
                "metadata": {"name": name, "namespace": "team-a"}}),
            origin: Origin {
                scope: Scope::Tenant("team-a".into()),
                component: name.into(),
                template: format!("{name}.yaml.j2"),
            },
        }
    }

    #[test]
    fn an_api_service_waits_for_the_workloads_of_its_scope() {
        let manifests = [
            object("Service", "metrics"),
            object("Deployment", "metrics-server"),
            object("APIService", "v1beta1.metrics.k8s.io"),
        ];
        let plan = build(&manifests).unwrap();
        assert_eq!(plan.steps[2].stage, Stage::Webhooks);
        assert_eq!(plan.steps[2].after, [0, 1]);
        assert_eq!(plan.steps[1].after, [0]);
    }

    #[test]
    fn a_token_secret_waits_for_its_service_account() {
        let mut token = object("Secret", "prometheus-token");
        token.object["type"] = json!("kubernetes.io/service-account-token");
        token.object["metadata"]["annotations"] =
            json!({"kubernetes.io/service-account.name": "prometheus"});
        let ms = vec![
            token,
            object("Secret", "other"),
            object("ServiceAccount", "prometheus"),
        ];
        let plan = build(&ms).unwrap();
        assert_eq!(plan.steps[0].after, vec![2]);
        assert!(plan.steps[1].after.is_empty());
    }
}
