//! The image registry (`spec.registry`): where its password comes from (exactly
//! one of an inline value, an environment variable, a file or an existing
//! Secret) and which pull secret the pods use. It only records where the
//! password is; reading it is left to the commands that write to a cluster.

use std::path::Path;

use super::Resolver;
use crate::spec::field_path::FieldPath;
use crate::spec::model::Registry;
use crate::spec::names;
use crate::spec::resolved::{PasswordSource, RegistrySettings};

/// The pull secret cnvrgctl writes when the spec names no existing one.
const PULL_SECRET: &str = "cnvrg-registry";
/// The server when the spec names none.
const DEFAULT_SERVER: &str = "docker.io";

/// A registry the spec configures: its settings and the pull secret's name.
pub(super) struct RegistryFound {
    pub settings: RegistrySettings,
    pub pull_secret: String,
}

impl Resolver {
    /// The registry settings, or `None` when there is no registry or its
    /// password sources are wrong (recorded).
    pub(super) fn registry(&mut self, registry: Option<Registry>) -> Option<RegistryFound> {
        let reg = registry?;
        let at = FieldPath::spec().field("registry");
        let server = reg.server.unwrap_or_else(|| DEFAULT_SERVER.into());
        let mut sources = Vec::new();
        if let Some(p) = reg.password {
            self.warnings.push(
                self.src
                    .at(
                        &at.field("password"),
                        "registry password is written in plain text",
                    )
                    .hide_line()
                    .help("use `passwordEnv` or `passwordFile` to keep it out of the spec"),
            );
            sources.push(("inline".to_string(), PasswordSource::Inline(p)));
        }
        if let Some(var) = reg.password_env {
            let field = at.field("passwordEnv");
            self.check(&field, names::env_var(&var));
            sources.push((
                format!("env:{var}"),
                PasswordSource::Env {
                    var,
                    at: self.src.clone(),
                    field: field.to_string(),
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
                    field: at.field("passwordFile").to_string(),
                },
            ));
        }
        if let Some(name) = &reg.existing_secret {
            self.check(&at.field("existingSecret"), names::dns1123_subdomain(name));
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
                    self.diags.push(self.src.at(&at, msg).help(
                        "set exactly one of `passwordEnv`, `passwordFile` or `existingSecret`",
                    ));
                    return None;
                }
            };
        let existing = matches!(password, PasswordSource::Existing);
        if !existing && reg.user.is_none() {
            self.diags.push(
                self.src
                    .at(&at, "missing required field `user`")
                    .help("the registry user goes with its password"),
            );
        }
        Some(RegistryFound {
            settings: RegistrySettings {
                server,
                user: reg.user,
                password_from,
                password,
            },
            pull_secret: reg.existing_secret.unwrap_or_else(|| PULL_SECRET.into()),
        })
    }
}
