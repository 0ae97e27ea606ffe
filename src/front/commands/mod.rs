//! What each command does, from parsed arguments to printed output: load the
//! spec, render, validate, print. The stages themselves live in their modules;
//! this file only strings them together. Commands that talk to a cluster are
//! in `cluster.rs` and beside it, all starting from `session.rs` (scopes,
//! runtime, connection); `table.rs` aligns the tables they print.

mod adopt;
mod adopt_json;
mod bundle;
mod cluster;
mod import;
mod manual;
mod port_forward;
mod preflight;
mod remove;
mod secrets;
mod session;
mod status;
mod table;
mod tenant;

use crate::front::cli::{Cli, Command, Global, OutputFormat, RenderArgs, SpecArgs};
use crate::front::error::Error;
use crate::front::ui::Printer;
use crate::pipeline::manifest::{Manifest, Scope};
use crate::pipeline::render::{SecretInputs, Templates};
use crate::pipeline::spec::Spec;

pub fn run(cli: Cli, printer: &Printer) -> Result<(), Error> {
    graph_only_for_plan(&cli)?;
    match cli.command {
        Command::Render(args) => render(printer, cli.global.output, args),
        Command::Validate(args) => validate(printer, args),
        Command::Diff(args) => cluster::diff(printer, &cli.global, args),
        Command::Apply(args) => {
            cluster::apply(printer, &cli.global, args.scope.as_deref(), args.exec)
        }
        Command::Install(crate::front::cli::InstallCommand::Infra(args)) => {
            cluster::apply(printer, &cli.global, Some("infra"), args)
        }
        Command::Status(args) => status::status(printer, &cli.global, args),
        Command::Tenant(crate::front::cli::TenantCommand::List(args)) => {
            status::tenant_list(printer, &cli.global, args)
        }
        Command::Tenant(crate::front::cli::TenantCommand::Add(args)) => {
            tenant::tenant_add(printer, &cli.global, args)
        }
        Command::Tenant(crate::front::cli::TenantCommand::Remove(args)) => {
            remove::tenant_remove(printer, &cli.global, args)
        }
        Command::Uninstall(args) => remove::uninstall(printer, &cli.global, args),
        Command::Rbac(args) => rbac(printer, cli.global.output, args),
        Command::Preflight(args) => preflight::preflight(printer, &cli.global, args),
        Command::PortForward(args) => port_forward::port_forward(printer, &cli.global, args),
        Command::SupportBundle(args) => bundle::support_bundle(printer, &cli.global, args),
        Command::Secrets(crate::front::cli::SecretsCommand::Apply(args)) => {
            secrets::secrets_apply(printer, &cli.global, args)
        }
        Command::Completion(args) => manual::completion(printer, args),
        Command::Man(args) => manual::man(printer, args),
        Command::Import(args) => import::import(printer, &cli.global, args),
    }
}

/// `-o dot` and `-o mermaid` draw the plan: anywhere but `render --plan`
/// they are a usage error.
fn graph_only_for_plan(cli: &Cli) -> Result<(), Error> {
    let graph = matches!(cli.global.output, OutputFormat::Dot | OutputFormat::Mermaid);
    if graph && !matches!(&cli.command, Command::Render(args) if args.plan) {
        let value =
            clap::ValueEnum::to_possible_value(&cli.global.output).expect("every format is listed");
        return Err(Error::Usage(format!(
            "-o {}: only `render --plan` draws a graph; use -o text or -o json here",
            value.get_name()
        )));
    }
    Ok(())
}

/// Spec, templates and validated objects: everything up to the cluster, from
/// the spec files on disk through every check (schemas, CR schemas, quotas,
/// the plan). What `validate` runs; the render bench times it.
pub fn prepare(printer: &Printer, args: &SpecArgs) -> Result<(Spec, Vec<Manifest>), Error> {
    prepare_with(printer, args, false)
}

/// [`prepare`]; `for_cluster` reads the registry password (which only a
/// command that writes the pull secret needs).
fn prepare_with(
    printer: &Printer,
    args: &SpecArgs,
    for_cluster: bool,
) -> Result<(Spec, Vec<Manifest>), Error> {
    let spec = crate::pipeline::spec::load(&args.file)?;
    prepare_spec(printer, spec, args, for_cluster)
}

/// [`prepare_with`] for a spec already loaded.
fn prepare_spec(
    printer: &Printer,
    spec: Spec,
    args: &SpecArgs,
    for_cluster: bool,
) -> Result<(Spec, Vec<Manifest>), Error> {
    for w in &spec.warnings {
        printer.warn(&w.to_string());
    }
    let templates = match &args.templates {
        Some(dir) => Templates::with_overlay(dir)?,
        None => Templates::built_in(),
    };
    let mut secrets = SecretInputs::default();
    if for_cluster && let Some(registry) = &spec.cluster.registry {
        secrets.registry_password = registry.password()?;
        if let Some(password) = &secrets.registry_password {
            crate::pipeline::redact::register(password);
        }
    }
    let manifests = crate::pipeline::render::render(&spec, &templates, &secrets)?;
    crate::pipeline::validate::validate(&manifests)?;
    crate::pipeline::plan::build(&manifests)?;
    Ok((spec, manifests))
}

fn render(printer: &Printer, format: OutputFormat, args: RenderArgs) -> Result<(), Error> {
    if args.files.len() > 1 && args.gitops.is_none() {
        return Err(Error::Usage(
            "several -f files make a fleet, which only `--out DIR --gitops ENGINE` writes".into(),
        ));
    }
    if let (Some(dir), Some(engine)) = (&args.out, args.gitops) {
        return render_gitops(printer, &args, dir, engine);
    }
    if args.show_spec {
        let spec = crate::pipeline::spec::load(&args.spec().file)?;
        let text = if format == OutputFormat::Json {
            serde_json::to_string_pretty(&spec).expect("the spec serializes") + "\n"
        } else {
            crate::pipeline::yaml::to_string(&spec)
        };
        return Ok(printer.out(&text)?);
    }
    let (spec, mut manifests) = prepare(printer, &args.spec())?;
    let scope = match &args.scope {
        Some(wanted) => Some(parse_scope(wanted, &spec)?),
        None => None,
    };
    if args.plan {
        let plan = crate::pipeline::plan::build(&manifests)?;
        let draw = match format {
            OutputFormat::Dot => crate::pipeline::plan::print_dot,
            OutputFormat::Mermaid => crate::pipeline::plan::print_mermaid,
            OutputFormat::Json => crate::pipeline::plan::print_json,
            OutputFormat::Text => crate::pipeline::plan::print,
        };
        return Ok(printer.out(&draw(&manifests, &plan, scope.as_ref()))?);
    }
    if let Some(scope) = scope {
        manifests.retain(|m| m.origin.scope == scope);
    }
    if let Some(dir) = &args.out {
        let files = crate::pipeline::output::write_dir(dir, &manifests)?;
        printer.info(&format!(
            "wrote {} objects in {files} files to {}",
            manifests.len(),
            dir.display()
        ));
        return Ok(());
    }
    let text = if format == OutputFormat::Json {
        crate::pipeline::output::json_list(&manifests)
    } else {
        crate::pipeline::output::yaml_stream(&manifests)
    };
    Ok(printer.out(&text)?)
}

/// `render --out DIR --gitops ENGINE [-f SPEC]...`: the directory an engine
/// syncs from, for one cluster or a fleet.
fn render_gitops(
    printer: &Printer,
    args: &RenderArgs,
    dir: &std::path::Path,
    engine: crate::front::cli::GitopsEngine,
) -> Result<(), Error> {
    use crate::pipeline::gitops;
    let options = gitops::Options {
        engine: match engine {
            crate::front::cli::GitopsEngine::Flux => gitops::Engine::Flux,
            crate::front::cli::GitopsEngine::ArgoCd => gitops::Engine::ArgoCd,
        },
        repo_url: args.repo_url.clone(),
        revision: args.revision.clone(),
        path_prefix: args.path_prefix.clone(),
    };
    let mut rendered = Vec::new();
    for file in &args.files {
        let (spec, manifests) = prepare(printer, &args.spec_of(file))?;
        let plan = crate::pipeline::plan::build(&manifests)?;
        rendered.push((file.as_path(), spec.cluster.name, manifests, plan));
    }
    let named: Vec<(&str, &std::path::Path)> = rendered
        .iter()
        .map(|(file, name, ..)| (name.as_str(), *file))
        .collect();
    gitops::distinct_names(&named).map_err(|e| Error::Usage(e.to_string()))?;
    let clusters: Vec<gitops::Cluster> = rendered
        .iter()
        .map(|(_, name, manifests, plan)| gitops::Cluster {
            name,
            manifests,
            plan,
        })
        .collect();
    let files = gitops::files(&clusters, &options).map_err(|e| Error::Usage(e.to_string()))?;
    let written = crate::pipeline::output::write_files(dir, &files)?;
    let left_out = rendered
        .iter()
        .flat_map(|(_, _, manifests, _)| manifests)
        .filter(|m| gitops::out_of_git(m))
        .count();
    printer.info(&format!(
        "wrote {written} files for {} cluster(s) to {}; {left_out} Secrets left out of git (create them with `cnvrgctl secrets apply`)",
        clusters.len(),
        dir.display()
    ));
    Ok(())
}

/// `cnvrgctl rbac`: the roles cnvrgctl's user needs, as YAML (or a JSON List).
fn rbac(
    printer: &Printer,
    format: OutputFormat,
    args: crate::front::cli::RbacArgs,
) -> Result<(), Error> {
    let (spec, manifests) = prepare(printer, &args.spec)?;
    let objects = match args
        .scope
        .as_deref()
        .map(|s| parse_scope(s, &spec))
        .transpose()?
    {
        None => vec![crate::pipeline::rbac::cluster_role(&manifests)],
        Some(Scope::Infra) => {
            return Err(Error::Usage(
                "--scope: the infra scope needs the whole ClusterRole; leave --scope out".into(),
            ));
        }
        Some(scope) => {
            let namespace = crate::engine::apply::scope_namespace(&manifests, &scope)
                .expect("a tenant of the spec has a namespace");
            crate::pipeline::rbac::tenant_roles(&manifests, &scope, &namespace)
        }
    };
    let text = match format {
        OutputFormat::Json => {
            let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": objects});
            serde_json::to_string_pretty(&list).expect("serializes") + "\n"
        }
        // A graph format is refused in `run`.
        OutputFormat::Text | OutputFormat::Dot | OutputFormat::Mermaid => {
            let mut text = String::from(
                "# The RBAC cnvrgctl's user needs for this spec (`cnvrgctl rbac`): every\n# rendered kind, and besides them:\n",
            );
            for why in crate::pipeline::rbac::reasons() {
                text.push_str(&format!("#   {why}\n"));
            }
            for object in &objects {
                text.push_str("---\n");
                text.push_str(&crate::pipeline::yaml::to_string(object));
            }
            text
        }
    };
    Ok(printer.out(&text)?)
}

fn validate(printer: &Printer, args: SpecArgs) -> Result<(), Error> {
    let (spec, manifests) = prepare(printer, &args)?;
    printer.info(&format!(
        "{}: valid ({} tenants, {} objects)",
        args.file.display(),
        spec.tenants.len(),
        manifests.len()
    ));
    Ok(())
}

/// Asks `question` (`--yes` answers it); a no says `nothing` and ends the
/// command with [`Error::Declined`].
fn confirm(printer: &Printer, global: &Global, question: &str, nothing: &str) -> Result<(), Error> {
    if printer
        .confirm(question, global.yes)
        .map_err(Error::Usage)?
    {
        return Ok(());
    }
    printer.info(nothing);
    Err(Error::Declined)
}

/// The spec's tenant names for a message: `a, b` or `none`.
fn tenant_names(spec: &Spec) -> String {
    match spec.tenants.is_empty() {
        true => "none".into(),
        false => spec
            .tenants
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// `infra` or `tenant/NAME`, naming a scope the spec has.
fn parse_scope(text: &str, spec: &Spec) -> Result<Scope, Error> {
    match text.split_once('/') {
        None if text == "infra" => Ok(Scope::Infra),
        Some(("tenant", name)) if spec.tenants.iter().any(|t| t.name == name) => {
            Ok(Scope::Tenant(name.to_string()))
        }
        Some(("tenant", name)) => Err(Error::Usage(format!(
            "--scope: no tenant `{name}` in the spec (tenants: {})",
            tenant_names(spec)
        ))),
        _ => Err(Error::Usage(format!(
            "--scope: expected `infra` or `tenant/NAME`, found `{text}`"
        ))),
    }
}
