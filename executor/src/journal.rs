//! The journal: every step of an apply or rollback as one JSON line in a local file, mirrored
//! (best effort) to the ConfigMap `astro-upgrade-journal` in `default` so that `status` and a
//! re-run on another machine can see where things stand.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

pub const DEFAULT_PATH: &str = "astro-upgrade-journal.jsonl";
pub const CONFIG_MAP: &str = "astro-upgrade-journal";
pub const CONFIG_MAP_KEY: &str = "journal.jsonl";
/// Keeps the mirrored ConfigMap far below the 1 MiB object limit.
const MIRROR_MAX_BYTES: usize = 512 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub ts: String,
    pub step: String,
    pub event: String,
    #[serde(default)]
    pub detail: serde_json::Value,
}

pub struct Journal {
    path: PathBuf,
    file: File,
}

impl Journal {
    pub fn open(path: Option<&Path>) -> anyhow::Result<Journal> {
        let path = path
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_PATH));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open the journal {}", path.display()))?;
        Ok(Journal { path, file })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one entry and flushes it, so that a crash right after a step still leaves it recorded.
    pub fn append(
        &mut self,
        step: &str,
        event: &str,
        detail: serde_json::Value,
    ) -> anyhow::Result<Entry> {
        let entry = Entry {
            ts: now_rfc3339(),
            step: step.to_string(),
            event: event.to_string(),
            detail: without_secrets(detail),
        };
        let mut line = serde_json::to_string(&entry)?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.sync_data())
            .with_context(|| format!("cannot write the journal {}", self.path.display()))?;
        Ok(entry)
    }

    /// The text to mirror: the newest whole lines that fit the ConfigMap budget.
    pub fn mirror_text(&self) -> anyhow::Result<String> {
        let text = std::fs::read_to_string(&self.path)
            .with_context(|| format!("cannot read the journal {}", self.path.display()))?;
        Ok(tail_within(&text, MIRROR_MAX_BYTES).to_string())
    }
}

/// Reads every well-formed entry of a journal file; lines that do not parse are skipped (a line
/// cut short by a crash must not hide the rest).
/// `value` with every string masked by the planner's secret scanner: an upgrader message or a log
/// line may quote a credential (a Helm repository URL with a password), and what is journaled,
/// mirrored to the cluster or printed keeps none.
pub fn without_secrets(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(text) => Value::String(planner::report::redact_secrets(&text)),
        Value::Array(items) => Value::Array(items.into_iter().map(without_secrets).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| (key, without_secrets(value)))
                .collect(),
        ),
        other => other,
    }
}

pub fn read(path: &Path) -> anyhow::Result<Vec<Entry>> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => {
            return Err(err).with_context(|| format!("cannot read the journal {}", path.display()))
        }
    };
    Ok(parse_lines(
        BufReader::new(file).lines().map_while(Result::ok),
    ))
}

pub fn parse_lines(lines: impl IntoIterator<Item = String>) -> Vec<Entry> {
    lines
        .into_iter()
        .filter_map(|line| serde_json::from_str(&line).ok())
        .collect()
}

fn tail_within(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let start = text.len() - max;
    match text[start..].find('\n') {
        Some(newline) => &text[start + newline + 1..],
        None => "",
    }
}

/// Now, as RFC 3339 UTC to the second: journal entries, progress events, bundles and the plan's
/// `created_at` (the planner has no clock).
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map(|ts| ts.to_string())
        .unwrap_or_else(|_| jiff::Timestamp::now().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_a_reopen_and_a_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut journal = Journal::open(Some(&path)).unwrap();
        journal
            .append("apply", "started", serde_json::json!({"plan": "abc"}))
            .unwrap();
        drop(journal);
        let mut journal = Journal::open(Some(&path)).unwrap();
        journal
            .append("upgrade-job", "created", serde_json::Value::Null)
            .unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"ts\":\"2026-")
            .unwrap();

        let entries = read(&path).unwrap();
        let steps: Vec<_> = entries
            .iter()
            .map(|e| (e.step.as_str(), e.event.as_str()))
            .collect();
        assert_eq!(
            steps,
            [("apply", "started"), ("upgrade-job", "created")],
            "the torn line is skipped, the whole ones kept"
        );
        assert_eq!(entries[0].detail["plan"], "abc");
    }

    #[test]
    fn no_credential_reaches_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut journal = Journal::open(Some(&path)).unwrap();
        journal
            .append(
                "upgrader",
                "assessed",
                serde_json::json!({
                    "message": "helm repo add a https://robot:hunter2-pw@charts.corp failed",
                    "nested": [{"line": "PGPASSWORD='s3 cr;et' psql -h db"}],
                    "count": 3,
                }),
            )
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains("cr;et"), "{text}");
        assert!(text.contains("charts.corp"), "{text}");
        assert!(text.contains("\"count\":3"), "{text}");
    }

    #[test]
    fn a_missing_journal_reads_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(&dir.path().join("none.jsonl")).unwrap().is_empty());
    }

    #[test]
    fn the_mirror_keeps_the_newest_whole_lines() {
        let text = "aaaa\nbbbb\ncccc\n";
        assert_eq!(tail_within(text, 100), text);
        assert_eq!(tail_within(text, 7), "cccc\n");
    }
}
