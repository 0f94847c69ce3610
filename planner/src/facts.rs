//! The typed cluster model that readers produce and rules consume.
//!
//! The field names and meanings here are a public contract: `astro-upgrade inspect` prints a
//! [`Facts`] as JSON, and the `collect` bundle carries one. Fields may be added, never renamed.
//! Every fact remembers where it was read ([`At`]) so a finding can point at the pasted line.

use serde::{Deserialize, Serialize};

/// Where a fact was read: the evidence source's name and the 1-based line in it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
pub struct At {
    pub source: String,
    pub line: Option<u32>,
}

impl At {
    pub fn new(source: impl Into<String>, line: u32) -> Self {
        At {
            source: source.into(),
            line: Some(line),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    pub kubernetes: KubernetesFacts,
    #[serde(default)]
    pub pods: Vec<Pod>,
    /// True when a pod listing was read, even an empty one (`No resources found`): rules can
    /// tell "no pods" from "no evidence about pods".
    #[serde(default)]
    pub pods_listed: bool,
    #[serde(default)]
    pub permissions: Vec<Permission>,
    #[serde(default)]
    pub images: Vec<Image>,
    #[serde(default)]
    pub helm_releases: Vec<HelmRelease>,
    /// Where a listing of every release in every state was read: `helm list --all` (`-a`) shown
    /// on its command line, or the release Secrets read live by `collect`. Plain `helm list`
    /// hides `pending-*` releases, so without it a release nobody sees may still be stuck.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helm_list_all: Option<At>,
    /// `helm history` rows, oldest first, in the order pasted.
    #[serde(default)]
    pub helm_history: Vec<HelmRevision>,
    #[serde(default)]
    pub storage_classes: Vec<StorageClass>,
    #[serde(default)]
    pub contexts: Vec<Context>,
    #[serde(default)]
    pub database_connection: Option<DatabaseConnection>,
    /// In-cluster egress tests (`kubectl run … -- curl -sSI https://HOST/…`, or `apply`'s
    /// probe): one per URL tried, in the order read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<EgressCheck>,
    /// Objects of the upgrade manifest seen live (e.g. by `collect`), for rollback readiness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_resources: Option<UpgradeResources>,
    #[serde(default)]
    pub diagnostics: Vec<Diagnostic>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KubernetesFacts {
    /// Without the leading `v`; pre-release and build parts verbatim (`1.16.15-eks-ad4801`).
    pub client_version: Option<String>,
    pub server_version: Option<String>,
    pub error: Option<ConnectionError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_at: Option<At>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_at: Option<At>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_at: Option<At>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConnectionError {
    ConnectionRefused,
    UnableToConnect,
    Unauthorized,
    Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pod {
    pub namespace: Option<String>,
    pub name: String,
    /// READY as printed, `n/m`.
    pub ready: Option<String>,
    /// STATUS as kubectl prints it (`Running`, `CrashLoopBackOff`, `Init:1/2`, …).
    pub status: String,
    pub restarts: Option<u32>,
    /// Running with all containers ready, or Completed.
    pub healthy: bool,
    #[serde(flatten)]
    pub at: At,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Permission {
    pub verb: String,
    /// Plural resource name, short names expanded (`sa` → `serviceaccounts`); `*` for a wildcard.
    pub resource: String,
    /// None when the command named no namespace (the context's namespace) or the resource is cluster-scoped.
    pub namespace: Option<String>,
    pub allowed: bool,
    /// True when asked with `-A`/`--all-namespaces`.
    #[serde(default)]
    pub all_namespaces: bool,
    /// The user asked about with `--as USER`: the answer is about someone else, so rules ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_user: Option<String>,
    #[serde(flatten)]
    pub at: At,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    pub reference: String,
    pub registry: Option<String>,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
    pub certified: Option<Certified>,
    /// Set when the paste shows this as the base another image is built on: a Dockerfile `FROM`
    /// line, or the Astronomer Certified labels of a built image (then `certified` is read from
    /// the labels and `reference` is the built image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<BaseImage>,
    #[serde(flatten)]
    pub at: At,
}

/// How an image was shown to be a base, and for what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseImage {
    pub shown_by: BaseShownBy,
    /// What the paste ties it to: the path of the Dockerfile a `cat` printed
    /// (`infrared-photon-7780/Dockerfile`), or the image `docker inspect` read the labels of.
    /// None when the paste does not say whose base it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub of: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BaseShownBy {
    /// A Dockerfile `FROM` line.
    From,
    /// The image's `io.astronomer.docker.*` labels.
    Labels,
}

/// One in-cluster test of a URL: did the host answer?
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EgressCheck {
    /// The host tried (`updates.astronomer.io`), lower-case.
    pub host: String,
    /// The URL, when the paste shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// An HTTP status line came back (any status: the host answered).
    pub reachable: bool,
    /// The status line (`HTTP/2 200`) or the error (`curl: (6) Could not resolve host: …`).
    pub detail: String,
    #[serde(flatten)]
    pub at: At,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certified {
    pub airflow_version: String,
    pub build_number: Option<u32>,
    pub distribution: Option<String>,
    pub onbuild: bool,
    pub form: CertifiedForm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertifiedForm {
    /// `<airflow>-<build>[-<distro>][-onbuild]`
    Pinned,
    /// `<airflow>[-<distro>][-onbuild]`
    Floating,
    /// `<astronomer>-<airflow>[-onbuild]`, e.g. `0.10.3-1.10.5-onbuild`, `master-1.10.3-onbuild`
    Legacy,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HelmRelease {
    pub name: String,
    pub namespace: Option<String>,
    pub revision: Option<u32>,
    /// Lower-cased (`DEPLOYED` from Helm 2 becomes `deployed`).
    pub status: Option<String>,
    /// Chart name without its version (`astronomer`).
    pub chart: String,
    pub chart_version: Option<String>,
    pub app_version: Option<String>,
    /// Which Helm printed it, when the layout tells.
    pub helm: Option<HelmGeneration>,
    #[serde(flatten)]
    pub at: At,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HelmGeneration {
    Helm2,
    Helm3,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HelmRevision {
    /// The release named on the `helm history` command line, when one was pasted.
    pub release: Option<String>,
    pub revision: u32,
    pub status: String,
    pub chart: String,
    pub chart_version: Option<String>,
    pub app_version: Option<String>,
    pub description: Option<String>,
    #[serde(flatten)]
    pub at: At,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StorageClass {
    pub name: String,
    pub default: bool,
    pub provisioner: Option<String>,
    #[serde(flatten)]
    pub at: At,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Context {
    pub name: String,
    /// None when the NAMESPACE column is empty, which kubectl treats as `default`.
    pub namespace: Option<String>,
    pub current: bool,
    #[serde(flatten)]
    pub at: At,
}

/// The `astronomer-bootstrap` connection string, reduced to what the rules need.
/// The password is dropped by the reader and never stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatabaseConnection {
    pub scheme: String,
    /// The host as a URL parser reads it (after the last `@`).
    pub host: String,
    pub has_port: bool,
    /// How the upgrader's own pattern splits the string ([`crate::playbook::CONNECTION_PATTERN`]);
    /// `None` when it does not match, or when `upgrader_evaluated` is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrader: Option<UpgraderSplit>,
    /// Whether the upgrader's pattern was evaluated (facts written before it was are not).
    #[serde(default)]
    pub upgrader_evaluated: bool,
    #[serde(flatten)]
    pub at: At,
}

/// The captures of the upgrader's connection pattern, the password left out: what the upgrader
/// logs in with. The password group is never stored, only two facts about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgraderSplit {
    /// Group 1: the user it logs in as.
    pub user: String,
    /// Group 3: the host it connects to, when it holds no `@`. When it does, the password held
    /// an `@`, and the group starts with the rest of the password: only the text after its
    /// last `@` is kept here, and `host_holds_password` is set.
    pub host: String,
    #[serde(default)]
    pub host_holds_password: bool,
    /// Group 4: the port as captured (Python's `\d`: any Unicode digits; may be empty).
    pub port: String,
    /// Group 2 is empty.
    #[serde(default)]
    pub password_empty: bool,
    /// Group 1 or 2 holds a `%XX` escape, which the upgrader passes to Postgres undecoded.
    #[serde(default)]
    pub percent_encoded: bool,
}

/// What is known of the objects the upgrade manifest creates (seen live by `collect`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpgradeResources {
    pub service_account: bool,
    pub backup_pvc: bool,
    pub upgrade_job: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub source: String,
    pub line: Option<u32>,
    pub severity: Severity,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Facts {
    /// Records what a reader could not read, or wants a person to know, about line `line` of `source`.
    pub fn diagnose(
        &mut self,
        source: &str,
        line: u32,
        severity: Severity,
        message: impl Into<String>,
    ) {
        self.diagnostics.push(Diagnostic {
            source: source.to_owned(),
            line: Some(line),
            severity,
            message: message.into(),
        });
    }

    /// Later evidence of a pod replaces earlier rows and moves to the end, with one sort
    /// (a 10,000-pod paste must not cost 10,000 scans of the list).
    fn merge_pods(&mut self, incoming: Vec<Pod>) {
        if incoming.is_empty() {
            return;
        }
        let earlier = self.pods.len();
        self.pods.extend(incoming);
        let rows = rows_of_each_pod(&self.pods);
        // an earlier pod stays unless the incoming evidence has it; an incoming one only as its last row
        let keep: Vec<bool> = (0..self.pods.len())
            .map(|i| {
                let last = rows[i].1;
                if i < earlier {
                    last < earlier
                } else {
                    last == i
                }
            })
            .collect();
        let mut keep = keep.into_iter();
        self.pods.retain(|_| keep.next().unwrap_or(true));
    }

    /// Later evidence of the contexts is the truth. A listing (`get-contexts`, `config view`:
    /// it shows a context that is not current) replaces the earlier one: `kubectl config
    /// use-context` may have run between the two. A switch (`kubens NS`, `set-context --current
    /// --namespace`, `kubens -c`: current contexts only) updates the context it names, or the
    /// current one when it names none, and makes it the current one.
    fn merge_contexts(&mut self, incoming: Vec<Context>) {
        if incoming.iter().any(|c| !c.current) {
            self.contexts = incoming;
            return;
        }
        for switched in incoming {
            let at = match switched.name.as_str() {
                "" => self.contexts.iter().rposition(|c| c.current),
                name => self.contexts.iter().rposition(|c| c.name == name),
            };
            for context in &mut self.contexts {
                context.current = false;
            }
            match at {
                Some(at) => {
                    let context = &mut self.contexts[at];
                    context.namespace = switched.namespace;
                    context.current = true;
                    context.at = switched.at;
                }
                None => self.contexts.push(switched),
            }
        }
    }

    /// Appends another source's facts. Later evidence of the same pod replaces earlier rows
    /// (a re-run of `kubectl get pods` supersedes the first one).
    pub fn merge(&mut self, other: Facts) {
        let k = other.kubernetes;
        if k.client_version.is_some() {
            self.kubernetes.client_version = k.client_version;
            self.kubernetes.client_at = k.client_at;
        }
        if k.server_version.is_some() {
            self.kubernetes.server_version = k.server_version;
            self.kubernetes.server_at = k.server_at;
            self.kubernetes.error = None;
            self.kubernetes.error_at = None;
        } else if k.error.is_some() && self.kubernetes.server_version.is_none() {
            self.kubernetes.error = k.error;
            self.kubernetes.error_at = k.error_at;
        }
        self.pods_listed |= other.pods_listed;
        self.merge_pods(other.pods);
        self.permissions.extend(other.permissions);
        self.images.extend(other.images);
        self.helm_releases.extend(other.helm_releases);
        if other.helm_list_all.is_some() {
            self.helm_list_all = other.helm_list_all;
        }
        self.egress.extend(other.egress);
        self.helm_history.extend(other.helm_history);
        self.storage_classes.extend(other.storage_classes);
        self.merge_contexts(other.contexts);
        if other.database_connection.is_some() {
            self.database_connection = other.database_connection;
        }
        if other.upgrade_resources.is_some() {
            self.upgrade_resources = other.upgrade_resources;
        }
        self.diagnostics.extend(other.diagnostics);
    }
}

/// For each row of `pods`, the positions of the first and the last row of the same pod (same
/// namespace and name). Found by sorting positions, not by hashing: the page's wasm then needs
/// no hash table for pod keys, and ten thousand rows still take one sort.
pub(crate) fn rows_of_each_pod(pods: &[Pod]) -> Vec<(usize, usize)> {
    let key = |at: usize| (pods[at].namespace.as_deref(), pods[at].name.as_str());
    let mut order: Vec<usize> = (0..pods.len()).collect();
    crate::sort::sort_by(&mut order, |&a, &b| key(a).cmp(&key(b)));
    let mut rows = vec![(0, 0); pods.len()];
    // the sort is stable, so each pod's rows are in the order they came
    for same_pod in order.chunk_by(|&a, &b| key(a) == key(b)) {
        if let (Some(&first), Some(&last)) = (same_pod.first(), same_pod.last()) {
            for &at in same_pod {
                rows[at] = (first, last);
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::{At, Facts, Pod};

    fn pod(namespace: &str, name: &str, status: &str) -> Pod {
        Pod {
            namespace: Some(namespace.to_string()),
            name: name.to_string(),
            ready: None,
            status: status.to_string(),
            restarts: None,
            healthy: status == "Running",
            at: At::default(),
        }
    }

    fn listing(pods: Vec<Pod>) -> Facts {
        Facts {
            pods,
            ..Facts::default()
        }
    }

    fn rows(facts: &Facts) -> Vec<(&str, &str)> {
        facts
            .pods
            .iter()
            .map(|p| (p.name.as_str(), p.status.as_str()))
            .collect()
    }

    #[test]
    fn later_evidence_of_a_pod_replaces_the_earlier_row_and_moves_to_the_end() {
        let mut facts = listing(vec![
            pod("astronomer", "houston-0", "CrashLoopBackOff"),
            pod("astronomer", "nginx-0", "Running"),
            pod("other", "houston-0", "Pending"),
        ]);
        facts.merge(listing(vec![
            pod("astronomer", "houston-0", "Error"),
            pod("astronomer", "kibana-0", "Running"),
            pod("astronomer", "houston-0", "Running"),
        ]));
        assert_eq!(
            rows(&facts),
            [
                ("nginx-0", "Running"),
                ("houston-0", "Pending"),
                ("kibana-0", "Running"),
                ("houston-0", "Running"),
            ]
        );
        assert_eq!(facts.pods[1].namespace.as_deref(), Some("other"));
    }

    #[test]
    fn merging_no_pods_keeps_every_row_even_repeated_ones() {
        let mut facts = listing(vec![
            pod("astronomer", "houston-0", "Error"),
            pod("astronomer", "houston-0", "Running"),
        ]);
        facts.merge(Facts::default());
        assert_eq!(
            rows(&facts),
            [("houston-0", "Error"), ("houston-0", "Running")]
        );
    }
}
