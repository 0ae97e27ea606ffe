//! What the readiness rules read of a live object, and nothing more: its
//! kind, its metadata (without `managedFields`), its status and the scalar
//! fields of its spec (plus the few spec objects a rule reads, a table). A
//! run holds the live copy of every object until it is waited on; at a
//! thousand tenants these copies were most of its memory (pod templates,
//! ConfigMap data, CRD schemas), and readiness never looks at them. Pure.
//! [`super::readiness`] checks in debug builds that an object and its view
//! are judged alike.

use serde_json::{Map, Value};

/// Top-level fields kept whole.
const KEPT: &[&str] = &["apiVersion", "kind", "metadata", "status"];

/// Fields of `spec` that are objects and that a rule reads, or that finds
/// a workload's pods (the scalar fields are always kept).
const SPEC_OBJECTS: &[&str] = &["updateStrategy", "selector"];

/// `object` as the readiness rules need it (see the module's text).
pub fn view(object: Value) -> Value {
    let Value::Object(mut map) = object else {
        return object;
    };
    let spec = map.remove("spec");
    map.retain(|key, _| KEPT.contains(&key.as_str()));
    if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    if let Some(Value::Object(spec)) = spec {
        let kept: Map<String, Value> = spec
            .into_iter()
            .filter(|(key, value)| {
                !(value.is_object() || value.is_array()) || SPEC_OBJECTS.contains(&key.as_str())
            })
            .collect();
        map.insert("spec".into(), Value::Object(kept));
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::readiness::{Facts, fixture, readiness};

    #[test]
    fn the_view_keeps_what_rules_read_and_drops_templates_and_data() {
        let object = fixture(
            "
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
  generation: 2
  managedFields: [{manager: cnvrgctl, fieldsV1: {f:spec: {}}}]
spec:
  replicas: 3
  updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: 1}}
  selector: {matchLabels: {app: db}}
  template: {spec: {containers: [{name: db, image: postgres:16}]}}
data: {big: value}
status: {observedGeneration: 2, replicas: 3, readyReplicas: 3, updatedReplicas: 2,
  currentRevision: a, updateRevision: b}
",
        );
        let view = view(object.clone());
        assert_eq!(
            view,
            fixture(
                "
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, generation: 2}
status: {observedGeneration: 2, replicas: 3, readyReplicas: 3, updatedReplicas: 2,
  currentRevision: a, updateRevision: b}
spec:
  replicas: 3
  updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: 1}}
  selector: {matchLabels: {app: db}}
"
            )
        );
        assert_eq!(
            readiness(&view, &Facts::default()),
            readiness(&object, &Facts::default())
        );
    }

    #[test]
    fn anything_but_an_object_is_its_own_view() {
        assert_eq!(view(Value::Null), Value::Null);
    }
}
