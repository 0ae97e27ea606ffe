//! The render stage: effective spec + templates → Kubernetes objects with their
//! origin. Templates under `infra/` render once for the infra scope; `tenant/`
//! once per tenant; `workspace/` and `cnvrg/` once per tenant of that type.
//! Workloads get a checksum of the config they read, so a config change rolls
//! them. Pure and deterministic: the same spec gives byte-identical output. Secret
//! values never enter a render unless the caller passes them in, and generated
//! keys are only marked here (the apply path fills them once).

mod checksum;
mod environment;
mod error;
mod templates;

use std::collections::HashMap;

use minijinja::Value;
use minijinja::value::Serde;
use serde::Serialize;

pub use checksum::CONFIG_CHECKSUM;
pub use environment::{GENERATED, SET_ON_APPLY, SecretInputs};
pub use error::RenderError;
pub use templates::Templates;

use crate::pipeline::manifest::{self, Manifest, Origin, Scope};
use crate::pipeline::spec::{Spec, Tenant, TenantType};

/// What the templates of one scope see besides the cluster and infra settings.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ScopeContext<'a> {
    kind: &'static str,
    instance: &'a str,
    namespace: &'a str,
}

/// Renders every scope of `spec`, infra first, then tenants in spec order.
pub fn render(
    spec: &Spec,
    templates: &Templates,
    secrets: &SecretInputs,
) -> Result<Vec<Manifest>, RenderError> {
    let env = environment::build(spec, templates, secrets)?;
    let cluster = Value::from(Serde(&spec.cluster));
    let infra = Value::from(Serde(&spec.infra));
    let mut out = Vec::new();

    let scope = ScopeContext {
        kind: "infra",
        instance: "infra",
        namespace: &spec.infra.namespace,
    };
    let ctx = minijinja::context! {
        cluster => cluster.clone(),
        infra => infra.clone(),
        scope => Value::from(Serde(&scope)),
    };
    render_scope(
        &env,
        templates,
        &["infra"],
        &Scope::Infra,
        "cnvrg",
        &ctx,
        &mut out,
    )?;

    for tenant in &spec.tenants {
        let scope = ScopeContext {
            kind: "tenant",
            instance: &tenant.name,
            namespace: &tenant.namespace,
        };
        let ctx = minijinja::context! {
            cluster => cluster.clone(),
            infra => infra.clone(),
            scope => Value::from(Serde(&scope)),
            tenant => Value::from(Serde(tenant)),
        };
        let (dir, part_of) = type_dir(tenant);
        render_scope(
            &env,
            templates,
            &["tenant", dir],
            &Scope::Tenant(tenant.name.clone()),
            part_of,
            &ctx,
            &mut out,
        )?;
    }
    crate::pipeline::platform::adapt(spec, &mut out);
    check_unique(&out)?;
    checksum::annotate(&mut out);
    sort(&mut out);
    Ok(out)
}

/// Template directory and `part-of` label of a tenant's type.
fn type_dir(tenant: &Tenant) -> (&'static str, &'static str) {
    match tenant.kind {
        TenantType::Cnvrg => ("cnvrg", "cnvrg"),
        TenantType::Workspace => ("workspace", "workspace"),
    }
}

fn render_scope(
    env: &minijinja::Environment<'_>,
    templates: &Templates,
    dirs: &[&str],
    scope: &Scope,
    part_of: &str,
    ctx: &Value,
    out: &mut Vec<Manifest>,
) -> Result<(), RenderError> {
    for dir in dirs {
        for name in templates.in_dir(dir) {
            let text = env
                .get_template(name)
                .and_then(|t| t.render(ctx))
                .map_err(|e| environment::template_error(name, Some(scope), &e))?;
            let component = name
                .rsplit('/')
                .next()
                .and_then(|f| f.strip_suffix(".yaml.j2"))
                .unwrap_or(name);
            let docs = crate::pipeline::yaml::documents(&text).map_err(|e| RenderError::Yaml {
                template: name.to_string(),
                scope: scope.to_string(),
                line: e.pos.map(|p| p.line),
                message: e.message.clone(),
                window: e
                    .pos
                    .map(|p| error::excerpt(&text, p.line))
                    .unwrap_or_default(),
            })?;
            for (i, mut object) in docs.into_iter().enumerate() {
                let bad = |message: String| RenderError::Object {
                    template: name.to_string(),
                    scope: scope.to_string(),
                    doc: i + 1,
                    message,
                };
                check_shape(&object).map_err(bad)?;
                let component =
                    manifest::add_standard_labels(&mut object, scope, component, part_of);
                out.push(Manifest {
                    object,
                    origin: Origin {
                        scope: scope.clone(),
                        component,
                        template: name.to_string(),
                    },
                });
            }
        }
    }
    Ok(())
}

/// Every document must be a Kubernetes object: a mapping with `apiVersion`,
/// `kind` and `metadata.name` as strings.
fn check_shape(object: &serde_json::Value) -> Result<(), String> {
    if !object.is_object() {
        return Err("expected a Kubernetes object (a mapping), found a scalar or a list".into());
    }
    for (pointer, field) in [
        ("/apiVersion", "apiVersion"),
        ("/kind", "kind"),
        ("/metadata/name", "metadata.name"),
    ] {
        match object.pointer(pointer) {
            Some(serde_json::Value::String(s)) if !s.is_empty() => {}
            Some(_) => return Err(format!("`{field}` must be a non-empty string")),
            None => return Err(format!("the object has no `{field}`")),
        }
    }
    Ok(())
}

fn check_unique(out: &[Manifest]) -> Result<(), RenderError> {
    let mut seen: HashMap<(String, String), &Manifest> = HashMap::new();
    for m in out {
        let key = (m.group().to_string(), m.id());
        if let Some(first) = seen.insert(key, m) {
            return Err(RenderError::Duplicate {
                id: m.id(),
                first: format!("{} (scope {})", first.origin.template, first.origin.scope),
                second: format!("{} (scope {})", m.origin.template, m.origin.scope),
            });
        }
    }
    Ok(())
}

/// Output order: scopes as declared (infra first), then kind rank, then
/// namespace and name.
fn sort(out: &mut [Manifest]) {
    let mut scope_order: HashMap<Scope, usize> = HashMap::new();
    for m in out.iter() {
        let n = scope_order.len();
        scope_order.entry(m.origin.scope.clone()).or_insert(n);
    }
    out.sort_by_cached_key(|m| {
        (
            scope_order[&m.origin.scope],
            manifest::kind_rank(m.kind()),
            m.kind().to_string(),
            m.namespace().unwrap_or_default().to_string(),
            m.name().to_string(),
        )
    });
}
