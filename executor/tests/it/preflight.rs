//! The preflight that predicts the upgrader, through the real binary: the plan's upgrader
//! options on the command line, egress evidence, CI-built images and the Airflow releases.

use crate::support::{code, json, path, run, stderr, stdout, HEALTHY_ACKS};

fn with_acks<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut all = args.to_vec();
    all.extend(HEALTHY_ACKS);
    all
}

#[test]
fn plan_records_the_upgrader_options_in_the_json_the_digest_and_the_markdown() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let plan = dir.path().join("plan.json");
    let markdown = dir.path().join("plan.md");
    let output = run(&with_acks(&[
        "plan",
        "--paste",
        "examples/healthy-0.16",
        "--commander-upgrade-timeout",
        "900",
        "--disable-deployment-upgrades",
        "--out",
        path(&plan),
        "--markdown",
        path(&markdown),
    ]));
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&plan).unwrap()).unwrap();
    assert_eq!(
        written["upgrader_options"],
        serde_json::json!({"commander_upgrade_timeout": 900, "disable_deployment_upgrades": true})
    );
    let typed: planner::Plan = serde_json::from_value(written).unwrap();
    assert!(typed.verify_digest());
    let md = std::fs::read_to_string(&markdown).unwrap();
    assert!(md.contains("`COMMANDER_UPGRADE_TIMEOUT=900`"), "{md}");
    assert!(md.contains("upgraded from the Astronomer UI"), "{md}");
    // check's next step writes the plan with the same options
    let checked = run(&with_acks(&[
        "check",
        "--paste",
        "examples/healthy-0.16",
        "--commander-upgrade-timeout",
        "900",
        "--disable-deployment-upgrades",
    ]));
    assert_eq!(code(&checked), 0);
    let hint = stdout(&checked) + &stderr(&checked);
    assert!(
        hint.contains(
            "--commander-upgrade-timeout 900 --disable-deployment-upgrades --out plan.json"
        ),
        "{hint}"
    );
    // the same plan without options carries none
    let bare = run(&with_acks(&[
        "plan",
        "--paste",
        "examples/healthy-0.16",
        "--output",
        "json",
    ]));
    assert_eq!(code(&bare), 0);
    assert!(json(&bare).get("upgrader_options").is_none());
}

#[test]
fn a_timeout_that_is_not_whole_seconds_is_a_usage_error() {
    for bad in ["15m", "0", "86401"] {
        let output = run(&with_acks(&[
            "plan",
            "--paste",
            "examples/healthy-0.16",
            "--commander-upgrade-timeout",
            bad,
        ]));
        assert_eq!(code(&output), 2, "{bad}: {}", stderr(&output));
        assert!(
            stderr(&output).contains("Commander upgrade timeout"),
            "{}",
            stderr(&output)
        );
    }
}

#[test]
fn check_predicts_each_trap_and_each_option_changes_the_prediction() {
    let failed = run(&with_acks(&[
        "check",
        "--paste",
        "examples/airflow-release-failed",
        "--output",
        "json",
    ]));
    assert_eq!(code(&failed), 3);
    let finding = |report: &serde_json::Value, id: &str| {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["check"] == id)
            .cloned()
            .unwrap()
    };
    let airflow = finding(&json(&failed), "airflow-releases");
    assert_eq!(airflow["status"], "fail");
    assert!(airflow["message"]
        .as_str()
        .unwrap()
        .contains("quasar-nebula-2231"));
    // skipping steps (5/6) and (6/6), the failed release no longer stops the upgrader
    let skipped = run(&with_acks(&[
        "check",
        "--paste",
        "examples/airflow-release-failed",
        "--disable-deployment-upgrades",
        "--output",
        "json",
    ]));
    assert_eq!(code(&skipped), 0, "{}", stdout(&skipped));
    assert_eq!(
        finding(&json(&skipped), "airflow-releases")["status"],
        "warn"
    );

    let egress = run(&with_acks(&[
        "check",
        "--paste",
        "examples/egress-blocked",
        "--output",
        "json",
    ]));
    assert_eq!(code(&egress), 3);
    let f = finding(&json(&egress), "egress-or-mirror");
    assert_eq!(f["status"], "fail");
    assert!(f["message"]
        .as_str()
        .unwrap()
        .contains("updates.astronomer.io"));

    let ci = run(&with_acks(&[
        "check",
        "--paste",
        "examples/ci-built-images",
        "--output",
        "json",
    ]));
    assert_eq!(code(&ci), 0, "{}", stdout(&ci));
    let images = finding(&json(&ci), "airflow-images");
    assert_eq!(images["status"], "pass");
    assert_eq!(images["items"].as_array().unwrap().len(), 2);
}

#[test]
fn egress_evidence_is_a_kind_of_its_own() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("blocked.txt");
    std::fs::write(
        &file,
        "curl: (6) Could not resolve host: helm.astronomer.io\n",
    )
    .unwrap();
    let output = run(&["inspect", "--as", "egress", path(&file)]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let facts = json(&output);
    assert_eq!(facts["egress"][0]["host"], "helm.astronomer.io");
    assert_eq!(facts["egress"][0]["reachable"], false);
}
