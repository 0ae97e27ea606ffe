//! `cnvrgctl secrets apply`: the Secrets a GitOps directory leaves out
//! ([`crate::pipeline::gitops::out_of_git`]: generated values and the registry
//! pull secret) created once on the cluster, before the engine syncs. The
//! rule is `apply`'s: the body is [`super::apply::prepare::body`], values
//! generated once; a Secret that exists is kept as it is, never overwritten
//! (not even a key it lacks). A namespace the Secrets need that is not there
//! yet is created from the render, as the engine would. Each Secret carries
//! the annotations that keep the engines from pruning it or calling it out of
//! sync ([`SECRET_ANNOTATIONS`]). It reports object names and what happened,
//! never a value.

use serde_json::Value;

use super::apply::{prepare, scope_namespace};
use super::inventory::ApplySet;
use super::kube::{Cluster, ClusterError};
use crate::pipeline::gitops::{SECRET_ANNOTATIONS, out_of_git};
use crate::pipeline::manifest::{Manifest, Scope};

/// What happened to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It was not there: created.
    Created,
    /// It was there: left as it is.
    Kept,
}

/// One object `secrets apply` looked at: `Kind/namespace/name` and what
/// happened.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Bootstrapped {
    pub object: String,
    pub outcome: Outcome,
}

/// Creates the out-of-git Secrets of `scopes` that the cluster lacks (and
/// the namespaces they go in), in render order.
pub async fn bootstrap(
    cluster: &Cluster,
    manifests: &[Manifest],
    scopes: &[Scope],
) -> Result<Vec<Bootstrapped>, ClusterError> {
    let secrets: Vec<&Manifest> = manifests
        .iter()
        .filter(|m| scopes.contains(&m.origin.scope) && out_of_git(m))
        .collect();
    let mut done = Vec::new();
    let mut namespaces: Vec<&str> = Vec::new();
    for ns in secrets.iter().filter_map(|m| m.namespace()) {
        if !namespaces.contains(&ns) {
            namespaces.push(ns);
        }
    }
    for ns in namespaces {
        if let Some(namespace) = manifests
            .iter()
            .find(|m| m.kind() == "Namespace" && m.name() == ns)
        {
            done.push(create_once(cluster, manifests, namespace, false).await?);
        }
    }
    for secret in secrets {
        done.push(create_once(cluster, manifests, secret, true).await?);
    }
    Ok(done)
}

/// Creates `m` unless it exists; `annotate` adds [`SECRET_ANNOTATIONS`].
async fn create_once(
    cluster: &Cluster,
    manifests: &[Manifest],
    m: &Manifest,
    annotate: bool,
) -> Result<Bootstrapped, ClusterError> {
    let resource = cluster
        .resource(m.api_version(), m.kind())
        .await?
        .expect("every cluster serves Secrets and Namespaces");
    let found = |outcome| Bootstrapped {
        object: m.id(),
        outcome,
    };
    if cluster
        .get(&resource, m.namespace(), m.name())
        .await?
        .is_some()
    {
        return Ok(found(Outcome::Kept));
    }
    let mut object = m.object.clone();
    if annotate {
        for (key, value) in SECRET_ANNOTATIONS {
            object["metadata"]["annotations"][*key] = Value::String(value.to_string());
        }
    }
    let scope = &m.origin.scope;
    let namespace = scope_namespace(manifests, scope).unwrap_or_default();
    let body = prepare::body(&object, &ApplySet::new(scope, &namespace), None);
    cluster.apply(&resource, &body, false, false).await?;
    Ok(found(Outcome::Created))
}
