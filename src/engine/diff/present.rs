//! Presentation of changes, still pure: a summary table and unified hunks as
//! lines tagged with a [`Tone`], which `src/ui/` turns into colours (or
//! [`to_plain_text`] into plain text). Nothing here touches the terminal or
//! masks anything: mask the changes first. Same changes in, same lines out.

use similar::{ChangeTag, TextDiff};

use super::{Change, Op};

/// Lines of context around each hunk unless the user asks otherwise.
pub const DEFAULT_CONTEXT: usize = 3;

/// What a line is, for colouring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tone {
    Plain,
    /// Table heading, `---`/`+++` file lines and `@@` hunk lines.
    Header,
    /// A line only in the desired object; a row for an object to create.
    Added,
    /// A line only in the live object; a row for an object to prune.
    Removed,
    /// A hunk line the same on both sides.
    Context,
    /// Remarks such as `\ No newline at end of file`.
    Dim,
}

/// One output line, without its line break.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub tone: Tone,
    pub text: String,
}

impl Line {
    fn new(tone: Tone, text: impl Into<String>) -> Line {
        Line {
            tone,
            text: text.into(),
        }
    }
}

/// Column headings of the summary table; the last, the other field
/// managers of a conflict, only when there is one.
const COLUMNS: [&str; 6] = ["SCOPE", "KIND", "NAMESPACE", "NAME", "OP", "MANAGERS"];

/// Spaces between columns.
const GAP: usize = 2;

/// The summary: a table of the changes that do something, in the order given,
/// with columns aligned (no heading when there is none), then the counts line
/// `N to create, N to update, N to replace, N to prune, N unchanged` (and
/// `, N in conflict` when some are). Cluster-scoped objects show `-` as their
/// namespace; a conflict shows who owns which fields
/// (`kubectl (scale): .spec.replicas`) in a last column.
pub fn summary(changes: &[Change]) -> Vec<Line> {
    let any_conflict = changes.iter().any(|c| c.op == Op::Conflict);
    let columns = if any_conflict { 6 } else { 5 };
    let rows: Vec<(Tone, Vec<String>)> = changes
        .iter()
        .filter(|c| c.op != Op::Unchanged)
        .map(|c| {
            let tone = match c.op {
                Op::Create => Tone::Added,
                Op::Delete => Tone::Removed,
                _ => Tone::Plain,
            };
            let mut cells = vec![
                c.scope.to_string(),
                c.kind.clone(),
                c.namespace.clone().unwrap_or_else(|| "-".into()),
                c.name.clone(),
                c.op.to_string(),
                super::conflict::managers_cell(&c.conflicts),
            ];
            cells.truncate(columns);
            (tone, cells)
        })
        .collect();

    let mut lines = Vec::new();
    if !rows.is_empty() {
        let mut widths: Vec<usize> = COLUMNS[..columns].iter().map(|c| c.len()).collect();
        for (_, cells) in &rows {
            for (width, cell) in widths.iter_mut().zip(cells) {
                *width = (*width).max(cell.chars().count());
            }
        }
        lines.push(Line::new(
            Tone::Header,
            table_row(&COLUMNS[..columns], &widths),
        ));
        for (tone, cells) in &rows {
            lines.push(Line::new(*tone, table_row(cells, &widths)));
        }
    }

    let count = |op: Op| changes.iter().filter(|c| c.op == op).count();
    let mut counts = format!(
        "{} to create, {} to update, {} to replace, {} to prune, {} unchanged",
        count(Op::Create),
        count(Op::Update),
        count(Op::Replace),
        count(Op::Delete),
        count(Op::Unchanged),
    );
    if any_conflict {
        counts.push_str(&format!(", {} in conflict", count(Op::Conflict)));
    }
    lines.push(Line::new(Tone::Plain, counts));
    lines
}

/// Cells padded to their column's width; the last one is not padded, nor an
/// empty last cell.
fn table_row<S: AsRef<str>>(cells: &[S], widths: &[usize]) -> String {
    let mut row = String::new();
    for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
        let cell = cell.as_ref();
        row.push_str(cell);
        if i + 1 < cells.len() {
            let pad = width - cell.chars().count() + GAP;
            row.extend(std::iter::repeat_n(' ', pad));
        }
    }
    row.truncate(row.trim_end().len());
    row
}

/// The change as a unified diff of the YAML of `before` and `after`, with
/// `context` lines around each hunk: `--- live/ID` and `+++ desired/ID`, then
/// `@@` hunks. A create shows the whole object added, a prune the whole object
/// removed; an unchanged object (or one whose YAML is the same) shows nothing.
/// A conflict's `+++` line says the change is what `--force-conflicts` does.
pub fn hunks(change: &Change, context: usize) -> Vec<Line> {
    if change.op == Op::Unchanged {
        return Vec::new();
    }
    // cnvrgctl's own bookkeeping changes with every edit: not worth a line.
    let yaml = |side: &Option<serde_json::Value>| {
        side.as_ref()
            .map(|object| {
                let mut object = object.clone();
                if let Some(a) = object
                    .pointer_mut("/metadata/annotations")
                    .and_then(serde_json::Value::as_object_mut)
                {
                    a.remove(crate::pipeline::manifest::keys::APPLIED_HASH);
                    if a.is_empty() {
                        object["metadata"]
                            .as_object_mut()
                            .map(|m| m.remove("annotations"));
                    }
                }
                crate::pipeline::yaml::to_string(&object)
            })
            .unwrap_or_default()
    };
    let (before, after) = (yaml(&change.before), yaml(&change.after));
    if before == after {
        return Vec::new();
    }

    let id = change.id();
    let mut lines = vec![
        Line::new(Tone::Header, format!("--- live/{id}")),
        Line::new(
            Tone::Header,
            match change.op {
                Op::Conflict => format!("+++ desired/{id} (--force-conflicts)"),
                _ => format!("+++ desired/{id}"),
            },
        ),
    ];
    let diff = TextDiff::from_lines(before.as_str(), after.as_str());
    for hunk in diff.unified_diff().context_radius(context).iter_hunks() {
        lines.push(Line::new(Tone::Header, hunk.header().to_string()));
        for line in hunk.iter_changes() {
            let tone = match line.tag() {
                ChangeTag::Equal => Tone::Context,
                ChangeTag::Delete => Tone::Removed,
                ChangeTag::Insert => Tone::Added,
            };
            let text = line.value();
            let text = text.strip_suffix('\n').unwrap_or(text);
            lines.push(Line::new(tone, format!("{}{text}", line.tag())));
            if line.missing_newline() {
                lines.push(Line::new(Tone::Dim, "\\ No newline at end of file"));
            }
        }
    }
    lines
}

/// The lines as text, each ending with a line break.
pub fn to_plain_text(lines: &[Line]) -> String {
    let mut text = String::new();
    for line in lines {
        text.push_str(&line.text);
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::diff::tests::{tenant, yaml};
    use crate::engine::diff::{compare, prune};
    use crate::pipeline::manifest::Scope;

    const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: team-a
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    spec:
      containers:
      - name: web
        image: web:1
"#;

    fn replica_change() -> Change {
        let desired = yaml(&DEPLOYMENT.replace("replicas: 1", "replicas: 3"));
        compare(&tenant(), Some(&yaml(DEPLOYMENT)), &desired)
    }

    fn texts(lines: &[Line], tone: Tone) -> Vec<&str> {
        lines
            .iter()
            .filter(|l| l.tone == tone)
            .map(|l| l.text.as_str())
            .collect()
    }

    #[test]
    fn replica_change_is_one_line_each_way() {
        let lines = hunks(&replica_change(), 3);
        assert_eq!(texts(&lines, Tone::Removed), ["-  replicas: 1"]);
        assert_eq!(texts(&lines, Tone::Added), ["+  replicas: 3"]);
        assert_eq!(
            to_plain_text(&lines),
            "\
--- live/Deployment/team-a/web
+++ desired/Deployment/team-a/web
@@ -4,7 +4,7 @@
   name: web
   namespace: team-a
 spec:
-  replicas: 1
+  replicas: 3
   selector:
     matchLabels:
       app: web
"
        );
        assert_eq!(
            texts(&lines, Tone::Header),
            [
                "--- live/Deployment/team-a/web",
                "+++ desired/Deployment/team-a/web",
                "@@ -4,7 +4,7 @@"
            ]
        );
    }

    #[test]
    fn context_radius_is_honoured() {
        let text = to_plain_text(&hunks(&replica_change(), 0));
        assert!(
            text.ends_with("@@ -7 +7 @@\n-  replicas: 1\n+  replicas: 3\n"),
            "{text}"
        );
        let text = to_plain_text(&hunks(&replica_change(), 1));
        assert!(
            text.ends_with(
                "@@ -6,3 +6,3 @@\n spec:\n-  replicas: 1\n+  replicas: 3\n   selector:\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn create_shows_the_whole_object_added() {
        let change = compare(&tenant(), None, &yaml(DEPLOYMENT));
        let lines = hunks(&change, 3);
        let body = &lines[3..];
        assert_eq!(lines[2].text, format!("@@ -0,0 +1,{} @@", body.len()));
        assert!(
            body.iter()
                .all(|l| l.tone == Tone::Added && l.text.starts_with('+'))
        );
        assert_eq!(body[0].text, "+apiVersion: apps/v1");
        assert_eq!(body.last().unwrap().text, "+        image: web:1");
    }

    #[test]
    fn delete_shows_the_whole_object_removed() {
        let change = prune(&tenant(), &yaml(DEPLOYMENT));
        let lines = hunks(&change, 3);
        let body = &lines[3..];
        assert_eq!(lines[0].text, "--- live/Deployment/team-a/web");
        assert_eq!(lines[2].text, format!("@@ -1,{} +0,0 @@", body.len()));
        assert!(
            body.iter()
                .all(|l| l.tone == Tone::Removed && l.text.starts_with('-'))
        );
    }

    #[test]
    fn unchanged_shows_nothing() {
        let change = compare(&tenant(), Some(&yaml(DEPLOYMENT)), &yaml(DEPLOYMENT));
        assert_eq!(change.op, Op::Unchanged);
        assert!(hunks(&change, 3).is_empty());
    }

    #[test]
    fn summary_aligns_columns_and_counts() {
        let namespace = yaml("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n");
        let changes = vec![
            compare(&Scope::Infra, None, &namespace),
            replica_change(),
            compare(&tenant(), Some(&yaml(DEPLOYMENT)), &yaml(DEPLOYMENT)),
            replica_change().with_op(Op::Replace),
            prune(
                &tenant(),
                &yaml(&DEPLOYMENT.replace("name: web", "name: old-api")),
            ),
        ];
        let lines = summary(&changes);
        assert_eq!(
            to_plain_text(&lines),
            "\
SCOPE          KIND        NAMESPACE  NAME     OP
infra          Namespace   -          team-a   create
tenant.team-a  Deployment  team-a     web      update
tenant.team-a  Deployment  team-a     web      replace
tenant.team-a  Deployment  team-a     old-api  delete
1 to create, 1 to update, 1 to replace, 1 to prune, 1 unchanged
"
        );
        let tones: Vec<Tone> = lines.iter().map(|l| l.tone).collect();
        assert_eq!(
            tones,
            [
                Tone::Header,
                Tone::Added,
                Tone::Plain,
                Tone::Plain,
                Tone::Removed,
                Tone::Plain
            ]
        );
        assert_eq!(summary(&changes), lines, "same input, same output");
    }

    #[test]
    fn a_conflict_row_names_the_managers_and_its_hunk_the_forced_apply() {
        let conflict = crate::engine::diff::conflicts([(
            ".spec.replicas",
            r#"conflict with "kubectl" with subresource "scale" using apps/v1"#,
        )]);
        let drifted = yaml(&DEPLOYMENT.replace("replicas: 1", "replicas: 3"));
        let change = compare(&tenant(), Some(&drifted), &yaml(DEPLOYMENT)).in_conflict(conflict);
        let unchanged = compare(&tenant(), Some(&yaml(DEPLOYMENT)), &yaml(DEPLOYMENT));
        assert_eq!(
            to_plain_text(&summary(&[change.clone(), replica_change(), unchanged])),
            "\
SCOPE          KIND        NAMESPACE  NAME  OP        MANAGERS
tenant.team-a  Deployment  team-a     web   conflict  kubectl (scale): .spec.replicas
tenant.team-a  Deployment  team-a     web   update
0 to create, 1 to update, 0 to replace, 0 to prune, 1 unchanged, 1 in conflict
"
        );
        let text = to_plain_text(&hunks(&change, 0));
        assert_eq!(
            text,
            "\
--- live/Deployment/team-a/web
+++ desired/Deployment/team-a/web (--force-conflicts)
@@ -7 +7 @@
-  replicas: 3
+  replicas: 1
"
        );
    }

    #[test]
    fn summary_of_nothing_to_do_is_the_counts_line() {
        let unchanged = compare(&tenant(), Some(&yaml(DEPLOYMENT)), &yaml(DEPLOYMENT));
        assert_eq!(
            to_plain_text(&summary(&[unchanged])),
            "0 to create, 0 to update, 0 to replace, 0 to prune, 1 unchanged\n"
        );
        assert_eq!(
            to_plain_text(&summary(&[])),
            "0 to create, 0 to update, 0 to replace, 0 to prune, 0 unchanged\n"
        );
    }
}
