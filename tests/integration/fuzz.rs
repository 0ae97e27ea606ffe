//! Property tests (proptest) of the stages bad input goes through, bounded so
//! each property runs in a few seconds of a debug build on two cores, with a
//! fixed seed (the same cases on every run, in CI too) and no failure
//! persistence files:
//!
//! - the spec parser on random mutations of the example specs (lines deleted,
//!   duplicated, swapped, re-indented; scalars replaced by random text,
//!   numbers, unicode, YAML syntax; random characters or bytes inserted): it
//!   never panics, and every error renders to text naming the file, without
//!   raw control characters;
//! - the renderer on random valid-looking specs (tenant names and types,
//!   1..5 tenants, pools with random replicas and resources, mode, profile,
//!   ingress type, toggles): for those that load, render + validate + plan
//!   never panic and either succeed or return an error that renders to text.
//!
//! Every case runs under [`CASE_LIMIT`]: a hang fails the property instead of
//! blocking CI.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde_json::{Value, json};

use cnvrgctl::pipeline::render::{SecretInputs, Templates};

/// Longest one generated case may take.
const CASE_LIMIT: Duration = Duration::from_secs(20);

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0x00C0_FFEE),
        max_shrink_time: 20_000,
        ..Config::default()
    }
}

/// Runs `f` on its own thread and fails if it takes longer than
/// [`CASE_LIMIT`]; a panic in `f` is a panic here.
fn within<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let value = f();
        let _ = tx.send(());
        value
    });
    match rx.recv_timeout(CASE_LIMIT) {
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("a case took longer than {CASE_LIMIT:?}: a hang?")
        }
        _ => match handle.join() {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        },
    }
}

/// The texts mutations start from: every example's cluster and tenant files,
/// and the specs the cluster tests use.
fn seeds() -> Vec<(String, Vec<(PathBuf, String)>)> {
    let mut out = Vec::new();
    for name in crate::common::EXAMPLES {
        let cluster = std::fs::read_to_string(crate::common::example(name)).unwrap();
        let dir = crate::common::root()
            .join("examples")
            .join(name)
            .join("tenants");
        let mut tenants = Vec::new();
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries {
                let path = e.unwrap().path();
                let text = std::fs::read_to_string(&path).unwrap();
                let file = path.file_name().unwrap().to_owned();
                tenants.push((Path::new("spec/tenants").join(file), text));
            }
        }
        tenants.sort();
        out.push((cluster, tenants));
    }
    for spec in [
        crate::common::cluster::SPEC,
        crate::common::cluster::CNVRG_SPEC,
    ] {
        out.push((spec.to_string(), Vec::new()));
    }
    out
}

/// One edit of a spec text. Indices are taken modulo the number of lines (or
/// characters), so every edit applies to every text.
#[derive(Debug, Clone)]
enum Mutation {
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    Indent(usize, i8),
    ReplaceScalar(usize, String),
    InsertText(usize, String),
    Truncate(usize),
}

fn yaml_noise() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "",
        "~",
        "null",
        "true",
        "yes",
        "[",
        "]",
        "{",
        "}",
        "{}",
        "[]",
        "&a",
        "*a",
        "&a x",
        "*b",
        "<<: *a",
        "!!binary",
        "!!str",
        "!Custom",
        "'",
        "\"",
        "'unclosed",
        "\"unclosed",
        "- ",
        ": ",
        "? ",
        "|",
        ">-",
        "|+",
        "%YAML 1.2",
        "---",
        "...",
        "#",
        "\t",
        " \t ",
        "\\",
        "@",
        "`",
        "0x1F",
        "0o17",
        "1_000",
        "-0",
        ".inf",
        ".nan",
        "1e400",
        "-1Gi",
        "2GB",
        "99999Ei",
        "99999999999999999999999",
        "-9223372036854775809",
        "4294967296",
        "2147483648",
        "Research",
        "a_b",
        "cnvrg-infra",
        "multi-tenant",
        "single-namespace",
        "workspace",
        "cnvrg",
        "istio",
        "nodeport",
        "ingress",
        "openshift",
        "dev",
        "prod",
        "default",
    ])
    .prop_map(str::to_string)
}

fn replacement() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => yaml_noise(),
        2 => prop::collection::vec(any::<char>(), 0..12).prop_map(|c| c.into_iter().collect()),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => any::<f64>().prop_map(|n| n.to_string()),
        1 => (0usize..6, yaml_noise()).prop_map(|(n, s)| s.repeat(n)),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        2 => any::<usize>().prop_map(Mutation::DeleteLine),
        2 => any::<usize>().prop_map(Mutation::DuplicateLine),
        2 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        2 => (any::<usize>(), -4i8..=4).prop_map(|(i, d)| Mutation::Indent(i, d)),
        4 => (any::<usize>(), replacement()).prop_map(|(i, s)| Mutation::ReplaceScalar(i, s)),
        2 => (any::<usize>(), replacement()).prop_map(|(i, s)| Mutation::InsertText(i, s)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        lines.push(String::new());
    }
    let n = lines.len();
    match m {
        Mutation::DeleteLine(i) => {
            lines.remove(i % n);
        }
        Mutation::DuplicateLine(i) => {
            let line = lines[i % n].clone();
            lines.insert(i % n, line);
        }
        Mutation::SwapLines(a, b) => lines.swap(a % n, b % n),
        Mutation::Indent(i, d) => {
            let line = &mut lines[i % n];
            if *d >= 0 {
                line.insert_str(0, &" ".repeat(*d as usize));
            } else {
                let strip = line
                    .len()
                    .min(d.unsigned_abs() as usize)
                    .min(line.len() - line.trim_start_matches(' ').len());
                line.drain(..strip);
            }
        }
        Mutation::ReplaceScalar(i, with) => {
            let line = &mut lines[i % n];
            let at = line
                .find(": ")
                .map(|p| p + 2)
                .or_else(|| line.find("- ").map(|p| p + 2))
                .unwrap_or(0);
            line.truncate(at);
            line.push_str(with);
        }
        Mutation::InsertText(i, with) => {
            let mut chars: Vec<char> = text.chars().collect();
            let at = i % (chars.len() + 1);
            chars.splice(at..at, with.chars());
            return chars.into_iter().collect();
        }
        Mutation::Truncate(i) => {
            return text.chars().take(i % (text.chars().count() + 1)).collect();
        }
    }
    let mut out = lines.join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// An error's text is there, names the file it is about, and has no control
/// characters a terminal would act on.
fn check_error_text(text: &str, files: &[&str]) -> Result<(), TestCaseError> {
    prop_assert!(!text.trim().is_empty(), "an error rendered to no text");
    prop_assert!(
        !text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t'),
        "raw control characters in an error:\n{text:?}"
    );
    prop_assert!(
        files.iter().any(|f| text.contains(f)),
        "the error names none of {files:?}:\n{text}"
    );
    Ok(())
}

proptest! {
    #![proptest_config(config(384))]

    /// Mutated example specs load or fail with a readable error; none panics.
    #[test]
    fn mutated_specs_never_panic_the_parser(
        seed in any::<prop::sample::Index>(),
        target in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..5),
    ) {
        let seeds = seeds();
        let (cluster, mut tenants) = seeds[seed.index(seeds.len())].clone();
        let mut cluster = cluster;
        // Mutate the cluster file, or one of the tenant files.
        let which = target.index(tenants.len() + 1);
        for m in &mutations {
            match which.checked_sub(1) {
                None => cluster = apply(&cluster, m),
                Some(t) => tenants[t].1 = apply(&tenants[t].1, m),
            }
        }
        let texts = (cluster.clone(), tenants.clone());
        let result = within(move || {
            let spec = cnvrgctl::pipeline::spec::load_from(Path::new("spec/cluster.yaml"), texts.0, texts.1)
                .map_err(|e| e.to_string())?;
            cnvrgctl::pipeline::yaml::to_string(&spec);
            // What loads goes on through the other stages; their errors are
            // not spec errors, so only their text is checked.
            Ok::<_, String>(render_all(&spec).err())
        });
        match result {
            Err(text) => check_error_text(&text, &["spec/cluster.yaml", "spec/tenants/"])?,
            Ok(Some(text)) => prop_assert!(!text.trim().is_empty(), "an error rendered to no text"),
            Ok(None) => {}
        }
    }

    /// Random bytes written into a spec file on disk (not UTF-8, NUL, a BOM...)
    /// fail with a readable error naming the file; none panics.
    #[test]
    fn spec_files_with_random_bytes_never_panic_the_loader(
        seed in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        bytes in prop::collection::vec(any::<u8>(), 1..16),
    ) {
        let seeds = seeds();
        let (cluster, tenants) = seeds[seed.index(seeds.len())].clone();
        let mut data = cluster.into_bytes();
        let at = at.index(data.len() + 1);
        data.splice(at..at, bytes);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cluster.yaml");
        std::fs::write(&file, &data).unwrap();
        std::fs::create_dir_all(dir.path().join("tenants")).unwrap();
        for (path, text) in &tenants {
            std::fs::write(dir.path().join("tenants").join(path.file_name().unwrap()), text).unwrap();
        }
        let path = file.clone();
        let result = within(move || cnvrgctl::pipeline::spec::load(&path).map(|_| ()).map_err(|e| e.to_string()));
        if let Err(text) = result {
            check_error_text(&text, &[&file.display().to_string()])?;
        }
    }
}

/// Render, validate and plan: the number of objects, or the first error's text.
fn render_all(spec: &cnvrgctl::pipeline::spec::Spec) -> Result<usize, String> {
    let manifests =
        cnvrgctl::pipeline::render::render(spec, &Templates::built_in(), &SecretInputs::default())
            .map_err(|e| e.to_string())?;
    cnvrgctl::pipeline::validate::validate(&manifests).map_err(|e| e.to_string())?;
    cnvrgctl::pipeline::plan::build(&manifests).map_err(|e| e.to_string())?;
    Ok(manifests.len())
}

/// A random, valid-looking cluster spec, as the YAML a user would write.
fn spec_value() -> impl Strategy<Value = Value> {
    const CPU: &[&str] = &["50m", "100m", "250m", "500m", "1", "2", "4", "8"];
    const MEMORY: &[&str] = &["64Mi", "128Mi", "512Mi", "1Gi", "4Gi", "16Gi", "32Gi"];
    // Requests at or below limits (both given: a limit alone may fall below
    // the profile's request, which is a spec error, not what this explores).
    let pair = |table: &'static [&'static str]| {
        (0..table.len(), 0..table.len()).prop_map(move |(a, b)| (table[a.min(b)], table[a.max(b)]))
    };
    let resources =
        (prop::option::of(pair(CPU)), prop::option::of(pair(MEMORY))).prop_map(|(cpu, memory)| {
            let mut r = json!({"requests": {}, "limits": {}});
            if let Some((request, limit)) = cpu {
                r["requests"]["cpu"] = json!(request);
                r["limits"]["cpu"] = json!(limit);
            }
            if let Some((request, limit)) = memory {
                r["requests"]["memory"] = json!(request);
                r["limits"]["memory"] = json!(limit);
            }
            r
        });
    let pool = (
        "[a-z][a-z0-9]{0,6}",
        prop::option::of(0u32..5),
        prop::option::of(resources.clone()),
    )
        .prop_map(|(name, replicas, resources)| {
            let mut p = json!({"name": name});
            if let Some(r) = replicas {
                p["replicas"] = json!(r);
            }
            if let Some(r) = resources {
                p["resources"] = r;
            }
            p
        });
    let tenant = (
        "[a-z][a-z0-9-]{0,10}[a-z0-9]",
        any::<bool>(),
        prop::option::of("[a-z][a-z0-9-]{0,8}[a-z0-9]"),
        prop::collection::vec(pool, 1..4),
        (
            prop::option::of(1u32..4),
            any::<bool>(),
            any::<bool>(),
            prop::option::of(resources),
        ),
    )
        .prop_map(
            |(name, workspace, namespace, mut pools, (replicas, hpa, split, pg))| {
                // Pool names unique within the tenant.
                for (i, p) in pools.iter_mut().enumerate() {
                    p["name"] = json!(format!("{}-{i}", p["name"].as_str().unwrap()));
                }
                let mut t = json!({"name": name});
                if let Some(ns) = namespace {
                    t["namespace"] = json!(ns);
                }
                if workspace {
                    t["type"] = json!("workspace");
                    t["workspace"] = json!({"agentPools": pools});
                    if let Some(r) = pg {
                        t["workspace"]["orion"] = json!({"resources": r});
                    }
                } else {
                    t["type"] = json!("cnvrg");
                    let mut c = json!({"sidekiq": {"split": split}});
                    if let Some(r) = replicas {
                        c["webapp"] = json!({"replicas": r, "hpa": {"enabled": hpa}});
                    }
                    if let Some(r) = pg {
                        c["postgres"] = json!({"resources": r});
                    }
                    t["cnvrg"] = c;
                }
                t
            },
        );
    let toggles = prop::collection::vec(any::<bool>(), 8);
    (
        prop::collection::vec(tenant, 1..6),
        prop::sample::select(vec!["multi-tenant", "single-namespace"]),
        prop::sample::select(vec!["dev", "prod"]),
        prop::sample::select(vec!["istio", "ingress", "nodeport", "openshift"]),
        prop::sample::select(vec!["none", "env", "existing", "inline"]),
        toggles,
    )
        .prop_map(|(mut tenants, mode, profile, ingress, registry, on)| {
            // Tenant names and namespaces unique; one tenant, in the infra
            // namespace, in single-namespace mode.
            for (i, t) in tenants.iter_mut().enumerate() {
                t["name"] = json!(format!("{}-{i}", t["name"].as_str().unwrap()));
                if let Some(ns) = t.get("namespace").and_then(Value::as_str) {
                    t["namespace"] = json!(format!("{ns}-{i}"));
                }
            }
            if mode == "single-namespace" {
                tenants.truncate(1);
                tenants[0].as_object_mut().unwrap().remove("namespace");
            }
            let mut spec = json!({
                "profile": profile,
                "mode": mode,
                "clusterDomain": "ml.fuzz.example",
                "ingress": {"type": ingress, "https": {"enabled": on[0], "certSecret": "wildcard-tls"}},
                "infra": {
                    "monitoring": {"enabled": on[1]},
                    "logging": {"enabled": on[2]},
                    "istio": {"enabled": on[3]},
                    "storage": {
                        "hostpath": {"enabled": on[4]},
                        "nfs": {"enabled": on[5], "server": "10.0.0.2", "path": "/exports"},
                    },
                },
                "tenants": tenants,
            });
            if ingress == "ingress" {
                spec["ingress"]["className"] = json!("nginx");
            }
            if on[6] {
                spec["imageHub"] = json!("registry.local/cnvrg");
            }
            if on[7] {
                spec["storageClass"] = json!("fast-ssd");
            }
            match registry {
                "env" => spec["registry"] = json!({"user": "acme", "passwordEnv": "FUZZ_REGISTRY_PASSWORD"}),
                "existing" => spec["registry"] = json!({"existingSecret": "pull-secret"}),
                "inline" => spec["registry"] = json!({"user": "acme", "password": "hunter2"}),
                _ => {}
            }
            json!({
                "apiVersion": "cnvrgctl.io/v1alpha1",
                "kind": "Cluster",
                "metadata": {"name": "fuzz"},
                "spec": spec,
            })
        })
}

proptest! {
    #![proptest_config(config(40))]

    /// Random valid-looking specs that load render, validate and plan
    /// without a panic, and any error on the way renders to text.
    #[test]
    fn generated_specs_render_validate_and_plan_without_panic(value in spec_value()) {
        let text = cnvrgctl::pipeline::yaml::to_string(&value);
        let outcome = within(move || -> Result<Option<usize>, String> {
            let spec = match cnvrgctl::pipeline::spec::load_from(
                Path::new("spec/cluster.yaml"),
                text,
                Vec::new(),
            ) {
                Ok(spec) => spec,
                // Random names collide, single-namespace wants one tenant...
                Err(_) => return Ok(None),
            };
            render_all(&spec).map(Some)
        });
        if let Err(text) = outcome {
            prop_assert!(!text.trim().is_empty(), "an error rendered to no text");
        }
    }
}

/// The corpus found this one: a webapp replica count near the int32 limit
/// overflowed the HPA's default `maxReplicas` (three times the replicas).
#[test]
fn webapp_replicas_near_the_int32_limit_do_not_overflow() {
    let text = "apiVersion: cnvrgctl.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: acme\nspec:\n  clusterDomain: ml.example\n  tenants:\n    - name: a\n      type: cnvrg\n      cnvrg:\n        webapp: {replicas: 2000000000}\n";
    let spec = crate::common::load_texts(text, &[]).expect("2e9 replicas fit Kubernetes' int32");
    let webapp = &spec.tenants[0].cnvrg.as_ref().unwrap().webapp;
    assert_eq!(webapp.hpa.max_replicas, i32::MAX as u32);
}
