//! Property tests: no reader panics on any input, and every line a fact or diagnostic names
//! exists in the input it was given.

use std::fs;
use std::path::Path;

use planner::facts::Facts;
use planner::input::{
    bundle, can_i, connection, contexts, helm, images, pods, read_source, storageclass, text,
    transcript, version, EvidenceKind, Source,
};
use proptest::prelude::*;
use serde_json::Value;

type Read = fn(&str, &str, u32, Option<&str>) -> Facts;
type Sniff = fn(&str) -> u32;

const READERS: [(&str, Read, Sniff); 10] = [
    ("version", version::read, version::sniff),
    ("pods", pods::read, pods::sniff),
    ("can_i", can_i::read, can_i::sniff),
    ("images", images::read, images::sniff),
    ("helm", helm::read, helm::sniff),
    ("storageclass", storageclass::read, storageclass::sniff),
    ("contexts", contexts::read, contexts::sniff),
    ("connection", connection::read, connection::sniff),
    ("transcript", transcript::read, transcript::sniff),
    ("bundle", bundle::read, bundle::sniff),
];

/// Pieces of real output, so random strings reach the readers' deeper paths.
const FRAGMENTS: &[&str] = &[
    "\n", "\r\n", "\r", "\t", "  ", " ", "$ ", "root@orbiter: ", "PS C:\\> ", "❯ ", "> ", "```\n",
    "**", "`", "\u{1b}[31m", "\u{1b}[0m", "\u{1b}]0;t\u{7}", "kubectl version --short\n",
    "kubectl get pods -A\n", "kubectl get pods -n astronomer -o json\n", "helm ls\n",
    "helm history astronomer\n", "kubectl auth can-i create pods -n astronomer\n",
    "kubectl get sc\n", "kubectl config get-contexts\n", "docker images\n", "cat Dockerfile\n",
    "kubectl get secret astronomer-bootstrap -o jsonpath='{.data.connection}' | base64 -d\n",
    "Client Version: v1.16.3\n", "Server Version: version.Info{Major:\"1\", Minor:\"16+\", GitVersion:\"v1.16.15-eks-ad4801\"",
    "GitVersion:\"v1.", "}\n", "{\"clientVersion\": {\"gitVersion\": \"v1.28.2\"}, ", "\"serverVersion\":",
    "gitVersion: v1.20.0+k3s1\n", "The connection to the server localhost:8080 was refused\n",
    "NAMESPACE  NAME  READY  STATUS  RESTARTS  AGE\n", "NAME READY STATUS RESTARTS AGE\n",
    "astronomer  astronomer-houston-1  0/1  CrashLoopBackOff  3 (2m ago)  1d\n", "pod/x 1/1 Running 0 1m\n",
    "1/1", "0/", "/1", "Init:0/1", "No resources found in astronomer namespace.\n", "...\n", "…",
    "{\"kind\": \"PodList\", \"items\": [{\"metadata\": {\"name\": \"p\"}, \"status\": {\"initContainerStatuses\": [{}]}}]}",
    "{\"astro_upgrade_bundle\": 1, \"facts\": {", "yes\n", "no - RBAC: clusterrole\n", "FROM ",
    "quay.io/astronomer/ap-airflow:1.10.12-1-alpine3.10-onbuild", "@sha256:", "astronomerinc/ap-airflow:0.10.3-1.10.5-onbuild",
    "NAME\tREVISION\tUPDATED\tSTATUS\tCHART\tNAMESPACE\n", "astronomer\t4\tMon\tDEPLOYED\tastronomer-0.16.9\tastronomer\n",
    "CURRENT   NAME   CLUSTER   AUTHINFO   NAMESPACE\n", "*  prod  prod  admin  astronomer\n",
    "NAME                 PROVISIONER            AGE\n", "gp2 (default)   kubernetes.io/aws-ebs   1d\n",
    "postgres://user:secret@db.example.com:5432/astro\n", "|", "-", ":", "\"", "'", "\u{0}", "\u{fffd}", "é", "日本",
];

fn fragment_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(FRAGMENTS).prop_map(str::to_string),
            1 => any::<String>(),
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

fn byte_text() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<u8>(), 0..600)
        .prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

/// Every `line` in the facts lies in `first_line ..= last line of text`.
fn check_lines(facts: &Facts, text: &str, first_line: u32, who: &str) -> Result<(), TestCaseError> {
    let count = text::line_count(text);
    let last = first_line.saturating_add(count.saturating_sub(1));
    let value = serde_json::to_value(facts).unwrap();
    let mut stack = vec![("".to_string(), &value)];
    while let Some((path, value)) = stack.pop() {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    if key == "line" {
                        if let Some(line) = v.as_u64() {
                            prop_assert!(
                                count > 0 && line >= u64::from(first_line) && line <= u64::from(last),
                                "{who}: {path}.line = {line}, input lines {first_line}..={last} ({count} lines)"
                            );
                        }
                    }
                    stack.push((format!("{path}.{key}"), v));
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    stack.push((format!("{path}[{i}]"), v));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_every_reader(
    text: &str,
    first_line: u32,
    command: Option<&str>,
) -> Result<(), TestCaseError> {
    for (who, read, sniff) in READERS {
        let facts = read("input.txt", text, first_line, command);
        check_lines(&facts, text, first_line, who)?;
        prop_assert!(sniff(text) <= 100, "{who}: sniff above 100");
    }
    let kinds = EvidenceKind::ALL.into_iter().map(Some).chain([None]);
    for kind in kinds {
        let facts = read_source(&Source::new("input.txt", kind, text));
        check_lines(&facts, text, 1, &format!("read_source({kind:?})"))?;
    }
    Ok(())
}

const COMMANDS: &[&str] = &[
    "kubectl get pods -n astronomer",
    "kubectl get pods -A",
    "kubectl auth can-i create pods -n astronomer",
    "kubectl version --client",
    "helm history astronomer",
    "kubectl get secret astronomer-bootstrap -o jsonpath='{.data.connection}' | base64 -d",
];

/// One way of damaging a paste.
#[derive(Debug, Clone)]
enum Mangle {
    DeleteLine(usize),
    DuplicateLine(usize),
    Truncate(usize),
    Insert(usize, &'static str),
    CrLf,
}

const INSERTS: &[&str] = &[
    "$ kubectl get pods\n",
    "root@orbiter: helm ls\n",
    "\u{1b}[1;31m",
    "```\n",
    "> ",
    "...\n",
    "\r",
    "**",
    "NAME READY STATUS RESTARTS AGE\n",
];

fn mangle() -> impl Strategy<Value = Mangle> {
    prop_oneof![
        any::<usize>().prop_map(Mangle::DeleteLine),
        any::<usize>().prop_map(Mangle::DuplicateLine),
        any::<usize>().prop_map(Mangle::Truncate),
        (any::<usize>(), prop::sample::select(INSERTS)).prop_map(|(at, s)| Mangle::Insert(at, s)),
        Just(Mangle::CrLf),
    ]
}

fn apply(text: &str, mangle: &Mangle) -> String {
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    match *mangle {
        Mangle::DeleteLine(i) if !lines.is_empty() => {
            lines.remove(i % lines.len());
            lines.concat()
        }
        Mangle::DuplicateLine(i) if !lines.is_empty() => {
            let i = i % lines.len();
            lines.insert(i, lines[i]);
            lines.concat()
        }
        Mangle::Truncate(n) => {
            let mut at = n % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text[..at].to_string()
        }
        Mangle::Insert(at, piece) => {
            let mut at = at % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            format!("{}{piece}{}", &text[..at], &text[at..])
        }
        Mangle::CrLf => text.replace('\n', "\r\n"),
        _ => text.to_string(),
    }
}

/// Every fixture's text with the kind its folder names.
fn fixtures() -> Vec<(Option<EvidenceKind>, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out = Vec::new();
    for folder in fs::read_dir(root).unwrap().map(|e| e.unwrap().path()) {
        let kind = EvidenceKind::parse(&folder.file_name().unwrap().to_string_lossy());
        for file in fs::read_dir(&folder).unwrap().map(|e| e.unwrap().path()) {
            if file.extension().is_some_and(|e| e == "txt") {
                let text = String::from_utf8_lossy(&fs::read(&file).unwrap()).into_owned();
                out.push((kind, text));
            }
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_and_lines_point_into_input(
        text in byte_text(),
        first_line in 1u32..4,
        command in prop::option::of(prop::sample::select(COMMANDS)),
    ) {
        check_every_reader(&text, first_line, command)?;
    }

    #[test]
    fn output_like_strings_never_panic_and_lines_point_into_input(
        text in fragment_text(),
        first_line in 1u32..4,
        command in prop::option::of(prop::sample::select(COMMANDS)),
    ) {
        check_every_reader(&text, first_line, command)?;
    }

    #[test]
    fn mangled_fixtures_never_panic_and_lines_point_into_input(
        pick in any::<prop::sample::Index>(),
        mangles in prop::collection::vec(mangle(), 1..5),
    ) {
        let fixtures = fixtures();
        let (kind, original) = &fixtures[pick.index(fixtures.len())];
        let text = mangles.iter().fold(original.clone(), |text, m| apply(&text, m));
        for kind in [*kind, None] {
            let facts = read_source(&Source::new("mangled.txt", kind, text.as_str()));
            check_lines(&facts, &text, 1, &format!("mangled as {kind:?}"))?;
        }
    }
}
