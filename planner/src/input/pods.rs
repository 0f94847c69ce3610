//! `kubectl get pods` in its table forms (default, `-A`, `-o wide` old and new, `--show-labels`,
//! `--watch` repeats, `get all`, header-less `| grep` output) and as a `-o json` PodList.
//!
//! Table rows are read by whitespace tokens at the header's column indexes, not by byte
//! offsets: every column up to RESTARTS is a single word, and pasted tables often lose their
//! alignment. A later row of the same pod replaces the earlier one (`--watch`).

use serde::Deserialize;
use serde_json::Value;

use crate::facts::{rows_of_each_pod, At, Diagnostic, Facts, Pod, Severity};
use crate::input::{json_at, text, yaml};

/// Token indexes of the columns a pod row needs.
#[derive(Debug, Clone, Copy)]
struct Columns {
    namespace: Option<usize>,
    name: usize,
    ready: usize,
    status: usize,
    restarts: Option<usize>,
    /// How many cells a full row has (0 when there is no header to tell).
    cells: usize,
}

/// A row shorter than its header: the terminal may have wrapped it onto the next line.
struct ShortRow {
    line: String,
    number: u32,
    missing: usize,
    /// Whether it was read as a pod row on its own (wrapped after the columns the reader needs).
    read: bool,
}

/// What the current table is.
#[derive(Debug, Clone, Copy)]
enum Table {
    /// No header seen yet: rows are recognised by their READY cell.
    None,
    Pods(Columns),
    /// Another resource's table (`kubectl get all`, `get namespaces`): its rows are not pods.
    Other,
}

/// Reads `text`, whose first line is line `first_line` of the source `name`; `command` is the
/// command line that printed it, when the paste showed one.
pub fn read(name: &str, text: &str, first_line: u32, command: Option<&str>) -> Facts {
    let command_namespace = command.and_then(text::command_namespace);
    if let Some(json_start) = json_start(text) {
        return read_json(name, text, first_line, json_start, command_namespace);
    }
    if let Some(yaml_start) = yaml_start(text) {
        let mut facts = Facts::default();
        let start_line = text::line_of_offset(text, yaml_start, first_line);
        let yaml_end = yaml::document_end(text, yaml_start);
        let document = match yaml::parse(&text[yaml_start..yaml_end], start_line) {
            Ok(document) => document,
            Err(unreadable) => {
                facts.diagnostics.push(Diagnostic {
                    source: name.to_string(),
                    line: Some(unreadable.line.min(text::last_line(text, first_line))),
                    severity: Severity::Error,
                    message: format!(
                        "the pod YAML is incomplete or damaged: {}",
                        unreadable.message
                    ),
                });
                return facts;
            }
        };
        let found = |pod_name: &str, from: usize| {
            let key = text[from..].find("name: ")?;
            let at = from + key + "name: ".len();
            text[at..].find(pod_name).map(|i| (at + i, pod_name.len()))
        };
        push_pods(
            &mut facts,
            &document,
            (name, text, first_line, yaml_start),
            command_namespace,
            found,
        );
        return facts;
    }
    let all_namespaces = command.is_some_and(|c| {
        text::command_words(c)
            .iter()
            .any(|w| *w == "-A" || *w == "--all-namespaces")
    });
    let mut reader = TableReader {
        name,
        command_namespace,
        all_namespaces,
        facts: Facts::default(),
    };
    let mut table = Table::None;
    let mut short_row: Option<ShortRow> = None;
    let mut indexed = false;
    for (number, raw) in text::raw_lines(text, first_line) {
        let cleaned = text::clean_line(raw);
        let mut line = cleaned.trim();
        let piped;
        if line.starts_with(['╭', '├', '╰', '┌', '└', '╞', '+']) {
            // borders of box-drawn tables (nushell, psql-style)
            continue;
        }
        if line.starts_with(['|', '│']) {
            if line.starts_with("|-") || line.starts_with("| -") || line.starts_with("|:") {
                continue;
            }
            piped = line.replace(['|', '│'], " ");
            line = piped.trim();
            // nushell numbers its rows in a `#` column
            if let Some(rest) = line.strip_prefix("# ") {
                indexed = true;
                line = rest.trim_start();
            } else if indexed {
                let index_end = line.find(' ').unwrap_or(line.len());
                if line[..index_end].bytes().all(|b| b.is_ascii_digit()) {
                    line = line[index_end..].trim_start();
                }
            }
        }
        if line.is_empty() || is_elision(line) {
            continue;
        }
        let mut buffer = [""; MAX_TOKENS];
        let tokens = tokenize(line, &mut buffer);
        if let Some(next) = header(tokens) {
            reader.not_a_row(short_row.take());
            table = next;
            if matches!(table, Table::Pods(_)) {
                reader.facts.pods_listed = true;
            }
            continue;
        }
        if reader.message(line, number) {
            reader.not_a_row(short_row.take());
            continue;
        }
        match table {
            Table::Pods(columns) => {
                let cells = row_cells(tokens);
                if reader.row(tokens, columns, number) {
                    reader.not_a_row(short_row.take());
                    if cells < columns.cells {
                        short_row = Some(ShortRow {
                            line: String::new(),
                            number,
                            missing: columns.cells - cells,
                            read: true,
                        });
                    }
                    continue;
                }
                match short_row.take() {
                    // the tail of a row already read: nothing it adds is needed
                    Some(wrapped) if wrapped.missing == cells && wrapped.read => {}
                    Some(wrapped) if wrapped.missing == cells => {
                        let joined = format!("{} {line}", wrapped.line);
                        let mut buffer = [""; MAX_TOKENS];
                        let joined_tokens = tokenize(&joined, &mut buffer);
                        if !reader.row(joined_tokens, columns, wrapped.number) {
                            reader.not_a_row(Some(wrapped));
                            reader.not_a_row_at(line, number);
                        }
                    }
                    wrapped => {
                        reader.not_a_row(wrapped);
                        if cells < columns.cells {
                            short_row = Some(ShortRow {
                                line: line.to_string(),
                                number,
                                missing: columns.cells - cells,
                                read: false,
                            });
                        } else {
                            reader.not_a_row_at(line, number);
                        }
                    }
                }
            }
            Table::None => {
                if let Some(columns) = headerless_columns(tokens) {
                    reader.row(tokens, columns, number);
                }
            }
            Table::Other => {}
        }
    }
    reader.not_a_row(short_row);
    reader.finish(text, first_line)
}

/// Pod rows have at most a dozen cells; later ones (labels, gates) are never needed.
const MAX_TOKENS: usize = 24;

/// The first whitespace-separated words of `line`, without allocating.
fn tokenize<'a, 'b>(line: &'a str, buffer: &'b mut [&'a str; MAX_TOKENS]) -> &'b [&'a str] {
    let mut count = 0;
    // ASCII whitespace only: `clean_line` already turned no-break spaces into spaces
    for (slot, word) in buffer.iter_mut().zip(line.split_ascii_whitespace()) {
        *slot = word;
        count += 1;
    }
    &buffer[..count]
}

struct TableReader<'a> {
    name: &'a str,
    command_namespace: Option<&'a str>,
    all_namespaces: bool,
    facts: Facts,
}

impl TableReader<'_> {
    /// Reads one row; false when it is not a pod row.
    fn row(&mut self, tokens: &[&str], columns: Columns, number: u32) -> bool {
        let (Some(&name), Some(&ready), Some(&status)) = (
            tokens.get(columns.name),
            tokens.get(columns.ready),
            tokens.get(columns.status),
        ) else {
            return false;
        };
        let Some((ready_now, ready_all)) = parse_ready(ready) else {
            return false;
        };
        if !is_status_word(status) {
            return false;
        }
        let name = name
            .strip_prefix("pod/")
            .or_else(|| name.strip_prefix("pods/"))
            .unwrap_or(name);
        let namespace = match columns.namespace {
            Some(i) => tokens.get(i).map(|ns| ns.to_string()),
            None if self.all_namespaces => None,
            None => self.command_namespace.map(str::to_string),
        };
        let restarts = columns
            .restarts
            .and_then(|i| tokens.get(i))
            .and_then(|r| r.parse().ok());
        let pod = Pod {
            namespace,
            name: name.to_string(),
            ready: Some(ready.to_string()),
            status: status.to_string(),
            restarts,
            healthy: healthy(status, Some((ready_now, ready_all))),
            at: At::new(self.name, number),
        };
        self.push(pod);
        true
    }

    /// Warns about a short line that no following line completed into a pod row.
    fn not_a_row(&mut self, short_row: Option<ShortRow>) {
        if let Some(row) = short_row.filter(|r| !r.read) {
            self.not_a_row_at(&row.line, row.number);
        }
    }

    fn not_a_row_at(&mut self, line: &str, number: u32) {
        self.note(
            number,
            Severity::Warning,
            format!("not a pod row: {}", shorten(line)),
        );
    }

    fn push(&mut self, pod: Pod) {
        self.facts.pods_listed = true;
        self.facts.pods.push(pod);
    }

    /// Lines kubectl prints instead of rows; true when `line` was one.
    fn message(&mut self, line: &str, number: u32) -> bool {
        if line.starts_with("No resources found") {
            self.facts.pods_listed = true;
            self.note(
                number,
                Severity::Info,
                format!("no pods listed: {}", shorten(line)),
            );
            return true;
        }
        let is_error = line.starts_with("Error from server")
            || line.starts_with("error:")
            || line.starts_with("Error:")
            || line.starts_with("Unable to connect to the server")
            || line.starts_with("The connection to the server");
        if is_error {
            self.note(
                number,
                Severity::Warning,
                format!(
                    "kubectl reported an error instead of pods: {}",
                    shorten(line)
                ),
            );
        }
        is_error || line.starts_with("WARNING:") || line.starts_with("Warning:")
    }

    fn note(&mut self, line: u32, severity: Severity, message: String) {
        self.facts.diagnose(self.name, line, severity, message);
    }

    fn finish(mut self, text: &str, first_line: u32) -> Facts {
        keep_last_row_of_each_pod(&mut self.facts.pods);
        if !self.facts.pods_listed {
            if let Some((line, _)) =
                text::raw_lines(text, first_line).find(|(_, raw)| !raw.trim().is_empty())
            {
                self.note(
                    line,
                    Severity::Warning,
                    "no pod table found; paste the output of `kubectl get pods -A`".to_string(),
                );
            }
        }
        self.facts
    }
}

/// `--watch` prints a pod again on every change: its last row wins, at the place of its first
/// row.
fn keep_last_row_of_each_pod(pods: &mut Vec<Pod>) {
    let rows = rows_of_each_pod(pods);
    if rows.iter().all(|&(first, last)| first == last) {
        return;
    }
    for (at, &(first, last)) in rows.iter().enumerate() {
        if at == first && last != first {
            pods.swap(first, last);
        }
    }
    let mut rows = rows.iter().enumerate();
    pods.retain(|_| rows.next().is_none_or(|(at, &(first, _))| at == first));
}

/// A table header: pod tables have READY and STATUS; other `NAME …` headers start other tables.
fn header(tokens: &[&str]) -> Option<Table> {
    let first = *tokens.first()?;
    if first != "NAME" && first != "NAMESPACE" {
        return None;
    }
    if !tokens.iter().all(|t| is_header_word(t)) {
        return None;
    }
    let find = |name: &str| tokens.iter().position(|t| *t == name);
    // `NOMINATED NODE` and `READINESS GATES` are one column each
    let two_word_names = tokens
        .windows(2)
        .filter(|w| matches!(w, ["NOMINATED", "NODE"] | ["READINESS", "GATES"]))
        .count();
    let table = match (find("NAME"), find("READY"), find("STATUS")) {
        (Some(name), Some(ready), Some(status)) => Table::Pods(Columns {
            namespace: find("NAMESPACE"),
            name,
            ready,
            status,
            restarts: find("RESTARTS"),
            cells: tokens.len() - two_word_names,
        }),
        _ => Table::Other,
    };
    Some(table)
}

fn is_header_word(word: &str) -> bool {
    word.bytes()
        .all(|b| b.is_ascii_uppercase() || b == b'-' || b == b'_' || b == b'(' || b == b')')
}

/// Columns of a row pasted without its header (`kubectl get pods | grep houston`), found by
/// where its READY cell (`n/m`) is.
fn headerless_columns(tokens: &[&str]) -> Option<Columns> {
    let ready = tokens
        .iter()
        .take(3)
        .position(|t| parse_ready(t).is_some())?;
    let restarts = tokens
        .get(ready + 2)
        .filter(|r| r.bytes().all(|b| b.is_ascii_digit()));
    restarts?;
    match ready {
        1 => Some(Columns {
            namespace: None,
            name: 0,
            ready: 1,
            status: 2,
            restarts: Some(3),
            cells: 0,
        }),
        2 => Some(Columns {
            namespace: Some(0),
            name: 1,
            ready: 2,
            status: 3,
            restarts: Some(4),
            cells: 0,
        }),
        _ => None,
    }
}

/// How many cells a row's tokens make: RESTARTS `3 (2m ago)` is one cell.
fn row_cells(tokens: &[&str]) -> usize {
    tokens.len() - 2 * tokens.iter().filter(|t| **t == "ago)").count()
}

/// READY as `n/m`.
fn parse_ready(ready: &str) -> Option<(u32, u32)> {
    let (now, all) = ready.split_once('/')?;
    Some((now.parse().ok()?, all.parse().ok()?))
}

/// STATUS cells are one word of letters, digits and `:`/`/`/`-` (`Init:0/2`, `Init:Signal:-9`).
fn is_status_word(status: &str) -> bool {
    status
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && status
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'/' | b'-' | b'_' | b'.'))
}

/// Running with every container ready, or finished successfully.
fn healthy(status: &str, ready: Option<(u32, u32)>) -> bool {
    match status {
        "Completed" | "Succeeded" => true,
        "Running" => ready.is_some_and(|(now, all)| all > 0 && now == all),
        _ => false,
    }
}

/// `...`, `…`, `[...]`, `<snip>`: a paste that left rows out.
fn is_elision(line: &str) -> bool {
    matches!(
        line,
        "..." | "…" | "[...]" | "[…]" | "<snip>" | "[snip]" | "(...)" | "." | ".."
    ) || line.bytes().all(|b| b == b'.')
}

/// A line shortened for a message, its credentials masked first (a cut could hide where a
/// password ends).
fn shorten(line: &str) -> String {
    let line = crate::report::redact_secrets(line);
    let mut out: String = line.chars().take(100).collect();
    if out.len() < line.len() {
        out.push('…');
    }
    out
}

/// At most the first `len` bytes of `text`, cut at a character boundary.
fn prefix(text: &str, len: usize) -> &str {
    let mut cut = len.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

/// Byte offset of a `-o json` document (`{` opening a Pod or a List), if the text is one.
fn json_start(text: &str) -> Option<usize> {
    let start = text.find(|c: char| !c.is_whitespace())?;
    if !text[start..].starts_with('{') {
        return None;
    }
    let head = prefix(&text[start..], 400);
    (head.contains("\"kind\"") || head.contains("\"items\"") || head.contains("\"apiVersion\""))
        .then_some(start)
}

/// `kubectl get pods -o json`: a PodList (or List, or one Pod), STATUS computed like kubectl's
/// printer does.
fn read_json(
    name: &str,
    text: &str,
    first_line: u32,
    start: usize,
    command_namespace: Option<&str>,
) -> Facts {
    let mut facts = Facts::default();
    let line_at = |offset: usize| text::line_of_offset(text, offset, first_line);
    // The first value only (what follows it is left alone, as a stream reader would): the text
    // starts with `{`, so one value is always there to read.
    let mut json = serde_json::Deserializer::from_str(&text[start..]);
    let document = match Value::deserialize(&mut json) {
        Ok(document) => document,
        Err(error) => {
            let line = line_at(start)
                .saturating_add(u32::try_from(error.line()).unwrap_or(1).saturating_sub(1));
            facts.diagnostics.push(Diagnostic {
                source: name.to_string(),
                line: Some(line.min(text::last_line(text, first_line))),
                severity: Severity::Error,
                message: format!("the pod JSON is incomplete or damaged: {error}"),
            });
            return facts;
        }
    };
    let found = |pod_name: &str, from: usize| {
        let needle = format!("\"{pod_name}\"");
        text[from..].find(&needle).map(|i| (from + i, needle.len()))
    };
    push_pods(
        &mut facts,
        &document,
        (name, text, first_line, start),
        command_namespace,
        found,
    );
    facts
}

/// Byte offset of a `-o yaml` pod document (a `kind: List`/`PodList` of pods, or one Pod).
fn yaml_start(text: &str) -> Option<usize> {
    let start = text.find(|c: char| !c.is_whitespace())?;
    let head = prefix(&text[start..], 4000);
    let pods = head
        .lines()
        .any(|l| matches!(l.trim(), "kind: Pod" | "kind: PodList"));
    (head.starts_with("apiVersion:") && pods).then_some(start)
}

/// The pods of a PodList, List or Pod object; `found(name, from)` locates a pod's name in the
/// text at or after `from` (byte offset and length), for its line number.
fn push_pods(
    facts: &mut Facts,
    document: &Value,
    (name, text, first_line, start): (&str, &str, u32, usize),
    command_namespace: Option<&str>,
    found: impl Fn(&str, usize) -> Option<(usize, usize)>,
) {
    // Pods are found in the order of the text: count the lines from the previous pod on, not
    // from the start (which made a 5,000-pod `-o json` cost 5,000 scans of the whole text).
    let mut counted = (0, first_line);
    let mut line_at = |offset: usize| {
        let (from, line) = counted;
        let line = match text.get(from..).filter(|_| offset >= from) {
            Some(rest) => text::line_of_offset(rest, offset - from, line),
            None => text::line_of_offset(text, offset, first_line),
        };
        counted = (offset, line);
        line
    };
    let items: &[Value] = match document.get("items").and_then(Value::as_array) {
        Some(items) => items,
        None if document.get("kind").and_then(Value::as_str) == Some("Pod") => {
            std::slice::from_ref(document)
        }
        None => &[],
    };
    facts.pods_listed = true;
    let mut search_from = start;
    for item in items {
        if item
            .get("kind")
            .and_then(Value::as_str)
            .is_some_and(|k| k != "Pod")
        {
            continue;
        }
        let Some(pod_name) = json_at(item, "/metadata/name").and_then(Value::as_str) else {
            continue;
        };
        let located = found(pod_name, search_from);
        let offset = located.map_or(search_from, |(at, _)| at);
        search_from = located.map_or(search_from, |(at, len)| at + len);
        if let Some(pod) = pod_from_object(item, command_namespace, At::new(name, line_at(offset)))
        {
            facts.pods.push(pod);
        }
    }
}

/// A Pod object (as the API server or `kubectl get -o json` gives it) as `kubectl get pods`
/// shows it: READY, STATUS, RESTARTS, and whether it is healthy. The one implementation of
/// kubectl's pod printer in the project: the `-o json`/`-o yaml` readers, `collect` and the
/// executor's watches all call it. `None` without a name.
pub fn pod_from_object(pod: &Value, default_namespace: Option<&str>, at: At) -> Option<Pod> {
    let name = str_at(pod, "/metadata/name")?;
    let (ready, status, restarts) = kubectl_pod_status(pod);
    let namespace = str_at(pod, "/metadata/namespace")
        .or(default_namespace)
        .map(str::to_string);
    let healthy = healthy(&status, parse_ready(&ready));
    Some(Pod {
        namespace,
        name: name.to_string(),
        ready: Some(ready),
        status,
        restarts: Some(restarts),
        healthy,
        at,
    })
}

/// The STATUS column `kubectl get pods` prints for this Pod object.
pub fn pod_status(pod: &Value) -> String {
    kubectl_pod_status(pod).1
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    json_at(value, pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn u32_at(value: &Value, pointer: &str) -> u32 {
    json_at(value, pointer)
        .and_then(Value::as_u64)
        .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX))
}

fn i64_at(value: &Value, pointer: &str) -> i64 {
    json_at(value, pointer).and_then(Value::as_i64).unwrap_or(0)
}

/// READY, STATUS and RESTARTS as `kubectl get pods` prints them for this Pod object
/// (the rules of kubectl's `printPod`).
fn kubectl_pod_status(pod: &Value) -> (String, String, u32) {
    let empty = Vec::new();
    let array = |pointer: &str| {
        json_at(pod, pointer)
            .and_then(Value::as_array)
            .unwrap_or(&empty)
    };
    let containers = array("/spec/containers").len();
    let init_containers = array("/spec/initContainers").len();
    let mut reason = str_at(pod, "/status/reason")
        .or_else(|| str_at(pod, "/status/phase"))
        .unwrap_or("Unknown")
        .to_string();
    let mut restarts: u32 = 0;
    let mut ready_containers = 0;
    let mut initializing = false;
    for (i, status) in array("/status/initContainerStatuses").iter().enumerate() {
        restarts = restarts.saturating_add(u32_at(status, "/restartCount"));
        if json_at(status, "/state/terminated").is_some() {
            if i64_at(status, "/state/terminated/exitCode") == 0 {
                continue;
            }
            reason = match str_at(status, "/state/terminated/reason") {
                Some(r) => format!("Init:{r}"),
                None => match i64_at(status, "/state/terminated/signal") {
                    0 => format!(
                        "Init:ExitCode:{}",
                        i64_at(status, "/state/terminated/exitCode")
                    ),
                    signal => format!("Init:Signal:{signal}"),
                },
            };
        } else if let Some(r) =
            str_at(status, "/state/waiting/reason").filter(|r| *r != "PodInitializing")
        {
            reason = format!("Init:{r}");
        } else {
            reason = format!("Init:{i}/{init_containers}");
        }
        initializing = true;
        break;
    }
    if !initializing {
        restarts = 0;
        let mut has_running = false;
        for status in array("/status/containerStatuses").iter().rev() {
            restarts = restarts.saturating_add(u32_at(status, "/restartCount"));
            if let Some(r) = str_at(status, "/state/waiting/reason") {
                reason = r.to_string();
            } else if let Some(r) = str_at(status, "/state/terminated/reason") {
                reason = r.to_string();
            } else if json_at(status, "/state/terminated").is_some() {
                reason = match i64_at(status, "/state/terminated/signal") {
                    0 => format!("ExitCode:{}", i64_at(status, "/state/terminated/exitCode")),
                    signal => format!("Signal:{signal}"),
                };
            } else if status.get("ready").and_then(Value::as_bool) == Some(true)
                && json_at(status, "/state/running").is_some()
            {
                has_running = true;
                ready_containers += 1;
            }
        }
        if reason == "Completed" && has_running {
            let pod_ready = array("/status/conditions").iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Ready")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            });
            reason = if pod_ready { "Running" } else { "NotReady" }.to_string();
        }
    }
    if json_at(pod, "/metadata/deletionTimestamp").is_some_and(|v| !v.is_null()) {
        reason = if str_at(pod, "/status/reason") == Some("NodeLost") {
            "Unknown".to_string()
        } else {
            "Terminating".to_string()
        };
    }
    (format!("{ready_containers}/{containers}"), reason, restarts)
}

/// How strongly `text` looks like this reader's input, 0 (not at all) to 100 (certainly).
pub fn sniff(text: &str) -> u32 {
    let mut score = 0;
    for line in text::lines(text, 1).take(400) {
        let unpiped;
        let mut content: &str = &line.text;
        if content.trim_start().starts_with(['|', '│']) {
            unpiped = content.replace(['|', '│'], " ");
            content = unpiped.trim_start();
            content = content.strip_prefix("# ").unwrap_or(content);
        }
        let mut buffer = [""; MAX_TOKENS];
        let tokens = tokenize(content, &mut buffer);
        match header(tokens) {
            Some(Table::Pods(columns)) if columns.restarts.is_some() => return 95,
            Some(Table::Pods(_)) => score = score.max(70),
            _ => {}
        }
        if headerless_columns(tokens)
            .is_some_and(|c| tokens.get(c.status).is_some_and(|s| is_status_word(s)))
        {
            score = score.max(55);
        }
    }
    if yaml_start(text).is_some() {
        score = score.max(90);
    }
    if let Some(start) = json_start(text) {
        let head = prefix(&text[start..], 2000);
        if head.contains("\"PodList\"")
            || head.contains("\"kind\": \"Pod\"")
            || head.contains("\"containerStatuses\"")
        {
            score = score.max(90);
        }
    }
    score
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthy_means_running_and_ready_or_completed() {
        assert!(healthy("Running", Some((2, 2))));
        assert!(!healthy("Running", Some((1, 2))));
        assert!(!healthy("Running", Some((0, 0))));
        assert!(healthy("Completed", Some((0, 1))));
        assert!(!healthy("CrashLoopBackOff", Some((0, 1))));
    }

    #[test]
    fn computes_init_status_like_kubectl() {
        let pod: Value = serde_json::json!({
            "spec": {"containers": [{}], "initContainers": [{}, {}]},
            "status": {"phase": "Pending", "initContainerStatuses": [
                {"restartCount": 0, "state": {"terminated": {"exitCode": 0}}},
                {"restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
            ]}
        });
        assert_eq!(
            kubectl_pod_status(&pod),
            ("0/1".to_string(), "Init:CrashLoopBackOff".to_string(), 4)
        );
    }

    const POD_YAML: &str = "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: web-0\n    namespace: astronomer\n  status:\n    containerStatuses:\n    - ready: false\n      restartCount: 3\n      state:\n        waiting:\n          reason: CrashLoopBackOff\n    phase: Running\nkind: List\nmetadata:\n  resourceVersion: \"\"\n";

    #[test]
    fn yaml_followed_by_other_text_is_read_up_to_it() {
        for after in crate::input::yaml::TEXT_AFTER_YAML {
            let facts = read("pods.txt", &format!("{POD_YAML}{after}"), 1, None);
            assert!(
                facts.diagnostics.is_empty(),
                "{after:?}: {:?}",
                facts.diagnostics
            );
            assert_eq!(facts.pods.len(), 1, "{after:?}");
            assert_eq!(facts.pods[0].status, "CrashLoopBackOff");
            assert_eq!(facts.pods[0].at.line, Some(6));
        }
    }

    #[test]
    fn damaged_yaml_is_an_error_naming_its_line() {
        let damaged = POD_YAML.replace("    namespace: astronomer\n", "   namespace: astronomer\n");
        let facts = read("pods.txt", &format!("\n{damaged}"), 10, None);
        assert!(facts.pods.is_empty());
        assert_eq!(facts.diagnostics.len(), 1, "{:?}", facts.diagnostics);
        let diagnostic = &facts.diagnostics[0];
        assert_eq!(diagnostic.severity, Severity::Error);
        assert_eq!(diagnostic.line, Some(17));
        assert!(
            diagnostic
                .message
                .starts_with("the pod YAML is incomplete or damaged: ")
                && diagnostic.message.contains("at line 17 column "),
            "{}",
            diagnostic.message
        );
    }
}
