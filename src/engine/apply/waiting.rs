//! kapp's "waiting changes": after its write, an object is waited on until it
//! is ready, fails, or its time (`--object-timeout`, within the run's
//! `--timeout`) is up; each new reason is told as [`Event::Waiting`]. An
//! object left as it was and already ready costs no wait and no request. A
//! stop ends the wait. It writes nothing; readiness itself is
//! [`crate::engine::readiness`]'s.

use tokio::time::Instant;

use super::actions::Actions;
use super::applying::Applied;
use super::ended::Ended;
use super::observe::Target;
use super::stop::Stop;
use super::{Event, Observer, Options};
use crate::engine::wait::{Failure, Outcome};

/// The wait stage, shared by every object of the run.
pub(super) struct Waiting<'a, A> {
    pub actions: &'a A,
    pub options: &'a Options,
    pub observer: &'a dyn Observer,
    pub stop: &'a Stop,
    /// The end of the run's time.
    pub deadline: Instant,
}

impl<A: Actions> Waiting<'_, A> {
    /// Waits for the target (as `applied` left it) to be ready.
    pub(super) async fn until_ready(&self, target: &Target, applied: &Applied) -> Ended {
        let written = applied.written();
        // Ready as the write returned it (or, unwritten, as it was read): no
        // wait, no watch (a ConfigMap, a Namespace, an unchanged Deployment).
        if let Some(seen) = applied.returned.as_ref().or(target.live.as_ref())
            && self.actions.check(seen).await.is_ready()
        {
            return Ended::Ready { written };
        }
        let id = target.change.id();
        let progress = |why: &str| {
            self.observer.event(Event::Waiting {
                object: id.clone(),
                why: why.to_string(),
            });
        };
        let deadline = (Instant::now() + self.options.object_timeout).min(self.deadline);
        let wait = self
            .actions
            .until_ready(target.at(&applied.resource), deadline, &progress);
        match self.stop.unless_stopped(wait).await {
            None => Ended::Stopped { written },
            Some(Outcome::Ready) => Ended::Ready { written },
            Some(Outcome::Failed(why)) => Ended::failed(why),
            Some(Outcome::TimedOut(last)) => Ended::Failed {
                failure: Failure::TimedOut,
                why: format!(
                    "timed out: {}",
                    if last.is_empty() { "not ready" } else { &last }
                ),
            },
        }
    }
}
