//! Command-line types (clap) and nothing else: parsing happens here, meaning is
//! given in `commands`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "cnvrgctl",
    version,
    args_override_self = true,
    about = "Install and keep an MLOps platform (cnvrg control planes, Prefect workspaces) on Kubernetes",
    after_help = "Exit codes: 0 success (`support-bundle`: even with reads refused); 1 `diff` found changes; 2 usage or spec/template/validation error; 3 cluster error (unreachable, refused, conflict); 4 output could not be written; 5 objects failed or were not ready in time; 6 a preflight check failed (nothing written); 130 interrupted."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true, env = "KUBECONFIG", hide_env_values = true)]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use (default: the current context).
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// Output format (`dot` and `mermaid`: the plan as a graph, for
    /// `render --plan` only).
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Do not colour output (also set by NO_COLOR).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// More detail on stderr (repeat for more); `-v` adds the API request count.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// No status lines or progress on stderr: only the command's output,
    /// warnings and errors (`-o json` output is unchanged).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Longest a cluster command may wait in all (e.g. 90s, 15m).
    #[arg(long, global = true, value_name = "DURATION", default_value = "15m", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,
}

/// `90s`, `5m`, `1h`, `500ms` or plain seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let (n, unit) = number_and_unit(text, "a duration like 90s, 5m or 1h")?;
    let seconds = match unit {
        "ms" => return Ok(std::time::Duration::from_millis(n)),
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => {
            return Err(format!(
                "unknown unit `{unit}` in `{text}`; use ms, s, m or h"
            ));
        }
    };
    Ok(std::time::Duration::from_secs(seconds))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
    /// Graphviz DOT (`render --plan` only).
    Dot,
    /// A Mermaid flowchart (`render --plan` only).
    Mermaid,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render every manifest the spec implies, without a cluster.
    Render(RenderArgs),
    /// Check the spec and every rendered object, without a cluster.
    Validate(SpecArgs),
    /// Show what `apply` would change on the cluster (exit 0: nothing, 1: changes).
    Diff(DiffArgs),
    /// Converge the cluster to the spec: infra and every tenant, in dependency
    /// order, waiting for each object; prune what left the spec.
    Apply(ApplyArgs),
    /// Install one part of the platform.
    #[command(subcommand)]
    Install(InstallCommand),
    /// How each component of each scope is doing on the cluster (exit 0 when
    /// everything is ready, 5 when something is not).
    Status(StatusArgs),
    /// The tenants of the spec and of the cluster.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Delete everything cnvrgctl installed: tenants first, then infra.
    Uninstall(UninstallArgs),
    /// Print the RBAC cnvrgctl's own user needs for this spec (a ClusterRole;
    /// with --scope tenant/NAME, a Role in its namespace and the cluster-wide reads).
    Rbac(RbacArgs),
    /// Check the cluster before writing anything: server version, API kinds,
    /// storage, capacity, objects owned by others, permissions, Pod Security
    /// and platform (exit 0: nothing fails, 6: a check fails).
    Preflight(PreflightArgs),
    /// Forward a local port to a tenant component's Service, picking a ready
    /// pod behind it for each new connection (Ctrl-C stops, exit 0).
    PortForward(PortForwardArgs),
    /// Write one archive with what a vendor needs to diagnose an install:
    /// versions, nodes, the effective spec and plan, status and blockers,
    /// the scopes' objects (Secrets as key names only), events, and the logs
    /// of containers not ready or restarted; secret values masked. Reads
    /// that are refused are listed in its errors.txt (exit 0).
    SupportBundle(SupportBundleArgs),
    /// The Secrets `render --out --gitops` leaves out of git.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Print the completion script of a shell (install: see the README).
    Completion(CompletionArgs),
    /// Print the man page of cnvrgctl, or with --out write one page per
    /// command into a directory.
    Man(ManArgs),
    /// Write a spec (cluster.yaml, tenants/NAME.yaml) from the operators'
    /// custom resources: CnvrgInfra and CnvrgApp (the cnvrg operator),
    /// Workspace (Cartographer). Fields without a counterpart are written as
    /// comments; secrets never are.
    Import(ImportArgs),
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Create on the cluster, once, the Secrets whose values cnvrgctl
    /// generates or is given (passwords, keys, the registry pull secret):
    /// an existing Secret is never overwritten; values are never printed.
    Apply(SecretsApplyArgs),
}

#[derive(Debug, Args)]
pub struct SecretsApplyArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Only this scope: `infra` or `tenant/NAME`.
    #[arg(long, value_name = "SCOPE")]
    pub scope: Option<String>,
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write `cnvrgctl.1` and a page per command (`cnvrgctl-render.1`...)
    /// into DIR instead of printing the top-level page.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["from_cluster", "files"])))]
pub struct ImportArgs {
    /// Read the custom resources from the cluster, in every namespace.
    #[arg(long)]
    pub from_cluster: bool,
    /// Read the custom resources from these YAML files (multi-document).
    #[arg(short = 'f', long = "file", value_name = "FILE", num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Directory to write cluster.yaml and tenants/ into.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Replace spec files that already exist.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct SupportBundleArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// The archive to write; `-o FILE` after `support-bundle` means this
    /// too (default: cnvrgctl-support-<UTC time>.tar.gz here).
    #[arg(long, value_name = "FILE")]
    pub archive: Option<PathBuf>,
    /// Only this scope: `infra` or `tenant/NAME`.
    #[arg(long, value_name = "SCOPE")]
    pub scope: Option<String>,
    /// Events newer than this (e.g. 30m, 2h).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub since: std::time::Duration,
    /// Largest total size of the archive's files, uncompressed (e.g. 50Mi,
    /// 500Ki, or bytes); logs are left out first.
    #[arg(long, value_name = "SIZE", default_value = "50Mi", value_parser = parse_size)]
    pub max_size: u64,
}

/// The leading digits of `text` as a number, and the unit after them;
/// `expected` says what was wanted when there is no number.
fn number_and_unit<'a>(text: &'a str, expected: &str) -> Result<(u64, &'a str), String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n = number
        .parse()
        .map_err(|_| format!("expected {expected}, found `{text}`"))?;
    Ok((n, unit))
}

/// `50Mi`, `500Ki`, `1Gi` or plain bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (n, unit) = number_and_unit(text, "a size like 50Mi, 500Ki or 1000000")?;
    let factor: u64 = match unit {
        "" | "B" => 1,
        "Ki" | "KiB" => 1 << 10,
        "Mi" | "MiB" => 1 << 20,
        "Gi" | "GiB" => 1 << 30,
        _ => {
            return Err(format!(
                "unknown unit `{unit}` in `{text}`; use Ki, Mi or Gi"
            ));
        }
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// The command line with `support-bundle`'s `-o FILE` (or `--output FILE`)
/// read as `--archive FILE`: everywhere else `-o` is the output format, and
/// a bundle's output is its archive. A value that names an output format
/// (`-o json`) stays the format. Arguments before the subcommand (the global
/// `-o`) and after `--` are left alone.
pub fn archive_flag(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let Some(at) = args.iter().position(|a| a == "support-bundle") else {
        return args;
    };
    let format = |value: &str| {
        OutputFormat::value_variants()
            .iter()
            .filter_map(|f| f.to_possible_value())
            .any(|f| f.matches(value, false))
    };
    let mut out: Vec<std::ffi::OsString> = args[..=at].to_vec();
    let mut rest = args[at + 1..].iter().peekable();
    while let Some(arg) = rest.next() {
        let text = arg.to_string_lossy();
        if text == "--" {
            out.push(arg.clone());
            break;
        }
        let value = text
            .strip_prefix("--output=")
            .or_else(|| text.strip_prefix("-o").filter(|v| !v.is_empty()));
        let next = rest.peek().map(|a| a.to_string_lossy());
        out.push(match (text.as_ref(), value) {
            ("-o" | "--output", _) if next.as_ref().is_some_and(|v| format(v)) => arg.clone(),
            ("-o" | "--output", _) => "--archive".into(),
            (_, Some(value)) if format(value.trim_start_matches('=')) => arg.clone(),
            (_, Some(value)) => format!("--archive={}", value.trim_start_matches('=')).into(),
            _ => arg.clone(),
        });
    }
    out.extend(rest.cloned());
    out
}

#[derive(Debug, Args)]
pub struct PreflightArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Only this scope: `infra` or `tenant/NAME`.
    #[arg(long, value_name = "SCOPE")]
    pub scope: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Only this scope: `infra` or `tenant/NAME`.
    #[arg(long, value_name = "SCOPE")]
    pub scope: Option<String>,
    /// Keep watching: print the table again whenever it changes (Ctrl-C stops).
    #[arg(long, short = 'w')]
    pub watch: bool,
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Every tenant in the spec and on the cluster: type, namespace, health, age.
    List(SpecArgs),
    /// Write `tenants/NAME.yaml` beside the cluster spec and install that
    /// tenant (asks the few questions that matter when run on a terminal
    /// without --type).
    Add(TenantAddArgs),
    /// Delete a tenant from the cluster (reverse order), then its tenant file.
    Remove(TenantRemoveArgs),
}

#[derive(Debug, Args)]
pub struct TenantAddArgs {
    /// The tenant's name (a DNS label of at most 40 characters).
    pub name: String,
    /// What the tenant runs.
    #[arg(long = "type", value_enum, value_name = "TYPE")]
    pub kind: Option<TenantKind>,
    /// Its namespace (default: cnvrg-NAME for cnvrg, NAME for workspace).
    #[arg(long)]
    pub namespace: Option<String>,
    /// A tenant setting, as in the tenant file's `spec`:
    /// `workspace.agentPools[0].replicas=3`, `cnvrg.webapp.replicas=2`.
    /// Repeatable; values are YAML scalars.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    #[command(flatten)]
    pub exec: ExecArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TenantKind {
    /// A cnvrg control plane.
    Cnvrg,
    /// A Prefect workspace (Orion server and agent pools).
    Workspace,
}

#[derive(Debug, Args)]
pub struct TenantRemoveArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// The tenant's name.
    pub name: String,
    /// Also delete its volumes (PVCs) and so their data, and its namespace.
    #[arg(long)]
    pub delete_data: bool,
}

#[derive(Debug, Args)]
pub struct RbacArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Only what one tenant's commands need: `tenant/NAME`.
    #[arg(long, value_name = "SCOPE")]
    pub scope: Option<String>,
}

#[derive(Debug, Args)]
pub struct UninstallArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Also delete volumes (PVCs) and so their data, and the namespaces holding them.
    #[arg(long)]
    pub delete_data: bool,
    /// Also delete the CRDs cnvrgctl installed (and every custom resource of them).
    #[arg(long)]
    pub delete_crds: bool,
}

#[derive(Debug, Subcommand)]
pub enum InstallCommand {
    /// The infra scope only: namespace, monitoring, logging, Istio, storage.
    Infra(ExecArgs),
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Only this scope: `infra` or `tenant/NAME`.
    #[arg(long, value_name = "SCOPE")]
    pub scope: Option<String>,
    /// Show Secret values instead of `***`.
    #[arg(long)]
    pub show_secrets: bool,
    /// Lines of context around each change (like `diff -U`).
    #[arg(long, short = 'U', value_name = "LINES", default_value_t = 3)]
    pub unified: usize,
    /// Preview taking over what the cnvrg operator or Cartographer made:
    /// what changes, which pods restart, what stays.
    #[arg(long)]
    pub adopt: bool,
    /// With --adopt: preview re-creating StatefulSets whose immutable fields differ.
    #[arg(long)]
    pub recreate_statefulsets: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Only this scope: `infra` or `tenant/NAME`.
    #[arg(long, value_name = "SCOPE")]
    pub scope: Option<String>,
    #[command(flatten)]
    pub exec: ExecArgs,
}

/// How objects are applied and waited for.
#[derive(Debug, Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Writes in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Longest wait for one object to become ready.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub object_timeout: std::time::Duration,
    /// How long a pod may stay in ImagePullBackOff, CrashLoopBackOff,
    /// Unschedulable... before its workload counts as failed.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub failure_grace: std::time::Duration,
    /// Take over fields another field manager owns, and existing objects
    /// cnvrgctl did not create.
    #[arg(long)]
    pub force_conflicts: bool,
    /// Take over the objects the cnvrg operator or Cartographer made under
    /// the names cnvrgctl renders: applied as cnvrgctl, their ownerReferences
    /// to the operators' resources removed (see `cnvrgctl import`).
    #[arg(long)]
    pub adopt: bool,
    /// Delete (orphaning pods and claims) and re-create a StatefulSet whose
    /// immutable fields differ from the spec.
    #[arg(long)]
    pub recreate_statefulsets: bool,
    /// With --adopt: move an operator's claim to our name even where our
    /// image cannot read its data as it is (PostgreSQL 12, MinIO's FS
    /// format, Elasticsearch 7); the data stays in the volume, beside ours.
    #[arg(long)]
    pub move_unreadable_data: bool,
    /// Also delete PersistentVolumeClaims (and their data) that left the spec.
    #[arg(long)]
    pub prune_volumes: bool,
    /// Also delete CRDs (and every custom resource of them) that left the spec.
    #[arg(long)]
    pub prune_crds: bool,
    /// Do not delete anything that left the spec.
    #[arg(long)]
    pub no_prune: bool,
    /// Do not run the preflight checks before the change table.
    #[arg(long)]
    pub skip_preflight: bool,
    /// Write a report of where the run's time went (HTML) to FILE
    /// (`cnvrgctl-timings.html` without a value).
    #[arg(long, value_name = "FILE", num_args = 0..=1, require_equals = true,
          default_missing_value = "cnvrgctl-timings.html")]
    pub timings: Option<PathBuf>,
}

/// Where the spec and templates come from.
#[derive(Debug, Args)]
pub struct SpecArgs {
    /// The cluster spec; tenant files are read from `tenants/` beside it.
    #[arg(short = 'f', long = "file", default_value = "cluster.yaml")]
    pub file: PathBuf,
    /// Directory of templates overlaying the built-in ones (same relative paths).
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The cluster spec; tenant files are read from `tenants/` beside it.
    /// Repeat it with --gitops to write a fleet: one directory per cluster.
    #[arg(short = 'f', long = "file", default_value = "cluster.yaml", action = clap::ArgAction::Append)]
    pub files: Vec<PathBuf>,
    /// Directory of templates overlaying the built-in ones (same relative paths).
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Write one file per scope and component (with kustomizations) under DIR
    /// instead of printing.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Only this scope: `infra` or `tenant/NAME`.
    #[arg(long, value_name = "SCOPE")]
    pub scope: Option<String>,
    /// Print the effective spec (profile and defaults merged) instead of manifests.
    #[arg(long, conflicts_with = "plan")]
    pub show_spec: bool,
    /// Print the order of apply as a tree (stages, then workloads by
    /// dependency) instead of manifests; with `-o dot` or `-o mermaid`, as a
    /// graph to draw.
    #[arg(long)]
    pub plan: bool,
    /// With --out: also write the engine's objects (one per scope, in the
    /// plan's order) and leave out the Secrets cnvrgctl fills on apply
    /// (`cnvrgctl secrets apply` creates them).
    #[arg(
        long,
        value_enum,
        value_name = "ENGINE",
        requires = "out",
        conflicts_with_all = ["scope", "plan", "show_spec"]
    )]
    pub gitops: Option<GitopsEngine>,
    /// The Git repository DIR is committed to (needed for argocd).
    #[arg(long, value_name = "URL", requires = "gitops")]
    pub repo_url: Option<String>,
    /// The branch, tag or commit the engine follows.
    #[arg(long, value_name = "REV", default_value = "main")]
    pub revision: String,
    /// DIR's path inside the repository.
    #[arg(long, value_name = "PATH", default_value = "")]
    pub path_prefix: String,
}

impl RenderArgs {
    /// The spec options for one of the `-f` files.
    pub fn spec_of(&self, file: &std::path::Path) -> SpecArgs {
        SpecArgs {
            file: file.to_path_buf(),
            templates: self.templates.clone(),
        }
    }

    /// The spec options for the (first) `-f` file.
    pub fn spec(&self) -> SpecArgs {
        self.spec_of(&self.files[0])
    }
}

/// The GitOps engine `render --out --gitops` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GitopsEngine {
    Flux,
    #[value(name = "argocd")]
    ArgoCd,
}

#[derive(Debug, Args)]
pub struct PortForwardArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// The component whose Service to forward to.
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(crate::engine::forward::COMPONENT_NAMES))]
    pub component: String,
    /// The tenant the component belongs to.
    #[arg(long, value_name = "NAME")]
    pub tenant: String,
    /// Local port to listen on (default: the Service's port; 0: any free port).
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Local address to listen on.
    #[arg(long, value_name = "IP", default_value = "127.0.0.1")]
    pub address: std::net::IpAddr,
}

impl Global {
    /// What the flags say about how output looks.
    pub fn looks(&self) -> crate::front::ui::Flags {
        crate::front::ui::Flags {
            json: self.output == OutputFormat::Json,
            quiet: self.quiet,
            no_color: self.no_color,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        let args = args.iter().map(std::ffi::OsString::from).collect();
        Cli::try_parse_from(archive_flag(args)).unwrap()
    }

    #[test]
    fn support_bundle_reads_dash_o_as_its_archive() {
        for args in [
            &["cnvrgctl", "support-bundle", "-o", "x.tar.gz"][..],
            &["cnvrgctl", "support-bundle", "-ox.tar.gz"],
            &["cnvrgctl", "support-bundle", "--output=x.tar.gz"],
            &[
                "cnvrgctl",
                "-o",
                "json",
                "support-bundle",
                "--output",
                "x.tar.gz",
            ],
        ] {
            let cli = parse(args);
            let Command::SupportBundle(bundle) = cli.command else {
                panic!("{args:?}");
            };
            assert_eq!(bundle.archive, Some(PathBuf::from("x.tar.gz")), "{args:?}");
        }
        assert_eq!(
            parse(&["cnvrgctl", "status", "-o", "json"]).global.output,
            OutputFormat::Json
        );
        // A format stays a format: no archive named `json`.
        for args in [
            &["cnvrgctl", "support-bundle", "-o", "json"][..],
            &["cnvrgctl", "support-bundle", "-ojson"],
            &["cnvrgctl", "support-bundle", "--output=json"],
        ] {
            let cli = parse(args);
            assert_eq!(cli.global.output, OutputFormat::Json, "{args:?}");
            let Command::SupportBundle(bundle) = cli.command else {
                panic!("{args:?}");
            };
            assert_eq!(bundle.archive, None, "{args:?}");
        }
    }

    #[test]
    fn render_takes_several_files() {
        let Command::Render(args) =
            parse(&["cnvrgctl", "render", "-f", "a.yaml", "-f", "b.yaml"]).command
        else {
            panic!("render");
        };
        assert_eq!(
            args.files,
            [PathBuf::from("a.yaml"), PathBuf::from("b.yaml")]
        );
        let Command::Render(args) = parse(&["cnvrgctl", "render"]).command else {
            panic!("render");
        };
        assert_eq!(args.files, [PathBuf::from("cluster.yaml")]);
    }

    #[test]
    fn sizes_read_binary_units() {
        assert_eq!(parse_size("50Mi"), Ok(50 << 20));
        assert_eq!(parse_size("2000"), Ok(2000));
        assert_eq!(parse_size("4KiB"), Ok(4096));
        assert!(parse_size("5MB").is_err());
    }
}
