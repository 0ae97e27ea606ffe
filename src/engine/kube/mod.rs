//! The only module that speaks HTTP: a client built from the kubeconfig (with
//! retries and a request counter), discovery, and the handful of object
//! operations the engine needs — get, list, server-side apply (real or dry
//! run), delete, watch, pod logs (current or previous), the server's version,
//! port-forward to a pod (`portforward.rs`), and what the current user may do
//! (`access.rs`).
//! Objects are plain JSON values; errors name the object and carry the API's
//! reason. No rules live here: what to apply and when something is ready are
//! decided elsewhere.

mod access;
mod counter;
mod discovery;
mod error;
mod health;
mod list;
mod portforward;
mod retry;
mod watch;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{
    Api, DeleteParams, DynamicObject, ListParams, LogParams, Patch, PatchParams, PropagationPolicy,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::Value;
use tokio::sync::Mutex;
use tower::buffer::BufferLayer;
use tower::retry::RetryLayer;

pub use counter::{Call, Counts};
pub use discovery::Resource;
pub use error::{Cause, ClusterError};
pub use portforward::{ForwardError, Forwarded};

use counter::{CountLayer, Counter};
use discovery::Cache;
use health::Health;

/// The field manager every write is made under.
pub const FIELD_MANAGER: &str = "cnvrgctl";

/// How long one call may take, retries included.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// How a deleted object's dependents go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Background,
    Foreground,
    /// The dependents stay, without this owner (a StatefulSet re-created
    /// over its pods and claims).
    Orphan,
}

/// What a watch saw.
#[derive(Debug, Clone)]
pub enum Seen {
    /// The watch (re)started: forget what was seen before.
    Restarted,
    /// An object as it now is.
    Applied(Value),
    /// An object that is gone.
    Deleted(Value),
    /// Everything that existed when the watch (re)started has been seen.
    Synced,
    /// The watch is down (it failed, or the API server stopped answering):
    /// what was seen may be stale until the next `Synced`, which follows a
    /// fresh list. Says why, as a sentence.
    Failing(String),
}

/// A connection to one cluster.
pub struct Cluster {
    client: Client,
    server: String,
    counter: Arc<Counter>,
    health: Arc<Health>,
    discovery: Mutex<Cache>,
}

impl Cluster {
    /// Connects through a kubeconfig (`path`, else `$KUBECONFIG`, else
    /// `~/.kube/config`) and one of its contexts (else the current one). No
    /// request is sent yet.
    pub async fn connect(
        path: Option<&Path>,
        context: Option<&str>,
    ) -> Result<Cluster, ClusterError> {
        let fail = |message: String| ClusterError::Kubeconfig {
            path: path.map(Path::to_path_buf),
            message,
        };
        let options = KubeConfigOptions {
            context: context.map(str::to_string),
            ..KubeConfigOptions::default()
        };
        let mut config = match path {
            Some(path) => {
                let mut merged: Option<Kubeconfig> = None;
                for file in std::env::split_paths(path) {
                    let next = Kubeconfig::read_from(&file).map_err(|e| fail(e.to_string()))?;
                    merged = Some(match merged {
                        Some(first) => first.merge(next).map_err(|e| fail(e.to_string()))?,
                        None => next,
                    });
                }
                let kubeconfig = merged.ok_or_else(|| fail("no file given".into()))?;
                Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .map_err(|e| fail(e.to_string()))?
            }
            None => Config::from_kubeconfig(&options)
                .await
                .map_err(|e| fail(e.to_string()))?,
        };
        config.default_retry = false;
        config.connect_timeout = Some(Duration::from_secs(10));
        let server = config.cluster_url.to_string();
        let counter = Arc::new(Counter::default());
        let health = Arc::new(Health::new(&server));
        let client = kube::client::ClientBuilder::try_from(config)
            .map_err(|e| fail(e.to_string()))?
            .with_layer(&CountLayer(counter.clone()))
            // Retrying clones the service below it; a buffer makes it cloneable.
            .with_layer(&BufferLayer::new(1024))
            .with_layer(&RetryLayer::new(retry::RetryPolicy::new(health.clone())))
            .build();
        Ok(Cluster {
            client,
            server: server.trim_end_matches('/').to_string(),
            counter,
            health,
            discovery: Mutex::new(Cache::default()),
        })
    }

    /// The API server's address, for messages.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Requests sent so far (retries included).
    pub fn requests(&self) -> Counts {
        self.counter.snapshot()
    }

    /// The resource serving `kind` in `api_version`, from the cached discovery
    /// document (read once per group-version).
    pub async fn resource(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<Option<Resource>, ClusterError> {
        let mut cache = self.discovery.lock().await;
        if cache.get(api_version).is_none() {
            let list = self.discover(api_version).await?;
            cache.insert(api_version, list);
        }
        Ok(cache.find(api_version, kind))
    }

    /// Reads `api_version`'s discovery document again (after a CRD that adds
    /// kinds to it is established) and returns `kind` if it is now served.
    pub async fn rediscover(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<Option<Resource>, ClusterError> {
        let list = self.discover(api_version).await?;
        let mut cache = self.discovery.lock().await;
        cache.insert(api_version, list);
        Ok(cache.find(api_version, kind))
    }

    async fn discover(
        &self,
        api_version: &str,
    ) -> Result<Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResourceList>, ClusterError>
    {
        let object = format!("discovery of {api_version}");
        let result = if api_version.contains('/') {
            self.call(
                &object,
                "get",
                self.client.list_api_group_resources(api_version),
            )
            .await
        } else {
            self.call(
                &object,
                "get",
                self.client.list_core_api_resources(api_version),
            )
            .await
        };
        match result {
            Ok(list) => Ok(Some(list)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn api(&self, resource: &Resource, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace.filter(|_| resource.namespaced) {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &resource.api),
            None => Api::all_with(self.client.clone(), &resource.api),
        }
    }

    /// One object, or `None` when it does not exist.
    pub async fn get(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Value>, ClusterError> {
        let object = id(resource, namespace, name);
        let found = self
            .call(&object, "get", self.api(resource, namespace).get_opt(name))
            .await?;
        Ok(found.map(|o| to_value(resource, o)))
    }

    /// Objects of one kind in one namespace (or cluster-wide), optionally
    /// filtered by a label selector.
    pub async fn list(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        selector: Option<&str>,
    ) -> Result<Vec<Value>, ClusterError> {
        self.list_with(resource, namespace, selector, &|item| item)
            .await
    }

    /// [`Self::list`], each item passed through `each` as it is parsed, before
    /// the next one: what a caller drops of each item is never held for the
    /// whole list.
    pub async fn list_with<T>(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        selector: Option<&str>,
        each: &(dyn Fn(Value) -> T + Sync),
    ) -> Result<Vec<T>, ClusterError> {
        let namespace = namespace.filter(|_| resource.namespaced);
        let object = match namespace {
            Some(ns) => format!("{} in namespace {ns}", resource.api.plural),
            None => resource.api.plural.clone(),
        };
        let mut params = ListParams::default();
        if let Some(selector) = selector {
            params = params.labels(selector);
        }
        let url = <DynamicObject as kube::Resource>::url_path(&resource.api, namespace);
        let request = kube::core::Request::new(url)
            .list(&params)
            .map_err(|e| self.unreadable(&object, &e))?;
        let body = self
            .call(&object, "list", self.client.request_text(request))
            .await?;
        let items = list::items(&body, &|item| each(item_value(resource, item)))
            .map_err(|e| self.unreadable(&object, &e))?;
        Ok(items)
    }

    /// Server-side apply of `object` under [`FIELD_MANAGER`]; `dry_run` asks
    /// the server what the object would become without persisting it.
    pub async fn apply(
        &self,
        resource: &Resource,
        object: &Value,
        dry_run: bool,
        force: bool,
    ) -> Result<Value, ClusterError> {
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let namespace = object["metadata"]["namespace"].as_str();
        let mut params = PatchParams::apply(FIELD_MANAGER);
        if force {
            params = params.force();
        }
        if dry_run {
            params = params.dry_run();
        }
        let verb = if dry_run { "dry-run apply" } else { "apply" };
        crate::pipeline::redact::register_secret(object);
        let api = self.api(resource, namespace);
        let applied = self
            .call(
                &id(resource, namespace, name),
                verb,
                api.patch(name, &params, &Patch::Apply(object)),
            )
            .await?;
        Ok(to_value(resource, applied))
    }

    /// A JSON patch (RFC 6902) of one object, built by cnvrgctl; its `test`
    /// ops make the server refuse it (422) when the object changed meanwhile.
    pub async fn json_patch(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        ops: &Value,
    ) -> Result<Value, ClusterError> {
        let ops: json_patch::Patch =
            serde_json::from_value(ops.clone()).expect("cnvrgctl builds valid JSON patches");
        let api = self.api(resource, namespace);
        let patched = self
            .call(
                &id(resource, namespace, name),
                "patch",
                api.patch(
                    name,
                    &PatchParams {
                        field_manager: Some(FIELD_MANAGER.into()),
                        ..PatchParams::default()
                    },
                    &Patch::Json::<()>(ops),
                ),
            )
            .await?;
        Ok(to_value(resource, patched))
    }

    /// Sets a workload's replicas through its `scale` subresource, as
    /// `kubectl scale` does, under `manager` (not [`FIELD_MANAGER`]: the
    /// workload does not become cnvrgctl's by being stopped).
    pub async fn scale(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        replicas: u32,
        manager: &str,
    ) -> Result<(), ClusterError> {
        let params = PatchParams {
            field_manager: Some(manager.into()),
            ..PatchParams::default()
        };
        let patch = serde_json::json!({"spec": {"replicas": replicas}});
        self.call(
            &id(resource, namespace, name),
            "scale",
            self.api(resource, namespace)
                .patch_scale(name, &params, &Patch::Merge(&patch)),
        )
        .await?;
        Ok(())
    }

    /// Deletes an object; `false` when it was already gone.
    pub async fn delete(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        propagation: Propagation,
    ) -> Result<bool, ClusterError> {
        let params = DeleteParams {
            propagation_policy: Some(match propagation {
                Propagation::Background => PropagationPolicy::Background,
                Propagation::Foreground => PropagationPolicy::Foreground,
                Propagation::Orphan => PropagationPolicy::Orphan,
            }),
            ..DeleteParams::default()
        };
        let object = id(resource, namespace, name);
        match self
            .call(
                &object,
                "delete",
                self.api(resource, namespace).delete(name, &params),
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The last `lines` lines a pod's container wrote; with `previous`, its
    /// previous (terminated) instance, which the API refuses (400) when the
    /// container never restarted.
    pub async fn logs(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        lines: i64,
        previous: bool,
    ) -> Result<String, ClusterError> {
        let params = LogParams {
            container: container.map(str::to_string),
            tail_lines: Some(lines),
            previous,
            ..LogParams::default()
        };
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let verb = match previous {
            true => "read previous log of",
            false => "read log of",
        };
        self.call(
            &format!("Pod/{namespace}/{pod}"),
            verb,
            api.logs(pod, &params),
        )
        .await
    }

    /// The API server's version (`/version`): `gitVersion`, `platform`...
    pub async fn version(&self) -> Result<Value, ClusterError> {
        let info = self
            .call("/version", "get", self.client.apiserver_version())
            .await?;
        Ok(serde_json::to_value(info).expect("version info serializes"))
    }

    /// Watches one kind in one namespace (or cluster-wide): a list, then a
    /// watch from its resourceVersion, resumed when the server drops it.
    /// When the watch fails or the API server stops answering, it says so
    /// (`Failing`) and starts again with a fresh list (`watch.rs`).
    pub fn watch(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
    ) -> impl Stream<Item = Seen> + Send + 'static {
        watch::watch(
            self.api(resource, namespace),
            resource.clone(),
            self.health.subscribe(),
        )
    }

    /// Runs one call under [`CALL_TIMEOUT`], turning kube's error into ours.
    async fn call<T>(
        &self,
        object: &str,
        verb: &'static str,
        fut: impl Future<Output = kube::Result<T>>,
    ) -> Result<T, ClusterError> {
        match tokio::time::timeout(CALL_TIMEOUT, fut).await {
            Err(_) => Err(ClusterError::Timeout {
                object: object.to_string(),
                verb,
                secs: CALL_TIMEOUT.as_secs(),
            }),
            Ok(Ok(value)) => Ok(value),
            Ok(Err(kube::Error::Api(status))) => Err(ClusterError::Api {
                object: object.to_string(),
                verb,
                code: status.code,
                reason: status.reason.clone(),
                message: status.message.clone(),
                causes: status
                    .details
                    .map(|d| {
                        d.causes
                            .into_iter()
                            .map(|c| Cause {
                                field: c.field,
                                message: c.message,
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            }),
            Ok(Err(e)) => Err(ClusterError::Unreachable {
                object: object.to_string(),
                verb,
                server: self.server.clone(),
                message: error_chain(&e),
            }),
        }
    }
}

impl Cluster {
    /// A list that could not be asked for or read (what `kube` reports as
    /// a serde error for a typed list).
    fn unreadable(&self, object: &str, error: &dyn std::error::Error) -> ClusterError {
        ClusterError::Unreachable {
            object: object.to_string(),
            verb: "list",
            server: self.server.clone(),
            message: format!("unreadable answer: {}", error_chain(error)),
        }
    }
}

/// `Kind/namespace/name` or `Kind/name`.
pub fn id(resource: &Resource, namespace: Option<&str>, name: &str) -> String {
    match namespace.filter(|_| resource.namespaced) {
        Some(ns) => format!("{}/{ns}/{name}", resource.api.kind),
        None => format!("{}/{name}", resource.api.kind),
    }
}

/// An object as JSON, with the `apiVersion` and `kind` lists leave out.
fn to_value(resource: &Resource, object: DynamicObject) -> Value {
    item_value(
        resource,
        serde_json::to_value(object).expect("a DynamicObject serializes"),
    )
}

/// An object as read, with its `apiVersion` and `kind` first (a list's items
/// may leave them out), registered as a Secret when it is one.
fn item_value(resource: &Resource, mut value: Value) -> Value {
    if let Some(map) = value.as_object_mut() {
        // First, where a single object's JSON has them, so both read the same.
        map.shift_insert(
            0,
            "apiVersion".into(),
            resource.api.api_version.clone().into(),
        );
        map.shift_insert(1, "kind".into(), resource.api.kind.clone().into());
    }
    // Every Secret read passes here: its values must never be printed.
    crate::pipeline::redact::register_secret(&value);
    value
}

/// An error and its causes on one line, without repeating a cause a parent
/// already quoted.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text
}
