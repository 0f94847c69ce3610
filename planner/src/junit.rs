//! JUnit XML for CI gates: one `<testsuite>` per assessed cluster, one `<testcase>` per check.
//! The CLI's `--output junit` (one cluster) and the fleet's (one suite per cluster) both write
//! their suites here, so a check reads the same in either.

use std::fmt::Write as _;

use crate::facts::{At, Severity};
use crate::path::LTS_0_16_TO_0_23;
use crate::render::{evidence_line, place};
use crate::report::{Finding, Report, Status};

/// What a suite is called and what it carries beside its test cases.
pub struct Suite<'a> {
    pub name: &'a str,
    /// Each test case's `classname`: CI systems group and name cases by it.
    pub classname: &'a str,
    /// `<property>` name/value pairs (the verdict first).
    pub properties: &'a [(&'a str, &'a str)],
}

/// The `<testsuites>` document around `suites`, each a report with how to name it.
pub fn document(suites: &[(Suite<'_>, &Report)]) -> String {
    let tests: usize = suites.iter().map(|(_, report)| report.findings.len()).sum();
    let failures: usize = suites.iter().map(|(_, report)| failures(report)).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"astro-upgrade\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\">"
    );
    for (suite, report) in suites {
        testsuite(&mut out, suite, report);
    }
    out.push_str("</testsuites>\n");
    out
}

/// One report as JUnit XML: the single-cluster `--output junit`. CI systems gate on failures,
/// so `fail` and `unknown` are both failures (an unknown blocks GO just like a fail); a `warn`
/// passes with its message in `system-out`, and the reader diagnostics go to `system-err`.
pub fn report_junit(report: &Report) -> String {
    let name = format!("astro-upgrade check {}", LTS_0_16_TO_0_23.id);
    let suite = Suite {
        name: &name,
        classname: LTS_0_16_TO_0_23.id,
        properties: &[("verdict", report.verdict.as_str())],
    };
    document(&[(suite, report)])
}

fn failures(report: &Report) -> usize {
    report
        .findings
        .iter()
        .filter(|f| matches!(f.status, Status::Fail | Status::Unknown))
        .count()
}

fn testsuite(out: &mut String, suite: &Suite<'_>, report: &Report) {
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\">",
        xml(suite.name),
        report.findings.len(),
        failures(report)
    );
    out.push_str("    <properties>\n");
    for (name, value) in suite.properties {
        let _ = writeln!(
            out,
            "      <property name=\"{}\" value=\"{}\"/>",
            xml(name),
            xml(value)
        );
    }
    out.push_str("    </properties>\n");
    for finding in &report.findings {
        testcase(out, suite.classname, finding);
    }
    if !report.diagnostics.is_empty() {
        let mut text = String::new();
        for d in &report.diagnostics {
            let at = At {
                source: d.source.clone(),
                line: d.line,
            };
            let severity = match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Info => "info",
            };
            let _ = writeln!(text, "{severity} {}: {}", place(&at), d.message);
        }
        let _ = writeln!(out, "    <system-err>{}</system-err>", xml(&text));
    }
    out.push_str("  </testsuite>\n");
}

fn testcase(out: &mut String, classname: &str, finding: &Finding) {
    let title = LTS_0_16_TO_0_23
        .check(&finding.check)
        .map(|spec| spec.title)
        .unwrap_or("");
    let mut details = String::new();
    let _ = writeln!(details, "{}", finding.message);
    if let Some(remedy) = &finding.remedy {
        let _ = writeln!(details, "fix: {remedy}");
    }
    for item in &finding.items {
        let at = item.evidence.first().map(place).unwrap_or_default();
        let _ = writeln!(
            details,
            "- {} {}: {} ({at})",
            status_word(item.status),
            item.subject,
            item.message
        );
    }
    if !finding.evidence.is_empty() {
        let _ = writeln!(details, "evidence: {}", evidence_line(&finding.evidence));
    }
    let _ = writeln!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\">",
        xml(classname),
        xml(&finding.check)
    );
    let status = status_word(finding.status);
    match finding.status {
        Status::Fail | Status::Unknown => {
            let _ = writeln!(
                out,
                "      <failure type=\"{status}\" message=\"{}\">{}</failure>",
                xml(&format!("{status}: {}", finding.message)),
                xml(&details)
            );
        }
        Status::Warn | Status::Pass => {
            let _ = writeln!(
                out,
                "      <system-out>{}</system-out>",
                xml(&format!("{status} ({title}): {details}"))
            );
        }
    }
    out.push_str("    </testcase>\n");
}

pub(crate) fn status_word(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::Warn => "warn",
        Status::Unknown => "unknown",
        Status::Fail => "fail",
    }
}

/// Text for XML content and attributes: markup escaped, and the characters XML 1.0 forbids
/// (pasted ANSI escapes, NULs) replaced, so the document always parses.
pub fn xml(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            '\t' | '\n' | '\r' => escaped.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                escaped.push(char::REPLACEMENT_CHARACTER)
            }
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_markup_and_forbidden_characters() {
        assert_eq!(
            xml("a<b & \"c\" \x1b[31m"),
            "a&lt;b &amp; &quot;c&quot; \u{FFFD}[31m"
        );
    }
}
