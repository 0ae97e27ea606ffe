//! Owners: the render's cluster-scoped objects (CRDs, Namespaces, storage
//! classes, cluster roles) that already exist on the cluster but are not
//! cnvrgctl's, by the rule apply uses ([`prepare::owned`]). Each kind is
//! listed once, cluster-wide. A foreign object apply would refuse is a `fail`
//! naming who made it (field managers, Helm's release annotations, the
//! `managed-by` label) and the spec field that turns our copy off (an Istio or
//! prometheus-operator already there), else `--force-conflicts` to adopt it.
//! A foreign Namespace, which apply takes over, is a `warn`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{Context, Read, Row};
use crate::engine::apply::{prepare, scope_namespaces};
use crate::engine::inventory::ApplySet;
use crate::pipeline::manifest::{Manifest, Scope, keys};

const CHECK: &str = "owners";

const HELM_RELEASE: &str = "meta.helm.sh/release-name";
const HELM_NAMESPACE: &str = "meta.helm.sh/release-namespace";

/// The spec field that leaves out an infra component, so that the copy
/// already on the cluster is used instead: (component, field).
const TURNED_OFF_BY: &[(&str, &str)] = &[
    ("istio-crds", "spec.infra.istio.enabled: false"),
    ("istiod", "spec.infra.istio.enabled: false"),
    ("istio-gateway", "spec.infra.istio.enabled: false"),
    ("monitoring-crds", "spec.infra.monitoring.enabled: false"),
    (
        "prometheus-operator",
        "spec.infra.monitoring.enabled: false",
    ),
    ("prometheus", "spec.infra.monitoring.enabled: false"),
    ("kube-state-metrics", "spec.infra.monitoring.enabled: false"),
    ("node-exporter", "spec.infra.monitoring.enabled: false"),
    (
        "hostpath-provisioner",
        "spec.infra.storage.hostpath.enabled: false",
    ),
    ("nfs-provisioner", "spec.infra.storage.nfs.enabled: false"),
    ("fluent-bit", "spec.infra.logging.enabled: false"),
];

pub(super) async fn check(cx: &Context<'_>) -> Vec<Row> {
    let objects: Vec<&Manifest> = cx
        .manifests
        .iter()
        .filter(|m| m.namespace().is_none())
        .collect();
    let kinds: BTreeSet<(&str, &str)> = objects
        .iter()
        .map(|m| (m.api_version(), m.kind()))
        .collect();
    let mut live: BTreeMap<(&str, String), Value> = BTreeMap::new();
    let mut rows = Vec::new();
    for (api_version, kind) in kinds {
        match cx.list(api_version, kind, None).await {
            Read::Found(list) => live.extend(list.iter().map(|o| {
                let name = o["metadata"]["name"].as_str().unwrap_or_default();
                ((kind, name.to_string()), o.clone())
            })),
            Read::NotServed => {}
            Read::Refused(reason) => rows.push(Row::refused(CHECK, kind, &reason)),
        }
    }
    let found: Vec<(&Manifest, Option<&Value>)> = objects
        .iter()
        .map(|m| (*m, live.get(&(m.kind(), m.name().to_string()))))
        .collect();
    rows.extend(judge(&found, cx.manifests));
    rows
}

/// The rows for the render's cluster-scoped objects and their live copies;
/// `manifests` (the whole render) give each scope its ApplySet.
fn judge(found: &[(&Manifest, Option<&Value>)], manifests: &[Manifest]) -> Vec<Row> {
    let namespaces = scope_namespaces(manifests);
    let set = |scope: &Scope| {
        let namespace = namespaces.get(scope).copied().unwrap_or("default");
        ApplySet::new(scope, namespace)
    };
    let (mut ours, mut new) = (0, 0);
    let mut rows = Vec::new();
    for (m, live) in found {
        let Some(live) = live else {
            new += 1;
            continue;
        };
        if prepare::owned(live, &set(&m.origin.scope)) {
            ours += 1;
            continue;
        }
        let made_by = owner(live);
        rows.push(if prepare::taken_without_force(m.kind()) {
            Row::warn(
                CHECK,
                m.id(),
                format!("exists, made by {made_by}; apply will manage it (its labels and annotations) from now on"),
                format!("nothing to change if it is meant for cnvrgctl; else set another namespace ({})", namespace_field(&m.origin.scope)),
            )
        } else {
            Row::fail(
                CHECK,
                m.id(),
                format!("exists and is not cnvrgctl's: made by {made_by}; apply would refuse it"),
                fix(m),
            )
        });
    }
    if ours + new > 0 || rows.is_empty() {
        rows.push(Row::pass(
            CHECK,
            "-",
            format!("{ours} cluster-scoped object(s) already cnvrgctl's, {new} to create"),
        ));
    }
    rows
}

/// Who made a live object: its Helm release, its `managed-by` label and its
/// field managers, whichever it has.
fn owner(live: &Value) -> String {
    let meta = &live["metadata"];
    let mut said = Vec::new();
    if let Some(release) = meta["annotations"][HELM_RELEASE].as_str() {
        let namespace = meta["annotations"][HELM_NAMESPACE]
            .as_str()
            .map(|ns| format!(" (namespace {ns})"))
            .unwrap_or_default();
        said.push(format!("Helm release {release}{namespace}"));
    }
    if let Some(by) = meta["labels"][keys::MANAGED_BY].as_str() {
        said.push(format!("managed-by {by}"));
    }
    let managers = prepare::other_managers(live);
    if !managers.is_empty() {
        said.push(format!("field managers {}", managers.join(", ")));
    }
    if said.is_empty() {
        "someone else (no field manager, no Helm release)".into()
    } else {
        said.join("; ")
    }
}

/// What to change for a foreign object: turn our copy off where the spec
/// can, else adopt it.
fn fix(m: &Manifest) -> String {
    let adopt = "pass --force-conflicts to adopt it (cnvrgctl then owns and changes it)";
    let field = TURNED_OFF_BY
        .iter()
        .find(|(component, _)| m.origin.scope == Scope::Infra && *component == m.origin.component)
        .map(|(_, field)| *field);
    match field {
        Some(field) => format!("set {field} to use the one already installed, or {adopt}"),
        None => format!("delete it, or {adopt}"),
    }
}

fn namespace_field(scope: &Scope) -> String {
    match scope {
        Scope::Infra => "spec.infra.namespace".into(),
        Scope::Tenant(name) => format!("the namespace of tenant {name} in spec.tenants"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::preflight::Level;
    use crate::pipeline::manifest::Origin;
    use serde_json::json;

    fn manifest(kind: &str, name: &str, scope: Scope, component: &str) -> Manifest {
        Manifest {
            object: json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}}),
            origin: Origin {
                scope,
                component: component.into(),
                template: "t".into(),
            },
        }
    }

    fn crd() -> Manifest {
        manifest(
            "CustomResourceDefinition",
            "gateways.networking.istio.io",
            Scope::Infra,
            "istio-crds",
        )
    }

    #[test]
    fn a_crd_helm_installed_fails_naming_the_release_and_the_switch() {
        let live = json!({"metadata": {
            "name": "gateways.networking.istio.io",
            "labels": {"app.kubernetes.io/managed-by": "Helm"},
            "annotations": {HELM_RELEASE: "istio-base", HELM_NAMESPACE: "istio-system"},
            "managedFields": [{"manager": "helm"}]}});
        let rows = judge(&[(&crd(), Some(&live))], &[crd()]);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].level, Level::Fail);
        assert_eq!(
            rows[0].subject,
            "CustomResourceDefinition/gateways.networking.istio.io"
        );
        assert_eq!(
            rows[0].detail,
            "exists and is not cnvrgctl's: made by Helm release istio-base (namespace istio-system); managed-by Helm; field managers helm; apply would refuse it"
        );
        let fix = rows[0].fix.as_deref().unwrap();
        assert!(fix.contains("spec.infra.istio.enabled: false"), "{fix}");
        assert!(fix.contains("--force-conflicts"), "{fix}");
    }

    #[test]
    fn an_object_without_a_switch_is_adopted_by_force() {
        let role = manifest("ClusterRole", "x", Scope::Tenant("a".into()), "quota");
        let live = json!({"metadata": {"name": "x", "managedFields": [{"manager": "kubectl-client-side-apply"}]}});
        let rows = judge(&[(&role, Some(&live))], std::slice::from_ref(&role));
        assert_eq!(rows[0].level, Level::Fail);
        assert!(rows[0].detail.contains("kubectl-client-side-apply"));
        assert!(rows[0].fix.as_deref().unwrap().starts_with("delete it, or"));
    }

    #[test]
    fn a_namespace_someone_made_is_a_warning_naming_them() {
        let ns = manifest(
            "Namespace",
            "research",
            Scope::Tenant("research".into()),
            "namespace",
        );
        let live = json!({"metadata": {"name": "research", "managedFields": [{"manager": "kubectl-create"}]}});
        let rows = judge(&[(&ns, Some(&live))], std::slice::from_ref(&ns));
        assert_eq!(rows[0].level, Level::Warn);
        assert!(
            rows[0]
                .detail
                .contains("made by field managers kubectl-create")
        );
        assert!(rows[0].fix.as_deref().unwrap().contains("tenant research"));
    }

    #[test]
    fn ours_and_new_ones_are_one_pass_row() {
        let ns = manifest("Namespace", "cnvrg-infra", Scope::Infra, "namespace");
        let ours = json!({"metadata": {"name": "gateways.networking.istio.io", "managedFields": [{"manager": "cnvrgctl"}]}});
        let all = [crd(), ns.clone()];
        let rows = judge(&[(&crd(), Some(&ours)), (&ns, None)], &all);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].level, Level::Pass);
        assert_eq!(
            rows[0].detail,
            "1 cluster-scoped object(s) already cnvrgctl's, 1 to create"
        );
    }
}
