//! `check`, `plan` and `collect` over a fleet: every selected context collected live
//! ([`crate::fleet`]), each cluster judged by the planner as a single-cluster run judges it, and
//! the planner's fleet matrix printed in `--output`'s format. The exit code is the worst verdict.

use std::path::Path;

use anyhow::{Context as _, Result};
use planner::fleet::{ClusterResult, FleetReport, PlanFile};
use planner::{Acknowledgements, EvidenceKind, Source, UpgraderOptions, Verdict};

use crate::evidence::{self, Evidence};
use crate::exit::{self, Code, Exit};
use crate::fleet::{self as live_fleet, Outcome};
use crate::journal::now_rfc3339;
use crate::render;
use crate::{CheckArgs, CollectArgs, EvidenceArgs, GlobalArgs, OutputFormat, PlanArgs};

pub fn check(global: &GlobalArgs, args: CheckArgs) -> Result<Code> {
    let acks = evidence::acknowledgements(&args.evidence)?;
    let manifests = live_only(&args.evidence)?;
    let options = args.options.options();
    let selection = live_fleet::select(global, &args.fleet)?;
    let outcomes = live_fleet::collect_all(global, &args.fleet, &selection)?;
    let clusters = outcomes
        .into_iter()
        .map(|(context, outcome)| judge(context, outcome, &acks, &options, &manifests).0)
        .collect();
    let fleet = FleetReport::new(clusters);
    render::to_stdout(&in_format(global.output, &fleet)?)?;
    Ok(exit::for_verdict(fleet.verdict))
}

pub fn plan(global: &GlobalArgs, args: PlanArgs) -> Result<Code> {
    let Some(dir) = &args.out_dir else {
        return Err(Exit::usage(
            "a fleet plan writes one plan per GO cluster: give --out-dir DIR",
        ));
    };
    let acks = evidence::acknowledgements(&args.evidence)?;
    let manifests = live_only(&args.evidence)?;
    let options = args.options.options();
    let selection = live_fleet::select(global, &args.fleet)?;
    create_dir(dir)?;
    let outcomes = live_fleet::collect_all(global, &args.fleet, &selection)?;
    let stems = planner::fleet::file_stems(&selection.contexts);
    let created_at = now_rfc3339();
    let mut clusters = Vec::new();
    let mut written = 0;
    for ((context, outcome), stem) in outcomes.into_iter().zip(stems) {
        let (mut result, source) = judge(context, outcome, &acks, &options, &manifests);
        let json_name = format!("{stem}.plan.json");
        let markdown_name = format!("{stem}.plan.md");
        match source {
            Some(source) if result.verdict == Verdict::Go => {
                let plan = planner::make_plan(&[source], &acks, &options, &manifests, &created_at);
                // The plan re-reads the same bundle with the same rules: its verdict is the row's.
                write_file(&dir.join(&json_name), &render::json(&plan)?)?;
                write_file(&dir.join(&markdown_name), &plan.to_markdown())?;
                result.plan = Some(PlanFile {
                    file: json_name,
                    digest: plan.plan_digest.clone(),
                });
                written += 1;
            }
            _ => {
                // A plan left from an earlier run must not pass for this cluster's.
                for stale in [json_name, markdown_name] {
                    let path = dir.join(stale);
                    if path.exists() {
                        std::fs::remove_file(&path).with_context(|| {
                            format!("cannot remove the earlier plan {}", path.display())
                        })?;
                        eprintln!(
                            "removed {}: written by an earlier run, and {} is {} now",
                            path.display(),
                            result.context,
                            result.verdict.as_str()
                        );
                    }
                }
            }
        }
        clusters.push(result);
    }
    let fleet = FleetReport::new(clusters);
    write_summary(dir, &fleet)?;
    eprintln!(
        "{written} plan(s) written to {} (one per GO cluster, each what `apply --context CONTEXT --plan` takes), with the fleet summary fleet.json and fleet.md.",
        dir.display()
    );
    render::to_stdout(&in_format(global.output, &fleet)?)?;
    Ok(exit::for_verdict(fleet.verdict))
}

pub fn collect(global: &GlobalArgs, args: CollectArgs) -> Result<Code> {
    let Some(dir) = &args.out_dir else {
        return Err(Exit::usage(
            "a fleet collect writes one bundle per cluster: give --out-dir DIR",
        ));
    };
    let selection = live_fleet::select(global, &args.fleet)?;
    create_dir(dir)?;
    let outcomes = live_fleet::collect_all(global, &args.fleet, &selection)?;
    let stems = planner::fleet::file_stems(&selection.contexts);
    let mut clusters = Vec::new();
    for ((context, outcome), stem) in outcomes.into_iter().zip(stems) {
        if let Outcome::Collected { bundle, .. } = &outcome {
            write_file(
                &dir.join(format!("{stem}.bundle.json")),
                &format!("{bundle}\n"),
            )?;
        }
        // No acknowledgements here: the rows say what `check` would, before a person vouches.
        let acks = Acknowledgements::default();
        clusters.push(judge(context, outcome, &acks, &UpgraderOptions::default(), &[]).0);
    }
    let fleet = FleetReport::new(clusters);
    write_summary(dir, &fleet)?;
    let missing = fleet
        .clusters
        .iter()
        .filter(|c| c.access != planner::fleet::Access::Assessed)
        .count();
    eprintln!(
        "{} bundle(s) written to {} (CONTEXT.bundle.json), with the fleet summary fleet.json and fleet.md.",
        fleet.clusters.len() - missing,
        dir.display()
    );
    render::to_stdout(&in_format(global.output, &fleet)?)?;
    // collect succeeds when it read every cluster; one it could not read is evidence missing.
    Ok(if missing == 0 {
        Code::Ok
    } else {
        Code::Incomplete
    })
}

/// A fleet run reads every cluster live: pasted evidence belongs to one cluster. Returns the
/// manifests to validate, which apply to every cluster alike.
fn live_only(args: &EvidenceArgs) -> Result<Vec<Source>> {
    let evidence = Evidence::load(args)?;
    if !evidence.sources.is_empty() {
        return Err(Exit::usage(
            "--paste, --input and --bundle are one cluster's evidence: a fleet run (several --context, --all-contexts, --contexts-from) reads each cluster live",
        ));
    }
    Ok(evidence.manifests)
}

/// One cluster's row: its bundle read and checked exactly as `check --bundle` reads and checks
/// it; the bundle comes back for `plan`.
fn judge(
    context: String,
    outcome: Outcome,
    acks: &Acknowledgements,
    options: &UpgraderOptions,
    manifests: &[Source],
) -> (ClusterResult, Option<Source>) {
    match outcome {
        Outcome::Collected { bundle, .. } => {
            let source = Source::new("live", Some(EvidenceKind::Bundle), bundle);
            let (facts, report) = planner::check_with_options(
                std::slice::from_ref(&source),
                acks,
                options,
                manifests,
            );
            (
                ClusterResult::assessed(context, &facts, report),
                Some(source),
            )
        }
        Outcome::NotAssessed { access, detail } => {
            (ClusterResult::not_assessed(context, access, &detail), None)
        }
    }
}

fn in_format(format: OutputFormat, fleet: &FleetReport) -> Result<String> {
    Ok(match format {
        OutputFormat::Human => planner::fleet::human(fleet),
        OutputFormat::Json => render::json(fleet)?,
        OutputFormat::Markdown => planner::fleet::markdown(fleet),
        OutputFormat::Junit => planner::fleet::junit(fleet),
    })
}

fn write_summary(dir: &Path, fleet: &FleetReport) -> Result<()> {
    write_file(&dir.join("fleet.json"), &render::json(fleet)?)?;
    write_file(&dir.join("fleet.md"), &planner::fleet::markdown(fleet))
}

/// A directory the user named that cannot be made is their input to fix: a usage error.
fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|err| Exit::usage(format!("cannot create {}: {err}", dir.display())))
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text)
        .map_err(|err| Exit::usage(format!("cannot write {}: {err}", path.display())))
}
