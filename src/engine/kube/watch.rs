//! Watches that say when they stop seeing. kube's watcher lists, then
//! watches from the list's resourceVersion (or its last bookmark's) and
//! resumes when the server drops the connection; on 410 Gone it lists again
//! at once. Wrapped here so that when the watch fails, or the API
//! server stops answering ([`Health`](super::health::Health)), the stream
//! says so (`Seen::Failing`) and starts over with a fresh list (after a
//! backoff when the watch itself failed): the next `Synced` then means
//! everything was seen again, not resumed from before the outage.

use std::time::Duration;

use futures::stream::{BoxStream, Stream, StreamExt};
use kube::api::{Api, DynamicObject};
use kube::runtime::watcher;
use tokio::sync::watch::Receiver;

use super::health::Reach;
use super::{Resource, Seen, to_value};

/// The first wait before listing again after the watch failed; it doubles
/// with each failure in a row, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(800);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

type Events = BoxStream<'static, watcher::Result<watcher::Event<DynamicObject>>>;

/// The stream of [`Seen`] for one kind in one namespace.
pub fn watch(
    api: Api<DynamicObject>,
    resource: Resource,
    reach: Receiver<Reach>,
) -> impl Stream<Item = Seen> + Send + 'static {
    let watching = Watching {
        events: start(&api),
        api,
        resource,
        reach: Some(reach),
        failures: 0,
        down: false,
        pause: None,
    };
    futures::stream::unfold(watching, |mut w| async move {
        let seen = w.next().await;
        Some((seen, w))
    })
}

fn start(api: &Api<DynamicObject>) -> Events {
    watcher(api.clone(), watcher::Config::default()).boxed()
}

fn backoff(failures: u32) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(1 << failures.saturating_sub(1).min(16))
        .min(MAX_BACKOFF)
}

struct Watching {
    api: Api<DynamicObject>,
    resource: Resource,
    events: Events,
    /// `None` once the client is gone.
    reach: Option<Receiver<Reach>>,
    /// Failures of the watch in a row.
    failures: u32,
    /// Down since the last `Synced`: a fresh list is under way.
    down: bool,
    /// How long to wait before listing again.
    pause: Option<Duration>,
}

/// What woke the stream.
enum Woken {
    Event(Box<Option<watcher::Result<watcher::Event<DynamicObject>>>>),
    /// The API server's reachability changed (`false`: the client is gone).
    Reach(bool),
}

impl Watching {
    async fn next(&mut self) -> Seen {
        loop {
            if let Some(pause) = self.pause.take() {
                tokio::time::sleep(pause).await;
                self.events = start(&self.api);
            }
            let woken = {
                let (events, reach) = (&mut self.events, &mut self.reach);
                let reach_changed = async {
                    match reach {
                        Some(r) => r.changed().await.is_ok(),
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    event = events.next() => Woken::Event(Box::new(event)),
                    alive = reach_changed => Woken::Reach(alive),
                }
            };
            match woken {
                Woken::Event(event) => match *event {
                    Some(Ok(event)) => return self.seen(event),
                    // 410 Gone: the server no longer holds the version to
                    // resume from; kube's watcher lists again at once, as
                    // client-go's reflector does. Not a failure to back off.
                    Some(Err(watcher::Error::WatchError(status))) if status.code == 410 => {}
                    Some(Err(e)) => {
                        self.failures += 1;
                        self.pause = Some(backoff(self.failures));
                        self.down = true;
                        let plural = &self.resource.api.plural;
                        return Seen::Failing(format!("watching {plural} failed: {e}"));
                    }
                    // kube's watcher does not end; if it did, start again.
                    None => self.pause = Some(backoff(self.failures + 1)),
                },
                Woken::Reach(false) => self.reach = None,
                Woken::Reach(true) => {
                    let reach = self.reach.as_mut().map(|r| r.borrow_and_update().clone());
                    if let Some(Reach::Unreachable(why)) = reach {
                        if !self.down {
                            self.down = true;
                            self.events = start(&self.api);
                        }
                        return Seen::Failing(why);
                    }
                }
            }
        }
    }

    fn seen(&mut self, event: watcher::Event<DynamicObject>) -> Seen {
        match event {
            watcher::Event::Init => Seen::Restarted,
            watcher::Event::InitApply(o) | watcher::Event::Apply(o) => {
                Seen::Applied(to_value(&self.resource, o))
            }
            watcher::Event::Delete(o) => Seen::Deleted(to_value(&self.resource, o)),
            watcher::Event::InitDone => {
                self.failures = 0;
                self.down = false;
                Seen::Synced
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_a_cap() {
        assert_eq!(backoff(1), FIRST_BACKOFF);
        assert_eq!(backoff(2), FIRST_BACKOFF * 2);
        assert_eq!(backoff(4), FIRST_BACKOFF * 8);
        assert_eq!(backoff(40), MAX_BACKOFF);
    }
}
