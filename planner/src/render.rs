//! Markdown for change tickets: the report (findings and what to do) and the plan.

use std::fmt::Write as _;

use crate::facts::At;
use crate::path::LTS_0_16_TO_0_23 as PATH;
use crate::plan::{Plan, Step, StepKind};
use crate::report::{name_list, Finding, Report, Status, Verdict, NAMES_SHOWN};

/// How many evidence places a finding shows before "and N more".
pub const MAX_EVIDENCE_SHOWN: usize = 6;

/// `source:line`, or the source alone when the line is not known.
pub fn place(at: &At) -> String {
    match at.line {
        Some(line) => format!("{}:{line}", at.source),
        None => at.source.clone(),
    }
}

/// A finding's evidence on one line: the first places, then "and N more".
pub fn evidence_line(evidence: &[At]) -> String {
    let mut shown: Vec<String> = evidence
        .iter()
        .take(MAX_EVIDENCE_SHOWN)
        .map(place)
        .collect();
    if evidence.len() > MAX_EVIDENCE_SHOWN {
        shown.push(format!("and {} more", evidence.len() - MAX_EVIDENCE_SHOWN));
    }
    shown.join(", ")
}

/// A word for a POSIX shell, quoted only when it needs it, so the commands a report suggests
/// stay easy to read and still paste safely.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

pub(crate) fn status_label(status: Status) -> &'static str {
    match status {
        Status::Pass => "PASS",
        Status::Warn => "WARN",
        Status::Unknown => "UNKNOWN",
        Status::Fail => "FAIL",
    }
}

fn verdict_line(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Go => "GO: every required check passes.",
        Verdict::NoGo => "NO-GO: at least one check fails; fix it before upgrading.",
        Verdict::Incomplete => {
            "INCOMPLETE: nothing fails, but some evidence or acknowledgements are missing."
        }
    }
}

/// A table cell: pipes escaped, line breaks kept visible.
pub(crate) fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', "<br>")
}

/// Evidence lines as code spans, the first [`NAMES_SHOWN`] of them and a count of the rest.
fn evidence_list(finding_evidence: &[crate::facts::At]) -> String {
    let places: Vec<String> = finding_evidence
        .iter()
        .map(|at| match at.line {
            Some(line) => format!("`{}:{line}`", at.source),
            None => format!("`{}`", at.source),
        })
        .collect();
    name_list(&places, ", ")
}

fn findings_table(out: &mut String, findings: &[Finding]) {
    out.push_str("| # | Check | Status | Finding | Evidence |\n|---|---|---|---|---|\n");
    for (i, f) in findings.iter().enumerate() {
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} | {} |",
            i + 1,
            f.check,
            status_label(f.status),
            cell(&f.message),
            evidence_list(&f.evidence)
        );
    }
    out.push('\n');
}

/// A remedy: its first line as prose, any further lines (commands) in a fenced block.
fn remedy_block(out: &mut String, remedy: &str) {
    let mut lines = remedy.lines();
    if let Some(first) = lines.next() {
        let _ = writeln!(out, "**Remedy:** {first}\n");
    }
    let rest: Vec<&str> = lines.filter(|l| !l.trim().is_empty()).collect();
    if !rest.is_empty() {
        let _ = writeln!(out, "```sh\n{}\n```\n", rest.join("\n"));
    }
}

/// `heading` is the Markdown heading of the section (`##`); each finding gets one level more.
fn actions(out: &mut String, findings: &[Finding], heading: &str) {
    let open: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.status != Status::Pass)
        .collect();
    if open.is_empty() {
        return;
    }
    let _ = writeln!(out, "{heading} What to do\n");
    for f in open {
        let _ = writeln!(
            out,
            "{heading}# {} `{}`\n\n{}\n",
            status_label(f.status),
            f.check,
            f.message
        );
        let open: Vec<_> = f
            .items
            .iter()
            .filter(|i| i.status != Status::Pass)
            .collect();
        for item in open.iter().take(NAMES_SHOWN) {
            let _ = writeln!(
                out,
                "- {} **{}**: {}{}",
                status_label(item.status),
                item.subject,
                item.message,
                if item.evidence.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", evidence_list(&item.evidence))
                }
            );
        }
        if open.len() > NAMES_SHOWN {
            let _ = writeln!(
                out,
                "- … and {} more (every item is in the JSON)",
                open.len() - NAMES_SHOWN
            );
        }
        if !open.is_empty() {
            out.push('\n');
        }
        if let Some(remedy) = &f.remedy {
            remedy_block(out, remedy);
        }
    }
}

fn diagnostics(out: &mut String, diagnostics: &[crate::facts::Diagnostic], heading: &str) {
    if diagnostics.is_empty() {
        return;
    }
    let _ = writeln!(out, "{heading} Reader diagnostics\n");
    for d in diagnostics {
        let place = match d.line {
            Some(line) => format!("{}:{line}", d.source),
            None => d.source.clone(),
        };
        let _ = writeln!(out, "- `{place}` {:?}: {}", d.severity, d.message);
    }
    out.push('\n');
}

/// The report as Markdown: verdict, a findings table, what to do per open finding, diagnostics.
pub fn report_markdown(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Astronomer Enterprise {} → {} readiness: {}\n\n{}\n",
        PATH.from_platform,
        PATH.to_platform,
        report.verdict.as_str(),
        verdict_line(report.verdict)
    );
    report_body(&mut out, report, "##");
    out
}

/// A report's findings table, what to do per open finding and its diagnostics, with sections
/// under `heading` (`##` alone; `###` under a fleet's cluster heading).
pub(crate) fn report_body(out: &mut String, report: &Report, heading: &str) {
    findings_table(out, &report.findings);
    actions(out, &report.findings, heading);
    diagnostics(out, &report.diagnostics, heading);
}

fn steps_list(out: &mut String, steps: &[Step]) {
    for (i, s) in steps.iter().enumerate() {
        let kind = match s.kind {
            StepKind::Manual => "manual",
            StepKind::Executor => "astro-upgrade",
        };
        let _ = writeln!(out, "{}. **{}** (`{}`, {kind})\n", i + 1, s.title, s.id);
        if !s.commands.is_empty() {
            let _ = writeln!(out, "   ```sh");
            for command in &s.commands {
                let _ = writeln!(out, "   {command}");
            }
            let _ = writeln!(out, "   ```\n");
        }
        for note in &s.notes {
            let _ = writeln!(out, "   {note}\n");
        }
    }
}

/// The plan as Markdown for a change ticket.
/// How a second person approves this exact plan with their SSH key, and how `apply` checks it.
fn approval_section(out: &mut String, plan: &Plan) {
    out.push_str("## Approval\n\n");
    let _ = writeln!(
        out,
        "An approver compares the plan digest `{}` with what `approve` prints, then signs the plan file \
         (an SSH signature, namespace `astro-upgrade-plan`, appended to `plan.json.sig`):\n",
        plan.plan_digest
    );
    out.push_str("```sh\n");
    out.push_str(
        "astro-upgrade approve --plan plan.json --key ~/.ssh/id_ed25519 --comment CHANGE-TICKET\n",
    );
    out.push_str("# or, with OpenSSH alone: ssh-keygen -Y sign -f ~/.ssh/id_ed25519 -n astro-upgrade-plan plan.json\n");
    out.push_str("astro-upgrade verify-approval --plan plan.json --allowed-signers allowed_signers -o markdown\n");
    out.push_str("astro-upgrade apply --plan plan.json --allowed-signers allowed_signers --require-approvals 1 …\n");
    out.push_str("```\n\n");
    out.push_str(
        "`verify-approval -o markdown` prints who approved (principal and key fingerprint) for this ticket; \
         `apply` records the same in its journal and refuses, before any change, without enough approvals.\n\n",
    );
}

/// The plan's last section: what the upgrade leaves standing and how `finish` removes it.
fn cleanup_section(out: &mut String) {
    use crate::path::{
        BACKUP_PVC, CLUSTER_ROLE, CLUSTER_ROLE_BINDING, SERVICE_ACCOUNT, UPGRADE_JOB,
    };
    let ns = PATH.upgrade_namespace;
    out.push_str("## Clean-up (after the upgrade is accepted)\n\n");
    let _ = writeln!(
        out,
        "The upgrade manifest leaves ClusterRoleBinding `{CLUSTER_ROLE_BINDING}` standing: it gives \
         ServiceAccount `{ns}/{SERVICE_ACCOUNT}` every verb on every resource of the cluster (`*` on `*`, \
         ClusterRole `{CLUSTER_ROLE}`). `astro-upgrade status` and `verify` report it until it is gone. \
         Once the platform team accepts the upgrade and no rollback will be needed:\n"
    );
    let _ = writeln!(out, "1. [ ] `astro-upgrade verify` exits 0 (the platform runs 0.23 and every component answers)");
    let _ = writeln!(
        out,
        "2. [ ] `astro-upgrade finish` deletes Job `{ns}/{UPGRADE_JOB}` and its pods, ClusterRoleBinding \
         `{CLUSTER_ROLE_BINDING}`, ClusterRole `{CLUSTER_ROLE}` and ServiceAccount `{ns}/{SERVICE_ACCOUNT}` \
         (by hand: `kubectl delete -n {ns} job/{UPGRADE_JOB} serviceaccount/{SERVICE_ACCOUNT}` and \
         `kubectl delete clusterrolebinding/{CLUSTER_ROLE_BINDING} clusterrole/{CLUSTER_ROLE}`)"
    );
    let _ = writeln!(
        out,
        "3. [ ] When the database dumps are no longer needed: `astro-upgrade finish --delete-backup` \
         deletes PVC `{ns}/{BACKUP_PVC}` (no rollback is possible afterwards)"
    );
}

pub fn plan_markdown(plan: &Plan) -> String {
    let mut out = String::new();
    let fp = &plan.cluster_fingerprint;
    let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
    let _ = writeln!(
        out,
        "# Upgrade plan: Astronomer Enterprise {} → {} — {}\n\n{}\n",
        PATH.from_platform,
        PATH.to_platform,
        plan.verdict.as_str(),
        verdict_line(plan.verdict)
    );
    out.push_str("| | |\n|---|---|\n");
    let rows = [
        ("Upgrade path", format!("`{}`", plan.upgrade_path)),
        ("Created", plan.created_at.clone()),
        ("Verdict", format!("**{}**", plan.verdict.as_str())),
        ("Kubernetes server", shown(&fp.server_version)),
        (
            "Platform release",
            format!(
                "`{}` in namespace `{}`, chart {}",
                shown(&fp.platform_release),
                shown(&fp.platform_namespace),
                shown(&fp.chart_version)
            ),
        ),
        (
            "Unhealthy pods at planning",
            if fp.unhealthy_pods.is_empty() {
                "none".into()
            } else {
                name_list(&fp.unhealthy_pods, ", ")
            },
        ),
        (
            "Evidence digest (SHA-256)",
            format!("`{}`", plan.evidence_digest),
        ),
        ("Plan digest (SHA-256)", format!("`{}`", plan.plan_digest)),
    ];
    for (key, value) in rows {
        let _ = writeln!(out, "| {key} | {} |", cell(&value));
    }
    out.push_str("\n## Acknowledgements\n\n");
    let acks = plan.acknowledgements.to_cli_args();
    if acks.is_empty() {
        out.push_str("None given.\n\n");
    } else {
        for ack in acks {
            let _ = writeln!(out, "- `{ack}`");
        }
        out.push('\n');
    }
    approval_section(&mut out, plan);
    out.push_str("## Upgrader options\n\n");
    let options = plan.upgrader_options.describe();
    if options.is_empty() {
        out.push_str("None: the upgrade Job runs as the manifest has it.\n\n");
    } else {
        for option in options {
            let _ = writeln!(out, "- {option}");
        }
        out.push('\n');
    }
    out.push_str("## Findings\n\n");
    findings_table(&mut out, &plan.findings);
    actions(&mut out, &plan.findings, "##");
    out.push_str("## Steps\n\n");
    if plan.verdict != Verdict::Go {
        let _ = writeln!(
            out,
            "> **Do not start:** the verdict is {}. Resolve the findings above and plan again.\n",
            plan.verdict.as_str()
        );
    }
    steps_list(&mut out, &plan.steps);
    out.push_str("## Rollback\n\n");
    let _ = writeln!(out, "{}\n", plan.rollback.when);
    for warning in &plan.rollback.warnings {
        let _ = writeln!(out, "> **Warning:** {warning}\n");
    }
    steps_list(&mut out, &plan.rollback.steps);
    out.push_str("## Verification\n\n");
    for check in &plan.verification {
        let _ = writeln!(out, "- [ ] {check}");
    }
    out.push_str(
        "\n## Evidence\n\n| Role | Name | Kind | Lines | SHA-256 |\n|---|---|---|---|---|\n",
    );
    for e in &plan.evidence {
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} | {} |",
            e.role,
            cell(&e.name),
            e.kind.as_deref().unwrap_or("by content"),
            e.lines,
            e.sha256
                .as_deref()
                .map_or("withheld: may hold a credential".to_string(), |h| format!(
                    "`{h}`"
                ))
        );
    }
    out.push('\n');
    diagnostics(&mut out, &plan.diagnostics, "##");
    cleanup_section(&mut out);
    out
}

#[cfg(test)]
mod cleanup_tests {
    #[test]
    fn the_clean_up_names_every_object_and_the_finish_command() {
        let mut out = String::new();
        super::cleanup_section(&mut out);
        assert!(out.starts_with("## Clean-up"), "{out}");
        for needle in [
            "`astro-upgrade finish`",
            "`astro-upgrade finish --delete-backup`",
            "clusterrolebinding/astronomer-upgrader-cluster-role-binding",
            "clusterrole/astronomer-upgrader-cluster-role",
            "serviceaccount/astronomer-upgrader-service-account",
            "job/upgrade-astronomer",
            "`default/astronomer-upgrades-backup`",
            "(`*` on `*`",
        ] {
            assert!(out.contains(needle), "{needle}: {out}");
        }
    }
}
