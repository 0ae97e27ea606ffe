//! What every cluster command starts with: the scopes it acts on, a tokio
//! runtime, a connection from the kubeconfig, and (with `-v`) the count of
//! API requests it made.

use std::sync::Arc;

use super::parse_scope;
use crate::engine::kube::Cluster;
use crate::front::cli::Global;
use crate::front::error::Error;
use crate::front::ui::Printer;
use crate::pipeline::manifest::Scope;
use crate::pipeline::spec::Spec;

/// The scopes a command acts on: the one asked for, or infra and every tenant.
pub(super) fn scopes(spec: &Spec, wanted: Option<&str>) -> Result<Vec<Scope>, Error> {
    match wanted {
        Some(text) => Ok(vec![parse_scope(text, spec)?]),
        None => Ok(std::iter::once(Scope::Infra)
            .chain(spec.tenants.iter().map(|t| Scope::Tenant(t.name.clone())))
            .collect()),
    }
}

pub(super) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(Error::Stdout)
}

pub(super) async fn connect(global: &Global) -> Result<Arc<Cluster>, Error> {
    let cluster = Cluster::connect(global.kubeconfig.as_deref(), global.context.as_deref()).await?;
    Ok(Arc::new(cluster))
}

pub(super) fn requests(printer: &Printer, global: &Global, cluster: &Cluster) {
    if global.verbose > 0 {
        printer.info(&format!("{} to {}", cluster.requests(), cluster.server()));
    }
}
