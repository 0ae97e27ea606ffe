//! Taking over the operators' fields, not only those cnvrgctl renders: a
//! forced apply moves only the fields of our configuration, so what an
//! operator set that we do not render (an env var, a label) would stay its
//! own, forever and unseen by `diff`. Before the forced apply the object's
//! `metadata.managedFields` are rewritten as client-go's
//! `csaupgrade.UpgradeManagedFields` does for kubectl's move to server-side
//! apply: the operators' entries of the main resource are merged into one
//! entry of cnvrgctl's, operation `Apply`; the apply that follows then makes
//! the server remove what that entry holds and our configuration does not.
//! Entries of other managers (`kubectl`, an autoscaler) and of subresources
//! (`status`, `scale`) stay as they are. Pure: values in, values out.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::rules::{OPERATOR_MANAGERS, release_patch};
use crate::engine::kube::FIELD_MANAGER;

/// Whether a `managedFields` entry is one of the operators' on the main
/// resource. Both operations count: the operators write as controllers
/// (Update), and whatever they applied is theirs as much.
fn operators(entry: &Value) -> bool {
    let main = entry
        .get("subresource")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty);
    main && entry["manager"]
        .as_str()
        .is_some_and(|m| OPERATOR_MANAGERS.contains(&m))
}

/// Whether an entry is cnvrgctl's own applied configuration.
fn ours(entry: &Value) -> bool {
    entry["manager"] == FIELD_MANAGER
        && entry["operation"] == "Apply"
        && entry
            .get("subresource")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
}

/// `live`'s `managedFields` with the operators' entries merged into
/// cnvrgctl's `Apply` entry (made from the first of them when there is
/// none), as `csaupgrade` merges: only entries of the target's apiVersion
/// add fields; every operator entry of the main resource goes. `None` when
/// the operators own no fields of the main resource.
pub fn taken_over(live: &Value) -> Option<Vec<Value>> {
    let entries = live["metadata"]["managedFields"].as_array()?;
    let first = entries.iter().position(operators)?;
    let (at, mut target) = match entries.iter().position(ours) {
        Some(i) => (i, entries[i].clone()),
        None => {
            let mut converted = entries[first].clone();
            converted["manager"] = json!(FIELD_MANAGER);
            converted["operation"] = json!("Apply");
            (first, converted)
        }
    };
    for entry in entries.iter().filter(|e| operators(e)) {
        if entry["apiVersion"] == target["apiVersion"] {
            union(&mut target["fieldsV1"], &entry["fieldsV1"]);
        }
    }
    let merged = entries
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match i == at {
            true => Some(target.clone()),
            false => (!operators(e) && !ours(e)).then(|| e.clone()),
        })
        .collect();
    Some(merged)
}

/// Merges the field set `other` into `into` (both `fieldsV1` tries).
fn union(into: &mut Value, other: &Value) {
    let Some(other) = other.as_object() else {
        return;
    };
    if !into.is_object() {
        *into = Value::Object(Map::new());
    }
    let map = into.as_object_mut().expect("an object");
    for (key, child) in other {
        union(map.entry(key.clone()).or_insert_with(|| json!({})), child);
    }
}

/// The JSON patch that takes `live` over from the operators before the
/// forced apply: its ownerReferences to them removed ([`release_patch`])
/// and its `managedFields` as [`taken_over`] makes them, after testing the
/// uid and the resourceVersion read (a concurrent change makes the server
/// refuse it). `None` when there is nothing to take over.
pub fn takeover_patch(live: &Value) -> Option<Value> {
    let fields = taken_over(live);
    let release = release_patch(live);
    if fields.is_none() && release.is_none() {
        return None;
    }
    let mut ops = match release {
        Some(Value::Array(ops)) => ops,
        _ => vec![json!({"op": "test", "path": "/metadata/uid", "value": live["metadata"]["uid"]})],
    };
    if let Some(fields) = fields {
        ops.insert(
            1,
            json!({"op": "test", "path": "/metadata/resourceVersion",
                   "value": live["metadata"]["resourceVersion"]}),
        );
        ops.push(json!({"op": "replace", "path": "/metadata/managedFields", "value": fields}));
    }
    Some(Value::Array(ops))
}

/// A field path as `fieldsV1` spells its steps (`f:name`, `k:{..}`, `v:..`,
/// `i:N`).
type Path = Vec<String>;

/// The leaves of a `fieldsV1` trie (`true`: owned whole), and the items it
/// marks (`.`: their presence, not what they hold).
fn leaves(trie: &Value, at: &mut Path, out: &mut BTreeSet<(Path, bool)>) {
    let Some(map) = trie.as_object() else { return };
    let children: Vec<_> = map.iter().filter(|(k, _)| k.as_str() != ".").collect();
    if (children.is_empty() || map.contains_key(".")) && !at.is_empty() {
        out.insert((at.clone(), children.is_empty()));
    }
    for (key, child) in children {
        at.push(key.clone());
        leaves(child, at, out);
        at.pop();
    }
}

fn field_set(entries: &[&Value]) -> BTreeSet<(Path, bool)> {
    let mut out = BTreeSet::new();
    for entry in entries {
        leaves(&entry["fieldsV1"], &mut Vec::new(), &mut out);
    }
    out
}

/// What `diff --adopt` shows of the adoption: `after` (the server's dry run
/// of the forced apply, which cannot see the rewrite of `live`'s
/// `managedFields` it follows) less the fields the apply after the rewrite
/// removes: those the operators owned that neither our configuration nor
/// another manager holds.
pub fn preview(live: &Value, after: &Value) -> Value {
    let Some(entries) = after["metadata"]["managedFields"].as_array() else {
        return after.clone();
    };
    let theirs: Vec<&Value> = live["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| operators(e))
        .collect();
    let kept: Vec<&Value> = entries
        .iter()
        .filter(|e| !operators(e) && e.get("subresource").is_none_or(Value::is_null))
        .collect();
    let kept = field_set(&kept);
    // Gone: nothing kept is at or under it, and no field kept whole holds it.
    let gone: Vec<Path> = field_set(&theirs)
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| {
            !kept
                .iter()
                .any(|(k, whole)| k.starts_with(p) || (*whole && p.starts_with(k)))
        })
        .collect();
    let mut shown = after.clone();
    // An item goes whole: the fields under it go with it.
    for path in gone
        .iter()
        .filter(|p| !gone.iter().any(|q| q.len() < p.len() && p.starts_with(q)))
    {
        remove(&mut shown, path);
    }
    shown
}

/// Removes the field at `path` from `object`, and the maps and lists it
/// leaves empty.
fn remove(object: &mut Value, path: &[String]) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    let Some(container) = step_all(object, parent) else {
        return;
    };
    match container {
        Value::Object(map) => {
            if let Some(key) = last.strip_prefix("f:") {
                map.remove(key);
            }
        }
        Value::Array(items) => items.retain(|item| !matches(item, last)),
        _ => return,
    }
    if container.as_object().is_some_and(Map::is_empty)
        || container.as_array().is_some_and(Vec::is_empty)
    {
        remove(object, parent);
    }
}

fn step_all<'a>(object: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    let mut at = object;
    for step in path {
        at = match at {
            Value::Object(map) => map.get_mut(step.strip_prefix("f:")?)?,
            Value::Array(items) => items.iter_mut().find(|i| matches(i, step))?,
            _ => return None,
        };
    }
    Some(at)
}

/// Whether list item `item` is the one step `step` names.
fn matches(item: &Value, step: &str) -> bool {
    if let Some(keys) = step.strip_prefix("k:") {
        let Ok(Value::Object(keys)) = serde_json::from_str::<Value>(keys) else {
            return false;
        };
        return keys.iter().all(|(k, v)| item.get(k) == Some(v));
    }
    if let Some(value) = step.strip_prefix("v:") {
        return serde_json::from_str::<Value>(value).is_ok_and(|v| *item == v);
    }
    false
}

#[cfg(test)]
#[path = "fields_tests.rs"]
mod tests;
