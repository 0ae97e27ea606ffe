//! Secret masking (DESIGN §7): before a change is shown, every value that may
//! hold secret data is replaced by a mask that still tells whether it changed,
//! as `kubectl diff` does: equal on both sides → `***` on both; different →
//! `*** (before)` and `*** (after)`; on one side only → `***`. Keys stay
//! visible. Masked are a core v1 Secret's `data` and `stringData` values, the
//! `kubectl.kubernetes.io/last-applied-configuration` annotation (it can hold a
//! whole Secret), and in any object the values under a key listed in its
//! `cnvrgctl.io/generated-keys` annotation. Masking is idempotent and works on
//! the change's `before` and `after` together; it only rewrites values, so the
//! op is not affected.

use std::collections::BTreeSet;

use serde_json::Value;

use super::Change;
use crate::pipeline::manifest::generated;

/// What a value equal on both sides (or present on one side only) becomes.
pub const MASK: &str = "***";
/// What a changed value becomes on the live side.
const MASK_BEFORE: &str = "*** (before)";
/// What a changed value becomes on the desired side.
const MASK_AFTER: &str = "*** (after)";

/// The Secret fields whose values are all secret.
const SECRET_MAPS: &[&str] = &["data", "stringData"];

/// JSON pointer to the last-applied annotation (`/` escaped as `~1`).
const LAST_APPLIED: &str =
    "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration";

/// Masks the secret values of `change.before` and `change.after` in place (see
/// the module docs). Call it unless the user asked to see secrets.
pub fn mask_secrets(change: &mut Change) {
    let is_secret = change.kind == "Secret"
        && [&change.before, &change.after]
            .into_iter()
            .flatten()
            .any(|object| object["apiVersion"] == "v1");
    let generated = generated_keys(change);
    let mut before = change.before.as_mut();
    let mut after = change.after.as_mut();

    if is_secret {
        for field in SECRET_MAPS {
            mask_map(
                before.as_deref_mut().and_then(|o| o.get_mut(*field)),
                after.as_deref_mut().and_then(|o| o.get_mut(*field)),
            );
        }
    }
    mask_pair(
        before
            .as_deref_mut()
            .and_then(|o| o.pointer_mut(LAST_APPLIED)),
        after
            .as_deref_mut()
            .and_then(|o| o.pointer_mut(LAST_APPLIED)),
    );
    if !generated.is_empty() {
        mask_keys(before, after, &generated, true);
    }
}

/// The keys listed in either side's `cnvrgctl.io/generated-keys` annotation.
fn generated_keys(change: &Change) -> BTreeSet<String> {
    [&change.before, &change.after]
        .into_iter()
        .flatten()
        .flat_map(generated::generated_keys)
        .map(|entry| entry.key)
        .collect()
}

/// Masks one value present on either side or both.
fn mask_pair(before: Option<&mut Value>, after: Option<&mut Value>) {
    match (before, after) {
        (Some(before), Some(after)) => {
            if before == after {
                *before = MASK.into();
                *after = MASK.into();
            } else {
                *before = MASK_BEFORE.into();
                *after = MASK_AFTER.into();
            }
        }
        (Some(value), None) | (None, Some(value)) => *value = MASK.into(),
        (None, None) => {}
    }
}

/// Masks every value of a map (a Secret's `data`), key by key. A side that is
/// null counts as absent; a side that is not a map is masked whole.
fn mask_map(before: Option<&mut Value>, after: Option<&mut Value>) {
    let before = before.filter(|v| !v.is_null());
    let after = after.filter(|v| !v.is_null());
    let is_map = |v: &Option<&mut Value>| v.as_deref().is_none_or(Value::is_object);
    if !is_map(&before) || !is_map(&after) {
        return mask_pair(before, after);
    }
    let mut before = before.and_then(Value::as_object_mut);
    let mut after = after.and_then(Value::as_object_mut);
    let keys = union_keys(before.as_deref(), after.as_deref());
    for key in &keys {
        mask_pair(
            before.as_deref_mut().and_then(|m| m.get_mut(key)),
            after.as_deref_mut().and_then(|m| m.get_mut(key)),
        );
    }
}

/// Masks, anywhere outside the top-level `metadata`, the values under a key in
/// `keys`, walking both sides in step so a changed value still shows as one.
fn mask_keys(
    before: Option<&mut Value>,
    after: Option<&mut Value>,
    keys: &BTreeSet<String>,
    top: bool,
) {
    match (before, after) {
        (Some(Value::Object(before)), Some(Value::Object(after))) => {
            for key in union_keys(Some(before), Some(after)) {
                if top && key == "metadata" {
                    continue;
                }
                let pair = (before.get_mut(&key), after.get_mut(&key));
                if keys.contains(&key) {
                    mask_pair(pair.0, pair.1);
                } else {
                    mask_keys(pair.0, pair.1, keys, false);
                }
            }
        }
        (Some(Value::Array(before)), Some(Value::Array(after))) => {
            for i in 0..before.len().max(after.len()) {
                mask_keys(before.get_mut(i), after.get_mut(i), keys, false);
            }
        }
        // One side only, or the two sides differ in shape: each on its own.
        (before, after) => {
            for value in [before, after].into_iter().flatten() {
                mask_keys_one_side(value, keys, top);
            }
        }
    }
}

fn mask_keys_one_side(value: &mut Value, keys: &BTreeSet<String>, top: bool) {
    match value {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if top && key == "metadata" {
                    continue;
                }
                if keys.contains(key) {
                    *value = MASK.into();
                } else {
                    mask_keys_one_side(value, keys, false);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                mask_keys_one_side(item, keys, false);
            }
        }
        _ => {}
    }
}

/// The keys of `before` in order, then those only in `after`.
fn union_keys(
    before: Option<&serde_json::Map<String, Value>>,
    after: Option<&serde_json::Map<String, Value>>,
) -> Vec<String> {
    let mut keys: Vec<String> = before.into_iter().flat_map(|m| m.keys().cloned()).collect();
    for key in after.into_iter().flat_map(|m| m.keys()) {
        if before.is_none_or(|m| !m.contains_key(key)) {
            keys.push(key.clone());
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::diff::tests::{tenant, yaml};
    use crate::engine::diff::{Op, compare, hunks, prune, to_plain_text};
    use crate::pipeline::manifest::keys;

    /// base64 of `hunter2`, `s3cr3t-old`, `s3cr3t-new`, `gone-value`, `new-value`.
    const SECRETS: &[&str] = &[
        "aHVudGVyMg==",
        "czNjcjN0LW9sZA==",
        "czNjcjN0LW5ldw==",
        "Z29uZS12YWx1ZQ==",
        "bmV3LXZhbHVl",
        "plain-token",
        "plain-token-2",
    ];

    fn secret(data: &str) -> Value {
        yaml(&format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: team-a\ntype: Opaque\n{data}"
        ))
    }

    /// Neither the hunks nor the JSON form hold any of [`SECRETS`].
    fn assert_no_leak(change: &Change) {
        let text = to_plain_text(&hunks(change, 3));
        let json = serde_json::to_string(change).unwrap();
        let shown = format!("{text}{json}");
        for s in SECRETS {
            assert!(!shown.contains(s), "{s} leaked:\n{text}\n{json}");
        }
    }

    #[test]
    fn changed_added_removed_and_unchanged_values() {
        let live = secret(
            "data:\n  same: aHVudGVyMg==\n  changed: czNjcjN0LW9sZA==\n  removed: Z29uZS12YWx1ZQ==\n",
        );
        let desired = secret(
            "data:\n  same: aHVudGVyMg==\n  changed: czNjcjN0LW5ldw==\n  added: bmV3LXZhbHVl\n",
        );
        let mut change = compare(&tenant(), Some(&live), &desired);
        assert_eq!(change.op, Op::Update);
        mask_secrets(&mut change);
        assert_eq!(
            change.before.as_ref().unwrap()["data"],
            yaml("same: '***'\nchanged: '*** (before)'\nremoved: '***'")
        );
        assert_eq!(
            change.after.as_ref().unwrap()["data"],
            yaml("same: '***'\nchanged: '*** (after)'\nadded: '***'")
        );
        assert_eq!(change.op, Op::Update);
        assert_no_leak(&change);
        let text = to_plain_text(&hunks(&change, 3));
        assert!(text.contains("\n-  changed: '*** (before)'\n"), "{text}");
        assert!(text.contains("\n+  changed: '*** (after)'\n"), "{text}");
        assert!(text.contains("\n-  removed: '***'\n"), "{text}");
        assert!(text.contains("\n+  added: '***'\n"), "{text}");
        assert!(text.contains("\n   same: '***'\n"), "{text}");
    }

    #[test]
    fn unchanged_secret_masks_both_sides_alike() {
        let live = secret("data:\n  password: aHVudGVyMg==\nstringData:\n  token: plain-token\n");
        let mut change = compare(&tenant(), Some(&live), &live);
        assert_eq!(change.op, Op::Unchanged);
        mask_secrets(&mut change);
        assert_eq!(change.before, change.after);
        assert_eq!(change.after.as_ref().unwrap()["stringData"]["token"], MASK);
        assert_no_leak(&change);
    }

    #[test]
    fn created_secret_is_all_masks() {
        let desired =
            secret("data:\n  password: aHVudGVyMg==\nstringData:\n  token: plain-token\n");
        let mut change = compare(&tenant(), None, &desired);
        mask_secrets(&mut change);
        let after = change.after.as_ref().unwrap();
        assert_eq!(after["data"], yaml("password: '***'"));
        assert_eq!(after["stringData"], yaml("token: '***'"));
        assert_no_leak(&change);
        assert!(to_plain_text(&hunks(&change, 3)).contains("\n+  password: '***'\n"));
    }

    #[test]
    fn pruned_secret_is_all_masks() {
        let live = secret("data:\n  password: aHVudGVyMg==\n  other: Z29uZS12YWx1ZQ==\n");
        let mut change = prune(&tenant(), &live);
        mask_secrets(&mut change);
        assert_eq!(
            change.before.as_ref().unwrap()["data"],
            yaml("password: '***'\nother: '***'")
        );
        assert_no_leak(&change);
    }

    #[test]
    fn last_applied_annotation_is_masked() {
        let annotated = |value: &str| {
            let mut object = secret("data:\n  password: aHVudGVyMg==\n");
            object["metadata"]["annotations"] = serde_json::json!({
                "kubectl.kubernetes.io/last-applied-configuration": value,
            });
            object
        };
        // Built by hand: normalize would have stripped the annotation.
        let mut change = compare(&tenant(), None, &secret(""));
        change.op = Op::Update;
        change.before = Some(annotated(r#"{"data":{"password":"czNjcjN0LW9sZA=="}}"#));
        change.after = Some(annotated(r#"{"data":{"password":"czNjcjN0LW5ldw=="}}"#));
        mask_secrets(&mut change);
        let path = "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration";
        assert_eq!(
            change.before.as_ref().unwrap().pointer(path).unwrap(),
            MASK_BEFORE
        );
        assert_eq!(
            change.after.as_ref().unwrap().pointer(path).unwrap(),
            MASK_AFTER
        );
        assert_no_leak(&change);
    }

    #[test]
    fn generated_keys_are_masked_in_any_kind() {
        let object = |token: &str, url: &str| {
            yaml(&format!(
                r#"
apiVersion: example.io/v1
kind: Connection
metadata:
  name: db
  namespace: team-a
  annotations:
    cnvrgctl.io/generated-keys: "token, password"
spec:
  url: {url}
  auth:
  - token: {token}
    user: admin
"#
            ))
        };
        let live = object("plain-token", "db:5432");
        let desired = object("plain-token-2", "db:5433");
        let mut change = compare(&tenant(), Some(&live), &desired);
        mask_secrets(&mut change);
        let (before, after) = (
            change.before.as_ref().unwrap(),
            change.after.as_ref().unwrap(),
        );
        assert_eq!(before["spec"]["auth"][0]["token"], MASK_BEFORE);
        assert_eq!(after["spec"]["auth"][0]["token"], MASK_AFTER);
        // Other values and the annotation itself stay as they were.
        assert_eq!(after["spec"]["url"], "db:5433");
        assert_eq!(after["spec"]["auth"][0]["user"], "admin");
        assert_eq!(
            after["metadata"]["annotations"][keys::GENERATED_KEYS],
            "token, password"
        );
        assert_no_leak(&change);

        // Created: one side only.
        let mut change = compare(&tenant(), None, &desired);
        mask_secrets(&mut change);
        assert_eq!(
            change.after.as_ref().unwrap()["spec"]["auth"][0]["token"],
            MASK
        );
        assert_no_leak(&change);
    }

    #[test]
    fn a_generated_key_with_a_format_is_masked_by_its_name() {
        let object = |key: &str| {
            yaml(&format!(
                r#"
apiVersion: example.io/v1
kind: Connection
metadata:
  name: sts
  namespace: team-a
  annotations:
    cnvrgctl.io/generated-keys: "SECRET_KEY_BASE, STS_KEY:hex32"
spec:
  STS_KEY: {key}
  region: eu
"#
            ))
        };
        let mut change = compare(
            &tenant(),
            Some(&object("plain-token")),
            &object("plain-token-2"),
        );
        mask_secrets(&mut change);
        let (before, after) = (
            change.before.as_ref().unwrap(),
            change.after.as_ref().unwrap(),
        );
        assert_eq!(before["spec"]["STS_KEY"], MASK_BEFORE);
        assert_eq!(after["spec"]["STS_KEY"], MASK_AFTER);
        assert_eq!(after["spec"]["region"], "eu");
        assert_no_leak(&change);
    }

    #[test]
    fn other_kinds_are_left_alone_and_masking_is_idempotent() {
        let config =
            yaml("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: visible\n");
        let mut change = compare(&tenant(), None, &config);
        mask_secrets(&mut change);
        assert_eq!(change.after.as_ref().unwrap()["data"]["a"], "visible");

        let live = secret("data:\n  a: aHVudGVyMg==\n  b: Z29uZS12YWx1ZQ==\n");
        let desired = secret("data:\n  a: aHVudGVyMg==\n  b: bmV3LXZhbHVl\n");
        let mut change = compare(&tenant(), Some(&live), &desired);
        mask_secrets(&mut change);
        let once = change.clone();
        mask_secrets(&mut change);
        assert_eq!(change.before, once.before);
        assert_eq!(change.after, once.after);
    }
}
