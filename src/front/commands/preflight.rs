//! `cnvrgctl preflight`, and the same checks at the start of `apply`,
//! `install infra` and `tenant add` (before the change table; a failing check
//! stops the run before its first write, `--skip-preflight` skips them). The
//! checks are `engine::preflight`'s; this file prints them: a table and the
//! fixes for `preflight`, only what is not a pass for a run.

use std::borrow::Cow;
use std::collections::HashSet;

use super::prepare;
use super::session::{connect, requests, runtime, scopes};
use super::table::columns;
use crate::engine::kube::Cluster;
use crate::engine::preflight::{self, Level, Purpose, Report};
use crate::front::cli::{Global, OutputFormat, PreflightArgs};
use crate::front::error::Error;
use crate::front::ui::Printer;
use crate::pipeline::manifest::{Manifest, Scope};
use crate::pipeline::spec::Spec;

/// `cnvrgctl preflight`: exit 0 when nothing fails, 6 when a check fails.
pub fn preflight(printer: &Printer, global: &Global, args: PreflightArgs) -> Result<(), Error> {
    let (spec, manifests) = prepare(printer, &args.spec)?;
    let scopes = scopes(&spec, args.scope.as_deref())?;
    let report = runtime()?.block_on(async {
        let cluster = connect(global).await?;
        let report = run(&cluster, &spec, &manifests, &scopes, Purpose::Report).await?;
        requests(printer, global, &cluster);
        Ok::<_, Error>(report)
    })?;
    if global.output == OutputFormat::Json {
        printer.out(&(json(&report) + "\n"))?;
    } else {
        printer.out(&table(&report))?;
    }
    verdict(&report)
}

/// The checks for a run that writes: warnings and failures on stderr (JSON:
/// one `preflight` event on stdout), then the verdict.
pub(super) async fn before_run(
    printer: &Printer,
    global: &Global,
    cluster: &Cluster,
    spec: &Spec,
    manifests: &[Manifest],
    scopes: &[Scope],
) -> Result<(), Error> {
    let report = run(cluster, spec, manifests, scopes, Purpose::Run).await?;
    if global.output == OutputFormat::Json {
        let event = serde_json::json!({"event": "preflight", "checks": report.checks});
        printer.out(&(event.to_string() + "\n"))?;
    } else {
        for row in report.checks.iter().filter(|r| r.level != Level::Pass) {
            let line = format!(
                "preflight {}: {} {}: {}",
                row.level.as_str(),
                row.check,
                row.subject,
                row.detail
            );
            match &row.fix {
                Some(fix) => printer.info(&format!("{line}\n  fix: {fix}")),
                None => printer.info(&line),
            }
        }
        printer.info(&summary(&report));
    }
    verdict(&report)
}

async fn run(
    cluster: &Cluster,
    spec: &Spec,
    manifests: &[Manifest],
    scopes: &[Scope],
    purpose: Purpose,
) -> Result<Report, Error> {
    let selected: HashSet<&Scope> = scopes.iter().collect();
    let mine: Cow<[Manifest]> = if manifests.iter().all(|m| selected.contains(&m.origin.scope)) {
        Cow::Borrowed(manifests)
    } else {
        let picked = manifests
            .iter()
            .filter(|m| selected.contains(&m.origin.scope));
        Cow::Owned(picked.cloned().collect())
    };
    Ok(preflight::run(cluster, spec, &mine, purpose).await?)
}

/// Exit 6 naming what fails and its fix, when something fails.
fn verdict(report: &Report) -> Result<(), Error> {
    if !report.failed() {
        return Ok(());
    }
    let mut text = format!("{}; nothing was written", summary(report));
    for row in report.checks.iter().filter(|r| r.level == Level::Fail) {
        text.push_str(&format!(
            "\n  {} {}: {}",
            row.check, row.subject, row.detail
        ));
        if let Some(fix) = &row.fix {
            text.push_str(&format!("\n    fix: {fix}"));
        }
    }
    Err(Error::Preflight(text))
}

/// "preflight: 7 pass, 1 warn, 0 fail".
fn summary(report: &Report) -> String {
    let (pass, warn, fail) = report.counts();
    format!("preflight: {pass} pass, {warn} warn, {fail} fail")
}

/// The report as one JSON document (the README's schema).
fn json(report: &Report) -> String {
    serde_json::to_string(report).expect("the report serializes")
}

/// One row per finding, then what to change for each warn and fail.
fn table(report: &Report) -> String {
    let rows: Vec<[String; 4]> = report
        .checks
        .iter()
        .map(|r| {
            [
                r.check.to_owned(),
                r.level.as_str().to_owned(),
                r.subject.clone(),
                r.detail.clone(),
            ]
        })
        .collect();
    let mut text = columns(["CHECK", "RESULT", "SUBJECT", "DETAIL"], &rows);
    let fixes: Vec<String> = report
        .checks
        .iter()
        .filter_map(|r| {
            Some(format!(
                "  {} {}: {}\n",
                r.check,
                r.subject,
                r.fix.as_ref()?
            ))
        })
        .collect();
    if !fixes.is_empty() {
        text.push_str("\nWhat to change:\n");
        text.extend(fixes);
    }
    text.push_str(&format!("\n{}\n", summary(report)));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::preflight::Row;

    #[test]
    fn the_table_lists_every_row_then_the_fixes() {
        let report = Report {
            checks: vec![
                Row::pass("version", "v1.31.2", "Kubernetes v1.31.2"),
                Row::fail(
                    "storage",
                    "StatefulSet/ws/db",
                    "class gold is not on the cluster",
                    "set spec.storageClass",
                ),
            ],
        };
        let text = table(&report);
        assert!(text.starts_with("CHECK    RESULT  SUBJECT"), "{text}");
        assert!(
            text.contains("storage  fail    StatefulSet/ws/db  class gold"),
            "{text}"
        );
        assert!(
            text.contains("What to change:\n  storage StatefulSet/ws/db: set spec.storageClass\n"),
            "{text}"
        );
        assert!(
            text.ends_with("preflight: 1 pass, 0 warn, 1 fail\n"),
            "{text}"
        );
        let err = verdict(&report).unwrap_err().to_string();
        assert!(
            err.starts_with("preflight: 1 pass, 0 warn, 1 fail; nothing was written"),
            "{err}"
        );
    }
}
