//! When each object starts: no later than the graph allows. A dependent
//! starts as its last dependency turns ready, an object ready as written is
//! not waited on, a write slot is held only while writing, and a freed one
//! goes to the longest branch.

use super::*;

/// The events as `what object` lines, in order.
fn story(heard: &Heard) -> Vec<String> {
    heard
        .0
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| {
            let (what, object) = match e {
                Event::Unblocked { object } => ("unblocked", object),
                Event::Applying { object, .. } => ("applying", object),
                Event::Written { object } => ("written", object),
                Event::Ready { object, .. } => ("ready", object),
                _ => return None,
            };
            Some(format!(
                "{what} {}",
                object.trim_start_matches("ConfigMap/ns/")
            ))
        })
        .collect()
}

#[tokio::test]
async fn an_object_ready_as_written_is_not_waited_on() {
    let world =
        World::default()
            .object("settings", Op::Create, &[])
            .object("web", Op::Create, &[0]);
    let ready = Script {
        ready_as_written: true,
        ..Script::default()
    };
    let fake = Fake::with(&[("settings", ready)]);
    world.run_quietly(&fake).await.unwrap();
    assert_eq!(
        fake.log(),
        ["apply settings", "apply web", "wait web"],
        "the ConfigMap's write said it is ready: no wait, no watch"
    );
}

#[tokio::test]
async fn a_dependent_starts_as_soon_as_its_last_dependency_is_ready() {
    let world = World::default()
        .object("db", Op::Create, &[])
        .object("cache", Op::Create, &[])
        .object("web", Op::Create, &[0, 1]);
    let slow = Script {
        held_wait: true,
        ..Script::default()
    };
    let fake = Fake::with(&[("db", slow)]);
    let heard = Heard::default();
    let options = Options::default();
    let run = world.run(&fake, &heard, &options);
    let open = async {
        fake.until_logged("wait cache").await;
        fake.until_logged("wait db").await;
        fake.open_gate();
    };
    let (result, ()) = futures::join!(run, open);
    result.unwrap();
    let story = story(&heard);
    let db_ready = story.iter().position(|e| e == "ready db").unwrap();
    assert!(story.iter().position(|e| e == "ready cache").unwrap() < db_ready);
    assert_eq!(
        story[db_ready + 1..db_ready + 4],
        ["unblocked web", "applying web", "written web"],
        "{story:?}"
    );
}

#[tokio::test]
async fn a_freed_write_slot_goes_to_the_branch_with_the_longest_chain() {
    // root ← leaf-1, leaf-2, leaf-3 and root ← head ← tail, one write at a time.
    let world = World::default()
        .object("root", Op::Create, &[])
        .object("leaf-1", Op::Create, &[0])
        .object("leaf-2", Op::Create, &[0])
        .object("leaf-3", Op::Create, &[0])
        .object("head", Op::Create, &[0])
        .object("tail", Op::Create, &[4]);
    let fake = Fake::default();
    let options = Options {
        concurrency: 1,
        ..Options::default()
    };
    world.run(&fake, &Heard::default(), &options).await.unwrap();
    let applies: Vec<String> = fake
        .log()
        .into_iter()
        .filter(|e| e.starts_with("apply"))
        .collect();
    assert_eq!(
        applies[..2],
        ["apply root", "apply head"],
        "head leads on to tail: it writes before the leaves that became eligible with it"
    );
}

#[tokio::test]
async fn a_write_slot_is_not_held_while_a_replaced_object_goes() {
    // One write at a time: web must not wait for migrate's old Job to go.
    let world = World::default()
        .object("migrate", Op::Replace, &[])
        .object("web", Op::Create, &[]);
    let going = Script {
        held_gone: true,
        ..Script::default()
    };
    let fake = Fake::with(&[("migrate", going)]);
    let options = Options {
        concurrency: 1,
        ..Options::default()
    };
    let heard = Heard::default();
    let run = world.run(&fake, &heard, &options);
    let open = async {
        fake.until_logged("delete migrate").await;
        // Plenty of turns for web to be written, were a slot free.
        for _ in 0..10_000 {
            if fake.log().iter().any(|e| e == "apply web") {
                break;
            }
            tokio::task::yield_now().await;
        }
        let written_meanwhile = fake.log().iter().any(|e| e == "apply web");
        fake.open_gate();
        written_meanwhile
    };
    let (result, written_meanwhile) = futures::join!(run, open);
    result.unwrap();
    assert!(written_meanwhile, "{:?}", fake.log());
    let log = fake.log();
    let gone = log.iter().position(|e| e == "gone migrate u-migrate");
    assert_eq!(
        log.get(gone.unwrap() + 1).map(String::as_str),
        Some("apply migrate"),
        "{log:?}"
    );
}
