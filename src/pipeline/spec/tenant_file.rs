//! The tenant file `tenant add` writes (`tenants/NAME.yaml`): built from what
//! the command line or the prompts said — type, namespace, agent pools and
//! `--set path=value` overrides — with a header saying where every other
//! value comes from (the cluster's profile). Pure: the command checks the text
//! with the spec loader, which names the file, line and field of any mistake,
//! before anything is written.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::TenantType;

/// A tenant file to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantDraft {
    pub name: String,
    pub kind: TenantType,
    pub namespace: Option<String>,
    /// Workspace agent pools as (name, replicas); none means one `default`
    /// pool sized by the profile.
    pub pools: Vec<(String, Option<u32>)>,
    /// `path=value` overrides of the file's `spec`, applied in order.
    pub sets: Vec<String>,
}

/// Where a tenant's file lives: `tenants/NAME.yaml` beside the cluster file.
pub fn tenant_file_path(cluster_file: &Path, name: &str) -> PathBuf {
    cluster_file
        .parent()
        .unwrap_or(Path::new("."))
        .join("tenants")
        .join(format!("{name}.yaml"))
}

impl TenantDraft {
    /// The file as a document.
    pub fn document(&self) -> Result<Value, String> {
        let mut spec = Map::new();
        spec.insert(
            "type".into(),
            match self.kind {
                TenantType::Cnvrg => "cnvrg",
                TenantType::Workspace => "workspace",
            }
            .into(),
        );
        if let Some(ns) = &self.namespace {
            spec.insert("namespace".into(), ns.clone().into());
        }
        if self.kind == TenantType::Workspace {
            let pools: Vec<Value> = if self.pools.is_empty() {
                vec![json!({"name": "default"})]
            } else {
                self.pools
                    .iter()
                    .map(|(name, replicas)| match replicas {
                        Some(n) => json!({"name": name, "replicas": n}),
                        None => json!({"name": name}),
                    })
                    .collect()
            };
            spec.insert("workspace".into(), json!({ "agentPools": pools }));
        }
        let mut spec = Value::Object(spec);
        for assignment in &self.sets {
            set(&mut spec, assignment)?;
        }
        Ok(json!({
            "apiVersion": "cnvrgctl.io/v1alpha1",
            "kind": "Tenant",
            "metadata": {"name": self.name},
            "spec": spec,
        }))
    }

    /// The file's text: a header, then the document as YAML.
    pub fn text(&self, profile: &str) -> Result<String, String> {
        let document = self.document()?;
        Ok(format!(
            "# Tenant {} ({}), written by `cnvrgctl tenant add`.\n\
             # Every setting not given here comes from the cluster's profile ({profile});\n\
             # `cnvrgctl render --show-spec` prints the effective values.\n{}",
            self.name,
            document["spec"]["type"].as_str().unwrap_or_default(),
            crate::pipeline::yaml::to_string(&document)
        ))
    }
}

/// Applies `path=value` to `spec`: dotted keys with `[i]` indexes
/// (`workspace.agentPools[1].replicas=3`); an index one past the end adds an
/// item. The value is read as a YAML scalar (`3`, `true`, `2Gi`).
fn set(spec: &mut Value, assignment: &str) -> Result<(), String> {
    let bad = |why: &str| format!("--set `{assignment}`: {why}");
    let (path, raw) = assignment
        .split_once('=')
        .ok_or_else(|| bad("expected PATH=VALUE, e.g. workspace.agentPools[0].replicas=3"))?;
    let value: Value = if raw.is_empty() {
        Value::String(String::new())
    } else {
        match crate::pipeline::yaml::from_str::<Value>(raw) {
            Ok(v @ (Value::Bool(_) | Value::Number(_) | Value::String(_))) => v,
            _ => Value::String(raw.to_string()),
        }
    };
    let mut at = spec;
    let steps = steps(path).map_err(|why| bad(&why))?;
    for (i, step) in steps.iter().enumerate() {
        let last = i + 1 == steps.len();
        let next = || {
            if last {
                value.clone()
            } else if matches!(steps[i + 1], Step::Index(_)) {
                Value::Array(Vec::new())
            } else {
                Value::Object(Map::new())
            }
        };
        at = match step {
            Step::Key(key) => {
                let map = at
                    .as_object_mut()
                    .ok_or_else(|| bad(&format!("`{key}` is inside a value that is not a map")))?;
                if last {
                    map.insert(key.clone(), value.clone());
                    return Ok(());
                }
                map.entry(key.clone()).or_insert_with(next)
            }
            Step::Index(index) => {
                let list = at.as_array_mut().ok_or_else(|| {
                    bad(&format!("[{index}] is inside a value that is not a list"))
                })?;
                if *index == list.len() {
                    list.push(next());
                } else if *index > list.len() {
                    return Err(bad(&format!(
                        "[{index}] is past the end of a list of {} item(s)",
                        list.len()
                    )));
                } else if last {
                    list[*index] = value.clone();
                }
                if last {
                    return Ok(());
                }
                &mut list[*index]
            }
        };
    }
    Err(bad("the path is empty"))
}

enum Step {
    Key(String),
    Index(usize),
}

fn steps(path: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
        if key.is_empty() {
            return Err("empty key in the path".into());
        }
        steps.push(Step::Key(key.to_string()));
        while !rest.is_empty() {
            let (index, after) = rest
                .split_once(']')
                .ok_or("unclosed `[` in the path".to_string())?;
            let index = index
                .parse()
                .map_err(|_| format!("`[{index}]` is not a list index"))?;
            steps.push(Step::Index(index));
            rest = after.strip_prefix('[').unwrap_or(after);
            if !after.is_empty() && !after.starts_with('[') {
                return Err(format!("unexpected `{after}` after an index"));
            }
        }
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(kind: TenantType, sets: &[&str]) -> TenantDraft {
        TenantDraft {
            name: "research".into(),
            kind,
            namespace: None,
            pools: Vec::new(),
            sets: sets.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_workspace_gets_a_default_pool_and_sets_apply_in_order() {
        let doc = draft(
            TenantType::Workspace,
            &[
                "workspace.agentPools[0].replicas=3",
                "workspace.agentPools[1].name=gpu",
                "workspace.orion.resources.limits.memory=2Gi",
                "namespace=ml-research",
            ],
        )
        .document()
        .unwrap();
        assert_eq!(
            doc["spec"],
            json!({
                "type": "workspace",
                "namespace": "ml-research",
                "workspace": {
                    "agentPools": [{"name": "default", "replicas": 3}, {"name": "gpu"}],
                    "orion": {"resources": {"limits": {"memory": "2Gi"}}},
                },
            })
        );
        assert_eq!(doc["metadata"]["name"], "research");
    }

    #[test]
    fn values_are_yaml_scalars() {
        let doc = draft(
            TenantType::Cnvrg,
            &["cnvrg.webapp.hpa.enabled=true", "cnvrg.appImage=app:v1"],
        )
        .document()
        .unwrap();
        assert_eq!(doc["spec"]["cnvrg"]["webapp"]["hpa"]["enabled"], true);
        assert_eq!(doc["spec"]["cnvrg"]["appImage"], "app:v1");
        assert!(doc["spec"].get("workspace").is_none());
    }

    #[test]
    fn bad_assignments_say_what_is_wrong() {
        let err = |set: &str| draft(TenantType::Workspace, &[set]).document().unwrap_err();
        assert_eq!(
            err("workspace.agentPools[3].name=x"),
            "--set `workspace.agentPools[3].name=x`: [3] is past the end of a list of 1 item(s)"
        );
        assert!(err("replicas").contains("expected PATH=VALUE"));
        assert!(err("type.x=1").contains("`x` is inside a value that is not a map"));
        assert!(err("workspace.agentPools[x]=1").contains("not a list index"));
        assert!(err("a..b=1").contains("empty key"));
    }

    #[test]
    fn the_text_says_where_the_rest_comes_from() {
        let text = draft(TenantType::Workspace, &[]).text("dev").unwrap();
        assert_eq!(
            text,
            "# Tenant research (workspace), written by `cnvrgctl tenant add`.\n\
             # Every setting not given here comes from the cluster's profile (dev);\n\
             # `cnvrgctl render --show-spec` prints the effective values.\n\
             apiVersion: cnvrgctl.io/v1alpha1\nkind: Tenant\nmetadata:\n  name: research\n\
             spec:\n  type: workspace\n  workspace:\n    agentPools:\n    - name: default\n"
        );
    }
}
