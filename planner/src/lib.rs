//! The planner: pure readers, rules and plan for the Astronomer Enterprise 0.16 → 0.23 upgrade.
//!
//! Data flows one way: [`input`] readers turn pasted text into [`facts`], [`rules`] turn facts
//! into a [`report`] with a verdict, and [`plan`] turns a report into an approvable plan.
//! Nothing here does I/O or reads a clock: time and evidence arrive as parameters, so the same
//! evidence gives the same verdict in the browser and in the CLI.

pub mod acks;
pub mod facts;
pub mod input;
pub mod report;

pub use acks::Acknowledgements;
pub use facts::Facts;
pub use input::{read_sources, EvidenceKind, Source};
pub use report::{Finding, Report, Status, Verdict};

/// Reads the evidence and evaluates every check: the one entry point the CLI and the page share.
///
/// `manifests` are upgrade or rollback manifests the operator intends to apply (validated by
/// the `manifest-source` check); empty when none were given.
pub fn check(sources: &[Source], acks: &Acknowledgements, manifests: &[Source]) -> (Facts, Report) {
    let facts = read_sources(sources);
    let _ = (acks, manifests);
    let report = Report {
        schema_version: report::REPORT_SCHEMA_VERSION,
        verdict: Verdict::Incomplete,
        findings: Vec::new(),
        diagnostics: facts.diagnostics.clone(),
    };
    (facts, report)
}

pub mod plan;
pub use plan::Plan;

/// Reads the evidence, evaluates it and writes the plan. `created_at` is supplied by the caller
/// (RFC 3339), because the planner has no clock.
pub fn make_plan(
    sources: &[Source],
    acks: &Acknowledgements,
    manifests: &[Source],
    created_at: &str,
) -> Plan {
    let (_facts, report) = check(sources, acks, manifests);
    Plan {
        schema_version: plan::PLAN_SCHEMA_VERSION,
        upgrade_path: "astronomer-0.16-to-0.23".to_string(),
        created_at: created_at.to_string(),
        verdict: report.verdict,
        findings: report.findings,
        acknowledgements: acks.clone(),
        plan_digest: String::new(),
    }
}
