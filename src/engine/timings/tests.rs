//! The critical path and the report on small hand-made runs.

use std::time::Duration;

use super::*;

fn ms(n: u64) -> Option<Duration> {
    Some(Duration::from_millis(n))
}

/// An object written at `start` (its dependencies ready at `unblocked`),
/// its write back 10 ms later, ending `end` at `done`.
fn written(unblocked: u64, start: u64, done: u64, end: End) -> Phases {
    Phases {
        unblocked: ms(unblocked),
        write_start: ms(start),
        write_end: ms(start + 10),
        wait_start: None,
        end: ms(done),
        end_as: end,
    }
}

/// Unchanged and ready at once.
fn unchanged(at: u64) -> Phases {
    Phases {
        unblocked: ms(at),
        end: ms(at),
        end_as: End::Ready,
        ..Phases::default()
    }
}

/// A run of `(id, after, phases)`, plan steps in that order.
fn run(objects: &[(&str, &[usize], Phases)], wall: u64) -> Timings {
    Timings {
        rows: objects
            .iter()
            .enumerate()
            .map(|(step, (id, _, phases))| Row {
                id: id.to_string(),
                kind: id.split('/').next().unwrap().to_string(),
                scope: if id.starts_with("Namespace") {
                    "infra".into()
                } else {
                    "tenant.research".into()
                },
                step: Some(step),
                op: if phases.write_start.is_some() {
                    Op::Create
                } else {
                    Op::Unchanged
                },
                phases: *phases,
            })
            .collect(),
        after: objects.iter().map(|(_, after, _)| after.to_vec()).collect(),
        wall: Duration::from_millis(wall),
        requests: 42,
        parameters: vec![("concurrency".into(), "8".into())],
    }
}

fn path(timings: &Timings) -> (Vec<&str>, u64) {
    let c = critical(timings);
    let ids = c
        .chain
        .iter()
        .map(|r| timings.rows[*r].id.as_str())
        .collect();
    (ids, c.length.as_millis() as u64)
}

#[test]
fn a_chain_adds_up() {
    let t = run(
        &[
            ("Namespace/x", &[], written(0, 0, 100, End::Ready)),
            (
                "StatefulSet/x/pg",
                &[0],
                written(100, 110, 1100, End::Ready),
            ),
            ("Job/x/migrate", &[1], written(1100, 1100, 1600, End::Ready)),
        ],
        1700,
    );
    assert_eq!(
        path(&t),
        (
            vec!["Namespace/x", "StatefulSet/x/pg", "Job/x/migrate"],
            100 + 990 + 500
        )
    );
    assert_eq!(
        critical(&t).line(&t.rows),
        "critical path 1.6 s of 1.7 s: Namespace/x → StatefulSet/pg → Job/migrate"
    );
}

#[test]
fn a_diamond_follows_its_longer_side() {
    let t = run(
        &[
            ("Namespace/x", &[], written(0, 0, 100, End::Ready)),
            (
                "StatefulSet/x/pg",
                &[0],
                written(100, 100, 2100, End::Ready),
            ),
            (
                "Deployment/x/cache",
                &[0],
                written(100, 100, 600, End::Ready),
            ),
            (
                "Deployment/x/app",
                &[1, 2],
                written(2100, 2100, 2400, End::Ready),
            ),
        ],
        2500,
    );
    assert_eq!(
        path(&t),
        (
            vec!["Namespace/x", "StatefulSet/x/pg", "Deployment/x/app"],
            100 + 2000 + 300
        )
    );
}

#[test]
fn of_equal_chains_the_first_in_plan_order_wins() {
    let t = run(
        &[
            ("Namespace/x", &[], written(0, 0, 100, End::Ready)),
            ("Deployment/x/a", &[0], written(100, 100, 600, End::Ready)),
            ("Deployment/x/b", &[0], written(100, 100, 600, End::Ready)),
            ("Service/x/c", &[2, 1], written(600, 600, 700, End::Ready)),
        ],
        700,
    );
    // `c` lists `b` first: the first dependency of equal length is taken.
    assert_eq!(
        path(&t).0,
        vec!["Namespace/x", "Deployment/x/b", "Service/x/c"]
    );
    let alone = run(
        &[
            ("Deployment/x/a", &[], written(0, 0, 500, End::Ready)),
            ("Deployment/x/b", &[], written(0, 0, 500, End::Ready)),
        ],
        500,
    );
    assert_eq!(path(&alone).0, vec!["Deployment/x/a"]);
}

#[test]
fn a_failed_object_ends_the_path_and_what_never_started_weighs_nothing() {
    let t = run(
        &[
            ("Namespace/x", &[], written(0, 0, 100, End::Ready)),
            (
                "Deployment/x/web",
                &[0],
                written(100, 100, 3100, End::Failed),
            ),
            ("Ingress/x/web", &[1], Phases::default()),
        ],
        3200,
    );
    assert_eq!(
        path(&t),
        (vec!["Namespace/x", "Deployment/x/web"], 100 + 3000)
    );
}

#[test]
fn a_run_that_wrote_nothing_has_an_empty_path() {
    let t = run(
        &[
            ("Namespace/x", &[], unchanged(0)),
            ("Deployment/x/web", &[0], unchanged(5)),
        ],
        300,
    );
    assert_eq!(path(&t), (vec![], 0));
    assert_eq!(
        critical(&t).line(&t.rows),
        "critical path 0.0 s of 0.3 s: nothing was written or waited for"
    );
    // Unchanged but not ready at once: its wait counts.
    let mut waited = t.clone();
    waited.rows[1].phases.wait_start = ms(5);
    waited.rows[1].phases.end = ms(205);
    assert_eq!(path(&waited), (vec!["Deployment/x/web"], 200));
}

#[test]
fn a_long_path_is_shortened_to_its_first_and_last_objects() {
    let objects: Vec<(String, Vec<usize>)> = (0..9)
        .map(|i| {
            (
                format!("ConfigMap/x/c{i}"),
                if i == 0 { vec![] } else { vec![i - 1] },
            )
        })
        .collect();
    let list: Vec<(&str, &[usize], Phases)> = objects
        .iter()
        .enumerate()
        .map(|(i, (id, after))| {
            let at = 100 * i as u64;
            (
                id.as_str(),
                after.as_slice(),
                written(at, at, at + 100, End::Ready),
            )
        })
        .collect();
    let t = run(&list, 900);
    assert_eq!(
        critical(&t).line(&t.rows),
        "critical path 0.9 s of 0.9 s: ConfigMap/c0 → … → ConfigMap/c5 → ConfigMap/c6 → ConfigMap/c7 → ConfigMap/c8"
    );
}

#[test]
fn the_report_shows_every_row_its_phases_the_path_and_the_totals() {
    let mut t = run(
        &[
            ("Namespace/x", &[], written(0, 0, 100, End::Ready)),
            (
                "StatefulSet/x/pg",
                &[0],
                written(100, 400, 2100, End::Ready),
            ),
            (
                "Deployment/x/cache",
                &[0],
                written(100, 100, 600, End::Ready),
            ),
            ("ConfigMap/x/<odd>", &[0], unchanged(100)),
        ],
        2200,
    );
    t.rows.push(Row {
        id: "Secret/x/old".into(),
        kind: "Secret".into(),
        scope: "tenant.research".into(),
        step: None,
        op: Op::Delete,
        phases: Phases {
            end: ms(2150),
            end_as: End::Pruned,
            ..Phases::default()
        },
    });
    let report = html(&t, &critical(&t));
    assert!(!report.contains("<script") && !report.contains("http"));
    let body = &report[report.find("</style>").unwrap()..];
    insta::assert_snapshot!(body);
}
