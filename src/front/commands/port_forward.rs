//! `cnvrgctl port-forward COMPONENT --tenant NAME`: a local port that reaches
//! a tenant component's Service, the way `kubectl port-forward svc/...` does,
//! but picking a ready pod behind the Service for each new connection, so a
//! pod that restarts or is replaced ends only the connections it carried.
//! Which Service and which pod are decided in `crate::engine::forward` (pure); the
//! bytes move in `crate::engine::kube`. Runs until Ctrl-C (exit 0).

use std::net::SocketAddr;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};

use super::prepare;
use super::session::{connect, requests, runtime};
use crate::engine::forward::{self, ServicePort, TargetPort};
use crate::engine::kube::{Cluster, ForwardError, Resource};
use crate::front::cli::{Global, PortForwardArgs};
use crate::front::error::Error;
use crate::front::ui::Printer;

/// Connections carried at once; more wait in the listen queue.
const MAX_CONNECTIONS: usize = 64;

/// The Service being forwarded to, as read once at start.
struct Target {
    namespace: String,
    service: Value,
    /// `namespace/name`, for messages.
    id: String,
    port: TargetPort,
    /// The Service's selector, for listing its pods.
    selector: String,
    pods: Resource,
}

pub fn port_forward(
    printer: &Printer,
    global: &Global,
    args: PortForwardArgs,
) -> Result<(), Error> {
    let (spec, manifests) = prepare(printer, &args.spec)?;
    let Some(tenant) = spec.tenants.iter().find(|t| t.name == args.tenant) else {
        return Err(Error::Usage(format!(
            "--tenant: no tenant `{}` in the spec (tenants: {})",
            args.tenant,
            super::tenant_names(&spec)
        )));
    };
    let wanted =
        forward::service_port(&args.component, &tenant.name, tenant.kind).map_err(Error::Usage)?;
    let namespace = tenant.namespace.clone();
    let rendered = manifests.iter().any(|m| {
        m.kind() == "Service"
            && m.namespace() == Some(namespace.as_str())
            && m.name() == wanted.service
    });
    if !rendered {
        return Err(Error::Usage(format!(
            "tenant `{}` has no Service {} in its spec (is {} turned off?)",
            tenant.name, wanted.service, args.component
        )));
    }
    let local_port = args.port.unwrap_or(wanted.port);
    runtime()?.block_on(async {
        // Installed before anything else, so a Ctrl-C at any point stops cleanly.
        let interrupted = interrupt().map_err(Error::Stdout)?;
        let cluster = connect(global).await?;
        let run = serve(
            printer,
            global,
            &cluster,
            namespace,
            &wanted,
            SocketAddr::new(args.address, local_port),
        );
        let outcome = tokio::select! {
            outcome = run => outcome,
            () = interrupted => Ok(()),
        };
        requests(printer, global, &cluster);
        outcome
    })
}

/// Listens, checks there is something to forward to, and carries each
/// connection to a ready pod until stopped.
async fn serve(
    printer: &Printer,
    global: &Global,
    cluster: &Cluster,
    namespace: String,
    wanted: &ServicePort,
    address: SocketAddr,
) -> Result<(), Error> {
    // The local side first: a port in use needs no cluster to be reported.
    let listener = TcpListener::bind(address)
        .await
        .map_err(|e| listen_error(address, &e))?;
    let local = listener.local_addr().map_err(Error::Stdout)?;
    let target = target(cluster, namespace, wanted).await?;
    let pods = cluster
        .list(
            &target.pods,
            Some(&target.namespace),
            Some(&target.selector),
        )
        .await?;
    forward::pick(&target.service, &target.port, &pods).map_err(|why| {
        Error::Precondition(format!("no ready pod behind Service {}: {why}", target.id))
    })?;
    printer.info(&format!(
        "Forwarding http://{local} -> service {}:{} (Ctrl-C to stop)",
        target.id, wanted.port
    ));
    let mut open = FuturesUnordered::new();
    loop {
        tokio::select! {
            accepted = listener.accept(), if open.len() < MAX_CONNECTIONS => match accepted {
                Ok((socket, peer)) => open.push(connection(printer, global, cluster, &target, socket, peer)),
                Err(e) => {
                    printer.warn(&format!("{local}: cannot accept a connection: {e}"));
                    // Out of file descriptors, most likely: give open ones time to close.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(()) = open.next(), if !open.is_empty() => {}
        }
    }
}

/// The live Service and its target port.
async fn target(
    cluster: &Cluster,
    namespace: String,
    wanted: &ServicePort,
) -> Result<Target, Error> {
    let id = format!("{namespace}/{}", wanted.service);
    let missing = |what: &str| {
        Error::Precondition(format!(
            "Service {id} {what}; install the tenant first (cnvrgctl apply)"
        ))
    };
    let services = cluster.resource("v1", "Service").await?;
    let pods = cluster.resource("v1", "Pod").await?;
    let (Some(services), Some(pods)) = (services, pods) else {
        return Err(missing(
            "cannot be read: the cluster serves no v1 Services or Pods",
        ));
    };
    let Some(service) = cluster
        .get(&services, Some(&namespace), &wanted.service)
        .await?
    else {
        return Err(missing("is not on the cluster"));
    };
    let port = forward::target_port(&service, wanted.port)
        .map_err(|why| Error::Precondition(format!("Service {id}: {why}")))?;
    let selector = forward::label_selector(&service).ok_or_else(|| {
        Error::Precondition(format!(
            "Service {id} has no selector, so no pod is behind it"
        ))
    })?;
    Ok(Target {
        namespace,
        service,
        id,
        port,
        selector,
        pods,
    })
}

/// One local connection: a ready pod picked now, then the bytes both ways.
/// Whatever goes wrong ends this connection only, with a warning.
async fn connection(
    printer: &Printer,
    global: &Global,
    cluster: &Cluster,
    target: &Target,
    socket: TcpStream,
    peer: SocketAddr,
) {
    let _ = socket.set_nodelay(true);
    let pods = match cluster
        .list(
            &target.pods,
            Some(&target.namespace),
            Some(&target.selector),
        )
        .await
    {
        Ok(pods) => pods,
        Err(e) => {
            printer.warn(&format!("{peer}: connection closed: {e}"));
            return;
        }
    };
    let pick = match forward::pick(&target.service, &target.port, &pods) {
        Ok(pick) => pick,
        Err(why) => {
            printer.warn(&format!(
                "{peer}: connection closed: no ready pod behind Service {}: {why}",
                target.id
            ));
            return;
        }
    };
    let pod = format!("pod {}/{}:{}", target.namespace, pick.pod, pick.port);
    if global.verbose > 0 {
        printer.info(&format!("{peer} -> {pod}"));
    }
    match cluster
        .port_forward(&target.namespace, &pick.pod, pick.port, socket)
        .await
    {
        Ok(moved) => {
            if global.verbose > 1 {
                printer.info(&format!(
                    "{peer} -> {pod}: closed ({} bytes sent, {} received)",
                    moved.sent, moved.received
                ));
            }
        }
        Err(e @ (ForwardError::Open(_) | ForwardError::Pod { .. })) => {
            printer.warn(&format!("{peer}: connection closed: {e}"));
        }
        Err(e @ ForwardError::Broken { .. }) => {
            if global.verbose > 0 {
                printer.info(&format!("{peer} -> {pod}: {e}"));
            }
        }
    }
}

/// Why the local address cannot be listened on, with what to do about it.
fn listen_error(address: SocketAddr, error: &std::io::Error) -> Error {
    let hint = match error.kind() {
        std::io::ErrorKind::AddrInUse => "; choose another local port with --port",
        std::io::ErrorKind::PermissionDenied => {
            "; ports below 1024 need privileges: choose another local port with --port"
        }
        std::io::ErrorKind::AddrNotAvailable => "; --address must be an address of this machine",
        _ => "",
    };
    Error::Usage(format!("cannot listen on {address}: {error}{hint}"))
}

/// Resolves at Ctrl-C. The handler is installed by this call (not at the first
/// poll), so an interrupt that comes early is not lost.
#[cfg(unix)]
fn interrupt() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut sigint = signal(SignalKind::interrupt())?;
    Ok(async move {
        sigint.recv().await;
    })
}

#[cfg(not(unix))]
fn interrupt() -> std::io::Result<impl Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_in_use_names_the_address_and_the_way_out() {
        let address: SocketAddr = "127.0.0.1:4200".parse().unwrap();
        let error = std::io::Error::from(std::io::ErrorKind::AddrInUse);
        let message = listen_error(address, &error).to_string();
        assert!(
            message.starts_with("cannot listen on 127.0.0.1:4200: "),
            "{message}"
        );
        assert!(
            message.ends_with("; choose another local port with --port"),
            "{message}"
        );
        assert_eq!(listen_error(address, &error).exit_code(), 2);
    }
}
