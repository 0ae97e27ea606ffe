//! The inventory of each scope (infra, each tenant): an ApplySet parent object
//! (KEP-3659, what `kubectl apply --applyset --prune` reads) naming the kinds
//! its members have, and the label every member carries. Pruning is exact
//! because only objects carrying this scope's label are ever candidates; an
//! object without it is not cnvrgctl's and is never touched. Pure: building
//! the objects and reading their annotations; the executor does the I/O.

use std::collections::BTreeSet;

use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::pipeline::manifest::{MANAGER, Scope, keys};

/// Label on the parent: the ApplySet's id.
pub const ID_LABEL: &str = "applyset.kubernetes.io/id";
/// Label on every member: the id of the ApplySet it belongs to.
pub const PART_OF_LABEL: &str = "applyset.kubernetes.io/part-of";
/// Annotation on the parent: the tool that owns it.
pub const TOOLING: &str = "applyset.kubernetes.io/tooling";
/// Annotation on the parent: `Kind.group` of every member kind, sorted.
pub const GROUP_KINDS: &str = "applyset.kubernetes.io/contains-group-kinds";
/// Annotation on the parent: namespaces other than its own that hold members.
pub const NAMESPACES: &str = "applyset.kubernetes.io/additional-namespaces";

/// The parent's kind: a ConfigMap, which `kubectl --applyset=configmap/NAME`
/// understands.
pub const PARENT_KIND: &str = "ConfigMap";

/// One scope's ApplySet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplySet {
    pub scope: Scope,
    /// The parent's namespace: the scope's own.
    pub namespace: String,
    pub name: String,
    pub id: String,
}

impl ApplySet {
    pub fn new(scope: &Scope, namespace: &str) -> ApplySet {
        let name = match scope {
            Scope::Infra => "cnvrgctl-infra".to_string(),
            Scope::Tenant(tenant) => format!("cnvrgctl-tenant-{tenant}"),
        };
        ApplySet {
            scope: scope.clone(),
            namespace: namespace.to_string(),
            id: id(&name, namespace, PARENT_KIND, ""),
            name,
        }
    }

    /// `applyset.kubernetes.io/part-of=ID`: selects exactly this scope's members.
    pub fn selector(&self) -> String {
        format!("{PART_OF_LABEL}={}", self.id)
    }

    /// Marks `object` as a member.
    pub fn label(&self, object: &mut Value) {
        let labels = object
            .pointer_mut("/metadata/labels")
            .and_then(Value::as_object_mut);
        match labels {
            Some(labels) => {
                labels.insert(PART_OF_LABEL.into(), self.id.clone().into());
            }
            None => {
                object["metadata"]["labels"] = json!({ PART_OF_LABEL: self.id });
            }
        }
    }

    /// Whether a live object is a member of this set.
    pub fn owns(&self, object: &Value) -> bool {
        object
            .pointer(&format!(
                "/metadata/labels/{}",
                PART_OF_LABEL.replace('/', "~1")
            ))
            .and_then(Value::as_str)
            == Some(self.id.as_str())
    }

    /// The parent object listing `group_kinds` and `namespaces` (members'
    /// namespaces; cluster-scoped members have none).
    pub fn parent(&self, group_kinds: &BTreeSet<String>, namespaces: &BTreeSet<String>) -> Value {
        let others: Vec<&str> = namespaces
            .iter()
            .map(String::as_str)
            .filter(|ns| *ns != self.namespace)
            .collect();
        let mut annotations = json!({
            TOOLING: format!("{MANAGER}/v{}", env!("CARGO_PKG_VERSION")),
            GROUP_KINDS: group_kinds.iter().cloned().collect::<Vec<_>>().join(","),
        });
        if !others.is_empty() {
            annotations[NAMESPACES] = others.join(",").into();
        }
        json!({
            "apiVersion": "v1",
            "kind": PARENT_KIND,
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": {
                    ID_LABEL: self.id,
                    keys::MANAGED_BY: MANAGER,
                    keys::SCOPE: self.scope.label(),
                    keys::INSTANCE: self.scope.instance(),
                },
                "annotations": annotations,
            },
        })
    }
}

/// KEP-3659's id: `applyset-` + unpadded base64url of the SHA-256 of
/// `NAME.NAMESPACE.KIND.GROUP` + `-v1`.
pub fn id(name: &str, namespace: &str, kind: &str, group: &str) -> String {
    let digest = Sha256::digest(format!("{name}.{namespace}.{kind}.{group}"));
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
    format!("applyset-{encoded}-v1")
}

/// The member kinds a live parent lists (`Kind.group`).
pub fn group_kinds(parent: &Value) -> BTreeSet<String> {
    list_annotation(parent, GROUP_KINDS)
}

/// The extra namespaces a live parent lists.
pub fn namespaces(parent: &Value) -> BTreeSet<String> {
    list_annotation(parent, NAMESPACES)
}

fn list_annotation(parent: &Value, key: &str) -> BTreeSet<String> {
    parent["metadata"]["annotations"][key]
        .as_str()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `Kind.group` → (group, kind).
pub fn split_group_kind(group_kind: &str) -> (&str, &str) {
    match group_kind.split_once('.') {
        Some((kind, group)) => (group, kind),
        None => ("", group_kind),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_follows_kep_3659() {
        // The value kubectl computes for `--applyset=configmap/cnvrgctl-infra -n cnvrg-infra`.
        let digest = Sha256::digest("cnvrgctl-infra.cnvrg-infra.ConfigMap.");
        let expected = format!(
            "applyset-{}-v1",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
        );
        let set = ApplySet::new(&Scope::Infra, "cnvrg-infra");
        assert_eq!(set.id, expected);
        assert!(set.id.len() <= 63, "a label value: {}", set.id);
        assert!(!set.id.contains(['+', '/', '=']));
    }

    #[test]
    fn parent_lists_kinds_and_other_namespaces() {
        let set = ApplySet::new(&Scope::Tenant("research".into()), "research");
        let kinds: BTreeSet<String> = ["Deployment.apps".into(), "Secret".into()].into();
        let namespaces: BTreeSet<String> = ["research".into(), "other".into()].into();
        let parent = set.parent(&kinds, &namespaces);
        assert_eq!(parent["metadata"]["name"], "cnvrgctl-tenant-research");
        assert_eq!(group_kinds(&parent), kinds);
        assert_eq!(super::namespaces(&parent), ["other".to_string()].into());
        assert_eq!(parent["metadata"]["labels"][ID_LABEL], set.id.as_str());
    }

    #[test]
    fn members_are_labelled_and_recognised() {
        let set = ApplySet::new(&Scope::Infra, "cnvrg-infra");
        let mut object = json!({"metadata": {"name": "x"}});
        assert!(!set.owns(&object));
        set.label(&mut object);
        assert!(set.owns(&object));
        let other = ApplySet::new(&Scope::Tenant("a".into()), "a");
        assert!(!other.owns(&object));
        assert_eq!(split_group_kind("Deployment.apps"), ("apps", "Deployment"));
        assert_eq!(split_group_kind("Secret"), ("", "Secret"));
    }
}
