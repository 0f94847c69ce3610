//! Masks secrets pasted by mistake before they are shown or remembered.
//!
//! The planner drops passwords from what it keeps, but the page also shows pasted lines back
//! (evidence excerpts, diagnostics) and may remember the boxes: those copies go through [`mask`].

use std::borrow::Cow;
use std::sync::LazyLock;

use regex_lite::Regex;

struct Pattern {
    regex: Regex,
    replacement: &'static str,
}

static PATTERNS: LazyLock<Vec<Pattern>> = LazyLock::new(|| {
    [
        // user:password@ in a URL (postgres://user:pw@host:5432/db)
        (
            r"([A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+@",
            "${1}****@",
        ),
        // password=…, token: …, client_secret=…, --token=…
        (
            r#"(?i)\b(password|passwd|pwd|token|secret|api[_-]?key|client[_-]?secret|access[_-]?key)(["']?\s*[=:]\s*["']?)[^\s"',;]+"#,
            "${1}${2}****",
        ),
        // --token abc, --password abc
        (r"(?i)(--(?:token|password)\s+)\S+", "${1}****"),
        // Authorization: Bearer abc
        (r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+", "${1}****"),
        // a bare JSON Web Token (service-account tokens)
        (
            r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
            "****",
        ),
    ]
    .into_iter()
    .map(|(pattern, replacement)| Pattern {
        regex: Regex::new(pattern).expect("secret patterns are valid"),
        replacement,
    })
    .collect()
});

/// `text` with every password, token or key replaced by `****`; borrowed when there is none.
pub fn mask(text: &str) -> Cow<'_, str> {
    if !might_hold_a_secret(text) {
        return Cow::Borrowed(text);
    }
    let mut masked = Cow::Borrowed(text);
    for pattern in PATTERNS.iter() {
        if let Cow::Owned(replaced) = pattern.regex.replace_all(&masked, pattern.replacement) {
            masked = Cow::Owned(replaced);
        }
    }
    masked
}

/// A cheap first look, so a large pod table is not run through every pattern on each keystroke.
fn might_hold_a_secret(text: &str) -> bool {
    const NEEDLES: [&[u8]; 8] = [
        b"://", b"pass", b"pwd", b"token", b"secret", b"key", b"bearer", b"eyj",
    ];
    let bytes = text.as_bytes();
    NEEDLES.iter().any(|needle| {
        bytes
            .windows(needle.len())
            .any(|window| window.eq_ignore_ascii_case(needle))
    })
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn masks_the_password_of_a_connection_string() {
        assert_eq!(
            mask("postgres://postgres:s3cr3t!x@db.internal:5432/astronomer"),
            "postgres://postgres:****@db.internal:5432/astronomer"
        );
    }

    #[test]
    fn masks_tokens_and_key_values() {
        assert_eq!(mask("--token=abc.def"), "--token=****");
        assert_eq!(mask("--token abc.def"), "--token ****");
        assert_eq!(mask("PASSWORD: hunter2"), "PASSWORD: ****");
        assert_eq!(
            mask("Authorization: Bearer abc123"),
            "Authorization: Bearer ****"
        );
        assert_eq!(
            mask("token eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJrdWJlcm5ldGVzIn0.c2ln"),
            "token ****"
        );
    }

    #[test]
    fn leaves_ordinary_evidence_alone() {
        let line = "astronomer   astronomer-houston-5d8f   1/1   Running   0   3d";
        assert!(matches!(mask(line), std::borrow::Cow::Borrowed(_)));
        assert_eq!(
            mask("postgres://db.internal:5432/astronomer"),
            "postgres://db.internal:5432/astronomer"
        );
    }

    fn unchanged(text: &str) {
        assert!(
            matches!(mask(text), std::borrow::Cow::Borrowed(_)),
            "changed: {text}"
        );
    }

    #[test]
    fn keeps_the_url_user_and_masks_only_a_password() {
        assert_eq!(
            mask("a postgres://u:p@h1/x and mysql://v:q:r@h2"),
            "a postgres://u:****@h1/x and mysql://v:****@h2"
        );
        assert_eq!(
            mask("postgresql+psycopg2://astro:pa55@db"),
            "postgresql+psycopg2://astro:****@db"
        );
        unchanged("clone https://admin@git.example.com/repo");
        unchanged("https://host/path@v1.2");
        unchanged("postgres://u:@db");
        assert_eq!(mask("é x://ü:p@h"), "é x://ü:****@h");
    }

    #[test]
    fn masks_every_key_spelling_after_a_word_boundary() {
        for (text, masked) in [
            ("api_key=abc", "api_key=****"),
            ("API-KEY: abc", "API-KEY: ****"),
            ("apikey=abc", "apikey=****"),
            ("client_secret=abc,x", "client_secret=****,x"),
            ("clientsecret: 'abc'", "clientsecret: '****'"),
            ("access-key=abc", "access-key=****"),
            ("aws.access_key=abc", "aws.access_key=****"),
            (r#"{"passwd": "x"}"#, r#"{"passwd": "****"}"#),
            ("pwd = 'x y'", "pwd = '**** y'"),
            ("secret=a;b", "secret=****;b"),
            ("my-token=abc", "my-token=****"),
            ("password=秘密 é", "password=**** é"),
        ] {
            assert_eq!(mask(text), masked, "{text}");
        }
        unchanged("mytoken=abc");
        unchanged("tokens: 3");
        unchanged("secretName: astronomer-bootstrap");
        unchanged("password = ");
        unchanged("password_hash=abc");
    }

    #[test]
    fn masks_flag_values_and_bearer_tokens_keeping_the_spacing() {
        assert_eq!(mask("--PASSWORD  a,b"), "--PASSWORD  ****");
        assert_eq!(mask("x --token\tabc def"), "x --token\t**** def");
        assert_eq!(mask("bearer  abc/def="), "bearer  ****");
        assert_eq!(mask("(BEARER x)"), "(BEARER ****)");
        unchanged("--token");
        unchanged("xbearer abc");
        unchanged("Bearer: abc");
    }

    #[test]
    fn masks_json_web_tokens_of_a_minimum_length() {
        assert_eq!(
            mask("sa eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJrdWJl.c2ln-_x end"),
            "sa **** end"
        );
        assert_eq!(mask("eyJ12345678.12345678."), "****");
        unchanged("eyJ1234567.abcdefgh.ijk");
        unchanged("EYJhbGciOiJSUzI1NiJ9.abcdefghij.c2ln");
    }
}
