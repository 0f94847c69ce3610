//! `helm list` / `helm ls` (Helm 2 and Helm 3, table, `-o json`, `-o yaml`) and `helm history`.
//!
//! Rows are read by the shape of their values, not only by column offsets: a pasted table has
//! often lost its alignment, and the UPDATED column contains spaces (`Mon May  6 14:37:34 2019`,
//! `2020-04-27 17:14:43.1608753 +0000 UTC`). Column offsets (or tabs) decide only what shapes
//! cannot: whether a lone cell after CHART is the APP VERSION or the NAMESPACE.
//!
//! Statuses are stored lower-cased with Helm 2's `_` spelt `-` (`PENDING_UPGRADE` →
//! `pending-upgrade`), so rules compare one spelling.

use serde_json::{Map, Value};

use crate::facts::{At, Facts, HelmGeneration, HelmRelease, HelmRevision, Severity};
use crate::input::{text, yaml};
use crate::scan;

/// One `helm list` / `helm history` row split into words, each with its byte offset; none when
/// the row starts with whitespace (rows are read from their first cell).
fn row_words(row: &str) -> Option<Vec<(usize, &str)>> {
    if row.bytes().next().is_none_or(scan::is_space) {
        return None;
    }
    Some(scan::words(row).take(12).collect())
}

/// The free text from `start` to the end of `row`, without trailing whitespace; none when it
/// spans a line break (a cell is on one line).
fn rest_of_row(row: &str, start: usize) -> Option<&str> {
    let rest = row[start..].trim_end_matches(|c: char| c.is_ascii() && scan::is_space(c as u8));
    (!rest.contains('\n')).then_some(rest)
}

/// A word of one letter from `first` followed by letters from `rest`.
fn shaped(word: &str, first: fn(&u8) -> bool, rest: fn(&u8) -> bool) -> bool {
    let mut bytes = word.bytes();
    bytes.next().is_some_and(|b| first(&b)) && bytes.all(|b| rest(&b))
}

/// `HH:MM:SS`, with `.fraction` when `fraction` allows it.
fn is_clock(word: &str, fraction: bool) -> bool {
    let rest = scan::after_digits(word, 2)
        .and_then(|r| r.strip_prefix(':'))
        .and_then(|r| scan::after_digits(r, 2))
        .and_then(|r| r.strip_prefix(':'))
        .and_then(|r| scan::after_digits(r, 2));
    match rest {
        Some("") => true,
        Some(rest) => fraction && rest.strip_prefix('.').is_some_and(scan::all_digits),
        None => false,
    }
}

/// Helm 2's and `helm history`'s UPDATED: Go's ANSIC layout (`Mon May  6 14:37:34 2019`).
fn is_ansic(words: &[(usize, &str)]) -> bool {
    let short_name =
        |w: &str| w.len() == 3 && shaped(w, u8::is_ascii_uppercase, u8::is_ascii_lowercase);
    matches!(words, [(_, weekday), (_, month), (_, day), (_, clock), (_, year)]
        if short_name(weekday)
            && short_name(month)
            && day.len() <= 2
            && scan::all_digits(day)
            && is_clock(clock, false)
            && year.len() == 4
            && scan::all_digits(year))
}

/// Helm 3's UPDATED: Go's `time.Time.String()` (`2020-04-27 17:14:43.1608753 +0000 UTC`).
fn is_go_time(words: &[(usize, &str)]) -> bool {
    let is_date = |w: &str| {
        scan::after_digits(w, 4)
            .and_then(|r| r.strip_prefix('-'))
            .and_then(|r| scan::after_digits(r, 2))
            .and_then(|r| r.strip_prefix('-'))
            .and_then(|r| scan::after_digits(r, 2))
            == Some("")
    };
    let is_offset = |w: &str| {
        w.strip_prefix(['+', '-'])
            .is_some_and(|r| r.len() == 4 && scan::all_digits(r))
    };
    matches!(words, [(_, date), (_, clock), (_, offset), _]
        if is_date(date) && is_clock(clock, true) && is_offset(offset))
}

/// A Helm 2 row: NAME REVISION UPDATED STATUS CHART, then APP VERSION and/or NAMESPACE.
struct Helm2Row<'a> {
    name: &'a str,
    revision: &'a str,
    status: &'a str,
    chart: &'a str,
    /// The one or two cells after CHART, with their offsets in the row.
    trailing: Vec<(usize, &'a str)>,
}

fn helm2_row(row: &str) -> Option<Helm2Row<'_>> {
    let words = row_words(row)?;
    let fits = (9..=11).contains(&words.len())
        && scan::all_digits(words[1].1)
        && is_ansic(&words[2..7])
        && shaped(words[7].1, u8::is_ascii_uppercase, |b| {
            b.is_ascii_uppercase() || *b == b'_'
        });
    fits.then(|| Helm2Row {
        name: words[0].1,
        revision: words[1].1,
        status: words[7].1,
        chart: words[8].1,
        trailing: words[9..].to_vec(),
    })
}

/// A Helm 3 row: NAME NAMESPACE REVISION UPDATED STATUS CHART [APP VERSION].
struct Helm3Row<'a> {
    name: &'a str,
    namespace: &'a str,
    revision: &'a str,
    status: &'a str,
    chart: &'a str,
    app_version: Option<&'a str>,
}

fn helm3_row(row: &str) -> Option<Helm3Row<'_>> {
    let words = row_words(row)?;
    let fits = words.len() >= 9
        && scan::all_digits(words[2].1)
        && is_go_time(&words[3..7])
        && shaped(words[7].1, u8::is_ascii_lowercase, |b| {
            b.is_ascii_lowercase() || *b == b'-'
        });
    if !fits {
        return None;
    }
    let app_version = match words.get(9) {
        Some(&(start, _)) => Some(rest_of_row(row, start)?),
        None => None,
    };
    Some(Helm3Row {
        name: words[0].1,
        namespace: words[1].1,
        revision: words[2].1,
        status: words[7].1,
        chart: words[8].1,
        app_version,
    })
}

/// A `helm history` row: REVISION UPDATED STATUS CHART, then APP VERSION and/or DESCRIPTION.
struct HistoryRow<'a> {
    revision: &'a str,
    status: &'a str,
    chart: &'a str,
    /// The text after CHART, with its offset in the row.
    rest: Option<(usize, &'a str)>,
}

fn history_row(row: &str) -> Option<HistoryRow<'_>> {
    let words = row_words(row)?;
    if !scan::all_digits(words.first()?.1) {
        return None;
    }
    let status_at = if words.len() > 6 && is_ansic(&words[1..6]) {
        6
    } else if words.len() > 5 && is_go_time(&words[1..5]) {
        5
    } else {
        return None;
    };
    let (_, status) = words[status_at];
    let (_, chart) = *words.get(status_at + 1)?;
    let status_shape = shaped(status, u8::is_ascii_alphabetic, |b| {
        b.is_ascii_alphabetic() || *b == b'_' || *b == b'-'
    });
    if !status_shape {
        return None;
    }
    let rest = match words.get(status_at + 2) {
        Some(&(start, _)) => Some((start, rest_of_row(row, start)?)),
        None => None,
    };
    Some(HistoryRow {
        revision: words[0].1,
        status,
        chart,
        rest,
    })
}

/// A chart version after the dash of a CHART cell: `1.2.3`, `v0.10`, `1.2.3-rc.1+build`.
fn is_chart_version(version: &str) -> bool {
    let version = version.strip_prefix('v').unwrap_or(version);
    let Some(length) = scan::dotted_version(version) else {
        return false;
    };
    let suffix = &version[length..];
    suffix.is_empty()
        || suffix.strip_prefix(['-', '+']).is_some_and(|s| {
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-'))
        })
}

/// Splits a CHART cell (`prometheus-node-exporter-1.2.3`) at the first dash that starts a
/// version, so dashes inside chart names and pre-release versions both survive.
pub fn split_chart(cell: &str) -> (String, Option<String>) {
    for (i, _) in cell.match_indices('-') {
        let version = &cell[i + 1..];
        if i > 0 && is_chart_version(version) {
            return (cell[..i].to_owned(), Some(version.to_owned()));
        }
    }
    (cell.to_owned(), None)
}

/// Lower-case, with Helm 2's `PENDING_UPGRADE` spelt like Helm 3's `pending-upgrade`.
fn normalise_status(status: &str) -> String {
    status.trim().to_ascii_lowercase().replace('_', "-")
}

/// Reads `text`, whose first line is line `first_line` of the source `name`; `command` is the
/// command line that printed it, when the paste showed one.
pub fn read(name: &str, text: &str, first_line: u32, command: Option<&str>) -> Facts {
    let mut reader = Reader {
        name,
        facts: Facts::default(),
        release: command.and_then(history_release),
        table: None,
    };
    if command.is_some_and(lists_every_state) {
        // the command line is the one above the output
        let line = first_line.saturating_sub(1).max(1);
        reader.facts.helm_list_all = Some(reader.at(line));
    }
    let lines: Vec<text::Line<'_>> = text::lines(text, first_line).collect();
    let mut i = 0;
    while i < lines.len() {
        let line = &lines[i];
        let content: &str = &line.text;
        let trimmed = content.trim();
        if trimmed.is_empty() {
            reader.table = None;
        } else if let Some(command) = text::command_of(content) {
            reader.table = None;
            reader.release = history_release(command);
            if lists_every_state(command) {
                reader.facts.helm_list_all = Some(reader.at(line.number));
            }
        } else if starts_json(trimmed) {
            i = reader.json(&lines, i);
            continue;
        } else if reader.table.is_none()
            && (trimmed.starts_with("- ")
                // a pasted item that lost its `- ` but kept its indentation
                || (content.starts_with("  ")
                    && (trimmed.starts_with("app_version:") || trimmed.starts_with("AppVersion:"))))
        {
            i = reader.yaml(&lines, i);
            continue;
        } else if let Some(table) = Table::from_header(content) {
            reader.table = Some(table);
        } else {
            reader.row(content, line.number);
        }
        i += 1;
    }
    let mut facts = reader.facts;
    for release in &mut facts.helm_releases {
        without_v(&mut release.chart_version);
        without_v(&mut release.app_version);
    }
    for revision in &mut facts.helm_history {
        without_v(&mut revision.chart_version);
        without_v(&mut revision.app_version);
    }
    facts
}

/// Versions are reported without a leading `v` (`cert-manager-v1.5.3`, APP VERSION `v2.1.1`),
/// like Kubernetes versions; other values (`amd64-v0.2.0`, `latest`) stay verbatim.
fn without_v(version: &mut Option<String>) {
    if let Some(v) = version.as_mut() {
        if v.starts_with('v') && v[1..].starts_with(|c: char| c.is_ascii_digit()) {
            v.remove(0);
        }
    }
}

/// The first line of a `-o json` document; Helm 2's debug lines (`[storage] 2017/08/16 …`) also
/// open with a bracket.
fn starts_json(trimmed: &str) -> bool {
    trimmed.starts_with('{')
        || trimmed.strip_prefix('[').is_some_and(|rest| {
            rest.trim_start().is_empty() || rest.trim_start().starts_with(['{', ']'])
        })
}

/// How strongly `text` looks like this reader's input, 0 (not at all) to 100 (certainly).
pub fn sniff(text: &str) -> u32 {
    let mut score = 0;
    for line in text::lines(text, 1).take(400) {
        let content: &str = &line.text;
        if Table::from_header(content).is_some() {
            return 95;
        }
        let trimmed = content.trim();
        if helm2_row(trimmed).is_some() || helm3_row(trimmed).is_some() {
            score = score.max(80);
        } else if history_row(trimmed).is_some() {
            score = score.max(60);
        } else {
            let lower = trimmed.to_ascii_lowercase();
            if lower.contains("\"chart\":")
                && (lower.contains("\"app_version\":") || lower.contains("\"appversion\":"))
            {
                score = score.max(90);
            } else if lower.starts_with("chart: ")
                || lower.starts_with("- app_version:")
                || lower.starts_with("- appversion:")
            {
                score = score.max(50);
            }
        }
    }
    score
}

/// Whether a `helm list` command shows releases in every state (`--all`, `-a`, or `-a` among
/// other short flags as in `-Aa`): plain `helm list` hides `pending-*` ones.
pub fn lists_every_state(command: &str) -> bool {
    let words = text::command_words(command.split('|').next().unwrap_or(command));
    let Some(at) = words.iter().position(|w| *w == "list" || *w == "ls") else {
        return false;
    };
    let is_helm = words[..at]
        .iter()
        .any(|w| matches!(scan::trim_end_str(w, ".exe"), "helm" | "helm2" | "helm3"));
    is_helm
        && words[at + 1..].iter().any(|w| {
            *w == "--all"
                || w.strip_prefix('-').is_some_and(|flags| {
                    !flags.starts_with('-')
                        && flags.bytes().all(|b| b.is_ascii_alphabetic())
                        && flags.contains('a')
                })
        })
}

/// The release a `helm history REL` command names.
fn history_release(command: &str) -> Option<String> {
    let words = text::command_words(command.split('|').next().unwrap_or(command));
    let at = words.iter().position(|w| *w == "history" || *w == "hist")?;
    let mut rest = words[at + 1..].iter();
    while let Some(word) = rest.next() {
        if word.starts_with('-') {
            let takes_value = !word.contains('=')
                && matches!(
                    *word,
                    "-n" | "--namespace"
                        | "--max"
                        | "-o"
                        | "--output"
                        | "--kube-context"
                        | "--kubeconfig"
                        | "--tiller-namespace"
                        | "--context"
                );
            if takes_value {
                rest.next();
            }
            continue;
        }
        return Some((*word).to_owned());
    }
    None
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Layout {
    Helm2List,
    Helm3List,
    History,
}

#[derive(Debug, Clone)]
struct Table {
    layout: Layout,
    header: String,
    /// Header cells split on tabs, when the header was tab-separated.
    tab_cells: Option<Vec<String>>,
    has_app_version: bool,
}

impl Table {
    fn from_header(line: &str) -> Option<Table> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let has = |w: &str| words.contains(&w);
        let layout = match words.first().copied() {
            Some("NAME") if has("REVISION") && has("CHART") => {
                if words.get(1) == Some(&"NAMESPACE") {
                    Layout::Helm3List
                } else {
                    Layout::Helm2List
                }
            }
            Some("REVISION") if has("CHART") && has("STATUS") => Layout::History,
            _ => return None,
        };
        let tab_cells = line
            .contains('\t')
            .then(|| line.split('\t').map(|c| c.trim().to_owned()).collect());
        Some(Table {
            layout,
            header: line.to_owned(),
            tab_cells,
            has_app_version: line.contains("APP VERSION"),
        })
    }

    /// The row's cells by header name, when both are tab-separated into the same number of cells.
    fn tab_row<'r>(&self, row: &'r str) -> Option<Vec<(&str, &'r str)>> {
        let header = self.tab_cells.as_ref()?;
        let cells: Vec<&str> = row.split('\t').map(str::trim).collect();
        (cells.len() == header.len()).then(|| {
            header
                .iter()
                .map(String::as_str)
                .zip(cells)
                .collect::<Vec<_>>()
        })
    }

    /// Whether the cell starting at byte `offset` of an aligned row lies in `column`.
    fn in_column(&self, row: &str, offset: usize, column: &str) -> Option<bool> {
        let starts = text::column_starts(&self.header);
        let at = starts.iter().position(|(_, name)| *name == column)?;
        let start = starts[at].0;
        // A row whose first cells do not line up with the header says nothing by position.
        let aligned = starts.iter().skip(1).take(2).all(|&(o, _)| {
            o < row.len()
                && row.as_bytes()[o] != b' '
                && row.as_bytes()[o - 1].is_ascii_whitespace()
        });
        aligned.then_some(offset + 1 >= start)
    }
}

struct Reader<'n> {
    name: &'n str,
    facts: Facts,
    release: Option<String>,
    table: Option<Table>,
}

fn looks_like_version(cell: &str) -> bool {
    let cell = cell.strip_prefix('v').unwrap_or(cell);
    cell.bytes().next().is_some_and(|b| b.is_ascii_digit())
}

fn non_empty(cell: Option<&str>) -> Option<String> {
    cell.map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
}

impl Reader<'_> {
    fn at(&self, line: u32) -> At {
        At::new(self.name, line)
    }

    fn diagnostic(&mut self, line: u32, severity: Severity, message: String) {
        self.facts.diagnose(self.name, line, severity, message);
    }

    fn row(&mut self, content: &str, number: u32) {
        let trimmed = content.trim();
        if let Some(error) = trimmed.strip_prefix("Error: ") {
            self.diagnostic(
                number,
                Severity::Warning,
                format!("helm reported an error: {error}"),
            );
            return;
        }
        let table = self.table.clone();
        if let Some(cells) = table.as_ref().and_then(|t| t.tab_row(content)) {
            if self.tab_row(table.as_ref().map(|t| &t.layout), &cells, number) {
                return;
            }
        }
        if let Some(row) = helm3_row(trimmed) {
            let (chart, chart_version) = split_chart(row.chart);
            self.facts.helm_releases.push(HelmRelease {
                name: row.name.to_owned(),
                namespace: Some(row.namespace.to_owned()),
                revision: row.revision.parse().ok(),
                status: Some(normalise_status(row.status)),
                chart,
                chart_version,
                app_version: non_empty(row.app_version),
                helm: Some(HelmGeneration::Helm3),
                at: self.at(number),
            });
        } else if let Some(row) = helm2_row(trimmed) {
            let (chart, chart_version) = split_chart(row.chart);
            let (app_version, namespace) = match row.trailing.as_slice() {
                [(_, app), (_, namespace)] => (Some(*app), Some(*namespace)),
                [(start, lone)] => {
                    let offset = content.len() - content.trim_start().len() + start;
                    let is_namespace = match &table {
                        Some(t) if t.has_app_version => t
                            .in_column(content, offset, "NAMESPACE")
                            .unwrap_or(!looks_like_version(lone)),
                        _ => true,
                    };
                    if is_namespace {
                        (None, Some(*lone))
                    } else {
                        (Some(*lone), None)
                    }
                }
                _ => (None, None),
            };
            self.facts.helm_releases.push(HelmRelease {
                name: row.name.to_owned(),
                namespace: namespace.map(str::to_owned),
                revision: row.revision.parse().ok(),
                status: Some(normalise_status(row.status)),
                chart,
                chart_version,
                app_version: app_version.map(str::to_owned),
                helm: Some(HelmGeneration::Helm2),
                at: self.at(number),
            });
        } else if let Some(row) = history_row(trimmed) {
            let (chart, chart_version) = split_chart(row.chart);
            let (rest_start, rest) = row.rest.unwrap_or((0, ""));
            let (app_version, description) = match &table {
                Some(t) if t.has_app_version => {
                    let offset = content.len() - content.trim_start().len() + rest_start;
                    let first = rest.split_whitespace().next().unwrap_or("");
                    let is_description = t
                        .in_column(content, offset, "DESCRIPTION")
                        .unwrap_or(!looks_like_version(first));
                    if is_description || rest.is_empty() {
                        (None, rest)
                    } else {
                        (Some(first), rest.trim_start()[first.len()..].trim())
                    }
                }
                _ => (None, rest),
            };
            let revision = HelmRevision {
                release: self.release.clone(),
                revision: row.revision.parse().unwrap_or(0),
                status: normalise_status(row.status),
                chart,
                chart_version,
                app_version: non_empty(app_version),
                description: non_empty(Some(description)),
                at: self.at(number),
            };
            self.facts.helm_history.push(revision);
        } else if self.table.is_some() {
            self.diagnostic(
                number,
                Severity::Warning,
                "not a row of the helm table above it".to_owned(),
            );
        }
    }

    /// A tab-separated row under a tab-separated header; false when its cells do not read.
    fn tab_row(&mut self, layout: Option<&Layout>, cells: &[(&str, &str)], number: u32) -> bool {
        let cell = |name: &str| cells.iter().find(|(h, _)| *h == name).map(|(_, c)| *c);
        let (Some(chart_cell), Some(revision)) =
            (cell("CHART"), cell("REVISION").and_then(|r| r.parse().ok()))
        else {
            return false;
        };
        let (chart, chart_version) = split_chart(chart_cell);
        match layout {
            Some(Layout::History) => {
                let Some(status) = cell("STATUS").filter(|s| !s.is_empty()) else {
                    return false;
                };
                self.facts.helm_history.push(HelmRevision {
                    release: self.release.clone(),
                    revision,
                    status: normalise_status(status),
                    chart,
                    chart_version,
                    app_version: non_empty(cell("APP VERSION")),
                    description: non_empty(cell("DESCRIPTION")),
                    at: self.at(number),
                });
            }
            Some(layout) => {
                let Some(name) = cell("NAME").filter(|n| !n.is_empty()) else {
                    return false;
                };
                let helm = if *layout == Layout::Helm3List {
                    HelmGeneration::Helm3
                } else {
                    HelmGeneration::Helm2
                };
                self.facts.helm_releases.push(HelmRelease {
                    name: name.to_owned(),
                    namespace: non_empty(cell("NAMESPACE")),
                    revision: Some(revision),
                    status: non_empty(cell("STATUS")).map(|s| normalise_status(&s)),
                    chart,
                    chart_version,
                    app_version: non_empty(cell("APP VERSION")),
                    helm: Some(helm),
                    at: self.at(number),
                });
            }
            None => return false,
        }
        true
    }

    /// `-o json`: a JSON array from line `start` (possibly spread over several lines). Returns
    /// the index of the first line after it.
    fn json(&mut self, lines: &[text::Line<'_>], start: usize) -> usize {
        let mut end = start;
        let mut document = String::new();
        while end < lines.len() {
            let content: &str = &lines[end].text;
            if end > start && (content.trim().is_empty() || text::command_of(content).is_some()) {
                break;
            }
            document.push_str(content);
            document.push('\n');
            end += 1;
        }
        let number = lines[start].number;
        let parsed = serde_json::from_str::<Value>(&document).unwrap_or(Value::Null);
        // Items are borrowed, not taken out: removing a map key would ship its rebalancing code.
        let items = match &parsed {
            Value::Array(items) => items.as_slice(),
            // Helm 2 wraps its releases: `{"Next": "", "Releases": [...]}`.
            Value::Object(object) => match object.get("Releases") {
                Some(Value::Array(items)) => items.as_slice(),
                _ => std::slice::from_ref(&parsed),
            },
            _ => {
                self.diagnostic(
                    number,
                    Severity::Warning,
                    "this JSON is not a complete helm -o json document".to_owned(),
                );
                return end;
            }
        };
        let item_lines = item_lines(&lines[start..end], items.len());
        for (item, line) in items.iter().zip(item_lines) {
            if let Some(object) = item.as_object() {
                self.object(object, line);
            }
        }
        end
    }

    /// One entry of `-o json` or `-o yaml`, its keys as Helm 2 or Helm 3 spells them.
    fn object(&mut self, object: &Map<String, Value>, line: u32) {
        let field = |key: &str| match object.iter().find(|(k, _)| same_key(k, key)) {
            Some((_, Value::String(s))) => Some(s.clone()),
            Some((_, Value::Number(n))) => Some(n.to_string()),
            _ => None,
        };
        self.record(&field, line, generation_of(object.keys()));
    }

    /// `-o yaml`: a list of flat maps (`- app_version: …` then `  chart: …`) from line `start`.
    /// The list is found in the transcript by its lines (an item's `- `, its keys' two-space
    /// indentation; the first item may have lost its `- `), up to the first line that has
    /// neither; each item is then read with [`yaml::parse`] on its own, so a markdown bullet or a
    /// damaged item spoils only itself and an item's line is its first. Returns the index of the
    /// first line after the list.
    fn yaml(&mut self, lines: &[text::Line<'_>], start: usize) -> usize {
        let mut end = start;
        // Each item's first line and its text without the list's two columns.
        let mut items: Vec<(u32, String)> = Vec::new();
        while end < lines.len() {
            let content: &str = &lines[end].text;
            let rest = if let Some(first) = content.strip_prefix("- ") {
                items.push((lines[end].number, String::new()));
                first
            } else if let Some(next) = content.strip_prefix("  ") {
                if items.is_empty() {
                    items.push((lines[end].number, String::new()));
                }
                next
            } else {
                break;
            };
            if let Some((_, item)) = items.last_mut() {
                item.push_str(rest);
                item.push('\n');
            }
            end += 1;
        }
        for (line, item) in &items {
            self.yaml_item(item, *line);
        }
        end
    }

    /// A YAML list item is a helm entry only when it has helm's keys (not a markdown bullet).
    fn yaml_item(&mut self, item: &str, line: u32) {
        match yaml::parse(item, line) {
            Ok(Value::Object(object)) => {
                if object
                    .keys()
                    .any(|k| same_key(k, "chart") || same_key(k, "revision"))
                {
                    self.object(&object, line);
                }
            }
            Ok(_) => {}
            // Unreadable: reported only when its lines show helm's keys.
            Err(unreadable) => {
                let helm_keys = item.lines().any(|l| {
                    l.split_once(':').is_some_and(|(k, _)| {
                        same_key(k.trim(), "chart") || same_key(k.trim(), "revision")
                    })
                });
                if helm_keys {
                    let last = text::last_line(item, line);
                    self.diagnostic(
                        unreadable.line.min(last),
                        Severity::Warning,
                        format!("this helm -o yaml entry is damaged: {}", unreadable.message),
                    );
                }
            }
        }
    }

    /// One release (it has a name) or one history revision (it has none), from JSON or YAML.
    fn record(&mut self, field: &dyn Fn(&str) -> Option<String>, line: u32, helm: HelmGeneration) {
        let Some(chart_cell) = field("chart") else {
            self.diagnostic(
                line,
                Severity::Warning,
                "helm entry without a chart".to_owned(),
            );
            return;
        };
        let (chart, chart_version) = split_chart(&chart_cell);
        let app_version = field("app_version").filter(|v| !v.is_empty());
        let revision = field("revision").and_then(|r| r.parse().ok());
        match field("name") {
            Some(name) => self.facts.helm_releases.push(HelmRelease {
                name,
                namespace: field("namespace").filter(|n| !n.is_empty()),
                revision,
                status: field("status").map(|s| normalise_status(&s)),
                chart,
                chart_version,
                app_version,
                helm: Some(helm),
                at: self.at(line),
            }),
            None => {
                let (Some(revision), Some(status)) = (revision, field("status")) else {
                    self.diagnostic(
                        line,
                        Severity::Warning,
                        "helm history entry without revision or status".to_owned(),
                    );
                    return;
                };
                self.facts.helm_history.push(HelmRevision {
                    release: self.release.clone(),
                    revision,
                    status: normalise_status(&status),
                    chart,
                    chart_version,
                    app_version,
                    description: field("description").filter(|d| !d.is_empty()),
                    at: self.at(line),
                });
            }
        }
    }
}

/// Helm 3 spells keys `app_version`, Helm 2 `AppVersion`.
fn same_key(printed: &str, key: &str) -> bool {
    let mut printed = printed.bytes().filter(|b| *b != b'_');
    let mut key = key.bytes().filter(|b| *b != b'_');
    loop {
        match (printed.next(), key.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(&b) => {}
            _ => return false,
        }
    }
}

/// Helm 2's `-o json|yaml` capitalises its keys (`Chart`), Helm 3's do not.
fn generation_of<'k>(mut keys: impl Iterator<Item = &'k String>) -> HelmGeneration {
    if keys.any(|k| k == "Chart") {
        HelmGeneration::Helm2
    } else {
        HelmGeneration::Helm3
    }
}

/// The line of each JSON item: where its `"chart"` key is (helm prints the array on one line,
/// `jq` one key per line).
fn item_lines(lines: &[text::Line<'_>], count: usize) -> Vec<u32> {
    let mut found = Vec::with_capacity(count);
    for line in lines {
        for _ in line.text.to_ascii_lowercase().matches("\"chart\"") {
            found.push(line.number);
        }
    }
    let fallback = lines.first().map_or(0, |l| l.number);
    found.resize(count.max(found.len()), fallback);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_chart_names_from_versions() {
        let cases = [
            ("astronomer-0.16.9", ("astronomer", Some("0.16.9"))),
            (
                "prometheus-node-exporter-1.2.3",
                ("prometheus-node-exporter", Some("1.2.3")),
            ),
            (
                "astronomer-0.13.0-alpha.3",
                ("astronomer", Some("0.13.0-alpha.3")),
            ),
            (
                "k8s-1password-connect-1.0.0",
                ("k8s-1password-connect", Some("1.0.0")),
            ),
            (
                "airflow-v1.2.0+build.7",
                ("airflow", Some("v1.2.0+build.7")),
            ),
            ("nochartversion", ("nochartversion", None)),
        ];
        for (cell, (chart, version)) in cases {
            assert_eq!(
                split_chart(cell),
                (chart.to_owned(), version.map(str::to_owned)),
                "{cell}"
            );
        }
    }

    type Release = (
        String,
        Option<String>,
        Option<u32>,
        Option<String>,
        String,
        Option<String>,
        Option<String>,
        Option<HelmGeneration>,
    );

    fn releases(text: &str) -> Vec<Release> {
        read("helm.txt", text, 1, None)
            .helm_releases
            .into_iter()
            .map(|r| {
                (
                    r.name,
                    r.namespace,
                    r.revision,
                    r.status,
                    r.chart,
                    r.chart_version,
                    r.app_version,
                    r.helm,
                )
            })
            .collect()
    }

    #[test]
    fn reads_collapsed_helm2_rows_and_normalises_status() {
        let text = "NAME REVISION UPDATED STATUS CHART APP VERSION NAMESPACE\n\
                    astronomer 7 Mon May  6 14:37:34 2019 PENDING_UPGRADE astronomer-0.16.9 0.16.9 astro\n";
        assert_eq!(
            releases(text),
            vec![(
                "astronomer".into(),
                Some("astro".into()),
                Some(7),
                Some("pending-upgrade".into()),
                "astronomer".into(),
                Some("0.16.9".into()),
                Some("0.16.9".into()),
                Some(HelmGeneration::Helm2)
            )]
        );
    }

    #[test]
    fn versions_lose_a_leading_v_only_before_a_digit() {
        let text = "NAME\tNAMESPACE\tREVISION\tUPDATED\tSTATUS\tCHART\tAPP VERSION\n\
                    cm\tcert-manager\t2\t2021-06-01 10:00:00.1 +0000 UTC\tdeployed\tcert-manager-v1.5.3\tv1.5.3\n\
                    radarr\tdefault\t17\t2020-01-28 15:55:02.4 +0000 UTC\tdeployed\tradarr-3.0.0\tamd64-v0.2.0\n";
        let got: Vec<_> = releases(text).into_iter().map(|r| (r.5, r.6)).collect();
        assert_eq!(
            got,
            vec![
                (Some("1.5.3".into()), Some("1.5.3".into())),
                (Some("3.0.0".into()), Some("amd64-v0.2.0".into()))
            ]
        );
    }

    #[test]
    fn a_lone_cell_after_chart_is_placed_by_its_column() {
        let text = "NAME      REVISION  UPDATED                   STATUS    CHART              APP VERSION  NAMESPACE\n\
                    one       1         Mon May  6 14:37:34 2019  DEPLOYED  airflow-0.8.2      0.8.2\n\
                    two       1         Mon May  6 14:37:34 2019  DEPLOYED  airflow-0.8.2                   astronomer-x\n";
        let got: Vec<_> = releases(text).into_iter().map(|r| (r.1, r.6)).collect();
        assert_eq!(
            got,
            vec![
                (None, Some("0.8.2".into())),
                (Some("astronomer-x".into()), None)
            ]
        );
    }

    #[test]
    fn reads_helm3_json_and_yaml() {
        let json = r#"[{"name":"astronomer","namespace":"astronomer","revision":"4","updated":"2021-01-01 10:00:00.1 +0000 UTC","status":"deployed","chart":"astronomer-0.16.9","app_version":"0.16.9"}]"#;
        let got = read("h", json, 3, None).helm_releases;
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].revision, got[0].at.line, got[0].helm),
            (Some(4), Some(3), Some(HelmGeneration::Helm3))
        );
        let yaml = "- app_version: 0.16.9\n  chart: astronomer-0.16.9\n  name: astronomer\n  namespace: astronomer\n  revision: \"4\"\n  status: failed\n  updated: 2021-01-01 10:00:00.1 +0000 UTC\n- app_version: \"\"\n  chart: airflow-0.16.1\n  name: bolide\n  namespace: astronomer-bolide\n  revision: \"1\"\n  status: deployed\n";
        let got = read("h", yaml, 1, None).helm_releases;
        let got: Vec<_> = got
            .iter()
            .map(|r| {
                (
                    r.name.as_str(),
                    r.status.as_deref(),
                    r.app_version.as_deref(),
                    r.at.line,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("astronomer", Some("failed"), Some("0.16.9"), Some(1)),
                ("bolide", Some("deployed"), None, Some(8))
            ]
        );
    }

    #[test]
    fn reads_helm2_json_and_yaml() {
        let json = r#"{"Next":"","Releases":[{"Name":"astronomer","Revision":3,"Updated":"Mon May  6 14:37:34 2019","Status":"DEPLOYED","Chart":"astronomer-0.10.3","AppVersion":"0.10.3","Namespace":"astronomer"}]}"#;
        let got = releases(json);
        assert_eq!(
            got,
            vec![(
                "astronomer".into(),
                Some("astronomer".into()),
                Some(3),
                Some("deployed".into()),
                "astronomer".into(),
                Some("0.10.3".into()),
                Some("0.10.3".into()),
                Some(HelmGeneration::Helm2)
            )]
        );
        let yaml = "Next: \"\"\nReleases:\n- AppVersion: 0.10.3\n  Chart: astronomer-0.10.3\n  Name: astronomer\n  Namespace: astronomer\n  Revision: 3\n  Status: DEPLOYED\n";
        assert_eq!(releases(yaml), got);
    }

    #[test]
    fn reads_history_with_release_from_the_command() {
        let text = "REVISION\tUPDATED                 \tSTATUS    \tCHART            \tAPP VERSION\tDESCRIPTION\n\
                    1       \tMon Oct  3 10:15:13 2016\tsuperseded\tastronomer-0.16.5\t0.16.5     \tInstall complete\n\
                    2       \tMon Oct  3 10:15:13 2016\tdeployed  \tastronomer-0.16.9\t0.16.9     \tUpgrade complete\n";
        let facts = read(
            "h",
            text,
            1,
            Some("helm history astronomer -n astronomer --max 5"),
        );
        let got: Vec<_> = facts
            .helm_history
            .iter()
            .map(|r| {
                (
                    r.release.as_deref(),
                    r.revision,
                    r.status.as_str(),
                    r.chart_version.as_deref(),
                    r.app_version.as_deref(),
                    r.description.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    Some("astronomer"),
                    1,
                    "superseded",
                    Some("0.16.5"),
                    Some("0.16.5"),
                    Some("Install complete")
                ),
                (
                    Some("astronomer"),
                    2,
                    "deployed",
                    Some("0.16.9"),
                    Some("0.16.9"),
                    Some("Upgrade complete")
                ),
            ]
        );
        let helm2 = "REVISION UPDATED STATUS CHART DESCRIPTION\n3 Mon Oct  3 10:15:13 2016 FAILED astronomer-0.16.9 Upgrade \"astronomer\" failed: timed out\n";
        let got = read("h", helm2, 1, Some("helm hist --max 2 astronomer")).helm_history;
        assert_eq!(got[0].status, "failed");
        assert_eq!(got[0].release.as_deref(), Some("astronomer"));
        assert_eq!(
            got[0].description.as_deref(),
            Some("Upgrade \"astronomer\" failed: timed out")
        );
        assert_eq!(got[0].app_version, None);
        let json = r#"[{"revision":1,"updated":"2021-01-01T10:00:00Z","status":"deployed","chart":"astronomer-0.16.9","app_version":"0.16.9","description":"Install complete"}]"#;
        let got = read("h", json, 1, Some("helm3 history astronomer -o json")).helm_history;
        assert_eq!(
            (got[0].revision, got[0].release.as_deref()),
            (1, Some("astronomer"))
        );
    }

    #[test]
    fn finds_the_yaml_list_in_a_transcript() {
        let text = "$ helm ls -A -o yaml\n  app_version: 0.16.9\n  chart: astronomer-0.16.9\n  name: astronomer\n  revision: \"4\"\n  status: deployed\n- app_version: 1.10.12\n  chart: airflow-0.16.1\n  name: bolide\n  revision: \"1\"\n  status: deployed\n$ kubectl get pods\nNAME READY STATUS\n- fixed: the thing: below\n- just a note\n\n- see the chart\n";
        let facts = read("h", text, 1, None);
        assert!(facts.diagnostics.is_empty(), "{:?}", facts.diagnostics);
        let got: Vec<_> = facts
            .helm_releases
            .iter()
            .map(|r| {
                (
                    r.name.as_str(),
                    r.revision,
                    r.app_version.as_deref(),
                    r.at.line,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("astronomer", Some(4), Some("0.16.9"), Some(2)),
                ("bolide", Some(1), Some("1.10.12"), Some(7))
            ]
        );
    }

    #[test]
    fn reads_a_folded_yaml_description_and_reports_a_damaged_entry() {
        let text = "- app_version: 0.16.9\n  chart: astronomer-0.16.9\n  description: 'Upgrade \"astronomer\" failed: timed out waiting\n    for the condition'\n  revision: 3\n  status: failed\n  updated: \"2021-01-01T10:00:00Z\"\n";
        let got = read("h", text, 1, Some("helm history astronomer -o yaml")).helm_history;
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0].description.as_deref(),
            Some("Upgrade \"astronomer\" failed: timed out waiting for the condition")
        );
        let facts = read("h", "- chart: [astronomer-0.16.9\n  name: astronomer\n- chart: airflow-0.16.1\n  name: bolide\n", 5, None);
        assert_eq!(facts.helm_releases.len(), 1);
        assert_eq!(facts.diagnostics.len(), 1, "{:?}", facts.diagnostics);
        assert_eq!(facts.diagnostics[0].severity, Severity::Warning);
        assert_eq!(facts.diagnostics[0].line, Some(6));
    }

    #[test]
    fn never_panics_on_odd_yaml_items() {
        for text in [
            "- - -\n  - chart:\n",
            "- chart: &a [*a]\n- revision: *b\n",
            "  AppVersion: \u{1b}[31m\u{0}\n- Chart: {x\n  \u{feff}\n",
            "- chart: 1e999\n  revision: 18446744073709551616\n  name: [\"\"]\n",
            "- \t\n  - \n- :\n",
        ] {
            for first_line in [1, u32::MAX] {
                let _ = read("h", text, first_line, None);
            }
        }
    }

    #[test]
    fn unreadable_rows_under_a_header_are_reported() {
        let facts = read(
            "h",
            "NAME\tNAMESPACE\tREVISION\tUPDATED\tSTATUS\tCHART\tAPP VERSION\ngarbage here\n",
            10,
            None,
        );
        assert!(facts.helm_releases.is_empty());
        assert_eq!(facts.diagnostics[0].line, Some(11));
    }
}
