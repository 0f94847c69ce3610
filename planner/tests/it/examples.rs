//! Every bundle in `examples/` through the readers and rules: the verdict and the exact set of
//! failing checks must match its `expected.json`, and no password of the bundle reaches the plan.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use planner::{Acknowledgements, EvidenceKind, Source};

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

struct Example {
    name: String,
    sources: Vec<Source>,
    acks: Acknowledgements,
    verdict: String,
    failing: BTreeSet<String>,
}

fn load(dir: &Path) -> Example {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("expected.json")).expect("expected.json"),
    )
    .expect("expected.json is JSON");
    let mut acks = Acknowledgements::default();
    for ack in expected["acks"].as_array().expect("acks") {
        acks.parse_ack(ack.as_str().unwrap()).expect("valid ack");
    }
    acks.air_gapped = expected["air_gapped"].as_bool().expect("air_gapped");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    let sources = files
        .iter()
        .map(|file| {
            let file_name = file.file_name().unwrap().to_string_lossy().into_owned();
            let kind = EvidenceKind::from_file_name(&file_name);
            assert!(
                kind.is_some(),
                "{name}/{file_name}: not a paste-dir file name"
            );
            Source::new(file_name, kind, std::fs::read_to_string(file).unwrap())
        })
        .collect();
    Example {
        name,
        sources,
        acks,
        verdict: expected["verdict"].as_str().unwrap().to_string(),
        failing: expected["failing_checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect(),
    }
}

fn all_examples() -> Vec<Example> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .expect("examples/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("expected.json").is_file())
        .collect();
    dirs.sort();
    dirs.iter().map(|d| load(d)).collect()
}

#[test]
fn every_example_has_its_expected_verdict_and_failing_checks() {
    let examples = all_examples();
    assert!(examples.len() >= 22, "only {} examples", examples.len());
    let mut mismatches = Vec::new();
    for example in &examples {
        let (_, report) = planner::check(&example.sources, &example.acks, &[]);
        let failing: BTreeSet<String> = report
            .failing_checks()
            .into_iter()
            .map(str::to_string)
            .collect();
        if report.verdict.as_str() != example.verdict || failing != example.failing {
            let open: Vec<String> = report
                .findings
                .iter()
                .filter(|f| f.status != planner::Status::Pass)
                .map(|f| format!("    {} {:?}: {}", f.check, f.status, f.message))
                .collect();
            mismatches.push(format!(
                "{}: expected {} {:?}, got {} {:?}\n{}",
                example.name,
                example.verdict,
                example.failing,
                report.verdict.as_str(),
                failing,
                open.join("\n")
            ));
        }
    }
    assert!(mismatches.is_empty(), "\n{}", mismatches.join("\n"));
}

#[test]
fn examples_cover_go_incomplete_and_every_broken_case() {
    let examples = all_examples();
    let verdict_of = |name: &str| {
        examples
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("example {name} missing"))
            .verdict
            .clone()
    };
    assert_eq!(verdict_of("healthy-0.16"), "GO");
    assert_eq!(verdict_of("transcript-0.16"), "GO");
    assert_eq!(verdict_of("healthy-gke-json"), "GO");
    assert_eq!(verdict_of("known-crashing-acknowledged"), "GO");
    assert_eq!(verdict_of("air-gapped-with-mirrors"), "GO");
    assert_eq!(verdict_of("incomplete-no-acks"), "INCOMPLETE");
    assert_eq!(verdict_of("connection-refused"), "INCOMPLETE");
    assert_eq!(verdict_of("platform-release-hidden"), "INCOMPLETE");
    assert_eq!(verdict_of("k8s-1.15-warning"), "GO");
    for broken in [
        "k8s-1.19",
        "k8s-1.13",
        "already-0.23",
        "still-0.15",
        "pending-upgrade",
        "uncertified-image",
        "airflow-1.10.4",
        "missing-can-i",
        "crashing-pods",
        "no-default-storageclass",
        "postgresql-scheme",
        "air-gapped-no-mirrors",
        "helm2-release",
    ] {
        assert_eq!(verdict_of(broken), "NO-GO", "{broken}");
    }
}

#[test]
fn no_example_password_reaches_a_plan() {
    for example in all_examples() {
        let plan = planner::make_plan(
            &example.sources,
            &example.acks,
            &Default::default(),
            &[],
            "2026-11-27T16:00:00Z",
        );
        let json = serde_json::to_string(&plan).unwrap();
        let markdown = plan.to_markdown();
        // Neither the password nor the line that carries it (perhaps base64) is kept.
        let secret_lines: Vec<&str> = example
            .sources
            .iter()
            .filter(|s| s.name == "connection.txt")
            .flat_map(|s| s.text.lines())
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('$'))
            .collect();
        for text in [&json, &markdown] {
            assert!(!text.contains("S3cr3t-Example"), "{}", example.name);
            for line in &secret_lines {
                assert!(!text.contains(line), "{}: {line}", example.name);
            }
        }
        assert!(plan.verify_digest(), "{}", example.name);
    }
}

#[test]
fn every_evidence_pointer_names_a_real_line() {
    for example in all_examples() {
        let (_, report) = planner::check(&example.sources, &example.acks, &[]);
        let pointers = report.findings.iter().flat_map(|f| {
            f.evidence
                .iter()
                .chain(f.items.iter().flat_map(|i| i.evidence.iter()))
                .map(move |at| (f.check.as_str(), at))
        });
        for (check, at) in pointers {
            let source = example
                .sources
                .iter()
                .find(|s| s.name == at.source)
                .unwrap_or_else(|| panic!("{}: {check} cites unknown source {at:?}", example.name));
            if let Some(line) = at.line {
                let lines = source.text.lines().count() as u32;
                assert!(
                    (1..=lines).contains(&line),
                    "{}: {check} cites {}:{line} of {lines} lines",
                    example.name,
                    at.source
                );
            }
        }
    }
}
