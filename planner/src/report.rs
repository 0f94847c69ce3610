//! Findings and the verdict: the serialisable output of the rules.

use serde::{Deserialize, Serialize};

use crate::facts::{At, Diagnostic};

pub const REPORT_SCHEMA_VERSION: u32 = 1;

/// How many names (pods, rights, StorageClasses) a message lists, and how many items or
/// evidence lines a human or Markdown report shows, before "and N more": a 100,000-pod paste
/// must not bury the verdict under thousands of names. The JSON report and plan carry every
/// item ([`Finding::items`]).
pub const NAMES_SHOWN: usize = 10;

/// `a, b, c`, or past [`NAMES_SHOWN`] names the first ones and `and N more`.
pub fn name_list<S: AsRef<str>>(names: &[S], separator: &str) -> String {
    let mut text = names
        .iter()
        .take(NAMES_SHOWN)
        .map(AsRef::as_ref)
        .collect::<Vec<&str>>()
        .join(separator);
    if names.len() > NAMES_SHOWN {
        text.push_str(&format!(" and {} more", names.len() - NAMES_SHOWN));
    }
    text
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Unknown,
    Fail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Verdict {
    #[serde(rename = "GO")]
    Go,
    #[serde(rename = "NO-GO")]
    NoGo,
    #[serde(rename = "INCOMPLETE")]
    Incomplete,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Go => "GO",
            Verdict::NoGo => "NO-GO",
            Verdict::Incomplete => "INCOMPLETE",
        }
    }
}

/// A pointer to the evidence line a finding stands on.
pub type EvidenceRef = At;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The stable check id (`kubernetes-version`, `pod-health`, …).
    pub check: String,
    pub status: Status,
    /// One line in plain words.
    pub message: String,
    /// The exact command or action that fixes it.
    pub remedy: Option<String>,
    pub evidence: Vec<EvidenceRef>,
    /// Per-object results (one per pod, image, permission…); the finding's status is the worst of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub subject: String,
    pub status: Status,
    pub message: String,
    pub evidence: Vec<EvidenceRef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
    #[serde(default)]
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    /// The ids of the failing checks, in check order.
    pub fn failing_checks(&self) -> Vec<&str> {
        self.findings
            .iter()
            .filter(|f| f.status == Status::Fail)
            .map(|f| f.check.as_str())
            .collect()
    }

    /// The finding of one check id.
    pub fn finding(&self, check: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.check == check)
    }
}

/// Masks credentials in free text (a diagnostic may quote the line it could not read) with
/// `***`: see [`crate::secrets`]; of a URL, the user goes with the password. Readers drop
/// secrets at once; this is the last guard before anything is written into a report or a plan.
pub fn redact_secrets(text: &str) -> String {
    crate::secrets::mask(text, "***", crate::secrets::UrlUser::Hide).into_owned()
}
