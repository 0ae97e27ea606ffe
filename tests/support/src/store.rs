//! The object store: objects keyed by group/resource and namespace/name, one
//! global monotonically increasing resourceVersion (as etcd has), and a
//! bounded history of watch events. Every change goes through `put`/`remove`,
//! which bump the resourceVersion, record the event and wake watchers. It
//! knows nothing about apply, defaulting or HTTP.
//!
//! For the controller it also keeps objects indexed by uid and by owner uid
//! (`ownerReferences`), and a bounded journal of [`Change`]s, so a pass can
//! look at what changed since its last one instead of at everything.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::apply::Manager;

/// Group and resource plural: the storage key of a type.
pub type Gr = (String, String);
/// Namespace (`""` for cluster-scoped) and name.
pub type Key = (String, String);

/// A stored object and its field managers (rendered into `metadata.managedFields`).
/// The object is shared, not copied, with readers (the controller's
/// snapshots); a writer gets its own copy with `Arc::make_mut`, so a reader's
/// snapshot never changes under it.
#[derive(Debug, Clone)]
pub struct Stored {
    pub obj: Arc<Value>,
    pub managers: Vec<Manager>,
}

impl Stored {
    pub fn uid(&self) -> &str {
        self.obj["metadata"]["uid"].as_str().unwrap_or_default()
    }
}

/// One change, as a watch stream sends it.
#[derive(Debug, Clone)]
pub struct WatchEvent {
    pub rv: u64,
    pub kind: &'static str,
    pub gr: Gr,
    pub namespace: String,
    pub object: Value,
}

/// One change as the controller follows it: which object, and every owner
/// uid it had before or after (so a change reaches the owners it left too).
#[derive(Debug, Clone)]
pub struct Change {
    pub rv: u64,
    pub gr: Gr,
    pub key: Key,
    pub uid: String,
    pub owners: Vec<String>,
}

/// The resourceVersion of an empty store.
const FIRST_RV: u64 = 1000;

pub struct Store {
    rv: u64,
    objects: HashMap<Gr, BTreeMap<Key, Stored>>,
    history: VecDeque<WatchEvent>,
    capacity: usize,
    /// Per resource, the newest resourceVersion dropped from history:
    /// watching that resource from it or older is 410 Gone. A real API
    /// server keeps a watch cache per resource, so one kind's churn does not
    /// expire another kind's watches.
    compacted: HashMap<Gr, u64>,
    /// Where each uid lives.
    uids: HashMap<String, (Gr, Key)>,
    /// Owner uid → the objects naming it in `ownerReferences` (whether or not it exists).
    dependents: HashMap<String, BTreeSet<(Gr, Key)>>,
    /// Changes, oldest first, as many as `history` keeps.
    journal: VecDeque<Change>,
    /// The newest resourceVersion dropped from the journal.
    journal_compacted: u64,
    seq: u64,
    changed: tokio::sync::watch::Sender<u64>,
}

impl Store {
    pub fn new(capacity: usize) -> Store {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as u64;
        Store {
            rv: FIRST_RV,
            objects: HashMap::new(),
            history: VecDeque::new(),
            capacity,
            compacted: HashMap::new(),
            uids: HashMap::new(),
            dependents: HashMap::new(),
            journal: VecDeque::new(),
            journal_compacted: FIRST_RV,
            seq: seed,
            changed: tokio::sync::watch::channel(FIRST_RV).0,
        }
    }

    pub fn rv(&self) -> u64 {
        self.rv
    }

    /// Resolves when the store changes.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    pub fn get(&self, gr: &Gr, ns: &str, name: &str) -> Option<&Stored> {
        self.objects
            .get(gr)?
            .get(&(ns.to_string(), name.to_string()))
    }

    /// Objects of a type, in one namespace or all; sorted by namespace and name.
    pub fn list(&self, gr: &Gr, ns: Option<&str>) -> Vec<&Stored> {
        let Some(m) = self.objects.get(gr) else {
            return vec![];
        };
        match ns {
            None => m.values().collect(),
            Some(ns) => m
                .range((ns.to_string(), String::new())..)
                .take_while(|((n, _), _)| n == ns)
                .map(|(_, s)| s)
                .collect(),
        }
    }

    /// The type and key of the object with this uid.
    pub fn by_uid(&self, uid: &str) -> Option<&(Gr, Key)> {
        self.uids.get(uid)
    }

    /// The objects whose `ownerReferences` name this uid, sorted by type and key.
    pub fn dependents(&self, owner_uid: &str) -> impl Iterator<Item = &(Gr, Key)> {
        self.dependents.get(owner_uid).into_iter().flatten()
    }

    /// Changes newer than `rv`, oldest first; `None` when the journal no longer reaches back to it.
    pub fn changes_after(&self, rv: u64) -> Option<impl Iterator<Item = &Change>> {
        if rv < self.journal_compacted {
            return None;
        }
        let start = self.journal.partition_point(|c| c.rv <= rv);
        Some(self.journal.range(start..))
    }

    /// Every object of every type, with its type.
    pub fn all(&self) -> Vec<(&Gr, &Stored)> {
        self.objects
            .iter()
            .flat_map(|(gr, m)| m.values().map(move |s| (gr, s)))
            .collect()
    }

    pub fn types(&self) -> Vec<Gr> {
        self.objects.keys().cloned().collect()
    }

    /// Stores an object (new or replacing), bumping the resourceVersion.
    pub fn put(&mut self, gr: &Gr, mut stored: Stored) -> Arc<Value> {
        self.rv += 1;
        let ns = stored.obj["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let name = stored.obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        // `managedFields` is rendered already (by `commit`, or kept from the stored object)
        Arc::make_mut(&mut stored.obj)["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let obj = stored.obj.clone();
        let key = (ns.clone(), name);
        let old = self
            .objects
            .entry(gr.clone())
            .or_default()
            .insert(key.clone(), stored);
        if let Some(old) = &old {
            self.unindex(gr, &key, &old.obj);
        }
        self.index(gr, &key, &obj);
        self.note(gr, key, &obj, old.as_ref().map(|o| &*o.obj));
        let kind = if old.is_some() { "MODIFIED" } else { "ADDED" };
        self.record(kind, gr, ns, Value::clone(&obj));
        obj
    }

    /// Removes an object for good, bumping the resourceVersion.
    pub fn remove(&mut self, gr: &Gr, ns: &str, name: &str) -> Option<Stored> {
        let mut stored = self
            .objects
            .get_mut(gr)?
            .remove(&(ns.to_string(), name.to_string()))?;
        self.rv += 1;
        Arc::make_mut(&mut stored.obj)["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let key = (ns.to_string(), name.to_string());
        self.unindex(gr, &key, &stored.obj);
        self.note(gr, key, &stored.obj, None);
        self.record("DELETED", gr, ns.to_string(), Value::clone(&stored.obj));
        Some(stored)
    }

    fn index(&mut self, gr: &Gr, key: &Key, obj: &Value) {
        let at = (gr.clone(), key.clone());
        for owner in owner_uids(obj) {
            self.dependents.entry(owner).or_default().insert(at.clone());
        }
        self.uids.insert(uid_of(obj).to_string(), at);
    }

    fn unindex(&mut self, gr: &Gr, key: &Key, obj: &Value) {
        let at = (gr.clone(), key.clone());
        for owner in owner_uids(obj) {
            if let Some(d) = self.dependents.get_mut(&owner) {
                d.remove(&at);
                if d.is_empty() {
                    self.dependents.remove(&owner);
                }
            }
        }
        if self.uids.get(uid_of(obj)) == Some(&at) {
            self.uids.remove(uid_of(obj));
        }
    }

    /// Journals a change of `obj` (at the current resourceVersion), `old` being what it replaced.
    fn note(&mut self, gr: &Gr, key: Key, obj: &Value, old: Option<&Value>) {
        let mut owners = owner_uids(obj);
        for o in old.map(owner_uids).unwrap_or_default() {
            if !owners.contains(&o) {
                owners.push(o);
            }
        }
        self.journal.push_back(Change {
            rv: self.rv,
            gr: gr.clone(),
            key,
            uid: uid_of(obj).to_string(),
            owners,
        });
        while self.journal.len() > self.capacity {
            if let Some(c) = self.journal.pop_front() {
                self.journal_compacted = c.rv;
            }
        }
    }

    fn record(&mut self, kind: &'static str, gr: &Gr, namespace: String, object: Value) {
        self.history.push_back(WatchEvent {
            rv: self.rv,
            kind,
            gr: gr.clone(),
            namespace,
            object,
        });
        while self.history.len() > self.capacity {
            if let Some(e) = self.history.pop_front() {
                self.compacted.insert(e.gr, e.rv);
            }
        }
        self.changed.send_replace(self.rv);
    }

    /// Events newer than `rv` (of every resource; the caller filters), or
    /// `Err(oldest servable)` when history no longer holds every event of
    /// `gr` newer than `rv`.
    pub fn events_after(&self, gr: &Gr, rv: u64) -> Result<Vec<&WatchEvent>, u64> {
        // Versions before the store's first were never served.
        let compacted = self.compacted.get(gr).copied().unwrap_or(FIRST_RV);
        if rv < compacted {
            return Err(compacted + 1);
        }
        let start = self.history.partition_point(|e| e.rv <= rv);
        Ok(self.history.range(start..).collect())
    }

    /// A random-looking UID.
    pub fn uid(&mut self) -> String {
        let a = self.next();
        let b = self.next();
        format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            (b >> 48) & 0xfff,
            b & 0xffff_ffff_ffff
        )
    }

    /// A random lowercase alphanumeric suffix as the apiserver's generateName uses.
    pub fn suffix(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        let mut x = self.next();
        (0..len)
            .map(|_| {
                let c = ALPHABET[(x % ALPHABET.len() as u64) as usize] as char;
                x /= ALPHABET.len() as u64;
                c
            })
            .collect()
    }

    pub fn next(&mut self) -> u64 {
        // splitmix64
        self.seq = self.seq.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.seq;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn uid_of(o: &Value) -> &str {
    o["metadata"]["uid"].as_str().unwrap_or_default()
}

/// The uids an object's `ownerReferences` name.
pub fn owner_uids(o: &Value) -> Vec<String> {
    o["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["uid"].as_str().map(str::to_string))
        .collect()
}

/// A stable short hash of a value (pod-template-hash, revisions).
pub fn hash_value(v: &Value) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in v.to_string().bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    (0..10)
        .map(|_| {
            let c = ALPHABET[(h % ALPHABET.len() as u64) as usize] as char;
            h /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

/// `2006-01-02T15:04:05Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let (date, hms) = civil(d.as_secs());
    format!("{date}T{hms}Z")
}

fn civil(secs: u64) -> (String, String) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    (
        format!("{y:04}-{m:02}-{d:02}"),
        format!("{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(ns: &str, name: &str, uid: &str, owners: &[&str]) -> Stored {
        let refs: Vec<Value> = owners.iter().map(|o| json!({"uid": o})).collect();
        Stored {
            obj: Arc::new(
                json!({"metadata": {"namespace": ns, "name": name, "uid": uid, "ownerReferences": refs}}),
            ),
            managers: vec![],
        }
    }

    #[test]
    fn indexes_and_journal_follow_puts_and_removes() {
        let mut s = Store::new(100);
        let pods: Gr = (String::new(), "pods".into());
        let start = s.rv();
        s.put(&pods, stored("a", "p1", "u1", &["rs1"]));
        s.put(&pods, stored("b", "p2", "u2", &["rs1"]));
        s.put(&pods, stored("a", "p3", "u3", &[]));
        let deps: Vec<_> = s.dependents("rs1").cloned().collect();
        assert_eq!(
            deps,
            [
                (pods.clone(), ("a".into(), "p1".into())),
                (pods.clone(), ("b".into(), "p2".into()))
            ]
        );
        assert_eq!(
            s.by_uid("u3"),
            Some(&(pods.clone(), ("a".into(), "p3".into())))
        );
        let names: Vec<_> = s
            .list(&pods, Some("a"))
            .iter()
            .map(|o| o.obj["metadata"]["name"].clone())
            .collect();
        assert_eq!(names, [json!("p1"), json!("p3")]);
        // an owner dropped: the change names it still; the index forgets it
        s.put(&pods, stored("a", "p1", "u1", &["rs2"]));
        let last = s.changes_after(s.rv() - 1).unwrap().next().unwrap().clone();
        assert_eq!(last.owners, ["rs2", "rs1"]);
        assert_eq!(s.dependents("rs1").count(), 1);
        s.remove(&pods, "b", "p2");
        assert_eq!(s.dependents("rs1").count(), 0);
        assert_eq!(s.by_uid("u2"), None);
        assert_eq!(s.changes_after(start).unwrap().count(), 5);
    }

    #[test]
    fn the_journal_says_when_it_no_longer_reaches_back() {
        let mut s = Store::new(2);
        let pods: Gr = (String::new(), "pods".into());
        let start = s.rv();
        for i in 0..3 {
            s.put(&pods, stored("a", &format!("p{i}"), &format!("u{i}"), &[]));
        }
        assert!(s.changes_after(start).is_none());
        assert_eq!(s.changes_after(s.rv() - 2).unwrap().count(), 2);
    }

    #[test]
    fn history_expires_a_resource_only_when_it_dropped_one_of_its_events() {
        let mut s = Store::new(2);
        let pods: Gr = (String::new(), "pods".into());
        let maps: Gr = (String::new(), "configmaps".into());
        s.put(&maps, stored("a", "m", "u-m", &[]));
        let start = s.rv();
        for i in 0..3 {
            s.put(&pods, stored("a", &format!("p{i}"), &format!("u{i}"), &[]));
        }
        assert_eq!(s.events_after(&maps, start).unwrap().len(), 2);
        assert!(
            s.events_after(&pods, start).is_err(),
            "a pod event was dropped"
        );
    }
}
