//! `astro-upgrade`: the command-line front of the planner and the executor.
//!
//! Argument parsing and exit codes live here; each subcommand is a module under `cmd/`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod apply;
mod cluster;
mod cmd;
mod collect;
mod evidence;
mod exit;
mod journal;
mod kubectl_apply;
mod manifest;
mod progress;
mod render;
mod watch;

const EXIT_CODES_HELP: &str = "\
Exit codes (the same for every subcommand):
  0  GO, or success
  1  runtime error (cluster unreachable, I/O failure…)
  2  usage or input error (bad flag, unreadable file)
  3  NO-GO, or refused (plan tampered, not GO, drift, missing rights)
  4  INCOMPLETE (evidence or acknowledgements missing)
  5  upgrade failed and the rollback succeeded
  6  needs a human: the upgrade or rollback failed and was not recovered
  7  the upgrade failed before it changed the platform (nothing rolled back; fix and re-run)";

#[derive(Parser, Debug)]
#[command(
    name = "astro-upgrade",
    version,
    about = "Plan, check and carry out the Astronomer Enterprise 0.16 → 0.23 upgrade",
    after_help = EXIT_CODES_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct GlobalArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster)
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: the current context)
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// The Astronomer platform namespace
    #[arg(
        short = 'n',
        long,
        global = true,
        default_value = "astronomer",
        value_name = "NS"
    )]
    pub namespace: String,
    /// Output format
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Human,
    Json,
    Markdown,
    Junit,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the facts read from pasted files as one JSON document
    Inspect(InspectArgs),
    /// Evaluate every check and print the verdict (from pasted evidence, a bundle, or the live cluster)
    Check(CheckArgs),
    /// Write the approvable plan (JSON, and Markdown for a change ticket)
    Plan(PlanArgs),
    /// Read the evidence live from the cluster into a bundle file
    Collect(CollectArgs),
    /// Carry out an approved GO plan: re-check, apply, watch, verify, roll back on failure
    Apply(ApplyArgs),
    /// Apply the rollback manifest, watch it and verify the platform is back on 0.16
    Rollback(RollbackArgs),
    /// Show where an upgrade stands, from the journal and the cluster
    Status(StatusArgs),
    /// Step 7 of the procedure: pods, Helm release, and the platform's endpoints
    Verify(VerifyArgs),
}

#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES_HELP)]
pub struct InspectArgs {
    /// Read every file as this kind instead of recognising it by content
    #[arg(long = "as", value_name = "KIND")]
    pub as_kind: Option<String>,
    /// Files to read; `-` reads standard input
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Args, Debug, Clone, Default)]
#[command(
    next_help_heading = "Evidence (without --paste, --input or --bundle: the live cluster) and acknowledgements"
)]
pub struct EvidenceArgs {
    /// Read every file in DIR, sorted by name (kind from its name, e.g. pods.txt, or from its
    /// content; dot-files, editor backups `*~`, expected.json and README files are skipped)
    #[arg(long, value_name = "DIR")]
    pub paste: Vec<PathBuf>,
    /// Read FILE (`-`: standard input) as evidence of KIND (kubectl-version, pods, can-i, images,
    /// helm-list, helm-history, storageclass, contexts, connection, transcript, bundle)
    #[arg(long, value_name = "KIND=FILE")]
    pub input: Vec<String>,
    /// Read a bundle written by `astro-upgrade collect`
    #[arg(long, value_name = "FILE")]
    pub bundle: Vec<PathBuf>,
    /// An acknowledgement only a person can give: database-backup=REF, system-admin,
    /// known-crashing=POD[,POD…], mirrors=REGISTRY, helm-repo=URL (repeatable)
    #[arg(long, value_name = "ACK")]
    pub ack: Vec<String>,
    /// The site has no internet egress: the upgrade's images and charts must come from mirrors
    #[arg(long)]
    pub air_gapped: bool,
    /// The upgrade or rollback manifest you intend to apply, to validate it (repeatable)
    #[arg(long, value_name = "FILE")]
    pub manifest: Vec<PathBuf>,
}

#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES_HELP)]
pub struct CheckArgs {
    #[command(flatten)]
    pub evidence: EvidenceArgs,
}

#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES_HELP)]
pub struct PlanArgs {
    #[command(flatten)]
    pub evidence: EvidenceArgs,
    /// Write the plan JSON to FILE; standard output then shows the report in --output's format.
    /// Without --out the plan itself goes to standard output (JSON, or Markdown with
    /// `--output markdown`). A NO-GO or INCOMPLETE plan is written too, so a reviewer sees why.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Also write the plan as Markdown (for a change ticket) to FILE
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
}

#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES_HELP)]
pub struct CollectArgs {
    /// Write the bundle to FILE (default: standard output)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES_HELP)]
pub struct ApplyArgs {
    /// The approved plan (JSON from `astro-upgrade plan`)
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,
    /// The upgrade manifest (upgrade-0.16-to-0.23.yaml at tag v0.23.18)
    #[arg(long, value_name = "FILE")]
    pub manifest: PathBuf,
    /// The rollback manifest (rollback-0.16-to-0.23.yaml), needed by --auto-rollback
    #[arg(long, value_name = "FILE")]
    pub rollback_manifest: Option<PathBuf>,
    /// Do not ask for confirmation
    #[arg(long)]
    pub yes: bool,
    /// Roll back automatically when the upgrade fails after the point of no return and this
    /// run's database backup finished (needs a plan acknowledging rollback-data-loss)
    #[arg(long)]
    pub auto_rollback: bool,
    /// Give up on the upgrade Job after this long (e.g. 45m, 1h30m)
    #[arg(long, value_name = "DUR", default_value = "45m")]
    pub timeout: String,
    /// Send every change with dryRun=All: nothing is persisted
    #[arg(long)]
    pub dry_run: bool,
    /// Delete and re-create a finished upgrade Job instead of reporting it
    #[arg(long)]
    pub rerun: bool,
    /// Journal file (default: ./astro-upgrade-journal.jsonl)
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    #[command(flatten)]
    pub watch: WatchArgs,
}

/// Bounds of the watch shared by `apply` and `rollback`.
#[derive(Args, Debug, Clone)]
pub struct WatchArgs {
    /// How long the backup PVC may stay Pending (or the pod unschedulable) before giving up
    #[arg(long, value_name = "DUR", default_value = "2m")]
    pub bind_timeout: String,
    /// How long the platform's pods may take to become ready after the Job completed
    #[arg(long, value_name = "DUR", default_value = "5m")]
    pub settle: String,
}

#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES_HELP)]
pub struct RollbackArgs {
    /// The rollback manifest (rollback-0.16-to-0.23.yaml at tag v0.23.18)
    #[arg(long, value_name = "FILE")]
    pub rollback_manifest: PathBuf,
    /// Do not ask for confirmation
    #[arg(long)]
    pub yes: bool,
    /// Give up on the rollback Job after this long
    #[arg(long, value_name = "DUR", default_value = "45m")]
    pub timeout: String,
    /// Journal file (default: ./astro-upgrade-journal.jsonl)
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Delete and re-create a finished rollback Job instead of reporting it
    #[arg(long)]
    pub rerun: bool,
    /// Roll back even when the upgrader's log or the journal shows the upgrade never passed the
    /// point of no return (the rollback still needs the backup PVC)
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub watch: WatchArgs,
}

#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES_HELP)]
pub struct StatusArgs {
    /// Journal file (default: ./astro-upgrade-journal.jsonl)
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
}

#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES_HELP)]
pub struct VerifyArgs {
    /// The platform's base domain; checks https://app.BASEDOMAIN and https://houston.BASEDOMAIN
    #[arg(long, value_name = "DOMAIN")]
    pub base_domain: Option<String>,
    /// Expected platform minor version (0.23 after an upgrade, 0.16 after a rollback)
    #[arg(long, default_value = "0.23", value_name = "X.Y")]
    pub expect: String,
    /// How long pods may take to settle
    #[arg(long, value_name = "DUR", default_value = "5m")]
    pub settle: String,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    match cmd::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(exit::code_for_error(&err))
        }
    }
}
