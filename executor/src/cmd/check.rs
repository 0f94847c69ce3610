//! `check` (findings and verdict) and `plan` (the approvable plan), from pasted evidence or,
//! when no evidence flag is given, from the live cluster.

use std::path::Path;

use anyhow::Result;
use planner::render::shell_quote;
use planner::{Acknowledgements, Report, UpgraderOptions};

use crate::evidence::{self, Evidence};
use crate::exit::{self, Code, Exit};
use crate::journal::now_rfc3339;
use crate::render::{self, Invocation, Style};
use crate::{CheckArgs, EvidenceArgs, GlobalArgs, OutputFormat, PlanArgs};

pub fn run_check(global: &GlobalArgs, args: CheckArgs) -> Result<Code> {
    let acks = evidence::acknowledgements(&args.evidence)?;
    let evidence = gather(global, &args.evidence)?;
    let (_facts, report) = planner::check_with_options(
        &evidence.sources,
        &acks,
        &args.options.options(),
        &evidence.manifests,
    );
    let run = invocation(&args.evidence, &acks, &args.options.options(), &evidence);
    render::to_stdout(&report_in(global.output, &report, &run)?)?;
    Ok(exit::for_verdict(report.verdict))
}

pub fn run_plan(global: &GlobalArgs, args: PlanArgs) -> Result<Code> {
    if global.output == OutputFormat::Junit {
        return Err(Exit::usage(
            "plan writes JSON or Markdown; for JUnit use `astro-upgrade check --output junit`",
        ));
    }
    let acks = evidence::acknowledgements(&args.evidence)?;
    let evidence = gather(global, &args.evidence)?;
    let plan = planner::make_plan(
        &evidence.sources,
        &acks,
        &args.options.options(),
        &evidence.manifests,
        &now_rfc3339(),
    );
    let plan_json = render::json(&plan)?;
    if let Some(path) = &args.markdown {
        write_file(path, &plan.to_markdown())?;
    }
    match &args.out {
        Some(path) => {
            write_file(path, &plan_json)?;
            // The plan is in the file; stdout gets the report a person reads to decide.
            let report = Report {
                schema_version: planner::report::REPORT_SCHEMA_VERSION,
                verdict: plan.verdict,
                findings: plan.findings.clone(),
                diagnostics: plan.diagnostics.clone(),
            };
            let run = Invocation {
                plan_written: Some(shell_quote(&path.display().to_string())),
                ..invocation(&args.evidence, &acks, &args.options.options(), &evidence)
            };
            render::to_stdout(&report_in(global.output, &report, &run)?)?;
        }
        None if global.output == OutputFormat::Markdown => render::to_stdout(&plan.to_markdown())?,
        None => render::to_stdout(&plan_json)?,
    }
    let written: Vec<String> = [&args.out, &args.markdown]
        .into_iter()
        .flatten()
        .map(|path| path.display().to_string())
        .collect();
    let place = if written.is_empty() {
        "standard output".to_string()
    } else {
        written.join(" and ")
    };
    let meaning = match plan.verdict {
        planner::Verdict::Go => "approvable once a second person has reviewed it",
        planner::Verdict::NoGo => {
            "NOT approvable: it records the failing checks so a reviewer sees why"
        }
        planner::Verdict::Incomplete => {
            "NOT approvable yet: it records the unknown checks so a reviewer sees what is missing"
        }
    };
    eprintln!(
        "Plan written to {place} (verdict {}, digest {}): {meaning}.",
        plan.verdict.as_str(),
        plan.plan_digest
    );
    Ok(exit::for_verdict(plan.verdict))
}

/// The pasted evidence, or the live cluster's when no evidence flag was given.
fn gather(global: &GlobalArgs, args: &EvidenceArgs) -> Result<Evidence> {
    let mut evidence = Evidence::load(args)?;
    if evidence.sources.is_empty() {
        eprintln!(
            "No --paste, --input or --bundle given: reading the evidence from the live cluster."
        );
        evidence
            .sources
            .push(crate::cmd::live::collect_live_source(global)?);
    }
    Ok(evidence)
}

fn report_in(format: OutputFormat, report: &Report, invocation: &Invocation) -> Result<String> {
    Ok(match format {
        OutputFormat::Human => render::human(report, invocation, Style::for_stdout()),
        OutputFormat::Json => render::json(report)?,
        OutputFormat::Markdown => render::markdown(report),
        OutputFormat::Junit => render::junit(report),
    })
}

/// A path the user named that cannot be written is their input to fix: a usage error.
fn write_file(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text)
        .map_err(|err| Exit::usage(format!("cannot write {}: {err}", path.display())))
}

/// What this run read, and the commands that repeat its flags for the report's "next step".
fn invocation(
    args: &EvidenceArgs,
    acks: &Acknowledgements,
    options: &UpgraderOptions,
    evidence: &Evidence,
) -> Invocation {
    let mut flags: Vec<String> = Vec::new();
    for dir in &args.paste {
        flags.push(format!(
            "--paste {}",
            shell_quote(&dir.display().to_string())
        ));
    }
    for input in &args.input {
        flags.push(format!("--input {}", shell_quote(&input.to_string())));
    }
    for bundle in &args.bundle {
        flags.push(format!(
            "--bundle {}",
            shell_quote(&bundle.display().to_string())
        ));
    }
    for manifest in &args.manifest {
        flags.push(format!(
            "--manifest {}",
            shell_quote(&manifest.display().to_string())
        ));
    }
    for flag in acks.to_cli_args().into_iter().chain(options.to_cli_args()) {
        match flag.split_once(' ') {
            Some((name, value)) => flags.push(format!("{name} {}", shell_quote(value))),
            None => flags.push(flag),
        }
    }
    let command = |subcommand: &str| {
        std::iter::once(format!("astro-upgrade {subcommand}"))
            .chain(flags.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ")
    };
    Invocation {
        evidence: evidence
            .sources
            .iter()
            .chain(&evidence.manifests)
            .map(|source| source.name.clone())
            .collect(),
        check_command: command("check"),
        plan_command: command("plan"),
        air_gapped: acks.air_gapped,
        plan_written: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quote_leaves_plain_words_alone() {
        assert_eq!(
            shell_quote("examples/healthy-0.16"),
            "examples/healthy-0.16"
        );
        assert_eq!(shell_quote("my dir"), "'my dir'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn created_at_is_rfc3339_utc_to_the_second() {
        let now = now_rfc3339();
        assert!(now.ends_with('Z'), "{now}");
        assert!(now.parse::<jiff::Timestamp>().is_ok(), "{now}");
        assert_eq!(now.len(), "2026-11-27T16:10:00Z".len(), "{now}");
    }
}
