//! The report in every `--output` format: a human report (coloured on a terminal), JSON,
//! Markdown (the planner's, shared with the page) and JUnit XML for CI gates.

use std::fmt::Write as _;
use std::io::IsTerminal as _;

use planner::facts::{At, Diagnostic, Severity};
use planner::path::{CheckKind, LTS_0_16_TO_0_23};
use planner::render::{evidence_line, place};
use planner::{Finding, Report, Status, Verdict};

/// Items and diagnostics beyond these are counted, not listed: a 100,000-pod paste must not
/// bury the verdict. The JSON output always has all of them. Items follow the planner's
/// limit, which its messages and the Markdown report use too.
const MAX_ITEMS_SHOWN: usize = planner::report::NAMES_SHOWN;
const MAX_DIAGNOSTICS_SHOWN: usize = 30;

/// Whether the human report may use ANSI colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    colour: bool,
    /// The terminal's width, to wrap long lines under their column; `None` when piped, so
    /// that each finding stays on one line for `grep`.
    width: Option<usize>,
}

impl Style {
    /// Colour only on a terminal, never when `NO_COLOR` is set (no-color.org);
    /// `CLICOLOR_FORCE` asks for colour when the output is piped (e.g. into `less -R`).
    pub fn for_stdout() -> Style {
        let set = |name: &str| std::env::var_os(name).is_some_and(|value| !value.is_empty());
        let forced = std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0");
        let terminal = std::io::stdout().is_terminal();
        let width = terminal
            .then(terminal_size::terminal_size)
            .flatten()
            .map(|(terminal_size::Width(columns), _)| usize::from(columns));
        Style {
            colour: !set("NO_COLOR") && (forced || terminal),
            width,
        }
    }

    /// Writes `prefix` then `text`, wrapped at word boundaries to the terminal's width with
    /// continuation lines indented by `hang` columns. Colour codes take no width.
    fn line(self, out: &mut String, prefix: &str, text: &str, hang: usize) {
        let Some(width) = self.width.filter(|&width| width > hang + 20) else {
            let _ = writeln!(out, "{prefix}{text}");
            return;
        };
        out.push_str(prefix);
        let mut column = visible_width(prefix);
        let mut first = true;
        for word in text.split(' ').filter(|word| !word.is_empty()) {
            let word_width = visible_width(word);
            if !first && column + 1 + word_width > width {
                out.push('\n');
                out.push_str(&" ".repeat(hang));
                column = hang;
            } else if !first {
                out.push(' ');
                column += 1;
            }
            out.push_str(word);
            column += word_width;
            first = false;
        }
        out.push('\n');
    }

    fn paint(self, sgr: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{sgr}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn status(self, status: Status) -> String {
        let (label, sgr) = match status {
            Status::Pass => ("PASS   ", "32"),
            Status::Warn => ("WARN   ", "33"),
            Status::Unknown => ("UNKNOWN", "35;1"),
            Status::Fail => ("FAIL   ", "31;1"),
        };
        self.paint(sgr, label)
    }

    fn verdict(self, verdict: Verdict) -> String {
        let sgr = match verdict {
            Verdict::Go => "1;97;42",
            Verdict::NoGo => "1;97;41",
            Verdict::Incomplete => "1;30;43",
        };
        self.paint(sgr, &format!(" {} ", verdict.as_str()))
    }

    fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }

    fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }
}

/// Columns a string takes on a terminal: characters outside ANSI colour sequences.
fn visible_width(text: &str) -> usize {
    let mut width = 0;
    let mut in_escape = false;
    for c in text.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, _) => width += 1,
        }
    }
    width
}

/// How this run was asked for: what it read, and how to repeat it. `check` and `plan` fill it
/// from their command line, so the report's next-step hint can be copied and run as is.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The names of the evidence sources read, in order.
    pub evidence: Vec<String>,
    /// `astro-upgrade check …` with the same evidence and acknowledgements.
    pub check_command: String,
    /// `astro-upgrade plan …` with the same evidence and acknowledgements.
    pub plan_command: String,
    /// Whether the user already declared the site air-gapped.
    pub air_gapped: bool,
    /// The plan file this run wrote (`plan --out`), shell-quoted; `None` for `check`.
    pub plan_written: Option<String>,
}

/// Writes a finished report to standard output. A reader that went away (`| head`) is not
/// an error: the exit code still tells the verdict.
pub fn to_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(err).context("cannot write to standard output"))
        }
        _ => Ok(()),
    }
}

pub fn json<T: serde::Serialize>(value: &T) -> anyhow::Result<String> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    Ok(text)
}

pub fn markdown(report: &Report) -> String {
    planner::render::report_markdown(report)
}

/// The report for a person: verdict banner, one block per check, reader notes, next step.
pub fn human(report: &Report, invocation: &Invocation, style: Style) -> String {
    let mut out = String::new();
    banner(&mut out, report, invocation, style);
    let id_width = report
        .findings
        .iter()
        .map(|f| f.check.len())
        .max()
        .unwrap_or(0);
    for finding in &report.findings {
        finding_block(&mut out, finding, id_width, style);
    }
    diagnostics(&mut out, &report.diagnostics, style);
    next_step(&mut out, report, invocation, style);
    out
}

fn count(report: &Report, status: Status) -> usize {
    report
        .findings
        .iter()
        .filter(|f| f.status == status)
        .count()
}

fn banner(out: &mut String, report: &Report, invocation: &Invocation, style: Style) {
    let headline = match report.verdict {
        Verdict::Go => "ready to upgrade: every required check passes",
        Verdict::NoGo => "do not upgrade: at least one check fails",
        Verdict::Incomplete => {
            "not decided: nothing fails, but evidence or acknowledgements are missing"
        }
    };
    let _ = writeln!(
        out,
        "{} Astronomer Enterprise 0.16 → 0.23: {}",
        style.verdict(report.verdict),
        style.bold(headline)
    );
    let _ = writeln!(
        out,
        "{}",
        style.dim(&format!(
            "{} checks: {} fail, {} unknown, {} warn, {} pass",
            report.findings.len(),
            count(report, Status::Fail),
            count(report, Status::Unknown),
            count(report, Status::Warn),
            count(report, Status::Pass),
        ))
    );
    let files = match invocation.evidence.len() {
        1 => "1 source".to_string(),
        n => format!("{n} sources"),
    };
    let evidence = style.dim(&format!(
        "evidence read ({files}): {}",
        invocation.evidence.join(", ")
    ));
    style.line(out, "", &evidence, 2);
    out.push('\n');
}

fn finding_block(out: &mut String, finding: &Finding, id_width: usize, style: Style) {
    let advisory = LTS_0_16_TO_0_23
        .check(&finding.check)
        .is_some_and(|spec| spec.kind == CheckKind::Advisory);
    const STATUS_WIDTH: usize = 9;
    let prefix = format!(
        "{}  {:<id_width$}  ",
        style.status(finding.status),
        finding.check
    );
    let message = if advisory {
        format!("{} {}", finding.message, style.dim("(advisory)"))
    } else {
        finding.message.clone()
    };
    style.line(out, &prefix, &message, STATUS_WIDTH + id_width + 2);
    let indent = " ".repeat(STATUS_WIDTH);
    // An unknown finding's message already names what is missing; its unknown items would
    // only repeat it line by line.
    let open_items: Vec<_> = finding
        .items
        .iter()
        .filter(|item| {
            item.status != Status::Pass
                && !(finding.status == Status::Unknown && item.status == Status::Unknown)
        })
        .collect();
    for item in open_items.iter().take(MAX_ITEMS_SHOWN) {
        let at = match item.evidence.first() {
            Some(at) => style.dim(&format!(" ({})", place(at))),
            None => String::new(),
        };
        let prefix = format!("{indent}- {} ", style.status(item.status).trim_end());
        let text = format!("{}: {}{at}", item.subject, item.message);
        style.line(out, &prefix, &text, STATUS_WIDTH + 2);
    }
    if open_items.len() > MAX_ITEMS_SHOWN {
        let _ = writeln!(
            out,
            "{indent}- … and {} more (all are in `--output json`)",
            open_items.len() - MAX_ITEMS_SHOWN
        );
    }
    if finding.status != Status::Pass {
        if let Some(remedy) = &finding.remedy {
            let mut lines = remedy.lines();
            if let Some(first) = lines.next() {
                let prefix = format!("{indent}{} ", style.bold("fix:"));
                style.line(out, &prefix, first, STATUS_WIDTH + 5);
            }
            for line in lines {
                let _ = writeln!(out, "{indent}     {line}");
            }
        }
    }
    // Items shown already point at their own lines.
    if open_items.is_empty() && !finding.evidence.is_empty() {
        let evidence = style.dim(&format!("evidence: {}", evidence_line(&finding.evidence)));
        style.line(out, &indent, &evidence, STATUS_WIDTH + 10);
    }
}

fn diagnostics(out: &mut String, diagnostics: &[Diagnostic], style: Style) {
    if diagnostics.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n{}",
        style.bold(&format!(
            "What the readers could not read or doubted ({}):",
            diagnostics.len()
        ))
    );
    for diagnostic in diagnostics.iter().take(MAX_DIAGNOSTICS_SHOWN) {
        let severity = match diagnostic.severity {
            Severity::Error => style.paint("31", "error  "),
            Severity::Warning => style.paint("33", "warning"),
            Severity::Info => style.dim("info   "),
        };
        let at = At {
            source: diagnostic.source.clone(),
            line: diagnostic.line,
        };
        let prefix = format!("  {severity} ");
        let text = format!("{}: {}", place(&at), diagnostic.message);
        style.line(out, &prefix, &text, 10);
    }
    if diagnostics.len() > MAX_DIAGNOSTICS_SHOWN {
        let _ = writeln!(
            out,
            "  … and {} more (`astro-upgrade inspect FILE…` shows them all)",
            diagnostics.len() - MAX_DIAGNOSTICS_SHOWN
        );
    }
}

/// The acknowledgements the open findings ask for, as flags.
fn missing_acks(report: &Report, invocation: &Invocation) -> Vec<&'static str> {
    let open = |check: &str| {
        report
            .finding(check)
            .is_some_and(|f| matches!(f.status, Status::Unknown | Status::Fail))
    };
    let mut flags = Vec::new();
    if open("system-admin") {
        flags.push("--ack system-admin");
    }
    if open("database-backup") {
        flags.push("--ack database-backup=BACKUP_REF");
    }
    if invocation.air_gapped && open("egress-or-mirror") {
        flags.push("--ack mirrors=REGISTRY");
    }
    flags
}

fn next_step(out: &mut String, report: &Report, invocation: &Invocation, style: Style) {
    let _ = writeln!(
        out,
        "\n{}",
        style.dim("FAIL and UNKNOWN block the upgrade; WARN does not.")
    );
    let _ = writeln!(out, "\n{}", style.bold("Next step:"));
    let acks = missing_acks(report, invocation);
    let with_acks = |command: &str| {
        if acks.is_empty() {
            command.to_string()
        } else {
            format!("{command} {}", acks.join(" "))
        }
    };
    match report.verdict {
        Verdict::Go => {
            match count(report, Status::Warn) {
                0 => {}
                1 => {
                    let _ = writeln!(
                        out,
                        "  Read the WARN above first: it does not block, but says what to watch."
                    );
                }
                n => {
                    let _ = writeln!(out, "  Read the {n} WARNs above first: they do not block, but say what to watch.");
                }
            }
            let plan_file = match &invocation.plan_written {
                Some(plan) => {
                    let _ = writeln!(
                        out,
                        "  Have a second person review the plan; its first step downloads the manifests."
                    );
                    plan.clone()
                }
                None => {
                    let _ = writeln!(
                        out,
                        "  Write the plan and have a second person review it; its first step downloads\n  the manifests:\n    {} --out plan.json --markdown plan.md",
                        invocation.plan_command
                    );
                    "plan.json".to_string()
                }
            };
            let _ = writeln!(
                out,
                "  Then apply it:\n    astro-upgrade apply --plan {plan_file} --manifest upgrade-0.16-to-0.23.yaml \\\n        --rollback-manifest rollback-0.16-to-0.23.yaml --auto-rollback"
            );
        }
        Verdict::Incomplete => {
            let unknown = match count(report, Status::Unknown) {
                1 => "1 required check is".to_string(),
                n => format!("{n} required checks are"),
            };
            let _ = writeln!(
                out,
                "  Nothing fails, but {unknown} UNKNOWN. Paste what each `fix:` line asks for"
            );
            if acks.is_empty() {
                let _ = writeln!(out, "  and run the check again:");
            } else {
                let _ = writeln!(
                    out,
                    "  and give the acknowledgements only you can give ({}), then run:",
                    acks.join(", ")
                );
            }
            let _ = writeln!(out, "    {}", with_acks(&invocation.check_command));
        }
        Verdict::NoGo => {
            let _ = writeln!(
                out,
                "  Fix every FAIL above (its `fix:` line says how), paste the new output and run:\n    {}",
                with_acks(&invocation.check_command)
            );
            if invocation.plan_written.is_none() {
                let _ = writeln!(
                    out,
                    "  To show a reviewer why the upgrade is blocked, write the plan anyway:\n    {} --out plan.json --markdown plan.md",
                    invocation.plan_command
                );
            }
        }
    }
}

/// JUnit XML, one test case per check id: the planner's, which the fleet's suites share.
pub fn junit(report: &Report) -> String {
    planner::junit::report_junit(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_wrap_under_their_column_on_a_terminal() {
        let style = Style {
            colour: true,
            width: Some(40),
        };
        let mut out = String::new();
        let prefix = format!("{}  id  ", style.status(Status::Fail));
        let text = "one two three four five six seven eight nine ten eleven twelve";
        style.line(&mut out, &prefix, text, 13);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines.len() > 1, "{out}");
        assert!(lines.iter().all(|line| visible_width(line) <= 40), "{out}");
        for line in &lines[1..] {
            assert!(line.starts_with(&" ".repeat(13)), "{out}");
        }
        let rejoined = out.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(rejoined.ends_with(text), "no word lost: {out}");
    }

    #[test]
    fn piped_output_keeps_each_line_whole() {
        let style = Style {
            colour: false,
            width: None,
        };
        let mut out = String::new();
        let text = "word ".repeat(100);
        style.line(&mut out, "PASS  id  ", &text, 10);
        assert_eq!(out.lines().count(), 1);
    }

    #[test]
    fn a_finding_with_many_items_shows_ten_and_counts_the_rest() {
        let items: Vec<planner::report::Item> = (0..25)
            .map(|i| planner::report::Item {
                subject: format!("astronomer/pod-{i:02}"),
                status: Status::Fail,
                message: "CrashLoopBackOff".into(),
                evidence: vec![At {
                    source: "pods.txt".into(),
                    line: Some(i + 2),
                }],
            })
            .collect();
        let report = Report {
            schema_version: planner::report::REPORT_SCHEMA_VERSION,
            verdict: Verdict::NoGo,
            findings: vec![Finding {
                check: "pod-health".into(),
                status: Status::Fail,
                message: "25 of 25 pods are not healthy".into(),
                remedy: None,
                evidence: items.iter().flat_map(|i| i.evidence.clone()).collect(),
                items,
            }],
            diagnostics: Vec::new(),
        };
        let invocation = Invocation {
            evidence: vec!["pods.txt".into()],
            check_command: "astro-upgrade check".into(),
            plan_command: "astro-upgrade plan".into(),
            air_gapped: false,
            plan_written: None,
        };
        let style = Style {
            colour: false,
            width: None,
        };
        let text = human(&report, &invocation, style);
        let listed: Vec<&str> = text
            .lines()
            .filter(|line| line.contains("- FAIL astronomer/pod-"))
            .collect();
        assert_eq!(listed.len(), 10, "{text}");
        assert!(listed[9].contains("pod-09"), "{text}");
        assert!(
            text.contains("- … and 15 more (all are in `--output json`)"),
            "{text}"
        );
        let json = json(&report).unwrap();
        assert!(json.contains("astronomer/pod-24"), "JSON keeps every item");
    }
}
