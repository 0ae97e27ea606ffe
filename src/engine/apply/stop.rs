//! When a run stops early: an object failed, or the user said stop (Ctrl-C,
//! [`super::Options::stop`]). Either way nothing new starts, writes in flight
//! finish and waits end. This only signals; the stages say what may be cut
//! short (a wait, never a write).

use std::future::Future;

use tokio::sync::watch;

/// The run's two stop signals.
pub(super) struct Stop {
    failed: watch::Sender<bool>,
    interrupt: Option<watch::Receiver<bool>>,
}

impl Stop {
    /// `interrupt`: set to `true` from outside to stop the run.
    pub(super) fn new(interrupt: Option<watch::Receiver<bool>>) -> Stop {
        Stop {
            failed: watch::Sender::new(false),
            interrupt,
        }
    }

    /// An object failed: the rest stops.
    pub(super) fn fail(&self) {
        self.failed.send_replace(true);
    }

    /// Whether the user said stop.
    pub(super) fn interrupted(&self) -> bool {
        self.interrupt.as_ref().is_some_and(|s| *s.borrow())
    }

    /// Whether the run is stopping, for either reason.
    pub(super) fn stopping(&self) -> bool {
        *self.failed.borrow() || self.interrupted()
    }

    /// `work`, unless the run stops first (then `None`).
    pub(super) async fn unless_stopped<T>(&self, work: impl Future<Output = T>) -> Option<T> {
        let mut failed = self.failed.subscribe();
        let interrupt = self.interrupt.clone();
        let interrupted = async {
            if let Some(mut rx) = interrupt
                && rx.wait_for(|s| *s).await.is_ok()
            {
                return;
            }
            // No one can say stop (any more).
            std::future::pending::<()>().await
        };
        tokio::select! {
            done = work => Some(done),
            _ = failed.wait_for(|s| *s) => None,
            _ = interrupted => None,
        }
    }
}
