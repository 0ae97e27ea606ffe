//! Preflight's owners, permissions and Pod Security checks against the test
//! API server: an Istio CRD Helm installed first, a verb the user is denied,
//! a user who may not create access reviews, a namespace whose enforce level
//! rejects a rendered pod, and proof that preflight writes nothing. Each case
//! runs the checks through the library; the command-line twins (`preflight -o
//! json`, and `apply` stopping before its first write) wait for the command.

use serde_json::{Value, json};
use testserver::{Fault, FaultKind, FaultTarget, Verb};

use crate::common::cluster::Env;
use cnvrgctl::engine::kube::Cluster;
use cnvrgctl::engine::preflight::{self, Level, Report, Row};
use cnvrgctl::pipeline::manifest::Manifest;
use cnvrgctl::pipeline::render::{SecretInputs, Templates};

/// Infra with Istio and nothing else (its namespace carries no Pod Security
/// label), and one workspace tenant.
const ISTIO: &str = "\
apiVersion: cnvrgctl.io/v1alpha1
kind: Cluster
metadata:
  name: acme
spec:
  profile: dev
  mode: multi-tenant
  clusterDomain: ml.acme.example
  ingress:
    type: istio
  infra:
    namespace: cnvrg-infra
    monitoring: {enabled: false}
    logging: {enabled: false}
  tenants:
    - name: research
      type: workspace
      workspace:
        agentPools:
          - {name: default}
";

const ISTIO_CRD: &str = "gateways.networking.istio.io";

/// A test server (with its default storage class) and [`ISTIO`].
fn env() -> Env {
    Env::new(ISTIO)
}

/// A site's own addition to the workspace tenants (`--templates`): a
/// Deployment with no security context, which `restricted` (the level the
/// render labels a workspace namespace with) rejects.
const DEBUG_SHELL: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: debug-shell
  namespace: {{ tenant.namespace }}
spec:
  replicas: 1
  selector:
    matchLabels: {app: debug-shell}
  template:
    metadata:
      labels: {app: debug-shell}
    spec:
      containers:
        - name: shell
          image: busybox:1.36
          command: [sleep, infinity]
";

/// The env's template overlay (`--templates`).
fn overlay(env: &Env) -> std::path::PathBuf {
    env.dir.path().join("templates")
}

fn add_debug_shell(env: &Env) {
    let workspace = overlay(env).join("workspace");
    std::fs::create_dir_all(&workspace).unwrap();
    std::fs::write(workspace.join("debug-shell.yaml.j2"), DEBUG_SHELL).unwrap();
}

fn render(env: &Env) -> Vec<Manifest> {
    let spec = cnvrgctl::pipeline::spec::load(&env.spec()).unwrap();
    let templates = if overlay(env).exists() {
        Templates::with_overlay(&overlay(env)).unwrap()
    } else {
        Templates::built_in()
    };
    cnvrgctl::pipeline::render::render(&spec, &templates, &SecretInputs::default()).unwrap()
}

/// `ARGS` and `--templates` when the env has an overlay.
fn with_overlay(env: &Env, args: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    if overlay(env).exists() {
        args.extend(["--templates".into(), overlay(env).display().to_string()]);
    }
    args
}

/// Every check, through the library, against the env's server.
fn preflight(env: &Env) -> Report {
    let spec = cnvrgctl::pipeline::spec::load(&env.spec()).unwrap();
    let manifests = render(env);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let cluster = Cluster::connect(Some(env.server.kubeconfig()), None)
            .await
            .unwrap();
        preflight::run(&cluster, &spec, &manifests, preflight::Purpose::Report)
            .await
            .unwrap()
    })
}

fn rows<'a>(report: &'a Report, check: &str) -> Vec<&'a Row> {
    report.checks.iter().filter(|r| r.check == check).collect()
}

/// The rendered Istio CRD, installed by Helm as `istio-base` would.
fn helm_installs_istio(env: &Env) {
    let mut crd = render(env)
        .into_iter()
        .find(|m| m.kind() == "CustomResourceDefinition" && m.name() == ISTIO_CRD)
        .unwrap()
        .object;
    crd["metadata"]["labels"] = json!({"app.kubernetes.io/managed-by": "Helm"});
    crd["metadata"]["annotations"] = json!({
        "meta.helm.sh/release-name": "istio-base",
        "meta.helm.sh/release-namespace": "istio-system",
    });
    env.server.apply_as("helm", crd);
}

/// The user may not create SelfSubjectAccessReviews (a cluster that took
/// `system:basic-user` away): every review is a 403.
fn forbid_reviews(env: &Env) {
    env.server.inject(
        Fault::new(
            FaultTarget::path("selfsubjectaccessreviews").and_method("POST"),
            FaultKind::Reject {
                code: 403,
                reason: "Forbidden".into(),
                message: "selfsubjectaccessreviews.authorization.k8s.io is forbidden: User \"dev\" cannot create resource \"selfsubjectaccessreviews\" in API group \"authorization.k8s.io\" at the cluster scope".into(),
            },
        )
        .times(1000),
    );
}

#[test]
fn an_istio_crd_helm_installed_first_fails_naming_helm_and_the_switch() {
    let env = env();
    helm_installs_istio(&env);
    let report = preflight(&env);
    let owners = rows(&report, "owners");
    let fail = owners
        .iter()
        .find(|r| r.level == Level::Fail)
        .expect("a failed owners row");
    assert_eq!(
        fail.subject,
        format!("CustomResourceDefinition/{ISTIO_CRD}")
    );
    assert!(
        fail.detail
            .contains("Helm release istio-base (namespace istio-system)"),
        "{}",
        fail.detail
    );
    assert!(
        fail.detail.contains("field managers helm"),
        "{}",
        fail.detail
    );
    let fix = fail.fix.as_deref().unwrap();
    assert!(fix.contains("spec.infra.istio.enabled: false"), "{fix}");
    assert!(report.failed());
}

#[test]
fn a_denied_verb_fails_listing_the_missing_rule() {
    let env = env();
    env.server
        .deny("patch", "apps", "deployments", Some("research"));
    env.server.deny("create", "", "namespaces", None);
    let report = preflight(&env);
    let permissions = rows(&report, "permissions");
    assert_eq!(permissions.len(), 1, "{permissions:#?}");
    let row = permissions[0];
    assert_eq!(row.level, Level::Fail, "{row:#?}");
    assert!(
        row.detail.starts_with("2 verb(s) the run needs are denied"),
        "{}",
        row.detail
    );
    let cluster_wide = row.detail.find("# cluster-wide").unwrap();
    let research = row.detail.find("# in namespace research").unwrap();
    assert!(cluster_wide < research, "{}", row.detail);
    assert!(
        row.detail[cluster_wide..research].contains("- namespaces\n  verbs:\n  - create"),
        "{}",
        row.detail
    );
    assert!(
        row.detail[research..].contains("- deployments\n  verbs:\n  - patch"),
        "{}",
        row.detail
    );
    assert!(row.fix.as_deref().unwrap().contains("cnvrgctl rbac"));
}

#[test]
fn a_user_who_may_not_review_access_gets_a_warning_and_the_run_goes_on() {
    let env = env();
    forbid_reviews(&env);
    let report = preflight(&env);
    let permissions = rows(&report, "permissions");
    assert_eq!(permissions.len(), 1);
    assert_eq!(permissions[0].level, Level::Warn);
    assert!(
        permissions[0]
            .detail
            .contains("permissions were not checked")
    );
    assert!(!report.failed(), "{report:#?}");
    let reviews = env
        .server
        .requests()
        .into_iter()
        .filter(|r| r.verb == Verb::Review)
        .count();
    assert_eq!(reviews, 1, "one refused review is enough to know");
}

#[test]
fn a_restricted_namespace_fails_the_pod_it_would_reject() {
    let env = env();
    add_debug_shell(&env);
    // Someone made the infra namespace before us.
    env.server.create(json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cnvrg-infra"}
    }));
    let report = preflight(&env);
    let fail = rows(&report, "pod-security")
        .into_iter()
        .find(|r| r.subject == "Deployment/research/debug-shell")
        .unwrap_or_else(|| panic!("debug-shell is rejected: {report:#?}"));
    assert_eq!(fail.level, Level::Fail);
    assert!(
        fail.detail
            .starts_with("namespace research enforces restricted"),
        "{}",
        fail.detail
    );
    assert!(
        fail.detail
            .contains("allowPrivilegeEscalation != false (container shell)"),
        "{}",
        fail.detail
    );
    assert!(
        fail.fix.as_deref().unwrap().contains("research"),
        "{:?}",
        fail.fix
    );
    let owners = rows(&report, "owners");
    assert!(
        owners.iter().any(|r| r.level == Level::Warn
            && r.subject == "Namespace/cnvrg-infra"
            && r.detail.contains("made by someone else")),
        "{owners:#?}"
    );
}

#[test]
fn a_healthy_cluster_passes_and_preflight_writes_nothing() {
    let env = env();
    let report = preflight(&env);
    let permissions = rows(&report, "permissions");
    assert_eq!(
        permissions[0].detail, "1 access review(s), every verb the run needs is allowed",
        "a cluster admin is known from one review"
    );
    for check in ["owners", "permissions", "pod-security"] {
        let found = rows(&report, check);
        assert!(!found.is_empty(), "{check}");
        assert!(found.iter().all(|r| r.level == Level::Pass), "{found:#?}");
    }
    assert_only_reads_and_reviews(&env);
}

/// Every request was a read or an access review: no write of any kind, no
/// dry run, nothing persisted.
fn assert_only_reads_and_reviews(env: &Env) {
    let requests = env.server.requests();
    assert!(!requests.is_empty());
    let writes: Vec<String> = requests
        .iter()
        .filter(|r| {
            r.dry_run
                || !matches!(
                    r.verb,
                    Verb::Discovery | Verb::Get | Verb::List | Verb::Watch | Verb::Review
                )
                || !matches!(r.method.as_str(), "GET" | "POST")
                || (r.method == "POST" && r.verb != Verb::Review)
        })
        .map(|r| format!("{} {} {:?}", r.method, r.path, r.verb))
        .collect();
    assert!(writes.is_empty(), "{writes:#?}");
    assert!(env.writes().is_empty(), "{:#?}", env.writes());
}

// The command line: `cnvrgctl preflight -o json` and the check at the start
// of `apply`.

/// `cnvrgctl preflight -o json`: its exit code and its rows.
fn preflight_json(env: &Env) -> (i32, Vec<Value>) {
    let args = with_overlay(env, &["preflight", "-o", "json"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = env.cnvrgctl(&args).output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stdout));
    });
    let rows = report["checks"].as_array().unwrap().clone();
    (out.status.code().unwrap(), rows)
}

fn failed_row<'a>(rows: &'a [Value], check: &str, subject: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["check"] == check && r["level"] == "fail" && r["subject"] == subject)
        .unwrap_or_else(|| panic!("no failed {check} row for {subject}: {rows:#?}"))
}

/// `apply` refuses with exit 6 before its first write.
fn apply_stops_before_writing(env: &Env) {
    env.server.clear_log();
    env.apply(&[]).args(with_overlay(env, &[])).assert().code(6);
    assert!(env.writes().is_empty(), "{:#?}", env.writes());
}

#[test]
fn cli_an_istio_crd_helm_installed_first_stops_apply() {
    let env = env();
    helm_installs_istio(&env);
    let (code, rows) = preflight_json(&env);
    assert_eq!(code, 6);
    let row = failed_row(
        &rows,
        "owners",
        &format!("CustomResourceDefinition/{ISTIO_CRD}"),
    );
    assert!(row["detail"].as_str().unwrap().contains("helm"));
    assert!(
        row["fix"]
            .as_str()
            .unwrap()
            .contains("spec.infra.istio.enabled: false")
    );
    apply_stops_before_writing(&env);
}

#[test]
fn cli_a_denied_verb_stops_apply_listing_the_rule() {
    let env = env();
    env.server
        .deny("patch", "apps", "deployments", Some("research"));
    let (code, rows) = preflight_json(&env);
    assert_eq!(code, 6);
    let row = failed_row(&rows, "permissions", "-");
    let detail = row["detail"].as_str().unwrap();
    assert!(detail.contains("# in namespace research"), "{detail}");
    assert!(
        detail.contains("- deployments\n  verbs:\n  - patch"),
        "{detail}"
    );
    apply_stops_before_writing(&env);
}

#[test]
fn cli_a_user_who_may_not_review_access_is_warned_and_apply_goes_on() {
    let env = env();
    forbid_reviews(&env);
    let (code, rows) = preflight_json(&env);
    assert_eq!(code, 0, "{rows:#?}");
    assert!(
        rows.iter()
            .any(|r| r["check"] == "permissions" && r["level"] == "warn")
    );
    env.apply(&[]).assert().success();
}

#[test]
fn cli_a_restricted_namespace_stops_apply_naming_the_pod_and_rule() {
    let env = env();
    add_debug_shell(&env);
    let (code, rows) = preflight_json(&env);
    assert_eq!(code, 6);
    let row = failed_row(&rows, "pod-security", "Deployment/research/debug-shell");
    assert!(
        row["detail"]
            .as_str()
            .unwrap()
            .contains("allowPrivilegeEscalation")
    );
    apply_stops_before_writing(&env);
}

#[test]
fn cli_preflight_writes_nothing() {
    let env = env();
    helm_installs_istio(&env);
    env.server.clear_log();
    let (code, _) = preflight_json(&env);
    assert_eq!(code, 6);
    assert_only_reads_and_reviews(&env);
}
