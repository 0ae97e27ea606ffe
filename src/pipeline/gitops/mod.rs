//! `render --out DIR --gitops flux|argocd`: the render and the plan handed to
//! a GitOps engine. Another printer of the same objects (DESIGN §11): the
//! scope directories of [`crate::pipeline::output::dir_files`], each object
//! carrying the engine's annotations for the rules `apply` follows (order,
//! Jobs recreated, PVCs kept: [`annotate`]), beside the engine's own objects
//! ([`flux`], [`argocd`]) whose order comes from the plan ([`order`]) and a
//! README that says how to bootstrap. Secrets whose values cnvrgctl fills on
//! apply never go to the directory ([`out_of_git`]): `cnvrgctl secrets apply`
//! creates them on the cluster. Pure: clusters in, relative path → text out;
//! writing is `output::write_files`' job.

mod annotate;
mod argocd;
mod flux;
mod guide;
mod order;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::pipeline::manifest::{Manifest, Scope, keys};
use crate::pipeline::plan::Plan;
use crate::pipeline::render::{GENERATED, SET_ON_APPLY};

pub use annotate::{SECRET_ANNOTATIONS, WAVE};
pub use order::{scope_dependencies, waves};

/// The engine the directory is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Flux: one `Kustomization` (kustomize.toolkit.fluxcd.io/v1) per scope.
    Flux,
    /// Argo CD: one `Application` (argoproj.io/v1alpha1) per scope.
    ArgoCd,
}

/// Where the engine finds the directory once it is committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub engine: Engine,
    /// The Git repository the directory is committed to (Argo CD needs it;
    /// with Flux, a `GitRepository` is written for it, else the engine's own
    /// `flux-system` source is used).
    pub repo_url: Option<String>,
    /// The branch, tag or commit to follow.
    pub revision: String,
    /// The directory's path inside the repository (`""`: its root).
    pub path_prefix: String,
}

/// One cluster to write: its spec's `metadata.name`, its objects and plan.
pub struct Cluster<'a> {
    pub name: &'a str,
    pub manifests: &'a [Manifest],
    pub plan: &'a Plan,
}

/// Why a GitOps directory cannot be written.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GitopsError {
    /// Two specs name the same cluster.
    #[error(
        "two specs name the cluster `{name}`: {} and {}; each cluster of a fleet needs its own `metadata.name`",
        .first.display(), .second.display()
    )]
    DuplicateCluster {
        name: String,
        first: PathBuf,
        second: PathBuf,
    },
    /// Argo CD's Applications must name the repository.
    #[error(
        "--gitops argocd needs --repo-url: an Argo CD Application names the Git repository it syncs from"
    )]
    NoRepository,
}

/// Secret types that always hold a credential cnvrgctl is given (the
/// registry pull secret): never in git, whatever the render put in them.
const CREDENTIAL_TYPES: &[&str] = &["kubernetes.io/dockerconfigjson"];

/// Whether a Secret's values are filled on apply (generated once, or the
/// registry password): such a Secret never goes to git.
pub fn out_of_git(m: &Manifest) -> bool {
    if m.kind() != "Secret" || m.group() != "" {
        return false;
    }
    let declared = m.object["metadata"]["annotations"][keys::GENERATED_KEYS].is_string()
        || m.object["type"]
            .as_str()
            .is_some_and(|t| CREDENTIAL_TYPES.contains(&t));
    let placeholder = |v: &Value| {
        v.as_str()
            .is_some_and(|s| s.contains(GENERATED) || s.contains(SET_ON_APPLY))
    };
    declared
        || m.object["stringData"]
            .as_object()
            .is_some_and(|data| data.values().any(placeholder))
}

/// Refused when two specs name the same cluster (a fleet's directories are
/// named after them): `(metadata.name, spec file)` of each.
pub fn distinct_names(named: &[(&str, &Path)]) -> Result<(), GitopsError> {
    for (i, (name, file)) in named.iter().enumerate() {
        if let Some((_, first)) = named[..i].iter().find(|(n, _)| n == name) {
            return Err(GitopsError::DuplicateCluster {
                name: name.to_string(),
                first: first.to_path_buf(),
                second: file.to_path_buf(),
            });
        }
    }
    Ok(())
}

/// The directory of a cluster inside DIR: DIR itself for one cluster, a
/// directory named after it in a fleet.
fn cluster_dir(name: &str, fleet: bool) -> PathBuf {
    match fleet {
        true => PathBuf::from(name),
        false => PathBuf::new(),
    }
}

/// A repository path as the engines write it: `./prefix/rel`, with `/`.
fn repo_path(options: &Options, rel: &Path) -> String {
    let mut parts: Vec<String> = options
        .path_prefix
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .map(str::to_string)
        .collect();
    parts.extend(
        rel.components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    format!("./{}", parts.join("/"))
}

/// The files of the GitOps directory for `clusters` (more than one: a
/// fleet, each in a directory of its own): relative path → content.
pub fn files(
    clusters: &[Cluster],
    options: &Options,
) -> Result<BTreeMap<PathBuf, String>, GitopsError> {
    if options.engine == Engine::ArgoCd && options.repo_url.is_none() {
        return Err(GitopsError::NoRepository);
    }
    let fleet = clusters.len() > 1;
    let mut out = BTreeMap::new();
    for cluster in clusters {
        let dir = cluster_dir(cluster.name, fleet);
        let waves = waves(cluster.manifests, cluster.plan);
        let kept: Vec<Manifest> = cluster
            .manifests
            .iter()
            .zip(&waves)
            .filter(|(m, _)| !out_of_git(m))
            .map(|(m, wave)| annotate::annotated(m, options.engine, cluster.manifests, *wave))
            .collect();
        for (rel, text) in crate::pipeline::output::dir_files(&kept) {
            out.insert(dir.join(rel), text);
        }
        let scopes = scope_dependencies(cluster.manifests, cluster.plan);
        let engine_files = match options.engine {
            Engine::Flux => flux::files(cluster, &scopes, options, &dir),
            Engine::ArgoCd => argocd::files(cluster, &scopes, options, &dir, fleet),
        };
        out.extend(engine_files);
    }
    if options.engine == Engine::ArgoCd {
        out.insert(
            PathBuf::from("argocd-cm.patch.yaml"),
            argocd::config_patch(clusters),
        );
    }
    let names: Vec<&str> = clusters.iter().map(|c| c.name).collect();
    out.insert(PathBuf::from("README.md"), guide::readme(options, &names));
    Ok(out)
}

/// The directory of a scope inside a cluster's directory (as in
/// `output::dir_files`).
fn scope_dir(scope: &Scope) -> PathBuf {
    match scope {
        Scope::Infra => PathBuf::from("infra"),
        Scope::Tenant(name) => Path::new("tenants").join(name),
    }
}

/// The name of a scope's engine object: `cnvrg-infra`, `cnvrg-tenant-NAME`
/// (prefixed with the cluster's name for Argo CD, whose Applications of a
/// fleet share one namespace).
fn object_name(scope: &Scope) -> String {
    match scope {
        Scope::Infra => "cnvrg-infra".to_string(),
        Scope::Tenant(name) => format!("cnvrg-tenant-{name}"),
    }
}

/// One YAML document per value, with the header every written file has.
fn documents(values: &[Value]) -> String {
    let mut out = String::from(
        "# Written by cnvrgctl render --out --gitops; do not edit, re-render instead.\n",
    );
    for v in values {
        out.push_str("---\n");
        out.push_str(&crate::pipeline::yaml::to_string(v));
    }
    out
}

#[cfg(test)]
mod tests;
