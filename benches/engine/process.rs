//! The release binary as a user runs it: `cnvrgctl diff` and a no-change
//! `cnvrgctl apply --yes` against the test server (installed once, outside
//! the timing), each in its own process, so what is measured is cnvrgctl's
//! alone: wall time, the API requests the server saw, and the process's peak
//! resident memory (`VmHWM` of `/proc/PID/status`, read until it exits; a
//! child's `ru_maxrss` would count the pages of the bench it was forked from). `CNVRGCTL_BIN` names
//! another binary to measure (an older build, to compare).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use testserver::TestServer;

/// One run of the binary.
pub struct Measured {
    pub seconds: f64,
    pub requests: usize,
    pub peak_mib: f64,
    pub code: i32,
}

/// Runs `cnvrgctl ARGS -f SPEC` against `server` and waits for it.
// The child is reaped by `wait4` (for its rusage), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
pub fn run(server: &TestServer, spec: &Path, args: &[&str]) -> Measured {
    server.clear_log();
    let started = Instant::now();
    let binary =
        std::env::var_os("CNVRGCTL_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_cnvrgctl").into());
    let child = Command::new(binary)
        .args(args)
        .arg("-f")
        .arg(spec)
        .arg("--kubeconfig")
        .arg(server.kubeconfig())
        .args(["--quiet", "--no-color"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("cnvrgctl starts");
    let pid = child.id();
    let peak = std::thread::spawn(move || high_water(pid));
    let (code, _) = reap(pid);
    let peak_kib = peak.join().expect("reads VmHWM");
    Measured {
        seconds: started.elapsed().as_secs_f64(),
        requests: server.requests().len(),
        peak_mib: peak_kib as f64 / 1024.0,
        code,
    }
}

/// The largest `VmHWM` (KiB) read from `/proc/PID/status` until it is gone.
fn high_water(pid: u32) -> i64 {
    let path = format!("/proc/{pid}/status");
    let mut peak = 0;
    while let Ok(status) = std::fs::read_to_string(&path) {
        let Some(kib) = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        else {
            break; // a zombie has no memory left to read
        };
        peak = peak.max(kib);
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    peak
}

/// Waits for process `pid`: its exit code and peak RSS in KiB.
fn reap(pid: u32) -> (i32, i64) {
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not yet waited for; both pointers are valid.
    let reaped = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid as libc::pid_t, "wait4");
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (code, usage.ru_maxrss)
}
