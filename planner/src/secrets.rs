//! The one scanner for credentials pasted by mistake: the CLI's reports, the plan and the page
//! all mask what it finds, each with its own placeholder (`***` in reports and plans, `****` on
//! the page).
//!
//! It masks the whole value of:
//! - `KEY=value`, `KEY: value`, `"KEY": "value"`, `KEY = value` and `--KEY value` whose key
//!   names a credential (`*PASSWORD*`, `*PASSWD*`, `*PWD*`, `*SECRET*`, `*TOKEN*`, a `KEY`
//!   word as in `API_KEY`, `PASS`, `AUTH`): `PGPASSWORD='a b;c'`, `db_password: x y`,
//!   `"token": "a\"b"`, `--password "x y"`, `--set auth.password=x`. A value is read as a shell
//!   word (quotes, `'\''`, backslash escapes; `;` and `:` do not end it) after `KEY=`, and to
//!   the end of the line after `KEY: ` or `KEY = ` (a YAML plain scalar may hold spaces), or
//!   the indented lines after a YAML block scalar (`password: |`);
//! - the user information of `scheme://user:pass word@host`, up to the last `@` before a host
//!   (a password may hold spaces, `@`, `/` and `:`);
//! - `Bearer TOKEN`, `Authorization: Basic …`, and JSON Web Tokens (`eyJ….…`);
//! - `value:` after `name: PGPASSWORD` (a container's environment in `-o yaml`/`-o json`);
//! - base64 that decodes to a URL with a user (`connection: cG9zdGdyZXM6Ly91OnBA…`), as a
//!   value or a line of its own.
//!
//! It deliberately leaves alone: the placeholders the remedies print (`USER:PASSWORD`), keys
//! that name a secret rather than hold one (`secretName`, `secretKeyRef`, `imagePullSecrets`,
//! `passwordFile`, `--password-stdin`, a selector's bare `key:`), words that merely contain
//! `key` (`monkey`, `keyring`, `topologyKey`), image references (`repo/token-service:1.0`),
//! digests (`image@sha256:…`), and short flags such as `-p` (a port as often as a password).
//! When it cannot tell where a value ends (an unclosed quote) it masks to the end of the line.
//!
//! It never panics and stays linear in the text: every boundary it reports sits next to an ASCII
//! byte or at the end of the text, and the look-backs and look-aheads it makes without masking
//! are bounded.

use std::borrow::Cow;
use std::ops::Range;

use crate::scan;

/// URL user infos that are placeholders in remedies, not credentials.
const PLACEHOLDERS: [&str; 3] = ["USER:PASSWORD", "USERNAME:PASSWORD", "USERNAME:$PASSWORD"];

/// Words that make a key a credential wherever they occur in one of its words
/// (`PGPASSWORD`, `mytoken`, `clientsecret`).
const SECRET_WORDS: [&str; 6] = ["password", "passwd", "passphrase", "pwd", "secret", "token"];

/// Words that are a credential only as a word of their own (`DB_PASS`, `basic_auth`, `aws.credentials`).
const SECRET_WHOLE_WORDS: [&str; 4] = ["pass", "auth", "credential", "credentials"];

/// Single words ending in `key` that name a credential (`apikey`, `accessKey` splits by itself).
const KEY_COMPOUNDS: [&str; 10] = [
    "apikey",
    "accesskey",
    "privatekey",
    "authkey",
    "sshkey",
    "masterkey",
    "fernetkey",
    "signingkey",
    "encryptionkey",
    "clientkey",
];

/// Words before `key` that make it something other than a credential (`topologyKey`).
const INNOCENT_KEY_KINDS: [&str; 10] = [
    "topology",
    "public",
    "sort",
    "partition",
    "routing",
    "cache",
    "label",
    "primary",
    "foreign",
    "lookup",
];

/// Last words of a key that name a credential instead of holding one (`secretName`,
/// `secretKeyRef`, `passwordFile`, `--password-stdin`, `tokenTTL`).
const REFERENCE_WORDS: [&str; 20] = [
    "name", "names", "ref", "refs", "file", "files", "path", "dir", "stdin", "ttl", "type", "kind",
    "mode", "length", "count", "expiry", "enabled", "policy", "url", "secrets",
];

/// The longest key the scanner looks back for before `=` or `:`.
const MAX_KEY: usize = 128;

/// How far after `scheme://` the user information of a URL may reach.
const MAX_USER_INFO: usize = 256;

/// What to do with the user of a URL that carries credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlUser {
    /// Mask `user:password` as a whole, and a lone `user@` too (reports and plans).
    Hide,
    /// Mask only the password (the page, where the user helps recognise the line).
    Keep,
}

/// `text` with every credential replaced by `placeholder`; borrowed when there is none.
pub fn mask<'t>(text: &'t str, placeholder: &str, url_user: UrlUser) -> Cow<'t, str> {
    let spans = find(text, url_user);
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut masked = String::with_capacity(text.len());
    let mut done = 0;
    for span in spans {
        masked.push_str(&text[done..span.start]);
        masked.push_str(placeholder);
        done = span.end;
    }
    masked.push_str(&text[done..]);
    Cow::Owned(masked)
}

/// The user information (`user:password`) of the URL whose `://` starts at byte `marker` of
/// `text`: up to the last `@` before a host, so a password may hold any character. `None` when
/// the URL has none (or what comes before an `@` is a host and path, not a user).
pub fn user_info(text: &str, marker: usize) -> Option<Range<usize>> {
    let bytes = text.as_bytes();
    if !bytes.get(marker..)?.starts_with(b"://") {
        return None;
    }
    let scheme_byte = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-');
    let scheme = back_run(bytes, marker, 32, scheme_byte);
    if !bytes[marker - scheme..marker]
        .iter()
        .any(u8::is_ascii_alphabetic)
    {
        return None;
    }
    let start = marker + 3;
    let limit = bytes.len().min(start + MAX_USER_INFO);
    let scheme_start = marker - scheme;
    let host_after = |i: usize| {
        bytes[i] == b'@'
            && bytes
                .get(i + 1)
                .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'[')
            && !is_digest(&bytes[i + 1..])
    };
    // A quoted URL ends with its shell word; a bare one may run to the end of the line (a
    // password with a space splits it into words), but not into the next ` scheme://`.
    let quoted = matches!(
        scheme_start.checked_sub(1).map(|i| bytes[i]),
        Some(b'"' | b'\'')
    );
    let end = if quoted {
        word_end(bytes, scheme_start - 1, limit)
    } else {
        start + run(&bytes[..limit], start, |b| !is_line_break(b))
    };
    let mut at = (start..end.max(start)).rev().find(|&i| host_after(i))?;
    if !quoted {
        if let Some(next) = next_url(bytes, start, at) {
            at = (start..next).rev().find(|&i| host_after(i))?;
        }
    }
    let user = &text[start..at];
    let first = user.bytes().next()?;
    if scan::is_space(first) || first == b'/' {
        return None;
    }
    let colon = user.find(':');
    match (user.find('/'), colon) {
        // `registry.example.com:5000/path@…`: a host, its port and a path, not a user (a
        // password may start with `/` or digits, but then the user is no host name)
        (Some(slash), Some(colon)) if colon < slash => {
            let host = &user[..colon];
            let port = &user[colon + 1..slash];
            if (1..=5).contains(&port.len())
                && scan::all_digits(port)
                && (host.contains('.') || host.eq_ignore_ascii_case("localhost"))
            {
                return None;
            }
        }
        (Some(_), _) => return None,
        // a lone user is one word (`admin@`); with spaces it is prose (`see mail bob@x`)
        (None, None) if user.bytes().any(scan::is_space) => return None,
        _ => {}
    }
    Some(start..at)
}

/// Where the next URL after a blank or a quote starts (its scheme), between `from` and `to`.
fn next_url(bytes: &[u8], from: usize, to: usize) -> Option<usize> {
    let scheme_byte = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-');
    (from..to).find_map(|i| {
        if !bytes[i..to].starts_with(b"://") {
            return None;
        }
        let scheme = back_run(bytes, i, 32, scheme_byte);
        let before = (i - scheme).checked_sub(1).map(|b| bytes[b]);
        (scheme > 0 && i - scheme > from && matches!(before, Some(b' ' | b'\t' | b'"' | b'\'')))
            .then_some(i - scheme)
    })
}

/// The masked spans of `text`, sorted and disjoint.
fn find(text: &str, url_user: UrlUser) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut spans: Vec<Range<usize>> = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let line_start = at == 0 || is_line_break(bytes[at - 1]);
        let encoded = if line_start {
            encoded_line(bytes, at)
        } else {
            None
        };
        let span = encoded.or_else(|| match bytes[at] {
            b':' if bytes[at..].starts_with(b"://") => url_span(text, at, url_user),
            b'=' | b':' => key_value(text, at),
            b'-' if bytes[at..].starts_with(b"--") && word_start(bytes, at) => flag_value(text, at),
            b'e' if bytes[at..].starts_with(b"eyJ") => json_web_token(bytes, at),
            b'a' | b'A' | b'b' | b'B' if word_start(bytes, at) => {
                bearer_token(text, at).or_else(|| authorization(text, at))
            }
            _ => None,
        });
        match span {
            Some(span) if !span.is_empty() => {
                at = span.end.max(at + 1);
                match spans.last_mut() {
                    Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
                    _ => spans.push(span),
                }
            }
            _ => at += 1,
        }
    }
    spans
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_line_break(b: u8) -> bool {
    b == b'\n' || b == b'\r'
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn is_key_byte(b: u8) -> bool {
    is_word(b) || b == b'-' || b == b'.'
}

/// Whether a word starts at `at` (the text starts there, or a byte that is not part of a word).
fn word_start(bytes: &[u8], at: usize) -> bool {
    at == 0 || !is_word(bytes[at - 1])
}

/// How many bytes from `at` on satisfy `pred`.
fn run(bytes: &[u8], at: usize, pred: impl Fn(u8) -> bool) -> usize {
    bytes
        .get(at..)
        .map_or(0, |rest| rest.iter().take_while(|b| pred(**b)).count())
}

/// How many bytes before `end` (at most `max`) satisfy `pred`.
fn back_run(bytes: &[u8], end: usize, max: usize, pred: impl Fn(u8) -> bool) -> usize {
    bytes[..end]
        .iter()
        .rev()
        .take(max)
        .take_while(|b| pred(**b))
        .count()
}

/// The end of the line `at` is on (the index of its line break, or the end of the text).
fn line_end(bytes: &[u8], at: usize) -> usize {
    at + run(bytes, at, |b| !is_line_break(b))
}

/// Where the shell word starting at `at` ends (before `limit`): quoted parts (`'…'`, `"…\"…"`)
/// and backslash escapes are part of it, `;` and `:` too; an unclosed quote runs to the end of
/// the line. After a closing quote, `,` `;` `)` `]` `}` `&` `|` `<` `>` end it (`'s3',next`).
fn word_end(bytes: &[u8], at: usize, limit: usize) -> usize {
    let limit = limit.min(bytes.len());
    let mut i = at;
    while i < limit {
        match bytes[i] {
            b if scan::is_space(b) => return i,
            quote @ (b'\'' | b'"') => {
                let mut j = i + 1;
                loop {
                    match bytes.get(j) {
                        None => return limit,
                        Some(&b) if is_line_break(b) => return j.min(limit),
                        Some(b'\\') if quote == b'"' => j += 2,
                        Some(&b) if b == quote => break,
                        Some(_) => j += 1,
                    }
                }
                i = j + 1;
                if bytes.get(i).is_some_and(|b| b",;)]}&|<>".contains(b)) {
                    return i.min(limit);
                }
            }
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    limit
}

/// `repo@sha256:0123…`: an image digest, not a host after a user.
fn is_digest(after_at: &[u8]) -> bool {
    let algorithm = after_at
        .iter()
        .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        .count();
    algorithm >= 3
        && after_at.get(algorithm) == Some(&b':')
        && after_at[algorithm + 1..]
            .iter()
            .take(8)
            .filter(|b| b.is_ascii_hexdigit())
            .count()
            == 8
}

/// The credentials of the URL whose `://` is at `at`, as the mode wants them.
fn url_span(text: &str, at: usize, url_user: UrlUser) -> Option<Range<usize>> {
    let span = user_info(text, at)?;
    let user = &text[span.clone()];
    if PLACEHOLDERS.contains(&user) {
        return None;
    }
    match url_user {
        UrlUser::Hide => Some(span),
        UrlUser::Keep => {
            let colon = user.find(':')?;
            Some(span.start + colon + 1..span.end)
        }
    }
}

/// The words of a key, lower-cased: split at `_`, `-`, `.` and lower-to-upper case changes
/// (`imagePullSecrets` → `image`, `pull`, `secrets`).
fn key_words(key: &str) -> Vec<String> {
    let mut words = Vec::new();
    for part in key.split(['_', '-', '.']) {
        let mut word = String::new();
        let mut previous_lower = false;
        for c in part.chars() {
            if c.is_ascii_uppercase() && previous_lower {
                words.push(std::mem::take(&mut word));
            }
            previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            word.push(c.to_ascii_lowercase());
        }
        if !word.is_empty() {
            words.push(word);
        }
    }
    words
}

/// Whether a key (of `KEY=`, `KEY:` or `--KEY`) names a value that is a credential.
fn is_secret_key(key: &str) -> bool {
    let words = key_words(key);
    let Some(last) = words.last() else {
        return false;
    };
    if REFERENCE_WORDS.contains(&last.as_str()) {
        return false;
    }
    // a kubeconfig's client certificate travels with its key
    if words == ["client", "certificate", "data"] {
        return true;
    }
    let mut previous: Option<&str> = None;
    for word in &words {
        let word = word.as_str();
        if SECRET_WORDS.iter().any(|secret| word.contains(secret))
            || SECRET_WHOLE_WORDS.contains(&word)
            || KEY_COMPOUNDS.contains(&word)
            || (matches!(word, "key" | "keys")
                && words.len() > 1
                && !previous.is_some_and(|p| INNOCENT_KEY_KINDS.contains(&p)))
        {
            return true;
        }
        previous = Some(word);
    }
    false
}

/// A key whose last word holds a credential (`Passwd`, `db-token`), for `KEY:value` without a space.
fn is_strong_secret_key(key: &str) -> bool {
    key_words(key)
        .last()
        .is_some_and(|last| SECRET_WORDS.iter().any(|secret| last.contains(secret)))
}

/// The key that ends at `end` (before a separator, perhaps after blanks when `blanks_before`):
/// its byte range and the quote around it, if any.
fn key_before(bytes: &[u8], end: usize, blanks_before: bool) -> Option<(Range<usize>, Option<u8>)> {
    let mut end = end;
    if blanks_before {
        end -= back_run(bytes, end, MAX_KEY, is_blank);
    }
    let quote = end
        .checked_sub(1)
        .map(|i| bytes[i])
        .filter(|b| matches!(b, b'"' | b'\''));
    if quote.is_some() {
        end -= 1;
    }
    let start = end - back_run(bytes, end, MAX_KEY, is_key_byte);
    if start == end {
        return None;
    }
    if let Some(quote) = quote {
        // A quoted key needs its opening quote, except where a JSON line was cut just before it
        // (`password": "x"` at the start of a line): that still names the key.
        let cut_at_line_start =
            start == 0 || matches!(bytes[start - 1], b'\n' | b'\r' | b' ' | b'\t');
        if (start == 0 || bytes[start - 1] != quote) && !cut_at_line_start {
            return None;
        }
    }
    Some((start..end, quote))
}

/// The range of a value: inside its quotes when it is one quoted string (`'x y'`, `"a,b"`),
/// else the whole word.
fn value_range(bytes: &[u8], start: usize, end: usize) -> Range<usize> {
    let open = bytes[start];
    let single = matches!(open, b'"' | b'\'')
        && end >= start + 2
        && bytes[end - 1] == open
        && run(bytes, start + 1, |b| b != open) == end - start - 2;
    if single {
        start + 1..end - 1
    } else {
        start..end
    }
}

/// The value after the `=` or `:` at `sep` when the key before it names a credential.
fn key_value(text: &str, sep: usize) -> Option<Range<usize>> {
    let bytes = text.as_bytes();
    let colon = bytes[sep] == b':';
    let mut after = sep + 1;
    if colon && bytes.get(after) == Some(&b'=') {
        return None; // `PASSWORD := x` is read at its `=`
    }
    if !colon && bytes.get(after) == Some(&b'>') {
        after += 1; // `'password' => 'x'`
    }
    // `:=`, `+=`, `?=`
    let key_end = if !colon && sep > 0 && matches!(bytes[sep - 1], b':' | b'+' | b'?') {
        sep - 1
    } else {
        sep
    };
    let (key, quote) = key_before(bytes, key_end, !colon)?;
    let key_text = &text[key.clone()];
    let spaced_before = key_end > key.end + usize::from(quote.is_some());
    let blanks = run(bytes, after, is_blank);
    let value = after + blanks;
    let next = *bytes.get(value)?;
    if is_line_break(next) {
        return None;
    }
    let quoted_value = matches!(next, b'"' | b'\'');
    let secret = may_name_secret(key_text)
        && (is_secret_key(key_text) || is_secret_env_value(text, &key, quote));
    if !secret {
        // any other key's value is masked only when it is base64 of credentials
        let start = value + usize::from(quoted_value);
        let range = start..start + run(bytes, start, is_base64);
        return encodes_credentials(&bytes[range.clone()]).then_some(range);
    }
    if colon && blanks == 0 && !quoted_value && quote.is_none() {
        // `Passwd:x` is not YAML: only a key that ends in a credential word and stands alone
        // (not an image's `repo/token:1.0`, not a time or a port).
        let alone = key.start == 0
            || matches!(
                bytes[key.start - 1],
                b' ' | b'\t' | b'\n' | b'\r' | b'{' | b',' | b'(' | b'['
            );
        if !alone || !is_strong_secret_key(key_text) {
            return None;
        }
    }
    let yaml = colon && blanks > 0;
    // Only the values that run to the end of the line look for it: a line with many keys
    // would otherwise be walked once per key.
    let range = if quoted_value {
        value_range(bytes, value, word_end(bytes, value, bytes.len()))
    } else if let Some(block) = (yaml && matches!(next, b'|' | b'>'))
        .then(|| block_scalar(bytes, key.start, value, line_end(bytes, value)))
        .flatten()
    {
        block
    } else if quote == Some(b'"') {
        // after a JSON key: a number or `true`, or words up to the next `,` `}` `]`
        let end = value + run(bytes, value, |b| !is_line_break(b) && !b",}]".contains(&b));
        value..end - back_run(bytes, end, usize::MAX, is_blank)
    } else if let Some(open) = (quote.is_none() && key.start > 0)
        .then(|| bytes[key.start - 1])
        .filter(|b| matches!(b, b'"' | b'\''))
    {
        // `set "PGPASSWORD=x y"`: the pair is quoted as a whole, the value ends with it
        let mut end = value;
        while end < bytes.len() && bytes[end] != open && !is_line_break(bytes[end]) {
            end += if bytes[end] == b'\\' && open == b'"' {
                2
            } else {
                1
            };
        }
        value..end.min(line_end(bytes, value))
    } else if yaml || (!colon && (blanks > 0 || spaced_before)) {
        // a YAML plain scalar, or `key = value` of a config file: to the end of the line
        let end_of_line = line_end(bytes, value);
        value..end_of_line - back_run(bytes, end_of_line, usize::MAX, scan::is_space)
    } else {
        value..word_end(bytes, value, bytes.len())
    };
    Some(range)
}

fn is_base64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"+/=-_".contains(&b)
}

/// A quick look for the letters every credential key (or `value`) holds, before the
/// allocating [`is_secret_key`].
fn may_name_secret(key: &str) -> bool {
    const NEEDLES: [&[u8]; 9] = [
        b"pass",
        b"pwd",
        b"secret",
        b"token",
        b"key",
        b"auth",
        b"credential",
        b"certificate",
        b"value",
    ];
    let key = key.as_bytes();
    NEEDLES.iter().any(|needle| {
        key.windows(needle.len())
            .any(|window| window.eq_ignore_ascii_case(needle))
    })
}

/// Whether `value` is base64 (of at least 16 characters) of text holding a URL with a user
/// (the `connection` of `kubectl get secret astronomer-bootstrap -o yaml`).
fn encodes_credentials(value: &[u8]) -> bool {
    if value.len() < 16 || !value.iter().all(|&b| is_base64(b)) {
        return false;
    }
    let Ok(value) = std::str::from_utf8(value) else {
        return false;
    };
    let Some(decoded) = crate::input::connection::decode_base64(value) else {
        return false;
    };
    let decoded = String::from_utf8_lossy(&decoded);
    let bytes = decoded.as_bytes();
    (0..bytes.len()).any(|i| bytes[i..].starts_with(b"://") && user_info(&decoded, i).is_some())
}

/// A whole line of base64 that encodes credentials (`… -o jsonpath='{.data.connection}'`).
fn encoded_line(bytes: &[u8], at: usize) -> Option<Range<usize>> {
    let start = at + run(bytes, at, is_blank);
    let end = line_end(bytes, start);
    let end = end - back_run(bytes, end, usize::MAX, is_blank);
    (end > start && encodes_credentials(&bytes[start..end])).then_some(start..end)
}

/// `password: |` (or `>-` …): the more indented lines below it.
fn block_scalar(bytes: &[u8], key_start: usize, value: usize, eol: usize) -> Option<Range<usize>> {
    let indicator = &bytes[value..eol];
    if !matches!(indicator.first(), Some(b'|' | b'>'))
        || !indicator[1..]
            .iter()
            .all(|&b| matches!(b, b'-' | b'+' | b'0'..=b'9') || scan::is_space(b))
    {
        return None;
    }
    let line_start = key_start - back_run(bytes, key_start, usize::MAX, |b| !is_line_break(b));
    let indent = run(bytes, line_start, |b| b == b' ' || b == b'-');
    let first = eol
        + if bytes[eol..].starts_with(b"\r\n") {
            2
        } else {
            1
        };
    let mut end = None;
    let mut cursor = eol;
    while cursor < bytes.len() {
        cursor += if bytes[cursor..].starts_with(b"\r\n") {
            2
        } else {
            1
        };
        let next_end = line_end(bytes, cursor);
        let spaces = run(bytes, cursor, |b| b == b' ');
        let blank_line = cursor + run(bytes, cursor, scan::is_space) >= next_end;
        if !blank_line {
            if spaces <= indent {
                break;
            }
            end = Some(next_end);
        }
        cursor = next_end;
    }
    end.map(|end| first..end)
}

/// Whether the key `value` follows `name: PGPASSWORD` on its line or the line before
/// (`- name: X` / `  value: Y`, `{"name": "X", "value": "Y"}`).
fn is_secret_env_value(text: &str, key: &Range<usize>, quote: Option<u8>) -> bool {
    if !text[key.clone()].eq_ignore_ascii_case("value") {
        return false;
    }
    let bytes = text.as_bytes();
    let key_start = key.start - usize::from(quote.is_some());
    // this line and the one before, at most 256 bytes back
    let mut from = key_start.saturating_sub(256);
    let mut breaks = 0;
    for i in (from..key_start).rev() {
        if bytes[i] == b'\n' {
            breaks += 1;
            if breaks == 2 {
                from = i + 1;
                break;
            }
        }
    }
    while !text.is_char_boundary(from) {
        from += 1;
    }
    let window = &text[from..key_start];
    let Some(name_at) = window.rfind("name") else {
        return false;
    };
    if name_at > 0 && is_key_byte(window.as_bytes()[name_at - 1]) {
        return false;
    }
    let after = &window[name_at + 4..];
    let after = after.strip_prefix(['"', '\'']).unwrap_or(after);
    let Some(after) = after.trim_start_matches([' ', '\t']).strip_prefix(':') else {
        return false;
    };
    let after = after.trim_start_matches([' ', '\t']);
    let after = after.strip_prefix(['"', '\'']).unwrap_or(after);
    let name_len = run(after.as_bytes(), 0, is_key_byte);
    name_len > 0 && is_secret_key(&after[..name_len])
}

/// The value after `--token`/`--password`-like flags and blanks, when the flag starts at `at`.
fn flag_value(text: &str, at: usize) -> Option<Range<usize>> {
    let bytes = text.as_bytes();
    let name = run(bytes, at + 2, is_key_byte);
    let flag_end = at + 2 + name;
    if name == 0 || !is_secret_key(&text[at + 2..flag_end]) {
        return None;
    }
    let blanks = run(bytes, flag_end, is_blank);
    let start = flag_end + blanks;
    if blanks == 0 || start >= bytes.len() || is_line_break(bytes[start]) {
        return None;
    }
    Some(value_range(
        bytes,
        start,
        word_end(bytes, start, bytes.len()),
    ))
}

/// Where a token written after a scheme (`Bearer TOKEN`) ends: at a blank or a quote.
/// Closing punctuation after it is not part of it (`(Bearer x)`).
fn token_end(bytes: &[u8], start: usize) -> usize {
    let end = start
        + run(bytes, start, |b| {
            !scan::is_space(b) && !b"'\"`".contains(&b)
        });
    end - back_run(bytes, end, end - start, |b| b")]},;".contains(&b))
}

/// The token of `bearer TOKEN` starting at `at`.
fn bearer_token(text: &str, at: usize) -> Option<Range<usize>> {
    let bytes = text.as_bytes();
    scan::strip_prefix_ignore_case(&text[at..], "bearer")?;
    if bytes.get(at + 6).is_some_and(|&b| is_word(b)) {
        return None;
    }
    let blanks = run(bytes, at + 6, is_blank);
    let start = at + 6 + blanks;
    (blanks > 0).then(|| start..token_end(bytes, start))
}

/// The credentials of `Authorization: SCHEME CREDENTIALS` (or of `Authorization: CREDENTIALS`).
fn authorization(text: &str, at: usize) -> Option<Range<usize>> {
    let bytes = text.as_bytes();
    scan::strip_prefix_ignore_case(&text[at..], "authorization")?;
    let mut i = at + "authorization".len();
    i += usize::from(matches!(bytes.get(i), Some(b'"' | b'\'')));
    i += run(bytes, i, is_blank);
    if !matches!(bytes.get(i), Some(b':' | b'=')) {
        return None;
    }
    i += 1;
    i += run(bytes, i, is_blank);
    i += usize::from(matches!(bytes.get(i), Some(b'"' | b'\'')));
    let first_end = token_end(bytes, i);
    let blanks = run(bytes, first_end, is_blank);
    let second = first_end + blanks;
    let second_end = token_end(bytes, second);
    let scheme = bytes[i..first_end].iter().all(u8::is_ascii_alphabetic);
    if scheme && blanks > 0 && second_end > second {
        Some(second..second_end)
    } else {
        Some(i..first_end)
    }
}

/// A JSON Web Token starting at `at`: `eyJ…` with a long enough first segment, a second
/// segment and perhaps a signature.
fn json_web_token(bytes: &[u8], at: usize) -> Option<Range<usize>> {
    let segment = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    let header = run(bytes, at + 3, segment);
    let dot = at + 3 + header;
    if header < 8 || bytes.get(dot) != Some(&b'.') {
        return None;
    }
    let payload = run(bytes, dot + 1, segment);
    let mut end = dot + 1 + payload;
    if payload == 0 {
        return None;
    }
    if bytes.get(end) == Some(&b'.') {
        end += 1 + run(bytes, end + 1, segment);
    }
    Some(at..end)
}
