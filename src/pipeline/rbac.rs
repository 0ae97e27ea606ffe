//! The least privilege cnvrgctl's own user needs, derived from what the spec
//! renders: a ClusterRole for running everything (`cnvrgctl rbac`), or, for
//! one tenant (`--scope tenant/NAME`), a Role in its namespace plus the few
//! cluster-wide reads the tenant commands make. Each rendered kind gets the
//! verbs server-side apply, waiting and pruning use; a fixed table adds what
//! the engine reads besides (Pods, their logs and port-forward, Events,
//! StorageClasses for volume binding, the inventories' ConfigMaps). Pure.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::pipeline::manifest::{Manifest, Scope};

/// What applying, waiting and pruning a rendered kind takes: server-side
/// apply is `patch` (and `create` for a new object), waits are `list` +
/// `watch`, prune is `delete`.
const APPLY: &[&str] = &["get", "list", "watch", "create", "patch", "delete"];
const READ: &[&str] = &["get", "list", "watch"];

/// What the engine touches besides the rendered kinds: (group, resource,
/// verbs, cluster-wide only, why).
const EXTRA: &[(&str, &str, &[&str], bool, &str)] = &[
    (
        "",
        "configmaps",
        APPLY,
        false,
        "the ApplySet inventory of each scope",
    ),
    (
        "",
        "pods",
        READ,
        false,
        "readiness of workloads and their pods' troubles",
    ),
    (
        "",
        "pods/log",
        &["get"],
        false,
        "the log tail of a failed Job",
    ),
    (
        "",
        "pods/portforward",
        &["get", "create"],
        false,
        "cnvrgctl port-forward",
    ),
    (
        "",
        "events",
        &["list", "watch"],
        false,
        "Warning events of what is stuck",
    ),
    (
        "",
        "persistentvolumeclaims",
        APPLY,
        false,
        "volumes of StatefulSets (kept unless --delete-data)",
    ),
    (
        "",
        "namespaces",
        READ,
        true,
        "which namespaces exist and are Active",
    ),
    (
        "",
        "configmaps",
        &["list"],
        true,
        "finding installed scopes (tenant list, uninstall)",
    ),
    (
        "storage.k8s.io",
        "storageclasses",
        &["list"],
        true,
        "WaitForFirstConsumer volume binding",
    ),
    (
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        READ,
        true,
        "custom resources wait for their CRD",
    ),
];

/// Creating Roles and bindings that grant more than one holds needs these.
const ESCALATE: &[&str] = &["bind", "escalate"];

/// The resource name of a rendered kind: the built-in table, the plural a CRD
/// of this render declares, else the usual lower-case plural.
fn resource(m: &Manifest, crds: &BTreeMap<(String, String), String>) -> (String, bool) {
    if let Some((plural, namespaced)) =
        crate::pipeline::validate::built_in(m.api_version(), m.kind())
    {
        return (plural.to_string(), namespaced);
    }
    let key = (m.group().to_string(), m.kind().to_string());
    let plural = crds.get(&key).cloned().unwrap_or_else(|| {
        let lower = m.kind().to_ascii_lowercase();
        match lower.strip_suffix('y') {
            Some(stem) if !stem.ends_with(['a', 'e', 'o', 'u']) => format!("{stem}ies"),
            _ if lower.ends_with('s') => format!("{lower}es"),
            _ => format!("{lower}s"),
        }
    });
    (plural, m.namespace().is_some())
}

/// The resource name (plural) of `m`, among the objects of `manifests`.
pub fn plural(m: &Manifest, manifests: &[Manifest]) -> String {
    resource(m, &crd_plurals(manifests)).0
}

/// `(group, kind) → plural` of the CRDs in `manifests`.
fn crd_plurals(manifests: &[Manifest]) -> BTreeMap<(String, String), String> {
    manifests
        .iter()
        .filter(|m| m.kind() == "CustomResourceDefinition")
        .filter_map(|m| {
            let spec = &m.object["spec"];
            Some((
                (
                    spec["group"].as_str()?.to_string(),
                    spec["names"]["kind"].as_str()?.to_string(),
                ),
                spec["names"]["plural"].as_str()?.to_string(),
            ))
        })
        .collect()
}

/// Rules as `(group, verbs) → resources`, merged so each line reads simply.
type Rules = BTreeMap<(String, Vec<&'static str>), BTreeSet<String>>;

/// Rules on named objects: `(group, resource, verbs) → resourceNames`.
type Named = BTreeMap<(String, String, Vec<&'static str>), BTreeSet<String>>;

/// The grants as rules: the named ones apart, one rule per resource.
fn rules_of<'a>(grants: impl Iterator<Item = &'a Grant>) -> (Rules, Named) {
    let mut rules = Rules::new();
    let mut named = Named::new();
    for g in grants {
        match &g.name {
            Some(name) => {
                named
                    .entry((g.group.clone(), g.resource.clone(), g.verbs.to_vec()))
                    .or_default()
                    .insert(name.clone());
            }
            None => add(&mut rules, &g.group, &g.resource, g.verbs),
        }
    }
    (rules, named)
}

fn named_json(named: &Named) -> impl Iterator<Item = Value> + '_ {
    named.iter().map(|((group, resource, verbs), names)| {
        json!({"apiGroups": [group], "resources": [resource], "verbs": verbs, "resourceNames": names})
    })
}

fn add(rules: &mut Rules, group: &str, resource: &str, verbs: &[&'static str]) {
    rules
        .entry((group.to_string(), verbs.to_vec()))
        .or_default()
        .insert(resource.to_string());
}

fn rules_json(rules: &Rules) -> Vec<Value> {
    // A resource a rule of the same group already grants more on is dropped.
    let covered = |group: &str, verbs: &[&str], resource: &str| {
        rules.iter().any(|((g, vs), rs)| {
            g == group
                && vs.len() > verbs.len()
                && verbs.iter().all(|v| vs.contains(v))
                && rs.contains(resource)
        })
    };
    let mut rules: Rules = rules
        .iter()
        .map(|((group, verbs), resources)| {
            let kept = resources
                .iter()
                .filter(|r| !covered(group, verbs, r))
                .cloned()
                .collect();
            ((group.clone(), verbs.clone()), kept)
        })
        .collect();
    rules.retain(|_, resources: &mut BTreeSet<String>| !resources.is_empty());
    rules
        .iter()
        .map(|((group, verbs), resources)| {
            json!({"apiGroups": [group], "resources": resources, "verbs": verbs})
        })
        .collect()
}

/// Access a run needs to one resource: the verbs, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub group: String,
    /// The plural, or `plural/subresource`.
    pub resource: String,
    pub verbs: &'static [&'static str],
    /// `None`: cluster-wide (a cluster-scoped resource, or a read across
    /// namespaces).
    pub namespace: Option<String>,
    /// Only this object (`resourceNames`), else every one.
    pub name: Option<String>,
}

/// What a run over `manifests` does, resource by resource: each rendered kind
/// with the verbs apply, waits and prune use, in its namespace, and the
/// engine's own reads ([`EXTRA`]) in every namespace of the run or
/// cluster-wide. For one tenant (`tenant`: only its objects), cluster-scoped
/// objects are only read: an admin's first apply made them.
fn grants(manifests: &[Manifest], tenant: Option<&Scope>) -> Vec<Grant> {
    let crds = crd_plurals(manifests);
    let mut out = Vec::new();
    let mut namespaces = BTreeSet::new();
    let mine = manifests
        .iter()
        .filter(|m| tenant.is_none_or(|scope| &m.origin.scope == scope));
    for m in mine {
        let (plural, namespaced) = resource(m, &crds);
        let namespace = m.namespace().filter(|_| namespaced).map(str::to_string);
        let verbs = if tenant.is_some() && namespace.is_none() {
            READ
        } else {
            APPLY
        };
        let grant = |verbs| Grant {
            group: m.group().to_string(),
            resource: plural.clone(),
            verbs,
            namespace: namespace.clone(),
            name: None,
        };
        out.push(grant(verbs));
        if verbs == APPLY && matches!(m.kind(), "Role" | "ClusterRole") {
            out.push(grant(ESCALATE));
        }
        if verbs == APPLY {
            out.extend(bind_foreign_role(m, manifests, namespace.clone()));
        }
        if m.kind() == "Namespace" {
            namespaces.insert(m.name().to_string());
        }
        namespaces.extend(namespace);
    }
    for (group, resource, verbs, cluster_wide, _) in EXTRA {
        let wheres: Vec<Option<String>> = if *cluster_wide {
            vec![None]
        } else {
            namespaces.iter().cloned().map(Some).collect()
        };
        out.extend(wheres.into_iter().map(|namespace| Grant {
            group: group.to_string(),
            resource: resource.to_string(),
            verbs,
            namespace,
            name: None,
        }));
    }
    out
}

/// A binding to a ClusterRole the render does not make (OpenShift's
/// `system:openshift:scc:*`): creating it needs `bind` on that role, by name
/// (the API refuses a binding that grants what its creator does not hold).
fn bind_foreign_role(
    m: &Manifest,
    manifests: &[Manifest],
    namespace: Option<String>,
) -> Option<Grant> {
    let role = &m.object["roleRef"];
    let rendered = |name: &str| {
        manifests
            .iter()
            .any(|r| r.kind() == "ClusterRole" && r.name() == name)
    };
    let name = role["name"].as_str()?;
    (matches!(m.kind(), "RoleBinding" | "ClusterRoleBinding")
        && role["kind"] == "ClusterRole"
        && !rendered(name))
    .then(|| Grant {
        group: "rbac.authorization.k8s.io".into(),
        resource: "clusterroles".into(),
        verbs: &["bind"],
        namespace,
        name: Some(name.to_string()),
    })
}

/// What a run over `manifests` (the objects of the scopes it covers) needs:
/// the rules `cnvrgctl rbac` prints for those scopes — one tenant's roles when
/// they are one tenant's, else the whole ClusterRole's — each in the
/// namespace it is used in.
pub fn needs(manifests: &[Manifest]) -> Vec<Grant> {
    let scopes: BTreeSet<&Scope> = manifests.iter().map(|m| &m.origin.scope).collect();
    match scopes.into_iter().collect::<Vec<_>>()[..] {
        [scope @ Scope::Tenant(_)] => grants(manifests, Some(scope)),
        _ => grants(manifests, None),
    }
}

/// `(group, resource, verb, name)` as RBAC rules, one per group and verb
/// set, resources merged; named ones (`resourceNames`) apart.
pub fn rules(access: &[(String, String, &'static str, Option<String>)]) -> Vec<Value> {
    let mut verbs: BTreeMap<(&str, &str), BTreeSet<&'static str>> = BTreeMap::new();
    let mut named = Named::new();
    for (group, resource, verb, name) in access {
        match name {
            Some(name) => {
                named
                    .entry((group.clone(), resource.clone(), vec![*verb]))
                    .or_default()
                    .insert(name.clone());
            }
            None => {
                verbs.entry((group, resource)).or_default().insert(verb);
            }
        }
    }
    let mut rules = Rules::new();
    for ((group, resource), verbs) in verbs {
        let verbs: Vec<&'static str> = verbs.into_iter().collect();
        add(&mut rules, group, resource, &verbs);
    }
    rules_json(&rules)
        .into_iter()
        .chain(named_json(&named))
        .collect()
}

/// The ClusterRole that runs every command on everything `manifests` holds.
pub fn cluster_role(manifests: &[Manifest]) -> Value {
    let rules = rules_of(grants(manifests, None).iter());
    role_object("ClusterRole", "cnvrgctl", None, &rules)
}

/// For one tenant: a Role in its namespace (its namespaced kinds and the
/// engine's namespaced reads) and a ClusterRole with the cluster-wide reads.
/// Its Namespace and any cluster-scoped object must exist already (made by
/// an admin's first apply): with these rights cnvrgctl only reads them.
pub fn tenant_roles(manifests: &[Manifest], scope: &Scope, namespace: &str) -> Vec<Value> {
    let grants = grants(manifests, Some(scope));
    let namespaced = rules_of(grants.iter().filter(|g| g.namespace.is_some()));
    let cluster = rules_of(grants.iter().filter(|g| g.namespace.is_none()));
    let name = format!("cnvrgctl-{}", scope.instance());
    vec![
        role_object("Role", &name, Some(namespace), &namespaced),
        role_object("ClusterRole", &name, None, &cluster),
    ]
}

fn role_object(
    kind: &str,
    name: &str,
    namespace: Option<&str>,
    (rules, named): &(Rules, Named),
) -> Value {
    let mut metadata = json!({"name": name});
    if let Some(ns) = namespace {
        metadata["namespace"] = ns.into();
    }
    metadata["labels"] = json!({"app.kubernetes.io/managed-by": "cnvrgctl"});
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": metadata,
        "rules": rules_json(rules).into_iter().chain(named_json(named)).collect::<Vec<_>>(),
    })
}

/// Why each extra rule is there, for the printed comment.
pub fn reasons() -> Vec<String> {
    EXTRA
        .iter()
        .map(|(group, resource, verbs, _, why)| {
            let group = if group.is_empty() { "core" } else { group };
            format!("{resource} ({group}) {}: {why}", verbs.join(","))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::manifest::Origin;

    fn manifest(api_version: &str, kind: &str, namespace: Option<&str>) -> Manifest {
        let mut object =
            json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}});
        if let Some(ns) = namespace {
            object["metadata"]["namespace"] = ns.into();
        }
        Manifest {
            object,
            origin: Origin {
                scope: Scope::Tenant("ws".into()),
                component: "c".into(),
                template: "t".into(),
            },
        }
    }

    #[test]
    fn kinds_become_resources_with_the_verbs_apply_needs() {
        let ms = [
            manifest("apps/v1", "Deployment", Some("ws")),
            manifest("networking.k8s.io/v1", "NetworkPolicy", Some("ws")),
            manifest("networking.istio.io/v1", "Gateway", Some("ws")),
            manifest("networking.istio.io/v1", "VirtualService", Some("ws")),
            manifest("example.io/v1", "Policy", Some("ws")),
            manifest("rbac.authorization.k8s.io/v1", "ClusterRole", None),
        ];
        let role = cluster_role(&ms);
        let grants = |group: &str, resource: &str, verb: &str| {
            role["rules"].as_array().unwrap().iter().any(|r| {
                r["apiGroups"][0] == group
                    && r["resources"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|x| x == resource)
                    && r["verbs"].as_array().unwrap().iter().any(|x| x == verb)
            })
        };
        assert!(grants("apps", "deployments", "patch"));
        assert!(grants("networking.k8s.io", "networkpolicies", "create"));
        assert!(grants("networking.istio.io", "gateways", "delete"));
        assert!(grants("networking.istio.io", "virtualservices", "watch"));
        assert!(grants("example.io", "policies", "get"));
        assert!(grants(
            "rbac.authorization.k8s.io",
            "clusterroles",
            "escalate"
        ));
        assert!(grants("", "pods/log", "get"));
        assert!(!grants("", "pods", "delete"), "pods are only read");

        let roles = tenant_roles(&ms, &Scope::Tenant("ws".into()), "ws");
        assert_eq!(roles[0]["kind"], "Role");
        assert_eq!(roles[0]["metadata"]["namespace"], "ws");
        let cluster_verbs: BTreeSet<&str> = roles[1]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| {
                r["verbs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap())
            })
            .collect();
        assert_eq!(
            cluster_verbs,
            BTreeSet::from(["get", "list", "watch"]),
            "a tenant's user only reads cluster-wide"
        );
    }

    #[test]
    fn a_binding_to_a_cluster_role_not_rendered_needs_bind_on_that_role_by_name() {
        let mut scc = manifest("rbac.authorization.k8s.io/v1", "RoleBinding", Some("ws"));
        scc.object["roleRef"] =
            json!({"kind": "ClusterRole", "name": "system:openshift:scc:nonroot-v2"});
        let mut ours = manifest("rbac.authorization.k8s.io/v1", "RoleBinding", Some("ws"));
        ours.object["roleRef"] = json!({"kind": "ClusterRole", "name": "x"});
        let ms = [
            scc,
            ours,
            manifest("rbac.authorization.k8s.io/v1", "ClusterRole", None),
        ];
        let roles = tenant_roles(&ms, &Scope::Tenant("ws".into()), "ws");
        let bind: Vec<&Value> = roles[0]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| !r["resourceNames"].is_null())
            .collect();
        assert_eq!(
            bind,
            [&json!({
                "apiGroups": ["rbac.authorization.k8s.io"],
                "resources": ["clusterroles"],
                "verbs": ["bind"],
                "resourceNames": ["system:openshift:scc:nonroot-v2"],
            })]
        );
        let whole = cluster_role(&ms);
        assert!(
            whole["rules"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["resourceNames"][0] == "system:openshift:scc:nonroot-v2")
        );
    }
}
