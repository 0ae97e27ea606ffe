//! The effective spec: every default filled in from the profile and from code,
//! every field checked. This is what `render --show-spec` prints and what the
//! templates see (camelCase, as written in the spec).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::error::{Diagnostic, Source, SpecError};
use super::model::{IngressType, Mode, ReclaimPolicy, Resources, TenantType};
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
    pub https: Https,
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
    pub monitoring: Enabled,
    pub logging: Enabled,
    pub istio: Enabled,
    pub storage: Storage,
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
    pub workspace: Option<Workspace>,
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
