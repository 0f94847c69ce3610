//! Credentials that stop working mid-run. The kubeconfig's exec plugin (`aws eks get-token`,
//! `gke-gcloud-auth-plugin`, an OIDC helper) hands out tokens that live minutes; kube-rs runs it
//! again before each token expires. When that fails (the plugin exits non-zero) or the API server
//! still answers 401, the run has lost its eyes, not its upgrade: this module tells such errors
//! apart from every other failure, so they are reported as an authentication problem with the
//! commands to check it, and never read as an upgrade failure or a reason to roll back.

use std::error::Error as StdError;

/// Why the cluster stopped accepting this run's requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthProblem {
    /// The API server answered 401 Unauthorized.
    Rejected(String),
    /// The kubeconfig's credentials could not be made (the exec plugin failed, a token file is
    /// unreadable).
    NotObtained(String),
}

impl std::fmt::Display for AuthProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthProblem::Rejected(why) => {
                write!(
                    f,
                    "the API server refused the credentials (401 Unauthorized: {why})"
                )
            }
            AuthProblem::NotObtained(why) => write!(
                f,
                "the kubeconfig's credentials could not be obtained ({why})"
            ),
        }
    }
}

/// The authentication problem somewhere in `error`'s chain of causes, if any.
pub fn auth_problem(error: &(dyn StdError + 'static)) -> Option<AuthProblem> {
    let mut cause: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(current) = cause {
        if let Some(kube::Error::Api(status)) = current.downcast_ref::<kube::Error>() {
            if status.code == 401 {
                return Some(AuthProblem::Rejected(status.message.clone()));
            }
        }
        if let Some(kube::runtime::watcher::Error::WatchError(status)) =
            current.downcast_ref::<kube::runtime::watcher::Error>()
        {
            if status.code == 401 {
                return Some(AuthProblem::Rejected(status.message.clone()));
            }
        }
        if let Some(auth) = current.downcast_ref::<kube::client::AuthError>() {
            return Some(AuthProblem::NotObtained(describe(auth)));
        }
        cause = current.source();
    }
    None
}

/// What went wrong in the plugin's own words (its stderr), without kube-rs's dump of the whole
/// command line and output: the plugin's stdout is where a credential would be, and is never shown.
fn describe(error: &kube::client::AuthError) -> String {
    match error {
        kube::client::AuthError::AuthExecRun { out, .. } => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let said: Vec<&str> = stderr
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            let status = out.status.code().map_or_else(
                || "was killed".to_string(),
                |code| format!("exited with status {code}"),
            );
            match said.last() {
                Some(reason) => format!("the kubeconfig's exec plugin {status}: {reason}"),
                None => format!("the kubeconfig's exec plugin {status}"),
            }
        }
        other => other.to_string(),
    }
}

/// [`auth_problem`] of an `anyhow` error.
pub fn auth_problem_of(error: &anyhow::Error) -> Option<AuthProblem> {
    error.chain().find_map(auth_problem)
}

/// The commands that show whether the credentials work again, for `context`.
pub fn how_to_check(context: &str, namespace: &str) -> String {
    let context = if context.is_empty() || context == "in-cluster" {
        String::new()
    } else {
        format!(" --context {context}")
    };
    format!(
        "check the credentials with `kubectl{context} get --raw /version` and \
         `kubectl{context} auth can-i get jobs -n {namespace}` (on servers from 1.27, \
         `kubectl{context} auth whoami` names the user); renew them as your cloud requires \
         (for EKS: `aws sts get-caller-identity`, for GKE: `gcloud auth login`)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn status(code: u16, message: &str) -> Box<Status> {
        Box::new(Status::failure(message, "Unauthorized").with_code(code))
    }

    #[test]
    fn a_401_anywhere_in_the_chain_is_an_authentication_problem() {
        let error = anyhow::Error::new(kube::Error::Api(status(401, "Unauthorized")))
            .context("cannot read Job default/upgrade-astronomer");
        assert_eq!(
            auth_problem_of(&error),
            Some(AuthProblem::Rejected("Unauthorized".into()))
        );
        let watch = kube::runtime::watcher::Error::WatchFailed(kube::Error::Api(status(
            401,
            "Unauthorized",
        )));
        assert!(matches!(
            auth_problem(&watch),
            Some(AuthProblem::Rejected(_))
        ));
        let event = kube::runtime::watcher::Error::WatchError(status(401, "Unauthorized"));
        assert!(auth_problem(&event).is_some());
    }

    #[test]
    fn a_failed_exec_plugin_is_an_authentication_problem() {
        let error = kube::Error::Auth(kube::client::AuthError::AuthExec(
            "aws: credentials expired".into(),
        ));
        let problem = auth_problem(&error).expect("found");
        assert!(matches!(problem, AuthProblem::NotObtained(_)));
        assert!(problem.to_string().contains("aws: credentials expired"));
        // As the auth layer reports it: a service error around the AuthError.
        let boxed: Box<dyn StdError + Send + Sync> =
            Box::new(kube::client::AuthError::AuthExec("plugin exited 1".into()));
        let layered = kube::Error::Service(boxed);
        assert!(matches!(
            auth_problem(&layered),
            Some(AuthProblem::NotObtained(_))
        ));
    }

    #[test]
    fn a_plugin_s_failure_is_told_in_its_own_words_and_its_stdout_is_never_shown() {
        use std::os::unix::process::ExitStatusExt as _;
        let error = kube::client::AuthError::AuthExecRun {
            cmd: "KUBERNETES_EXEC_INFO=\"{}\" \"aws\" \"eks\" \"get-token\"".into(),
            out: Box::new(std::process::Output {
                status: std::process::ExitStatus::from_raw(255 << 8),
                stdout: b"{\"status\":{\"token\":\"k8s-aws-v1.leaked\"}}".to_vec(),
                stderr: b"\nAn error occurred (ExpiredToken) when calling the GetCallerIdentity operation\n"
                    .to_vec(),
            }),
        };
        let told = describe(&error);
        assert_eq!(
            told,
            "the kubeconfig's exec plugin exited with status 255: An error occurred (ExpiredToken) when calling the GetCallerIdentity operation"
        );
        assert!(!told.contains("leaked"));
    }

    #[test]
    fn other_failures_are_not_authentication_problems() {
        for code in [403, 404, 500, 503] {
            let error = kube::Error::Api(status(code, "no"));
            assert_eq!(auth_problem(&error), None, "{code}");
        }
        assert_eq!(
            auth_problem_of(&anyhow::anyhow!("connection refused")),
            None
        );
    }

    #[test]
    fn the_advice_names_the_context_and_namespace() {
        let advice = how_to_check("prod-eu", "astronomer");
        assert!(
            advice.contains("kubectl --context prod-eu get --raw /version"),
            "{advice}"
        );
        assert!(
            advice.contains("auth can-i get jobs -n astronomer"),
            "{advice}"
        );
        assert!(!how_to_check("in-cluster", "x").contains("--context"));
    }
}
