//! Step 7 from inside the cluster: each platform component's health endpoint, asked through the
//! API server's service proxy (`/api/v1/namespaces/NS/services/NAME:PORT/proxy/PATH`), so it works
//! from any machine that reaches the API server, air-gapped sites included.

use std::time::Duration;

use http_body_util::BodyExt as _;
use kube::Client;
use serde_json::{json, Value};

use crate::progress::Output;

const TIMEOUT: Duration = Duration::from_secs(15);

/// How a component's answer is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judge {
    /// Any 2xx.
    Success,
    /// 2xx, or 401 (the registry asks for credentials: it is alive).
    SuccessOrUnauthorized,
    /// 2xx with a JSON `status` of green or yellow.
    ClusterHealth,
    /// An Airflow webserver's `/health`: 2xx, and no part (metadatabase, scheduler) unhealthy.
    AirflowHealth,
}

/// One component of the Astronomer 0.23 chart and its health endpoint.
#[derive(Debug, Clone, Copy)]
pub struct Component {
    pub name: &'static str,
    /// The service's name after `<release>-`.
    pub service: &'static str,
    pub port: u16,
    pub path: &'static str,
    pub judge: Judge,
}

/// The components Step 7 checks, with the service names and ports of the Astronomer 0.23 chart.
pub const COMPONENTS: [Component; 7] = [
    Component {
        name: "houston",
        service: "houston",
        port: 8871,
        path: "/v1/healthz",
        judge: Judge::Success,
    },
    Component {
        name: "astro-ui",
        service: "astro-ui",
        port: 8080,
        path: "/",
        judge: Judge::Success,
    },
    Component {
        name: "registry",
        service: "registry",
        port: 5000,
        path: "/v2/",
        judge: Judge::SuccessOrUnauthorized,
    },
    Component {
        name: "elasticsearch",
        service: "elasticsearch",
        port: 9200,
        path: "/_cluster/health",
        judge: Judge::ClusterHealth,
    },
    Component {
        name: "prometheus",
        service: "prometheus",
        port: 9090,
        path: "/-/ready",
        judge: Judge::Success,
    },
    Component {
        name: "grafana",
        service: "grafana",
        port: 3000,
        path: "/api/health",
        judge: Judge::Success,
    },
    Component {
        name: "nginx-default-backend",
        service: "nginx-default-backend",
        port: 8080,
        path: "/healthz",
        judge: Judge::Success,
    },
];

impl Component {
    pub fn proxy_path(&self, namespace: &str, release: &str) -> String {
        format!(
            "/api/v1/namespaces/{namespace}/services/{release}-{}:{}/proxy{}",
            self.service, self.port, self.path
        )
    }
}

/// A component's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass(String),
    Fail(String),
    /// It could not be checked (the service is absent, the proxy is forbidden, no answer).
    Unchecked(String),
}

/// The first line-ish of a body, as evidence.
fn excerpt(body: &str) -> String {
    let flat: String = body
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(160)
        .collect();
    if flat.is_empty() {
        "(empty body)".to_string()
    } else {
        flat
    }
}

/// Judges what the proxy answered: the API server's own errors (a `Status` object: the service is
/// missing, the proxy is forbidden, no endpoint is ready) apart from the component's answer.
pub fn judge(kind: Judge, status: u16, body: &str) -> Outcome {
    let api_status: Option<Value> = serde_json::from_str::<Value>(body)
        .ok()
        .filter(|v| v["kind"] == "Status" && v["apiVersion"] == "v1");
    if let Some(api) = &api_status {
        let message = api["message"].as_str().unwrap_or_default().to_string();
        match status {
            403 => {
                return Outcome::Unchecked(format!(
                    "the API server refused the proxy (HTTP 403: {message}); this needs `get` on services/proxy"
                ))
            }
            404 if message.contains("services") => {
                return Outcome::Unchecked(format!("HTTP 404: {message}"))
            }
            503 => {
                return Outcome::Fail(format!(
                    "HTTP 503 from the API server: {message} (no ready pod behind the service)"
                ))
            }
            _ => {}
        }
    }
    let evidence = format!("HTTP {status}: {}", excerpt(body));
    let success = (200..300).contains(&status);
    match kind {
        Judge::Success if success => Outcome::Pass(evidence),
        Judge::SuccessOrUnauthorized if success || status == 401 => Outcome::Pass(evidence),
        Judge::ClusterHealth if success => {
            let health = serde_json::from_str::<Value>(body)
                .ok()
                .and_then(|v| v["status"].as_str().map(str::to_string));
            match health.as_deref() {
                Some("green" | "yellow") => Outcome::Pass(evidence),
                Some(other) => Outcome::Fail(format!("cluster health is {other}: {evidence}")),
                None => Outcome::Fail(format!(
                    "no cluster health status in the answer: {evidence}"
                )),
            }
        }
        Judge::AirflowHealth if success => {
            let health = serde_json::from_str::<Value>(body).unwrap_or(Value::Null);
            let unhealthy: Vec<String> = health
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(_, part)| part["status"].as_str().is_some_and(|s| s != "healthy"))
                .map(|(name, part)| format!("{name} {}", part["status"].as_str().unwrap_or("?")))
                .collect();
            if unhealthy.is_empty() {
                Outcome::Pass(evidence)
            } else {
                Outcome::Fail(format!("{}: {evidence}", unhealthy.join(", ")))
            }
        }
        _ => Outcome::Fail(evidence),
    }
}

/// Asks one component through the proxy.
async fn ask(client: &Client, path: &str, kind: Judge) -> Outcome {
    let request = match http::Request::get(path).body(kube::client::Body::empty()) {
        Ok(request) => request,
        Err(err) => return Outcome::Unchecked(format!("cannot build the request: {err}")),
    };
    let answer = tokio::time::timeout(TIMEOUT, async {
        let response = client.send(request).await.map_err(|err| err.to_string())?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|err| err.to_string())?
            .to_bytes();
        Ok::<_, String>((status, String::from_utf8_lossy(&body).into_owned()))
    })
    .await;
    match answer {
        Err(_) => Outcome::Unchecked(format!("no answer within {}s", TIMEOUT.as_secs())),
        Ok(Err(err)) => Outcome::Unchecked(format!("the request failed: {err}")),
        Ok(Ok((status, body))) => judge(kind, status, &body),
    }
}

/// Checks every component; returns (failures, could not be checked), each naming the component.
pub async fn check(
    out: &Output,
    client: &Client,
    namespace: &str,
    release: &str,
) -> (Vec<String>, Vec<String>) {
    let mut failed = Vec::new();
    let mut unchecked = Vec::new();
    for component in &COMPONENTS {
        let outcome = ask(
            client,
            &component.proxy_path(namespace, release),
            component.judge,
        )
        .await;
        let service = format!("{release}-{}:{}", component.service, component.port);
        let (result, evidence) = match &outcome {
            Outcome::Pass(e) => ("pass", e),
            Outcome::Fail(e) => ("fail", e),
            Outcome::Unchecked(e) => ("unchecked", e),
        };
        let line = format!(
            "{}: {result} — service {namespace}/{service} {}: {evidence}",
            component.name, component.path
        );
        out.event(
            "component",
            &line,
            json!({
                "component": component.name,
                "service": format!("{namespace}/{service}"),
                "path": component.path,
                "result": result,
                "evidence": evidence,
            }),
        );
        match outcome {
            Outcome::Pass(_) => {}
            Outcome::Fail(_) => failed.push(line),
            Outcome::Unchecked(_) => unchecked.push(line),
        }
    }
    (failed, unchecked)
}

/// Each Airflow deployment's webserver, `<release>-webserver:8080` in the release's namespace,
/// asked for `/<release>/airflow/health` (the path its probes use behind the platform's ingress).
pub async fn check_deployments(
    out: &Output,
    client: &Client,
    deployments: &[(String, String)],
) -> (Vec<String>, Vec<String>) {
    let mut failed = Vec::new();
    let mut unchecked = Vec::new();
    for (namespace, release) in deployments {
        let service = format!("{release}-webserver:8080");
        let path = format!("/{release}/airflow/health");
        let outcome = ask(
            client,
            &format!("/api/v1/namespaces/{namespace}/services/{service}/proxy{path}"),
            Judge::AirflowHealth,
        )
        .await;
        let (result, evidence) = match &outcome {
            Outcome::Pass(e) => ("pass", e),
            Outcome::Fail(e) => ("fail", e),
            Outcome::Unchecked(e) => ("unchecked", e),
        };
        let line = format!(
            "deployment {release}: {result} — service {namespace}/{service} {path}: {evidence}"
        );
        out.event(
            "deployment",
            &line,
            json!({
                "deployment": release,
                "service": format!("{namespace}/{service}"),
                "path": path,
                "result": result,
                "evidence": evidence,
            }),
        );
        match outcome {
            Outcome::Pass(_) => {}
            Outcome::Fail(_) => failed.push(line),
            Outcome::Unchecked(_) => unchecked.push(line),
        }
    }
    (failed, unchecked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(name: &str) -> Component {
        *COMPONENTS.iter().find(|c| c.name == name).unwrap()
    }

    #[test]
    fn an_airflow_health_fails_on_any_unhealthy_part() {
        let healthy = r#"{"metadatabase": {"status": "healthy"}, "scheduler": {"status": "healthy", "latest_scheduler_heartbeat": "2026-12-04T17:00:00"}}"#;
        assert!(matches!(
            judge(Judge::AirflowHealth, 200, healthy),
            Outcome::Pass(_)
        ));
        let Outcome::Fail(why) = judge(
            Judge::AirflowHealth,
            200,
            r#"{"metadatabase": {"status": "healthy"}, "scheduler": {"status": "unhealthy"}}"#,
        ) else {
            panic!("an unhealthy scheduler passes");
        };
        assert!(why.starts_with("scheduler unhealthy"), "{why}");
        assert!(matches!(
            judge(Judge::AirflowHealth, 502, ""),
            Outcome::Fail(_)
        ));
    }

    #[test]
    fn the_proxy_paths_follow_the_chart() {
        assert_eq!(
            component("houston").proxy_path("astronomer", "astronomer"),
            "/api/v1/namespaces/astronomer/services/astronomer-houston:8871/proxy/v1/healthz"
        );
        assert_eq!(
            component("registry").proxy_path("astro", "rel"),
            "/api/v1/namespaces/astro/services/rel-registry:5000/proxy/v2/"
        );
    }

    #[test]
    fn answers_are_judged_per_component() {
        let es = component("elasticsearch");
        assert!(matches!(
            judge(es.judge, 200, r#"{"status":"green"}"#),
            Outcome::Pass(_)
        ));
        assert!(matches!(
            judge(es.judge, 200, r#"{"status":"yellow"}"#),
            Outcome::Pass(_)
        ));
        let Outcome::Fail(why) = judge(es.judge, 200, r#"{"status":"red"}"#) else {
            panic!("red passes");
        };
        assert!(why.contains("cluster health is red"), "{why}");
        assert!(matches!(judge(es.judge, 200, "nope"), Outcome::Fail(_)));
        let registry = component("registry");
        assert!(matches!(judge(registry.judge, 401, "{}"), Outcome::Pass(_)));
        assert!(matches!(judge(registry.judge, 500, ""), Outcome::Fail(_)));
        let houston = component("houston");
        assert!(matches!(judge(houston.judge, 401, ""), Outcome::Fail(_)));
        assert!(matches!(judge(houston.judge, 204, ""), Outcome::Pass(_)));
        let status = |code: u16, message: &str| {
            json!({"kind": "Status", "apiVersion": "v1", "code": code, "message": message})
                .to_string()
        };
        assert!(matches!(
            judge(
                houston.judge,
                404,
                &status(404, "services \"astronomer-houston\" not found")
            ),
            Outcome::Unchecked(_)
        ));
        assert!(matches!(
            judge(houston.judge, 403, &status(403, "forbidden")),
            Outcome::Unchecked(_)
        ));
        assert!(matches!(
            judge(houston.judge, 503, &status(503, "no endpoints available")),
            Outcome::Fail(_)
        ));
    }
}
