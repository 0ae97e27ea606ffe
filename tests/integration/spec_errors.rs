//! Every class of bad spec gets one clear error naming file, line, column and
//! field; the exact text is snapshot-tested.

use crate::common::{load_texts, workspace_cluster};

const HEADER: &str = "apiVersion: cnvrgctl.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: acme\n";

/// The error text for a spec that must not load.
fn error_of(cluster: &str, tenants: &[(&str, &str)]) -> String {
    match load_texts(cluster, tenants) {
        Ok(_) => panic!("spec should have been rejected:\n{cluster}"),
        Err(e) => e.to_string(),
    }
}

/// A cluster spec with `body` under `spec:`, and a cluster domain after it (so
/// cnvrg tenants have one and line numbers stay those of `body`).
fn spec(body: &str) -> String {
    format!("{HEADER}spec:\n{body}  clusterDomain: ml.example\n")
}

#[test]
fn yaml_syntax_error() {
    let text = format!("{HEADER}spec:\n  profile: dev\n  tenants: [\n    {{name: a, type: cnvrg\n");
    insta::assert_snapshot!(error_of(&text, &[]));
}

#[test]
fn tab_indentation() {
    let text = spec("  profile: dev\n\tmode: multi-tenant\n");
    insta::assert_snapshot!(error_of(&text, &[]));
}

#[test]
fn unknown_field_suggests_the_nearest() {
    let text = spec(
        "  tenants:\n    - name: research\n      type: workspace\n      workspace:\n        agentPool:\n          - name: default\n",
    );
    insta::assert_snapshot!(error_of(&text, &[]));
}

#[test]
fn unknown_top_level_field() {
    let text = spec("  profle: dev\n");
    insta::assert_snapshot!(error_of(&text, &[]));
}

#[test]
fn unknown_enum_value() {
    let text = spec("  mode: multitenant\n");
    insta::assert_snapshot!(error_of(&text, &[]));
}

#[test]
fn wrong_type() {
    let text = workspace_cluster("").replace(
        "- name: default",
        "- name: default\n            replicas: two",
    );
    insta::assert_snapshot!(error_of(&text, &[]));
}

#[test]
fn wrong_type_list_for_mapping() {
    let text = spec("  infra: [cnvrg-infra]\n");
    insta::assert_snapshot!(error_of(&text, &[]));
}

#[test]
fn bad_quantity() {
    let text = workspace_cluster("").replace(
        "- name: default",
        "- name: default\n            resources: {limits: {memory: 2GB}}",
    );
    insta::assert_snapshot!(error_of(&text, &[]));
}

#[test]
fn tenant_name_not_dns() {
    let text = workspace_cluster("").replace("name: research", "name: Research_Lab");
    insta::assert_snapshot!(error_of(&text, &[]));
}

#[test]
fn namespace_not_dns() {
    let text = workspace_cluster("").replace(
        "type: workspace",
        "type: workspace\n      namespace: research.ns",
    );
    insta::assert_snapshot!(error_of(&text, &[]));
}

#[test]
fn pool_name_too_long() {
    let text =
        workspace_cluster("").replace("- name: default", "- name: a-very-long-pool-name-indeed");
    insta::assert_snapshot!(error_of(&text, &[]));
}

#[test]
fn duplicate_tenants_across_files() {
    let tenant = "apiVersion: cnvrgctl.io/v1alpha1\nkind: Tenant\nmetadata:\n  name: research\nspec:\n  type: cnvrg\n";
    insta::assert_snapshot!(error_of(
        &workspace_cluster("  clusterDomain: ml.example\n"),
        &[("research.yaml", tenant)]
    ));
}

#[test]
fn duplicate_namespaces() {
    let text = spec(
        "  tenants:\n    - name: a\n      type: cnvrg\n      namespace: shared\n    - name: b\n      type: cnvrg\n      namespace: shared\n",
    );
    insta::assert_snapshot!(error_of(&text, &[]));
}

#[test]
fn tenant_in_the_infra_namespace() {
    let text = spec("  tenants:\n    - name: a\n      type: cnvrg\n      namespace: cnvrg-infra\n");
    insta::assert_snapshot!(error_of(&text, &[]));
}

#[test]
fn workspace_without_pools() {
    let text = spec(
        "  tenants:\n    - name: research\n      type: workspace\n      workspace:\n        agentPools: []\n",
    );
    insta::assert_snapshot!(error_of(&text, &[]));
}

#[test]
fn workspace_without_workspace_section() {
    let text = spec("  tenants:\n    - name: research\n      type: workspace\n");
    insta::assert_snapshot!(error_of(&text, &[]));
}

#[test]
fn duplicate_pools() {
    let text = workspace_cluster("").replace(
        "- name: default",
        "- name: default\n          - name: gpu\n          - name: default",
    );
    insta::assert_snapshot!(error_of(&text, &[]));
}

#[test]
fn requests_above_limits_in_the_spec() {
    let text = workspace_cluster("").replace(
        "- name: default",
        "- name: default\n            resources:\n              requests: {cpu: \"2\"}\n              limits: {cpu: 500m}",
    );
    insta::assert_snapshot!(error_of(&text, &[]));
}

#[test]
fn requests_above_limits_after_merging_the_profile() {
    // The dev profile requests 256Mi for orion; a 128Mi limit is below it.
    let text = workspace_cluster("").replace(
        "agentPools:",
        "orion:\n          resources: {limits: {memory: 128Mi}}\n        agentPools:",
    );
    insta::assert_snapshot!(error_of(&text, &[]));
}

#[test]
fn unknown_profile() {
    insta::assert_snapshot!(error_of(&workspace_cluster("  profile: prodution\n"), &[]));
}

#[test]
fn wrong_kind_and_api_version() {
    let text =
        "apiVersion: cnvrgctl.io/v1alpha1\nkind: Tenant\nmetadata:\n  name: acme\nspec: {}\n";
    let kind = error_of(text, &[]);
    let text = "apiVersion: cnvrg.io/v1\nkind: Cluster\nmetadata:\n  name: acme\nspec: {}\n";
    let version = error_of(text, &[]);
    insta::assert_snapshot!(format!("{kind}\n---\n{version}"));
}

#[test]
fn empty_file() {
    insta::assert_snapshot!(error_of("  \n# nothing here\n", &[]));
}

#[test]
fn tenant_file_named_after_another_tenant() {
    let tenant = "apiVersion: cnvrgctl.io/v1alpha1\nkind: Tenant\nmetadata:\n  name: vision\nspec:\n  type: cnvrg\n";
    insta::assert_snapshot!(error_of(
        &workspace_cluster("  clusterDomain: ml.example\n"),
        &[("other.yaml", tenant)]
    ));
}

#[test]
fn single_namespace_with_two_tenants() {
    let text = spec(
        "  mode: single-namespace\n  tenants:\n    - {name: a, type: cnvrg}\n    - {name: b, type: cnvrg}\n",
    );
    insta::assert_snapshot!(error_of(&text, &[]));
}

#[test]
fn registry_with_two_password_sources() {
    let text = workspace_cluster(
        "  registry:\n    user: acme\n    passwordEnv: REG_PASSWORD\n    passwordFile: ./password\n",
    );
    insta::assert_snapshot!(error_of(&text, &[]));
}

#[test]
fn https_without_certificate() {
    let text = workspace_cluster("  ingress:\n    type: istio\n    https: {enabled: true}\n");
    insta::assert_snapshot!(error_of(&text, &[]));
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = spec(
        "  profile: large\n  tenants:\n    - name: A\n      type: cnvrg\n    - name: research\n      type: workspace\n      workspace:\n        agentPools: []\n",
    );
    insta::assert_snapshot!(error_of(&text, &[]));
}

#[test]
fn password_env_unset_is_an_error_when_the_password_is_needed() {
    let var = "CNVRGCTL_TEST_SURELY_UNSET_PASSWORD";
    let text = workspace_cluster(&format!(
        "  registry:\n    user: acme\n    passwordEnv: {var}\n"
    ));
    // Rendering does not need the password: the spec loads.
    let spec = load_texts(&text, &[]).expect("spec loads without the password");
    let registry = spec.cluster.registry.as_ref().expect("registry is set");
    let err = registry.password().expect_err("the variable is unset");
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn inline_password_is_a_warning_not_an_error() {
    let text = workspace_cluster("  registry:\n    user: acme\n    password: hunter2\n");
    let spec = load_texts(&text, &[]).expect("inline passwords are accepted");
    let warnings: Vec<String> = spec.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].contains("spec.registry.password"),
        "{}",
        warnings[0]
    );
    assert!(
        !warnings[0].contains("hunter2"),
        "the warning must not show the password"
    );
}

#[test]
fn components_that_must_not_run_twice() {
    let text = workspace_cluster("").replace(
        "agentPools:",
        "postgres: {replicas: 2}\n        orion: {replicas: 3}\n        agentPools:",
    );
    insta::assert_snapshot!(error_of(&text, &[]));
}

#[test]
fn a_very_long_line_is_shown_around_the_error() {
    let text = format!(
        "{HEADER}spec:\n  clusterDomain: {}X{}\n",
        "a".repeat(300),
        "b".repeat(300)
    );
    insta::assert_snapshot!(error_of(&text, &[]));
}
