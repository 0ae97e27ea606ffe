//! What the engine is doing, as it happens: one line per step on stderr (or
//! one JSON object per line on stdout with `--output json`). Waiting messages
//! are printed when they change, so a stuck object shows why without flooding
//! the terminal.

use std::io::Write;
use std::time::Instant;

use serde_json::json;

use crate::apply::{Event, Observer};

/// Prints engine events.
pub struct Progress {
    json: bool,
    started: Instant,
}

impl Progress {
    pub fn new(json: bool) -> Progress {
        Progress {
            json,
            started: Instant::now(),
        }
    }

    fn line(&self, what: &str, object: &str, detail: Option<&str>) {
        if self.json {
            let mut event = json!({
                "event": what,
                "object": object,
                "elapsedMs": self.started.elapsed().as_millis() as u64,
            });
            if let Some(detail) = detail {
                event["detail"] = detail.into();
            }
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{event}");
            return;
        }
        let elapsed = self.started.elapsed().as_secs_f32();
        match detail {
            Some(d) => eprintln!("[{elapsed:6.1}s] {what:<8} {object}: {d}"),
            None => eprintln!("[{elapsed:6.1}s] {what:<8} {object}"),
        }
    }
}

impl Observer for Progress {
    fn event(&self, event: Event) {
        match event {
            Event::Applying { object, op } => self.line(op.as_str(), &object, None),
            Event::Waiting { object, why } => self.line("waiting", &object, Some(&why)),
            Event::Ready { object, .. } => self.line("ready", &object, None),
            // The full story (log tails, events) comes with the final report.
            Event::Failed { object, why } => self.line("failed", &object, why.lines().next()),
            Event::Pruned { object } => self.line("pruned", &object, None),
            Event::Kept { object, why } => self.line("kept", &object, Some(&why)),
        }
    }
}
