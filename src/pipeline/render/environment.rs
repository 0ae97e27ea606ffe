//! The minijinja environment: strict undefined, debug info on in every build,
//! no auto-escaping (values that may need quoting go through `tojson`), and the
//! functions templates may call: `image(key)`, `generated()` and
//! `dockerconfigjson()`.

use base64::Engine;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior};

use super::error::RenderError;
use super::templates::Templates;
use crate::pipeline::images;
use crate::pipeline::manifest::Scope;
use crate::pipeline::spec::Spec;

/// The value a generated Secret key shows until the apply path creates it. It
/// cannot be mistaken for a password, and `validate` checks every occurrence is
/// declared in the Secret's `cnvrgctl.io/generated-keys` annotation.
pub const GENERATED: &str = "<generated-on-apply>";

/// How the registry password starts until the apply path reads it (the rest
/// names its source: `env:NAME>` or `file:PATH>`).
pub const SET_ON_APPLY: &str = "<set-on-apply:";

/// Secret inputs a render may embed. `render` passes none: every secret then
/// shows as a placeholder naming where the value will come from.
#[derive(Debug, Clone, Default)]
pub struct SecretInputs {
    pub registry_password: Option<String>,
}

/// The environment with every template compiled; the first template that does
/// not compile is the error.
pub fn build<'a>(
    spec: &Spec,
    templates: &'a Templates,
    secrets: &SecretInputs,
) -> Result<Environment<'a>, RenderError> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_debug(true);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    for (name, source) in templates.iter() {
        env.add_template(name, source)
            .map_err(|e| template_error(name, None, &e))?;
    }

    let hub = spec.cluster.image_hub.clone();
    env.add_function("image", move |key: &str| {
        images::resolve(key, hub.as_deref()).ok_or_else(|| {
            let known: Vec<&str> = images::IMAGES.iter().map(|(k, _)| *k).collect();
            let hint = crate::pipeline::spec::did_you_mean(key, &known)
                .map(|k| format!("did you mean `{k}`? "))
                .unwrap_or_default();
            Error::new(
                ErrorKind::InvalidOperation,
                format!(
                    "unknown image `{key}`; {hint}known images: {}",
                    known.join(", ")
                ),
            )
        })
    });
    env.add_function("generated", || GENERATED);

    let auth = spec.cluster.registry.as_ref().map(|r| {
        let password = secrets
            .registry_password
            .clone()
            .unwrap_or_else(|| format!("{SET_ON_APPLY}{}>", r.password_from));
        (
            r.server.clone(),
            r.user.clone().unwrap_or_default(),
            password,
        )
    });
    env.add_function("dockerconfigjson", move || {
        let (server, user, password) = auth.clone().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidOperation,
                "dockerconfigjson() needs `spec.registry` in the cluster spec",
            )
        })?;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let json = serde_json::json!({
            "auths": {server: {"username": user, "password": password, "auth": token}}
        });
        Ok(json.to_string())
    });
    Ok(env)
}

/// A minijinja error as a [`RenderError`] naming the template, the scope, the
/// line and the source around it (for errors inside imported templates too).
/// `scope` is `None` for errors found while compiling, before any scope renders.
pub fn template_error(template: &str, scope: Option<&Scope>, err: &Error) -> RenderError {
    let mut detail = err.to_string();
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    while let Some(c) = cause {
        detail.push_str(&format!(": {c}"));
        cause = c.source();
    }
    RenderError::Template {
        template: err.name().unwrap_or(template).to_string(),
        scope: scope.map(Scope::to_string),
        line: err.line(),
        detail,
        window: window(err),
    }
}

/// minijinja's source window. Its dump of the variables the template
/// references is kept only for an undefined value (it shows what exists), with
/// functions shown as `<function>` instead of the Rust closure's type name.
fn window(err: &Error) -> String {
    let debug = err.display_debug_info().to_string();
    let Some(start) = debug
        .find("\nReferenced variables:")
        .or_else(|| debug.find("\nNo referenced variables"))
    else {
        return debug;
    };
    let end = debug
        .rfind("\n---")
        .filter(|&e| e > start)
        .unwrap_or(debug.len());
    if err.kind() != ErrorKind::UndefinedError {
        return format!("{}{}", &debug[..start], &debug[end..]);
    }
    let vars: Vec<String> = debug[start..end]
        .split('\n')
        .map(|line| match line.split_once(": ") {
            Some((key, value)) if value.contains("{{closure}}") => {
                let comma = if value.ends_with(',') { "," } else { "" };
                format!("{key}: <function>{comma}")
            }
            _ => line.to_string(),
        })
        .collect();
    format!("{}{}{}", &debug[..start], vars.join("\n"), &debug[end..])
}
