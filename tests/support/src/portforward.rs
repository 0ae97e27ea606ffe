//! `pods/{name}/portforward` as the API server and kubelet serve it over a
//! WebSocket: the `v4.channel.k8s.io` subprotocol, two channels per requested
//! port (data `2i`, error `2i+1`), each opened by a frame carrying the port as
//! two little-endian bytes, every frame prefixed by its channel byte.
//!
//! Behind each declared container port of a Running pod sits a simulated
//! service: it first writes `pod=<name> port=<port>\n`, then echoes every byte
//! it receives, so a test can tell which pod answered and that bytes went both
//! ways. A port the pod does not declare gets "connection refused" on its
//! error channel; a pod that is not Running gets "not running" there. When the
//! pod is deleted the WebSocket is closed, as the kubelet's stream would be.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use serde_json::Value;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use crate::Shared;
use crate::errors::ApiError;

/// The only subprotocol served (what kube-rs and kubectl negotiate).
const PROTOCOL: &str = "v4.channel.k8s.io";

/// Answers the upgrade request, then serves the WebSocket on its own task.
pub fn upgrade(
    shared: Arc<Shared>,
    req: hyper::Request<Incoming>,
    ns: &str,
    name: &str,
    ports: Option<&str>,
) -> Result<Response<BoxBody<Bytes, Infallible>>, ApiError> {
    let pod = {
        let st = shared.lock();
        let def = st
            .registry
            .by_kind("v1", "Pod")
            .cloned()
            .ok_or_else(ApiError::no_route)?;
        st.get(&def, ns, name)?
    };
    let ports = parse_ports(ports.unwrap_or_default())?;
    let header = |h: header::HeaderName| {
        req.headers()
            .get(h)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    if !header(header::UPGRADE).eq_ignore_ascii_case("websocket") {
        return Err(ApiError::bad_request("Upgrade request required"));
    }
    let offered = header(header::SEC_WEBSOCKET_PROTOCOL);
    if !offered.split(',').any(|p| p.trim() == PROTOCOL) {
        return Err(ApiError::bad_request(format!(
            "unable to upgrade: none of the offered subprotocols ({offered}) is supported; use {PROTOCOL}"
        )));
    }
    let key = header(header::SEC_WEBSOCKET_KEY);
    if key.is_empty() {
        return Err(ApiError::bad_request("missing Sec-WebSocket-Key"));
    }
    let accept = derive_accept_key(key.as_bytes());
    tokio::spawn(async move {
        let Ok(upgraded) = hyper::upgrade::on(req).await else {
            return;
        };
        let io = hyper_util::rt::TokioIo::new(upgraded);
        let ws = WebSocketStream::from_raw_socket(io, Role::Server, None).await;
        session(shared, ws, pod, ports).await;
    });
    let mut r = Response::new(Full::new(Bytes::new()).boxed());
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(PROTOCOL),
    );
    if let Ok(v) = HeaderValue::from_str(&accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    Ok(r)
}

fn parse_ports(text: &str) -> Result<Vec<u16>, ApiError> {
    let ports: Vec<u16> = text
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.trim()
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| ApiError::bad_request(format!("invalid port: {p:?}")))
        })
        .collect::<Result<_, _>>()?;
    if ports.is_empty() {
        return Err(ApiError::bad_request("at least one port must be specified"));
    }
    Ok(ports)
}

fn frame(channel: usize, payload: &[u8]) -> Message {
    let mut bytes = Vec::with_capacity(payload.len() + 1);
    bytes.push(channel as u8);
    bytes.extend_from_slice(payload);
    Message::binary(bytes)
}

fn declared_ports(pod: &Value) -> Vec<u16> {
    pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["ports"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p["containerPort"].as_u64())
        .filter_map(|p| u16::try_from(p).ok())
        .collect()
}

/// Whether the pod that was forwarded to is still there (same uid, not deleting).
fn still_there(shared: &Shared, ns: &str, name: &str, uid: &str) -> bool {
    let st = shared.lock();
    st.store
        .get(&(String::new(), "pods".to_string()), ns, name)
        .is_some_and(|s| {
            s.obj["metadata"]["uid"].as_str() == Some(uid)
                && s.obj["metadata"]["deletionTimestamp"].is_null()
        })
}

async fn session<S>(shared: Arc<Shared>, mut ws: WebSocketStream<S>, pod: Value, ports: Vec<u16>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let uid = pod["metadata"]["uid"].as_str().unwrap_or_default();
    let phase = pod["status"]["phase"].as_str().unwrap_or("Pending");
    for (i, port) in ports.iter().enumerate() {
        for channel in [2 * i, 2 * i + 1] {
            if ws.send(frame(channel, &port.to_le_bytes())).await.is_err() {
                return;
            }
        }
    }
    if phase != "Running" {
        for (i, _) in ports.iter().enumerate() {
            let message = format!(
                "unable to do port forwarding: pod {ns}/{name} is not running (phase {phase})"
            );
            let _ = ws.send(frame(2 * i + 1, message.as_bytes())).await;
        }
        let _ = ws.close(None).await;
        return;
    }
    let declared = declared_ports(&pod);
    let mut open = vec![false; ports.len()];
    for (i, port) in ports.iter().enumerate() {
        let sent = if declared.contains(port) {
            open[i] = true;
            ws.send(frame(2 * i, format!("pod={name} port={port}\n").as_bytes()))
                .await
        } else {
            let message = format!(
                "error forwarding port {port} to pod {name}, uid {uid}: failed to connect to localhost:{port} inside namespace {ns}: connection refused"
            );
            ws.send(frame(2 * i + 1, message.as_bytes())).await
        };
        if sent.is_err() {
            return;
        }
    }
    let mut changes = shared.lock().store.subscribe();
    loop {
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() || !still_there(&shared, ns, name, uid) {
                    let _ = ws.close(None).await;
                    return;
                }
            }
            message = ws.next() => match message {
                Some(Ok(Message::Binary(bytes))) if bytes.len() > 1 => {
                    let channel = usize::from(bytes[0]);
                    let index = channel / 2;
                    if channel % 2 == 0 && open.get(index).copied().unwrap_or(false) {
                        if ws.send(frame(channel, &bytes[1..])).await.is_err() {
                            return;
                        }
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    let _ = ws.close(None).await;
                    return;
                }
                Some(Ok(_)) => {}
            }
        }
    }
}
