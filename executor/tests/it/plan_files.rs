//! `plan`: the files it writes verify against their digest, carry no password from the
//! evidence, and are written even when the verdict blocks the upgrade.

use std::path::Path;

use planner::Plan;

use crate::support::{code, run, stderr, stdout, workspace_root, HEALTHY_ACKS};

/// The password of the `postgres://user:password@host` string in an example's connection.txt.
fn password_in(example: &str) -> String {
    let text = std::fs::read_to_string(
        workspace_root()
            .join("examples")
            .join(example)
            .join("connection.txt"),
    )
    .expect("connection.txt");
    let credentials = text
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('@').next())
        .expect("a connection string with credentials");
    let password = credentials
        .split_once(':')
        .map(|(_, password)| password)
        .expect("user:password");
    assert!(
        password.len() >= 6,
        "a password worth looking for: {password}"
    );
    password.to_string()
}

fn plan_into(example: &str, dir: &Path) -> (std::process::Output, Plan, String) {
    let json_path = dir.join("plan.json");
    let markdown_path = dir.join("plan.md");
    let paste = format!("examples/{example}");
    let mut args = vec![
        "plan",
        "--paste",
        paste.as_str(),
        "--out",
        json_path.to_str().expect("utf-8"),
        "--markdown",
        markdown_path.to_str().expect("utf-8"),
    ];
    args.extend(HEALTHY_ACKS);
    let output = run(&args);
    let plan_text = std::fs::read_to_string(&json_path)
        .unwrap_or_else(|err| panic!("plan.json written ({err}): {}", stderr(&output)));
    let plan: Plan = serde_json::from_str(&plan_text).expect("plan.json is a Plan");
    let markdown = std::fs::read_to_string(&markdown_path).expect("plan.md written");
    (output, plan, format!("{plan_text}\n{markdown}"))
}

#[test]
fn plan_files_verify_and_hold_no_password() {
    for example in ["healthy-0.16", "postgresql-scheme"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (output, plan, written) = plan_into(example, dir.path());
        assert!(plan.verify_digest(), "{example}: the digest verifies");
        assert!(!plan.created_at.is_empty());
        let password = password_in(example);
        assert!(
            !written.contains(&password),
            "{example}: password in the plan files"
        );
        assert!(
            !stdout(&output).contains(&password),
            "{example}: password on stdout"
        );
        assert!(
            !stderr(&output).contains(&password),
            "{example}: password on stderr"
        );
        let markdown = std::fs::read_to_string(dir.path().join("plan.md")).expect("plan.md");
        assert!(
            markdown.contains(plan.verdict.as_str()),
            "{example}: the Markdown states the verdict"
        );
    }
}

#[test]
fn an_edited_plan_no_longer_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, plan, _) = plan_into("crashing-pods", dir.path());
    assert!(plan.verify_digest());
    let mut edited = plan.clone();
    edited.verdict = planner::Verdict::Go;
    assert!(!edited.verify_digest());
}

#[test]
fn a_blocked_plan_is_still_written_and_says_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (output, plan, _) = plan_into("crashing-pods", dir.path());
    assert_eq!(plan.verdict, planner::Verdict::NoGo);
    assert_eq!(code(&output), 3, "exit code by verdict, like check");
    assert!(
        stderr(&output).contains("NOT approvable"),
        "{}",
        stderr(&output)
    );
    assert!(
        stdout(&output).contains("pod-health"),
        "the report is shown beside the written plan: {}",
        stdout(&output)
    );
}

#[test]
fn plan_without_out_prints_the_plan_json() {
    let mut args = vec!["plan", "--paste", "examples/crashing-pods"];
    args.extend(HEALTHY_ACKS);
    let output = run(&args);
    let plan: Plan = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|err| panic!("{err}: {}", stdout(&output)));
    assert!(plan.verify_digest());
    assert_eq!(code(&output), 3);
    assert!(
        plan.created_at.parse::<jiff::Timestamp>().is_ok(),
        "created_at is RFC 3339: {}",
        plan.created_at
    );
}

#[test]
fn plan_refuses_junit() {
    let output = run(&[
        "plan",
        "--paste",
        "examples/healthy-0.16",
        "--output",
        "junit",
    ]);
    assert_eq!(code(&output), 2);
    assert!(stderr(&output).contains("check --output junit"));
}

#[test]
fn an_unwritable_out_path_is_a_usage_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("no-such-folder/plan.json");
    let output = run(&[
        "plan",
        "--paste",
        "examples/healthy-0.16",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("no-such-folder"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn after_writing_a_go_plan_the_next_step_applies_that_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (output, plan, _) = plan_into("healthy-0.16", dir.path());
    assert_eq!(plan.verdict, planner::Verdict::Go);
    assert_eq!(code(&output), 0);
    let report = stdout(&output);
    let hint = report.split("Next step:").nth(1).expect("next step");
    let plan_path = dir.path().join("plan.json");
    assert!(
        hint.contains(&format!(
            "astro-upgrade apply --plan {}",
            plan_path.display()
        )),
        "{hint}"
    );
    assert!(
        !hint.contains("astro-upgrade plan "),
        "the plan is written already: {hint}"
    );
}
