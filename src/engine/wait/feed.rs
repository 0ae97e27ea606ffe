//! A live cache of one kind in one namespace, fed by a watch: the objects as
//! last seen, whether the first list has been seen, and whether the watch is
//! live now. While the watch is down (it failed, or the API server stopped
//! answering) the objects are kept but may be stale; the feed says why, and
//! its stopwatch of live time stops until a fresh list has been seen. Shared
//! between the waits on that kind and namespace.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::engine::kube::{Cluster, Resource, Seen};

/// A live cache of one kind in one namespace, fed by a watch; dropping it
/// stops the watch.
pub(super) struct Feed {
    state: Arc<FeedState>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
pub(super) struct FeedState {
    objects: Mutex<HashMap<String, Value>>,
    watched: Mutex<Watched>,
    /// Bumped on everything the watch says.
    pub(super) version: watch::Sender<u64>,
}

/// How the watch is doing.
#[derive(Default)]
struct Watched {
    /// A full list has been seen at least once.
    synced: bool,
    /// Why the watch is down, until a fresh list has been seen.
    failing: Option<String>,
    /// Time during which the watch was live.
    live: Stopwatch,
    /// Full lists seen: each one after the first is a resync.
    syncs: u64,
}

/// A stopwatch: counts time while running.
#[derive(Debug, Default, Clone, Copy)]
struct Stopwatch {
    counted: Duration,
    since: Option<Instant>,
}

impl Stopwatch {
    fn start(&mut self, now: Instant) {
        self.since.get_or_insert(now);
    }

    fn stop(&mut self, now: Instant) {
        if let Some(since) = self.since.take() {
            self.counted += now.saturating_duration_since(since);
        }
    }

    fn read(&self, now: Instant) -> Duration {
        self.counted
            + self
                .since
                .map_or(Duration::ZERO, |since| now.saturating_duration_since(since))
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Feed {
    pub(super) fn start(
        cluster: &Cluster,
        resource: &Resource,
        namespace: Option<&str>,
    ) -> Arc<Feed> {
        let state = Arc::new(FeedState::default());
        let stream = cluster.watch(resource, namespace);
        let feeding = state.clone();
        let task = tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            let mut fresh: Option<HashMap<String, Value>> = None;
            while let Some(seen) = stream.next().await {
                feeding.take(seen, &mut fresh);
                feeding.version.send_modify(|v| *v += 1);
            }
        });
        Arc::new(Feed { state, task })
    }
}

impl std::ops::Deref for Feed {
    type Target = FeedState;
    fn deref(&self) -> &FeedState {
        &self.state
    }
}

impl FeedState {
    fn take(&self, seen: Seen, fresh: &mut Option<HashMap<String, Value>>) {
        let name = |o: &Value| {
            o["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        let mut objects = self.objects.lock().expect("not poisoned");
        let mut watched = self.watched.lock().expect("not poisoned");
        match seen {
            Seen::Restarted => *fresh = Some(HashMap::new()),
            Seen::Applied(o) => match fresh {
                Some(f) => {
                    f.insert(name(&o), o);
                }
                None => {
                    objects.insert(name(&o), o);
                }
            },
            Seen::Deleted(o) => {
                objects.remove(&name(&o));
            }
            Seen::Synced => {
                if let Some(f) = fresh.take() {
                    *objects = f;
                }
                watched.synced = true;
                watched.failing = None;
                watched.syncs += 1;
                watched.live.start(Instant::now());
            }
            Seen::Failing(why) => {
                watched.failing = Some(why);
                watched.live.stop(Instant::now());
            }
        }
    }

    pub(super) fn get(&self, name: &str) -> Option<Value> {
        self.objects
            .lock()
            .expect("not poisoned")
            .get(name)
            .cloned()
    }

    pub(super) fn all(&self) -> Vec<Value> {
        self.objects
            .lock()
            .expect("not poisoned")
            .values()
            .cloned()
            .collect()
    }

    /// A full list has been seen at least once.
    pub(super) fn synced(&self) -> bool {
        self.watched.lock().expect("not poisoned").synced
    }

    /// Why the watch is down, if it is: until a fresh list has been seen,
    /// what the feed holds may be stale.
    pub(super) fn failing(&self) -> Option<String> {
        self.watched.lock().expect("not poisoned").failing.clone()
    }

    /// How long the watch has been live in all, and how many full lists it
    /// has seen: a pod trouble's clock runs on this time.
    pub(super) fn live_time(&self) -> (Duration, u64) {
        let watched = self.watched.lock().expect("not poisoned");
        (watched.live.read(Instant::now()), watched.syncs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stopwatch_counts_only_while_running() {
        let t0 = Instant::now();
        let at = |secs: u64| t0 + Duration::from_secs(secs);
        let mut live = Stopwatch::default();
        assert_eq!(live.read(at(5)), Duration::ZERO);
        live.start(at(10));
        live.start(at(11));
        assert_eq!(live.read(at(12)), Duration::from_secs(2), "started once");
        live.stop(at(13));
        assert_eq!(live.read(at(100)), Duration::from_secs(3), "stopped");
        live.start(at(200));
        assert_eq!(live.read(at(201)), Duration::from_secs(4));
    }
}
