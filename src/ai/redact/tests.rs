use super::*;
use serde_json::json;

fn patterns() -> Redactor {
    Redactor::default()
}

/// Redacts and checks that a second pass changes nothing.
fn redact(r: &Redactor, text: &str) -> String {
    let once = r.redact(text).into_owned();
    let twice = r.redact(&once);
    assert_eq!(twice, once, "not idempotent for {text:?}");
    assert!(matches!(twice, Cow::Borrowed(_)), "second pass allocated");
    once
}

fn count(r: &Redactor, text: &str) -> Redactions {
    let mut counts = Redactions::default();
    let _ = r.redact_counted(text, &mut counts);
    counts
}

#[test]
fn every_rule_compiles() {
    assert_eq!(patterns::rule_count(), 9);
    assert!(patterns::is_secret_key("password"));
}

#[test]
fn api_keys_keep_their_vendor_prefix() {
    let r = patterns();
    let cases = [
        (
            "key sk-proj-Ab3dEf6hIj9kLmN0pQrStUvWxYz12345 set",
            "key sk-proj-…[redacted] set",
        ),
        (
            "sk-ant-api03-Zx8Yw7Vu6Ts5Rq4Po3Nm2Lk1Ji0Hg-AbCdEf",
            "sk-ant-api03-…[redacted]",
        ),
        (
            "OPENAI=sk-4f9A8b7C6d5E4f3G2h1I0jKlMn",
            "OPENAI=sk-…[redacted]",
        ),
        (
            "token ghp_16C7e42F292c6912E7710c838347Ae178B4a used",
            "token ghp_…[redacted] used",
        ),
        (
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
            "github_pat_…[redacted]",
        ),
        (
            "slack xoxb-123456789012-1234567890123-AbCdEfGhIjKl",
            "slack xoxb-…[redacted]",
        ),
        ("xoxp-1111-2222-3333-abcdefabcdef", "xoxp-…[redacted]"),
        ("aws AKIAIOSFODNN7EXAMPLE in", "aws AKIA…[redacted] in"),
        ("sk_live_51HxYz0123456789abcdefGH", "sk_live_…[redacted]"),
        ("glpat-xYz0123456789AbCdEfGh", "glpat-…[redacted]"),
        ("AIzaSyA-1234567890abcdefghijklmnopqrstu", "AIza…[redacted]"),
    ];
    for (input, expected) in cases {
        assert_eq!(redact(&r, input), expected, "{input}");
    }
    assert_eq!(count(&r, cases[0].0).get(RedactionKind::ApiKey), 1);
}

#[test]
fn auth_headers_and_bearer_tokens() {
    let r = patterns();
    assert_eq!(
        redact(&r, "Authorization: Bearer abc.def-123_xyz"),
        "Authorization: Bearer [redacted]"
    );
    assert_eq!(
        redact(&r, "authorization: Basic dXNlcjpwYXNzd29yZA=="),
        "authorization: Basic [redacted]"
    );
    assert_eq!(
        redact(&r, r#"{"Authorization":"Bearer t0ken-value"}"#),
        r#"{"Authorization":"Bearer [redacted]"}"#
    );
    assert_eq!(
        redact(&r, r#"headers={\"authorization\": \"Token abc123\"}"#),
        r#"headers={\"authorization\": \"Token [redacted]\"}"#
    );
    assert_eq!(
        redact(&r, "curl -H 'Authorization: Bearer Zm9vYmFy1234' http://x"),
        "curl -H 'Authorization: Bearer [redacted]' http://x"
    );
    assert_eq!(
        redact(&r, "sent bearer AbCdEf0123456789XyZ to upstream"),
        "sent bearer [redacted] to upstream"
    );
    assert_eq!(
        redact(&r, "Cookie: session=8f3a9c; theme=dark"),
        "Cookie: [redacted]"
    );
    assert_eq!(
        redact(&r, "set-cookie: sid=abc123; Path=/; HttpOnly\nnext line"),
        "set-cookie: [redacted]\nnext line"
    );
    // Prose about bearer tokens is left alone.
    for prose in [
        "the API uses Bearer authentication",
        "authorization failed for user alice",
        "Authorization: none",
        "sticky by cookie `user` (see docs)",
    ] {
        assert_eq!(redact(&r, prose), prose);
    }
}

#[test]
fn key_value_pairs_plain_quoted_json_and_flags() {
    let r = patterns();
    let cases = [
        ("password=hunter2 user=bob", "password=[redacted] user=bob"),
        ("db passwd: s3cr3t!", "db passwd: [redacted]"),
        ("secret=abc&next=1", "secret=[redacted]&next=1"),
        (
            "GET /cb?access_token=ya29.a0Af&state=x",
            "GET /cb?access_token=[redacted]&state=x",
        ),
        ("api_key = 'k-123'", "api_key = '[redacted]'"),
        (r#"DB_PASSWORD="pa ss word""#, r#"DB_PASSWORD="[redacted]""#),
        (
            r#"{"password": "hunter2", "user": "bob"}"#,
            r#"{"password": "[redacted]", "user": "bob"}"#,
        ),
        (
            r#"{"api-key":"abc","n":1}"#,
            r#"{"api-key":"[redacted]","n":1}"#,
        ),
        (r#"{"token": 123456}"#, r#"{"token": [redacted]}"#),
        (
            r#"body: {\"client_secret\":\"shh-1\"}"#,
            r#"body: {\"client_secret\":\"[redacted]\"}"#,
        ),
        (
            r#"{"pw":"a\"b", "secret": "x\"y"}"#,
            r#"{"pw":"a\"b", "secret": "[redacted]"}"#,
        ),
        ("X-Api-Key: 0123abcd", "X-Api-Key: [redacted]"),
        (
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG",
            "aws_secret_access_key = [redacted]",
        ),
        ("GITHUB_TOKEN: ghx-notavendor", "GITHUB_TOKEN: [redacted]"),
        (
            "mytool --password hunter2 --verbose",
            "mytool --password [redacted] --verbose",
        ),
        ("mytool --token=abc", "mytool --token=[redacted]"),
        (
            "mytool --api-key \"k 1\"",
            "mytool --api-key \"[redacted]\"",
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(redact(&r, input), expected, "{input}");
    }
}

#[test]
fn pairs_that_are_not_secrets_stay() {
    let r = patterns();
    for text in [
        // Status words, types, placeholders.
        "error: invalid token: expired",
        "password: required",
        r#"{"secret": null, "token": false}"#,
        "password: ***",
        "token=<token>",
        // Counters that merely contain the word.
        r#"{"max_tokens": 1024, "input_tokens": 12, "output_tokens": 40}"#,
        "token_count=5 tokens=17 password_min_length=8",
        // References say where a secret lives.
        r#"env_from = { API_TOKEN = "env:API_TOKEN", DB_PASSWORD = "file:/run/secrets/db" }"#,
        "curl -H \"x-api-key: $API_KEY\" --token ${TOKEN}",
        "password: {{ .Values.password }}",
        // Code.
        "let token = self.next_token();",
        "fn login(password: &str, token: Option<String>) {}",
        "struct Config { password: String, api_key: SecretString }",
        "secret = os.urandom(32)",
        "token = env[\"TOKEN\"]",
        "token := getToken()",
        "let t = Token::new(kind);",
        "password = cfg.password",
        // Prose.
        "use --token to pass it",
    ] {
        assert_eq!(redact(&r, text), text, "changed: {text}");
    }
}

#[test]
fn urls_keep_scheme_user_and_host() {
    let r = patterns();
    let cases = [
        (
            "connecting to postgres://app:s3cret@db.internal:5432/orders?sslmode=require",
            "connecting to postgres://app:[redacted]@db.internal:5432/orders?sslmode=require",
        ),
        (
            "redis://:p4ss@cache:6379/0",
            "redis://:[redacted]@cache:6379/0",
        ),
        (
            "mysql://root:p@ss@w0rd@db/x",
            "mysql://root:[redacted]@db/x",
        ),
        (
            r#"{"url":"https://bot:tok3n@hooks.example.com/x"}"#,
            r#"{"url":"https://bot:[redacted]@hooks.example.com/x"}"#,
        ),
        (
            "AMQP_URL=amqps://guest:guest@mq",
            "AMQP_URL=amqps://guest:[redacted]@mq",
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(redact(&r, input), expected, "{input}");
    }
    for plain in [
        "proxy to http://127.0.0.1:8080/api",
        "http://localhost:9000/x?next=a@b",
        "mailto user@example.com",
        "ssh git@github.com:org/repo.git",
    ] {
        assert_eq!(redact(&r, plain), plain);
    }
}

#[test]
fn jwts_and_private_keys() {
    let r = patterns();
    let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    assert_eq!(
        redact(&r, &format!("session {jwt} expired")),
        "session eyJ…[redacted] expired"
    );
    assert_eq!(count(&r, jwt).get(RedactionKind::Jwt), 1);
    // Bearer + JWT counts once, as a header.
    let header = count(&r, &format!("Authorization: Bearer {jwt}"));
    assert_eq!(
        (header.total(), header.get(RedactionKind::AuthHeader)),
        (1, 1)
    );

    let pem = "before\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\naFDrBz9vFqU4yZ8=\n-----END RSA PRIVATE KEY-----\nafter";
    assert_eq!(
        redact(&r, pem),
        "before\n-----BEGIN RSA PRIVATE KEY-----…[redacted]-----END RSA PRIVATE KEY-----\nafter"
    );
    let escaped = r#"{"key":"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n-----END OPENSSH PRIVATE KEY-----\n"}"#;
    assert_eq!(
        redact(&r, escaped),
        r#"{"key":"-----BEGIN OPENSSH PRIVATE KEY-----…[redacted]-----END OPENSSH PRIVATE KEY-----\n"}"#
    );
    // A key cut off mid-way (a truncated log) is masked to the end.
    assert_eq!(
        redact(
            &r,
            "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC"
        ),
        "-----BEGIN PRIVATE KEY-----…[redacted]-----END PRIVATE KEY-----"
    );
    // Public keys and certificates are not secrets.
    let public = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----";
    assert_eq!(redact(&r, public), public);
}

#[test]
fn ordinary_log_lines_pass_untouched_and_borrowed() {
    let r = patterns();
    let lines = [
        "2026-12-01T18:39:41.123Z INFO naap::router: GET /checkout/api/cart 200 12.3ms slot=green",
        "deploy checkout 1.2.3 → 1.2.4: canary 10% (step 1 of 4)",
        "request_id=4f1c2b9e-8d3a-4e5f-9a7b-1c2d3e4f5a6b status=500 upstream=127.0.0.1:40123",
        "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 built in 3.2s",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "panicked at src/main.rs:42:5: called `Option::unwrap()` on a `None` value",
        "health check failed: connection refused (os error 111) after 3 attempts",
        "the task-runner-service-v2 restarted; disk-usage-percentage high",
        "Error: Unauthorized (401): missing Authorization header",
        "version v10.4.1-rc.2+build.7, python 3.12, node 20.11.0",
        "hf_hub cache at ~/.cache/huggingface; model hf_model_name_for_tokenizer",
        "{\"level\":\"warn\",\"msg\":\"slow\",\"elapsed_ms\":812,\"path\":\"/api/v1/users\"}",
        "",
    ];
    for line in lines {
        let out = r.redact(line);
        assert!(matches!(out, Cow::Borrowed(_)), "changed: {line} → {out}");
    }
}

#[test]
fn uuids_are_not_masked_unless_known() {
    let id = "4f1c2b9e-8d3a-4e5f-9a7b-1c2d3e4f5a6b";
    assert_eq!(patterns().redact(id), id);
    let r = Redactor::new([KnownSecret::named("LICENSE_KEY", id)]);
    assert_eq!(
        redact(&r, &format!("key {id}")),
        "key [redacted:LICENSE_KEY]"
    );
}

#[test]
fn known_values_are_masked_everywhere_with_their_name() {
    let r = Redactor::new([
        KnownSecret::named("DB_PASSWORD", "correct horse battery"),
        KnownSecret::named("SHORT", "abcd"),
        KnownSecret::named("PREFIX", "abcdefgh"),
        KnownSecret::unnamed("q8Zr1xkP0a"),
        KnownSecret::named("TINY", "ab"),
    ]);
    assert_eq!(r.known_count(), 4, "{r:?}");
    assert_eq!(
        redact(
            &r,
            "login with correct horse battery failed; abcdefgh-abcd q8Zr1xkP0a ab"
        ),
        "login with [redacted:DB_PASSWORD] failed; [redacted:PREFIX]-[redacted:SHORT] [redacted] ab"
    );
    // The longest value wins where they overlap.
    let counts = count(&r, "abcdefgh");
    assert_eq!(counts.get(RedactionKind::KnownValue), 1);
    // Debug never shows values.
    assert!(!format!("{r:?}").contains("horse"));
    assert!(!format!("{:?}", KnownSecret::unnamed("horse")).contains("horse"));
}

#[test]
fn a_known_value_inside_a_mask_is_not_masked_again() {
    let r = Redactor::new([
        KnownSecret::named("API_TOKEN", "t0k3n-value"),
        KnownSecret::named("ODD", "API_TOKEN"),
        KnownSecret::named("WORSE", "redacted"),
    ]);
    assert_eq!(
        redact(&r, "got t0k3n-value and API_TOKEN"),
        "got [redacted:API_TOKEN] and [redacted:ODD]"
    );
}

#[test]
fn a_multi_line_known_value_is_masked_in_serialised_json_too() {
    let r = Redactor::new([KnownSecret::named("CERT_KEY", "line one\nline \"two\"\n")]);
    let body = serde_json::to_string(&json!({"content": "got line one\nline \"two\"\n!"})).unwrap();
    assert_eq!(
        redact(&r, &body),
        r#"{"content":"got [redacted:CERT_KEY]!"}"#
    );
    assert_eq!(
        r.redact("got line one\nline \"two\"\n!"),
        "got [redacted:CERT_KEY]!"
    );
}

#[test]
fn with_adds_values() {
    let r = Redactor::new([KnownSecret::named("A", "first-secret")])
        .with([KnownSecret::named("B", "second-secret")]);
    assert_eq!(
        redact(&r, "first-secret second-secret"),
        "[redacted:A] [redacted:B]"
    );
}

#[test]
fn many_known_values_are_all_masked() {
    let secrets: Vec<KnownSecret> = (0..1000)
        .map(|i| KnownSecret::named(format!("S{i}"), format!("secret-value-{i:04}")))
        .collect();
    let r = Redactor::new(secrets);
    assert_eq!(r.known_count(), 1000);
    let text: String = (0..1000).map(|i| format!("secret-value-{i:04} ")).collect();
    let out = redact(&r, &text);
    assert!(!out.contains("secret-value"), "{out}");
    assert_eq!(count(&r, &text).get(RedactionKind::KnownValue), 1000);
}

#[test]
fn json_is_redacted_recursively_including_keys_and_secret_members() {
    let r = Redactor::new([KnownSecret::named("API_TOKEN", "t0k3n-value")]);
    let mut value = json!({
        "logs": ["ok", "sent Authorization: Bearer abcdef0123456789xyz", {"deep": "t0k3n-value"}],
        "password": "hunter2",
        "api_key": 12345,
        "token": {"kind": "oauth", "refresh_token": "r-1"},
        "secret": "env:DB_SECRET",
        "max_tokens": 100,
        "t0k3n-value": "a key that is a secret",
        "env": [{"name": "DB_PASSWORD", "value": "pw1"}, {"name": "LOG_LEVEL", "value": "debug"}],
        "plain": "nothing here",
    });
    let counts = r.redact_json(&mut value);
    assert_eq!(
        value,
        json!({
            "logs": ["ok", "sent Authorization: Bearer [redacted]", {"deep": "[redacted:API_TOKEN]"}],
            "password": "[redacted]",
            "api_key": "[redacted]",
            "token": {"kind": "oauth", "refresh_token": "[redacted]"},
            "secret": "env:DB_SECRET",
            "max_tokens": 100,
            "[redacted:API_TOKEN]": "a key that is a secret",
            "env": [{"name": "DB_PASSWORD", "value": "[redacted]"}, {"name": "LOG_LEVEL", "value": "debug"}],
            "plain": "nothing here",
        })
    );
    assert_eq!(counts.get(RedactionKind::KnownValue), 2);
    assert_eq!(counts.get(RedactionKind::KeyValue), 4);
    assert_eq!(counts.get(RedactionKind::AuthHeader), 1);
    assert_eq!(counts.total(), 7);
    assert_eq!(
        counts.to_string(),
        "7 masked (2 workspace secrets, 1 auth headers or bearer tokens, 4 secret key-value pairs)"
    );
    // Idempotent on JSON too.
    let again = value.clone();
    assert!(r.redact_json(&mut value).is_empty());
    assert_eq!(value, again);
}

#[test]
fn redacting_a_serialised_request_masks_what_redacting_its_parts_masks() {
    let r = patterns();
    let body = json!({"messages": [{"role": "tool", "content": "DB url postgres://a:pw@h/x, password=hunter2"}]});
    let text = serde_json::to_string(&body).unwrap();
    let out = redact(&r, &text);
    assert!(!out.contains("hunter2") && !out.contains(":pw@"), "{out}");
    assert!(
        serde_json::from_str::<serde_json::Value>(&out).is_ok(),
        "still JSON: {out}"
    );
}

#[test]
fn a_workspace_gives_its_env_values_secret_references_and_webhooks() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("db-password"), "from-a-file-pw\n").unwrap();
    let secret_file = dir.path().join("db-password");
    let toml = format!(
        r#"[plugin]
name = "checkout"
version = "1.0.0"
route = "/checkout"

[run]
command = "python3 -m http.server {{port}}"
env = {{ API_TOKEN = "tok-123", LOG_LEVEL = "debug", REGION = "eu-west-1", GREETING = "opaque-prefix-{{port}}-and-suffix", PORT_HINT = "8080" }}
env_from = {{ DB_PASSWORD = "file:{}", UNSET = "env:NAAP_TEST_SURELY_UNSET_VAR" }}

[health]
kind = "tcp"

[[alerts]]
name = "errors"
condition = "error_rate > 0.5 for 30s"
channels = ["webhook:https://hooks.slack.com/services/T0/B0/XyZ123"]
"#,
        secret_file.display()
    );
    let plugin = dir.path().join("plugins").join("checkout");
    std::fs::create_dir_all(&plugin).unwrap();
    std::fs::write(plugin.join("plugin.toml"), toml).unwrap();
    std::fs::write(
        dir.path().join("naap.toml"),
        "[router]\nlisten = \"127.0.0.1:0\"\n\n[[plugins]]\npath = \"plugins/checkout\"\n",
    )
    .unwrap();
    let workspace = match crate::core::workspace::load(dir.path()) {
        Ok(w) => w,
        Err(e) => panic!("workspace: {e}"),
    };
    let r = Redactor::for_workspace(&workspace);
    // REGION is not secret, but an opaque 9-character value under a plain name is masked:
    // the rule errs on hiding (see `worth_masking`); LOG_LEVEL and PORT_HINT stay.
    let log = "token tok-123 region eu-west-1 level debug db from-a-file-pw hook https://hooks.slack.com/services/T0/B0/XyZ123 greeting opaque-prefix-40123-and-suffix 8080";
    assert_eq!(
        redact(&r, log),
        "token [redacted:API_TOKEN] region [redacted:REGION] level debug db [redacted:DB_PASSWORD] hook [redacted:webhook] greeting [redacted:GREETING]40123[redacted:GREETING] 8080"
    );
}

/// Not a timing assertion: prints throughput for the report
/// (`cargo test --lib ai::redact::tests::throughput -- --ignored --nocapture`).
#[test]
#[ignore]
fn throughput() {
    let secrets: Vec<KnownSecret> = (0..50)
        .map(|i| KnownSecret::named(format!("S{i}"), format!("secret-value-{i:04}")))
        .collect();
    let r = Redactor::new(secrets);
    let clean = "2026-12-01T18:39:41.123Z INFO naap::router: GET /checkout/api/cart 200 12.3ms slot=green request_id=4f1c2b9e-8d3a-4e5f-9a7b-1c2d3e4f5a6b\n";
    let dirty = "2026-12-01T18:39:41.123Z WARN app: retry with password=hunter2 Authorization: Bearer abcdef0123456789xyz db postgres://a:b@h/x secret-value-0007\n";
    for (name, line) in [("clean", clean), ("one line in ten dirty", dirty)] {
        let text: String = (0..10_000)
            .map(|i| {
                if name == "clean" || i % 10 != 0 {
                    clean
                } else {
                    line
                }
            })
            .collect();
        let started = std::time::Instant::now();
        let rounds = 5;
        let mut masked = Redactions::default();
        for _ in 0..rounds {
            let _ = r.redact_counted(&text, &mut masked);
        }
        let secs = started.elapsed().as_secs_f64();
        let mb = (text.len() * rounds) as f64 / 1e6;
        println!(
            "{name}: {:.1} MB/s ({} bytes per pass, {masked})",
            mb / secs,
            text.len()
        );
    }
}
