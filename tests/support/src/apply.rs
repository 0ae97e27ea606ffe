//! Server-side apply as structured-merge-diff does it, on untyped JSON: field
//! sets per manager (`f:`/`k:{..}` paths; lists whose items all carry one of
//! the usual list-map keys are associative, other lists atomic), conflicts on
//! differing values owned by someone else, pruning of fields a manager stopped
//! applying, merge, and `managedFields` rendering. Update-operation ownership
//! (POST/PUT/PATCH) is tracked here too. No defaulting, no persistence.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::errors::ApiError;
use crate::store::Stored;

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Seg {
    /// A map field.
    F(String),
    /// An associative-list item: key field and its value as JSON.
    K(String, String),
}

pub type Path = Vec<Seg>;

/// Which endpoint a manager entry's writes came through: the main resource,
/// `/status`, or `/scale` (whose `.spec.replicas` is a field of the main
/// resource, recorded with `"subresource": "scale"` as the real scale handler
/// does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sub {
    Main,
    Status,
    Scale,
}

impl Sub {
    /// The part of the object whose fields the entry owns: `/scale` writes
    /// fields of the main resource.
    pub fn part(self) -> Sub {
        match self {
            Sub::Scale => Sub::Main,
            other => other,
        }
    }

    /// The `subresource` of a `managedFields` entry.
    fn name(self) -> Option<&'static str> {
        match self {
            Sub::Main => None,
            Sub::Status => Some("status"),
            Sub::Scale => Some("scale"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Apply,
    Update,
}

/// A `managedFields` entry.
#[derive(Debug, Clone)]
pub struct Manager {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    pub sub: Sub,
    pub time: String,
    /// Leaves and associative-list item markers (paths ending in `K`).
    pub fields: BTreeSet<Path>,
}

/// Keys that make a list of objects associative, in order of preference.
const LIST_KEYS: &[&str] = &[
    "name",
    "containerPort",
    "port",
    "mountPath",
    "devicePath",
    "ip",
    "uid",
    "type",
];

fn list_key(items: &[Value]) -> Option<&'static str> {
    if items.is_empty() || !items.iter().all(Value::is_object) {
        return None;
    }
    LIST_KEYS.iter().copied().find(|k| {
        let vals: Vec<String> = items
            .iter()
            .filter_map(|i| {
                i.get(*k)
                    .filter(|v| !v.is_object() && !v.is_array() && !v.is_null())
                    .map(Value::to_string)
            })
            .collect();
        vals.len() == items.len() && vals.iter().collect::<BTreeSet<_>>().len() == vals.len()
    })
}

/// The managed part of an object: for the main resource everything but
/// apiVersion/kind, server-owned metadata and (when split off) status; for
/// the status subresource only `.status`.
pub fn view(obj: &Value, sub: Sub, status_split: bool) -> Value {
    match sub.part() {
        Sub::Status => match obj.get("status") {
            Some(s) => json!({ "status": s }),
            None => json!({}),
        },
        Sub::Main | Sub::Scale => {
            let mut v = obj.clone();
            if let Some(m) = v.as_object_mut() {
                m.remove("apiVersion");
                m.remove("kind");
                if status_split {
                    m.remove("status");
                }
                if let Some(md) = m.get_mut("metadata").and_then(Value::as_object_mut) {
                    md.retain(|k, _| {
                        matches!(
                            k.as_str(),
                            "labels" | "annotations" | "finalizers" | "ownerReferences"
                        )
                    });
                    if md.is_empty() {
                        m.remove("metadata");
                    }
                }
            }
            v
        }
    }
}

/// Leaves (with their values) and item markers (with the item) of a managed view.
pub fn fields_of(v: &Value) -> BTreeMap<Path, Value> {
    field_refs(v)
        .into_iter()
        .map(|(p, v)| (p, v.clone()))
        .collect()
}

/// [`fields_of`], borrowing the values.
fn field_refs(v: &Value) -> BTreeMap<Path, &Value> {
    let mut out = BTreeMap::new();
    walk(v, &mut vec![], &mut |p, v| {
        out.insert(p.clone(), v);
    });
    out
}

/// The paths of [`fields_of`], without copying the values.
fn paths_of(v: &Value) -> BTreeSet<Path> {
    let mut out = BTreeSet::new();
    walk(v, &mut vec![], &mut |p, _| {
        out.insert(p.clone());
    });
    out
}

/// Visits the leaves and item markers of a managed view.
fn walk<'a>(v: &'a Value, path: &mut Path, visit: &mut dyn FnMut(&Path, &'a Value)) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, c) in m {
                if c.is_null() {
                    continue;
                }
                path.push(Seg::F(k.clone()));
                walk(c, path, visit);
                path.pop();
            }
        }
        Value::Array(items) => match list_key(items) {
            Some(key) => {
                for item in items {
                    path.push(Seg::K(key.to_string(), item[key].to_string()));
                    visit(path, item);
                    walk(item, path, visit);
                    path.pop();
                }
            }
            None => {
                if !path.is_empty() {
                    visit(path, v);
                }
            }
        },
        _ => {
            if !path.is_empty() {
                visit(path, v);
            }
        }
    }
}

pub fn is_marker(p: &Path) -> bool {
    matches!(p.last(), Some(Seg::K(..)))
}

pub fn get<'a>(v: &'a Value, path: &[Seg]) -> Option<&'a Value> {
    let mut cur = v;
    for s in path {
        cur = match s {
            Seg::F(k) => cur.get(k)?,
            Seg::K(k, val) => cur
                .as_array()?
                .iter()
                .find(|i| i.get(k).map(Value::to_string).as_deref() == Some(val))?,
        };
    }
    Some(cur)
}

fn get_mut<'a>(v: &'a mut Value, path: &[Seg]) -> Option<&'a mut Value> {
    let mut cur = v;
    for s in path {
        cur = match s {
            Seg::F(k) => cur.get_mut(k)?,
            Seg::K(k, val) => cur
                .as_array_mut()?
                .iter_mut()
                .find(|i| i.get(k).map(Value::to_string).as_deref() == Some(val))?,
        };
    }
    Some(cur)
}

fn remove(v: &mut Value, path: &[Seg]) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    let Some(p) = get_mut(v, parent) else { return };
    match last {
        Seg::F(k) => {
            if let Some(m) = p.as_object_mut() {
                m.remove(k);
            }
        }
        Seg::K(k, val) => {
            if let Some(a) = p.as_array_mut() {
                a.retain(|i| i.get(k).map(Value::to_string).as_deref() != Some(val));
            }
        }
    }
}

/// `.spec.template.spec.containers[name="app"].image`, as fieldpath prints it.
pub fn path_string(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::F(k) => {
                s.push('.');
                s.push_str(k);
            }
            Seg::K(k, v) => s.push_str(&format!("[{k}={v}]")),
        }
    }
    s
}

/// Merges an applied configuration into a live object: maps recursively,
/// associative lists item by item, everything else replaced.
pub fn merge(live: &mut Value, config: &Value) {
    match (live, config) {
        (Value::Object(l), Value::Object(c)) => {
            for (k, cv) in c {
                if cv.is_null() {
                    continue;
                }
                match l.get_mut(k) {
                    Some(lv) => merge(lv, cv),
                    None => {
                        l.insert(k.clone(), cv.clone());
                    }
                }
            }
        }
        (Value::Array(l), Value::Array(c)) => {
            let key = list_key(c);
            if key.is_none() || (!l.is_empty() && list_key(l) != key) {
                *l = c.clone();
                return;
            }
            let key = key.unwrap_or_default();
            for ci in c {
                match l.iter_mut().find(|li| li.get(key) == ci.get(key)) {
                    Some(li) => merge(li, ci),
                    None => l.push(ci.clone()),
                }
            }
        }
        (l, c) => *l = c.clone(),
    }
}

/// The outcome of an apply before defaulting and persistence.
pub struct Applied {
    pub object: Value,
    pub managers: Vec<Manager>,
}

/// A manager as the real server names it in a conflict (`printManager` over
/// the manager identifier, which never holds the time, nor an applier's
/// apiVersion): `"kubectl" with subresource "scale" using apps/v1`, `"helm"`.
fn manager_label(m: &Manager) -> String {
    let mut s = format!("{:?}", m.manager);
    if let Some(sub) = m.sub.name() {
        s.push_str(&format!(" with subresource {sub:?}"));
    }
    match m.operation {
        Operation::Apply => s,
        Operation::Update => format!("{s} using {}", m.api_version),
    }
}

/// Server-side apply of `config` (already the managed view) by `manager`
/// onto `live` (the full object, or a skeleton for a create).
#[allow(clippy::too_many_arguments)]
pub fn apply(
    live: &Value,
    live_managers: &[Manager],
    config: &Value,
    manager: &str,
    api_version: &str,
    sub: Sub,
    status_split: bool,
    force: bool,
    time: &str,
) -> Result<Applied, ApiError> {
    let applied = fields_of(config);
    let live_view = view(live, sub, status_split);
    let mut managers: Vec<Manager> = live_managers.to_vec();
    let me = |m: &Manager| m.manager == manager && m.operation == Operation::Apply && m.sub == sub;

    // (a) conflicts: a differing value someone else owns.
    let mut conflicts: Vec<(usize, Path)> = vec![];
    for (path, value) in applied.iter().filter(|(p, _)| !is_marker(p)) {
        if get(&live_view, path) == Some(value) {
            continue;
        }
        for (i, m) in managers.iter().enumerate() {
            if m.sub.part() == sub.part() && !me(m) && m.fields.contains(path) {
                conflicts.push((i, path.clone()));
            }
        }
    }
    if !conflicts.is_empty() {
        if !force {
            return Err(conflict_error(&managers, &conflicts));
        }
        for (i, p) in &conflicts {
            managers[*i].fields.remove(p);
        }
    }

    // (b) prune what this manager applied before and nobody else owns.
    let mut object = live.clone();
    let previous: BTreeSet<Path> = managers
        .iter()
        .filter(|m| me(m))
        .flat_map(|m| m.fields.clone())
        .collect();
    let mut dropped: Vec<&Path> = previous
        .iter()
        .filter(|p| !applied.contains_key(*p))
        .collect();
    dropped.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in dropped {
        let others = managers
            .iter()
            .filter(|m| !me(m) && m.sub.part() == sub.part())
            .any(|m| m.fields.iter().any(|f| f.starts_with(p)));
        if others || applied.keys().any(|f| f.starts_with(p)) {
            continue;
        }
        remove(&mut object, p);
        // drop parents left empty that nobody owns as a value
        let mut parent = p.clone();
        while parent.len() > 1 {
            parent.pop();
            let empty = match get(&object, &parent) {
                Some(Value::Object(m)) => m.is_empty(),
                Some(Value::Array(a)) => a.is_empty(),
                _ => false,
            };
            let owned = managers.iter().any(|m| m.fields.contains(&parent))
                || applied.contains_key(&parent);
            if !empty || owned || parent == [Seg::F("metadata".into())] {
                break;
            }
            remove(&mut object, &parent);
        }
    }

    // (c) merge.
    merge(&mut object, config);

    // (d) this manager's set is the applied configuration.
    let entry = Manager {
        manager: manager.to_string(),
        operation: Operation::Apply,
        api_version: api_version.to_string(),
        sub,
        time: time.to_string(),
        fields: applied.keys().cloned().collect(),
    };
    match managers.iter().position(me) {
        Some(i) => managers[i] = entry,
        None => managers.push(entry),
    }
    Ok(Applied { object, managers })
}

fn conflict_error(managers: &[Manager], conflicts: &[(usize, Path)]) -> ApiError {
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|(i, p)| {
            json!({
                "reason": "FieldManagerConflict",
                "message": format!("conflict with {}", manager_label(&managers[*i])),
                "field": path_string(p),
            })
        })
        .collect();
    let message = if conflicts.len() == 1 {
        let (i, p) = &conflicts[0];
        format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            manager_label(&managers[*i]),
            path_string(p)
        )
    } else {
        let mut by: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (i, p) in conflicts {
            by.entry(manager_label(&managers[*i]))
                .or_default()
                .push(path_string(p));
        }
        let mut lines = vec![];
        for (m, paths) in by {
            lines.push(format!("conflicts with {m}:"));
            lines.extend(paths.into_iter().map(|p| format!("- {p}")));
        }
        format!(
            "Apply failed with {} conflicts: {}",
            conflicts.len(),
            lines.join("\n")
        )
    };
    ApiError::new(409, "Conflict", message).with_details(json!({ "causes": causes }))
}

/// Ownership after a non-apply write: the writer takes every field it
/// changed, from every other manager entry (the same name through another
/// operation or subresource is another manager, as the real identifier is
/// name, operation and subresource); a field written with the value it had
/// changes no owner; fields gone from the object are dropped.
pub fn update_ownership(
    managers: &mut Vec<Manager>,
    old: Option<&Value>,
    new: &Value,
    manager: &str,
    api_version: &str,
    sub: Sub,
    status_split: bool,
    time: &str,
) {
    let new_view = view(new, sub, status_split);
    let old_view = old.map(|o| view(o, sub, status_split));
    let new_f = field_refs(&new_view);
    let old_f = old_view.as_ref().map(field_refs).unwrap_or_default();
    let changed: BTreeSet<Path> = new_f
        .iter()
        .filter(|(p, v)| old_f.get(*p) != Some(*v) || is_marker(p))
        .map(|(p, _)| p.clone())
        .collect();
    let changed: BTreeSet<Path> = changed
        .into_iter()
        .filter(|p| !is_marker(p) || !old_f.contains_key(p) || new_f.get(p) != old_f.get(p))
        .collect();
    let me = |m: &Manager| m.manager == manager && m.operation == Operation::Update && m.sub == sub;
    for m in managers.iter_mut().filter(|m| m.sub.part() == sub.part()) {
        m.fields.retain(|p| new_f.contains_key(p));
        if !me(m) {
            m.fields.retain(|p| !changed.contains(p));
        }
    }
    if !changed.is_empty() {
        match managers.iter_mut().find(|m| me(m)) {
            Some(m) => {
                m.fields.extend(changed);
                m.time = time.to_string();
                m.api_version = api_version.to_string();
            }
            None => managers.push(Manager {
                manager: manager.to_string(),
                operation: Operation::Update,
                api_version: api_version.to_string(),
                sub,
                time: time.to_string(),
                fields: changed,
            }),
        }
    }
    managers.retain(|m| !m.fields.is_empty());
}

/// Drops owned paths that no longer exist in the object.
pub fn prune_missing(managers: &mut Vec<Manager>, obj: &Value, status_split: bool) {
    let main = paths_of(&view(obj, Sub::Main, status_split));
    let status = paths_of(&view(obj, Sub::Status, status_split));
    for m in managers.iter_mut() {
        let have = if m.sub.part() == Sub::Main {
            &main
        } else {
            &status
        };
        m.fields.retain(|p| have.contains(p));
    }
    managers.retain(|m| !m.fields.is_empty() || m.operation == Operation::Apply);
}

/// Writes `metadata.managedFields` from the manager entries.
pub fn render_managed_fields(stored: &mut Stored) {
    let entries: Vec<Value> = stored
        .managers
        .iter()
        .map(|m| {
            let mut e = Map::new();
            e.insert("manager".into(), json!(m.manager));
            e.insert(
                "operation".into(),
                json!(if m.operation == Operation::Apply {
                    "Apply"
                } else {
                    "Update"
                }),
            );
            e.insert("apiVersion".into(), json!(m.api_version));
            e.insert("time".into(), json!(m.time));
            e.insert("fieldsType".into(), json!("FieldsV1"));
            e.insert("fieldsV1".into(), fields_v1(&m.fields));
            if let Some(sub) = m.sub.name() {
                e.insert("subresource".into(), json!(sub));
            }
            Value::Object(e)
        })
        .collect();
    if let Some(md) = std::sync::Arc::make_mut(&mut stored.obj)
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
    {
        if entries.is_empty() {
            md.remove("managedFields");
        } else {
            md.insert("managedFields".into(), Value::Array(entries));
        }
    }
}

fn seg_key(s: &Seg) -> String {
    match s {
        Seg::F(k) => format!("f:{k}"),
        Seg::K(k, v) => format!("k:{{\"{k}\":{v}}}"),
    }
}

fn fields_v1(fields: &BTreeSet<Path>) -> Value {
    let mut root = json!({});
    for p in fields {
        let mut cur = &mut root;
        for s in p {
            cur = cur
                .as_object_mut()
                .expect("map")
                .entry(seg_key(s))
                .or_insert_with(|| json!({}));
        }
        if is_marker(p) {
            cur.as_object_mut()
                .expect("map")
                .insert(".".into(), json!({}));
        }
    }
    sort_keys(&mut root);
    root
}

fn sort_keys(v: &mut Value) {
    if let Value::Object(m) = v {
        let mut entries: Vec<(String, Value)> = std::mem::take(m).into_iter().collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for (k, mut c) in entries {
            sort_keys(&mut c);
            m.insert(k, c);
        }
    }
}
