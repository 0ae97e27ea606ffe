//! The executor over the plan (DESIGN §5–§7): read what is live
//! ([`observe`]), then walk the graph — an object starts only when everything
//! it waits for is applied and ready; independent objects run at once, with at
//! most `concurrency` writes in flight — apply each changed object with
//! server-side apply, wait for it ([`crate::wait`]), and once everything
//! converged prune the members that left the spec, in reverse order. A failed
//! object stops everything not yet started; so does an interrupt
//! ([`Options::stop`]), which lets writes in flight finish and ends the waits.
//! What happens is told to an
//! [`Observer`] as [`Event`]s; the terminal is not this module's business.

mod observe;
pub mod prepare;
mod remove;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::{OnceCell, Semaphore, watch};
use tokio::time::Instant;

pub use observe::{Observed, Prunable, Target, list_members, observe, scope_namespace};
pub use remove::{Removal, RemoveOptions, plan_removal, remove};

use crate::diff::Op;
use crate::kube::{Cluster, ClusterError, Propagation, Resource};
use crate::manifest::{Manifest, Scope};
use crate::plan::Plan;
use crate::wait::{Blocker, Outcome, Waiter};

/// How a run behaves (from the command line).
#[derive(Debug, Clone)]
pub struct Options {
    /// Writes in flight at once.
    pub concurrency: usize,
    /// Take over fields other managers own, and objects cnvrgctl did not create.
    pub force_conflicts: bool,
    /// Ask the server what a created object would look like (for `diff`).
    pub dry_run_creates: bool,
    /// Delete PersistentVolumeClaims that left the spec.
    pub prune_volumes: bool,
    /// Delete CRDs that left the spec.
    pub prune_crds: bool,
    /// Do not prune at all.
    pub no_prune: bool,
    /// Longest wait for one object.
    pub object_timeout: Duration,
    /// Longest the whole run may take.
    pub timeout: Duration,
    /// How long a fatal pod trouble (ImagePullBackOff...) may last before its
    /// workload counts as Failed.
    pub failure_grace: Duration,
    /// Set to `true` (Ctrl-C) to stop: nothing new starts, writes in flight
    /// finish, waits end, nothing is pruned; the run ends with
    /// [`Problem::Interrupted`].
    pub stop: Option<watch::Receiver<bool>>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            concurrency: 8,
            force_conflicts: false,
            dry_run_creates: false,
            prune_volumes: false,
            prune_crds: false,
            no_prune: false,
            object_timeout: Duration::from_secs(300),
            timeout: Duration::from_secs(900),
            failure_grace: Duration::from_secs(60),
            stop: None,
        }
    }
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    /// The cluster could not be read or written.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// Objects that cannot be applied as they stand (conflicts, foreign
    /// objects, kinds the cluster lacks); nothing was written.
    #[error("nothing was applied; {} object(s) cannot be applied:\n{}", .0.len(), .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Refused(Vec<String>),
    /// Objects failed or did not become ready in time.
    #[error("{}", report(.failed, .blockers, *.skipped))]
    NotReady {
        failed: Vec<String>,
        blockers: Vec<Blocker>,
        skipped: usize,
    },
    /// The run was told to stop ([`Options::stop`]).
    #[error("interrupted: {written} object(s) written before the stop, {not_started} not started{}; what was written stays, run the command again to continue", if .waiting.is_empty() { String::new() } else { format!("; not yet ready: {}", .waiting.join(", ")) })]
    Interrupted {
        /// Objects written during this run.
        written: usize,
        /// Objects whose wait the stop ended.
        waiting: Vec<String>,
        /// Objects not started.
        not_started: usize,
    },
}

/// A cluster error as one line for a list of problems, with the other field
/// managers of a conflict named.
pub fn describe(error: &ClusterError) -> String {
    match error {
        ClusterError::Api {
            object,
            code: 409,
            causes,
            message,
            ..
        } if !causes.is_empty() => {
            let fields: Vec<String> = causes
                .iter()
                .map(|c| format!("{} ({})", c.field, c.message))
                .collect();
            format!(
                "{object}: conflict with another field manager: {}; pass --force-conflicts to take these fields over",
                if fields.is_empty() {
                    message.clone()
                } else {
                    fields.join(", ")
                }
            )
        }
        other => other.to_string(),
    }
}

fn report(failed: &[String], blockers: &[Blocker], skipped: usize) -> String {
    let mut out = String::new();
    if failed.is_empty() {
        out.push_str(&format!(
            "timed out: {} object(s) not ready",
            blockers.len()
        ));
    } else {
        out.push_str(&format!("{} object(s) failed", failed.len()));
    }
    for b in blockers {
        // Cluster errors already name their object.
        let message = b
            .message
            .strip_prefix(&format!("{}: ", b.object))
            .unwrap_or(&b.message);
        out.push_str(&format!("\n  {}: {message}", b.object));
        for p in &b.pods {
            out.push_str(&format!("\n    pod {}: {}", p.pod, p.message));
        }
        for e in &b.events {
            out.push_str(&format!("\n    event: {e}"));
        }
    }
    if skipped > 0 {
        out.push_str(&format!(
            "\n{skipped} object(s) not started because of this; re-run to continue"
        ));
    }
    out
}

/// What the executor tells its observer.
#[derive(Debug, Clone)]
pub enum Event {
    /// An object is being written (create, update, replace).
    Applying {
        object: String,
        op: Op,
    },
    /// Waiting on an object; the sentence says for what.
    Waiting {
        object: String,
        why: String,
    },
    Ready {
        object: String,
        op: Op,
    },
    Failed {
        object: String,
        why: String,
    },
    Pruned {
        object: String,
    },
    /// Left the spec but stays (PVCs, CRDs without the flag).
    Kept {
        object: String,
        why: String,
    },
}

/// Hears what the executor does (the terminal UI, or nothing).
pub trait Observer: Sync {
    fn event(&self, event: Event);
}

/// What a run did.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub created: usize,
    pub updated: usize,
    pub replaced: usize,
    pub unchanged: usize,
    pub pruned: usize,
    pub kept: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Done,
    Failed,
    Skipped,
}

/// Applies what `observed` says, in plan order, waits, then prunes.
pub async fn run(
    cluster: Arc<Cluster>,
    manifests: &[Manifest],
    plan: &Plan,
    observed: &Observed,
    options: &Options,
    observer: &dyn Observer,
) -> Result<Summary, Problem> {
    let started = Instant::now();
    let deadline = started + options.timeout;
    let waiter = Waiter::new(cluster.clone(), options.failure_grace);
    let writes = Semaphore::new(options.concurrency.max(1));
    // Set when an object fails: nothing new starts, waits in flight end.
    let (stopped_tx, stopped_rx) = watch::channel(false);
    let mut states: Vec<(watch::Sender<State>, watch::Receiver<State>)> = (0..manifests.len())
        .map(|_| watch::channel(State::Pending))
        .collect();
    // Objects outside this run count as done (their readiness is checked as targets).
    let targeted: BTreeSet<usize> = observed.targets.iter().map(|t| t.index).collect();
    for (i, (tx, _)) in states.iter_mut().enumerate() {
        if !targeted.contains(&i) {
            tx.send_replace(State::Done);
        }
    }
    let receivers: Vec<watch::Receiver<State>> = states.iter().map(|(_, rx)| rx.clone()).collect();
    let parents: Vec<(Scope, OnceCell<BTreeSet<String>>)> = observed
        .inventories
        .iter()
        .map(|inv| (inv.set.scope.clone(), OnceCell::new()))
        .collect();

    let ctx = Ctx {
        cluster: &cluster,
        manifests,
        observed,
        options,
        observer,
        waiter: &waiter,
        writes: &writes,
        parents: &parents,
        deadline,
        written: std::sync::Mutex::new(0),
        waiting: std::sync::Mutex::new(Vec::new()),
    };
    let mut running: FuturesUnordered<_> = observed
        .targets
        .iter()
        .map(|target| {
            let deps: Vec<watch::Receiver<State>> = plan.steps[target.index]
                .after
                .iter()
                .map(|&d| receivers[d].clone())
                .collect();
            let tx = &states[target.index].0;
            let ctx = &ctx;
            let stopped_tx = &stopped_tx;
            let mut stopped = stopped_rx.clone();
            async move {
                let result = async {
                    for mut dep in deps {
                        let state = dep
                            .wait_for(|s| *s != State::Pending)
                            .await
                            .map(|s| *s)
                            .unwrap_or(State::Skipped);
                        if state != State::Done {
                            return (State::Skipped, None);
                        }
                    }
                    if *stopped.borrow() || ctx.interrupted() {
                        return (State::Skipped, None);
                    }
                    tokio::select! {
                        outcome = ctx.step(target) => outcome,
                        _ = stopped.wait_for(|s| *s) => (State::Skipped, None),
                    }
                }
                .await;
                if result.0 == State::Failed {
                    stopped_tx.send_replace(true);
                }
                tx.send_replace(result.0);
                (target, result)
            }
        })
        .collect();

    let mut summary = Summary::default();
    let mut failed = Vec::new();
    let mut stuck = Vec::new();
    let mut skipped = 0;
    while let Some((target, (state, why))) = running.next().await {
        match state {
            State::Done => match target.change.op {
                Op::Create => summary.created += 1,
                Op::Update => summary.updated += 1,
                Op::Replace => summary.replaced += 1,
                _ => summary.unchanged += 1,
            },
            State::Failed => {
                let why = why.unwrap_or_default();
                if let Some(resource) = resolved(&cluster, target).await {
                    stuck.push((
                        resource,
                        target.body["metadata"]["namespace"]
                            .as_str()
                            .map(str::to_string),
                        target.change.name.clone(),
                        why.clone(),
                    ));
                }
                failed.push(target.change.id());
            }
            State::Skipped => skipped += 1,
            State::Pending => unreachable!("a finished step is not pending"),
        }
    }
    drop(running);
    if ctx.interrupted() && failed.is_empty() {
        let waiting = ctx.waiting.into_inner().expect("not poisoned");
        return Err(Problem::Interrupted {
            written: ctx.written.into_inner().expect("not poisoned"),
            not_started: skipped - waiting.len(),
            waiting,
        });
    }
    if !failed.is_empty() || !stuck.is_empty() {
        let blockers = waiter.blockers(&stuck).await;
        // Timeouts are not failures of the object itself.
        let failed = failed
            .into_iter()
            .filter(|id| {
                blockers
                    .iter()
                    .any(|b| &b.object == id && !b.message.starts_with("timed out"))
            })
            .collect();
        return Err(Problem::NotReady {
            failed,
            blockers,
            skipped,
        });
    }

    if !options.no_prune {
        remove::delete_in_order(
            &cluster,
            &observed.prune,
            options.object_timeout,
            observer,
            &waiter,
            deadline,
            &mut summary,
        )
        .await?;
    }
    // The inventories now list exactly what is there.
    for (inv, (_, written)) in observed.inventories.iter().zip(&parents) {
        let (kinds, namespaces) = members_of(manifests, observed, &inv.set.scope);
        let current = written.get().unwrap_or(&inv.live_kinds);
        if *current != kinds || (!inv.exists && written.get().is_none()) {
            apply_parent(&cluster, &inv.set, &kinds, &namespaces).await?;
        }
    }
    Ok(summary)
}

/// What one step needs, shared by all steps.
struct Ctx<'a> {
    cluster: &'a Arc<Cluster>,
    manifests: &'a [Manifest],
    observed: &'a Observed,
    options: &'a Options,
    observer: &'a dyn Observer,
    waiter: &'a Waiter,
    writes: &'a Semaphore,
    /// Per scope, the kinds its parent was written with during this run.
    parents: &'a [(Scope, OnceCell<BTreeSet<String>>)],
    deadline: Instant,
    /// Objects written so far, and those whose wait a stop ended (for the
    /// report of an interrupted run).
    written: std::sync::Mutex<usize>,
    waiting: std::sync::Mutex<Vec<String>>,
}

impl Ctx<'_> {
    /// Whether the run was told to stop.
    fn interrupted(&self) -> bool {
        self.options.stop.as_ref().is_some_and(|s| *s.borrow())
    }

    /// `wait`, unless the run is told to stop first (then `None`). Writes are
    /// never cut short this way, only waits.
    async fn unless_stopped<T>(&self, wait: impl std::future::Future<Output = T>) -> Option<T> {
        match &self.options.stop {
            None => Some(wait.await),
            Some(stop) => {
                let mut stop = stop.clone();
                tokio::select! {
                    done = wait => Some(done),
                    _ = stop.wait_for(|s| *s) => None,
                }
            }
        }
    }

    /// Applies one object if it changed, then waits for it.
    async fn step(&self, target: &Target) -> (State, Option<String>) {
        let id = target.change.id();
        let fail = |why: String| {
            self.observer.event(Event::Failed {
                object: id.clone(),
                why: why.clone(),
            });
            (State::Failed, Some(why))
        };
        let resource = match &target.resource {
            Some(r) => r.clone(),
            None => match self.unless_stopped(self.discover(target)).await {
                Some(Ok(r)) => r,
                Some(Err(why)) => return fail(why),
                None => return (State::Skipped, None),
            },
        };
        let namespace = target.body["metadata"]["namespace"].as_str();
        // Unchanged and already ready: nothing to do, no request.
        if target.change.op == Op::Unchanged
            && !target.refresh
            && let Some(live) = &target.live
            && self.waiter.check(live).await.is_ready()
        {
            self.observer.event(Event::Ready {
                object: id,
                op: Op::Unchanged,
            });
            return (State::Done, None);
        }
        if target.change.op != Op::Unchanged || target.refresh {
            if let Err(e) = self.ensure_parent(target, &resource).await {
                return fail(describe(&e));
            }
            let _permit = self.writes.acquire().await.expect("never closed");
            self.observer.event(Event::Applying {
                object: id.clone(),
                op: target.change.op,
            });
            if target.change.op == Op::Replace {
                let gone_by = Instant::now() + self.options.object_timeout;
                if let Err(e) = self
                    .cluster
                    .delete(
                        &resource,
                        namespace,
                        &target.change.name,
                        Propagation::Foreground,
                    )
                    .await
                {
                    return fail(describe(&e));
                }
                let gone = self.waiter.until_gone(
                    &resource,
                    namespace,
                    &target.change.name,
                    gone_by.min(self.deadline),
                );
                let Some(gone) = self.unless_stopped(gone).await else {
                    return (State::Skipped, None);
                };
                if !gone {
                    return fail(
                        "timed out waiting for the old object to be deleted before re-creating it"
                            .into(),
                    );
                }
            }
            if let Err(e) = self
                .cluster
                .apply(&resource, &target.body, false, self.options.force_conflicts)
                .await
            {
                return fail(describe(&e));
            }
            *self.written.lock().expect("not poisoned") += 1;
        }
        let deadline = (Instant::now() + self.options.object_timeout).min(self.deadline);
        let progress = |why: &str| {
            self.observer.event(Event::Waiting {
                object: id.clone(),
                why: why.to_string(),
            });
        };
        let wait = self.waiter.until_ready(
            &resource,
            namespace,
            &target.change.name,
            deadline,
            &progress,
        );
        let Some(outcome) = self.unless_stopped(wait).await else {
            self.waiting.lock().expect("not poisoned").push(id);
            return (State::Skipped, None);
        };
        match outcome {
            Outcome::Ready => {
                self.observer.event(Event::Ready {
                    object: id,
                    op: target.change.op,
                });
                (State::Done, None)
            }
            Outcome::Failed(why) => fail(why),
            Outcome::TimedOut(last) => {
                let why = if last.is_empty() { "not ready" } else { &last };
                fail(format!("timed out: {why}"))
            }
        }
    }

    /// The kind of a custom resource whose CRD this run just established:
    /// discovery lags `Established`, so ask again (with backoff) until it is
    /// served or the object's time is up.
    async fn discover(&self, target: &Target) -> Result<Resource, String> {
        let m = &self.manifests[target.index];
        let until = (Instant::now() + self.options.object_timeout).min(self.deadline);
        let mut delay = Duration::from_millis(50);
        loop {
            match self.cluster.rediscover(m.api_version(), m.kind()).await {
                Ok(Some(r)) => return Ok(r),
                Ok(None) if Instant::now() + delay < until => {
                    self.observer.event(Event::Waiting {
                        object: target.change.id(),
                        why: format!(
                            "waiting for the API server to serve {} {}",
                            m.api_version(),
                            m.kind()
                        ),
                    });
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
                Ok(None) => {
                    return Err(format!(
                        "the cluster still does not serve {} {} although its CRD is established",
                        m.api_version(),
                        m.kind()
                    ));
                }
                Err(e) => return Err(describe(&e)),
            }
        }
    }

    /// Writes the scope's ApplySet parent (listing every kind it has had and
    /// will have) before its first namespaced member is written, so an
    /// interrupted run still knows what to prune.
    async fn ensure_parent(
        &self,
        target: &Target,
        resource: &Resource,
    ) -> Result<(), ClusterError> {
        if !resource.namespaced {
            return Ok(());
        }
        let Some((_, cell)) = self.parents.iter().find(|(s, _)| *s == target.change.scope) else {
            return Ok(());
        };
        let inv = self
            .observed
            .inventories
            .iter()
            .find(|inv| inv.set.scope == target.change.scope)
            .expect("a parent per inventory");
        cell.get_or_try_init(|| async {
            let (mut kinds, namespaces) = members_of(self.manifests, self.observed, &inv.set.scope);
            kinds.extend(inv.live_kinds.iter().cloned());
            apply_parent(self.cluster, &inv.set, &kinds, &namespaces).await?;
            Ok(kinds)
        })
        .await
        .map(|_| ())
    }
}

/// A target's resource, discovering it if it had none yet.
async fn resolved(cluster: &Cluster, target: &Target) -> Option<Resource> {
    match &target.resource {
        Some(r) => Some(r.clone()),
        None => {
            let api_version = target.body["apiVersion"].as_str()?;
            let kind = target.body["kind"].as_str()?;
            cluster.resource(api_version, kind).await.ok().flatten()
        }
    }
}

/// `Kind.group` and namespaces of a scope's members after this run: the
/// desired ones and those kept although they left the spec (so a later run
/// with `--prune-volumes` still finds them).
fn members_of(
    manifests: &[Manifest],
    observed: &Observed,
    scope: &Scope,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut kinds = BTreeSet::new();
    let mut namespaces = BTreeSet::new();
    for t in observed
        .targets
        .iter()
        .filter(|t| !t.external && &t.change.scope == scope)
    {
        let m = &manifests[t.index];
        let group = m.group();
        kinds.insert(if group.is_empty() {
            m.kind().to_string()
        } else {
            format!("{}.{group}", m.kind())
        });
        if let Some(ns) = m.namespace() {
            namespaces.insert(ns.to_string());
        }
    }
    for p in observed
        .prune
        .iter()
        .filter(|p| p.kept.is_some() && &p.change.scope == scope)
    {
        kinds.insert(p.resource.group_kind());
        if let Some(ns) = &p.change.namespace {
            namespaces.insert(ns.clone());
        }
    }
    (kinds, namespaces)
}

async fn apply_parent(
    cluster: &Cluster,
    set: &crate::inventory::ApplySet,
    kinds: &BTreeSet<String>,
    namespaces: &BTreeSet<String>,
) -> Result<(), ClusterError> {
    let config_maps = cluster
        .resource("v1", crate::inventory::PARENT_KIND)
        .await?
        .expect("every cluster serves config maps");
    cluster
        .apply(&config_maps, &set.parent(kinds, namespaces), false, true)
        .await?;
    Ok(())
}
