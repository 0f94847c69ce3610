//! `inspect` through the real binary: the facts contract of the readers on the shared corpus,
//! standard input, odd encodings, and the usage errors (exit 2, naming what is wrong).

use serde_json::Value;

use crate::support::{code, corpus, json, path, run, run_with_stdin, stderr, stdout};

#[test]
fn inspect_reads_a_helm2_listing_from_the_corpus() {
    let file = corpus("helm2-ls-tabs-singed-chimp-astronomer-0.8.2.txt");
    let output = run(&["inspect", path(&file)]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let facts = json(&output);
    let releases = facts["helm_releases"].as_array().expect("helm_releases");
    let platform = releases
        .iter()
        .find(|r| r["name"] == "singed-chimp")
        .expect("the platform release is read");
    assert_eq!(platform["chart"], "astronomer");
    assert_eq!(platform["chart_version"], "0.8.2");
    assert_eq!(platform["namespace"], "datarouter");
    assert_eq!(platform["revision"], 3);
    assert_eq!(platform["status"], "deployed");
    assert!(releases.iter().any(|r| r["chart"] == "postgresql"));
}

#[test]
fn inspect_reads_certified_image_tags_from_the_corpus() {
    let file = corpus("docs-0.25-upgrade-valid-quay-images.txt");
    let output = run(&["inspect", path(&file)]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let facts = json(&output);
    let images = facts["images"].as_array().expect("images");
    assert_eq!(images.len(), 4, "{images:#?}");
    let first = &images[0];
    assert_eq!(first["registry"], "quay.io");
    assert_eq!(first["repository"], "astronomer/ap-airflow");
    assert_eq!(first["tag"], "1.10.10-5-alpine3.10-onbuild");
    assert_eq!(first["digest"], Value::Null);
    assert_eq!(first["certified"]["airflow_version"], "1.10.10");
    assert_eq!(first["certified"]["build_number"], 5);
    assert_eq!(first["certified"]["distribution"], "alpine3.10");
    assert_eq!(first["certified"]["onbuild"], true);
    let floating = &images[2];
    assert_eq!(floating["tag"], "2.0.2-buster-onbuild");
    assert_eq!(floating["certified"]["build_number"], Value::Null);
    assert_eq!(images[3]["certified"]["onbuild"], false);
}

#[test]
fn inspect_merges_several_files_each_named_as_given() {
    let pods = corpus("astronomer-kind-all-namespaces-helm3.txt");
    let helm = corpus("helm3-list-A-after-2to3.txt");
    let output = run(&["inspect", path(&pods), path(&helm)]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let facts = json(&output);
    let pod_rows = facts["pods"].as_array().expect("pods");
    assert_eq!(pod_rows.len(), 21);
    assert!(
        pod_rows.iter().all(|p| p["healthy"] == true),
        "Running n/n and Completed pods are healthy: {pod_rows:#?}"
    );
    let completed = pod_rows
        .iter()
        .find(|p| p["status"] == "Completed")
        .expect("the Completed pod is listed");
    assert_eq!(
        completed["name"],
        "astronomer-houston-upgrade-deployments-4q6tj"
    );
    assert_eq!(completed["namespace"], "astronomer");
    assert_eq!(completed["source"], path(&pods));
    let release = &facts["helm_releases"][0];
    assert_eq!(release["name"], "astronomer");
    assert_eq!(release["chart_version"], "0.13.0-alpha.3");
    assert_eq!(release["source"], path(&helm));
}

#[test]
fn inspect_reads_standard_input() {
    let text = std::fs::read(corpus("helm3-list-A-after-2to3.txt")).expect("fixture");
    let output = run_with_stdin(&["inspect", "-"], &text);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let facts = json(&output);
    assert_eq!(facts["helm_releases"][0]["name"], "astronomer");
    assert_eq!(facts["helm_releases"][0]["source"], "stdin");
}

#[test]
fn inspect_as_kind_reads_a_bare_paste_as_that_kind() {
    let output = run_with_stdin(
        &["inspect", "--as", "images", "-"],
        b"quay.io/astronomer/ap-airflow:1.10.12-1-buster-onbuild\n",
    );
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let facts = json(&output);
    assert_eq!(
        facts["images"][0]["certified"]["airflow_version"],
        "1.10.12"
    );
}

#[test]
fn inspect_reads_utf16_and_damaged_utf8_with_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(corpus("helm3-list-A-after-2to3.txt")).expect("fixture");
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in text.encode_utf16() {
        utf16.extend(unit.to_le_bytes());
    }
    let utf16_file = dir.path().join("helm-powershell.txt");
    std::fs::write(&utf16_file, utf16).expect("write");
    let output = run(&["inspect", path(&utf16_file)]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(json(&output)["helm_releases"][0]["name"], "astronomer");

    let damaged = dir.path().join("damaged.txt");
    let mut bytes = text.into_bytes();
    bytes.extend(b"\xFF\xFE garbage \xC3\n");
    std::fs::write(&damaged, bytes).expect("write");
    let output = run(&["inspect", path(&damaged)]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(json(&output)["helm_releases"][0]["name"], "astronomer");
    assert!(
        stderr(&output).contains("damaged.txt") && stderr(&output).contains("UTF-8"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn inspect_of_an_unreadable_file_is_a_usage_error_naming_it() {
    let output = run(&["inspect", "no-such-paste.txt"]);
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("no-such-paste.txt"),
        "{}",
        stderr(&output)
    );
    assert!(output.stdout.is_empty(), "no partial JSON on stdout");
}

#[test]
fn inspect_as_an_unknown_kind_lists_the_kinds() {
    let file = corpus("helm3-list-A-after-2to3.txt");
    let output = run(&["inspect", "--as", "helm-lst", path(&file)]);
    assert_eq!(code(&output), 2);
    let err = stderr(&output);
    assert!(err.contains("helm-lst"), "{err}");
    for kind in [
        "kubectl-version",
        "pods",
        "can-i",
        "helm-list",
        "connection",
    ] {
        assert!(err.contains(kind), "{kind} missing from: {err}");
    }
}

#[test]
fn inspect_always_prints_every_field_of_the_contract() {
    let output = run_with_stdin(&["inspect", "-"], b"nothing a reader knows\n");
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let facts = json(&output);
    for field in [
        "pods",
        "permissions",
        "images",
        "helm_releases",
        "storage_classes",
        "contexts",
        "diagnostics",
    ] {
        assert!(facts[field].is_array(), "{field} missing: {facts}");
    }
    for field in ["client_version", "server_version", "error"] {
        assert!(
            facts["kubernetes"]
                .as_object()
                .is_some_and(|k| k.contains_key(field)),
            "kubernetes.{field} missing: {facts}"
        );
    }
    assert!(
        facts
            .as_object()
            .is_some_and(|f| f.contains_key("database_connection")),
        "{facts}"
    );
}

#[test]
fn inspect_keeps_no_password_of_a_connection_string() {
    let secret = "Sup3r-S3cret-Passw0rd";
    let paste = format!(
        "$ kubectl get secret astronomer-bootstrap -n astronomer -o jsonpath='{{.data.connection}}' | base64 -d\npostgres://postgres:{secret}@db.internal:5432\n"
    );
    let output = run_with_stdin(&["inspect", "-"], paste.as_bytes());
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let facts = json(&output);
    assert_eq!(facts["database_connection"]["scheme"], "postgres");
    assert_eq!(facts["database_connection"]["host"], "db.internal");
    assert_eq!(facts["database_connection"]["has_port"], true);
    assert!(!stdout(&output).contains(secret));
    assert!(!stderr(&output).contains(secret));
}

#[test]
fn inspect_of_a_folder_says_how_to_read_it() {
    let output = run(&["inspect", "examples/healthy-0.16"]);
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("--paste examples/healthy-0.16"),
        "{}",
        stderr(&output)
    );
}
