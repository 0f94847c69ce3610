//! Line handling shared by every reader: what people's terminals and chat windows do to output.
//!
//! Readers see cleaned lines that keep their original 1-based line numbers, so a diagnostic or
//! a fact can always point back into the paste. Everything here is plain byte scanning: the pod
//! table benchmark reads megabytes per call, so there is no regex on the per-line path.

use std::borrow::Cow;

use crate::scan;

/// One line of a source after cleaning, with its 1-based line number in the whole source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line<'a> {
    pub number: u32,
    pub text: Cow<'a, str>,
}

/// Splits on `\n`, `\r\n` and lone `\r`, yielding `(line number, raw line)` from `first_line` on.
pub fn raw_lines(text: &str, first_line: u32) -> RawLines<'_> {
    RawLines {
        rest: text,
        number: first_line,
        done: text.is_empty(),
    }
}

/// Iterator behind [`raw_lines`].
#[derive(Debug, Clone)]
pub struct RawLines<'a> {
    rest: &'a str,
    number: u32,
    done: bool,
}

impl<'a> Iterator for RawLines<'a> {
    type Item = (u32, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let bytes = self.rest.as_bytes();
        let number = self.number;
        self.number = self.number.saturating_add(1);
        match find_line_break(bytes) {
            Some(i) => {
                let line = &self.rest[..i];
                let skip = if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                self.rest = &self.rest[i + skip..];
                if self.rest.is_empty() {
                    self.done = true;
                }
                Some((number, line))
            }
            None => {
                self.done = true;
                Some((number, self.rest))
            }
        }
    }
}

/// Index of the first `\n` or `\r`, checking eight bytes per step (the readers' hottest loop).
fn find_line_break(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // non-zero exactly when some byte of `word` equals `byte`
    let contains = |word: u64, byte: u8| {
        let x = word ^ (ONES * u64::from(byte));
        x.wrapping_sub(ONES) & !x & HIGHS
    };
    let mut start = 0;
    for chunk in bytes.chunks_exact(8) {
        let word = u64::from_le_bytes([
            chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7],
        ]);
        if contains(word, b'\n') | contains(word, b'\r') != 0 {
            break;
        }
        start += 8;
    }
    bytes[start..]
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .map(|i| start + i)
}

/// How many lines [`raw_lines`] yields for `text` (0 for empty text).
pub fn line_count(text: &str) -> u32 {
    raw_lines(text, 1).fold(0, |n, _| n + 1)
}

/// The line number of byte `offset` of `text`, whose first line is `first_line`.
pub fn line_of_offset(text: &str, offset: usize, first_line: u32) -> u32 {
    let bytes = &text.as_bytes()[..offset.min(text.len())];
    let breaks = bytes
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
        .count();
    let breaks = u32::try_from(breaks).unwrap_or(u32::MAX);
    // a `\r` at the very end of the prefix may be the first half of a `\r\n`
    let split_crlf =
        bytes.last() == Some(&b'\r') && text.as_bytes().get(bytes.len()) == Some(&b'\n');
    first_line
        .saturating_add(breaks)
        .saturating_sub(u32::from(split_crlf))
}

/// The number of the last line of `text` (`first_line` for empty text).
pub fn last_line(text: &str, first_line: u32) -> u32 {
    first_line.saturating_add(line_count(text).saturating_sub(1))
}

/// Cleaned lines of `text` (see [`clean_line`]), numbered from `first_line`.
pub fn lines(text: &str, first_line: u32) -> impl Iterator<Item = Line<'_>> {
    raw_lines(text, first_line).map(|(number, raw)| Line {
        number,
        text: clean_line(raw),
    })
}

/// Bytes that send a line down the slow path of [`clean_line`]: control characters other than
/// tab, DEL, markdown's backtick and star, and 0xC2 (which starts C1 controls and U+00A0).
const NEEDS_CLEANING: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b != 0x09;
        b += 1;
    }
    table[0x7f] = true;
    table[0x60] = true;
    table[0x2a] = true;
    table[0xc2] = true;
    table
};

/// Removes terminal and markdown damage from one line: ANSI/OSC escapes, control characters,
/// `> ` quote prefixes, code-fence lines (which become empty), `**bold**` markers, backticks
/// around the whole line and trailing whitespace. Tabs are kept: they separate columns.
pub fn clean_line(raw: &str) -> Cow<'_, str> {
    let bytes = raw.as_bytes();
    let needs_work = bytes.first() == Some(&b'>')
        || raw.trim_start().starts_with('_')
        || bytes.iter().any(|&b| NEEDS_CLEANING[usize::from(b)]);
    if !needs_work {
        return Cow::Borrowed(raw.trim_end());
    }
    let mut text = strip_controls(raw);
    let unquoted = strip_quote_marks(&text);
    if unquoted.len() != text.len() {
        text = unquoted.to_string();
    }
    if is_fence(&text) {
        return Cow::Owned(String::new());
    }
    if text.contains("**") {
        text = text.replace("**", "");
    }
    if let Some(inner) = emphasised(text.trim()) {
        text = inner.to_string();
    }
    let trimmed = text.trim();
    if trimmed.len() >= 2
        && trimmed.starts_with('`')
        && trimmed.ends_with('`')
        && !trimmed[1..trimmed.len() - 1].contains('`')
    {
        text = trimmed[1..trimmed.len() - 1].to_string();
    }
    let end = text.trim_end().len();
    text.truncate(end);
    Cow::Owned(text)
}

/// The inside of a whole line in Markdown emphasis (`*Server Version: v1.29.2*`,
/// `_Client Version: v1.18.9_`): words inside, no space next to the markers. A get-contexts row
/// (`*   prod   …`) and a `--list` row (`*.*  []  []  [*]`) are not emphasis.
fn emphasised(line: &str) -> Option<&str> {
    for marker in ['*', '_'] {
        let Some(inner) = line
            .strip_prefix(marker)
            .and_then(|rest| rest.strip_suffix(marker))
        else {
            continue;
        };
        let plain_edges = |c: Option<char>| c.is_some_and(|c| !c.is_whitespace() && c != marker);
        if plain_edges(inner.chars().next())
            && plain_edges(inner.chars().last())
            && inner.contains(' ')
        {
            return Some(inner);
        }
    }
    None
}

/// Drops markdown/e-mail quote marks (`> `, `>> `, `> > `) from the start of a line.
fn strip_quote_marks(text: &str) -> &str {
    let mut rest = text.trim_start();
    if !rest.starts_with('>') {
        return text;
    }
    while let Some(after) = rest.strip_prefix('>') {
        rest = after.strip_prefix(' ').unwrap_or(after);
    }
    rest
}

/// True for a markdown code fence line (```` ``` ````, ```` ```bash ````, `~~~`).
fn is_fence(text: &str) -> bool {
    let t = text.trim();
    // the info string may follow a space (```` ``` bash ````)
    let info = t.get(3..).unwrap_or("").trim_start();
    (t.starts_with("```") || t.starts_with("~~~")) && !info.contains('`') && !info.contains(' ')
}

/// Drops ANSI CSI/OSC sequences and control characters other than tab.
fn strip_controls(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.peek() {
                Some('[') => {
                    chars.next();
                    // CSI: parameters and intermediates, ended by a byte in @..~
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    chars.next();
                    // OSC: ended by BEL or ESC \
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' {
                            break;
                        }
                        if c == '\u{1b}' {
                            if chars.peek() == Some(&'\\') {
                                chars.next();
                            }
                            break;
                        }
                    }
                }
                Some(_) => {
                    chars.next();
                }
                None => {}
            },
            '\u{9b}' => {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            '\t' => out.push('\t'),
            // no-break spaces from web pages and chat windows separate columns like spaces
            '\u{a0}' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Words that start a command people paste; a weak prompt (`# `, `% `, `> `, none) needs one.
const COMMAND_WORDS: &[&str] = &[
    "kubectl",
    "k",
    "kubectl.exe",
    "oc",
    "helm",
    "helm3",
    "helm2",
    "docker",
    "podman",
    "cat",
    "sudo",
    "watch",
    "kubens",
    "kubectx",
    "astro",
    "microk8s",
    "microk8s.kubectl",
    "k3s",
    "minikube",
    "echo",
    "export",
    "cd",
    "ls",
    "grep",
    "less",
    "more",
    "type",
    "Get-Content",
    "gcloud",
    "aws",
    "az",
    "eksctl",
    "kind",
    "k3d",
    "uname",
    "time",
    "env",
    "stern",
    "curl",
    "base64",
    "jq",
];

/// Tools whose name alone, without any prompt, marks a command line.
const BARE_COMMAND_WORDS: &[&str] = &[
    "kubectl",
    "k",
    "oc",
    "helm",
    "helm3",
    "helm2",
    "docker",
    "podman",
    "kubens",
    "kubectx",
    "astro",
    "microk8s",
    "microk8s.kubectl",
    "k3s",
    "minikube",
    "sudo",
    "watch",
];

/// The command of a prompt line (`$ kubectl get pods -A` → `kubectl get pods -A`), if `line`
/// (already cleaned) is one. Recognises `$ `, `# `, `% `, `> `, `PS C:\…> `, `❯ `, `➜  dir `,
/// `user@host:~$ `, `root@orbiter: `, `[user@host dir]$ `, `(venv) $ `, `bash-5.1$ `, and bare
/// command lines that start with a known tool (`kubectl …`, `helm …`).
pub fn command_of(line: &str) -> Option<&str> {
    let line = line.trim();
    if plainly_output(line) {
        return None;
    }
    let prompt = strip_prompt(line);
    let (rest, strong) = prompt.unwrap_or((line, false));
    let rest = rest.trim();
    let mut words = rest.split_whitespace();
    let first = words.next()?;
    let second = words.next();
    let env_prefixed = first.contains('=') && is_env_assignment(rest);
    let known_tool = env_prefixed || COMMAND_WORDS.contains(&first);
    if strong {
        let plausible = first
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/');
        return (known_tool || plausible).then_some(rest);
    }
    // A sentence that starts with a tool's name is prose, not a command.
    let sentence =
        rest.ends_with([':', '.', '?', '!', ',']) || rest.contains('`') || rest.contains(": ");
    if prompt.is_some() {
        // `# `, `% `, `> `: also a comment, a heading or a quote unless a tool follows
        return (known_tool && !sentence).then_some(rest);
    }
    // Without any prompt only a tool with a subcommand counts; a table row whose first cell is
    // a tool's name (namespace `astro`) and a version line (`oc v3.11.0`) are output.
    let table_row =
        rest.contains("  ") || rest.contains('\t') || rest.split_whitespace().any(is_ratio);
    let subcommand = second.is_some_and(|w| !looks_like_version(w));
    let bare = env_prefixed || (BARE_COMMAND_WORDS.contains(&first) && subcommand);
    (bare && !sentence && !table_row).then_some(rest)
}

/// The longest prompt looked for before a command.
const MAX_PROMPT: usize = 80;

/// A prompt with no command after it (`user@host:~$`, `[user@host dir]$`, `$`): the last line
/// of many pastes, the shell waiting after the output. Only prompts that end in a sigil count;
/// `#` alone (a comment, a heading) does not.
pub fn is_bare_prompt(line: &str) -> bool {
    let line = line.trim();
    if line.is_empty() || line.len() > MAX_PROMPT || !line.ends_with(['$', '#', '%', '>', '❯']) {
        return false;
    }
    matches!(strip_prompt(&format!("{line} ")), Some((rest, true)) if rest.trim().is_empty())
}

/// The command of a line that continues the one before it (after a trailing `\`), without
/// the shell's continuation prompt (`> `).
pub fn continued_command(line: &str) -> &str {
    let line = line.trim();
    line.strip_prefix("> ").unwrap_or(line).trim()
}

/// A cheap test that passes most output lines (table rows) by: no prompt sigil near the start,
/// and a first word that is neither a tool, a `user@host`/`C:\` prompt nor `NAME=value`.
fn plainly_output(line: &str) -> bool {
    let starts_plain = line
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric());
    if !starts_plain {
        return false;
    }
    let first = line.split_ascii_whitespace().next().unwrap_or(line);
    let special_first = first.contains(['@', '=', ':', '\\'])
        || first == "PS"
        || BARE_COMMAND_WORDS.contains(&first);
    let head = &line.as_bytes()[..line.len().min(MAX_PROMPT)];
    !special_first && !head.iter().any(|b| matches!(b, b'$' | b'#' | b'%' | b'>'))
}

/// `v3.11.0`, `1.16`: a version, not a subcommand.
fn looks_like_version(word: &str) -> bool {
    let digits = word.strip_prefix('v').unwrap_or(word);
    digits.bytes().next().is_some_and(|b| b.is_ascii_digit())
}

/// `1/2`: a READY cell.
fn is_ratio(word: &str) -> bool {
    word.split_once('/').is_some_and(|(a, b)| {
        !a.is_empty()
            && !b.is_empty()
            && a.bytes().all(|c| c.is_ascii_digit())
            && b.bytes().all(|c| c.is_ascii_digit())
    })
}

/// True when `rest` starts with `NAME=value` followed by a known command.
fn is_env_assignment(rest: &str) -> bool {
    let mut words = rest.split_whitespace();
    for word in words.by_ref() {
        let Some((name, _)) = word.split_once('=') else {
            return COMMAND_WORDS.contains(&word);
        };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return false;
        }
    }
    false
}

/// Strips a shell prompt; returns the rest and whether the prompt was unmistakable.
fn strip_prompt(line: &str) -> Option<(&str, bool)> {
    let mut line = line;
    // `(venv) ` and similar environment markers in front of a prompt.
    if line.starts_with('(') {
        if let Some(end) = line.find(") ") {
            if !line[1..end].contains(' ') {
                line = line[end + 2..].trim_start();
            }
        }
    }
    for sigil in ["$ ", "# ", "% ", "> "] {
        if let Some(rest) = line.strip_prefix(sigil) {
            return Some((rest, sigil == "$ "));
        }
    }
    if line == "$" || line == "#" {
        return Some(("", true));
    }
    for sigil in ["❯ ", "λ ", "→ ", "⇒ ", "» ", "▶ "] {
        if let Some(rest) = line.strip_prefix(sigil) {
            return Some((rest, true));
        }
    }
    if let Some(rest) = line.strip_prefix("➜ ") {
        // oh-my-zsh: `➜  dir git:(main) ✗ command`
        let mut rest = rest.trim_start();
        if let Some(space) = rest.find(' ') {
            rest = rest[space..].trim_start();
        }
        if let Some(after) = rest.strip_prefix("git:(") {
            rest = after.split_once(") ").map_or("", |(_, r)| r).trim_start();
        }
        let rest = rest.strip_prefix("✗ ").unwrap_or(rest);
        return Some((rest, true));
    }
    if line.starts_with("PS ")
        || (line.len() > 3 && line.as_bytes()[1] == b':' && line.as_bytes()[2] == b'\\')
    {
        // PowerShell `PS C:\Users\me> ` and cmd.exe `C:\Users\me>`
        if let Some(end) = line.find('>') {
            let path = scan::trim_start_str(&line[..end], "PS ");
            if path.contains(':')
                || path.contains('\\')
                || path.starts_with('/')
                || path.starts_with('~')
            {
                return Some((&line[end + 1..], true));
            }
        }
    }
    if let Some(rest) = line.strip_prefix('[') {
        // `[user@host dir]$ `
        if let Some(end) = rest.find(']') {
            let after = &rest[end + 1..];
            if rest[..end].contains('@') || rest[..end].contains(' ') {
                for sigil in ["$ ", "# ", "% "] {
                    if let Some(cmd) = after.strip_prefix(sigil) {
                        return Some((cmd, true));
                    }
                }
            }
        }
    }
    any_prompt_before_tool(line)
        .or_else(|| user_host_prompt(line))
        .or_else(|| shell_version_prompt(line))
}

/// `user@host:~/dir$ `, `root@orbiter: `, `root@orbiter `, `user@host %`.
fn user_host_prompt(line: &str) -> Option<(&str, bool)> {
    let bytes = line.as_bytes();
    let is_name = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
    let user_end = bytes.iter().position(|&b| !is_name(b))?;
    if user_end == 0 || bytes[user_end] != b'@' {
        return None;
    }
    let host_start = user_end + 1;
    let host_len = bytes[host_start..]
        .iter()
        .position(|&b| !is_name(b))
        .unwrap_or(bytes.len() - host_start);
    if host_len == 0 {
        return None;
    }
    let mut rest = &line[host_start + host_len..];
    if let Some(after) = rest.strip_prefix(':') {
        // optional working directory, then an optional sigil
        let path_end = after.find([' ', '$', '#', '%', '>']).unwrap_or(after.len());
        let path = &after[..path_end];
        if path.contains('@') {
            return None;
        }
        rest = &after[path_end..];
    }
    let rest = rest
        .strip_prefix('$')
        .or_else(|| rest.strip_prefix('#'))
        .or_else(|| rest.strip_prefix('%'))
        .or_else(|| rest.strip_prefix('>'))
        .unwrap_or(rest);
    let cmd = rest.strip_prefix(' ')?;
    Some((cmd, true))
}

/// Prompts of every other shape (`root:~# `, `master $ `, `user@mac ~ % `, `/ # `, `$kubectl`,
/// `PS> `): a short prefix ending in `$`, `#`, `%` or `>` that is followed by a tool we know.
fn any_prompt_before_tool(line: &str) -> Option<(&str, bool)> {
    let head = &line.as_bytes()[..line.len().min(MAX_PROMPT)];
    for (at, &b) in head.iter().enumerate() {
        if !matches!(b, b'$' | b'#' | b'%' | b'>') {
            continue;
        }
        let prefix = &line[..at];
        // `<summary>kubectl version</summary>` is HTML in a ticket, not a prompt
        if prefix.bytes().filter(|&c| c == b' ').count() > 3
            || prefix.contains(['"', '\'', '=', '<'])
        {
            return None;
        }
        let rest = line[at + 1..].trim_start();
        let first = rest.split_whitespace().next().unwrap_or("");
        if (COMMAND_WORDS.contains(&first) && first != "k") || (first == "k" && rest.len() > 2) {
            return Some((rest, true));
        }
    }
    None
}

/// `bash-5.1$ `, `sh-4.4# `.
fn shell_version_prompt(line: &str) -> Option<(&str, bool)> {
    for shell in ["bash-", "sh-", "zsh-"] {
        if let Some(rest) = line.strip_prefix(shell) {
            let end = rest.find(['$', '#'])?;
            if rest[..end].bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                return rest[end + 1..].strip_prefix(' ').map(|cmd| (cmd, true));
            }
        }
    }
    None
}

/// Splits a table row into cells separated by two or more spaces or a tab.
pub fn split_columns(line: &str) -> Vec<&str> {
    let bytes = line.as_bytes();
    let mut cells = Vec::new();
    let mut start = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let gap = b == b'\t' || (b == b' ' && matches!(bytes.get(i + 1), Some(b' ' | b'\t')));
        if gap {
            if let Some(s) = start.take() {
                cells.push(line[s..i].trim_end());
            }
            while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'\t') {
                i += 1;
            }
            continue;
        }
        if start.is_none() && b != b' ' {
            start = Some(i);
        }
        i += 1;
    }
    if let Some(s) = start {
        cells.push(line[s..].trim_end());
    }
    cells
}

/// Column names of a table header with their byte offsets: split like [`split_columns`], so a
/// two-word name (`APP VERSION`, `NOMINATED NODE`) stays one column when aligned by kubectl.
pub fn column_starts(header: &str) -> Vec<(usize, &str)> {
    split_columns(header)
        .into_iter()
        .map(|cell| (cell.as_ptr() as usize - header.as_ptr() as usize, cell))
        .collect()
}

/// Cuts `row` at the header's column offsets. Only valid when the row is aligned with the
/// header (kubectl and helm print them so); a cell may be empty. Cuts that fall inside a word
/// move to the start of that word, so one-character drift does not split a value.
pub fn cells_at<'a>(row: &'a str, starts: &[(usize, &str)]) -> Vec<&'a str> {
    let bytes = row.as_bytes();
    let mut cuts: Vec<usize> = starts
        .iter()
        .map(|&(offset, _)| {
            let mut at = offset.min(bytes.len());
            while at > 0 && at < bytes.len() && bytes[at - 1] != b' ' && bytes[at - 1] != b'\t' {
                at -= 1;
            }
            while !row.is_char_boundary(at) {
                at -= 1;
            }
            at
        })
        .collect();
    if let Some(first) = cuts.first_mut() {
        *first = 0;
    }
    for i in 1..cuts.len() {
        cuts[i] = cuts[i].max(cuts[i - 1]);
    }
    cuts.iter()
        .enumerate()
        .map(|(i, &start)| {
            let end = cuts.get(i + 1).copied().unwrap_or(bytes.len());
            row[start..end].trim()
        })
        .collect()
}

/// Words of a command line, with surrounding quotes removed (no full shell parsing).
pub fn command_words(command: &str) -> Vec<&str> {
    command
        .split_whitespace()
        .map(|w| w.trim_matches(|c| c == '"' || c == '\''))
        // `\*`: the shell passes `*`
        .map(|w| {
            w.strip_prefix('\\')
                .filter(|rest| !rest.is_empty())
                .unwrap_or(w)
        })
        .collect()
}

/// The namespace a kubectl/helm command names with `-n X`, `-nX`, `--namespace X` or `--namespace=X`.
pub fn command_namespace(command: &str) -> Option<&str> {
    let words = command_words(command.split('|').next().unwrap_or(command));
    // Options before the tool belong to wrappers (`watch -n 5 kubectl …`).
    let tool = words.iter().position(|w| {
        matches!(
            scan::trim_end_str(w, ".exe"),
            "kubectl" | "k" | "oc" | "helm" | "helm2" | "helm3" | "microk8s.kubectl"
        )
    });
    let mut words = words.into_iter().skip(tool.map_or(0, |i| i + 1));
    while let Some(word) = words.next() {
        if word == "-n" || word == "--namespace" {
            return words.next().filter(|ns| !ns.starts_with('-'));
        }
        if let Some(ns) = word
            .strip_prefix("--namespace=")
            .or_else(|| word.strip_prefix("-n="))
        {
            return Some(ns).filter(|ns| !ns.is_empty());
        }
        if let Some(ns) = word.strip_prefix("-n") {
            if !ns.is_empty() && !word.starts_with("--") {
                return Some(ns);
            }
        }
    }
    None
}

/// Issue templates' "What you expected to happen" sections hold output the reporter wished
/// for, not what the cluster printed. Returns `text` with the lines of such sections blanked
/// (line numbers kept), or `None` when it has none.
pub fn without_expected_sections(text: &str) -> Option<String> {
    if !text.contains("xpect") {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut in_expected = false;
    let mut blanked = false;
    for line in text.split_inclusive('\n') {
        if let Some(heading) = heading_text(line) {
            in_expected = EXPECTED_HEADINGS
                .iter()
                .any(|start| heading.starts_with(start));
            out.push_str(line);
            continue;
        }
        if in_expected && !line.trim().is_empty() {
            blanked = true;
            let body = line.trim_end_matches(['\n', '\r']);
            out.push_str(&line[body.len()..]);
        } else {
            out.push_str(line);
        }
    }
    blanked.then_some(out)
}

/// How issue templates title the section of what should have happened.
const EXPECTED_HEADINGS: [&str; 7] = [
    "what you expected",
    "what did you expect",
    "what you expect",
    "expected behavio",
    "expected result",
    "expected output",
    "what should happen",
];

/// The lower-cased text of a markdown heading (`### Title`) or bold label line
/// (`**Title**:`), else `None`.
fn heading_text(line: &str) -> Option<String> {
    let trimmed = line.trim();
    let title = if let Some(rest) = trimmed.strip_prefix('#') {
        let rest = rest.trim_start_matches('#');
        rest.starts_with(' ').then_some(rest)?
    } else {
        let rest = trimmed.strip_prefix("**")?;
        let (title, after) = rest.split_once("**")?;
        let after = after.trim();
        (after.is_empty() || after.ends_with(':')).then_some(title)?
    };
    Some(title.trim().trim_end_matches(':').to_ascii_lowercase())
}

/// kubectl options (the subcommands' and the global ones) that take a value in the next word:
/// one list for every reader that skips them.
pub(crate) const KUBECTL_VALUE_FLAGS: &[&str] = &[
    "-n",
    "--namespace",
    "--context",
    "--kubeconfig",
    "--cluster",
    "--user",
    "-s",
    "--server",
    "--token",
    "--as",
    "--as-group",
    "-l",
    "--selector",
    "-o",
    "--output",
    "-c",
    "--container",
    "--field-selector",
    "--sort-by",
    "--request-timeout",
    "--template",
    "-L",
    "--label-columns",
    "--subresource",
    "--chunk-size",
    // global options people put before the subcommand (`kubectl --kubeconfig f get pods`)
    "--as-uid",
    "--certificate-authority",
    "--client-certificate",
    "--client-key",
    "--tls-server-name",
    "--username",
    "--password",
    "--cache-dir",
    "--profile",
    "--profile-output",
    "-v",
    "--v",
    "--vmodule",
    "--log-dir",
    "--log-file",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blanks_what_you_expected_sections_only() {
        let text = "**What happened**:\n```\n$ kubectl auth can-i create pods\nyes\n```\n\n\
                    **What you expected to happen**:\n```\n$ kubectl auth can-i create pods\nno\n```\n\
                    **How to reproduce it**:\nrun it\n";
        let cleaned = without_expected_sections(text).expect("has an expected section");
        assert_eq!(line_count(&cleaned), line_count(text));
        assert!(cleaned.contains("yes") && !cleaned.contains("no\n") && cleaned.contains("run it"));
        assert_eq!(without_expected_sections("**What happened**:\nyes\n"), None);
    }

    #[test]
    fn splits_every_line_ending_and_numbers_lines() {
        let got: Vec<_> = raw_lines("a\r\nb\rc\n\nd", 7).collect();
        assert_eq!(got, vec![(7, "a"), (8, "b"), (9, "c"), (10, ""), (11, "d")]);
        assert_eq!(line_count("a\n"), 1);
        assert_eq!(line_count(""), 0);
        assert_eq!(line_count("\n"), 1);
    }

    #[test]
    fn cleans_terminal_and_markdown_damage() {
        assert_eq!(clean_line("\u{1b}[32mRunning\u{1b}[0m  "), "Running");
        assert_eq!(clean_line("\u{1b}]0;title\u{7}$ kubectl"), "$ kubectl");
        assert_eq!(clean_line("> > NAME  READY"), "NAME  READY");
        assert_eq!(clean_line("```bash"), "");
        assert_eq!(clean_line("``` bash"), "");
        assert_eq!(
            clean_line("**Server Version**: v1.16.3"),
            "Server Version: v1.16.3"
        );
        assert_eq!(clean_line("`kubectl version`"), "kubectl version");
        assert_eq!(clean_line("a\u{8}b\tc"), "ab\tc");
        assert_eq!(clean_line("a\u{a0}b"), "a b");
        // a whole line in Markdown emphasis
        assert_eq!(
            clean_line("*Server Version: v1.29.2*"),
            "Server Version: v1.29.2"
        );
        assert_eq!(
            clean_line("  _Client Version: v1.18.9_"),
            "Client Version: v1.18.9"
        );
        // …but not a get-contexts row, a can-i --list row or a name in underscores
        let row = "*         prod      prod      prod       astronomer";
        assert_eq!(clean_line(row), row);
        let list = "*.*   []   []   [*]";
        assert_eq!(clean_line(list), list);
        assert_eq!(clean_line("__init__"), "__init__");
    }

    #[test]
    fn recognises_prompts() {
        let cases = [
            ("$ kubectl get pods -A", Some("kubectl get pods -A")),
            ("root@orbiter: kubectl get pods", Some("kubectl get pods")),
            ("root@orbiter helm ls", Some("helm ls")),
            ("user@host:~/x$ helm list", Some("helm list")),
            (
                "[ec2-user@ip-10-0-0-1 ~]$ kubectl version",
                Some("kubectl version"),
            ),
            (
                "PS C:\\Users\\me> kubectl version --short",
                Some("kubectl version --short"),
            ),
            ("❯ k get po", Some("k get po")),
            (
                "⇒  helm history vetoed-sponge",
                Some("helm history vetoed-sponge"),
            ),
            (
                "➜  astro git:(main) ✗ kubectl get pods",
                Some("kubectl get pods"),
            ),
            ("(venv) $ helm3 list -A", Some("helm3 list -A")),
            ("root:~# kubectl get po -A", Some("kubectl get po -A")),
            ("controlplane $ kubectl version", Some("kubectl version")),
            (
                "me@MacBook-Pro ~ % kubectl get pods",
                Some("kubectl get pods"),
            ),
            ("/ # kubectl get pods", Some("kubectl get pods")),
            ("$kubectl version --short", Some("kubectl version --short")),
            ("PS> helm ls", Some("helm ls")),
            ("<summary>kubectl version</summary>", None),
            ("To see it, run: $ kubectl get pods in another shell", None),
            ("bash-5.1$ kubectl get sc", Some("kubectl get sc")),
            ("% kubectl version", Some("kubectl version")),
            ("helm list -A", Some("helm list -A")),
            ("# Executing 5 build triggers", None),
            ("NAME   READY   STATUS", None),
            ("Kubernetes version (use `kubectl version`):", None),
            ("helm upgrade fails with this error:", None),
            ("astro    astro-houston-abc   1/1   Running   0   1d", None),
            ("astro astro-houston-abc 1/1 Running 0 1d", None),
            ("oc v3.11.0+0cbc58b", None),
            (
                "# kubectl  get pods -n kube-system -o wide",
                Some("kubectl  get pods -n kube-system -o wide"),
            ),
            ("# Source: astronomer/templates/houston.yaml", None),
            ("kubectl get pods shows everything is fine.", None),
            (
                "KUBECONFIG=x.yaml kubectl get pods",
                Some("KUBECONFIG=x.yaml kubectl get pods"),
            ),
        ];
        for (line, want) in cases {
            assert_eq!(command_of(line), want, "{line}");
        }
    }

    #[test]
    fn splits_table_rows() {
        assert_eq!(split_columns("a b   c\td  "), vec!["a b", "c", "d"]);
        let header = "NAME    REVISION  APP VERSION  NAMESPACE";
        let starts = column_starts(header);
        assert_eq!(
            starts.iter().map(|s| s.1).collect::<Vec<_>>(),
            vec!["NAME", "REVISION", "APP VERSION", "NAMESPACE"]
        );
        assert_eq!(
            cells_at("airflow 1                      astro", &starts),
            vec!["airflow", "1", "", "astro"]
        );
    }

    #[test]
    fn finds_command_namespace() {
        assert_eq!(
            command_namespace("kubectl get pods -n astronomer"),
            Some("astronomer")
        );
        assert_eq!(command_namespace("kubectl -nastro get po"), Some("astro"));
        assert_eq!(
            command_namespace("kubectl get po --namespace=x | grep y"),
            Some("x")
        );
        assert_eq!(command_namespace("kubectl get pods -A"), None);
        assert_eq!(
            command_namespace("watch -n 5 kubectl get pods -n kube-system"),
            Some("kube-system")
        );
    }
}
