//! Helpers for the resolvers' unit tests: a spec loaded from inline YAML (with
//! the built-in profiles, or profiles written to a directory), and its problems
//! as `file: field: message` lines, each checked to point at the line of the key
//! its path names, so a path that drifts from the serde names fails a test.

use std::path::Path;

use crate::pipeline::spec::{Diagnostic, Spec, SpecError, load_from};

/// A spec directory that does not exist: only the built-in profiles are found.
const NO_DIR: &str = "/nonexistent-spec-dir";

/// What `cluster.yaml` in `dir`, with the tenant files `tenants` (name, text),
/// loads to.
pub fn load_in(
    dir: &Path,
    cluster: &str,
    tenants: &[(&str, &str)],
) -> Result<Spec, Vec<Diagnostic>> {
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
    spec_with(cluster, &[])
}

/// The effective spec of `cluster` and its tenant files, which must be valid.
pub fn spec_with(cluster: &str, tenants: &[(&str, &str)]) -> Spec {
    load_in(Path::new(NO_DIR), cluster, tenants)
        .unwrap_or_else(|d| panic!("the spec is invalid: {}", lines(&d).join("\n")))
}

/// The problems of `cluster`, in the order found.
pub fn problems(cluster: &str) -> Vec<String> {
    problems_with(cluster, &[])
}

/// The problems of `cluster` and its tenant files, in the order found.
pub fn problems_with(cluster: &str, tenants: &[(&str, &str)]) -> Vec<String> {
    problems_in(Path::new(NO_DIR), cluster, tenants)
}

/// The problems of `cluster.yaml` in `dir` and its tenant files.
pub fn problems_in(dir: &Path, cluster: &str, tenants: &[(&str, &str)]) -> Vec<String> {
    let diags = load_in(dir, cluster, tenants).expect_err("the spec is invalid");
    diags.iter().for_each(points_at_its_key);
    lines(&diags)
}

/// The fields of `problems` (as `problems` returns them), in order.
pub fn fields(problems: &[String]) -> Vec<&str> {
    problems.iter().map(|p| field_of(p)).collect()
}

/// The field of one problem line.
pub fn field_of(problem: &str) -> &str {
    problem
        .split(": ")
        .nth(1)
        .expect("a `file: field: message` line")
}

fn lines(diags: &[Diagnostic]) -> Vec<String> {
    diags
        .iter()
        .map(|d| {
            let file = d.file.file_name().unwrap_or_default().to_string_lossy();
            format!("{file}: {}: {}", d.field, d.message)
        })
        .collect()
}

/// Asserts that the source line `d` shows holds the last key of its path
/// (paths ending in a list index point at the item, which has no key).
fn points_at_its_key(d: &Diagnostic) {
    let key = d.field.rsplit('.').next().unwrap_or_default();
    let Some(pos) = d.pos else {
        panic!("{}: no position for `{}`", d.file.display(), d.field);
    };
    if key.ends_with(']') {
        return;
    }
    let shown = d.to_string();
    let prefix = format!(" {} | ", pos.line);
    let line = shown
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no source line shown:\n{shown}"));
    assert!(
        line.contains(&format!("{key}:")),
        "`{}` points at a line without `{key}:`:\n{shown}",
        d.field
    );
}

/// A cluster spec: the header, then `body` (lines indented under `spec:`).
pub fn cluster(body: &str) -> String {
    format!(
        "apiVersion: cnvrgctl.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: acme\nspec:\n{body}"
    )
}

/// A cluster domain, which a cnvrg tenant needs.
pub const DOMAIN: &str = "  clusterDomain: ml.example.com\n";

/// A cluster spec (`head` under `spec:`) with one cnvrg tenant `a` whose
/// `cnvrg` section is `body`.
pub fn cnvrg_tenant(head: &str, body: &str) -> String {
    cluster(&format!(
        "{head}  tenants:\n    - name: a\n      type: cnvrg\n      cnvrg:\n{body}"
    ))
}

/// A tenant file for tenant `name`: the header, then `body` under `spec:`.
pub fn tenant(name: &str, body: &str) -> String {
    format!(
        "apiVersion: cnvrgctl.io/v1alpha1\nkind: Tenant\nmetadata:\n  name: {name}\nspec:\n{body}"
    )
}

/// A spec directory holding `profiles/NAME.yaml`: the built-in dev profile
/// renamed, with `edit` applied to its text.
pub fn with_profile(name: &str, edit: impl Fn(&str) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (_, dev) = crate::pipeline::spec::profile::BUILT_IN[0];
    let text = edit(dev).replace("name: dev", &format!("name: {name}"));
    std::fs::create_dir(dir.path().join("profiles")).expect("profiles/");
    std::fs::write(dir.path().join(format!("profiles/{name}.yaml")), text).expect("the profile");
    dir
}
