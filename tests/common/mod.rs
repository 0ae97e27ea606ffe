//! Helpers shared by the integration tests.

pub mod cluster;

use std::path::{Path, PathBuf};

use cnvrgctl::pipeline::manifest::Manifest;
use cnvrgctl::pipeline::render::{SecretInputs, Templates};
use cnvrgctl::pipeline::spec::{Spec, SpecError};

/// The repository root (where `examples/` lives).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Path of an example's cluster spec.
pub fn example(name: &str) -> PathBuf {
    root().join("examples").join(name).join("cluster.yaml")
}

/// Every example directory name.
pub const EXAMPLES: &[&str] = &["multi-tenant", "single-namespace", "workspace"];

/// Loads a spec given as texts, with paths that exist nowhere (so only the
/// built-in profiles are found and messages name these short paths).
pub fn load_texts(cluster: &str, tenants: &[(&str, &str)]) -> Result<Spec, SpecError> {
    let tenants = tenants
        .iter()
        .map(|(name, text)| (Path::new("spec/tenants").join(name), text.to_string()))
        .collect();
    cnvrgctl::pipeline::spec::load_from(
        Path::new("spec/cluster.yaml"),
        cluster.to_string(),
        tenants,
    )
}

/// Loads, renders and validates an example with the built-in templates.
pub fn render_example(name: &str) -> (Spec, Vec<Manifest>) {
    let spec = cnvrgctl::pipeline::spec::load(&example(name)).expect("example spec loads");
    let manifests =
        cnvrgctl::pipeline::render::render(&spec, &Templates::built_in(), &SecretInputs::default())
            .expect("example renders");
    cnvrgctl::pipeline::validate::validate(&manifests).expect("example validates");
    (spec, manifests)
}

/// A minimal valid cluster spec with one workspace tenant; `extra` is appended
/// under `spec:` (indented by two spaces already).
pub fn workspace_cluster(extra: &str) -> String {
    format!(
        "apiVersion: cnvrgctl.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: acme\nspec:\n{extra}  tenants:\n    - name: research\n      type: workspace\n      workspace:\n        agentPools:\n          - name: default\n"
    )
}

/// Renders example `name` with the built-in templates overlaid by `files`
/// (template path, source); the render result, before validation.
pub fn render_overlaid(
    name: &str,
    files: &[(&str, &str)],
) -> Result<Vec<Manifest>, cnvrgctl::pipeline::render::RenderError> {
    let dir = tempfile::tempdir().unwrap();
    for (template, source) in files {
        let path = dir.path().join(template);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, source).unwrap();
    }
    let templates = Templates::with_overlay(dir.path()).unwrap();
    let spec = cnvrgctl::pipeline::spec::load(&example(name)).unwrap();
    cnvrgctl::pipeline::render::render(&spec, &templates, &SecretInputs::default())
}
