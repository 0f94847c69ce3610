//! Byte-level building blocks for the hand-written grammars of the readers and the secret
//! scanner (a regex engine costs the page ~13 KB gzip). Every boundary they report sits next to
//! an ASCII byte, so slicing a `&str` there never splits a character.

/// ASCII whitespace as terminals print it: space, tab, line breaks, vertical tab, form feed.
pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C)
}

/// The words of `s` between runs of [`is_space`], each with its byte offset.
pub(crate) fn words(s: &str) -> impl Iterator<Item = (usize, &str)> {
    let bytes = s.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < bytes.len() && is_space(bytes[at]) {
            at += 1;
        }
        let start = at;
        while at < bytes.len() && !is_space(bytes[at]) {
            at += 1;
        }
        (at > start).then(|| (start, &s[start..at]))
    })
}

/// How many ASCII digits `s` starts with.
pub(crate) fn digits(s: &str) -> usize {
    s.bytes().take_while(u8::is_ascii_digit).count()
}

/// Whether `s` is one or more ASCII digits.
pub(crate) fn all_digits(s: &str) -> bool {
    !s.is_empty() && digits(s) == s.len()
}

/// `s` after `n` ASCII digits, when it starts with exactly `n` (no more).
pub(crate) fn after_digits(s: &str, n: usize) -> Option<&str> {
    (digits(s) == n).then(|| &s[n..])
}

/// The length of the `MAJOR.MINOR` or `MAJOR.MINOR.PATCH` version `s` starts with.
pub(crate) fn dotted_version(s: &str) -> Option<usize> {
    let major = digits(s);
    let minor = digits(s.get(major + 1..)?);
    if major == 0 || s.as_bytes()[major] != b'.' || minor == 0 {
        return None;
    }
    let length = major + 1 + minor;
    let patch = match s[length..].strip_prefix('.') {
        Some(rest) if digits(rest) > 0 => 1 + digits(rest),
        _ => 0,
    };
    Some(length + patch)
}

/// `s` without its leading `prefix`, compared ignoring ASCII case.
pub(crate) fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.as_bytes().get(..prefix.len())?;
    // `prefix` is ASCII, so an equal head ends on a character boundary
    head.eq_ignore_ascii_case(prefix.as_bytes())
        .then(|| &s[prefix.len()..])
}

/// `s` without every leading copy of the non-empty `prefix`: `trim_start_matches` with a string
/// pattern, without the substring searcher that brings into the page.
pub(crate) fn trim_start_str<'a>(mut s: &'a str, prefix: &str) -> &'a str {
    while let Some(rest) = s.strip_prefix(prefix) {
        s = rest;
    }
    s
}

/// `s` without every trailing copy of the non-empty `suffix` (see [`trim_start_str`]).
pub(crate) fn trim_end_str<'a>(mut s: &'a str, suffix: &str) -> &'a str {
    while let Some(rest) = s.strip_suffix(suffix) {
        s = rest;
    }
    s
}
