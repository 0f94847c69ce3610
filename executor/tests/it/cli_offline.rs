//! `check` through the real binary, on pasted evidence: the report formats, the next-step hint,
//! the evidence flags, and the usage errors (exit 2, naming what is wrong).

use serde_json::Value;

use crate::support::{
    astro_upgrade, code, json, path, run, run_with_stdin, stderr, stdout, HEALTHY_ACKS,
};

#[test]
fn help_documents_the_exit_codes() {
    for args in [&["--help"][..], &["check", "--help"], &["plan", "--help"]] {
        let output = run(args);
        assert_eq!(code(&output), 0, "{args:?}");
        let help = stdout(&output);
        assert!(help.contains("Exit codes"), "{args:?}: {help}");
        assert!(help.contains("3  NO-GO"), "{args:?}: {help}");
        assert!(help.contains("4  INCOMPLETE"), "{args:?}: {help}");
        assert!(
            help.contains("7  the upgrade failed before it changed the platform"),
            "{args:?}: {help}"
        );
    }
}

fn check_crashing_pods(output_format: &str) -> std::process::Output {
    let mut args = vec![
        "check",
        "--paste",
        "examples/crashing-pods",
        "--output",
        output_format,
    ];
    args.extend(HEALTHY_ACKS);
    run(&args)
}

#[test]
fn check_json_keeps_the_documented_shape() {
    let output = check_crashing_pods("json");
    let report = json(&output);
    assert_eq!(report["schema_version"], 1);
    assert_eq!(
        report["verdict"], "NO-GO",
        "examples/crashing-pods is NO-GO (its expected.json)"
    );
    assert_eq!(code(&output), 3, "NO-GO exits 3");
    let findings = report["findings"].as_array().expect("findings");
    assert!(!findings.is_empty());
    for finding in findings {
        assert!(finding["check"].is_string(), "{finding}");
        let status = finding["status"].as_str().expect("status");
        assert!(
            ["pass", "warn", "fail", "unknown"].contains(&status),
            "{finding}"
        );
        assert!(finding["message"].is_string(), "{finding}");
        assert!(
            finding["remedy"].is_string() || finding["remedy"].is_null(),
            "{finding}"
        );
        for evidence in finding["evidence"].as_array().expect("evidence") {
            assert!(evidence["source"].is_string(), "{evidence}");
            assert!(
                evidence["line"].is_u64() || evidence["line"].is_null(),
                "{evidence}"
            );
        }
    }
    let pod_health = findings
        .iter()
        .find(|f| f["check"] == "pod-health")
        .expect("pod-health finding");
    assert_eq!(pod_health["status"], "fail");
    assert!(pod_health["evidence"]
        .as_array()
        .expect("evidence")
        .iter()
        .any(|e| e["source"] == "pods.txt" && e["line"].is_u64()));
}

#[test]
fn check_human_report_shows_verdict_checks_evidence_and_next_step() {
    let json_report = json(&check_crashing_pods("json"));
    let output = check_crashing_pods("human");
    let report = stdout(&output);
    let verdict = json_report["verdict"].as_str().expect("verdict");
    assert!(
        report.lines().next().unwrap_or_default().contains(verdict),
        "the verdict comes first: {report}"
    );
    for finding in json_report["findings"].as_array().expect("findings") {
        let check = finding["check"].as_str().expect("check id");
        assert!(report.contains(check), "{check} missing: {report}");
        if finding["status"] == "fail" {
            for evidence in finding["evidence"].as_array().expect("evidence") {
                let place = format!(
                    "{}:{}",
                    evidence["source"].as_str().expect("source"),
                    evidence["line"]
                );
                assert!(report.contains(&place), "{place} missing: {report}");
            }
            if let Some(remedy) = finding["remedy"].as_str() {
                let first_line = remedy.lines().next().unwrap_or_default();
                assert!(report.contains(first_line), "remedy missing: {report}");
            }
        }
    }
    assert!(report.contains("Next step:"), "{report}");
    assert!(
        report.contains("astro-upgrade check --paste examples/crashing-pods"),
        "the hint repeats the command: {report}"
    );
    assert!(!report.contains('\x1b'), "no colour when piped: {report:?}");
}

#[test]
fn colour_only_when_forced_and_never_with_no_color() {
    let args = ["check", "--paste", "examples/crashing-pods"];
    let forced = astro_upgrade()
        .args(args)
        .env("CLICOLOR_FORCE", "1")
        .output()
        .expect("runs");
    assert!(
        stdout(&forced).contains("\x1b["),
        "CLICOLOR_FORCE colours: {}",
        stdout(&forced)
    );
    let no_color = astro_upgrade()
        .args(args)
        .env("CLICOLOR_FORCE", "1")
        .env("NO_COLOR", "1")
        .output()
        .expect("runs");
    assert!(!stdout(&no_color).is_empty());
    assert!(
        !stdout(&no_color).contains('\x1b'),
        "NO_COLOR wins: {:?}",
        stdout(&no_color)
    );
}

#[test]
fn check_junit_is_well_formed_with_one_testcase_per_check() {
    let report = json(&check_crashing_pods("json"));
    let findings = report["findings"].as_array().expect("findings");
    let output = check_crashing_pods("junit");
    assert_eq!(code(&output), 3, "NO-GO exits 3 in every format");
    let xml = stdout(&output);
    let document = roxmltree::Document::parse(&xml).unwrap_or_else(|err| panic!("{err}: {xml}"));
    let cases: Vec<_> = document
        .descendants()
        .filter(|node| node.has_tag_name("testcase"))
        .collect();
    let names: Vec<&str> = cases.iter().filter_map(|c| c.attribute("name")).collect();
    let checks: Vec<&str> = findings
        .iter()
        .filter_map(|f| f["check"].as_str())
        .collect();
    assert_eq!(names, checks);
    for (case, finding) in cases.iter().zip(findings) {
        let failed = case.children().any(|n| n.has_tag_name("failure"));
        let gating = finding["status"] == "fail" || finding["status"] == "unknown";
        assert_eq!(failed, gating, "{finding}");
    }
    let suite = document
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .expect("testsuite");
    assert_eq!(
        suite.attribute("tests"),
        Some(checks.len().to_string().as_str())
    );
}

#[test]
fn check_markdown_states_the_verdict() {
    let report = json(&check_crashing_pods("json"));
    let verdict = report["verdict"].as_str().expect("verdict");
    let output = check_crashing_pods("markdown");
    let markdown = stdout(&output);
    assert!(markdown.starts_with("# "), "{markdown}");
    assert!(markdown
        .lines()
        .next()
        .unwrap_or_default()
        .contains(verdict));
    assert!(markdown.contains("pod-health"), "{markdown}");
}

#[test]
fn check_with_an_unknown_input_kind_is_a_usage_error() {
    let output = run(&["check", "--input", "podz=examples/healthy-0.16/pods.txt"]);
    assert_eq!(code(&output), 2);
    assert!(stderr(&output).contains("podz"), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("kubectl-version"),
        "{}",
        stderr(&output)
    );

    let output = run(&["check", "--input", "examples/healthy-0.16/pods.txt"]);
    assert_eq!(code(&output), 2, "KIND= is required");
}

#[test]
fn check_with_a_missing_input_file_or_folder_names_it() {
    let output = run(&["check", "--input", "pods=missing-pods.txt"]);
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("missing-pods.txt"),
        "{}",
        stderr(&output)
    );

    let output = run(&["check", "--paste", "examples/no-such-example"]);
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("examples/no-such-example"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn check_with_a_bad_ack_lists_the_accepted_forms() {
    let output = run(&[
        "check",
        "--paste",
        "examples/healthy-0.16",
        "--ack",
        "dbbackup",
    ]);
    assert_eq!(code(&output), 2);
    let err = stderr(&output);
    assert!(err.contains("dbbackup"), "{err}");
    assert!(
        err.contains("database-backup=") && err.contains("system-admin"),
        "{err}"
    );

    let output = run(&[
        "check",
        "--paste",
        "examples/healthy-0.16",
        "--ack",
        "database-backup",
    ]);
    assert_eq!(code(&output), 2, "a backup needs its reference");
}

#[test]
fn check_input_reads_single_files_and_stdin() {
    let text =
        std::fs::read(crate::support::workspace_root().join("examples/crashing-pods/pods.txt"))
            .expect("example");
    let output = run_with_stdin(&["check", "--input", "pods=-", "--output", "json"], &text);
    let report = json(&output);
    let pod_health = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["check"] == "pod-health")
        .expect("pod-health");
    assert_eq!(pod_health["status"], "fail");
    assert_eq!(report["verdict"], "NO-GO");
    assert_eq!(code(&output), 3);
}

#[test]
fn paste_folder_skips_the_expectations_beside_the_evidence() {
    let dir = tempfile::tempdir().expect("tempdir");
    let expected = crate::support::workspace_root().join("examples/healthy-0.16/expected.json");
    std::fs::copy(expected, dir.path().join("expected.json")).expect("copy");
    std::fs::write(dir.path().join(".notes.txt"), "NAME READY STATUS\n").expect("write");
    std::fs::write(
        dir.path().join("pods.txt~"),
        "NAME READY STATUS RESTARTS AGE\nweb-1 1/1 Running 0 1d\n",
    )
    .expect("write");
    let output = run(&["check", "--paste", path(dir.path())]);
    assert_eq!(
        code(&output),
        2,
        "only non-evidence files: {}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("no evidence files"),
        "{}",
        stderr(&output)
    );

    let pods = crate::support::workspace_root().join("examples/crashing-pods/pods.txt");
    std::fs::copy(pods, dir.path().join("pods.txt")).expect("copy");
    let output = run(&["check", "--paste", path(dir.path()), "--output", "json"]);
    let report = json(&output);
    assert_eq!(report["verdict"], "NO-GO", "{report}");
}

#[test]
fn a_bundle_of_inspected_facts_checks_like_the_paste_it_came_from() {
    let example = crate::support::workspace_root().join("examples/crashing-pods");
    let mut files: Vec<String> = std::fs::read_dir(&example)
        .expect("example")
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".txt"))
        .collect();
    files.sort();
    // `--as` applies to every file of one run, so each file is inspected alone into a bundle.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut check_args: Vec<String> = vec!["check".into(), "--output".into(), "json".into()];
    for name in &files {
        let kind = name.trim_end_matches(".txt");
        let file = format!("examples/crashing-pods/{name}");
        let output = run(&["inspect", "--as", kind, &file]);
        assert_eq!(code(&output), 0, "{}", stderr(&output));
        let bundle = serde_json::json!({"astro_upgrade_bundle": 1, "facts": json(&output)});
        let bundle_path = dir.path().join(format!("{kind}.json"));
        std::fs::write(&bundle_path, bundle.to_string()).expect("write bundle");
        check_args.extend(["--bundle".into(), path(&bundle_path).to_string()]);
    }
    let acks: Vec<String> = HEALTHY_ACKS.iter().map(|a| a.to_string()).collect();
    check_args.extend(acks.iter().cloned());
    let from_bundles = run(&check_args.iter().map(String::as_str).collect::<Vec<_>>());
    let mut paste_args = vec![
        "check",
        "--paste",
        "examples/crashing-pods",
        "--output",
        "json",
    ];
    paste_args.extend(HEALTHY_ACKS);
    let from_paste = run(&paste_args);
    let statuses = |report: &Value| -> Vec<(String, String)> {
        report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .map(|f| (f["check"].to_string(), f["status"].to_string()))
            .collect()
    };
    assert_eq!(
        statuses(&json(&from_bundles)),
        statuses(&json(&from_paste)),
        "{}",
        stderr(&from_bundles)
    );
    assert_eq!(code(&from_bundles), code(&from_paste));
}

#[test]
fn a_reader_that_goes_away_does_not_crash_the_report() {
    let mut child = astro_upgrade()
        .args(["check", "--paste", "examples/crashing-pods"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starts");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("runs");
    assert_eq!(code(&output), 3, "the verdict's code: {}", stderr(&output));
    assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
}

#[test]
fn the_next_step_names_the_missing_acknowledgements() {
    let output = run(&["check", "--paste", "examples/incomplete-no-acks"]);
    assert_eq!(code(&output), 4);
    let report = stdout(&output);
    let hint = report
        .split("Next step:")
        .nth(1)
        .expect("a next step section");
    assert!(
        hint.contains(
            "astro-upgrade check --paste examples/incomplete-no-acks --ack system-admin --ack database-backup=BACKUP_REF"
        ),
        "{hint}"
    );

    let output = run(&[
        "check",
        "--paste",
        "examples/air-gapped-no-mirrors",
        "--air-gapped",
        "--ack",
        "system-admin",
        "--ack",
        "database-backup=CHG-1234",
    ]);
    assert_eq!(code(&output), 3);
    let report = stdout(&output);
    let hint = report.split("Next step:").nth(1).expect("next step");
    assert!(hint.contains("--ack mirrors=REGISTRY"), "{hint}");
    assert!(
        hint.contains("astro-upgrade plan --paste examples/air-gapped-no-mirrors"),
        "{hint}"
    );
}

#[test]
fn several_paste_folders_name_their_files_by_path() {
    let output = run(&[
        "check",
        "--paste",
        "examples/healthy-0.16",
        "--paste",
        "examples/crashing-pods",
        "--output",
        "json",
    ]);
    let report = json(&output);
    let pod_health = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["check"] == "pod-health")
        .expect("pod-health");
    assert_eq!(pod_health["status"], "fail", "the later listing wins");
    let sources: Vec<&str> = pod_health["evidence"]
        .as_array()
        .expect("evidence")
        .iter()
        .filter_map(|e| e["source"].as_str())
        .collect();
    assert!(
        !sources.is_empty()
            && sources
                .iter()
                .all(|s| s.starts_with("examples/crashing-pods") && s.ends_with("pods.txt")),
        "{sources:?}"
    );
}

fn manifest_source_with(manifest: &str) -> (i32, Value) {
    let mut args = vec![
        "check",
        "--paste",
        "examples/healthy-0.16",
        "--manifest",
        manifest,
        "--output",
        "json",
    ];
    args.extend(HEALTHY_ACKS);
    let output = run(&args);
    let report = json(&output);
    let finding = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["check"] == "manifest-source")
        .expect("manifest-source")
        .clone();
    (code(&output), finding)
}

#[test]
fn manifests_given_with_manifest_are_validated() {
    let (code_real, real) = manifest_source_with("tests/manifests/upgrade-0.16-to-0.23.yaml");
    assert_eq!(
        real["status"], "warn",
        "the real manifest, with its :latest image: {real}"
    );
    assert_eq!(code_real, 0, "an advisory warn does not block GO");

    let (code_wrong, wrong) = manifest_source_with("examples/healthy-0.16/pods.txt");
    assert_eq!(wrong["status"], "fail", "{wrong}");
    assert_eq!(code_wrong, 3);

    let output = run(&[
        "check",
        "--paste",
        "examples/healthy-0.16",
        "--manifest",
        "missing-upgrade.yaml",
    ]);
    assert_eq!(code(&output), 2);
    assert!(stderr(&output).contains("missing-upgrade.yaml"));
}

#[test]
fn paste_of_a_folder_of_folders_names_them() {
    let output = run(&["check", "--paste", "examples"]);
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("examples/healthy-0.16"),
        "{}",
        stderr(&output)
    );
}
