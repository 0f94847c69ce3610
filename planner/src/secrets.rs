//! Finds credentials pasted by mistake, so the CLI's reports and the page mask the same things:
//! the password (and user) of `scheme://user:password@host`, `password=`/`token:`-style values,
//! `--token X`/`--password X`, `Bearer` tokens and bare JSON Web Tokens. The placeholders the
//! remedies print (`USER:PASSWORD`) are not credentials and stay.

use std::borrow::Cow;
use std::ops::Range;

use crate::scan;

/// URL user infos that are placeholders in remedies, not credentials.
const PLACEHOLDERS: [&str; 3] = ["USER:PASSWORD", "USERNAME:PASSWORD", "USERNAME:$PASSWORD"];

/// Keys whose value is a credential (matched ignoring case, after a word boundary).
const KEYS: [&str; 16] = [
    "password",
    "passwd",
    "pwd",
    "token",
    "secret",
    "client-key-data",
    "client-certificate-data",
    "api_key",
    "api-key",
    "apikey",
    "client_secret",
    "client-secret",
    "clientsecret",
    "access_key",
    "access-key",
    "accesskey",
];

/// Flags whose next word is a credential (matched ignoring case).
const FLAGS: [&str; 2] = ["--token", "--password"];

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
    let mut spans = find(text, url_user);
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    crate::sort::sort_by(&mut spans, |a, b| a.start.cmp(&b.start));
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(spans.len());
    for span in spans {
        match merged.last_mut() {
            Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
            _ => merged.push(span),
        }
    }
    let mut masked = String::with_capacity(text.len());
    let mut done = 0;
    for span in merged {
        masked.push_str(&text[done..span.start]);
        masked.push_str(placeholder);
        done = span.end;
    }
    masked.push_str(&text[done..]);
    Cow::Owned(masked)
}

/// The byte ranges of the credentials in `text` (non-empty, possibly overlapping).
fn find(text: &str, url_user: UrlUser) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    for (at, &byte) in bytes.iter().enumerate() {
        let rest = &bytes[at..];
        let span = match byte {
            b':' if rest.starts_with(b"://") => url_credentials(text, at, url_user),
            b'-' if rest.starts_with(b"--") => flag_value(text, at),
            b'e' if rest.starts_with(b"eyJ") => json_web_token(bytes, at),
            _ => None,
        };
        spans.extend(span);
        // every key and `bearer` starts with one of these letters
        let key_start = matches!(
            byte.to_ascii_lowercase(),
            b'a' | b'b' | b'c' | b'p' | b's' | b't'
        );
        if key_start && (at == 0 || !is_word(bytes[at - 1])) {
            spans.extend(key_values(text, at));
            spans.extend(bearer_token(text, at));
        }
    }
    spans.retain(|span| !span.is_empty());
    spans
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// How many bytes from `at` on satisfy `pred`.
fn run(bytes: &[u8], at: usize, pred: impl Fn(u8) -> bool) -> usize {
    bytes[at..].iter().take_while(|b| pred(**b)).count()
}

/// The credentials of the URL whose `://` is at `at`: the user info before `@`.
fn url_credentials(text: &str, at: usize, url_user: UrlUser) -> Option<Range<usize>> {
    let bytes = text.as_bytes();
    let scheme_byte = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-');
    let scheme = bytes[..at]
        .iter()
        .rev()
        .take_while(|b| scheme_byte(**b))
        .count();
    if !bytes[at - scheme..at].iter().any(u8::is_ascii_alphabetic) {
        return None;
    }
    let start = at + 3;
    let end = start
        + run(bytes, start, |b| {
            !scan::is_space(b) && b != b'/' && b != b'@'
        });
    if bytes.get(end) != Some(&b'@') || PLACEHOLDERS.contains(&&text[start..end]) {
        return None;
    }
    match url_user {
        UrlUser::Hide => Some(start..end),
        UrlUser::Keep => {
            let colon = text[start..end].find(':')?;
            Some(start + colon + 1..end)
        }
    }
}

/// The value after `--token`/`--password` and spaces, when the flag starts at `at`.
fn flag_value(text: &str, at: usize) -> Option<Range<usize>> {
    let bytes = text.as_bytes();
    let flag = FLAGS
        .iter()
        .find(|flag| scan::strip_prefix_ignore_case(&text[at..], flag).is_some())?;
    let spaces = run(bytes, at + flag.len(), scan::is_space);
    let start = at + flag.len() + spaces;
    (spaces > 0).then(|| start..start + run(bytes, start, |b| !scan::is_space(b)))
}

/// The token of `bearer TOKEN` starting at `at`.
fn bearer_token(text: &str, at: usize) -> Option<Range<usize>> {
    let bytes = text.as_bytes();
    scan::strip_prefix_ignore_case(&text[at..], "bearer")?;
    let spaces = run(bytes, at + 6, scan::is_space);
    let start = at + 6 + spaces;
    let token_byte = |b: u8| b.is_ascii_alphanumeric() || b"._~+/=-".contains(&b);
    (spaces > 0).then(|| start..start + run(bytes, start, token_byte))
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

/// The values of `KEY=value`, `KEY: value`, `"KEY": "value"` for every key starting at `at`.
fn key_values(text: &str, at: usize) -> impl Iterator<Item = Range<usize>> + '_ {
    let bytes = text.as_bytes();
    let quote = |b: Option<&u8>| matches!(b, Some(b'"' | b'\''));
    KEYS.iter().filter_map(move |key| {
        scan::strip_prefix_ignore_case(&text[at..], key)?;
        let mut i = at + key.len();
        i += usize::from(quote(bytes.get(i)));
        i += run(bytes, i, scan::is_space);
        if !matches!(bytes.get(i), Some(b':' | b'=')) {
            return None;
        }
        i += 1;
        i += run(bytes, i, scan::is_space);
        i += usize::from(quote(bytes.get(i)));
        let value = run(bytes, i, |b| {
            !scan::is_space(b) && !matches!(b, b'"' | b'\'' | b',' | b';')
        });
        Some(i..i + value)
    })
}
