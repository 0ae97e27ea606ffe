//! The image registry (`spec.registry`): where its password comes from (exactly
//! one of an inline value, an environment variable, a file or an existing
//! Secret) and which pull secret the pods use. It only records where the
//! password is; reading it is left to the commands that write to a cluster.

use std::path::Path;

use super::Resolver;
use crate::pipeline::spec::field_path::FieldPath;
use crate::pipeline::spec::model::Registry;
use crate::pipeline::spec::names;
use crate::pipeline::spec::resolved::{PasswordSource, RegistrySettings};

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

#[cfg(test)]
mod tests {
    use super::super::testing::{cluster, problems, spec};

    fn registry(body: &str) -> String {
        cluster(&format!("  registry:\n{body}"))
    }

    #[test]
    fn a_registry_gets_the_default_server_and_pull_secret() {
        let s = spec(&registry(
            "    user: acme\n    passwordEnv: REGISTRY_PASSWORD\n",
        ));
        let reg = s.cluster.registry.as_ref().unwrap();
        assert_eq!(reg.server, "docker.io");
        assert_eq!(reg.password_from, "env:REGISTRY_PASSWORD");
        assert_eq!(s.cluster.pull_secret.as_deref(), Some("cnvrg-registry"));
        assert!(s.cluster.manage_pull_secret);
    }

    #[test]
    fn an_existing_secret_is_the_pull_secret_and_is_not_managed() {
        let s = spec(&registry("    existingSecret: corp-pull\n"));
        assert_eq!(s.cluster.pull_secret.as_deref(), Some("corp-pull"));
        assert!(!s.cluster.manage_pull_secret);
    }

    #[test]
    fn an_inline_password_is_accepted_with_a_warning_at_its_field() {
        let s = spec(&registry("    user: acme\n    password: hunter2\n"));
        assert_eq!(s.warnings.len(), 1);
        assert_eq!(s.warnings[0].field, "spec.registry.password");
        assert_eq!(s.cluster.registry.unwrap().password_from, "inline");
    }

    #[test]
    fn password_sources_are_exactly_one() {
        assert_eq!(
            problems(&registry("    user: acme\n")),
            ["cluster.yaml: spec.registry: no password source given"]
        );
        assert_eq!(
            problems(&registry(
                "    user: acme\n    passwordEnv: A\n    passwordFile: pw.txt\n"
            )),
            ["cluster.yaml: spec.registry: more than one password source given"]
        );
    }

    #[test]
    fn registry_fields_are_checked_at_their_paths() {
        let found = problems(&registry("    passwordEnv: not-a-var\n"));
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("cluster.yaml: spec.registry.passwordEnv: "));
        assert_eq!(
            found[1],
            "cluster.yaml: spec.registry: missing required field `user`"
        );
        let found = problems(&registry("    existingSecret: Bad_Name\n"));
        assert!(found[0].starts_with("cluster.yaml: spec.registry.existingSecret: "));
    }
}
