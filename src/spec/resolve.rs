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
use super::resolved::*;

pub const DEFAULT_PROFILE: &str = "dev";
const MAX_TENANT_NAME: usize = 40;
const MAX_POOL_NAME: usize = 20;
const PULL_SECRET: &str = "cnvrg-registry";

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
    let tenants = r.tenants(declared, mode, &infra.namespace, profile.as_ref());

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
            "`{hub}` is not a registry prefix (write it like `registry.local/cnvrg`, without a scheme or trailing `/`)"
        ))
    } else {
        Ok(())
    }
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
            https: None,
        });
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
            kind: ingress.kind.unwrap_or(IngressType::Istio),
            class_name: ingress.class_name,
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
        let on = |t: Option<super::model::Toggle>, default: bool| Enabled {
            enabled: t.and_then(|t| t.enabled).unwrap_or(default),
        };
        let storage = infra.storage.unwrap_or(super::model::StorageSpec {
            hostpath: None,
            nfs: None,
        });
        Infra {
            namespace,
            monitoring: on(infra.monitoring, true),
            logging: on(infra.logging, true),
            istio: on(infra.istio, ingress.kind == IngressType::Istio),
            storage: Storage {
                hostpath: self.hostpath(storage.hostpath, profile),
                nfs: self.nfs(storage.nfs),
            },
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

    fn nfs(&mut self, spec: Option<super::model::NfsSpec>) -> Nfs {
        let base = "spec.infra.storage.nfs";
        let spec = spec.unwrap_or(super::model::NfsSpec {
            enabled: None,
            server: None,
            path: None,
            storage_class_name: None,
            default_class: None,
            reclaim_policy: None,
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
        Nfs {
            enabled,
            server: spec.server,
            path: spec.path,
            storage_class_name: class,
            default_class: spec.default_class.unwrap_or(false),
            reclaim_policy: spec.reclaim_policy.unwrap_or(ReclaimPolicy::Retain),
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
        if let Some(why) = slot.single
            && replicas > 1
        {
            let (blame_src, blame_path) = match (own.and_then(|o| o.replicas), profile) {
                (None, Some(p)) => (p.source.clone(), format!("spec.{profile_key}.replicas")),
                _ => (src.clone(), format!("{path}.replicas")),
            };
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
        mode: Mode,
        infra_ns: &str,
        profile: Option<&Profile>,
    ) -> Vec<Tenant> {
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
            out.push(Tenant {
                name: d.spec.name,
                kind: d.spec.kind,
                namespace,
                owns_namespace: mode == Mode::MultiTenant,
                workspace,
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
                storage: storage.unwrap_or_else(|| {
                    super::quantity::Quantity::parse("10Gi").expect("valid default")
                }),
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
}
