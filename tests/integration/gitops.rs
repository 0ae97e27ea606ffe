//! `render --out --gitops`: the engines' objects for the multi-tenant example
//! (snapshots), checked against the engines' CRD schemas, their order
//! following the plan, and no secret or placeholder Secret in the directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cnvrgctl::pipeline::gitops::{self, Cluster, Engine, Options};
use cnvrgctl::pipeline::manifest::{Manifest, Origin, Scope, keys};
use cnvrgctl::pipeline::render::{GENERATED, SET_ON_APPLY, SecretInputs, Templates};
use serde_json::Value;

use crate::common::{self, render_example};

const REPO: &str = "https://git.example/acme/platform.git";

fn options(engine: Engine) -> Options {
    Options {
        engine,
        repo_url: Some(REPO.into()),
        revision: "main".into(),
        path_prefix: "deploy".into(),
    }
}

/// The GitOps files of one render.
fn files_of(manifests: &[Manifest], engine: Engine) -> BTreeMap<PathBuf, String> {
    let plan = cnvrgctl::pipeline::plan::build(manifests).unwrap();
    let cluster = Cluster {
        name: "acme",
        manifests,
        plan: &plan,
    };
    gitops::files(&[cluster], &options(engine)).unwrap()
}

/// The files that are the engine's own (not the scope directories).
fn engine_files(files: &BTreeMap<PathBuf, String>) -> String {
    let mut out = String::new();
    for (path, text) in files {
        let top = path.components().next().unwrap().as_os_str();
        if top != "infra" && top != "tenants" && path != Path::new("kustomization.yaml") {
            out.push_str(&format!("==> {} <==\n{text}\n", path.display()));
        }
    }
    out
}

#[test]
fn flux_objects_of_the_multi_tenant_example() {
    let (_, ms) = render_example("multi-tenant");
    insta::assert_snapshot!(engine_files(&files_of(&ms, Engine::Flux)));
}

#[test]
fn argocd_objects_of_the_multi_tenant_example() {
    let (_, ms) = render_example("multi-tenant");
    insta::assert_snapshot!(engine_files(&files_of(&ms, Engine::ArgoCd)));
}

/// Every YAML document of the files.
fn documents(files: &BTreeMap<PathBuf, String>) -> Vec<(PathBuf, Value)> {
    let mut out = Vec::new();
    for (path, text) in files {
        if path.extension().is_some_and(|e| e == "yaml") && !text.is_empty() {
            for doc in cnvrgctl::pipeline::yaml::documents(text).unwrap() {
                if !doc.is_null() {
                    out.push((path.clone(), doc));
                }
            }
        }
    }
    out
}

/// The engines' CRDs kept under tests/fixtures/gitops, as manifests.
fn engine_crds() -> Vec<Manifest> {
    let dir = common::root().join("tests/fixtures/gitops");
    let mut crds = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path).unwrap();
            crds.push(as_manifest(
                cnvrgctl::pipeline::yaml::from_str(&text).unwrap(),
            ));
        }
    }
    assert_eq!(crds.len(), 3);
    crds
}

fn as_manifest(object: Value) -> Manifest {
    Manifest {
        object,
        origin: Origin {
            scope: Scope::Infra,
            component: "gitops".into(),
            template: "gitops".into(),
        },
    }
}

/// The problems of each engine object in `files`.
fn schema_problems(files: &BTreeMap<PathBuf, String>, crds: &[Manifest]) -> Vec<String> {
    let schemas = cnvrgctl::pipeline::validate::Crds::of(crds);
    let mut problems = Vec::new();
    let mut checked = 0;
    for (path, doc) in documents(files) {
        let m = as_manifest(doc);
        if !matches!(m.kind(), "Kustomization" | "GitRepository" | "Application")
            || m.group() == "kustomize.config.k8s.io"
        {
            continue;
        }
        checked += 1;
        for p in schemas.check(&m) {
            problems.push(format!("{} {}: {p}", path.display(), m.id()));
        }
    }
    assert!(checked > 0, "no engine object found");
    problems
}

#[test]
fn emitted_objects_fit_the_engines_crds() {
    let crds = engine_crds();
    let (_, ms) = render_example("multi-tenant");
    for engine in [Engine::Flux, Engine::ArgoCd] {
        let files = files_of(&ms, engine);
        assert_eq!(schema_problems(&files, &crds), Vec::<String>::new());
    }
    // Flux without --repo-url uses the bootstrap's source: still valid.
    let plan = cnvrgctl::pipeline::plan::build(&ms).unwrap();
    let cluster = Cluster {
        name: "acme",
        manifests: &ms,
        plan: &plan,
    };
    let bare = Options {
        repo_url: None,
        ..options(Engine::Flux)
    };
    let files = gitops::files(&[cluster], &bare).unwrap();
    assert_eq!(schema_problems(&files, &crds), Vec::<String>::new());

    // The check is strict: a field the CRD does not have fails.
    let mut files = files_of(&ms, Engine::Flux);
    let infra = files.get_mut(Path::new("flux/cnvrg-infra.yaml")).unwrap();
    *infra = infra.replace("  wait: true\n", "  wait: true\n  waitForIt: true\n");
    let problems = schema_problems(&files, &crds);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("unknown field `spec.waitForIt`"));
}

/// The annotation `key` of the object `kind/name` in `files`.
fn annotation_of(files: &BTreeMap<PathBuf, String>, kind: &str, name: &str, key: &str) -> String {
    documents(files)
        .into_iter()
        .map(|(_, d)| d)
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("{kind}/{name} not written"))["metadata"]["annotations"][key]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn waves_follow_the_plan_and_change_with_a_dependency() {
    let (_, mut ms) = render_example("multi-tenant");
    let before = files_of(&ms, Engine::ArgoCd);
    let wave = |files: &BTreeMap<PathBuf, String>, kind: &str, name: &str| -> u32 {
        annotation_of(files, kind, name, gitops::WAVE)
            .parse()
            .unwrap()
    };
    // webapp waits for the migration Job, which waits for postgres.
    let postgres = wave(&before, "StatefulSet", "postgres");
    let migrate = wave(&before, "Job", "migrate");
    let webapp = wave(&before, "Deployment", "app");
    assert!(
        postgres < migrate && migrate < webapp,
        "{postgres} {migrate} {webapp}"
    );
    assert_eq!(
        annotation_of(&before, "Job", "migrate", "argocd.argoproj.io/hook"),
        "Sync"
    );

    // The webapp stops waiting for the Jobs (the migration, the buckets):
    // it comes a wave earlier.
    let app = ms
        .iter_mut()
        .find(|m| m.kind() == "Deployment" && m.name() == "app")
        .unwrap();
    let deps = app.object["metadata"]["annotations"][keys::DEPENDS_ON]
        .as_str()
        .unwrap()
        .to_string();
    let fewer: Vec<&str> = deps
        .split(',')
        .map(str::trim)
        .filter(|d| !matches!(*d, "migrate" | "minio-buckets"))
        .collect();
    assert_eq!(fewer.len() + 2, deps.split(',').count(), "{deps}");
    app.object["metadata"]["annotations"][keys::DEPENDS_ON] = fewer.join(", ").into();
    let after = files_of(&ms, Engine::ArgoCd);
    assert!(wave(&after, "Deployment", "app") < webapp);
}

#[test]
fn depends_on_follows_the_scopes_of_the_plan() {
    let (_, ms) = render_example("multi-tenant");
    let files = files_of(&ms, Engine::Flux);
    let depends = |file: &str| -> Vec<String> {
        let doc: Value = cnvrgctl::pipeline::yaml::documents(&files[Path::new(file)])
            .unwrap()
            .into_iter()
            .find(|d| !d.is_null())
            .unwrap();
        doc["spec"]["dependsOn"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| d["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(depends("flux/cnvrg-infra.yaml").is_empty());
    for tenant in ["team-a", "research", "vision"] {
        assert_eq!(
            depends(&format!("flux/cnvrg-tenant-{tenant}.yaml")),
            ["cnvrg-infra"]
        );
    }
}

#[test]
fn argocd_application_names_never_match_the_instance_label() {
    let (_, ms) = render_example("multi-tenant");
    let files = files_of(&ms, Engine::ArgoCd);
    let instances: Vec<String> = ms
        .iter()
        .filter_map(|m| m.object["metadata"]["labels"][keys::INSTANCE].as_str())
        .map(str::to_string)
        .collect();
    let apps: Vec<String> = documents(&files)
        .into_iter()
        .filter(|(_, d)| d["kind"] == "Application")
        .map(|(_, d)| d["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(apps.len(), 5, "four scopes and the root: {apps:?}");
    for app in &apps {
        assert!(!instances.contains(app), "{app} is an instance label");
    }
    // So tracking is by annotation, which the settings patch turns on.
    let patch = &files[Path::new("argocd-cm.patch.yaml")];
    assert!(patch.contains("application.resourceTrackingMethod: annotation"));
    assert!(patch.contains("resource.customizations.health.argoproj.io_Application"));
}

/// Every file under `dir`, by path.
fn read_tree(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(read_tree(&path));
        } else {
            out.push((path.clone(), std::fs::read_to_string(&path).unwrap()));
        }
    }
    out
}

#[test]
fn no_secret_value_or_placeholder_secret_is_written() {
    // A render that knows the registry password, as the cluster path does.
    let spec = cnvrgctl::pipeline::spec::load(&common::example("multi-tenant")).unwrap();
    let password = "reg-pw-Xy7Zq3Lm9";
    let inputs = SecretInputs {
        registry_password: Some(password.into()),
    };
    let ms = cnvrgctl::pipeline::render::render(&spec, &Templates::built_in(), &inputs).unwrap();
    let left_out: Vec<&Manifest> = ms.iter().filter(|m| gitops::out_of_git(m)).collect();
    let generated = ms
        .iter()
        .filter(|m| m.object["metadata"]["annotations"][keys::GENERATED_KEYS].is_string())
        .count();
    assert!(generated > 0);
    // The generated ones and the pull secrets (which hold the password).
    assert!(left_out.len() > generated, "{}", left_out.len());

    for engine in [Engine::Flux, Engine::ArgoCd] {
        let dir = tempfile::tempdir().unwrap();
        let files = files_of(&ms, engine);
        cnvrgctl::pipeline::output::write_files(dir.path(), &files).unwrap();
        for (path, text) in read_tree(dir.path()) {
            let path = path.display();
            assert!(!text.contains(password), "{path} holds the password");
            assert!(!text.contains(GENERATED), "{path} holds a placeholder");
            assert!(!text.contains(SET_ON_APPLY), "{path} holds a placeholder");
            for m in &left_out {
                let doc = format!(
                    "kind: Secret\nmetadata:\n  name: {}\n  namespace: {}\n",
                    m.name(),
                    m.namespace().unwrap()
                );
                assert!(!text.contains(&doc), "{path} holds {}", m.id());
            }
        }
    }
}

/// `cnvrgctl render -f SPEC... --out OUT --gitops ENGINE`.
fn render_cli(specs: &[&Path], out: &Path, engine: &str) -> std::process::Output {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin!("cnvrgctl"));
    cmd.arg("render");
    for spec in specs {
        cmd.arg("-f").arg(spec);
    }
    cmd.arg("--out").arg(out).args(["--gitops", engine]);
    cmd.output().unwrap()
}

#[test]
fn the_cli_writes_the_directory_and_says_what_it_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("gitops");
    let example = common::example("multi-tenant");
    let result = render_cli(&[&example], &out, "flux");
    assert!(result.status.success(), "{result:?}");
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("Secrets left out of git"), "{stderr}");
    assert!(out.join("flux/cnvrg-infra.yaml").is_file());
    assert!(out.join("clusters/acme/cnvrgctl.yaml").is_file());

    // Argo CD needs the repository.
    let result = render_cli(&[&example], &out, "argocd");
    assert_eq!(result.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&result.stderr).contains("--repo-url"));
}

/// A fleet: the multi-tenant example (`acme`) and the workspace example
/// (`cartographer`).
fn fleet(engine: Engine) -> BTreeMap<PathBuf, String> {
    let (_, acme) = render_example("multi-tenant");
    let (spec, cartographer) = render_example("workspace");
    assert_eq!(spec.cluster.name, "cartographer");
    let plans = [
        cnvrgctl::pipeline::plan::build(&acme).unwrap(),
        cnvrgctl::pipeline::plan::build(&cartographer).unwrap(),
    ];
    let clusters = [
        Cluster {
            name: "acme",
            manifests: &acme,
            plan: &plans[0],
        },
        Cluster {
            name: "cartographer",
            manifests: &cartographer,
            plan: &plans[1],
        },
    ];
    gitops::files(&clusters, &options(engine)).unwrap()
}

#[test]
fn a_fleet_has_a_directory_and_a_root_per_cluster() {
    let crds = engine_crds();
    for engine in [Engine::Flux, Engine::ArgoCd] {
        let files = fleet(engine);
        let objects = match engine {
            Engine::Flux => "flux",
            Engine::ArgoCd => "argocd",
        };
        for cluster in ["acme", "cartographer"] {
            assert!(files.contains_key(&Path::new(cluster).join("kustomization.yaml")));
            assert!(files.contains_key(&Path::new(cluster).join(objects).join("cnvrg-infra.yaml")));
            let root = &files[&Path::new("clusters").join(cluster).join("cnvrgctl.yaml")];
            assert!(
                root.contains(&format!("path: ./deploy/{cluster}/{objects}\n")),
                "{root}"
            );
            let infra = &files[&Path::new(cluster).join(objects).join("cnvrg-infra.yaml")];
            assert!(
                infra.contains(&format!("path: ./deploy/{cluster}/infra\n")),
                "{infra}"
            );
        }
        assert!(files.contains_key(Path::new("acme/tenants/team-a/webapp.yaml")));
        assert!(
            !files.contains_key(Path::new("infra/namespace.yaml")),
            "nothing at the top"
        );
        assert_eq!(schema_problems(&files, &crds), Vec::<String>::new());
    }
    // Argo CD sends each cluster's Applications to that cluster, by name.
    let files = fleet(Engine::ArgoCd);
    assert!(
        files[Path::new("cartographer/argocd/cnvrg-infra.yaml")].contains("name: cartographer\n")
    );
    assert!(files[Path::new("README.md")].contains("argocd cluster add"));
}

#[test]
fn a_fleet_with_two_clusters_of_one_name_is_refused_naming_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy");
    std::fs::create_dir_all(copy.join("tenants")).unwrap();
    let example = common::example("multi-tenant");
    let source = example.parent().unwrap();
    std::fs::copy(source.join("cluster.yaml"), copy.join("cluster.yaml")).unwrap();
    for entry in std::fs::read_dir(source.join("tenants")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, copy.join("tenants").join(path.file_name().unwrap())).unwrap();
    }
    let second = copy.join("cluster.yaml");
    let result = render_cli(&[&example, &second], &dir.path().join("out"), "flux");
    assert_eq!(result.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        stderr.contains("two specs name the cluster `acme`"),
        "{stderr}"
    );
    assert!(stderr.contains(&example.display().to_string()), "{stderr}");
    assert!(
        stderr.contains(&copy.join("cluster.yaml").display().to_string()),
        "{stderr}"
    );
    assert!(!dir.path().join("out").exists(), "nothing written");
}
