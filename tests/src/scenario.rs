//! Scenario files: a cluster's state and its scripted future. The format is documented field by
//! field in `tests/scenarios/README.md`; unknown fields are rejected so typos never pass silently.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{name}:{line}:{column}: {message}")]
    Parse {
        name: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{name}: {message}")]
    Invalid { name: String, message: String },
}

/// A whole scenario file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The scenario's name (the file name when read from a file).
    #[serde(skip)]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub server: ServerVersion,
    /// Multiplies the `Options::time_scale` given at start.
    #[serde(default = "one")]
    pub time_scale: f64,
    #[serde(default)]
    pub namespaces: Vec<String>,
    #[serde(default)]
    pub storage_classes: Vec<StorageClassSpec>,
    #[serde(default)]
    pub pvc_never_binds: bool,
    #[serde(default)]
    pub deployments: Vec<WorkloadSpec>,
    #[serde(default)]
    pub statefulsets: Vec<WorkloadSpec>,
    #[serde(default)]
    pub pods: Vec<PodSpec>,
    #[serde(default)]
    pub helm_releases: Vec<HelmReleaseSpec>,
    #[serde(default)]
    pub bootstrap_secret: Option<BootstrapSecretSpec>,
    #[serde(default)]
    pub rbac: RbacSpec,
    /// Arbitrary Kubernetes objects (JSON-shaped YAML with apiVersion, kind, metadata).
    #[serde(default)]
    pub objects: Vec<serde_json::Value>,
    #[serde(default)]
    pub generate: Option<GenerateSpec>,
    #[serde(default)]
    pub upgrade: Option<JobScript>,
    #[serde(default)]
    pub rollback: Option<JobScript>,
    #[serde(default)]
    pub faults: FaultsSpec,
    /// Facts the scenario promises a reader of kubectl's output will find (checked by round-trip tests).
    #[serde(default)]
    pub expect: Option<ExpectSpec>,
}

fn one() -> f64 {
    1.0
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerVersion {
    #[serde(default = "default_git_version")]
    pub git_version: String,
    /// Defaults to the number in `git_version`.
    #[serde(default)]
    pub major: Option<String>,
    /// Defaults to the number in `git_version`, with `+` when it carries a vendor suffix.
    #[serde(default)]
    pub minor: Option<String>,
    #[serde(default = "default_platform")]
    pub platform: String,
    #[serde(default = "default_go_version")]
    pub go_version: String,
    #[serde(default = "default_build_date")]
    pub build_date: String,
    #[serde(default = "default_git_commit")]
    pub git_commit: String,
}

fn default_git_version() -> String {
    "v1.16.15".into()
}
fn default_platform() -> String {
    "linux/amd64".into()
}
fn default_go_version() -> String {
    "go1.13.15".into()
}
fn default_build_date() -> String {
    "2020-09-02T11:52:35Z".into()
}
fn default_git_commit() -> String {
    "2adc8d7091e89b6e3ca8d048140618ec89b39369".into()
}

impl Default for ServerVersion {
    fn default() -> Self {
        ServerVersion {
            git_version: default_git_version(),
            major: None,
            minor: None,
            platform: default_platform(),
            go_version: default_go_version(),
            build_date: default_build_date(),
            git_commit: default_git_commit(),
        }
    }
}

impl ServerVersion {
    /// `(major, minor)` as `/version` reports them: `("1", "16+")` for `v1.16.15-eks-ad4801`.
    pub fn major_minor(&self) -> (String, String) {
        let core = self.git_version.trim_start_matches('v');
        let numeric_end = core
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(core.len());
        let has_suffix = numeric_end < core.len();
        let mut parts = core[..numeric_end].split('.');
        let major = parts.next().unwrap_or("1").to_string();
        let minor = parts.next().unwrap_or("0").to_string();
        let minor = if has_suffix {
            format!("{minor}+")
        } else {
            minor
        };
        (
            self.major.clone().unwrap_or(major),
            self.minor.clone().unwrap_or(minor),
        )
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageClassSpec {
    pub name: String,
    #[serde(default = "default_provisioner")]
    pub provisioner: String,
    #[serde(default)]
    pub default: bool,
}

fn default_provisioner() -> String {
    "kubernetes.io/aws-ebs".into()
}

/// A Deployment or StatefulSet; unless `pods: false`, `replicas` healthy pods are created for it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    pub name: String,
    pub namespace: String,
    #[serde(default = "one_u32")]
    pub replicas: u32,
    /// Container images, one container each (named after the image's repository).
    pub images: Vec<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default = "yes")]
    pub pods: bool,
    /// Age of the workload and its pods, e.g. `3d`, `5h`, `40m`.
    #[serde(default)]
    pub age: Option<String>,
}

fn one_u32() -> u32 {
    1
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PodSpec {
    pub name: String,
    pub namespace: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Pod phase; defaults to what the containers imply (Running, Succeeded, Failed, Pending).
    #[serde(default)]
    pub phase: Option<String>,
    /// `status.reason`, e.g. `Evicted` or `NodeLost`.
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub node: Option<String>,
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub age: Option<String>,
    /// Marks the pod as being deleted (kubectl shows `Terminating`).
    #[serde(default)]
    pub terminating: bool,
    #[serde(default)]
    pub init_containers: Vec<ContainerSpec>,
    pub containers: Vec<ContainerSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerSpec {
    #[serde(default)]
    pub name: Option<String>,
    pub image: String,
    /// `running` (default), `waiting` or `terminated`.
    #[serde(default)]
    pub state: ContainerState,
    /// Readiness; defaults to true for running containers.
    #[serde(default)]
    pub ready: Option<bool>,
    #[serde(default)]
    pub restarts: u32,
    /// Waiting reason (`CrashLoopBackOff`, `ImagePullBackOff`, …) or terminated reason (`Completed`, `Error`, `OOMKilled`).
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// For `terminated`: the signal that killed the container (`state.terminated.signal`);
    /// with an empty `reason` kubectl shows `Signal:<N>`.
    #[serde(default)]
    pub signal: Option<i32>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContainerState {
    #[default]
    Running,
    Waiting,
    Terminated,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HelmReleaseSpec {
    pub name: String,
    pub namespace: String,
    /// Chart name without version: `astronomer`, `airflow`.
    pub chart: String,
    /// Chart version, e.g. `0.16.9`.
    pub version: String,
    /// Defaults to the chart version.
    #[serde(default)]
    pub app_version: Option<String>,
    #[serde(default = "default_release_status")]
    pub status: String,
    /// The newest revision; earlier revisions 1..N-1 are stored as `superseded`.
    #[serde(default = "one_u32")]
    pub revision: u32,
    /// Values shown by `helm get values` (user-supplied config).
    #[serde(default)]
    pub values: serde_json::Value,
}

fn default_release_status() -> String {
    "deployed".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapSecretSpec {
    pub namespace: String,
    /// The `connection` key, e.g. `postgres://user:pass@host:5432`.
    pub connection: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RbacSpec {
    /// Everything is allowed except these.
    #[serde(default)]
    pub deny: Vec<DenyRule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenyRule {
    /// `create`, `get`, … or `*`.
    pub verb: String,
    /// Plural resource name (`clusterrolebindings`) or `*`.
    pub resource: String,
    /// Only in this namespace; any namespace when absent.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Only in this API group; any group when absent.
    #[serde(default)]
    pub group: Option<String>,
}

impl DenyRule {
    pub fn matches(&self, verb: &str, group: &str, resource: &str, namespace: &str) -> bool {
        let wild = |rule: &str, value: &str| rule == "*" || rule == value;
        wild(&self.verb, verb)
            && wild(&self.resource, resource)
            && self
                .namespace
                .as_deref()
                .is_none_or(|ns| wild(ns, namespace))
            && self.group.as_deref().is_none_or(|g| wild(g, group))
    }
}

/// Compact generation of many objects (large clusters).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateSpec {
    #[serde(default)]
    pub pods: Vec<GeneratedPods>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratedPods {
    pub namespace: String,
    /// Pods are named `<name_prefix>-<index>` (index from 0, zero-padded to 5 digits).
    pub name_prefix: String,
    pub count: u32,
    pub image: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Every N-th pod (index % N == N-1) is in CrashLoopBackOff; 0 means none.
    #[serde(default)]
    pub crash_every: u32,
}

/// What happens when the upgrade or rollback Job is created.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobScript {
    /// Seconds (simulated) from pod creation until it is scheduled (Pending → ContainerCreating).
    #[serde(default = "one")]
    pub pending_s: f64,
    /// Seconds (simulated) of ContainerCreating before the container runs.
    #[serde(default = "two")]
    pub creating_s: f64,
    /// The image never pulls: ErrImagePull, then ImagePullBackOff; the container never starts.
    #[serde(default)]
    pub image_pull_fails: bool,
    /// Ansible tasks run in order; the first `fatal` one ends the play.
    #[serde(default)]
    pub tasks: Vec<TaskSpec>,
    /// Container exit code when a task fails.
    #[serde(default = "two_i32")]
    pub exit_code: i32,
    /// Applied to the cluster when the play succeeds.
    #[serde(default)]
    pub on_success: Option<TransitionSpec>,
}

fn two() -> f64 {
    2.0
}
fn two_i32() -> i32 {
    2
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    pub name: String,
    /// Simulated seconds the task takes.
    #[serde(default = "one")]
    pub duration_s: f64,
    #[serde(default)]
    pub result: TaskResult,
    /// Extra log lines printed under the task header.
    #[serde(default)]
    pub output: Vec<String>,
    /// For `fatal`: the `msg` (or stderr) in the FAILED! line.
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskResult {
    #[default]
    Ok,
    Changed,
    Skipped,
    Fatal,
}

/// The platform's move to another version once a play succeeds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionSpec {
    /// Releases that get a new revision (the previous one becomes `superseded`).
    #[serde(default)]
    pub releases: Vec<ReleaseMove>,
    /// Image repository (no tag) → new full image. Pods running a mapped image restart with new names.
    #[serde(default)]
    pub images: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseMove {
    pub name: String,
    pub namespace: String,
    pub chart_version: String,
    /// Defaults to the chart version.
    #[serde(default)]
    pub app_version: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsSpec {
    #[serde(default)]
    pub requests: Vec<RequestFault>,
    /// Added to every request (simulated milliseconds).
    #[serde(default)]
    pub latency_ms: u64,
    /// Every watch stream ends after this many events.
    #[serde(default)]
    pub watch_cut_after_events: Option<u64>,
    #[serde(default)]
    pub gone_on_old_resource_version: Option<GoneSpec>,
    #[serde(default)]
    pub api_unavailable: Option<OutageSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestFault {
    #[serde(default)]
    pub when: RequestMatch,
    /// HTTP status to answer with (a Status body is sent).
    pub respond: u16,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestMatch {
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// Only requests matching method/path after this many earlier matching ones.
    #[serde(default)]
    pub after_requests: u64,
    /// How many matching requests fail; unlimited when absent.
    #[serde(default)]
    pub count: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoneSpec {
    /// The server remembers only this many recent events; a watch from an older resourceVersion gets 410 Gone.
    #[serde(default)]
    pub keep_last_events: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutageSpec {
    /// Start of the window, simulated seconds after the anchor.
    pub from_s: f64,
    pub for_s: f64,
    #[serde(default)]
    pub anchor: OutageAnchor,
    #[serde(default)]
    pub mode: OutageMode,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutageAnchor {
    /// The server's start.
    #[default]
    Start,
    /// The creation of Job `upgrade-astronomer`.
    UpgradeJob,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutageMode {
    /// Every request gets 503 ServiceUnavailable.
    #[default]
    ServiceUnavailable,
    /// Connections are accepted and closed at once, without an answer.
    Reset,
    /// Nothing listens: connecting is refused.
    Refuse,
}

/// Facts a reader of the real kubectl's output must find.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectSpec {
    /// `namespace/name` of every pod that is not Running with all containers ready, nor Completed.
    #[serde(default)]
    pub unhealthy_pods: Vec<String>,
    /// `create <resource> [-n ns]` questions answered "no".
    #[serde(default)]
    pub denied: Vec<String>,
}

impl Scenario {
    pub fn from_file(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Scenario::from_yaml(&path.display().to_string(), &text)
    }

    pub fn from_yaml(name: &str, text: &str) -> Result<Scenario, ScenarioError> {
        let mut scenario: Scenario = serde_norway::from_str(text).map_err(|error| {
            let (line, column) = error
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((0, 0));
            ScenarioError::Parse {
                name: name.to_string(),
                line,
                column,
                message: error.to_string(),
            }
        })?;
        scenario.name = name.to_string();
        scenario.validate()?;
        Ok(scenario)
    }

    fn validate(&self) -> Result<(), ScenarioError> {
        let invalid = |message: String| ScenarioError::Invalid {
            name: self.name.clone(),
            message,
        };
        if !(self.time_scale > 0.0 && self.time_scale.is_finite()) {
            return Err(invalid(format!(
                "time_scale must be a positive number, not {}",
                self.time_scale
            )));
        }
        for release in &self.helm_releases {
            if release.revision == 0 {
                return Err(invalid(format!(
                    "helm release {}: revision must be 1 or more",
                    release.name
                )));
            }
        }
        for (index, object) in self.objects.iter().enumerate() {
            for field in ["apiVersion", "kind"] {
                if object.get(field).and_then(|v| v.as_str()).is_none() {
                    return Err(invalid(format!("objects[{index}] has no {field}")));
                }
            }
            if object
                .pointer("/metadata/name")
                .and_then(|v| v.as_str())
                .is_none()
            {
                return Err(invalid(format!("objects[{index}] has no metadata.name")));
            }
        }
        for age in self
            .pods
            .iter()
            .filter_map(|p| p.age.as_deref())
            .chain(self.deployments.iter().filter_map(|d| d.age.as_deref()))
        {
            if crate::time::parse_age(age).is_none() {
                return Err(invalid(format!(
                    "age {age:?} is not a duration like 3d, 5h, 40m, 30s"
                )));
            }
        }
        Ok(())
    }
}
