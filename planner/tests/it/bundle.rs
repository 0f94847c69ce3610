//! The bundle reader: it reads back whatever `serde_json` writes for the facts of every example
//! and fixture, and a bundle it cannot read gives one error diagnostic that names the line of
//! the unreadable value and what was wrong with it (the field missing, the type expected).

use std::fs;
use std::path::{Path, PathBuf};

use planner::facts::{
    At, BaseImage, BaseShownBy, Certified, CertifiedForm, ConnectionError, Context,
    DatabaseConnection, Diagnostic, EgressCheck, Facts, HelmGeneration, HelmRelease, HelmRevision,
    Image, KubernetesFacts, Permission, Pod, Severity, StorageClass, UpgradeResources,
    UpgraderSplit,
};
use planner::input::{bundle, read_source, read_sources, EvidenceKind, Source};
use proptest::prelude::*;
use serde_json::{json, Value};

const UNREADABLE: &str = "not a readable astro-upgrade bundle: ";

/// The bundle `astro-upgrade collect` writes around `facts` (pretty, with its extra keys).
fn collected(facts: &Value) -> String {
    serde_json::to_string_pretty(&json!({
        "astro_upgrade_bundle": bundle::BUNDLE_FORMAT,
        "collected_at": "2026-11-27T10:00:00Z",
        "context": "prod",
        "facts": facts,
    }))
    .unwrap()
}

fn read_bundle(text: &str) -> Facts {
    bundle::read("bundle.json", text, 1, None)
}

fn files_with_extension(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    files.sort();
    files
}

/// Facts with every field set and every enum variant used, so no field goes untested because
/// no paste produces it (`upgrade_resources`, `as_user`, the `*_at` pointers).
fn every_field_set() -> Facts {
    let at = |line| At::new("live", line);
    let certified = |form| Certified {
        airflow_version: "1.10.12".into(),
        build_number: Some(1),
        distribution: Some("buster".into()),
        onbuild: true,
        form,
    };
    let image = |certified, base| Image {
        reference: "quay.io/astronomer/ap-airflow:1.10.12-1-buster-onbuild@sha256:ab".into(),
        registry: Some("quay.io".into()),
        repository: "astronomer/ap-airflow".into(),
        tag: Some("1.10.12-1-buster-onbuild".into()),
        digest: Some("sha256:ab".into()),
        certified,
        base,
        at: at(4),
    };
    let release = |helm| HelmRelease {
        name: "astronomer".into(),
        namespace: Some("astronomer".into()),
        revision: Some(4),
        status: Some("deployed".into()),
        chart: "astronomer".into(),
        chart_version: Some("0.16.9".into()),
        app_version: Some("0.16.9".into()),
        helm,
        at: at(5),
    };
    let diagnostic = |severity| Diagnostic {
        source: "pods.txt".into(),
        line: Some(9),
        severity,
        message: "a note".into(),
    };
    Facts {
        kubernetes: KubernetesFacts {
            client_version: Some("1.16.3".into()),
            server_version: Some("1.16.15-eks-ad4801".into()),
            error: Some(ConnectionError::UnableToConnect),
            client_at: Some(at(1)),
            server_at: Some(At {
                source: "live".into(),
                line: None,
            }),
            error_at: Some(at(u32::MAX)),
        },
        pods: vec![Pod {
            namespace: Some("astronomer".into()),
            name: "astronomer-houston-1".into(),
            ready: Some("0/1".into()),
            status: "CrashLoopBackOff".into(),
            restarts: Some(3),
            healthy: false,
            at: at(2),
        }],
        pods_listed: true,
        permissions: vec![Permission {
            verb: "create".into(),
            resource: "clusterrolebindings".into(),
            namespace: Some("astronomer".into()),
            allowed: true,
            all_namespaces: true,
            as_user: Some("someone".into()),
            at: at(3),
        }],
        images: vec![
            image(
                Some(certified(CertifiedForm::Pinned)),
                Some(BaseImage {
                    shown_by: BaseShownBy::From,
                    of: Some("infrared-photon-7780/Dockerfile".into()),
                }),
            ),
            image(
                Some(certified(CertifiedForm::Floating)),
                Some(BaseImage {
                    shown_by: BaseShownBy::Labels,
                    of: None,
                }),
            ),
            image(Some(certified(CertifiedForm::Legacy)), None),
            image(None, None),
        ],
        helm_releases: vec![
            release(Some(HelmGeneration::Helm2)),
            release(Some(HelmGeneration::Helm3)),
            release(None),
        ],
        helm_list_all: Some(at(10)),
        helm_history: vec![HelmRevision {
            release: Some("astronomer".into()),
            revision: 4,
            status: "deployed".into(),
            chart: "astronomer".into(),
            chart_version: Some("0.16.9".into()),
            app_version: Some("0.16.9".into()),
            description: Some("Upgrade complete".into()),
            at: at(6),
        }],
        storage_classes: vec![StorageClass {
            name: "gp2".into(),
            default: true,
            provisioner: Some("kubernetes.io/aws-ebs".into()),
            at: at(7),
        }],
        contexts: vec![Context {
            name: "prod".into(),
            namespace: Some("astronomer".into()),
            current: true,
            at: at(8),
        }],
        database_connection: Some(DatabaseConnection {
            scheme: "postgres".into(),
            host: "db.example.com".into(),
            has_port: true,
            upgrader: Some(UpgraderSplit {
                user: "astro".into(),
                host: "db.example.com".into(),
                host_holds_password: false,
                port: "5432".into(),
                password_empty: false,
                percent_encoded: true,
            }),
            upgrader_evaluated: true,
            at: at(9),
        }),
        egress: vec![EgressCheck {
            host: "updates.astronomer.io".into(),
            url: Some("https://updates.astronomer.io/astronomer-certified".into()),
            reachable: false,
            detail: "curl: (6) Could not resolve host: updates.astronomer.io".into(),
            at: at(11),
        }],
        upgrade_resources: Some(UpgradeResources {
            service_account: true,
            backup_pvc: false,
            upgrade_job: Some("astronomer-upgrade-0-23".into()),
        }),
        diagnostics: vec![
            diagnostic(Severity::Error),
            diagnostic(Severity::Warning),
            diagnostic(Severity::Info),
        ],
    }
}

/// Every `Facts` the project's own inputs yield: each example folder read whole, each fixture
/// read alone, plus the hand-built extremes.
fn corpus() -> Vec<(String, Facts)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut corpus = vec![
        ("every field set".to_string(), every_field_set()),
        ("empty".to_string(), Facts::default()),
    ];
    let mut examples: Vec<PathBuf> = fs::read_dir(root.join("../examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    examples.sort();
    for dir in examples {
        let sources: Vec<Source> = files_with_extension(&dir, "txt")
            .iter()
            .map(|file| {
                let file_name = file.file_name().unwrap().to_string_lossy().into_owned();
                let kind = EvidenceKind::from_file_name(&file_name);
                Source::new(file_name, kind, fs::read_to_string(file).unwrap())
            })
            .collect();
        corpus.push((dir.display().to_string(), read_sources(&sources)));
    }
    let mut folders: Vec<PathBuf> = fs::read_dir(root.join("tests/fixtures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    for folder in folders {
        let kind = EvidenceKind::parse(&folder.file_name().unwrap().to_string_lossy());
        for file in files_with_extension(&folder, "txt") {
            let text = fs::read_to_string(&file).unwrap();
            let facts = read_source(&Source::new("fixture.txt", kind, text));
            corpus.push((file.display().to_string(), facts));
        }
    }
    corpus
}

#[test]
fn what_serde_json_writes_reads_back_equal() {
    let corpus = corpus();
    assert!(corpus.len() > 300, "only {} inputs", corpus.len());
    for (name, facts) in &corpus {
        let written = serde_json::to_value(facts).unwrap();
        assert_eq!(&read_bundle(&collected(&written)), facts, "{name}");
        let compact = format!(
            "{{\"astro_upgrade_bundle\":1,\"facts\":{}}}",
            serde_json::to_string(facts).unwrap()
        );
        assert_eq!(&read_bundle(&compact), facts, "{name} (compact)");
    }
}

/// The line of `text` (numbered from `first_line`) that holds `needle`.
fn line_of(text: &str, needle: &str, first_line: u32) -> u32 {
    let index = text.lines().position(|l| l.contains(needle)).unwrap();
    first_line + u32::try_from(index).unwrap()
}

#[test]
fn a_wrong_type_rejects_the_bundle_naming_the_line_of_the_value() {
    let mut facts = serde_json::to_value(every_field_set()).unwrap();
    facts["pods"][0]["ready"] = json!(5);
    let text = collected(&facts);
    let read = bundle::read("bundle.json", &text, 7, None);
    let line = line_of(&text, "\"ready\": 5", 7);
    assert_eq!(
        read,
        Facts {
            diagnostics: vec![Diagnostic {
                source: "bundle.json".into(),
                line: Some(line),
                severity: Severity::Error,
                message: format!(
                    "{UNREADABLE}invalid type: integer `5`, expected a string at line {} column 18",
                    line - 6
                ),
            }],
            ..Facts::default()
        }
    );
}

#[test]
fn a_missing_required_key_and_a_non_object_bundle_are_named() {
    let mut facts = serde_json::to_value(every_field_set()).unwrap();
    facts["images"][2]["certified"]
        .as_object_mut()
        .unwrap()
        .remove("form");
    let message = |text: &str| read_bundle(text).diagnostics[0].message.clone();
    let text = collected(&facts);
    assert!(
        message(&text).starts_with(&format!("{UNREADABLE}missing field `form` at line ")),
        "{}",
        message(&text)
    );
    assert_eq!(
        message("\"bundle\""),
        format!("{UNREADABLE}invalid type: string \"bundle\", expected struct Bundle at line 1 column 8")
    );
    assert_eq!(
        message("{\"astro_upgrade_bundle\": 1}"),
        format!("{UNREADABLE}missing field `facts` at line 1 column 27")
    );
    assert_eq!(
        message("{\"astro_upgrade_bundle\": -1, \"facts\": {\"kubernetes\": {}}}"),
        format!("{UNREADABLE}invalid value: integer `-1`, expected u32 at line 1 column 27")
    );
    // Not JSON at all: the line the parser stopped at.
    let broken = bundle::read(
        "bundle.json",
        "{\n  \"astro_upgrade_bundle\": 1,\n  oops\n}",
        3,
        None,
    );
    assert_eq!(broken.diagnostics[0].line, Some(5));
    assert_eq!(
        broken.diagnostics[0].message,
        format!("{UNREADABLE}key must be a string at line 3 column 3")
    );
}

#[test]
fn a_newer_format_is_read_with_a_warning() {
    let text = collected(&serde_json::to_value(every_field_set()).unwrap())
        .replace("\"astro_upgrade_bundle\": 1", "\"astro_upgrade_bundle\": 2");
    let read = read_bundle(&text);
    let mut expected = every_field_set();
    expected.diagnostics.push(Diagnostic {
        source: "bundle.json".into(),
        line: Some(1),
        severity: Severity::Warning,
        message: "bundle format 2 is not the format 1 this planner knows; read it as best it could"
            .into(),
    });
    assert_eq!(read, expected);
}

#[test]
fn missing_defaults_and_nulls_follow_the_serde_attributes() {
    // `kubernetes` has no default, its fields are all options; lists and flags default.
    let minimal = read_bundle("{\"astro_upgrade_bundle\": 1, \"facts\": {\"kubernetes\": {}}}");
    assert_eq!(minimal, Facts::default());
    // `null` stands for `None`, never for an empty list.
    let null_list = read_bundle(
        "{\"astro_upgrade_bundle\": 1, \"facts\": {\"kubernetes\": {}, \"pods\": null}}",
    );
    assert_eq!(
        null_list.diagnostics[0].message,
        format!("{UNREADABLE}invalid type: null, expected a sequence at line 1 column 68")
    );
}

/// How to spoil one place of a valid facts value.
#[derive(Debug, Clone)]
enum Spoil {
    Replace(Value),
    RemoveKey,
    AddUnknownKey,
}

fn spoil() -> impl Strategy<Value = Spoil> {
    let replacements = vec![
        json!(null),
        json!(true),
        json!(0),
        json!(-1),
        json!(1.5),
        json!(4_294_967_296_u64),
        json!("x"),
        json!("pinned"),
        json!("warning"),
        json!([]),
        json!({}),
    ];
    prop_oneof![
        3 => prop::sample::select(replacements).prop_map(Spoil::Replace),
        1 => Just(Spoil::RemoveKey),
        1 => Just(Spoil::AddUnknownKey),
    ]
}

/// Walks `choices` down from the root while there are children; returns the JSON pointer.
fn walk(root: &Value, choices: &[usize]) -> String {
    let mut pointer = String::new();
    let mut node = root;
    for &choice in choices {
        match node {
            Value::Object(map) if !map.is_empty() => {
                let (key, child) = map.iter().nth(choice % map.len()).unwrap();
                pointer.push_str(&format!("/{key}"));
                node = child;
            }
            Value::Array(items) if !items.is_empty() => {
                let index = choice % items.len();
                pointer.push_str(&format!("/{index}"));
                node = &items[index];
            }
            _ => break,
        }
    }
    pointer
}

fn apply(root: &mut Value, pointer: &str, spoil: &Spoil) {
    match spoil {
        Spoil::Replace(value) => *root.pointer_mut(pointer).unwrap() = value.clone(),
        Spoil::RemoveKey => {
            let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", ""));
            if let Some(Value::Object(map)) = root.pointer_mut(parent) {
                map.remove(key);
            }
        }
        Spoil::AddUnknownKey => {
            if let Some(Value::Object(map)) = root.pointer_mut(pointer) {
                map.insert("unknown_key".into(), json!({"nested": [1, "x", null]}));
            }
        }
    }
}

fn seeds() -> Vec<Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let healthy = ["kubectl-version.txt", "pods.txt", "images.txt", "can-i.txt"]
        .iter()
        .map(|file| {
            let text = fs::read_to_string(root.join("../examples/healthy-0.16").join(file));
            Source::new(*file, EvidenceKind::from_file_name(file), text.unwrap())
        })
        .collect::<Vec<_>>();
    vec![
        serde_json::to_value(every_field_set()).unwrap(),
        serde_json::to_value(read_sources(&healthy)).unwrap(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// One spoiled place, in the pretty bundle `collect` writes: the bundle reads as the facts
    /// alone do, or it is refused with one error diagnostic on a line of the bundle, giving
    /// serde's reason.
    #[test]
    fn a_spoiled_bundle_reads_or_is_refused_with_one_diagnostic(
        seed in 0..2usize,
        choices in prop::collection::vec(any::<usize>(), 0..7),
        spoil in spoil(),
    ) {
        let mut facts = seeds().swap_remove(seed);
        let pointer = walk(&facts, &choices);
        apply(&mut facts, &pointer, &spoil);
        let text = collected(&facts);
        let read = read_bundle(&text);
        match serde_json::from_str::<Facts>(&serde_json::to_string_pretty(&facts).unwrap()) {
            Ok(derived) => prop_assert_eq!(read, derived),
            Err(error) => {
                prop_assert_eq!(read.diagnostics.len(), 1);
                let diagnostic = read.diagnostics[0].clone();
                prop_assert_eq!(diagnostic.severity, Severity::Error);
                let line = diagnostic.line.unwrap_or(0);
                prop_assert!((1..=u32::try_from(text.lines().count()).unwrap()).contains(&line));
                let error = error.to_string();
                let reason = error.rsplit_once(" at line ").unwrap().0;
                prop_assert!(
                    diagnostic.message.starts_with(&format!("{UNREADABLE}{reason} at line {line} column ")),
                    "{} does not give {}", diagnostic.message, reason
                );
                prop_assert_eq!(read, Facts { diagnostics: vec![diagnostic], ..Facts::default() });
            }
        }
    }
}
