//! `cnvrgctl support-bundle`: one gzip'd tar with what a vendor needs to
//! diagnose an install. The spec, the plan and the status come from here
//! (as `render --show-spec`, `render --plan` and `status` make them); what
//! else the cluster holds is read by `engine::bundle`, which also masks and
//! writes the archive. A refused read never fails the command: it is listed
//! in the archive's `errors.txt` and named in one warning.

use std::path::{Path, PathBuf};

use k8s_openapi::jiff::Timestamp;

use super::session::{connect, requests, runtime, scopes};
use super::{parse_scope, prepare, status};
use crate::engine::apply::scope_namespace;
use crate::engine::bundle::{self, File, Part, archive, shape};
use crate::engine::inventory::ApplySet;
use crate::front::cli::{Global, OutputFormat, SupportBundleArgs};
use crate::front::error::Error;
use crate::front::ui::Printer;
use crate::pipeline::manifest::Manifest;
use crate::pipeline::output::WriteError;
use crate::pipeline::spec::Spec;

/// The file listing the reads that were refused or failed.
const ERRORS: &str = "errors.txt";

pub fn support_bundle(
    printer: &Printer,
    global: &Global,
    args: SupportBundleArgs,
) -> Result<(), Error> {
    let (spec, manifests) = prepare(printer, &args.spec)?;
    let scopes = scopes(&spec, args.scope.as_deref())?;
    let now = Timestamp::now();
    let path = args.archive.clone().unwrap_or_else(|| default_path(now));
    let mut files = offline_files(&spec, &manifests, args.scope.as_deref())?;
    let (collected, rows) = runtime()?.block_on(async {
        let cluster = connect(global).await?;
        let sets: Vec<ApplySet> = scopes
            .iter()
            .filter_map(|s| Some(ApplySet::new(s, &scope_namespace(&manifests, s)?)))
            .collect();
        let collected = bundle::collect(&cluster, &sets, args.since, now).await?;
        let rows = status::read_all(&cluster, &manifests, &scopes, true).await;
        requests(printer, global, &cluster);
        Ok::<_, Error>((collected, rows))
    })?;
    let mut errors = collected.errors;
    match rows {
        Ok((rows, not_ready)) => {
            files.push(File::new(
                "status.txt",
                status::status_table(&rows),
                Part::Summary,
            ));
            files.push(File::new(
                "status.json",
                status::status_json(&rows),
                Part::Summary,
            ));
            let blockers = shape::blockers_text(&rows, &not_ready);
            files.push(File::new("blockers.txt", blockers, Part::Summary));
        }
        Err(e) => errors.push(format!("status: {e}")),
    }
    files.extend(collected.files);
    if !errors.is_empty() {
        files.push(File::new(ERRORS, errors.join("\n") + "\n", Part::Summary));
    }
    let files = archive::fit(archive::mask(files), args.max_size);
    archive::write(&path, &folder(&path), &files).map_err(|source| WriteError::Io {
        path: path.clone(),
        source,
    })?;
    let size: usize = files.iter().map(|f| f.text.len()).sum();
    let truncated = files.iter().any(|f| f.path == archive::TRUNCATED);
    if global.output == OutputFormat::Json {
        let event = serde_json::json!({
            "event": "support-bundle",
            "archive": path,
            "files": files.len(),
            "bytes": size,
            "refused": errors.len(),
            "truncated": truncated,
        });
        printer.out(&(event.to_string() + "\n"))?;
        return Ok(());
    }
    printer.info(&format!(
        "wrote {} ({} files, {size} bytes uncompressed)",
        path.display(),
        files.len()
    ));
    if !errors.is_empty() {
        printer.warn(&format!(
            "{} read(s) were refused or failed; the archive's {ERRORS} lists them",
            errors.len()
        ));
    }
    if truncated {
        printer.warn(&format!(
            "the archive reached --max-size; its {} lists the files left out",
            archive::TRUNCATED
        ));
    }
    Ok(())
}

/// `spec.yaml` (as `render --show-spec` prints it: the registry password is
/// never in it, and the archive masks every secret value) and `plan.txt`
/// (as `render --plan` prints it).
fn offline_files(
    spec: &Spec,
    manifests: &[Manifest],
    scope: Option<&str>,
) -> Result<Vec<File>, Error> {
    let plan = crate::pipeline::plan::build(manifests)?;
    let scope = scope.map(|s| parse_scope(s, spec)).transpose()?;
    Ok(vec![
        File::new(
            "spec.yaml",
            crate::pipeline::yaml::to_string(spec),
            Part::Summary,
        ),
        File::new(
            "plan.txt",
            crate::pipeline::plan::print(manifests, &plan, scope.as_ref()),
            Part::Summary,
        ),
    ])
}

/// `cnvrgctl-support-20261203T131500Z.tar.gz` in the current directory.
fn default_path(now: Timestamp) -> PathBuf {
    PathBuf::from(format!(
        "cnvrgctl-support-{}.tar.gz",
        now.strftime("%Y%m%dT%H%M%SZ")
    ))
}

/// The folder the archive's files are under: its name without `.tar.gz`.
fn folder(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = [".tar.gz", ".tgz"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext))
        .unwrap_or(&name);
    match stem {
        "" => "cnvrgctl-support".to_string(),
        stem => stem.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_archive_is_named_by_the_time_and_holds_one_folder() {
        let now: Timestamp = "2026-12-03T13:15:00Z".parse().unwrap();
        assert_eq!(
            default_path(now),
            PathBuf::from("cnvrgctl-support-20261203T131500Z.tar.gz")
        );
        assert_eq!(folder(Path::new("tmp/x.tar.gz")), "x");
        assert_eq!(folder(Path::new("bundle.tgz")), "bundle");
        assert_eq!(folder(Path::new("out")), "out");
    }
}
