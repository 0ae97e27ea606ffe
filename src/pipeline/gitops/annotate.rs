//! The per-object annotations that tell an engine the rules `apply` follows,
//! as one table per engine: Jobs, whose pod template is immutable, are
//! recreated when they change (Flux: forced; Argo CD: a `Sync` hook deleted
//! before it is made again); PVCs are never pruned; with Argo CD every object
//! carries its sync wave ([`super::order`]), and a custom resource whose CRD
//! comes in the same sync skips the dry run that would not find its kind.
//! Only the GitOps printer adds them: a plain `render` stays as it was.

use serde_json::Value;

use super::Engine;
use crate::pipeline::manifest::Manifest;

/// Argo CD's sync-wave annotation.
pub const WAVE: &str = "argocd.argoproj.io/sync-wave";

/// Annotation keys and values.
type Annotations = &'static [(&'static str, &'static str)];

/// What each engine adds to every object of a kind.
const RULES: &[(Engine, &str, Annotations)] = &[
    (
        Engine::Flux,
        "Job",
        &[("kustomize.toolkit.fluxcd.io/force", "enabled")],
    ),
    (
        Engine::Flux,
        "PersistentVolumeClaim",
        &[("kustomize.toolkit.fluxcd.io/prune", "disabled")],
    ),
    (
        Engine::ArgoCd,
        "Job",
        &[
            ("argocd.argoproj.io/hook", "Sync"),
            (
                "argocd.argoproj.io/hook-delete-policy",
                "BeforeHookCreation",
            ),
        ],
    ),
    (
        Engine::ArgoCd,
        "PersistentVolumeClaim",
        &[("argocd.argoproj.io/sync-options", "Prune=false")],
    ),
];

/// What a custom resource whose CRD is in the same render gets with Argo CD.
const CUSTOM_RESOURCE_BESIDE_ITS_CRD: (&str, &str) = (
    "argocd.argoproj.io/sync-options",
    "SkipDryRunOnMissingResource=true",
);

/// What `cnvrgctl secrets apply` puts on the Secrets it creates, which are
/// not in git: neither engine prunes them, and Argo CD does not count them
/// as out of sync.
pub const SECRET_ANNOTATIONS: &[(&str, &str)] = &[
    ("kustomize.toolkit.fluxcd.io/prune", "disabled"),
    ("argocd.argoproj.io/sync-options", "Prune=false"),
    ("argocd.argoproj.io/compare-options", "IgnoreExtraneous"),
];

/// `m` with the annotations `engine` reads; `wave` is its sync wave.
pub fn annotated(m: &Manifest, engine: Engine, all: &[Manifest], wave: u32) -> Manifest {
    let mut out = m.clone();
    let mut add: Vec<(&str, String)> = RULES
        .iter()
        .filter(|(e, kind, _)| *e == engine && *kind == m.kind())
        .flat_map(|(_, _, pairs)| pairs.iter().map(|(k, v)| (*k, v.to_string())))
        .collect();
    if engine == Engine::ArgoCd {
        add.push((WAVE, wave.to_string()));
        if crd_in_render(m, all) {
            let (k, v) = CUSTOM_RESOURCE_BESIDE_ITS_CRD;
            add.push((k, v.to_string()));
        }
    }
    for (key, value) in add {
        out.object["metadata"]["annotations"][key] = Value::String(value);
    }
    out
}

/// Whether a CRD of the render defines `m`'s kind.
fn crd_in_render(m: &Manifest, all: &[Manifest]) -> bool {
    all.iter().any(|crd| {
        crd.kind() == "CustomResourceDefinition"
            && crd.object["spec"]["group"] == m.group()
            && crd.object["spec"]["names"]["kind"] == m.kind()
    })
}
