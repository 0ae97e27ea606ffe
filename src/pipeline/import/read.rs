//! The operators' resources as read: from multi-document YAML files (kept
//! with the line each document and field starts on) or from objects the
//! cluster returned. Only the three kinds `import` maps are accepted; anything
//! else is a problem naming the document and, where a kind is misspelt, the
//! nearest one.

use std::path::Path;

use serde_json::Value;

use super::error::{Origin, Problem};
use crate::pipeline::spec::did_you_mean;
use crate::pipeline::yaml::Positions;

/// The custom resources `import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The cnvrg operator's cluster-wide settings (cluster-scoped).
    CnvrgInfra,
    /// One cnvrg control plane.
    CnvrgApp,
    /// One Cartographer workspace.
    Workspace,
}

/// Each kind with its apiVersion and name: what `--from-cluster` lists and
/// what a document must say.
pub const KINDS: [(Kind, &str, &str); 3] = [
    (Kind::CnvrgInfra, "mlops.cnvrg.io/v1", "CnvrgInfra"),
    (Kind::CnvrgApp, "mlops.cnvrg.io/v1", "CnvrgApp"),
    (Kind::Workspace, "mlops.aigency.com/v1alpha1", "Workspace"),
];

impl Kind {
    pub fn as_str(self) -> &'static str {
        KINDS.iter().find(|k| k.0 == self).expect("listed").2
    }
}

/// One custom resource.
#[derive(Debug)]
pub struct Resource {
    pub kind: Kind,
    pub name: String,
    pub namespace: Option<String>,
    /// `spec`, or an empty mapping when the resource has none.
    pub spec: Value,
    pub origin: Origin,
    /// Field positions of the document it came from (files only), the
    /// line offset of that document and the path of the resource inside it
    /// (`items[2].` in a `List`).
    positions: Option<(Positions, usize, String)>,
}

impl Resource {
    /// `Kind/namespace/name`, or `Kind/name` for a cluster-scoped one.
    pub fn id(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{ns}/{}", self.kind.as_str(), self.name),
            None => format!("{}/{}", self.kind.as_str(), self.name),
        }
    }

    /// A problem with `field` (a dotted path from the resource's root, like
    /// `spec.clusterDomain`), at the field's line when the file says.
    pub fn problem(&self, field: &str, message: String, help: Option<String>) -> Problem {
        let origin = match (&self.origin, &self.positions) {
            (Origin::File { path, line }, Some((positions, offset, prefix))) => Origin::File {
                path: path.clone(),
                line: positions
                    .find(&format!("{prefix}{field}"))
                    .map_or(*line, |p| p.line + offset - 1),
            },
            (origin, _) => origin.clone(),
        };
        Problem {
            origin,
            resource: Some(self.id()),
            field: Some(field.to_string()),
            message,
            help,
        }
    }
}

/// Every resource in the YAML `text` of `path`, or every problem found.
pub fn from_text(path: &Path, text: &str) -> Result<Vec<Resource>, Vec<Problem>> {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for (start, doc) in documents(text) {
        let origin = Origin::File {
            path: path.to_path_buf(),
            line: start,
        };
        let values = match crate::pipeline::yaml::documents(&doc) {
            Ok(values) => values,
            Err(e) => {
                let line = e.pos.map_or(start, |p| p.line + start - 1);
                problems.push(Problem {
                    origin: Origin::File {
                        path: path.to_path_buf(),
                        line,
                    },
                    resource: None,
                    field: None,
                    message: format!("not YAML: {}", e.message),
                    help: None,
                });
                continue;
            }
        };
        let Some(value) = values.into_iter().next() else {
            continue;
        };
        let items = match value["kind"].as_str() {
            Some("List") => value["items"].as_array().cloned().unwrap_or_default(),
            _ => vec![value],
        };
        let listed = items.len() > 1 || doc_is_list(&doc);
        for (i, item) in items.into_iter().enumerate() {
            let prefix = if listed {
                format!("items[{i}].")
            } else {
                String::new()
            };
            let positions = Positions::index(&doc);
            match from_object(item, origin.clone()) {
                Ok(mut r) => {
                    r.positions = Some((positions, start, prefix));
                    found.push(r);
                }
                Err(mut p) => {
                    // At the field's own line.
                    let at = p
                        .field
                        .as_ref()
                        .and_then(|f| positions.find(&format!("{prefix}{f}")));
                    if let (Some(pos), Origin::File { line, .. }) = (at, &mut p.origin) {
                        *line = pos.line + start - 1;
                    }
                    problems.push(p);
                }
            }
        }
    }
    match problems.is_empty() {
        true => Ok(found),
        false => Err(problems),
    }
}

fn doc_is_list(doc: &str) -> bool {
    doc.lines().any(|l| l.trim_end() == "kind: List")
}

/// The documents of a multi-document text, each with the line it starts on.
fn documents(text: &str) -> Vec<(usize, String)> {
    let mut docs = vec![(1, String::new())];
    for (i, line) in text.lines().enumerate() {
        if line == "---" || line.starts_with("--- ") {
            docs.push((i + 2, String::new()));
            continue;
        }
        let doc = &mut docs.last_mut().expect("one at least").1;
        doc.push_str(line);
        doc.push('\n');
    }
    docs
}

/// The resource an object is, when it is one of [`KINDS`].
pub fn from_object(object: Value, origin: Origin) -> Result<Resource, Problem> {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let kind = object["kind"].as_str().unwrap_or_default();
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let problem = |field: &str, message: String, help: Option<String>| Problem {
        origin: origin.clone(),
        resource: Some(format!("{kind}/{name}")),
        field: Some(field.into()),
        message,
        help,
    };
    let Some((k, expected, _)) = KINDS.iter().find(|(_, _, k)| *k == kind) else {
        let names: Vec<&str> = KINDS.iter().map(|k| k.2).collect();
        let help = match did_you_mean(kind, &names) {
            Some(near) => format!("did you mean `{near}`?"),
            None => "import reads CnvrgInfra and CnvrgApp (mlops.cnvrg.io/v1) and Workspace (mlops.aigency.com/v1alpha1); leave other objects out".into(),
        };
        return Err(problem(
            "kind",
            format!("`{kind}` ({api_version}) is not a resource import reads"),
            Some(help),
        ));
    };
    if api_version != *expected {
        return Err(problem(
            "apiVersion",
            format!("unknown apiVersion `{api_version}` for {kind}"),
            Some(format!("import reads {kind} in `{expected}`")),
        ));
    }
    if name.is_empty() {
        return Err(problem("metadata.name", "missing".into(), None));
    }
    let namespace = match k {
        Kind::CnvrgInfra => None,
        _ => Some(
            object["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_string(),
        ),
    };
    let spec = match &object["spec"] {
        Value::Null => Value::Object(Default::default()),
        spec => spec.clone(),
    };
    Ok(Resource {
        kind: *k,
        name: name.to_string(),
        namespace,
        spec,
        origin,
        positions: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_keep_their_lines_and_misspelt_kinds_get_a_suggestion() {
        let text = "apiVersion: mlops.cnvrg.io/v1\nkind: CnvrgInfra\nmetadata: {name: a}\n---\napiVersion: mlops.cnvrg.io/v1\nkind: CnvrgAp\nmetadata: {name: b}\n";
        let problems = from_text(Path::new("in.yaml"), text).unwrap_err();
        assert_eq!(
            problems[0].to_string(),
            "in.yaml:6: CnvrgAp/b: kind: `CnvrgAp` (mlops.cnvrg.io/v1) is not a resource import reads\n  help: did you mean `CnvrgApp`?"
        );
        let ok = from_text(
            Path::new("in.yaml"),
            &text.replace("CnvrgAp\n", "CnvrgApp\n"),
        )
        .unwrap();
        assert_eq!(ok[1].id(), "CnvrgApp/default/b");
        let p = ok[1].problem("metadata.name", "x".into(), None);
        assert_eq!(p.origin.to_string(), "in.yaml:7");
    }
}
