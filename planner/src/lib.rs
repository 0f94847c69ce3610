//! The planner: pure readers, rules and plan for the Astronomer Enterprise 0.16 → 0.23 upgrade.
//!
//! Data flows one way: [`input`] readers turn pasted text into [`facts`], [`rules`] turn facts
//! into a [`report`] with a verdict, and [`plan`] turns a report into an approvable plan.
//! Nothing here does I/O or reads a clock: time and evidence arrive as parameters, so the same
//! evidence gives the same verdict in the browser and in the CLI.

pub mod acks;
pub mod facts;
pub mod fleet;
pub mod input;
pub mod junit;
pub mod manifest;
pub mod options;
pub mod path;
pub mod playbook;
pub mod render;
pub mod report;
pub mod rules;
mod scan;
pub mod secrets;
mod sort;
pub mod upgrader;
pub mod version;

pub use acks::Acknowledgements;
pub use facts::Facts;
pub use input::{read_sources, EvidenceKind, Source};
pub use options::UpgraderOptions;
pub use report::{Finding, Report, Status, Verdict};

/// Reads the evidence and evaluates every check: the one entry point the CLI and the page share.
///
/// `manifests` are upgrade or rollback manifests the operator intends to apply (validated by
/// the `manifest-source` check); empty when none were given.
pub fn check(sources: &[Source], acks: &Acknowledgements, manifests: &[Source]) -> (Facts, Report) {
    check_with_options(sources, acks, &UpgraderOptions::default(), manifests)
}

/// [`check`] for a plan that sets `options` on the upgrader (a longer Commander timeout, or the
/// Airflow deployments' upgrade skipped): the rules predict the upgrader as it will then run.
pub fn check_with_options(
    sources: &[Source],
    acks: &Acknowledgements,
    options: &UpgraderOptions,
    manifests: &[Source],
) -> (Facts, Report) {
    let mut facts = read_sources(sources);
    for diagnostic in &mut facts.diagnostics {
        diagnostic.message = report::redact_secrets(&diagnostic.message);
    }
    let report = rules::evaluate_with_options(
        &path::LTS_0_16_TO_0_23,
        &facts,
        &acks.without_secrets(),
        options,
        manifests,
    );
    (facts, report)
}

pub mod plan;
pub use plan::Plan;

/// Reads the evidence, evaluates it and writes the plan, with the `options` it sets on the
/// upgrader. `created_at` is supplied by the caller (RFC 3339), because the planner has no
/// clock. The CLI's `plan` and the page's export both call this.
pub fn make_plan(
    sources: &[Source],
    acks: &Acknowledgements,
    options: &UpgraderOptions,
    manifests: &[Source],
    created_at: &str,
) -> Plan {
    let (facts, report) = check_with_options(sources, acks, options, manifests);
    Plan::build(
        &path::LTS_0_16_TO_0_23,
        (sources, manifests),
        &facts,
        &report,
        &acks.without_secrets(),
        options,
        created_at,
    )
}
