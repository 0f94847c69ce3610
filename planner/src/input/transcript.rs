//! A whole terminal session: cut at its command lines, each piece read by the reader its command
//! implies (or, for output without a command, by the reader most confident about its content).

use crate::facts::{Facts, Pod, Severity};
use crate::input::{read_as, sniff as sniff_kind, text, EvidenceKind};
use crate::scan;

/// Below this confidence a paste without a command is not read by any reader.
const SNIFF_THRESHOLD: u32 = 30;
/// Output of a command we do not know is read only when its content is this clearly one kind.
const UNKNOWN_COMMAND_THRESHOLD: u32 = 50;

/// What a paste nobody recognises is told.
const UNRECOGNISED: &str =
    "could not tell what this is; paste it with the command that printed it, or name its kind";

/// Output of a command we do not read is still read when its content is this certain.
const IGNORED_COMMAND_RESCUE: u32 = 90;

/// What a command line means for the readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Its output is evidence of this kind.
    Read(EvidenceKind),
    /// A command we know whose output is not evidence (`kubectl get namespaces`, `helm version`).
    Ignore,
    /// A command we do not know.
    Unknown,
}

/// Reads `text`, whose first line is line `first_line` of the source `name`; `command` is the
/// command line that printed it, when the paste showed one.
pub fn read(name: &str, text: &str, first_line: u32, command: Option<&str>) -> Facts {
    let _ = command;
    read_with_hint(name, text, first_line, None)
}

/// How strongly `text` looks like this reader's input, 0 (not at all) to 100 (certainly).
pub fn sniff(text: &str) -> u32 {
    let commands = text::lines(text, 1)
        .filter(|line| text::command_of(&line.text).is_some())
        .take(2)
        .count();
    match commands {
        0 => 0,
        1 => 70,
        _ => 90,
    }
}

/// Like [`read`], but output whose command tells nothing (or that has no command line) is read
/// as `hint` when given, and recognised by content otherwise.
pub fn read_with_hint(
    name: &str,
    text: &str,
    first_line: u32,
    hint: Option<EvidenceKind>,
) -> Facts {
    let mut facts = Facts::default();
    let mut session = Session {
        name,
        hint,
        namespace: None,
        pods: Vec::new(),
        pod_pieces: 0,
    };
    // the command whose output is being gathered, and its line number
    let mut current: Option<(String, u32)> = None;
    let mut body_start = 0;
    let mut body_first_line = first_line;
    let mut lines = text::raw_lines(text, first_line);
    while let Some((number, raw)) = lines.next() {
        let cleaned = text::clean_line(raw);
        let line_start = raw.as_ptr() as usize - text.as_ptr() as usize;
        if text::is_bare_prompt(&cleaned) {
            // the shell waiting after the output: the output ends here
            let body = &text[body_start..line_start];
            session.read_output(&mut facts, current.take(), body, body_first_line);
            body_start = next_line_start(text, line_start + raw.len());
            body_first_line = number.saturating_add(1);
            continue;
        }
        let Some(command) = text::command_of(&cleaned) else {
            continue;
        };
        let body = &text[body_start..line_start];
        let mut command = command.to_string();
        // A secret can straddle what reads as a prompt (`password = >k aaa`: `>` is a prompt):
        // the command alone would then quote the secret's tail, where the scanner cannot see its
        // key. Such a line is carried masked as a whole.
        let masked_line = crate::report::redact_secrets(&cleaned);
        if masked_line != cleaned && crate::report::redact_secrets(&command) == command {
            command = masked_line;
        }
        // `kubectl auth can-i \` ⏎ `  create pods`: one command over several lines
        let (mut last_number, mut last_raw) = (number, raw);
        while let Some(stripped) = command.strip_suffix('\\') {
            let Some((next_number, next_raw)) = lines.next() else {
                break;
            };
            command = format!(
                "{} {}",
                stripped.trim_end(),
                text::continued_command(&text::clean_line(next_raw))
            );
            (last_number, last_raw) = (next_number, next_raw);
        }
        session.read_output(&mut facts, current.take(), body, body_first_line);
        current = Some((command, number));
        let line_end = last_raw.as_ptr() as usize - text.as_ptr() as usize + last_raw.len();
        body_start = next_line_start(text, line_end);
        body_first_line = last_number.saturating_add(1);
    }
    let body = &text[body_start.min(text.len())..];
    session.read_output(&mut facts, current, body, body_first_line);
    if session.pod_pieces > 1 {
        facts.merge(Facts {
            pods: session.pods,
            ..Facts::default()
        });
    } else {
        // one listing: its reader already let later rows of a pod replace earlier ones
        facts.pods = session.pods;
    }
    facts
}

/// Byte offset of the line after the one ending at `end` (skips `\n`, `\r\n` or `\r`).
fn next_line_start(text: &str, end: usize) -> usize {
    let bytes = text.as_bytes();
    match bytes.get(end) {
        Some(b'\r') if bytes.get(end + 1) == Some(&b'\n') => end + 2,
        Some(b'\r' | b'\n') => end + 1,
        _ => end,
    }
}

/// What carries over from one command to the next.
struct Session<'a> {
    name: &'a str,
    hint: Option<EvidenceKind>,
    /// Set by `kubens X`, `kubectl config set-context --current --namespace X` or kubens's
    /// `Active namespace is "X".`; applies to later pod listings that name no namespace.
    namespace: Option<String>,
    /// Pod rows of every piece, in order; deduplicated once at the end, because merging each
    /// piece's pods into the whole list would rescan it per piece.
    pods: Vec<Pod>,
    /// How many pieces contributed pod rows.
    pod_pieces: usize,
}

impl Session<'_> {
    /// Reads what follows a command line up to the next one. The command's output may end
    /// earlier, at a fence or a blank line after which something else was pasted (a Dockerfile
    /// after a can-i answer): that tail is read for what its content is.
    fn read_output(
        &mut self,
        facts: &mut Facts,
        command: Option<(String, u32)>,
        body: &str,
        first_line: u32,
    ) {
        let split = command.as_ref().and_then(|(cmd, _)| {
            let own = match classify(cmd) {
                Route::Read(kind) => Some(kind),
                Route::Unknown => self.hint,
                Route::Ignore => None,
            };
            end_of_output(body, first_line, own)
        });
        match split {
            Some((offset, line)) => {
                self.read_piece(facts, command, &body[..offset], first_line);
                self.read_piece(facts, None, &body[offset..], line);
            }
            None => self.read_piece(facts, command, body, first_line),
        }
    }

    fn read_piece(
        &mut self,
        facts: &mut Facts,
        command: Option<(String, u32)>,
        body: &str,
        first_line: u32,
    ) {
        let blank = body.trim().is_empty();
        let Some((cmd, command_line)) = command else {
            match self.hint {
                _ if blank => {}
                Some(kind) => self.read_kind(facts, kind, None, body, first_line),
                None => self.read_paste(facts, body, first_line),
            }
            return;
        };
        let cmd = cmd.as_str();
        if let Some(ns) = namespace_switch(cmd) {
            self.namespace = Some(ns.to_string());
        }
        // `kubectl config use-context prod` after a get-contexts listing: prod is current now
        // (until a later listing, which replaces this one, says otherwise).
        if let Some(name) = context_switch(cmd) {
            if !body.contains("error") {
                for context in &mut facts.contexts {
                    context.current = context.name == name;
                }
                return;
            }
        }
        let kind = match classify(cmd) {
            Route::Read(kind) => Some(kind),
            _ if blank => None,
            // A command we do not read, yet its output is unmistakably evidence (a pod table
            // after `helm upgrade fails like this`): read it anyway.
            Route::Ignore => self.recognise(
                facts,
                body,
                IGNORED_COMMAND_RESCUE,
                (cmd, command_line),
                "the planner does not read it",
            ),
            Route::Unknown => match self.hint {
                Some(kind) => Some(kind),
                None => self.recognise(
                    facts,
                    body,
                    UNKNOWN_COMMAND_THRESHOLD,
                    (cmd, command_line),
                    "not a command the planner reads",
                ),
            },
        };
        if kind != Some(EvidenceKind::Pods) {
            self.note_namespace_messages(body);
        }
        if let Some(kind) = kind {
            self.read_kind(facts, kind, Some(cmd), body, first_line);
        }
    }

    /// Output pasted without its command: cut at blank lines, each block recognised by its
    /// content; a block nobody recognises continues the block before it (a table's tail, a
    /// JSON document's second half), or is reported when nothing came before.
    fn read_paste(&mut self, facts: &mut Facts, body: &str, first_line: u32) {
        // (kind, byte range, first line) of the block being gathered
        let mut group: Option<(EvidenceKind, usize, usize, u32)> = None;
        for (start, end, line) in blocks(body, first_line) {
            let block = &body[start..end];
            let (kind, score) = sniff_kind(block);
            match group {
                Some((group_kind, group_start, _, group_line))
                    if score < SNIFF_THRESHOLD || kind == group_kind =>
                {
                    group = Some((group_kind, group_start, end, group_line));
                }
                _ if score >= SNIFF_THRESHOLD => {
                    if let Some((kind, s, e, l)) = group.take() {
                        self.read_kind(facts, kind, None, &body[s..e], l);
                    }
                    group = Some((kind, start, end, line));
                }
                _ => {
                    self.note_namespace_messages(block);
                    let line = first_nonblank_line(block, line);
                    self.note(facts, line, Severity::Warning, UNRECOGNISED.to_string());
                }
            }
        }
        if let Some((kind, s, e, l)) = group {
            self.read_kind(facts, kind, None, &body[s..e], l);
        }
    }

    /// Reads one piece as `kind`, fills in the session's namespace for its pods and merges it.
    fn read_kind(
        &mut self,
        facts: &mut Facts,
        kind: EvidenceKind,
        cmd: Option<&str>,
        body: &str,
        first_line: u32,
    ) {
        let mut piece = read_as(kind, self.name, body, first_line, cmd);
        let mut kind = kind;
        if cmd.is_some() && !has_evidence(kind, &piece) {
            // A prose line that starts like a command (`helm list shows nothing`) went before
            // output of another kind; read that output for what it is.
            let (other, score) = sniff_kind(body);
            if other != kind && score >= IGNORED_COMMAND_RESCUE {
                piece = read_as(other, self.name, body, first_line, None);
                kind = other;
            }
        }
        if kind == EvidenceKind::Pods {
            let listed_all = cmd.is_some_and(|c| {
                text::command_words(c)
                    .iter()
                    .any(|w| *w == "-A" || *w == "--all-namespaces")
            });
            if !listed_all {
                if let Some(ns) = &self.namespace {
                    for pod in piece.pods.iter_mut().filter(|p| p.namespace.is_none()) {
                        pod.namespace = Some(ns.clone());
                    }
                }
            }
        }
        if !piece.pods.is_empty() {
            self.pod_pieces += 1;
            self.pods.append(&mut piece.pods);
        }
        facts.merge(piece);
    }

    /// The kind `body` surely is (sniffed at `threshold` or above); otherwise notes that the
    /// output of `command` was ignored, and why.
    fn recognise(
        &self,
        facts: &mut Facts,
        body: &str,
        threshold: u32,
        (command, line): (&str, u32),
        why: &str,
    ) -> Option<EvidenceKind> {
        match sniff_kind(body) {
            (kind, score) if score >= threshold => Some(kind),
            _ => {
                let message = format!("ignored the output of `{}`: {why}", short(command));
                self.note(facts, line, Severity::Info, message);
                None
            }
        }
    }

    fn note(&self, facts: &mut Facts, line: u32, severity: Severity, message: String) {
        facts.diagnose(self.name, line, severity, message);
    }

    /// kubens prints `Active namespace is "X".` after switching.
    fn note_namespace_messages(&mut self, body: &str) {
        for line in text::lines(body, 1) {
            if let Some(rest) = line.text.trim().strip_prefix("Active namespace is \"") {
                if let Some(ns) = rest.split('"').next().filter(|ns| !ns.is_empty()) {
                    self.namespace = Some(ns.to_string());
                }
            }
        }
    }
}

/// How many fences and blank lines of one command's output are tried as its end: each try
/// sniffs what follows, and a long listing with blank lines between its rows must stay cheap.
const MAX_OUTPUT_END_TRIES: usize = 32;

/// Where a command's output ends before the next command line, as (byte offset, line number):
/// at a fence or blank line after some output, when what follows is on its own clearly
/// evidence of another kind than `own` (the command's kind; `None` for a command not read).
/// Output of the same kind (a pod table whose header follows a blank line) is not cut.
fn end_of_output(body: &str, first_line: u32, own: Option<EvidenceKind>) -> Option<(usize, u32)> {
    let threshold = if own.is_some() {
        UNKNOWN_COMMAND_THRESHOLD
    } else {
        IGNORED_COMMAND_RESCUE
    };
    let mut seen_output = false;
    let mut after_boundary = false;
    let mut tries = 0;
    for (number, raw) in text::raw_lines(body, first_line) {
        // only blank lines and fences can end the output; most lines are neither
        let maybe_end = raw.trim().is_empty() || raw.contains("```") || raw.contains("~~~");
        if !maybe_end || !text::clean_line(raw).trim().is_empty() {
            seen_output = true;
            after_boundary = false;
            continue;
        }
        if !seen_output || after_boundary {
            continue;
        }
        after_boundary = true;
        tries += 1;
        if tries > MAX_OUTPUT_END_TRIES {
            return None;
        }
        let start = raw.as_ptr() as usize - body.as_ptr() as usize;
        let rest = &body[start..];
        if rest.trim().is_empty() {
            return None;
        }
        let (kind, score) = sniff_kind(rest);
        if score >= threshold && !same_evidence(Some(kind), own) {
            return Some((start, number));
        }
    }
    None
}

/// Helm list and history are one reader's.
fn same_evidence(a: Option<EvidenceKind>, b: Option<EvidenceKind>) -> bool {
    let helm = |k| matches!(k, Some(EvidenceKind::HelmList | EvidenceKind::HelmHistory));
    a == b || (helm(a) && helm(b))
}

/// Blocks of non-blank lines: (start byte, end byte, first line number); a block's range
/// includes the blank lines before it so line numbers stay exact.
fn blocks(body: &str, first_line: u32) -> Vec<(usize, usize, u32)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, usize, u32)> = None;
    let mut gap_start = 0;
    let mut gap_line = first_line;
    for (number, raw) in text::raw_lines(body, first_line) {
        let start = raw.as_ptr() as usize - body.as_ptr() as usize;
        let end = next_line_start(body, start + raw.len());
        let cleaned = text::clean_line(raw);
        if cleaned.trim().is_empty() {
            if let Some(block) = current.take() {
                out.push(block);
                gap_start = block.1;
                gap_line = number;
            }
            continue;
        }
        if is_table_header(&cleaned) {
            // two tables pasted back to back: the second header starts a new block
            if let Some(block) = current.take() {
                out.push(block);
                gap_start = block.1;
                gap_line = number;
            }
        }
        match &mut current {
            Some(block) => block.1 = end,
            None => current = Some((gap_start, end, gap_line)),
        }
    }
    out.extend(current);
    out
}

/// Whether a reader of `kind` found anything in its piece (an empty pod listing counts).
fn has_evidence(kind: EvidenceKind, facts: &Facts) -> bool {
    match kind {
        EvidenceKind::KubectlVersion => {
            let k = &facts.kubernetes;
            k.client_version.is_some() || k.server_version.is_some() || k.error.is_some()
        }
        EvidenceKind::Pods => facts.pods_listed,
        EvidenceKind::CanI => !facts.permissions.is_empty(),
        EvidenceKind::Images => !facts.images.is_empty(),
        EvidenceKind::HelmList | EvidenceKind::HelmHistory => {
            !facts.helm_releases.is_empty() || !facts.helm_history.is_empty()
        }
        EvidenceKind::StorageClass => !facts.storage_classes.is_empty(),
        EvidenceKind::Contexts => !facts.contexts.is_empty(),
        EvidenceKind::Connection => facts.database_connection.is_some(),
        EvidenceKind::Egress => !facts.egress.is_empty(),
        EvidenceKind::Transcript | EvidenceKind::Bundle => true,
    }
}

/// A kubectl/helm table header: `NAME`, `NAMESPACE` or `CURRENT` then upper-case column names.
fn is_table_header(line: &str) -> bool {
    let mut words = line.split_whitespace();
    let first_ok = matches!(words.next(), Some("NAME" | "NAMESPACE" | "CURRENT"));
    first_ok
        && words.clone().count() >= 2
        && words.all(|w| {
            w.bytes()
                .all(|b| b.is_ascii_uppercase() || matches!(b, b'-' | b'_' | b'(' | b')'))
        })
}

fn first_nonblank_line(body: &str, first_line: u32) -> u32 {
    text::raw_lines(body, first_line)
        .find(|(_, raw)| !raw.trim().is_empty())
        .map_or(first_line, |(n, _)| n)
}

/// A command shortened for a message, its credentials masked first (a cut could hide where a
/// password ends).
fn short(command: &str) -> String {
    let command = crate::report::redact_secrets(command);
    let mut out: String = command.chars().take(60).collect();
    if out.len() < command.len() {
        out.push('…');
    }
    out
}

/// The namespace a command switches the session to, if it does.
fn namespace_switch(command: &str) -> Option<&str> {
    let words = strip_wrappers(text::command_words(command));
    match words.as_slice() {
        ["kubens", ns, ..] if !ns.starts_with('-') => Some(ns),
        [tool, "config", "set-context", rest @ ..] if is_kubectl(tool) => {
            if rest.contains(&"--current") {
                text::command_namespace(command)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// `kubectl config use-context NAME` (or `kubectx NAME`): the context it makes current.
fn context_switch(command: &str) -> Option<&str> {
    let words = strip_wrappers(text::command_words(command));
    let (tool, args) = words.split_first()?;
    if *tool == "kubectx" {
        return args
            .first()
            .copied()
            .filter(|name| !name.starts_with('-') && *name != "-");
    }
    if !is_kubectl(tool) {
        return None;
    }
    match positionals(args, text::KUBECTL_VALUE_FLAGS).as_slice() {
        ["config", "use-context" | "use", name, ..] => Some(name),
        _ => None,
    }
}

fn is_kubectl(word: &str) -> bool {
    matches!(
        word,
        "kubectl" | "k" | "oc" | "kubectl.exe" | "microk8s.kubectl" | "kc"
    )
}

/// Drops `sudo`, `watch -n 2`, `time` and `NAME=value` prefixes, and `microk8s kubectl`-style
/// wrappers, so the first word is the tool.
fn strip_wrappers(mut words: Vec<&str>) -> Vec<&str> {
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        match w {
            "sudo" | "time" | "command" | "exec" => i += 1,
            "watch" => {
                i += 1;
                while i < words.len() && words[i].starts_with('-') {
                    let takes_value = matches!(words[i], "-n" | "--interval");
                    i += if takes_value { 2 } else { 1 };
                }
            }
            "microk8s" | "k3s" | "minikube" if words.get(i + 1) == Some(&"kubectl") => {
                i += 1;
            }
            _ if w.contains('=') && !w.starts_with('-') => i += 1,
            _ => break,
        }
    }
    let mut words = words.split_off(i.min(words.len()));
    words.retain(|w| *w != "--");
    words
}

/// helm options that take a value in the next word.
const HELM_VALUE_FLAGS: &[&str] = &[
    "-n",
    "--namespace",
    "--kube-context",
    "--kubeconfig",
    "--tiller-namespace",
    "-o",
    "--output",
    "--max",
    "--offset",
    "-f",
    "--filter",
    "--host",
    "--time-format",
    // global options before the subcommand (`helm --kube-context prod list -A`)
    "--kube-apiserver",
    "--kube-as-user",
    "--kube-as-group",
    "--kube-ca-file",
    "--kube-token",
    "--registry-config",
    "--repository-cache",
    "--repository-config",
];

/// Positional words of a command (flags and their values dropped).
fn positionals<'a>(args: &[&'a str], value_flags: &[&str]) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i];
        if a.starts_with('-') && a.len() > 1 {
            i += if value_flags.contains(&a) { 2 } else { 1 };
        } else {
            out.push(a);
            i += 1;
        }
    }
    out
}

/// What reader a command's output goes to.
pub fn classify(command: &str) -> Route {
    let first_segment = command.split('|').next().unwrap_or(command);
    let words = strip_wrappers(text::command_words(first_segment));
    let Some((&tool, args)) = words.split_first() else {
        return Route::Unknown;
    };
    let tool = scan::trim_end_str(tool, ".exe");
    match tool {
        "kubectl" | "k" | "oc" | "kc" | "microk8s.kubectl" => classify_kubectl(command, args),
        "helm" | "helm2" | "helm3" => {
            let pos = positionals(args, HELM_VALUE_FLAGS);
            match pos.first().copied() {
                Some("list" | "ls") => Route::Read(EvidenceKind::HelmList),
                Some("history" | "hist") => Route::Read(EvidenceKind::HelmHistory),
                Some(_) => Route::Ignore,
                None => Route::Unknown,
            }
        }
        "docker" | "podman" | "nerdctl" | "crictl" => {
            let pos = positionals(args, &["-f", "--file", "-t", "--tag", "--format"]);
            match pos.as_slice() {
                ["images" | "build" | "pull" | "inspect", ..]
                | ["image", "ls" | "list" | "inspect", ..] => Route::Read(EvidenceKind::Images),
                _ => Route::Ignore,
            }
        }
        "cat" | "type" | "Get-Content" | "gc" | "less" | "more" | "head" | "tail" | "bat" => {
            let file = args
                .iter()
                .rev()
                .find(|a| !a.starts_with('-'))
                .copied()
                .unwrap_or("");
            let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
            if base.starts_with("Dockerfile") || base.ends_with(".Dockerfile") {
                Route::Read(EvidenceKind::Images)
            } else if let Some(kind) = EvidenceKind::from_file_name(base) {
                Route::Read(kind)
            } else {
                Route::Unknown
            }
        }
        // `kubens NS` prints the context it changed, `kubens -c` the current namespace.
        "kubens"
            if args
                .first()
                .is_some_and(|a| !a.starts_with('-') || *a == "-c" || *a == "--current") =>
        {
            Route::Read(EvidenceKind::Contexts)
        }
        "kubens" | "kubectx" | "cd" | "export" | "echo" | "ls" | "clear" | "astro" | "source"
        | "set" | "unset" | "alias" | "history" | "exit" | "which" | "mkdir" | "vi" | "vim"
        | "nano" | "kind" | "k3d" | "minikube" | "uname" | "fission" | "gcloud" | "aws" | "az"
        | "eksctl" | "curl" | "ssh" | "git" => Route::Ignore,
        _ => Route::Unknown,
    }
}

fn classify_kubectl(command: &str, args: &[&str]) -> Route {
    let pos = positionals(args, text::KUBECTL_VALUE_FLAGS);
    let output = output_format(args);
    let wants_images = output.contains("image") || output == "wide";
    match pos.as_slice() {
        ["version", ..] => Route::Read(EvidenceKind::KubectlVersion),
        ["auth", "can-i", ..] => Route::Read(EvidenceKind::CanI),
        ["config", "get-contexts" | "view" | "current-context", ..] => {
            Route::Read(EvidenceKind::Contexts)
        }
        ["config", "set-context", ..] if args.contains(&"--current") => {
            Route::Read(EvidenceKind::Contexts)
        }
        ["get", resources, ..] => {
            if command.contains("astronomer-bootstrap") {
                return Route::Read(EvidenceKind::Connection);
            }
            let mut route = Route::Ignore;
            for resource in resources.split(',') {
                let resource = resource
                    .split('/')
                    .next()
                    .unwrap_or(resource)
                    .to_ascii_lowercase();
                let resource = resource.split('.').next().unwrap_or(&resource).to_string();
                let kind = match resource.as_str() {
                    "pods" | "pod" | "po" | "all" => {
                        if output.contains("image") {
                            EvidenceKind::Images
                        } else {
                            EvidenceKind::Pods
                        }
                    }
                    "storageclass" | "storageclasses" | "sc" => EvidenceKind::StorageClass,
                    "deploy" | "deployment" | "deployments" | "sts" | "statefulset"
                    | "statefulsets" | "ds" | "daemonset" | "daemonsets" | "cronjob"
                    | "cronjobs" | "cj" | "job" | "jobs" | "rs" | "replicaset" | "replicasets"
                        if wants_images =>
                    {
                        EvidenceKind::Images
                    }
                    _ => continue,
                };
                route = Route::Read(kind);
                break;
            }
            route
        }
        ["describe", resource, rest @ ..] => {
            let (resource, named) = match resource.split_once('/') {
                Some((resource, name)) => (resource, Some(name)),
                None => (*resource, rest.first().copied()),
            };
            match resource.to_ascii_lowercase().as_str() {
                "storageclass" | "storageclasses" | "sc" => Route::Read(EvidenceKind::StorageClass),
                // Only the platform's bootstrap secret is evidence; `describe` shows its shape.
                "secret" | "secrets" if named == Some("astronomer-bootstrap") => {
                    Route::Read(EvidenceKind::Connection)
                }
                "secret" | "secrets" => Route::Ignore,
                _ => Route::Read(EvidenceKind::Images),
            }
        }
        ["describe"] => Route::Read(EvidenceKind::Images),
        // An egress test from inside the cluster: `kubectl run … -- curl -sSI URL`, or a
        // `curl`/`wget` in a running pod. A `curl` on a workstation proves nothing and stays ignored.
        ["run" | "exec", ..] if runs_http_client(args) => Route::Read(EvidenceKind::Egress),
        [] => Route::Unknown,
        _ => Route::Ignore,
    }
}

/// Whether the pod's command is curl or wget (also through `sh -c "curl …"`).
fn runs_http_client(args: &[&str]) -> bool {
    args.iter()
        .filter(|a| !a.starts_with('-'))
        .any(|a| matches!(a.rsplit('/').next(), Some("curl" | "wget")))
}

/// The value of `-o`/`--output` (`wide`, `json`, `jsonpath={..image}`), or "".
fn output_format<'a>(args: &[&'a str]) -> &'a str {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if *a == "-o" || *a == "--output" {
            return it.next().copied().unwrap_or("");
        }
        if let Some(v) = a
            .strip_prefix("--output=")
            .or_else(|| a.strip_prefix("-o="))
        {
            return v;
        }
        if let Some(v) = a.strip_prefix("-o") {
            if !a.starts_with("--") && !v.is_empty() {
                return v;
            }
        }
    }
    ""
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_commands() {
        let cases = [
            ("kubectl version --short", Route::Read(EvidenceKind::KubectlVersion)),
            ("sudo kubectl get pods -A", Route::Read(EvidenceKind::Pods)),
            ("watch -n 2 kubectl -n astronomer get po", Route::Read(EvidenceKind::Pods)),
            ("k get pod/astronomer-houston-1", Route::Read(EvidenceKind::Pods)),
            ("kubectl get pods -n astronomer | grep -v Running", Route::Read(EvidenceKind::Pods)),
            ("kubectl get namespaces", Route::Ignore),
            ("kubectl auth can-i create pods -n astronomer", Route::Read(EvidenceKind::CanI)),
            ("helm3 list -A", Route::Read(EvidenceKind::HelmList)),
            ("helm ls --tiller-namespace kube-system", Route::Read(EvidenceKind::HelmList)),
            ("helm history astronomer -n astronomer", Route::Read(EvidenceKind::HelmHistory)),
            ("helm version", Route::Ignore),
            ("kubectl get sc", Route::Read(EvidenceKind::StorageClass)),
            ("kubectl config get-contexts", Route::Read(EvidenceKind::Contexts)),
            (
                "kubectl get secret astronomer-bootstrap -o jsonpath='{.data.connection}' | base64 -d",
                Route::Read(EvidenceKind::Connection),
            ),
            ("docker images", Route::Read(EvidenceKind::Images)),
            ("cat Dockerfile", Route::Read(EvidenceKind::Images)),
            ("kubectl get deploy -n astronomer -o wide", Route::Read(EvidenceKind::Images)),
            ("kubectl get deploy -n astronomer", Route::Ignore),
            ("kubectl get pods -o jsonpath='{..image}'", Route::Read(EvidenceKind::Images)),
            ("kubectl describe pod x", Route::Read(EvidenceKind::Images)),
            (
                "kubectl run egress-test -n default --rm -i --restart=Never --image=curlimages/curl -- curl -sSI https://helm.astronomer.io/index.yaml",
                Route::Read(EvidenceKind::Egress),
            ),
            (
                "kubectl exec -it deploy/x -- sh -c \"wget -S --spider https://quay.io/v2/\"",
                Route::Read(EvidenceKind::Egress),
            ),
            ("kubectl run nginx --image=nginx", Route::Ignore),
            ("curl -sSI https://helm.astronomer.io", Route::Ignore),
            ("kubectl describe sc", Route::Read(EvidenceKind::StorageClass)),
            ("kubectl describe storageclass gp2", Route::Read(EvidenceKind::StorageClass)),
            (
                "kubectl -n astronomer describe secret astronomer-bootstrap",
                Route::Read(EvidenceKind::Connection),
            ),
            ("kubectl describe secrets/astronomer-bootstrap", Route::Read(EvidenceKind::Connection)),
            ("kubectl describe secret astronomer-tls", Route::Ignore),
            (
                "kubectl get secret astronomer-bootstrap -o yaml",
                Route::Read(EvidenceKind::Connection),
            ),
            ("kubens -c", Route::Read(EvidenceKind::Contexts)),
            ("kubens astronomer", Route::Read(EvidenceKind::Contexts)),
            ("kubens", Route::Ignore),
            (
                "kubectl config set-context --current --namespace=astronomer",
                Route::Read(EvidenceKind::Contexts),
            ),
            (
                "kubectl config view --minify -o jsonpath='{..namespace}'",
                Route::Read(EvidenceKind::Contexts),
            ),
            ("kind version", Route::Ignore),
            ("./collect.sh", Route::Unknown),
        ];
        for (command, want) in cases {
            assert_eq!(classify(command), want, "{command}");
        }
    }

    #[test]
    fn finds_namespace_switches() {
        assert_eq!(namespace_switch("kubens datarouter"), Some("datarouter"));
        assert_eq!(
            namespace_switch("kubectl config set-context --current --namespace=astronomer"),
            Some("astronomer")
        );
        assert_eq!(namespace_switch("kubectl get pods -n x"), None);
    }

    #[test]
    fn global_options_before_the_subcommand() {
        for (command, want) in [
            (
                "kubectl --certificate-authority ca.crt --kubeconfig f get pods -A",
                Route::Read(EvidenceKind::Pods),
            ),
            (
                "kubectl -v 8 version",
                Route::Read(EvidenceKind::KubectlVersion),
            ),
            (
                "kubectl --context prod --user admin auth can-i '*' '*' -A",
                Route::Read(EvidenceKind::CanI),
            ),
            (
                "helm --kube-context prod --kube-apiserver https://k:6443 list -A --all",
                Route::Read(EvidenceKind::HelmList),
            ),
        ] {
            assert_eq!(classify(command), want, "{command}");
        }
    }

    #[test]
    fn a_command_continued_with_a_backslash_is_one_command() {
        let text = "$ kubectl auth can-i \\\n    create clusterroles\nno\n                    $ kubectl --kubeconfig ~/.kube/prod \\\n> auth can-i \\* \\* \\\n>   --all-namespaces\nyes\n                    $ kubectl get storageclass\n                    NAME            PROVISIONER             AGE\n                    gp2 (default)   kubernetes.io/aws-ebs   412d\n";
        let facts = read("t.txt", text, 1, None);
        let rights: Vec<(&str, &str, bool, bool, Option<u32>)> = facts
            .permissions
            .iter()
            .map(|p| {
                (
                    p.verb.as_str(),
                    p.resource.as_str(),
                    p.all_namespaces,
                    p.allowed,
                    p.at.line,
                )
            })
            .collect();
        assert_eq!(
            rights,
            [
                ("create", "clusterroles", false, false, Some(3)),
                ("*", "*", true, true, Some(7)),
            ]
        );
        assert_eq!(facts.storage_classes.len(), 1);
        assert_eq!(facts.storage_classes[0].at.line, Some(10));
        assert!(facts.diagnostics.is_empty(), "{:?}", facts.diagnostics);
    }

    #[test]
    fn a_prompt_left_after_the_output_ends_it() {
        for prompt in [
            "user@bastion:~$",
            "[ec2-user@ip-10-0-0-1 ~]$",
            "$",
            "bash-5.1$",
            "PS C:\\Users\\me>",
        ] {
            let text = format!(
                "NAMESPACE    NAME          READY   STATUS    RESTARTS   AGE\n                 astronomer   houston-abc   1/1     Running   0          2d\n{prompt}\n"
            );
            let facts = read_with_hint("pods.txt", &text, 1, Some(EvidenceKind::Pods));
            assert_eq!(facts.pods.len(), 1, "{prompt}");
            assert!(
                facts.diagnostics.is_empty(),
                "{prompt}: {:?}",
                facts.diagnostics
            );
        }
        // `#` alone is a comment or a heading, not a prompt
        assert!(!text::is_bare_prompt("#"));
        assert!(!text::is_bare_prompt("admin@example.com"));
    }
}
