//! Property: a password, token or JWT pasted the ways people paste them never leaves the binary:
//! not through `inspect`, not through `check --paste DIR` in any `--output` format (human, json,
//! markdown, junit; stdout and stderr), not through `plan --paste DIR --out plan.json --markdown
//! plan.md` (both files, stdout and stderr). The pastes and the leak check are the planner's
//! (`planner/tests/it/secret_props/carriers.rs`); each case runs the binary six times, so the
//! case count is modest — the planner's own property test runs many more cases on the same
//! functions without the process around them.

#[path = "../../../planner/tests/it/secret_props/carriers.rs"]
#[allow(dead_code)]
mod carriers;

use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::OnceLock;

use proptest::prelude::*;

use carriers::{jwt, leak, neutral_paste, paste, readable, secret, token, Paste};

use crate::support::{astro_upgrade, stderr, stdout};

/// Runs the binary in `dir` (so the outputs name the paste folder `p`, not a random path).
fn run_in(dir: &Path, args: &[String]) -> Output {
    astro_upgrade()
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("astro-upgrade runs")
}

/// Every output of the offline commands for `paste`, by name, readable.
fn outputs(paste: &Paste) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let folder = dir.path().join("p");
    std::fs::create_dir(&folder).expect("paste folder");
    for (name, text) in &paste.files {
        std::fs::write(folder.join(name), text).expect("paste file");
    }
    let acks: Vec<String> = paste
        .acks
        .iter()
        .flat_map(|ack| ["--ack".to_string(), ack.clone()])
        .collect();
    let args = |fixed: &[&str]| -> Vec<String> {
        fixed
            .iter()
            .map(|s| s.to_string())
            .chain(acks.iter().cloned())
            .collect()
    };
    let mut all = Vec::new();
    let mut keep = |name: String, output: &Output| {
        all.push((format!("{name} stdout"), readable(&stdout(output))));
        all.push((format!("{name} stderr"), readable(&stderr(output))));
    };
    let mut inspect = vec!["inspect".to_string()];
    inspect.extend(paste.files.iter().map(|(name, _)| format!("p/{name}")));
    keep("inspect".to_string(), &run_in(dir.path(), &inspect));
    for format in ["human", "json", "markdown", "junit"] {
        let output = run_in(
            dir.path(),
            &args(&["check", "--paste", "p", "--output", format]),
        );
        keep(format!("check --output {format}"), &output);
    }
    let output = run_in(
        dir.path(),
        &args(&[
            "plan",
            "--paste",
            "p",
            "--out",
            "plan.json",
            "--markdown",
            "plan.md",
        ]),
    );
    keep("plan".to_string(), &output);
    for file in ["plan.json", "plan.md"] {
        let text = std::fs::read_to_string(dir.path().join(file))
            .unwrap_or_else(|err| panic!("{file} written ({err}): {}", stderr(&output)));
        all.push((file.to_string(), readable(&text)));
    }
    all
}

fn baseline() -> &'static Vec<(String, String)> {
    static BASELINE: OnceLock<Vec<(String, String)>> = OnceLock::new();
    BASELINE.get_or_init(|| outputs(&neutral_paste()))
}

#[test]
fn the_neutral_secrets_are_masked_in_every_output_of_the_binary() {
    let paste = neutral_paste();
    let outputs = baseline();
    assert_eq!(outputs.len(), 14);
    for (name, output) in outputs {
        for spelling in &paste.forbidden {
            assert!(
                !output.contains(spelling.as_str()),
                "{spelling} in {name}:\n{output}"
            );
        }
    }
    // the reports did read the pastes: a pod, the connection's host, the masked command lines
    let check_json = &outputs
        .iter()
        .find(|(name, _)| name == "check --output json stdout")
        .expect("check json")
        .1;
    assert!(check_json.contains("db.internal"), "{check_json}");
    assert!(check_json.contains("PGPASSWORD='***'"), "{check_json}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn no_piece_of_a_pasted_secret_leaves_the_binary(
        secret in secret(),
        token in token(),
        jwt in jwt(),
    ) {
        let paste = paste(&secret, &token, &jwt);
        for ((name, output), (_, baseline)) in outputs(&paste).iter().zip(baseline()) {
            let found = leak(&paste.forbidden, output, baseline, &paste.around);
            prop_assert!(found.is_none(), "{} leaks {}:\n{}", name, found.unwrap_or_default(), output);
        }
    }
}
