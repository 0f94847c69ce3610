//! `kubectl version` in every shape it has had: the `version.Info{…}` dump, `--short`, the 1.28+
//! default, `-o json`, `-o yaml`, client-only, and the errors printed when the server is away.
//!
//! Only labelled values are taken (`Client Version:`, `Server Version:`, `gitVersion` under
//! `clientVersion`/`serverVersion`), so helm, kind, kernel and image-tag versions are never read
//! as Kubernetes.

use crate::facts::{At, ConnectionError, Diagnostic, Facts, Severity};
use crate::input::text::{self, Line};

/// How many following lines a hard-wrapped `version.Info{…}` may spill onto.
const MAX_WRAPPED_LINES: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Client,
    Server,
    /// `Kubernetes Version:` of `oc version`: the server's Kubernetes, preferred to OpenShift's own.
    Kubernetes,
    Other,
}

#[derive(Default)]
struct Found {
    client: Option<(String, u32)>,
    server: Option<(String, u32)>,
    kubernetes: Option<(String, u32)>,
    error: Option<(ConnectionError, u32)>,
    helm_decoy: Option<u32>,
    /// An error only kubectl's log lines told (`E1127 … couldn't get current server API group
    /// list: … connection refused`), for pastes cut before kubectl's own message.
    logged_error: Option<(ConnectionError, u32)>,
}

impl Found {
    fn set(&mut self, side: Side, version: String, line: u32) {
        let slot = match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
            Side::Kubernetes => &mut self.kubernetes,
            Side::Other => return,
        };
        *slot = Some((version, line));
    }

    fn set_error(&mut self, error: ConnectionError, line: u32) {
        let replace = match self.error {
            None => true,
            Some((ConnectionError::Other, _)) => error != ConnectionError::Other,
            Some(_) => false,
        };
        if replace {
            self.error = Some((error, line));
        }
    }
}

/// Reads `text`, whose first line is line `first_line` of the source `name`; `command` is the
/// command line that printed it, when the paste showed one.
pub fn read(name: &str, text: &str, first_line: u32, command: Option<&str>) -> Facts {
    let lines: Vec<Line> = text::lines(text, first_line).collect();
    let mut found = Found::default();
    let mut section = Side::Other;
    // `oc version` of OpenShift 3 prints `kubernetes v1.11.0+d4cacc0` for the client, then
    // `Server https://…` and the server's `kubernetes …` line.
    let mut openshift3_side = Side::Client;
    let mut i = 0;
    while i < lines.len() {
        let number = lines[i].number;
        let line = strip_bullet(lines[i].text.trim());
        i += 1;
        if line.is_empty() || is_warning(line) {
            continue;
        }
        let segments = label_segments(line);
        let mut labelled_any = false;
        for (j, segment) in segments.iter().enumerate() {
            let Some((side, rest, exact)) = labelled(segment) else {
                continue;
            };
            // `oc version` prints `Kubernetes Version:` first on its line; mid-line it is prose or
            // a log (`[init] Using Kubernetes version: v1.8.4` of kubeadm).
            if side == Side::Kubernetes && j > 0 {
                continue;
            }
            labelled_any = true;
            let rest = rest.trim();
            let last_segment = j + 1 == segments.len();
            if let Some(info) = rest.strip_prefix("version.Info") {
                let (joined, used) = if last_segment {
                    join_wrapped(info, &lines[i..])
                } else {
                    (info.to_string(), 0)
                };
                i += used;
                if let Some(v) = version_info_git_version(&joined) {
                    found.set(side, v, number);
                }
            } else if let Some(v) =
                version_token(rest).filter(|_| exact || starts_with_v_digit(rest))
            {
                if side == Side::Client && calicoctl_follows(&lines[i..]) {
                    continue;
                }
                if side == Side::Server && !starts_with_v_digit(rest) && !v.starts_with("1.") {
                    // `docker info` (`Server Version: 18.09.2`) and OpenShift's own release
                    // (`Server Version: 4.7.13`, whose Kubernetes follows on its own line).
                    continue;
                }
                found.set(side, v, number);
            } else if rest.is_empty() && exact && last_segment {
                if let Some(v) = lines
                    .get(i)
                    .and_then(|next| version_token(next.text.trim()))
                {
                    found.set(side, v, number);
                    i += 1;
                }
            }
        }
        if labelled_any {
            continue;
        }
        if let Some(error) = connection_error(line) {
            found.set_error(error, number);
            continue;
        }
        if let Some(error) = logged_connection_error(line) {
            found.logged_error.get_or_insert((error, number));
            continue;
        }
        if line.starts_with("Server http") {
            openshift3_side = Side::Server;
            continue;
        }
        if let Some(v) = line
            .strip_prefix("kubernetes v")
            .and_then(|rest| version_token(&format!("v{rest}")))
        {
            found.set(openshift3_side, v, number);
            continue;
        }
        if line.contains("version.BuildInfo{") || line.contains("&version.Version{") {
            found.helm_decoy.get_or_insert(number);
            continue;
        }
        scan_structured(line, number, &mut section, &mut found);
    }
    finish(name, text, first_line, command, found)
}

/// Facts and diagnostics from what was found.
fn finish(name: &str, text: &str, first_line: u32, command: Option<&str>, found: Found) -> Facts {
    let mut facts = Facts::default();
    let k = &mut facts.kubernetes;
    if let Some((v, line)) = found.client {
        k.client_version = Some(v);
        k.client_at = Some(At::new(name, line));
    }
    if let Some((v, line)) = found.kubernetes.or(found.server) {
        k.server_version = Some(v);
        k.server_at = Some(At::new(name, line));
    } else if let Some((error, line)) = found.error.or(found.logged_error) {
        k.error = Some(error);
        k.error_at = Some(At::new(name, line));
    }
    let first_text_line = text::raw_lines(text, first_line)
        .find(|(_, raw)| !raw.trim().is_empty())
        .map(|(n, _)| n);
    let mut note = |line: Option<u32>, severity, message: &str| {
        facts.diagnostics.push(Diagnostic {
            source: name.to_string(),
            line,
            severity,
            message: message.to_string(),
        })
    };
    let k = &facts.kubernetes;
    if k.server_version.is_none() && k.client_version.is_none() && k.error.is_none() {
        if let Some(line) = found.helm_decoy {
            note(
                Some(line),
                Severity::Warning,
                "this is `helm version`, not `kubectl version`: no Kubernetes version read",
            );
        } else if first_text_line.is_some() {
            note(
                first_text_line,
                Severity::Warning,
                "no Kubernetes version found; paste the output of `kubectl version`",
            );
        }
    } else if k.server_version.is_none() && k.error.is_none() {
        let client_only = command.is_some_and(|c| c.contains("--client"));
        let message = if client_only {
            "`kubectl version --client` shows only the client; run `kubectl version` against the cluster for the server version"
        } else {
            "no server version in this output; was the cluster reachable?"
        };
        note(
            k.client_at.as_ref().and_then(|at| at.line),
            Severity::Info,
            message,
        );
    }
    facts
}

/// `calicoctl version` prints `Client Version:` too, followed by lines kubectl never prints.
fn calicoctl_follows(following: &[Line]) -> bool {
    following.iter().take(2).any(|next| {
        let next = next.text.trim_start();
        ["Build date:", "Git commit:", "Cluster Version:"]
            .iter()
            .any(|marker| next.starts_with(marker))
    })
}

/// `- ` and `* ` list bullets in front of a pasted line.
fn strip_bullet(line: &str) -> &str {
    line.strip_prefix("- ")
        .or_else(|| line.strip_prefix("* "))
        .map_or(line, str::trim_start)
}

fn is_warning(line: &str) -> bool {
    line.starts_with("WARNING:")
        || line.starts_with("Warning:")
        || line.starts_with("W0")
        || line.starts_with("W1")
}

/// Labels of kubectl's (and `oc`'s) version lines, lower-cased for searching.
const LABELS: [(&str, Side); 3] = [
    ("client version:", Side::Client),
    ("server version:", Side::Server),
    ("kubernetes version:", Side::Kubernetes),
];

/// `Client Version: …`, `Server Version: …` and `oc`'s `Kubernetes Version: …`, with whether
/// the label had kubectl's exact spelling (a hand-typed `Server version:` needs a `v1.x` value).
fn labelled(line: &str) -> Option<(Side, &str, bool)> {
    LABELS.iter().find_map(|&(label, side)| {
        let head = line.get(..label.len())?;
        head.eq_ignore_ascii_case(label).then(|| {
            let exact = head.as_bytes()[0].is_ascii_uppercase() && head.contains(" Version:");
            (side, &line[label.len()..], exact)
        })
    })
}

/// `v1.…`: what a hand-typed version looks like when it is a Kubernetes one.
fn starts_with_v_digit(text: &str) -> bool {
    let text = text.trim_start_matches(['"', '\'', '`']);
    text.strip_prefix('v')
        .is_some_and(|rest| rest.bytes().next().is_some_and(|b| b.is_ascii_digit()))
}

/// A line cut before every version label in it: `Client Version: v1.17.0 Server Version:
/// v1.16.8` (line breaks lost in a ticket) gives two labelled segments.
fn label_segments(line: &str) -> Vec<&str> {
    let lower = line.to_ascii_lowercase();
    let mut cuts: Vec<usize> = LABELS
        .iter()
        .flat_map(|(label, _)| lower.match_indices(label).map(|(at, _)| at))
        .filter(|&at| at > 0)
        .collect();
    if cuts.is_empty() {
        return vec![line];
    }
    crate::sort::sort_by(&mut cuts, usize::cmp);
    let mut segments = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for cut in cuts {
        segments.push(&line[start..cut]);
        start = cut;
    }
    segments.push(&line[start..]);
    segments
}

/// The `version.Info{…}` text with hard-wrapped continuation lines appended (no separator: a
/// wrap may fall inside a value). Returns the text and how many following lines it used.
fn join_wrapped(first: &str, following: &[Line]) -> (String, usize) {
    let mut joined = first.to_string();
    let mut used = 0;
    while !joined.contains('}') && used < following.len().min(MAX_WRAPPED_LINES) {
        let next = following[used].text.trim();
        if next.is_empty() || labelled(next).is_some() || connection_error(next).is_some() {
            break;
        }
        joined.push_str(next);
        used += 1;
    }
    (joined, used)
}

/// `GitVersion:"v1.16.15-eks-ad4801"` of a `version.Info{…}`, else `Major`.`Minor` (`16+` → `16`).
fn version_info_git_version(info: &str) -> Option<String> {
    if let Some(v) = quoted_field(info, "GitVersion:").and_then(version_token) {
        return Some(v);
    }
    let major = quoted_field(info, "Major:")?;
    let minor = quoted_field(info, "Minor:")?.trim_end_matches('+');
    let valid = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (valid(major) && valid(minor)).then(|| format!("{major}.{minor}"))
}

/// The value of `Key:"value"` inside a Go struct dump.
fn quoted_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let at = text.find(key)? + key.len();
    let rest = text[at..].trim_start().strip_prefix('"')?;
    rest.split('"').next()
}

/// A Kubernetes version at the start of `text` (`v1.16.3`, `"v1.18.20-gke.901",`, `1.20.0+k3s1`),
/// without its `v`; pre-release and build parts verbatim.
fn version_token(text: &str) -> Option<String> {
    let token = text
        .trim_start_matches(['"', '\'', '`'])
        .split(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | ',' | '}'))
        .next()?;
    let version = token.strip_prefix('v').unwrap_or(token);
    let mut parts = version.splitn(3, '.');
    let major = parts.next()?;
    let minor_rest = parts.next()?;
    let minor: String = minor_rest
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let numeric = |s: &str| !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit());
    (numeric(major) && numeric(&minor)).then(|| version.to_string())
}

/// `-o json` and `-o yaml`: `gitVersion` values under the `clientVersion`/`serverVersion` keys,
/// in the order the keys appear (a compact JSON document may hold them all on one line).
fn scan_structured(line: &str, number: u32, section: &mut Side, found: &mut Found) {
    const KEYS: [(&str, Option<Side>); 4] = [
        ("clientVersion", Some(Side::Client)),
        ("serverVersion", Some(Side::Server)),
        ("kustomizeVersion", Some(Side::Other)),
        ("gitVersion", None),
    ];
    let mut at = 0;
    while at < line.len() {
        let next = KEYS
            .iter()
            .filter_map(|&(key, side)| line[at..].find(key).map(|pos| (at + pos, key, side)))
            .min_by_key(|&(pos, _, _)| pos);
        let Some((pos, key, side)) = next else {
            return;
        };
        let after = &line[pos + key.len()..];
        let after_key = after.trim_start_matches('"').trim_start();
        let Some(value) = after_key.strip_prefix(':') else {
            at = pos + key.len();
            continue;
        };
        match side {
            Some(side) => *section = side,
            None => {
                if let Some(v) = version_token(value.trim_start()) {
                    found.set(*section, v, number);
                }
            }
        }
        at = pos + key.len();
    }
}

/// The connection error a line of kubectl output reports.
fn connection_error(line: &str) -> Option<ConnectionError> {
    // Retyped into tickets, these lines lose their capitals.
    let starts = |prefix: &str| {
        line.get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    };
    if starts("The connection to the server") && line.contains("refused") {
        return Some(ConnectionError::ConnectionRefused);
    }
    if starts("Unable to connect to the server") {
        return Some(ConnectionError::UnableToConnect);
    }
    if line.contains("You must be logged in to the server") || line.ends_with("(Unauthorized)") {
        return Some(ConnectionError::Unauthorized);
    }
    // `Couldn't read version from server:` is how old kubectl began the same errors.
    let is_error = starts("error:")
        || starts("Error from server")
        || starts("Couldn't read version from server");
    if !is_error {
        return None;
    }
    // Older kubectl reported the same failures as `error: couldn't read version from server: …`.
    let error = if line.contains("connection refused") {
        ConnectionError::ConnectionRefused
    } else if [
        "i/o timeout",
        "no such host",
        "no route to host",
        "TLS handshake timeout",
        "x509:",
    ]
    .iter()
    .any(|cause| line.contains(cause))
    {
        ConnectionError::UnableToConnect
    } else if line.contains("Unauthorized") || line.contains("provide credentials") {
        ConnectionError::Unauthorized
    } else {
        ConnectionError::Other
    };
    Some(error)
}

/// The failure a klog error line of kubectl reports (`E1127 10:01:02.123456  12345
/// memcache.go:265] couldn't get current server API group list: … connection refused`).
fn logged_connection_error(line: &str) -> Option<ConnectionError> {
    let bytes = line.as_bytes();
    let klog = bytes.len() > 6 && bytes[0] == b'E' && bytes[1..5].iter().all(u8::is_ascii_digit);
    if !klog {
        return None;
    }
    let message = line.split_once("] ")?.1;
    let cause = message.strip_prefix("couldn't get current server API group list")?;
    Some(if cause.contains("connection refused") {
        ConnectionError::ConnectionRefused
    } else if cause.contains("Unauthorized") || cause.contains("provide credentials") {
        ConnectionError::Unauthorized
    } else {
        ConnectionError::UnableToConnect
    })
}

/// How strongly `text` looks like this reader's input, 0 (not at all) to 100 (certainly).
pub fn sniff(text: &str) -> u32 {
    let mut score = 0;
    // `oc version` of OpenShift 3: `oc v3.9.30` then `kubernetes v1.9.1+a0ce1bc657`
    let mut oc_seen = false;
    for line in text::lines(text, 1).take(200) {
        let t = strip_bullet(line.text.trim());
        let v_digit = |prefix: &str| t.strip_prefix(prefix).is_some_and(starts_with_v_digit);
        if v_digit("oc ") || v_digit("openshift ") {
            oc_seen = true;
        } else if v_digit("kubernetes ") && oc_seen {
            score = score.max(85);
        }
        let labelled_version = labelled(t).is_some_and(|(_, rest, _)| {
            let rest = rest.trim();
            version_token(rest).is_some() || rest.contains("GitVersion:")
        });
        // A ticket template answered on one line: `- Kubernetes version: Client Version: v1.28.4 …`.
        let labelled_inside = label_segments(t).iter().skip(1).any(|segment| {
            labelled(segment)
                .is_some_and(|(_, rest, exact)| exact && starts_with_v_digit(rest.trim()))
        });
        let structured = t.contains("\"clientVersion\"")
            || t.contains("\"serverVersion\"")
            || t.starts_with("clientVersion:")
            || t.starts_with("serverVersion:");
        if labelled_version {
            score = score.max(95);
        } else if labelled_inside {
            score = score.max(90);
        } else if structured {
            score = score.max(85);
        } else if connection_error(t).is_some_and(|e| e != ConnectionError::Other) {
            score = score.max(60);
        }
    }
    score
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_version_tokens() {
        assert_eq!(
            version_token("v1.16.15-eks-ad4801").as_deref(),
            Some("1.16.15-eks-ad4801")
        );
        assert_eq!(
            version_token("\"v1.20.0+k3s1\",").as_deref(),
            Some("1.20.0+k3s1")
        );
        assert_eq!(version_token("(e.g."), None);
        assert_eq!(version_token("version.Info{"), None);
    }

    #[test]
    fn falls_back_to_major_minor() {
        assert_eq!(
            version_info_git_version(r#"{Major:"1", Minor:"16+", Platform:"linux/amd64"}"#)
                .as_deref(),
            Some("1.16")
        );
    }
}
