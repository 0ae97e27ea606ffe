//! The object store: objects keyed by group/resource and namespace/name, one
//! global monotonically increasing resourceVersion (as etcd has), and a
//! bounded history of watch events. Every change goes through `put`/`remove`,
//! which bump the resourceVersion, record the event and wake watchers. It
//! knows nothing about apply, defaulting or HTTP.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::apply::Manager;

/// Group and resource plural: the storage key of a type.
pub type Gr = (String, String);
/// Namespace (`""` for cluster-scoped) and name.
pub type Key = (String, String);

/// A stored object and its field managers (rendered into `metadata.managedFields`).
#[derive(Debug, Clone)]
pub struct Stored {
    pub obj: Value,
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

pub struct Store {
    rv: u64,
    objects: HashMap<Gr, BTreeMap<Key, Stored>>,
    history: VecDeque<WatchEvent>,
    capacity: usize,
    /// The newest resourceVersion dropped from history; watching from it or older is 410 Gone.
    compacted: u64,
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
            rv: 1000,
            objects: HashMap::new(),
            history: VecDeque::new(),
            capacity,
            compacted: 1000,
            seq: seed,
            changed: tokio::sync::watch::channel(1000).0,
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
        m.iter()
            .filter(|((n, _), _)| ns.is_none_or(|ns| ns == n))
            .map(|(_, s)| s)
            .collect()
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
    pub fn put(&mut self, gr: &Gr, mut stored: Stored) -> Value {
        self.rv += 1;
        let ns = stored.obj["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let name = stored.obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        stored.obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        crate::apply::render_managed_fields(&mut stored);
        let obj = stored.obj.clone();
        let old = self
            .objects
            .entry(gr.clone())
            .or_default()
            .insert((ns.clone(), name), stored);
        let kind = if old.is_some() { "MODIFIED" } else { "ADDED" };
        self.record(kind, gr, ns, obj.clone());
        obj
    }

    /// Removes an object for good, bumping the resourceVersion.
    pub fn remove(&mut self, gr: &Gr, ns: &str, name: &str) -> Option<Stored> {
        let mut stored = self
            .objects
            .get_mut(gr)?
            .remove(&(ns.to_string(), name.to_string()))?;
        self.rv += 1;
        stored.obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.record("DELETED", gr, ns.to_string(), stored.obj.clone());
        Some(stored)
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
                self.compacted = e.rv;
            }
        }
        self.changed.send_replace(self.rv);
    }

    /// Events newer than `rv`, or `Err(oldest servable)` when history no longer reaches back to it.
    pub fn events_after(&self, rv: u64) -> Result<Vec<&WatchEvent>, u64> {
        if rv < self.compacted {
            return Err(self.compacted + 1);
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
