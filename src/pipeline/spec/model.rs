//! The spec as users write it: `cluster.yaml` (kind `Cluster`), `tenants/*.yaml`
//! (kind `Tenant`) and profiles (kind `Profile`). Every struct rejects unknown
//! fields; almost everything is optional because defaults come from the profile
//! and from code (see `resolve`). Nothing here checks meaning: that is `validate`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::quantity::Quantity;

pub const API_VERSION: &str = "cnvrgctl.io/v1alpha1";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterFile {
    pub api_version: String,
    pub kind: String,
    pub metadata: Metadata,
    pub spec: ClusterSpec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TenantFile {
    pub api_version: String,
    pub kind: String,
    pub metadata: Metadata,
    pub spec: TenantBody,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProfileFile {
    pub api_version: String,
    pub kind: String,
    pub metadata: Metadata,
    pub spec: ProfileSpec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    MultiTenant,
    SingleNamespace,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TenantType {
    Cnvrg,
    Workspace,
}

/// The kind of cluster: what its platform rules adapt the render to
/// (`src/pipeline/platform/`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    #[default]
    Generic,
    Openshift,
    Eks,
    Aks,
    Gke,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Generic => "generic",
            Platform::Openshift => "openshift",
            Platform::Eks => "eks",
            Platform::Aks => "aks",
            Platform::Gke => "gke",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IngressType {
    Istio,
    Ingress,
    Nodeport,
    Openshift,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum ReclaimPolicy {
    Retain,
    Delete,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterSpec {
    /// generic (default), openshift, eks, aks or gke.
    pub platform: Option<Platform>,
    pub profile: Option<String>,
    pub mode: Option<Mode>,
    pub cluster_domain: Option<String>,
    /// Registry prefix that replaces the registry of every image (air-gapped installs).
    pub image_hub: Option<String>,
    pub registry: Option<Registry>,
    /// StorageClass for every PVC; unset means the cluster's default class.
    pub storage_class: Option<String>,
    pub ingress: Option<Ingress>,
    pub infra: Option<InfraSpec>,
    #[serde(default)]
    pub tenants: Vec<TenantSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Registry {
    pub server: Option<String>,
    pub user: Option<String>,
    /// Inline password: accepted with a warning; prefer the three below.
    pub password: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<String>,
    /// Name of a pull secret that already exists in every namespace.
    pub existing_secret: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Ingress {
    #[serde(rename = "type")]
    pub kind: Option<IngressType>,
    pub class_name: Option<String>,
    /// Namespace of the ingress controller's pods (type `ingress`): the one
    /// namespace the tenants' network policies let in to exposed services.
    pub controller_namespace: Option<String>,
    pub https: Option<Https>,
    /// The ingress gateway's LoadBalancer (type `istio`).
    pub load_balancer: Option<LoadBalancerSpec>,
}

/// The cloud load balancer in front of the ingress gateway.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LoadBalancerSpec {
    /// Reachable only from inside the cloud network: each cloud's
    /// annotation for an internal load balancer.
    pub internal: Option<bool>,
    /// More annotations for the gateway Service, as given.
    pub annotations: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Https {
    pub enabled: Option<bool>,
    pub cert_secret: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InfraSpec {
    pub namespace: Option<String>,
    pub monitoring: Option<MonitoringSpec>,
    pub logging: Option<Toggle>,
    pub istio: Option<Toggle>,
    pub storage: Option<StorageSpec>,
}

/// The infra monitoring stack; sizes come from the profile.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MonitoringSpec {
    pub enabled: Option<bool>,
    pub node_exporter: Option<NodeExporterSpec>,
    /// How long the cluster Prometheus keeps samples (`15d`).
    pub retention: Option<String>,
    /// Size of the cluster Prometheus volume.
    pub storage: Option<Quantity>,
}

/// node-exporter: on unless the platform runs its own (OpenShift).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeExporterSpec {
    pub enabled: Option<bool>,
    /// The hosts' port (default 9100; 9110 on OpenShift, where 9100 is taken).
    pub port: Option<u16>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Toggle {
    pub enabled: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSpec {
    pub hostpath: Option<HostpathSpec>,
    pub nfs: Option<NfsSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HostpathSpec {
    pub enabled: Option<bool>,
    pub path: Option<String>,
    pub storage_class_name: Option<String>,
    pub default_class: Option<bool>,
    pub reclaim_policy: Option<ReclaimPolicy>,
    pub node_selector: Option<BTreeMap<String, String>>,
    pub resources: Option<Resources>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NfsSpec {
    pub enabled: Option<bool>,
    pub server: Option<String>,
    pub path: Option<String>,
    pub storage_class_name: Option<String>,
    pub default_class: Option<bool>,
    pub reclaim_policy: Option<ReclaimPolicy>,
    pub resources: Option<Resources>,
}

/// A tenant written inline in `cluster.yaml` under `spec.tenants`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TenantSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: TenantType,
    pub namespace: Option<String>,
    pub workspace: Option<WorkspaceSpec>,
    pub cnvrg: Option<CnvrgSpec>,
}

/// The `spec` of a `tenants/NAME.yaml` file: a tenant without its name, which is
/// `metadata.name`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TenantBody {
    #[serde(rename = "type")]
    pub kind: TenantType,
    pub namespace: Option<String>,
    pub workspace: Option<WorkspaceSpec>,
    pub cnvrg: Option<CnvrgSpec>,
}

impl TenantBody {
    pub fn named(self, name: String) -> TenantSpec {
        TenantSpec {
            name,
            kind: self.kind,
            namespace: self.namespace,
            workspace: self.workspace,
            cnvrg: self.cnvrg,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkspaceSpec {
    pub postgres: Option<WorkspacePostgresSpec>,
    pub orion: Option<Sizing>,
    #[serde(default)]
    pub agent_pools: Vec<AgentPoolSpec>,
}

/// A workspace's PostgreSQL: its size, and for a workspace adopted from
/// Cartographer the database its data is copied from once.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkspacePostgresSpec {
    pub replicas: Option<u32>,
    pub storage: Option<Quantity>,
    pub resources: Option<Resources>,
    /// Written by `cnvrgctl import`: the Crunchy PostgresCluster whose
    /// `prefect` database is copied into ours before the Orion server starts
    /// on it.
    pub import_from: Option<ImportFromSpec>,
}

impl WorkspacePostgresSpec {
    pub fn sizing(&self) -> Sizing {
        Sizing {
            replicas: self.replicas,
            storage: self.storage.clone(),
            resources: self.resources.clone(),
        }
    }
}

/// Where a workspace's database is copied from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ImportFromSpec {
    /// The name of a Crunchy `PostgresCluster` in the tenant's namespace.
    pub postgres_cluster: String,
}

/// Settings of a cnvrg control-plane tenant. Every component's size falls back
/// to the profile.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CnvrgSpec {
    /// DNS domain of this tenant's hostnames (`app.<domain>`); default: the
    /// cluster domain in single-namespace mode, `<tenant>.<clusterDomain>` otherwise.
    pub cluster_domain: Option<String>,
    /// Image of the cnvrg application (webapp, workers, migration).
    pub app_image: Option<String>,
    pub webapp: Option<WebappSpec>,
    pub sidekiq: Option<SidekiqSpec>,
    pub postgres: Option<Sizing>,
    pub redis: Option<Sizing>,
    pub minio: Option<Sizing>,
    pub elasticsearch: Option<Sizing>,
    pub kibana: Option<Sizing>,
    pub monitoring: Option<TenantMonitoringSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WebappSpec {
    pub replicas: Option<u32>,
    pub resources: Option<Resources>,
    pub hpa: Option<HpaSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HpaSpec {
    pub enabled: Option<bool>,
    pub max_replicas: Option<u32>,
    /// Target average CPU utilization, percent of the request.
    pub cpu_utilization: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SidekiqSpec {
    /// Three worker Deployments (sidekiq, searchkiq, systemkiq) instead of one.
    pub split: Option<bool>,
    pub sidekiq: Option<Sizing>,
    pub searchkiq: Option<Sizing>,
    pub systemkiq: Option<Sizing>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TenantMonitoringSpec {
    pub prometheus: Option<PrometheusSpec>,
    pub grafana: Option<Sizing>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PrometheusSpec {
    pub replicas: Option<u32>,
    pub storage: Option<Quantity>,
    pub resources: Option<Resources>,
    pub retention: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AgentPoolSpec {
    pub name: String,
    pub replicas: Option<u32>,
    pub resources: Option<Resources>,
}

/// Size of one component: any field left out comes from the profile.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Sizing {
    pub replicas: Option<u32>,
    pub storage: Option<Quantity>,
    pub resources: Option<Resources>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    #[serde(default, skip_serializing_if = "ResourceList::is_empty")]
    pub requests: ResourceList,
    #[serde(default, skip_serializing_if = "ResourceList::is_empty")]
    pub limits: ResourceList,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceList {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Quantity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Quantity>,
}

impl ResourceList {
    pub fn is_empty(&self) -> bool {
        self.cpu.is_none() && self.memory.is_none()
    }
}

/// A profile: the sizes of every component, merged under the spec.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProfileSpec {
    pub hostpath_provisioner: Sizing,
    pub nfs_provisioner: Sizing,
    pub prometheus_operator: Sizing,
    pub prometheus: Sizing,
    pub node_exporter: Sizing,
    pub kube_state_metrics: Sizing,
    pub fluentbit: Sizing,
    pub istiod: Sizing,
    pub istio_gateway: Sizing,
    pub postgres: Sizing,
    pub orion: Sizing,
    pub agent: Sizing,
    pub webapp: Sizing,
    pub sidekiq: Sizing,
    pub searchkiq: Sizing,
    pub systemkiq: Sizing,
    pub redis: Sizing,
    pub minio: Sizing,
    pub elasticsearch: Sizing,
    pub kibana: Sizing,
    pub tenant_prometheus: Sizing,
    pub grafana: Sizing,
    /// The ResourceQuota and LimitRange of each tenant namespace, per type.
    pub tenant_quotas: TenantQuotas,
}

/// A profile's tenant quotas: one per tenant type.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TenantQuotas {
    pub cnvrg: TenantQuota,
    pub workspace: TenantQuota,
}

/// What one tenant namespace may use in all (its ResourceQuota), and what a
/// container that sets no resources gets (its LimitRange). Every field is
/// required: a quota is only as good as its weakest missing line.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TenantQuota {
    /// `requests.cpu` and `requests.memory` of all pods together.
    pub requests: CpuMemory,
    /// `limits.cpu` and `limits.memory` of all pods together.
    pub limits: CpuMemory,
    /// `requests.storage`: the sum of every volume claim's size.
    pub storage: Quantity,
    /// `persistentvolumeclaims`: how many claims.
    pub persistent_volume_claims: u32,
    /// `pods`: how many pods at once (not finished).
    pub pods: u32,
    /// The LimitRange's `defaultRequest` and `default` for containers.
    pub container_defaults: ContainerDefaults,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerDefaults {
    pub requests: CpuMemory,
    pub limits: CpuMemory,
}

/// A CPU and a memory quantity, both required.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CpuMemory {
    pub cpu: Quantity,
    pub memory: Quantity,
}
