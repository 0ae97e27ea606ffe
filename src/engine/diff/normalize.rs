//! Normalization: strip from an object what the API server owns and the user
//! did not write (bookkeeping metadata, `status`, annotations the server or
//! kubectl add), so that a live object and a dry-run apply of the same desired
//! object compare equal when nothing would change. Both sides come from the
//! server, so defaulted `spec` fields are on both and are kept; everything that
//! is kept stays in its order, except that [`align`] puts the fields of a
//! would-be object in the order the live one has them, so a diff shows what
//! changed rather than where fields happen to sit.

use serde_json::{Map, Value};

/// Server-owned `metadata` fields.
const SERVER_METADATA: &[&str] = &[
    "managedFields",
    "resourceVersion",
    "uid",
    "generation",
    "creationTimestamp",
    "selfLink",
    "deletionGracePeriodSeconds",
];

/// Top-level fields the server owns.
const SERVER_FIELDS: &[&str] = &["status"];

/// Annotations written by kubectl or controllers, not by the user.
const SERVER_ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
];

/// `metadata` maps dropped when nothing is left in them.
const DROPPED_WHEN_EMPTY: &[&str] = &["annotations", "labels"];

/// The object without the server's bookkeeping (see the module docs).
pub fn normalize(object: &Value) -> Value {
    let mut object = object.clone();
    let Some(map) = object.as_object_mut() else {
        return object;
    };
    for field in SERVER_FIELDS {
        map.shift_remove(*field);
    }
    if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in SERVER_METADATA {
            meta.shift_remove(*field);
        }
        if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            for key in SERVER_ANNOTATIONS {
                annotations.shift_remove(*key);
            }
        }
        for field in DROPPED_WHEN_EMPTY {
            if meta.get(*field).is_some_and(is_empty_or_null) {
                meta.shift_remove(*field);
            }
        }
    }
    object
}

/// Reorders the maps of `value` after those of `like`, recursively: keys
/// `like` has come first, in its order; the others follow in their own.
pub fn align(value: &mut Value, like: &Value) {
    match (value, like) {
        (Value::Object(map), Value::Object(like)) => {
            let mut old = std::mem::take(map);
            for key in like.keys() {
                if let Some(v) = old.shift_remove(key) {
                    map.insert(key.clone(), v);
                }
            }
            map.extend(old);
            for (key, v) in map.iter_mut() {
                if let Some(l) = like.get(key) {
                    align(v, l);
                }
            }
        }
        (Value::Array(items), Value::Array(like)) => {
            for (v, l) in items.iter_mut().zip(like) {
                align(v, l);
            }
        }
        _ => {}
    }
}

fn is_empty_or_null(value: &Value) -> bool {
    value.is_null() || value.as_object().is_some_and(Map::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::diff::tests::yaml;

    const NOISY: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: team-a
  managedFields:
  - manager: cnvrgctl
    operation: Apply
  resourceVersion: "42"
  uid: 9d7c6b5a-0000-1111-2222-333344445555
  generation: 1
  creationTimestamp: "2024-05-01T10:00:00Z"
  selfLink: /api/v1/namespaces/team-a/configmaps/settings
  deletionGracePeriodSeconds: 30
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"data":{"a":"1"}}'
    deployment.kubernetes.io/revision: "3"
  labels: {}
data:
  a: "1"
status:
  phase: Active
"#;

    #[test]
    fn strips_every_noisy_field() {
        let clean = normalize(&yaml(NOISY));
        assert_eq!(
            clean,
            yaml(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: team-a\ndata:\n  a: \"1\"\n"
            )
        );
    }

    #[test]
    fn keeps_content_and_order() {
        let object = yaml(
            r#"
kind: Service
apiVersion: v1
metadata:
  namespace: team-a
  name: web
  labels:
    z: "1"
    a: "2"
  annotations:
    deployment.kubernetes.io/revision: "1"
    team: ml
  finalizers: [keep]
spec:
  type: ClusterIP
  clusterIP: 10.0.0.7
  ports:
  - port: 80
    protocol: TCP
"#,
        );
        let clean = normalize(&object);
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&clean), ["kind", "apiVersion", "metadata", "spec"]);
        assert_eq!(
            keys(&clean["metadata"]),
            ["namespace", "name", "labels", "annotations", "finalizers"]
        );
        assert_eq!(keys(&clean["metadata"]["labels"]), ["z", "a"]);
        assert_eq!(clean["metadata"]["annotations"], yaml("team: ml"));
        assert_eq!(clean["spec"], object["spec"]);
    }

    #[test]
    fn is_idempotent_and_leaves_the_input_alone() {
        let object = yaml(NOISY);
        let once = normalize(&object);
        assert_eq!(normalize(&once), once);
        assert_eq!(object, yaml(NOISY));
    }
}
