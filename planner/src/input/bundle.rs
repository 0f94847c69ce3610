//! The evidence bundle written by `astro-upgrade collect`:
//! `{"astro_upgrade_bundle": 1, "collected_at": "…", "context": "…", "facts": <Facts>}`.

use serde::Deserialize;

use crate::facts::{Diagnostic, Facts, Severity};
use crate::input::text;

/// The bundle format this planner writes and reads.
pub const BUNDLE_FORMAT: u32 = 1;

#[derive(Deserialize)]
struct Bundle {
    astro_upgrade_bundle: u32,
    facts: Facts,
}

/// Reads `text`, whose first line is line `first_line` of the source `name`; `command` is the
/// command line that printed it, when the paste showed one.
pub fn read(name: &str, text: &str, first_line: u32, command: Option<&str>) -> Facts {
    let _ = command;
    match serde_json::from_str::<Bundle>(text) {
        Ok(bundle) => {
            let mut facts = bundle.facts;
            if bundle.astro_upgrade_bundle != BUNDLE_FORMAT {
                facts.diagnostics.push(Diagnostic {
                    source: name.to_string(),
                    line: Some(first_line),
                    severity: Severity::Warning,
                    message: format!(
                        "bundle format {} is not the format {BUNDLE_FORMAT} this planner knows; read it as best it could",
                        bundle.astro_upgrade_bundle
                    ),
                });
            }
            facts
        }
        Err(error) => {
            let mut facts = Facts::default();
            let line = u32::try_from(error.line()).unwrap_or(u32::MAX).max(1) - 1;
            let line = first_line
                .saturating_add(line)
                .min(text::last_line(text, first_line));
            facts.diagnostics.push(Diagnostic {
                source: name.to_string(),
                line: (!text.is_empty()).then_some(line),
                severity: Severity::Error,
                message: format!(
                    "not a readable astro-upgrade bundle (line {}, column {}): {error}",
                    error.line(),
                    error.column()
                ),
            });
            facts
        }
    }
}

/// How strongly `text` looks like this reader's input, 0 (not at all) to 100 (certainly).
pub fn sniff(text: &str) -> u32 {
    let trimmed = text.trim_start();
    let head = trimmed.get(..4000).unwrap_or(trimmed);
    if trimmed.starts_with('{') && head.contains("\"astro_upgrade_bundle\"") {
        100
    } else {
        0
    }
}
