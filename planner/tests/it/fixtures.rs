//! Fixture corpus: every `tests/fixtures/<kind>/<case>.txt` is read with `read_source` and
//! compared with `<case>.json` beside it.
//!
//! The comparison is a projection: the expectation names only the keys it cares about. Objects
//! compare only the expected keys; arrays must match in length and order. Two extra keys:
//! - `"diagnostics_include"`: each entry must match some diagnostic (`message` by substring).
//! - `"diagnostics_exclude_severity"`: no diagnostic may have one of these severities.
//!
//! The folder names the kind (`EvidenceKind::parse`); the folder `auto` reads with no kind, so
//! the content decides.

use std::fs;
use std::path::{Path, PathBuf};

use planner::input::{read_source, text, EvidenceKind, Source};
use serde_json::Value;

fn fixture_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Every fixture case: (folder, case file, kind).
fn cases() -> Vec<(String, PathBuf, Option<EvidenceKind>)> {
    let mut cases = Vec::new();
    let mut folders: Vec<_> = fs::read_dir(fixture_root())
        .expect("tests/fixtures exists")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    for folder in folders {
        let folder_name = folder.file_name().unwrap().to_string_lossy().into_owned();
        let kind =
            if folder_name == "auto" {
                None
            } else {
                Some(EvidenceKind::parse(&folder_name).unwrap_or_else(|| {
                    panic!("fixture folder {folder_name} is not an evidence kind")
                }))
            };
        let mut files: Vec<_> = fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "txt"))
            .collect();
        files.sort();
        for file in files {
            cases.push((folder_name.clone(), file, kind));
        }
    }
    cases
}

/// The first difference between `expected` and `actual` (projection), as "path: expected vs actual".
fn first_difference(path: &str, expected: &Value, actual: &Value) -> Option<String> {
    match (expected, actual) {
        (Value::Object(want), Value::Object(got)) => want.iter().find_map(|(key, want)| {
            let got = got.get(key).unwrap_or(&Value::Null);
            first_difference(&format!("{path}.{key}"), want, got)
        }),
        (Value::Array(want), Value::Array(got)) => {
            if want.len() != got.len() {
                return Some(format!(
                    "{path}: expected {} items, got {}\n  expected: {}\n  actual:   {}",
                    want.len(),
                    got.len(),
                    compact(expected),
                    compact(actual)
                ));
            }
            want.iter()
                .zip(got)
                .enumerate()
                .find_map(|(i, (w, g))| first_difference(&format!("{path}[{i}]"), w, g))
        }
        _ if expected == actual => None,
        _ => Some(format!(
            "{path}:\n  expected: {}\n  actual:   {}",
            compact(expected),
            compact(actual)
        )),
    }
}

fn compact(value: &Value) -> String {
    let s = value.to_string();
    match s.char_indices().nth(600) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s,
    }
}

fn check_diagnostics(expected: &Value, actual: &Value) -> Option<String> {
    let diagnostics = actual["diagnostics"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if let Some(includes) = expected
        .get("diagnostics_include")
        .and_then(Value::as_array)
    {
        for want in includes {
            let found = diagnostics.iter().any(|d| {
                want.as_object()
                    .unwrap()
                    .iter()
                    .all(|(k, v)| match (k.as_str(), v) {
                        ("message", Value::String(part)) => d["message"]
                            .as_str()
                            .is_some_and(|m| m.contains(part.as_str())),
                        _ => d.get(k) == Some(v),
                    })
            });
            if !found {
                return Some(format!(
                    "diagnostics_include: no diagnostic matches {}\n  actual: {}",
                    compact(want),
                    compact(&Value::Array(diagnostics.clone()))
                ));
            }
        }
    }
    if let Some(severities) = expected
        .get("diagnostics_exclude_severity")
        .and_then(Value::as_array)
    {
        if let Some(d) = diagnostics
            .iter()
            .find(|d| severities.contains(&d["severity"]))
        {
            return Some(format!(
                "diagnostics_exclude_severity: found {}",
                compact(d)
            ));
        }
    }
    None
}

/// Every line a fact or diagnostic names must exist in the input.
fn lines_out_of_range(actual: &Value, line_count: u32) -> Option<String> {
    fn walk(value: &Value, path: &str, max: u64, out: &mut Option<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    if k == "line" {
                        if let Some(n) = v.as_u64() {
                            if n == 0 || n > max {
                                out.get_or_insert(format!(
                                    "{path}.line = {n}, input has {max} lines"
                                ));
                            }
                        }
                    }
                    walk(v, &format!("{path}.{k}"), max, out);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(v, &format!("{path}[{i}]"), max, out);
                }
            }
            _ => {}
        }
    }
    let mut out = None;
    walk(actual, "", u64::from(line_count), &mut out);
    out
}

#[test]
fn every_fixture_reads_as_expected() {
    let mut failures = Vec::new();
    let cases = cases();
    assert!(
        cases.len() >= 20,
        "fixture corpus unexpectedly small: {}",
        cases.len()
    );
    for (folder, file, kind) in &cases {
        let case = format!("{folder}/{}", file.file_name().unwrap().to_string_lossy());
        let bytes = fs::read(file).unwrap();
        let input = String::from_utf8_lossy(&bytes).into_owned();
        let expectation_file = file.with_extension("json");
        let Ok(expected_text) = fs::read_to_string(&expectation_file) else {
            failures.push(format!(
                "{case}: missing expectation {}",
                expectation_file.display()
            ));
            continue;
        };
        let expected: Value = match serde_json::from_str(&expected_text) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{case}: bad expectation JSON: {e}"));
                continue;
            }
        };
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let facts = read_source(&Source::new(name, *kind, input.clone()));
        let actual = serde_json::to_value(&facts).unwrap();
        let mut projected = expected.clone();
        if let Value::Object(map) = &mut projected {
            map.remove("diagnostics_include");
            map.remove("diagnostics_exclude_severity");
        }
        let problem = first_difference("", &projected, &actual)
            .or_else(|| check_diagnostics(&expected, &actual))
            .or_else(|| lines_out_of_range(&actual, text::line_count(&input)));
        if let Some(problem) = problem {
            failures.push(format!("{case}: {problem}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn projection_reports_the_first_difference() {
    let expected: Value = serde_json::json!({"pods": [{"name": "a", "healthy": true}]});
    let same: Value = serde_json::json!({"pods": [{"name": "a", "healthy": true, "ready": "1/1"}]});
    let different: Value = serde_json::json!({"pods": [{"name": "a", "healthy": false}]});
    let longer: Value =
        serde_json::json!({"pods": [{"name": "a", "healthy": true}, {"name": "b"}]});
    assert_eq!(first_difference("", &expected, &same), None);
    assert!(first_difference("", &expected, &different)
        .unwrap()
        .starts_with(".pods[0].healthy"));
    assert!(first_difference("", &expected, &longer)
        .unwrap()
        .contains("expected 1 items, got 2"));
}
