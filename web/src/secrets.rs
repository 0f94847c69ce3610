//! Masks secrets pasted by mistake before they are shown or remembered.
//!
//! The planner drops passwords from what it keeps, but the page also shows pasted lines back
//! (evidence excerpts, diagnostics) and may remember the boxes: those copies go through [`mask`].
//! Reports mask the same credentials with `***` (`planner::report::redact_secrets`); the page
//! differs only in keeping the user of a URL, which helps recognise the line.

use std::borrow::Cow;

use planner::secrets::UrlUser;

/// `text` with every password, token or key replaced by `****` (the planner's secret scanner,
/// keeping the user of a URL); borrowed when there is none.
pub fn mask(text: &str) -> Cow<'_, str> {
    planner::secrets::mask(text, "****", UrlUser::Keep)
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
            ("client_secret=abc,x", "client_secret=****"),
            ("clientsecret: 'abc'", "clientsecret: '****'"),
            ("access-key=abc", "access-key=****"),
            ("aws.access_key=abc", "aws.access_key=****"),
            (r#"{"passwd": "x"}"#, r#"{"passwd": "****"}"#),
            ("pwd = 'x y'", "pwd = '****'"),
            ("secret=a;b", "secret=****"),
            ("mytoken=abc", "mytoken=****"),
            ("password_hash=abc", "password_hash=****"),
            ("my-token=abc", "my-token=****"),
            ("password=秘密 é", "password=**** é"),
        ] {
            assert_eq!(mask(text), masked, "{text}");
        }
        unchanged("secretName: astronomer-bootstrap");
        unchanged("imagePullSecrets:");
        unchanged("- key: app");
        unchanged("keyring: monkey");
        unchanged("password = ");
    }

    #[test]
    fn masks_whole_values_with_spaces_quotes_semicolons_and_at_signs() {
        for (text, masked) in [
            (
                "$ PGPASSWORD='hunter two;x:y' psql -h db",
                "$ PGPASSWORD='****' psql -h db",
            ),
            (
                "$ helm repo add astro https://admin:pass word@charts.example.com",
                "$ helm repo add astro https://admin:****@charts.example.com",
            ),
            (
                "postgres://u:p@ss@host:5432/db",
                "postgres://u:****@host:5432/db",
            ),
            (
                "pg_dump --password \"a \\\"b\\\" c\" -h db",
                "pg_dump --password **** -h db",
            ),
            (
                r#"{"password": "a\"b; c", "user": "x"}"#,
                r#"{"password": ****, "user": "x"}"#,
            ),
            ("  password: my secret phrase # note", "  password: ****"),
            ("PGPASSWORD=a;b:c@d psql", "PGPASSWORD=**** psql"),
        ] {
            assert_eq!(mask(text), masked, "{text}");
        }
    }

    #[test]
    fn a_remembered_box_keeps_no_piece_of_its_secrets() {
        let secret = "ü p@ss'w;rd:#1";
        let quoted = secret.replace('\'', "'\\''");
        let text = format!(
            "$ PGPASSWORD='{quoted}' psql -h db\n$ helm repo add a https://me:{secret}@charts.example.com\nauth:\n  password: {secret}\n"
        );
        let remembered = mask(&text);
        for piece in ["p@ss", "w;rd", "rd:#1", "ü p"] {
            assert!(!remembered.contains(piece), "{piece} in {remembered}");
        }
        assert!(
            remembered.contains("https://me:****@charts.example.com"),
            "{remembered}"
        );
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

    #[test]
    fn masks_what_reports_mask_and_keeps_their_placeholders() {
        unchanged("postgres://USER:PASSWORD@db:5432");
        unchanged("postgres://USERNAME:$PASSWORD@db:5432");
        assert_eq!(
            mask("client-key-data: LS0tLS1CRUdJTg=="),
            "client-key-data: ****"
        );
        assert_eq!(
            mask("client-certificate-data: LS0t"),
            "client-certificate-data: ****"
        );
        assert_eq!(mask("jwt eyJhbGciOiJ9.eyJzdWIi"), "jwt ****");
    }
}
