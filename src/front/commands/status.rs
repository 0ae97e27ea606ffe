//! The read-only cluster commands: `status` (per scope and component) and
//! `tenant list` (the spec's tenants and the cluster's, with health and age).
//! Both read through the scopes' inventories; neither writes. The status
//! read and its printed forms also serve `support-bundle`.

use std::collections::BTreeMap;

use super::prepare;
use super::session::{connect, requests, runtime, scopes};
use super::table::columns;
use crate::engine::apply::scope_namespace;
use crate::engine::inventory::ApplySet;
use crate::engine::kube::Cluster;
use crate::engine::readiness::Facts;
use crate::engine::status::{self, ComponentStatus};
use crate::front::cli::{Global, OutputFormat, SpecArgs, StatusArgs};
use crate::front::error::Error;
use crate::front::ui::Printer;
use crate::pipeline::manifest::{Manifest, Scope};

/// Reads every component of `scopes`.
async fn read(
    cluster: &Cluster,
    manifests: &[Manifest],
    scopes: &[Scope],
) -> Result<Vec<ComponentStatus>, Error> {
    Ok(read_all(cluster, manifests, scopes, false).await?.0)
}

/// Reads every component of `scopes`; with `diagnose` (for
/// `support-bundle`), also every live object that is not ready with its
/// diagnosis, for which the namespaces' Events are read too.
pub(super) async fn read_all(
    cluster: &Cluster,
    manifests: &[Manifest],
    scopes: &[Scope],
    diagnose: bool,
) -> Result<(Vec<ComponentStatus>, Vec<status::NotReady>), Error> {
    let classes = match cluster
        .resource("storage.k8s.io/v1", "StorageClass")
        .await?
    {
        Some(r) => cluster.list(&r, None, None).await?,
        None => Vec::new(),
    };
    let facts = Facts::from_classes(&classes);
    let mut out = Vec::new();
    let mut not_ready = Vec::new();
    let now = k8s_openapi::jiff::Timestamp::now();
    for scope in scopes {
        let Some(ns) = scope_namespace(manifests, scope) else {
            continue;
        };
        let live = status::read_scope(cluster, &ApplySet::new(scope, &ns), diagnose).await?;
        let desired: Vec<&Manifest> = manifests
            .iter()
            .filter(|m| &m.origin.scope == scope)
            .collect();
        out.extend(status::components(scope, &desired, &live, &facts, now));
        if diagnose {
            not_ready.extend(status::not_ready(&live, &facts, now));
        }
    }
    Ok((out, not_ready))
}

/// `cnvrgctl status`: exit 0 when every component is ready, 5 otherwise.
/// With `--watch`, the table is printed again whenever it changes, until
/// Ctrl-C (exit 0).
pub fn status(printer: &Printer, global: &Global, args: StatusArgs) -> Result<(), Error> {
    let (spec, manifests) = prepare(printer, &args.spec)?;
    let scopes = scopes(&spec, args.scope.as_deref())?;
    runtime()?.block_on(async {
        let cluster = connect(global).await?;
        let rows = read(&cluster, &manifests, &scopes).await?;
        print_status(printer, global, &rows)?;
        if args.watch {
            watch(printer, global, &cluster, &manifests, &scopes, rows).await?;
            requests(printer, global, &cluster);
            return Ok(());
        }
        requests(printer, global, &cluster);
        match rows.iter().filter(|r| r.state != "Ready").count() {
            0 => Ok(()),
            n => Err(Error::NotReadyYet(n)),
        }
    })
}

/// How long changes may keep coming before the table is read again.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(300);
/// Read again at least this often, for changes no Pod shows (a PVC bound).
const REFRESH: std::time::Duration = std::time::Duration::from_secs(15);

/// Re-reads the scopes whenever a Pod in their namespaces changes (a watch
/// per namespace), printing the table when it changed, until Ctrl-C.
async fn watch(
    printer: &Printer,
    global: &Global,
    cluster: &Cluster,
    manifests: &[Manifest],
    scopes: &[Scope],
    mut shown: Vec<ComponentStatus>,
) -> Result<(), Error> {
    use futures::StreamExt;
    let pods = cluster
        .resource("v1", "Pod")
        .await?
        .expect("every cluster serves pods");
    let namespaces: std::collections::BTreeSet<String> = scopes
        .iter()
        .filter_map(|s| scope_namespace(manifests, s))
        .collect();
    let mut changes = futures::stream::select_all(
        namespaces
            .iter()
            .map(|ns| cluster.watch(&pods, Some(ns)).boxed()),
    );
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => return Ok(()),
            _ = changes.next() => {
                // Let a burst of changes settle.
                let _ = tokio::time::timeout(SETTLE, async {
                    while changes.next().await.is_some() {}
                })
                .await;
            }
            _ = tokio::time::sleep(REFRESH) => {}
        }
        let rows = read(cluster, manifests, scopes).await?;
        if rows != shown {
            if global.output == OutputFormat::Text {
                printer.out("\n")?;
            }
            print_status(printer, global, &rows)?;
            shown = rows;
        }
    }
}

fn print_status(printer: &Printer, global: &Global, rows: &[ComponentStatus]) -> Result<(), Error> {
    if global.output == OutputFormat::Json {
        printer.out(&status_json(rows))?;
    } else {
        printer.out(&status_table(rows))?;
    }
    Ok(())
}

/// The rows as `status -o json` prints them.
pub(super) fn status_json(rows: &[ComponentStatus]) -> String {
    serde_json::to_string_pretty(rows).expect("serializes") + "\n"
}

/// The rows as the `status` table.
pub(super) fn status_table(rows: &[ComponentStatus]) -> String {
    let table: Vec<[String; 4]> = rows
        .iter()
        .map(|r| {
            [
                r.scope.clone(),
                r.component.clone(),
                r.state.to_string(),
                r.detail.clone(),
            ]
        })
        .collect();
    columns(["SCOPE", "COMPONENT", "STATE", "DETAIL"], &table)
}

/// `cnvrgctl tenant list`.
pub fn tenant_list(printer: &Printer, global: &Global, args: SpecArgs) -> Result<(), Error> {
    let (spec, manifests) = prepare(printer, &args)?;
    let tenant_scopes: Vec<Scope> = spec
        .tenants
        .iter()
        .map(|t| Scope::Tenant(t.name.clone()))
        .collect();
    let (rows, installed) = runtime()?.block_on(async {
        let cluster = connect(global).await?;
        let installed = status::installed(&cluster).await?;
        let rows = read(&cluster, &manifests, &tenant_scopes).await?;
        requests(printer, global, &cluster);
        Ok::<_, Error>((rows, installed))
    })?;
    let now = k8s_openapi::jiff::Timestamp::now();
    let mut health: BTreeMap<String, &'static str> = BTreeMap::new();
    for r in &rows {
        let worst = health.entry(r.scope.clone()).or_insert("Ready");
        if r.state == "Failed" || (r.state == "Progressing" && *worst == "Ready") {
            *worst = r.state;
        }
    }
    let mut table = Vec::new();
    for t in &spec.tenants {
        let scope = Scope::Tenant(t.name.clone()).to_string();
        let on_cluster = installed.iter().find(|(s, _, _)| *s == scope);
        let state = match on_cluster {
            None => "not installed",
            Some(_) => health.get(&scope).copied().unwrap_or("Ready"),
        };
        let age = on_cluster
            .map(|(_, _, created)| age(created, now))
            .unwrap_or_else(|| "-".into());
        let kind = serde_json::to_value(t.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        table.push([
            t.name.clone(),
            kind,
            t.namespace.clone(),
            state.to_string(),
            age,
        ]);
    }
    let mut strays = Vec::new();
    for (scope, namespace, created) in &installed {
        let Some(name) = scope.strip_prefix("tenant.") else {
            continue;
        };
        if !spec.tenants.iter().any(|t| t.name == name) {
            table.push([
                name.to_string(),
                "?".into(),
                namespace.clone(),
                "not in the spec".into(),
                age(created, now),
            ]);
            strays.push(name.to_string());
        }
    }
    match global.output {
        OutputFormat::Json => {
            let list: Vec<serde_json::Value> = table
                .iter()
                .map(|[name, kind, ns, health, age]| serde_json::json!({"name": name, "type": kind, "namespace": ns, "health": health, "age": age}))
                .collect();
            printer.out(&(serde_json::to_string_pretty(&list).expect("serializes") + "\n"))?;
        }
        // A graph format is refused in `run`.
        OutputFormat::Text | OutputFormat::Dot | OutputFormat::Mermaid => printer.out(&columns(
            ["NAME", "TYPE", "NAMESPACE", "HEALTH", "AGE"],
            &table,
        ))?,
    }
    for name in strays {
        printer.warn(&format!(
            "tenant `{name}` is on the cluster but not in the spec; nothing was deleted (add it back to the spec, or remove it from the cluster with `cnvrgctl tenant remove {name}`)"
        ));
    }
    Ok(())
}

/// `5d`, `3h`, `12m` or `40s` since an RFC 3339 time.
fn age(created: &str, now: k8s_openapi::jiff::Timestamp) -> String {
    let Ok(then) = created.parse::<k8s_openapi::jiff::Timestamp>() else {
        return "-".into();
    };
    let secs = now.as_second().saturating_sub(then.as_second()).max(0);
    match secs {
        s if s >= 86_400 => format!("{}d", s / 86_400),
        s if s >= 3_600 => format!("{}h", s / 3_600),
        s if s >= 60 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_short() {
        let now: k8s_openapi::jiff::Timestamp = "2026-11-25T12:00:00Z".parse().unwrap();
        assert_eq!(age("2026-11-25T11:59:20Z", now), "40s");
        assert_eq!(age("2026-11-25T11:00:00Z", now), "1h");
        assert_eq!(age("2026-11-20T12:00:00Z", now), "5d");
        assert_eq!(age("garbage", now), "-");
    }
}
