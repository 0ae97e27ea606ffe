//! The commands that talk to a cluster: `diff`, `apply` and `install infra`.
//! Each prepares the objects (spec → render → validate → plan, as `render`
//! does), connects, observes what is live, and then prints the changes or
//! executes them. The engine itself is in `apply`, `wait` and `kube`.

use std::sync::Arc;

use super::prepare_with;
use super::session::{connect, requests, runtime, scopes};
use crate::engine::apply::{self, Options, Problem};
use crate::engine::diff::{self, Op};
use crate::engine::kube::Cluster;
use crate::engine::timings::{self, Recorder};
use crate::front::cli::{DiffArgs, ExecArgs, Global, OutputFormat};
use crate::front::error::Error;
use crate::front::ui::Printer;
use crate::pipeline::manifest::Scope;
use crate::pipeline::output::WriteError;
use crate::pipeline::spec::Spec;

/// `cnvrgctl diff`: exit 0 when nothing would change, 1 when something would.
pub fn diff(printer: &Printer, global: &Global, args: DiffArgs) -> Result<(), Error> {
    let (spec, manifests) = prepare_with(printer, &args.spec, true)?;
    let plan = crate::pipeline::plan::build(&manifests)?;
    let scopes = scopes(&spec, args.scope.as_deref())?;
    let options = Options {
        dry_run_creates: true,
        adopt: args.adopt,
        recreate_statefulsets: args.recreate_statefulsets,
        ..Options::default()
    };
    let (observed, adoption) = runtime()?.block_on(async {
        let cluster = connect(global).await?;
        let observed = apply::observe(&cluster, &manifests, &plan, &scopes, &options).await;
        let adoption = match &observed {
            Ok(o) if args.adopt => {
                Some(super::adopt::survey(&cluster, &manifests, &scopes, o).await?)
            }
            _ => None,
        };
        requests(printer, global, &cluster);
        Ok::<_, Error>((observed?, adoption))
    })?;
    let mut changes = observed.changes();
    if args.show_secrets {
        crate::pipeline::redact::reveal();
    } else {
        changes.iter_mut().for_each(diff::mask_secrets);
    }
    let changed: Vec<&diff::Change> = changes.iter().filter(|c| c.op != Op::Unchanged).collect();
    match global.output {
        OutputFormat::Json => {
            let changed = serde_json::to_value(&changed).expect("changes serialize");
            let document = match &adoption {
                Some(a) => {
                    serde_json::json!({"changes": changed, "adoption": super::adopt_json::adoption(a)})
                }
                None => changed,
            };
            let text = serde_json::to_string_pretty(&document).expect("JSON prints");
            printer.out(&(text + "\n"))?;
        }
        // A graph format is refused in `run`.
        OutputFormat::Text | OutputFormat::Dot | OutputFormat::Mermaid => {
            printer.lines(&diff::summary(&changes))?;
            for change in &changed {
                printer.lines(&diff::hunks(change, args.unified))?;
            }
            if let Some(adoption) = &adoption {
                super::adopt::show(printer, adoption)?;
                super::adopt::show_way_out(printer, adoption, false)?;
            }
            for p in observed.prune.iter().filter(|p| p.kept.is_some()) {
                printer.info(&format!(
                    "kept (not pruned): {}: {}",
                    p.change.id(),
                    p.kept.unwrap_or_default()
                ));
            }
        }
    }
    if observed.has_changes() {
        return Err(Error::Changes);
    }
    Ok(())
}

/// `cnvrgctl apply` and `cnvrgctl install infra`.
pub fn apply(
    printer: &Printer,
    global: &Global,
    scope: Option<&str>,
    args: ExecArgs,
) -> Result<(), Error> {
    let (spec, manifests) = prepare_with(printer, &args.spec, true)?;
    let scopes = scopes(&spec, scope)?;
    runtime()?.block_on(async {
        let cluster = connect(global).await?;
        converge(
            printer,
            global,
            &cluster,
            (&spec, &manifests),
            &scopes,
            &args,
            |_| Ok(()),
        )
        .await
    })
}

/// The options of a run from the command line.
pub(super) fn options(global: &Global, args: &ExecArgs) -> Options {
    Options {
        concurrency: usize::from(args.concurrency),
        force_conflicts: args.force_conflicts,
        adopt: args.adopt,
        recreate_statefulsets: args.recreate_statefulsets,
        dry_run_creates: false,
        prune_volumes: args.prune_volumes,
        prune_crds: args.prune_crds,
        no_prune: args.no_prune,
        object_timeout: args.object_timeout,
        timeout: global.timeout,
        failure_grace: args.failure_grace,
        stop: None,
    }
}

/// Runs the preflight checks (unless skipped: a failing one stops the run
/// here), observes `scopes`, shows the changes, refuses fields other managers own
/// (unless forced: nothing is written), asks, runs `before_writing` (once
/// the user said yes, before any write), applies and waits. The first Ctrl-C
/// stops starting new work and lets writes in flight finish; a second one
/// quits at once.
pub(super) async fn converge(
    printer: &Printer,
    global: &Global,
    cluster: &Arc<Cluster>,
    (spec, manifests): (&Spec, &[crate::pipeline::manifest::Manifest]),
    scopes: &[Scope],
    args: &ExecArgs,
    before_writing: impl FnOnce(&Printer) -> Result<(), Error>,
) -> Result<(), Error> {
    if !args.skip_preflight {
        super::preflight::before_run(printer, global, cluster, spec, manifests, scopes).await?;
    }
    let plan = crate::pipeline::plan::build(manifests)?;
    let mut options = options(global, args);
    let mode = printer.mode();
    let json = mode.progress == crate::front::ui::ProgressMode::Json;
    let observed = apply::observe(cluster, manifests, &plan, scopes, &options).await?;
    let adoption = match args.adopt {
        true => Some(super::adopt::survey(cluster, manifests, scopes, &observed).await?),
        false => None,
    };
    match (&adoption, json) {
        (Some(adoption), false) => super::adopt::show(printer, adoption)?,
        (Some(adoption), true) => {
            let mut event = super::adopt_json::adoption(adoption);
            event["event"] = "adoption".into();
            printer.out(&(event.to_string() + "\n"))?;
        }
        (None, _) => {}
    }
    if let Some(refusal) = adoption
        .as_ref()
        .map(|a| a.refusal(args.move_unreadable_data))
        .filter(|r| !r.is_empty())
    {
        return Err(Problem::Refused(refusal).into());
    }
    let changes = observed.changes();
    let conflicts = observed.conflicts();
    if observed.has_changes() {
        // The table is what a question (or a refusal) is about; `--quiet
        // --yes` asks nothing.
        if !json && (mode.status || !global.yes) {
            printer.lines(&diff::summary(&changes))?;
        }
        if !conflicts.is_empty() {
            return Err(Problem::Refused(conflicts).into());
        }
        let question = format!("Apply these changes to {}?", cluster.server());
        super::confirm(printer, global, &question, "nothing applied")?;
    } else if !json {
        printer.info(&format!(
            "no changes ({} objects); checking readiness",
            changes.len()
        ));
    }
    before_writing(printer)?;
    if let Some(adoption) = &adoption {
        crate::engine::adopt::release_claims(cluster, &adoption.leftovers.claims).await?;
        super::adopt::move_claims(printer, cluster, adoption, options.object_timeout, json).await?;
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    options.stop = Some(stopped);
    let progress = printer.progress_for(&observed);
    let before = cluster.requests().total();
    let recorder = Recorder::new(&progress, &observed);
    let run = apply::run(
        cluster.clone(),
        manifests,
        &plan,
        &observed,
        &options,
        &recorder,
    );
    tokio::pin!(run);
    let outcome = tokio::select! {
        outcome = &mut run => outcome,
        _ = tokio::signal::ctrl_c() => {
            stop.send_replace(true);
            progress.note("interrupted: letting writes in flight finish (Ctrl-C again to quit at once)");
            tokio::select! {
                outcome = &mut run => outcome,
                _ = tokio::signal::ctrl_c() => {
                    progress.finish();
                    requests(printer, global, cluster);
                    return Err(Error::Interrupted(None));
                }
            }
        }
    };
    progress.finish();
    requests(printer, global, cluster);
    let after = plan.steps.iter().map(|s| s.after.clone()).collect();
    let requests = cluster.requests().total() - before;
    let timings = recorder.timings(after, requests, parameters(cluster, &options));
    let critical = timings::critical(&timings);
    let report = args
        .timings
        .as_deref()
        .map(|path| write_report(printer, path, &timings, &critical));
    if let Ok(summary) = &outcome {
        progress.done(summary, &critical.json(&timings.rows));
    }
    progress.critical(&critical.line(&timings.rows));
    match (outcome, report) {
        (Err(problem), Some(Err(e))) => {
            printer.warn(&e.to_string());
            Err(problem.into())
        }
        (outcome, report) => {
            report.transpose()?;
            outcome?;
            if let (Some(adoption), false) = (&adoption, json) {
                super::adopt::show_way_out(printer, adoption, true)?;
            }
            Ok(())
        }
    }
}

/// Writes the timings report to `path` and says so.
fn write_report(
    printer: &Printer,
    path: &std::path::Path,
    timings: &timings::Timings,
    critical: &timings::Critical,
) -> Result<(), Error> {
    let report = crate::pipeline::redact::redact(&timings::html(timings, critical)).into_owned();
    std::fs::write(path, report).map_err(|source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    printer.info(&format!("timings report written to {}", path.display()));
    Ok(())
}

/// The run's parameters, as the timings report lists them.
fn parameters(cluster: &Cluster, options: &Options) -> Vec<(String, String)> {
    let secs = |d: std::time::Duration| format!("{} s", d.as_secs());
    vec![
        ("API server".into(), cluster.server().to_string()),
        ("concurrency".into(), options.concurrency.to_string()),
        ("object timeout".into(), secs(options.object_timeout)),
        ("run timeout".into(), secs(options.timeout)),
        ("failure grace".into(), secs(options.failure_grace)),
    ]
}

impl From<Problem> for Error {
    fn from(problem: Problem) -> Error {
        match problem {
            Problem::NotReady { .. } => Error::NotReady(problem),
            Problem::Interrupted { .. } => Error::Interrupted(Some(problem)),
            other => Error::Cluster(other),
        }
    }
}
