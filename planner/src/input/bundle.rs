//! The evidence bundle written by `astro-upgrade collect`:
//! `{"astro_upgrade_bundle": 1, "collected_at": "…", "context": "…", "facts": <Facts>}`.

use serde::Deserialize;

use crate::facts::{Diagnostic, Facts, Severity};
use crate::input::text;

/// The bundle format this planner writes and reads.
pub const BUNDLE_FORMAT: u32 = 1;

/// What the reader takes from a bundle; its other keys (`collected_at`, `context`) are ignored.
#[derive(Deserialize)]
struct Bundle {
    astro_upgrade_bundle: u32,
    facts: Facts,
}

/// Reads `text`, whose first line is line `first_line` of the source `name`; `command` is the
/// command line that printed it, when the paste showed one.
///
/// One unreadable value rejects the whole bundle: keeping the rest could drop a crashing pod
/// or a denied permission and turn a NO-GO into a GO, and an error diagnostic does not change
/// the verdict. The diagnostic names the line and column serde_json stopped at (`collect`
/// writes one value per line, so the line is the field's) and serde's reason, which names a
/// missing field or the type a value should have had.
pub fn read(name: &str, text: &str, first_line: u32, command: Option<&str>) -> Facts {
    let _ = command;
    let bundle = match serde_json::from_str::<Bundle>(text) {
        Ok(bundle) => bundle,
        Err(error) => return unreadable(name, text, first_line, &error),
    };
    let mut facts = bundle.facts;
    let format = bundle.astro_upgrade_bundle;
    if format != BUNDLE_FORMAT {
        facts.diagnostics.push(Diagnostic {
            source: name.to_string(),
            line: Some(first_line),
            severity: Severity::Warning,
            message: format!(
                "bundle format {format} is not the format {BUNDLE_FORMAT} this planner knows; read it as best it could"
            ),
        });
    }
    facts
}

/// The kubeconfig context a bundle was collected from (its `context` field), when it names one:
/// the page names a dropped bundle's row by it. Not a bundle, or no context: `None`.
pub fn context(text: &str) -> Option<String> {
    let value = serde_json::from_str::<serde_json::Value>(text).ok()?;
    value.get("astro_upgrade_bundle")?;
    let context = value.get("context")?.as_str()?.trim();
    (!context.is_empty()).then(|| context.to_string())
}

/// The bundle is not JSON, or a value in it is not what [`Facts`] holds there: the diagnostic
/// names the line and column serde_json stopped at.
fn unreadable(name: &str, text: &str, first_line: u32, error: &serde_json::Error) -> Facts {
    let mut facts = Facts::default();
    let line = u32::try_from(error.line()).unwrap_or(u32::MAX).max(1) - 1;
    let line = first_line
        .saturating_add(line)
        .min(text::last_line(text, first_line));
    facts.diagnostics.push(Diagnostic {
        source: name.to_string(),
        line: (!text.is_empty()).then_some(line),
        severity: Severity::Error,
        message: format!("not a readable astro-upgrade bundle: {error}"),
    });
    facts
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
