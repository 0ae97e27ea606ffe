//! Permissions: whether the current user may do what the run will do. The
//! rules are the ones `cnvrgctl rbac` prints for the scopes checked
//! ([`rbac::needs`]), each verb asked of the API server with a
//! SelfSubjectAccessReview, at most [`CONCURRENCY`] at once. The first
//! review asks for everything (`*` verbs of `*` resources of `*` groups,
//! cluster-wide), which RBAC allows only to a cluster admin: for one, that is
//! the whole check. Otherwise each verb, group and resource is asked
//! cluster-wide (what a ClusterRoleBinding grants covers every namespace);
//! only what that denies is asked again in each namespace the run uses it in. What is still denied is one `fail` row
//! listing the missing rules as RBAC `rules:` an admin can grant. A user who
//! may not even create access reviews gets a `warn`: the rights were not
//! checked.

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;
use serde_json::json;

use super::{Context, Row};
use crate::engine::kube::Cluster;
use crate::pipeline::rbac;

const CHECK: &str = "permissions";

/// Access reviews in flight at once.
const CONCURRENCY: usize = 16;

/// One question: may the user `verb` the `resource` of `group` in
/// `namespace` (`None`: cluster-wide)?
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Access {
    group: String,
    resource: String,
    verb: &'static str,
    namespace: Option<String>,
    /// One object (`resourceNames`), else every one.
    name: Option<String>,
}

impl Access {
    fn cluster_wide(&self) -> Access {
        Access {
            namespace: None,
            ..self.clone()
        }
    }
}

pub(super) async fn check(cx: &Context<'_>) -> Vec<Row> {
    match review(cx.cluster, &[everything()]).await {
        Ok(denied) if denied.is_empty() => return vec![judge(1, &[])],
        Ok(_) => {}
        Err(reason) => return vec![not_checked(&reason)],
    }
    let needed = needed(&rbac::needs(cx.manifests));
    let wide: Vec<Access> = needed
        .iter()
        .map(Access::cluster_wide)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let wide_denied = match review(cx.cluster, &wide).await {
        Ok(denied) => denied,
        Err(reason) => return vec![not_checked(&reason)],
    };
    let again = per_namespace(&needed, &wide_denied);
    let namespace_denied = match review(cx.cluster, &again).await {
        Ok(denied) => denied,
        Err(reason) => return vec![not_checked(&reason)],
    };
    let missing = missing(&needed, &wide_denied, &namespace_denied);
    vec![judge(1 + wide.len() + again.len(), &missing)]
}

/// Every verb on every resource of every group, everywhere: only a rule of
/// wildcards (a cluster admin's) allows it, so an allowed answer is exact.
fn everything() -> Access {
    Access {
        group: "*".into(),
        resource: "*".into(),
        verb: "*",
        namespace: None,
        name: None,
    }
}

/// Every (verb, group, resource, namespace) the grants hold, once.
fn needed(grants: &[rbac::Grant]) -> BTreeSet<Access> {
    grants
        .iter()
        .flat_map(|g| {
            g.verbs.iter().map(|verb| Access {
                group: g.group.clone(),
                resource: g.resource.clone(),
                verb,
                namespace: g.namespace.clone(),
                name: g.name.clone(),
            })
        })
        .collect()
}

/// What to ask again namespace by namespace: the namespaced needs whose
/// cluster-wide question was denied.
fn per_namespace(needed: &BTreeSet<Access>, wide_denied: &BTreeSet<Access>) -> Vec<Access> {
    needed
        .iter()
        .filter(|a| a.namespace.is_some() && wide_denied.contains(&a.cluster_wide()))
        .cloned()
        .collect()
}

/// What the user may not do: cluster-wide needs denied, and namespaced needs
/// denied both cluster-wide and in their namespace.
fn missing(
    needed: &BTreeSet<Access>,
    wide_denied: &BTreeSet<Access>,
    namespace_denied: &BTreeSet<Access>,
) -> Vec<Access> {
    needed
        .iter()
        .filter(|a| match &a.namespace {
            None => wide_denied.contains(a),
            Some(_) => namespace_denied.contains(a),
        })
        .cloned()
        .collect()
}

/// Asks each question, [`CONCURRENCY`] at once, the first one alone (a user
/// who may not create access reviews is told once, not per question). The
/// denied ones, or why the reviews could not be made.
async fn review(cluster: &Cluster, questions: &[Access]) -> Result<BTreeSet<Access>, String> {
    let ask = |a: &Access| {
        let a = a.clone();
        async move {
            let answer = cluster
                .can_i(
                    a.verb,
                    &a.group,
                    &a.resource,
                    a.namespace.as_deref(),
                    a.name.as_deref(),
                )
                .await;
            (a, answer)
        }
    };
    let Some((first, rest)) = questions.split_first() else {
        return Ok(BTreeSet::new());
    };
    let first = ask(first).await;
    if let (_, Err(e)) = &first {
        return Err(super::context::reason(e));
    }
    let answers: Vec<_> = futures::stream::iter(rest)
        .map(ask)
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut denied = BTreeSet::new();
    for (access, answer) in std::iter::once(first).chain(answers) {
        match answer {
            Ok((true, _)) => {}
            Ok((false, _)) => {
                denied.insert(access);
            }
            Err(e) => return Err(super::context::reason(&e)),
        }
    }
    Ok(denied)
}

fn not_checked(reason: &str) -> Row {
    Row::warn(
        CHECK,
        "selfsubjectaccessreviews",
        format!(
            "cannot ask the API server what this user may do: {reason}; permissions were not checked"
        ),
        "let the user create selfsubjectaccessreviews (authorization.k8s.io; every user may by default), or compare `cnvrgctl rbac` with the user's roles by hand",
    )
}

fn judge(reviews: usize, missing: &[Access]) -> Row {
    if missing.is_empty() {
        return Row::pass(
            CHECK,
            "-",
            format!("{reviews} access review(s), every verb the run needs is allowed"),
        );
    }
    Row::fail(
        CHECK,
        "-",
        format!(
            "{} verb(s) the run needs are denied; the missing rules:\n{}",
            missing.len(),
            missing_rules(missing)
        ),
        "ask an admin to grant these rules (cnvrgctl rbac prints the whole role)",
    )
}

/// The missing access as `rules:` blocks, cluster-wide first, then one per
/// namespace; verbs merged per resource, resources merged per verb set.
fn missing_rules(missing: &[Access]) -> String {
    type Rule = (String, String, &'static str, Option<String>);
    let mut by_place: BTreeMap<Option<&str>, Vec<Rule>> = BTreeMap::new();
    for a in missing {
        by_place.entry(a.namespace.as_deref()).or_default().push((
            a.group.clone(),
            a.resource.clone(),
            a.verb,
            a.name.clone(),
        ));
    }
    let mut text = String::new();
    for (place, access) in by_place {
        text.push_str(&match place {
            None => "# cluster-wide (a ClusterRole)\n".to_string(),
            Some(ns) => format!("# in namespace {ns} (a Role there, or a ClusterRole)\n"),
        });
        let rules = json!({ "rules": rbac::rules(&access) });
        text.push_str(&crate::pipeline::yaml::to_string(&rules));
    }
    text.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::preflight::Level;

    fn access(verb: &'static str, group: &str, resource: &str, ns: Option<&str>) -> Access {
        Access {
            group: group.into(),
            resource: resource.into(),
            verb,
            namespace: ns.map(str::to_string),
            name: None,
        }
    }

    fn grant(resource: &str, verbs: &'static [&'static str], ns: Option<&str>) -> rbac::Grant {
        rbac::Grant {
            group: "apps".into(),
            resource: resource.into(),
            verbs,
            namespace: ns.map(str::to_string),
            name: None,
        }
    }

    #[test]
    fn each_verb_is_one_question_per_namespace() {
        let needed = needed(&[
            grant("deployments", &["get", "patch"], Some("a")),
            grant("deployments", &["get"], Some("b")),
            grant("deployments", &["get"], Some("a")),
        ]);
        assert_eq!(needed.len(), 3);
        assert!(needed.contains(&access("patch", "apps", "deployments", Some("a"))));
    }

    #[test]
    fn only_what_is_denied_cluster_wide_is_asked_per_namespace() {
        let needed: BTreeSet<Access> = [
            access("get", "apps", "deployments", Some("a")),
            access("patch", "apps", "deployments", Some("a")),
            access("patch", "apps", "deployments", Some("b")),
            access("create", "", "namespaces", None),
        ]
        .into();
        let wide_denied: BTreeSet<Access> = [
            access("patch", "apps", "deployments", None),
            access("create", "", "namespaces", None),
        ]
        .into();
        let again = per_namespace(&needed, &wide_denied);
        assert_eq!(
            again,
            [
                access("patch", "apps", "deployments", Some("a")),
                access("patch", "apps", "deployments", Some("b")),
            ]
        );
        let namespace_denied: BTreeSet<Access> =
            [access("patch", "apps", "deployments", Some("b"))].into();
        assert_eq!(
            missing(&needed, &wide_denied, &namespace_denied),
            [
                access("create", "", "namespaces", None),
                access("patch", "apps", "deployments", Some("b")),
            ]
        );
    }

    #[test]
    fn missing_verbs_are_rules_per_namespace_with_verbs_merged() {
        let row = judge(
            40,
            &[
                access("create", "", "namespaces", None),
                access("patch", "", "namespaces", None),
                access("patch", "apps", "deployments", Some("research")),
                access("delete", "apps", "deployments", Some("research")),
                access("delete", "apps", "statefulsets", Some("research")),
                access("patch", "apps", "statefulsets", Some("research")),
            ],
        );
        assert_eq!(row.level, Level::Fail);
        assert_eq!(
            row.detail,
            "6 verb(s) the run needs are denied; the missing rules:
# cluster-wide (a ClusterRole)
rules:
- apiGroups:
  - ''
  resources:
  - namespaces
  verbs:
  - create
  - patch
# in namespace research (a Role there, or a ClusterRole)
rules:
- apiGroups:
  - apps
  resources:
  - deployments
  - statefulsets
  verbs:
  - delete
  - patch"
        );
        assert!(row.fix.unwrap().contains("cnvrgctl rbac"));
    }

    #[test]
    fn all_allowed_is_one_pass_with_the_count() {
        let row = judge(12, &[]);
        assert_eq!(row.level, Level::Pass);
        assert!(row.detail.starts_with("12 access review(s)"));
    }
}
