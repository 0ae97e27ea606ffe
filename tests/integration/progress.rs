//! What a user sees while the engine works, off a terminal: the plain
//! line-by-line log and the `--output json` event stream (its documented
//! schema), and what Ctrl-C does to a run (exit 130, a report of what was
//! written, a re-run that converges). Times and the order of independent
//! objects vary from run to run, so snapshots hold the events sorted, with
//! times taken out; the order of each object's own events is checked apart.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;
use testserver::{Behavior, PodTrouble, Target};

use crate::common::cluster::{Env, SMALL, ctrl_c, stderr_of};

/// `[  12.3s] ready    Kind/ns/name` → `ready    Kind/ns/name`; other lines as they are.
fn untimed(line: &str) -> &str {
    match line.strip_prefix('[') {
        Some(rest) if rest.contains("s] ") => rest.split_once("s] ").map_or(line, |(_, l)| l),
        _ => line,
    }
}

/// Each object's events in order, from untimed plain lines.
fn per_object<'a>(
    events: impl Iterator<Item = (&'a str, &'a str)>,
) -> BTreeMap<&'a str, Vec<&'a str>> {
    let mut map: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (event, object) in events {
        let seen = map.entry(object).or_default();
        if seen.last() != Some(&event) {
            seen.push(event);
        }
    }
    map
}

#[test]
fn plain_progress_is_one_line_per_step() {
    let env = Env::new(SMALL);
    let out = env.apply(&[]).assert().success().get_output().clone();
    // The table of changes is the command's output; progress goes to stderr.
    let table = String::from_utf8(out.stdout.clone()).unwrap();
    let stderr = stderr_of(&out);
    let lines: Vec<&str> = stderr.lines().map(untimed).collect();
    // Every object is written, then (perhaps after waiting) ready.
    let steps = per_object(lines.iter().filter_map(|l| {
        let (event, rest) = l.split_once(' ')?;
        let object = rest.trim_start().split(": ").next()?;
        ["create", "waiting", "ready"]
            .contains(&event)
            .then_some((event, object))
    }));
    for (object, events) in &steps {
        assert_eq!(events.first(), Some(&"create"), "{object}: {events:?}");
        assert_eq!(events.last(), Some(&"ready"), "{object}: {events:?}");
    }
    // The table, the sorted steps without waits, the summary.
    let mut done: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("create ") || l.starts_with("ready "))
        .collect();
    done.sort();
    // The run ends with its critical path, after the summary.
    let (last, lines) = lines.split_last().unwrap();
    assert!(last.starts_with("critical path "), "{last}");
    let summary = lines.last().copied().unwrap_or_default();
    insta::assert_snapshot!(format!("{table}---\n{}\n---\n{summary}", done.join("\n")));
}

#[test]
fn quiet_apply_says_nothing_on_success_but_still_fails_loudly() {
    let env = Env::new(SMALL);
    let out = env
        .apply(&["--quiet"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(out.stderr.is_empty(), "{}", stderr_of(&out));
    // It did the work all the same.
    assert!(
        env.deployment("research", "research-orion-server")
            .is_some(),
        "the orion server was applied"
    );
    // A failure is still an error on stderr, with its exit code.
    let failing = Env::new(SMALL);
    failing.server.behave(
        Target::kind("StatefulSet").named("research-postgres"),
        Behavior::Fail(PodTrouble::CrashLoopBackOff),
    );
    let out = failing
        .apply(&["-q", "--failure-grace", "1s"])
        .assert()
        .code(5)
        .get_output()
        .clone();
    let stderr = stderr_of(&out);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains("CrashLoopBackOff"), "{stderr}");
    // `-q` and `-v` contradict each other.
    env.cnvrgctl(&["diff", "-q", "-v"]).assert().code(2);
}

#[test]
fn json_progress_is_one_documented_event_per_line() {
    let env = Env::new(SMALL);
    let out = env
        .apply(&["-o", "json"])
        .assert()
        .success()
        .get_output()
        .clone();
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let events: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let (first, events) = events.split_first().expect("events");
    assert_eq!(first["event"], "preflight", "{first}");
    assert!(
        first["checks"]
            .as_array()
            .is_some_and(|rows| rows.iter().all(|r| r["level"] != "fail")),
        "{first}"
    );
    let (last, steps) = events.split_last().expect("events");
    // The schema: every step names its event, object, scope and time.
    for e in steps {
        let keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
        assert!(
            [
                "unblocked",
                "create",
                "update",
                "replace",
                "written",
                "waiting",
                "ready",
                "failed",
                "pruned",
                "kept"
            ]
            .contains(&e["event"].as_str().unwrap()),
            "{e}"
        );
        assert!(e["object"].is_string() && e["scope"].is_string(), "{e}");
        assert!(e["elapsedMs"].is_u64(), "{e}");
        for key in keys {
            assert!(
                ["event", "object", "scope", "elapsedMs", "detail"].contains(&key),
                "undocumented key {key} in {e}"
            );
        }
        if e["event"] == "waiting" {
            assert!(e["detail"].is_string(), "a wait says for what: {e}");
        }
    }
    let steps_in_order = per_object(
        steps
            .iter()
            .map(|e| (e["event"].as_str().unwrap(), e["object"].as_str().unwrap())),
    );
    // Each object's phases in order (a write that returned it ready has no wait).
    for (object, events) in &steps_in_order {
        let phases: Vec<&str> = events.iter().copied().filter(|e| *e != "waiting").collect();
        assert_eq!(
            phases,
            ["unblocked", "create", "written", "ready"],
            "{object}: {events:?}"
        );
    }
    // The last event carries the critical path (its times vary: checked apart).
    let mut last = last.clone();
    let path = last
        .as_object_mut()
        .unwrap()
        .remove("criticalPath")
        .unwrap();
    assert!(path["ms"].as_u64() <= path["wallMs"].as_u64(), "{path}");
    assert!(!path["objects"].as_array().unwrap().is_empty(), "{path}");
    let mut lines: Vec<String> = steps
        .iter()
        .filter(|e| !["waiting", "unblocked", "written"].contains(&e["event"].as_str().unwrap()))
        .map(|e| {
            format!(
                "{} {} {}",
                e["scope"].as_str().unwrap(),
                e["event"].as_str().unwrap(),
                e["object"].as_str().unwrap()
            )
        })
        .collect();
    lines.sort();
    insta::assert_snapshot!(format!("{}\n---\n{last}", lines.join("\n")));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn ctrl_c_stops_new_work_reports_what_was_written_and_a_rerun_converges() {
    let env = Env::new(SMALL);
    let orion = || Target::kind("Deployment").named("research-orion-server");
    env.server
        .behave(orion(), Behavior::NeverReady(PodTrouble::ImagePullBackOff));
    let child = env
        .process(&["apply", "--yes", "--failure-grace", "10m"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the run is waiting for the Orion server.
    let until = Instant::now() + Duration::from_secs(60);
    while env
        .deployment("research", "research-orion-server")
        .is_none()
    {
        assert!(
            Instant::now() < until,
            "the run never wrote the Orion server"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    ctrl_c(child.id());
    let out = child.wait_with_output().unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted: letting writes in flight finish"),
        "{stderr}"
    );
    // Everything but the agents (which wait for Orion) was written.
    assert!(
        stderr.contains(
            "interrupted: 29 object(s) written before the stop, 1 not started; not yet ready: Deployment/research/research-orion-server;"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("run the command again to continue"),
        "{stderr}"
    );
    assert!(
        env.deployment("research", "research-agent-default")
            .is_none(),
        "nothing new started after Ctrl-C"
    );

    env.server.behave(
        orion(),
        Behavior::Ready {
            after: Duration::ZERO,
        },
    );
    env.apply(&[]).assert().success();
    assert!(
        env.deployment("research", "research-agent-default")
            .is_some()
    );
    env.cnvrgctl(&["diff"]).assert().code(0);
}

#[test]
fn status_watch_prints_the_table_again_when_it_changes_and_stops_on_ctrl_c() {
    use std::io::BufRead;
    let env = Env::new(SMALL);
    let orion = || Target::kind("Deployment").named("research-orion-server");
    env.server
        .behave(orion(), Behavior::NeverReady(PodTrouble::ImagePullBackOff));
    env.apply(&["--object-timeout", "2s"]).assert().code(5);
    let mut child = env
        .process(&["status", "--watch", "--scope", "tenant/research"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let read_until = |wanted: &str| {
        let until = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.contains(wanted) => return line,
                Ok(line) => seen.push(line),
                Err(_) => panic!("no line with `{wanted}` in {seen:#?}"),
            }
        }
    };
    let first = read_until("orion-server");
    assert!(first.contains("Progressing"), "{first}");
    assert!(first.contains("ImagePullBackOff"), "{first}");
    // The registry is fixed: the pods come up, the table is printed again.
    env.server.behave(
        orion(),
        Behavior::Ready {
            after: Duration::ZERO,
        },
    );
    let again = read_until("orion-server");
    assert!(again.contains("Ready"), "{again}");
    ctrl_c(child.id());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}
