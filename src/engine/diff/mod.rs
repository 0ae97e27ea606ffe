//! Diff: what applying the desired objects would change. For each desired
//! object the executor hands over the live object (or none) and the result of a
//! server-side dry-run apply (a forced one, with the [`Conflict`]s, when other
//! field managers own fields it would change); this module strips the server's
//! bookkeeping from both ([`normalize`]), decides the [`Op`] and returns a [`Change`], masks
//! Secret values ([`mask_secrets`]) and lays a change out as a summary table and
//! unified hunks ([`summary`], [`hunks`]). It is pure: it never talks to the
//! cluster, never writes to the terminal and never applies anything. A change is
//! data; acting on it is the executor's job.

mod conflict;
mod mask;
mod normalize;
mod present;

use serde::Serialize;
use serde::ser::SerializeStruct;
use serde_json::Value;

use crate::pipeline::manifest::Scope;

pub use conflict::{Conflict, conflicts};
pub use mask::{MASK, mask_secrets};
pub use normalize::normalize;
pub use present::{DEFAULT_CONTEXT, Line, Tone, hunks, summary, to_plain_text};

/// What happens to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Create,
    Update,
    /// Delete, then create: an immutable field changed (a Job's pod template).
    /// Decided by the executor, which knows the immutable fields.
    Replace,
    /// Prune: the object is no longer desired.
    Delete,
    /// Other field managers own fields the apply would change (ownership
    /// drift): applied only with `--force-conflicts`, which the change shows.
    Conflict,
    Unchanged,
}

impl Op {
    /// The lowercase word used in tables and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Update => "update",
            Op::Replace => "replace",
            Op::Delete => "delete",
            Op::Conflict => "conflict",
            Op::Unchanged => "unchanged",
        }
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One object's change: what the executor acts on and the diff command prints.
#[derive(Debug, Clone)]
pub struct Change {
    pub op: Op,
    pub scope: Scope,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    /// The normalized live object (`None` for [`Op::Create`]).
    pub before: Option<Value>,
    /// The normalized would-be object (`None` for [`Op::Delete`]); for
    /// [`Op::Conflict`], what a forced apply would make it.
    pub after: Option<Value>,
    /// For [`Op::Conflict`]: who owns which of the fields.
    pub conflicts: Vec<Conflict>,
}

impl Change {
    /// `Kind/namespace/name`, or `Kind/name` for cluster-scoped objects.
    pub fn id(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{}/{}", self.kind, ns, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }

    /// The same change with another op (the executor turns an update of an
    /// immutable field into [`Op::Replace`]).
    pub fn with_op(self, op: Op) -> Change {
        Change { op, ..self }
    }

    /// The change a forced apply would make, as an [`Op::Conflict`] with the
    /// managers that own the fields.
    pub fn in_conflict(self, conflicts: Vec<Conflict>) -> Change {
        Change {
            op: Op::Conflict,
            conflicts,
            ..self
        }
    }

    fn new(op: Op, scope: &Scope, identity: &Value) -> Change {
        let text = |v: &Value| v.as_str().map(str::to_string);
        Change {
            op,
            scope: scope.clone(),
            kind: text(&identity["kind"]).unwrap_or_default(),
            namespace: text(&identity["metadata"]["namespace"]),
            name: text(&identity["metadata"]["name"]).unwrap_or_default(),
            before: None,
            after: None,
            conflicts: Vec::new(),
        }
    }
}

/// The change for one desired object, given the live object (normalized or
/// not; `None` when it does not exist) and the server's dry-run apply of the
/// desired object: no live object → [`Op::Create`]; equal after
/// normalization → [`Op::Unchanged`]; otherwise [`Op::Update`].
pub fn compare(scope: &Scope, live: Option<&Value>, dry_run: &Value) -> Change {
    let mut after = normalize(dry_run);
    let before = live.map(normalize);
    if let Some(before) = &before {
        normalize::align(&mut after, before);
    }
    let op = match &before {
        None => Op::Create,
        Some(before) if *before == after => Op::Unchanged,
        Some(_) => Op::Update,
    };
    Change {
        before,
        after: Some(after),
        ..Change::new(op, scope, dry_run)
    }
}

/// The change of a live object known to be as desired ([`Op::Unchanged`]):
/// nothing to compare or show, so neither side is kept.
pub fn unchanged(scope: &Scope, live: &Value) -> Change {
    Change::new(Op::Unchanged, scope, live)
}

/// The change that prunes a live object no longer desired ([`Op::Delete`]).
pub fn prune(scope: &Scope, live: &Value) -> Change {
    Change {
        before: Some(normalize(live)),
        ..Change::new(Op::Delete, scope, live)
    }
}

/// The `--output json` form: `op`, `scope`, `kind`, `namespace`, `name`,
/// for a conflict `conflicts` (`manager`, `subresource`, `operation`,
/// `fields`), and `diff`, the unified hunks as text ([`DEFAULT_CONTEXT`]
/// lines of context). It shows `before` and `after` as they are: call
/// [`mask_secrets`] first unless secrets are to be shown.
impl Serialize for Change {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Change", 7)?;
        s.serialize_field("op", &self.op)?;
        s.serialize_field("scope", &self.scope.to_string())?;
        s.serialize_field("kind", &self.kind)?;
        s.serialize_field("namespace", &self.namespace)?;
        s.serialize_field("name", &self.name)?;
        if self.op == Op::Conflict {
            s.serialize_field("conflicts", &self.conflicts)?;
        }
        s.serialize_field("diff", &to_plain_text(&hunks(self, DEFAULT_CONTEXT)))?;
        s.end()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn yaml(text: &str) -> Value {
        serde_yaml::from_str::<Value>(text).expect("fixture parses")
    }

    pub(crate) fn tenant() -> Scope {
        Scope::Tenant("team-a".into())
    }

    const LIVE: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: team-a
  uid: 0b6f1e9a-1111-2222-3333-444455556666
  resourceVersion: "1234"
  generation: 2
  creationTimestamp: "2024-05-01T10:00:00Z"
  annotations:
    deployment.kubernetes.io/revision: "2"
  labels:
    app.kubernetes.io/name: web
  managedFields:
  - manager: cnvrgctl
    operation: Apply
    time: "2024-05-01T10:00:00Z"
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: web
status:
  readyReplicas: 1
"#;

    const DRY_RUN: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: team-a
  uid: 0b6f1e9a-1111-2222-3333-444455556666
  resourceVersion: "1299"
  generation: 2
  creationTimestamp: "2024-05-01T10:00:00Z"
  annotations:
    deployment.kubernetes.io/revision: "2"
  labels:
    app.kubernetes.io/name: web
  managedFields:
  - manager: cnvrgctl
    operation: Apply
    time: "2024-06-09T08:30:00Z"
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: web
status:
  readyReplicas: 0
"#;

    #[test]
    fn no_live_object_is_a_create() {
        let change = compare(&tenant(), None, &yaml(DRY_RUN));
        assert_eq!(change.op, Op::Create);
        assert!(change.before.is_none());
        assert_eq!(change.after, Some(normalize(&yaml(DRY_RUN))));
        assert_eq!(change.id(), "Deployment/team-a/web");
    }

    #[test]
    fn server_noise_alone_is_unchanged() {
        let change = compare(&tenant(), Some(&yaml(LIVE)), &yaml(DRY_RUN));
        assert_eq!(change.op, Op::Unchanged);
        // Live may come normalized already.
        let change = compare(&tenant(), Some(&normalize(&yaml(LIVE))), &yaml(DRY_RUN));
        assert_eq!(change.op, Op::Unchanged);
    }

    #[test]
    fn an_object_known_unchanged_keeps_its_identity_and_no_sides() {
        let change = unchanged(&tenant(), &yaml(LIVE));
        assert_eq!(change.op, Op::Unchanged);
        assert_eq!(change.id(), "Deployment/team-a/web");
        assert!(change.before.is_none() && change.after.is_none());
        assert!(hunks(&change, DEFAULT_CONTEXT).is_empty());
    }

    #[test]
    fn a_content_change_is_an_update() {
        let dry_run = yaml(&DRY_RUN.replace("replicas: 1", "replicas: 3"));
        let change = compare(&tenant(), Some(&yaml(LIVE)), &dry_run);
        assert_eq!(change.op, Op::Update);
        assert_eq!(change.before.as_ref().unwrap()["spec"]["replicas"], 1);
        assert_eq!(change.after.as_ref().unwrap()["spec"]["replicas"], 3);
        let change = change.with_op(Op::Replace);
        assert_eq!(change.op, Op::Replace);
    }

    #[test]
    fn prune_is_a_delete_of_the_live_object() {
        let change = prune(&Scope::Infra, &yaml(LIVE));
        assert_eq!(change.op, Op::Delete);
        assert!(change.after.is_none());
        assert_eq!(change.before, Some(normalize(&yaml(LIVE))));
        assert_eq!(change.scope, Scope::Infra);
    }

    #[test]
    fn cluster_scoped_id_has_no_namespace() {
        let ns = yaml("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n");
        let change = compare(&Scope::Infra, None, &ns);
        assert_eq!(change.namespace, None);
        assert_eq!(change.id(), "Namespace/team-a");
    }

    #[test]
    fn json_form_has_op_scope_identity_and_diff() {
        let dry_run = yaml(&DRY_RUN.replace("replicas: 1", "replicas: 3"));
        let change = compare(&tenant(), Some(&yaml(LIVE)), &dry_run);
        let json = serde_json::to_value(&change).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["op", "scope", "kind", "namespace", "name", "diff"]);
        assert_eq!(json["op"], "update");
        assert_eq!(json["scope"], "tenant.team-a");
        assert_eq!(json["kind"], "Deployment");
        assert_eq!(json["namespace"], "team-a");
        assert_eq!(json["name"], "web");
        let diff = json["diff"].as_str().unwrap();
        assert!(
            diff.starts_with("--- live/Deployment/team-a/web\n"),
            "{diff}"
        );
        assert!(diff.contains("\n+  replicas: 3\n"), "{diff}");
    }
}
