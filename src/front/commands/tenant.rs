//! `tenant add`: from the command line (or, on a terminal without `--type`, a
//! few questions) to a checked `tenants/NAME.yaml`, then the diff, a
//! confirmation, the file written and that tenant alone installed and waited
//! for. Refused before anything is written: a name or namespace already taken
//! (in the spec or on the cluster), infra not installed, a tenant file that
//! exists with other settings. A failed install keeps the file; running the
//! same command again continues.

use std::path::Path;

use super::cluster::converge;
use super::prepare_spec;
use super::session::{connect, runtime};
use crate::engine::kube::Cluster;
use crate::front::cli::{Global, TenantAddArgs, TenantKind};
use crate::front::error::Error;
use crate::front::ui::Printer;
use crate::pipeline::manifest::{Scope, keys};
use crate::pipeline::spec::{Spec, TenantDraft, TenantType, tenant_file_path};

/// `cnvrgctl tenant add NAME --type cnvrg|workspace`.
pub fn tenant_add(printer: &Printer, global: &Global, args: TenantAddArgs) -> Result<(), Error> {
    let cluster_file = args.exec.spec.file.clone();
    let current = crate::pipeline::spec::load(&cluster_file)?;
    let path = tenant_file_path(&cluster_file, &args.name);
    let draft = draft(printer, global, &args, &current)?;
    let text = draft.text(&current.cluster.profile).map_err(Error::Usage)?;
    let resuming = match std::fs::read_to_string(&path) {
        Ok(old) if same_document(&old, &text) => {
            printer.info(&format!(
                "{} exists from an earlier `tenant add` with these settings; continuing",
                path.display()
            ));
            true
        }
        Ok(_) => {
            return Err(Error::Usage(format!(
                "{} already exists with other settings; edit it and run `cnvrgctl apply --scope tenant/{}`, or remove it first",
                path.display(),
                args.name
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => {
            return Err(Error::Usage(format!("cannot read {}: {e}", path.display())));
        }
    };
    if !resuming {
        taken_in_spec(&current, &draft)?;
    }
    let spec = crate::pipeline::spec::load_adding(&cluster_file, &path, text.clone())?;
    let (spec, manifests) = prepare_spec(printer, spec, &args.exec.spec, true)?;
    let tenant = spec
        .tenants
        .iter()
        .find(|t| t.name == args.name)
        .expect("the spec holds the tenant just added");
    let scope = Scope::Tenant(args.name.clone());
    let written = std::cell::Cell::new(resuming);
    let result = runtime()?.block_on(async {
        let cluster = connect(global).await?;
        ready_for(
            &cluster,
            &scope,
            &tenant.namespace,
            tenant.owns_namespace,
            resuming,
        )
        .await?;
        converge(
            printer,
            global,
            &cluster,
            (&spec, &manifests),
            std::slice::from_ref(&scope),
            &args.exec,
            |printer| {
                if !resuming {
                    write_file(&path, &text)?;
                    written.set(true);
                    printer.info(&format!("wrote {}", path.display()));
                }
                Ok(())
            },
        )
        .await
    });
    if result.is_err() && written.get() {
        printer.info(&format!(
            "{} is kept; once the problem is fixed, run `cnvrgctl tenant add {}` again (same options) or `cnvrgctl apply --scope tenant/{}` to continue",
            path.display(),
            args.name,
            args.name
        ));
    }
    result
}

/// The tenant file from the flags, or from questions on a terminal.
fn draft(
    printer: &Printer,
    global: &Global,
    args: &TenantAddArgs,
    spec: &Spec,
) -> Result<TenantDraft, Error> {
    let mut draft = TenantDraft {
        name: args.name.clone(),
        kind: TenantType::Workspace,
        namespace: args.namespace.clone(),
        pools: Vec::new(),
        sets: args.set.clone(),
    };
    if let Some(kind) = args.kind {
        draft.kind = match kind {
            TenantKind::Cnvrg => TenantType::Cnvrg,
            TenantKind::Workspace => TenantType::Workspace,
        };
        return Ok(draft);
    }
    if global.yes || !printer.can_ask() {
        return Err(Error::Usage(
            "--type is required (cnvrg or workspace): nobody can be asked without a terminal"
                .into(),
        ));
    }
    ask(printer, spec, &mut draft).map_err(Error::Usage)?;
    Ok(draft)
}

/// The few questions that matter: type, namespace, pools or domain.
fn ask(printer: &Printer, spec: &Spec, draft: &mut TenantDraft) -> Result<(), String> {
    let kinds = [
        "workspace: a Prefect workspace (Orion server and agent pools)",
        "cnvrg: a cnvrg control plane",
    ];
    draft.kind = match printer.choose(&format!("Type of tenant {}", draft.name), &kinds)? {
        0 => TenantType::Workspace,
        _ => TenantType::Cnvrg,
    };
    if draft.namespace.is_none() {
        let default = match draft.kind {
            TenantType::Cnvrg => format!("cnvrg-{}", draft.name),
            TenantType::Workspace => draft.name.clone(),
        };
        let taken: Vec<String> = std::iter::once(spec.infra.namespace.clone())
            .chain(spec.tenants.iter().map(|t| t.namespace.clone()))
            .collect();
        let namespace = printer.ask("Namespace", &default, |ns| {
            crate::pipeline::spec::dns1123_label(ns, 63)?;
            match taken.iter().any(|t| t == ns) {
                true => Err(format!("namespace `{ns}` is already used by the spec")),
                false => Ok(()),
            }
        })?;
        if namespace != default {
            draft.namespace = Some(namespace);
        }
    }
    match draft.kind {
        TenantType::Workspace => {
            let pools = printer.ask("Agent pools (comma-separated)", "default", |text| {
                text.split(',')
                    .try_for_each(|p| crate::pipeline::spec::dns1123_label(p.trim(), 20))
            })?;
            let replicas =
                printer.ask(
                    "Agents per pool (empty: the profile's)",
                    "",
                    |text| match text.is_empty() || text.parse::<u32>().is_ok() {
                        true => Ok(()),
                        false => Err("a whole number, or empty".into()),
                    },
                )?;
            let replicas = replicas.parse().ok();
            draft.pools = pools
                .split(',')
                .map(|p| (p.trim().to_string(), replicas))
                .collect();
        }
        TenantType::Cnvrg if spec.cluster.domain.is_none() => {
            let domain = printer.ask(
                "DNS domain of its services (<svc>.<domain>)",
                "",
                crate::pipeline::spec::dns1123_subdomain,
            )?;
            draft.sets.push(format!("cnvrg.clusterDomain={domain}"));
        }
        TenantType::Cnvrg => {}
    }
    Ok(())
}

/// Whether two tenant files say the same (comments and layout aside).
fn same_document(a: &str, b: &str) -> bool {
    let parse = |text: &str| crate::pipeline::yaml::from_str::<serde_json::Value>(text).ok();
    matches!((parse(a), parse(b)), (Some(a), Some(b)) if a == b)
}

/// The name and namespace must be free in the spec.
fn taken_in_spec(spec: &Spec, draft: &TenantDraft) -> Result<(), Error> {
    if let Some(t) = spec.tenants.iter().find(|t| t.name == draft.name) {
        return Err(Error::Usage(format!(
            "tenant `{}` already exists in {}; choose another name, or change it there",
            draft.name,
            t.file.display()
        )));
    }
    if let Some(ns) = &draft.namespace {
        if *ns == spec.infra.namespace {
            return Err(Error::Usage(format!(
                "namespace `{ns}` is the infra namespace; choose another with --namespace"
            )));
        }
        if let Some(t) = spec.tenants.iter().find(|t| t.namespace == *ns) {
            return Err(Error::Usage(format!(
                "namespace `{ns}` is taken by tenant `{}`; choose another with --namespace",
                t.name
            )));
        }
    }
    Ok(())
}

/// The cluster must have infra, and neither this tenant (unless resuming) nor
/// a namespace of that name cnvrgctl did not make for it.
async fn ready_for(
    cluster: &Cluster,
    scope: &Scope,
    namespace: &str,
    owns_namespace: bool,
    resuming: bool,
) -> Result<(), Error> {
    let installed = crate::engine::status::installed(cluster).await?;
    if !installed.iter().any(|(s, _, _)| s == "infra") {
        return Err(Error::Precondition(format!(
            "infra is not installed on {}; run `cnvrgctl install infra` first",
            cluster.server()
        )));
    }
    if !resuming && let Some((_, ns, _)) = installed.iter().find(|(s, _, _)| *s == scope.label()) {
        return Err(Error::Precondition(format!(
            "{scope} is already installed on {} (namespace {ns}); `cnvrgctl tenant list` shows it",
            cluster.server()
        )));
    }
    if owns_namespace
        && let Some(kind) = cluster.resource("v1", "Namespace").await?
        && let Some(live) = cluster.get(&kind, None, namespace).await?
        && live["metadata"]["labels"][keys::SCOPE].as_str() != Some(scope.label().as_str())
    {
        return Err(Error::Precondition(format!(
            "namespace `{namespace}` already exists on {} and was not made by cnvrgctl for tenant `{}`; choose another with --namespace",
            cluster.server(),
            scope.instance()
        )));
    }
    Ok(())
}

fn write_file(path: &Path, text: &str) -> Result<(), Error> {
    let fail = |e: std::io::Error| {
        Error::Stdout(std::io::Error::new(
            e.kind(),
            format!("{}: {e}", path.display()),
        ))
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    std::fs::write(path, text).map_err(fail)
}
