//! `kubectl get storageclass|sc`: the table (`standard (default)` marker; the old
//! `NAME PROVISIONER AGE` layout too), `-o json` and `-o yaml` (the `is-default-class`
//! annotation, GA and beta).
//!
//! `-o name` output and `No resources found` say nothing about which class is the default; they
//! give no facts, only a diagnostic, so the default-storageclass check stays honest.

use serde_json::Value;

use crate::facts::{At, Facts, Severity, StorageClass};
use crate::input::{json_at, text, yaml};

const DEFAULT_ANNOTATIONS: [&str; 2] = [
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
];

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
    let first = lines.first().map_or(first_line, |l| l.number);
    let mut search_from = 0;
    push_classes(name, &value, facts, |class| {
        let quoted = format!("\"{class}\"");
        let found = lines[search_from..]
            .iter()
            .position(|l| l.text.contains("\"name\"") && l.text.contains(&quoted));
        match found {
            Some(offset) => {
                search_from += offset;
                lines[search_from].number
            }
            None => first,
        }
    });
}

/// `-o yaml`, read with [`yaml::parse`] into the value the `-o json` reader walks. The text is
/// read as cleaned lines (one per input line, so the parser's positions are the source's), up to
/// what follows the document (a prompt, a fence, other output); each `---` document on its own.
fn read_yaml(name: &str, text: &str, first_line: u32, facts: &mut Facts) {
    let lines: Vec<text::Line<'_>> = text::lines(text, first_line).collect();
    let cleaned: String = lines.iter().map(|l| format!("{}\n", l.text)).collect();
    let start = cleaned.find(|c: char| !c.is_whitespace()).unwrap_or(0);
    let end = yaml::document_end(&cleaned, start);
    let last = text::last_line(&cleaned[..end], first_line);
    for (document, at) in yaml::split_documents(&cleaned[..end]) {
        let document_line = first_line.saturating_add(at - 1);
        let value = match yaml::parse(document, document_line) {
            Ok(value) => value,
            Err(unreadable) => {
                diagnostic(
                    facts,
                    name,
                    unreadable.line.min(last),
                    Severity::Warning,
                    &format!("this YAML is cut short or damaged: {}", unreadable.message),
                );
                continue;
            }
        };
        // The document's own lines: `lines` holds one per input line, numbered from `first_line`.
        let skip = usize::try_from(at - 1).unwrap_or(usize::MAX);
        let count = document.split_inclusive('\n').count();
        let document_lines = lines.get(skip..).unwrap_or_default();
        let document_lines = &document_lines[..count.min(document_lines.len())];
        let mut search_from = 0;
        push_classes(name, &value, facts, |class| {
            // The parsed value has no positions. A class is placed on the first line at or after
            // the previous class's that reads `name: <class>` (objects come in the text's order):
            // a text search, not a second parser, so a `name: <class>` under another key that
            // comes first would be named instead. Not found: the document's first line.
            let found = document_lines[search_from..]
                .iter()
                .position(|l| yaml::shows(&l.text, "name", class));
            match found {
                Some(offset) => {
                    search_from += offset;
                    document_lines[search_from].number
                }
                None => document_line,
            }
        });
    }
}

/// The storage classes of a `List` (its `items`) or of one object, as `-o json` and `-o yaml`
/// print them; `line_of(class)` is the line its name is shown on.
fn push_classes(
    name: &str,
    value: &Value,
    facts: &mut Facts,
    mut line_of: impl FnMut(&str) -> u32,
) {
    let objects = match value.get("items") {
        Some(Value::Array(items)) => items.as_slice(),
        _ => std::slice::from_ref(value),
    };
    for object in objects {
        let Some(class) = json_at(object, "/metadata/name").and_then(Value::as_str) else {
            continue;
        };
        let default = DEFAULT_ANNOTATIONS.iter().any(|key| {
            json_at(object, "/metadata/annotations")
                .and_then(|a| a.get(*key))
                // kubectl quotes the annotation; an unquoted YAML `true` is a boolean
                .is_some_and(|v| v.as_str() == Some("true") || v.as_bool() == Some(true))
        });
        facts.storage_classes.push(StorageClass {
            name: class.to_owned(),
            default,
            provisioner: object
                .get("provisioner")
                .and_then(Value::as_str)
                .map(str::to_owned),
            at: At::new(name, line_of(class)),
        });
    }
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

    const SC_YAML: &str = "apiVersion: v1\nitems:\n- apiVersion: storage.k8s.io/v1\n  kind: StorageClass\n  metadata:\n    annotations:\n      storageclass.kubernetes.io/is-default-class: \"true\"\n    name: standard\n  provisioner: rancher.io/local-path\nkind: List\n";

    #[test]
    fn yaml_and_json_give_the_same_classes() {
        let json = "{\"apiVersion\": \"v1\", \"items\": [{\"kind\": \"StorageClass\", \"metadata\": {\"annotations\": {\"storageclass.kubernetes.io/is-default-class\": \"true\"}, \"name\": \"standard\"}, \"provisioner\": \"rancher.io/local-path\"}], \"kind\": \"List\"}\n";
        let from_json: Vec<_> = classes(json).into_iter().map(|c| (c.0, c.1, c.2)).collect();
        let from_yaml: Vec<_> = classes(SC_YAML)
            .into_iter()
            .map(|c| (c.0, c.1, c.2))
            .collect();
        assert_eq!(from_yaml, from_json);
        assert_eq!(
            classes(SC_YAML),
            vec![c("standard", true, "rancher.io/local-path", 8)]
        );
    }

    #[test]
    fn yaml_followed_by_other_text_is_read_up_to_it() {
        for after in crate::input::yaml::TEXT_AFTER_YAML {
            let facts = read("sc.txt", &format!("{SC_YAML}{after}"), 1, None);
            assert!(
                facts.diagnostics.is_empty(),
                "{after:?}: {:?}",
                facts.diagnostics
            );
            assert_eq!(facts.storage_classes.len(), 1, "{after:?}");
            assert_eq!(facts.storage_classes[0].at.line, Some(8));
        }
    }

    #[test]
    fn reads_each_yaml_document() {
        let text = "---\napiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: gp2\nprovisioner: kubernetes.io/aws-ebs\n---\napiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  annotations:\n    storageclass.kubernetes.io/is-default-class: \"true\"\n  name: \"io1\"\nprovisioner: ebs.csi.aws.com\n";
        assert_eq!(
            classes(text),
            vec![
                c("gp2", false, "kubernetes.io/aws-ebs", 5),
                c("io1", true, "ebs.csi.aws.com", 13)
            ]
        );
    }

    #[test]
    fn damaged_yaml_is_a_warning_naming_its_line() {
        let damaged = SC_YAML.replace("    name: standard\n", "   name: standard\n");
        let facts = read("sc.txt", &damaged, 10, None);
        assert!(facts.storage_classes.is_empty());
        assert_eq!(facts.diagnostics.len(), 1, "{:?}", facts.diagnostics);
        assert_eq!(facts.diagnostics[0].severity, Severity::Warning);
        assert_eq!(facts.diagnostics[0].line, Some(17));
        assert!(
            facts.diagnostics[0].message.contains("at line 17 column "),
            "{}",
            facts.diagnostics[0].message
        );
    }

    #[test]
    fn never_panics_on_odd_yaml() {
        for text in [
            "apiVersion: v1\nitems: [\n",
            "apiVersion: v1\nitems:\n- metadata: {name: [1]}\n- metadata:\n    name: 3\n",
            "kind: StorageClass\nmetadata: *x\n",
            "---\n---\n- - -\n",
            "- \u{1b}[31mname: \u{0}\u{7f}\n\t- x",
            "apiVersion: v1\n\u{feff}kind: List\r\nitems: \"\n",
            "kind:\n\u{1F600}: \u{00A0}\n---",
        ] {
            for first_line in [1, u32::MAX] {
                let _ = read("sc.txt", text, first_line, None);
            }
        }
        let facts = read(
            "sc.txt",
            "apiVersion: v1\nitems:\n- metadata:\n    name: 3\n",
            1,
            None,
        );
        assert!(facts.storage_classes.is_empty());
    }

    #[test]
    fn sniff_knows_the_header() {
        assert_eq!(sniff("NAME   PROVISIONER   AGE\n"), 95);
        assert_eq!(sniff("NAME  READY  STATUS\n"), 0);
    }
}
