//! Deleting in reverse plan order: the members that left the spec (prune),
//! and a whole scope (`tenant remove`, `uninstall`). What was applied last
//! goes first, and each object is waited on until it is gone before the next.
//! Data is never deleted unasked: PersistentVolumeClaims (the scope's own and
//! those its StatefulSets made), and the namespace that holds them, stay
//! unless `delete_data`; CRDs (and so every custom resource of theirs) stay
//! unless `delete_crds`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::actions::{Actions, At, OnCluster};
use super::keep::{self, Keep};
use super::observe::{Prunable, prune_order};
use super::{Event, Observer, Problem, Summary};
use crate::engine::diff;
use crate::engine::inventory::{self, ApplySet};
use crate::engine::kube::{Cluster, Propagation, Resource};
use crate::engine::wait::{Blocker, Failure, Waiter};

/// How a scope is removed.
#[derive(Debug, Clone, Copy)]
pub struct RemoveOptions {
    pub delete_data: bool,
    pub delete_crds: bool,
    pub object_timeout: Duration,
    pub timeout: Duration,
}

/// What removing a scope will do: delete these, keep those (with why).
#[derive(Debug, Default)]
pub struct Removal {
    pub items: Vec<Prunable>,
    /// Whether the inventory's parent goes too (nothing kept).
    pub parent: bool,
}

impl Removal {
    pub fn deleted(&self) -> usize {
        self.items.iter().filter(|p| p.kept.is_none()).count()
    }

    pub fn kept(&self) -> usize {
        self.items.iter().filter(|p| p.kept.is_some()).count()
    }

    /// `3 Deployment, 2 Secret, ...` of what will be deleted.
    pub fn counts(&self) -> String {
        let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
        for p in self.items.iter().filter(|p| p.kept.is_none()) {
            *counts.entry(p.resource.api.kind.as_str()).or_default() += 1;
        }
        counts
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

const KEEP_NAMESPACE: &str = "it holds kept volumes (data); --delete-data deletes it";
const KEEP_INVENTORY: &str = "it holds the inventory of what is kept";

/// Reads what removing `set`'s scope deletes and keeps.
pub async fn plan_removal(
    cluster: &Cluster,
    set: &ApplySet,
    options: &RemoveOptions,
) -> Result<Removal, Problem> {
    let config_maps = cluster
        .resource("v1", inventory::PARENT_KIND)
        .await?
        .expect("every cluster serves config maps");
    let Some(parent) = cluster
        .get(&config_maps, Some(&set.namespace), &set.name)
        .await?
    else {
        return Ok(Removal::default());
    };
    let mut namespaces = inventory::namespaces(&parent);
    namespaces.insert(set.namespace.clone());
    let members =
        super::list_members(cluster, set, &inventory::group_kinds(&parent), &namespaces).await?;
    let keep = Keep::on_remove(options.delete_data, options.delete_crds);
    let mut items: Vec<Prunable> = Vec::new();
    // Claims the scope's StatefulSets made (not members, but its data).
    if let Some(claims) = cluster.resource("v1", "PersistentVolumeClaim").await? {
        for (_, sts) in members.iter().filter(|(r, _)| r.api.kind == "StatefulSet") {
            let ns = sts["metadata"]["namespace"].as_str();
            for pvc in cluster.list(&claims, ns, None).await? {
                if made_by(&pvc, sts) {
                    items.push(item(set, &claims, pvc, &keep));
                }
            }
        }
    }
    for (resource, live) in members {
        items.push(item(set, &resource, live, &keep));
    }
    // A namespace holding kept claims stays (deleting it deletes them).
    let kept_namespaces: Vec<String> = items
        .iter()
        .filter(|p| p.kept.is_some() && keep::holds_data(&p.resource.api.kind))
        .filter_map(|p| p.change.namespace.clone())
        .collect();
    for p in items.iter_mut() {
        if p.resource.api.kind == "Namespace" && kept_namespaces.contains(&p.change.name) {
            p.kept = Some(KEEP_NAMESPACE);
        }
    }
    // Anything kept keeps the inventory, and so its namespace, for a later run.
    if items.iter().any(|p| p.kept.is_some()) {
        for p in items.iter_mut() {
            if p.resource.api.kind == "Namespace"
                && p.change.name == set.namespace
                && p.kept.is_none()
            {
                p.kept = Some(KEEP_INVENTORY);
            }
        }
    }
    items.sort_by_key(prune_order);
    items.dedup_by(|a, b| a.change.id() == b.change.id());
    let parent = items.iter().all(|p| p.kept.is_none());
    Ok(Removal { items, parent })
}

/// Whether `pvc` is one a StatefulSet made from a claim template:
/// `<template>-<statefulset>-<ordinal>`.
fn made_by(pvc: &Value, sts: &Value) -> bool {
    let name = pvc["metadata"]["name"].as_str().unwrap_or_default();
    let sts_name = sts["metadata"]["name"].as_str().unwrap_or_default();
    sts["spec"]["volumeClaimTemplates"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|t| {
            let prefix = format!(
                "{}-{sts_name}-",
                t["metadata"]["name"].as_str().unwrap_or_default()
            );
            name.strip_prefix(&prefix)
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
}

fn item(set: &ApplySet, resource: &Resource, live: Value, keep: &Keep) -> Prunable {
    Prunable {
        change: diff::prune(&set.scope, &live),
        kept: keep.why(&resource.api.kind),
        resource: resource.clone(),
        live,
    }
}

/// Removes a scope as `plan_removal` described it; the inventory parent goes
/// last, unless something was kept (so a later run still finds it).
pub async fn remove(
    cluster: Arc<Cluster>,
    set: &ApplySet,
    removal: &Removal,
    options: &RemoveOptions,
    observer: &dyn Observer,
) -> Result<Summary, Problem> {
    let waiter = Waiter::new(cluster.clone(), Duration::from_secs(60));
    let actions = OnCluster {
        cluster: &cluster,
        waiter: &waiter,
    };
    let deadline = Instant::now() + options.timeout;
    let removed = delete_in_order(
        &actions,
        &removal.items,
        options.object_timeout,
        observer,
        deadline,
    )
    .await?;
    if removal.parent {
        let config_maps = cluster
            .resource("v1", inventory::PARENT_KIND)
            .await?
            .expect("every cluster serves config maps");
        cluster
            .delete(
                &config_maps,
                Some(&set.namespace),
                &set.name,
                Propagation::Background,
            )
            .await?;
    }
    Ok(Summary {
        pruned: removed.pruned,
        kept: removed.kept,
        ..Summary::default()
    })
}

/// What [`delete_in_order`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Removed {
    pub pruned: usize,
    pub kept: usize,
}

/// Deletes `items` in order (kept ones are reported, not deleted), waiting
/// for each to be gone.
pub(super) async fn delete_in_order<A: Actions>(
    actions: &A,
    items: &[Prunable],
    object_timeout: Duration,
    observer: &dyn Observer,
    deadline: Instant,
) -> Result<Removed, Problem> {
    let mut removed = Removed::default();
    for p in items {
        let id = p.change.id();
        if let Some(why) = p.kept {
            observer.event(Event::Kept {
                object: id,
                why: why.to_string(),
            });
            removed.kept += 1;
            continue;
        }
        let at = At {
            resource: &p.resource,
            namespace: p.live["metadata"]["namespace"].as_str(),
            name: &p.change.name,
        };
        actions.delete(at, Propagation::Background).await?;
        let until = (Instant::now() + object_timeout).min(deadline);
        let uid = p.live["metadata"]["uid"].as_str();
        if !actions.until_gone(at, uid, until).await {
            return Err(Problem::NotReady {
                failed: vec![id.clone()],
                blockers: vec![Blocker::new(
                    id,
                    Failure::TimedOut,
                    "timed out waiting for it to be deleted (finalizers?)".into(),
                )],
                skipped: 0,
            });
        }
        observer.event(Event::Pruned { object: id });
        removed.pruned += 1;
    }
    Ok(removed)
}
