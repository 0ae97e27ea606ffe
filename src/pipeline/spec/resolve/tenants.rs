//! The tenants, declared inline or in `tenants/*.yaml`: their names, their
//! namespaces (derived or given, unique, apart from the infra scope's in
//! multi-tenant mode) and quotas, handing each tenant's body to the `workspace`
//! or `cnvrg` resolver. It blames the file each tenant was declared in; it
//! never sizes a component itself.

use std::collections::HashMap;

use super::{Around, Declared, Origin, Resolver};
use crate::pipeline::spec::field_path::FieldPath;
use crate::pipeline::spec::model::{Mode, TenantType};
use crate::pipeline::spec::names;
use crate::pipeline::spec::profile::{self, Profile};
use crate::pipeline::spec::resolved::Tenant;

/// Tenant names become parts of Service names, which have 63 characters.
const MAX_TENANT_NAME: usize = 40;

impl Resolver {
    pub(super) fn tenants(
        &mut self,
        declared: Vec<Declared>,
        around: &Around,
        profile: Option<&Profile>,
    ) -> Vec<Tenant> {
        let mode = around.mode;
        if mode == Mode::SingleNamespace && declared.len() != 1 {
            self.diags.push(
                self.src
                    .at(
                        &FieldPath::spec().field("mode"),
                        format!(
                            "single-namespace mode needs exactly one tenant, found {}",
                            declared.len()
                        ),
                    )
                    .help("use `mode: multi-tenant` for several tenants"),
            );
        }
        let mut seen = Seen::default();
        if mode == Mode::MultiTenant {
            let infra = "the infra scope".to_string();
            seen.namespaces.insert(around.infra_ns.to_string(), infra);
        }
        let mut out = Vec::new();
        for d in declared {
            let namespace = self.tenant_names(&d, around, &mut seen);
            let at = Origin {
                src: d.source.clone(),
                profile,
            };
            let workspace = self.workspace(&d, &at);
            let cnvrg = self.cnvrg(&d, around, &at);
            // In single-namespace mode the namespace holds the infra scope
            // too: no tenant quota there.
            let quota = match (mode, profile) {
                (Mode::MultiTenant, Some(p)) => {
                    Some(profile::quota_of(&p.spec, d.spec.kind).clone())
                }
                _ => None,
            };
            out.push(Tenant {
                name: d.spec.name,
                kind: d.spec.kind,
                namespace,
                owns_namespace: mode == Mode::MultiTenant,
                quota,
                workspace,
                cnvrg,
                file: d.source.path.clone(),
            });
        }
        out
    }

    /// Checks the tenant's name and returns its namespace, checked too; both
    /// must be unique among the tenants seen so far.
    fn tenant_names(&mut self, d: &Declared, around: &Around, seen: &mut Seen) -> String {
        let (mode, infra_ns) = (around.mode, around.infra_ns);
        let where_ = match d.source.positions.find(&d.name_path) {
            Some(p) => format!("{}:{}:{}", d.source.path.display(), p.line, p.col),
            None => d.source.path.display().to_string(),
        };
        if let Err(m) = names::dns1035_label(&d.spec.name, MAX_TENANT_NAME) {
            self.diags.push(
                d.source
                    .at(&d.name_path, format!("invalid tenant name: {m}"))
                    .help("tenant names become parts of Service names: lower-case letters, digits and `-`, starting with a letter"),
            );
        }
        if let Some(first) = seen.names.insert(d.spec.name.clone(), where_.clone()) {
            self.diags.push(
                d.source
                    .at(&d.name_path, format!("duplicate tenant `{}`", d.spec.name))
                    .help(format!("first declared at {first}")),
            );
        }
        let ns_path = d.path.field("namespace");
        let namespace = match (mode, &d.spec.namespace) {
            (Mode::SingleNamespace, Some(ns)) if ns != infra_ns => {
                self.diags.push(
                    d.source
                        .at(&ns_path, format!("namespace `{ns}` differs from the infra namespace `{infra_ns}`"))
                        .help("in single-namespace mode the tenant shares the infra namespace; leave `namespace` out"),
                );
                ns.clone()
            }
            (Mode::SingleNamespace, _) => infra_ns.to_string(),
            (Mode::MultiTenant, Some(ns)) => ns.clone(),
            (Mode::MultiTenant, None) => match d.spec.kind {
                TenantType::Cnvrg => format!("cnvrg-{}", d.spec.name),
                TenantType::Workspace => d.spec.name.clone(),
            },
        };
        if mode == Mode::MultiTenant {
            // A derived namespace is valid whenever the tenant name is.
            if d.spec.namespace.is_some() {
                self.check_in(&d.source, &ns_path, names::dns1123_label(&namespace, 63));
            }
            if let Some(first) = seen.namespaces.insert(
                namespace.clone(),
                format!("tenant `{}` ({where_})", d.spec.name),
            ) {
                self.diags.push(
                    d.source
                        .at(&ns_path, format!("namespace `{namespace}` is already used by {first}"))
                        .help("every tenant needs a namespace of its own; set `namespace` to another name"),
                );
            }
        }
        namespace
    }
}

/// Tenant names and namespaces taken so far, each with who took it.
#[derive(Default)]
struct Seen {
    names: HashMap<String, String>,
    namespaces: HashMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::super::testing::{
        cluster, fields, problems, problems_with, spec, spec_with, tenant,
    };

    const POOL: &str = "      workspace: {agentPools: [{name: default}]}\n";

    #[test]
    fn namespaces_are_derived_from_the_tenant_type_and_mode() {
        let s = spec(&cluster(&format!(
            "  clusterDomain: ml.example.com\n  tenants:\n    - {{name: a, type: cnvrg}}\n    - name: b\n      type: workspace\n{POOL}    - name: c\n      type: workspace\n      namespace: team-c\n{POOL}"
        )));
        let ns: Vec<&str> = s.tenants.iter().map(|t| t.namespace.as_str()).collect();
        assert_eq!(ns, ["cnvrg-a", "b", "team-c"]);
        assert!(s.tenants.iter().all(|t| t.owns_namespace));
        assert!(s.tenants.iter().all(|t| t.quota.is_some()));

        let s = spec(&cluster(
            "  mode: single-namespace\n  clusterDomain: ml.example.com\n  tenants:\n    - {name: a, type: cnvrg}\n",
        ));
        let t = &s.tenants[0];
        assert_eq!((t.namespace.as_str(), t.owns_namespace), ("cnvrg", false));
        assert!(t.quota.is_none(), "the namespace is the infra scope's");
    }

    #[test]
    fn tenant_names_and_namespaces_are_unique() {
        let found = problems(&cluster(&format!(
            "  tenants:\n    - name: b\n      type: workspace\n{POOL}    - name: c\n      type: workspace\n      namespace: b\n{POOL}    - name: b\n      type: workspace\n      namespace: other\n{POOL}    - name: d\n      type: workspace\n      namespace: cnvrg-infra\n{POOL}"
        )));
        assert_eq!(
            found,
            [
                "cluster.yaml: spec.tenants[1].namespace: namespace `b` is already used by tenant `b` (/nonexistent-spec-dir/cluster.yaml:7:7)",
                "cluster.yaml: spec.tenants[2].name: duplicate tenant `b`",
                "cluster.yaml: spec.tenants[3].namespace: namespace `cnvrg-infra` is already used by the infra scope",
            ]
        );
    }

    #[test]
    fn tenant_fields_are_checked_at_their_paths() {
        let found = problems(&cluster(&format!(
            "  tenants:\n    - name: 9lives\n      type: workspace\n      namespace: Team_A\n{POOL}"
        )));
        assert_eq!(
            fields(&found),
            ["spec.tenants[0].name", "spec.tenants[0].namespace"]
        );
    }

    #[test]
    fn single_namespace_mode_takes_one_tenant_in_the_infra_namespace() {
        assert_eq!(
            problems(&cluster(&format!(
                "  mode: single-namespace\n  tenants:\n    - name: b\n      type: workspace\n      namespace: elsewhere\n{POOL}    - name: c\n      type: workspace\n{POOL}"
            ))),
            [
                "cluster.yaml: spec.mode: single-namespace mode needs exactly one tenant, found 2",
                "cluster.yaml: spec.tenants[0].namespace: namespace `elsewhere` differs from the infra namespace `cnvrg`",
            ]
        );
    }

    #[test]
    fn a_tenant_file_is_blamed_at_its_own_paths() {
        let file = tenant(
            "team-b",
            "  type: workspace\n  namespace: Team_B\n  workspace: {agentPools: [{name: default}]}\n",
        );
        let found = problems_with(&cluster("  {}\n"), &[("team-b", &file)]);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].starts_with("team-b.yaml: spec.namespace: "),
            "{found:?}"
        );

        let file = tenant(
            "team-b",
            "  type: workspace\n  workspace: {agentPools: [{name: default}]}\n",
        );
        let s = spec_with(&cluster("  {}\n"), &[("team-b", &file)]);
        assert_eq!(s.tenants[0].name, "team-b");
        assert!(s.tenants[0].file.ends_with("tenants/team-b.yaml"));
    }
}
