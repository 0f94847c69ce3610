//! `apply`, `rollback`, `status` and `verify`: the state machine ([`engine`]) decides, this module
//! does the kube I/O, the journal and the output.

mod endpoints;
pub mod engine;
mod failure;
mod finish;
mod rollback;
mod run;
mod services;
mod upgrade;
mod verify;

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use planner::path::LTS_0_16_TO_0_23;
use planner::{Plan, Verdict};

use crate::exit::Exit;
use crate::manifest::{self, Manifest};
use crate::GlobalArgs;

pub use finish::run_finish;
pub use rollback::run_rollback;
pub use upgrade::run_apply;
pub use verify::{run_status, run_verify};

fn duration_arg(flag: &str, text: &str) -> anyhow::Result<Duration> {
    engine::parse_duration(text).ok_or_else(|| {
        Exit::usage(format!(
            "{flag} {text:?} is not a duration (write e.g. 90s, 45m, 1h30m)"
        ))
    })
}

/// Reads the plan and refuses unless its digest checks and its verdict is GO.
fn read_approved_plan(path: &Path) -> anyhow::Result<Plan> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| Exit::usage(format!("cannot read the plan {}: {err}", path.display())))?;
    let plan: Plan = serde_json::from_str(&text).map_err(|err| {
        Exit::refused(format!(
            "{} is not a plan written by `astro-upgrade plan` ({err}); refusing to apply",
            path.display()
        ))
    })?;
    if !plan.verify_digest() {
        return Err(Exit::refused(format!(
            "the plan's digest does not match its content: {} was changed after it was written; refusing to apply. Write a new plan with `astro-upgrade plan`",
            path.display()
        )));
    }
    if plan.verdict != Verdict::Go {
        let failing: Vec<&str> = plan
            .findings
            .iter()
            .filter(|f| f.status != planner::Status::Pass && f.status != planner::Status::Warn)
            .map(|f| f.check.as_str())
            .collect();
        return Err(Exit::refused(format!(
            "the plan's verdict is {}, not GO ({}); refusing to apply",
            plan.verdict.as_str(),
            if failing.is_empty() {
                "see the plan".to_string()
            } else {
                format!("checks: {}", failing.join(", "))
            }
        )));
    }
    Ok(plan)
}

fn read_manifest(path: &Path, spec: &planner::path::ManifestSpec) -> anyhow::Result<Manifest> {
    let text = std::fs::read_to_string(path).map_err(|err| {
        Exit::usage(format!(
            "cannot read the manifest {}: {err}",
            path.display()
        ))
    })?;
    manifest::read(&text, spec)
        .map_err(|err| Exit::refused(format!("{}: {err}; refusing to apply", path.display())))
}

/// Asks for a yes on the terminal; without a terminal only `--yes` confirms.
fn confirm(question: &str, yes: bool) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Exit::refused(
            "standard input is not a terminal, so nobody can confirm: pass --yes to confirm non-interactively",
        ));
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("cannot read the answer")?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
        Ok(())
    } else {
        Err(Exit::refused("not confirmed; nothing was changed"))
    }
}

fn rollback_command(rollback_manifest: Option<&Path>, global: &GlobalArgs) -> String {
    let manifest = rollback_manifest
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| LTS_0_16_TO_0_23.rollback_manifest.file_name.to_string());
    let mut command = format!("astro-upgrade rollback --rollback-manifest {manifest}");
    if global.namespace != LTS_0_16_TO_0_23.default_platform_namespace {
        command.push_str(&format!(" -n {}", global.namespace));
    }
    if let Some(context) = global.single_context() {
        command.push_str(&format!(" --context {context}"));
    }
    command
}
