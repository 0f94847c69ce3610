//! The `astronomer-bootstrap` secret's connection string, reduced at once to scheme, host and
//! whether a port is given, and to how the upgrader's own pattern splits it (user, host, port:
//! [`crate::playbook::CONNECTION_PATTERN`]): the forms are the decoded string (`… | base64 -d`),
//! the base64 value alone (`-o jsonpath='{.data.connection}'`), and the secret as `-o yaml` /
//! `-o json`.
//!
//! The password is never copied out of the input: parsing works on slices of the line, the
//! pattern's password group is only asked whether it is empty or percent-encoded, and a host
//! group that starts with the rest of a password (one holding `@`) is cut after its last `@`.
//! No diagnostic quotes a line of this input.

use std::borrow::Cow;

use crate::facts::{At, DatabaseConnection, Facts, Severity, UpgraderSplit};
use crate::input::text;

/// Standard base64 (with or without padding); `None` on any other character.
pub fn decode_base64(encoded: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' | b'-' => Some(62),
            b'/' | b'_' => Some(63),
            _ => None,
        }
    }
    let encoded = encoded.trim().trim_end_matches('=');
    if encoded.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(encoded.len() * 3 / 4);
    for chunk in encoded.as_bytes().chunks(4) {
        let mut bits = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            bits |= value(c)? << (18 - 6 * i);
        }
        let bytes = bits.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

/// Scheme, host and port presence of a URL-style connection string; `None` when it has no
/// host. The user info before the last `@` is skipped, so a password may contain any character.
pub fn parse_connection(url: &str) -> Option<(String, String, bool)> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme_ok = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-'));
    if !scheme_ok {
        return None;
    }
    let after_user = rest.rfind('@').map_or(rest, |at| &rest[at + 1..]);
    let authority = after_user
        .split(['/', '?', '#'])
        .next()
        .unwrap_or(after_user);
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let has_port = port.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'%'));
    host_ok.then(|| (scheme.to_ascii_lowercase(), host.to_owned(), has_port))
}

/// How the upgrader splits `value` (the decoded secret, or a pasted line from its `scheme://`
/// on): `regex_search` with its pattern, the first match anywhere. `None` when it does not
/// match, which stops the upgrader at that task.
pub fn upgrader_split(value: &str) -> Option<UpgraderSplit> {
    let captures = crate::playbook::connection().captures(value)?;
    let group = |i| captures.get(i).map_or("", |m| m.as_str());
    let (user, password) = (group(1), group(2));
    // The password group ends at the first `@`; the user information ends at the last `@`
    // before the host. When they differ the password holds an `@`, and the host and port
    // groups are read from the rest of the password: neither is kept, only the host the
    // string means (after the last `@`).
    let first_at = captures.get(2).map_or(0, |m| m.end());
    let marker = captures.get(0).map_or(0, |m| m.start()) + "postgres".len();
    let last_at = crate::secrets::user_info(value, marker).map_or(first_at, |info| info.end);
    let host_holds_password = last_at > first_at;
    let (host, port) = if host_holds_password {
        let after = &value[(last_at + 1).min(value.len())..];
        let end = after
            .find(|c: char| matches!(c, ':' | '/' | '?' | '#') || c.is_whitespace())
            .unwrap_or(after.len());
        (&after[..end], "")
    } else {
        (group(3), group(4))
    };
    Some(UpgraderSplit {
        user: user.to_owned(),
        host: host.to_owned(),
        host_holds_password,
        port: port.to_owned(),
        password_empty: password.is_empty() && !host_holds_password,
        percent_encoded: has_percent_escape(user) || has_percent_escape(password),
    })
}

/// `%40`, `%2F`: a URL escape, which libpq receives as three characters.
fn has_percent_escape(text: &str) -> bool {
    text.as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit())
}

/// The `scheme://` start of a connection string in `line`, if any.
fn url_start(line: &str) -> Option<usize> {
    let marker = line.find("://")?;
    let start = line[..marker]
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-')))
        .map_or(0, |(i, c)| i + c.len_utf8());
    (start < marker).then_some(start)
}

/// The URL beginning at `start`, up to whitespace or a closing quote.
fn url_at(line: &str, start: usize) -> &str {
    let rest = &line[start..];
    let end = rest
        .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`'))
        .unwrap_or(rest.len());
    &rest[..end]
}

/// The URL beginning at `start` without its user information, which the secret scanner finds
/// up to the last `@` before the host (a password may hold spaces and `@`).
fn url_without_user(line: &str, start: usize) -> Cow<'_, str> {
    let marker = line[start..].find("://").map_or(start, |m| start + m);
    match crate::secrets::user_info(line, marker) {
        Some(user) => Cow::Owned(format!(
            "{}{}",
            &line[start..user.start],
            url_at(line, user.end + 1)
        )),
        None => Cow::Borrowed(url_at(line, start)),
    }
}

/// A base64 value printed for the `connection` key (YAML, JSON or alone).
fn encoded_value(line: &str) -> Option<&str> {
    let trimmed = line.trim();
    let value = if let Some(rest) = trimmed.strip_prefix("connection:") {
        rest
    } else if let Some(rest) = trimmed.strip_prefix("\"connection\":") {
        rest
    } else if !trimmed.contains(char::is_whitespace) && trimmed.len() >= 16 {
        trimmed
    } else {
        return None;
    };
    let value = value.trim().trim_end_matches(',').trim_matches('"');
    (!value.is_empty()).then_some(value)
}

/// What one line holds: a connection parsed, a string that could not be read, or nothing.
enum Found {
    /// Scheme, host, whether a port is given, and the upgrader's split.
    Connection(String, String, bool, Option<UpgraderSplit>),
    Unreadable,
    Nothing,
}

/// URL schemes that name no database (image ids, links, clone URLs).
const NOT_DATABASES: [&str; 11] = [
    "http",
    "https",
    "docker",
    "docker-pullable",
    "containerd",
    "cri-o",
    "file",
    "ssh",
    "git",
    "s3",
    "gs",
];

fn find_in_line(line: &str) -> Found {
    if let Some(start) = url_start(line) {
        let url = url_without_user(line, start);
        let url = url.as_ref();
        let scheme = url.split("://").next().unwrap_or_default();
        if NOT_DATABASES.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
            return Found::Nothing;
        }
        return match parse_connection(url) {
            Some((scheme, host, has_port)) => {
                Found::Connection(scheme, host, has_port, upgrader_split(&line[start..]))
            }
            None => Found::Unreadable,
        };
    }
    let Some(encoded) = encoded_value(line) else {
        return Found::Nothing;
    };
    let Some(decoded) = decode_base64(encoded) else {
        return Found::Nothing;
    };
    let decoded = String::from_utf8_lossy(&decoded);
    match url_start(&decoded) {
        Some(start) => match parse_connection(&url_without_user(&decoded, start)) {
            Some((scheme, host, has_port)) => {
                Found::Connection(scheme, host, has_port, upgrader_split(&decoded))
            }
            None => Found::Unreadable,
        },
        None => Found::Nothing,
    }
}

/// `text` with every credential (the user information of `scheme://user:password@host` among
/// them) replaced by `***`, for messages that must quote a command line (`psql postgres://…`):
/// the secret scanner's report masking.
pub fn redact_credentials(text: &str) -> Cow<'_, str> {
    crate::secrets::mask(text, "***", crate::secrets::UrlUser::Hide)
}

/// Reads `text`, whose first line is line `first_line` of the source `name`; `command` is the
/// command line that printed it, when the paste showed one.
pub fn read(name: &str, text: &str, first_line: u32, command: Option<&str>) -> Facts {
    let _ = command;
    let mut facts = Facts::default();
    let note = |facts: &mut Facts, line: u32, severity: Severity, message: &str| {
        facts.diagnose(name, line, severity, message);
    };
    for line in text::lines(text, first_line) {
        let content: &str = &line.text;
        if text::command_of(content).is_some() && !content.contains("://") {
            continue;
        }
        match find_in_line(content) {
            Found::Connection(scheme, host, has_port, upgrader) => {
                if facts.database_connection.is_some() {
                    note(
                        &mut facts,
                        line.number,
                        Severity::Warning,
                        "a second connection string; the first one is kept",
                    );
                    continue;
                }
                facts.database_connection = Some(DatabaseConnection {
                    scheme,
                    host,
                    has_port,
                    upgrader,
                    upgrader_evaluated: true,
                    at: At::new(name, line.number),
                });
            }
            Found::Unreadable => note(
                &mut facts,
                line.number,
                Severity::Warning,
                "a connection string without a readable host (its text is not repeated here)",
            ),
            Found::Nothing => {
                let trimmed = content.trim();
                if trimmed.starts_with("connection:") && trimmed.ends_with("bytes") {
                    note(
                        &mut facts,
                        line.number,
                        Severity::Info,
                        "`kubectl describe` hides the value: paste `kubectl get secret astronomer-bootstrap -o jsonpath='{.data.connection}' | base64 -d`",
                    );
                }
            }
        }
    }
    facts
}

/// How strongly `text` looks like this reader's input, 0 (not at all) to 100 (certainly).
pub fn sniff(text: &str) -> u32 {
    let mut score = 0;
    for line in text::lines(text, 1).take(200) {
        let content: &str = &line.text;
        if let Found::Connection(scheme, ..) = find_in_line(content) {
            if scheme.starts_with("postgres") {
                return 90;
            }
            score = score.max(50);
        }
        if content.contains("astronomer-bootstrap") {
            score = score.max(40);
        }
    }
    score
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(plain: &str) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in plain.as_bytes().chunks(3) {
            let mut bits = 0u32;
            for (i, &b) in chunk.iter().enumerate() {
                bits |= u32::from(b) << (16 - 8 * i);
            }
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[((bits >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    fn connection(text: &str) -> Option<(String, String, bool, Option<u32>)> {
        read("connection.txt", text, 1, None)
            .database_connection
            .map(|c| (c.scheme, c.host, c.has_port, c.at.line))
    }

    #[test]
    fn decodes_base64_with_and_without_padding() {
        assert_eq!(
            decode_base64("cG9zdGdyZXM6Ly8=").as_deref(),
            Some(&b"postgres://"[..])
        );
        assert_eq!(
            decode_base64("cG9zdGdyZXM6Ly8").as_deref(),
            Some(&b"postgres://"[..])
        );
        assert_eq!(decode_base64("YQ==").as_deref(), Some(&b"a"[..]));
        assert_eq!(decode_base64("not base64!"), None);
        assert_eq!(decode_base64("abcde"), None);
        for plain in ["", "a", "ab", "abc", "postgres://u:p@h:5432/d"] {
            assert_eq!(
                decode_base64(&encode(plain)).as_deref(),
                Some(plain.as_bytes())
            );
        }
    }

    #[test]
    fn keeps_scheme_host_and_port_presence() {
        let cases = [
            (
                "postgres://astro:pw@db.internal:5432/astronomer?sslmode=disable",
                ("postgres", "db.internal", true),
            ),
            (
                "postgresql://astro:pw@db.internal:5432/astronomer",
                ("postgresql", "db.internal", true),
            ),
            (
                "postgres://astro:pw@db.internal/astronomer",
                ("postgres", "db.internal", false),
            ),
            (
                "postgres://astro:p@ss/w:rd@10.0.0.5:6432",
                ("postgres", "10.0.0.5", true),
            ),
            ("postgres://astro@[::1]:5432/db", ("postgres", "::1", true)),
            ("postgres://db:/x", ("postgres", "db", false)),
        ];
        for (url, (scheme, host, has_port)) in cases {
            assert_eq!(
                parse_connection(url),
                Some((scheme.to_owned(), host.to_owned(), has_port)),
                "{url}"
            );
        }
        assert_eq!(parse_connection("postgres://user:pw@/db"), None);
    }

    #[test]
    fn reads_decoded_encoded_yaml_and_json_forms() {
        let url = "postgres://astro:pw@astro-db.example.com:5432/astronomer";
        let want = Some((
            "postgres".into(),
            "astro-db.example.com".into(),
            true,
            Some(2),
        ));
        assert_eq!(connection(&format!("$ kubectl get secret astronomer-bootstrap -o jsonpath='{{.data.connection}}' | base64 -d\n{url}\n")), want);
        assert_eq!(connection(&format!("\n{}\n", encode(url))), want);
        let yaml = format!(
            "apiVersion: v1\ndata:\n  connection: {}\nkind: Secret\n",
            encode(url)
        );
        assert_eq!(connection(&yaml).map(|c| c.3), Some(Some(3)));
        let json = format!(
            "{{\n    \"data\": {{\n        \"connection\": \"{}\"\n    }}\n}}\n",
            encode(url)
        );
        assert_eq!(
            connection(&json).map(|c| c.1),
            Some("astro-db.example.com".into())
        );
    }

    #[test]
    fn finds_the_scheme_after_non_ascii_text() {
        let got = connection("→é postgres://u:p@h:1/d\n€postgres://u:p@h:1/d\n");
        assert_eq!(got, Some(("postgres".into(), "h".into(), true, Some(1))));
    }

    #[test]
    fn image_ids_and_links_are_not_connections() {
        let text = "Image ID: docker-pullable://quay.io/a/b@sha256:0123\nsee https://user:x@example.com/docs\n";
        assert_eq!(connection(text), None);
        assert_eq!(sniff(text), 0);
    }

    #[test]
    fn describe_output_names_the_command_to_paste() {
        let facts = read("c", "Data\n====\nconnection:  98 bytes\n", 1, None);
        assert!(facts.database_connection.is_none());
        assert_eq!(facts.diagnostics[0].line, Some(3));
    }

    fn split(value: &str) -> Option<(String, String, bool, String, bool, bool)> {
        upgrader_split(value).map(|s| {
            (
                s.user,
                s.host,
                s.host_holds_password,
                s.port,
                s.password_empty,
                s.percent_encoded,
            )
        })
    }

    fn s(
        user: &str,
        host: &str,
        holds: bool,
        port: &str,
        empty: bool,
        escaped: bool,
    ) -> Option<(String, String, bool, String, bool, bool)> {
        Some((user.into(), host.into(), holds, port.into(), empty, escaped))
    }

    #[test]
    fn splits_as_the_upgrader_s_pattern_does() {
        let ok = "postgres://astro:pw@db.internal:5432/astronomer?sslmode=require";
        assert_eq!(
            split(ok),
            s("astro", "db.internal", false, "5432", false, false)
        );
        // a `:` in the password is fine; an `@` is not: the host group takes the rest of it
        assert_eq!(
            split("postgres://astro:p:w@db:6432"),
            s("astro", "db", false, "6432", false, false)
        );
        assert_eq!(
            split("postgres://astro:p@ss@db.internal:5432"),
            s("astro", "db.internal", true, "", false, false)
        );
        // `@aa:aa@db`: the host group `aa` and the port come from the password: neither is kept
        assert_eq!(
            split("postgres://astro:@aa:12@db.internal:5432/x"),
            s("astro", "db.internal", true, "", false, false)
        );
        // a user without a password, no port, or `postgresql://`: no match at all
        assert_eq!(split("postgres://astro@db.internal:5432/a"), None);
        assert_eq!(split("postgres://astro:pw@db.internal/a"), None);
        assert_eq!(split("postgresql://astro:pw@db.internal:5432/a"), None);
        // an empty port, an IPv6 host: a match that cannot connect
        assert_eq!(
            split("postgres://astro:pw@db.internal:/a"),
            s("astro", "db.internal", false, "", false, false)
        );
        assert_eq!(
            split("postgres://astro:pw@[::1]:5432/a"),
            s("astro", "[", false, "", false, false)
        );
        // Python's `\d` takes Unicode digits, and so does the pattern here
        assert_eq!(
            split("postgres://astro:pw@db:٥٤٣٢"),
            s("astro", "db", false, "٥٤٣٢", false, false)
        );
        // a search, not a match from the start: text before the scheme is skipped
        assert_eq!(
            split("connection: postgres://astro:@db:5432"),
            s("astro", "db", false, "5432", true, false)
        );
        assert_eq!(
            split("postgres://astro:p%40ss@db:5432"),
            s("astro", "db", false, "5432", false, true)
        );
        assert_eq!(
            split("postgres://astro:100%@db:5432"),
            s("astro", "db", false, "5432", false, false)
        );
    }

    #[test]
    fn the_reader_keeps_the_upgrader_s_split() {
        let facts = read(
            "connection.txt",
            &format!("{}\n", encode("postgres://astro:p@ss@db.internal:5432")),
            1,
            None,
        );
        let connection = facts.database_connection.expect("read");
        assert!(connection.upgrader_evaluated);
        // a URL parser reads the host after the last `@`; the upgrader does not
        assert_eq!(connection.host, "db.internal");
        let split = connection.upgrader.expect("matches");
        assert!(split.host_holds_password);
        assert_eq!(split.host, "db.internal");
        let json = serde_json::to_string(&split).unwrap();
        assert!(!json.contains("ss@"), "{json}");
        let facts = read("c", "postgres://astro@db.internal:5432\n", 1, None);
        let connection = facts.database_connection.expect("read");
        assert!(connection.upgrader_evaluated && connection.upgrader.is_none());
    }

    #[test]
    fn passwords_never_reach_the_facts() {
        let user = "zz-operator-user";
        let password = "Tr0ub4dor&3-ultra-secret";
        let inputs = [
            format!("postgres://{user}:{password}@db.example.com:5432/astronomer?sslmode=require"),
            format!("postgresql://{user}:{password}@db.example.com/astronomer"),
            encode(&format!("postgres://{user}:{password}@db.example.com:5432/astronomer")),
            format!("  connection: {}", encode(&format!("postgres://{user}:{password}@db.example.com:5432/a"))),
            format!("postgres://{user}:{password}@/broken"),
            format!("postgres://{user}:{password}@db.example.com:5432/a\npostgres://{user}:{password}@other:1/b"),
        ];
        for input in inputs {
            let facts = read(
                "secret.txt",
                &input,
                1,
                Some("kubectl get secret astronomer-bootstrap -o yaml"),
            );
            assert!(
                facts.database_connection.is_some() || !facts.diagnostics.is_empty(),
                "{input}"
            );
            let json = serde_json::to_string(&facts).expect("facts serialise");
            for secret in [password, &encode(password), &encode(user)] {
                assert!(
                    !json.contains(secret),
                    "{secret} leaked from {input}: {json}"
                );
            }
            // the user the upgrader logs in as is reported (it is no secret)
            if let Some(split) = facts.database_connection.and_then(|c| c.upgrader) {
                assert_eq!(split.user, user, "{input}");
            }
        }
    }

    #[test]
    fn redacts_user_information_of_urls() {
        assert_eq!(
            redact_credentials("psql postgres://admin:p@ss/w0rd@db:5432/x -c 'select 1'"),
            "psql postgres://***@db:5432/x -c 'select 1'"
        );
        assert_eq!(
            redact_credentials("a https://example.com/x and b://u:p@h"),
            "a https://example.com/x and b://***@h"
        );
        assert!(matches!(
            redact_credentials("kubectl get pods"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn sniff_recognises_postgres_strings() {
        assert_eq!(sniff("postgres://a:b@h:5432/d\n"), 90);
        assert_eq!(sniff("NAME  READY\n"), 0);
    }
}
