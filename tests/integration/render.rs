//! Rendering: golden files of every example, determinism, the labels every object
//! carries, secrets kept out, image rewriting, and the errors a bad template gets.

use std::path::Path;

use cnvrgctl::pipeline::manifest::{Manifest, keys};
use cnvrgctl::pipeline::render::{GENERATED, SecretInputs, Templates};

use crate::common::{self, EXAMPLES, load_texts, render_example, workspace_cluster};

fn stream(name: &str) -> String {
    cnvrgctl::pipeline::output::yaml_stream(&render_example(name).1)
}

#[test]
fn golden_multi_tenant() {
    insta::assert_snapshot!(stream("multi-tenant"));
}

#[test]
fn golden_single_namespace() {
    insta::assert_snapshot!(stream("single-namespace"));
}

#[test]
fn golden_workspace() {
    insta::assert_snapshot!(stream("workspace"));
}

#[test]
fn golden_effective_spec_of_the_workspace_example() {
    let spec = cnvrgctl::pipeline::spec::load(&common::example("workspace")).unwrap();
    insta::assert_snapshot!(cnvrgctl::pipeline::yaml::to_string(&spec));
}

#[test]
fn rendering_is_deterministic() {
    for name in EXAMPLES {
        assert_eq!(
            stream(name),
            stream(name),
            "{name} renders differently twice"
        );
    }
}

#[test]
fn every_object_carries_the_standard_labels() {
    for name in EXAMPLES {
        for m in render_example(name).1 {
            let labels = m.object["metadata"]["labels"].as_object().unwrap();
            for key in [
                keys::NAME,
                keys::COMPONENT,
                keys::INSTANCE,
                keys::PART_OF,
                keys::MANAGED_BY,
                keys::SCOPE,
            ] {
                assert!(labels.contains_key(key), "{} lacks {key}", m.id());
            }
            assert_eq!(labels[keys::MANAGED_BY], "cnvrgctl");
            assert_eq!(labels[keys::SCOPE], m.origin.scope.to_string());
            assert_eq!(labels[keys::COMPONENT], m.origin.component.as_str());
        }
    }
}

#[test]
fn selectors_match_their_pod_templates() {
    for name in EXAMPLES {
        for m in render_example(name).1 {
            let Some(selector) = m.object.pointer("/spec/selector/matchLabels") else {
                continue;
            };
            if m.object.pointer("/spec/template").is_none() {
                continue; // a PodDisruptionBudget, say: no pods of its own
            }
            let pod = &m.object["spec"]["template"]["metadata"]["labels"];
            for (k, v) in selector.as_object().unwrap() {
                assert_eq!(
                    &pod[k],
                    v,
                    "{}: selector {k} does not match its pods",
                    m.id()
                );
            }
        }
    }
}

fn find<'a>(ms: &'a [Manifest], kind: &str, name: &str) -> &'a Manifest {
    ms.iter()
        .find(|m| m.kind() == kind && m.name() == name)
        .unwrap_or_else(|| {
            panic!(
                "no {kind}/{name} in {:?}",
                ms.iter().map(Manifest::id).collect::<Vec<_>>()
            )
        })
}

#[test]
fn workspace_tenant_is_complete() {
    let (_, ms) = render_example("workspace");
    let ns = "test-environment";
    for (kind, name) in [
        ("Namespace", ns),
        ("Secret", "test-environment-postgres"),
        ("Service", "test-environment-postgres"),
        ("StatefulSet", "test-environment-postgres"),
        ("Service", "test-environment-orion-server"),
        ("Deployment", "test-environment-orion-server"),
        ("ServiceAccount", "test-environment-agent-default"),
        ("Role", "test-environment-agent-default"),
        ("RoleBinding", "test-environment-agent-default"),
        ("Deployment", "test-environment-agent-default"),
    ] {
        let m = find(&ms, kind, name);
        if kind != "Namespace" {
            assert_eq!(m.namespace(), Some(ns), "{}", m.id());
        }
    }
    let svc = find(&ms, "Service", "test-environment-orion-server");
    assert_eq!(svc.object["spec"]["ports"][0]["port"], 4200);
    let orion = find(&ms, "Deployment", "test-environment-orion-server");
    let c = &orion.object["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/api/ready");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/api/health");
    let env = c["env"].as_array().unwrap();
    let url = env
        .iter()
        .find(|e| {
            e["name"]
                .as_str()
                .unwrap()
                .ends_with("DATABASE_CONNECTION_URL")
        })
        .expect("orion gets a database URL");
    assert!(
        url["value"]
            .as_str()
            .unwrap()
            .starts_with("postgresql+asyncpg://")
    );

    let agent = find(&ms, "Deployment", "test-environment-agent-default");
    let text =
        serde_json::to_string(&agent.object["spec"]["template"]["spec"]["containers"][0]).unwrap();
    assert!(
        text.contains("worker"),
        "agents run Prefect workers: {text}"
    );
    assert!(
        !text.contains("\"agent\",\"start\""),
        "the deprecated agent command is not used"
    );
    assert!(
        text.contains("http://test-environment-orion-server.test-environment.svc:4200/api"),
        "{text}"
    );
}

#[test]
fn one_agent_deployment_per_pool_with_its_replicas() {
    let (spec, ms) = render_example("multi-tenant");
    let research = spec.tenants.iter().find(|t| t.name == "research").unwrap();
    for pool in &research.workspace.as_ref().unwrap().agent_pools {
        let d = find(&ms, "Deployment", &format!("research-agent-{}", pool.name));
        assert_eq!(d.object["spec"]["replicas"], pool.replicas);
        let args =
            serde_json::to_string(&d.object["spec"]["template"]["spec"]["containers"][0]).unwrap();
        assert!(
            args.contains(&pool.name),
            "pool {} uses its own work queue: {args}",
            pool.name
        );
    }
}

#[test]
fn generated_passwords_are_placeholders_never_values() {
    let (_, ms) = render_example("workspace");
    let secret = find(&ms, "Secret", "test-environment-postgres");
    assert_eq!(secret.object["stringData"]["password"], GENERATED);
    assert_eq!(
        secret.object["metadata"]["annotations"][keys::GENERATED_KEYS],
        "password"
    );
}

#[test]
fn registry_password_never_reaches_render_output() {
    // Even with the variable set, `render` uses a placeholder.
    let var = "CNVRGCTL_TEST_REGISTRY_PASSWORD_RENDER";
    // SAFETY: no other test reads or writes this variable.
    unsafe { std::env::set_var(var, "s3cr3t-registry-pw") };
    let text = workspace_cluster(&format!(
        "  registry:\n    user: acme\n    passwordEnv: {var}\n"
    ));
    let spec = load_texts(&text, &[]).unwrap();
    let ms =
        cnvrgctl::pipeline::render::render(&spec, &Templates::built_in(), &SecretInputs::default())
            .unwrap();
    let out = cnvrgctl::pipeline::output::yaml_stream(&ms);
    assert!(!out.contains("s3cr3t-registry-pw"));
    let pull = find(&ms, "Secret", "cnvrg-registry");
    assert_eq!(pull.object["type"], "kubernetes.io/dockerconfigjson");
    let config = pull.object["stringData"][".dockerconfigjson"]
        .as_str()
        .unwrap();
    assert!(
        config.contains(&format!("<set-on-apply:env:{var}>")),
        "{config}"
    );
    // With the password passed in (the apply path), it is used.
    let secrets = SecretInputs {
        registry_password: Some("s3cr3t-registry-pw".into()),
    };
    let ms = cnvrgctl::pipeline::render::render(&spec, &Templates::built_in(), &secrets).unwrap();
    let pull = find(&ms, "Secret", "cnvrg-registry");
    assert!(
        pull.object["stringData"][".dockerconfigjson"]
            .as_str()
            .unwrap()
            .contains("s3cr3t-registry-pw")
    );
}

#[test]
fn image_hub_rewrites_every_image() {
    let text = workspace_cluster("  imageHub: registry.local/cnvrg\n");
    let spec = load_texts(&text, &[]).unwrap();
    let ms =
        cnvrgctl::pipeline::render::render(&spec, &Templates::built_in(), &SecretInputs::default())
            .unwrap();
    let out = serde_json::to_string(&ms.iter().map(|m| &m.object).collect::<Vec<_>>()).unwrap();
    let images: Vec<&str> = out
        .split("\"image\":\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    assert!(!images.is_empty());
    for image in images {
        assert!(
            image.starts_with("registry.local/cnvrg/"),
            "{image} escaped the image hub"
        );
    }
}

#[test]
fn no_template_hard_codes_a_storage_class() {
    let (_, ms) = render_example("workspace");
    let out = cnvrgctl::pipeline::output::yaml_stream(&ms);
    assert!(
        !out.contains("storageClassName"),
        "no storageClassName unless the spec sets one"
    );
    let text = workspace_cluster("  storageClass: fast-ssd\n");
    let spec = load_texts(&text, &[]).unwrap();
    let ms =
        cnvrgctl::pipeline::render::render(&spec, &Templates::built_in(), &SecretInputs::default())
            .unwrap();
    let sts = find(&ms, "StatefulSet", "research-postgres");
    assert_eq!(
        sts.object["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"],
        "fast-ssd"
    );
}

#[test]
fn output_order_is_scope_then_kind_rank() {
    let (_, ms) = render_example("multi-tenant");
    assert_eq!(ms[0].origin.scope.to_string(), "infra");
    let mut last = (0usize, 0usize);
    let mut scopes: Vec<String> = Vec::new();
    for m in &ms {
        let s = m.origin.scope.to_string();
        if scopes.last() != Some(&s) {
            assert!(!scopes.contains(&s), "scope {s} is split");
            scopes.push(s);
            last = (scopes.len(), 0);
        }
        let rank = cnvrgctl::pipeline::manifest::kind_rank(m.kind());
        assert!(rank >= last.1, "{} out of kind order", m.id());
        last.1 = rank;
    }
    assert_eq!(
        scopes,
        ["infra", "tenant.team-a", "tenant.research", "tenant.vision"]
    );
}

/// Renders the workspace example with one template replaced.
fn render_with(template: &str, source: &str) -> String {
    match common::render_overlaid("workspace", &[(template, source)]) {
        Err(e) => e.to_string(),
        Ok(ms) => match cnvrgctl::pipeline::validate::validate(&ms) {
            Err(e) => e.to_string(),
            Ok(()) => panic!("{template} should have failed"),
        },
    }
}

#[test]
fn template_error_names_template_line_and_expression() {
    let src = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: {{ tenant.namespace }}\ndata:\n  a: {{ tenant.workspace.nosuchfield }}\n";
    insta::assert_snapshot!(render_with("workspace/extra.yaml.j2", src));
}

#[test]
fn template_syntax_error_is_reported_with_its_line() {
    let src = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {% if %}\n";
    insta::assert_snapshot!(render_with("workspace/extra.yaml.j2", src));
}

#[test]
fn template_producing_invalid_yaml() {
    let src = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: {{ tenant.namespace }}\ndata:\n  a: [unclosed\n";
    insta::assert_snapshot!(render_with("workspace/extra.yaml.j2", src));
}

#[test]
fn template_producing_an_object_without_kind() {
    let src = "apiVersion: v1\nmetadata:\n  name: x\n";
    insta::assert_snapshot!(render_with("workspace/extra.yaml.j2", src));
}

#[test]
fn template_with_a_misspelt_field_fails_strict_validation() {
    let src = "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n  namespace: {{ tenant.namespace }}\nspec:\n  ports:\n    - port: 80\n      targetPrt: 8080\n";
    insta::assert_snapshot!(render_with("workspace/extra.yaml.j2", src));
}

#[test]
fn namespaced_object_without_namespace_and_unknown_kind() {
    let src = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n---\napiVersion: apps/v1\nkind: Deploymnet\nmetadata:\n  name: y\n  namespace: a\n";
    insta::assert_snapshot!(render_with("workspace/extra.yaml.j2", src));
}

#[test]
fn an_object_rendered_twice_is_an_error() {
    let src = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: shared\n";
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("tenant")).unwrap();
    std::fs::write(dir.path().join("tenant/extra.yaml.j2"), src).unwrap();
    let templates = Templates::with_overlay(dir.path()).unwrap();
    let spec = cnvrgctl::pipeline::spec::load(&common::example("multi-tenant")).unwrap();
    let err = cnvrgctl::pipeline::render::render(&spec, &templates, &SecretInputs::default())
        .unwrap_err();
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn templates_overlay_reports_a_missing_directory() {
    let err = Templates::with_overlay(Path::new("/nonexistent/templates")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot read templates from /nonexistent/templates: not a directory"
    );
}

#[test]
fn out_dir_has_one_file_per_scope_and_component_with_kustomizations() {
    let (_, ms) = render_example("multi-tenant");
    let files = cnvrgctl::pipeline::output::dir_files(&ms);
    let names: Vec<String> = files.keys().map(|p| p.display().to_string()).collect();
    insta::assert_snapshot!(names.join("\n"));
    insta::assert_snapshot!(
        "top_kustomization",
        files[Path::new("kustomization.yaml")].as_str()
    );
}

fn checksum_of(ms: &[Manifest], kind: &str, name: &str) -> Option<String> {
    find(ms, kind, name).object["spec"]["template"]["metadata"]["annotations"]
        [cnvrgctl::pipeline::render::CONFIG_CHECKSUM]
        .as_str()
        .map(str::to_string)
}

#[test]
fn a_config_change_changes_the_checksum_of_the_pods_that_read_it() {
    let (_, before) = render_example("workspace");
    let orion = checksum_of(&before, "Deployment", "test-environment-orion-server")
        .expect("orion reads the database Secret");
    let postgres = checksum_of(&before, "StatefulSet", "test-environment-postgres")
        .expect("postgres reads its Secret");
    // The workers read no ConfigMap or Secret: no annotation, no needless rollout.
    assert_eq!(
        checksum_of(&before, "Deployment", "test-environment-agent-default"),
        None
    );

    // Change the database Secret (a new key) through a template overlay.
    let dir = tempfile::tempdir().unwrap();
    let source =
        std::fs::read_to_string(common::root().join("templates/workspace/postgres.yaml.j2"))
            .unwrap()
            .replace("stringData:\n", "stringData:\n  sslmode: \"disable\"\n");
    std::fs::create_dir_all(dir.path().join("workspace")).unwrap();
    std::fs::write(dir.path().join("workspace/postgres.yaml.j2"), source).unwrap();
    let spec = cnvrgctl::pipeline::spec::load(&common::example("workspace")).unwrap();
    let after = cnvrgctl::pipeline::render::render(
        &spec,
        &Templates::with_overlay(dir.path()).unwrap(),
        &SecretInputs::default(),
    )
    .unwrap();
    let orion_after = checksum_of(&after, "Deployment", "test-environment-orion-server").unwrap();
    let postgres_after = checksum_of(&after, "StatefulSet", "test-environment-postgres").unwrap();
    assert_ne!(orion, orion_after);
    assert_ne!(postgres, postgres_after);
}

#[test]
fn filling_in_a_registry_password_does_not_change_any_checksum() {
    let text =
        workspace_cluster("  registry:\n    user: acme\n    passwordEnv: UNUSED_IN_THIS_TEST\n");
    let spec = load_texts(&text, &[]).unwrap();
    let sums = |secrets: &SecretInputs| {
        let ms =
            cnvrgctl::pipeline::render::render(&spec, &Templates::built_in(), secrets).unwrap();
        ["research-orion-server", "research-agent-default"]
            .map(|n| checksum_of(&ms, "Deployment", n))
    };
    let placeholder = sums(&SecretInputs::default());
    let real = sums(&SecretInputs {
        registry_password: Some("pw".into()),
    });
    assert_eq!(
        placeholder, real,
        "pull secrets are not config: no rollout when they change"
    );
}
