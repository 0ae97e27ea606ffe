//! `metadata.managedFields` a client sets explicitly in a non-apply write
//! (PUT, JSON / merge / strategic patch), as the API server's field manager
//! takes them (`decodeLiveOrNew` in apiserver's `fieldmanager`): on the main
//! resource, entries that decode and are not empty replace the tracked
//! ownership; `[{}]` resets it to nothing; an empty, missing or undecodable
//! list keeps what was tracked (clients that do not know the field must not
//! wipe it). Through a subresource the request's entries are ignored. The
//! write's own changes are then attributed as usual.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::apply::{Manager, Operation, Path, Seg, Sub};

/// The ownership a write by a client leaves before its own changes are
/// counted: `requested` is the `managedFields` of the object it sent (or
/// produced by its patch), `tracked` what the server held.
pub fn requested(requested: Option<&Value>, sub: Sub, tracked: Vec<Manager>) -> Vec<Manager> {
    if sub != Sub::Main {
        return tracked;
    }
    let Some(Value::Array(entries)) = requested else {
        return tracked;
    };
    if entries.len() == 1 && entries[0].as_object().is_some_and(|m| m.is_empty()) {
        return Vec::new();
    }
    match entries.iter().map(decode).collect::<Option<Vec<_>>>() {
        Some(managers) if !managers.is_empty() => managers,
        _ => tracked,
    }
}

/// One entry, or `None` when it does not decode.
fn decode(entry: &Value) -> Option<Manager> {
    let operation = match entry["operation"].as_str()? {
        "Apply" => Operation::Apply,
        "Update" => Operation::Update,
        _ => return None,
    };
    let sub = match entry.get("subresource").and_then(Value::as_str) {
        None | Some("") => Sub::Main,
        Some("status") => Sub::Status,
        Some("scale") => Sub::Scale,
        Some(_) => return None,
    };
    let mut fields = BTreeSet::new();
    if let Some(trie) = entry.get("fieldsV1") {
        paths(trie.as_object()?, &mut Vec::new(), &mut fields)?;
    }
    Some(Manager {
        manager: entry["manager"].as_str()?.to_string(),
        operation,
        api_version: entry["apiVersion"].as_str().unwrap_or_default().to_string(),
        sub,
        time: entry["time"].as_str().unwrap_or_default().to_string(),
        fields,
    })
}

/// The leaves and item markers of a `fieldsV1` trie: a node without
/// children is a leaf, `.` under an item marks the item.
fn paths(
    trie: &serde_json::Map<String, Value>,
    at: &mut Path,
    out: &mut BTreeSet<Path>,
) -> Option<()> {
    let children: Vec<_> = trie.iter().filter(|(k, _)| k.as_str() != ".").collect();
    if children.is_empty() || (trie.contains_key(".") && matches!(at.last(), Some(Seg::K(..)))) {
        if !at.is_empty() {
            out.insert(at.clone());
        }
    }
    for (key, child) in children {
        at.push(segment(key)?);
        paths(child.as_object()?, at, out)?;
        at.pop();
    }
    Some(())
}

/// `f:name` or `k:{"name":"x"}` (the first key of the item's key fields).
fn segment(key: &str) -> Option<Seg> {
    if let Some(field) = key.strip_prefix("f:") {
        return Some(Seg::F(field.to_string()));
    }
    let item: serde_json::Map<String, Value> =
        serde_json::from_str(key.strip_prefix("k:")?).ok()?;
    let (k, v) = item.into_iter().next()?;
    Some(Seg::K(k, v.to_string()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tracked() -> Vec<Manager> {
        vec![Manager {
            manager: "old".into(),
            operation: Operation::Update,
            api_version: "v1".into(),
            sub: Sub::Main,
            time: String::new(),
            fields: BTreeSet::from([vec![Seg::F("data".into())]]),
        }]
    }

    #[test]
    fn entries_sent_replace_what_was_tracked() {
        let sent = json!([{
            "manager": "me", "operation": "Apply", "apiVersion": "apps/v1",
            "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:a": {}}},
                "f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:image": {}}}}}
        }]);
        let got = requested(Some(&sent), Sub::Main, tracked());
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].manager, "me");
        assert_eq!(got[0].operation, Operation::Apply);
        let f = |s: &str| Seg::F(s.into());
        let item = vec![
            f("spec"),
            f("containers"),
            Seg::K("name".into(), "\"app\"".into()),
        ];
        let mut image = item.clone();
        image.push(f("image"));
        assert_eq!(
            got[0].fields,
            BTreeSet::from([vec![f("metadata"), f("labels"), f("a")], item, image])
        );
    }

    #[test]
    fn empty_missing_or_broken_entries_keep_them_and_a_reset_drops_them() {
        for kept in [json!([]), json!(null), json!([{"manager": "x"}])] {
            let got = requested(Some(&kept), Sub::Main, tracked());
            assert_eq!(got[0].manager, "old", "{kept}");
        }
        assert!(requested(Some(&json!([{}])), Sub::Main, tracked()).is_empty());
        let sent = json!([{"manager": "me", "operation": "Update", "fieldsV1": {}}]);
        let through_status = requested(Some(&sent), Sub::Status, tracked());
        assert_eq!(through_status[0].manager, "old");
    }

    /// The migration a client makes before taking objects over (client-go's
    /// `csaupgrade`): another manager's Update entry rewritten as its Apply
    /// entry by a JSON patch; its next apply removes what it no longer sends,
    /// and what a third manager owns stays.
    #[test]
    fn an_apply_after_taking_over_the_entries_removes_what_it_no_longer_sends() {
        use crate::ops::{Ctx, PatchType, State};
        let mut state = State::new(crate::Options::default());
        let namespaces = state
            .def_by_gr(&(String::new(), "namespaces".into()))
            .expect("namespaces");
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}});
        state
            .create(&namespaces, "", ns, &Ctx::client("admin"))
            .unwrap();
        let def = state
            .def_by_gr(&(String::new(), "configmaps".into()))
            .expect("configmaps");
        let made = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "labels": {"app": "x", "extra": "y"}},
            "data": {"a": "1", "extra": "2"}});
        state
            .create(&def, "default", made, &Ctx::client("operator"))
            .unwrap();
        let scaled = json!({"data": {"theirs": "3"}});
        let kubectl = Ctx::client("kubectl");
        state
            .patch(
                &def,
                "default",
                "c",
                PatchType::Merge,
                scaled,
                Sub::Main,
                &kubectl,
            )
            .unwrap();
        let live = state.get(&def, "default", "c").unwrap();
        let mut entries = live["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .clone();
        let at = entries
            .iter()
            .position(|e| e["manager"] == "operator")
            .unwrap();
        entries[at]["manager"] = json!("me");
        entries[at]["operation"] = json!("Apply");
        let ops = json!([
            {"op": "test", "path": "/metadata/resourceVersion",
             "value": live["metadata"]["resourceVersion"]},
            {"op": "replace", "path": "/metadata/managedFields", "value": entries}
        ]);
        let patched = state
            .patch(
                &def,
                "default",
                "c",
                PatchType::Json,
                ops,
                Sub::Main,
                &Ctx::client("me"),
            )
            .unwrap();
        let managers: Vec<&str> = patched["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["manager"].as_str().unwrap())
            .collect();
        assert_eq!(managers, ["me", "kubectl"]);
        let ours = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "labels": {"app": "x"}}, "data": {"a": "1"}});
        let after = state
            .apply(&def, "default", "c", ours, Sub::Main, &Ctx::client("me"))
            .unwrap();
        assert_eq!(after["data"], json!({"a": "1", "theirs": "3"}));
        assert_eq!(after["metadata"]["labels"], json!({"app": "x"}));
    }
}
