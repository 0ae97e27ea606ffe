//! The effective spec: every default filled in from the profile and from code,
//! every field checked. This is what `render --show-spec` prints and what the
//! templates see (camelCase, as written in the spec).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::error::{Diagnostic, Source, SpecError};
use super::model::{
    IngressType, Mode, Platform, ReclaimPolicy, Resources, TenantQuota, TenantType,
};
use super::quantity::Quantity;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    pub cluster: ClusterSettings,
    pub infra: Infra,
    pub tenants: Vec<Tenant>,
    /// Things accepted but worth a word (an inline password, say).
    #[serde(skip)]
    pub warnings: Vec<Diagnostic>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSettings {
    pub name: String,
    /// What the platform rules adapt the render to (`src/pipeline/platform/`).
    pub platform: Platform,
    pub profile: String,
    pub mode: Mode,
    pub domain: Option<String>,
    pub image_hub: Option<String>,
    pub registry: Option<RegistrySettings>,
    /// Name of the image pull secret every pod uses, when there is one.
    pub pull_secret: Option<String>,
    /// Whether cnvrgctl writes that Secret (false for `existingSecret`).
    pub manage_pull_secret: bool,
    pub storage_class: Option<String>,
    pub ingress: IngressSettings,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrySettings {
    pub server: String,
    pub user: Option<String>,
    /// Where the password comes from (`env:NAME`, `file:PATH`, `inline`,
    /// `existingSecret:NAME`), never the password itself.
    pub password_from: String,
    #[serde(skip)]
    pub password: PasswordSource,
}

/// How the registry password is obtained when a command needs it.
#[derive(Debug, Clone)]
pub enum PasswordSource {
    Env {
        var: String,
        at: Arc<Source>,
        field: String,
    },
    File {
        path: std::path::PathBuf,
        at: Arc<Source>,
        field: String,
    },
    Inline(String),
    /// The pull secret exists already; cnvrgctl does not manage it.
    Existing,
}

impl RegistrySettings {
    /// The registry password, read now from the environment or a file. Only
    /// commands that write to a cluster call this; `render` never does.
    pub fn password(&self) -> Result<Option<String>, SpecError> {
        match &self.password {
            PasswordSource::Env { var, at, field } => match std::env::var(var) {
                Ok(v) if !v.is_empty() => Ok(Some(v)),
                _ => Err(SpecError::Invalid(vec![
                    at.at(
                        field,
                        format!("environment variable `{var}` is not set or empty"),
                    )
                    .help(format!("export {var}=... with the registry password")),
                ])),
            },
            PasswordSource::File { path, at, field } => std::fs::read_to_string(path)
                .map(|s| Some(s.trim_end().to_string()))
                .map_err(|e| {
                    SpecError::Invalid(vec![at.at(
                        field,
                        format!("cannot read password file {}: {e}", path.display()),
                    )])
                }),
            PasswordSource::Inline(p) => Ok(Some(p.clone())),
            PasswordSource::Existing => Ok(None),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressSettings {
    #[serde(rename = "type")]
    pub kind: IngressType,
    pub class_name: Option<String>,
    /// Where the ingress controller runs (type `ingress` only; default
    /// `ingress-nginx`): tenants' network policies admit it to exposed services.
    pub controller_namespace: Option<String>,
    pub https: Https,
    pub load_balancer: LoadBalancer,
}

/// The ingress gateway's cloud load balancer.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancer {
    /// Only reachable from inside the cloud network (each cloud's annotation).
    pub internal: bool,
    /// Annotations given in the spec, added as they are.
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Https {
    pub enabled: bool,
    pub cert_secret: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Infra {
    pub namespace: String,
    pub monitoring: Monitoring,
    pub logging: Logging,
    pub istio: Istio,
    pub storage: Storage,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Monitoring {
    pub enabled: bool,
    pub operator: Component,
    pub prometheus: Prometheus,
    pub node_exporter: NodeExporter,
    pub kube_state_metrics: Component,
}

/// node-exporter, one per node: off by default on OpenShift, whose cluster
/// monitoring already runs one on the hosts' port 9100.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeExporter {
    pub enabled: bool,
    /// The hosts' port it listens on (it runs in the host network).
    pub port: u16,
    pub resources: Resources,
}

/// A Prometheus server: the cluster one in infra, or a tenant's.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Prometheus {
    pub replicas: u32,
    pub resources: Resources,
    pub storage: Quantity,
    pub retention: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Logging {
    pub enabled: bool,
    pub fluentbit: Sized,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Istio {
    pub enabled: bool,
    pub istiod: Component,
    pub gateway: Component,
}

/// Resources of a component that runs one pod per node (a DaemonSet).
#[derive(Debug, Serialize)]
pub struct Sized {
    pub resources: Resources,
}

#[derive(Debug, Serialize)]
pub struct Enabled {
    pub enabled: bool,
}

#[derive(Debug, Serialize)]
pub struct Storage {
    pub hostpath: Hostpath,
    pub nfs: Nfs,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Hostpath {
    pub enabled: bool,
    pub path: String,
    pub storage_class_name: String,
    pub default_class: bool,
    pub reclaim_policy: ReclaimPolicy,
    pub provisioner_name: String,
    pub node_selector: BTreeMap<String, String>,
    pub replicas: u32,
    pub resources: Resources,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Nfs {
    pub enabled: bool,
    pub server: Option<String>,
    pub path: Option<String>,
    pub storage_class_name: String,
    pub default_class: bool,
    pub reclaim_policy: ReclaimPolicy,
    pub provisioner_name: String,
    pub replicas: u32,
    pub resources: Resources,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: TenantType,
    pub namespace: String,
    /// False in single-namespace mode, where the infra scope owns the namespace.
    pub owns_namespace: bool,
    /// The namespace's ResourceQuota and LimitRange, from the profile's
    /// `tenantQuotas` for this type; none in single-namespace mode, where the
    /// namespace is the infra scope's.
    pub quota: Option<TenantQuota>,
    pub workspace: Option<Workspace>,
    pub cnvrg: Option<Cnvrg>,
    /// The file the tenant was declared in.
    #[serde(skip)]
    pub file: std::path::PathBuf,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Workspace {
    pub postgres: Postgres,
    pub orion: Component,
    pub agent_pools: Vec<AgentPool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Postgres {
    pub replicas: u32,
    pub storage: Quantity,
    pub resources: Resources,
    pub database: String,
    pub user: String,
    /// The database copied into this one once (adoption from Cartographer);
    /// left out when there is none (templates test `is defined`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import_from: Option<PostgresImport>,
}

/// A Crunchy PostgresCluster whose workspace database is copied into ours:
/// its name, and its user Secret (`{cluster}-pguser-{user}`, PGO's name)
/// holding `host`, `port`, `user`, `password` and `dbname`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PostgresImport {
    pub postgres_cluster: String,
    pub secret: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Component {
    pub replicas: u32,
    pub resources: Resources,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentPool {
    pub name: String,
    pub replicas: u32,
    pub resources: Resources,
}

/// A cnvrg control plane: every component sized, names derived.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cnvrg {
    /// Hostnames are `<service>.<domain>`.
    pub domain: String,
    /// The application image, already rewritten under `imageHub`.
    pub app_image: String,
    pub webapp: Webapp,
    pub sidekiq: Sidekiq,
    pub postgres: CnvrgPostgres,
    pub redis: Stateful,
    pub minio: Stateful,
    pub elasticsearch: Elasticsearch,
    pub kibana: Component,
    pub monitoring: TenantMonitoring,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Webapp {
    pub replicas: u32,
    pub resources: Resources,
    pub hpa: Hpa,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Hpa {
    pub enabled: bool,
    pub max_replicas: u32,
    pub cpu_utilization: u32,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sidekiq {
    pub split: bool,
    pub sidekiq: Component,
    pub searchkiq: Component,
    pub systemkiq: Component,
}

/// A single-replica component with a volume.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stateful {
    pub replicas: u32,
    pub storage: Quantity,
    pub resources: Resources,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CnvrgPostgres {
    pub replicas: u32,
    pub storage: Quantity,
    pub resources: Resources,
    pub database: String,
    pub user: String,
    /// Size of the `/dev/shm` memory volume: a quarter of the memory limit.
    pub shared_memory: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Elasticsearch {
    pub replicas: u32,
    pub storage: Quantity,
    pub resources: Resources,
    /// JVM heap (`-Xms`/`-Xmx`): half the memory request, as `1024m`.
    pub heap: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantMonitoring {
    /// Follows the infra monitoring stack: the tenant's monitoring needs its CRDs.
    pub enabled: bool,
    pub prometheus: TenantPrometheus,
    pub grafana: Component,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantPrometheus {
    /// Monitoring on and multi-tenant mode; in single-namespace mode the infra
    /// Prometheus serves the tenant.
    pub enabled: bool,
    pub replicas: u32,
    pub resources: Resources,
    pub storage: Quantity,
    pub retention: String,
}
