//! The spec stage: read `cluster.yaml` and the `tenants/*.yaml` beside it, merge
//! the profile under them, apply code defaults and check everything, returning
//! one effective [`Spec`] or every problem found, each with file, line, column and
//! field. Pure apart from reading the spec files; it never talks to a cluster.

// A `Diagnostic` is built once per problem found, never on a hot path; boxing
// it to please this lint would only add noise.
#![allow(clippy::result_large_err)]

mod error;
mod field_path;
mod model;
mod names;
mod parse;
mod profile;
mod quantity;
mod resolve;
mod resolved;
mod tenant_file;

pub use error::{Diagnostic, Source, SpecError, did_you_mean};
pub use model::{
    API_VERSION, ContainerDefaults, CpuMemory, IngressType, Mode, Platform, ReclaimPolicy,
    ResourceList, Resources, TenantQuota, TenantType,
};
pub use names::{dns1123_label, dns1123_subdomain};
pub use quantity::Quantity;
pub use resolved::*;
use std::path::Path;
pub use tenant_file::{TenantDraft, tenant_file_path};

use field_path::FieldPath;
use model::{ClusterFile, TenantFile};
use resolve::Declared;

/// Loads the spec rooted at `cluster_file`.
pub fn load(cluster_file: &Path) -> Result<Spec, SpecError> {
    let text = read(cluster_file)?;
    let dir = cluster_file.parent().unwrap_or(Path::new("."));
    let tenants = tenant_files(dir)?
        .into_iter()
        .map(|path| read(&path).map(|text| (path, text)))
        .collect::<Result<_, _>>()?;
    load_from(cluster_file, text, tenants)
}

/// Loads the spec rooted at `cluster_file` as if the tenant file `path` held
/// `text` (written or not): what `tenant add` checks before writing it.
pub fn load_adding(cluster_file: &Path, path: &Path, text: String) -> Result<Spec, SpecError> {
    let cluster_text = read(cluster_file)?;
    let dir = cluster_file.parent().unwrap_or(Path::new("."));
    let mut tenants: Vec<(std::path::PathBuf, String)> = tenant_files(dir)?
        .into_iter()
        .filter(|p| p != path)
        .map(|p| read(&p).map(|text| (p, text)))
        .collect::<Result<_, _>>()?;
    tenants.push((path.to_path_buf(), text));
    tenants.sort_by(|a, b| a.0.cmp(&b.0));
    load_from(cluster_file, cluster_text, tenants)
}

/// Loads a spec from texts already read: the cluster file and each tenant file.
/// Profiles are looked up beside `cluster_file`, then among the built-in ones.
pub fn load_from(
    cluster_file: &Path,
    text: String,
    tenant_texts: Vec<(std::path::PathBuf, String)>,
) -> Result<Spec, SpecError> {
    let dir = cluster_file.parent().unwrap_or(Path::new("."));
    let mut diags = Vec::new();
    let src = Source::new(cluster_file, text);
    let mut cluster: Option<ClusterFile> =
        parse::parse(&src, "Cluster", |f: &ClusterFile| (&f.api_version, &f.kind))
            .map_err(|d| diags.push(d))
            .ok();

    let mut declared = Vec::new();
    if let Some(c) = cluster.as_mut() {
        for (i, spec) in std::mem::take(&mut c.spec.tenants).into_iter().enumerate() {
            declared.push(Declared {
                spec,
                source: src.clone(),
                path: FieldPath::spec().field("tenants").index(i),
                name_path: FieldPath::spec().field("tenants").index(i).field("name"),
            });
        }
    }
    for (path, text) in tenant_texts {
        let tsrc = Source::new(&path, text);
        match parse::parse(&tsrc, "Tenant", |f: &TenantFile| (&f.api_version, &f.kind)) {
            Ok(file) => {
                let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
                if stem != file.metadata.name {
                    diags.push(
                        tsrc.at(
                            &FieldPath::metadata_name(),
                            format!(
                                "tenant `{}` is in a file named `{stem}.yaml`",
                                file.metadata.name
                            ),
                        )
                        .help(format!(
                            "rename the file to `tenants/{}.yaml`",
                            file.metadata.name
                        )),
                    );
                }
                declared.push(Declared {
                    spec: file.spec.named(file.metadata.name),
                    source: tsrc.clone(),
                    path: FieldPath::spec(),
                    name_path: FieldPath::metadata_name(),
                });
            }
            Err(d) => diags.push(d),
        }
    }
    let Some(cluster) = cluster else {
        return Err(SpecError::Invalid(diags));
    };
    match resolve::resolve(&src, cluster, declared, dir) {
        Ok(spec) if diags.is_empty() => Ok(spec),
        Ok(_) => Err(SpecError::Invalid(diags)),
        Err(more) => {
            diags.extend(more);
            Err(SpecError::Invalid(diags))
        }
    }
}

fn read(path: &Path) -> Result<String, SpecError> {
    let read_err = |source| SpecError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if meta.len() as usize > parse::MAX_FILE_BYTES {
        return Err(SpecError::Invalid(vec![Diagnostic::file(
            path,
            format!(
                "the file is {} bytes; spec files are limited to {} bytes",
                meta.len(),
                parse::MAX_FILE_BYTES
            ),
        )]));
    }
    let bytes = std::fs::read(path).map_err(read_err)?;
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let before = String::from_utf8_lossy(&bytes[..offset]);
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        SpecError::Invalid(vec![
            Diagnostic::file_at(
                path,
                Some(crate::pipeline::yaml::Pos { line, col }),
                format!(
                    "the file is not UTF-8 text (byte 0x{:02X} at offset {offset})",
                    bytes[offset]
                ),
            )
            .help("spec files are YAML text in UTF-8; re-save it as UTF-8 (or is this not a spec file?)"),
        ])
    })
}

/// `tenants/*.yaml` beside the cluster file, sorted by name.
fn tenant_files(dir: &Path) -> Result<Vec<std::path::PathBuf>, SpecError> {
    let tdir = dir.join("tenants");
    let entries = match std::fs::read_dir(&tdir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(SpecError::Read { path: tdir, source }),
    };
    let mut files: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    Ok(files)
}
