//! Readers: pasted terminal output → [`Facts`] plus diagnostics that name the line.
//!
//! Every reader takes the source's name (for evidence pointers) and its text, and never panics
//! or fails hard: what it cannot read becomes a [`Diagnostic`](crate::facts::Diagnostic).

use serde::{Deserialize, Serialize};

use crate::facts::Facts;

pub mod bundle;
pub mod can_i;
pub mod connection;
pub mod contexts;
pub mod helm;
pub mod images;
pub mod pods;
pub mod storageclass;
pub mod text;
pub mod transcript;
pub mod version;

/// One piece of pasted evidence: a file of a paste folder, a box of the page, or a whole transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// Shown in evidence pointers: a file name (`pods.txt`) or a box name.
    pub name: String,
    /// What the text is; `None` lets the content decide.
    pub kind: Option<EvidenceKind>,
    pub text: String,
}

impl Source {
    pub fn new(
        name: impl Into<String>,
        kind: Option<EvidenceKind>,
        text: impl Into<String>,
    ) -> Self {
        Source {
            name: name.into(),
            kind,
            text: text.into(),
        }
    }
}

/// The kinds of evidence the readers understand. The kebab-case names are used on the
/// command line (`--input pods=FILE`, `inspect --as pods`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EvidenceKind {
    KubectlVersion,
    Pods,
    CanI,
    Images,
    HelmList,
    HelmHistory,
    StorageClass,
    Contexts,
    Connection,
    /// A whole terminal session: cut into pieces by its command lines.
    Transcript,
    /// A JSON bundle written by `astro-upgrade collect`.
    Bundle,
}

impl EvidenceKind {
    pub const ALL: [EvidenceKind; 11] = [
        EvidenceKind::KubectlVersion,
        EvidenceKind::Pods,
        EvidenceKind::CanI,
        EvidenceKind::Images,
        EvidenceKind::HelmList,
        EvidenceKind::HelmHistory,
        EvidenceKind::StorageClass,
        EvidenceKind::Contexts,
        EvidenceKind::Connection,
        EvidenceKind::Transcript,
        EvidenceKind::Bundle,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::KubectlVersion => "kubectl-version",
            EvidenceKind::Pods => "pods",
            EvidenceKind::CanI => "can-i",
            EvidenceKind::Images => "images",
            EvidenceKind::HelmList => "helm-list",
            EvidenceKind::HelmHistory => "helm-history",
            EvidenceKind::StorageClass => "storageclass",
            EvidenceKind::Contexts => "contexts",
            EvidenceKind::Connection => "connection",
            EvidenceKind::Transcript => "transcript",
            EvidenceKind::Bundle => "bundle",
        }
    }

    pub fn parse(s: &str) -> Option<EvidenceKind> {
        EvidenceKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The kind a paste-folder file name implies (`pods.txt` → `Pods`), if any.
    pub fn from_file_name(file_name: &str) -> Option<EvidenceKind> {
        let stem = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
        let stem = stem.split('.').next().unwrap_or(stem);
        EvidenceKind::parse(stem)
    }
}

/// Reads every source and merges what they say. Sources without a kind are recognised by content.
pub fn read_sources(sources: &[Source]) -> Facts {
    let mut facts = Facts::default();
    for source in sources {
        facts.merge(read_source(source));
    }
    facts
}

/// Reads one source with the reader its kind names (or its content suggests).
pub fn read_source(source: &Source) -> Facts {
    let _ = source;
    Facts::default()
}
