//! The executor's stage transitions without a server: the stages act on a
//! fake [`Actions`] whose writes and waits end as each test scripts them,
//! and which logs what was asked of it, in order.

use std::collections::HashMap;
use std::sync::Mutex;

use kube::core::ApiResource;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::time::Instant;

use super::actions::{Actions, At, Progress, Served};
use super::execute::execute;
use super::observe::{Observed, Prunable, Target};
use super::{Event, Observer, Options, Problem, Summary};
use crate::engine::diff::{Change, Op};
use crate::engine::kube::{ClusterError, Propagation, Resource};
use crate::engine::readiness::Readiness;
use crate::engine::wait::{Blocker, Failure, Outcome, Stuck};
use crate::pipeline::manifest::{Manifest, Origin, Scope};

/// How the fake ends one object's wait.
#[derive(Debug, Clone, Copy, Default)]
enum Wait {
    #[default]
    Ready,
    Failed,
    TimedOut,
    /// Never ends by itself.
    Never,
}

/// What the fake does with one object (by name).
#[derive(Debug, Clone, Copy, Default)]
struct Script {
    /// The server refuses its write.
    refused: bool,
    /// Its write finishes only once the gate opens.
    held_write: bool,
    /// Its wait ends only once the gate opens.
    held_wait: bool,
    /// The old object (a replace) is gone only once the gate opens.
    held_gone: bool,
    /// The write returns it ready (a ConfigMap, a Namespace).
    ready_as_written: bool,
    wait: Wait,
}

/// A cluster that does as scripted and logs `apply NAME`, `wait NAME`,
/// `delete NAME`, `gone NAME UID`.
#[derive(Default)]
struct Fake {
    scripts: HashMap<String, Script>,
    log: Mutex<Vec<String>>,
    gate: watch::Sender<bool>,
}

impl Fake {
    fn with(scripts: &[(&str, Script)]) -> Fake {
        Fake {
            scripts: scripts
                .iter()
                .map(|(name, s)| (name.to_string(), *s))
                .collect(),
            ..Fake::default()
        }
    }

    fn script(&self, name: &str) -> Script {
        self.scripts.get(name).copied().unwrap_or_default()
    }

    fn note(&self, entry: String) {
        self.log.lock().unwrap().push(entry);
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    fn open_gate(&self) {
        self.gate.send_replace(true);
    }

    async fn gate(&self) {
        let _ = self.gate.subscribe().wait_for(|open| *open).await;
    }

    /// Returns once `entry` is in the log (the run goes on meanwhile).
    async fn until_logged(&self, entry: &str) {
        while !self.log().iter().any(|e| e == entry) {
            tokio::task::yield_now().await;
        }
    }
}

impl Actions for Fake {
    async fn served(&self, _: &str, kind: &str) -> Served {
        Ok(Some(resource(kind)))
    }

    async fn rediscover(&self, api_version: &str, kind: &str) -> Served {
        self.served(api_version, kind).await
    }

    async fn apply(&self, _: &Resource, body: &Value, _: bool) -> Result<Value, ClusterError> {
        let name = body["metadata"]["name"].as_str().unwrap().to_string();
        let script = self.script(&name);
        if script.held_write {
            self.gate().await;
        }
        if script.refused {
            return Err(ClusterError::Api {
                object: format!("ConfigMap/ns/{name}"),
                verb: "apply",
                code: 422,
                reason: "Invalid".into(),
                message: "refused".into(),
                causes: Vec::new(),
            });
        }
        self.note(format!("apply {name}"));
        let mut returned = body.clone();
        returned["status"]["ready"] = script.ready_as_written.into();
        Ok(returned)
    }

    async fn delete(&self, at: At<'_>, _: Propagation) -> Result<bool, ClusterError> {
        self.note(format!("delete {}", at.name));
        Ok(true)
    }

    async fn check(&self, live: &Value) -> Readiness {
        if live["status"]["ready"] == true {
            Readiness::Ready
        } else {
            Readiness::Progressing("starting".into())
        }
    }

    async fn until_ready(&self, at: At<'_>, _: Instant, progress: Progress<'_>) -> Outcome {
        self.note(format!("wait {}", at.name));
        let script = self.script(at.name);
        progress("0/1 replicas ready");
        if script.held_wait {
            self.gate().await;
        }
        match script.wait {
            Wait::Ready => Outcome::Ready,
            Wait::Failed => Outcome::Failed("ImagePullBackOff: web:1".into()),
            Wait::TimedOut => Outcome::TimedOut("0/1 replicas ready".into()),
            Wait::Never => std::future::pending().await,
        }
    }

    async fn until_gone(&self, at: At<'_>, uid: Option<&str>, _: Instant) -> bool {
        if self.script(at.name).held_gone {
            self.gate().await;
        }
        self.note(format!("gone {} {}", at.name, uid.unwrap_or("-")));
        true
    }

    async fn stop(&self, _: &Resource, _: &Value, _: Instant) -> Result<(), String> {
        Ok(())
    }

    async fn blockers(&self, stuck: &[Stuck]) -> Vec<Blocker> {
        stuck
            .iter()
            .map(|s| {
                let object = crate::engine::kube::id(&s.resource, s.namespace.as_deref(), &s.name);
                Blocker::new(object, s.failure, s.message.clone())
            })
            .collect()
    }
}

fn resource(kind: &str) -> Resource {
    Resource {
        api: ApiResource {
            group: String::new(),
            version: "v1".into(),
            api_version: "v1".into(),
            kind: kind.into(),
            plural: format!("{}s", kind.to_lowercase()),
        },
        namespaced: true,
        status: false,
    }
}

/// Hears the events, in order.
#[derive(Default)]
struct Heard(Mutex<Vec<Event>>);

impl Observer for Heard {
    fn event(&self, event: Event) {
        self.0.lock().unwrap().push(event);
    }
}

impl Heard {
    /// `Kind/ns/name failed|timed-out` of each failed event.
    fn failures(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                Event::Failed {
                    object, failure, ..
                } => Some(format!("{object} {}", failure.as_str())),
                _ => None,
            })
            .collect()
    }
}

/// A run's objects (ConfigMaps in `ns`), what each waits for, what to prune.
#[derive(Default)]
struct World {
    manifests: Vec<Manifest>,
    after: Vec<Vec<usize>>,
    observed: Observed,
}

impl World {
    /// Adds `name`, changed by `op`, after the objects at `after`.
    fn object(mut self, name: &str, op: Op, after: &[usize]) -> World {
        let object = json!({"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": name, "namespace": "ns"}});
        let live = (op != Op::Create).then(|| {
            json!({"metadata": {"name": name, "uid": format!("u-{name}")},
                   "status": {"ready": op == Op::Unchanged}})
        });
        self.observed.targets.push(Target {
            index: self.manifests.len(),
            resource: Some(resource("ConfigMap")),
            body: object.clone(),
            live,
            change: change(name, op),
            external: false,
            refresh: false,
            refused: None,
            adopted: false,
        });
        self.manifests.push(Manifest {
            object,
            origin: Origin {
                scope: Scope::Infra,
                component: "web".into(),
                template: "web.yaml.j2".into(),
            },
        });
        self.after.push(after.to_vec());
        self
    }

    /// A member that left the spec; `kept` says why it stays, if it does.
    fn prune(mut self, name: &str, kept: Option<&'static str>) -> World {
        self.observed.prune.push(Prunable {
            resource: resource("ConfigMap"),
            live: json!({"metadata": {"name": name, "namespace": "ns", "uid": format!("u-{name}")}}),
            change: change(name, Op::Delete),
            kept,
        });
        self
    }

    /// Runs with the default options, unheard.
    async fn run_quietly(&self, fake: &Fake) -> Result<Summary, Problem> {
        self.run(fake, &Heard::default(), &Options::default()).await
    }

    async fn run(&self, fake: &Fake, heard: &Heard, options: &Options) -> Result<Summary, Problem> {
        let after: Vec<&[usize]> = self.after.iter().map(Vec::as_slice).collect();
        execute(
            fake,
            &self.manifests,
            &after,
            &self.observed,
            options,
            heard,
        )
        .await
    }
}

fn change(name: &str, op: Op) -> Change {
    Change {
        op,
        scope: Scope::Infra,
        kind: "ConfigMap".into(),
        namespace: Some("ns".into()),
        name: name.into(),
        before: None,
        after: None,
        conflicts: Vec::new(),
    }
}

/// A script whose wait ends as `wait`.
fn ending(wait: Wait) -> Script {
    Script {
        wait,
        ..Script::default()
    }
}

const REFUSED: Script = Script {
    ready_as_written: false,
    refused: true,
    held_write: false,
    held_wait: false,
    held_gone: false,
    wait: Wait::Ready,
};

#[tokio::test]
async fn an_object_blocked_on_a_failed_dependency_is_never_started() {
    let world = World::default()
        .object("db", Op::Create, &[])
        .object("web", Op::Create, &[0]);
    let fake = Fake::with(&[("db", REFUSED)]);
    let heard = Heard::default();
    let result = world.run(&fake, &heard, &Options::default()).await;
    let Err(Problem::NotReady {
        failed, skipped, ..
    }) = result
    else {
        panic!("{result:?}");
    };
    assert_eq!(failed, ["ConfigMap/ns/db"]);
    assert_eq!(skipped, 1);
    assert!(fake.log().is_empty(), "{:?}", fake.log());
    assert_eq!(heard.failures(), ["ConfigMap/ns/db failed"]);
}

#[tokio::test]
async fn a_stop_mid_write_lets_the_write_finish_and_ends_the_wait() {
    let world = World::default()
        .object("db", Op::Create, &[])
        .object("web", Op::Create, &[0]);
    let fake = Fake::with(&[(
        "db",
        Script {
            held_write: true,
            wait: Wait::Never,
            ..Script::default()
        },
    )]);
    let heard = Heard::default();
    let (stop, stopped) = watch::channel(false);
    let options = Options {
        stop: Some(stopped),
        ..Options::default()
    };
    let (result, ()) = tokio::join!(world.run(&fake, &heard, &options), async {
        // The write of db is in flight: stop, then let it finish.
        while !heard
            .0
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, Event::Applying { object, .. } if object == "ConfigMap/ns/db"))
        {
            tokio::task::yield_now().await;
        }
        stop.send_replace(true);
        fake.open_gate();
    });
    let Err(Problem::Interrupted {
        written,
        waiting,
        not_started,
    }) = result
    else {
        panic!("{result:?}");
    };
    assert_eq!(written, 1);
    assert_eq!(waiting, ["ConfigMap/ns/db"]);
    assert_eq!(not_started, 1);
    let log = fake.log();
    assert_eq!(log[0], "apply db", "the write finished: {log:?}");
    assert!(!log.contains(&"apply web".to_string()), "{log:?}");
}

#[tokio::test]
async fn a_failed_object_ends_the_waits_in_flight_and_stops_what_has_not_started() {
    let world = World::default()
        .object("db", Op::Create, &[])
        .object("cache", Op::Create, &[])
        .object("web", Op::Create, &[1]);
    let fake = Fake::with(&[
        (
            "db",
            Script {
                held_wait: true,
                wait: Wait::Failed,
                ..Script::default()
            },
        ),
        ("cache", ending(Wait::Never)),
    ]);
    let heard = Heard::default();
    let options = Options::default();
    let (result, ()) = tokio::join!(world.run(&fake, &heard, &options), async {
        fake.until_logged("wait cache").await;
        fake.open_gate();
    });
    let Err(Problem::NotReady {
        failed,
        blockers,
        skipped,
    }) = result
    else {
        panic!("{result:?}");
    };
    assert_eq!(failed, ["ConfigMap/ns/db"]);
    assert_eq!(blockers.len(), 1);
    assert_eq!(blockers[0].message, "ImagePullBackOff: web:1");
    assert_eq!(skipped, 2, "cache's wait ended, web never started");
    assert!(!fake.log().contains(&"apply web".to_string()));
}

#[tokio::test]
async fn a_timeout_is_reported_as_one_not_as_a_failure() {
    let world = World::default().object("web", Op::Create, &[]);
    let fake = Fake::with(&[("web", ending(Wait::TimedOut))]);
    let heard = Heard::default();
    let problem = world
        .run(&fake, &heard, &Options::default())
        .await
        .unwrap_err();
    let Problem::NotReady {
        failed, blockers, ..
    } = &problem
    else {
        panic!("{problem:?}");
    };
    assert!(failed.is_empty());
    assert_eq!(blockers[0].failure, Failure::TimedOut);
    assert_eq!(blockers[0].message, "timed out: 0/1 replicas ready");
    assert!(
        problem
            .to_string()
            .starts_with("timed out: 1 object(s) not ready"),
        "{problem}"
    );
    assert_eq!(heard.failures(), ["ConfigMap/ns/web timed-out"]);
}

#[tokio::test]
async fn prune_runs_only_after_every_object_is_ready() {
    let world = World::default()
        .object("db", Op::Create, &[])
        .object("web", Op::Update, &[0])
        .prune("old", None)
        .prune("data", Some("PVCs are kept unless --prune-volumes"));
    let fake = Fake::default();
    let summary = world.run_quietly(&fake).await.unwrap();
    assert_eq!(
        fake.log(),
        [
            "apply db",
            "wait db",
            "apply web",
            "wait web",
            "delete old",
            "gone old u-old"
        ]
    );
    assert_eq!(
        (
            summary.created,
            summary.updated,
            summary.pruned,
            summary.kept
        ),
        (1, 1, 1, 1)
    );

    let fake = Fake::with(&[("web", ending(Wait::Failed))]);
    let result = world.run_quietly(&fake).await;
    assert!(
        matches!(result, Err(Problem::NotReady { .. })),
        "{result:?}"
    );
    assert!(
        !fake.log().iter().any(|e| e.starts_with("delete")),
        "{:?}",
        fake.log()
    );
}

#[tokio::test]
async fn an_unchanged_ready_object_costs_no_write_and_no_wait() {
    let world = World::default().object("web", Op::Unchanged, &[]);
    let fake = Fake::default();
    let summary = world.run_quietly(&fake).await.unwrap();
    assert!(fake.log().is_empty(), "{:?}", fake.log());
    assert_eq!(summary.unchanged, 1);
}

#[tokio::test]
async fn a_replaced_object_is_gone_by_its_uid_before_it_is_applied_again() {
    let world = World::default().object("migrate", Op::Replace, &[]);
    let fake = Fake::default();
    let summary = world.run_quietly(&fake).await.unwrap();
    assert_eq!(
        fake.log(),
        [
            "delete migrate",
            "gone migrate u-migrate",
            "apply migrate",
            "wait migrate"
        ]
    );
    assert_eq!(summary.replaced, 1);
}

mod order;
