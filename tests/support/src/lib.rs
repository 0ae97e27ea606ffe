//! An in-process Kubernetes API server for cnvrgctl's tests and benches. It
//! speaks the real REST API (discovery, get/list/watch, create/update/patch,
//! server-side apply with managed fields and conflicts, dry-run, delete with
//! finalizers and garbage collection) over plain HTTP on `127.0.0.1`, and a
//! controller inside it plays kube-controller-manager and the kubelet so
//! workloads, Jobs, PVCs, CRDs and Namespaces become ready (or fail) as on a
//! cluster. Product code reaches it through the kubeconfig it writes, like any
//! cluster; tests steer it through this handle: state, request and write
//! logs, per-object behaviours, injected faults and what the user may do
//! (access reviews).

// Nested `if let`s read better here than let-chains; the apply and controller
// entry points take the many values a request carries.
#![allow(
    clippy::collapsible_if,
    clippy::collapsible_match,
    clippy::too_many_arguments,
    clippy::type_complexity
)]

mod access;
mod apply;
mod controller;
mod defaults;
mod errors;
mod faults;
mod logs;
mod managed;
mod nodes;
mod ops;
mod outage;
mod portforward;
mod resources;
mod selectors;
mod server;
mod store;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;

pub use controller::{Behavior, PodTrouble, Target};
pub use faults::{Fault, FaultKind, FaultTarget};
pub use nodes::Node;
pub use outage::Restart;

use ops::{Ctx, State};

/// How the server behaves by default.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long pods take to become ready (and PVCs to bind, Jobs to finish).
    pub ready_after: Duration,
    /// How long after `Established` a CRD's kinds appear in discovery and become routable.
    pub crd_discovery_lag: Duration,
    /// Number of nodes (`node-1`..): a DaemonSet's desired count.
    pub nodes: u32,
    /// Watch events kept per server (a real API server's watch cache holds
    /// at least the last 75 s of each resource's); a watch resumed from
    /// before them is 410 Gone.
    pub history: usize,
    /// The longest a watch stays open, whatever `timeoutSeconds` asked (a
    /// real server ends it at `timeoutSeconds`, kube-rs asks 290 s).
    pub watch_timeout: Option<Duration>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            ready_after: Duration::from_millis(50),
            crd_discovery_lag: Duration::from_millis(100),
            nodes: 2,
            history: 10_000,
            watch_timeout: None,
        }
    }
}

/// What an API request did, as the request log shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Discovery,
    Get,
    List,
    Watch,
    Create,
    Apply,
    Patch,
    Update,
    UpdateStatus,
    Delete,
    Log,
    /// A WebSocket upgrade of `pods/{name}/portforward`.
    PortForward,
    /// A SelfSubjectAccessReview: a POST the server answers and never stores.
    Review,
    Other,
}

/// One HTTP request, in arrival order.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// The raw query string.
    pub query: String,
    pub verb: Verb,
    pub status: u16,
    pub dry_run: bool,
    /// Resource plural (`deployments`), for resource requests.
    pub resource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// `fieldManager` of a write, when given.
    pub field_manager: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOp {
    Create,
    Update,
    Delete,
}

/// A change an API client persisted (never dry-run, never a no-op apply,
/// never the controller's own writes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub op: WriteOp,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub manager: String,
}

pub(crate) struct Shared {
    pub state: Mutex<State>,
    /// Serving, or where it is in a restart ([`TestServer::restart`]).
    pub phase: tokio::sync::watch::Sender<outage::Phase>,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running server; dropping it stops the server and its thread.
pub struct TestServer {
    shared: Arc<Shared>,
    port: u16,
    _dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Starts with default [`Options`].
    pub fn start() -> TestServer {
        TestServer::start_with(Options::default())
    }

    pub fn start_with(options: Options) -> TestServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let port = listener.local_addr().expect("local addr").port();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(options)),
            phase: tokio::sync::watch::Sender::new(outage::Phase::Serving),
        });
        controller::bootstrap(&mut shared.lock());
        let (tx, rx) = tokio::sync::oneshot::channel();
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("testserver-{port}"))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("testserver-worker")
                    .enable_all()
                    .build()
                    .expect("tokio runtime");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    tokio::spawn(controller::run(s.clone()));
                    server::serve(listener, s, rx).await;
                });
                rt.shutdown_timeout(Duration::from_millis(200));
            })
            .expect("spawn server thread");
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, kubeconfig_yaml(port)).expect("write kubeconfig");
        TestServer {
            shared,
            port,
            _dir: dir,
            kubeconfig,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// A kubeconfig with one context, `testserver`, current.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared.lock()
    }

    /// An object as a client would read it at `api_version`.
    pub fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let st = self.state();
        let def = st.registry.by_kind(api_version, kind)?.clone();
        st.get(&def, namespace.unwrap_or_default(), name).ok()
    }

    /// Objects of a kind, in one namespace or all (with `apiVersion`/`kind` set).
    pub fn list(&self, api_version: &str, kind: &str, namespace: Option<&str>) -> Vec<Value> {
        let st = self.state();
        let Some(def) = st.registry.by_kind(api_version, kind).cloned() else {
            return vec![];
        };
        st.store
            .list(&def.gr(), namespace)
            .into_iter()
            .map(|s| State::present(&def, &s.obj))
            .collect()
    }

    /// What the PersistentVolume `name` holds: set when it was provisioned
    /// (`written by NAMESPACE/CLAIM`), `None` once it is deleted (the data
    /// is gone with it).
    pub fn volume_data(&self, name: &str) -> Option<String> {
        self.state().volume_data.get(name).cloned()
    }

    fn def_for(st: &State, object: &Value) -> resources::ResourceDef {
        let av = object["apiVersion"].as_str().unwrap_or_default();
        let kind = object["kind"].as_str().unwrap_or_default();
        st.registry
            .by_kind(av, kind)
            .cloned()
            .unwrap_or_else(|| panic!("testserver: no resource for {av} {kind}"))
    }

    /// Server-side apply as `manager`, forcing conflicts (sets up "foreign" owners).
    pub fn apply_as(&self, manager: &str, object: Value) -> Value {
        let mut st = self.state();
        let def = Self::def_for(&st, &object);
        let ns = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_string();
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let mut ctx = Ctx::client(manager);
        ctx.force = true;
        st.apply(&def, &ns, &name, object, apply::Sub::Main, &ctx)
            .unwrap_or_else(|e| panic!("testserver: apply_as {manager} {name}: {}", e.message))
    }

    /// A plain create as `kubectl-create` (operation Update).
    pub fn create(&self, object: Value) {
        let mut st = self.state();
        let def = Self::def_for(&st, &object);
        let ns = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_string();
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if let Err(e) = st.create(&def, &ns, object, &Ctx::client("kubectl-create")) {
            panic!("testserver: create {name}: {}", e.message);
        }
    }

    /// Deletes like `kubectl delete` (background propagation; finalizers honoured).
    pub fn delete(&self, api_version: &str, kind: &str, namespace: Option<&str>, name: &str) {
        let mut st = self.state();
        let Some(def) = st.registry.by_kind(api_version, kind).cloned() else {
            return;
        };
        let _ = st.delete(
            &def,
            namespace.unwrap_or_default(),
            name,
            None,
            &Ctx::client("kubectl"),
        );
    }

    /// Every request, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.state().requests.clone()
    }

    /// Changes API clients persisted, in order.
    pub fn writes(&self) -> Vec<Write> {
        self.state().writes.clone()
    }

    /// Forgets requests and writes so far.
    pub fn clear_log(&self) {
        let mut st = self.state();
        st.requests.clear();
        st.writes.clear();
    }

    /// How matching objects behave; the most specific target wins, later calls on ties.
    pub fn behave(&self, target: Target, behavior: Behavior) {
        self.state().behaviors.push((target, behavior));
    }

    /// Restarts the API server as a control-plane upgrade does: for
    /// `shutting_down` it answers new requests (not watches) with 503
    /// "apiserver is shutting down" and `Retry-After: 1`; then for `down` its
    /// connections are closed and new ones refused; then it serves again, the
    /// controller having carried on. Returns at once; the [`Restart`] tells
    /// when the server is down and when it is back.
    pub fn restart(&self, shutting_down: Duration, down: Duration) -> Restart {
        Restart::start(self.shared.phase.clone(), shutting_down, down)
    }

    /// What a pod's container has written (its log, as `pods/log` serves
    /// it), replacing what the kubelet wrote so far.
    pub fn write_log(&self, namespace: &str, pod: &str, container: &str, lines: &[&str]) {
        let mut st = self.state();
        let logs = st
            .logs
            .entry((namespace.to_string(), pod.to_string()))
            .or_default();
        logs.retain(|(c, _)| c != container);
        logs.push((
            container.to_string(),
            lines.iter().map(|l| l.to_string()).collect(),
        ));
    }

    pub fn inject(&self, fault: Fault) {
        self.state().faults.push(fault);
    }

    /// Keeps a namespace `Terminating` once deleted (content is still removed).
    pub fn stick_namespace(&self, namespace: &str) {
        self.state().stuck_namespaces.insert(namespace.to_string());
    }

    /// Someone else (an operator, say) makes a matching object again as soon
    /// as it is gone: same name and spec, a new uid, none of its labels.
    pub fn recreate_when_deleted(&self, target: Target) {
        self.state().recreated.push(target);
    }

    /// Lets a stuck namespace finish terminating.
    pub fn unstick_namespace(&self, namespace: &str) {
        self.state().stuck_namespaces.remove(namespace);
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.state().store.rv()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn kubeconfig_yaml(port: u16) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: testserver
  cluster:
    server: http://127.0.0.1:{port}
users:
- name: testserver
  user:
    token: testserver-token
contexts:
- name: testserver
  context:
    cluster: testserver
    user: testserver
    namespace: default
current-context: testserver
preferences: {{}}
"
    )
}
