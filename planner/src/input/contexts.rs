//! The kubectl context and its namespace: `kubectl config get-contexts`, `kubectl config view
//! [--minify]`, a bare namespace (`kubens -c`, `kubectl config view --minify -o
//! jsonpath='{..namespace}'`), `kubens NS` / `kubectl config set-context --current
//! --namespace=NS` messages, and `kubectl config current-context`.
//!
//! A context's namespace `None` means `default` (what kubectl does with an empty NAMESPACE), so a
//! fact is only made when the namespace is really known: `current-context` prints a name and no
//! namespace, and becomes an info diagnostic, not a context. A namespace printed without its
//! context's name gives a context named `""`.

use serde_json::Value;

use crate::facts::{At, Context, Facts, Severity};
use crate::input::{json_at, text, yaml};

/// A header with no column offsets: rows under it are read word by word.
const WORDS_ONLY_HEADER: &str = "CURRENT NAME CLUSTER AUTHINFO NAMESPACE";

/// What a command says about its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asked {
    /// The output is the current namespace alone (empty when none is set).
    Namespace,
    /// The output is the current context's name alone.
    ContextName,
    Other,
}

fn asked(command: Option<&str>) -> Asked {
    let Some(command) = command else {
        return Asked::Other;
    };
    let words = text::command_words(command);
    let has = |w: &str| words.contains(&w);
    if has("current-context") {
        Asked::ContextName
    } else if (has("kubens") && (has("-c") || has("--current")))
        || (has("view") && command.contains("namespace}"))
    {
        Asked::Namespace
    } else {
        Asked::Other
    }
}

/// `kubectl config set-context --current --namespace=NS`: the namespace it set.
fn namespace_set_by(command: Option<&str>) -> Option<&str> {
    let command = command?;
    let words = text::command_words(command);
    (words.contains(&"set-context") && words.contains(&"--current"))
        .then(|| text::command_namespace(command))
        .flatten()
}

fn quoted(line: &str) -> Option<&str> {
    let start = line.find('"')? + 1;
    let end = start + line[start..].find('"')?;
    Some(&line[start..end])
}

/// Reads `text`, whose first line is line `first_line` of the source `name`; `command` is the
/// command line that printed it, when the paste showed one.
pub fn read(name: &str, text: &str, first_line: u32, command: Option<&str>) -> Facts {
    let mut reader = Reader {
        name,
        facts: Facts::default(),
    };
    let lines: Vec<text::Line<'_>> = text::lines(text, first_line)
        .filter(|l| !l.text.trim().is_empty())
        .collect();
    let words = |l: &text::Line<'_>| l.text.split_whitespace().count();
    match asked(command) {
        Asked::Namespace => {
            match lines.as_slice() {
                [only] if words(only) == 1 => {
                    reader.current(String::new(), Some(only.text.trim()), only.number)
                }
                // The jsonpath prints nothing when the context sets no namespace.
                [] if first_line > 1 => reader.current(String::new(), None, first_line - 1),
                _ => reader.read_lines(&lines, command),
            }
            return reader.facts;
        }
        Asked::ContextName => {
            if let [only] = lines.as_slice() {
                reader.context_name_only(only.text.trim(), only.number);
                return reader.facts;
            }
        }
        Asked::Other => {}
    }
    if lines.first().is_some_and(|l| {
        let t = l.text.trim_start();
        t.starts_with("apiVersion:") || t.starts_with("clusters:") || t.starts_with("contexts:")
    }) {
        reader.read_config(text, first_line);
    } else if let [only] = lines.as_slice() {
        if words(only) == 1 && text::command_of(&only.text).is_none() {
            reader.single_word(only.text.trim(), only.number);
        } else {
            reader.read_lines(&lines, command);
        }
    } else {
        reader.read_lines(&lines, command);
    }
    reader.facts
}

/// How strongly `text` looks like this reader's input, 0 (not at all) to 100 (certainly).
pub fn sniff(text: &str) -> u32 {
    let mut score = 0;
    for line in text::lines(text, 1).take(400) {
        let words: Vec<&str> = line.text.split_whitespace().collect();
        match words.as_slice() {
            ["CURRENT", "NAME", "CLUSTER", ..] => return 95,
            ["current-context:", ..] => score = score.max(80),
            ["Active", "namespace", "is", ..] => score = score.max(80),
            _ => {}
        }
    }
    score
}

struct Reader<'n> {
    name: &'n str,
    facts: Facts,
}

impl Reader<'_> {
    fn diagnostic(&mut self, line: u32, severity: Severity, message: String) {
        self.facts.diagnose(self.name, line, severity, message);
    }

    fn current(&mut self, context: String, namespace: Option<&str>, line: u32) {
        self.facts.contexts.push(Context {
            name: context,
            namespace: namespace.filter(|n| !n.is_empty()).map(str::to_owned),
            current: true,
            at: At::new(self.name, line),
        });
    }

    fn context_name_only(&mut self, context: &str, line: u32) {
        self.diagnostic(
            line,
            Severity::Info,
            format!(
                "the current context is `{context}`; its namespace is not shown: paste `kubectl config get-contexts`"
            ),
        );
    }

    /// One word without its command: a context name if a namespace could not be called so.
    fn single_word(&mut self, word: &str, line: u32) {
        let namespace_like = word.len() <= 63
            && word
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if namespace_like {
            self.diagnostic(
                line,
                Severity::Warning,
                format!("`{word}` alone could be a namespace or a context name: paste the command that printed it"),
            );
        } else {
            self.context_name_only(word, line);
        }
    }

    /// `kubectl config get-contexts` tables and kubens / set-context messages.
    fn read_lines(&mut self, lines: &[text::Line<'_>], command: Option<&str>) {
        let mut header: Option<String> = None;
        let mut modified: Option<(String, u32)> = None;
        for line in lines {
            let content: &str = &line.text;
            let trimmed = content.trim();
            if text::command_of(content).is_some() {
                header = None;
                continue;
            }
            let words: Vec<&str> = trimmed.split_whitespace().collect();
            if words.starts_with(&["CURRENT", "NAME"]) {
                header = Some(content.to_owned());
                continue;
            }
            if trimmed.starts_with("Context \"")
                && (trimmed.ends_with("modified.") || trimmed.contains("\" modified"))
            {
                let context = quoted(trimmed).unwrap_or_default().to_owned();
                if let Some(namespace) = namespace_set_by(command) {
                    self.current(context.clone(), Some(namespace), line.number);
                }
                modified = Some((context, line.number));
                continue;
            }
            if trimmed.starts_with("Active namespace is") {
                let context = modified.take().map(|(c, _)| c).unwrap_or_default();
                self.current(context, quoted(trimmed), line.number);
                continue;
            }
            match &header {
                Some(header) => self.row(header, content, line.number),
                // `kubectl config get-contexts | grep '*'` keeps the current row only.
                None if trimmed.starts_with("* ") && words.len() >= 4 => {
                    self.row(WORDS_ONLY_HEADER, content, line.number);
                }
                None => {}
            }
        }
    }

    fn row(&mut self, header: &str, row: &str, number: u32) {
        let starts = text::column_starts(header);
        let name_start = starts.get(1).map_or(0, |s| s.0);
        let aligned = starts.len() >= 4
            && row.len() > name_start
            && row.is_char_boundary(name_start)
            && row[..name_start]
                .trim_matches(|c: char| c == '*' || c.is_whitespace())
                .is_empty();
        let cells = text::cells_at(row, &starts);
        // An empty NAME cell (a context named ``) is read from the columns when the cells after
        // it start under their headers; shifting the words left would make the cluster its name.
        let aligned = aligned
            && (!row[name_start..].starts_with(char::is_whitespace)
                || cells.get(2).is_some_and(|cluster| !cluster.is_empty()));
        // In a row that overflowed the header's columns, cells do not start under their names.
        let aligned = aligned
            && cells
                .iter()
                .zip(&starts)
                .skip(1)
                .all(|(cell, (offset, _))| {
                    cell.is_empty() || cell.as_ptr() as usize - row.as_ptr() as usize == *offset
                });
        let (current, name, namespace) = if aligned {
            let cell = |column: &str| {
                starts
                    .iter()
                    .position(|(_, n)| *n == column)
                    .and_then(|i| cells.get(i).copied())
                    .filter(|c| !c.is_empty())
            };
            (
                cell("CURRENT") == Some("*"),
                Some(cell("NAME").unwrap_or_default()),
                cell("NAMESPACE"),
            )
        } else {
            let mut words: Vec<&str> = row.split_whitespace().collect();
            let current = words.first() == Some(&"*");
            if current {
                words.remove(0);
            }
            (current, words.first().copied(), words.get(3).copied())
        };
        match name {
            Some(name) => self.facts.contexts.push(Context {
                name: name.to_owned(),
                namespace: namespace.map(str::to_owned),
                current,
                at: At::new(self.name, number),
            }),
            None => self.diagnostic(
                number,
                Severity::Warning,
                "not a row of the get-contexts table".to_owned(),
            ),
        }
    }

    /// `kubectl config view [--minify]`: the contexts and which one is current, read with
    /// [`yaml::parse`] up to what follows the document (a prompt, other output). Only names and
    /// namespaces are taken from the value; the credentials of a `--raw` paste are parsed with
    /// the rest but never copied out, and the parser's message is not shown (it may quote the
    /// document).
    fn read_config(&mut self, text: &str, first_line: u32) {
        let lines: Vec<text::Line<'_>> = text::lines(text, first_line).collect();
        // Cleaned lines, one per input line, so the parser's positions are the source's.
        let cleaned: String = lines.iter().map(|l| format!("{}\n", l.text)).collect();
        let start = cleaned.find(|c: char| !c.is_whitespace()).unwrap_or(0);
        let document = &cleaned[..yaml::document_end(&cleaned, start)];
        let value = match yaml::parse(document, first_line) {
            Ok(value) => value,
            Err(unreadable) => {
                let line = unreadable.line.min(text::last_line(document, first_line));
                self.diagnostic(
                    line,
                    Severity::Warning,
                    "this `kubectl config view` YAML is cut short or damaged: its contexts are not read"
                        .to_owned(),
                );
                return;
            }
        };
        let current = value.get("current-context").and_then(scalar);
        let Some(Value::Array(contexts)) = value.get("contexts") else {
            return;
        };
        // The value has no positions: a context is placed on the first `name: <context>` line
        // after the previous one's, from the top-level `contexts:` line on (a text search, not a
        // second parser); not found, on that line or the document's first.
        let from = lines
            .iter()
            .position(|l| l.text.trim_end() == "contexts:")
            .unwrap_or(0);
        let mut search_from = from;
        for item in contexts {
            let Some(name) = item.get("name").and_then(scalar) else {
                continue;
            };
            let namespace = json_at(item, "/context/namespace")
                .and_then(scalar)
                .filter(|n| !n.is_empty());
            let found = lines
                .get(search_from..)
                .unwrap_or_default()
                .iter()
                .position(|l| yaml::shows(&l.text, "name", &name));
            let line = match found {
                Some(offset) => {
                    search_from += offset;
                    lines[search_from].number
                }
                None => lines.get(from).map_or(first_line, |l| l.number),
            };
            self.facts.contexts.push(Context {
                current: current.as_deref() == Some(name.as_str()),
                name,
                namespace,
                at: At::new(self.name, line),
            });
        }
    }
}

/// A name as YAML printed it: `prod`, `"prod"`, or `123` (which YAML reads as a number).
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contexts(
        text: &str,
        command: Option<&str>,
    ) -> Vec<(String, Option<String>, bool, Option<u32>)> {
        read("contexts.txt", text, 2, command)
            .contexts
            .into_iter()
            .map(|c| (c.name, c.namespace, c.current, c.at.line))
            .collect()
    }

    fn c(
        name: &str,
        namespace: Option<&str>,
        current: bool,
        line: u32,
    ) -> (String, Option<String>, bool, Option<u32>) {
        (
            name.into(),
            namespace.map(str::to_owned),
            current,
            Some(line),
        )
    }

    #[test]
    fn reads_get_contexts_with_empty_namespaces() {
        let text = "CURRENT   NAME        CLUSTER        AUTHINFO   NAMESPACE\n\
                    *         kind-kind   kind-kind      kind-kind  \n\
                    \x20         prod        prod-cluster   admin      astronomer\n";
        assert_eq!(
            contexts(text, None),
            vec![
                c("kind-kind", None, true, 3),
                c("prod", Some("astronomer"), false, 4)
            ]
        );
        let collapsed = "CURRENT NAME CLUSTER AUTHINFO NAMESPACE\n* prod prod-cluster admin astronomer\nstage stage-cluster admin\n";
        assert_eq!(
            contexts(collapsed, None),
            vec![
                c("prod", Some("astronomer"), true, 3),
                c("stage", None, false, 4)
            ]
        );
    }

    #[test]
    fn reads_a_grepped_current_row_without_header() {
        assert_eq!(
            contexts(
                "*         prod   prod-cluster   admin   astronomer\n",
                Some("kubectl config get-contexts | grep '*'")
            ),
            vec![c("prod", Some("astronomer"), true, 2)]
        );
    }

    #[test]
    fn reads_config_view_minify() {
        let text = "apiVersion: v1\nclusters:\n- cluster:\n    server: https://127.0.0.1:6443\n  name: kind-kind\ncontexts:\n- context:\n    cluster: kind-kind\n    namespace: astronomer\n    user: kind-kind\n  name: kind-kind\ncurrent-context: kind-kind\nkind: Config\nusers:\n- name: kind-kind\n  user:\n    client-key-data: REDACTED\n";
        assert_eq!(
            contexts(text, None),
            vec![c("kind-kind", Some("astronomer"), true, 12)]
        );
    }

    const RAW_CONFIG: &str = "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: Q0EtREFUQS1TRUNSRVQ=\n    server: https://prod:6443\n  name: prod\ncontexts:\n- context:\n    cluster: prod\n    namespace: astronomer\n    user: admin\n  name: prod\n- context:\n    cluster: prod\n    user: admin\n  name: \"stage\"\ncurrent-context: prod\nkind: Config\nusers:\n- name: admin\n  user:\n    client-key-data: S0VZLURBVEEtU0VDUkVU\n    token: TOKEN-SECRET\n    password: PASSWORD-SECRET\n";

    #[test]
    fn credentials_in_a_raw_config_reach_no_fact_or_diagnostic() {
        assert_eq!(
            contexts(RAW_CONFIG, None),
            vec![
                c("prod", Some("astronomer"), true, 13),
                c("stage", None, false, 17)
            ]
        );
        // Damaged around and inside the credentials: a diagnostic without the parser's message;
        // yaml::parse already cuts the values a message quotes (`invalid value: string "…"`).
        let quoting = RAW_CONFIG.replace("token: TOKEN-SECRET", "token: !!int TOKEN-SECRET");
        let unreadable = yaml::parse(&quoting, 1).unwrap_err();
        assert!(
            !unreadable.message.contains("TOKEN-SECRET"),
            "{unreadable:?}"
        );
        for damaged in [
            quoting,
            RAW_CONFIG.replace("    token:", "   token:"),
            RAW_CONFIG.replace(
                "    password: PASSWORD-SECRET",
                "    PASSWORD-SECRET: [TOKEN-SECRET",
            ),
        ] {
            let facts = read("c", &damaged, 1, None);
            assert!(facts.contexts.is_empty());
            assert_eq!(facts.diagnostics.len(), 1, "{:?}", facts.diagnostics);
            let shown = format!("{facts:?}");
            for secret in ["SECRET", "S0VZ", "Q0Et"] {
                assert!(!shown.contains(secret), "{secret} in {shown}");
            }
        }
        let shown = format!("{:?}", read("c", RAW_CONFIG, 1, None));
        for secret in ["SECRET", "S0VZ", "Q0Et"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        let facts = read("c", &RAW_CONFIG.replace("    token:", "   token:"), 1, None);
        assert!(facts.contexts.is_empty());
        assert_eq!(facts.diagnostics.len(), 1);
        assert_eq!(facts.diagnostics[0].line, Some(23));
    }

    #[test]
    fn config_view_followed_by_other_text_is_read_up_to_it() {
        for after in crate::input::yaml::TEXT_AFTER_YAML {
            let facts = read("c", &format!("{RAW_CONFIG}{after}"), 1, None);
            assert!(
                facts.diagnostics.is_empty(),
                "{after:?}: {:?}",
                facts.diagnostics
            );
            assert_eq!(facts.contexts.len(), 2, "{after:?}");
        }
    }

    #[test]
    fn never_panics_on_odd_config_yaml() {
        for text in [
            "apiVersion: v1\ncontexts: [\n",
            "contexts:\n- name: [a]\n- context: 3\n  name: 7\n- x\ncurrent-context: {a: b}\n",
            "contexts: *x\n",
            "clusters:\n---\ncontexts:\n- name: a\n",
            "contexts:\n- \u{1b}[31mname: \u{0}\u{7f}\n\t- x",
            "apiVersion: v1\r\n\u{feff}contexts: \"\n",
        ] {
            for first_line in [1, u32::MAX] {
                let _ = read("c", text, first_line, None);
            }
        }
        assert_eq!(
            contexts(
                "contexts:\n- context:\n    namespace: 123\n  name: 7\n",
                None
            ),
            vec![c("7", Some("123"), false, 5)]
        );
    }

    #[test]
    fn reads_a_bare_namespace_only_with_its_command() {
        let jsonpath = "kubectl config view --minify -o jsonpath='{..namespace}'";
        assert_eq!(
            contexts("astronomer\n", Some(jsonpath)),
            vec![c("", Some("astronomer"), true, 2)]
        );
        assert_eq!(contexts("", Some(jsonpath)), vec![c("", None, true, 1)]);
        assert_eq!(
            contexts("default\n", Some("kubens -c")),
            vec![c("", Some("default"), true, 2)]
        );
        let facts = read("x", "astronomer\n", 1, None);
        assert!(facts.contexts.is_empty());
        assert_eq!(facts.diagnostics[0].severity, Severity::Warning);
    }

    #[test]
    fn current_context_alone_is_not_a_namespace() {
        let facts = read(
            "x",
            "arn:aws:eks:us-east-1:1:cluster/prod\n",
            1,
            Some("kubectl config current-context"),
        );
        assert!(facts.contexts.is_empty());
        assert_eq!(facts.diagnostics[0].severity, Severity::Info);
    }

    #[test]
    fn reads_namespace_switch_messages() {
        assert_eq!(
            contexts(
                "Context \"kind-kind\" modified.\nActive namespace is \"datarouter\".\n",
                Some("kubens datarouter")
            ),
            vec![c("kind-kind", Some("datarouter"), true, 3)]
        );
        assert_eq!(
            contexts(
                "Context \"prod\" modified.\n",
                Some("kubectl config set-context --current --namespace=default")
            ),
            vec![c("prod", Some("default"), true, 2)]
        );
    }
}
