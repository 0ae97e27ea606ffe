//! Listing the members of many scopes at once: one cluster-wide list per
//! kind, of every ApplySet member (`applyset.kubernetes.io/part-of` set),
//! each object kept for the scope whose set id its label names when that
//! scope's inventory has its kind and, for a namespaced kind, one of its
//! namespaces holds it. A thousand tenants then cost one request per kind,
//! not one per kind and namespace, nor a cluster-wide list per scope for
//! each cluster-scoped kind (which the API server answers by reading every
//! object of the kind). A user who may not list a kind cluster-wide gets
//! `None`: the caller lists scope by scope. Reads only.

use std::collections::{BTreeSet, HashMap};

use futures::{StreamExt, stream};

use super::Problem;
use super::held::Held;
use super::members::find_group_kind;
use crate::engine::inventory::{self, ApplySet, PART_OF_LABEL};
use crate::engine::kube::{Cluster, Resource};

/// Kinds listed at once.
const KINDS_IN_FLIGHT: usize = 4;

/// One scope to list for: its set, the kinds its inventory has and the
/// namespaces its members may be in.
pub(super) type Listed<'a> = (&'a ApplySet, &'a BTreeSet<String>, &'a BTreeSet<String>);

/// Live members (held as text) with where their kind is served.
type Members = Vec<(Resource, Held)>;

/// The members of every scope in `scopes`, one list per kind; `None` when a
/// list was refused (403).
pub(super) async fn members(
    cluster: &Cluster,
    scopes: &[Listed<'_>],
) -> Result<Option<Members>, Problem> {
    let by_id: HashMap<&str, &Listed> = scopes.iter().map(|s| (s.0.id.as_str(), s)).collect();
    let kinds: BTreeSet<&String> = scopes.iter().flat_map(|s| s.1.iter()).collect();
    let lists: Vec<Result<Option<Members>, Problem>> = stream::iter(kinds)
        .map(|group_kind| list_kind(cluster, group_kind, &by_id))
        .buffered(KINDS_IN_FLIGHT)
        .collect()
        .await;
    let mut members = Vec::new();
    for list in lists {
        match list? {
            Some(found) => members.extend(found),
            None => return Ok(None),
        }
    }
    Ok(Some(members))
}

/// The members of one kind (`Kind.group`) among `scopes` (by set id);
/// `None` when the list was refused.
async fn list_kind(
    cluster: &Cluster,
    group_kind: &str,
    scopes: &HashMap<&str, &Listed<'_>>,
) -> Result<Option<Members>, Problem> {
    let (group, kind) = inventory::split_group_kind(group_kind);
    let Some(resource) = find_group_kind(cluster, group, kind).await? else {
        return Ok(Some(Vec::new())); // the kind is gone (its CRD was deleted)
    };
    let objects = match cluster
        .list_with(&resource, None, Some(PART_OF_LABEL), &Held::new)
        .await
    {
        Ok(objects) => objects,
        Err(e) if e.code() == Some(403) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mine = |object: &Held| {
        let Some((_, kinds, namespaces)) = object.part_of.as_deref().and_then(|id| scopes.get(id))
        else {
            return false;
        };
        kinds.contains(group_kind)
            && (!resource.namespaced
                || object
                    .namespace
                    .as_deref()
                    .is_some_and(|ns| namespaces.contains(ns)))
    };
    Ok(Some(
        objects
            .into_iter()
            .filter(|o| mine(o))
            .map(|o| (resource.clone(), o))
            .collect(),
    ))
}
