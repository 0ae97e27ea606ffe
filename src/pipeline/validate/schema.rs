//! Custom resources against the CRDs that define them: every custom resource
//! in a render must be served by a CRD of the same render (or belong to a
//! documented prerequisite, such as OpenShift's routes), in a version that CRD
//! serves, and its fields must fit that version's structural schema — types,
//! required fields, enums, and no unknown field unless the schema keeps them
//! (`x-kubernetes-preserve-unknown-fields`). What a real API server with those
//! CRDs would reject under strict validation is rejected here. Pure.

use std::collections::HashMap;

use serde_json::Value;

use crate::pipeline::manifest::Manifest;

/// API groups whose CRDs a cluster must already have, and what provides them.
pub const PREREQUISITES: &[(&str, &str)] = &[
    ("route.openshift.io", "OpenShift (its router serves Routes)"),
    (
        "networking.istio.io",
        "an Istio installation (cnvrgctl installs one unless `infra.istio.enabled: false`)",
    ),
];

/// The CRDs of a render, by (group, kind).
pub struct Crds<'a> {
    by_kind: HashMap<(&'a str, &'a str), &'a Value>,
}

impl<'a> Crds<'a> {
    pub fn of(manifests: &'a [Manifest]) -> Crds<'a> {
        let mut by_kind = HashMap::new();
        for m in manifests {
            if m.kind() == "CustomResourceDefinition" && m.group() == "apiextensions.k8s.io" {
                let spec = &m.object["spec"];
                if let (Some(group), Some(kind)) =
                    (spec["group"].as_str(), spec["names"]["kind"].as_str())
                {
                    by_kind.insert((group, kind), spec);
                }
            }
        }
        Crds { by_kind }
    }

    /// Problems of one custom resource (an object outside the built-in groups).
    pub fn check(&self, m: &Manifest) -> Vec<String> {
        let (group, kind) = (m.group(), m.kind());
        let version = m.api_version().rsplit('/').next().unwrap_or_default();
        let Some(spec) = self.by_kind.get(&(group, kind)) else {
            if PREREQUISITES.iter().any(|(g, _)| *g == group) {
                return Vec::new();
            }
            return vec![format!(
                "no CustomResourceDefinition in this render defines `{kind}` in group `{group}`, and the group is not a documented prerequisite"
            )];
        };
        let versions = spec["versions"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let Some(v) = versions
            .iter()
            .find(|v| v["name"] == version && v["served"] == true)
        else {
            let served: Vec<&str> = versions
                .iter()
                .filter(|v| v["served"] == true)
                .filter_map(|v| v["name"].as_str())
                .collect();
            return vec![format!(
                "the CRD for `{kind}` does not serve version `{version}` (served: {})",
                served.join(", ")
            )];
        };
        let Some(schema) = v.pointer("/schema/openAPIV3Schema") else {
            return Vec::new();
        };
        let mut problems = Vec::new();
        // apiVersion, kind and metadata are the API server's, not the schema's.
        if let Value::Object(fields) = &m.object {
            for (key, value) in fields {
                if matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                match schema["properties"].get(key) {
                    Some(s) => check_value(s, value, key, &mut problems),
                    None if keeps_unknown(schema) => {}
                    None => problems.push(format!("unknown field `{key}`")),
                }
            }
            for key in required(schema) {
                if !fields.contains_key(key) {
                    problems.push(format!("missing required field `{key}`"));
                }
            }
        }
        problems
    }
}

fn keeps_unknown(schema: &Value) -> bool {
    schema["x-kubernetes-preserve-unknown-fields"] == true
}

fn required(schema: &Value) -> impl Iterator<Item = &str> {
    schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Checks `value` at `path` against `schema`, pushing every problem found.
fn check_value(schema: &Value, value: &Value, path: &str, out: &mut Vec<String>) {
    if value.is_null() && schema["nullable"] == true {
        return;
    }
    if schema["x-kubernetes-int-or-string"] == true {
        if !matches!(type_name(value), "integer" | "string") {
            out.push(format!(
                "`{path}`: expected an integer or a string, found {}",
                type_name(value)
            ));
        }
        return;
    }
    if let Some(expected) = schema["type"].as_str() {
        let found = type_name(value);
        let fits = found == expected || (expected == "number" && found == "integer");
        if !fits {
            out.push(format!("`{path}`: expected {expected}, found {found}"));
            return;
        }
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
        out.push(format!(
            "`{path}`: {value} is not one of {}",
            list.join(", ")
        ));
    }
    match value {
        Value::Object(fields) => {
            let props = schema["properties"].as_object();
            for (key, v) in fields {
                let child = format!("{path}.{key}");
                match (
                    props.and_then(|p| p.get(key)),
                    &schema["additionalProperties"],
                ) {
                    (Some(s), _) => check_value(s, v, &child, out),
                    (None, Value::Object(_)) => {
                        check_value(&schema["additionalProperties"], v, &child, out)
                    }
                    (None, Value::Bool(true)) => {}
                    (None, _) if keeps_unknown(schema) => {}
                    (None, _) => out.push(format!("unknown field `{child}`")),
                }
            }
            for key in required(schema) {
                if !fields.contains_key(key) {
                    out.push(format!("`{path}`: missing required field `{key}`"));
                }
            }
        }
        Value::Array(items) if schema["items"].is_object() => {
            for (i, item) in items.iter().enumerate() {
                check_value(&schema["items"], item, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}
