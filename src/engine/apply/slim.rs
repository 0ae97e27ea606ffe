//! What a target keeps once its change is decided. At a thousand tenants a
//! run holds tens of thousands of targets at once, so each keeps only what
//! the executor and `diff` still read: an unchanged object is never written
//! and shows no hunk, so it keeps the identity of its body (for where it is)
//! and no before/after; every live object loses its `managedFields` (read only
//! while deciding, and often the largest part of an object). Pure.

use serde_json::{Map, Value};

use super::observe::Target;
use crate::engine::diff::Op;

impl Target {
    /// The target as the run keeps it (see the module's text).
    pub(super) fn slim(mut self) -> Target {
        // Adoption reads the whole live object (its owners and managers).
        if self.adopted {
            return self;
        }
        if let Some(live) = self.live.as_mut() {
            without_managed_fields(live);
        }
        if self.change.op == Op::Unchanged {
            self.body = identity(&self.body);
            self.change.before = None;
            self.change.after = None;
        }
        self
    }
}

fn without_managed_fields(object: &mut Value) {
    if let Some(meta) = object["metadata"].as_object_mut() {
        meta.remove("managedFields");
    }
}

/// `apiVersion`, `kind` and the name and namespace of `object`.
fn identity(object: &Value) -> Value {
    let mut meta = Map::new();
    for key in ["name", "namespace"] {
        if let Some(v) = object["metadata"].get(key) {
            meta.insert(key.into(), v.clone());
        }
    }
    let mut out = Map::new();
    for key in ["apiVersion", "kind"] {
        if let Some(v) = object.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    out.insert("metadata".into(), Value::Object(meta));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::engine::diff;
    use crate::pipeline::manifest::Scope;

    fn target(live: Value, body: Value) -> Target {
        Target {
            index: 0,
            resource: None,
            change: diff::compare(&Scope::Infra, Some(&live), &body),
            body,
            live: Some(live),
            external: false,
            refresh: false,
            refused: None,
            adopted: false,
        }
    }

    #[test]
    fn an_unchanged_target_keeps_its_identity_and_a_live_copy_without_managed_fields() {
        let body = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "ws", "labels": {"a": "b"}}, "data": {"k": "v"}});
        let mut live = body.clone();
        live["metadata"]["managedFields"] = json!([{"manager": "cnvrgctl"}]);
        let t = target(live, body).slim();
        assert_eq!(t.change.op, Op::Unchanged);
        assert_eq!(
            t.body,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ws"}})
        );
        assert!(t.change.before.is_none() && t.change.after.is_none());
        let live = t.live.expect("live kept");
        assert_eq!(live["data"]["k"], "v");
        assert!(live["metadata"].get("managedFields").is_none());
        assert_eq!(t.change.id(), "ConfigMap/ws/c");
    }

    #[test]
    fn a_changed_target_keeps_its_body_and_its_diff() {
        let body = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "ws"}, "data": {"k": "new"}});
        let mut live = body.clone();
        live["data"]["k"] = json!("old");
        let t = target(live, body.clone()).slim();
        assert_eq!(t.change.op, Op::Update);
        assert_eq!(t.body, body);
        assert!(t.change.before.is_some() && t.change.after.is_some());
    }
}
