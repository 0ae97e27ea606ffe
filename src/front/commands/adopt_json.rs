//! The adoption lists as JSON (`diff --adopt -o json`, and the `adoption`
//! event of `apply --adopt -o json`): the same facts the text shows
//! ([`super::adopt::show`]), one list each. `moves` holds the cnvrg
//! operator's claims that move to our names with their data. No Secret
//! value is in any of it.

use serde_json::{Value, json};

use super::adopt::Adoption;
use crate::engine::adopt::Claim;

fn claimed(list: &[(String, Claim)]) -> Value {
    list.iter()
        .map(|(object, claim)| {
            json!({"object": object, "owners": claim.owners, "managers": claim.managers})
        })
        .collect()
}

/// `{adopted, restarts, replaced, copies, moves, stays, wayOut,
/// operatorsRunning}`.
pub(super) fn adoption(a: &Adoption) -> Value {
    json!({
        "adopted": claimed(&a.taken),
        "restarts": a.restarts.iter()
            .map(|(object, why)| json!({"object": object, "why": why}))
            .collect::<Vec<_>>(),
        "replaced": a.beside.iter()
            .map(|b| json!({"old": b.old, "new": b.new, "how": b.how, "retire": b.retire}))
            .collect::<Vec<_>>(),
        "copies": a.copies.iter()
            .map(|c| json!({"from": c.from, "by": c.by, "stops": c.stops, "retire": c.retire}))
            .collect::<Vec<_>>(),
        "moves": a.moves.iter()
            .map(|m| json!({
                "from": m.from_id(), "to": m.to_id(), "volume": m.volume, "size": m.size,
                "reclaimPolicy": m.policy, "stops": m.workload_id(),
                "readable": m.row.readable, "data": m.row.data,
            }))
            .collect::<Vec<_>>(),
        "stays": claimed(&a.leftovers.listed),
        "wayOut": a.way_out,
        "operatorsRunning": a.running.iter()
            .map(|(namespace, name, replicas)| json!({"namespace": namespace, "name": name, "replicas": replicas}))
            .collect::<Vec<_>>(),
    })
}
