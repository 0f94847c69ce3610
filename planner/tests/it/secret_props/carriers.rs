//! Realistic pastes that carry a generated secret, and the leak check the secret property tests
//! share (the executor's `secrets_leak` test includes this file by path).
//!
//! A secret leaks when any piece of it of four or more characters — of the secret itself or of
//! the way a carrier spells it (`'\''`, `\"`, `''`) — shows in an output, unless that piece also
//! shows in the same output made from the same pastes carrying a neutral secret, or in the
//! pastes' own text around the secret (a piece such as `psql` or `@cha` may be there for other
//! reasons). Long hexadecimal runs (digests, hashes) are dropped from outputs first: a secret
//! of hex digits would otherwise meet them by chance.

use proptest::prelude::*;

/// Characters a generated secret is made of: letters, digits, shell and URL punctuation,
/// quotes, `\`, non-ASCII letters and an emoji. Left out: line breaks (every carrier is one
/// line), `*` (the placeholders are made of it) and the backtick (Markdown's code mark, which
/// the readers strip from a pasted line).
const ALPHABET: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789      \
                        '\";:@#/=,!%&\\$-_.|?+()[]{}<>~^éßü日本🔑";

/// A password: 6 to 40 characters of [`ALPHABET`]. A secret holding ` scheme://` is left out: the
/// scanner takes it for the next URL on the line (a documented limit).
pub fn secret() -> impl Strategy<Value = String> {
    let chars: Vec<char> = ALPHABET.chars().collect();
    prop::collection::vec(prop::sample::select(chars), 6..=40)
        .prop_map(|chars| chars.into_iter().collect::<String>())
        .prop_filter("a secret is not a URL", |s| !s.contains("://"))
}

/// A bearer token: 12 to 40 characters of the base64url and OAuth token alphabet.
pub fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._~+/=-]{12,40}"
}

/// A JSON Web Token: `eyJ` and three base64url segments.
pub fn jwt() -> impl Strategy<Value = String> {
    (
        "[A-Za-z0-9_-]{10,30}",
        "[A-Za-z0-9_-]{10,40}",
        "[A-Za-z0-9_-]{0,40}",
    )
        .prop_map(|(h, p, s)| format!("eyJ{h}.eyJ{p}.{s}"))
}

/// The secret inside shell single quotes (`'it'\''s'`).
pub fn single_quoted(secret: &str) -> String {
    format!("'{}'", secret.replace('\'', "'\\''"))
}

/// The secret inside shell double quotes (`"a \"b\" \$c"`).
pub fn double_quoted(secret: &str) -> String {
    let mut out = String::from("\"");
    for c in secret.chars() {
        if matches!(c, '"' | '\\' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The secret unquoted, every shell-special character escaped with a backslash (`p\ w\;x`).
pub fn backslashed(secret: &str) -> String {
    let mut out = String::new();
    for c in secret.chars() {
        if !(c.is_alphanumeric() || "_.-/,:@%+=".contains(c)) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The secret as a JSON (and YAML double-quoted) string, quotes included.
pub fn json_string(secret: &str) -> String {
    serde_json::to_string(secret).expect("a string serialises")
}

/// The secret as a YAML single-quoted string (`'it''s'`).
pub fn yaml_single_quoted(secret: &str) -> String {
    format!("'{}'", secret.replace('\'', "''"))
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(DIGITS[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

const PODS: &str =
    "NAMESPACE    NAME                                READY   STATUS    RESTARTS   AGE\n\
astronomer   astronomer-houston-5d8f9c7b6-x2k4p   1/1     Running   0          3d\n";

/// A paste folder whose files carry `secret` (and `token`, `jwt`) the ways people paste them.
#[derive(Debug, Clone)]
pub struct Paste {
    /// `(file name, text)`, file names as in a paste folder (`transcript.txt`, `pods.txt`, …).
    pub files: Vec<(String, String)>,
    /// The secrets and every spelling of them the files use; no piece of these may leak.
    pub forbidden: Vec<String>,
    /// The files' text with every secret taken out: pieces found here are not leaks.
    pub around: String,
    /// Acknowledgements as given after `--ack`; one names a Helm repository with a password.
    pub acks: Vec<String>,
}

/// The files with placeholders `{S}` (the secret as spelled by `spell`), `{T}` the token and
/// `{J}` the JWT filled in.
pub fn paste(secret: &str, token: &str, jwt: &str) -> Paste {
    let url = format!("postgres://postgres:{secret}@db.internal:5432/houston");
    let transcript = [
        format!(
            "$ PGPASSWORD={} psql -h db.internal -U postgres -c 'select 1'",
            single_quoted(secret)
        ),
        "psql: error: connection to server at \"db.internal\" failed".to_string(),
        format!(
            "$ PGPASSWORD={} pg_dump -h db.internal -U postgres houston > backup.sql",
            double_quoted(secret)
        ),
        format!("$ export DB_PASSWORD={}", backslashed(secret)),
        format!(
            "$ pg_dump --dbname={} -f out.sql",
            single_quoted(&format!(
                "postgresql://postgres:{secret}@db.internal:5432/houston"
            ))
        ),
        format!("$ psql {}", double_quoted(&url)),
        format!("$ helm repo add astro https://admin:{secret}@charts.example.com"),
        "\"astro\" has been added to your repositories".to_string(),
        format!(
            "$ mysql --password {} -h db.internal",
            single_quoted(secret)
        ),
        format!("$ kubectl --token={} get pods -A", double_quoted(secret)),
        PODS.trim_end().to_string(),
        format!("$ kubectl --token {jwt} get pods -n astronomer"),
        "No resources found in astronomer namespace.".to_string(),
        format!("$ curl -sH \"Authorization: Bearer {token}\" https://houston.example.com/v1"),
        "$ cat values.yaml".to_string(),
        "postgresql:".to_string(),
        format!("  postgresPassword: {}", json_string(secret)),
        "  auth:".to_string(),
        format!("    password: {}", yaml_single_quoted(secret)),
        "$ cat registry.json".to_string(),
        format!(
            "{{\"registry\": {{\"password\": {}, \"token\": {}}}}}",
            json_string(secret),
            json_string(token)
        ),
    ]
    .join("\n");
    // unquoted, where a person could write it so: after `KEY=` only without blanks or quotes
    // (`PGPASSWORD=a;b:c@d`), after `key: ` and `key = ` when it does not start with a quote
    let mut transcript = transcript;
    if !secret.contains(|c: char| c.is_whitespace() || "'\"\\".contains(c)) {
        transcript.push_str(&format!(
            "\n$ PGPASSWORD={secret} psql -h db.internal -U postgres"
        ));
    }
    if !secret.trim_start().starts_with(['\'', '"']) {
        transcript.push_str(&format!(
            "\n$ cat app.ini\n[database]\npassword = {secret}\n$ cat values.yaml\nauth:\n  password: {secret}\n  user: airflow"
        ));
    }
    let pods = format!(
        "{PODS}PGPASSWORD={} psql -h db.internal -U postgres\n",
        single_quoted(secret)
    );
    let encoded = base64(url.as_bytes());
    let connection = format!("{url}\n");
    let secret_yaml = format!(
        "apiVersion: v1\ndata:\n  connection: {encoded}\nkind: Secret\nmetadata:\n  name: astronomer-bootstrap\n"
    );
    let files = vec![
        ("transcript.txt".to_string(), transcript),
        ("pods.txt".to_string(), pods),
        ("connection.txt".to_string(), connection),
        ("secret.yaml".to_string(), secret_yaml),
    ];
    let forbidden = vec![
        secret.to_string(),
        single_quoted(secret),
        double_quoted(secret),
        backslashed(secret),
        json_string(secret),
        yaml_single_quoted(secret),
        token.to_string(),
        jwt.to_string(),
        encoded,
    ];
    let acks = vec![
        "system-admin".to_string(),
        format!("helm-repo=https://admin:{secret}@charts.example.com/stable"),
    ];
    let mut longest_first = forbidden.clone();
    longest_first.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let around = files
        .iter()
        .map(|(_, text)| text)
        .chain(&acks)
        .map(|text| {
            let mut text = text.clone();
            for spelling in &longest_first {
                text = text.replace(spelling.as_str(), "\n");
            }
            text
        })
        .collect::<Vec<_>>()
        .join("\n");
    Paste {
        files,
        forbidden,
        around,
        acks,
    }
}

/// The paste made with fixed, neutral secrets: the baseline a leak is measured against.
pub fn neutral_paste() -> Paste {
    paste(
        "NeutralSecretValue",
        "neutralTokenValue0123",
        "eyJneutralHeader.eyJneutralPayload.neutralSig",
    )
}

/// The neutral paste with an `@` in the password, which the upgrader cannot take: the
/// `database-connection` finding fails, and its remedy (`kubectl create secret … --from-literal`)
/// is text the planner writes whatever the secret, as the other pastes' passing finding is.
pub fn neutral_paste_with_at() -> Paste {
    paste(
        "Neutral@SecretValue",
        "neutralTokenValue0123",
        "eyJneutralHeader.eyJneutralPayload.neutralSig",
    )
}

/// `output` in the form the check reads: JSON strings decoded, XML and Markdown escapes undone,
/// long hexadecimal runs (digests) dropped.
pub fn readable(output: &str) -> String {
    let mut text = output.to_string();
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(output) {
        let mut strings = Vec::new();
        collect_strings(&value, &mut strings);
        text.push('\n');
        text.push_str(&strings.join("\n"));
    }
    let unescaped = output
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
        .replace("\\|", "|")
        .replace("<br>", "\n");
    text.push('\n');
    text.push_str(&unescaped);
    without_hex_runs(&text)
}

fn collect_strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                out.push(key.clone());
                collect_strings(v, out);
            }
        }
        _ => {}
    }
}

fn without_hex_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    for c in text.chars() {
        if c.is_ascii_hexdigit() {
            run.push(c);
            continue;
        }
        if run.len() < 32 {
            out.push_str(&run);
        }
        run.clear();
        out.push(c);
    }
    if run.len() < 32 {
        out.push_str(&run);
    }
    out
}

/// The first piece (four characters or more) of a forbidden spelling that `output` shows and
/// neither `baseline` (the same output for the neutral paste) nor `around` explains, if any.
/// All three texts are [`readable`] forms.
pub fn leak(forbidden: &[String], output: &str, baseline: &str, around: &str) -> Option<String> {
    // a bit per (hashed) four bytes of the output, to skip most pieces of a spelling at once
    let hash = |w: &[u8]| {
        (u32::from_le_bytes([w[0], w[1], w[2], w[3]]).wrapping_mul(0x9E37_79B1) >> 12) as usize
    };
    let mut seen = vec![0u64; 1 << 14];
    for window in output.as_bytes().windows(4) {
        let h = hash(window);
        seen[h / 64] |= 1 << (h % 64);
    }
    forbidden.iter().find_map(|spelling| {
        let bounds: Vec<usize> = spelling
            .char_indices()
            .map(|(i, _)| i)
            .chain([spelling.len()])
            .collect();
        (0..bounds.len()).find_map(|a| {
            let head = spelling.as_bytes().get(bounds[a]..bounds[a] + 4)?;
            let h = hash(head);
            if bounds.len() < a + 5 || seen[h / 64] & (1 << (h % 64)) == 0 {
                return None;
            }
            // a piece the output does not show cannot be part of a longer one it shows
            (a + 4..bounds.len())
                .map(|b| &spelling[bounds[a]..bounds[b]])
                .take_while(|piece| output.contains(piece))
                .find(|piece| !baseline.contains(piece) && !around.contains(piece))
                .map(|piece| format!("{piece:?} (of {spelling:?})"))
        })
    })
}
