//! The HTTP part of Step 7: the platform's UI (`https://app.BASEDOMAIN`, where the procedure
//! says to log in) and Houston's API health endpoint (`https://houston.BASEDOMAIN/v1/healthz`)
//! answer. Uses the operating system's trust store, as a browser on the same machine would.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls_platform_verifier::BuilderVerifierExt as _;
use serde_json::json;

use crate::progress::Output;

const TIMEOUT: Duration = Duration::from_secs(15);

pub fn endpoints(domain: &str) -> [String; 2] {
    let domain = domain.trim().trim_end_matches('/');
    [
        format!("https://app.{domain}/"),
        format!("https://houston.{domain}/v1/healthz"),
    ]
}

/// Requests each endpoint once; returns a problem for each that does not answer below 400.
pub async fn check(out: &Output, domain: &str) -> Vec<String> {
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|err| err.to_string())
    .and_then(|builder| {
        builder
            .with_platform_verifier()
            .map_err(|err| err.to_string())
    });
    let config = match config {
        Ok(builder) => builder.with_no_client_auth(),
        Err(err) => return vec![format!("cannot set up TLS for the endpoint checks: {err}")],
    };
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_only()
        .enable_http1()
        .build();
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let mut problems = Vec::new();
    for url in endpoints(domain) {
        let answer = match url.parse() {
            Ok(uri) => tokio::time::timeout(TIMEOUT, client.get(uri))
                .await
                .map_err(|_| format!("no answer within {}s", TIMEOUT.as_secs()))
                .and_then(|r| r.map_err(|err| causes(&err))),
            Err(err) => Err(err.to_string()),
        };
        match answer {
            Ok(response) if response.status().as_u16() < 400 => out.event(
                "endpoint",
                &format!("{url}: HTTP {}", response.status().as_u16()),
                json!({"url": url, "http_status": response.status().as_u16(), "ok": true}),
            ),
            Ok(response) => {
                let status = response.status().as_u16();
                out.event(
                    "endpoint",
                    &format!("{url}: HTTP {status}"),
                    json!({"url": url, "http_status": status, "ok": false}),
                );
                problems.push(format!("{url} answered HTTP {status}"));
            }
            Err(err) => {
                out.event(
                    "endpoint",
                    &format!("{url}: {err}"),
                    json!({"url": url, "error": err, "ok": false}),
                );
                problems.push(format!("{url} did not answer: {err}"));
            }
        }
    }
    problems
}

/// An error and its causes, innermost last (`client error (Connect): dns error: failed to lookup…`).
fn causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_follow_the_base_domain() {
        assert_eq!(
            endpoints("astro.example.com/"),
            [
                "https://app.astro.example.com/",
                "https://houston.astro.example.com/v1/healthz"
            ]
        );
    }
}
