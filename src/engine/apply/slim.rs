//! What a target keeps once its change is decided. At a thousand tenants a
//! run holds tens of thousands of targets at once, so each keeps only what
//! the executor and `diff` still read: an unchanged object is never written
//! and shows no hunk, so it keeps the identity of its body (for where it is)
//! and no before/after; every live object is kept as the readiness rules
//! read it ([`readiness::view`]: no `managedFields`, pod templates or data;
//! the rest was read only while deciding). Before that, every object read in
//! bulk keeps only the managers of its `managedFields` ([`managers_only`]).
//! Pure.

use serde_json::{Map, Value};

use super::observe::Target;
use crate::engine::diff::Op;
use crate::engine::readiness;

impl Target {
    /// The target as the run keeps it (see the module's text).
    pub(super) fn slim(mut self) -> Target {
        // Adoption reads the whole live object (its owners and managers).
        if self.adopted {
            return self;
        }
        self.live = self.live.map(readiness::view);
        if self.change.op == Op::Unchanged {
            self.body = identity(&self.body);
            self.change.before = None;
            self.change.after = None;
        }
        self
    }
}

/// What cnvrgctl reads of `managedFields` is who manages an object (its
/// ownership and adoption checks); the fields each manager owns (`fieldsV1`,
/// about half of a live object) are dropped as the object is read, so a run
/// never holds them for every object it lists at once.
pub fn managers_only(mut object: Value) -> Value {
    if let Some(Value::Array(entries)) = object
        .get_mut("metadata")
        .and_then(|meta| meta.get_mut("managedFields"))
    {
        for entry in entries.iter_mut().filter_map(Value::as_object_mut) {
            entry.retain(|key, _| MANAGED_FIELDS_KEPT.contains(&key.as_str()));
        }
    }
    object
}

/// The keys of a `managedFields` entry an object read in bulk keeps.
const MANAGED_FIELDS_KEPT: &[&str] = &["manager", "operation"];

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
    fn an_unchanged_target_keeps_its_identity_and_the_readiness_view_of_its_live_copy() {
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
        assert!(live.get("data").is_none());
        assert_eq!(live["metadata"]["labels"]["a"], "b");
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

    #[test]
    fn an_object_read_in_bulk_keeps_who_manages_it_and_not_the_fields_each_owns() {
        let live = json!({"metadata": {"name": "x", "managedFields": [
            {"manager": "cnvrgctl", "operation": "Apply", "time": "t", "fieldsV1": {"f:data": {}}},
            {"manager": "kubectl", "operation": "Update", "fieldsV1": {"f:spec": {}}}]},
            "data": {"k": "v"}});
        assert_eq!(
            managers_only(live),
            json!({"metadata": {"name": "x", "managedFields": [
                {"manager": "cnvrgctl", "operation": "Apply"},
                {"manager": "kubectl", "operation": "Update"}]},
                "data": {"k": "v"}})
        );
    }

    /// One workspace tenant and the infra, as the engine bench renders them.
    const SPEC: &str = "apiVersion: cnvrgctl.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: bench\nspec:\n  profile: dev\n  ingress: {type: nodeport}\n  infra:\n    monitoring: {enabled: true}\n    logging: {enabled: true}\n  tenants:\n    - name: ws-0\n      type: workspace\n      workspace:\n        agentPools:\n          - name: default\n            replicas: 2\n          - name: gpu\n";

    fn size(v: &Value) -> usize {
        serde_json::to_vec(v).expect("JSON serializes").len()
    }

    /// What a no-change run holds per object, guarded without timing: the
    /// decided targets of a render, each read live as the server keeps it
    /// (the body, the fields its manager owns, a status), keep a small part
    /// of what was read.
    #[test]
    fn unchanged_targets_keep_a_small_part_of_what_was_read() {
        use crate::pipeline::render::{SecretInputs, Templates, render};
        let path = std::path::Path::new("cluster.yaml");
        let spec = crate::pipeline::spec::load_from(path, SPEC.into(), vec![]).expect("loads");
        let manifests =
            render(&spec, &Templates::built_in(), &SecretInputs::default()).expect("renders");
        let (mut read, mut kept) = (0, 0);
        for m in &manifests {
            let mut live = m.object.clone();
            live["metadata"]["managedFields"] =
                json!([{"manager": "cnvrgctl", "operation": "Apply", "fieldsV1": m.object}]);
            live["status"] = json!({"observedGeneration": 1});
            read += size(&live);
            let t = target(live.clone(), live).slim();
            assert_eq!(t.change.op, Op::Unchanged);
            kept += size(&t.body) + t.live.as_ref().map_or(0, size);
        }
        assert!(
            kept * 4 < read,
            "{} objects: {kept} bytes kept of {read} read",
            manifests.len()
        );
    }
}
