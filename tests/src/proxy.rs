//! The API server's service proxy (`/api/v1/namespaces/NS/services/NAME:PORT/proxy/PATH`) for the
//! services a scenario declares: each answers scripted (status, body) pairs per path, and may
//! answer differently once Job `upgrade-astronomer` was created (`after_upgrade`).

use serde::Deserialize;

/// A Service of the scenario reachable through the proxy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    pub name: String,
    pub namespace: String,
    pub port: u16,
    /// What each path answers.
    #[serde(default)]
    pub answers: Vec<ProxyAnswer>,
    /// What a path answers from the creation of Job `upgrade-astronomer` on (replaces `answers`
    /// for the same path).
    #[serde(default)]
    pub after_upgrade: Vec<ProxyAnswer>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyAnswer {
    /// The path behind the proxy, e.g. `/v1/healthz` (a trailing slash is ignored).
    pub path: String,
    #[serde(default = "ok")]
    pub status: u16,
    #[serde(default)]
    pub body: String,
}

fn ok() -> u16 {
    200
}

/// What the proxy answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proxied {
    /// The backend's answer: status and body.
    Backend(u16, String),
    /// The API server's own error (a Status): code, reason, message.
    Status(u16, &'static str, String),
}

fn same_path(a: &str, b: &str) -> bool {
    let trim = |p: &str| {
        let p = p.trim_end_matches('/');
        if p.is_empty() {
            "/".to_string()
        } else {
            p.to_string()
        }
    };
    trim(a) == trim(b)
}

/// The answer of `service` (`NAME`, `NAME:PORT` or `SCHEME:NAME:PORT`) in `namespace` to `path`.
pub fn answer(
    services: &[ServiceSpec],
    upgraded: bool,
    namespace: &str,
    service: &str,
    path: &str,
) -> Proxied {
    let parts: Vec<&str> = service.split(':').collect();
    let (name, port) = match parts.as_slice() {
        [name] => (*name, None),
        [name, port] => (*name, Some(*port)),
        [_scheme, name, port] => (*name, Some(*port)),
        _ => (service, None),
    };
    let Some(spec) = services
        .iter()
        .find(|s| s.namespace == namespace && s.name == name)
    else {
        return Proxied::Status(404, "NotFound", format!("services \"{name}\" not found"));
    };
    if let Some(port) = port.filter(|p| !p.is_empty()) {
        if port != spec.port.to_string() {
            return Proxied::Status(
                503,
                "ServiceUnavailable",
                format!("no endpoints available for service \"{name}:{port}\""),
            );
        }
    }
    let scripted = upgraded
        .then(|| spec.after_upgrade.iter().find(|a| same_path(&a.path, path)))
        .flatten()
        .or_else(|| spec.answers.iter().find(|a| same_path(&a.path, path)));
    match scripted {
        Some(answer) => Proxied::Backend(answer.status, answer.body.clone()),
        None => Proxied::Backend(404, "404 page not found\n".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proxy_answers_by_service_port_path_and_upgrade() {
        let services: Vec<ServiceSpec> = serde_norway::from_str(
            r#"
- name: astronomer-elasticsearch
  namespace: astronomer
  port: 9200
  answers: [{path: /_cluster/health, body: '{"status":"green"}'}]
  after_upgrade: [{path: /_cluster/health, body: '{"status":"red"}'}]
"#,
        )
        .unwrap();
        let ask = |upgraded, service: &str, path: &str| {
            answer(&services, upgraded, "astronomer", service, path)
        };
        assert_eq!(
            ask(false, "astronomer-elasticsearch:9200", "/_cluster/health/"),
            Proxied::Backend(200, r#"{"status":"green"}"#.into())
        );
        assert_eq!(
            ask(
                true,
                "http:astronomer-elasticsearch:9200",
                "/_cluster/health"
            ),
            Proxied::Backend(200, r#"{"status":"red"}"#.into())
        );
        assert_eq!(
            ask(false, "astronomer-elasticsearch:9300", "/"),
            Proxied::Status(
                503,
                "ServiceUnavailable",
                "no endpoints available for service \"astronomer-elasticsearch:9300\"".into()
            )
        );
        assert!(matches!(
            ask(false, "astronomer-houston:8871", "/"),
            Proxied::Status(404, ..)
        ));
        assert!(matches!(
            ask(false, "astronomer-elasticsearch", "/nothing"),
            Proxied::Backend(404, _)
        ));
    }
}
