//! Reading the cluster for the objects of the selected scopes and working out,
//! per object, what applying it would change (kapp's "diff" step): live state
//! from one list per (kind, namespace) of each scope's members, a get for
//! objects not among them, and a server-side dry run only when the cheap check
//! of [`super::prepare::unchanged`] cannot tell. The result is data
//! ([`Observed`]): the executor acts on it, `diff` prints it.

use std::collections::{BTreeSet, HashMap};

use futures::{StreamExt, stream};
use serde_json::Value;

use super::keep::Keep;
use super::prepare;
use super::{Options, Problem};
use crate::diff::{self, Change, Op};
use crate::inventory::{self, ApplySet};
use crate::kube::{Cluster, ClusterError, Resource};
use crate::manifest::{Manifest, Scope};
use crate::plan::Plan;

/// One rendered object as the cluster sees it.
#[derive(Debug, Clone)]
pub struct Target {
    /// Index of its manifest (and plan step).
    pub index: usize,
    /// Where it is served; `None` until a CRD of this render is established.
    pub resource: Option<Resource>,
    /// The body to apply.
    pub body: Value,
    /// The live object, if any.
    pub live: Option<Value>,
    pub change: Change,
    /// Outside the selected scopes: only waited for, never written.
    pub external: bool,
    /// Unchanged in content, but the live object's applied-hash is stale
    /// (a template change the server's defaults absorb): applied again so the
    /// next run can tell it is unchanged without asking the server.
    pub refresh: bool,
}

/// A live member that left the spec.
#[derive(Debug, Clone)]
pub struct Prunable {
    pub resource: Resource,
    pub live: Value,
    pub change: Change,
    /// Why it stays despite leaving the spec (PVCs, CRDs without the flag).
    pub kept: Option<&'static str>,
}

/// A scope's inventory as found.
#[derive(Debug, Clone)]
pub struct Inventory {
    pub set: ApplySet,
    /// `Kind.group` of the live parent, empty when there is none yet.
    pub live_kinds: BTreeSet<String>,
    pub exists: bool,
}

/// Everything [`observe`] found.
#[derive(Debug, Default)]
pub struct Observed {
    pub targets: Vec<Target>,
    pub prune: Vec<Prunable>,
    pub inventories: Vec<Inventory>,
}

impl Observed {
    /// The changes in plan order, then prunes: what `diff` prints.
    pub fn changes(&self) -> Vec<Change> {
        self.targets
            .iter()
            .filter(|t| !t.external)
            .map(|t| t.change.clone())
            .chain(self.prune.iter().map(|p| p.change.clone()))
            .collect()
    }

    pub fn has_changes(&self) -> bool {
        self.targets
            .iter()
            .any(|t| !t.external && t.change.op != Op::Unchanged)
            || self.prune.iter().any(|p| p.kept.is_none())
    }
}

/// The namespace holding a scope's inventory: its Namespace object's name, or
/// the namespace of its first namespaced object.
pub fn scope_namespace(manifests: &[Manifest], scope: &Scope) -> Option<String> {
    let mine = || manifests.iter().filter(|m| &m.origin.scope == scope);
    mine()
        .find(|m| m.kind() == "Namespace")
        .map(|m| m.name().to_string())
        .or_else(|| mine().find_map(|m| m.namespace().map(str::to_string)))
}

/// Reads the cluster for the objects of `scopes` (and what they depend on
/// outside them) and works out each object's change.
pub async fn observe(
    cluster: &Cluster,
    manifests: &[Manifest],
    plan: &Plan,
    scopes: &[Scope],
    options: &Options,
) -> Result<Observed, Problem> {
    let mut problems = Vec::new();
    let selected = |m: &Manifest| scopes.contains(&m.origin.scope);

    // What to look at: the selected objects and their direct dependencies.
    let mut wanted: BTreeSet<usize> = BTreeSet::new();
    for (i, m) in manifests.iter().enumerate() {
        if selected(m) {
            wanted.insert(i);
            wanted.extend(plan.steps[i].after.iter().copied());
        }
    }

    // Kinds.
    let mut resources: HashMap<usize, Option<Resource>> = HashMap::new();
    for &i in &wanted {
        let m = &manifests[i];
        match cluster.resource(m.api_version(), m.kind()).await {
            Ok(Some(r)) => {
                resources.insert(i, Some(r));
            }
            Ok(None) if defined_by_crd(manifests, m) => {
                resources.insert(i, None);
            }
            Ok(None) => problems.push(format!(
                "{}: the cluster does not serve {} in {} (is its CRD or API group installed?)",
                m.id(),
                m.kind(),
                m.api_version()
            )),
            Err(e) => return Err(Problem::Cluster(e)),
        }
    }
    if !problems.is_empty() {
        return Err(Problem::Refused(problems));
    }

    // Inventories and the members they list.
    let mut inventories = Vec::new();
    let mut members: HashMap<(String, Option<String>, String), (Resource, Value)> = HashMap::new();
    let namespace_kind = cluster
        .resource("v1", "Namespace")
        .await
        .map_err(Problem::Cluster)?
        .expect("every cluster serves namespaces");
    let config_maps = cluster
        .resource("v1", inventory::PARENT_KIND)
        .await
        .map_err(Problem::Cluster)?
        .expect("every cluster serves config maps");
    let mut missing_namespaces: BTreeSet<String> = BTreeSet::new();
    for scope in scopes {
        let Some(ns) = scope_namespace(manifests, scope) else {
            continue;
        };
        let set = ApplySet::new(scope, &ns);
        let parent = if cluster
            .get(&namespace_kind, None, &ns)
            .await
            .map_err(Problem::Cluster)?
            .is_none()
        {
            missing_namespaces.insert(ns.clone());
            None
        } else {
            cluster
                .get(&config_maps, Some(&ns), &set.name)
                .await
                .map_err(Problem::Cluster)?
        };
        let live_kinds = parent
            .as_ref()
            .map(inventory::group_kinds)
            .unwrap_or_default();
        if let Some(parent) = &parent {
            let mut namespaces = inventory::namespaces(parent);
            namespaces.insert(ns.clone());
            let found = list_members(cluster, &set, &live_kinds, &namespaces).await?;
            for (resource, object) in found {
                members.insert(key_of(&resource, &object), (resource, object));
            }
        }
        inventories.push(Inventory {
            set,
            exists: parent.is_some(),
            live_kinds,
        });
    }

    // Each object: live state, body, change.
    let set_of = |scope: &Scope| {
        inventories
            .iter()
            .find(|inv| &inv.set.scope == scope)
            .map(|inv| inv.set.clone())
    };
    let mut claimed: BTreeSet<(String, Option<String>, String)> = BTreeSet::new();
    let mut work = Vec::new();
    for &i in &wanted {
        let m = &manifests[i];
        let resource = resources[&i].clone();
        let external = !selected(m);
        let set = set_of(&m.origin.scope)
            .unwrap_or_else(|| ApplySet::new(&m.origin.scope, m.namespace().unwrap_or("default")));
        let member = resource.as_ref().and_then(|r| {
            let key = (
                r.group_kind(),
                m.namespace().filter(|_| r.namespaced).map(str::to_string),
                m.name().to_string(),
            );
            claimed.insert(key.clone());
            members.get(&key).map(|(_, live)| live.clone())
        });
        let in_missing_namespace = m
            .namespace()
            .is_some_and(|ns| missing_namespaces.contains(ns))
            || (m.kind() == "Namespace" && missing_namespaces.contains(m.name()));
        work.push((i, resource, set, member, in_missing_namespace, external));
    }
    let results: Vec<Result<Target, String>> = stream::iter(work)
        .map(
            |(i, resource, set, member, in_missing_namespace, external)| {
                let m = &manifests[i];
                async move {
                    let live = match (&member, &resource) {
                        (Some(live), _) => Some(live.clone()),
                        (None, Some(r)) if !in_missing_namespace => cluster
                            .get(r, m.namespace(), m.name())
                            .await
                            .map_err(|e| e.to_string())?,
                        _ => None,
                    };
                    let can_dry_run = resource.is_some() && !in_missing_namespace;
                    decide(
                        cluster,
                        m,
                        i,
                        resource,
                        &set,
                        live,
                        external,
                        can_dry_run,
                        options,
                    )
                    .await
                }
            },
        )
        .buffered(options.concurrency.max(1))
        .collect()
        .await;
    let mut targets = Vec::new();
    for result in results {
        match result {
            Ok(target) => targets.push(target),
            Err(problem) => problems.push(problem),
        }
    }
    if !problems.is_empty() {
        return Err(Problem::Refused(problems));
    }

    // Members that left the spec.
    let keep = Keep::on_prune(options.prune_volumes, options.prune_crds);
    let mut prune: Vec<Prunable> = members
        .into_iter()
        .filter(|(key, _)| !claimed.contains(key))
        .map(|(_, (resource, live))| {
            let scope = inventories
                .iter()
                .find(|inv| inv.set.owns(&live))
                .map(|inv| inv.set.scope.clone())
                .unwrap_or(Scope::Infra);
            let kept = keep.why(&resource.api.kind);
            Prunable {
                change: diff::prune(&scope, &live),
                resource,
                live,
                kept,
            }
        })
        .collect();
    prune.sort_by_key(prune_order);
    Ok(Observed {
        targets,
        prune,
        inventories,
    })
}

/// Reverse plan order: what was applied last goes first.
pub(super) fn prune_order(
    p: &Prunable,
) -> (std::cmp::Reverse<(crate::plan::Stage, usize)>, String) {
    let kind = p.resource.api.kind.as_str();
    (
        std::cmp::Reverse((
            crate::plan::stage_of(kind),
            crate::manifest::kind_rank(kind),
        )),
        p.change.id(),
    )
}

/// Lists a scope's members of every kind it has had.
pub async fn list_members(
    cluster: &Cluster,
    set: &ApplySet,
    kinds: &BTreeSet<String>,
    namespaces: &BTreeSet<String>,
) -> Result<Vec<(Resource, Value)>, Problem> {
    let selector = set.selector();
    let mut found = Vec::new();
    for group_kind in kinds {
        let (group, kind) = inventory::split_group_kind(group_kind);
        let Some(resource) = find_group_kind(cluster, group, kind)
            .await
            .map_err(Problem::Cluster)?
        else {
            continue; // the kind is gone (its CRD was deleted): nothing to prune
        };
        let scopes: Vec<Option<&str>> = if resource.namespaced {
            namespaces.iter().map(|ns| Some(ns.as_str())).collect()
        } else {
            vec![None]
        };
        for ns in scopes {
            for object in cluster
                .list(&resource, ns, Some(&selector))
                .await
                .map_err(Problem::Cluster)?
            {
                found.push((resource.clone(), object));
            }
        }
    }
    Ok(found)
}

/// The served resource of a `Kind.group`, trying the versions cnvrgctl renders.
async fn find_group_kind(
    cluster: &Cluster,
    group: &str,
    kind: &str,
) -> Result<Option<Resource>, ClusterError> {
    for version in ["v1", "v2", "v1beta1", "v1alpha1", "v1alpha3", "v1beta2"] {
        let api_version = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        if let Some(r) = cluster.resource(&api_version, kind).await? {
            return Ok(Some(r));
        }
    }
    Ok(None)
}

fn key_of(resource: &Resource, object: &Value) -> (String, Option<String>, String) {
    (
        resource.group_kind(),
        object["metadata"]["namespace"]
            .as_str()
            .filter(|_| resource.namespaced)
            .map(str::to_string),
        object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

/// Whether a CRD of the same render defines the manifest's kind.
fn defined_by_crd(manifests: &[Manifest], m: &Manifest) -> bool {
    let (group, version) = m
        .api_version()
        .split_once('/')
        .unwrap_or(("", m.api_version()));
    manifests.iter().any(|crd| {
        crd.kind() == "CustomResourceDefinition"
            && crd.object["spec"]["group"] == group
            && crd.object["spec"]["names"]["kind"] == m.kind()
            && crd.object["spec"]["versions"].as_array().is_some_and(|vs| {
                vs.iter()
                    .any(|v| v["name"] == version && v["served"] == true)
            })
    })
}

/// One object's change.
#[allow(clippy::too_many_arguments)]
async fn decide(
    cluster: &Cluster,
    m: &Manifest,
    index: usize,
    resource: Option<Resource>,
    set: &ApplySet,
    live: Option<Value>,
    external: bool,
    can_dry_run: bool,
    options: &Options,
) -> Result<Target, String> {
    let scope = &m.origin.scope;
    let body = prepare::body(&m.object, set, live.as_ref());
    let target = |change: Change| Target {
        index,
        resource: resource.clone(),
        body: body.clone(),
        live: live.clone(),
        change,
        external,
        refresh: false,
    };
    if external {
        return match &live {
            Some(l) => Ok(target(diff::compare(scope, Some(l), l))),
            None => Err(format!(
                "{} ({}) is not on the cluster, and objects of this run wait for it: apply {} first",
                m.id(),
                scope,
                scope
            )),
        };
    }
    let Some(live_object) = &live else {
        // `diff` asks the server what it would create (which also runs its
        // validation and admission); where it cannot yet (a namespace or a
        // kind this run creates first), the body is what will be sent.
        let after = match &resource {
            Some(r) if can_dry_run && options.dry_run_creates => cluster
                .apply(r, &body, true, options.force_conflicts)
                .await
                .map_err(|e| super::describe(&e))?,
            _ => body.clone(),
        };
        return Ok(target(diff::compare(scope, None, &after)));
    };
    let resource_ref = resource.as_ref().expect("a live object has a served kind");
    if !prepare::owned(live_object, set) && m.kind() != "Namespace" && !options.force_conflicts {
        let managers = prepare::other_managers(live_object);
        return Err(format!(
            "{} exists and is not managed by cnvrgctl{}; delete it, disable the component, or pass --force-conflicts to take it over",
            m.id(),
            if managers.is_empty() {
                String::new()
            } else {
                format!(" (field managers: {})", managers.join(", "))
            }
        ));
    }
    if prepare::unchanged(&body, live_object) {
        return Ok(target(diff::compare(scope, Some(live_object), live_object)));
    }
    match cluster
        .apply(resource_ref, &body, true, options.force_conflicts)
        .await
    {
        Ok(after) => Ok(target(diff::compare(scope, Some(live_object), &after))),
        Err(e) if e.code() == Some(422) && m.kind() == "Job" => {
            // A Job's pod template cannot change: run it again from scratch.
            Ok(target(
                diff::compare(scope, Some(live_object), &body).with_op(Op::Replace),
            ))
        }
        Err(e) => Err(super::describe(&e)),
    }
}
