//! The fleet: every cluster a platform team upgrades, assessed as one unit.
//!
//! A fleet report is one row per cluster — context, server version, platform version, verdict,
//! the failing and unknown check ids — built from each cluster's [`Report`], and the fleet's
//! verdict is the worst of its clusters'. The CLI builds it from live collections
//! ([`ClusterResult::assessed`], [`ClusterResult::not_assessed`]), the page from several
//! `collect` bundles ([`from_bundles`]); both render it with the functions here, so the matrix
//! reads the same in a terminal, a change ticket, a CI gate and the browser.
//!
//! A cluster that could not be assessed (unreachable, forbidden, timed out) is a finding of that
//! cluster: its report holds one `unknown` finding, [`CLUSTER_ACCESS_CHECK`], so its verdict is
//! INCOMPLETE by the same rule as any other unknown — it never hides the other clusters' rows.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::facts::Facts;
use crate::path::LTS_0_16_TO_0_23 as PATH;
use crate::render::{cell, status_label};
use crate::report::{Finding, Report, Status, Verdict, REPORT_SCHEMA_VERSION};
use crate::{Acknowledgements, Source, UpgraderOptions};

/// The schema of a fleet document: the single-cluster report's (1) plus a `clusters` array,
/// each row carrying its cluster's whole report.
pub const FLEET_SCHEMA_VERSION: u32 = REPORT_SCHEMA_VERSION + 1;

/// The check id of a cluster that could not be assessed: not one of the path's checks, but a
/// finding of that cluster, `unknown` (nothing is known of it, so it cannot be GO).
pub const CLUSTER_ACCESS_CHECK: &str = "cluster-access";

/// The human matrix is at most this many columns wide (a terminal, a CI log, an e-mail).
pub const TABLE_WIDTH: usize = 100;

/// Whether a cluster was assessed, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// Its evidence was read and every check evaluated.
    Assessed,
    /// Its API server could not be reached (refused, DNS, TLS, reset).
    Unreachable,
    /// Its API server refused the credentials or a request the assessment needs (401, 403).
    Forbidden,
    /// It did not answer completely within the per-cluster timeout.
    TimedOut,
    /// Anything else that stopped the assessment (an unreadable kubeconfig entry, a server error).
    Failed,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Assessed => "assessed",
            Access::Unreachable => "unreachable",
            Access::Forbidden => "forbidden",
            Access::TimedOut => "timed-out",
            Access::Failed => "failed",
        }
    }
}

/// Where `plan --out-dir` wrote a cluster's plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanFile {
    /// The file name within the output directory.
    pub file: String,
    /// The plan's digest, which `apply` verifies.
    pub digest: String,
}

/// One row of the fleet matrix, and the report behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterResult {
    /// The kubeconfig context (or, for a bundle without one, the bundle's name).
    pub context: String,
    pub access: Access,
    /// The Kubernetes server version, as `GET /version` or `kubectl version` told it.
    pub server_version: Option<String>,
    /// The platform release's chart version (`0.16.15`), when a platform release was found.
    pub platform_version: Option<String>,
    pub verdict: Verdict,
    /// The ids of the failing checks, in check order.
    pub failing: Vec<String>,
    /// The ids of the unknown checks, in check order.
    pub unknown: Vec<String>,
    /// The plan written for this cluster (`plan --out-dir`, GO clusters only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<PlanFile>,
    /// Every finding of this cluster, as `check --output json` reports one cluster.
    pub report: Report,
}

impl ClusterResult {
    /// A cluster whose evidence was read and checked.
    pub fn assessed(context: impl Into<String>, facts: &Facts, report: Report) -> ClusterResult {
        let platform_version = crate::rules::platform_release(&PATH, facts)
            .and_then(|release| release.chart_version.clone());
        ClusterResult {
            context: context.into(),
            access: Access::Assessed,
            server_version: facts.kubernetes.server_version.clone(),
            platform_version,
            verdict: report.verdict,
            failing: ids_with(&report, Status::Fail),
            unknown: ids_with(&report, Status::Unknown),
            plan: None,
            report,
        }
    }

    /// A cluster that could not be assessed: `detail` says what happened (the client's error),
    /// kept free of credentials. Its report holds the one `unknown` [`CLUSTER_ACCESS_CHECK`].
    pub fn not_assessed(context: impl Into<String>, access: Access, detail: &str) -> ClusterResult {
        let context = context.into();
        let detail = crate::report::redact_secrets(detail);
        let what = match access {
            Access::Assessed | Access::Failed => "the assessment failed",
            Access::Unreachable => "the API server could not be reached",
            Access::Forbidden => "the API server refused the credentials or a request",
            Access::TimedOut => "the cluster did not answer in time",
        };
        let finding = Finding {
            check: CLUSTER_ACCESS_CHECK.to_string(),
            status: Status::Unknown,
            message: format!("{} ({}): {detail}", what, access.as_str()),
            remedy: Some(format!(
                "check the context's server and credentials (`kubectl --context {} version`), then assess it again",
                crate::render::shell_quote(&context)
            )),
            evidence: Vec::new(),
            items: Vec::new(),
        };
        let report = Report {
            schema_version: REPORT_SCHEMA_VERSION,
            verdict: Verdict::Incomplete,
            findings: vec![finding],
            diagnostics: Vec::new(),
        };
        ClusterResult {
            context,
            access,
            server_version: None,
            platform_version: None,
            verdict: report.verdict,
            failing: ids_with(&report, Status::Fail),
            unknown: ids_with(&report, Status::Unknown),
            plan: None,
            report,
        }
    }
}

fn ids_with(report: &Report, status: Status) -> Vec<String> {
    report
        .findings
        .iter()
        .filter(|f| f.status == status)
        .map(|f| f.check.clone())
        .collect()
}

/// Every cluster's row, and the fleet's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetReport {
    /// [`FLEET_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The worst of the clusters' verdicts ([`worst`]).
    pub verdict: Verdict,
    /// In the order the clusters were named.
    pub clusters: Vec<ClusterResult>,
}

impl FleetReport {
    pub fn new(clusters: Vec<ClusterResult>) -> FleetReport {
        FleetReport {
            schema_version: FLEET_SCHEMA_VERSION,
            verdict: worst(clusters.iter().map(|c| c.verdict)),
            clusters,
        }
    }

    /// How many clusters have `verdict`.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.clusters
            .iter()
            .filter(|c| c.verdict == verdict)
            .count()
    }

    /// "3 clusters: 1 GO, 1 NO-GO, 1 INCOMPLETE".
    pub fn summary(&self) -> String {
        let clusters = match self.clusters.len() {
            1 => "1 cluster".to_string(),
            n => format!("{n} clusters"),
        };
        format!(
            "{clusters}: {} GO, {} NO-GO, {} INCOMPLETE",
            self.count(Verdict::Go),
            self.count(Verdict::NoGo),
            self.count(Verdict::Incomplete)
        )
    }
}

/// The fleet's verdict: NO-GO when any cluster is NO-GO, else INCOMPLETE when any is
/// INCOMPLETE, else GO. An empty fleet is INCOMPLETE: nothing was shown, so nothing is ready.
pub fn worst(verdicts: impl IntoIterator<Item = Verdict>) -> Verdict {
    fn rank(verdict: Verdict) -> u8 {
        match verdict {
            Verdict::Go => 0,
            Verdict::Incomplete => 1,
            Verdict::NoGo => 2,
        }
    }
    verdicts
        .into_iter()
        .max_by_key(|v| rank(*v))
        .unwrap_or(Verdict::Incomplete)
}

/// The fleet of several `collect` bundles (the page's drop zone): each bundle is one cluster,
/// checked with the same acknowledgements, options and manifests, named by the context its
/// bundle records (or, without one, by the bundle's name). Rows keep the bundles' order.
pub fn from_bundles(
    bundles: &[Source],
    acks: &Acknowledgements,
    options: &UpgraderOptions,
    manifests: &[Source],
) -> FleetReport {
    let clusters = bundles
        .iter()
        .map(|bundle| {
            let (facts, report) =
                crate::check_with_options(std::slice::from_ref(bundle), acks, options, manifests);
            let context =
                crate::input::bundle::context(&bundle.text).unwrap_or_else(|| bundle.name.clone());
            ClusterResult::assessed(context, &facts, report)
        })
        .collect();
    FleetReport::new(clusters)
}

/// File names (without extension) for one file per context, in the contexts' order: each
/// context with every character outside `A-Za-z0-9._-` replaced by `_` (EKS contexts are ARNs
/// with `:` and `/`), no leading dot, and `-2`, `-3`… added when two names would be the same
/// on a case-insensitive file system.
pub fn file_stems<S: AsRef<str>>(contexts: &[S]) -> Vec<String> {
    let mut taken: Vec<String> = Vec::new();
    let mut stems = Vec::with_capacity(contexts.len());
    for context in contexts {
        let mut stem: String = context
            .as_ref()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if stem.starts_with('.') || stem.is_empty() {
            stem.insert(0, '_');
        }
        let mut candidate = stem.clone();
        let mut n = 1;
        while taken.contains(&candidate.to_ascii_lowercase()) {
            n += 1;
            candidate = format!("{stem}-{n}");
        }
        taken.push(candidate.to_ascii_lowercase());
        stems.push(candidate);
    }
    stems
}

// ---------------------------------------------------------------------------------------------
// Human text: the matrix (at most TABLE_WIDTH columns), then each cluster's open findings.

const CONTEXT_WIDTH: usize = 26;
const SERVER_WIDTH: usize = 18;
const PLATFORM_WIDTH: usize = 8;
const VERDICT_WIDTH: usize = 10;
const GAP: &str = "  ";
const CHECKS_WIDTH: usize =
    TABLE_WIDTH - CONTEXT_WIDTH - SERVER_WIDTH - PLATFORM_WIDTH - VERDICT_WIDTH - 4 * GAP.len();

/// `text` in exactly `width` columns: padded, or cut with `…` keeping its first `head`
/// characters and as much of its end as fits (a context's end names the cluster:
/// `arn:aws:…:cluster/prod-eu`).
fn fit(text: &str, width: usize, head: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= width {
        return format!("{text:<width$}");
    }
    let head = head.min(width - 1);
    let tail = width - 1 - head;
    let mut cut: String = chars[..head].iter().collect();
    cut.push('…');
    cut.extend(&chars[chars.len() - tail..]);
    cut
}

/// Lines of `label: a, b, c` wrapped to `width`, continuation lines under the first id.
fn id_lines(label: &str, ids: &[String], width: usize) -> Vec<String> {
    if ids.is_empty() {
        return Vec::new();
    }
    let prefix = format!("{label}: ");
    let indent = " ".repeat(prefix.chars().count());
    let mut lines = Vec::new();
    let mut line = prefix;
    let mut first_on_line = true;
    for (i, id) in ids.iter().enumerate() {
        let word = if i + 1 < ids.len() {
            format!("{id},")
        } else {
            id.clone()
        };
        let needed = word.chars().count() + usize::from(!first_on_line);
        if !first_on_line && line.chars().count() + needed > width {
            lines.push(std::mem::replace(&mut line, indent.clone()));
            first_on_line = true;
        }
        if !first_on_line {
            line.push(' ');
        }
        line.push_str(&word);
        first_on_line = false;
    }
    lines.push(line);
    lines
}

/// The matrix: a header, one row per cluster (its failing and unknown ids wrapped in the last
/// column), and the fleet's verdict. Every line fits [`TABLE_WIDTH`] columns.
pub fn table(fleet: &FleetReport) -> String {
    let mut out = String::new();
    let header = [
        fit("CONTEXT", CONTEXT_WIDTH, CONTEXT_WIDTH),
        fit("SERVER", SERVER_WIDTH, SERVER_WIDTH),
        fit("PLATFORM", PLATFORM_WIDTH, PLATFORM_WIDTH),
        fit("VERDICT", VERDICT_WIDTH, VERDICT_WIDTH),
        "FAILING / UNKNOWN CHECKS".to_string(),
    ]
    .join(GAP);
    let _ = writeln!(out, "{header}");
    for cluster in &fleet.clusters {
        let server = match (cluster.access, &cluster.server_version) {
            (Access::Assessed, Some(version)) => version.clone(),
            (Access::Assessed, None) => "-".to_string(),
            (access, _) => access.as_str().to_string(),
        };
        let mut checks = id_lines("fail", &cluster.failing, CHECKS_WIDTH);
        checks.extend(id_lines("unknown", &cluster.unknown, CHECKS_WIDTH));
        if checks.is_empty() {
            checks.push("-".to_string());
        }
        let columns = [
            fit(&cluster.context, CONTEXT_WIDTH, 8),
            fit(&server, SERVER_WIDTH, SERVER_WIDTH - 1),
            fit(
                cluster.platform_version.as_deref().unwrap_or("-"),
                PLATFORM_WIDTH,
                PLATFORM_WIDTH - 1,
            ),
            fit(cluster.verdict.as_str(), VERDICT_WIDTH, VERDICT_WIDTH),
        ];
        let blank = " ".repeat(TABLE_WIDTH - CHECKS_WIDTH);
        for (i, checks) in checks.iter().enumerate() {
            let lead = if i == 0 {
                format!("{}{GAP}", columns.join(GAP))
            } else {
                blank.clone()
            };
            let _ = writeln!(out, "{}", format!("{lead}{checks}").trim_end());
        }
    }
    let _ = writeln!(
        out,
        "\n{}. Fleet verdict: {} (the worst of its clusters).",
        fleet.summary(),
        fleet.verdict.as_str()
    );
    out
}

/// Words of `text` after `prefix`, wrapped to [`TABLE_WIDTH`] with continuation lines indented
/// by `hang` columns.
fn wrapped(out: &mut String, prefix: &str, text: &str, hang: usize) {
    let mut line = prefix.to_string();
    let mut empty = true;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let width = line.chars().count();
        if !empty && width + 1 + word.chars().count() > TABLE_WIDTH {
            let _ = writeln!(out, "{}", line.trim_end());
            line = " ".repeat(hang);
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    let _ = writeln!(out, "{}", line.trim_end());
}

/// The human fleet report: the matrix, then per cluster its verdict and every finding that is
/// not a pass (status, check id, message, and for a FAIL or UNKNOWN the first line of its fix).
/// Every finding with all its items is in the JSON.
pub fn human(fleet: &FleetReport) -> String {
    let mut out = table(fleet);
    for cluster in &fleet.clusters {
        let title = format!("── {} ({}) ", cluster.context, cluster.verdict.as_str());
        let rule = TABLE_WIDTH.saturating_sub(title.chars().count()).max(3);
        let _ = writeln!(out, "\n{title}{}", "─".repeat(rule));
        let open: Vec<&Finding> = cluster
            .report
            .findings
            .iter()
            .filter(|f| f.status != Status::Pass)
            .collect();
        if open.is_empty() {
            let _ = writeln!(out, "every check passes");
        }
        let id_width = open.iter().map(|f| f.check.len()).max().unwrap_or(0);
        for finding in open {
            let prefix = format!(
                "{:<7}  {:<id_width$}  ",
                status_label(finding.status),
                finding.check
            );
            wrapped(&mut out, &prefix, &finding.message, 9);
            let blocking = matches!(finding.status, Status::Fail | Status::Unknown);
            if let Some(first) = finding
                .remedy
                .as_deref()
                .and_then(|r| r.lines().next())
                .filter(|_| blocking)
            {
                wrapped(&mut out, "         fix: ", first, 14);
            }
        }
        if let Some(plan) = &cluster.plan {
            let _ = writeln!(out, "plan: {} (digest {})", plan.file, plan.digest);
        }
        if !cluster.report.diagnostics.is_empty() {
            let _ = writeln!(
                out,
                "{} reader note(s): see --output json",
                cluster.report.diagnostics.len()
            );
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Markdown for the change ticket.

fn code_list(ids: &[String]) -> String {
    if ids.is_empty() {
        "–".to_string()
    } else {
        ids.iter()
            .map(|id| format!("`{id}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The fleet as Markdown: the matrix as a table, then one section per cluster with its
/// findings table and what to do, as the single-cluster report has them.
pub fn markdown(fleet: &FleetReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Astronomer Enterprise {} → {} fleet readiness: {}\n\n{}. The fleet's verdict is the worst of its clusters'.\n",
        PATH.from_platform,
        PATH.to_platform,
        fleet.verdict.as_str(),
        fleet.summary()
    );
    out.push_str("| Context | Server | Platform | Verdict | Failing checks | Unknown checks |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for cluster in &fleet.clusters {
        let server = match (cluster.access, &cluster.server_version) {
            (Access::Assessed, Some(version)) => cell(version),
            (Access::Assessed, None) => "–".to_string(),
            (access, _) => access.as_str().to_string(),
        };
        let _ = writeln!(
            out,
            "| `{}` | {server} | {} | **{}** | {} | {} |",
            cell(&cluster.context.replace('`', "'")),
            cluster
                .platform_version
                .as_deref()
                .map(cell)
                .unwrap_or_else(|| "–".to_string()),
            cluster.verdict.as_str(),
            code_list(&cluster.failing),
            code_list(&cluster.unknown)
        );
    }
    out.push('\n');
    for cluster in &fleet.clusters {
        let _ = writeln!(
            out,
            "## `{}`: {}\n",
            cluster.context.replace('`', "'"),
            cluster.verdict.as_str()
        );
        if let Some(plan) = &cluster.plan {
            let _ = writeln!(
                out,
                "Plan: `{}` (digest `{}`), applied with `astro-upgrade --context {} apply --plan {} …`.\n",
                plan.file,
                plan.digest,
                crate::render::shell_quote(&cluster.context),
                crate::render::shell_quote(&plan.file)
            );
        }
        crate::render::report_body(&mut out, &cluster.report, "###");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// JUnit: one suite per cluster.

/// JUnit XML with one `<testsuite>` per cluster (named by its context, each check a test case
/// whose classname is the context), as the single-cluster report writes its one suite.
pub fn junit(fleet: &FleetReport) -> String {
    let properties: Vec<Vec<(&str, &str)>> = fleet
        .clusters
        .iter()
        .map(|cluster| {
            let mut properties = vec![
                ("verdict", cluster.verdict.as_str()),
                ("context", cluster.context.as_str()),
                ("access", cluster.access.as_str()),
            ];
            if let Some(version) = &cluster.server_version {
                properties.push(("server-version", version));
            }
            if let Some(version) = &cluster.platform_version {
                properties.push(("platform-version", version));
            }
            properties
        })
        .collect();
    let suites: Vec<(crate::junit::Suite<'_>, &Report)> = fleet
        .clusters
        .iter()
        .zip(&properties)
        .map(|(cluster, properties)| {
            (
                crate::junit::Suite {
                    name: &cluster.context,
                    classname: &cluster.context,
                    properties,
                },
                &cluster.report,
            )
        })
        .collect();
    crate::junit::document(&suites)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{At, HelmRelease};

    fn finding(check: &str, status: Status) -> Finding {
        Finding {
            check: check.to_string(),
            status,
            message: format!("{check} is {status:?}"),
            remedy: Some(format!("fix {check}\nkubectl do-something")),
            evidence: Vec::new(),
            items: Vec::new(),
        }
    }

    fn report(findings: Vec<Finding>) -> Report {
        let statuses: Vec<Status> = findings.iter().map(|f| f.status).collect();
        let verdict = if statuses.contains(&Status::Fail) {
            Verdict::NoGo
        } else if statuses.contains(&Status::Unknown) {
            Verdict::Incomplete
        } else {
            Verdict::Go
        };
        Report {
            schema_version: REPORT_SCHEMA_VERSION,
            verdict,
            findings,
            diagnostics: Vec::new(),
        }
    }

    fn facts(server: &str, platform: &str) -> Facts {
        let mut facts = Facts::default();
        facts.kubernetes.server_version = Some(server.to_string());
        facts.helm_releases.push(HelmRelease {
            name: "astronomer".into(),
            namespace: Some("astronomer".into()),
            revision: Some(2),
            status: Some("deployed".into()),
            chart: "astronomer".into(),
            chart_version: Some(platform.into()),
            app_version: None,
            helm: None,
            at: At {
                source: "live:helm".into(),
                line: None,
            },
        });
        facts
    }

    /// healthy (GO), broken (NO-GO, two fails and one unknown), down (unreachable).
    fn three_clusters() -> FleetReport {
        let healthy = ClusterResult::assessed(
            "healthy",
            &facts("1.18.20-gke.901", "0.16.15"),
            report(vec![
                finding("kubernetes-version", Status::Pass),
                finding("kubectl-skew", Status::Warn),
            ]),
        );
        let broken = ClusterResult::assessed(
            "arn:aws:eks:eu-west-1:123456789012:cluster/prod-eu",
            &facts("1.16.15-eks-ad4801", "0.16.9"),
            report(vec![
                finding("kubernetes-version", Status::Pass),
                finding("permissions", Status::Fail),
                finding("database-backup", Status::Unknown),
                finding("pod-health", Status::Fail),
            ]),
        );
        let down = ClusterResult::not_assessed(
            "down",
            Access::Unreachable,
            "error trying to connect: tcp connect error: Connection refused (os error 111)",
        );
        FleetReport::new(vec![healthy, broken, down])
    }

    #[test]
    fn the_fleet_verdict_is_the_worst_of_its_clusters() {
        use Verdict::*;
        assert_eq!(worst([Go, Go]), Go);
        assert_eq!(worst([Go, Incomplete, Go]), Incomplete);
        assert_eq!(worst([Incomplete, NoGo, Go]), NoGo);
        assert_eq!(worst([NoGo, Incomplete]), NoGo);
        assert_eq!(worst([]), Incomplete, "nothing shown is nothing ready");
        assert_eq!(three_clusters().verdict, NoGo);
        let fleet = FleetReport::new(vec![three_clusters().clusters[0].clone()]);
        assert_eq!(fleet.verdict, Go);
    }

    #[test]
    fn a_row_carries_versions_verdict_and_check_ids_in_check_order() {
        let fleet = three_clusters();
        let broken = &fleet.clusters[1];
        assert_eq!(broken.access, Access::Assessed);
        assert_eq!(broken.server_version.as_deref(), Some("1.16.15-eks-ad4801"));
        assert_eq!(broken.platform_version.as_deref(), Some("0.16.9"));
        assert_eq!(broken.verdict, Verdict::NoGo);
        assert_eq!(broken.failing, ["permissions", "pod-health"]);
        assert_eq!(broken.unknown, ["database-backup"]);
        let healthy = &fleet.clusters[0];
        assert_eq!(healthy.verdict, Verdict::Go);
        assert!(healthy.failing.is_empty() && healthy.unknown.is_empty());
        assert_eq!(fleet.summary(), "3 clusters: 1 GO, 1 NO-GO, 1 INCOMPLETE");
    }

    #[test]
    fn an_unreachable_cluster_is_an_unknown_finding_of_that_cluster() {
        let down = &three_clusters().clusters[2];
        assert_eq!(down.access, Access::Unreachable);
        assert_eq!(down.verdict, Verdict::Incomplete);
        assert_eq!(down.unknown, [CLUSTER_ACCESS_CHECK]);
        assert_eq!(down.server_version, None);
        let finding = down.report.finding(CLUSTER_ACCESS_CHECK).unwrap();
        assert!(
            finding.message.contains("Connection refused"),
            "{finding:?}"
        );
        assert!(finding.message.contains("unreachable"), "{finding:?}");
        assert!(finding
            .remedy
            .as_deref()
            .unwrap()
            .contains("`kubectl --context down version`"));
        let quoted = ClusterResult::not_assessed("my ctx", Access::TimedOut, "30s");
        assert!(quoted.report.findings[0]
            .remedy
            .as_deref()
            .unwrap()
            .contains("--context 'my ctx' version"));
    }

    #[test]
    fn an_error_that_quotes_credentials_is_masked() {
        let down = ClusterResult::not_assessed(
            "db",
            Access::Failed,
            "cannot reach https://admin:hunter2secret@10.0.0.1:6443/version",
        );
        let text = serde_json::to_string(&down).unwrap();
        assert!(!text.contains("hunter2secret"), "{text}");
    }

    #[test]
    fn the_table_fits_100_columns_and_shows_every_row() {
        let mut fleet = three_clusters();
        // every check unknown: the longest id list a row can have
        let ids: Vec<String> = PATH.checks.iter().map(|c| c.id.to_string()).collect();
        let mut everything = fleet.clusters[0].clone();
        everything.context = "a-context-name-much-longer-than-its-column-allows".into();
        everything.unknown = ids.clone();
        everything.failing = ids;
        everything.server_version = Some("1.16.15-eks-ad4801aaaaaaaa".into());
        fleet.clusters.push(everything);
        let text = table(&fleet);
        for line in text.lines() {
            assert!(line.chars().count() <= TABLE_WIDTH, "{line:?} is too wide");
        }
        let rows: Vec<&str> = text.lines().collect();
        assert!(rows[0].starts_with("CONTEXT"), "{text}");
        assert!(
            rows[1].starts_with("healthy ") && rows[1].contains(" GO "),
            "{text}"
        );
        assert!(rows[1].contains("1.18.20-gke.901") && rows[1].contains("0.16.15"));
        assert!(rows[1].ends_with(" -"), "{text}");
        // The EKS context keeps its start and its end, the cluster's name.
        assert!(rows[2].starts_with("arn:aws:…"), "{text}");
        assert!(rows[2].contains("cluster/prod-eu "), "{text}");
        assert!(rows[2].contains("NO-GO"), "{text}");
        assert!(rows[2].contains("fail: permissions, pod-health"), "{text}");
        assert!(
            rows[3].trim_start().starts_with("unknown: database-backup"),
            "{text}"
        );
        assert!(
            rows[4].starts_with("down ") && rows[4].contains("unreachable"),
            "{text}"
        );
        assert!(rows[4].contains("INCOMPLETE") && rows[4].contains("unknown: cluster-access"));
        // Wrapped ids lose none.
        for spec in PATH.checks {
            assert!(text.contains(spec.id), "{} missing: {text}", spec.id);
        }
        assert!(text.contains("4 clusters: 2 GO, 1 NO-GO, 1 INCOMPLETE. Fleet verdict: NO-GO"));
    }

    #[test]
    fn the_human_report_lists_each_cluster_s_open_findings() {
        let text = human(&three_clusters());
        for line in text.lines() {
            assert!(line.chars().count() <= TABLE_WIDTH, "{line:?} is too wide");
        }
        let section = |name: &str| {
            let start = text
                .find(&format!("── {name} ("))
                .unwrap_or_else(|| panic!("{text}"));
            let rest = &text[start + 3..];
            rest[..rest.find("\n── ").unwrap_or(rest.len())].to_string()
        };
        let healthy = section("healthy");
        assert!(healthy.contains("WARN     kubectl-skew"), "{healthy}");
        assert!(
            !healthy.contains("kubernetes-version"),
            "passes are not listed: {healthy}"
        );
        assert!(
            !healthy.contains("fix:"),
            "a WARN's fix is in the JSON: {healthy}"
        );
        let broken = section("arn:aws:eks:eu-west-1:123456789012:cluster/prod-eu");
        assert!(broken.contains("FAIL     permissions"), "{broken}");
        assert!(broken.contains("fix: fix permissions"), "{broken}");
        assert!(broken.contains("UNKNOWN  database-backup"), "{broken}");
        let down = section("down");
        assert!(down.contains("UNKNOWN  cluster-access"), "{down}");
        assert!(down.contains("Connection refused"), "{down}");
    }

    #[test]
    fn json_has_the_bumped_schema_and_a_clusters_array() {
        let value = serde_json::to_value(three_clusters()).unwrap();
        assert_eq!(value["schema_version"], 2);
        assert_eq!(value["verdict"], "NO-GO");
        let clusters = value["clusters"].as_array().unwrap();
        assert_eq!(clusters.len(), 3);
        assert_eq!(clusters[0]["context"], "healthy");
        assert_eq!(clusters[0]["verdict"], "GO");
        assert_eq!(
            clusters[1]["failing"],
            serde_json::json!(["permissions", "pod-health"])
        );
        assert_eq!(
            clusters[1]["unknown"],
            serde_json::json!(["database-backup"])
        );
        assert_eq!(clusters[1]["platform_version"], "0.16.9");
        assert_eq!(clusters[2]["access"], "unreachable");
        assert_eq!(clusters[2]["server_version"], serde_json::Value::Null);
        assert_eq!(
            clusters[2]["report"]["findings"][0]["check"],
            "cluster-access"
        );
        assert!(clusters[0].get("plan").is_none(), "no plan, no key");
        let back: FleetReport = serde_json::from_value(value).unwrap();
        assert_eq!(back, three_clusters());
    }

    #[test]
    fn markdown_has_the_matrix_and_a_section_per_cluster() {
        let mut fleet = three_clusters();
        fleet.clusters[0].plan = Some(PlanFile {
            file: "healthy.json".into(),
            digest: "sha256:abc".into(),
        });
        let text = markdown(&fleet);
        assert!(text.starts_with("# Astronomer Enterprise 0.16 → 0.23 fleet readiness: NO-GO"));
        assert!(
            text.contains("| `healthy` | 1.18.20-gke.901 | 0.16.15 | **GO** | – | – |"),
            "{text}"
        );
        assert!(text.contains(
            "| `arn:aws:eks:eu-west-1:123456789012:cluster/prod-eu` | 1.16.15-eks-ad4801 | 0.16.9 | **NO-GO** | `permissions`, `pod-health` | `database-backup` |"
        ), "{text}");
        assert!(
            text.contains("| `down` | unreachable | – | **INCOMPLETE** | – | `cluster-access` |"),
            "{text}"
        );
        assert!(text.contains("## `healthy`: GO"), "{text}");
        assert!(
            text.contains("Plan: `healthy.json` (digest `sha256:abc`)"),
            "{text}"
        );
        assert!(text.contains("### What to do"), "{text}");
        assert!(text.contains("#### FAIL `pod-health`"), "{text}");
        assert!(
            !text.contains("\n## What to do"),
            "sections sit under their cluster: {text}"
        );
    }

    #[test]
    fn junit_has_one_suite_per_cluster() {
        let text = junit(&three_clusters());
        assert!(text.starts_with("<?xml"));
        assert!(
            text.contains(
                "<testsuites name=\"astro-upgrade\" tests=\"7\" failures=\"4\" errors=\"0\">"
            ),
            "{text}"
        );
        assert_eq!(text.matches("<testsuite ").count(), 3, "{text}");
        assert!(
            text.contains("<testsuite name=\"healthy\" tests=\"2\" failures=\"0\""),
            "{text}"
        );
        assert!(
            text.contains("<testsuite name=\"down\" tests=\"1\" failures=\"1\""),
            "{text}"
        );
        assert!(
            text.contains("<property name=\"access\" value=\"unreachable\"/>"),
            "{text}"
        );
        assert!(text.contains(
            "<testcase classname=\"arn:aws:eks:eu-west-1:123456789012:cluster/prod-eu\" name=\"pod-health\">"
        ), "{text}");
        assert!(
            text.contains("<property name=\"platform-version\" value=\"0.16.9\"/>"),
            "{text}"
        );
    }

    #[test]
    fn file_stems_are_safe_and_distinct() {
        assert_eq!(
            file_stems(&[
                "arn:aws:eks:eu-west-1:1234:cluster/prod",
                "dev",
                "Dev",
                "dev",
                ".hidden",
                "",
                "gke_proj_europe-west1_prod",
            ]),
            [
                "arn_aws_eks_eu-west-1_1234_cluster_prod",
                "dev",
                "Dev-2",
                "dev-3",
                "_.hidden",
                "_",
                "gke_proj_europe-west1_prod",
            ]
        );
    }

    #[test]
    fn bundles_become_rows_named_by_their_context() {
        let bundle = |context: &str, version: &str| {
            serde_json::json!({
                "astro_upgrade_bundle": 1,
                "collected_at": "2026-12-04T20:00:00Z",
                "context": context,
                "facts": {"kubernetes": {"server_version": version}},
            })
            .to_string()
        };
        let sources = [
            Source::new(
                "a.json",
                Some(crate::EvidenceKind::Bundle),
                bundle("prod", "1.18.3"),
            ),
            Source::new(
                "b.json",
                Some(crate::EvidenceKind::Bundle),
                bundle("dev", "1.20.1"),
            ),
            Source::new("c.json", Some(crate::EvidenceKind::Bundle), "{not json"),
        ];
        let fleet = from_bundles(
            &sources,
            &Acknowledgements::default(),
            &UpgraderOptions::default(),
            &[],
        );
        let contexts: Vec<&str> = fleet.clusters.iter().map(|c| c.context.as_str()).collect();
        assert_eq!(contexts, ["prod", "dev", "c.json"]);
        assert_eq!(fleet.clusters[0].server_version.as_deref(), Some("1.18.3"));
        // The rules judged each bundle: 1.20 is outside the path's range.
        assert!(fleet.clusters[1]
            .failing
            .contains(&"kubernetes-version".to_string()));
        assert_eq!(fleet.clusters[1].verdict, Verdict::NoGo);
        assert!(!fleet.clusters[2].report.diagnostics.is_empty());
        assert_eq!(fleet.verdict, Verdict::NoGo);
    }
}
