//! Readers: pasted terminal output → [`Facts`] plus diagnostics that name the line.
//!
//! Every reader takes the source's name (for evidence pointers) and its text, and never panics
//! or fails hard: what it cannot read becomes a [`Diagnostic`](crate::facts::Diagnostic).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::facts::Facts;

pub mod bundle;
pub mod can_i;
pub mod connection;
pub mod contexts;
pub mod egress;
pub mod helm;
pub(crate) mod image_labels;
pub mod images;
pub mod pods;
pub mod storageclass;
pub mod text;
pub mod transcript;
pub mod version;
pub(crate) mod yaml;

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
    /// In-cluster egress tests (`kubectl run … -- curl -sSI URL`), or `apply`'s probe log.
    Egress,
    /// A whole terminal session: cut into pieces by its command lines.
    Transcript,
    /// A JSON bundle written by `astro-upgrade collect`.
    Bundle,
}

impl EvidenceKind {
    pub const ALL: [EvidenceKind; 12] = [
        EvidenceKind::KubectlVersion,
        EvidenceKind::Pods,
        EvidenceKind::CanI,
        EvidenceKind::Images,
        EvidenceKind::HelmList,
        EvidenceKind::HelmHistory,
        EvidenceKind::StorageClass,
        EvidenceKind::Contexts,
        EvidenceKind::Connection,
        EvidenceKind::Egress,
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
            EvidenceKind::Egress => "egress",
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
///
/// A typed source that still shows command lines (`$ kubectl get pods -n astronomer`) is cut at
/// them like a transcript, so the command's namespace and flags are not lost; pieces whose
/// command tells nothing are read as the given kind.
pub fn read_source(source: &Source) -> Facts {
    let (name, text) = (source.name.as_str(), source.text.as_str());
    let wished = text::without_expected_sections(text);
    let text = wished.as_deref().unwrap_or(text);
    match source.kind {
        Some(EvidenceKind::Bundle) => bundle::read(name, text, 1, None),
        Some(EvidenceKind::Transcript) => transcript::read(name, text, 1, None),
        Some(kind) => transcript::read_with_hint(name, text, 1, Some(kind)),
        None if bundle::sniff(text) >= 90 => bundle::read(name, text, 1, None),
        None => transcript::read_with_hint(name, text, 1, None),
    }
}

/// Reads `text` with the reader of `kind`; `text` starts at line `first_line` of `name`.
pub fn read_as(
    kind: EvidenceKind,
    name: &str,
    text: &str,
    first_line: u32,
    command: Option<&str>,
) -> Facts {
    let reader = match kind {
        EvidenceKind::KubectlVersion => version::read,
        EvidenceKind::Pods => pods::read,
        EvidenceKind::CanI => can_i::read,
        EvidenceKind::Images => images::read,
        EvidenceKind::HelmList | EvidenceKind::HelmHistory => helm::read,
        EvidenceKind::StorageClass => storageclass::read,
        EvidenceKind::Contexts => contexts::read,
        EvidenceKind::Connection => connection::read,
        EvidenceKind::Egress => egress::read,
        EvidenceKind::Transcript => transcript::read,
        EvidenceKind::Bundle => bundle::read,
    };
    reader(name, text, first_line, command)
}

/// The value at `path` (`/metadata/name`: object keys only), found as `Value::pointer` finds
/// it but without its `~0`/`~1` unescaping, whose `str::replace` the page would otherwise ship.
pub(crate) fn json_at<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('/')
        .skip(1)
        .try_fold(value, |found, key| found.get(key))
}

/// How much of a paste content recognition looks at: its head tells what it is, and sniffing
/// a 10,000-row table whole would cost more than reading it.
const SNIFF_HEAD_BYTES: usize = 8 * 1024;

/// The first [`SNIFF_HEAD_BYTES`] of `text`, cut at a line end when there is one.
fn sniff_head(text: &str) -> &str {
    if text.len() <= SNIFF_HEAD_BYTES {
        return text;
    }
    let mut cut = SNIFF_HEAD_BYTES;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let head = &text[..cut];
    head.rfind('\n').map_or(head, |end| &head[..end])
}

/// A reader's content recogniser: confidence 0..=100 that a text is its input.
type Sniffer = fn(&str) -> u32;

/// The reader whose `sniff` is most confident about `text`, with its confidence (0..=100).
/// Transcripts and bundles are not candidates: they are recognised before sniffing.
pub fn sniff(text: &str) -> (EvidenceKind, u32) {
    let candidates: [(EvidenceKind, Sniffer); 9] = [
        (EvidenceKind::KubectlVersion, version::sniff),
        (EvidenceKind::Pods, pods::sniff),
        (EvidenceKind::CanI, can_i::sniff),
        (EvidenceKind::HelmList, helm::sniff),
        (EvidenceKind::StorageClass, storageclass::sniff),
        (EvidenceKind::Contexts, contexts::sniff),
        (EvidenceKind::Connection, connection::sniff),
        (EvidenceKind::Egress, egress::sniff),
        (EvidenceKind::Images, images::sniff),
    ];
    let head = sniff_head(text);
    let mut best = (EvidenceKind::Images, 0);
    for (kind, sniff) in candidates {
        let score = sniff(head);
        if score > best.1 {
            best = (kind, score);
        }
    }
    best
}
