//! Reading what the scopes have on the cluster: per scope, whether its
//! namespace exists, its inventory (the ApplySet parent ConfigMap) and the
//! live members it lists: kind by kind for all scopes at once
//! ([`super::sweep`]), or, for one scope, kind by kind and namespace by
//! namespace. Scopes are read [`SCOPES_IN_FLIGHT`] at once, each one request
//! after another.

use std::collections::{BTreeSet, HashMap};

use futures::{StreamExt, stream};
use serde_json::Value;

use super::Problem;
use super::held::Held;
use super::observe::{Inventory, Key, scope_namespaces};
use super::slim::managers_only;
use crate::engine::inventory::{self, ApplySet};
use crate::engine::kube::{Cluster, ClusterError, Resource};
use crate::pipeline::manifest::{Manifest, Scope};

/// The scopes' inventories and the live members they list.
pub(super) struct Found {
    pub inventories: Vec<Inventory>,
    pub members: HashMap<Key, (Resource, Held)>,
    /// Namespaces of the scopes that do not exist yet (nothing to read there).
    pub missing_namespaces: BTreeSet<String>,
}

/// Scopes read at once: each reads its namespace, its inventory and its
/// members one request after another, so a thousand scopes read one at a
/// time wait a thousand times as long as one.
const SCOPES_IN_FLIGHT: usize = 16;

/// The scopes' inventories and the live members they list, the scopes read
/// [`SCOPES_IN_FLIGHT`] at once (in scope order). With more than one scope,
/// each kind's members are listed once for all of them ([`super::sweep`]).
pub(super) async fn inventories(
    cluster: &Cluster,
    manifests: &[Manifest],
    scopes: &[Scope],
) -> Result<Found, Problem> {
    let namespace_kind = cluster
        .resource("v1", "Namespace")
        .await?
        .expect("every cluster serves namespaces");
    let config_maps = cluster
        .resource("v1", inventory::PARENT_KIND)
        .await?
        .expect("every cluster serves config maps");
    let namespaces = scope_namespaces(manifests);
    let read = |scope: &Scope| {
        let ns = namespaces.get(scope).map(|ns| ns.to_string());
        let (namespace_kind, config_maps) = (&namespace_kind, &config_maps);
        let scope = scope.clone();
        async move {
            match ns {
                Some(ns) => read_scope(cluster, &scope, ns, namespace_kind, config_maps)
                    .await
                    .map(Some),
                None => Ok(None),
            }
        }
    };
    let read: Vec<Result<Option<ScopeRead>, Problem>> = stream::iter(scopes)
        .map(read)
        .buffered(SCOPES_IN_FLIGHT)
        .collect()
        .await;
    let mut heads = Vec::new();
    for scope in read {
        heads.extend(scope?);
    }
    let members = members_of(cluster, &heads).await?;
    let mut found = Found {
        inventories: Vec::new(),
        members: HashMap::new(),
        missing_namespaces: BTreeSet::new(),
    };
    for (resource, object) in members {
        found
            .members
            .insert(key_of(&resource, &object), (resource, object));
    }
    for head in heads {
        found.missing_namespaces.extend(head.missing_namespace);
        found.inventories.push(head.inventory);
    }
    Ok(found)
}

/// The live members of the scopes read: one list per kind for them all, or,
/// for a single scope (or a user who may not list cluster-wide), one per
/// kind and namespace of each scope.
async fn members_of(
    cluster: &Cluster,
    heads: &[ScopeRead],
) -> Result<Vec<(Resource, Held)>, Problem> {
    let listed: Vec<&ScopeRead> = heads.iter().filter(|h| h.inventory.exists).collect();
    if listed.len() > 1 {
        let sets = listed
            .iter()
            .map(|h| (&h.inventory.set, &h.inventory.live_kinds, &h.namespaces))
            .collect::<Vec<_>>();
        if let Some(members) = super::sweep::members(cluster, &sets).await? {
            return Ok(members);
        }
    }
    let lists: Vec<Result<Vec<(Resource, Held)>, Problem>> = stream::iter(listed)
        .map(|h| {
            list_members_as(
                cluster,
                &h.inventory.set,
                &h.inventory.live_kinds,
                &h.namespaces,
                &Held::new,
            )
        })
        .buffered(SCOPES_IN_FLIGHT)
        .collect()
        .await;
    let mut members = Vec::new();
    for list in lists {
        members.extend(list?);
    }
    Ok(members)
}

/// What one scope's read found.
struct ScopeRead {
    inventory: Inventory,
    /// The namespaces its members may be in (its own and those its parent lists).
    namespaces: BTreeSet<String>,
    /// Its namespace, when it does not exist yet.
    missing_namespace: Option<String>,
}

/// One scope: whether its namespace exists and its inventory.
async fn read_scope(
    cluster: &Cluster,
    scope: &Scope,
    ns: String,
    namespace_kind: &Resource,
    config_maps: &Resource,
) -> Result<ScopeRead, Problem> {
    let set = ApplySet::new(scope, &ns);
    let mut missing_namespace = None;
    let parent = if cluster.get(namespace_kind, None, &ns).await?.is_none() {
        missing_namespace = Some(ns.clone());
        None
    } else {
        cluster.get(config_maps, Some(&ns), &set.name).await?
    };
    let live_kinds = parent
        .as_ref()
        .map(inventory::group_kinds)
        .unwrap_or_default();
    let mut namespaces = parent
        .as_ref()
        .map(inventory::namespaces)
        .unwrap_or_default();
    namespaces.insert(ns);
    Ok(ScopeRead {
        inventory: Inventory {
            set,
            exists: parent.is_some(),
            live_kinds,
        },
        namespaces,
        missing_namespace,
    })
}

/// Lists a scope's members of every kind it has had, each with only the
/// managers of its `managedFields` ([`managers_only`]).
pub async fn list_members(
    cluster: &Cluster,
    set: &ApplySet,
    kinds: &BTreeSet<String>,
    namespaces: &BTreeSet<String>,
) -> Result<Vec<(Resource, Value)>, Problem> {
    list_members_as(cluster, set, kinds, namespaces, &managers_only).await
}

/// [`list_members`], each object kept as `each` makes it as it is parsed.
async fn list_members_as<T>(
    cluster: &Cluster,
    set: &ApplySet,
    kinds: &BTreeSet<String>,
    namespaces: &BTreeSet<String>,
    each: &(dyn Fn(Value) -> T + Sync),
) -> Result<Vec<(Resource, T)>, Problem> {
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
                .list_with(&resource, ns, Some(&selector), each)
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
pub(super) async fn find_group_kind(
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

fn key_of(resource: &Resource, object: &Held) -> Key {
    (
        resource.group_kind(),
        object.namespace.clone().filter(|_| resource.namespaced),
        object.name.clone(),
    )
}
