//! Argo CD's objects: an `Application` (argoproj.io/v1alpha1) per scope in
//! `argocd/`, a root app-of-apps per cluster in `clusters/NAME/cnvrgctl.yaml`,
//! and `argocd-cm.patch.yaml` for Argo CD's own settings. One Application per
//! scope rather than an ApplicationSet over the tenants: each scope's sync
//! wave and dependencies are its own, and a plain list is what the plan gives.
//!
//! Tracking is by annotation (Argo CD's default since 3.0, set explicitly in
//! the patch for older versions): Application names (`CLUSTER-cnvrg-SCOPE`)
//! never equal the `app.kubernetes.io/instance` label the objects carry, so
//! label tracking would neither relabel our objects nor claim the Secrets
//! `cnvrgctl secrets apply` makes. Argo CD has not assessed an Application's
//! health since 1.8; the patch adds that check back, without which the root's
//! waves would not wait for a scope to be healthy before the next.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::order::scope_waves;
use super::{Cluster, Options, WAVE, documents, object_name, repo_path, scope_dir};
use crate::pipeline::manifest::Scope;
use crate::pipeline::manifest::kinds::READY_CONDITIONS;

/// The namespace Argo CD runs in.
const NAMESPACE: &str = "argocd";
/// The cluster Argo CD runs in, as its Applications name it.
const IN_CLUSTER: &str = "https://kubernetes.default.svc";

/// Every Application syncs with server-side apply (as `apply` does) and
/// prunes last, after everything else is synced; namespaces are ours.
const SYNC_OPTIONS: &[&str] = &[
    "ServerSideApply=true",
    "CreateNamespace=false",
    "PruneLast=true",
];

/// The Argo CD files of `cluster`, under `dir`.
pub fn files(
    cluster: &Cluster,
    scopes: &BTreeMap<Scope, BTreeSet<Scope>>,
    options: &Options,
    dir: &Path,
    fleet: bool,
) -> BTreeMap<PathBuf, String> {
    let waves = scope_waves(scopes);
    let destination = match fleet {
        true => json!({"name": cluster.name}),
        false => json!({"server": IN_CLUSTER}),
    };
    let mut out = BTreeMap::new();
    for scope in scopes.keys() {
        let name = format!("{}-{}", cluster.name, object_name(scope));
        let path = repo_path(options, &dir.join(scope_dir(scope)));
        let app = application(&name, waves[scope], options, &path, destination.clone());
        let file = format!("{}.yaml", object_name(scope));
        out.insert(dir.join("argocd").join(file), documents(&[app]));
    }
    let root = application(
        &format!("{}-cnvrgctl", cluster.name),
        0,
        options,
        &repo_path(options, &dir.join("argocd")),
        json!({"server": IN_CLUSTER, "namespace": NAMESPACE}),
    );
    out.insert(
        Path::new("clusters")
            .join(cluster.name)
            .join("cnvrgctl.yaml"),
        documents(&[root]),
    );
    out
}

/// One automated Application of the directory at `path`.
fn application(name: &str, wave: u32, options: &Options, path: &str, destination: Value) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "labels": {
                crate::pipeline::manifest::keys::MANAGED_BY: crate::pipeline::manifest::MANAGER,
            },
            "annotations": {WAVE: wave.to_string()},
        },
        "spec": {
            "project": "default",
            "source": {
                "repoURL": options.repo_url.clone().unwrap_or_default(),
                "targetRevision": options.revision,
                "path": path,
            },
            "destination": destination,
            "syncPolicy": {
                "automated": {"prune": true, "selfHeal": true},
                "syncOptions": SYNC_OPTIONS,
                "retry": {
                    "limit": 5,
                    "backoff": {"duration": "30s", "factor": 2, "maxDuration": "5m"},
                },
            },
        },
    })
}

/// The `argocd-cm` patch: annotation tracking, the Application health check
/// and one for each custom kind of the clusters whose readiness is a set of
/// conditions.
pub fn config_patch(clusters: &[Cluster]) -> String {
    let mut data = serde_json::Map::new();
    data.insert(
        "application.resourceTrackingMethod".into(),
        "annotation".into(),
    );
    data.insert(
        "resource.customizations.health.argoproj.io_Application".into(),
        APPLICATION_HEALTH.into(),
    );
    for (group, kind, conditions) in READY_CONDITIONS {
        let rendered = clusters
            .iter()
            .flat_map(|c| c.manifests.iter())
            .any(|m| m.group() == *group && m.kind() == *kind);
        if rendered {
            data.insert(
                format!("resource.customizations.health.{group}_{kind}"),
                conditions_health(conditions).into(),
            );
        }
    }
    let patch = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "argocd-cm", "namespace": NAMESPACE},
        "data": data,
    });
    let mut out = String::from(
        "# Written by cnvrgctl render --out --gitops argocd. Merge into Argo CD's\n\
         # settings once (see README.md):\n\
         #   kubectl -n argocd patch configmap argocd-cm --type merge --patch-file argocd-cm.patch.yaml\n",
    );
    out.push_str(&crate::pipeline::yaml::to_string(&patch));
    out
}

/// An Application is as healthy as it says (the check Argo CD 1.8 removed).
const APPLICATION_HEALTH: &str = r#"hs = {status = "Progressing", message = ""}
if obj.status ~= nil and obj.status.health ~= nil then
  hs.status = obj.status.health.status
  if obj.status.health.message ~= nil then
    hs.message = obj.status.health.message
  end
end
return hs
"#;

/// Healthy when every condition in `wanted` is True; Progressing, saying
/// which, until then.
fn conditions_health(wanted: &[&str]) -> String {
    let list: Vec<String> = wanted.iter().map(|c| format!("\"{c}\"")).collect();
    format!(
        r#"local wanted = {{{}}}
local conditions = {{}}
if obj.status ~= nil and obj.status.conditions ~= nil then
  conditions = obj.status.conditions
end
for _, want in ipairs(wanted) do
  local found = nil
  for _, c in ipairs(conditions) do
    if c.type == want then
      found = c
    end
  end
  if found == nil then
    return {{status = "Progressing", message = "waiting for condition " .. want}}
  end
  if found.status ~= "True" then
    return {{status = "Progressing", message = want .. " is " .. found.status .. ": " .. (found.message or "")}}
  end
end
return {{status = "Healthy", message = ""}}
"#,
        list.join(", ")
    )
}
