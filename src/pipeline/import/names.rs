//! The objects each operator makes per component, beside the ones cnvrgctl
//! renders for the same component: the record adoption works from (which
//! live objects it takes over as they are, which it must rename or replace).
//! Names are the operators' defaults (cnvrg operator: `svcName`, `pvcName`,
//! `credsRef` in `api/v1/dbs.go` and `controlplane.go`, used by the templates
//! under `pkg/app/…/tmpl`; Cartographer: `controllers/workflows.go` and
//! `postgres.go`). `{ws}` is the workspace's name, `{pool}` a pool's.

/// One object of one component, as the operator names it and as cnvrgctl does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameRow {
    pub component: &'static str,
    /// The operator's kind and name; empty when it makes no such object.
    pub operator: (&'static str, &'static str),
    /// Ours; empty when cnvrgctl makes no such object.
    pub ours: (&'static str, &'static str),
}

impl NameRow {
    /// Same kind and same name: adoption takes the object over as it is.
    pub fn matches(&self) -> bool {
        self.operator == self.ours
    }
}

const fn row(
    component: &'static str,
    operator: (&'static str, &'static str),
    ours: (&'static str, &'static str),
) -> NameRow {
    NameRow {
        component,
        operator,
        ours,
    }
}

const NONE: (&str, &str) = ("", "");

/// A cnvrg control plane (CnvrgApp), in the tenant's namespace.
pub const CNVRG: &[NameRow] = &[
    row("webapp", ("Deployment", "app"), ("Deployment", "app")),
    row("webapp", ("Service", "app"), ("Service", "app")),
    row(
        "webapp",
        ("Secret", "cp-base-secret"),
        ("Secret", "cp-base-secret"),
    ),
    row(
        "sidekiq",
        ("Deployment", "sidekiq"),
        ("Deployment", "sidekiq"),
    ),
    row(
        "searchkiq",
        ("Deployment", "searchkiq"),
        ("Deployment", "searchkiq"),
    ),
    row(
        "systemkiq",
        ("Deployment", "systemkiq"),
        ("Deployment", "systemkiq"),
    ),
    row(
        "postgres",
        ("Deployment", "postgres"),
        ("StatefulSet", "postgres"),
    ),
    row("postgres", ("Service", "postgres"), ("Service", "postgres")),
    row("postgres", ("Secret", "pg-creds"), ("Secret", "pg-creds")),
    row(
        "postgres",
        ("PersistentVolumeClaim", "pg-storage"),
        ("PersistentVolumeClaim", "data-postgres-0"),
    ),
    row("redis", ("Deployment", "redis"), ("StatefulSet", "redis")),
    row("redis", ("Service", "redis"), ("Service", "redis")),
    row(
        "redis",
        ("Secret", "redis-creds"),
        ("Secret", "redis-creds"),
    ),
    row(
        "redis",
        ("PersistentVolumeClaim", "redis-storage"),
        ("PersistentVolumeClaim", "data-redis-0"),
    ),
    row("minio", ("Deployment", "minio"), ("StatefulSet", "minio")),
    row("minio", ("Service", "minio"), ("Service", "minio")),
    row(
        "minio",
        ("Secret", "cp-object-storage"),
        ("Secret", "minio-creds"),
    ),
    row(
        "minio",
        ("PersistentVolumeClaim", "minio-storage"),
        ("PersistentVolumeClaim", "data-minio-0"),
    ),
    row(
        "elasticsearch",
        ("StatefulSet", "elasticsearch"),
        ("StatefulSet", "elasticsearch"),
    ),
    row(
        "elasticsearch",
        ("Service", "elasticsearch"),
        ("Service", "elasticsearch"),
    ),
    row(
        "elasticsearch",
        ("Secret", "es-creds"),
        ("Secret", "es-creds"),
    ),
    row(
        "elasticsearch",
        ("PersistentVolumeClaim", "es-storage-elasticsearch-0"),
        ("PersistentVolumeClaim", "data-elasticsearch-0"),
    ),
    row("kibana", ("Deployment", "kibana"), ("Deployment", "kibana")),
    row("kibana", ("Service", "kibana"), ("Service", "kibana")),
    row(
        "grafana",
        ("Deployment", "grafana"),
        ("Deployment", "grafana"),
    ),
    row("grafana", ("Service", "grafana"), ("Service", "grafana")),
    row(
        "prometheus",
        ("Service", "prometheus"),
        ("Service", "prometheus"),
    ),
    row(
        "prometheus",
        ("Secret", "prom-creds"),
        ("Secret", "prometheus-federation"),
    ),
    row("migration", NONE, ("Job", "migrate")),
];

/// A Cartographer workspace, in its namespace: its database is Crunchy's
/// PostgresCluster named after the workspace (`controllers/postgres.go`),
/// with PGO's names for the rest (CrunchyData/postgres-operator
/// `internal/naming/names.go`: the primary Service `{cluster}-primary`, the
/// user Secret `{cluster}-pguser-{user}`).
pub const WORKSPACE: &[NameRow] = &[
    row(
        "orion-server",
        ("Deployment", "{ws}-orion-server"),
        ("Deployment", "{ws}-orion-server"),
    ),
    row(
        "orion-server",
        ("Service", "{ws}-orion-server"),
        ("Service", "{ws}-orion-server"),
    ),
    row(
        "agent-{pool}",
        ("StatefulSet", "{ws}-agent-{pool}"),
        ("Deployment", "{ws}-agent-{pool}"),
    ),
    row(
        "postgres",
        ("PostgresCluster", "{ws}"),
        ("StatefulSet", "{ws}-postgres"),
    ),
    row(
        "postgres",
        ("Secret", "{ws}-pguser-prefect"),
        ("Secret", "{ws}-postgres"),
    ),
    row(
        "postgres",
        ("Service", "{ws}-primary"),
        ("Service", "{ws}-postgres"),
    ),
    row("postgres-import", NONE, ("Job", "{ws}-postgres-import")),
];

/// The README table of `rows`: component, operator's object, ours, and
/// whether adoption can take the object over as it is.
pub fn markdown(rows: &[NameRow]) -> String {
    let show = |(kind, name): (&str, &str)| match kind {
        "" => "—".to_string(),
        _ => format!("{kind} `{name}`"),
    };
    let mut out = String::from("| component | operator | cnvrgctl | same |\n|---|---|---|---|\n");
    for r in rows {
        let claim = r.operator.0 == "PersistentVolumeClaim" && r.ours.0 == r.operator.0;
        let same = match (r.matches(), r.operator.1 == r.ours.1) {
            (true, _) => "yes",
            (false, true) => "name only",
            // `apply --adopt` re-binds its volume to ours (`engine::adopt::moves`).
            (false, false) if claim => "no: moves, data kept",
            (false, false) => "no",
        };
        out.push_str(&format!(
            "| {} | {} | {} | {same} |\n",
            r.component,
            show(r.operator),
            show(r.ours)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README shows these tables as they are here.
    #[test]
    fn the_readme_holds_the_names_tables() {
        let readme = include_str!("../../../README.md");
        for table in [markdown(CNVRG), markdown(WORKSPACE)] {
            assert!(readme.contains(&table), "README must hold:\n{table}");
        }
    }
}
