//! In-cluster egress tests: what `curl -sSI URL` printed in a throwaway pod
//! (`kubectl run egress-test -n default --rm -i --restart=Never --image=curlimages/curl -- curl
//! -sSI https://updates.astronomer.io/astronomer-certified`), and the lines `apply`'s probe Job
//! prints, one per URL (`astro-upgrade egress https://helm.astronomer.io/index.yaml: HTTP/2 200`).
//!
//! A host answered when an HTTP status line came back, whatever the status (`HTTP/1.1 200 OK`,
//! `HTTP/2 301`, `HTTP/2 401`: DNS, routing and TLS all worked). It did not when curl printed an
//! error (`curl: (6) Could not resolve host: helm.astronomer.io`, `curl: (7) Failed to connect
//! to … port 443 …`, `curl: (28) Connection timed out after 10001 milliseconds`, `curl: (35)`,
//! `curl: (60)` …) or BusyBox wget did (`wget: bad address 'helm.astronomer.io'`). A status
//! line names no host: it answers the next URL of the command line above it, in order; with
//! `-L` a redirect (`3xx`) waits for the status that follows it. An error that names a host
//! (`Could not resolve host: X`) is that host's, one that does not the next URL's.

use crate::facts::{At, EgressCheck, Facts, Severity};
use crate::input::text;

/// How `apply`'s probe starts each of its lines: `<prefix><url>: <what curl printed first>`.
pub const PROBE_LINE_PREFIX: &str = "astro-upgrade egress ";

/// The shell script of `apply`'s probe container: for each URL of `$ASTRO_UPGRADE_EGRESS_URLS`,
/// the first line `curl -sSI` prints (a status line, or curl's error), after
/// [`PROBE_LINE_PREFIX`] and the URL. The upgrader's image installs curl (`apk add … curl` in
/// its Dockerfile); without curl the line says `sh: curl: not found`, which proves nothing.
pub const PROBE_SCRIPT: &str = "for url in $ASTRO_UPGRADE_EGRESS_URLS; do \
line=$(curl -sSI --max-time 20 \"$url\" 2>&1 | head -n 1 | tr -d '\\r'); \
echo \"astro-upgrade egress $url: ${line:-no answer}\"; done";

/// The probe container's environment variable naming the URLs to test, space-separated.
pub const PROBE_URLS_ENV: &str = "ASTRO_UPGRADE_EGRESS_URLS";

/// Reads `text`, whose first line is line `first_line` of the source `name`; `command` is the
/// command line that printed it, when the paste showed one.
pub fn read(name: &str, text: &str, first_line: u32, command: Option<&str>) -> Facts {
    let mut reader = Reader {
        name,
        facts: Facts::default(),
        pending: Vec::new(),
        follows_redirects: false,
        redirect: None,
    };
    if let Some(command) = command {
        reader.command(command);
    }
    for line in text::lines(text, first_line) {
        let content = line.text.trim();
        if content.is_empty() {
            continue;
        }
        if let Some(command) = text::command_of(content) {
            reader.flush_redirect();
            reader.command(command);
            continue;
        }
        reader.line(content, line.number);
    }
    reader.flush_redirect();
    reader.facts
}

/// How strongly `text` looks like this reader's input, 0 (not at all) to 100 (certainly).
/// curl's own output stays below what the transcript reader needs to read a command it ignores
/// (a `curl` run on a workstation says nothing of the cluster's egress).
pub fn sniff(text: &str) -> u32 {
    let mut score = 0;
    for line in text::lines(text, 1).take(200) {
        let content = line.text.trim();
        if content.starts_with(PROBE_LINE_PREFIX) {
            return 95;
        }
        if curl_error(content).is_some() || status_line(content).is_some() {
            score = 60;
        }
    }
    score
}

/// `HTTP/1.1 200 OK`, `HTTP/2 301`, `HTTP/2.0 404`: the status code.
fn status_line(line: &str) -> Option<u16> {
    let rest = line.strip_prefix("HTTP/")?;
    let (version, rest) = rest.split_once(' ')?;
    let version_ok = !version.is_empty()
        && version.len() <= 3
        && version.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let code = rest.split(' ').next()?;
    if !version_ok || code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    code.parse().ok()
}

/// `curl: (6) Could not resolve host: X`: the message after the code.
fn curl_error(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("curl: (")?;
    let (code, message) = rest.split_once(") ")?;
    (!code.is_empty() && code.bytes().all(|b| b.is_ascii_digit())).then_some(message)
}

/// The host an error message names (`Could not resolve host: X`, `Failed to connect to X port
/// 443`, BusyBox's `bad address 'X'`); not a proxy's.
fn host_named(message: &str) -> Option<String> {
    if message.contains("proxy") {
        return None;
    }
    let after = [
        "resolve host: ",
        "connect to ",
        "bad address '",
        "resolve host '",
    ]
    .iter()
    .find_map(|marker| message.split_once(marker).map(|(_, rest)| rest))?;
    let host: String = after
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        .collect();
    (host.contains('.')).then(|| host.to_ascii_lowercase())
}

/// A URL without its user and password (never kept), and its host, lower-case.
fn url_and_host(word: &str) -> Option<(String, String)> {
    let word = word.trim_matches(|c| c == '"' || c == '\'');
    let (scheme, rest) = word.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
        return None;
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let host = authority
        .split(':')
        .next()
        .unwrap_or(authority)
        .to_ascii_lowercase();
    if host.is_empty() {
        return None;
    }
    Some((format!("{scheme}://{authority}{path}"), host))
}

/// Whether curl's arguments ask it to follow redirects (`-L`, `--location`, `-sSIL`).
fn follows_redirects(words: &[&str]) -> bool {
    words.iter().any(|w| {
        *w == "--location"
            || *w == "--location-trusted"
            || (w.starts_with('-') && !w.starts_with("--") && w.contains('L'))
    })
}

struct Reader<'n> {
    name: &'n str,
    facts: Facts,
    /// URLs of the command line above whose answer has not been read yet, in order.
    pending: Vec<(String, String)>,
    follows_redirects: bool,
    /// A redirect under `-L`, waiting for the status after it: (URL, host, status line, line).
    redirect: Option<(String, String, String, u32)>,
}

impl Reader<'_> {
    fn command(&mut self, command: &str) {
        let words = text::command_words(command);
        self.pending = words.iter().filter_map(|w| url_and_host(w)).collect();
        self.follows_redirects = follows_redirects(&words);
    }

    fn record(
        &mut self,
        url: Option<String>,
        host: String,
        reachable: bool,
        detail: &str,
        line: u32,
    ) {
        self.facts.egress.push(EgressCheck {
            host,
            url,
            reachable,
            detail: detail.to_string(),
            at: At::new(self.name, line),
        });
    }

    /// A redirect whose target never answered still proves the host answered.
    fn flush_redirect(&mut self) {
        if let Some((url, host, detail, line)) = self.redirect.take() {
            self.record(Some(url), host, true, &detail, line);
        }
    }

    fn line(&mut self, content: &str, number: u32) {
        if let Some(rest) = content.strip_prefix(PROBE_LINE_PREFIX) {
            return self.probe_line(rest, number);
        }
        let wget_status = content
            .strip_prefix("wget: server returned error: ")
            .filter(|rest| status_line(rest).is_some());
        if let Some(code) = status_line(content).or_else(|| wget_status.and_then(status_line)) {
            let detail = wget_status.unwrap_or(content);
            return self.status(code, detail, number);
        }
        let error = curl_error(content).or_else(|| content.strip_prefix("wget: "));
        if let Some(message) = error {
            self.error(message, content, number);
        }
    }

    fn status(&mut self, code: u16, detail: &str, number: u32) {
        if let Some((url, host, _, _)) = self.redirect.take() {
            // the redirect's target answered: the host answered, and its result is this one
            if (300..400).contains(&code) {
                self.redirect = Some((url, host, detail.to_string(), number));
            } else {
                self.record(Some(url), host, true, detail, number);
            }
            return;
        }
        if self.pending.is_empty() {
            self.facts.diagnose(
                self.name,
                number,
                Severity::Warning,
                "an HTTP status line without the URL it answers: paste the `curl` command line above it",
            );
            return;
        }
        let (url, host) = self.pending.remove(0);
        if self.follows_redirects && (300..400).contains(&code) {
            self.redirect = Some((url, host, detail.to_string(), number));
        } else {
            self.record(Some(url), host, true, detail, number);
        }
    }

    fn error(&mut self, message: &str, detail: &str, number: u32) {
        let named = host_named(message);
        // an error during a redirect belongs to the redirect's URL
        if let Some((url, host, _, _)) = self.redirect.take() {
            self.record(Some(url), host, false, detail, number);
            return;
        }
        let position = match &named {
            Some(named) => self.pending.iter().position(|(_, host)| host == named),
            None => (!self.pending.is_empty()).then_some(0),
        };
        match (position, named) {
            (Some(at), _) => {
                let (url, host) = self.pending.remove(at);
                self.record(Some(url), host, false, detail, number);
            }
            (None, Some(host)) => self.record(None, host, false, detail, number),
            (None, None) => self.facts.diagnose(
                self.name,
                number,
                Severity::Warning,
                "an error without the host it is about: paste the `curl` command line above it",
            ),
        }
    }

    /// `<url>: <first line>` as the probe prints it.
    fn probe_line(&mut self, rest: &str, number: u32) {
        let Some((url, detail)) = rest.split_once(": ") else {
            return;
        };
        let Some((url, host)) = url_and_host(url) else {
            return;
        };
        let detail = detail.trim();
        if status_line(detail).is_some() {
            self.record(Some(url), host, true, detail, number);
        } else if curl_error(detail).is_some() {
            self.record(Some(url), host, false, detail, number);
        } else {
            self.facts.diagnose(
                self.name,
                number,
                Severity::Warning,
                format!("the probe could not test {host}: {detail}"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results(text: &str, command: Option<&str>) -> Vec<(String, bool, String)> {
        read("egress.txt", text, 1, command)
            .egress
            .into_iter()
            .map(|e| (e.host, e.reachable, e.detail))
            .collect()
    }

    fn r(host: &str, reachable: bool, detail: &str) -> (String, bool, String) {
        (host.to_string(), reachable, detail.to_string())
    }

    #[test]
    fn a_status_line_answers_the_url_of_the_command_above_it() {
        let text = "$ kubectl run egress-test -n default --rm -i --restart=Never --image=curlimages/curl -- curl -sSI https://updates.astronomer.io/astronomer-certified\n\
                    HTTP/2 200\r\n\
                    content-type: application/json\n\
                    date: Tue, 02 Mar 2021 09:14:22 GMT\n\
                    \n\
                    pod \"egress-test\" deleted\n";
        assert_eq!(
            results(text, None),
            [r("updates.astronomer.io", true, "HTTP/2 200")]
        );
    }

    #[test]
    fn curl_errors_name_their_host_or_take_the_next_url() {
        let text = "$ kubectl run t --rm -i --restart=Never --image=curlimages/curl -- curl -sSI https://helm.astronomer.io/index.yaml https://quay.io/v2/ https://updates.astronomer.io/astronomer-certified\n\
                    curl: (6) Could not resolve host: helm.astronomer.io\n\
                    HTTP/1.1 401 Unauthorized\n\
                    curl: (28) Connection timed out after 20001 milliseconds\n";
        assert_eq!(
            results(text, None),
            [
                r(
                    "helm.astronomer.io",
                    false,
                    "curl: (6) Could not resolve host: helm.astronomer.io"
                ),
                r("quay.io", true, "HTTP/1.1 401 Unauthorized"),
                r(
                    "updates.astronomer.io",
                    false,
                    "curl: (28) Connection timed out after 20001 milliseconds"
                ),
            ]
        );
    }

    #[test]
    fn the_command_may_come_from_the_transcript_and_redirects_are_followed() {
        let command = "kubectl exec -it deploy/astronomer-houston -n astronomer -- curl -sSIL https://helm.astronomer.io";
        let text = "HTTP/2 301\nlocation: https://helm.astronomer.io/\n\nHTTP/2 200\n";
        assert_eq!(
            results(text, Some(command)),
            [r("helm.astronomer.io", true, "HTTP/2 200")]
        );
    }

    #[test]
    fn reads_the_probe_s_lines_and_drops_a_password_in_a_url() {
        let text = "astro-upgrade egress https://helm.astronomer.io/index.yaml: HTTP/2 200\n\
                    astro-upgrade egress https://updates.astronomer.io/astronomer-certified: curl: (7) Failed to connect to updates.astronomer.io port 443: Connection refused\n\
                    astro-upgrade egress https://u:s3cret@quay.io/v2/: sh: curl: not found\n";
        let facts = read("probe", text, 1, None);
        let found: Vec<_> = facts
            .egress
            .iter()
            .map(|e| (e.host.as_str(), e.reachable, e.url.as_deref()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "helm.astronomer.io",
                    true,
                    Some("https://helm.astronomer.io/index.yaml")
                ),
                (
                    "updates.astronomer.io",
                    false,
                    Some("https://updates.astronomer.io/astronomer-certified")
                ),
            ]
        );
        assert_eq!(facts.diagnostics.len(), 1);
        assert!(facts.diagnostics[0]
            .message
            .contains("quay.io: sh: curl: not found"));
        assert!(!format!("{facts:?}").contains("s3cret"));
    }

    #[test]
    fn busybox_wget_and_a_status_without_its_url() {
        let text = "wget: bad address 'helm.astronomer.io'\nHTTP/1.1 200 OK\n";
        let facts = read("egress.txt", text, 1, None);
        assert_eq!(facts.egress.len(), 1);
        assert!(!facts.egress[0].reachable);
        assert_eq!(facts.egress[0].host, "helm.astronomer.io");
        assert_eq!(facts.diagnostics.len(), 1, "{:?}", facts.diagnostics);
    }

    #[test]
    fn sniffs_the_probe_surely_and_curl_output_only_likely() {
        assert_eq!(
            sniff("astro-upgrade egress https://quay.io/v2/: HTTP/2 401\n"),
            95
        );
        assert_eq!(sniff("curl: (6) Could not resolve host: quay.io\n"), 60);
        assert_eq!(sniff("HTTP/1.1 200 OK\nserver: nginx\n"), 60);
        assert_eq!(sniff("NAME READY STATUS\n"), 0);
        assert!(sniff("HTTP/1.1 2000 OK\n") == 0);
    }
}
