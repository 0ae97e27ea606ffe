//! What the current user may do: a SelfSubjectAccessReview (`POST
//! /apis/authorization.k8s.io/v1/selfsubjectaccessreviews`), which the API
//! server answers from its authorizers without storing anything. Every
//! authenticated user may create one (`system:basic-user`), unless a cluster
//! took that away.

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};

use super::{Cluster, ClusterError};

impl Cluster {
    /// Whether the current user may `verb` the `resource` (a plural, or
    /// `plural/subresource`) of API `group` in `namespace` (`None`: in every
    /// namespace, or a cluster-scoped resource), only the object `name` when
    /// given, and the authorizer's reason (often empty).
    pub async fn can_i(
        &self,
        verb: &str,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
        name: Option<&str>,
    ) -> Result<(bool, String), ClusterError> {
        let (resource, subresource) = match resource.split_once('/') {
            Some((resource, sub)) => (resource, Some(sub.to_string())),
            None => (resource, None),
        };
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(verb.to_string()),
                    group: Some(group.to_string()),
                    resource: Some(resource.to_string()),
                    subresource,
                    namespace: namespace.map(str::to_string),
                    name: name.map(str::to_string),
                    ..ResourceAttributes::default()
                }),
                ..SelfSubjectAccessReviewSpec::default()
            },
            ..SelfSubjectAccessReview::default()
        };
        let api: Api<SelfSubjectAccessReview> = Api::all(self.client.clone());
        let answer = self
            .call(
                "selfsubjectaccessreviews",
                "create",
                api.create(&PostParams::default(), &review),
            )
            .await?;
        let status = answer.status.unwrap_or_default();
        Ok((status.allowed, status.reason.unwrap_or_default()))
    }
}
