//! The mapping as data: for each operator kind, which field of its `spec`
//! becomes which field of ours and how the value converts, where the fields
//! without a counterpart are written (as comments) and which sizes map as
//! resources. Paths are dotted; `[]` stands for any index of a list and `*`
//! for any key of a map, and both carry over to the target. A target
//! starting with `@` is in the cluster spec even when a tenant is mapped;
//! an empty target maps to nothing written (the value is what cnvrgctl
//! does anyway).
//!
//! Facts from the operators' API types: AccessibleAI/cnvrg-operator
//! `api/v1` (CnvrgInfra, CnvrgApp: `controlPlane`, `dbs`, `networking`,
//! `logging`, `monitoring`, `storage`, `registry`) and wmeints/cartographer
//! `api/v1alpha1/workspace_types.go` (and its earlier sample's
//! `workflows.controllerReplicas` / `databaseReplicas`).

use super::read::Kind;

/// How an operator value becomes ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    Text,
    /// `true`/`false`, also as the strings the older samples use.
    Bool,
    /// A Kubernetes quantity (numbers become strings).
    Quantity,
    /// A replica count or a percentage.
    Count,
    /// A replica count for something cnvrgctl runs once: only 1 maps.
    Single,
    /// One of these values, as written.
    OneOf(&'static [&'static str]),
    /// A password: never written; the spec names this environment variable.
    PasswordEnv(&'static str),
    /// A component cnvrgctl always renders: `true` maps, `false` cannot.
    AlwaysOn,
    /// An image; one without a registry gets the resource's image hub
    /// (`imageHub`, default `docker.io/cnvrg`), as the operator pulls it.
    Image,
    /// The operator's image hub: its default (`docker.io/cnvrg`) has no
    /// counterpart, since cnvrgctl's `imageHub` re-points every image.
    ImageHub,
    /// A name cnvrgctl fixes: this value maps (the object keeps its name),
    /// any other cannot.
    Fixed(&'static str),
    /// Used to make the value of this other field (of the same resource):
    /// mapped when that field is set.
    UsedBy(&'static str),
}

/// One field that maps.
pub type Rule = (&'static str, &'static str, How);

/// How an operator component writes its sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeStyle {
    /// `requests: {cpu, memory}`, `limits: {cpu, memory}` (cnvrg's `Requests`/`Limits`).
    RequestsLimits,
    /// `cpuRequest`, `memoryRequest`, `cpuLimit`, `memoryLimit`.
    Flat,
    /// `resources: {requests: {...}, limits: {...}}` (corev1.ResourceRequirements).
    Resources,
}

/// The operator's component at the first path sizes ours at the second
/// (`…resources.requests.cpu` and so on).
pub type Sized = (&'static str, &'static str, SizeStyle);

const INGRESS_TYPES: &[&str] = &["istio", "ingress", "nodeport", "openshift"];
const RECLAIM: &[&str] = &["Retain", "Delete"];
/// The variable the imported spec reads the registry password from.
pub const REGISTRY_PASSWORD_ENV: &str = "CNVRG_REGISTRY_PASSWORD";

const INFRA: &[Rule] = &[
    ("clusterDomain", "clusterDomain", How::Text),
    ("infraNamespace", "infra.namespace", How::Text),
    ("imageHub", "imageHub", How::ImageHub),
    ("registry.url", "registry.server", How::Text),
    ("registry.user", "registry.user", How::Text),
    (
        "registry.password",
        "registry.passwordEnv",
        How::PasswordEnv(REGISTRY_PASSWORD_ENV),
    ),
    (
        "networking.ingress.type",
        "ingress.type",
        How::OneOf(INGRESS_TYPES),
    ),
    (
        "networking.https.enabled",
        "ingress.https.enabled",
        How::Bool,
    ),
    (
        "networking.https.certSecret",
        "ingress.https.certSecret",
        How::Text,
    ),
    ("networking.istio.enabled", "infra.istio.enabled", How::Bool),
    (
        "networking.istio.ingressSvcAnnotations.*",
        "ingress.loadBalancer.annotations.*",
        How::Text,
    ),
    (
        "logging.fluentbit.enabled",
        "infra.logging.enabled",
        How::Bool,
    ),
    (
        "monitoring.prometheus.enabled",
        "infra.monitoring.enabled",
        How::Bool,
    ),
    (
        "monitoring.prometheus.storageSize",
        "infra.monitoring.storage",
        How::Quantity,
    ),
    (
        "monitoring.nodeExporter.enabled",
        "infra.monitoring.nodeExporter.enabled",
        How::Bool,
    ),
    (
        "storage.hostpath.enabled",
        "infra.storage.hostpath.enabled",
        How::Bool,
    ),
    (
        "storage.hostpath.path",
        "infra.storage.hostpath.path",
        How::Text,
    ),
    (
        "storage.hostpath.storageClassName",
        "infra.storage.hostpath.storageClassName",
        How::Text,
    ),
    (
        "storage.hostpath.reclaimPolicy",
        "infra.storage.hostpath.reclaimPolicy",
        How::OneOf(RECLAIM),
    ),
    (
        "storage.hostpath.defaultSc",
        "infra.storage.hostpath.defaultClass",
        How::Bool,
    ),
    (
        "storage.hostpath.nodeSelector.*",
        "infra.storage.hostpath.nodeSelector.*",
        How::Text,
    ),
    (
        "storage.nfs.enabled",
        "infra.storage.nfs.enabled",
        How::Bool,
    ),
    ("storage.nfs.server", "infra.storage.nfs.server", How::Text),
    ("storage.nfs.path", "infra.storage.nfs.path", How::Text),
    (
        "storage.nfs.storageClassName",
        "infra.storage.nfs.storageClassName",
        How::Text,
    ),
    (
        "storage.nfs.reclaimPolicy",
        "infra.storage.nfs.reclaimPolicy",
        How::OneOf(RECLAIM),
    ),
    (
        "storage.nfs.defaultSc",
        "infra.storage.nfs.defaultClass",
        How::Bool,
    ),
];

const INFRA_SIZED: &[Sized] = &[
    (
        "storage.hostpath",
        "infra.storage.hostpath",
        SizeStyle::Flat,
    ),
    ("storage.nfs", "infra.storage.nfs", SizeStyle::Flat),
];

const INFRA_SECTIONS: &[(&str, &str)] = &[
    ("registry", "registry"),
    ("networking.https", "ingress.https"),
    ("networking.istio", "infra.istio"),
    ("networking", "ingress"),
    ("logging", "infra.logging"),
    ("monitoring", "infra.monitoring"),
    ("storage.hostpath", "infra.storage.hostpath"),
    ("storage.nfs", "infra.storage.nfs"),
    ("storage", "infra.storage"),
    ("", "infra"),
];

const APP: &[Rule] = &[
    ("clusterDomain", "cnvrg.clusterDomain", How::Text),
    ("imageHub", "", How::UsedBy("controlPlane.image")),
    ("controlPlane.image", "cnvrg.appImage", How::Image),
    ("registry.url", "@registry.server", How::Text),
    ("registry.user", "@registry.user", How::Text),
    (
        "registry.password",
        "@registry.passwordEnv",
        How::PasswordEnv(REGISTRY_PASSWORD_ENV),
    ),
    (
        "networking.ingress.type",
        "@ingress.type",
        How::OneOf(INGRESS_TYPES),
    ),
    (
        "networking.https.enabled",
        "@ingress.https.enabled",
        How::Bool,
    ),
    (
        "networking.https.certSecret",
        "@ingress.https.certSecret",
        How::Text,
    ),
    ("controlPlane.webapp.enabled", "", How::AlwaysOn),
    ("controlPlane.webapp.svcName", "", How::Fixed("app")),
    ("dbs.pg.svcName", "", How::Fixed("postgres")),
    ("dbs.pg.credsRef", "", How::Fixed("pg-creds")),
    ("dbs.redis.svcName", "", How::Fixed("redis")),
    ("dbs.redis.credsRef", "", How::Fixed("redis-creds")),
    ("dbs.minio.svcName", "", How::Fixed("minio")),
    ("dbs.es.svcName", "", How::Fixed("elasticsearch")),
    ("dbs.es.credsRef", "", How::Fixed("es-creds")),
    ("logging.kibana.svcName", "", How::Fixed("kibana")),
    ("monitoring.grafana.svcName", "", How::Fixed("grafana")),
    (
        "controlPlane.webapp.replicas",
        "cnvrg.webapp.replicas",
        How::Count,
    ),
    (
        "controlPlane.webapp.hpa.enabled",
        "cnvrg.webapp.hpa.enabled",
        How::Bool,
    ),
    (
        "controlPlane.webapp.hpa.maxReplicas",
        "cnvrg.webapp.hpa.maxReplicas",
        How::Count,
    ),
    (
        "controlPlane.webapp.hpa.utilization",
        "cnvrg.webapp.hpa.cpuUtilization",
        How::Count,
    ),
    ("controlPlane.sidekiq.enabled", "", How::AlwaysOn),
    (
        "controlPlane.sidekiq.split",
        "cnvrg.sidekiq.split",
        How::Bool,
    ),
    (
        "controlPlane.sidekiq.replicas",
        "cnvrg.sidekiq.sidekiq.replicas",
        How::Count,
    ),
    ("controlPlane.searchkiq.enabled", "", How::AlwaysOn),
    (
        "controlPlane.searchkiq.replicas",
        "cnvrg.sidekiq.searchkiq.replicas",
        How::Count,
    ),
    ("controlPlane.systemkiq.enabled", "", How::AlwaysOn),
    (
        "controlPlane.systemkiq.replicas",
        "cnvrg.sidekiq.systemkiq.replicas",
        How::Count,
    ),
    ("dbs.pg.enabled", "", How::AlwaysOn),
    (
        "dbs.pg.storageSize",
        "cnvrg.postgres.storage",
        How::Quantity,
    ),
    ("dbs.redis.enabled", "", How::AlwaysOn),
    (
        "dbs.redis.storageSize",
        "cnvrg.redis.storage",
        How::Quantity,
    ),
    ("dbs.minio.enabled", "", How::AlwaysOn),
    ("dbs.minio.replicas", "cnvrg.minio.replicas", How::Single),
    (
        "dbs.minio.storageSize",
        "cnvrg.minio.storage",
        How::Quantity,
    ),
    ("dbs.es.enabled", "", How::AlwaysOn),
    (
        "dbs.es.storageSize",
        "cnvrg.elasticsearch.storage",
        How::Quantity,
    ),
    ("logging.kibana.enabled", "", How::AlwaysOn),
    ("monitoring.prometheus.enabled", "", How::AlwaysOn),
    (
        "monitoring.prometheus.storageSize",
        "cnvrg.monitoring.prometheus.storage",
        How::Quantity,
    ),
    ("monitoring.grafana.enabled", "", How::AlwaysOn),
];

const APP_SIZED: &[Sized] = &[
    (
        "controlPlane.webapp",
        "cnvrg.webapp",
        SizeStyle::RequestsLimits,
    ),
    (
        "controlPlane.sidekiq",
        "cnvrg.sidekiq.sidekiq",
        SizeStyle::RequestsLimits,
    ),
    (
        "controlPlane.searchkiq",
        "cnvrg.sidekiq.searchkiq",
        SizeStyle::RequestsLimits,
    ),
    (
        "controlPlane.systemkiq",
        "cnvrg.sidekiq.systemkiq",
        SizeStyle::RequestsLimits,
    ),
    ("dbs.pg", "cnvrg.postgres", SizeStyle::RequestsLimits),
    ("dbs.redis", "cnvrg.redis", SizeStyle::RequestsLimits),
    ("dbs.minio", "cnvrg.minio", SizeStyle::RequestsLimits),
    ("dbs.es", "cnvrg.elasticsearch", SizeStyle::RequestsLimits),
    ("logging.kibana", "cnvrg.kibana", SizeStyle::RequestsLimits),
    (
        "monitoring.prometheus",
        "cnvrg.monitoring.prometheus",
        SizeStyle::Flat,
    ),
];

const APP_SECTIONS: &[(&str, &str)] = &[
    ("controlPlane.webapp", "cnvrg.webapp"),
    ("controlPlane.sidekiq", "cnvrg.sidekiq"),
    ("controlPlane.searchkiq", "cnvrg.sidekiq.searchkiq"),
    ("controlPlane.systemkiq", "cnvrg.sidekiq.systemkiq"),
    ("controlPlane", "cnvrg"),
    ("dbs.pg", "cnvrg.postgres"),
    ("dbs.redis", "cnvrg.redis"),
    ("dbs.minio", "cnvrg.minio"),
    ("dbs.es", "cnvrg.elasticsearch"),
    ("logging.kibana", "cnvrg.kibana"),
    ("monitoring.prometheus", "cnvrg.monitoring.prometheus"),
    ("monitoring.grafana", "cnvrg.monitoring.grafana"),
    ("monitoring", "cnvrg.monitoring"),
    ("", "cnvrg"),
];

const WORKSPACE: &[Rule] = &[
    (
        "workflows.controllerReplicas",
        "workspace.orion.replicas",
        How::Single,
    ),
    (
        "workflows.databaseReplicas",
        "workspace.postgres.replicas",
        How::Single,
    ),
    (
        "workflows.controller.replicas",
        "workspace.orion.replicas",
        How::Single,
    ),
    (
        "workflows.agentPools[].name",
        "workspace.agentPools[].name",
        How::Text,
    ),
    (
        "workflows.agentPools[].replicas",
        "workspace.agentPools[].replicas",
        How::Count,
    ),
    (
        "storage.database",
        "workspace.postgres.storage",
        How::Quantity,
    ),
];

const WORKSPACE_SIZED: &[Sized] = &[
    (
        "workflows.controller",
        "workspace.orion",
        SizeStyle::Resources,
    ),
    (
        "workflows.agentPools[]",
        "workspace.agentPools[]",
        SizeStyle::Resources,
    ),
];

const WORKSPACE_SECTIONS: &[(&str, &str)] = &[
    ("workflows.controller", "workspace.orion"),
    ("workflows.agentPools[]", "workspace.agentPools[]"),
    ("workflows", "workspace"),
    ("storage", "workspace.postgres"),
    ("", "workspace"),
];

/// The sizes the cnvrg operator gives a component whose CR leaves them out
/// (`controlplane.go`, `dbs.go`, `logging.go`, `monitoring.go`, `storage.go`):
/// our section, then requests cpu and memory, limits cpu and memory (empty:
/// none). A CR that sizes a component in part ran with these for the rest,
/// so the import completes them rather than mixing in a profile's.
pub const OPERATOR_SIZES: &[(&str, [&str; 4])] = &[
    ("cnvrg.webapp", ["2", "4Gi", "4", "8Gi"]),
    ("cnvrg.sidekiq.sidekiq", ["1000m", "3750Mi", "2", "8Gi"]),
    ("cnvrg.sidekiq.searchkiq", ["750m", "1Gi", "2", "8Gi"]),
    ("cnvrg.sidekiq.systemkiq", ["500m", "1Gi", "2", "8Gi"]),
    ("cnvrg.postgres", ["4", "4Gi", "8", "20Gi"]),
    ("cnvrg.redis", ["100m", "200Mi", "1000m", "2Gi"]),
    ("cnvrg.minio", ["1", "2Gi", "8", "20Gi"]),
    ("cnvrg.elasticsearch", ["2", "2Gi", "4", "4Gi"]),
    ("cnvrg.kibana", ["100m", "200Mi", "1000m", "2Gi"]),
    ("cnvrg.monitoring.prometheus", ["200m", "500Mi", "", ""]),
    ("infra.storage.hostpath", ["100m", "100Mi", "200m", "200Mi"]),
    ("infra.storage.nfs", ["100m", "100Mi", "100m", "200Mi"]),
];

/// The four size fields under a section, in [`OPERATOR_SIZES`]' order.
pub const SIZE_FIELDS: [&str; 4] = [
    "resources.requests.cpu",
    "resources.requests.memory",
    "resources.limits.cpu",
    "resources.limits.memory",
];

/// The tables of one kind.
pub struct Table {
    pub rules: Vec<(String, String, How)>,
    /// Operator prefix → our section, longest first: where a field without
    /// a counterpart is written as a comment.
    pub sections: &'static [(&'static str, &'static str)],
}

/// The tables for `kind`, with the sizes expanded into field rules.
pub fn table(kind: Kind) -> Table {
    let (rules, sized, sections) = match kind {
        Kind::CnvrgInfra => (INFRA, INFRA_SIZED, INFRA_SECTIONS),
        Kind::CnvrgApp => (APP, APP_SIZED, APP_SECTIONS),
        Kind::Workspace => (WORKSPACE, WORKSPACE_SIZED, WORKSPACE_SECTIONS),
    };
    let mut all: Vec<(String, String, How)> = rules
        .iter()
        .map(|(from, to, how)| (from.to_string(), to.to_string(), *how))
        .collect();
    for (from, to, style) in sized {
        for (side, amount, key) in [
            ("requests", "cpu", "cpuRequest"),
            ("requests", "memory", "memoryRequest"),
            ("limits", "cpu", "cpuLimit"),
            ("limits", "memory", "memoryLimit"),
        ] {
            let source = match style {
                SizeStyle::RequestsLimits => format!("{from}.{side}.{amount}"),
                SizeStyle::Flat => format!("{from}.{key}"),
                SizeStyle::Resources => format!("{from}.resources.{side}.{amount}"),
            };
            all.push((
                source,
                format!("{to}.resources.{side}.{amount}"),
                How::Quantity,
            ));
        }
    }
    Table {
        rules: all,
        sections,
    }
}
