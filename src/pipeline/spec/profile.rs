//! Profiles: named sets of component sizes merged under the spec. A profile is
//! looked up in `profiles/NAME.yaml` beside the cluster spec first, then among
//! the profiles built into the binary (`dev`, `prod`).

use std::path::Path;
use std::sync::{Arc, LazyLock};

use super::error::{Diagnostic, Source, did_you_mean};
use super::field_path::FieldPath;
use super::model::{ProfileFile, ProfileSpec, Resources, Sizing, TenantQuota, TenantType};
use super::parse::parse;
use super::quantity::Quantity;

/// The profiles shipped inside the binary.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("dev", include_str!("../../../profiles/dev.yaml")),
    ("prod", include_str!("../../../profiles/prod.yaml")),
];

/// The profile a spec that names none gets. It is also the one home of the
/// volume sizes: a profile that leaves one out gets this profile's.
pub const DEFAULT: &str = "dev";

/// A sized component: its key in a profile's `spec` and, for components that
/// must never run twice, why.
pub struct Slot {
    pub key: &'static str,
    pub single: Option<&'static str>,
    of: fn(&ProfileSpec) -> &Sizing,
}

impl Slot {
    /// This component's sizing in a profile.
    pub fn of<'a>(&self, profile: &'a ProfileSpec) -> &'a Sizing {
        (self.of)(profile)
    }
}

/// Every sized component.
pub mod slots {
    use super::Slot;

    pub const HOSTPATH: Slot = Slot {
        key: "hostpathProvisioner",
        of: |p| &p.hostpath_provisioner,
        single: Some(
            "the provisioner runs without leader election; two would provision every volume twice",
        ),
    };
    pub const NFS: Slot = Slot {
        key: "nfsProvisioner",
        of: |p| &p.nfs_provisioner,
        single: None,
    };
    pub const PROMETHEUS_OPERATOR: Slot = Slot {
        key: "prometheusOperator",
        of: |p| &p.prometheus_operator,
        single: Some(
            "prometheus-operator runs without leader election; two would fight over every object",
        ),
    };
    pub const PROMETHEUS: Slot = Slot {
        key: "prometheus",
        of: |p| &p.prometheus,
        single: None,
    };
    pub const NODE_EXPORTER: Slot = Slot {
        key: "nodeExporter",
        of: |p| &p.node_exporter,
        single: None,
    };
    pub const KUBE_STATE_METRICS: Slot = Slot {
        key: "kubeStateMetrics",
        of: |p| &p.kube_state_metrics,
        single: None,
    };
    pub const FLUENTBIT: Slot = Slot {
        key: "fluentbit",
        of: |p| &p.fluentbit,
        single: None,
    };
    pub const ISTIOD: Slot = Slot {
        key: "istiod",
        of: |p| &p.istiod,
        single: None,
    };
    pub const ISTIO_GATEWAY: Slot = Slot {
        key: "istioGateway",
        of: |p| &p.istio_gateway,
        single: None,
    };
    pub const POSTGRES: Slot = Slot {
        key: "postgres",
        of: |p| &p.postgres,
        single: Some("PostgreSQL replicas would be independent databases behind one Service"),
    };
    pub const ORION: Slot = Slot {
        key: "orion",
        of: |p| &p.orion,
        single: Some(
            "the Prefect server runs its scheduler and other services in-process; two would run them twice",
        ),
    };
    pub const AGENT: Slot = Slot {
        key: "agent",
        of: |p| &p.agent,
        single: None,
    };
    pub const WEBAPP: Slot = Slot {
        key: "webapp",
        of: |p| &p.webapp,
        single: None,
    };
    pub const SIDEKIQ: Slot = Slot {
        key: "sidekiq",
        of: |p| &p.sidekiq,
        single: None,
    };
    pub const SEARCHKIQ: Slot = Slot {
        key: "searchkiq",
        of: |p| &p.searchkiq,
        single: None,
    };
    pub const SYSTEMKIQ: Slot = Slot {
        key: "systemkiq",
        of: |p| &p.systemkiq,
        single: None,
    };
    pub const REDIS: Slot = Slot {
        key: "redis",
        of: |p| &p.redis,
        single: Some("Redis replicas would be independent servers behind one Service"),
    };
    pub const MINIO: Slot = Slot {
        key: "minio",
        of: |p| &p.minio,
        single: Some(
            "MinIO runs single-node single-drive; more replicas would be independent stores",
        ),
    };
    pub const ELASTICSEARCH: Slot = Slot {
        key: "elasticsearch",
        of: |p| &p.elasticsearch,
        single: Some("Elasticsearch runs as a single-node cluster (discovery.type: single-node)"),
    };
    pub const KIBANA: Slot = Slot {
        key: "kibana",
        of: |p| &p.kibana,
        single: None,
    };
    pub const TENANT_PROMETHEUS: Slot = Slot {
        key: "tenantPrometheus",
        of: |p| &p.tenant_prometheus,
        single: None,
    };
    pub const GRAFANA: Slot = Slot {
        key: "grafana",
        of: |p| &p.grafana,
        single: Some("Grafana keeps users and sessions in a per-pod SQLite database"),
    };
}

/// The tenant quota a profile gives tenants of type `kind`.
pub fn quota_of(profile: &ProfileSpec, kind: TenantType) -> &TenantQuota {
    match kind {
        TenantType::Cnvrg => &profile.tenant_quotas.cnvrg,
        TenantType::Workspace => &profile.tenant_quotas.workspace,
    }
}

/// What the API server would refuse in a profile's tenant quotas: a
/// LimitRange whose default request is above its default limit. (Whether the
/// quota is large enough for the tenants is checked on the rendered objects,
/// `validate::quota`.)
pub fn check_quotas(profile: &Profile) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (kind, key) in [
        (TenantType::Cnvrg, "cnvrg"),
        (TenantType::Workspace, "workspace"),
    ] {
        let defaults = &quota_of(&profile.spec, kind).container_defaults;
        let requests = FieldPath::spec()
            .field("tenantQuotas")
            .field(key)
            .field("containerDefaults")
            .field("requests");
        for (what, req, lim) in [
            ("cpu", &defaults.requests.cpu, &defaults.limits.cpu),
            ("memory", &defaults.requests.memory, &defaults.limits.memory),
        ] {
            if req.value() > lim.value() {
                out.push(
                    profile
                        .source
                        .at(
                            &requests.field(what),
                            format!(
                                "default {what} request {req} is more than the default limit {lim}"
                            ),
                        )
                        .help("a LimitRange's default requests must not exceed its default limits"),
                );
            }
        }
    }
    out
}

/// A loaded profile and the file it came from (for error positions).
pub struct Profile {
    pub spec: ProfileSpec,
    pub source: Arc<Source>,
}

/// Loads profile `name`. `at` is the diagnostic to raise if it does not exist.
pub fn load(name: &str, spec_dir: &Path, unknown: Diagnostic) -> Result<Profile, Diagnostic> {
    let local = spec_dir.join("profiles").join(format!("{name}.yaml"));
    let source = if local.is_file() {
        let text = std::fs::read_to_string(&local)
            .map_err(|e| Diagnostic::file(&local, format!("cannot read profile: {e}")))?;
        Source::new(local, text)
    } else if let Some(source) = built_in(name) {
        source
    } else {
        let mut names = available(spec_dir);
        names.sort();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let list = refs.join(", ");
        let help = match did_you_mean(name, &refs) {
            Some(best) => format!("did you mean `{best}`? available profiles: {list}"),
            None => format!("available profiles: {list}"),
        };
        return Err(unknown.help(help));
    };
    read(name, source)
}

/// The built-in profile `name`, if there is one.
fn built_in(name: &str) -> Option<Arc<Source>> {
    let (_, text) = BUILT_IN.iter().find(|(n, _)| *n == name)?;
    Some(Source::new(
        format!("<built-in profile {name}>"),
        text.to_string(),
    ))
}

/// Parses the profile `name` from `source`, which must declare that name.
fn read(name: &str, source: Arc<Source>) -> Result<Profile, Diagnostic> {
    let file: ProfileFile = parse(&source, "Profile", |f: &ProfileFile| {
        (&f.api_version, &f.kind)
    })?;
    if file.metadata.name != name {
        return Err(source.at(
            "metadata.name",
            format!(
                "profile file is named `{name}` but declares `{}`",
                file.metadata.name
            ),
        ));
    }
    Ok(Profile {
        spec: file.spec,
        source,
    })
}

/// The volume size of `slot` when the profile in use leaves it out: the
/// default profile's (`None` for a component without a volume).
pub fn default_volume(slot: &Slot) -> Option<Quantity> {
    static SPEC: LazyLock<ProfileSpec> = LazyLock::new(|| {
        let source = built_in(DEFAULT).expect("the default profile is built in");
        read(DEFAULT, source)
            .expect("the built-in default profile is valid")
            .spec
    });
    slot.of(&SPEC).storage.clone()
}

/// Names of every profile that `load` can find.
fn available(spec_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = BUILT_IN.iter().map(|(n, _)| n.to_string()).collect();
    if let Ok(entries) = std::fs::read_dir(spec_dir.join("profiles")) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "yaml")
                && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
                && !names.iter().any(|n| n == stem)
            {
                names.push(stem.to_string());
            }
        }
    }
    names
}

/// `spec` over `profile`, field by field (resources key by key).
pub fn merge(spec: Option<&Sizing>, profile: &Sizing) -> Sizing {
    let empty = Sizing::default();
    let spec = spec.unwrap_or(&empty);
    Sizing {
        replicas: spec.replicas.or(profile.replicas),
        storage: spec.storage.clone().or_else(|| profile.storage.clone()),
        resources: Some(merge_resources(
            spec.resources.as_ref(),
            profile.resources.as_ref(),
        )),
    }
}

pub fn merge_resources(spec: Option<&Resources>, profile: Option<&Resources>) -> Resources {
    let empty = Resources::default();
    let (s, p) = (spec.unwrap_or(&empty), profile.unwrap_or(&empty));
    let pick = |a: &Option<_>, b: &Option<_>| a.clone().or_else(|| b.clone());
    Resources {
        requests: super::model::ResourceList {
            cpu: pick(&s.requests.cpu, &p.requests.cpu),
            memory: pick(&s.requests.memory, &p.requests.memory),
        },
        limits: super::model::ResourceList {
            cpu: pick(&s.limits.cpu, &p.limits.cpu),
            memory: pick(&s.limits.memory, &p.limits.memory),
        },
    }
}
