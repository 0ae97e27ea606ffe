//! Helpers for the resolvers' unit tests: a spec loaded from inline YAML, and
//! the problems it has as `field: message` lines.

use std::path::Path;

use crate::spec::{Diagnostic, Spec, SpecError, load_from};

/// The spec `cluster.yaml` (with `tenants/NAME.yaml` files `tenants`) loads to,
/// with only the built-in profiles.
pub fn load(cluster: &str, tenants: &[(&str, &str)]) -> Result<Spec, Vec<Diagnostic>> {
    let dir = Path::new("/nonexistent-spec-dir");
    let files = tenants
        .iter()
        .map(|(name, text)| {
            (
                dir.join("tenants").join(format!("{name}.yaml")),
                text.to_string(),
            )
        })
        .collect();
    match load_from(&dir.join("cluster.yaml"), cluster.to_string(), files) {
        Ok(spec) => Ok(spec),
        Err(SpecError::Invalid(diags)) => Err(diags),
        Err(other) => panic!("not a spec problem: {other}"),
    }
}

/// The effective spec of `cluster`, which must be valid.
pub fn spec(cluster: &str) -> Spec {
    load(cluster, &[]).unwrap_or_else(|d| panic!("the spec is invalid: {d:#?}"))
}

/// The problems of `cluster` as `file: field: message`, in the order found.
pub fn problems(cluster: &str, tenants: &[(&str, &str)]) -> Vec<String> {
    let diags = load(cluster, tenants).err().expect("the spec is invalid");
    diags
        .iter()
        .map(|d| {
            let file = d.file.file_name().unwrap_or_default().to_string_lossy();
            format!("{file}: {}: {}", d.field, d.message)
        })
        .collect()
}

/// A cluster spec: the header, then `body` (lines indented under `spec:`).
pub fn cluster(body: &str) -> String {
    format!(
        "apiVersion: cnvrgctl.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: acme\nspec:\n{body}"
    )
}
