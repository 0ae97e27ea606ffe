//! A workspace tenant's body (`workspace`): its PostgreSQL, its Orion server
//! and its agent pools (named, unique, each sized over the profile's `agent`).
//! It also refuses the settings of the other tenant type; it never looks at
//! the tenant's name or namespace (that is `tenants`).

use std::collections::BTreeMap;

use super::{Declared, Origin, Resolver};
use crate::spec::field_path::FieldPath;
use crate::spec::model::{AgentPoolSpec, Sizing, TenantType};
use crate::spec::names;
use crate::spec::profile::slots;
use crate::spec::resolved::{AgentPool, Postgres, Workspace};

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
        let postgres = self
            .size(
                at,
                &slots::POSTGRES,
                &ws_path.field("postgres"),
                ws.postgres.as_ref(),
            )
            .stateful();
        let orion = self
            .size(
                at,
                &slots::ORION,
                &ws_path.field("orion"),
                ws.orion.as_ref(),
            )
            .component();
        let agent_pools = self.agent_pools(d, &ws.agent_pools, &ws_path.field("agentPools"), at);
        Some(Workspace {
            postgres: Postgres {
                replicas: postgres.replicas,
                storage: postgres.storage,
                resources: postgres.resources,
                database: "prefect".into(),
                user: "prefect".into(),
            },
            orion,
            agent_pools,
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
