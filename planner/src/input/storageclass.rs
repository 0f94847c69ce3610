//! `kubectl get storageclass|sc`: the table (`standard (default)` marker; the old
//! `NAME PROVISIONER AGE` layout too), `-o json` and `-o yaml` (the `is-default-class`
//! annotation, GA and beta).
//!
//! `-o name` output and `No resources found` say nothing about which class is the default; they
//! give no facts, only a diagnostic, so the default-storageclass check stays honest.

use serde_json::Value;

use crate::facts::{At, Facts, Severity, StorageClass};
use crate::input::{json_at, text};

const DEFAULT_ANNOTATIONS: [&str; 2] = [
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
];

/// One `key: value` line of a YAML document, with the keys above it. List items appear in
/// the path as `#N` (N counts every item of the document, so siblings differ).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct YamlEntry {
    pub line: u32,
    pub path: Vec<String>,
    pub key: String,
    pub value: String,
}

/// Walks the block-style YAML kubectl prints (`-o yaml`, `config view`): enough structure to
/// find keys by their ancestors, without a YAML dependency in the wasm bundle. Flow collections
/// and multi-line scalars are not interpreted (their lines become opaque values).
pub(crate) fn yaml_entries(text: &str, first_line: u32) -> Vec<YamlEntry> {
    let mut entries = Vec::new();
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut items = 0usize;
    let mut documents = 0usize;
    for line in text::lines(text, first_line) {
        let raw: &str = &line.text;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if trimmed == "---" {
            documents += 1;
            stack.clear();
            continue;
        }
        let mut indent = raw.len() - raw.trim_start().len();
        let mut content = raw.trim_start();
        loop {
            let rest = match content.strip_prefix("- ") {
                Some(rest) => rest,
                None if content == "-" => "",
                None => break,
            };
            // A sequence may sit at its parent key's indentation (`items:` then `- …`).
            stack.retain(|(i, name)| *i < indent || (*i == indent && !name.starts_with('#')));
            items += 1;
            stack.push((indent, format!("#{items}")));
            let after = rest.trim_start();
            indent += content.len() - after.len();
            content = after;
        }
        if content.is_empty() {
            continue;
        }
        let (key, value) = match content.split_once(": ") {
            Some((key, value)) => (key, value.trim()),
            None => match content.strip_suffix(':') {
                Some(key) => (key, ""),
                None => continue,
            },
        };
        stack.retain(|(i, _)| *i < indent);
        let key = unquote(key.trim());
        let document = (documents > 0).then(|| format!("doc{documents}"));
        entries.push(YamlEntry {
            line: line.number,
            path: document
                .into_iter()
                .chain(stack.iter().map(|(_, name)| name.clone()))
                .collect(),
            key: key.to_owned(),
            value: unquote(value).to_owned(),
        });
        if value.is_empty() {
            stack.push((indent, key.to_owned()));
        }
    }
    entries
}

fn unquote(value: &str) -> &str {
    let value = value.trim();
    for quote in ['"', '\''] {
        if value.len() >= 2 && value.starts_with(quote) && value.ends_with(quote) {
            return &value[1..value.len() - 1];
        }
    }
    value
}

/// Reads `text`, whose first line is line `first_line` of the source `name`; `command` is the
/// command line that printed it, when the paste showed one.
pub fn read(name: &str, text: &str, first_line: u32, command: Option<&str>) -> Facts {
    let _ = command;
    let mut facts = Facts::default();
    let first = text::lines(text, first_line).find(|l| !l.text.trim().is_empty());
    let Some(first) = first else {
        return facts;
    };
    let start = first.text.trim_start();
    if start.starts_with('{') {
        read_json(name, text, first_line, &mut facts);
    } else if start.starts_with("apiVersion:")
        || start.starts_with("items:")
        || start.starts_with("- ")
        || start.starts_with("kind:")
        || start == "---"
    {
        read_yaml(name, text, first_line, &mut facts);
    } else {
        read_table(name, text, first_line, &mut facts);
    }
    facts
}

/// How strongly `text` looks like this reader's input, 0 (not at all) to 100 (certainly).
pub fn sniff(text: &str) -> u32 {
    let mut score = 0;
    for line in text::lines(text, 1).take(400) {
        let words: Vec<&str> = line.text.split_whitespace().collect();
        match words.as_slice() {
            ["NAME", "PROVISIONER", ..] | ["IsDefaultClass:", ..] => return 95,
            [_, "(default)", provisioner, ..] if provisioner.contains(['/', '.']) => score = 80,
            _ if line.text.contains("kind: StorageClass")
                || line.text.contains("\"kind\": \"StorageClass\"") =>
            {
                return 90
            }
            _ if line
                .text
                .trim_start()
                .starts_with("storageclass.storage.k8s.io/") =>
            {
                score = score.max(60)
            }
            _ => {}
        }
    }
    score
}

fn diagnostic(facts: &mut Facts, name: &str, line: u32, severity: Severity, message: &str) {
    facts.diagnose(name, line, severity, message);
}

fn read_table(name: &str, text: &str, first_line: u32, facts: &mut Facts) {
    let mut in_table = false;
    // A describe block's `Name:` (and line), kept until `IsDefaultClass:` shows it is a class.
    let mut described: Option<(String, u32)> = None;
    let mut describing = false;
    for line in text::lines(text, first_line) {
        let words: Vec<&str> = line.text.split_whitespace().collect();
        match words.as_slice() {
            [] => in_table = false,
            ["NAME", "PROVISIONER", ..] => in_table = true,
            // `kubectl describe storageclass`: `Name:`, then `IsDefaultClass:` and `Provisioner:`.
            ["Name:", class] => described = Some(((*class).to_owned(), line.number)),
            ["IsDefaultClass:", answer] => {
                if let Some((class, at)) = described.take() {
                    facts.storage_classes.push(StorageClass {
                        name: class,
                        default: answer.eq_ignore_ascii_case("yes"),
                        provisioner: None,
                        at: At::new(name, at),
                    });
                    describing = true;
                }
            }
            ["Provisioner:", provisioner] if describing => {
                if let Some(class) = facts.storage_classes.last_mut() {
                    class.provisioner = Some((*provisioner).to_owned());
                }
                describing = false;
            }
            ["No", "resources", "found", ..] => diagnostic(
                facts,
                name,
                line.number,
                Severity::Info,
                "the cluster has no StorageClass, so none is the default",
            ),
            [only] if only.starts_with("storageclass.storage.k8s.io/") => diagnostic(
                facts,
                name,
                line.number,
                Severity::Info,
                "`-o name` output does not show which class is the default: paste `kubectl get storageclass`",
            ),
            [class, "(default)", provisioner, ..] => facts.storage_classes.push(StorageClass {
                name: (*class).to_owned(),
                default: true,
                provisioner: Some((*provisioner).to_owned()),
                at: At::new(name, line.number),
            }),
            [class, provisioner, ..] if in_table => facts.storage_classes.push(StorageClass {
                name: (*class).to_owned(),
                default: false,
                provisioner: Some((*provisioner).to_owned()),
                at: At::new(name, line.number),
            }),
            _ if in_table => diagnostic(
                facts,
                name,
                line.number,
                Severity::Warning,
                "not a row of the storage class table",
            ),
            _ => {}
        }
    }
}

fn read_json(name: &str, text: &str, first_line: u32, facts: &mut Facts) {
    let lines: Vec<text::Line<'_>> = text::lines(text, first_line).collect();
    let document: String = lines.iter().map(|l| format!("{}\n", l.text)).collect();
    let value = match serde_json::from_str::<Value>(&document) {
        Ok(value) => value,
        Err(error) => {
            // serde_json counts lines of the joined document; cleaning kept one per input line.
            let last = lines.last().map_or(first_line, |l| l.number);
            let offset = u32::try_from(error.line())
                .unwrap_or(u32::MAX)
                .saturating_sub(1);
            let line = first_line.saturating_add(offset).min(last);
            diagnostic(
                facts,
                name,
                line,
                Severity::Warning,
                "this JSON is cut short or damaged",
            );
            return;
        }
    };
    let objects = match value.get("items") {
        Some(Value::Array(items)) => items.as_slice(),
        _ => std::slice::from_ref(&value),
    };
    let mut search_from = 0;
    for object in objects {
        let Some(class) = json_at(object, "/metadata/name").and_then(Value::as_str) else {
            continue;
        };
        let default = DEFAULT_ANNOTATIONS.iter().any(|key| {
            json_at(object, "/metadata/annotations")
                .and_then(|a| a.get(*key))
                .and_then(Value::as_str)
                == Some("true")
        });
        let quoted = format!("\"{class}\"");
        let found = lines[search_from..]
            .iter()
            .position(|l| l.text.contains("\"name\"") && l.text.contains(&quoted));
        let line = match found {
            Some(offset) => {
                search_from += offset;
                lines[search_from].number
            }
            None => lines.first().map_or(first_line, |l| l.number),
        };
        facts.storage_classes.push(StorageClass {
            name: class.to_owned(),
            default,
            provisioner: object
                .get("provisioner")
                .and_then(Value::as_str)
                .map(str::to_owned),
            at: At::new(name, line),
        });
    }
}

fn read_yaml(name: &str, text: &str, first_line: u32, facts: &mut Facts) {
    // Each object is identified by the path above its `metadata` key.
    let mut classes: Vec<(Vec<String>, StorageClass)> = Vec::new();
    let entries = yaml_entries(text, first_line);
    for entry in &entries {
        let under_metadata = entry.path.last().is_some_and(|k| k == "metadata");
        if entry.key == "name" && under_metadata && !entry.value.is_empty() {
            let owner = entry.path[..entry.path.len() - 1].to_vec();
            classes.push((
                owner,
                StorageClass {
                    name: entry.value.clone(),
                    default: false,
                    provisioner: None,
                    at: At::new(name, entry.line),
                },
            ));
        }
    }
    for entry in &entries {
        let annotation = DEFAULT_ANNOTATIONS.contains(&entry.key.as_str())
            && entry
                .path
                .ends_with(&["metadata".to_owned(), "annotations".to_owned()]);
        let provisioner = entry.key == "provisioner";
        if !annotation && !provisioner {
            continue;
        }
        let owner_len = entry.path.len() - if annotation { 2 } else { 0 };
        let owner = &entry.path[..owner_len];
        if let Some((_, class)) = classes.iter_mut().find(|(path, _)| path == owner) {
            if annotation {
                class.default = entry.value == "true";
            } else {
                class.provisioner = Some(entry.value.clone());
            }
        }
    }
    facts
        .storage_classes
        .extend(classes.into_iter().map(|(_, class)| class));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(text: &str) -> Vec<(String, bool, Option<String>, Option<u32>)> {
        read("sc.txt", text, 1, None)
            .storage_classes
            .into_iter()
            .map(|c| (c.name, c.default, c.provisioner, c.at.line))
            .collect()
    }

    fn c(
        name: &str,
        default: bool,
        provisioner: &str,
        line: u32,
    ) -> (String, bool, Option<String>, Option<u32>) {
        (name.into(), default, Some(provisioner.into()), Some(line))
    }

    #[test]
    fn reads_both_table_layouts() {
        let new = "NAME                 PROVISIONER             RECLAIMPOLICY   VOLUMEBINDINGMODE      ALLOWVOLUMEEXPANSION   AGE\n\
                   premium-rwo          pd.csi.storage.gke.io   Delete          WaitForFirstConsumer   true                   30d\n\
                   standard (default)   kubernetes.io/gce-pd    Delete          Immediate              true                   30d\n";
        assert_eq!(
            classes(new),
            vec![
                c("premium-rwo", false, "pd.csi.storage.gke.io", 2),
                c("standard", true, "kubernetes.io/gce-pd", 3)
            ]
        );
        let old = "NAME            PROVISIONER             AGE\ngp2 (default)   kubernetes.io/aws-ebs   1y\n";
        assert_eq!(
            classes(old),
            vec![c("gp2", true, "kubernetes.io/aws-ebs", 2)]
        );
    }

    #[test]
    fn reads_describe_output() {
        let text = "Name:            web-0\nNamespace:       astronomer\nName:            gp2\nIsDefaultClass:  Yes\nAnnotations:     storageclass.kubernetes.io/is-default-class=true\nProvisioner:     kubernetes.io/aws-ebs\n\nName:            io1\nIsDefaultClass:  No\nProvisioner:     ebs.csi.aws.com\n";
        assert_eq!(
            classes(text),
            vec![
                c("gp2", true, "kubernetes.io/aws-ebs", 3),
                c("io1", false, "ebs.csi.aws.com", 8)
            ]
        );
    }

    #[test]
    fn no_resources_and_names_only_give_no_facts() {
        let facts = read("sc", "No resources found\n", 4, None);
        assert!(facts.storage_classes.is_empty());
        assert_eq!(facts.diagnostics[0].line, Some(4));
        let facts = read("sc", "storageclass.storage.k8s.io/gp2\n", 1, None);
        assert!(facts.storage_classes.is_empty());
        assert_eq!(facts.diagnostics.len(), 1);
    }

    #[test]
    fn reads_default_annotations_in_yaml() {
        let text = "apiVersion: v1\nitems:\n- apiVersion: storage.k8s.io/v1\n  kind: StorageClass\n  metadata:\n    annotations:\n      storageclass.beta.kubernetes.io/is-default-class: \"true\"\n    name: gp2\n  provisioner: kubernetes.io/aws-ebs\n- apiVersion: storage.k8s.io/v1\n  kind: StorageClass\n  metadata:\n    annotations:\n      storageclass.kubernetes.io/is-default-class: \"false\"\n    name: io1\n  provisioner: ebs.csi.aws.com\nkind: List\n";
        assert_eq!(
            classes(text),
            vec![
                c("gp2", true, "kubernetes.io/aws-ebs", 8),
                c("io1", false, "ebs.csi.aws.com", 15)
            ]
        );
        let single = "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  annotations:\n    storageclass.kubernetes.io/is-default-class: \"true\"\n  name: local-path\nprovisioner: rancher.io/local-path\n";
        assert_eq!(
            classes(single),
            vec![c("local-path", true, "rancher.io/local-path", 6)]
        );
    }

    #[test]
    fn reads_default_annotations_in_json() {
        let text = r#"{
    "apiVersion": "v1",
    "items": [
        {
            "kind": "StorageClass",
            "metadata": {
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
                "name": "standard"
            },
            "provisioner": "rancher.io/local-path"
        }
    ],
    "kind": "List"
}"#;
        assert_eq!(
            classes(text),
            vec![c("standard", true, "rancher.io/local-path", 8)]
        );
        let facts = read("sc", "{\"items\": [", 1, None);
        assert!(facts.storage_classes.is_empty());
        assert_eq!(facts.diagnostics.len(), 1);
    }

    #[test]
    fn yaml_paths_keep_parents_of_same_indent_sequences() {
        let entries = yaml_entries("contexts:\n- context:\n    namespace: a\n  name: one\n- name: two\ncurrent-context: one\n", 1);
        let got: Vec<_> = entries
            .iter()
            .map(|e| (e.path.join("/"), e.key.as_str(), e.value.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("".into(), "contexts", ""),
                ("contexts/#1".into(), "context", ""),
                ("contexts/#1/context".into(), "namespace", "a"),
                ("contexts/#1".into(), "name", "one"),
                ("contexts/#2".into(), "name", "two"),
                ("".into(), "current-context", "one"),
            ]
        );
    }

    #[test]
    fn sniff_knows_the_header() {
        assert_eq!(sniff("NAME   PROVISIONER   AGE\n"), 95);
        assert_eq!(sniff("NAME  READY  STATUS\n"), 0);
    }
}
