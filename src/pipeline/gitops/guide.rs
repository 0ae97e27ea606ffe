//! The README written at the top of a GitOps directory: what is where, and
//! the steps to hand it to the engine (bootstrap the secrets once per
//! cluster, then commit). Pure text.

use super::{Engine, Options};

/// The README for a directory of `clusters` (one: no fleet).
pub fn readme(options: &Options, clusters: &[&str]) -> String {
    let fleet = clusters.len() > 1;
    let (engine, objects) = match options.engine {
        Engine::Flux => ("Flux", "flux/"),
        Engine::ArgoCd => ("Argo CD", "argocd/"),
    };
    let mut out = format!(
        "# Platform manifests for {engine}\n\n\
         Written by `cnvrgctl render --out --gitops`; do not edit, re-render instead.\n\n"
    );
    out.push_str("## Layout\n\n");
    let inside = if fleet { "CLUSTER/" } else { "" };
    out.push_str(&format!(
        "- `{inside}infra/`, `{inside}tenants/NAME/`: one directory per scope, one file per component, with a `kustomization.yaml`.\n\
         - `{inside}{objects}`: the {engine} objects, one per scope, in the order of `cnvrgctl render --plan`.\n\
         - `clusters/CLUSTER/cnvrgctl.yaml`: the cluster's root object, which applies `{inside}{objects}`.\n"
    ));
    if options.engine == Engine::ArgoCd {
        out.push_str("- `argocd-cm.patch.yaml`: settings Argo CD needs (annotation tracking, health checks).\n");
    }
    out.push_str(
        "\nSecrets whose values cnvrgctl generates (database passwords, keys) and the registry \
         pull secret are not here: they never go to git.\n\n## Steps, once per cluster\n\n\
         1. Create the secrets on the cluster (created once, never overwritten; values never printed):\n\n\
         ```\ncnvrgctl secrets apply -f cluster.yaml\n```\n\n",
    );
    match options.engine {
        Engine::Flux => out.push_str(
            "2. Commit this directory, then point the cluster's Flux at `clusters/CLUSTER/` \
             (e.g. `flux bootstrap git ... --path=clusters/CLUSTER`, with the path prefix if any), \
             or apply `clusters/CLUSTER/cnvrgctl.yaml` to a cluster already bootstrapped.\n\n\
             Needs Flux 2.5 or later (kustomize-controller v1.5: `healthCheckExprs`).\n",
        ),
        Engine::ArgoCd => out.push_str(
            "2. Once per Argo CD, merge the settings:\n\n\
             ```\nkubectl -n argocd patch configmap argocd-cm --type merge --patch-file argocd-cm.patch.yaml\n```\n\n\
             3. Commit this directory, then apply the root: `kubectl -n argocd apply -f clusters/CLUSTER/cnvrgctl.yaml`.\n",
        ),
    }
    if fleet && options.engine == Engine::ArgoCd {
        out.push_str(
            "\nIn a fleet, each cluster's Applications send to the cluster Argo CD knows by the \
             spec's `metadata.name`: register each cluster under that name (`argocd cluster add CONTEXT --name CLUSTER`).\n",
        );
    }
    out.push_str("\nClusters: ");
    out.push_str(&clusters.join(", "));
    out.push('\n');
    out
}
