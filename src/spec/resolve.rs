//! Turns the parsed files into the effective [`Spec`]: fills defaults (spec over
//! profile over code), and checks what the types alone cannot — names, duplicates,
//! requests against limits, mode rules — collecting every problem with the file
//! and field it is about, so the user sees them all at once.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use super::error::{Diagnostic, Source};
use super::model::{
    ClusterFile, IngressType, Mode, ReclaimPolicy, Resources, Sizing, TenantSpec, TenantType,
};
use super::names;
use super::profile::{self, Profile, Slot, slots};
use super::quantity::Quantity;
use super::resolved::*;

pub const DEFAULT_PROFILE: &str = "dev";
/// How long a Prometheus keeps samples unless the spec says otherwise.
const DEFAULT_RETENTION: &str = "15d";
const MAX_TENANT_NAME: usize = 40;
const MAX_POOL_NAME: usize = 20;
/// Kubernetes counts replicas in 32-bit signed integers.
const MAX_REPLICAS: u32 = i32::MAX as u32;
const PULL_SECRET: &str = "cnvrg-registry";
/// Where ingress-nginx installs itself by default.
const DEFAULT_INGRESS_NAMESPACE: &str = "ingress-nginx";

/// A tenant as declared, with the file and path it was declared at.
pub struct Declared {
    pub spec: TenantSpec,
    pub source: Arc<Source>,
    /// Path of the tenant's body in its file: `spec.tenants[2]` or `spec`.
    pub path: String,
    /// Path of its name: `spec.tenants[2].name` or `metadata.name`.
    pub name_path: String,
}

pub fn resolve(
    cluster_src: &Arc<Source>,
    cluster: ClusterFile,
    declared: Vec<Declared>,
    spec_dir: &Path,
) -> Result<Spec, Vec<Diagnostic>> {
    let mut r = Resolver {
        src: cluster_src.clone(),
        diags: Vec::new(),
        warnings: Vec::new(),
    };
    let spec = cluster.spec;
    r.check(
        "metadata.name",
        names::dns1123_subdomain(&cluster.metadata.name),
    );

    let profile_name = spec
        .profile
        .clone()
        .unwrap_or_else(|| DEFAULT_PROFILE.into());
    let unknown = r
        .src
        .at("spec.profile", format!("unknown profile `{profile_name}`"));
    let profile = match profile::load(&profile_name, spec_dir, unknown) {
        Ok(p) => Some(p),
        Err(d) => {
            r.diags.push(d);
            None
        }
    };
    if let Some(p) = &profile {
        r.diags.extend(profile::check_quotas(p));
    }

    let mode = spec.mode.unwrap_or(Mode::MultiTenant);
    if let Some(domain) = &spec.cluster_domain {
        r.check("spec.clusterDomain", names::dns1123_subdomain(domain));
    }
    if let Some(hub) = &spec.image_hub {
        r.check("spec.imageHub", image_hub(hub));
    }
    if let Some(class) = &spec.storage_class {
        r.check("spec.storageClass", names::dns1123_subdomain(class));
    }
    let (registry, pull_secret) = r.registry(spec.registry);
    let manage_pull_secret = registry
        .as_ref()
        .is_some_and(|r| !matches!(r.password, PasswordSource::Existing));
    let ingress = r.ingress(spec.ingress);

    let infra = r.infra(spec.infra, mode, &ingress, profile.as_ref());
    let around = Around {
        mode,
        infra_ns: &infra.namespace,
        domain: spec.cluster_domain.as_deref(),
        image_hub: spec.image_hub.as_deref(),
        monitoring: infra.monitoring.enabled,
    };
    let tenants = r.tenants(declared, &around, profile.as_ref());

    if !r.diags.is_empty() {
        return Err(r.diags);
    }
    Ok(Spec {
        cluster: ClusterSettings {
            name: cluster.metadata.name,
            profile: profile_name,
            mode,
            domain: spec.cluster_domain,
            image_hub: spec.image_hub,
            registry,
            manage_pull_secret,
            pull_secret,
            storage_class: spec.storage_class,
            ingress,
        },
        infra,
        tenants,
        warnings: r.warnings,
    })
}

fn image_hub(hub: &str) -> Result<(), String> {
    if hub.contains("://")
        || hub.ends_with('/')
        || hub.is_empty()
        || hub.contains(char::is_whitespace)
    {
        Err(format!(
            "`{}` is not a registry prefix (write it like `registry.local/cnvrg`, without a scheme or trailing `/`)",
            names::short(hub)
        ))
    } else if hub.len() > 200 {
        Err(format!(
            "`{}` is {} characters long; image names are at most 255 characters, so a registry prefix may have 200",
            names::short(hub),
            hub.len()
        ))
    } else {
        Ok(())
    }
}

/// What a tenant's defaults depend on besides the tenant itself.
struct Around<'a> {
    mode: Mode,
    infra_ns: &'a str,
    domain: Option<&'a str>,
    image_hub: Option<&'a str>,
    monitoring: bool,
}

/// A Prometheus duration (`15d`, `12h`, `1w`): digits and a unit, repeated.
fn duration(text: &str) -> Result<(), String> {
    let units = ["ms", "s", "m", "h", "d", "w", "y"];
    let mut rest = text;
    let mut parts = 0;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let after = &rest[digits..];
        let Some(unit) = units
            .iter()
            .filter(|u| after.starts_with(**u))
            .max_by_key(|u| u.len())
        else {
            parts = 0;
            break;
        };
        if digits == 0 {
            parts = 0;
            break;
        }
        rest = &after[unit.len()..];
        parts += 1;
    }
    if parts > 0 {
        Ok(())
    } else {
        Err(format!(
            "`{text}` is not a duration (expected a number and a unit: ms, s, m, h, d, w or y, as in `15d`)"
        ))
    }
}

/// A storage size from the profile, or `fallback` when the profile has none.
fn storage_or(q: Option<Quantity>, fallback: &str) -> Quantity {
    q.unwrap_or_else(|| Quantity::parse(fallback).expect("valid default"))
}

/// Whole mebibytes in `q` divided by `div`, at least `floor`.
fn mebibytes(q: Option<&Quantity>, div: f64, floor: u64) -> u64 {
    q.map(|q| (q.value() / div / 1048576.0) as u64)
        .unwrap_or(floor)
        .max(floor)
}

struct Resolver {
    /// The cluster spec file, where most fields live.
    src: Arc<Source>,
    diags: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Resolver {
    fn check(&mut self, field: &str, result: Result<(), String>) {
        self.check_in(&self.src.clone(), field, result);
    }

    fn check_in(&mut self, src: &Source, field: &str, result: Result<(), String>) {
        if let Err(message) = result {
            self.diags.push(src.at(field, message));
        }
    }

    fn registry(
        &mut self,
        registry: Option<super::model::Registry>,
    ) -> (Option<RegistrySettings>, Option<String>) {
        let Some(reg) = registry else {
            return (None, None);
        };
        let server = reg.server.unwrap_or_else(|| "docker.io".into());
        let at = |f: &str| format!("spec.registry.{f}");
        let mut sources = Vec::new();
        if let Some(p) = reg.password {
            self.warnings.push(
                self.src
                    .at(
                        &at("password"),
                        "registry password is written in plain text",
                    )
                    .hide_line()
                    .help("use `passwordEnv` or `passwordFile` to keep it out of the spec"),
            );
            sources.push(("inline".to_string(), PasswordSource::Inline(p)));
        }
        if let Some(var) = reg.password_env {
            self.check(&at("passwordEnv"), names::env_var(&var));
            sources.push((
                format!("env:{var}"),
                PasswordSource::Env {
                    var,
                    at: self.src.clone(),
                    field: at("passwordEnv"),
                },
            ));
        }
        if let Some(file) = reg.password_file {
            let dir = self.src.path.parent().unwrap_or(Path::new("."));
            sources.push((
                format!("file:{file}"),
                PasswordSource::File {
                    path: dir.join(&file),
                    at: self.src.clone(),
                    field: at("passwordFile"),
                },
            ));
        }
        if let Some(name) = &reg.existing_secret {
            self.check(&at("existingSecret"), names::dns1123_subdomain(name));
            sources.push((format!("existingSecret:{name}"), PasswordSource::Existing));
        }
        let (password_from, password) =
            match sources.len() {
                1 => sources.pop().expect("one source"),
                n => {
                    let msg = if n == 0 {
                        "no password source given"
                    } else {
                        "more than one password source given"
                    };
                    self.diags.push(self.src.at("spec.registry", msg).help(
                        "set exactly one of `passwordEnv`, `passwordFile` or `existingSecret`",
                    ));
                    return (None, None);
                }
            };
        let existing = matches!(password, PasswordSource::Existing);
        if !existing && reg.user.is_none() {
            self.diags.push(
                self.src
                    .at("spec.registry", "missing required field `user`")
                    .help("the registry user goes with its password"),
            );
        }
        let pull_secret = reg.existing_secret.unwrap_or_else(|| PULL_SECRET.into());
        let settings = RegistrySettings {
            server,
            user: reg.user,
            password_from,
            password,
        };
        (Some(settings), Some(pull_secret))
    }

    fn ingress(&mut self, ingress: Option<super::model::Ingress>) -> IngressSettings {
        let ingress = ingress.unwrap_or(super::model::Ingress {
            kind: None,
            class_name: None,
            controller_namespace: None,
            https: None,
        });
        let kind = ingress.kind.unwrap_or(IngressType::Istio);
        let controller_namespace = match (kind, ingress.controller_namespace) {
            (IngressType::Ingress, Some(ns)) => {
                self.check(
                    "spec.ingress.controllerNamespace",
                    names::dns1123_label(&ns, 63),
                );
                Some(ns)
            }
            (IngressType::Ingress, None) => Some(DEFAULT_INGRESS_NAMESPACE.into()),
            (_, Some(_)) => {
                self.diags.push(
                    self.src
                        .at(
                            "spec.ingress.controllerNamespace",
                            "`controllerNamespace` is only used with `type: ingress`",
                        )
                        .help("remove it, or set `type: ingress`"),
                );
                None
            }
            (_, None) => None,
        };
        let https = ingress.https.unwrap_or(super::model::Https {
            enabled: None,
            cert_secret: None,
        });
        let enabled = https.enabled.unwrap_or(false);
        if enabled && https.cert_secret.is_none() {
            self.diags.push(
                self.src
                    .at(
                        "spec.ingress.https",
                        "https is enabled but `certSecret` is not set",
                    )
                    .help("name the TLS Secret that holds the certificate for the cluster domain"),
            );
        }
        IngressSettings {
            kind,
            class_name: ingress.class_name,
            controller_namespace,
            https: Https {
                enabled,
                cert_secret: https.cert_secret,
            },
        }
    }

    fn infra(
        &mut self,
        infra: Option<super::model::InfraSpec>,
        mode: Mode,
        ingress: &IngressSettings,
        profile: Option<&Profile>,
    ) -> Infra {
        let infra = infra.unwrap_or(super::model::InfraSpec {
            namespace: None,
            monitoring: None,
            logging: None,
            istio: None,
            storage: None,
        });
        let namespace = infra.namespace.unwrap_or_else(|| match mode {
            Mode::MultiTenant => "cnvrg-infra".into(),
            Mode::SingleNamespace => "cnvrg".into(),
        });
        self.check("spec.infra.namespace", names::dns1123_label(&namespace, 63));
        let on = |t: Option<super::model::Toggle>, default: bool| {
            t.and_then(|t| t.enabled).unwrap_or(default)
        };
        let storage = infra.storage.unwrap_or(super::model::StorageSpec {
            hostpath: None,
            nfs: None,
        });
        let src = self.src.clone();
        let mon = infra.monitoring.unwrap_or(super::model::MonitoringSpec {
            enabled: None,
            retention: None,
            storage: None,
        });
        let base = "spec.infra.monitoring";
        let retention = mon.retention.unwrap_or_else(|| DEFAULT_RETENTION.into());
        self.check(&format!("{base}.retention"), duration(&retention));
        let own_prometheus = Sizing {
            replicas: None,
            storage: mon.storage,
            resources: None,
        };
        let (prometheus, prometheus_storage) = self.size(
            &slots::PROMETHEUS,
            &src,
            base,
            Some(&own_prometheus),
            profile,
        );
        let monitoring = Monitoring {
            enabled: mon.enabled.unwrap_or(true),
            operator: self.component(&slots::PROMETHEUS_OPERATOR, base, profile),
            prometheus: Prometheus {
                replicas: prometheus.0,
                resources: prometheus.1,
                storage: storage_or(prometheus_storage, "10Gi"),
                retention,
            },
            node_exporter: Sized {
                resources: self
                    .component(&slots::NODE_EXPORTER, base, profile)
                    .resources,
            },
            kube_state_metrics: self.component(&slots::KUBE_STATE_METRICS, base, profile),
        };
        let istio_path = "spec.infra.istio";
        Infra {
            namespace,
            monitoring,
            logging: Logging {
                enabled: on(infra.logging, true),
                fluentbit: Sized {
                    resources: self
                        .component(&slots::FLUENTBIT, "spec.infra.logging", profile)
                        .resources,
                },
            },
            istio: Istio {
                enabled: on(infra.istio, ingress.kind == IngressType::Istio),
                istiod: self.component(&slots::ISTIOD, istio_path, profile),
                gateway: self.component(&slots::ISTIO_GATEWAY, istio_path, profile),
            },
            storage: Storage {
                hostpath: self.hostpath(storage.hostpath, profile),
                nfs: self.nfs(storage.nfs, profile),
            },
        }
    }

    /// A component sized by the profile alone.
    fn component(&mut self, slot: &Slot, path: &str, profile: Option<&Profile>) -> Component {
        let src = self.src.clone();
        let ((replicas, resources), _) = self.size(slot, &src, path, None, profile);
        Component {
            replicas,
            resources,
        }
    }

    fn hostpath(
        &mut self,
        spec: Option<super::model::HostpathSpec>,
        profile: Option<&Profile>,
    ) -> Hostpath {
        let base = "spec.infra.storage.hostpath";
        let spec = spec.unwrap_or(super::model::HostpathSpec {
            enabled: None,
            path: None,
            storage_class_name: None,
            default_class: None,
            reclaim_policy: None,
            node_selector: None,
            resources: None,
        });
        let path = spec
            .path
            .unwrap_or_else(|| "/cnvrg-hostpath-storage".into());
        if !path.starts_with('/') {
            self.diags.push(self.src.at(
                &format!("{base}.path"),
                format!("`{path}` is not an absolute path"),
            ));
        }
        let class = spec
            .storage_class_name
            .unwrap_or_else(|| "cnvrg-hostpath".into());
        for (key, value) in spec.node_selector.iter().flatten() {
            let field = format!("{base}.nodeSelector.{key}");
            let checked = names::label_key(key).and_then(|()| names::label_value(value));
            self.check(
                &field,
                checked.map_err(|e| format!("invalid node selector: {e}")),
            );
        }
        self.check(
            &format!("{base}.storageClassName"),
            names::dns1123_subdomain(&class),
        );
        let own = Sizing {
            replicas: None,
            storage: None,
            resources: spec.resources,
        };
        let src = self.src.clone();
        let (sizing, _) = self.size(&slots::HOSTPATH, &src, base, Some(&own), profile);
        Hostpath {
            enabled: spec.enabled.unwrap_or(false),
            path,
            storage_class_name: class,
            default_class: spec.default_class.unwrap_or(false),
            reclaim_policy: spec.reclaim_policy.unwrap_or(ReclaimPolicy::Retain),
            provisioner_name: "cnvrgctl.io/hostpath".into(),
            node_selector: spec.node_selector.unwrap_or_default(),
            replicas: sizing.0,
            resources: sizing.1,
        }
    }

    fn nfs(&mut self, spec: Option<super::model::NfsSpec>, profile: Option<&Profile>) -> Nfs {
        let base = "spec.infra.storage.nfs";
        let spec = spec.unwrap_or(super::model::NfsSpec {
            enabled: None,
            server: None,
            path: None,
            storage_class_name: None,
            default_class: None,
            reclaim_policy: None,
            resources: None,
        });
        let enabled = spec.enabled.unwrap_or(false);
        if enabled {
            for (field, value) in [("server", &spec.server), ("path", &spec.path)] {
                if value.is_none() {
                    self.diags.push(
                        self.src
                            .at(base, format!("NFS is enabled but `{field}` is not set"))
                            .help("give the NFS server's address and exported path"),
                    );
                }
            }
        }
        let class = spec
            .storage_class_name
            .unwrap_or_else(|| "cnvrg-nfs".into());
        self.check(
            &format!("{base}.storageClassName"),
            names::dns1123_subdomain(&class),
        );
        let own = Sizing {
            replicas: None,
            storage: None,
            resources: spec.resources,
        };
        let src = self.src.clone();
        let ((replicas, resources), _) = self.size(&slots::NFS, &src, base, Some(&own), profile);
        Nfs {
            enabled,
            server: spec.server,
            path: spec.path,
            storage_class_name: class,
            default_class: spec.default_class.unwrap_or(false),
            reclaim_policy: spec.reclaim_policy.unwrap_or(ReclaimPolicy::Retain),
            provisioner_name: "cnvrgctl.io/nfs".into(),
            replicas,
            resources,
        }
    }

    /// Merges a component's sizing over the profile's, checks requests against
    /// limits and the replica rule of its slot, and returns (replicas,
    /// resources) plus the storage size.
    fn size(
        &mut self,
        slot: &Slot,
        src: &Arc<Source>,
        path: &str,
        own: Option<&Sizing>,
        profile: Option<&Profile>,
    ) -> ((u32, Resources), Option<super::quantity::Quantity>) {
        let fallback = Sizing::default();
        let from_profile = profile.map(|p| slot.of(&p.spec)).unwrap_or(&fallback);
        let profile_key = slot.key;
        let merged = profile::merge(own, from_profile);
        let resources = merged.resources.unwrap_or_default();
        // Blame the spec if it set any resources here, the profile otherwise.
        let (blame_src, blame_path) = match (own.and_then(|o| o.resources.as_ref()), profile) {
            (None, Some(p)) => (p.source.clone(), format!("spec.{profile_key}.resources")),
            _ => (src.clone(), format!("{path}.resources")),
        };
        for (what, req, lim) in [
            ("cpu", &resources.requests.cpu, &resources.limits.cpu),
            (
                "memory",
                &resources.requests.memory,
                &resources.limits.memory,
            ),
        ] {
            if let (Some(req), Some(lim)) = (req, lim)
                && req.value() > lim.value()
            {
                self.diags.push(
                    blame_src
                        .at(
                            &blame_path,
                            format!("{what} request {req} is more than its limit {lim}"),
                        )
                        .help("requests must not exceed limits (after merging the profile)"),
                );
            }
        }
        let replicas = merged.replicas.unwrap_or(1);
        let (blame_src, blame_path) = match (own.and_then(|o| o.replicas), profile) {
            (None, Some(p)) => (p.source.clone(), format!("spec.{profile_key}.replicas")),
            _ => (src.clone(), format!("{path}.replicas")),
        };
        if replicas > MAX_REPLICAS {
            self.diags.push(blame_src.at(
                &blame_path,
                format!("{replicas} replicas requested; Kubernetes accepts at most {MAX_REPLICAS}"),
            ));
        } else if let Some(why) = slot.single
            && replicas > 1
        {
            self.diags.push(
                blame_src
                    .at(
                        &blame_path,
                        format!("{replicas} replicas requested; at most 1 is supported"),
                    )
                    .help(why),
            );
        }
        ((replicas, resources), merged.storage)
    }

    fn tenants(
        &mut self,
        declared: Vec<Declared>,
        around: &Around,
        profile: Option<&Profile>,
    ) -> Vec<Tenant> {
        let (mode, infra_ns) = (around.mode, around.infra_ns);
        if mode == Mode::SingleNamespace && declared.len() != 1 {
            self.diags.push(
                self.src
                    .at(
                        "spec.mode",
                        format!(
                            "single-namespace mode needs exactly one tenant, found {}",
                            declared.len()
                        ),
                    )
                    .help("use `mode: multi-tenant` for several tenants"),
            );
        }
        let mut seen_names: HashMap<String, String> = HashMap::new();
        let mut seen_ns: HashMap<String, String> = HashMap::new();
        if mode == Mode::MultiTenant {
            seen_ns.insert(infra_ns.to_string(), "the infra scope".into());
        }
        let mut out = Vec::new();
        for d in declared {
            let where_ = match d.source.positions.find(&d.name_path) {
                Some(p) => format!("{}:{}:{}", d.source.path.display(), p.line, p.col),
                None => d.source.path.display().to_string(),
            };
            if let Err(m) = names::dns1035_label(&d.spec.name, MAX_TENANT_NAME) {
                self.diags.push(
                    d.source
                        .at(&d.name_path, format!("invalid tenant name: {m}"))
                        .help("tenant names become parts of Service names: lower-case letters, digits and `-`, starting with a letter"),
                );
            }
            if let Some(first) = seen_names.insert(d.spec.name.clone(), where_.clone()) {
                self.diags.push(
                    d.source
                        .at(&d.name_path, format!("duplicate tenant `{}`", d.spec.name))
                        .help(format!("first declared at {first}")),
                );
            }
            let ns_path = format!("{}.namespace", d.path);
            let namespace = match (mode, &d.spec.namespace) {
                (Mode::SingleNamespace, Some(ns)) if ns != infra_ns => {
                    self.diags.push(
                        d.source
                            .at(&ns_path, format!("namespace `{ns}` differs from the infra namespace `{infra_ns}`"))
                            .help("in single-namespace mode the tenant shares the infra namespace; leave `namespace` out"),
                    );
                    ns.clone()
                }
                (Mode::SingleNamespace, _) => infra_ns.to_string(),
                (Mode::MultiTenant, Some(ns)) => ns.clone(),
                (Mode::MultiTenant, None) => match d.spec.kind {
                    TenantType::Cnvrg => format!("cnvrg-{}", d.spec.name),
                    TenantType::Workspace => d.spec.name.clone(),
                },
            };
            if mode == Mode::MultiTenant {
                // A derived namespace is valid whenever the tenant name is.
                if d.spec.namespace.is_some() {
                    self.check_in(&d.source, &ns_path, names::dns1123_label(&namespace, 63));
                }
                if let Some(first) = seen_ns.insert(
                    namespace.clone(),
                    format!("tenant `{}` ({where_})", d.spec.name),
                ) {
                    self.diags.push(
                        d.source
                            .at(&ns_path, format!("namespace `{namespace}` is already used by {first}"))
                            .help("every tenant needs a namespace of its own; set `namespace` to another name"),
                    );
                }
            }
            let workspace = self.workspace(&d, profile);
            let cnvrg = self.cnvrg(&d, around, profile);
            // In single-namespace mode the namespace holds the infra scope
            // too: no tenant quota there.
            let quota = match (mode, profile) {
                (Mode::MultiTenant, Some(p)) => {
                    Some(profile::quota_of(&p.spec, d.spec.kind).clone())
                }
                _ => None,
            };
            out.push(Tenant {
                name: d.spec.name,
                kind: d.spec.kind,
                namespace,
                owns_namespace: mode == Mode::MultiTenant,
                quota,
                workspace,
                cnvrg,
                file: d.source.path.clone(),
            });
        }
        out
    }

    fn workspace(&mut self, d: &Declared, profile: Option<&Profile>) -> Option<Workspace> {
        let base = &d.path;
        match d.spec.kind {
            TenantType::Cnvrg => {
                if d.spec.workspace.is_some() {
                    self.diags.push(
                        d.source
                            .at(
                                &format!("{base}.workspace"),
                                "`workspace` settings given for a tenant of type `cnvrg`",
                            )
                            .help("remove them, or set `type: workspace`"),
                    );
                }
                return None;
            }
            TenantType::Workspace => {
                if d.spec.cnvrg.is_some() {
                    self.diags.push(
                        d.source
                            .at(
                                &format!("{base}.cnvrg"),
                                "`cnvrg` settings given for a tenant of type `workspace`",
                            )
                            .help("remove them, or set `type: cnvrg`"),
                    );
                }
            }
        }
        let ws_path = format!("{base}.workspace");
        let Some(ws) = &d.spec.workspace else {
            self.diags.push(
                d.source
                    .at(
                        base,
                        "a workspace tenant needs `workspace.agentPools` with at least one pool",
                    )
                    .help("add `workspace: {agentPools: [{name: default}]}`"),
            );
            return None;
        };
        let pg_path = format!("{ws_path}.postgres");
        let (pg, storage) = self.size(
            &slots::POSTGRES,
            &d.source,
            &pg_path,
            ws.postgres.as_ref(),
            profile,
        );
        let orion_path = format!("{ws_path}.orion");
        let (orion, _) = self.size(
            &slots::ORION,
            &d.source,
            &orion_path,
            ws.orion.as_ref(),
            profile,
        );
        if ws.agent_pools.is_empty() {
            self.diags.push(
                d.source
                    .at(
                        &format!("{ws_path}.agentPools"),
                        "a workspace needs at least one agent pool",
                    )
                    .help("add `agentPools: [{name: default}]`"),
            );
        }
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        let mut pools = Vec::new();
        for (i, pool) in ws.agent_pools.iter().enumerate() {
            let path = format!("{ws_path}.agentPools[{i}]");
            if let Err(m) = names::dns1123_label(&pool.name, MAX_POOL_NAME) {
                self.diags.push(
                    d.source
                        .at(&format!("{path}.name"), format!("invalid pool name: {m}")),
                );
            }
            if let Some(first) = seen.insert(&pool.name, i) {
                self.diags.push(
                    d.source
                        .at(
                            &format!("{path}.name"),
                            format!("duplicate agent pool `{}`", pool.name),
                        )
                        .help(format!("first declared as agentPools[{first}]")),
                );
            }
            let own = Sizing {
                replicas: pool.replicas,
                storage: None,
                resources: pool.resources.clone(),
            };
            let ((replicas, resources), _) =
                self.size(&slots::AGENT, &d.source, &path, Some(&own), profile);
            pools.push(AgentPool {
                name: pool.name.clone(),
                replicas,
                resources,
            });
        }
        Some(Workspace {
            postgres: Postgres {
                replicas: pg.0,
                storage: storage_or(storage, "10Gi"),
                resources: pg.1,
                database: "prefect".into(),
                user: "prefect".into(),
            },
            orion: Component {
                replicas: orion.0,
                resources: orion.1,
            },
            agent_pools: pools,
        })
    }

    fn cnvrg(&mut self, d: &Declared, around: &Around, profile: Option<&Profile>) -> Option<Cnvrg> {
        if d.spec.kind != TenantType::Cnvrg {
            return None;
        }
        let empty = super::model::CnvrgSpec {
            cluster_domain: None,
            app_image: None,
            webapp: None,
            sidekiq: None,
            postgres: None,
            redis: None,
            minio: None,
            elasticsearch: None,
            kibana: None,
            monitoring: None,
        };
        let c = d.spec.cnvrg.as_ref().unwrap_or(&empty);
        let base = format!("{}.cnvrg", d.path);
        let src = d.source.clone();
        let at = |f: &str| format!("{base}.{f}");

        let domain = match (&c.cluster_domain, around.domain, around.mode) {
            (Some(own), _, _) => {
                self.check_in(&src, &at("clusterDomain"), names::dns1123_subdomain(own));
                own.clone()
            }
            (None, Some(cluster), Mode::SingleNamespace) => cluster.to_string(),
            (None, Some(cluster), Mode::MultiTenant) => format!("{}.{cluster}", d.spec.name),
            (None, None, _) => {
                self.diags.push(
                    src.at(&d.path, "a cnvrg tenant needs a DNS domain for its hostnames")
                        .help("set `spec.clusterDomain` in the cluster spec, or `cnvrg.clusterDomain` for this tenant"),
                );
                String::new()
            }
        };
        let app_image = match &c.app_image {
            Some(image) => {
                self.check_in(&src, &at("appImage"), names::image_reference(image));
                crate::images::rewrite(image, around.image_hub)
            }
            None => crate::images::resolve("cnvrg-app", around.image_hub).expect("built-in image"),
        };

        let webapp_spec = c.webapp.as_ref();
        let own = webapp_spec.map(|w| Sizing {
            replicas: w.replicas,
            storage: None,
            resources: w.resources.clone(),
        });
        let ((replicas, resources), _) =
            self.size(&slots::WEBAPP, &src, &at("webapp"), own.as_ref(), profile);
        let hpa = webapp_spec.and_then(|w| w.hpa.as_ref());
        let max_replicas = hpa
            .and_then(|h| h.max_replicas)
            .unwrap_or(replicas.max(1).saturating_mul(3).min(MAX_REPLICAS));
        if max_replicas > MAX_REPLICAS {
            self.diags.push(src.at(
                &at("webapp.hpa.maxReplicas"),
                format!(
                    "maxReplicas {max_replicas} is more than Kubernetes accepts ({MAX_REPLICAS})"
                ),
            ));
        } else if max_replicas < replicas && replicas <= MAX_REPLICAS {
            self.diags.push(src.at(
                &at("webapp.hpa.maxReplicas"),
                format!("maxReplicas {max_replicas} is less than the webapp's {replicas} replicas"),
            ));
        }
        let cpu_utilization = hpa.and_then(|h| h.cpu_utilization).unwrap_or(80);
        if !(1..=100).contains(&cpu_utilization) {
            self.diags.push(src.at(
                &at("webapp.hpa.cpuUtilization"),
                format!("{cpu_utilization} is not a percentage between 1 and 100"),
            ));
        }
        let webapp = Webapp {
            replicas,
            resources,
            hpa: Hpa {
                enabled: hpa.and_then(|h| h.enabled).unwrap_or(false),
                max_replicas,
                cpu_utilization,
            },
        };

        let sk = c.sidekiq.as_ref();
        let mut worker = |slot: &Slot, name: &str, own: Option<&Sizing>| {
            let ((replicas, resources), _) =
                self.size(slot, &src, &at(&format!("sidekiq.{name}")), own, profile);
            Component {
                replicas,
                resources,
            }
        };
        let sidekiq = Sidekiq {
            split: sk.and_then(|s| s.split).unwrap_or(true),
            sidekiq: worker(
                &slots::SIDEKIQ,
                "sidekiq",
                sk.and_then(|s| s.sidekiq.as_ref()),
            ),
            searchkiq: worker(
                &slots::SEARCHKIQ,
                "searchkiq",
                sk.and_then(|s| s.searchkiq.as_ref()),
            ),
            systemkiq: worker(
                &slots::SYSTEMKIQ,
                "systemkiq",
                sk.and_then(|s| s.systemkiq.as_ref()),
            ),
        };

        let mut stateful = |slot: &Slot, name: &str, own: Option<&Sizing>, fallback: &str| {
            let ((replicas, resources), storage) = self.size(slot, &src, &at(name), own, profile);
            Stateful {
                replicas,
                storage: storage_or(storage, fallback),
                resources,
            }
        };
        let pg = stateful(&slots::POSTGRES, "postgres", c.postgres.as_ref(), "10Gi");
        let redis = stateful(&slots::REDIS, "redis", c.redis.as_ref(), "2Gi");
        let minio = stateful(&slots::MINIO, "minio", c.minio.as_ref(), "20Gi");
        let es = stateful(
            &slots::ELASTICSEARCH,
            "elasticsearch",
            c.elasticsearch.as_ref(),
            "10Gi",
        );
        let shm = mebibytes(pg.resources.limits.memory.as_ref(), 4.0, 64);
        let heap = mebibytes(es.resources.requests.memory.as_ref(), 2.0, 256);

        let ((kibana_replicas, kibana_resources), _) = self.size(
            &slots::KIBANA,
            &src,
            &at("kibana"),
            c.kibana.as_ref(),
            profile,
        );

        let mon = c.monitoring.as_ref();
        let prom = mon.and_then(|m| m.prometheus.as_ref());
        let prom_path = at("monitoring.prometheus");
        let retention = prom
            .and_then(|p| p.retention.clone())
            .unwrap_or_else(|| DEFAULT_RETENTION.into());
        self.check_in(
            &src,
            &format!("{prom_path}.retention"),
            duration(&retention),
        );
        let own_prom = prom.map(|p| Sizing {
            replicas: p.replicas,
            storage: p.storage.clone(),
            resources: p.resources.clone(),
        });
        let ((prom_replicas, prom_resources), prom_storage) = self.size(
            &slots::TENANT_PROMETHEUS,
            &src,
            &prom_path,
            own_prom.as_ref(),
            profile,
        );
        let ((grafana_replicas, grafana_resources), _) = self.size(
            &slots::GRAFANA,
            &src,
            &at("monitoring.grafana"),
            mon.and_then(|m| m.grafana.as_ref()),
            profile,
        );

        Some(Cnvrg {
            domain,
            app_image,
            webapp,
            sidekiq,
            postgres: CnvrgPostgres {
                replicas: pg.replicas,
                storage: pg.storage,
                resources: pg.resources,
                database: "cnvrg_production".into(),
                user: "cnvrg".into(),
                shared_memory: format!("{shm}Mi"),
            },
            redis,
            minio,
            elasticsearch: Elasticsearch {
                replicas: es.replicas,
                storage: es.storage,
                resources: es.resources,
                heap: format!("{heap}m"),
            },
            kibana: Component {
                replicas: kibana_replicas,
                resources: kibana_resources,
            },
            monitoring: TenantMonitoring {
                enabled: around.monitoring,
                prometheus: TenantPrometheus {
                    enabled: around.monitoring && around.mode == Mode::MultiTenant,
                    replicas: prom_replicas,
                    resources: prom_resources,
                    storage: storage_or(prom_storage, "5Gi"),
                    retention,
                },
                grafana: Component {
                    replicas: grafana_replicas,
                    resources: grafana_resources,
                },
            },
        })
    }
}
