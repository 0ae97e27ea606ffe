//! Command-line types (clap) and nothing else: parsing happens here, meaning is
//! given in `commands`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "cnvrgctl",
    version,
    about = "Install and keep an MLOps platform (cnvrg control planes, Prefect workspaces) on Kubernetes",
    after_help = "Exit codes: 0 success, 2 usage or spec/template/validation error, 4 output could not be written."
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
    /// Output format.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Do not colour output (also set by NO_COLOR).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// More detail on stderr (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render every manifest the spec implies, without a cluster.
    Render(RenderArgs),
    /// Check the spec and every rendered object, without a cluster.
    Validate(SpecArgs),
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
    #[command(flatten)]
    pub spec: SpecArgs,
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
    /// dependency) instead of manifests.
    #[arg(long)]
    pub plan: bool,
}
