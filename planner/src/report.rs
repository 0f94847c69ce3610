//! Findings and the verdict: the serialisable output of the rules.

use serde::{Deserialize, Serialize};

use crate::facts::{At, Diagnostic};

pub const REPORT_SCHEMA_VERSION: u32 = 1;

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

/// Masks credentials in free text (a diagnostic may quote the line it could not read):
/// the user and password of `scheme://user:password@host`, `Bearer` tokens, JWTs and
/// `password=`/`token:`-style values. Readers drop secrets at once; this is the last guard
/// before anything is written into a report or a plan. The placeholders remedies use
/// (`USER:PASSWORD`) are kept.
pub fn redact_secrets(text: &str) -> String {
    use regex_lite::{Captures, Regex};
    use std::sync::OnceLock;
    const PLACEHOLDERS: [&str; 3] = ["USER:PASSWORD", "USERNAME:PASSWORD", "USERNAME:$PASSWORD"];
    static URL_CREDENTIALS: OnceLock<Option<Regex>> = OnceLock::new();
    static PATTERNS: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    let url_credentials =
        URL_CREDENTIALS.get_or_init(|| Regex::new(r"([A-Za-z][A-Za-z0-9+.-]*://)([^\s/@]*)@").ok());
    let patterns = PATTERNS.get_or_init(|| {
        [
            (r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+", "${1} ***"),
            (r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+\.?[A-Za-z0-9_-]*", "***"),
            (
                r#"(?i)\b(password|passwd|pwd|token|secret|client-key-data|client-certificate-data)(["']?\s*[:=]\s*["']?)[^\s"',;]+"#,
                "${1}${2}***",
            ),
        ]
        .into_iter()
        .filter_map(|(pattern, replacement)| Regex::new(pattern).ok().map(|re| (re, replacement)))
        .collect()
    });
    let mut text = text.to_string();
    if let Some(url) = url_credentials.as_ref().filter(|re| re.is_match(&text)) {
        text = url
            .replace_all(&text, |caps: &Captures| {
                if PLACEHOLDERS.contains(&&caps[2]) {
                    caps[0].to_string()
                } else {
                    format!("{}***@", &caps[1])
                }
            })
            .into_owned();
    }
    for (pattern, replacement) in patterns {
        if pattern.is_match(&text) {
            text = pattern.replace_all(&text, *replacement).into_owned();
        }
    }
    text
}
