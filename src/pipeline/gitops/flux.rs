//! Flux's objects for one cluster: a `Kustomization`
//! (kustomize.toolkit.fluxcd.io/v1) per scope in `flux/`, and the cluster's
//! root in `clusters/NAME/cnvrgctl.yaml` (a `Kustomization` of `flux/`, with
//! a `GitRepository` when `--repo-url` names the repository). Each scope's
//! Kustomization prunes, waits for everything it applied (server-side apply
//! is Flux's own way), `dependsOn` the scopes the plan says it waits for, and
//! checks the custom resources whose readiness is a set of conditions with
//! CEL (`healthCheckExprs`, kustomize-controller v1.5 / Flux 2.5 and later).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::{Cluster, Options, documents, object_name, repo_path, scope_dir};
use crate::pipeline::manifest::Scope;
use crate::pipeline::manifest::kinds::READY_CONDITIONS;

/// The namespace Flux runs in (and its bootstrap's `GitRepository`'s name).
const NAMESPACE: &str = "flux-system";
/// The name of the `GitRepository` written for `--repo-url`.
const SOURCE: &str = "cnvrgctl";
/// How often Flux reconciles, retries and how long it waits per scope
/// (`timeout` matches `apply`'s default `--timeout`).
const INTERVAL: &str = "10m";
const RETRY_INTERVAL: &str = "2m";
const TIMEOUT: &str = "15m";

/// The Flux files of `cluster`, under `dir` (its directory inside DIR).
pub fn files(
    cluster: &Cluster,
    scopes: &BTreeMap<Scope, BTreeSet<Scope>>,
    options: &Options,
    dir: &Path,
) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    for (scope, after) in scopes {
        let object = kustomization(cluster, scope, after, options, dir);
        let file = format!("{}.yaml", object_name(scope));
        out.insert(dir.join("flux").join(file), documents(&[object]));
    }
    out.insert(
        Path::new("clusters")
            .join(cluster.name)
            .join("cnvrgctl.yaml"),
        documents(&root(cluster.name, options, dir)),
    );
    out
}

/// Where the Kustomizations get their files from.
fn source_ref(options: &Options) -> Value {
    let name = match options.repo_url {
        Some(_) => SOURCE,
        None => NAMESPACE,
    };
    json!({"kind": "GitRepository", "name": name})
}

fn metadata(name: &str) -> Value {
    json!({
        "name": name,
        "namespace": NAMESPACE,
        "labels": {
            crate::pipeline::manifest::keys::MANAGED_BY: crate::pipeline::manifest::MANAGER,
        },
    })
}

/// One scope's Kustomization.
fn kustomization(
    cluster: &Cluster,
    scope: &Scope,
    after: &BTreeSet<Scope>,
    options: &Options,
    dir: &Path,
) -> Value {
    let mut spec = json!({
        "interval": INTERVAL,
        "retryInterval": RETRY_INTERVAL,
        "timeout": TIMEOUT,
        "sourceRef": source_ref(options),
        "path": repo_path(options, &dir.join(scope_dir(scope))),
        "prune": true,
        "wait": true,
    });
    if !after.is_empty() {
        let names: Vec<Value> = after
            .iter()
            .map(|s| json!({"name": object_name(s)}))
            .collect();
        spec["dependsOn"] = Value::Array(names);
    }
    let checks = health_checks(cluster, scope);
    if !checks.is_empty() {
        spec["healthCheckExprs"] = Value::Array(checks);
    }
    json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": metadata(&object_name(scope)),
        "spec": spec,
    })
}

/// A CEL check per custom kind of the scope whose readiness is a set of
/// conditions ([`READY_CONDITIONS`]): current when every one is True.
fn health_checks(cluster: &Cluster, scope: &Scope) -> Vec<Value> {
    let mut seen = BTreeSet::new();
    let mut checks = Vec::new();
    for m in cluster
        .manifests
        .iter()
        .filter(|m| &m.origin.scope == scope)
    {
        let Some((_, _, conditions)) = READY_CONDITIONS
            .iter()
            .find(|(g, k, _)| *g == m.group() && *k == m.kind())
        else {
            continue;
        };
        if !seen.insert((m.api_version().to_string(), m.kind().to_string())) {
            continue;
        }
        let all: Vec<String> = conditions
            .iter()
            .map(|c| {
                format!(
                    "status.?conditions.orValue([]).exists(c, c.type == '{c}' && c.status == 'True')"
                )
            })
            .collect();
        checks.push(json!({
            "apiVersion": m.api_version(),
            "kind": m.kind(),
            "current": all.join(" && "),
        }));
    }
    checks
}

/// The cluster's root: the `GitRepository` (with `--repo-url`) and a
/// Kustomization of its `flux/` directory.
fn root(name: &str, options: &Options, dir: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(url) = &options.repo_url {
        out.push(json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": metadata(SOURCE),
            "spec": {"interval": "1m", "url": url, "ref": git_ref(&options.revision)},
        }));
    }
    out.push(json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": metadata(&format!("cnvrgctl-{name}")),
        "spec": {
            "interval": INTERVAL,
            "sourceRef": source_ref(options),
            "path": repo_path(options, &dir.join("flux")),
            "prune": true,
        },
    }));
    out
}

/// A revision as a Git reference: a full commit SHA, a `refs/...` name, or
/// a branch.
fn git_ref(revision: &str) -> Value {
    if revision.len() == 40 && revision.chars().all(|c| c.is_ascii_hexdigit()) {
        json!({"commit": revision})
    } else if revision.starts_with("refs/") {
        json!({"name": revision})
    } else {
        json!({"branch": revision})
    }
}
