//! Turning a rendered object into the exact body cnvrgctl applies, and deciding
//! without asking the server whether a live object already matches it. Pure:
//! values in, values out (generated secret values come from [`generate`]).
//!
//! The body is the rendered object plus the scope's ApplySet label, the
//! generated Secret values (read back from the live Secret when it has them:
//! created once, never regenerated) and an annotation with a hash of what was
//! applied. A live object is unchanged when that hash matches and every field
//! the body sets has the same value live; anything else goes to a server-side
//! dry run. The hash catches fields removed from the spec (which a subset check
//! cannot see); the subset check catches fields someone else changed.

use std::borrow::Cow;

use base64::Engine;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::engine::inventory::ApplySet;
use crate::pipeline::manifest::generated::{Format, GeneratedKey, generated_keys};
use crate::pipeline::manifest::keys::APPLIED_HASH;
use crate::pipeline::render::GENERATED;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The body to apply for `rendered`, with generated keys filled from `live`
/// (or newly generated).
pub fn body(rendered: &Value, set: &ApplySet, live: Option<&Value>) -> Value {
    let mut object = rendered.clone();
    set.label(&mut object);
    let hash = hash(&object);
    fill_generated(&mut object, live);
    let meta = object["metadata"]
        .as_object_mut()
        .expect("rendered objects have metadata");
    let annotations = meta
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(annotations) = annotations.as_object_mut() {
        annotations.insert(APPLIED_HASH.into(), hash.into());
    }
    object
}

/// A short hash of the body as rendered (generated values still placeholders,
/// so it never depends on a secret).
fn hash(object: &Value) -> String {
    let digest = Sha256::digest(serde_json::to_vec(object).expect("JSON serializes"));
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// Replaces each generated placeholder with the live value, or a new one.
fn fill_generated(object: &mut Value, live: Option<&Value>) {
    for GeneratedKey { key, format } in generated_keys(object) {
        let current = live
            .and_then(|l| l["data"][&key].as_str())
            .and_then(|v| B64.decode(v).ok())
            .and_then(|v| String::from_utf8(v).ok())
            .filter(|v| !v.is_empty());
        let slot = &mut object["stringData"][&key];
        if slot.as_str() == Some(GENERATED) {
            // An unknown format fails validation before apply gets here.
            *slot = current
                .unwrap_or_else(|| generate(format.unwrap_or_default()))
                .into();
        }
    }
}

/// A new random value in a `generated-keys` format.
pub fn generate(format: Format) -> String {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    match format {
        Format::Hex32 => random_bytes::<16>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        Format::Base64Bytes16 => B64.encode(random_bytes::<16>()),
        Format::Alnum32 => {
            // Rejection sampling keeps every character equally likely.
            let limit = 256 / ALNUM.len() * ALNUM.len();
            let mut out = String::with_capacity(32);
            while out.len() < 32 {
                for b in random_bytes::<64>().map(usize::from) {
                    if b < limit && out.len() < 32 {
                        out.push(char::from(ALNUM[b % ALNUM.len()]));
                    }
                }
            }
            out
        }
    }
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the OS has a random source");
    bytes
}

/// Whether `live` already is what applying `body` would make it: same applied
/// hash, and every value `body` sets is the live value (a Secret's
/// `stringData` compared as the `data` the server stores).
pub fn unchanged(body: &Value, live: &Value) -> bool {
    let annotation = |o: &Value| {
        o["metadata"]["annotations"][APPLIED_HASH]
            .as_str()
            .map(str::to_string)
    };
    annotation(body).is_some()
        && annotation(body) == annotation(live)
        && subset(&as_stored(body), live)
}

/// `stringData` folded into `data`, as the API server stores a Secret.
fn as_stored(body: &Value) -> Cow<'_, Value> {
    let Some(string_data) = body.get("stringData").and_then(Value::as_object) else {
        return Cow::Borrowed(body);
    };
    let mut stored = body.clone();
    let map = stored.as_object_mut().expect("an object");
    let encoded: Vec<(String, Value)> = string_data
        .iter()
        .map(|(k, v)| (k.clone(), B64.encode(v.as_str().unwrap_or_default()).into()))
        .collect();
    map.remove("stringData");
    let data = map
        .entry("data")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(data) = data.as_object_mut() {
        data.extend(encoded);
    }
    Cow::Owned(stored)
}

/// Every value in `want` is in `have`: maps by key, lists item by item (same
/// length), scalars equal.
fn subset(want: &Value, have: &Value) -> bool {
    match (want, have) {
        (Value::Object(w), Value::Object(h)) => w.iter().all(|(k, v)| {
            h.get(k).is_some_and(|hv| subset(v, hv)) || (is_empty(v) && h.get(k).is_none())
        }),
        (Value::Array(w), Value::Array(h)) => {
            w.len() == h.len() && w.iter().zip(h).all(|(a, b)| subset(a, b))
        }
        _ => want == have,
    }
}

/// Empty maps and lists the server drops when it stores an object.
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Null => true,
        _ => false,
    }
}

/// Whether cnvrgctl manages a live object: it carries the scope's ApplySet
/// label, or cnvrgctl owns fields of it.
pub fn owned(live: &Value, set: &ApplySet) -> bool {
    set.owns(live)
        || live["metadata"]["managedFields"]
            .as_array()
            .is_some_and(|m| {
                m.iter()
                    .any(|e| e["manager"] == crate::engine::kube::FIELD_MANAGER)
            })
}

/// Whether apply takes a live object of `kind` that cnvrgctl does not own
/// without `--force-conflicts`: only Namespaces (made for us by an admin, as
/// often as not); any other such object is refused.
pub fn taken_without_force(kind: &str) -> bool {
    kind == "Namespace"
}

/// The field managers of a live object other than cnvrgctl, for messages.
pub fn other_managers(live: &Value) -> Vec<String> {
    let mut managers: Vec<String> = live["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["manager"].as_str())
        .filter(|m| *m != crate::engine::kube::FIELD_MANAGER)
        .map(str::to_string)
        .collect();
    managers.sort();
    managers.dedup();
    managers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::manifest::{Scope, keys};
    use serde_json::json;

    fn set() -> ApplySet {
        ApplySet::new(&Scope::Tenant("research".into()), "research")
    }

    fn secret() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "namespace": "research",
                "annotations": {keys::GENERATED_KEYS: "password,key:hex32"}},
            "stringData": {"user": "prefect", "password": GENERATED, "key": GENERATED}
        })
    }

    #[test]
    fn generated_values_are_new_once_then_read_back() {
        let first = body(&secret(), &set(), None);
        let password = first["stringData"]["password"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(password.len(), 32);
        assert!(password.chars().all(|c| c.is_ascii_alphanumeric()));
        let key = first["stringData"]["key"].as_str().unwrap();
        assert_eq!(key.len(), 32);
        assert!(key.chars().all(|c| c.is_ascii_hexdigit()));

        let live = json!({"data": {"password": B64.encode("s3cret"), "key": B64.encode("k")}});
        let again = body(&secret(), &set(), Some(&live));
        assert_eq!(again["stringData"]["password"], "s3cret");
        assert_eq!(again["stringData"]["key"], "k");
        // The hash does not depend on the values.
        assert_eq!(
            first["metadata"]["annotations"][APPLIED_HASH],
            again["metadata"]["annotations"][APPLIED_HASH]
        );
    }

    #[test]
    fn generate_formats() {
        assert_ne!(generate(Format::Alnum32), generate(Format::Alnum32));
        let b = generate(Format::Base64Bytes16);
        assert_eq!(B64.decode(&b).unwrap().len(), 16);
    }

    #[test]
    fn unchanged_needs_the_same_hash_and_the_same_values() {
        let applied = body(&secret(), &set(), None);
        let mut live = as_stored(&applied).into_owned();
        live["metadata"]["resourceVersion"] = "7".into();
        live["metadata"]["managedFields"] = json!([{"manager": "cnvrgctl"}]);
        live["type"] = "Opaque".into();
        assert!(unchanged(&applied, &live));

        let mut edited = live.clone();
        edited["data"]["user"] = B64.encode("someone-else").into();
        assert!(!unchanged(&applied, &edited), "a value changed live");

        let mut rendered = secret();
        rendered["metadata"]["labels"] = json!({"new": "label"});
        let newer = body(&rendered, &set(), Some(&live));
        assert!(!unchanged(&newer, &live), "the spec changed");
    }

    #[test]
    fn lists_compare_item_by_item_with_server_defaults_allowed() {
        let want = json!({"spec": {"ports": [{"port": 80}], "selector": {}}});
        let have =
            json!({"spec": {"ports": [{"port": 80, "protocol": "TCP"}], "clusterIP": "10.0.0.1"}});
        assert!(subset(&want, &have));
        let more = json!({"spec": {"ports": [{"port": 80}, {"port": 81}]}});
        assert!(!subset(&more, &have));
    }

    #[test]
    fn ownership_by_label_or_field_manager() {
        let mut live = json!({"metadata": {"name": "x"}});
        assert!(!owned(&live, &set()));
        live["metadata"]["managedFields"] = json!([{"manager": "helm"}, {"manager": "cnvrgctl"}]);
        assert!(owned(&live, &set()));
        assert_eq!(other_managers(&live), ["helm"]);
        assert!(taken_without_force("Namespace"));
        assert!(!taken_without_force("CustomResourceDefinition"));
    }
}
