//! Runs the test API server by itself, for trying cnvrgctl by hand without a
//! cluster: `cargo run -p cnvrgctl-testserver --example serve -- 2s` starts it
//! with pods taking 2 s to become ready, prints the kubeconfig to use, and
//! serves until Ctrl-C.

use std::time::Duration;

fn main() {
    let ready_after = std::env::args()
        .nth(1)
        .map(|text| {
            let millis = match text.strip_suffix("ms") {
                Some(ms) => ms.parse::<u64>(),
                None => text.trim_end_matches('s').parse::<u64>().map(|s| s * 1000),
            };
            Duration::from_millis(millis.expect("a duration like 2s or 500ms"))
        })
        .unwrap_or(Duration::from_secs(1));
    let server = testserver::TestServer::start_with(testserver::Options {
        ready_after,
        ..testserver::Options::default()
    });
    println!(
        "serving {} (pods ready after {ready_after:?})\nexport KUBECONFIG={}",
        server.url(),
        server.kubeconfig().display()
    );
    loop {
        std::thread::park();
    }
}
