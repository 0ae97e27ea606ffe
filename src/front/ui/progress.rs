//! What the engine is doing, as it happens, in the form the
//! [`Printer`](super::Printer) decided:
//! - **live** (stdout and stderr are terminals, text output): an overall bar per scope
//!   (objects ready of those this run handles) under a header with the
//!   elapsed time, and one line per object being written or waited on with
//!   its current reason ("1/2 replicas ready", "ImagePullBackOff: ..."),
//!   removed once it is ready; what finished is logged above the bars;
//! - **plain** (otherwise): one line per step, waiting
//!   messages printed only when they change, so a log shows why something is
//!   stuck without flooding;
//! - **json** (`--output json`): one JSON object per line on stdout, the
//!   schema the README documents;
//! - **silent** (`--quiet`): nothing; errors still reach stderr.
//!
//! It only formats events; the executor decides what happens.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use super::mode;
use crate::engine::apply::{Event, Observed, Observer, Summary};
use crate::engine::diff::Op;
use crate::engine::wait::Failure;
use crate::pipeline::redact::redact;

/// Prints engine events.
pub struct Progress {
    started: Instant,
    /// Scope of every object this run handles, by id.
    scope_of: HashMap<String, String>,
    form: Form,
}

enum Form {
    Json,
    Plain,
    Live(Live),
    Silent,
}

/// The indicatif side: the header, a bar per scope, a line per busy object.
struct Live {
    multi: MultiProgress,
    header: ProgressBar,
    scopes: HashMap<String, ProgressBar>,
    busy: Mutex<HashMap<String, ProgressBar>>,
}

impl Progress {
    /// Events in the form the printer decided; with `observed`, the run it
    /// describes gets a bar per scope.
    pub(super) fn new(mode: mode::Progress, observed: Option<&Observed>) -> Progress {
        let scope_of: HashMap<String, String> = observed
            .into_iter()
            .flat_map(|o| &o.targets)
            .filter(|t| !t.external)
            .map(|t| (t.change.id(), t.change.scope.to_string()))
            .collect();
        let form = match mode {
            mode::Progress::Json => Form::Json,
            mode::Progress::Plain => Form::Plain,
            mode::Progress::Live => Form::Live(Live::new(&scope_of)),
            mode::Progress::Silent => Form::Silent,
        };
        Progress {
            started: Instant::now(),
            scope_of,
            form,
        }
    }

    /// The line that ends every run: its critical path (in JSON, `done`
    /// carries it instead).
    pub fn critical(&self, line: &str) {
        match &self.form {
            Form::Plain | Form::Live(_) => eprintln!("{}", redact(line)),
            Form::Json | Form::Silent => {}
        }
    }

    /// What the run did; in JSON with its critical path.
    pub fn done(&self, summary: &Summary, critical_path: &serde_json::Value) {
        match &self.form {
            Form::Json => {
                let done = json!({
                    "event": "done",
                    "created": summary.created,
                    "updated": summary.updated,
                    "replaced": summary.replaced,
                    "unchanged": summary.unchanged,
                    "pruned": summary.pruned,
                    "kept": summary.kept,
                    "criticalPath": critical_path,
                });
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{done}");
            }
            Form::Plain | Form::Live(_) => eprintln!(
                "done: {} created, {} updated, {} replaced, {} unchanged, {} pruned{}",
                summary.created,
                summary.updated,
                summary.replaced,
                summary.unchanged,
                summary.pruned,
                if summary.kept > 0 {
                    format!(", {} kept", summary.kept)
                } else {
                    String::new()
                }
            ),
            Form::Silent => {}
        }
    }

    /// A message between events (an interrupt, say).
    pub fn note(&self, text: &str) {
        match &self.form {
            Form::Json => self.json("note", None, Some(text), None),
            Form::Plain => eprintln!("{}", redact(text)),
            Form::Live(live) => live.log(text),
            Form::Silent => {}
        }
    }

    /// Removes the live lines; the log above them stays.
    pub fn finish(&self) {
        if let Form::Live(live) = &self.form {
            live.finish();
        }
    }

    fn json(
        &self,
        what: &str,
        object: Option<&str>,
        detail: Option<&str>,
        failure: Option<Failure>,
    ) {
        let mut event = json!({
            "event": what,
            "elapsedMs": self.started.elapsed().as_millis() as u64,
        });
        if let Some(object) = object {
            event["object"] = object.into();
            if let Some(scope) = self.scope_of.get(object) {
                event["scope"] = scope.as_str().into();
            }
        }
        if let Some(detail) = detail {
            event["detail"] = detail.into();
        }
        if let Some(failure) = failure {
            event["outcome"] = failure.as_str().into();
        }
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", redact(&event.to_string()));
    }

    /// A phase mark: a JSON event, nothing in the other forms.
    fn mark(&self, what: &str, object: &str) {
        if let Form::Json = self.form {
            self.json(what, Some(object), None, None);
        }
    }

    /// One event in the json or plain form; a failure says how in JSON.
    fn line(&self, what: &str, object: &str, detail: Option<&str>, failure: Option<Failure>) {
        match self.form {
            Form::Json => return self.json(what, Some(object), detail, failure),
            Form::Silent => return,
            Form::Plain | Form::Live(_) => {}
        }
        let elapsed = self.started.elapsed().as_secs_f32();
        match detail {
            Some(d) => eprintln!("[{elapsed:6.1}s] {what:<8} {object}: {}", redact(d)),
            None => eprintln!("[{elapsed:6.1}s] {what:<8} {object}"),
        }
    }
}

impl Observer for Progress {
    fn event(&self, event: Event) {
        if let Form::Live(live) = &self.form {
            return live.event(event, &self.scope_of);
        }
        match event {
            // Phase marks for the timings: JSON only, a log does not need them.
            Event::Unblocked { object } => self.mark("unblocked", &object),
            Event::Written { object } => self.mark("written", &object),
            Event::Applying { object, op } => self.line(op.as_str(), &object, None, None),
            Event::Waiting { object, why } => self.line("waiting", &object, Some(&why), None),
            Event::Ready { object, .. } => self.line("ready", &object, None, None),
            // The full story (log tails, events) comes with the final report.
            Event::Failed {
                object,
                why,
                failure,
            } => self.line("failed", &object, why.lines().next(), Some(failure)),
            Event::Pruned { object } => self.line("pruned", &object, None, None),
            Event::Kept { object, why } => self.line("kept", &object, Some(&why), None),
        }
    }
}

/// How often the header redraws its elapsed time.
const TICK: Duration = Duration::from_millis(200);

impl Live {
    fn new(scope_of: &HashMap<String, String>) -> Live {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let header = multi.add(ProgressBar::new_spinner());
        header.set_style(
            ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}").expect("a valid template"),
        );
        header.set_message("working");
        header.enable_steady_tick(TICK);
        let mut totals: Vec<(&str, u64)> = Vec::new();
        for scope in scope_of.values() {
            match totals.iter_mut().find(|(s, _)| s == scope) {
                Some((_, n)) => *n += 1,
                None => totals.push((scope, 1)),
            }
        }
        totals.sort();
        let width = totals.iter().map(|(s, _)| s.len()).max().unwrap_or(0);
        let style = ProgressStyle::with_template(&format!(
            "  {{prefix:<{width}}} [{{bar:30}}] {{pos}}/{{len}} ready"
        ))
        .expect("a valid template")
        .progress_chars("=> ");
        let scopes = totals
            .into_iter()
            .map(|(scope, total)| {
                let bar = multi.add(ProgressBar::new(total));
                bar.set_style(style.clone());
                bar.set_prefix(scope.to_string());
                (scope.to_string(), bar)
            })
            .collect();
        Live {
            multi,
            header,
            scopes,
            busy: Mutex::new(HashMap::new()),
        }
    }

    fn log(&self, text: &str) {
        let _ = self.multi.println(redact(text));
    }

    /// The line of a busy object, made on first use.
    fn busy(&self, object: &str, text: String) {
        let mut busy = self.busy.lock().expect("not poisoned");
        let bar = busy.entry(object.to_string()).or_insert_with(|| {
            let bar = self.multi.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("    {prefix}: {wide_msg}").expect("a valid template"),
            );
            bar.set_prefix(object.to_string());
            bar
        });
        bar.set_message(redact(&text).into_owned());
        let busy = busy.len();
        self.header_count(busy);
    }

    /// The header says how many objects are in progress.
    fn header_count(&self, busy: usize) {
        self.header.set_message(if busy == 0 {
            "working".to_string()
        } else {
            format!("{busy} object(s) in progress")
        });
    }

    /// The object is done: its line goes, its scope's bar moves.
    fn done(&self, object: &str, scope_of: &HashMap<String, String>) {
        if let Some(bar) = self.busy.lock().expect("not poisoned").remove(object) {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        if let Some(bar) = scope_of.get(object).and_then(|s| self.scopes.get(s)) {
            bar.inc(1);
        }
        let busy = self.busy.lock().expect("not poisoned").len();
        self.header_count(busy);
    }

    fn event(&self, event: Event, scope_of: &HashMap<String, String>) {
        match event {
            Event::Unblocked { .. } | Event::Written { .. } => {}
            Event::Applying { object, op } => self.busy(&object, format!("{}...", op.as_str())),
            Event::Waiting { object, why } => self.busy(&object, why),
            Event::Ready { object, op } => {
                if op != Op::Unchanged {
                    self.log(&format!("ready    {object} ({})", op.as_str()));
                }
                self.done(&object, scope_of);
            }
            Event::Failed { object, why, .. } => {
                self.log(&format!(
                    "failed   {object}: {}",
                    why.lines().next().unwrap_or_default()
                ));
                self.done(&object, scope_of);
            }
            Event::Pruned { object } => self.log(&format!("pruned   {object}")),
            Event::Kept { object, why } => self.log(&format!("kept     {object}: {why}")),
        }
    }

    fn finish(&self) {
        for (_, bar) in self.busy.lock().expect("not poisoned").drain() {
            bar.finish_and_clear();
        }
        for bar in self.scopes.values() {
            bar.abandon();
        }
        self.header.set_style(
            ProgressStyle::with_template("  {elapsed:>4} {msg}").expect("a valid template"),
        );
        self.header.finish_with_message("elapsed");
    }
}
