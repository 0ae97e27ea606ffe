//! `cnvrgctl import`: reads the operators' custom resources (files or the
//! cluster), maps them (`pipeline::import`), checks the result exactly as
//! `validate` checks a spec, and only then writes `cluster.yaml` and
//! `tenants/NAME.yaml`, refusing to replace files unless `--force`.

use std::path::{Path, PathBuf};

use super::session;
use crate::front::cli::{Global, ImportArgs, OutputFormat, SpecArgs};
use crate::front::error::Error;
use crate::front::ui::Printer;
use crate::pipeline::import::{ImportError, Imported, KINDS, Origin, Problem, Resource};
use crate::pipeline::output::WriteError;

pub(super) fn import(printer: &Printer, global: &Global, args: ImportArgs) -> Result<(), Error> {
    let resources = match args.from_cluster {
        true => {
            let runtime = session::runtime()?;
            runtime.block_on(from_cluster(printer, global))?
        }
        false => from_files(&args.files)?,
    };
    let imported = crate::pipeline::import::import(&resources)?;
    let files = files(&args.out, &imported);
    check(printer, &files)?;
    if !args.force {
        let existing: Vec<PathBuf> = files
            .iter()
            .map(|f| f.0.clone())
            .filter(|p| p.exists())
            .collect();
        if !existing.is_empty() {
            return Err(WriteError::Exists(existing).into());
        }
    }
    for (path, text) in &files {
        write(path, text)?;
    }
    report(printer, global.output, &files, &imported)
}

fn from_files(paths: &[PathBuf]) -> Result<Vec<Resource>, Error> {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Usage(format!("cannot read {}: {e}", path.display())))?;
        match crate::pipeline::import::from_text(path, &text) {
            Ok(resources) => found.extend(resources),
            Err(p) => problems.extend(p),
        }
    }
    match problems.is_empty() {
        true => Ok(found),
        false => Err(ImportError { problems }.into()),
    }
}

/// Every resource of the three kinds, cluster-wide; a kind the cluster does
/// not serve (its CRD is not installed) has none.
async fn from_cluster(printer: &Printer, global: &Global) -> Result<Vec<Resource>, Error> {
    let cluster = session::connect(global).await?;
    let mut found = Vec::new();
    let mut problems: Vec<Problem> = Vec::new();
    for (_, api_version, kind) in KINDS {
        let Some(resource) = cluster.resource(api_version, kind).await? else {
            continue;
        };
        for object in cluster.list(&resource, None, None).await? {
            match crate::pipeline::import::from_object(object, Origin::Cluster) {
                Ok(r) => found.push(r),
                Err(p) => problems.push(p),
            }
        }
    }
    session::requests(printer, global, &cluster);
    match problems.is_empty() {
        true => Ok(found),
        false => Err(ImportError { problems }.into()),
    }
}

/// The files to write: `cluster.yaml` first, then the tenants.
fn files(out: &Path, imported: &Imported) -> Vec<(PathBuf, String)> {
    std::iter::once((out.join("cluster.yaml"), imported.cluster.clone()))
        .chain(imported.tenant_files.iter().map(|(name, text)| {
            (
                out.join("tenants").join(format!("{name}.yaml")),
                text.clone(),
            )
        }))
        .collect()
}

/// Loads, renders and validates the files as `validate` would, before any
/// is written.
fn check(printer: &Printer, files: &[(PathBuf, String)]) -> Result<(), Error> {
    let (cluster_file, text) = files[0].clone();
    let spec = crate::pipeline::spec::load_from(&cluster_file, text, files[1..].to_vec())?;
    let args = SpecArgs {
        file: cluster_file,
        templates: None,
    };
    super::prepare_spec(printer, spec, &args, false)?;
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<(), Error> {
    let io = |source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    std::fs::write(path, text).map_err(io)?;
    Ok(())
}

fn report(
    printer: &Printer,
    format: OutputFormat,
    files: &[(PathBuf, String)],
    imported: &Imported,
) -> Result<(), Error> {
    if format == OutputFormat::Json {
        let json = serde_json::json!({
            "files": files.iter().map(|f| f.0.display().to_string()).collect::<Vec<_>>(),
            "resources": imported.tallies.iter().map(|t| serde_json::json!({
                "resource": t.resource, "mapped": t.mapped, "notImported": t.commented,
            })).collect::<Vec<_>>(),
            "notes": imported.notes,
        });
        printer.out(&(serde_json::to_string_pretty(&json).expect("serializes") + "\n"))?;
    } else {
        let names: Vec<String> = files.iter().map(|f| f.0.display().to_string()).collect();
        printer.info(&format!("wrote {}", names.join(", ")));
        for t in &imported.tallies {
            printer.info(&format!(
                "  {}: {} fields mapped, {} not imported",
                t.resource, t.mapped, t.commented
            ));
        }
    }
    let commented = imported.commented();
    if commented > 0 {
        printer.warn(&format!(
            "{commented} fields have no counterpart in the spec: they are written as `# not imported` comments where they would go"
        ));
    }
    for note in &imported.notes {
        printer.warn(note);
    }
    Ok(())
}
