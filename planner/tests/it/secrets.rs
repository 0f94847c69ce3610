//! `redact_secrets`: every credential shape it masks, and the look-alikes it must leave alone.

use planner::report::redact_secrets;

fn unchanged(text: &str) {
    assert_eq!(redact_secrets(text), text, "changed: {text}");
}

#[test]
fn url_credentials_hide_user_and_password() {
    assert_eq!(
        redact_secrets("postgresql+psycopg2://astro:pa55@db:5432/houston"),
        "postgresql+psycopg2://***@db:5432/houston"
    );
    assert_eq!(
        redact_secrets("a postgres://u:p@h1/x and mysql://v:q:r@h2"),
        "a postgres://***@h1/x and mysql://***@h2"
    );
    assert_eq!(
        redact_secrets("clone https://admin@git.example.com/repo"),
        "clone https://***@git.example.com/repo"
    );
    assert_eq!(redact_secrets("(postgres://u:p@h)"), "(postgres://***@h)");
}

#[test]
fn url_placeholders_and_urls_without_credentials_stay() {
    unchanged("postgres://USER:PASSWORD@db:5432");
    unchanged("postgres://USERNAME:PASSWORD@db:5432");
    unchanged("postgres://USERNAME:$PASSWORD@db:5432");
    assert_eq!(
        redact_secrets("postgres://user:PASSWORD@db"),
        "postgres://***@db"
    );
    unchanged("https://db.example.com:5432/astronomer");
    unchanged("https://host/path@v1.2");
    unchanged("user@host: ssh login");
    unchanged("1://u:p host@x");
}

#[test]
fn bearer_tokens_are_masked_in_any_case_after_a_word_boundary() {
    assert_eq!(
        redact_secrets("Authorization: Bearer abc.def-ghi"),
        "Authorization: Bearer ***"
    );
    assert_eq!(
        redact_secrets("authorization: BEARER a/b+c=="),
        "authorization: BEARER ***"
    );
    assert_eq!(redact_secrets("(bearer x)"), "(bearer ***)");
    unchanged("xbearer abc");
    unchanged("Bearer");
    unchanged("bearer: abc");
}

#[test]
fn json_web_tokens_need_two_long_enough_segments() {
    assert_eq!(
        redact_secrets("sa eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJrdWJlcm5ldGVzIn0.c2ln-_x end"),
        "sa *** end"
    );
    assert_eq!(redact_secrets("jwt:eyJhbGciOiJ9.eyJzdWIi"), "jwt:***");
    assert_eq!(redact_secrets("eyJ12345678.x"), "***");
    unchanged("eyJ1234567.abcdefgh.ijk");
    unchanged("eyJ12345678.");
    unchanged("EYJhbGciOiJSUzI1NiJ9.abcdefghij.c2ln");
    assert_eq!(
        redact_secrets("EYJhbGciOiJ9.eyJpc3MiOiJrdWJl.c2ln"),
        "EYJhbGciOiJ9.***"
    );
}

#[test]
fn key_values_are_masked_after_any_separator_spelling() {
    for (text, masked) in [
        ("password=hunter2 host=db", "password=*** host=db"),
        ("PASSWORD: hunter2", "PASSWORD: ***"),
        ("Passwd:x", "Passwd:***"),
        ("pwd = 'x y'", "pwd = '*** y'"),
        (r#"{"token": "abc", "n": 1}"#, r#"{"token": "***", "n": 1}"#),
        ("secret='s3',next", "secret='***',next"),
        ("password=a;b", "password=***;b"),
        ("client-key-data: LS0tLS1CRUdJTg==", "client-key-data: ***"),
        (
            "client-certificate-data: LS0t",
            "client-certificate-data: ***",
        ),
        ("my-token=abc", "my-token=***"),
        ("--token=abc.def", "--token=***"),
        ("password==x", "password=***"),
    ] {
        assert_eq!(redact_secrets(text), masked, "{text}");
    }
}

#[test]
fn key_lookalikes_stay() {
    unchanged("mytoken=abc");
    unchanged("tokens: 3");
    unchanged("secretName: astronomer-bootstrap");
    unchanged("password");
    unchanged("password = ");
    unchanged("password: \"\"");
    unchanged("password_hash=abc");
    unchanged("kubectl get pods -n astronomer");
    unchanged("astronomer   astronomer-houston-5d8f   1/1   Running   0   3d");
}

#[test]
fn non_ascii_text_around_secrets_survives() {
    assert_eq!(
        redact_secrets("日本 password=秘密 é"),
        "日本 password=*** é"
    );
    assert_eq!(redact_secrets("é x://ü:p@h"), "é x://***@h");
    unchanged("é://u:p@h");
    unchanged("ÿbearer");
}

#[test]
fn reports_mask_what_the_page_masks() {
    for (text, masked) in [
        ("--token abc.def", "--token ***"),
        ("--PASSWORD\thunter2 x", "--PASSWORD\t*** x"),
        ("api_key=abc", "api_key=***"),
        ("client_secret: abc", "client_secret: ***"),
        ("ACCESS-KEY=abc", "ACCESS-KEY=***"),
        ("Bearer  abc", "Bearer  ***"),
    ] {
        assert_eq!(redact_secrets(text), masked, "{text}");
    }
    unchanged("--token");
    unchanged("--tokens abc");
}

#[test]
fn overlapping_credentials_become_one_placeholder() {
    assert_eq!(
        redact_secrets("token=eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJr.c2ln"),
        "token=***"
    );
    assert_eq!(
        redact_secrets("url: postgres://token:abc@db/x"),
        "url: postgres://***"
    );
}
