//! What each stage of a controller pass must look at. A stage visits the
//! objects *touched* since its previous run — changed, owning a changed
//! object, or owned by one (down to [`DEPTH`] levels: Deployment →
//! ReplicaSet → Pod) — plus those whose timer is due. It visits everything
//! on its first run, when the store's change journal no longer reaches back
//! to its previous run, when the test's behaviours or stuck namespaces
//! changed, and when a CRD changed (the kinds it registers feed owner
//! lookups). A stage's work on an object depends only on the object, its
//! owners and dependents, the behaviours and the clock; so for an object it
//! does not visit it would do what it did last time: nothing (its writes
//! then would have touched it again), and its timers are kept from then.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use crate::ops::State;
use crate::store::{Change, Gr, Key};

/// The controller's stages, in pass order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Stage {
    Crds,
    Namespaces,
    GarbageCollector,
    Deployments,
    ReplicaSets,
    StatefulSets,
    DaemonSets,
    Jobs,
    Pvcs,
    Volumes,
    Operators,
    Kubelet,
    DeploymentStatus,
}

/// How far down the ownership tree a change reaches (a pod's behaviour
/// follows its owner chain up to three levels).
const DEPTH: usize = 3;

/// An object's type and key.
pub(super) type At = (Gr, Key);

/// What a stage must visit this pass.
#[derive(Default)]
pub(super) struct Work {
    /// Everything, whatever changed.
    pub full: bool,
    /// Objects changed since the stage's last run, their owners and dependents.
    pub touched: HashSet<At>,
    /// Objects whose timer is due.
    pub due: HashSet<At>,
    /// Types with a change.
    pub kinds: HashSet<Gr>,
    /// Namespaces with a change (`""` for cluster-scoped objects).
    pub namespaces: HashSet<String>,
    /// Namespaces with a change, per type.
    changed_in: HashSet<(Gr, String)>,
    /// Uids whose dependents are all touched already.
    descended: HashSet<String>,
}

impl Work {
    fn touch(&mut self, st: &State, c: &Change) {
        self.kinds.insert(c.gr.clone());
        self.namespaces.insert(c.key.0.clone());
        self.changed_in.insert((c.gr.clone(), c.key.0.clone()));
        self.touched.insert((c.gr.clone(), c.key.clone()));
        for owner in &c.owners {
            if let Some(at) = st.store.by_uid(owner) {
                self.touched.insert(at.clone());
            }
        }
        if self.descended.insert(c.uid.clone()) {
            self.touch_dependents(st, &c.uid);
        }
    }

    fn touch_dependents(&mut self, st: &State, uid: &str) {
        let mut level = vec![uid.to_string()];
        for _ in 0..DEPTH {
            let mut below = vec![];
            for uid in &level {
                for at in st.store.dependents(uid) {
                    self.touched.insert(at.clone());
                    if let Some(s) = st.store.get(&at.0, &at.1.0, &at.1.1) {
                        below.push(s.uid().to_string());
                    }
                }
            }
            level = below;
        }
    }

    /// The namespaces where objects of this type changed.
    pub fn namespaces_of(&self, g: &Gr) -> HashSet<String> {
        self.changed_in
            .iter()
            .filter(|(k, _)| k == g)
            .map(|(_, ns)| ns.clone())
            .collect()
    }

    /// Snapshots of the objects of `g` to visit, in store order.
    pub fn objects(&self, st: &State, g: &Gr) -> Vec<Arc<Value>> {
        self.objects_and_in(st, g, &HashSet::new())
    }

    /// As [`Work::objects`], and every object of `g` in these namespaces.
    pub fn objects_and_in(
        &self,
        st: &State,
        g: &Gr,
        namespaces: &HashSet<String>,
    ) -> Vec<Arc<Value>> {
        if self.full {
            return st
                .store
                .list(g, None)
                .into_iter()
                .map(|s| s.obj.clone())
                .collect();
        }
        let mut keys: BTreeSet<&Key> = self
            .touched
            .iter()
            .chain(&self.due)
            .filter(|(k, _)| k == g)
            .map(|(_, key)| key)
            .collect();
        let extra: Vec<Key> = namespaces
            .iter()
            .flat_map(|ns| st.store.list(g, Some(ns)))
            .map(|s| key_of(&s.obj))
            .collect();
        keys.extend(&extra);
        keys.into_iter()
            .filter_map(|(ns, name)| st.store.get(g, ns, name))
            .map(|s| s.obj.clone())
            .collect()
    }

    /// The objects of every type to visit: all in store order, or the touched ones sorted.
    pub fn all(&self, st: &State) -> Vec<At> {
        if self.full {
            return st
                .store
                .all()
                .into_iter()
                .map(|(g, s)| (g.clone(), key_of(&s.obj)))
                .collect();
        }
        let sorted: BTreeSet<&At> = self.touched.iter().collect();
        sorted.into_iter().cloned().collect()
    }
}

pub(super) fn key_of(o: &Value) -> Key {
    let md = &o["metadata"];
    (
        md["namespace"].as_str().unwrap_or_default().to_string(),
        md["name"].as_str().unwrap_or_default().to_string(),
    )
}

/// The inputs besides the store that every stage reads.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Inputs {
    /// Behaviours are only ever added.
    behaviors: usize,
    stuck: BTreeSet<String>,
}

impl Inputs {
    fn of(st: &State) -> Inputs {
        Inputs {
            behaviors: st.behaviors.len(),
            stuck: st.stuck_namespaces.iter().cloned().collect(),
        }
    }
}

/// Where each stage left off, and the timers its objects asked for.
#[derive(Default)]
pub(super) struct Tracker {
    /// Per stage: the resourceVersion and inputs at the start of its last run.
    marks: HashMap<Stage, (u64, Inputs)>,
    timers: HashMap<Stage, HashMap<At, Instant>>,
}

impl Tracker {
    /// Starts a stage's run: what it must visit (due timers are taken).
    pub fn begin(&mut self, st: &State, stage: Stage, now: Instant) -> Work {
        let inputs = Inputs::of(st);
        let last = self.marks.insert(stage, (st.store.rv(), inputs.clone()));
        let mut work = Work {
            due: self.take_due(stage, now),
            ..Work::default()
        };
        let changes = last
            .filter(|(_, seen)| *seen == inputs)
            .and_then(|(rv, _)| st.store.changes_after(rv));
        match changes {
            None => work.full = true,
            Some(changes) => {
                for c in changes {
                    work.touch(st, c);
                }
            }
        }
        let crds = (
            "apiextensions.k8s.io".to_string(),
            "customresourcedefinitions".to_string(),
        );
        if work.kinds.contains(&crds) {
            work.full = true;
        }
        work
    }

    fn take_due(&mut self, stage: Stage, now: Instant) -> HashSet<At> {
        let Some(timers) = self.timers.get_mut(&stage) else {
            return HashSet::new();
        };
        let due: HashSet<At> = timers
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(at, _)| at.clone())
            .collect();
        timers.retain(|at, _| !due.contains(at));
        due
    }

    /// Asks for a stage to visit an object again at `t` (the earliest asked wins).
    pub fn set_timer(&mut self, stage: Stage, at: At, t: Instant) {
        let timers = self.timers.entry(stage).or_default();
        let e = timers.entry(at).or_insert(t);
        *e = (*e).min(t);
    }

    /// Forgets an object's timer (it is being visited and asks anew).
    pub fn clear_timer(&mut self, stage: Stage, at: &At) {
        if let Some(t) = self.timers.get_mut(&stage) {
            t.remove(at);
        }
    }

    /// The earliest timer after `now`.
    pub fn next(&self, now: Instant) -> Option<Instant> {
        self.timers
            .values()
            .flat_map(|t| t.values())
            .filter(|t| **t > now)
            .min()
            .copied()
    }
}
