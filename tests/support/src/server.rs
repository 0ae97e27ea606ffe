//! HTTP/1.1 on a tokio listener: routing of Kubernetes API paths to the
//! operations in `ops`, content negotiation (JSON out; JSON or YAML in),
//! watch streams (newline-delimited events, chunked), faults, and the request
//! log. Nothing about object semantics lives here.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Method, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use serde_json::{Value, json};

use crate::apply::Sub;
use crate::errors::ApiError;
use crate::ops::{Ctx, PatchType, State};
use crate::outage::{self, Phase};
use crate::resources::ResourceDef;
use crate::selectors::Selector;
use crate::{Request, Shared, Verb};

type Body = BoxBody<Bytes, Infallible>;

pub async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    tokio::pin!(shutdown);
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    let mut listener = Some(listener);
    let mut phase = shared.phase.subscribe();
    loop {
        let accepting = async {
            match &listener {
                Some(l) => l.accept().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut shutdown => break,
            r = phase.changed() => {
                if r.is_err() { break; }
                let now = *phase.borrow_and_update();
                match now {
                    Phase::Down => listener = None,
                    _ if listener.is_none() => listener = Some(outage::listen_again(port).await),
                    _ => {}
                }
            }
            accepted = accepting => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                tokio::spawn(connection(stream, shared.clone()));
            }
        }
    }
}

/// Serves one connection until the client closes it or the server goes down.
async fn connection(stream: tokio::net::TcpStream, shared: Arc<Shared>) {
    let mut phase = shared.phase.subscribe();
    let service = hyper::service::service_fn(move |req| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(handle(shared, req).await) }
    });
    let serving = hyper::server::conn::http1::Builder::new()
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
        .with_upgrades();
    tokio::select! {
        _ = serving => {}
        _ = outage::gone(&mut phase) => {}
    }
}

/// Where a path leads.
#[derive(Debug)]
enum Route {
    Version,
    Api,
    Apis,
    Group(String),
    ResourceList(String, String),
    Resource {
        group: String,
        version: String,
        plural: String,
        namespace: Option<String>,
        name: Option<String>,
        sub: Option<String>,
    },
    Health,
    NotFound,
}

fn route(path: &str) -> Route {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let (group, version, rest) = match segs.as_slice() {
        ["version"] => return Route::Version,
        ["healthz" | "readyz" | "livez", ..] => return Route::Health,
        ["api"] => return Route::Api,
        ["apis"] => return Route::Apis,
        ["apis", g] => return Route::Group(g.to_string()),
        ["api", v] => return Route::ResourceList(String::new(), v.to_string()),
        ["apis", g, v] => return Route::ResourceList(g.to_string(), v.to_string()),
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Route::NotFound,
    };
    let s = |x: &&str| x.to_string();
    let (namespace, rest) = match rest {
        ["namespaces", ns, plural, more @ ..] if !matches!(*plural, "status" | "finalize") => {
            (Some(ns.to_string()), [&[*plural][..], more].concat())
        }
        _ => (None, rest.to_vec()),
    };
    match rest.as_slice() {
        [plural] => Route::Resource {
            group: group.into(),
            version: version.into(),
            plural: s(plural),
            namespace,
            name: None,
            sub: None,
        },
        [plural, name] => Route::Resource {
            group: group.into(),
            version: version.into(),
            plural: s(plural),
            namespace,
            name: Some(s(name)),
            sub: None,
        },
        [plural, name, sub] => Route::Resource {
            group: group.into(),
            version: version.into(),
            plural: s(plural),
            namespace,
            name: Some(s(name)),
            sub: Some(s(sub)),
        },
        _ => Route::NotFound,
    }
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
                {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct Params(Vec<(String, String)>);

impl Params {
    fn parse(q: &str) -> Params {
        Params(
            q.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (decode(k), decode(v)),
                    None => (decode(p), String::new()),
                })
                .collect(),
        )
    }
    fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }
    fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some("true" | "1" | ""))
    }
}

fn json_response(code: u16, v: &Value) -> Response<Body> {
    let mut r =
        Response::new(Full::new(Bytes::from(serde_json::to_vec(v).unwrap_or_default())).boxed());
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn text_response(code: u16, text: String) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(text)).boxed());
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn error_response(e: &ApiError) -> Response<Body> {
    let mut r = json_response(e.code, &e.status());
    for (k, v) in &e.headers {
        if let (Ok(k), Ok(v)) = (
            header::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            r.headers_mut().insert(k, v);
        }
    }
    r
}

fn verb_of(method: &Method, route: &Route, params: &Params, content_type: &str) -> Verb {
    match route {
        Route::Version | Route::Api | Route::Apis | Route::Group(_) | Route::ResourceList(..) => {
            Verb::Discovery
        }
        Route::Resource { name, sub, .. } => {
            match (method.as_str(), name.is_some(), sub.as_deref()) {
                ("GET", true, Some("log")) => Verb::Log,
                ("GET" | "POST", true, Some("portforward")) if route_is_pod(route) => {
                    Verb::PortForward
                }
                ("GET", _, _) if params.flag("watch") && params.get("watch").is_some() => {
                    Verb::Watch
                }
                ("GET", true, _) => Verb::Get,
                ("GET", false, _) => Verb::List,
                ("POST", false, _) if route_is_review(route) => Verb::Review,
                ("POST", false, _) => Verb::Create,
                ("PUT", true, Some("status")) => Verb::UpdateStatus,
                ("PUT", true, _) => Verb::Update,
                ("PATCH", true, _) if content_type.starts_with("application/apply-patch") => {
                    Verb::Apply
                }
                ("PATCH", true, Some("status")) => Verb::UpdateStatus,
                ("PATCH", true, _) => Verb::Patch,
                ("DELETE", _, _) => Verb::Delete,
                _ => Verb::Other,
            }
        }
        _ => Verb::Other,
    }
}

fn route_is_review(route: &Route) -> bool {
    matches!(route, Route::Resource { group, plural, .. } if group == crate::access::GROUP && plural == crate::access::PLURAL)
}

fn route_is_pod(route: &Route) -> bool {
    matches!(route, Route::Resource { group, plural, namespace: Some(_), .. } if group.is_empty() && plural == "pods")
}

fn manager_from(params: &Params, user_agent: &str) -> String {
    params
        .get("fieldManager")
        .filter(|m| !m.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| {
            user_agent
                .split('/')
                .next()
                .filter(|s| !s.is_empty())
                .unwrap_or("unknown")
                .to_string()
        })
}

fn parse_body(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(bytes).or_else(|_| {
        serde_yaml::from_slice::<Value>(bytes)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
    })
}

async fn handle(shared: Arc<Shared>, req: hyper::Request<Incoming>) -> Response<Body> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let header = |h: header::HeaderName| {
        req.headers()
            .get(h)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let content_type = header(header::CONTENT_TYPE);
    let user_agent = header(header::USER_AGENT);
    let params = Params::parse(&query);
    let route = route(&path);
    let verb = verb_of(&method, &route, &params, &content_type);
    let dry_run = params.get("dryRun").is_some_and(|v| v == "All");
    let mut record = Request {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        verb,
        status: 0,
        dry_run,
        resource: None,
        namespace: None,
        name: None,
        field_manager: params.get("fieldManager").map(str::to_string),
    };
    if let Route::Resource {
        plural,
        namespace,
        name,
        ..
    } = &route
    {
        record.resource = Some(plural.clone());
        record.namespace = namespace.clone();
        record.name = name.clone();
    }
    let phase = *shared.phase.borrow();
    if let Some(e) = outage::turned_away(phase, verb, matches!(route, Route::Health)) {
        record.status = e.code;
        shared.lock().requests.push(record);
        return error_response(&e);
    }
    let actions = crate::faults::take(&mut shared.lock().faults, method.as_str(), &path, verb);
    if !actions.delay.is_zero() {
        tokio::time::sleep(actions.delay).await;
    }
    let response = match actions.respond {
        Some(e) => error_response(&e),
        None if verb == Verb::PortForward => {
            let ns = record.namespace.clone().unwrap_or_default();
            let name = record.name.clone().unwrap_or_default();
            let ports = params.get("ports").map(str::to_string);
            crate::portforward::upgrade(shared.clone(), req, &ns, &name, ports.as_deref())
                .unwrap_or_else(|e| error_response(&e))
        }
        None => {
            let body = match req.into_body().collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => Bytes::new(),
            };
            let ctx = Ctx {
                manager: manager_from(&params, &user_agent),
                dry_run,
                force: params.flag("force") && params.get("force").is_some(),
                client: true,
            };
            dispatch(
                &shared,
                &method,
                route,
                &params,
                &content_type,
                &body,
                ctx,
                actions.drop_watch_after,
            )
            .await
        }
    };
    record.status = response.status().as_u16();
    shared.lock().requests.push(record);
    response
}

#[allow(clippy::too_many_arguments)]
async fn dispatch(
    shared: &Arc<Shared>,
    method: &Method,
    route: Route,
    params: &Params,
    content_type: &str,
    body: &[u8],
    ctx: Ctx,
    drop_watch_after: Option<u32>,
) -> Response<Body> {
    let now = Instant::now();
    match route {
        Route::Health => text_response(200, "ok".into()),
        Route::NotFound => error_response(&ApiError::no_route()),
        Route::Version => json_response(
            200,
            &json!({
                "major": "1", "minor": "33", "gitVersion": "v1.33.0-testserver",
                "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
                "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.24.0", "compiler": "gc", "platform": "linux/amd64",
            }),
        ),
        Route::Api => json_response(
            200,
            &json!({ "kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443" }] }),
        ),
        Route::Apis => json_response(200, &shared.lock().registry.api_group_list(now)),
        Route::Group(g) => match shared.lock().registry.api_group(&g, now) {
            Some(d) => json_response(200, &d),
            None => error_response(&ApiError::no_route()),
        },
        Route::ResourceList(g, v) => match shared.lock().registry.resource_list(&g, &v, now) {
            Some(d) => json_response(200, &d),
            None => error_response(&ApiError::no_route()),
        },
        Route::Resource {
            group,
            version,
            plural,
            namespace,
            name,
            sub,
        } => {
            let def = shared
                .lock()
                .registry
                .by_path(&group, &version, &plural, now)
                .cloned();
            let Some(def) = def else {
                return error_response(&ApiError::no_route());
            };
            if !def.namespaced && namespace.is_some() {
                return error_response(&ApiError::no_route());
            }
            if def.group == crate::access::GROUP && def.plural == crate::access::PLURAL {
                if name.is_some() {
                    return error_response(&ApiError::method_not_allowed());
                }
                let review = parse_body(body).and_then(|b| {
                    crate::access::review(&shared.lock().denials, method.as_str(), &b)
                });
                return respond(review, 201);
            }
            let sub = match sub.as_deref() {
                None => Sub::Main,
                Some("status") if def.status => Sub::Status,
                Some("log") if def.kind == "Pod" && method == Method::GET => {
                    let ns = namespace.unwrap_or_default();
                    let name = name.unwrap_or_default();
                    return pod_log(shared, &def, &ns, &name, params);
                }
                Some("scale")
                    if matches!(
                        def.kind.as_str(),
                        "Deployment" | "StatefulSet" | "ReplicaSet"
                    ) && name.is_some() =>
                {
                    let ns = namespace.unwrap_or_default();
                    return scale(
                        shared,
                        &def,
                        &ns,
                        &name.unwrap_or_default(),
                        method,
                        content_type,
                        body,
                        &ctx,
                    );
                }
                Some(_) => return error_response(&ApiError::no_route()),
            };
            if def.namespaced && namespace.is_none() && (name.is_some() || *method != Method::GET) {
                return error_response(&ApiError::no_route());
            }
            let ns = namespace.clone().unwrap_or_default();
            match (method.as_str(), name) {
                ("GET", None) => {
                    let labels = match Selector::parse(
                        params.get("labelSelector").unwrap_or_default(),
                        false,
                    ) {
                        Ok(s) => s,
                        Err(e) => return error_response(&e),
                    };
                    let fields = match Selector::parse(
                        params.get("fieldSelector").unwrap_or_default(),
                        true,
                    ) {
                        Ok(s) => s,
                        Err(e) => return error_response(&e),
                    };
                    if params.flag("watch") && params.get("watch").is_some() {
                        return watch(
                            shared.clone(),
                            def,
                            namespace,
                            labels,
                            fields,
                            params,
                            drop_watch_after,
                        );
                    }
                    json_response(
                        200,
                        &shared
                            .lock()
                            .list(&def, namespace.as_deref(), &labels, &fields),
                    )
                }
                ("GET", Some(name)) => respond(shared.lock().get(&def, &ns, &name), 200),
                ("POST", None) => match parse_body(body) {
                    Ok(b) => respond(shared.lock().create(&def, &ns, b, &ctx), 201),
                    Err(e) => error_response(&e),
                },
                ("PUT", Some(name)) => match parse_body(body) {
                    Ok(b) => respond(shared.lock().update(&def, &ns, &name, b, sub, &ctx), 200),
                    Err(e) => error_response(&e),
                },
                ("PATCH", Some(name)) => {
                    let kind = match content_type.split(';').next().unwrap_or_default().trim() {
                        "application/apply-patch+yaml"
                        | "application/apply-patch+json"
                        | "application/apply-patch+cbor" => PatchType::Apply,
                        "application/merge-patch+json" => PatchType::Merge,
                        "application/strategic-merge-patch+json" => PatchType::Strategic,
                        "application/json-patch+json" => PatchType::Json,
                        other => return error_response(&ApiError::unsupported_media(other)),
                    };
                    let b = match parse_body(body) {
                        Ok(b) => b,
                        Err(e) => return error_response(&e),
                    };
                    let mut st = shared.lock();
                    if kind == PatchType::Apply {
                        if params.get("fieldManager").is_none_or(str::is_empty) {
                            return error_response(&ApiError::bad_request(
                                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
                            ));
                        }
                        let existed = st
                            .store
                            .get(&def.gr(), if def.namespaced { &ns } else { "" }, &name)
                            .is_some();
                        respond(
                            st.apply(&def, &ns, &name, b, sub, &ctx),
                            if existed { 200 } else { 201 },
                        )
                    } else {
                        respond(st.patch(&def, &ns, &name, kind, b, sub, &ctx), 200)
                    }
                }
                ("DELETE", Some(name)) => {
                    let opts = parse_body(body).unwrap_or(Value::Null);
                    let propagation = params
                        .get("propagationPolicy")
                        .map(str::to_string)
                        .or_else(|| opts["propagationPolicy"].as_str().map(str::to_string))
                        .or_else(|| {
                            opts["orphanDependents"]
                                .as_bool()
                                .filter(|o| *o)
                                .map(|_| "Orphan".to_string())
                        });
                    let mut ctx = ctx;
                    if opts["dryRun"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|v| v == "All"))
                    {
                        ctx.dry_run = true;
                    }
                    respond(
                        shared
                            .lock()
                            .delete(&def, &ns, &name, propagation.as_deref(), &ctx),
                        200,
                    )
                }
                ("DELETE", None) => {
                    let labels = match Selector::parse(
                        params.get("labelSelector").unwrap_or_default(),
                        false,
                    ) {
                        Ok(s) => s,
                        Err(e) => return error_response(&e),
                    };
                    let mut st = shared.lock();
                    let names: Vec<String> = st
                        .store
                        .list(&def.gr(), namespace.as_deref())
                        .into_iter()
                        .filter(|s| labels.matches(&s.obj))
                        .map(|s| {
                            s.obj["metadata"]["name"]
                                .as_str()
                                .unwrap_or_default()
                                .to_string()
                        })
                        .collect();
                    for n in &names {
                        let _ = st.delete(&def, &ns, n, None, &ctx);
                    }
                    json_response(
                        200,
                        &json!({ "kind": format!("{}List", def.kind), "apiVersion": def.api_version(), "metadata": {}, "items": [] }),
                    )
                }
                _ => error_response(&ApiError::method_not_allowed()),
            }
        }
    }
}

fn respond(r: Result<Value, ApiError>, code: u16) -> Response<Body> {
    match r {
        Ok(v) => json_response(if v["kind"] == "Status" { 200 } else { code }, &v),
        Err(e) => error_response(&e),
    }
}

fn pod_log(
    shared: &Arc<Shared>,
    def: &ResourceDef,
    ns: &str,
    name: &str,
    params: &Params,
) -> Response<Body> {
    let st = shared.lock();
    let pod = match st.get(def, ns, name) {
        Ok(p) => p,
        Err(e) => return error_response(&e),
    };
    let containers: Vec<String> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect();
    let container = match params.get("container") {
        Some(c) if !containers.iter().any(|x| x == c) => {
            return error_response(&ApiError::bad_request(format!(
                "container {c} is not valid for pod {name}"
            )));
        }
        Some(c) => c.to_string(),
        None if containers.len() > 1 => {
            return error_response(&ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            )));
        }
        None => containers.first().cloned().unwrap_or_default(),
    };
    // The controller keeps one log per container, which every instance of a
    // crash loop writes again: the previous instance's log is the same.
    let previous = params.get("previous").is_some_and(|p| p == "true");
    if let Some(why) = crate::logs::refusal(&pod, &container, previous) {
        return error_response(&ApiError::bad_request(why));
    }
    let lines: Vec<String> = st
        .logs
        .get(&(ns.to_string(), name.to_string()))
        .and_then(|cs| cs.iter().find(|(c, _)| *c == container))
        .map(|(_, l)| l.clone())
        .unwrap_or_default();
    let tail = params
        .get("tailLines")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(usize::MAX);
    let start = lines.len().saturating_sub(tail);
    let mut text: String = lines[start..].iter().map(|l| format!("{l}\n")).collect();
    if let Some(limit) = params
        .get("limitBytes")
        .and_then(|t| t.parse::<usize>().ok())
    {
        text.truncate(limit);
    }
    text_response(200, text)
}

fn event_line(kind: &str, object: Value) -> Bytes {
    let mut line =
        serde_json::to_vec(&json!({ "type": kind, "object": object })).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

/// How often a watch that asked for bookmarks gets one, however busy the
/// server is (kube-apiserver's watch cache: about every minute).
const BOOKMARK_EVERY: Duration = Duration::from_secs(60);
/// A watch that asked for bookmarks gets one this long before it times out
/// (kube-apiserver's watch cache), so that its client resumes from a
/// resourceVersion the server still holds.
const BOOKMARK_BEFORE_END: Duration = Duration::from_secs(2);

/// When a watch ending at `deadline` gets its next bookmark: in a minute,
/// or just before it ends; never again once that one is sent.
fn next_bookmark(deadline: tokio::time::Instant) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    let before_end = deadline.checked_sub(BOOKMARK_BEFORE_END).unwrap_or(now);
    if before_end < now {
        return now.max(deadline) + BOOKMARK_EVERY;
    }
    (now + BOOKMARK_EVERY).min(before_end)
}

fn watch(
    shared: Arc<Shared>,
    def: ResourceDef,
    namespace: Option<String>,
    labels: Selector,
    fields: Selector,
    params: &Params,
    drop_after: Option<u32>,
) -> Response<Body> {
    let rv = params
        .get("resourceVersion")
        .filter(|v| !v.is_empty() && *v != "0")
        .map(str::to_string);
    let bookmarks =
        params.flag("allowWatchBookmarks") && params.get("allowWatchBookmarks").is_some();
    let initial_events = params.get("sendInitialEvents") == Some("true");
    let asked = params
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map_or(Duration::from_secs(1800), Duration::from_secs);
    let timeout = shared
        .lock()
        .options
        .watch_timeout
        .map_or(asked, |cap| cap.min(asked));
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(256);
    let gr = def.gr();
    let matches = move |ns: &str, obj: &Value| {
        namespace.as_deref().is_none_or(|n| n == ns) && labels.matches(obj) && fields.matches(obj)
    };
    let (mut changes, mut cursor, initial, expired) = {
        let st = shared.lock();
        let changes = st.store.subscribe();
        let mut initial = vec![];
        let mut expired = None;
        let cursor = match rv.as_deref().map(str::parse::<u64>) {
            None => {
                for s in st.store.list(&gr, None) {
                    let ns = s.obj["metadata"]["namespace"].as_str().unwrap_or_default();
                    if matches(ns, &s.obj) {
                        initial.push(event_line("ADDED", State::present(&def, &s.obj)));
                    }
                }
                st.store.rv()
            }
            Some(Ok(n)) => {
                if let Err(oldest) = st.store.events_after(&gr, n) {
                    expired = Some(ApiError::new(
                        410,
                        "Expired",
                        format!("too old resource version: {n} ({oldest})"),
                    ));
                }
                n
            }
            Some(Err(_)) => {
                expired = Some(ApiError::bad_request(format!(
                    "invalid resource version: {}",
                    rv.clone().unwrap_or_default()
                )));
                0
            }
        };
        (changes, cursor, initial, expired)
    };
    let kind = def.kind.clone();
    let api_version = def.api_version();
    tokio::spawn(async move {
        let mut sent: u32 = 0;
        let limit = drop_after.unwrap_or(u32::MAX);
        if let Some(e) = expired {
            let _ = tx.send(event_line("ERROR", e.status())).await;
            return;
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let mut bookmark_at = next_bookmark(deadline);
        for line in initial {
            if sent >= limit || tx.send(line).await.is_err() {
                return;
            }
            sent += 1;
        }
        if initial_events {
            let bm = json!({ "kind": kind, "apiVersion": api_version, "metadata": { "resourceVersion": cursor.to_string(), "annotations": { "k8s.io/initial-events-end": "true" } } });
            if tx.send(event_line("BOOKMARK", bm)).await.is_err() {
                return;
            }
        }
        loop {
            if sent >= limit {
                return;
            }
            let batch: Result<Vec<Bytes>, ApiError> = {
                let st = shared.lock();
                match st.store.events_after(&gr, cursor) {
                    Err(oldest) => Err(ApiError::new(
                        410,
                        "Expired",
                        format!("too old resource version: {cursor} ({oldest})"),
                    )),
                    Ok(events) => {
                        let out = events
                            .iter()
                            .filter(|e| e.gr == gr && matches(&e.namespace, &e.object))
                            .map(|e| event_line(e.kind, State::present(&def, &e.object)))
                            .collect();
                        cursor = st.store.rv();
                        Ok(out)
                    }
                }
            };
            match batch {
                Err(e) => {
                    let _ = tx.send(event_line("ERROR", e.status())).await;
                    return;
                }
                Ok(lines) => {
                    for line in lines {
                        if sent >= limit || tx.send(line).await.is_err() {
                            return;
                        }
                        sent += 1;
                    }
                }
            }
            tokio::select! {
                r = changes.changed() => { if r.is_err() { return; } }
                _ = tokio::time::sleep_until(deadline) => return,
                _ = tokio::time::sleep_until(bookmark_at), if bookmarks => {
                    let bm = json!({ "kind": kind, "apiVersion": api_version, "metadata": { "resourceVersion": cursor.to_string() } });
                    if tx.send(event_line("BOOKMARK", bm)).await.is_err() { return; }
                    bookmark_at = next_bookmark(deadline);
                }
                _ = tx.closed() => return,
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    let mut r = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// The `/scale` subresource: an `autoscaling/v1` Scale over `spec.replicas`.
#[allow(clippy::too_many_arguments)]
fn scale(
    shared: &Arc<Shared>,
    def: &ResourceDef,
    ns: &str,
    name: &str,
    method: &Method,
    content_type: &str,
    body: &[u8],
    ctx: &Ctx,
) -> Response<Body> {
    let mut st = shared.lock();
    if *method != Method::GET {
        let patch = match parse_body(body) {
            Ok(b) => b,
            Err(e) => return error_response(&e),
        };
        let replicas =
            if *method == Method::PATCH && content_type.starts_with("application/json-patch") {
                patch
                    .as_array()
                    .and_then(|ops| ops.iter().find(|o| o["path"] == "/spec/replicas"))
                    .map(|o| o["value"].clone())
            } else {
                Some(patch["spec"]["replicas"].clone())
            };
        let Some(replicas) = replicas.filter(|r| r.is_i64()) else {
            return error_response(&ApiError::bad_request("spec.replicas is required"));
        };
        let p = json!({ "spec": { "replicas": replicas } });
        if let Err(e) = st.patch(def, ns, name, PatchType::Merge, p, Sub::Scale, ctx) {
            return error_response(&e);
        }
    }
    let o = match st.get(def, ns, name) {
        Ok(o) => o,
        Err(e) => return error_response(&e),
    };
    let selector: Vec<String> = o["spec"]["selector"]["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    let md = &o["metadata"];
    json_response(
        200,
        &json!({
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": { "name": md["name"], "namespace": md["namespace"], "uid": md["uid"],
                "resourceVersion": md["resourceVersion"], "creationTimestamp": md["creationTimestamp"] },
            "spec": { "replicas": o["spec"]["replicas"] },
            "status": { "replicas": o["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector.join(",") },
        }),
    )
}
