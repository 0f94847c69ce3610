//! `kubernetes-version` and `kubectl-skew`.

use super::{finding, RuleInput};
use crate::facts::ConnectionError;
use crate::report::{Finding, Status};
use crate::version;

const ID_VERSION: &str = "kubernetes-version";
const ID_SKEW: &str = "kubectl-skew";

pub fn kubernetes_version(ctx: &RuleInput) -> Finding {
    let k = &ctx.facts.kubernetes;
    let path = ctx.path;
    let (supported, recommended) = (path.kubernetes, path.kubernetes_recommended);
    let Some(server) = k.server_version.as_deref() else {
        return match k.error {
            Some(error) => {
                let (what, remedy) = connection_error(error);
                finding(
                    ID_VERSION,
                    Status::Unknown,
                    format!("no server version: {what}"),
                    Some(remedy.to_string()),
                    k.error_at.iter().cloned().collect(),
                )
            }
            None => ctx.missing(
                ID_VERSION,
                "no Kubernetes server version was pasted",
                "paste the output of `kubectl version` (it must show the Server Version)".into(),
            ),
        };
    };
    let evidence: Vec<_> = k.server_at.iter().cloned().collect();
    let Some(version) = version::parse(server) else {
        return finding(
            ID_VERSION,
            Status::Unknown,
            format!("cannot read the server version `{server}`"),
            Some("paste the output of `kubectl version` unedited".into()),
            evidence,
        );
    };
    let (status, message, remedy) = if !supported.matches(&version) {
        let why = if version.pre.is_empty() {
            String::new()
        } else {
            " (a pre-release: the procedure supports released versions only)".to_string()
        };
        (
            Status::Fail,
            format!("Kubernetes {server} is outside the supported range {supported}{why}"),
            Some(format!(
                "move the cluster to a Kubernetes release with {supported} (later docs recommend {recommended}) first (ask your cloud provider or cluster administrator), then paste `kubectl version` again"
            )),
        )
    } else if !recommended.matches(&version) {
        (
            Status::Warn,
            format!(
                "Kubernetes {server} is accepted by the procedure ({supported}), but later docs support only {recommended}"
            ),
            Some(format!(
                "consider upgrading Kubernetes to {recommended} before the platform"
            )),
        )
    } else {
        (
            Status::Pass,
            format!("Kubernetes {server} is in the supported range {supported}"),
            None,
        )
    };
    finding(ID_VERSION, status, message, remedy, evidence)
}

fn connection_error(error: ConnectionError) -> (&'static str, &'static str) {
    match error {
        ConnectionError::ConnectionRefused => (
            "kubectl could not reach the API server (connection refused)",
            "check that the kubeconfig points at the right cluster (`kubectl config current-context`), that the VPN or bastion is up, then run `kubectl version` again",
        ),
        ConnectionError::UnableToConnect => (
            "kubectl was unable to connect to the server",
            "check network access to the API server (`kubectl cluster-info`), the VPN or proxy, then run `kubectl version` again",
        ),
        ConnectionError::Unauthorized => (
            "the API server refused the credentials (Unauthorized)",
            "log in again (refresh the cloud provider token or kubeconfig credentials), then run `kubectl version` again",
        ),
        ConnectionError::Other => (
            "kubectl reported an error instead of the server version",
            "fix the error kubectl printed, then run `kubectl version` again",
        ),
    }
}

pub fn kubectl_skew(ctx: &RuleInput) -> Finding {
    let k = &ctx.facts.kubernetes;
    let remedy = "paste the full output of `kubectl version` (both Client and Server Version)";
    let (Some(client), Some(server)) = (k.client_version.as_deref(), k.server_version.as_deref())
    else {
        let which = if k.client_version.is_none() && k.server_version.is_none() {
            "neither the kubectl nor the server version is known"
        } else if k.client_version.is_none() {
            "the kubectl (client) version is not known"
        } else {
            "the server version is not known"
        };
        return ctx.missing(ID_SKEW, which, remedy.into());
    };
    let evidence: Vec<_> = k
        .client_at
        .iter()
        .chain(k.server_at.iter())
        .cloned()
        .collect();
    let (Some(c), Some(s)) = (version::parse(client), version::parse(server)) else {
        return ctx.missing(ID_SKEW, "a version could not be read", remedy.into());
    };
    let max = ctx.path.kubectl_max_skew;
    if c.major != s.major || c.minor.abs_diff(s.minor) > u64::from(max) {
        finding(
            ID_SKEW,
            Status::Warn,
            format!(
                "kubectl {client} and server {server} differ by more than {max} minor version"
            ),
            Some(format!(
                "use a kubectl within ±{max} minor of the server, e.g. https://dl.k8s.io/release/v{}.{}.0/bin/linux/amd64/kubectl",
                s.major, s.minor
            )),
            evidence,
        )
    } else {
        finding(
            ID_SKEW,
            Status::Pass,
            format!("kubectl {client} is within ±{max} minor of server {server}"),
            None,
            evidence,
        )
    }
}
