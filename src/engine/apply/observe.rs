//! Reading the cluster for the objects of the selected scopes and working out,
//! per object, what applying it would change (kapp's "diff" step): live state
//! from one list per (kind, namespace) of each scope's members, a get for
//! objects not among them, and a server-side dry run only when the cheap check
//! of [`super::prepare::unchanged`] cannot tell. The result is data
//! ([`Observed`]): the executor acts on it, `diff` prints it.

use std::collections::{BTreeSet, HashMap, HashSet};

use futures::{StreamExt, stream};
use serde_json::Value;

use super::actions::At;
use super::held::Held;
use super::keep::Keep;
use super::members::{Found, inventories};
use super::prepare;
use super::{Options, Problem};
use crate::engine::adopt;
use crate::engine::diff::{self, Change, Op};
use crate::engine::inventory::ApplySet;
use crate::engine::kube::{Cluster, ClusterError, Resource};
use crate::pipeline::manifest::{Manifest, Scope};
use crate::pipeline::plan::Plan;

/// One rendered object as the cluster sees it.
#[derive(Debug, Clone)]
pub struct Target {
    /// Index of its manifest (and plan step).
    pub index: usize,
    /// Where it is served; `None` until a CRD of this render is established.
    pub resource: Option<Resource>,
    /// The body to apply.
    pub body: Value,
    /// The live object, if any; once decided, only as readiness reads it
    /// (whole for an adopted object: see `slim.rs`).
    pub live: Option<Value>,
    pub change: Change,
    /// Outside the selected scopes: only waited for, never written.
    pub external: bool,
    /// Unchanged in content, but the live object's applied-hash is stale
    /// (a template change the server's defaults absorb): applied again so the
    /// next run can tell it is unchanged without asking the server.
    pub refresh: bool,
    /// For an [`Op::Conflict`]: the server's refusal, worded for the user;
    /// the object is written only with `--force-conflicts`.
    pub refused: Option<String>,
    /// Made by an operator and taken over (`--adopt`): applied with force,
    /// its ownerReferences to the operators removed.
    pub adopted: bool,
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

impl Target {
    /// Where it is on the cluster, once its kind is served at `resource`.
    pub(super) fn at<'a>(&'a self, resource: &'a Resource) -> At<'a> {
        At {
            resource,
            namespace: self.body["metadata"]["namespace"].as_str(),
            name: &self.change.name,
        }
    }
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

    /// Why objects cannot be applied without `--force-conflicts`: one line
    /// per [`Op::Conflict`].
    pub fn conflicts(&self) -> Vec<String> {
        self.targets
            .iter()
            .filter_map(|t| t.refused.clone())
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

/// [`scope_namespace`] of every scope at once.
pub fn scope_namespaces(manifests: &[Manifest]) -> HashMap<&Scope, &str> {
    let mut out: HashMap<&Scope, &str> = HashMap::new();
    for m in manifests {
        if m.kind() == "Namespace" {
            out.insert(&m.origin.scope, m.name());
        }
    }
    for m in manifests {
        if let Some(ns) = m.namespace() {
            out.entry(&m.origin.scope).or_insert(ns);
        }
    }
    out
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
    let selected: HashSet<&Scope> = scopes.iter().collect();
    let wanted = wanted(manifests, plan, &selected);
    let served = kinds_served(cluster, manifests, &wanted).await?;
    let mut found = inventories(cluster, manifests, scopes).await?;
    let sets: HashMap<Scope, ApplySet> = found
        .inventories
        .iter()
        .map(|inv| (inv.set.scope.clone(), inv.set.clone()))
        .collect();
    let lookups: Vec<Lookup> = wanted
        .iter()
        .map(|&i| found.lookup(manifests, i, served[&i].clone(), &sets, &selected))
        .collect();
    let targets = live_changes(cluster, manifests, lookups, options).await?;
    let keep = Keep::on_prune(options.prune_volumes, options.prune_crds);
    let prune = left_the_spec(found.members, &found.inventories, &keep);
    Ok(Observed {
        targets,
        prune,
        inventories: found.inventories,
    })
}

/// A live object's kind (`Kind.group`), namespace and name.
pub(super) type Key = (String, Option<String>, String);

/// What to look at: the selected objects and their direct dependencies.
fn wanted(manifests: &[Manifest], plan: &Plan, scopes: &HashSet<&Scope>) -> BTreeSet<usize> {
    let mut wanted = BTreeSet::new();
    for (i, m) in manifests.iter().enumerate() {
        if scopes.contains(&m.origin.scope) {
            wanted.insert(i);
            wanted.extend(plan.steps[i].after.iter().copied());
        }
    }
    wanted
}

/// Where each wanted object's kind is served: `None` for a kind a CRD of
/// this render defines; refused when the cluster lacks one.
async fn kinds_served(
    cluster: &Cluster,
    manifests: &[Manifest],
    wanted: &BTreeSet<usize>,
) -> Result<HashMap<usize, Option<Resource>>, Problem> {
    let mut served = HashMap::new();
    let mut problems = Vec::new();
    for &i in wanted {
        let m = &manifests[i];
        match cluster.resource(m.api_version(), m.kind()).await? {
            Some(r) => {
                served.insert(i, Some(r));
            }
            None if defined_by_crd(manifests, m) => {
                served.insert(i, None);
            }
            None => problems.push(format!(
                "{}: the cluster does not serve {} in {} (is its CRD or API group installed?)",
                m.id(),
                m.kind(),
                m.api_version()
            )),
        }
    }
    if !problems.is_empty() {
        return Err(Problem::Refused(problems));
    }
    Ok(served)
}

/// One object to read: where it is served, its scope's set, and its live
/// copy when its inventory listed it.
struct Lookup {
    index: usize,
    resource: Option<Resource>,
    set: ApplySet,
    /// Its live copy when its inventory listed it (as text until decided).
    member: Option<Held>,
    /// In a namespace that does not exist yet: nothing to read or dry-run.
    in_missing_namespace: bool,
    /// Outside the selected scopes.
    external: bool,
    /// With `--adopt`, for a Secret an operator's Secret feeds: what its
    /// generated keys are filled from (the live values, and the operator's
    /// under our key names).
    seed: Option<Value>,
}

impl Found {
    /// What to read for manifest `index`, whose scope's set is in `sets`;
    /// its live member leaves `members` (what stays there left the spec).
    fn lookup(
        &mut self,
        manifests: &[Manifest],
        index: usize,
        resource: Option<Resource>,
        sets: &HashMap<Scope, ApplySet>,
        scopes: &HashSet<&Scope>,
    ) -> Lookup {
        let m = &manifests[index];
        let set = sets
            .get(&m.origin.scope)
            .cloned()
            .unwrap_or_else(|| ApplySet::new(&m.origin.scope, m.namespace().unwrap_or("default")));
        let member = resource.as_ref().and_then(|r| {
            let key = (
                r.group_kind(),
                m.namespace().filter(|_| r.namespaced).map(str::to_string),
                m.name().to_string(),
            );
            self.members.remove(&key).map(|(_, live)| live)
        });
        let missing = &self.missing_namespaces;
        Lookup {
            index,
            set,
            member,
            in_missing_namespace: m.namespace().is_some_and(|ns| missing.contains(ns))
                || (m.kind() == "Namespace" && missing.contains(m.name())),
            external: !scopes.contains(&m.origin.scope),
            resource,
            seed: None,
        }
    }
}

/// Each object's live state (from its inventory, else a get) and change,
/// `concurrency` at once; refused when any cannot be applied.
async fn live_changes(
    cluster: &Cluster,
    manifests: &[Manifest],
    lookups: Vec<Lookup>,
    options: &Options,
) -> Result<Vec<Target>, Problem> {
    let results: Vec<Result<Target, String>> = stream::iter(lookups)
        .map(|lookup| {
            let m = &manifests[lookup.index];
            async move {
                let mut lookup = lookup;
                let live = match (lookup.member.take(), &lookup.resource) {
                    (Some(held), _) => Some(held.value()),
                    (None, Some(r)) if !lookup.in_missing_namespace => cluster
                        .get(r, m.namespace(), m.name())
                        .await
                        .map_err(|e| e.to_string())?,
                    _ => None,
                };
                if options.adopt && !lookup.external {
                    lookup.seed = adopt::seed(cluster, m, live.as_ref())
                        .await
                        .map_err(|e| e.to_string())?;
                }
                decide(cluster, m, lookup, live, options)
                    .await
                    .map(Target::slim)
            }
        })
        .buffered(options.concurrency.max(1))
        .collect()
        .await;
    let (targets, problems): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
    if !problems.is_empty() {
        return Err(Problem::Refused(
            problems.into_iter().filter_map(Result::err).collect(),
        ));
    }
    Ok(targets.into_iter().filter_map(Result::ok).collect())
}

/// The live members no rendered object claimed, each with whether it stays,
/// in reverse plan order.
fn left_the_spec(
    members: HashMap<Key, (Resource, Held)>,
    inventories: &[Inventory],
    keep: &Keep,
) -> Vec<Prunable> {
    let mut prune: Vec<Prunable> = members
        .into_values()
        .map(|(resource, held)| {
            let live = held.value();
            let scope = inventories
                .iter()
                .find(|inv| inv.set.owns(&live))
                .map(|inv| inv.set.scope.clone())
                .unwrap_or(Scope::Infra);
            Prunable {
                change: diff::prune(&scope, &live),
                kept: keep.why(&resource.api.kind),
                resource,
                live,
            }
        })
        .collect();
    prune.sort_by_key(prune_order);
    prune
}

/// Reverse plan order: what was applied last goes first.
pub(super) fn prune_order(
    p: &Prunable,
) -> (
    std::cmp::Reverse<(crate::pipeline::plan::Stage, usize)>,
    String,
) {
    let kind = p.resource.api.kind.as_str();
    (
        std::cmp::Reverse((
            crate::pipeline::plan::stage_of(kind),
            crate::pipeline::manifest::kind_rank(kind),
        )),
        p.change.id(),
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
async fn decide(
    cluster: &Cluster,
    m: &Manifest,
    lookup: Lookup,
    live: Option<Value>,
    options: &Options,
) -> Result<Target, String> {
    let Lookup {
        index,
        resource,
        set,
        member: _,
        in_missing_namespace,
        external,
        seed,
    } = lookup;
    let can_dry_run = resource.is_some() && !in_missing_namespace;
    let scope = &m.origin.scope;
    let body = prepare::body(&m.object, &set, seed.as_ref().or(live.as_ref()));
    let adopted = match (&live, external) {
        (Some(l), false) => adopt::admit(m, l, &set, options.force_conflicts, options.adopt)?,
        _ => false,
    };
    let force = options.force_conflicts || adopted;
    let target = |change: Change| Target {
        index,
        resource: resource.clone(),
        body: body.clone(),
        live: live.clone(),
        change,
        external,
        refresh: false,
        refused: None,
        adopted,
    };
    if external {
        return match &live {
            Some(l) => Ok(target(diff::unchanged(scope, l))),
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
                .apply(r, &body, true, force)
                .await
                .map_err(|e| super::describe(&e))?,
            _ => body.clone(),
        };
        return Ok(target(diff::compare(scope, None, &after)));
    };
    let resource_ref = resource.as_ref().expect("a live object has a served kind");
    if prepare::unchanged(&body, live_object) {
        return Ok(target(diff::unchanged(scope, live_object)));
    }
    match cluster.apply(resource_ref, &body, true, force).await {
        Ok(after) if adopted => {
            // The dry run cannot see the takeover of the operators' fields
            // that comes first: what it removes is taken out here.
            let after = adopt::fields::preview(live_object, &after);
            Ok(target(diff::compare(scope, Some(live_object), &after)))
        }
        Ok(after) => Ok(target(diff::compare(scope, Some(live_object), &after))),
        Err(e) if e.code() == Some(422) && m.kind() == "Job" => {
            // A Job's pod template cannot change: run it again from scratch.
            Ok(target(
                diff::compare(scope, Some(live_object), &body).with_op(Op::Replace),
            ))
        }
        Err(e)
            if e.code() == Some(422)
                && adopted
                && m.kind() == "Deployment"
                && e.to_string().contains("spec.selector") =>
        {
            // The operator's selector (immutable) is not ours: the adopted
            // Deployment is made again (its pods go, ours start).
            Ok(target(
                diff::compare(scope, Some(live_object), &body).with_op(Op::Replace),
            ))
        }
        Err(e) if e.code() == Some(422) && m.kind() == "StatefulSet" => {
            adopt::immutable(m, live_object, &body, options.recreate_statefulsets)
                .map(|op| target(diff::compare(scope, Some(live_object), &body).with_op(op)))
        }
        Err(e) if !e.conflict_causes().is_empty() => {
            let forced = cluster
                .apply(resource_ref, &body, true, true)
                .await
                .map_err(|e| super::describe(&e))?;
            Ok(Target {
                refused: Some(super::describe(&e)),
                ..target(in_conflict(scope, live_object, &forced, &e))
            })
        }
        Err(e) => Err(super::describe(&e)),
    }
}

/// Other managers own fields an apply would change (`error`, the server's
/// 409): the change is what taking them over would do (`forced`, a forced
/// dry run), with who owns which fields.
fn in_conflict(scope: &Scope, live: &Value, forced: &Value, error: &ClusterError) -> Change {
    let causes = error.conflict_causes().iter();
    let conflicts = diff::conflicts(causes.map(|c| (c.field.as_str(), c.message.as_str())));
    diff::compare(scope, Some(live), forced).in_conflict(conflicts)
}
