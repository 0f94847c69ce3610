//! Short-lived bearer tokens handed out through an exec credential plugin, as EKS
//! (`aws eks get-token`), GKE (`gke-gcloud-auth-plugin`) and OIDC setups do: the kubeconfig names
//! `kube-sim token --server URL` as its `users[].user.exec` command, which asks the simulator for a
//! token and prints an `ExecCredential` with its `expirationTimestamp`. The server answers 401 to
//! an expired or unknown token, and ends a stream (watch, followed log) when the token it was opened
//! with expires, so a client has to refresh and resume, as against a real cluster.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

/// Where the plugin asks for a token; not a Kubernetes path, so no client reaches it by accident.
pub const TOKEN_PATH: &str = "/kube-sim/token";
/// The ExecCredential version that clients of the 1.14–1.18 era (and today's) all read.
pub const EXEC_API_VERSION: &str = "client.authentication.k8s.io/v1beta1";

/// Whether the plugin gets tokens: as the scenario's `plugin_fails` window says, or forced by a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPlugin {
    AsScenario = 0,
    Working = 1,
    Failing = 2,
}

/// The tokens the simulator has issued, and when each expires.
#[derive(Default)]
pub(crate) struct Tokens {
    issued: Mutex<HashMap<String, Instant>>,
    serial: AtomicU64,
    plugin: AtomicU8,
}

impl Tokens {
    /// A new token valid for `ttl` (real time).
    pub(crate) fn issue(&self, ttl: Duration, salt: &str) -> (String, Instant) {
        let serial = self.serial.fetch_add(1, Ordering::Relaxed) + 1;
        let token = format!("kube-sim-token-{serial}-{salt}");
        let expires = Instant::now() + ttl;
        self.issued
            .lock()
            .expect("tokens lock")
            .insert(token.clone(), expires);
        (token, expires)
    }

    /// When `token` expires, if it was issued here and has not expired yet.
    pub(crate) fn valid_until(&self, token: &str) -> Option<Instant> {
        let expires = *self.issued.lock().expect("tokens lock").get(token)?;
        (Instant::now() < expires).then_some(expires)
    }

    /// Forgets every token issued so far, as revoking a role's sessions does: the next request
    /// that brings one gets 401, however long the client believes it lives.
    pub(crate) fn revoke_all(&self) {
        self.issued.lock().expect("tokens lock").clear();
    }

    pub(crate) fn plugin(&self) -> TokenPlugin {
        match self.plugin.load(Ordering::Relaxed) {
            1 => TokenPlugin::Working,
            2 => TokenPlugin::Failing,
            _ => TokenPlugin::AsScenario,
        }
    }

    pub(crate) fn set_plugin(&self, plugin: TokenPlugin) {
        self.plugin.store(plugin as u8, Ordering::Relaxed);
    }
}

/// The bearer token of an `Authorization` header value.
pub(crate) fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// The plugin's answer: an ExecCredential whose `expirationTimestamp` is the wall-clock second at
/// or before the token's real expiry, so a client that trusts it refreshes in time.
pub(crate) fn exec_credential(token: &str, expires: Instant) -> Value {
    let left = expires.saturating_duration_since(Instant::now());
    let expiry_unix = SystemTime::now()
        .checked_add(left)
        .unwrap_or_else(SystemTime::now)
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs() as i64;
    json!({
        "apiVersion": EXEC_API_VERSION,
        "kind": "ExecCredential",
        "status": {
            "token": token,
            "expirationTimestamp": crate::time::rfc3339(expiry_unix),
        }
    })
}

/// The kubeconfig's `user` entry: the exec plugin `plugin token --server URL`.
pub(crate) fn exec_user_yaml(plugin: &str, server: &str) -> String {
    format!(
        "    exec:\n      apiVersion: {EXEC_API_VERSION}\n      command: {}\n      args: [token, --server, {}]\n      interactiveMode: Never\n",
        yaml_string(plugin),
        yaml_string(server)
    )
}

fn yaml_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string serialises")
}

/// What `kube-sim token` does: asks the simulator at `server` (`http://HOST:PORT`) for a token
/// and returns the ExecCredential to print, or the reason there is none.
pub fn request_token(server: &str) -> Result<String, String> {
    let address = server
        .strip_prefix("http://")
        .ok_or_else(|| format!("the token plugin speaks plain http only, not {server}"))?
        .trim_end_matches('/');
    let mut stream = TcpStream::connect(address)
        .map_err(|e| format!("cannot reach kube-sim at {server}: {e}"))?;
    let timeout = Some(Duration::from_secs(30));
    stream
        .set_read_timeout(timeout)
        .map_err(|e| e.to_string())?;
    // HTTP/1.0: the answer is delimited by the connection's close, never chunked.
    let request =
        format!("POST {TOKEN_PATH} HTTP/1.0\r\nHost: {address}\r\nContent-Length: 0\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("cannot ask kube-sim at {server} for a token: {e}"))?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .map_err(|e| format!("no answer from kube-sim at {server}: {e}"))?;
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("a malformed answer from kube-sim at {server}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .unwrap_or(0);
    if status == 200 {
        return Ok(body.to_string());
    }
    let message = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|status| status["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.trim().to_string());
    Err(format!("the token service refused ({status}): {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expire_and_unknown_ones_are_refused() {
        let tokens = Tokens::default();
        let (short, _) = tokens.issue(Duration::from_millis(30), "a");
        let (long, expires) = tokens.issue(Duration::from_secs(60), "b");
        assert_ne!(short, long, "every token is new");
        assert_eq!(tokens.valid_until(&long), Some(expires));
        assert!(tokens.valid_until(&short).is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(tokens.valid_until(&short), None, "expired");
        assert_eq!(
            tokens.valid_until("kube-sim-token-9-x"),
            None,
            "never issued"
        );
    }

    #[test]
    fn the_credential_never_claims_a_later_expiry_than_the_server_enforces() {
        let expires = Instant::now() + Duration::from_millis(2500);
        let credential = exec_credential("t", expires);
        let stamp = credential["status"]["expirationTimestamp"]
            .as_str()
            .unwrap();
        let claimed = crate::time::parse_rfc3339(stamp).unwrap();
        let real = crate::time::now_unix() + 3;
        assert!(claimed <= real, "{stamp} is after the real expiry");
        assert!(claimed >= real - 4, "{stamp} is far too early");
        assert_eq!(credential["apiVersion"], EXEC_API_VERSION);
    }

    #[test]
    fn bearer_headers_are_read_case_insensitively() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer"), None);
    }
}
