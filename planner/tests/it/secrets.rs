//! `redact_secrets` (the secret scanner with the reports' `***`): every credential shape it
//! masks — always the whole value — and the look-alikes it must leave alone.

use planner::report::redact_secrets;
use planner::secrets::{mask, user_info, UrlUser};

fn unchanged(text: &str) {
    assert_eq!(redact_secrets(text), text, "changed: {text}");
}

fn masks(cases: &[(&str, &str)]) {
    for (text, masked) in cases {
        assert_eq!(redact_secrets(text), *masked, "{text}");
    }
}

#[test]
fn url_credentials_hide_user_and_password() {
    masks(&[
        (
            "postgresql+psycopg2://astro:pa55@db:5432/houston",
            "postgresql+psycopg2://***@db:5432/houston",
        ),
        (
            "a postgres://u:p@h1/x and mysql://v:q:r@h2",
            "a postgres://***@h1/x and mysql://***@h2",
        ),
        (
            "clone https://admin@git.example.com/repo",
            "clone https://***@git.example.com/repo",
        ),
        ("(postgres://u:p@h)", "(postgres://***@h)"),
    ]);
}

#[test]
fn url_user_info_runs_to_the_last_at_before_the_host() {
    masks(&[
        (
            "$ helm repo add astro https://user:pass word@charts.example.com",
            "$ helm repo add astro https://***@charts.example.com",
        ),
        (
            "postgres://u:p@ss@host:5432/db",
            "postgres://***@host:5432/db",
        ),
        (
            "psql postgres://admin:p@ss/w0rd@db:5432/x -c 'select 1'",
            "psql postgres://***@db:5432/x -c 'select 1'",
        ),
        (
            "psql 'postgres://u:it'\\''s a; b@db/x' -c 'select 1' # mail me@example.com",
            "psql 'postgres://***@db/x' -c 'select 1' # mail me@example.com",
        ),
        (
            r#"{"url": "postgres://u:p\"w #x@db:5432/a", "admin": "me@example.com"}"#,
            r#"{"url": "postgres://***@db:5432/a", "admin": "me@example.com"}"#,
        ),
        ("https://u:日本 é@h", "https://***@h"),
    ]);
    // the user information ends where the host begins, for the connection reader too
    let line = "postgres://u:p@ss w0rd@db.internal:5432/houston";
    assert_eq!(user_info(line, 8), Some(11..22));
}

#[test]
fn url_placeholders_paths_and_digests_stay() {
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
    unchanged("docker-pullable://registry:5000/astronomer/ap-airflow@sha256:0123456789abcdef0123");
    unchanged("see https://docs.example.com/x or mail bob@example.com");
    unchanged("https://registry.example.com:5000/v2/x@latest");
}

#[test]
fn env_assignments_mask_the_whole_shell_word() {
    masks(&[
        (
            "$ PGPASSWORD='hunter two;x:y' psql -h db -U postgres",
            "$ PGPASSWORD='***' psql -h db -U postgres",
        ),
        (
            r#"PGPASSWORD="a \"b\" c" pg_dump -h db"#,
            "PGPASSWORD=*** pg_dump -h db",
        ),
        ("PGPASSWORD='it'\\''s' psql", "PGPASSWORD=*** psql"),
        ("PGPASSWORD=a\\ b\\;c psql", "PGPASSWORD=*** psql"),
        ("export DB_PASSWORD=a;b:c@d#e", "export DB_PASSWORD=***"),
        (
            "$env:PGPASSWORD = 'x y'; psql",
            "$env:PGPASSWORD = '***'; psql",
        ),
        ("set \"PGPASSWORD=x y\"", "set \"PGPASSWORD=***\""),
        (
            "psql \"host=db password=x dbname=y\"",
            "psql \"host=db password=*** dbname=y\"",
        ),
        ("AWS_SECRET_ACCESS_KEY=abc/def", "AWS_SECRET_ACCESS_KEY=***"),
        ("GITHUB_TOKEN=ghp_x helm", "GITHUB_TOKEN=*** helm"),
        (
            "helm upgrade --set postgresPassword=x --set auth.password='a b' r c",
            "helm upgrade --set postgresPassword=*** --set auth.password='***' r c",
        ),
        (
            "kubectl create secret generic s --from-literal=password='p w'",
            "kubectl create secret generic s --from-literal=password='***'",
        ),
        ("PASSWORD := x y", "PASSWORD := ***"),
        ("'password' => 'x y',", "'password' => '***',"),
        ("PGPASSWORD='unclosed ; rest", "PGPASSWORD=***"),
    ]);
}

#[test]
fn key_values_are_masked_after_any_separator_spelling() {
    masks(&[
        ("password=hunter2 host=db", "password=*** host=db"),
        ("PASSWORD: hunter2", "PASSWORD: ***"),
        ("password: my secret phrase", "password: ***"),
        ("Passwd:x", "Passwd:***"),
        ("pwd = 'x y'", "pwd = '***'"),
        ("password = x y", "password = ***"),
        (r#"{"token": "abc", "n": 1}"#, r#"{"token": "***", "n": 1}"#),
        (
            r#"{"password":"a\"b, c","user":"x"}"#,
            r#"{"password":***,"user":"x"}"#,
        ),
        (r#"{"token": 12345, "n": 1}"#, r#"{"token": ***, "n": 1}"#),
        ("secret='s3',next", "secret='***',next"),
        ("password=a;b", "password=***"),
        ("client-key-data: LS0tLS1CRUdJTg==", "client-key-data: ***"),
        (
            "client-certificate-data: LS0t",
            "client-certificate-data: ***",
        ),
        ("my-token=abc", "my-token=***"),
        ("mytoken=abc", "mytoken=***"),
        ("password_hash=abc", "password_hash=***"),
        ("--token=abc.def", "--token=***"),
        ("password==x", "password=***"),
        ("api_key=abc", "api_key=***"),
        ("apiKey: abc", "apiKey: ***"),
        ("DB_PASS=x", "DB_PASS=***"),
        ("basic_auth: dXNlcjpwYXNz", "basic_auth: ***"),
        ("ssh-key=abc", "ssh-key=***"),
    ]);
}

#[test]
fn yaml_block_scalars_and_container_env_values_are_masked() {
    masks(&[
        (
            "data:\n  password: |\n    line one\n    line two\n  user: x\n",
            "data:\n  password: |\n***\n  user: x\n",
        ),
        (
            "env:\n- name: PGPASSWORD\n  value: s3 cr3t\n- name: HOME\n  value: /root\n",
            "env:\n- name: PGPASSWORD\n  value: ***\n- name: HOME\n  value: /root\n",
        ),
        (
            r#"[{"name":"AIRFLOW__CORE__FERNET_KEY","value":"abc="},{"name":"X","value":"y"}]"#,
            r#"[{"name":"AIRFLOW__CORE__FERNET_KEY","value":"***"},{"name":"X","value":"y"}]"#,
        ),
    ]);
}

#[test]
fn base64_of_a_connection_string_with_a_user_is_masked() {
    // postgres://u:p w@db:5432/x
    let encoded = "cG9zdGdyZXM6Ly91OnAgd0BkYjo1NDMyL3g=";
    masks(&[
        (&format!("  connection: {encoded}"), "  connection: ***"),
        (
            &format!("{{\"connection\": \"{encoded}\"}}"),
            "{\"connection\": \"***\"}",
        ),
        (&format!("{encoded}\n"), "***\n"),
    ]);
    // postgres://db:5432/x: no user, nothing to hide
    unchanged("connection: cG9zdGdyZXM6Ly9kYjo1NDMyL3g=");
}

#[test]
fn key_lookalikes_stay() {
    unchanged("secretName: astronomer-bootstrap");
    unchanged("imagePullSecrets: [{name: regcred}]");
    unchanged("secrets:");
    unchanged("- key: node-role.kubernetes.io/master");
    unchanged("  key: password");
    unchanged("secretKeyRef: {key: password, name: pg}");
    unchanged("topologyKey: kubernetes.io/hostname");
    unchanged("monkey=banana");
    unchanged("keyring: /etc/keys");
    unchanged("passwordFile: /run/secrets/pg");
    unchanged("docker login --password-stdin -u me");
    unchanged("image: quay.io/astronomer/ap-token-service:1.0.2");
    unchanged("image=token-service:1.0 12:30");
    unchanged("password");
    unchanged("password = ");
    unchanged("password: \"\"");
    unchanged("kubectl get pods -n astronomer");
    unchanged("astronomer   astronomer-houston-5d8f   1/1   Running   0   3d");
    unchanged("CURRENT   NAME   CLUSTER   AUTHINFO   NAMESPACE");
    unchanged("psql -h db -p 5432 -U postgres");
}

#[test]
fn flags_mask_their_values_in_both_forms() {
    masks(&[
        ("--token abc.def", "--token ***"),
        ("--PASSWORD\thunter2 x", "--PASSWORD\t*** x"),
        (
            "pg_dump --password 'a b;c' -h db",
            "pg_dump --password '***' -h db",
        ),
        ("x --password=\"a b\" -h db", "x --password=\"***\" -h db"),
        (
            "argocd login --auth-token e.f.g",
            "argocd login --auth-token ***",
        ),
        ("--client-secret=a:b@c", "--client-secret=***"),
        ("--tokens abc", "--tokens ***"),
    ]);
    unchanged("--token");
    unchanged("--token-ttl 5m");
    unchanged("--secret-name astronomer-bootstrap");
}

#[test]
fn bearer_tokens_are_masked_in_any_case_after_a_word_boundary() {
    masks(&[
        (
            "Authorization: Bearer abc.def-ghi",
            "Authorization: Bearer ***",
        ),
        ("authorization: BEARER a/b+c==", "authorization: BEARER ***"),
        ("(bearer x)", "(bearer ***)"),
        (
            "curl -H 'Authorization: Basic dXNlcjpwYXNz' https://x",
            "curl -H 'Authorization: Basic ***' https://x",
        ),
        ("Authorization: token ghp_abc", "Authorization: token ***"),
        ("Bearer  abc", "Bearer  ***"),
    ]);
    unchanged("xbearer abc");
    unchanged("Bearer");
    unchanged("bearer: abc");
}

#[test]
fn json_web_tokens_need_two_long_enough_segments() {
    masks(&[
        (
            "sa eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJrdWJlcm5ldGVzIn0.c2ln-_x end",
            "sa *** end",
        ),
        ("jwt:eyJhbGciOiJ9.eyJzdWIi", "jwt:***"),
        ("eyJ12345678.x", "***"),
        ("EYJhbGciOiJ9.eyJpc3MiOiJrdWJl.c2ln", "EYJhbGciOiJ9.***"),
    ]);
    unchanged("eyJ1234567.abcdefgh.ijk");
    unchanged("eyJ12345678.");
    unchanged("EYJhbGciOiJSUzI1NiJ9.abcdefghij.c2ln");
}

#[test]
fn non_ascii_text_around_secrets_survives() {
    masks(&[
        ("日本 password=秘密 é", "日本 password=*** é"),
        ("é x://ü:p@h", "é x://***@h"),
        ("password: 秘密 の 言葉", "password: ***"),
    ]);
    unchanged("é://u:p@h");
    unchanged("ÿbearer");
}

#[test]
fn overlapping_credentials_become_one_placeholder() {
    masks(&[
        ("token=eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJr.c2ln", "token=***"),
        ("url: postgres://token:abc@db/x", "url: postgres://***@db/x"),
        ("PGPASSWORD=x --password y", "PGPASSWORD=*** --password ***"),
    ]);
}

#[test]
fn the_page_keeps_the_user_of_a_url_and_masks_the_rest_alike() {
    let page = |text: &str| mask(text, "****", UrlUser::Keep).into_owned();
    assert_eq!(
        page("helm repo add a https://user:pass word@host/charts"),
        "helm repo add a https://user:****@host/charts"
    );
    assert_eq!(page("PGPASSWORD='a b' psql"), "PGPASSWORD='****' psql");
    assert_eq!(page("https://admin@host"), "https://admin@host");
}

#[test]
fn the_scanner_never_panics_on_cut_text() {
    let text =
        "é PGPASSWORD='x\" --token \"é postgres://ü:p@@ password: |\n  é\r\n name: token\n value:";
    for end in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
        for start in (0..=end).filter(|&i| text.is_char_boundary(i)) {
            let _ = redact_secrets(&text[start..end]);
            let _ = mask(&text[start..end], "****", UrlUser::Keep);
        }
    }
}

#[test]
fn url_user_info_is_told_from_hosts_paths_and_prose() {
    masks(&[
        // an IPv6 host
        (
            "postgres://u:p@[fd00::1]:5432/db",
            "postgres://***@[fd00::1]:5432/db",
        ),
        // a dotted user and a password with a slash: not a `host:port/path`
        (
            "postgres://first.last:pa/ss@db:5432/x",
            "postgres://***@db:5432/x",
        ),
    ]);
    // a path with a colon, a scheme alone, and prose around a mail address are no user info
    unchanged("see https://docs.example.com/page:2@anchor.example");
    unchanged("the scheme is https:// (ask admin: bob@corp.example)");
    unchanged("see https://docs then mail bob@corp.example");
}

#[test]
fn a_bare_url_user_info_stops_only_at_a_next_url_after_a_blank_or_a_quote() {
    masks(&[
        (
            "a postgres://u:p@h1/x and mysql://v@h2",
            "a postgres://***@h1/x and mysql://***@h2",
        ),
        // no scheme, or glued to the password by a comma: it may be part of the password
        ("postgres://u:p@h1 and ://x@h2", "postgres://***@h2"),
        ("postgres://u:p@h1/x,mysql://v:q@h2", "postgres://***@h2"),
    ]);
}

#[test]
fn a_base64_connection_on_a_line_of_its_own_is_masked_after_other_lines_too() {
    // postgres://u:p w@db:5432/x
    let encoded = "cG9zdGdyZXM6Ly91OnAgd0BkYjo1NDMyL3g=";
    masks(&[(
        &format!("$ echo $CONNECTION | tr -d '\\n'\n{encoded}\n"),
        "$ echo $CONNECTION | tr -d '\\n'\n***\n",
    )]);
}

#[test]
fn a_double_hyphen_inside_prose_is_no_flag() {
    unchanged("rotate it with the CLI--token rotation is automatic");
}

#[test]
fn shell_quotes_end_a_value_as_the_shell_reads_them() {
    masks(&[
        // an unclosed quote masks to the end of its line, not into the next command
        (
            "PGPASSWORD='unclosed\n$ kubectl get pods -n astronomer",
            "PGPASSWORD=***\n$ kubectl get pods -n astronomer",
        ),
        // a backslash inside single quotes is a character of the password, not an escape
        (
            "PGPASSWORD='C:\\' psql -h db.internal",
            "PGPASSWORD='***' psql -h db.internal",
        ),
    ]);
}

#[test]
fn a_key_value_ends_where_its_kind_of_text_ends_it() {
    masks(&[
        // a config file's `key = value` and `key= value` run to the end of the line, trailing
        // blanks and the next line kept
        ("password =s3cret with spaces", "password =***"),
        ("password= s3cret with spaces", "password= ***"),
        ("db_password = s3cret  \nnext", "db_password = ***  \nnext"),
        // `KEY=value` right after the key is one shell word
        ("'password'=abc def", "'password'=*** def"),
        // `Passwd:x` without a blank: one word, and only for a key that ends in a credential word
        (
            "login Passwd:s3cret (mistyped)",
            "login Passwd:*** (mistyped)",
        ),
        // after a JSON key: up to the next `,`, blanks before it kept
        (
            "{\"token\": 12345 , \"ttl\": 60}",
            "{\"token\": *** , \"ttl\": 60}",
        ),
        // a pair quoted as a whole ends with its quote (escaped quotes inside), or with the text
        (
            "set \"PGPASSWORD=a\\\"b c\" && psql",
            "set \"PGPASSWORD=***\" && psql",
        ),
        ("set \"PGPASSWORD=x y", "set \"PGPASSWORD=***"),
    ]);
    // `key:value` whose key only mentions a credential, or stands inside an image reference
    unchanged("db_auth:enabled");
    unchanged("image: registry.example.com/auth-token:0.3.1");
}

#[test]
fn a_quoted_key_cut_before_its_opening_quote_never_panics() {
    for text in ["password\": \"s3cret\"", "token': 'x'", "\"password\"="] {
        let _ = redact_secrets(text);
    }
}

#[test]
fn yaml_blocks_plain_scalars_and_env_values_are_told_apart() {
    masks(&[
        // a chomping indicator, and a line of blanks inside the block
        (
            "auth:\n  password: |-\n    s3cret\n  user: x",
            "auth:\n  password: |-\n***\n  user: x",
        ),
        (
            "auth:\n  password: |\n    line one\n \n    line two\n  user: x",
            "auth:\n  password: |\n***\n  user: x",
        ),
        // `>` followed by more than an indicator is a plain scalar: its own line is the value
        ("password: >s3cret\n    note", "password: ***\n    note"),
    ]);
    // `value:` is a credential only right below (or beside) `name: PGPASSWORD`-like names:
    // an object named token-service three lines up does not make its metric's value one
    unchanged(
        "metadata:\n  name: token-service\nspec:\n  metrics:\n  - type: Pods\n    target:\n      value: 100\n",
    );
}

#[test]
fn base64_is_read_as_a_connection_from_sixteen_characters_on() {
    // pg://u:p@db1
    masks(&[("connection: cGc6Ly91OnBAZGIx", "connection: ***")]);
    // pg://u@h: shorter, a word like any other
    unchanged("id: cGc6Ly91QGg=");
}

#[test]
fn a_shell_assignment_is_no_yaml_block_and_env_names_are_whole_keys() {
    masks(&[
        ("  TOKEN=|\n    next", "  TOKEN=***\n    next"),
        // `name:` at the very start of the text
        (
            "name: PGPASSWORD\nvalue: s3cret",
            "name: PGPASSWORD\nvalue: ***",
        ),
    ]);
    // `filename:` is not `name:`
    unchanged("filename: token.txt\nvalue: 42");
    // a long line of non-ASCII text before `value`: the look-back starts on a character boundary
    let wide = "é".repeat(200);
    for text in [
        format!("{{\"note\": \"{wide}\", \"value\": \"x\"}}"),
        format!("{{\"note\": \"a{wide}\", \"value\": \"x\"}}"),
    ] {
        unchanged(&text);
    }
}

#[test]
fn authorization_headers_in_json_and_with_blanks_and_closing_brackets() {
    masks(&[
        (
            "{\"Authorization\": \"Basic dXNlcjpwYXNz\"}",
            "{\"Authorization\": \"Basic ***\"}",
        ),
        (
            "Authorization : Basic dXNlcjpwYXNz",
            "Authorization : Basic ***",
        ),
        // every closing bracket after the token stays
        ("(Bearer abc))", "(Bearer ***))"),
        // a quoted value; a credential without a scheme, words after it kept
        (
            "Authorization: \"Basic dXNlcjpwYXNz\"",
            "Authorization: \"Basic ***\"",
        ),
        (
            "Authorization: ghp_abc123 (a GitHub token)",
            "Authorization: *** (a GitHub token)",
        ),
        // a credential of letters only, with a blank after it
        ("Authorization: hunterTwo \n", "Authorization: *** \n"),
    ]);
}

/// `  password: >k aaa` in a pasted values.yaml: `>` reads as a prompt, so the line once became
/// the "command" `k aaa` and a diagnostic quoted the password's tail, where no key is left to
/// tell it is one.
#[test]
fn a_secret_that_straddles_a_prompt_is_never_quoted_in_part() {
    let transcript = "$ cat app.ini\n[database]\npassword = >k aaa\n$ cat values.yaml\nauth:\n  password: >k aaa\n  user: airflow\n";
    let source = planner::Source::new(
        "transcript.txt",
        Some(planner::EvidenceKind::Transcript),
        transcript,
    );
    let (facts, report) = planner::check(&[source], &planner::Acknowledgements::default(), &[]);
    let shown = format!(
        "{}\n{}",
        serde_json::to_string(&facts).unwrap(),
        serde_json::to_string(&report).unwrap()
    );
    assert!(!shown.contains("k aaa"), "{shown}");
    assert!(
        facts
            .diagnostics
            .iter()
            .any(|d| d.message.contains("password: ***")),
        "the line is still named, masked: {:?}",
        facts.diagnostics
    );
}

/// A JSON line pasted from the middle, cut just before its key's opening quote.
#[test]
fn a_json_key_cut_before_its_opening_quote_still_masks_its_value() {
    for text in [
        "password\": \"s3cret-pw\",",
        "  password\": \"s3cret-pw\"}",
        "{\"user\": \"a\",\nclient_secret\": \"s3cret-pw\"\n}",
    ] {
        let masked = redact_secrets(text);
        assert!(!masked.contains("s3cret"), "{text:?} → {masked:?}");
    }
    // A quote that closes a value is no key: `name": "x"` after a value stays as it is.
    unchanged("\"name\": \"web\", \"image\": \"nginx:1\"");
}
