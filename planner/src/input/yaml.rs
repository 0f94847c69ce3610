//! YAML (`kubectl get -o yaml`, manifests) read into a JSON value with `serde_norway`, the
//! parser the executor has always sent manifests with, so the `-o json` readers serve `-o yaml`
//! too and a manifest is reviewed exactly as it is applied.

use serde::Deserialize;
use serde_json::Value;

/// Where and why a YAML text could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// The line the parser stopped at, counted as the text's lines are (from `first_line`).
    pub line: u32,
    /// The parser's message, its positions (`at line 3 column 5`) counted the same way.
    pub message: String,
}

/// Reads `text`, one YAML document whose first line is line `first_line` of its source, into
/// a JSON value; `Null` when it holds no value (empty, or only comments).
pub fn parse(text: &str, first_line: u32) -> Result<Value, Unreadable> {
    if text.lines().all(|l| {
        let l = l.trim();
        l.is_empty() || l.starts_with('#') || l == "---" || l == "..."
    }) {
        return Ok(Value::Null);
    }
    // Blank lines before the text make every position the parser reports a line of the source
    // (positions inside its message too). A source's lines are at most as many as its bytes,
    // so the padding is bounded by what was pasted; a larger `first_line` is only counted.
    let padding = first_line.max(1) - 1;
    let padded;
    let (text, offset) = if padding <= MAX_PADDING {
        padded = "\n".repeat(padding as usize) + text;
        (padded.as_str(), 0)
    } else {
        (text, padding)
    };
    let deserializer = serde_norway::Deserializer::from_str(text);
    Value::deserialize(deserializer).map_err(|error| Unreadable {
        line: error.location().map_or(first_line, |at| {
            let line = u32::try_from(at.line()).unwrap_or(u32::MAX).max(1);
            line.saturating_add(offset)
        }),
        message: without_quoted_values(&error.to_string()),
    })
}

/// The parser's message with every quoted value cut out: a type error quotes the value it could
/// not take (`invalid value: string "…"`), and in a pasted Secret, pod spec or kubeconfig that
/// value may be a password. Syntax errors quote nothing and keep their positions.
fn without_quoted_values(message: &str) -> String {
    let mut kept = String::with_capacity(message.len());
    let mut quoted = false;
    for c in message.chars() {
        match (c, quoted) {
            ('"', false) => {
                kept.push_str("\"…");
                quoted = true;
            }
            ('"', true) => {
                kept.push('"');
                quoted = false;
            }
            (_, false) => kept.push(c),
            (_, true) => {}
        }
    }
    if quoted {
        kept.push('"');
    }
    kept
}

/// Where the block YAML document kubectl printed (`get -o yaml`, `config view`) that starts at
/// byte `start` of `text` ends: before the first line after it that starts in column 0 and is
/// neither a `key:`, a `- ` item, a comment nor a document marker — a prompt, a fence or other
/// text pasted after the output, left alone as the `-o json` readers leave what follows their
/// value.
pub(crate) fn document_end(text: &str, start: usize) -> usize {
    let mut offset = start;
    for (index, line) in text[start..].split_inclusive('\n').enumerate() {
        let content = line.trim_end();
        let continues = index == 0
            || content.is_empty()
            || content.starts_with([' ', '\t', '#', '-'])
            || content == "..."
            || content.split_once(':').is_some_and(|(key, rest)| {
                !key.is_empty()
                    && (rest.is_empty() || rest.starts_with(' '))
                    && key.bytes().all(|b| {
                        b.is_ascii_alphanumeric()
                            || matches!(b, b'_' | b'.' | b'/' | b'-' | b'"' | b'\'')
                    })
            });
        if !continues {
            return offset;
        }
        offset += line.len();
    }
    text.len()
}

/// The documents of a YAML stream (split at `---` lines) with the 1-based line each starts on.
pub(crate) fn split_documents(text: &str) -> Vec<(&str, u32)> {
    let mut documents = Vec::new();
    let mut start = 0;
    let mut start_line = 1u32;
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        if line.starts_with("---") || line.trim_end() == "..." {
            documents.push((&text[start..offset], start_line));
            start = offset + line.len();
            start_line = number.saturating_add(1);
        }
        offset += line.len();
    }
    documents.push((&text[start..], start_line));
    documents
}

/// Whether one line of block YAML reads `key: value` (in a list item too, the value quoted or
/// not). A test of one line, for a reader to find the line a parsed value was printed on; it
/// knows nothing of the line's place in the document.
pub(crate) fn shows(line: &str, key: &str, value: &str) -> bool {
    let line = line.trim_start();
    let line = line.strip_prefix("- ").unwrap_or(line).trim_start();
    line.strip_prefix(key)
        .and_then(|rest| rest.strip_prefix(':'))
        .is_some_and(|printed| {
            let printed = printed.trim();
            [
                printed,
                printed.trim_matches('"'),
                printed.trim_matches('\''),
            ]
            .contains(&value)
        })
}

/// Lines of padding [`parse`] adds at most (a 4 MB paste has fewer lines than this).
const MAX_PADDING: u32 = 4 << 20;

/// What a paste may hold after a YAML document: a code fence, the next command and its table, a
/// bare prompt, PowerShell's. Each YAML reader's tests read its document followed by each.
#[cfg(test)]
pub(crate) const TEXT_AFTER_YAML: [&str; 4] = [
    "```\n",
    "$ kubectl get nodes\nNAME STATUS\n",
    "user@host:~$ \n",
    "\n\nPS C:\\> exit\n",
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_value_the_parser_quotes_in_its_message_is_not_kept() {
        let secret = "token: !!int TOKEN-SECRET-1234\n";
        let unreadable = parse(secret, 7).expect_err("a string is no integer");
        assert!(
            !unreadable.message.contains("TOKEN-SECRET"),
            "{unreadable:?}"
        );
        assert!(
            unreadable.message.contains("invalid value"),
            "{unreadable:?}"
        );
        assert_eq!(unreadable.line, 7, "{unreadable:?}");
    }

    #[test]
    fn reads_kubectl_yaml() {
        let text = "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    annotations:\n      note: |\n        two\n        lines\n    name: web-0\n    namespace: \"astronomer\"\n  spec:\n    containers:\n    - image: nginx\n      name: web\n  status:\n    containerStatuses:\n    - ready: false\n      restartCount: 3\n      state:\n        waiting:\n          reason: CrashLoopBackOff\n    phase: Running\nkind: List\nmetadata:\n  resourceVersion: \"\"\n";
        let value = parse(text, 1).unwrap();
        assert_eq!(value["kind"], json!("List"));
        let pod = &value["items"][0];
        assert_eq!(pod["metadata"]["name"], json!("web-0"));
        assert_eq!(pod["metadata"]["namespace"], json!("astronomer"));
        assert_eq!(
            pod["metadata"]["annotations"]["note"],
            json!("two\nlines\n")
        );
        assert_eq!(pod["spec"]["containers"][0]["image"], json!("nginx"));
        let status = &pod["status"]["containerStatuses"][0];
        assert_eq!(status["ready"], json!(false));
        assert_eq!(status["restartCount"], json!(3));
        assert_eq!(
            status["state"]["waiting"]["reason"],
            json!("CrashLoopBackOff")
        );
        assert_eq!(pod["status"]["phase"], json!("Running"));
        assert_eq!(value["metadata"]["resourceVersion"], json!(""));
    }

    #[test]
    fn reads_flow_collections() {
        let value = parse("roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: r}\nrules:\n- apiGroups: [\"*\"]\n  verbs: ['get', list]\nresources: {requests: {storage: 20Gi}, n: 3, ok: true}\nempty: []\nwrapped: {a: b,\n  c: d}\n", 1).unwrap();
        assert_eq!(value["roleRef"]["kind"], json!("ClusterRole"));
        assert_eq!(value["rules"][0]["apiGroups"], json!(["*"]));
        assert_eq!(value["rules"][0]["verbs"], json!(["get", "list"]));
        assert_eq!(value["resources"]["requests"]["storage"], json!("20Gi"));
        assert_eq!(value["resources"]["n"], json!(3));
        assert_eq!(value["resources"]["ok"], json!(true));
        assert_eq!(value["empty"], json!([]));
        assert_eq!(value["wrapped"], json!({"a": "b", "c": "d"}));
    }

    #[test]
    fn what_it_cannot_read_names_the_line() {
        let text = "a: 1\nb: {c: d\ne: f\n";
        let unreadable = parse(text, 1).unwrap_err();
        assert_eq!(unreadable.line, 3);
        assert_eq!(
            unreadable.message,
            "did not find expected ',' or '}' at line 3 column 2, while parsing a flow mapping at line 2 column 4"
        );
        // Counted from the text's first line in its source.
        let unreadable = parse(text, 11).unwrap_err();
        assert_eq!(unreadable.line, 13);
        assert_eq!(
            unreadable.message,
            "did not find expected ',' or '}' at line 13 column 2, while parsing a flow mapping at line 12 column 4"
        );
        assert_eq!(parse("a: 1\n  b: 2\n", 1).unwrap_err().line, 2);
        assert_eq!(parse("", 1).unwrap(), Value::Null);
        assert_eq!(parse("# only a comment\n---\n", 1).unwrap(), Value::Null);
    }

    #[test]
    fn never_panics_on_odd_input() {
        for text in [
            "- - -",
            ": :",
            "a:\n  - b\n c: d\n- e",
            "\"unclosed: x",
            "-\n-\n  x",
            "a: &x [*x]",
            "*unknown",
            "!!binary aGVsbG8=",
            "? [a, b]\n: c",
            "1: one\n2: two",
            "a: 1\n---\nb: 2\n",
            "\t- tab",
            "a: .nan\nb: 1e999\nc: 18446744073709551616",
        ] {
            let _ = parse(text, 1);
            let _ = parse(text, u32::MAX);
        }
        let deep: String = (0..500).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
        let _ = parse(&deep, 1);
        let _ = parse(&"[".repeat(100_000), 1);
    }
}
