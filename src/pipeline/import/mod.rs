//! Import: the operators' custom resources (the cnvrg operator's
//! `CnvrgInfra` and `CnvrgApp`, Cartographer's `Workspace`) turned into a
//! cnvrgctl spec — `cluster.yaml` and one `tenants/NAME.yaml` per
//! control plane or workspace — as commented YAML text. One `CnvrgInfra`
//! becomes the cluster's settings, each `CnvrgApp` a cnvrg tenant in its own
//! namespace (a lone one in the infra namespace: `mode: single-namespace`),
//! each `Workspace` a workspace tenant. The mapping is data
//! ([`rules`]); a field without a counterpart is written as a comment where
//! it would go and counted, and secrets are never written. [`names`] records
//! each component's objects under the operator's names and ours, for
//! adoption. Pure: it reads nothing and writes nothing; the command reads
//! the resources (files or the cluster), checks the result with the spec
//! stage and writes the files.

// A `Problem` is built once per thing wrong with the input, never on a hot
// path; boxing it to please this lint would only add noise.
#![allow(clippy::result_large_err)]

mod error;
mod map;
pub mod names;
mod read;
mod rules;
mod tree;

pub use error::{ImportError, Origin, Problem};
pub use map::Tally;
pub use read::{KINDS, Kind, Resource, from_object, from_text};

use serde_json::{Value, json};

use tree::{Node, steps};

/// The operator's default infra namespace (`infraNamespace`).
const OPERATOR_INFRA_NAMESPACE: &str = "cnvrg-infra";

/// A tenant made from one resource: what adoption takes over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedTenant {
    pub name: String,
    pub namespace: String,
    /// `Kind/namespace/name` of the operator's resource it came from.
    pub source: String,
    pub kind: Kind,
}

impl ImportedTenant {
    /// The operator's objects and ours for this tenant's components
    /// (`{ws}` and `{pool}` stand for the workspace's and a pool's name).
    pub fn names(&self) -> Vec<names::NameRow> {
        match self.kind {
            Kind::Workspace => names::WORKSPACE.to_vec(),
            _ => names::CNVRG.to_vec(),
        }
    }
}

/// The spec files `import` writes.
#[derive(Debug)]
pub struct Imported {
    /// `cluster.yaml`.
    pub cluster: String,
    /// `tenants/NAME.yaml`: name and text.
    pub tenant_files: Vec<(String, String)>,
    pub tenants: Vec<ImportedTenant>,
    /// Per resource: fields mapped and fields written as comments.
    pub tallies: Vec<Tally>,
    /// What the user must do (export a password).
    pub notes: Vec<String>,
}

impl Imported {
    /// Fields written as comments, in all.
    pub fn commented(&self) -> usize {
        self.tallies.iter().map(|t| t.commented).sum()
    }
}

/// The spec for `resources`, or every problem that stops it.
pub fn import(resources: &[Resource]) -> Result<Imported, ImportError> {
    let of = |kind: Kind| resources.iter().filter(move |r| r.kind == kind);
    check(resources)?;
    let infra = of(Kind::CnvrgInfra).next();
    let apps: Vec<&Resource> = of(Kind::CnvrgApp).collect();
    let workspaces: Vec<&Resource> = of(Kind::Workspace).collect();
    let infra_ns = infra
        .and_then(|i| i.spec["infraNamespace"].as_str())
        .filter(|ns| !ns.is_empty())
        .unwrap_or(OPERATOR_INFRA_NAMESPACE)
        .to_string();
    let single = match apps.as_slice() {
        [app] => app.namespace.as_deref() == Some(infra_ns.as_str()),
        _ => false,
    };
    if let Some(app) = apps
        .iter()
        .find(|a| a.namespace.as_deref() == Some(&infra_ns))
        && (apps.len() > 1 || !workspaces.is_empty())
    {
        return Err(app
            .problem(
                "metadata.namespace",
                format!("in the infra namespace `{infra_ns}` beside other tenants"),
                Some("only a lone CnvrgApp can share the infra namespace (mode: single-namespace); import it on its own".into()),
            )
            .into());
    }

    let mut notes = Vec::new();
    let mut tallies = Vec::new();
    let mut cluster_spec = Node::default();
    cluster_spec.comment(
        &[],
        "the operators size for production: the prod profile's tenant quotas hold their sizes"
            .into(),
    );
    cluster_spec.set(&steps("profile"), json!("prod"));
    if single {
        cluster_spec.set(&steps("mode"), json!("single-namespace"));
        cluster_spec.set(&steps("infra.namespace"), json!(infra_ns));
    }
    match infra {
        Some(infra) => tallies.push(map::map(infra, &mut cluster_spec, None, &mut notes)),
        None => cluster_spec.comment(
            &steps("infra"),
            "no CnvrgInfra was imported: the infra scope takes cnvrgctl's defaults".into(),
        ),
    }
    let mut tenant_files = Vec::new();
    let mut tenants = Vec::new();
    for res in apps.iter().chain(&workspaces) {
        let mut spec = Node::default();
        let (kind, ns) = (res.kind, res.namespace.clone().unwrap_or_default());
        let type_name = match kind {
            Kind::Workspace => "workspace",
            _ => "cnvrg",
        };
        spec.set(&steps("type"), json!(type_name));
        if !single {
            spec.set(&steps("namespace"), json!(ns));
        }
        tallies.push(map::map(
            res,
            &mut spec,
            Some(&mut cluster_spec),
            &mut notes,
        ));
        if kind == Kind::Workspace {
            copy_database(&mut spec, &res.name);
        }
        let text = document("Tenant", &res.name, spec, &[res]);
        tenant_files.push((res.name.clone(), text));
        tenants.push(ImportedTenant {
            name: res.name.clone(),
            namespace: ns,
            source: res.id(),
            kind,
        });
    }
    let name = infra.map_or("imported", |i| i.name.as_str());
    let sources: Vec<&Resource> = infra.into_iter().collect();
    Ok(Imported {
        cluster: document("Cluster", name, cluster_spec, &sources),
        tenant_files,
        tenants,
        tallies,
        notes,
    })
}

/// A workspace's database is Cartographer's Crunchy PostgresCluster, named
/// after the workspace (wmeints/cartographer `controllers/postgres.go`):
/// adoption copies its data into ours (`templates/workspace/postgres-import.yaml.j2`).
fn copy_database(spec: &mut Node, workspace: &str) {
    let at = steps("workspace.postgres.importFrom");
    spec.comment(
        &at,
        "the data of Cartographer's PostgresCluster is copied into ours once, on `apply --adopt`; the PostgresCluster stays until you delete it".into(),
    );
    spec.set(
        &steps("workspace.postgres.importFrom.postgresCluster"),
        json!(workspace),
    );
}

/// A spec file: the header naming where it came from, then the document.
fn document(kind: &str, name: &str, spec: Node, sources: &[&Resource]) -> String {
    let mut root = Node::default();
    root.set(
        &steps("apiVersion"),
        json!(crate::pipeline::spec::API_VERSION),
    );
    root.set(&steps("kind"), json!(kind));
    root.set(&steps("metadata.name"), Value::String(name.to_string()));
    let mut text = String::from("# Written by `cnvrgctl import`");
    match sources {
        [] => text.push_str(".\n"),
        _ => {
            let from: Vec<String> = sources
                .iter()
                .map(|r| format!("{} ({})", r.id(), r.origin))
                .collect();
            text.push_str(&format!(" from {}.\n", from.join(", ")));
        }
    }
    text.push_str("# `not imported` comments are operator fields with no counterpart here.\n");
    root.insert(&steps("spec"), spec);
    text.push_str(&root.to_yaml());
    text
}

/// Problems no mapping can get past: two CnvrgInfras, a CnvrgApp without a
/// domain, a Workspace without pools or with a pool named twice.
fn check(resources: &[Resource]) -> Result<(), ImportError> {
    let mut problems = Vec::new();
    if resources.is_empty() {
        problems.push(Problem {
            origin: Origin::Cluster,
            resource: None,
            field: None,
            message: "no CnvrgInfra, CnvrgApp or Workspace found".into(),
            help: None,
        });
    }
    let infras: Vec<&Resource> = resources
        .iter()
        .filter(|r| r.kind == Kind::CnvrgInfra)
        .collect();
    if let [first, rest @ ..] = infras.as_slice() {
        for other in rest {
            problems.push(other.problem(
                "metadata.name",
                format!(
                    "a second CnvrgInfra; {} ({}) is the first",
                    first.id(),
                    first.origin
                ),
                Some("a cluster has one CnvrgInfra: import one of them".into()),
            ));
        }
    }
    let tenants: Vec<&Resource> = resources
        .iter()
        .filter(|r| r.kind != Kind::CnvrgInfra)
        .collect();
    for (i, res) in tenants.iter().enumerate() {
        if let Some(first) = tenants[..i].iter().find(|t| t.name == res.name) {
            problems.push(res.problem(
                "metadata.name",
                format!("tenant `{}` is also {} ({})", res.name, first.id(), first.origin),
                Some("two tenants cannot share a name: rename one in the input, or import them into separate specs".into()),
            ));
        }
    }
    for res in resources {
        match res.kind {
            Kind::CnvrgApp if res.spec["clusterDomain"].as_str().is_none_or(str::is_empty) => {
                problems.push(res.problem(
                    "spec.clusterDomain",
                    "missing: a cnvrg control plane needs its DNS domain".into(),
                    Some("set spec.clusterDomain in the CnvrgApp (its hostnames are <svc>.<domain>)".into()),
                ))
            }
            Kind::Workspace => problems.extend(pool_problems(res)),
            _ => {}
        }
    }
    match problems.is_empty() {
        true => Ok(()),
        false => Err(ImportError { problems }),
    }
}

fn pool_problems(res: &Resource) -> Vec<Problem> {
    let pools = res.spec["workflows"]["agentPools"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if pools.is_empty() {
        return vec![res.problem(
            "spec.workflows.agentPools",
            "no agent pools: a workspace needs at least one".into(),
            None,
        )];
    }
    let mut seen: Vec<&str> = Vec::new();
    let mut problems = Vec::new();
    for (i, pool) in pools.iter().enumerate() {
        let name = pool["name"].as_str().unwrap_or_default();
        let field = format!("spec.workflows.agentPools[{i}].name");
        if name.is_empty() {
            problems.push(res.problem(&field, "missing".into(), None));
        } else if let Some(first) = seen.iter().position(|n| *n == name) {
            problems.push(res.problem(
                &field,
                format!("pool `{name}` is named twice (also agentPools[{first}])"),
                Some("pool names are unique: rename or merge one".into()),
            ));
        }
        seen.push(name);
    }
    problems
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn resources(text: &str) -> Vec<Resource> {
        from_text(Path::new("in.yaml"), text).unwrap()
    }

    const APP: &str = "apiVersion: mlops.cnvrg.io/v1\nkind: CnvrgApp\nmetadata: {name: NAME, namespace: NS}\nspec:\n  clusterDomain: NAME.example\n  registry: {url: docker.io, user: bot, password: TopSecretValue1}\n  networking: {ingress: {type: TYPE}}\n";

    fn app(name: &str, ns: &str, ingress: &str) -> String {
        APP.replace("NAME", name)
            .replace("NS", ns)
            .replace("TYPE", ingress)
    }

    #[test]
    fn cluster_wide_fields_come_from_the_first_resource_and_a_differing_one_is_a_comment() {
        let text = format!(
            "{}---\n{}",
            app("a", "ns-a", "istio"),
            app("b", "ns-b", "nodeport")
        );
        let imported = import(&resources(&text)).unwrap();
        assert!(
            imported.cluster.contains("  ingress:\n    type: istio\n"),
            "{}",
            imported.cluster
        );
        assert!(
            imported
                .cluster
                .contains("passwordEnv: CNVRG_REGISTRY_PASSWORD")
        );
        assert!(!imported.cluster.contains("TopSecretValue1"));
        let b = &imported.tenant_files[1].1;
        assert!(
            b.contains("# not imported: spec.networking.ingress.type = nodeport (the cluster's `ingress.type` is already istio from an earlier resource; cnvrgctl sets it once)"),
            "{b}"
        );
        // The same password source twice: one note, one comment.
        assert_eq!(imported.notes.len(), 1, "{:?}", imported.notes);
        assert_eq!(
            imported
                .cluster
                .matches("export CNVRG_REGISTRY_PASSWORD")
                .count(),
            1
        );
        assert_eq!(imported.tallies[1].commented, 1);
    }

    #[test]
    fn a_lone_app_in_the_infra_namespace_is_single_namespace_and_one_beside_others_is_refused() {
        let lone = import(&resources(&app("a", "cnvrg-infra", "istio"))).unwrap();
        assert!(
            lone.cluster.contains("  mode: single-namespace\n"),
            "{}",
            lone.cluster
        );
        assert!(!lone.tenant_files[0].1.contains("namespace:"));
        let text = format!(
            "{}---\n{}",
            app("a", "cnvrg-infra", "istio"),
            app("b", "ns-b", "istio")
        );
        let err = import(&resources(&text)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "in.yaml:3: CnvrgApp/cnvrg-infra/a: metadata.namespace: in the infra namespace `cnvrg-infra` beside other tenants\n  help: only a lone CnvrgApp can share the infra namespace (mode: single-namespace); import it on its own"
        );
    }
}
