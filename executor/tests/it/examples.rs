//! Every bundled example through `check --output json`, with the acknowledgements its
//! `expected.json` lists: the verdict, the set of failing checks and the exit code.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::support::{code, json, run, stderr, workspace_root};

#[derive(Debug, Deserialize)]
struct Expected {
    verdict: String,
    failing_checks: Vec<String>,
    acks: Vec<String>,
    air_gapped: bool,
}

fn exit_code_for(verdict: &str) -> i32 {
    match verdict {
        "GO" => 0,
        "NO-GO" => 3,
        "INCOMPLETE" => 4,
        other => panic!("expected.json names an unknown verdict {other}"),
    }
}

#[test]
fn every_example_gives_its_expected_verdict_failing_checks_and_exit_code() {
    let mut examples: Vec<_> = std::fs::read_dir(workspace_root().join("examples"))
        .expect("examples/ exists")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.join("expected.json").is_file())
        .collect();
    examples.sort();
    assert!(
        examples.len() >= 9,
        "a healthy example and at least eight broken ones: {examples:?}"
    );
    let mut mismatches = Vec::new();
    for dir in &examples {
        let name = dir.file_name().and_then(|n| n.to_str()).expect("name");
        let expected: Expected = serde_json::from_slice(
            &std::fs::read(dir.join("expected.json")).expect("expected.json"),
        )
        .unwrap_or_else(|err| panic!("{name}/expected.json: {err}"));
        let paste = format!("examples/{name}");
        let mut args = vec!["check", "--paste", paste.as_str(), "--output", "json"];
        for ack in &expected.acks {
            args.extend(["--ack", ack.as_str()]);
        }
        if expected.air_gapped {
            args.push("--air-gapped");
        }
        let output = run(&args);
        let report = json(&output);
        let verdict = report["verdict"].as_str().unwrap_or_default().to_string();
        let failing: BTreeSet<String> = report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter(|f| f["status"] == "fail")
            .filter_map(|f| f["check"].as_str().map(str::to_string))
            .collect();
        let expected_failing: BTreeSet<String> = expected.failing_checks.iter().cloned().collect();
        if verdict != expected.verdict
            || failing != expected_failing
            || code(&output) != exit_code_for(&expected.verdict)
        {
            let open: Vec<String> = report["findings"]
                .as_array()
                .expect("findings")
                .iter()
                .filter(|f| f["status"] == "fail" || f["status"] == "unknown")
                .map(|f| format!("{} {}: {}", f["status"], f["check"], f["message"]))
                .collect();
            mismatches.push(format!(
                "{name}: got {verdict} (exit {}) failing {failing:?}, expected {} failing {expected_failing:?}\n    open: {open:#?}\n    stderr: {}",
                code(&output),
                expected.verdict,
                stderr(&output)
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn the_main_job_script_gives_the_acks_the_healthy_example_expects() {
    let expected: Expected = serde_json::from_slice(
        &std::fs::read(workspace_root().join("examples/healthy-0.16/expected.json"))
            .expect("expected.json"),
    )
    .expect("expected.json parses");
    let script = std::fs::read_to_string(workspace_root().join("scripts/run-example"))
        .expect("scripts/run-example");
    assert!(script.contains("--paste examples/healthy-0.16"));
    for ack in &expected.acks {
        assert!(
            script.contains(&format!("--ack {ack}")),
            "scripts/run-example lacks --ack {ack}"
        );
    }
    assert_eq!(script.contains("--air-gapped"), expected.air_gapped);
}

/// The finding a `check --output json` of example `name` gives for `check`.
fn finding_of(name: &str, check: &str, extra: &[&str]) -> serde_json::Value {
    let paste = format!("examples/{name}");
    let mut args = vec![
        "check",
        "--paste",
        paste.as_str(),
        "--output",
        "json",
        "--ack",
        "database-backup=CHG-1234",
        "--ack",
        "system-admin",
    ];
    args.extend(extra);
    let report = json(&run(&args));
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["check"] == check)
        .unwrap_or_else(|| panic!("{name}: no {check} finding"))
        .clone()
}

#[test]
fn the_traps_the_upgrader_s_own_patterns_reveal_are_named_on_the_command_line() {
    // RBAC escalation: `create clusterroles` yes, `*` on `*` no
    let f = finding_of("rbac-no-escalate", "permissions", &[]);
    assert_eq!(f["status"], "fail");
    let remedy = f["remedy"].as_str().unwrap_or_default();
    assert!(
        remedy.contains("attempting to grant RBAC permissions not currently held")
            && remedy.contains("cluster-admin")
            && remedy.contains("kubectl auth can-i '*' '*' --all-namespaces"),
        "{remedy}"
    );
    // the password's `@`: the user is named, the password and the host group are not
    let f = finding_of("connection-password-with-at", "database-connection", &[]);
    assert_eq!(f["status"], "fail");
    let text = f.to_string();
    assert!(text.contains("user `astro_admin`"), "{text}");
    assert!(text.contains("the password holds `@`"), "{text}");
    assert!(
        !text.contains("S3cr3t") && !text.contains("2021@"),
        "{text}"
    );
    // `%40`: matches, but a warning
    let f = finding_of("connection-percent-encoded", "database-connection", &[]);
    assert_eq!(f["status"], "warn");
    assert!(f["message"]
        .as_str()
        .unwrap_or_default()
        .contains("undecoded"));
    // two releases match `astronomer-.*`: the one the upgrader takes is named
    let f = finding_of("platform-release-ambiguous", "helm-release-state", &[]);
    assert_eq!(f["status"], "fail");
    let message = f["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("2 releases' charts match the upgrader's `astronomer-.*`")
            && message.contains("it takes the first that its `helm list` shows")
            && message.contains("`astro-trial`"),
        "{message}"
    );
    // the backup: what the upgrader leaves out
    let f = finding_of("healthy-0.16", "database-backup", &[]);
    let message = f["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("dumps only `astronomer_houston`")
            && message.contains("`infrared-photon-7780`")
            && message.contains("`quasar-nebula-2231`"),
        "{message}"
    );
}
