//! A workspace tenant's body (`workspace`): its PostgreSQL, its Orion server
//! and its agent pools (named, unique, each sized over the profile's `agent`).
//! It also refuses the settings of the other tenant type; it never looks at
//! the tenant's name or namespace (that is `tenants`).

use std::collections::BTreeMap;

use super::{Declared, Origin, Resolver};
use crate::pipeline::spec::field_path::FieldPath;
use crate::pipeline::spec::model::{AgentPoolSpec, Sizing, TenantType, WorkspaceSpec};
use crate::pipeline::spec::names;
use crate::pipeline::spec::profile::{Slot, slots};
use crate::pipeline::spec::resolved::{AgentPool, Postgres, PostgresImport, Workspace};

/// Pool names become parts of Deployment names (`<ws>-agent-<pool>`).
const MAX_POOL_NAME: usize = 20;

impl Resolver {
    /// The workspace of a tenant of type `workspace`; `None` for other tenants
    /// or when the section is missing (recorded).
    pub(super) fn workspace(&mut self, d: &Declared, at: &Origin) -> Option<Workspace> {
        let base = &d.path;
        // The section of the other tenant type, when given: (it, this type).
        let misplaced = match d.spec.kind {
            TenantType::Cnvrg => d.spec.workspace.is_some().then_some(("workspace", "cnvrg")),
            TenantType::Workspace => d.spec.cnvrg.is_some().then_some(("cnvrg", "workspace")),
        };
        if let Some((section, kind)) = misplaced {
            self.diags.push(
                d.source
                    .at(
                        &base.field(section),
                        format!("`{section}` settings given for a tenant of type `{kind}`"),
                    )
                    .help(format!("remove them, or set `type: {section}`")),
            );
        }
        if d.spec.kind == TenantType::Cnvrg {
            return None;
        }
        let ws_path = base.field("workspace");
        let Some(ws) = &d.spec.workspace else {
            self.diags.push(
                d.source
                    .at(
                        base,
                        "a workspace tenant needs `workspace.agentPools` with at least one pool",
                    )
                    .help("add `workspace: {agentPools: [{name: default}]}`"),
            );
            return None;
        };
        let mut size = |slot: &Slot, key: &str, own: Option<&Sizing>| {
            self.size(at, slot, &ws_path.field(key), own)
        };
        let sizing = ws.postgres.as_ref().map(|p| p.sizing());
        let postgres = size(&slots::POSTGRES, "postgres", sizing.as_ref()).stateful();
        let orion = size(&slots::ORION, "orion", ws.orion.as_ref()).component();
        let agent_pools = self.agent_pools(d, &ws.agent_pools, &ws_path.field("agentPools"), at);
        Some(Workspace {
            postgres: Postgres {
                replicas: postgres.replicas,
                storage: postgres.storage,
                resources: postgres.resources,
                database: "prefect".into(),
                user: "prefect".into(),
                import_from: self.import_from(d, ws, &ws_path),
            },
            orion,
            agent_pools,
        })
    }

    /// The PostgresCluster the database is copied from (`postgres.importFrom`),
    /// its name checked as Kubernetes checks it.
    fn import_from(
        &mut self,
        d: &Declared,
        ws: &WorkspaceSpec,
        ws_path: &FieldPath,
    ) -> Option<PostgresImport> {
        let from = ws.postgres.as_ref()?.import_from.as_ref()?;
        let name = &from.postgres_cluster;
        if let Err(m) = names::dns1123_subdomain(name) {
            let path = ws_path
                .field("postgres")
                .field("importFrom")
                .field("postgresCluster");
            self.diags.push(
                d.source
                    .at(&path, format!("invalid PostgresCluster name: {m}"))
                    .help("the name of the Crunchy PostgresCluster in the tenant's namespace (Cartographer names it after the workspace)"),
            );
            return None;
        }
        Some(PostgresImport {
            postgres_cluster: name.clone(),
            // The workspace's Prefect user of Cartographer's PostgresCluster.
            secret: format!("{name}-pguser-prefect"),
        })
    }

    /// The agent pools at `path` (`…workspace.agentPools`): at least one, each
    /// named once.
    fn agent_pools(
        &mut self,
        d: &Declared,
        pools: &[AgentPoolSpec],
        path: &FieldPath,
        at: &Origin,
    ) -> Vec<AgentPool> {
        if pools.is_empty() {
            self.diags.push(
                d.source
                    .at(path, "a workspace needs at least one agent pool")
                    .help("add `agentPools: [{name: default}]`"),
            );
        }
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        let mut out = Vec::new();
        for (i, pool) in pools.iter().enumerate() {
            let item = path.index(i);
            let name_path = item.field("name");
            if let Err(m) = names::dns1123_label(&pool.name, MAX_POOL_NAME) {
                self.diags
                    .push(d.source.at(&name_path, format!("invalid pool name: {m}")));
            }
            if let Some(first) = seen.insert(&pool.name, i) {
                self.diags.push(
                    d.source
                        .at(&name_path, format!("duplicate agent pool `{}`", pool.name))
                        .help(format!("first declared as agentPools[{first}]")),
                );
            }
            let own = Sizing {
                replicas: pool.replicas,
                storage: None,
                resources: pool.resources.clone(),
            };
            let size = self.size(at, &slots::AGENT, &item, Some(&own));
            out.push(AgentPool {
                name: pool.name.clone(),
                replicas: size.replicas,
                resources: size.resources,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{cluster, fields, problems, problems_with, spec, tenant};
    use crate::pipeline::spec::Quantity;

    fn workspace(body: &str) -> String {
        cluster(&format!(
            "  tenants:\n    - name: ws\n      type: workspace\n{body}"
        ))
    }

    #[test]
    fn a_workspace_gets_its_database_server_and_pools_sized_by_the_profile() {
        let s = spec(&workspace(
            "      workspace:\n        agentPools:\n          - {name: default}\n          - {name: gpu, replicas: 3}\n",
        ));
        let ws = s.tenants[0].workspace.as_ref().unwrap();
        assert!(s.tenants[0].cnvrg.is_none());
        assert_eq!(
            (ws.postgres.database.as_str(), ws.postgres.user.as_str()),
            ("prefect", "prefect")
        );
        assert_eq!(ws.postgres.storage, Quantity::parse("5Gi").unwrap());
        assert_eq!(ws.orion.replicas, 1);
        let pools: Vec<(&str, u32)> = ws
            .agent_pools
            .iter()
            .map(|p| (p.name.as_str(), p.replicas))
            .collect();
        assert_eq!(pools, [("default", 1), ("gpu", 3)]);
        assert_eq!(
            ws.agent_pools[0].resources.limits.memory,
            Some(Quantity::parse("512Mi").unwrap()),
            "dev's agent"
        );
    }

    #[test]
    fn import_from_names_the_crunchy_cluster_and_its_prefect_secret() {
        let s = spec(&workspace(
            "      workspace:\n        postgres: {storage: 8Gi, importFrom: {postgresCluster: ws}}\n        agentPools: [{name: default}]\n",
        ));
        let pg = &s.tenants[0].workspace.as_ref().unwrap().postgres;
        let from = pg.import_from.as_ref().unwrap();
        assert_eq!(
            (from.postgres_cluster.as_str(), from.secret.as_str()),
            ("ws", "ws-pguser-prefect")
        );
        assert_eq!(pg.storage, Quantity::parse("8Gi").unwrap());
        assert_eq!(
            fields(&problems(&workspace(
                "      workspace:\n        postgres: {importFrom: {postgresCluster: Not_A_Name}}\n        agentPools: [{name: default}]\n",
            ))),
            ["spec.tenants[0].workspace.postgres.importFrom.postgresCluster"]
        );
    }

    #[test]
    fn a_workspace_needs_its_section_and_a_pool() {
        assert_eq!(
            problems(&workspace("")),
            [
                "cluster.yaml: spec.tenants[0]: a workspace tenant needs `workspace.agentPools` with at least one pool"
            ]
        );
        assert_eq!(
            problems(&workspace("      workspace: {agentPools: []}\n")),
            [
                "cluster.yaml: spec.tenants[0].workspace.agentPools: a workspace needs at least one agent pool"
            ]
        );
    }

    #[test]
    fn pool_errors_name_the_pool() {
        let found = problems(&workspace(
            "      workspace:\n        agentPools:\n          - {name: default}\n          - {name: default}\n          - {name: a-very-long-pool-name-indeed}\n          - name: big\n            replicas: 4294967295\n",
        ));
        assert_eq!(
            fields(&found),
            [
                "spec.tenants[0].workspace.agentPools[1].name",
                "spec.tenants[0].workspace.agentPools[2].name",
                "spec.tenants[0].workspace.agentPools[3].replicas",
            ]
        );
        assert_eq!(
            found[0],
            "cluster.yaml: spec.tenants[0].workspace.agentPools[1].name: duplicate agent pool `default`"
        );
    }

    #[test]
    fn the_other_tenant_types_settings_are_refused() {
        assert_eq!(
            problems(&workspace(
                "      cnvrg: {}\n      workspace: {agentPools: [{name: default}]}\n"
            )),
            [
                "cluster.yaml: spec.tenants[0].cnvrg: `cnvrg` settings given for a tenant of type `workspace`"
            ]
        );
        let file = tenant("a", "  type: cnvrg\n  workspace: {agentPools: []}\n");
        assert_eq!(
            problems_with(
                &cluster("  clusterDomain: ml.example.com\n"),
                &[("a", &file)]
            ),
            ["a.yaml: spec.workspace: `workspace` settings given for a tenant of type `cnvrg`"]
        );
    }
}
