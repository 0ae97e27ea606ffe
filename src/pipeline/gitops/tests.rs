use super::*;
use crate::pipeline::manifest::Origin;
use serde_json::json;
use std::collections::BTreeSet;

fn object(kind: &str, name: &str, scope: &Scope, depends_on: Option<&str>) -> Manifest {
    let mut object = json!({"apiVersion": "v1", "kind": kind,
        "metadata": {"name": name, "namespace": "ns"}});
    if let Some(d) = depends_on {
        object["metadata"]["annotations"][keys::DEPENDS_ON] = d.into();
    }
    Manifest {
        object,
        origin: Origin {
            scope: scope.clone(),
            component: name.into(),
            template: format!("{name}.yaml.j2"),
        },
    }
}

fn tenant() -> Scope {
    Scope::Tenant("team-a".into())
}

#[test]
fn a_wave_is_the_longest_chain_below_an_object_in_its_scope() {
    let ms = [
        object("Deployment", "postgres", &tenant(), None),
        object("Job", "migrate", &tenant(), Some("postgres")),
        object("Deployment", "webapp", &tenant(), Some("migrate, postgres")),
        object("Deployment", "redis", &tenant(), None),
    ];
    let plan = crate::pipeline::plan::build(&ms).unwrap();
    assert_eq!(waves(&ms, &plan), [0, 1, 2, 0]);

    // webapp no longer waits for the migration: one wave earlier.
    let mut changed = ms.clone();
    changed[2] = object("Deployment", "webapp", &tenant(), Some("postgres"));
    let plan = crate::pipeline::plan::build(&changed).unwrap();
    assert_eq!(waves(&changed, &plan), [0, 1, 1, 0]);
}

#[test]
fn every_tenant_waits_for_infra_and_for_what_its_objects_wait_for() {
    let ms = [
        object("Deployment", "operator", &Scope::Infra, None),
        object("Deployment", "grafana", &tenant(), None),
        object("Deployment", "webapp", &Scope::Tenant("b".into()), None),
    ];
    let plan = crate::pipeline::plan::build(&ms).unwrap();
    let deps = scope_dependencies(&ms, &plan);
    assert_eq!(deps[&Scope::Infra], BTreeSet::new());
    assert_eq!(deps[&tenant()], BTreeSet::from([Scope::Infra]));
    let waves = order::scope_waves(&deps);
    assert_eq!(waves[&Scope::Infra], 0);
    assert_eq!(waves[&tenant()], 1);
}

#[test]
fn secrets_filled_on_apply_stay_out_of_git() {
    let mut generated = object("Secret", "pg", &tenant(), None);
    generated.object["metadata"]["annotations"][keys::GENERATED_KEYS] = "password".into();
    let mut pull = object("Secret", "registry", &tenant(), None);
    pull.object["stringData"] =
        json!({".dockerconfigjson": format!("{{\"password\":\"{SET_ON_APPLY}env:X>\"}}")});
    let mut plain = object("Secret", "tls", &tenant(), None);
    plain.object["stringData"] = json!({"ca": "not a secret"});
    assert!(out_of_git(&generated));
    assert!(out_of_git(&pull));
    assert!(!out_of_git(&plain));
    assert!(!out_of_git(&object("ConfigMap", "c", &tenant(), None)));
}

#[test]
fn argocd_needs_a_repository() {
    let ms = [object("Deployment", "webapp", &tenant(), None)];
    let plan = crate::pipeline::plan::build(&ms).unwrap();
    let cluster = Cluster {
        name: "acme",
        manifests: &ms,
        plan: &plan,
    };
    let options = Options {
        engine: Engine::ArgoCd,
        repo_url: None,
        revision: "main".into(),
        path_prefix: String::new(),
    };
    assert_eq!(files(&[cluster], &options), Err(GitopsError::NoRepository));
}

#[test]
fn repository_paths_join_the_prefix() {
    let options = |prefix: &str| Options {
        engine: Engine::Flux,
        repo_url: None,
        revision: "main".into(),
        path_prefix: prefix.into(),
    };
    let rel = Path::new("acme/tenants/team-a");
    assert_eq!(repo_path(&options(""), rel), "./acme/tenants/team-a");
    assert_eq!(
        repo_path(&options("./deploy/cnvrg/"), rel),
        "./deploy/cnvrg/acme/tenants/team-a"
    );
}
