//! A live member as a run holds it between the list that found it and the
//! decision about its object: its JSON text (with only the managers of its
//! `managedFields`, [`managers_only`]), a fraction of its size as a JSON
//! value, and what the sweep and the lookup read of it (its set id, its
//! namespace and name). At a thousand tenants the scopes' live members are
//! most of what a run would hold at once; held as text, each is a value
//! again only while its object is decided. Pure.

use serde_json::Value;

use super::slim::managers_only;
use crate::engine::inventory::PART_OF_LABEL;

/// One live member, held as text.
#[derive(Debug)]
pub struct Held {
    /// The set id its `applyset.kubernetes.io/part-of` label names.
    pub part_of: Option<String>,
    pub namespace: Option<String>,
    pub name: String,
    text: Box<str>,
}

impl Held {
    /// `object` as read, thinned and held as text.
    pub fn new(object: Value) -> Held {
        let object = managers_only(object);
        let meta = &object["metadata"];
        let text = |v: &Value| v.as_str().map(str::to_string);
        Held {
            part_of: text(&meta["labels"][PART_OF_LABEL]),
            namespace: text(&meta["namespace"]),
            name: text(&meta["name"]).unwrap_or_default(),
            text: serde_json::to_string(&object)
                .expect("a JSON value serializes")
                .into_boxed_str(),
        }
    }

    /// The object again, as it was read (less the fields each manager owns).
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.text).expect("JSON it wrote parses")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_member_comes_back_as_read_less_what_each_manager_owns() {
        let object = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "team-a",
                         "labels": {PART_OF_LABEL: "applyset-abc-v1"},
                         "managedFields": [{"manager": "cnvrgctl", "operation": "Apply",
                                            "fieldsV1": {"f:spec": {}}}]},
            "spec": {"replicas": 2, "ratio": 0.25, "big": 18446744073709551615u64,
                     "z": 1, "a": [true, null, "x"]},
            "status": {"readyReplicas": 2}});
        let held = Held::new(object.clone());
        assert_eq!(held.part_of.as_deref(), Some("applyset-abc-v1"));
        assert_eq!(held.namespace.as_deref(), Some("team-a"));
        assert_eq!(held.name, "web");
        let back = held.value();
        assert_eq!(back, managers_only(object));
        // Keys keep their order (the diff shows them as read).
        let keys: Vec<&String> = back["spec"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["replicas", "ratio", "big", "z", "a"]);
    }
}
