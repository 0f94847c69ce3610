//! The block-style YAML subset `kubectl get -o yaml` prints, read into a JSON value, so the
//! `-o json` readers serve `-o yaml` too without a YAML library in the wasm bundle.
//!
//! Understood: mappings, sequences (also kubectl's `key:\n- item` at the key's indentation),
//! plain and quoted scalars, flow collections on one line (`{a: b, c: [d, "e"]}`, as manifests
//! write them) and block scalars (`|`, `>`), whose text is kept as one string. Anything else
//! becomes a string; nothing fails.

use serde_json::{Map, Value};

/// One meaningful line: its indentation and its text without it.
#[derive(Clone, Copy)]
struct Line<'a> {
    indent: usize,
    text: &'a str,
}

/// Deepest nesting followed; deeper input is cut off rather than overflowing the stack.
const MAX_DEPTH: usize = 64;

/// Reads `text` (one YAML document) into a JSON value.
pub fn parse(text: &str) -> Value {
    let mut lines: Vec<Line<'_>> = text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| {
            let t = l.trim_start();
            !t.is_empty() && !t.starts_with('#') && t != "---"
        })
        .map(|l| {
            let text = l.trim_start_matches(' ');
            Line {
                indent: l.len() - text.len(),
                text: text.trim_end(),
            }
        })
        .collect();
    let mut at = 0;
    let indent = lines.first().map_or(0, |l| l.indent);
    block(&mut lines, &mut at, indent, 0)
}

/// The mapping or sequence whose lines start at `at` with indentation `indent`.
fn block(lines: &mut [Line<'_>], at: &mut usize, indent: usize, depth: usize) -> Value {
    let Some(first) = lines.get(*at).copied() else {
        return Value::Null;
    };
    if depth > MAX_DEPTH {
        skip_deeper(lines, at, indent.saturating_sub(1));
        return Value::Null;
    }
    if is_item(first.text) {
        return sequence(lines, at, indent, depth);
    }
    let mut map = Map::new();
    while let Some(line) = lines.get(*at).copied() {
        if line.indent != indent || is_item(line.text) {
            break;
        }
        *at += 1;
        let Some((key, value)) = split_key(line.text) else {
            // not `key: value`: a stray line of a form we do not read
            skip_deeper(lines, at, indent);
            continue;
        };
        let value = match value {
            "" => match lines.get(*at).copied() {
                Some(next) if next.indent > indent => block(lines, at, next.indent, depth + 1),
                // kubectl prints a sequence at its key's indentation
                Some(next) if next.indent == indent && is_item(next.text) => {
                    sequence(lines, at, indent, depth + 1)
                }
                _ => Value::Null,
            },
            v if v.starts_with('|') || v.starts_with('>') => {
                let start = *at;
                skip_deeper(lines, at, indent);
                let text: Vec<&str> = lines[start..*at].iter().map(|l| l.text).collect();
                Value::String(text.join("\n"))
            }
            v => scalar(v),
        };
        map.insert(unquote(key).to_string(), value);
    }
    Value::Object(map)
}

/// Items `- …` at indentation `indent`; an item's own lines are read as a block two columns in.
fn sequence(lines: &mut [Line<'_>], at: &mut usize, indent: usize, depth: usize) -> Value {
    let mut items = Vec::new();
    while let Some(line) = lines.get(*at).copied() {
        if line.indent != indent || !is_item(line.text) {
            break;
        }
        let rest = line.text[1..].trim_start();
        if rest.is_empty() {
            *at += 1;
            let value = match lines.get(*at).copied() {
                Some(next) if next.indent > indent => block(lines, at, next.indent, depth + 1),
                _ => Value::Null,
            };
            items.push(value);
            continue;
        }
        if split_key(rest).is_none() {
            *at += 1;
            items.push(scalar(rest));
            continue;
        }
        // `- key: value`: the item is a mapping whose first line is the rest of this one
        let item_indent = indent + (line.text.len() - rest.len());
        lines[*at] = Line {
            indent: item_indent,
            text: rest,
        };
        items.push(block(lines, at, item_indent, depth + 1));
    }
    Value::Array(items)
}

/// Moves `at` past every line indented deeper than `indent`.
fn skip_deeper(lines: &[Line<'_>], at: &mut usize, indent: usize) {
    while lines.get(*at).is_some_and(|l| l.indent > indent) {
        *at += 1;
    }
}

fn is_item(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

/// `key: value` (or `key:`), where the key may be quoted.
fn split_key(text: &str) -> Option<(&str, &str)> {
    let search_from = match text.as_bytes().first() {
        Some(&quote @ (b'"' | b'\'')) => text[1..].find(quote as char)? + 2,
        _ => 0,
    };
    let rel = text[search_from..]
        .find(": ")
        .or_else(|| text.ends_with(':').then(|| text.len() - 1 - search_from))?;
    let colon = search_from + rel;
    Some((&text[..colon], text[colon + 1..].trim()))
}

fn unquote(text: &str) -> &str {
    let bytes = text.as_bytes();
    if bytes.len() >= 2
        && (bytes[0] == b'"' || bytes[0] == b'\'')
        && bytes[bytes.len() - 1] == bytes[0]
    {
        &text[1..text.len() - 1]
    } else {
        text
    }
}

fn scalar(text: &str) -> Value {
    match text {
        "null" | "~" => Value::Null,
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "{}" => Value::Object(Map::new()),
        "[]" => Value::Array(Vec::new()),
        _ if text.starts_with('{') || text.starts_with('[') => {
            flow(text).unwrap_or_else(|| Value::String(text.to_string()))
        }
        _ if text.starts_with('"') || text.starts_with('\'') => {
            Value::String(unquote(text).to_string())
        }
        _ => match text.parse::<i64>() {
            Ok(n) => Value::from(n),
            Err(_) => Value::String(text.to_string()),
        },
    }
}

/// A flow collection written on one line: `{key: value, …}` or `[item, …]`, nested; `None`
/// when the text is not one whole collection (it then stays a string).
fn flow(text: &str) -> Option<Value> {
    let mut rest = text.trim();
    let value = flow_value(&mut rest, 0)?;
    rest.trim().is_empty().then_some(value)
}

fn flow_value(rest: &mut &str, depth: usize) -> Option<Value> {
    if depth > MAX_DEPTH {
        return None;
    }
    *rest = rest.trim_start();
    let (open, close) = match rest.as_bytes().first()? {
        b'{' => (true, b'}'),
        b'[' => (false, b']'),
        b'"' | b'\'' => {
            let quote = rest.as_bytes()[0] as char;
            let end = rest[1..].find(quote)? + 1;
            let value = Value::String(rest[1..end].to_string());
            *rest = &rest[end + 1..];
            return Some(value);
        }
        _ => {
            let end = rest.find([',', '}', ']']).unwrap_or(rest.len());
            let value = scalar(rest[..end].trim());
            *rest = &rest[end..];
            return Some(value);
        }
    };
    *rest = &rest[1..];
    let mut map = Map::new();
    let mut items = Vec::new();
    loop {
        *rest = rest.trim_start();
        if rest.as_bytes().first() == Some(&close) {
            *rest = &rest[1..];
            break;
        }
        if open {
            let key_end = rest.find(':')?;
            let key = unquote(rest[..key_end].trim()).to_string();
            *rest = &rest[key_end + 1..];
            map.insert(key, flow_value(rest, depth + 1)?);
        } else {
            items.push(flow_value(rest, depth + 1)?);
        }
        *rest = rest.trim_start();
        match rest.as_bytes().first()? {
            b',' => *rest = &rest[1..],
            b if *b == close => {}
            _ => return None,
        }
    }
    Some(if open {
        Value::Object(map)
    } else {
        Value::Array(items)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_kubectl_yaml() {
        let text = "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    annotations:\n      note: |\n        two\n        lines\n    name: web-0\n    namespace: \"astronomer\"\n  spec:\n    containers:\n    - image: nginx\n      name: web\n  status:\n    containerStatuses:\n    - ready: false\n      restartCount: 3\n      state:\n        waiting:\n          reason: CrashLoopBackOff\n    phase: Running\nkind: List\nmetadata:\n  resourceVersion: \"\"\n";
        let value = parse(text);
        assert_eq!(value["kind"], json!("List"));
        let pod = &value["items"][0];
        assert_eq!(pod["metadata"]["name"], json!("web-0"));
        assert_eq!(pod["metadata"]["namespace"], json!("astronomer"));
        assert_eq!(pod["metadata"]["annotations"]["note"], json!("two\nlines"));
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
    fn reads_flow_collections_on_one_line() {
        let value = parse("roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: r}\nrules:\n- apiGroups: [\"*\"]\n  verbs: ['get', list]\nresources: {requests: {storage: 20Gi}, n: 3, ok: true}\nodd: {a: b\nempty: []\n");
        assert_eq!(value["roleRef"]["kind"], json!("ClusterRole"));
        assert_eq!(value["rules"][0]["apiGroups"], json!(["*"]));
        assert_eq!(value["rules"][0]["verbs"], json!(["get", "list"]));
        assert_eq!(value["resources"]["requests"]["storage"], json!("20Gi"));
        assert_eq!(value["resources"]["n"], json!(3));
        assert_eq!(value["resources"]["ok"], json!(true));
        assert_eq!(
            value["odd"],
            json!("{a: b"),
            "an unclosed collection stays text"
        );
        assert_eq!(value["empty"], json!([]));
    }

    #[test]
    fn never_fails_on_odd_input() {
        for text in [
            "",
            "- - -",
            ": :",
            "a:\n  - b\n c: d\n- e",
            "\"unclosed: x",
            "-\n-\n  x",
        ] {
            let _ = parse(text);
        }
        let deep: String = (0..500).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
        let _ = parse(&deep);
    }
}
