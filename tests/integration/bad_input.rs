//! The bad-input corpus (`tests/bad_input/`, one directory per case): each case
//! runs through the real binary twice, `validate` and `apply --yes` against the
//! test API server, and must end with its documented exit code, no panic, empty
//! stdout, a clear message on stderr (snapshot-tested, with the substrings its
//! `case.toml` names: file:line:column and field), no request to the server, and
//! within [`TIMEOUT`].
//!
//! A case directory holds `case.toml` and what it describes: `cluster.yaml`,
//! optional `tenants/*.yaml`, optional `templates/` (an overlay the case passes
//! with `--templates`). `case.toml` is a flat TOML table:
//!
//! | key | |
//! |---|---|
//! | `about` | what is wrong, one line (the snapshot's description) |
//! | `stderr` | strings stderr must contain, for both commands |
//! | `args` | extra arguments for both commands (`["--templates", "templates"]`) |
//! | `file` | the `-f` argument (default `cluster.yaml`) |
//! | `validate`, `apply` | expected exit codes (default 2) |
//! | `unset` | environment variables removed for the run |
//! | `generate` | `cluster.yaml` made by the test: `random-bytes`, `control-characters`, `50mb` |
//!
//! `@@100KB@@` in any file of a case becomes 100,000 `a`s when the case is copied
//! to its temporary directory, so oversize values need not be committed.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use testserver::TestServer;

/// Longest one command of a case may run: a hang fails instead of blocking CI.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Cases run at once (each worker has its own test API server).
const WORKERS: usize = 3;

/// One directory of the corpus, as its `case.toml` describes it.
#[derive(Debug)]
struct Case {
    name: String,
    dir: PathBuf,
    about: String,
    stderr: Vec<String>,
    args: Vec<String>,
    file: String,
    validate: i32,
    apply: i32,
    unset: Vec<String>,
    generate: Option<String>,
}

/// What one run of the binary did.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    requests: usize,
    took: Duration,
}

/// What one case produced: its snapshot text, and what went wrong.
struct Outcome {
    snapshot: String,
    problems: Vec<String>,
    took: Duration,
}

fn corpus_dir() -> PathBuf {
    crate::common::root().join("tests/bad_input")
}

fn cases() -> Vec<Case> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("tests/bad_input exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.into_iter().map(|dir| Case::read(&dir)).collect()
}

impl Case {
    fn read(dir: &Path) -> Case {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(dir.join("case.toml"))
            .unwrap_or_else(|e| panic!("{name}: cannot read case.toml: {e}"));
        let mut case = Case {
            name: name.clone(),
            dir: dir.to_path_buf(),
            about: String::new(),
            stderr: Vec::new(),
            args: Vec::new(),
            file: "cluster.yaml".into(),
            validate: 2,
            apply: 2,
            unset: Vec::new(),
            generate: None,
        };
        for (key, value) in toml_lines(&text).unwrap_or_else(|e| panic!("{name}/case.toml: {e}")) {
            match (key.as_str(), value) {
                ("about", Toml::Str(s)) => case.about = s,
                ("file", Toml::Str(s)) => case.file = s,
                ("generate", Toml::Str(s)) => case.generate = Some(s),
                ("stderr", Toml::List(l)) => case.stderr = l,
                ("args", Toml::List(l)) => case.args = l,
                ("unset", Toml::List(l)) => case.unset = l,
                ("validate", Toml::Int(n)) => case.validate = n,
                ("apply", Toml::Int(n)) => case.apply = n,
                (key, _) => panic!("{name}/case.toml: unknown key or wrong type: `{key}`"),
            }
        }
        assert!(
            !case.about.is_empty(),
            "{name}/case.toml: `about` is required"
        );
        case
    }

    /// Copies the case into `dir`, expanding `@@100KB@@` and generating what
    /// `generate` asks for.
    fn materialize(&self, dir: &Path) {
        copy_tree(&self.dir, dir);
        let _ = std::fs::remove_file(dir.join("case.toml"));
        let target = dir.join("cluster.yaml");
        match self.generate.as_deref() {
            None => {}
            Some("random-bytes") => {
                // xorshift64*: the same 4 KiB every run.
                let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
                let bytes: Vec<u8> = (0..4096)
                    .map(|_| {
                        x ^= x >> 12;
                        x ^= x << 25;
                        x ^= x >> 27;
                        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
                    })
                    .collect();
                std::fs::write(&target, bytes).unwrap();
            }
            Some("control-characters") => {
                let text = "apiVersion: cnvrgctl.io/v1alpha1\nkind: Cluster\nmetadata:\u{0}\u{1b}[31m\n  name: acme\u{7}\nspec: {}\n";
                std::fs::write(&target, text).unwrap();
            }
            Some("50mb") => {
                let mut text = String::from(
                    "apiVersion: cnvrgctl.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: acme\nspec:\n  tenants:\n",
                );
                let line = "    - {name: padding-padding-padding-padding, type: cnvrg}\n";
                while text.len() < 50 * 1000 * 1000 {
                    text.push_str(line);
                }
                std::fs::write(&target, text).unwrap();
            }
            Some(other) => panic!("{}: unknown `generate = {other:?}`", self.name),
        }
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let dest = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_tree(&path, &dest);
        } else {
            let bytes = std::fs::read(&path).unwrap();
            let bytes = match std::str::from_utf8(&bytes) {
                Ok(text) if text.contains("@@100KB@@") => {
                    text.replace("@@100KB@@", &"a".repeat(100_000)).into_bytes()
                }
                _ => bytes,
            };
            std::fs::write(dest, bytes).unwrap();
        }
    }
}

/// A `case.toml` value: the three kinds the corpus uses.
enum Toml {
    Str(String),
    Int(i32),
    List(Vec<String>),
}

/// The flat subset of TOML `case.toml` is written in: `key = "string"`,
/// `key = 2` and `key = ["a", "b"]`, one per line, `#` comments.
fn toml_lines(text: &str) -> Result<Vec<(String, Toml)>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format!("line {}: expected `key = value`", n + 1))?;
        let value = value.trim();
        let parsed = if let Some(inner) = value.strip_prefix('[') {
            let inner = inner
                .strip_suffix(']')
                .ok_or_else(|| format!("line {}: unclosed list", n + 1))?;
            let mut items = Vec::new();
            let mut rest = inner.trim();
            while !rest.is_empty() {
                let (item, after) =
                    toml_string(rest).map_err(|e| format!("line {}: {e}", n + 1))?;
                items.push(item);
                rest = after.trim_start();
                rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
            }
            Toml::List(items)
        } else if value.starts_with('"') {
            let (s, rest) = toml_string(value).map_err(|e| format!("line {}: {e}", n + 1))?;
            if !rest.trim().is_empty() {
                return Err(format!("line {}: text after the string", n + 1));
            }
            Toml::Str(s)
        } else {
            Toml::Int(
                value
                    .parse()
                    .map_err(|_| format!("line {}: expected a string, list or number", n + 1))?,
            )
        };
        out.push((key.trim().to_string(), parsed));
    }
    Ok(out)
}

/// A basic TOML string at the start of `text` (with `\"` and `\\` escapes),
/// and the text after it.
fn toml_string(text: &str) -> Result<(String, &str), String> {
    let body = text.strip_prefix('"').ok_or("expected a string")?;
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &body[i + 1..])),
            '\\' => match chars.next() {
                Some((_, '"')) => out.push('"'),
                Some((_, '\\')) => out.push('\\'),
                Some((_, 'n')) => out.push('\n'),
                _ => return Err("unsupported escape".into()),
            },
            c => out.push(c),
        }
    }
    Err("unclosed string".into())
}

/// Runs `cnvrgctl ARGS` in `dir` with the case's arguments.
fn run(case: &Case, dir: &Path, server: &TestServer, command: &[&str]) -> Run {
    let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("cnvrgctl");
    cmd.current_dir(dir)
        .env_remove("KUBECONFIG")
        .env("NO_COLOR", "1")
        .args(command)
        .arg("-f")
        .arg(&case.file)
        .args(&case.args)
        .timeout(TIMEOUT);
    for var in &case.unset {
        cmd.env_remove(var);
    }
    server.clear_log();
    let start = Instant::now();
    let output = cmd.output().expect("the binary runs");
    let took = start.elapsed();
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        requests: server.requests().len(),
        took,
    }
}

/// Temporary paths and the server's address replaced by stable names, and the
/// object count of a `valid` summary (it changes with every template added).
fn normalize(text: &str, dir: &Path, server: &TestServer) -> String {
    let dir = dir.display().to_string();
    let text = text
        .replace(&format!("{dir}/"), "<dir>/")
        .replace(&dir, "<dir>")
        .replace(&server.kubeconfig().display().to_string(), "<kubeconfig>")
        .replace(&server.url(), "<server>");
    text.lines()
        .map(
            |line| match (line.find(": valid ("), line.rfind(" objects)")) {
                (Some(start), Some(end)) if start < end => match line[..end].rfind(", ") {
                    Some(count) if count > start => {
                        format!("{}, <n>{}", &line[..count], &line[end..])
                    }
                    _ => line.to_string(),
                },
                _ => line.to_string(),
            },
        )
        .collect::<Vec<_>>()
        .join("\n")
}

/// Everything a run must satisfy; what it breaks, in words.
fn check(case: &Case, what: &str, expected: i32, run: &Run) -> Vec<String> {
    let mut problems = Vec::new();
    let mut fail = |m: String| problems.push(format!("{}: {what}: {m}", case.name));
    match run.code {
        None => fail(format!(
            "did not finish within {TIMEOUT:?} (a hang?), or was killed by a signal"
        )),
        Some(101) => fail("exit code 101: the binary panicked".into()),
        Some(code) if code != expected => fail(format!("exit code {code}, expected {expected}")),
        Some(_) => {}
    }
    if run.stderr.contains("panicked") {
        fail(format!("panicked:\n{}", run.stderr));
    }
    if !run.stdout.is_empty() {
        fail(format!("wrote to stdout:\n{}", run.stdout));
    }
    if run.requests > 0 {
        fail(format!(
            "{} request(s) reached the API server; a bad spec must be refused before connecting",
            run.requests
        ));
    }
    if expected == 0 {
        if !run.stderr.contains(": valid (") {
            fail(format!("no `valid` summary on stderr:\n{}", run.stderr));
        }
        return problems;
    }
    if !run.stderr.starts_with("error: ") {
        fail(format!(
            "stderr does not start with `error: `:\n{}",
            run.stderr
        ));
    }
    for wanted in &case.stderr {
        if !run.stderr.contains(wanted.as_str()) {
            fail(format!("stderr lacks `{wanted}`:\n{}", run.stderr));
        }
    }
    problems
}

fn run_case(case: &Case, server: &TestServer) -> Outcome {
    let start = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("spec");
    case.materialize(&dir);
    let kubeconfig = server.kubeconfig().display().to_string();
    let validate = run(case, &dir, server, &["validate"]);
    let apply = run(
        case,
        &dir,
        server,
        &["apply", "--yes", "--kubeconfig", &kubeconfig],
    );
    let mut problems = check(case, "validate", case.validate, &validate);
    problems.extend(check(case, "apply --yes", case.apply, &apply));

    let code = |r: &Run| r.code.map_or("none".to_string(), |c| c.to_string());
    let v_err = normalize(&validate.stderr, &dir, server);
    let a_err = normalize(&apply.stderr, &dir, server);
    let mut snapshot = format!("validate: exit {}\n{}", code(&validate), v_err.trim_end());
    if a_err == v_err {
        snapshot.push_str(&format!(
            "\n\napply --yes: exit {}, the same stderr",
            code(&apply)
        ));
    } else {
        snapshot.push_str(&format!(
            "\n\napply --yes: exit {}\n{}",
            code(&apply),
            a_err.trim_end()
        ));
    }
    // A 100 KB value must not come back whole: messages quote values shortened.
    for (what, r) in [("validate", &validate), ("apply", &apply)] {
        if r.stderr.len() > 20_000 {
            problems.push(format!(
                "{}: {what}: stderr is {} bytes long; a message should quote long values shortened",
                case.name,
                r.stderr.len()
            ));
        }
    }
    let _ = (validate.took, apply.took);
    Outcome {
        snapshot,
        problems,
        took: start.elapsed(),
    }
}

#[test]
fn every_case_of_the_corpus_is_refused_clearly_before_reaching_the_cluster() {
    let cases = cases();
    assert!(
        cases.len() >= 40,
        "the corpus should hold at least 40 cases, found {}",
        cases.len()
    );
    let next = AtomicUsize::new(0);
    let outcomes: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..WORKERS {
            s.spawn(|| {
                let server = TestServer::start();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(case) = cases.get(i) else { break };
                    let outcome = run_case(case, &server);
                    outcomes.lock().unwrap().push((i, outcome));
                }
            });
        }
    });
    let mut outcomes = outcomes.into_inner().unwrap();
    outcomes.sort_by_key(|(i, _)| *i);

    let mut problems: Vec<String> = Vec::new();
    for (i, outcome) in &outcomes {
        let case = &cases[*i];
        problems.extend(outcome.problems.iter().cloned());
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path("snapshots/bad_input");
        settings.set_prepend_module_to_snapshot(false);
        settings.set_description(case.about.clone());
        settings.set_omit_expression(true);
        let snapshot = outcome.snapshot.clone();
        let name = case.name.clone();
        let matched = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            settings.bind(|| insta::assert_snapshot!(name, snapshot));
        }));
        if matched.is_err() {
            problems.push(format!("{}: stderr differs from its snapshot", case.name));
        }
    }
    let slowest = outcomes
        .iter()
        .max_by_key(|(_, o)| o.took)
        .map(|(i, o)| format!("{} ({:?})", cases[*i].name, o.took))
        .unwrap_or_default();
    eprintln!("{} bad-input cases; slowest: {slowest}", cases.len());
    assert!(
        problems.is_empty(),
        "{} problem(s) in the bad-input corpus:\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}
