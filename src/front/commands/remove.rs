//! `tenant remove` and `uninstall`: show what will be deleted and kept, ask,
//! then delete each scope in reverse order (tenants before infra). The tenant
//! file goes only after the cluster side is gone.

use std::time::Duration;

use super::prepare;
use super::session::{connect, requests, runtime};
use crate::engine::apply::{self, Removal, RemoveOptions};
use crate::engine::inventory::ApplySet;
use crate::engine::kube::Cluster;
use crate::front::cli::{Global, TenantRemoveArgs, UninstallArgs};
use crate::front::error::Error;
use crate::front::ui::Printer;
use crate::pipeline::manifest::Scope;

fn options(global: &Global, delete_data: bool, delete_crds: bool) -> RemoveOptions {
    RemoveOptions {
        delete_data,
        delete_crds,
        object_timeout: global.timeout.min(Duration::from_secs(300)),
        timeout: global.timeout,
    }
}

/// The line naming what a removal deletes and keeps.
fn describe(scope: &Scope, namespace: &str, removal: &Removal) -> String {
    let mut text = format!(
        "{scope} (namespace {namespace}): delete {} object(s)",
        removal.deleted()
    );
    if removal.deleted() > 0 {
        text.push_str(&format!(" ({})", removal.counts()));
    }
    if removal.kept() > 0 {
        let kept: Vec<String> = removal
            .items
            .iter()
            .filter_map(|p| p.kept.map(|why| format!("{} ({why})", p.change.id())))
            .collect();
        text.push_str(&format!("; keep {}", kept.join(", ")));
    }
    text
}

/// Removes the scopes in order after one confirmation.
async fn remove_scopes(
    printer: &Printer,
    global: &Global,
    cluster: &std::sync::Arc<Cluster>,
    sets: Vec<ApplySet>,
    options: &RemoveOptions,
) -> Result<usize, Error> {
    let mut plans = Vec::new();
    for set in sets {
        let removal = apply::plan_removal(cluster, &set, options).await?;
        plans.push((set, removal));
    }
    let deleted: usize = plans.iter().map(|(_, r)| r.deleted()).sum();
    for (set, removal) in &plans {
        printer.info(&describe(&set.scope, &set.namespace, removal));
    }
    if deleted == 0 {
        printer.info("nothing to delete");
        return Ok(0);
    }
    let question = format!("Delete {deleted} object(s) from {}?", cluster.server());
    super::confirm(printer, global, &question, "nothing deleted")?;
    let progress = printer.progress();
    for (set, removal) in &plans {
        apply::remove(cluster.clone(), set, removal, options, &progress).await?;
    }
    Ok(deleted)
}

/// `cnvrgctl tenant remove NAME [--delete-data]`.
pub fn tenant_remove(
    printer: &Printer,
    global: &Global,
    args: TenantRemoveArgs,
) -> Result<(), Error> {
    let (spec, _) = prepare(printer, &args.spec)?;
    let in_spec = spec.tenants.iter().find(|t| t.name == args.name);
    let scope = Scope::Tenant(args.name.clone());
    let options = options(global, args.delete_data, false);
    runtime()?.block_on(async {
        let cluster = connect(global).await?;
        let installed = crate::engine::status::installed(&cluster).await?;
        let on_cluster = installed.iter().find(|(s, _, _)| *s == scope.to_string());
        let namespace = match (on_cluster, in_spec) {
            (Some((_, ns, _)), _) => ns.clone(),
            (None, Some(_)) => {
                printer.info(&format!(
                    "tenant `{}` is not installed on {}",
                    args.name,
                    cluster.server()
                ));
                return Ok(());
            }
            (None, None) => {
                return Err(Error::Usage(format!(
                    "no tenant `{}` in the spec or on the cluster (spec tenants: {})",
                    args.name,
                    super::tenant_names(&spec)
                )));
            }
        };
        remove_scopes(
            printer,
            global,
            &cluster,
            vec![ApplySet::new(&scope, &namespace)],
            &options,
        )
        .await?;
        requests(printer, global, &cluster);
        Ok::<_, Error>(())
    })?;
    // The cluster side is gone: now the tenant's file.
    if let Some(tenant) = in_spec {
        let cluster_file = std::fs::canonicalize(&args.spec.file).ok();
        if std::fs::canonicalize(&tenant.file).ok() != cluster_file {
            std::fs::remove_file(&tenant.file).map_err(|e| {
                Error::Usage(format!(
                    "tenant removed from the cluster, but {} could not be deleted: {e}",
                    tenant.file.display()
                ))
            })?;
            printer.info(&format!("removed {}", tenant.file.display()));
        } else {
            printer.warn(&format!(
                "tenant `{}` is declared in {}: remove it there, or the next apply installs it again",
                args.name,
                tenant.file.display()
            ));
        }
    }
    Ok(())
}

/// `cnvrgctl uninstall`: every tenant on the cluster, then infra.
pub fn uninstall(printer: &Printer, global: &Global, args: UninstallArgs) -> Result<(), Error> {
    let (_, manifests) = prepare(printer, &args.spec)?;
    let options = options(global, args.delete_data, args.delete_crds);
    runtime()?.block_on(async {
        let cluster = connect(global).await?;
        let installed = crate::engine::status::installed(&cluster).await?;
        let mut sets: Vec<ApplySet> = installed
            .iter()
            .filter_map(|(scope, ns, _)| {
                scope
                    .strip_prefix("tenant.")
                    .map(|name| ApplySet::new(&Scope::Tenant(name.into()), ns))
            })
            .collect();
        // Infra last; its namespace from the cluster, else from the spec.
        let infra_ns = installed
            .iter()
            .find(|(scope, _, _)| scope == "infra")
            .map(|(_, ns, _)| ns.clone())
            .or_else(|| apply::scope_namespace(&manifests, &Scope::Infra));
        if let Some(ns) = infra_ns {
            sets.push(ApplySet::new(&Scope::Infra, &ns));
        }
        remove_scopes(printer, global, &cluster, sets, &options).await?;
        requests(printer, global, &cluster);
        Ok(())
    })
}
