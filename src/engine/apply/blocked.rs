//! kapp's "blocked changes": an object starts only once everything it waits
//! for (its plan step's `after`) is applied and ready. Each object's end is
//! published here for those waiting on it; one that failed or never started
//! blocks its dependents for good. It neither writes nor waits on the cluster.

use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Ready,
    NotReady,
}

/// Every object's state, as those waiting on it see it.
pub(super) struct Blocked {
    states: Vec<watch::Sender<State>>,
}

impl Blocked {
    /// `count` objects, those of `this_run` pending. The others are outside
    /// the run and count as ready (those it waits on are checked as targets).
    pub(super) fn new(count: usize, this_run: impl IntoIterator<Item = usize>) -> Blocked {
        let states: Vec<watch::Sender<State>> = (0..count)
            .map(|_| watch::Sender::new(State::Ready))
            .collect();
        for i in this_run {
            states[i].send_replace(State::Pending);
        }
        Blocked { states }
    }

    /// Waits until each of `after` has ended; `false` when one did not end
    /// ready (then the object must not start).
    pub(super) async fn until_free(&self, after: &[usize]) -> bool {
        for &i in after {
            let mut state = self.states[i].subscribe();
            let ended = state
                .wait_for(|s| *s != State::Pending)
                .await
                .map_or(State::NotReady, |s| *s);
            if ended != State::Ready {
                return false;
            }
        }
        true
    }

    /// Object `index` has ended, ready or not.
    pub(super) fn publish(&self, index: usize, ready: bool) {
        self.states[index].send_replace(if ready { State::Ready } else { State::NotReady });
    }
}
