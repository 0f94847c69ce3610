//! Rules: one small pure function per check id, turning facts and acknowledgements into findings.
//!
//! The ids, their order and whether each is required or advisory come from [`UpgradePath::checks`];
//! this module only maps an id to the function that evaluates it.

mod airflow;
mod cluster;
mod egress;
mod helm;
mod images;
mod manifests;
mod permissions;
mod pods;
mod site;

use crate::acks::Acknowledgements;
use crate::facts::{At, Facts, HelmRelease, HelmRevision};
use crate::input::Source;
use crate::options::UpgraderOptions;
use crate::path::{CheckKind, UpgradePath, LTS_0_16_TO_0_23};
use crate::report::{Finding, Item, Report, Status, Verdict, REPORT_SCHEMA_VERSION};

pub use egress::{egress_test_command, required_egress};
pub use manifests::{download_commands, rollback_caveats};
pub use permissions::can_i_command;
pub use pods::matches_known_crashing;

/// Everything a rule may look at.
pub struct RuleInput<'a> {
    pub path: &'a UpgradePath,
    pub facts: &'a Facts,
    pub acks: &'a Acknowledgements,
    /// What the plan sets on the upgrader (its Commander timeout, deployment upgrades skipped).
    pub options: &'a UpgraderOptions,
    /// Upgrade or rollback manifests the operator intends to apply.
    pub manifests: &'a [Source],
}

type Rule = fn(&RuleInput) -> Finding;

const RULES: &[(&str, Rule)] = &[
    ("kubernetes-version", cluster::kubernetes_version),
    ("kubectl-skew", cluster::kubectl_skew),
    ("platform-version", helm::platform_version),
    ("helm-release-state", helm::helm_release_state),
    ("airflow-releases", airflow::airflow_releases),
    ("airflow-images", images::airflow_images),
    ("permissions", permissions::permissions),
    ("system-admin", site::system_admin),
    ("database-backup", site::database_backup),
    ("pod-health", pods::pod_health),
    ("context-namespace", site::context_namespace),
    ("default-storageclass", site::default_storageclass),
    ("database-connection", site::database_connection),
    ("egress-or-mirror", egress::egress_or_mirror),
    ("manifest-source", manifests::manifest_source),
    ("rollback-readiness", manifests::rollback_readiness),
];

/// Evaluates every check of the 0.16 → 0.23 path, in the path's order.
pub fn evaluate(facts: &Facts, acks: &Acknowledgements, manifests: &[Source]) -> Report {
    evaluate_path(&LTS_0_16_TO_0_23, facts, acks, manifests)
}

/// Evaluates every check of `path`: exactly one finding per check id, in the path's order.
pub fn evaluate_path(
    path: &UpgradePath,
    facts: &Facts,
    acks: &Acknowledgements,
    manifests: &[Source],
) -> Report {
    evaluate_with_options(path, facts, acks, &UpgraderOptions::default(), manifests)
}

/// [`evaluate_path`] for a plan that sets `options` on the upgrader.
pub fn evaluate_with_options(
    path: &UpgradePath,
    facts: &Facts,
    acks: &Acknowledgements,
    options: &UpgraderOptions,
    manifests: &[Source],
) -> Report {
    let input = RuleInput {
        path,
        facts,
        acks,
        options,
        manifests,
    };
    let findings: Vec<Finding> = path
        .checks
        .iter()
        .map(|spec| match RULES.iter().find(|(id, _)| *id == spec.id) {
            Some((_, rule)) => rule(&input),
            None => Finding {
                check: spec.id.to_string(),
                status: Status::Unknown,
                message: "this version of the planner has no rule for this check".to_string(),
                remedy: Some("use the astro-upgrade release made for this upgrade path".into()),
                evidence: Vec::new(),
                items: Vec::new(),
            },
        })
        .collect();
    Report {
        schema_version: REPORT_SCHEMA_VERSION,
        verdict: verdict(&findings),
        findings,
        diagnostics: facts.diagnostics.clone(),
    }
}

/// GO when nothing fails and nothing is unknown; NO-GO when anything fails; INCOMPLETE otherwise.
pub fn verdict(findings: &[Finding]) -> Verdict {
    if findings.iter().any(|f| f.status == Status::Fail) {
        Verdict::NoGo
    } else if findings.iter().any(|f| f.status == Status::Unknown) {
        Verdict::Incomplete
    } else {
        Verdict::Go
    }
}

impl RuleInput<'_> {
    /// The platform release, as the upgrader picks it: see [`platform_release`].
    pub fn platform_release(&self) -> Option<&HelmRelease> {
        platform_release(self.path, self.facts)
    }

    /// The platform namespace: the platform release's, else the path's default (`astronomer`).
    pub fn platform_namespace(&self) -> String {
        platform_namespace(self.path, self.facts)
    }

    /// The `helm history` rows of the platform release, in revision order.
    pub fn platform_history(&self) -> Vec<&HelmRevision> {
        let release = self.platform_release().map(|r| r.name.as_str());
        let mut rows: Vec<&HelmRevision> = self
            .facts
            .helm_history
            .iter()
            .filter(|row| match (&row.release, release) {
                (Some(named), Some(platform)) => named == platform,
                _ => row.chart == self.path.platform_chart,
            })
            .collect();
        crate::sort::sort_by(&mut rows, |a, b| a.revision.cmp(&b.revision));
        rows
    }

    /// The finding for a check whose evidence is missing: `unknown` for a required check,
    /// a "not evaluated" `warn` for an advisory one — never a silent pass.
    fn missing(&self, id: &str, what: &str, remedy: String) -> Finding {
        let advisory = self
            .path
            .check(id)
            .is_some_and(|c| c.kind == CheckKind::Advisory);
        let (status, message) = if advisory {
            (Status::Warn, format!("not evaluated: {what}"))
        } else {
            (Status::Unknown, what.to_string())
        };
        finding(id, status, message, Some(remedy), Vec::new())
    }
}

/// The platform release: the one the upgrader takes (the first release by name that its
/// `helm list` shows, deployed or failed, whose chart matches `astronomer-.*`:
/// [`crate::playbook::upgrader_platform_release`]). When its `helm list` would show none (the
/// platform is `pending-*`), the release whose chart is the platform's, a `deployed` one first:
/// the rules then say what stops the upgrader.
pub fn platform_release<'f>(path: &UpgradePath, facts: &'f Facts) -> Option<&'f HelmRelease> {
    if let Some(release) = crate::playbook::upgrader_platform_release(facts) {
        return Some(release);
    }
    let mut platform = facts
        .helm_releases
        .iter()
        .filter(|r| r.chart == path.platform_chart);
    let first = platform.clone().next();
    platform
        .find(|r| r.status.as_deref() == Some("deployed"))
        .or(first)
}

pub fn platform_namespace(path: &UpgradePath, facts: &Facts) -> String {
    platform_release(path, facts)
        .and_then(|r| r.namespace.clone())
        .filter(|ns| !ns.is_empty())
        .unwrap_or_else(|| path.default_platform_namespace.to_string())
}

fn finding(
    id: &str,
    status: Status,
    message: impl Into<String>,
    remedy: Option<String>,
    evidence: Vec<At>,
) -> Finding {
    Finding {
        check: id.to_string(),
        status,
        message: message.into(),
        remedy,
        evidence,
        items: Vec::new(),
    }
}

fn item(subject: impl Into<String>, status: Status, message: impl Into<String>, at: &At) -> Item {
    Item {
        subject: subject.into(),
        status,
        message: message.into(),
        evidence: vec![at.clone()],
    }
}

/// The worst status of the items (the finding's status), `Pass` when there are none.
fn worst(items: &[Item]) -> Status {
    items.iter().map(|i| i.status).max().unwrap_or(Status::Pass)
}

/// Evidence pointers of the items, without repeats, in order.
fn item_evidence(items: &[Item]) -> Vec<At> {
    let mut evidence: Vec<At> = Vec::new();
    for at in items.iter().flat_map(|i| i.evidence.iter()) {
        if !evidence.contains(at) {
            evidence.push(at.clone());
        }
    }
    evidence
}
