//! Applies one kind's [`rules`](super::rules) to one resource: every leaf of
//! its `spec` either converts into a field of ours or becomes a
//! `# not imported: …` comment in the section where it would go. Secret
//! values are never written, not even in comments: a password becomes the
//! name of the variable to read it from, anything else named like a secret
//! is shown as `<secret, not written>`. Pure apart from registering the
//! secret values it sees with [`redact`](crate::pipeline::redact).

use serde_json::Value;

use super::read::Resource;
use super::rules::{How, OPERATOR_SIZES, SIZE_FIELDS, table};
use super::tree::{Node, Step, steps};
use crate::pipeline::spec::Quantity;

/// What became of one resource's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    /// `Kind/namespace/name`.
    pub resource: String,
    /// Fields written into the spec (or matching what cnvrgctl does anyway).
    pub mapped: usize,
    /// Fields written as comments.
    pub commented: usize,
}

/// The operator's default image hub.
const OPERATOR_HUB: &str = "docker.io/cnvrg";

/// Maps `res` into `doc` (the `spec` of its file). Targets marked `@` go to
/// `cluster` (the cluster file's `spec`) when given. Notes for the user
/// (a password to export) are added to `notes`.
pub fn map(
    res: &Resource,
    doc: &mut Node,
    mut cluster: Option<&mut Node>,
    notes: &mut Vec<String>,
) -> Tally {
    let table = table(res.kind);
    let mut tally = Tally {
        resource: res.id(),
        mapped: 0,
        commented: 0,
    };
    let mut found = Vec::new();
    leaves(&res.spec, &mut Vec::new(), &mut found);
    for (path, value) in found {
        let rule = table
            .rules
            .iter()
            .find_map(|(from, to, how)| capture(from, &path).map(|c| (to, *how, c)));
        let outcome = match &rule {
            Some((to, how, captured)) => convert(*how, &value, res).and_then(|v| {
                let (into, target) = match to.strip_prefix('@') {
                    Some(rest) => (cluster.as_deref_mut(), fill(rest, captured)),
                    None => (None, fill(to, captured)),
                };
                place(v, &target, doc, into, res, *how, notes)
            }),
            None => Err("no counterpart".to_string()),
        };
        match outcome {
            Ok(()) => tally.mapped += 1,
            Err(why) => {
                let section = section(table.sections, &path);
                doc.comment(&section, not_imported(&path, &value, &why));
                tally.commented += 1;
            }
        }
    }
    if res.kind != super::read::Kind::Workspace {
        complete_sizes(doc, res);
    }
    tally
}

/// Fills the size fields a CR left out of a component it sized in part
/// with the operator's defaults, saying so.
fn complete_sizes(doc: &mut Node, res: &Resource) {
    for (section, defaults) in OPERATOR_SIZES {
        let at = |field: &str| steps(&format!("{section}.{field}"));
        if SIZE_FIELDS.iter().all(|f| doc.get(&at(f)).is_none()) {
            continue;
        }
        let mut filled = Vec::new();
        for (field, default) in SIZE_FIELDS.iter().zip(defaults) {
            if doc.get(&at(field)).is_none() && !default.is_empty() {
                doc.set(&at(field), Value::String(default.to_string()));
                filled.push(field.trim_start_matches("resources."));
            }
        }
        if !filled.is_empty() {
            doc.comment(
                &steps(&format!("{section}.resources")),
                format!(
                    "{}: the operator's defaults, which {} ran with (it left them out)",
                    filled.join(", "),
                    res.id()
                ),
            );
        }
    }
}

/// Writes `value` at `target` (in `cluster` when given, else in `doc`).
fn place(
    value: Option<Value>,
    target: &[Step],
    doc: &mut Node,
    cluster: Option<&mut Node>,
    res: &Resource,
    how: How,
    notes: &mut Vec<String>,
) -> Result<(), String> {
    let Some(value) = value else {
        return Ok(());
    };
    let into = cluster.unwrap_or(doc);
    match into.get(target) {
        // An earlier resource set the same: nothing to add.
        Some(existing) if *existing == value => return Ok(()),
        _ => {}
    }
    if let Some(existing) = into.get(target) {
        return Err(format!(
            "the cluster's `{}` is already {} from an earlier resource; cnvrgctl sets it once",
            display(target),
            show(existing)
        ));
    }
    if let How::PasswordEnv(var) = how {
        let parent = &target[..target.len() - 1];
        into.comment(
            parent,
            format!("the password {} gave inline is not written here: export {var} before `cnvrgctl apply`", res.id()),
        );
        notes.push(format!(
            "{}: the registry password is not written to the spec; export {var} with it before `cnvrgctl apply`",
            res.id()
        ));
    }
    into.set(target, value);
    Ok(())
}

/// Our value for an operator `value`, `None` when nothing needs writing, or
/// why it cannot map.
fn convert(how: How, value: &Value, res: &Resource) -> Result<Option<Value>, String> {
    let text = || match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let count = || {
        match value {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
        .filter(|n| *n <= u64::from(u32::MAX))
    };
    let wrong = |what: &str| Err(format!("not {what}"));
    match how {
        How::Text => text()
            .map(|s| Some(Value::String(s)))
            .ok_or("not text".into()),
        How::Bool => match value {
            Value::Bool(b) => Ok(Some(Value::Bool(*b))),
            Value::String(s) if s == "true" || s == "false" => Ok(Some(Value::Bool(s == "true"))),
            _ => wrong("true or false"),
        },
        How::Quantity => match text().map(|s| Quantity::parse(&s)) {
            Some(Ok(q)) => Ok(Some(Value::String(q.as_str().to_string()))),
            _ => wrong("a quantity"),
        },
        How::Count => count()
            .map(|n| Some(Value::from(n)))
            .ok_or("not a count".into()),
        How::Single => match count() {
            Some(1) => Ok(Some(Value::from(1))),
            _ => Err("cnvrgctl runs one instance of it".into()),
        },
        How::OneOf(values) => match value.as_str() {
            Some(s) if values.contains(&s) => Ok(Some(Value::String(s.to_string()))),
            _ => Err(format!("not one of {}", values.join(", "))),
        },
        How::PasswordEnv(var) => {
            let secret = text().unwrap_or_default();
            crate::pipeline::redact::register(&secret);
            Ok(Some(Value::String(var.to_string())))
        }
        How::AlwaysOn => match value {
            Value::Bool(true) => Ok(None),
            Value::String(s) if s == "true" => Ok(None),
            _ => Err("cnvrgctl always renders this component".into()),
        },
        How::Image => {
            let image = text().ok_or("not an image")?;
            let hub = res.spec["imageHub"].as_str().unwrap_or(OPERATOR_HUB);
            Ok(Some(Value::String(match image.contains('/') {
                true => image,
                false => format!("{}/{image}", hub.trim_end_matches('/')),
            })))
        }
        How::ImageHub => match text() {
            Some(hub) if hub.trim_end_matches('/') == OPERATOR_HUB => Err(
                "the operator's default; cnvrgctl pulls each image from its own registry".into(),
            ),
            Some(hub) => Ok(Some(Value::String(hub))),
            None => wrong("text"),
        },
        How::Fixed(name) => match value.as_str() {
            Some(v) if v == name => Ok(None),
            _ => Err(format!("cnvrgctl names it `{name}`")),
        },
        How::UsedBy(other) => match leaf(&res.spec, other) {
            Some(_) => Ok(None),
            None => Err(format!("used only to complete `{other}`, which is not set")),
        },
    }
}

/// The value at dotted `path` of `value`, when set and not empty.
fn leaf<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    let found = path.split('.').try_fold(value, |v, k| v.get(k))?;
    (!empty(found)).then_some(found)
}

fn empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// Every set leaf of `value` with its path; a list of scalars is one leaf.
fn leaves(value: &Value, path: &mut Vec<Step>, out: &mut Vec<(Vec<Step>, Value)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                path.push(Step::Key(k.clone()));
                leaves(v, path, out);
                path.pop();
            }
        }
        Value::Array(items) if items.iter().any(|i| i.is_object() || i.is_array()) => {
            for (i, v) in items.iter().enumerate() {
                path.push(Step::Index(i));
                leaves(v, path, out);
                path.pop();
            }
        }
        v if empty(v) => {}
        v => out.push((path.clone(), v.clone())),
    }
}

/// The wildcards `[]` and `*` of `pattern` as they are in `path`, when
/// `path` starts with `pattern` (all of it when `whole`).
fn capture_prefix(pattern: &str, path: &[Step], whole: bool) -> Option<(usize, Vec<Step>)> {
    let mut captured = Vec::new();
    let mut at = 0;
    for part in pattern.split('.').filter(|p| !p.is_empty()) {
        let (key, list) = match part.strip_suffix("[]") {
            Some(key) => (key, true),
            None => (part, false),
        };
        match path.get(at)? {
            Step::Key(k) if key == "*" => captured.push(Step::Key(k.clone())),
            Step::Key(k) if k == key => {}
            _ => return None,
        }
        at += 1;
        if list {
            let index @ Step::Index(_) = path.get(at)? else {
                return None;
            };
            captured.push(index.clone());
            at += 1;
        }
    }
    (!whole || at == path.len()).then_some((at, captured))
}

fn capture(pattern: &str, path: &[Step]) -> Option<Vec<Step>> {
    capture_prefix(pattern, path, true).map(|(_, c)| c)
}

/// `target` with its wildcards replaced by `captured`, in order.
fn fill(target: &str, captured: &[Step]) -> Vec<Step> {
    let mut next = captured.iter();
    steps(&target.replace("[]", "[0]"))
        .into_iter()
        .map(|step| {
            let wildcard = matches!(&step, Step::Index(_)) || step == Step::Key("*".into());
            match wildcard {
                true => next.next().cloned().unwrap_or(step),
                false => step,
            }
        })
        .collect()
}

/// Our section for an operator field: the longest listed prefix.
fn section(sections: &[(&str, &str)], path: &[Step]) -> Vec<Step> {
    sections
        .iter()
        .filter_map(|(from, to)| capture_prefix(from, path, false).map(|(n, c)| (n, to, c)))
        .max_by_key(|(n, _, _)| *n)
        .map(|(_, to, c)| fill(to, &c))
        .unwrap_or_default()
}

/// `a.b[0].c`.
pub fn display(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) if out.is_empty() => out.push_str(k),
            Step::Key(k) => out.push_str(&format!(".{k}")),
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn show(value: &Value) -> String {
    match value {
        Value::String(s) if !s.contains('\n') => s.clone(),
        v => v.to_string(),
    }
}

/// Whether the field's own name says it holds a secret.
fn secret_named(path: &[Step]) -> bool {
    path.iter().rev().find_map(|s| match s {
        // `databaseConnectionSecret`, `credsRef`, `certSecret`: a name, not a value.
        Step::Key(k)
            if ["Secret", "Ref", "SecretName"]
                .iter()
                .any(|s| k.ends_with(s)) =>
        {
            Some(false)
        }
        Step::Key(k) => {
            Some(k.eq_ignore_ascii_case("pass") || crate::pipeline::redact::secret_key(k))
        }
        Step::Index(_) => None,
    }) == Some(true)
}

fn not_imported(path: &[Step], value: &Value, why: &str) -> String {
    let shown = match secret_named(path) {
        true => {
            crate::pipeline::redact::register(&show(value));
            "<secret, not written>".to_string()
        }
        false => show(value),
    };
    format!("not imported: spec.{} = {shown} ({why})", display(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_carry_over_to_the_target() {
        let path = steps("workflows.agentPools[1].resources.limits.cpu");
        let c = capture("workflows.agentPools[].resources.limits.cpu", &path).unwrap();
        assert_eq!(
            display(&fill("workspace.agentPools[].resources.limits.cpu", &c)),
            "workspace.agentPools[1].resources.limits.cpu"
        );
        let path = vec![
            Step::Key("networking".into()),
            Step::Key("istio".into()),
            Step::Key("ingressSvcAnnotations".into()),
            Step::Key("a.b/c".into()),
        ];
        let c = capture("networking.istio.ingressSvcAnnotations.*", &path).unwrap();
        assert_eq!(
            fill("ingress.loadBalancer.annotations.*", &c).last(),
            Some(&Step::Key("a.b/c".into()))
        );
        let sections = [
            ("workflows.agentPools[]", "workspace.agentPools[]"),
            ("", "workspace"),
        ];
        assert_eq!(
            display(&section(&sections, &steps("workflows.agentPools[2].image"))),
            "workspace.agentPools[2]"
        );
        assert_eq!(
            display(&section(&sections, &steps("compute.x"))),
            "workspace"
        );
    }
}
