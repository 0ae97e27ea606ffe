//! The write slots: at most `concurrency` writes in flight. When more
//! objects wait for a slot than there are, the one with the longest chain
//! ahead of it goes first (its branch decides when the run ends), then the
//! one that asked first. A chain is as long as its objects are expected to
//! take ([`super::cost`]: a StatefulSet's pods, not a ConfigMap's write),
//! the object's own turn and its longest chain of dependents. A first-come
//! semaphore would serve them in the order they asked, so that when an
//! object turns ready, the one dependent that leads on to a database and its
//! workloads waits behind a dozen unrelated ConfigMaps that became eligible
//! at the same moment. It neither writes nor waits on the cluster.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Mutex;

use tokio::sync::oneshot;

/// Who goes first: the longer chain ahead, then the earlier request.
type Rank = (u64, Reverse<u64>);

struct Asking {
    rank: Rank,
    grant: oneshot::Sender<()>,
}

impl PartialEq for Asking {
    fn eq(&self, other: &Self) -> bool {
        self.rank == other.rank
    }
}
impl Eq for Asking {}
impl PartialOrd for Asking {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Asking {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank.cmp(&other.rank)
    }
}

#[derive(Default)]
struct State {
    free: usize,
    asking: BinaryHeap<Asking>,
    /// Requests so far: the next one's number.
    asked: u64,
}

/// The run's write slots, and each plan step's chain ahead.
pub(super) struct Slots {
    state: Mutex<State>,
    /// Per plan step, the expected cost of its own turn and of the longest
    /// chain of steps that wait on it, one after another.
    ahead: Vec<u64>,
}

/// A slot held; dropping it hands it on.
pub(super) struct Slot<'a>(&'a Slots);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// A request not answered yet: dropped (the run stopping), it gives back a
/// slot granted meanwhile.
struct Pending<'a> {
    grant: Option<oneshot::Receiver<()>>,
    slots: &'a Slots,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if let Some(mut grant) = self.grant.take() {
            grant.close();
            if grant.try_recv().is_ok() {
                self.slots.release();
            }
        }
    }
}

impl Slots {
    /// `count` slots for a plan whose steps wait for `after` and whose own
    /// turns are expected to cost `costs`.
    pub(super) fn new(count: usize, after: &[&[usize]], costs: &[u32]) -> Slots {
        Slots {
            state: Mutex::new(State {
                free: count.max(1),
                ..State::default()
            }),
            ahead: ahead(after, costs),
        }
    }

    /// A slot for plan step `step`, once it is its turn. It asks, then lets
    /// the objects that became eligible at the same moment ask too, before
    /// the free slots are handed out.
    pub(super) async fn acquire(&self, step: usize) -> Slot<'_> {
        let (grant, receiver) = oneshot::channel();
        let ahead = self.ahead.get(step).copied().unwrap_or_default();
        {
            let mut state = self.state.lock().expect("not poisoned");
            let asked = state.asked;
            state.asked += 1;
            state.asking.push(Asking {
                rank: (ahead, Reverse(asked)),
                grant,
            });
        }
        let mut pending = Pending {
            grant: Some(receiver),
            slots: self,
        };
        tokio::task::yield_now().await;
        self.hand_out();
        let granted = pending.grant.as_mut().expect("just set").await;
        pending.grant = None;
        granted.expect("a request is granted or dropped with its sender never");
        Slot(self)
    }

    /// A slot is free again.
    fn release(&self) {
        self.state.lock().expect("not poisoned").free += 1;
        self.hand_out();
    }

    /// The free slots to the first of those asking still there.
    fn hand_out(&self) {
        let mut state = self.state.lock().expect("not poisoned");
        while state.free > 0 {
            let Some(asking) = state.asking.pop() else {
                return;
            };
            if asking.grant.send(()).is_ok() {
                state.free -= 1;
            }
        }
    }
}

/// Per step, its own cost plus the costliest chain of steps that wait on it.
fn ahead(after: &[&[usize]], costs: &[u32]) -> Vec<u64> {
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); after.len()];
    for (step, deps) in after.iter().enumerate() {
        for &dep in deps.iter().filter(|d| **d < after.len()) {
            dependents[dep].push(step);
        }
    }
    let mut memo: Vec<Option<u64>> = vec![None; after.len()];
    (0..after.len())
        .map(|step| chain(step, &dependents, costs, &mut memo))
        .collect()
}

fn chain(step: usize, dependents: &[Vec<usize>], costs: &[u32], memo: &mut [Option<u64>]) -> u64 {
    if let Some(known) = memo[step] {
        return known;
    }
    let longest = dependents[step]
        .iter()
        .map(|&d| chain(d, dependents, costs, memo))
        .max()
        .unwrap_or(0);
    let own = costs.get(step).copied().map_or(1, u64::from);
    memo[step] = Some(own + longest);
    own + longest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_step_knows_its_costliest_chain_ahead() {
        // 0 ← 1 ← 3, 0 ← 2; each costs one.
        let after: Vec<&[usize]> = vec![&[], &[0], &[0], &[1]];
        assert_eq!(ahead(&after, &[1, 1, 1, 1]), [3, 2, 1, 1]);
        // 2 is a StatefulSet, 1 and 3 ConfigMaps: the short chain is longer.
        assert_eq!(ahead(&after, &[1, 1, 30, 1]), [31, 2, 30, 1]);
    }

    #[tokio::test]
    async fn a_freed_slot_goes_to_the_longest_chain_then_to_the_first_to_ask() {
        let after: Vec<&[usize]> = vec![&[], &[], &[], &[], &[3]];
        let slots = Slots::new(1, &after, &[1; 5]);
        let held = slots.acquire(0).await;
        let order = Mutex::new(Vec::new());
        let ask = |step| {
            let (slots, order) = (&slots, &order);
            async move {
                let _slot = slots.acquire(step).await;
                order.lock().unwrap().push(step);
            }
        };
        let all = futures::future::join(
            async {
                tokio::task::yield_now().await;
                drop(held);
            },
            futures::future::join3(ask(2), ask(1), ask(3)),
        );
        all.await;
        assert_eq!(*order.lock().unwrap(), [3, 2, 1]);
    }
}
