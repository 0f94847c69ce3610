//! `astro-upgrade`: the command-line front of the planner and the executor.
//!
//! Argument parsing and exit codes live here; each subcommand is a module under `cmd/`.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::{EnumValueParser, PossibleValue, TypedValueParser};
use clap::error::ErrorKind;
use clap::{Args, Parser, Subcommand, ValueEnum};
use planner::path::{MinorVersion, LTS_0_16_TO_0_23};
use planner::EvidenceKind;

mod apply;
mod approval;
mod cluster;
mod cmd;
mod collect;
mod credentials;
mod evidence;
mod exit;
mod fleet;
mod journal;
mod kubectl_apply;
mod manifest;
mod progress;
mod render;
mod transport;
mod watch;

/// `-V`: the version and the commit the binary was built from (`build.rs`).
const SHORT_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("ASTRO_UPGRADE_COMMIT"),
    ")"
);

/// `--version`: also the one upgrade path this binary knows, from the planner's data, so an
/// operator holding a copy on a bastion can tell whether it is the tool for their hop.
fn long_version() -> &'static str {
    static TEXT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let path = &LTS_0_16_TO_0_23;
        format!(
            "{SHORT_VERSION}\nupgrade path: {} → {}, manifests {}",
            path.from_platform, path.to_platform, path.git_tag
        )
    });
    &TEXT
}

#[derive(Parser, Debug)]
#[command(
    name = "astro-upgrade",
    version = SHORT_VERSION,
    long_version = long_version(),
    about = "Plan, check and carry out the Astronomer Enterprise 0.16 → 0.23 upgrade",
    after_help = exit::help()
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct GlobalArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster).
    /// Repeat it, or separate files with ':', to merge several as kubectl merges
    /// KUBECONFIG=a:b (the first file to set a value or name wins)
    #[arg(long = "kubeconfig", global = true, value_name = "FILE")]
    pub kubeconfigs: Vec<PathBuf>,
    /// The kubeconfig context to use (default: the current context). `check`, `plan` and
    /// `collect` take it repeated: one cluster each, assessed as a fleet
    #[arg(long = "context", global = true, value_name = "NAME")]
    pub contexts: Vec<String>,
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

impl GlobalArgs {
    /// The one context a single-cluster command uses (`None`: the current context). Commands
    /// that change a cluster refuse several before they get here ([`cmd::run`]).
    pub fn single_context(&self) -> Option<&str> {
        self.contexts.first().map(String::as_str)
    }
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
    /// Step 7 of the procedure: pods, Helm release, each component through the API server's
    /// service proxy, and the platform's endpoints; reports the upgrader's standing cluster-admin
    /// binding
    Verify(VerifyArgs),
    /// After the upgrade is accepted: delete the upgrade Job, the upgrader's cluster-admin
    /// ClusterRoleBinding, ClusterRole and ServiceAccount (and with --delete-backup the backup PVC)
    Finish(FinishArgs),
    /// Approve a plan: sign it with your SSH key (an SSHSIG block, as `ssh-keygen -Y sign` writes)
    Approve(ApproveArgs),
    /// Check a plan's approvals against an allowed-signers file (as `ssh-keygen -Y verify` reads it)
    VerifyApproval(VerifyApprovalArgs),
    /// Print a shell completion script to standard output, e.g.
    /// `astro-upgrade completions bash > /etc/bash_completion.d/astro-upgrade`
    Completions(CompletionsArgs),
    /// Print a manual page (roff) to standard output, e.g.
    /// `astro-upgrade man > astro-upgrade.1 && man -l astro-upgrade.1`
    Man(ManArgs),
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// The page of one subcommand (astro-upgrade-SUBCOMMAND(1)); without it, astro-upgrade(1)
    #[arg(value_name = "SUBCOMMAND", conflicts_with = "out_dir")]
    pub subcommand: Option<String>,
    /// Write every page into DIR instead (astro-upgrade.1 and astro-upgrade-SUBCOMMAND.1 for
    /// each subcommand), e.g. `--out-dir /usr/local/share/man/man1`
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
#[command(after_help = exit::help())]
pub struct ApproveArgs {
    /// The plan to approve (JSON from `astro-upgrade plan`)
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,
    /// Your OpenSSH private key (Ed25519, ECDSA P-256 or RSA; an encrypted one asks for its
    /// passphrase on the terminal, or reads $ASTRO_UPGRADE_KEY_PASSPHRASE); or a public key file
    /// or `SHA256:…` fingerprint of an identity held by the ssh-agent at $SSH_AUTH_SOCK
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// A note kept beside the signature (a ticket number); it is not signed
    #[arg(long, value_name = "TEXT")]
    pub comment: Option<String>,
    /// Where the signature is appended (default: PLAN.sig)
    #[arg(long, value_name = "FILE")]
    pub signature: Option<PathBuf>,
}

/// Who must have approved a plan, and where the signatures are.
#[derive(Args, Debug, Clone, Default)]
pub struct ApprovalArgs {
    /// An allowed-signers file (`ssh-keygen(1)` format: principals, options such as
    /// namespaces="astro-upgrade-plan", key); with it, approvals are required
    #[arg(long, value_name = "FILE")]
    pub allowed_signers: Option<PathBuf>,
    /// How many distinct allowed principals must have signed this exact plan (default 1)
    #[arg(long, value_name = "N", requires = "allowed_signers")]
    pub require_approvals: Option<usize>,
    /// A signature file (repeatable; default: PLAN.sig); each may hold several armored blocks
    #[arg(long, value_name = "FILE")]
    pub signature: Vec<PathBuf>,
}

#[derive(Args, Debug)]
#[command(after_help = exit::help())]
pub struct VerifyApprovalArgs {
    /// The approved plan
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,
    #[command(flatten)]
    pub approvals: ApprovalArgs,
}

#[derive(Args, Debug)]
#[command(after_help = exit::help())]
pub struct InspectArgs {
    /// Read every file as this kind instead of recognising it by content
    #[arg(long = "as", value_name = "KIND", value_enum)]
    pub as_kind: Option<Kind>,
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
    /// helm-list, helm-history, storageclass, contexts, connection, egress, transcript, bundle)
    #[arg(long, value_name = "KIND=FILE", value_parser = InputParser)]
    pub input: Vec<Input>,
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
#[command(after_help = exit::help())]
pub struct CheckArgs {
    #[command(flatten)]
    pub evidence: EvidenceArgs,
    #[command(flatten)]
    pub options: UpgraderOptionArgs,
    #[command(flatten)]
    pub fleet: FleetArgs,
}

/// Which clusters a fleet run assesses, and how. A run is a fleet run when more than one
/// `--context` is given, or `--all-contexts` or `--contexts-from`; one `--context` alone is the
/// single-cluster command it always was.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Fleet: several clusters in one run (live evidence only)")]
pub struct FleetArgs {
    /// Assess every context of the kubeconfig (all files merged), in its order
    #[arg(long, conflicts_with = "contexts_from")]
    pub all_contexts: bool,
    /// Assess the contexts listed in FILE: one per line, `#` starts a comment (with --context:
    /// those too)
    #[arg(long, value_name = "FILE")]
    pub contexts_from: Option<PathBuf>,
    /// How many clusters are assessed at the same time [default: 8]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub parallel: Option<u16>,
    /// How long one cluster may take (connecting and reading everything) before it is reported
    /// as timed out; the others go on [default: 2m]
    #[arg(long, value_name = "DUR", value_parser = duration_text)]
    pub cluster_timeout: Option<String>,
}

impl FleetArgs {
    /// Whether the selection flags ask for a fleet run, given how many `--context` flags came.
    pub fn is_fleet(&self, contexts: usize) -> bool {
        contexts > 1 || self.all_contexts || self.contexts_from.is_some()
    }

    /// Whether a flag that only a fleet run uses was given (one cluster has no other to wait for).
    pub fn tunes_a_fleet(&self) -> bool {
        self.parallel.is_some() || self.cluster_timeout.is_some()
    }

    pub fn parallel(&self) -> u16 {
        self.parallel.unwrap_or(8)
    }

    pub fn cluster_timeout(&self) -> &str {
        self.cluster_timeout.as_deref().unwrap_or("2m")
    }
}

/// What the plan sets on the upgrader's Job beyond the manifest; `check` predicts with them too.
#[derive(Args, Debug, Clone, Default)]
pub struct UpgraderOptionArgs {
    /// Seconds the upgrader gives Commander for each Airflow deployment's upgrade in step (5/6)
    /// (its COMMANDER_UPGRADE_TIMEOUT, default 300); `apply` sets it on the upgrade Job
    #[arg(long, value_name = "SECONDS", value_parser = parse_commander_timeout)]
    pub commander_upgrade_timeout: Option<u32>,
    /// Skip the upgrader's steps (5/6) and (6/6) (its DISABLE_UPGRADE_DEPLOYMENT): the Airflow
    /// deployments stay on their 0.16-era chart and are upgraded from the Astronomer UI later
    #[arg(long)]
    pub disable_deployment_upgrades: bool,
}

impl UpgraderOptionArgs {
    pub fn options(&self) -> planner::UpgraderOptions {
        planner::UpgraderOptions {
            commander_upgrade_timeout: self.commander_upgrade_timeout,
            disable_deployment_upgrades: self.disable_deployment_upgrades,
        }
    }
}

fn parse_commander_timeout(text: &str) -> Result<u32, String> {
    planner::UpgraderOptions::parse_timeout(text)
}

#[derive(Args, Debug)]
#[command(after_help = exit::help())]
pub struct PlanArgs {
    #[command(flatten)]
    pub evidence: EvidenceArgs,
    #[command(flatten)]
    pub options: UpgraderOptionArgs,
    /// Write the plan JSON to FILE; standard output then shows the report in --output's format.
    /// Without --out the plan itself goes to standard output (JSON, or Markdown with
    /// `--output markdown`). A NO-GO or INCOMPLETE plan is written too, so a reviewer sees why.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Also write the plan as Markdown (for a change ticket) to FILE
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Fleet runs: write each GO cluster's plan to DIR/CONTEXT.plan.json (and .plan.md), and
    /// the fleet summary to DIR/fleet.json and DIR/fleet.md
    #[arg(long, value_name = "DIR", conflicts_with_all = ["out", "markdown"])]
    pub out_dir: Option<PathBuf>,
    #[command(flatten)]
    pub fleet: FleetArgs,
}

#[derive(Args, Debug)]
#[command(after_help = exit::help())]
pub struct CollectArgs {
    /// Write the bundle to FILE (default: standard output)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Fleet runs: write each cluster's bundle to DIR/CONTEXT.bundle.json (what `check --bundle`
    /// and the page read) and the fleet summary to DIR/fleet.json
    #[arg(long, value_name = "DIR", conflicts_with = "out")]
    pub out_dir: Option<PathBuf>,
    #[command(flatten)]
    pub fleet: FleetArgs,
}

#[derive(Args, Debug)]
#[command(after_help = exit::help())]
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
    #[arg(long, value_name = "DUR", default_value = "45m", value_parser = duration_text)]
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
    #[command(flatten)]
    pub approvals: ApprovalArgs,
}

/// Bounds of the watch shared by `apply` and `rollback`.
#[derive(Args, Debug, Clone)]
pub struct WatchArgs {
    /// How long the backup PVC may stay Pending (or the pod unschedulable) before giving up
    #[arg(long, value_name = "DUR", default_value = "2m", value_parser = duration_text)]
    pub bind_timeout: String,
    /// How long the platform's pods may take to become ready after the Job completed
    #[arg(long, value_name = "DUR", default_value = "5m", value_parser = duration_text)]
    pub settle: String,
}

#[derive(Args, Debug)]
#[command(after_help = exit::help())]
pub struct RollbackArgs {
    /// The rollback manifest (rollback-0.16-to-0.23.yaml at tag v0.23.18)
    #[arg(long, value_name = "FILE")]
    pub rollback_manifest: PathBuf,
    /// Do not ask for confirmation
    #[arg(long)]
    pub yes: bool,
    /// Give up on the rollback Job after this long
    #[arg(long, value_name = "DUR", default_value = "45m", value_parser = duration_text)]
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
#[command(after_help = exit::help())]
pub struct StatusArgs {
    /// Journal file (default: ./astro-upgrade-journal.jsonl)
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
}

#[derive(Args, Debug)]
#[command(after_help = exit::help())]
pub struct VerifyArgs {
    /// The platform's base domain; checks https://app.BASEDOMAIN and https://houston.BASEDOMAIN
    #[arg(long, value_name = "DOMAIN")]
    pub base_domain: Option<String>,
    /// Expected platform minor version (0.23 after an upgrade, 0.16 after a rollback)
    #[arg(long, value_name = "X.Y", value_parser = platform_line,
          default_value_t = LTS_0_16_TO_0_23.to_platform)]
    pub expect: MinorVersion,
    /// How long pods may take to settle
    #[arg(long, value_name = "DUR", default_value = "5m", value_parser = duration_text)]
    pub settle: String,
}

#[derive(Args, Debug)]
#[command(after_help = exit::help())]
pub struct FinishArgs {
    /// Also delete the backup PVC astronomer-upgrades-backup (its database dumps are lost, and
    /// no rollback is possible afterwards)
    #[arg(long)]
    pub delete_backup: bool,
    /// Clean up even when the platform is not verified on 0.23 or an upgrade or rollback Job is
    /// running (a rollback then needs the upgrade manifest re-applied first)
    #[arg(long)]
    pub force: bool,
    /// First copy the backups off the PVC (a short-lived pod running `tar cz | base64`, read
    /// through the logs API) to DIR/astronomer-backups.tar.gz; nothing is deleted if that fails
    #[arg(long, value_name = "DIR")]
    pub save_backup: Option<PathBuf>,
    /// Do not ask for confirmation
    #[arg(long)]
    pub yes: bool,
    /// How long the platform may take to verify before finish refuses
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = duration_text)]
    pub settle: String,
    /// Journal file (default: ./astro-upgrade-journal.jsonl)
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
}

/// An evidence kind as the command line names it (`pods`, `kubectl-version`, …): clap lists
/// the kinds in `--help` and in the error for an unknown one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind(pub EvidenceKind);

const KINDS: [Kind; EvidenceKind::ALL.len()] = {
    let mut kinds = [Kind(EvidenceKind::ALL[0]); EvidenceKind::ALL.len()];
    let mut i = 0;
    while i < kinds.len() {
        kinds[i] = Kind(EvidenceKind::ALL[i]);
        i += 1;
    }
    kinds
};

impl ValueEnum for Kind {
    fn value_variants<'a>() -> &'a [Self] {
        &KINDS
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.0.as_str()))
    }
}

/// `--input KIND=FILE`, read by clap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub kind: EvidenceKind,
    /// `-` is standard input.
    pub file: PathBuf,
}

impl std::fmt::Display for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.kind.as_str(), self.file.display())
    }
}

/// Parses `KIND=FILE`; the kind goes through clap's own parser of [`Kind`], so an unknown one
/// gets clap's usual error with the possible values (and a "similar value" tip), exit 2.
#[derive(Debug, Clone, Copy)]
struct InputParser;

impl TypedValueParser for InputParser {
    type Value = Input;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<Input, clap::Error> {
        let invalid = |why: &str| {
            let message = format!(
                "invalid value '{}' for '--input <KIND=FILE>': {why}\n",
                value.to_string_lossy()
            );
            clap::Error::raw(ErrorKind::ValueValidation, message).with_cmd(cmd)
        };
        let text = value.to_str().ok_or_else(|| invalid("not valid UTF-8"))?;
        let Some((kind, file)) = text.split_once('=') else {
            return Err(invalid(
                "expected KIND=FILE, e.g. --input pods=pods.txt (`--input KIND=-` reads standard input)",
            ));
        };
        if file.is_empty() {
            return Err(invalid("no file after `=`"));
        }
        let Kind(kind) = EnumValueParser::<Kind>::new().parse_ref(cmd, arg, OsStr::new(kind))?;
        Ok(Input {
            kind,
            file: PathBuf::from(file),
        })
    }
}

/// A duration flag (`90s`, `45m`, `1h30m`) checked when the command line is read, so a typo is
/// clap's usage error before anything runs; the value stays text for the apply engine.
fn duration_text(text: &str) -> Result<String, String> {
    match apply::engine::parse_duration(text) {
        Some(_) => Ok(text.to_string()),
        None => Err("not a duration (write e.g. 90s, 45m, 1h30m)".to_string()),
    }
}

/// `--expect X.Y`: a platform release line, read by the planner's version parser.
fn platform_line(text: &str) -> Result<MinorVersion, String> {
    let version = planner::version::parse(text)
        .ok_or_else(|| "not a version (write X.Y, e.g. 0.23)".to_string())?;
    Ok(MinorVersion {
        major: version.major,
        minor: version.minor,
    })
}

/// clap keeps a global flag's values from one level only: in `astro-upgrade --context a check
/// --context b` the `a` is dropped without a word. A fleet must not lose a cluster that way, so
/// when fewer `--context` values reached the command than the command line holds, that is a
/// usage error.
fn dropped_contexts(args: &[std::ffi::OsString], cli: &Cli) -> Option<String> {
    let written = args
        .iter()
        .skip(1)
        .take_while(|arg| *arg != "--")
        .filter(|arg| {
            *arg == "--context" || arg.to_str().is_some_and(|a| a.starts_with("--context="))
        })
        .count();
    (written > cli.global.contexts.len()).then(|| {
        format!(
            "--context is given {written} times but only {} reached the command: write every --context after the subcommand (astro-upgrade check --context a --context b)",
            cli.global.contexts.len()
        )
    })
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() {
                exit::Code::Usage
            } else {
                exit::Code::Ok
            };
            let _ = err.print();
            return code.into();
        }
    };
    if let Some(message) = dropped_contexts(&args, &cli) {
        eprintln!("error: {message}");
        return exit::Code::Usage.into();
    }
    let context = cli.global.single_context().unwrap_or_default().to_owned();
    let namespace = cli.global.namespace.clone();
    match cmd::run(cli) {
        Ok(code) => code.into(),
        Err(err) => {
            eprintln!("error: {}", exit::chain_text(&err));
            if let Some(problem) = credentials::auth_problem_of(&err) {
                eprintln!(
                    "This is an authentication problem ({problem}), not a verdict on the cluster: {}",
                    credentials::how_to_check(&context, &namespace)
                );
            }
            exit::of_error(&err).into()
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("astro-upgrade").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn input_is_a_typed_kind_and_file() {
        let cli = parse(&[
            "check",
            "--input",
            "pods=dir/pods.txt",
            "--input",
            "bundle=-",
        ])
        .unwrap();
        let Command::Check(args) = cli.command else {
            panic!("not check");
        };
        assert_eq!(
            args.evidence.input,
            [
                Input {
                    kind: EvidenceKind::Pods,
                    file: PathBuf::from("dir/pods.txt"),
                },
                Input {
                    kind: EvidenceKind::Bundle,
                    file: PathBuf::from("-"),
                },
            ]
        );
        assert_eq!(args.evidence.input[0].to_string(), "pods=dir/pods.txt");
    }

    #[test]
    fn an_unknown_kind_gets_clap_s_error_with_the_kinds() {
        for args in [
            &["check", "--input", "podz=pods.txt"][..],
            &["inspect", "--as", "podz", "pods.txt"][..],
        ] {
            let err = parse(args).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidValue, "{args:?}");
            assert!(err.use_stderr());
            let text = err.render().to_string();
            assert!(text.contains("'podz'"), "{text}");
            assert!(text.contains("possible values"), "{text}");
            for kind in EvidenceKind::ALL {
                assert!(text.contains(kind.as_str()), "{kind:?} missing: {text}");
            }
            assert!(text.contains("similar value exists: 'pods'"), "{text}");
        }
        let err = parse(&["check", "--input", "pods.txt"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ValueValidation);
        assert!(err.to_string().contains("KIND=FILE"), "{err}");
        let err = parse(&["check", "--input", "pods="]).unwrap_err();
        assert!(err.to_string().contains("no file"), "{err}");
    }

    #[test]
    fn inspect_as_names_a_kind() {
        let cli = parse(&["inspect", "--as", "helm-list", "a.txt"]).unwrap();
        let Command::Inspect(args) = cli.command else {
            panic!("not inspect");
        };
        assert_eq!(args.as_kind, Some(Kind(EvidenceKind::HelmList)));
        assert_eq!(KINDS.len(), EvidenceKind::ALL.len());
    }

    #[test]
    fn durations_are_checked_when_the_command_line_is_read() {
        let cli = parse(&["verify", "--settle", "1h30m"]).unwrap();
        let Command::Verify(args) = cli.command else {
            panic!("not verify");
        };
        assert_eq!(args.settle, "1h30m");
        for (flag, value) in [
            ("--timeout", "5q"),
            ("--bind-timeout", "m"),
            ("--settle", ""),
        ] {
            let err = parse(&["apply", "--plan", "p", "--manifest", "m", flag, value]).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ValueValidation, "{flag} {value}");
            assert!(err.to_string().contains("not a duration"), "{err}");
        }
    }

    #[test]
    fn verify_expects_the_path_s_target_line_by_default() {
        let expect = |args: &[&str]| match parse(args).unwrap().command {
            Command::Verify(args) => args.expect,
            _ => panic!("not verify"),
        };
        assert_eq!(expect(&["verify"]), LTS_0_16_TO_0_23.to_platform);
        assert_eq!(
            expect(&["verify", "--expect", "v0.16.15"]),
            LTS_0_16_TO_0_23.from_platform
        );
        let err = parse(&["verify", "--expect", "zero"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ValueValidation);
    }

    #[test]
    fn a_fleet_is_several_contexts_or_a_fleet_flag() {
        let fleet_of = |args: &[&str]| {
            let cli = parse(args).unwrap();
            let contexts = cli.global.contexts.len();
            match cli.command {
                Command::Check(args) => args.fleet.is_fleet(contexts),
                Command::Plan(args) => args.fleet.is_fleet(contexts),
                Command::Collect(args) => args.fleet.is_fleet(contexts),
                _ => panic!("not a fleet command"),
            }
        };
        assert!(!fleet_of(&["check"]));
        assert!(!fleet_of(&["check", "--context", "prod"]));
        assert!(fleet_of(&["check", "--context", "a", "--context", "b"]));
        assert!(fleet_of(&["plan", "--context", "a", "--context", "b"]));
        assert!(fleet_of(&["collect", "--all-contexts"]));
        assert!(fleet_of(&["plan", "--contexts-from", "wave.txt"]));
        let cli = parse(&[
            "check",
            "--kubeconfig",
            "a.yaml:b.yaml",
            "--kubeconfig",
            "c",
        ])
        .unwrap();
        assert_eq!(
            cli.global.kubeconfigs.len(),
            2,
            "split when read, as KUBECONFIG is"
        );
        let Command::Check(args) = parse(&["check", "--all-contexts"]).unwrap().command else {
            panic!("not check");
        };
        assert_eq!(
            (args.fleet.parallel(), args.fleet.cluster_timeout()),
            (8, "2m")
        );
        assert!(!args.fleet.tunes_a_fleet());
        let Command::Collect(args) = parse(&["collect", "--parallel", "3"]).unwrap().command else {
            panic!("not collect");
        };
        assert!(args.fleet.tunes_a_fleet());
        for bad in [
            &["check", "--parallel", "0"][..],
            &["check", "--cluster-timeout", "soon"][..],
            &["check", "--all-contexts", "--contexts-from", "f"][..],
            &["plan", "--out", "p.json", "--out-dir", "plans"][..],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn help_lists_the_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains(&exit::help()), "{help}");
    }
}
