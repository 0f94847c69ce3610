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
    /// What any other Job does (the executor's probe Job among them); one successful task when absent.
    #[serde(default)]
    pub other_jobs: Option<JobScript>,
    #[serde(default)]
    pub faults: FaultsSpec,
    /// Bearer-token authentication through an exec credential plugin; anyone is let in when absent.
    #[serde(default)]
    pub auth: Option<AuthSpec>,
    /// Services reachable through the API server's service proxy, with scripted answers.
    #[serde(default)]
    pub services: Vec<crate::proxy::ServiceSpec>,
    /// The files on the upgrade's backup PVC, as a backup copy pod reads them.
    #[serde(default)]
    pub backup_files: Vec<crate::backup_pod::BackupFile>,
    /// Hosts a pod cannot reach over HTTPS (DNS does not resolve them): the executor's probe
    /// prints curl's error for each, and a reachable host's status line for the others.
    #[serde(default)]
    pub unreachable_hosts: Vec<String>,
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
    /// A built-in task list (`crate::playbook::PLAYBOOKS`), instead of `tasks`.
    #[serde(default)]
    pub tasks_from: Option<String>,
    /// Ansible tasks run in order; the first `fatal` one ends the play. Once the scenario is
    /// read this is the whole list, with `tasks_from`, `overrides` and `fail_at` applied.
    #[serde(default)]
    pub tasks: Vec<TaskSpec>,
    /// Changes to single tasks of the list (or new tasks, with `insert_after`).
    #[serde(default)]
    pub overrides: Vec<TaskPatch>,
    /// The task that fails (its result becomes `fatal`); applied after `overrides`.
    #[serde(default)]
    pub fail_at: Option<TaskPatch>,
    /// Container exit code when a task fails.
    #[serde(default = "two_i32")]
    pub exit_code: i32,
    /// Applied to the cluster when the play succeeds.
    #[serde(default)]
    pub on_success: Option<TransitionSpec>,
    /// Applied to the cluster when the play fails (its first fatal task).
    #[serde(default)]
    pub on_failure: Option<TransitionSpec>,
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
    /// For `fatal`: the `msg` of the FAILED! result (default `non-zero return code` for a shell task).
    #[serde(default)]
    pub message: Option<String>,
    /// A `shell` task's command: its failure prints Ansible's shell result (`cmd`, `rc`, `stderr`, ...).
    #[serde(default)]
    pub cmd: Option<String>,
    /// For a failing shell task: its standard error.
    #[serde(default)]
    pub stderr: Option<String>,
    /// For a failing shell task: its exit code (default 1).
    #[serde(default)]
    pub rc: Option<i32>,
    /// The task's `retries:` (an `until` loop).
    #[serde(default)]
    pub retries: Option<u32>,
    /// How many `FAILED - RETRYING` lines the task prints before its result (at most `retries`).
    #[serde(default)]
    pub retrying: u32,
}

/// A change to one task of a script's list: `task` names it (`nth` picks among tasks of the same
/// name, from 1); with `insert_after`, a new task named `task` is inserted after that one instead.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskPatch {
    pub task: String,
    #[serde(default)]
    pub nth: Option<usize>,
    #[serde(default)]
    pub insert_after: Option<String>,
    #[serde(default)]
    pub duration_s: Option<f64>,
    #[serde(default)]
    pub result: Option<TaskResult>,
    #[serde(default)]
    pub output: Option<Vec<String>>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub cmd: Option<String>,
    #[serde(default)]
    pub stderr: Option<String>,
    #[serde(default)]
    pub rc: Option<i32>,
    #[serde(default)]
    pub retries: Option<u32>,
    #[serde(default)]
    pub retrying: Option<u32>,
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

/// The platform's move to another version once a play ends.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionSpec {
    /// Releases that get a new revision.
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
    /// Status of the new revision: `deployed` (earlier deployed revisions become `superseded`),
    /// or e.g. `failed` (earlier revisions stay as they are, as Helm leaves them).
    #[serde(default = "default_release_status")]
    pub status: String,
    /// The new revision's description; default `Upgrade complete`, `Rollback to N`, or
    /// `Upgrade "<name>" failed` / `Rollback "<name>" failed`.
    #[serde(default)]
    pub description: Option<String>,
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

/// Short-lived bearer tokens, as EKS (`aws eks get-token`), GKE or OIDC issue them: the kubeconfig's
/// exec plugin asks the simulator for a token, which expires after `token_ttl_s`. An expired or
/// unknown token gets 401 on every request, and a stream opened with a token ends when it expires.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSpec {
    /// A token's lifetime, in simulated seconds.
    pub token_ttl_s: f64,
    /// While this window is open the plugin cannot get a token (it exits 1, as `aws eks get-token`
    /// does when its own credentials lapse).
    #[serde(default)]
    pub plugin_fails: Option<WindowSpec>,
}

/// A window of simulated time.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// Start of the window, simulated seconds after the anchor.
    pub from_s: f64,
    /// Length of the window; open-ended when absent.
    #[serde(default)]
    pub for_s: Option<f64>,
    #[serde(default)]
    pub anchor: OutageAnchor,
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

impl JobScript {
    /// Replaces `tasks_from` by its tasks, then applies `overrides` and `fail_at` (which are
    /// emptied, so resolving again changes nothing), then checks every task.
    pub fn resolve(&mut self) -> Result<(), String> {
        if let Some(id) = self.tasks_from.take() {
            if !self.tasks.is_empty() {
                return Err("give tasks_from or tasks, not both".into());
            }
            let playbook = crate::playbook::playbook(&id).ok_or_else(|| {
                let known: Vec<&str> = crate::playbook::PLAYBOOKS.iter().map(|p| p.id).collect();
                format!(
                    "tasks_from: no task list {id:?} (known: {})",
                    known.join(", ")
                )
            })?;
            self.tasks = playbook.tasks.iter().map(|t| t.to_spec()).collect();
        }
        for patch in std::mem::take(&mut self.overrides) {
            apply_patch(&mut self.tasks, &patch).map_err(|e| format!("overrides: {e}"))?;
        }
        if let Some(mut patch) = self.fail_at.take() {
            match patch.result {
                None | Some(TaskResult::Fatal) => patch.result = Some(TaskResult::Fatal),
                Some(other) => {
                    return Err(format!("fail_at: result is always fatal, not {other:?}"))
                }
            }
            apply_patch(&mut self.tasks, &patch).map_err(|e| format!("fail_at: {e}"))?;
        }
        for task in &self.tasks {
            check_task(task).map_err(|e| format!("task {:?}: {e}", task.name))?;
        }
        Ok(())
    }
}

/// The index of the `nth` (from 1) task called `name`; without `nth` the name must be unique.
fn find_task(tasks: &[TaskSpec], name: &str, nth: Option<usize>) -> Result<usize, String> {
    let positions: Vec<usize> = tasks
        .iter()
        .enumerate()
        .filter(|(_, t)| t.name == name)
        .map(|(index, _)| index)
        .collect();
    match (positions.len(), nth) {
        (0, _) => Err(format!("no task is named {name:?}")),
        (count, Some(n)) => n
            .checked_sub(1)
            .and_then(|i| positions.get(i).copied())
            .ok_or_else(|| format!("task {name:?} occurs {count} time(s), so nth: {n} names none")),
        (1, None) => Ok(positions[0]),
        (count, None) => Err(format!(
            "task {name:?} occurs {count} times; say which with nth"
        )),
    }
}

fn apply_patch(tasks: &mut Vec<TaskSpec>, patch: &TaskPatch) -> Result<(), String> {
    let index = match &patch.insert_after {
        Some(after) => {
            let index = find_task(tasks, after, patch.nth)? + 1;
            tasks.insert(
                index,
                TaskSpec {
                    name: patch.task.clone(),
                    duration_s: 1.0,
                    result: TaskResult::Ok,
                    output: vec![],
                    message: None,
                    cmd: None,
                    stderr: None,
                    rc: None,
                    retries: None,
                    retrying: 0,
                },
            );
            index
        }
        None => find_task(tasks, &patch.task, patch.nth)?,
    };
    let task = &mut tasks[index];
    if let Some(duration) = patch.duration_s {
        task.duration_s = duration;
    }
    if let Some(result) = patch.result {
        task.result = result;
    }
    if let Some(output) = &patch.output {
        task.output = output.clone();
    }
    for (field, value) in [
        (&mut task.message, &patch.message),
        (&mut task.cmd, &patch.cmd),
        (&mut task.stderr, &patch.stderr),
    ] {
        if value.is_some() {
            *field = value.clone();
        }
    }
    if patch.rc.is_some() {
        task.rc = patch.rc;
    }
    if patch.retries.is_some() {
        task.retries = patch.retries;
    }
    if let Some(retrying) = patch.retrying {
        task.retrying = retrying;
    }
    Ok(())
}

fn check_task(task: &TaskSpec) -> Result<(), String> {
    if !(task.duration_s >= 0.0 && task.duration_s.is_finite()) {
        return Err(format!(
            "duration_s must be 0 or more, not {}",
            task.duration_s
        ));
    }
    if task.retrying > 0 && task.retries.is_none_or(|r| task.retrying > r) {
        return Err(format!(
            "retrying: {} needs retries: {} or more",
            task.retrying, task.retrying
        ));
    }
    if task.cmd.is_none() && (task.stderr.is_some() || task.rc.is_some()) {
        return Err("stderr and rc belong to a shell task: give its cmd".into());
    }
    if task.result == TaskResult::Fatal && task.cmd.is_none() && task.message.is_none() {
        return Err("a failing module task needs its message (or a cmd, for a shell task)".into());
    }
    Ok(())
}

/// Facts a reader of the real kubectl's output must find.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectSpec {
    /// `namespace/name` of every pod that is not Running with all containers ready, nor Completed.
    #[serde(default)]
    pub unhealthy_pods: Vec<String>,
    /// `create <resource> [-n ns]` questions answered "no"; `* *` when `kubectl auth can-i '*' '*'
    /// --all-namespaces` is.
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
        scenario.resolve_scripts()?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// Expands the job scripts' `tasks_from`, `overrides` and `fail_at` into their `tasks`, and
    /// checks the tasks. Idempotent: reading a scenario does it, and so does `Sim::start`.
    pub fn resolve_scripts(&mut self) -> Result<(), ScenarioError> {
        for (field, script) in [
            ("upgrade", &mut self.upgrade),
            ("rollback", &mut self.rollback),
            ("other_jobs", &mut self.other_jobs),
        ] {
            if let Some(script) = script {
                script.resolve().map_err(|message| ScenarioError::Invalid {
                    name: self.name.clone(),
                    message: format!("{field}: {message}"),
                })?;
            }
        }
        Ok(())
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
        if let Some(auth) = &self.auth {
            if !(auth.token_ttl_s > 0.0 && auth.token_ttl_s.is_finite()) {
                return Err(invalid(format!(
                    "auth.token_ttl_s must be a positive number, not {}",
                    auth.token_ttl_s
                )));
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn script(yaml: &str) -> Result<JobScript, ScenarioError> {
        let scenario = Scenario::from_yaml("test.yaml", &format!("upgrade:\n{yaml}"))?;
        Ok(scenario.upgrade.expect("an upgrade script"))
    }

    fn error(yaml: &str) -> String {
        script(yaml).expect_err("the script is refused").to_string()
    }

    #[test]
    fn tasks_from_expands_the_built_in_list() {
        let upgrade = script("  tasks_from: upgrade-v0.23.18\n").unwrap();
        assert_eq!(upgrade.tasks.len(), 45);
        assert!(upgrade.tasks_from.is_none(), "resolved once");
        let names: Vec<&str> = upgrade.tasks.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names[0], "Set up variables");
        assert_eq!(
            names[15],
            "Find database connection from secret astronomer-boostrap"
        );
        let private = &upgrade.tasks[35];
        assert_eq!(private.name, "Add private helm repo (for testing only)");
        assert_eq!(private.result, TaskResult::Skipped);
        assert!(upgrade.tasks.iter().all(|t| t.result != TaskResult::Fatal));
        let rollback =
            Scenario::from_yaml("r.yaml", "rollback:\n  tasks_from: rollback-v0.23.18\n")
                .unwrap()
                .rollback
                .unwrap();
        assert_eq!(rollback.tasks.len(), 32);
        assert_eq!(
            rollback.tasks[31].cmd.as_deref(),
            Some("helm rollback astronomer 4 --no-hooks --namespace astronomer\n")
        );
    }

    #[test]
    fn overrides_and_fail_at_change_the_named_tasks() {
        let upgrade = script(
            "  tasks_from: upgrade-v0.23.18
  overrides:
    - {task: Backup Astronomer database, result: skipped}
    - {task: set_fact, nth: 6, duration_s: 7}
    - {task: Wait for Houston to apply migrations in 0.16, retrying: 2}
  fail_at: {task: Add public helm repo, stderr: no such host, rc: 2}
",
        )
        .unwrap();
        let task = |name: &str| upgrade.tasks.iter().find(|t| t.name == name).unwrap();
        assert_eq!(
            task("Backup Astronomer database").result,
            TaskResult::Skipped
        );
        let set_facts: Vec<f64> = upgrade
            .tasks
            .iter()
            .filter(|t| t.name == "set_fact")
            .map(|t| t.duration_s)
            .collect();
        assert_eq!(set_facts, [0.2, 0.2, 0.2, 0.2, 0.2, 7.0]);
        let wait = task("Wait for Houston to apply migrations in 0.16");
        assert_eq!((wait.retries, wait.retrying), (Some(30), 2));
        let repo = task("Add public helm repo");
        assert_eq!(repo.result, TaskResult::Fatal);
        assert_eq!(repo.stderr.as_deref(), Some("no such host"));
        assert_eq!(repo.rc, Some(2));
        assert!(repo
            .cmd
            .as_deref()
            .unwrap()
            .starts_with("helm repo add astronomer "));
    }

    #[test]
    fn insert_after_adds_a_task_the_list_does_not_have() {
        let upgrade = script(
            "  tasks_from: upgrade-v0.23.18
  fail_at: {task: Check Airflow chart compatibility, insert_after: Backup Astronomer database, message: too old}
",
        )
        .unwrap();
        assert_eq!(upgrade.tasks.len(), 46);
        let index = upgrade
            .tasks
            .iter()
            .position(|t| t.name == "Check Airflow chart compatibility")
            .unwrap();
        assert_eq!(upgrade.tasks[index - 1].name, "Backup Astronomer database");
        assert_eq!(upgrade.tasks[index].result, TaskResult::Fatal);
        assert_eq!(upgrade.tasks[index].message.as_deref(), Some("too old"));
    }

    #[test]
    fn bad_scripts_are_refused_naming_the_problem() {
        assert!(error("  tasks_from: upgrade-v9\n").contains("no task list \"upgrade-v9\""));
        assert!(
            error("  tasks_from: upgrade-v0.23.18\n  tasks: [{name: x}]\n").contains("not both")
        );
        assert!(
            error("  tasks_from: upgrade-v0.23.18\n  fail_at: {task: Nope, message: m}\n")
                .contains("no task is named \"Nope\"")
        );
        assert!(
            error("  tasks_from: upgrade-v0.23.18\n  overrides: [{task: debug}]\n")
                .contains("occurs 3 times; say which with nth")
        );
        assert!(
            error("  tasks_from: upgrade-v0.23.18\n  overrides: [{task: debug, nth: 4}]\n")
                .contains("nth: 4 names none")
        );
        assert!(error(
            "  tasks_from: upgrade-v0.23.18\n  fail_at: {task: Show Helm chart info, result: ok}\n"
        )
        .contains("result is always fatal"));
        assert!(error(
            "  tasks_from: upgrade-v0.23.18\n  fail_at: {task: Check that we can connect to the database}\n"
        )
        .contains("needs its message"));
        assert!(error("  tasks: [{name: x, retries: 2, retrying: 3}]\n")
            .contains("retrying: 3 needs retries: 3 or more"));
        assert!(error("  tasks: [{name: x, stderr: boom}]\n").contains("give its cmd"));
        let unknown = error("  tasks_from: upgrade-v0.23.18\n  fail_at: {task: x, mesage: m}\n");
        assert!(unknown.contains("unknown field `mesage`"), "{unknown}");
    }

    #[test]
    fn a_release_move_defaults_to_deployed() {
        let scenario = Scenario::from_yaml(
            "t.yaml",
            "upgrade:
  on_failure:
    releases:
      - {name: a, namespace: a, chart_version: 0.23.18, status: failed}
  on_success:
    releases:
      - {name: a, namespace: a, chart_version: 0.23.18}
",
        )
        .unwrap();
        let upgrade = scenario.upgrade.unwrap();
        assert_eq!(upgrade.on_failure.unwrap().releases[0].status, "failed");
        assert_eq!(upgrade.on_success.unwrap().releases[0].status, "deployed");
    }
}
