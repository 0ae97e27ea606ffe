//! A live cache of one kind in one namespace, fed by a watch: the objects as
//! last seen, whether the first list has been seen, and why the watch is
//! failing if it is. Shared between the waits on that kind and namespace.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use serde_json::Value;
use tokio::sync::watch;

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
    synced: Mutex<bool>,
    failing: Mutex<Option<String>>,
    pub(super) version: watch::Sender<u64>,
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
        match seen {
            Seen::Restarted => *fresh = Some(HashMap::new()),
            Seen::Applied(o) => {
                *self.failing.lock().expect("not poisoned") = None;
                match fresh {
                    Some(f) => {
                        f.insert(name(&o), o);
                    }
                    None => {
                        self.objects
                            .lock()
                            .expect("not poisoned")
                            .insert(name(&o), o);
                    }
                }
            }
            Seen::Deleted(o) => {
                self.objects.lock().expect("not poisoned").remove(&name(&o));
            }
            Seen::Synced => {
                if let Some(f) = fresh.take() {
                    *self.objects.lock().expect("not poisoned") = f;
                }
                *self.synced.lock().expect("not poisoned") = true;
                *self.failing.lock().expect("not poisoned") = None;
            }
            Seen::Failing(why) => *self.failing.lock().expect("not poisoned") = Some(why),
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

    pub(super) fn synced(&self) -> bool {
        *self.synced.lock().expect("not poisoned")
    }

    pub(super) fn failing(&self) -> Option<String> {
        self.failing.lock().expect("not poisoned").clone()
    }
}
