//! Ownership drift as data: which other field managers own fields an apply
//! would change, read from the causes of the server's 409 (one per field,
//! worded as the API server's `printManager` does: `conflict with "kubectl"
//! with subresource "scale" using apps/v1`). Pure: the executor hands over
//! the causes, the summary table and `-o json` show the result.

use serde::Serialize;

/// One other manager and the fields of ours it took over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    /// The field manager's name (`kubectl`, `helm`, `kube-controller-manager`).
    pub manager: String,
    /// The subresource it wrote through (`scale`, `status`), if any.
    pub subresource: Option<String>,
    /// `Apply` (server-side apply) or `Update` (any other write).
    pub operation: &'static str,
    /// Field paths as the server prints them (`.spec.replicas`).
    pub fields: Vec<String>,
}

impl Conflict {
    /// `kubectl (scale)`, or `helm`: the manager as the table shows it.
    pub fn who(&self) -> String {
        match &self.subresource {
            Some(sub) => format!("{} ({sub})", self.manager),
            None => self.manager.clone(),
        }
    }
}

/// The conflicts of a 409's causes (`(field, message)` pairs), one per
/// manager in the order first named, each with its fields.
pub fn conflicts<'a>(causes: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<Conflict> {
    let mut found: Vec<Conflict> = Vec::new();
    for (field, message) in causes {
        let named = parse(message);
        match found.iter_mut().find(|c| {
            (&c.manager, &c.subresource, c.operation)
                == (&named.manager, &named.subresource, named.operation)
        }) {
            Some(c) => c.fields.push(field.to_string()),
            None => found.push(Conflict {
                fields: vec![field.to_string()],
                ..named
            }),
        }
    }
    found
}

/// The cells of the table's managers column: `kubectl (scale): .spec.replicas`.
pub fn managers_cell(conflicts: &[Conflict]) -> String {
    conflicts
        .iter()
        .map(|c| format!("{}: {}", c.who(), c.fields.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A cause's message: `conflict with "NAME"`, then optionally
/// ` with subresource "SUB"`, then ` using API_VERSION[ at TIME]` for an
/// `Update` manager. Anything else is kept whole as the manager's name.
fn parse(message: &str) -> Conflict {
    let whole = || Conflict {
        manager: message.to_string(),
        subresource: None,
        operation: "Update",
        fields: Vec::new(),
    };
    let Some((manager, rest)) = message.strip_prefix("conflict with ").and_then(quoted) else {
        return whole();
    };
    let (subresource, rest) = match rest.strip_prefix(" with subresource ").and_then(quoted) {
        Some((sub, rest)) => (Some(sub), rest),
        None => (None, rest),
    };
    Conflict {
        manager,
        subresource,
        operation: if rest.starts_with(" using ") {
            "Update"
        } else {
            "Apply"
        },
        fields: Vec::new(),
    }
}

/// A Go `%q` string at the start of `text` (JSON escapes suffice for the
/// names managers have), and what follows it.
fn quoted(text: &str) -> Option<(String, &str)> {
    if !text.starts_with('"') {
        return None;
    }
    let mut escaped = false;
    let end = text.char_indices().skip(1).find_map(|(i, c)| {
        let closes = c == '"' && !escaped;
        escaped = c == '\\' && !escaped;
        closes.then_some(i)
    })?;
    let name = serde_json::from_str(&text[..=end]).ok()?;
    Some((name, &text[end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_group_by_manager_as_the_server_words_them() {
        let found = conflicts([
            (
                ".spec.replicas",
                r#"conflict with "kubectl" with subresource "scale" using apps/v1"#,
            ),
            (".metadata.labels.team", r#"conflict with "helm""#),
            (
                ".spec.paused",
                r#"conflict with "kubectl" with subresource "scale" using apps/v1 at 2026-12-03T09:00:00Z"#,
            ),
            (".data.x", "something else entirely"),
        ]);
        assert_eq!(
            found,
            [
                Conflict {
                    manager: "kubectl".into(),
                    subresource: Some("scale".into()),
                    operation: "Update",
                    fields: vec![".spec.replicas".into(), ".spec.paused".into()],
                },
                Conflict {
                    manager: "helm".into(),
                    subresource: None,
                    operation: "Apply",
                    fields: vec![".metadata.labels.team".into()],
                },
                Conflict {
                    manager: "something else entirely".into(),
                    subresource: None,
                    operation: "Update",
                    fields: vec![".data.x".into()],
                },
            ]
        );
        assert_eq!(
            managers_cell(&found[..2]),
            "kubectl (scale): .spec.replicas, .spec.paused; helm: .metadata.labels.team"
        );
    }

    #[test]
    fn quoted_names_may_hold_escapes() {
        assert_eq!(
            quoted(r#""a \"b\"" using v1"#),
            Some((r#"a "b""#.to_string(), " using v1"))
        );
        assert_eq!(quoted("no quotes"), None);
    }
}
