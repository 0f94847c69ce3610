//! `kubectl auth can-i` answers and `kubectl auth can-i --list` tables.
//!
//! An answer means something only with its question: each `yes`/`no` is paired with the
//! `can-i` command before it (the `command` argument, a prompt line in the text, or one of
//! several commands chained with `;`/`&&`), in order. An answer with no question left is
//! reported, not guessed.

use std::collections::VecDeque;

use crate::facts::{At, Facts, Permission, Severity};
use crate::input::text;
use crate::scan;

/// Short names and singulars kubectl accepts, as the plural resource the API server checks.
const RESOURCE_NAMES: &[(&str, &str)] = &[
    ("po", "pods"),
    ("pod", "pods"),
    ("sa", "serviceaccounts"),
    ("serviceaccount", "serviceaccounts"),
    ("pvc", "persistentvolumeclaims"),
    ("persistentvolumeclaim", "persistentvolumeclaims"),
    ("pv", "persistentvolumes"),
    ("persistentvolume", "persistentvolumes"),
    ("deploy", "deployments"),
    ("deployment", "deployments"),
    ("cm", "configmaps"),
    ("configmap", "configmaps"),
    ("ns", "namespaces"),
    ("namespace", "namespaces"),
    ("sc", "storageclasses"),
    ("storageclass", "storageclasses"),
    ("job", "jobs"),
    ("cj", "cronjobs"),
    ("cronjob", "cronjobs"),
    ("clusterrole", "clusterroles"),
    ("clusterrolebinding", "clusterrolebindings"),
    ("role", "roles"),
    ("rolebinding", "rolebindings"),
    ("secret", "secrets"),
    ("svc", "services"),
    ("service", "services"),
    ("ing", "ingresses"),
    ("ingress", "ingresses"),
    ("sts", "statefulsets"),
    ("statefulset", "statefulsets"),
    ("ds", "daemonsets"),
    ("daemonset", "daemonsets"),
    ("rs", "replicasets"),
    ("replicaset", "replicasets"),
    ("no", "nodes"),
    ("node", "nodes"),
    ("ep", "endpoints"),
    ("ev", "events"),
    ("event", "events"),
    ("crd", "customresourcedefinitions"),
    ("crds", "customresourcedefinitions"),
    ("customresourcedefinition", "customresourcedefinitions"),
    ("netpol", "networkpolicies"),
    ("networkpolicy", "networkpolicies"),
    ("pdb", "poddisruptionbudgets"),
    ("poddisruptionbudget", "poddisruptionbudgets"),
    ("hpa", "horizontalpodautoscalers"),
    ("quota", "resourcequotas"),
    ("resourcequota", "resourcequotas"),
    ("limits", "limitranges"),
    ("limitrange", "limitranges"),
    ("psp", "podsecuritypolicies"),
    ("podsecuritypolicy", "podsecuritypolicies"),
];

/// The API group each resource the upgrade asks about lives in: `jobs.batch` is `jobs`, but
/// `pods.metrics.k8s.io` is not `pods` and keeps its group.
const RESOURCE_GROUPS: &[(&str, &str)] = &[
    ("jobs", "batch"),
    ("cronjobs", "batch"),
    ("deployments", "apps"),
    ("statefulsets", "apps"),
    ("daemonsets", "apps"),
    ("replicasets", "apps"),
    ("clusterroles", "rbac.authorization.k8s.io"),
    ("clusterrolebindings", "rbac.authorization.k8s.io"),
    ("roles", "rbac.authorization.k8s.io"),
    ("rolebindings", "rbac.authorization.k8s.io"),
    ("storageclasses", "storage.k8s.io"),
    ("ingresses", "networking.k8s.io"),
    ("ingresses", "extensions"),
    ("networkpolicies", "networking.k8s.io"),
    ("poddisruptionbudgets", "policy"),
    ("podsecuritypolicies", "policy"),
    ("customresourcedefinitions", "apiextensions.k8s.io"),
    ("horizontalpodautoscalers", "autoscaling"),
];

/// Resources that have no namespace: a namespace on the command line does not apply to them.
const CLUSTER_SCOPED: &[&str] = &[
    "clusterroles",
    "clusterrolebindings",
    "namespaces",
    "nodes",
    "persistentvolumes",
    "storageclasses",
    "customresourcedefinitions",
    "podsecuritypolicies",
    "certificatesigningrequests",
    "priorityclasses",
];

/// Expands `sa` → `serviceaccounts`, `jobs.batch` → `jobs`, `'*'` → `*`; keeps subresources
/// (`pods/exec`) and group-qualified resources of other groups (`pods.metrics.k8s.io`).
pub fn canonical_resource(resource: &str) -> String {
    let resource = resource
        .trim_matches(|c| c == '\'' || c == '"')
        .to_ascii_lowercase();
    if resource == "*.*" {
        return "*".to_owned();
    }
    let (base, subresource) = match resource.split_once('/') {
        Some((base, sub)) if !base.is_empty() => (base.to_owned(), Some(sub.to_owned())),
        _ => (resource.clone(), None),
    };
    let (name, group) = match base.split_once('.') {
        Some((name, group)) => (name.to_owned(), Some(group.to_owned())),
        None => (base, None),
    };
    let plural = RESOURCE_NAMES
        .iter()
        .find(|(short, _)| *short == name)
        .map_or(name.clone(), |(_, plural)| (*plural).to_owned());
    let mut out = match group {
        Some(group)
            if group != "*"
                && !RESOURCE_GROUPS
                    .iter()
                    .any(|(r, g)| *r == plural && *g == group) =>
        {
            format!("{plural}.{group}")
        }
        _ => plural,
    };
    if let Some(sub) = subresource {
        out.push('/');
        out.push_str(&sub);
    }
    out
}

/// One `kubectl auth can-i VERB RESOURCE …` question.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Question {
    verb: String,
    resource: String,
    namespace: Option<String>,
    all_namespaces: bool,
    /// `--as USER`: the answer is about someone else.
    impersonated: Option<String>,
    /// A shell variable stands for the verb or resource (`for r in …; do kubectl auth can-i create $r`).
    unresolved: bool,
}

/// What a command line asks: single questions (one per chained `can-i`) or a `--list`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Asked {
    Questions(Vec<Question>),
    List {
        namespace: Option<String>,
        all_namespaces: bool,
    },
}

fn parse_command(command: &str) -> Option<Asked> {
    let mut questions = Vec::new();
    for part in command.split([';', '|', '&']) {
        let words = text::command_words(part);
        let Some(at) = words.iter().position(|w| *w == "can-i") else {
            continue;
        };
        if words[..at].last() != Some(&"auth") {
            continue;
        }
        let mut positionals = Vec::new();
        let mut namespace = text::command_namespace(part).map(str::to_owned);
        let mut all_namespaces = false;
        let mut list = false;
        let mut impersonated = None;
        let mut subresource = None;
        let mut rest = words[at + 1..].iter();
        while let Some(word) = rest.next() {
            match *word {
                "-A" | "--all-namespaces" | "--all-namespaces=true" => all_namespaces = true,
                "--list" => list = true,
                "--as" => impersonated = rest.next().map(|s| (*s).to_owned()),
                "--subresource" => subresource = rest.next().map(|s| (*s).to_owned()),
                w if text::KUBECTL_VALUE_FLAGS.contains(&w) => {
                    rest.next();
                }
                w if w.starts_with("--as=") => impersonated = Some(w[5..].to_owned()),
                w if w.starts_with("--subresource=") => subresource = Some(w[14..].to_owned()),
                w if w.starts_with('-') => {}
                w => positionals.push(w),
            }
        }
        if all_namespaces {
            namespace = None;
        }
        if list {
            return Some(Asked::List {
                namespace,
                all_namespaces,
            });
        }
        let [verb, resource, ..] = positionals.as_slice() else {
            continue;
        };
        let mut resource = if resource.starts_with('/') {
            (*resource).to_owned()
        } else {
            // `TYPE/NAME` asks about one object; the permission is the type's.
            let type_part = match resource.split_once('/') {
                Some((t, _)) if subresource.is_none() => t,
                _ => resource,
            };
            canonical_resource(type_part)
        };
        if let Some(sub) = subresource {
            resource = format!("{resource}/{sub}");
        }
        let scoped_namespace = if CLUSTER_SCOPED.contains(&resource.as_str()) {
            None
        } else {
            namespace
        };
        questions.push(Question {
            verb: verb.to_string(), // kubectl matches verbs case-sensitively: keep them as typed
            unresolved: verb.contains('$') || resource.contains('$'),
            resource,
            namespace: scoped_namespace,
            all_namespaces,
            impersonated,
        });
    }
    (!questions.is_empty()).then_some(Asked::Questions(questions))
}

/// A `kubectl auth can-i --list` row: `Resources  [Non-Resource URLs]  [Resource Names]  [Verbs]`,
/// as the resource and the insides of the three bracketed cells.
fn list_row(row: &str) -> Option<(&str, [&str; 3])> {
    let (0, resource) = scan::words(row).next()? else {
        return None;
    };
    let mut rest = &row[resource.len()..];
    let mut cells = [""; 3];
    for cell in &mut cells {
        let spaces = rest.bytes().take_while(|b| scan::is_space(*b)).count();
        if spaces == 0 {
            return None;
        }
        let (inside, after) = rest[spaces..].strip_prefix('[')?.split_once(']')?;
        *cell = inside;
        rest = after;
    }
    rest.bytes()
        .all(scan::is_space)
        .then_some((resource, cells))
}

/// kubectl's warning for `can-i … -n NS` on a cluster-scoped resource.
fn is_not_namespaced_warning(line: &str) -> bool {
    scan::strip_prefix_ignore_case(line, "warning: resource '")
        .and_then(|rest| rest.split_once('\''))
        .is_some_and(|(resource, after)| {
            !resource.is_empty()
                && scan::strip_prefix_ignore_case(after, " is not namespace scoped").is_some()
        })
}

/// `yes`, `no`, `no - RBAC: …` (the reason kubectl prints after a denial).
fn answer(line: &str) -> Option<bool> {
    let line = line.trim();
    let word = line.split_once(" - ").map_or(line, |(word, _)| word.trim());
    match word.to_ascii_lowercase().as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

/// Reads `text`, whose first line is line `first_line` of the source `name`; `command` is the
/// command line that printed it, when the paste showed one.
pub fn read(name: &str, text: &str, first_line: u32, command: Option<&str>) -> Facts {
    let mut reader = Reader {
        name,
        facts: Facts::default(),
        pending: VecDeque::new(),
        list: None,
        cluster_scoped_warning: false,
    };
    if let Some(command) = command {
        reader.ask(command);
    }
    for line in text::lines(text, first_line) {
        reader.line(&line.text, line.number);
    }
    reader.facts
}

/// How strongly `text` looks like this reader's input, 0 (not at all) to 100 (certainly).
pub fn sniff(text: &str) -> u32 {
    let mut answers = 0;
    let mut others = 0;
    for line in text::lines(text, 1).take(400) {
        let content = line.text.trim();
        if content.is_empty() {
            continue;
        }
        if content.contains("auth can-i")
            || (content.starts_with("Resources") && content.contains("Verbs"))
        {
            return 95;
        }
        if answer(content).is_some() || is_not_namespaced_warning(content) {
            answers += 1;
        } else {
            others += 1;
        }
    }
    match (answers, others) {
        (0, _) => 0,
        (_, 0) => 60,
        (a, o) if a > o => 30,
        _ => 0,
    }
}

struct Reader<'n> {
    name: &'n str,
    facts: Facts,
    /// Questions asked and not yet answered, oldest first.
    pending: VecDeque<Question>,
    /// Inside a `--list` table: its namespace scope.
    list: Option<(Option<String>, bool)>,
    /// kubectl warned that the coming answer's resource has no namespace.
    cluster_scoped_warning: bool,
}

impl Reader<'_> {
    fn diagnostic(&mut self, line: u32, severity: Severity, message: String) {
        self.facts.diagnose(self.name, line, severity, message);
    }

    fn ask(&mut self, command: &str) {
        self.list = None;
        self.cluster_scoped_warning = false;
        match parse_command(command) {
            Some(Asked::Questions(questions)) => self.pending = questions.into(),
            Some(Asked::List {
                namespace,
                all_namespaces,
            }) => {
                self.pending.clear();
                self.list = Some((namespace, all_namespaces));
            }
            None => self.pending.clear(),
        }
    }

    fn line(&mut self, content: &str, number: u32) {
        let trimmed = content.trim();
        if trimmed.is_empty() {
            return;
        }
        if let Some(command) = text::command_of(content) {
            self.ask(command);
            return;
        }
        if is_not_namespaced_warning(trimmed) {
            self.cluster_scoped_warning = true;
            return;
        }
        if let Some(allowed) = answer(trimmed) {
            self.answer(allowed, number);
            return;
        }
        if trimmed.starts_with("Resources") && trimmed.contains("Verbs") {
            self.list.get_or_insert((None, false));
            return;
        }
        if self.list.is_some() {
            self.list_row(content, number);
            return;
        }
        if let Some(error) = trimmed
            .strip_prefix("error: ")
            .or_else(|| trimmed.strip_prefix("Error from server"))
        {
            self.pending.clear();
            self.diagnostic(
                number,
                Severity::Warning,
                format!(
                    "kubectl could not answer: {}",
                    scan::trim_start_str(error, ": ")
                ),
            );
        }
    }

    fn answer(&mut self, allowed: bool, number: u32) {
        let cluster_scoped = std::mem::take(&mut self.cluster_scoped_warning);
        let Some(question) = self.pending.pop_front() else {
            self.diagnostic(
                number,
                Severity::Warning,
                "a can-i answer without its `kubectl auth can-i` command line: paste the command too".to_owned(),
            );
            return;
        };
        if question.unresolved {
            self.pending.clear();
            self.diagnostic(
                number,
                Severity::Warning,
                "the can-i command uses a shell variable; paste one command per answer".to_owned(),
            );
            return;
        }
        if let Some(user) = &question.impersonated {
            self.diagnostic(
                number,
                Severity::Info,
                format!("this answer is for `--as {user}`, not for the person running the upgrade"),
            );
        }
        self.facts.permissions.push(Permission {
            verb: question.verb,
            resource: question.resource,
            namespace: if cluster_scoped {
                None
            } else {
                question.namespace
            },
            allowed,
            all_namespaces: question.all_namespaces,
            as_user: question.impersonated,
            at: At::new(self.name, number),
        });
    }

    /// `RESOURCE  [URLS]  [NAMES]  [VERBS]`: one allowed permission per verb, for rules that
    /// apply to every object of the resource (rows limited to named objects grant less).
    fn list_row(&mut self, content: &str, number: u32) {
        if content.starts_with([' ', '\t']) {
            return; // a non-resource URL row
        }
        let Some((resource, [_, names, verbs])) = list_row(content.trim()) else {
            self.diagnostic(
                number,
                Severity::Warning,
                "not a row of the can-i --list table".to_owned(),
            );
            return;
        };
        if !names.trim().is_empty() {
            return;
        }
        let (namespace, all_namespaces) = self.list.clone().unwrap_or((None, false));
        let resource = canonical_resource(resource);
        let namespace = if CLUSTER_SCOPED.contains(&resource.as_str()) {
            None
        } else {
            namespace
        };
        for verb in verbs.split_whitespace() {
            self.facts.permissions.push(Permission {
                verb: verb.to_owned(),
                resource: resource.clone(),
                namespace: namespace.clone(),
                allowed: true,
                all_namespaces,
                as_user: None,
                at: At::new(self.name, number),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Row = (String, String, Option<String>, bool, Option<u32>);

    fn permissions(text: &str, command: Option<&str>) -> Vec<Row> {
        read("can-i.txt", text, 1, command)
            .permissions
            .into_iter()
            .map(|p| (p.verb, p.resource, p.namespace, p.allowed, p.at.line))
            .collect()
    }

    fn p(verb: &str, resource: &str, namespace: Option<&str>, allowed: bool, line: u32) -> Row {
        (
            verb.into(),
            resource.into(),
            namespace.map(str::to_owned),
            allowed,
            Some(line),
        )
    }

    #[test]
    fn expands_short_names_and_known_groups() {
        for (given, want) in [
            ("sa", "serviceaccounts"),
            ("po", "pods"),
            ("PVC", "persistentvolumeclaims"),
            ("deploy", "deployments"),
            ("jobs.batch", "jobs"),
            ("job", "jobs"),
            ("clusterrole", "clusterroles"),
            (
                "clusterrolebindings.rbac.authorization.k8s.io",
                "clusterrolebindings",
            ),
            ("'*'", "*"),
            ("*.*", "*"),
            ("pods.metrics.k8s.io", "pods.metrics.k8s.io"),
            ("pods/exec", "pods/exec"),
        ] {
            assert_eq!(canonical_resource(given), want, "{given}");
        }
    }

    #[test]
    fn pairs_answers_with_their_commands() {
        let text = "$ kubectl auth can-i create pods -n astronomer\nyes\n\
                    $ kubectl auth can-i create sa --namespace=astronomer\n\
                    no - RBAC: clusterrole.rbac.authorization.k8s.io \"x\" not found\n\
                    $ kubectl auth can-i create clusterrole -n astronomer\n\
                    Warning: resource 'clusterroles' is not namespace scoped in group 'rbac.authorization.k8s.io'\n\
                    yes\n\
                    $ kubectl auth can-i create jobs.batch -A\nyes\n";
        assert_eq!(
            permissions(text, None),
            vec![
                p("create", "pods", Some("astronomer"), true, 2),
                p("create", "serviceaccounts", Some("astronomer"), false, 4),
                p("create", "clusterroles", None, true, 7),
                p("create", "jobs", None, true, 9),
            ]
        );
        let all = read("x", text, 1, None).permissions;
        assert!(all[3].all_namespaces && !all[0].all_namespaces);
    }

    #[test]
    fn takes_the_question_from_the_command_argument() {
        assert_eq!(
            permissions(
                "yes\n",
                Some("kubectl auth can-i create persistentvolumeclaims --namespace default")
            ),
            vec![p(
                "create",
                "persistentvolumeclaims",
                Some("default"),
                true,
                1
            )]
        );
        assert_eq!(
            permissions("no\n", Some("kubectl auth can-i create '*'")),
            vec![p("create", "*", None, false, 1)]
        );
    }

    #[test]
    fn chained_commands_answer_in_order() {
        let text = "kubectl auth can-i create pods -n a; kubectl auth can-i create sa -n a && kubectl auth can-i create jobs -n a\nyes\nyes\nno\n";
        let got: Vec<_> = permissions(text, None)
            .into_iter()
            .map(|p| (p.1, p.3))
            .collect();
        assert_eq!(
            got,
            vec![
                ("pods".into(), true),
                ("serviceaccounts".into(), true),
                ("jobs".into(), false)
            ]
        );
    }

    #[test]
    fn answers_without_questions_are_reported_not_guessed() {
        let facts = read("x", "yes\nno\n", 5, None);
        assert!(facts.permissions.is_empty());
        assert_eq!(
            facts.diagnostics.iter().map(|d| d.line).collect::<Vec<_>>(),
            vec![Some(5), Some(6)]
        );
        let facts = read("x", "yes\nyes\n", 1, Some("kubectl auth can-i create pods"));
        assert_eq!(facts.permissions.len(), 1);
        assert_eq!(facts.diagnostics.len(), 1);
        let facts = read(
            "x",
            "yes\n",
            1,
            Some("kubectl auth can-i create $r -n astronomer"),
        );
        assert!(facts.permissions.is_empty());
        let facts = read(
            "x",
            "yes\n",
            1,
            Some("kubectl auth can-i create pods --as system:serviceaccount:a:b"),
        );
        assert_eq!(
            facts.permissions[0].as_user.as_deref(),
            Some("system:serviceaccount:a:b")
        );
    }

    #[test]
    fn reads_list_tables() {
        let text = "Resources                                       Non-Resource URLs   Resource Names   Verbs\n\
                    *.*                                             []                  []               [*]\n\
                    \x20                                               [*]                 []               [*]\n\
                    pods                                            []                  []               [get list create]\n\
                    configmaps                                      []                  [astro-config]   [update]\n\
                    clusterroles.rbac.authorization.k8s.io          []                  []               [create]\n";
        assert_eq!(
            permissions(text, Some("kubectl auth can-i --list -n astronomer")),
            vec![
                p("*", "*", Some("astronomer"), true, 2),
                p("get", "pods", Some("astronomer"), true, 4),
                p("list", "pods", Some("astronomer"), true, 4),
                p("create", "pods", Some("astronomer"), true, 4),
                p("create", "clusterroles", None, true, 6),
            ]
        );
    }

    #[test]
    fn sniff_wants_answers_or_can_i() {
        assert!(sniff("$ kubectl auth can-i create pods\nyes\n") >= 90);
        assert!(sniff("yes\nno - RBAC: denied\n") >= 50);
        assert_eq!(sniff("NAME  READY\nweb  1/1\n"), 0);
    }
}
