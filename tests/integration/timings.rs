//! `--timings`: the report a run writes, the critical-path line every run
//! ends with, and what the waits cost: an object the write returned ready
//! opens no watch.

use testserver::Verb;

use crate::common::cluster::{Env, SMALL, stderr_of};

#[test]
fn apply_with_timings_writes_a_report_naming_every_object() {
    let env = Env::new(SMALL);
    let report = env.dir.path().join("run.html");
    let out = env
        .apply(&[&format!("--timings={}", report.display())])
        .assert()
        .success()
        .get_output()
        .clone();
    let stderr = stderr_of(&out);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.starts_with("critical path "), "{stderr}");
    assert!(last.contains(" of ") && last.contains(" → "), "{last}");
    assert!(
        stderr.contains(&format!("timings report written to {}", report.display())),
        "{stderr}"
    );
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && !html.contains("<script"));
    let writes = env.writes();
    assert!(!writes.is_empty());
    // Every object written but the scopes' inventories (not in the plan).
    let inventory =
        |w: &&testserver::Write| w.kind == "ConfigMap" && w.name.starts_with("cnvrgctl-");
    for w in writes.iter().filter(|w| !inventory(w)) {
        assert!(
            html.contains(&format!(">{}/{}<", w.kind, w.name)),
            "{}/{} has no row",
            w.kind,
            w.name
        );
    }
    assert!(
        html.contains("class=\"row crit\""),
        "the critical path is marked"
    );
    assert!(html.contains("Totals by scope") && html.contains("Totals by kind"));
}

#[test]
fn timings_without_a_file_name_writes_the_default_file_here_and_a_no_op_run_says_so() {
    let env = Env::new(SMALL);
    env.apply(&[]).assert().success();
    let here = tempfile::tempdir().unwrap();
    let out = env
        .apply(&["--timings"])
        .current_dir(here.path())
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(here.path().join("cnvrgctl-timings.html").is_file());
    let stderr = stderr_of(&out);
    assert!(
        stderr
            .lines()
            .last()
            .unwrap_or_default()
            .starts_with("critical path 0.0 s of "),
        "{stderr}"
    );
}

#[test]
fn objects_ready_as_written_open_no_watch() {
    let env = Env::new(SMALL);
    env.apply(&[]).assert().success();
    let watched: Vec<String> = env
        .server
        .requests()
        .iter()
        .filter(|r| r.verb == Verb::Watch)
        .filter_map(|r| r.resource.clone())
        .collect();
    for ready_as_written in [
        "configmaps",
        "secrets",
        "serviceaccounts",
        "networkpolicies",
        "roles",
        "rolebindings",
        "namespaces",
    ] {
        assert!(
            !watched.iter().any(|w| w == ready_as_written),
            "a watch on {ready_as_written}: {watched:?}"
        );
    }
}
