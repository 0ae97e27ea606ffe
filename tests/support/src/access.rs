//! SelfSubjectAccessReviews, as kube-apiserver answers them: `POST
//! /apis/authorization.k8s.io/v1/selfsubjectaccessreviews` with a spec of
//! exactly one of `resourceAttributes` and `nonResourceAttributes` comes back
//! `201` with the spec echoed and `status.allowed`/`status.reason`; nothing is
//! stored, so a review is never a write. The test server's user is a cluster
//! admin except for what a test denies ([`TestServer::deny`]). An empty
//! namespace asks about every namespace, and `*` about every verb, group or
//! resource, so a verb denied in one namespace is denied there too. Making the reviews themselves forbidden is a fault
//! (`FaultKind::Reject` on the path).

use serde_json::{Value, json};

use crate::TestServer;
use crate::errors::ApiError;

/// Discovery's verbs for the resource: reviews are only created.
pub const VERBS: &[&str] = &["create"];

pub const GROUP: &str = "authorization.k8s.io";
pub const PLURAL: &str = "selfsubjectaccessreviews";

/// What the user may not do: (verb, group, resource or `resource/sub`,
/// namespace; `None`: anywhere).
#[derive(Debug, Default)]
pub struct Denials(Vec<(String, String, String, Option<String>)>);

impl Denials {
    /// Whether a question is denied: a denial answers it when each field
    /// asked is the denied one or `*` (all of them, so any denied one).
    fn denies(&self, verb: &str, group: &str, resource: &str, namespace: Option<&str>) -> bool {
        let covers = |asked: &str, denied: &str| asked == "*" || asked == denied;
        self.0.iter().any(|(v, g, r, ns)| {
            covers(verb, v)
                && covers(group, g)
                && covers(resource, r)
                && match (ns, namespace) {
                    (None, _) | (_, None) => true,
                    (Some(denied), Some(asked)) => denied == asked,
                }
        })
    }
}

impl TestServer {
    /// The user may no longer `verb` the `resource` (a plural, or
    /// `plural/subresource`) of `group` in `namespace` (`None`: anywhere).
    /// Only access reviews say so; requests themselves are still served.
    pub fn deny(&self, verb: &str, group: &str, resource: &str, namespace: Option<&str>) {
        self.shared.lock().denials.0.push((
            verb.into(),
            group.into(),
            resource.into(),
            namespace.map(str::to_string),
        ));
    }
}

/// The answer to a request on the reviews' path: the review for a POST.
pub fn review(denials: &Denials, method: &str, body: &Value) -> Result<Value, ApiError> {
    if method != "POST" {
        return Err(ApiError::method_not_allowed());
    }
    let spec = &body["spec"];
    let resource = &spec["resourceAttributes"];
    let allowed = match (
        resource.is_object(),
        spec["nonResourceAttributes"].is_object(),
    ) {
        (true, false) => {
            let text = |k: &str| resource[k].as_str().unwrap_or_default().to_string();
            let mut plural = text("resource");
            if !text("subresource").is_empty() {
                plural = format!("{plural}/{}", text("subresource"));
            }
            let namespace = Some(text("namespace")).filter(|ns| !ns.is_empty());
            !denials.denies(&text("verb"), &text("group"), &plural, namespace.as_deref())
        }
        (false, true) => true,
        _ => {
            return Err(ApiError::new(
                422,
                "Invalid",
                "SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified",
            ));
        }
    };
    let mut status = json!({ "allowed": allowed });
    if allowed {
        status["reason"] = json!(
            "RBAC: allowed by ClusterRoleBinding \"testserver-admin\" of ClusterRole \"cluster-admin\" to User \"testserver\""
        );
    }
    Ok(json!({
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": { "creationTimestamp": null },
        "spec": spec,
        "status": status,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(denials: &Denials, verb: &str, namespace: &str) -> bool {
        let body = json!({"spec": {"resourceAttributes": {
            "verb": verb, "group": "apps", "resource": "deployments", "namespace": namespace}}});
        let answer = review(denials, "POST", &body).unwrap();
        assert_eq!(answer["spec"], body["spec"]);
        answer["status"]["allowed"].as_bool().unwrap()
    }

    #[test]
    fn a_denial_in_one_namespace_denies_every_namespace_but_not_others() {
        let denials = Denials(vec![(
            "patch".into(),
            "apps".into(),
            "deployments".into(),
            Some("research".into()),
        )]);
        assert!(!ask(&denials, "patch", "research"));
        assert!(!ask(&denials, "patch", ""));
        assert!(ask(&denials, "patch", "other"));
        assert!(ask(&denials, "get", "research"));
        let everything = json!({"spec": {"resourceAttributes": {
            "verb": "*", "group": "*", "resource": "*"}}});
        let answer = review(&denials, "POST", &everything).unwrap();
        assert_eq!(answer["status"]["allowed"], false);
        assert_eq!(
            review(&Denials::default(), "POST", &everything).unwrap()["status"]["allowed"],
            true
        );
        assert!(review(&denials, "POST", &json!({"spec": {}})).is_err());
        assert!(review(&denials, "GET", &Value::Null).is_err());
    }
}
