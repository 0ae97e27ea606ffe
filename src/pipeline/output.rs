//! Rendered objects as text: one multi-document YAML stream, a `v1 List` in
//! JSON, or a GitOps directory with one file per scope and component plus
//! kustomizations. The stream functions are pure; `write_dir` and
//! `write_files` (which also writes `gitops`' directories) are the only ones
//! that touch the file system, and they never overwrite a directory they did not
//! write themselves.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::pipeline::manifest::{Manifest, Scope};

/// Marker file that says a directory was written by `render --out`.
const MARKER: &str = ".cnvrgctl-render";

/// All objects as one YAML stream, each preceded by a comment naming its template.
pub fn yaml_stream(manifests: &[Manifest]) -> String {
    let mut out = String::new();
    for m in manifests {
        push_doc(&mut out, m);
    }
    out
}

fn push_doc(out: &mut String, m: &Manifest) {
    out.push_str("---\n# Source: ");
    out.push_str(&m.origin.template);
    out.push_str(" (scope ");
    out.push_str(&m.origin.scope.to_string());
    out.push_str(")\n");
    out.push_str(&crate::pipeline::yaml::to_string(&m.object));
}

/// All objects as a JSON `v1 List`.
pub fn json_list(manifests: &[Manifest]) -> String {
    let items: Vec<&serde_json::Value> = manifests.iter().map(|m| &m.object).collect();
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
    let mut s = serde_json::to_string_pretty(&list).expect("JSON values always serialize");
    s.push('\n');
    s
}

/// Directory of a scope inside the output directory.
fn scope_dir(scope: &Scope) -> PathBuf {
    match scope {
        Scope::Infra => PathBuf::from("infra"),
        Scope::Tenant(name) => Path::new("tenants").join(name),
    }
}

/// The files `write_dir` writes: relative path → content. Pure, so it can be
/// tested and snapshotted without a file system.
pub fn dir_files(manifests: &[Manifest]) -> BTreeMap<PathBuf, String> {
    // scope dir → component → objects, keeping render order inside a file.
    let mut scopes: Vec<(PathBuf, BTreeMap<String, String>)> = Vec::new();
    for m in manifests {
        let dir = scope_dir(&m.origin.scope);
        if scopes.last().is_none_or(|(d, _)| *d != dir) {
            scopes.push((dir.clone(), BTreeMap::new()));
        }
        let files = &mut scopes.last_mut().expect("pushed above").1;
        push_doc(files.entry(m.origin.component.clone()).or_default(), m);
    }
    let mut out = BTreeMap::new();
    let mut top = Vec::new();
    for (dir, files) in scopes {
        let mut kustomization = kustomization_header();
        for (component, text) in files {
            let file = format!("{component}.yaml");
            kustomization.push_str(&format!("  - {file}\n"));
            out.insert(dir.join(file), text);
        }
        out.insert(dir.join("kustomization.yaml"), kustomization);
        top.push(dir);
    }
    let mut kustomization = kustomization_header();
    for dir in top {
        kustomization.push_str(&format!(
            "  - {}\n",
            dir.to_string_lossy().replace('\\', "/")
        ));
    }
    out.insert(PathBuf::from("kustomization.yaml"), kustomization);
    out
}

fn kustomization_header() -> String {
    "# Written by cnvrgctl render --out; do not edit, re-render instead.\n\
     apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
        .to_string()
}

/// Why a directory could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The directory holds files cnvrgctl did not write.
    #[error(
        "{} is not empty and was not written by `cnvrgctl render --out`; refusing to overwrite it",
        .0.display()
    )]
    NotOurs(PathBuf),
    /// Files that would be replaced (`import` without `--force`).
    #[error(
        "refusing to overwrite {}; --force replaces them",
        .0.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    Exists(Vec<PathBuf>),
    /// The file system refused.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Writes the files of [`dir_files`] under `dir`, replacing an earlier
/// render there (so tenants removed from the spec do not linger).
pub fn write_dir(dir: &Path, manifests: &[Manifest]) -> Result<usize, WriteError> {
    write_files(dir, &dir_files(manifests))
}

/// Writes `files` (relative path → content) under `dir`, replacing an
/// earlier render there; the number of files written.
pub fn write_files(dir: &Path, files: &BTreeMap<PathBuf, String>) -> Result<usize, WriteError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| WriteError::Io { path, source }
    };
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).map_err(io(dir))?;
        let empty = entries.next().is_none();
        if !empty {
            if !dir.join(MARKER).is_file() {
                return Err(WriteError::NotOurs(dir.to_path_buf()));
            }
            std::fs::remove_dir_all(dir).map_err(io(dir))?;
        }
    }
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    std::fs::write(dir.join(MARKER), "").map_err(io(&dir.join(MARKER)))?;
    for (rel, text) in files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        write_file(&path, text).map_err(io(&path))?;
    }
    Ok(files.len())
}

/// Writes `text` to `path`; a file holding a Secret is readable by its owner
/// only (0600), as Secrets may hold credentials.
fn write_file(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if text.lines().any(|line| line == "kind: Secret") {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}
