//! The executor's decisions, kept apart from kube I/O so they can be tested on plain data:
//! what to do with a Job found in the cluster, when a watched Job has succeeded or failed, what
//! to do after a failure (from the phase the upgrader's log shows), and which exit code a run
//! ends with. Time arrives as a parameter (elapsed since the run started).

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use planner::upgrader::{Assessment, BackupState, LogEvent, Phase, UpgraderLog};

use crate::exit;

/// What the cluster shows of a Job the executor is about to create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    Absent,
    Active,
    Complete,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Nothing is running yet: apply the manifest, probe, create the Job.
    Apply,
    /// The Job is running (a previous run crashed or was interrupted): watch it, apply nothing.
    Reattach,
    /// The Job has finished; report it and never re-create it silently.
    ReportFinished { complete: bool },
    /// `--rerun`: delete the finished Job, then apply as usual.
    DeleteAndApply,
}

pub fn decide_start(existing: Existing, rerun: bool) -> Start {
    match (existing, rerun) {
        (Existing::Absent, _) => Start::Apply,
        (Existing::Active, _) => Start::Reattach,
        (Existing::Complete | Existing::Failed, true) => Start::DeleteAndApply,
        (Existing::Complete, false) => Start::ReportFinished { complete: true },
        (Existing::Failed, false) => Start::ReportFinished { complete: false },
    }
}

pub fn existing_of(job: Option<&Job>) -> Existing {
    match job.map(job_condition) {
        None => Existing::Absent,
        Some(None) => Existing::Active,
        Some(Some(JobCondition::Complete)) => Existing::Complete,
        Some(Some(JobCondition::Failed { .. })) => Existing::Failed,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobCondition {
    Complete,
    Failed { reason: String, message: String },
}

pub fn job_condition(job: &Job) -> Option<JobCondition> {
    let conditions = job.status.as_ref()?.conditions.as_ref()?;
    conditions
        .iter()
        .filter(|c| c.status == "True")
        .find_map(|c| match c.type_.as_str() {
            "Complete" => Some(JobCondition::Complete),
            "Failed" => Some(JobCondition::Failed {
                reason: c.reason.clone().unwrap_or_default(),
                message: c.message.clone().unwrap_or_default(),
            }),
            _ => None,
        })
}

/// Why a watched Job is given up on. Each names the object so the operator can look at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    ImagePull {
        pod: String,
        image: String,
        reason: String,
        message: String,
    },
    ContainerFailed {
        pod: String,
        container: String,
        exit_code: i32,
        reason: String,
    },
    JobFailed {
        job: String,
        reason: String,
        message: String,
    },
    ClaimUnbound {
        claim: String,
        waited: Duration,
    },
    Unschedulable {
        pod: String,
        message: String,
        waited: Duration,
    },
    Deadline {
        job: String,
        waited: Duration,
    },
    JobDeleted {
        job: String,
    },
    /// The Job completed, but the platform is not what it should be afterwards.
    Verification {
        problems: Vec<String>,
    },
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::ImagePull {
                pod,
                image,
                reason,
                message,
            } => write!(f, "pod {pod} cannot pull image {image}: {reason} ({message})"),
            Failure::ContainerFailed {
                pod,
                container,
                exit_code,
                reason,
            } => write!(
                f,
                "pod {pod}: container {container} ended with exit code {exit_code} ({reason})"
            ),
            Failure::JobFailed {
                job,
                reason,
                message,
            } => write!(f, "Job {job} failed: {reason} {message}"),
            Failure::ClaimUnbound { claim, waited } => write!(
                f,
                "PersistentVolumeClaim {claim} is still Pending after {}s: no volume was bound (is there a default StorageClass?)",
                waited.as_secs()
            ),
            Failure::Unschedulable {
                pod,
                message,
                waited,
            } => write!(
                f,
                "pod {pod} could not be scheduled for {}s: {message}",
                waited.as_secs()
            ),
            Failure::Deadline { job, waited } => write!(
                f,
                "Job {job} did not finish within {}s (--timeout); it keeps running in the cluster",
                waited.as_secs()
            ),
            Failure::JobDeleted { job } => write!(f, "Job {job} was deleted while it was watched"),
            Failure::Verification { problems } => {
                write!(f, "verification failed: {}", problems.join("; "))
            }
        }
    }
}

impl Failure {
    /// The short name used in JSON events and the journal.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::ImagePull { .. } => "image-pull",
            Failure::ContainerFailed { .. } => "container-failed",
            Failure::JobFailed { .. } => "job-failed",
            Failure::ClaimUnbound { .. } => "claim-unbound",
            Failure::Unschedulable { .. } => "unschedulable",
            Failure::Deadline { .. } => "deadline",
            Failure::JobDeleted { .. } => "job-deleted",
            Failure::Verification { .. } => "verification",
        }
    }
}

/// What the watch streams report, reduced to what the decisions need.
#[derive(Debug, Clone)]
pub enum Observation {
    Job(Box<Job>),
    JobDeleted(String),
    Pod(Box<Pod>),
    PodDeleted(String),
    Claim(Box<PersistentVolumeClaim>),
    LogLine {
        pod: String,
        line: String,
    },
    /// Time passed without an event (so deadlines fire on a quiet cluster).
    Tick,
}

/// What changed for the operator after an observation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// A pod of the Job shows a new status (`ContainerCreating`, `Running`, …).
    PodStatus {
        pod: String,
        status: String,
    },
    /// A container of this pod is running or finished: its log can be followed.
    LogsAvailable {
        pod: String,
    },
    /// The upgrader's play entered a new task (`TASK [name]`).
    Step(String),
    /// The upgrader entered a later phase (read-only → backup → changes the platform).
    PhaseReached {
        phase: Phase,
        task: String,
    },
    Succeeded,
    Failed(Failure),
}

#[derive(Debug, Clone)]
pub struct JobWatchConfig {
    pub job: String,
    /// The claim the Job's pod mounts; it must bind within `bind_timeout`.
    pub claim: Option<String>,
    pub deadline: Duration,
    pub bind_timeout: Duration,
    /// The Job runs the upgrade playbook: its log's tasks are read for their phase.
    pub upgrader: bool,
}

/// Follows one Job to its end: Complete, or the first sign that it will not get there.
#[derive(Debug)]
pub struct JobWatch {
    config: JobWatchConfig,
    started: Duration,
    job_uid: Option<String>,
    claim_pending_since: Option<Duration>,
    unschedulable_since: BTreeMap<String, (Duration, String)>,
    pod_status: BTreeMap<String, String>,
    logs_announced: Vec<String>,
    step: Option<String>,
    log: UpgraderLog,
    finished: bool,
}

impl JobWatch {
    pub fn new(config: JobWatchConfig, now: Duration) -> JobWatch {
        JobWatch {
            config,
            started: now,
            job_uid: None,
            claim_pending_since: None,
            unschedulable_since: BTreeMap::new(),
            pod_status: BTreeMap::new(),
            logs_announced: Vec::new(),
            step: None,
            log: UpgraderLog::new(),
            finished: false,
        }
    }

    pub fn job(&self) -> &str {
        &self.config.job
    }

    pub fn step(&self) -> Option<&str> {
        self.step.as_deref()
    }

    /// The upgrader's log as streamed so far (lines may be missing after a dropped stream).
    pub fn log(&self) -> &UpgraderLog {
        &self.log
    }

    /// Updates the state with one observation at `now` and says what changed. After `Succeeded`
    /// or `Failed` the watch is over and later observations are `Quiet`.
    pub fn observe(&mut self, now: Duration, observation: &Observation) -> Vec<Progress> {
        if self.finished {
            return Vec::new();
        }
        let mut progress = match observation {
            Observation::Job(job) => self.on_job(job),
            Observation::JobDeleted(name) if *name == self.config.job && self.job_uid.is_some() => {
                vec![Progress::Failed(Failure::JobDeleted { job: name.clone() })]
            }
            Observation::Pod(pod) => self.on_pod(now, pod),
            Observation::PodDeleted(name) => {
                self.unschedulable_since.remove(name);
                Vec::new()
            }
            Observation::Claim(claim) => self.on_claim(now, claim),
            Observation::LogLine { pod, line } => self.on_log_line(pod, line),
            Observation::JobDeleted(_) | Observation::Tick => Vec::new(),
        };
        progress.extend(self.on_time(now));
        if let Some(end) = progress
            .iter()
            .position(|p| matches!(p, Progress::Succeeded | Progress::Failed(_)))
        {
            progress.truncate(end + 1);
            self.finished = true;
        }
        progress
    }

    fn on_job(&mut self, job: &Job) -> Vec<Progress> {
        if job.metadata.name.as_deref() != Some(self.config.job.as_str()) {
            return Vec::new();
        }
        self.job_uid = job.metadata.uid.clone();
        match job_condition(job) {
            Some(JobCondition::Complete) => vec![Progress::Succeeded],
            Some(JobCondition::Failed { reason, message }) => {
                vec![Progress::Failed(Failure::JobFailed {
                    job: self.config.job.clone(),
                    reason,
                    message,
                })]
            }
            None => Vec::new(),
        }
    }

    fn owns(&self, pod: &Pod) -> bool {
        let labels = pod.metadata.labels.as_ref();
        let job_name = labels.and_then(|l| l.get("job-name"));
        if job_name.map(String::as_str) != Some(self.config.job.as_str()) {
            return false;
        }
        let owner_uid = pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.kind == "Job")
            .map(|o| o.uid.as_str());
        match (&self.job_uid, owner_uid) {
            (Some(job_uid), Some(owner_uid)) => job_uid == owner_uid,
            _ => true,
        }
    }

    fn on_pod(&mut self, now: Duration, pod: &Pod) -> Vec<Progress> {
        if !self.owns(pod) {
            return Vec::new();
        }
        let name = pod.metadata.name.clone().unwrap_or_default();
        let mut progress = Vec::new();
        let shown = crate::collect::pod_status(pod);
        if self.pod_status.get(&name) != Some(&shown) {
            self.pod_status.insert(name.clone(), shown.clone());
            progress.push(Progress::PodStatus {
                pod: name.clone(),
                status: shown,
            });
        }
        let pod_status = pod.status.clone().unwrap_or_default();
        let unschedulable = pod_status.conditions.iter().flatten().find(|c| {
            c.type_ == "PodScheduled"
                && c.status == "False"
                && c.reason.as_deref() == Some("Unschedulable")
        });
        match unschedulable {
            Some(condition) => {
                let message = condition.message.clone().unwrap_or_default();
                self.unschedulable_since
                    .entry(name.clone())
                    .or_insert((now, message));
            }
            None => {
                self.unschedulable_since.remove(&name);
            }
        }
        for container in pod_status.container_statuses.iter().flatten() {
            let state = container.state.clone().unwrap_or_default();
            if let Some(waiting) = &state.waiting {
                let reason = waiting.reason.clone().unwrap_or_default();
                if matches!(
                    reason.as_str(),
                    "ErrImagePull" | "ImagePullBackOff" | "InvalidImageName" | "ErrImageNeverPull"
                ) {
                    progress.push(Progress::Failed(Failure::ImagePull {
                        pod: name.clone(),
                        image: container.image.clone(),
                        reason,
                        message: waiting.message.clone().unwrap_or_default(),
                    }));
                    return progress;
                }
            }
            if (state.running.is_some() || state.terminated.is_some())
                && !self.logs_announced.contains(&name)
            {
                self.logs_announced.push(name.clone());
                progress.push(Progress::LogsAvailable { pod: name.clone() });
            }
            if let Some(terminated) = &state.terminated {
                if terminated.exit_code != 0 {
                    progress.push(Progress::Failed(Failure::ContainerFailed {
                        pod: name.clone(),
                        container: container.name.clone(),
                        exit_code: terminated.exit_code,
                        reason: terminated.reason.clone().unwrap_or_else(|| "Error".into()),
                    }));
                    return progress;
                }
            }
        }
        progress
    }

    fn on_log_line(&mut self, pod: &str, line: &str) -> Vec<Progress> {
        let mut progress = Vec::new();
        for event in self.log.line(pod, line) {
            match event {
                LogEvent::TaskStarted { task, .. } if self.step.as_deref() != Some(&task) => {
                    self.step = Some(task.clone());
                    progress.push(Progress::Step(task));
                }
                LogEvent::PhaseReached(phase) if self.config.upgrader => {
                    progress.push(Progress::PhaseReached {
                        phase,
                        task: self.step.clone().unwrap_or_default(),
                    });
                }
                _ => {}
            }
        }
        progress
    }

    fn on_claim(&mut self, now: Duration, claim: &PersistentVolumeClaim) -> Vec<Progress> {
        if claim.metadata.name.as_ref() != self.config.claim.as_ref() {
            return Vec::new();
        }
        let phase = claim.status.as_ref().and_then(|s| s.phase.as_deref());
        if phase == Some("Bound") {
            self.claim_pending_since = None;
        } else if self.claim_pending_since.is_none() {
            self.claim_pending_since = Some(now);
        }
        Vec::new()
    }

    fn on_time(&mut self, now: Duration) -> Vec<Progress> {
        if let (Some(since), Some(claim)) = (self.claim_pending_since, &self.config.claim) {
            let waited = now.saturating_sub(since);
            if waited >= self.config.bind_timeout {
                return vec![Progress::Failed(Failure::ClaimUnbound {
                    claim: claim.clone(),
                    waited,
                })];
            }
        }
        for (pod, (since, message)) in &self.unschedulable_since {
            let waited = now.saturating_sub(*since);
            if waited >= self.config.bind_timeout {
                return vec![Progress::Failed(Failure::Unschedulable {
                    pod: pod.clone(),
                    message: message.clone(),
                    waited,
                })];
            }
        }
        let waited = now.saturating_sub(self.started);
        if waited >= self.config.deadline {
            return vec![Progress::Failed(Failure::Deadline {
                job: self.config.job.clone(),
                waited,
            })];
        }
        Vec::new()
    }
}

/// How a run ended, and the exit code that says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Upgraded,
    DryRun,
    /// The upgrade failed and the rollback brought the platform back.
    RolledBack,
    /// The upgrade failed before it changed the platform (its pod never started, or it failed in
    /// a read-only or backup task): nothing was rolled back, nothing needs to be.
    FailedUntouched,
    /// The upgrade failed and a person must decide what happens next (see [`HandOff`]).
    UpgradeFailed,
    /// The upgrade failed and so did the rollback.
    RollbackFailed,
    /// Ctrl-C: the Job keeps running in the cluster.
    Interrupted,
    /// The credentials stopped working: the run cannot see the Job, which keeps running.
    CredentialsLost,
    /// `astro-upgrade rollback` brought the platform back, as asked.
    RollbackDone,
}

impl Ending {
    pub fn exit_code(self) -> u8 {
        match self {
            Ending::Upgraded | Ending::DryRun | Ending::RollbackDone => exit::OK,
            Ending::RolledBack => exit::ROLLED_BACK,
            Ending::FailedUntouched => exit::FAILED_UNTOUCHED,
            Ending::UpgradeFailed
            | Ending::RollbackFailed
            | Ending::Interrupted
            | Ending::CredentialsLost => exit::NEEDS_HUMAN,
        }
    }
}

/// What to do after the upgrade Job failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterFailure {
    /// The upgrader never started (image not pulled, claim not bound, pod not scheduled): the
    /// platform is untouched. Delete the Job so a fixed re-run starts clean; never roll back,
    /// because the rollback would restore whatever backup is newest, possibly an old one.
    DeleteUnstartedJob,
    /// The upgrader failed in a read-only or backup task: the platform is untouched. Keep the
    /// failed Job for its log; never roll back (the newest backup directory is this run's
    /// partial one, or an older attempt's).
    KeepFailedJob,
    /// The upgrader failed after the point of no return, this run's backup holds, and the plan
    /// acknowledged the rollback's data loss: roll back.
    RollBack,
    /// Leave everything as it is and tell the operator exactly where things stand.
    HandOff(HandOff),
}

/// Why a failed upgrade is handed to a person instead of being rolled back automatically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandOff {
    /// The deadline passed; the Job may still be running, and a rollback would race it.
    StillRunning,
    /// The Job was deleted while it was watched.
    JobDeleted,
    /// Past the point of no return, and no automatic rollback was asked for.
    RollbackNotAsked,
    /// Past the point of no return, but the backup a rollback would restore is not this run's
    /// finished dump.
    BackupNotProven(BackupState),
    /// The upgrader ran a task this tool does not know (a newer `:latest` image): where it
    /// stands is not known.
    UnknownTask(String),
    /// The log does not show where the upgrader failed (no `fatal:` line, and it could not be read
    /// whole after the pod ended).
    PhaseUnknown,
}

impl HandOff {
    pub fn kind(&self) -> &'static str {
        match self {
            HandOff::StillRunning => "still-running",
            HandOff::JobDeleted => "job-deleted",
            HandOff::RollbackNotAsked => "rollback-not-asked",
            HandOff::BackupNotProven(_) => "backup-not-proven",
            HandOff::UnknownTask(_) => "unknown-task",
            HandOff::PhaseUnknown => "phase-unknown",
        }
    }
}

/// What the upgrader's log shows, and how much of it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgraderEvidence {
    pub assessment: Assessment,
    /// Every pod's log was read whole after the pod's containers ended.
    pub complete: bool,
}

/// Whether the platform changed, as the upgrader's log proves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlatformChanged {
    /// No task that changes the platform started, and the log shows where the run stopped (its
    /// failing task, or the whole log read after the pod ended).
    No,
    /// A task past the point of no return started.
    Yes,
    /// Neither is proven (an unknown task, or a log that stops short).
    Unknown,
}

impl PlatformChanged {
    pub fn as_str(self) -> &'static str {
        match self {
            PlatformChanged::No => "no",
            PlatformChanged::Yes => "yes",
            PlatformChanged::Unknown => "unknown",
        }
    }
}

impl UpgraderEvidence {
    pub fn platform_changed(&self) -> PlatformChanged {
        let log = &self.assessment;
        if log.platform_untouched() && (log.failed.is_some() || self.complete) {
            PlatformChanged::No
        } else if log.reached == Some(Phase::ChangesPlatform) {
            PlatformChanged::Yes
        } else {
            PlatformChanged::Unknown
        }
    }
}

/// Decides what follows a failed upgrade. `auto_rollback` means `--auto-rollback` was given with a
/// rollback manifest and a plan that acknowledges `rollback-data-loss` (checked before any change).
pub fn after_failure(
    failure: &Failure,
    upgrader: &UpgraderEvidence,
    auto_rollback: bool,
) -> AfterFailure {
    let log = &upgrader.assessment;
    match failure {
        Failure::ImagePull { .. }
        | Failure::ClaimUnbound { .. }
        | Failure::Unschedulable { .. } => AfterFailure::DeleteUnstartedJob,
        Failure::Deadline { .. } => AfterFailure::HandOff(HandOff::StillRunning),
        Failure::JobDeleted { .. } => AfterFailure::HandOff(HandOff::JobDeleted),
        Failure::ContainerFailed { .. }
        | Failure::JobFailed { .. }
        | Failure::Verification { .. } => {
            if let Some(task) = &log.unknown_task {
                return AfterFailure::HandOff(HandOff::UnknownTask(task.clone()));
            }
            match upgrader.platform_changed() {
                PlatformChanged::No => return AfterFailure::KeepFailedJob,
                PlatformChanged::Unknown => return AfterFailure::HandOff(HandOff::PhaseUnknown),
                PlatformChanged::Yes => {}
            }
            if !auto_rollback {
                return AfterFailure::HandOff(HandOff::RollbackNotAsked);
            }
            match log.backup {
                BackupState::Proven => AfterFailure::RollBack,
                state => AfterFailure::HandOff(HandOff::BackupNotProven(state)),
            }
        }
    }
}

/// Whether `astro-upgrade rollback` may run, from what the upgrader's log shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollbackGate {
    Allowed,
    /// The upgrade never passed the point of no return: the platform is as it was.
    NeverChanged {
        failed_task: Option<String>,
    },
}

pub fn rollback_gate(upgrader: Option<&UpgraderEvidence>, force: bool) -> RollbackGate {
    match upgrader {
        Some(evidence) if !force && evidence.platform_changed() == PlatformChanged::No => {
            RollbackGate::NeverChanged {
                failed_task: evidence.assessment.failed.as_ref().map(|f| f.task.clone()),
            }
        }
        _ => RollbackGate::Allowed,
    }
}

/// How a watched Job ended.
#[derive(Debug)]
pub enum JobOutcome {
    Succeeded,
    Failed(Failure),
    Interrupted,
    /// The cluster stopped accepting this run's credentials and new ones could not be had: the
    /// Job's fate is unknown, not failed.
    CredentialsLost(String),
}

/// What follows the probe Job: `None` when it passed and the upgrade may start.
pub fn after_probe(outcome: &JobOutcome) -> Option<Ending> {
    match outcome {
        JobOutcome::Succeeded => None,
        // The upgrade Job was never created: the platform is untouched.
        JobOutcome::Failed(_) => Some(Ending::FailedUntouched),
        JobOutcome::Interrupted => Some(Ending::Interrupted),
        JobOutcome::CredentialsLost(_) => Some(Ending::CredentialsLost),
    }
}

/// What the probe's log says of each host the plan needs: `Err` names every host that did not
/// answer, or that the log does not show, with what it printed. The upgrade Job must not be
/// created then: a host missing before the point of no return fails the upgrader early, one
/// missing after it (updates.astronomer.io, step (4/6)) fails it when nothing can be undone.
pub fn after_egress_probe(planned: &[String], probe_log: &str) -> Result<(), Vec<String>> {
    let facts = planner::input::egress::read(PROBE_JOB, probe_log, 1, None);
    let path = &planner::path::LTS_0_16_TO_0_23;
    let mut problems = Vec::new();
    for host in planned {
        let covers = |tested: &str| match path.egress.iter().find(|h| h.host == host) {
            Some(known) => known.covers(tested),
            None => tested.eq_ignore_ascii_case(host),
        };
        let tests: Vec<_> = facts.egress.iter().filter(|t| covers(&t.host)).collect();
        match tests.iter().find(|t| !t.reachable) {
            Some(failed) => problems.push(format!("{host}: {}", failed.detail)),
            None if tests.is_empty() => {
                let said = facts
                    .diagnostics
                    .iter()
                    .find(|d| d.message.contains(host.as_str()))
                    .map_or("the probe printed nothing for it".to_string(), |d| {
                        d.message.clone()
                    });
                problems.push(format!("{host}: not tested ({said})"));
            }
            None => {}
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// The name of the throwaway Job that proves the upgrader's pod can start.
pub const PROBE_JOB: &str = "astro-upgrade-probe";

/// A pod of the probe, upgrade or rollback Job (named `<job>-<suffix>` in the upgrade
/// namespace), given as `namespace/name`: this tool's own, never drift.
pub fn is_own_pod(qualified: &str) -> bool {
    let namespace = planner::path::LTS_0_16_TO_0_23.upgrade_namespace;
    let Some(name) = qualified
        .strip_prefix(namespace)
        .and_then(|rest| rest.strip_prefix('/'))
    else {
        return false;
    };
    [
        PROBE_JOB,
        planner::path::UPGRADE_JOB,
        planner::path::ROLLBACK_JOB,
    ]
    .iter()
    .any(|job| {
        name.strip_prefix(job)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|suffix| !suffix.is_empty() && !suffix.contains('-'))
    })
}

/// Why `apply` refuses before any change, after re-reading the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The cluster is not the one the plan was approved for: each difference in words.
    Drift(Vec<String>),
    /// Rights the manifest needs that the user lacks, in words.
    MissingRights(Vec<String>),
}

/// The preflight decision: the live cluster must match the plan's fingerprint (this tool's own
/// Jobs' pods aside) and every right must be granted.
pub fn preflight(
    planned: &planner::plan::ClusterFingerprint,
    live: &planner::Facts,
) -> Result<(), Refusal> {
    let mut facts = live.clone();
    facts.pods.retain(|pod| {
        !is_own_pod(&format!(
            "{}/{}",
            pod.namespace.as_deref().unwrap_or_default(),
            pod.name
        ))
    });
    let now = planner::plan::ClusterFingerprint::from_facts(&facts);
    let mut planned = planned.clone();
    planned.unhealthy_pods.retain(|pod| !is_own_pod(pod));
    let differences = planned.diff(&now);
    if !differences.is_empty() {
        return Err(Refusal::Drift(differences));
    }
    let missing: Vec<String> = facts
        .permissions
        .iter()
        .filter(|p| !p.allowed)
        .map(|p| match &p.namespace {
            Some(ns) => format!("{} {} in {ns}", p.verb, p.resource),
            None => format!("{} {} (cluster-wide)", p.verb, p.resource),
        })
        .collect();
    if !missing.is_empty() {
        return Err(Refusal::MissingRights(missing));
    }
    Ok(())
}

/// Parses durations as people write them: `90s`, `45m`, `1h30m`, `2h`, `500ms`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        if digits == 0 {
            return None;
        }
        let number: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number.checked_mul(60)?),
            "h" => Duration::from_secs(number.checked_mul(3600)?),
            _ => return None,
        };
        total = total.checked_add(unit)?;
        rest = &rest[unit_len..];
    }
    Some(total)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod egress_tests {
    use super::after_egress_probe;

    fn hosts(names: &[&str]) -> Vec<String> {
        names.iter().map(|h| h.to_string()).collect()
    }

    #[test]
    fn every_planned_host_must_answer_in_the_probe_s_log() {
        let log = "astro-upgrade egress https://helm.astronomer.io/index.yaml: HTTP/2 200\n\
                   astro-upgrade egress https://updates.astronomer.io/astronomer-certified: HTTP/2 200\n\
                   astro-upgrade egress https://registry-1.docker.io/v2/: HTTP/1.1 401 Unauthorized\n";
        assert_eq!(
            after_egress_probe(
                &hosts(&["helm.astronomer.io", "updates.astronomer.io", "docker.io"]),
                log
            ),
            Ok(())
        );
        assert_eq!(after_egress_probe(&[], ""), Ok(()));
    }

    #[test]
    fn an_unreachable_or_untested_host_is_named() {
        let log = "astro-upgrade egress https://helm.astronomer.io/index.yaml: HTTP/2 200\n\
                   astro-upgrade egress https://updates.astronomer.io/astronomer-certified: curl: (6) Could not resolve host: updates.astronomer.io\n\
                   astro-upgrade egress https://quay.io/v2/: sh: curl: not found\n";
        let problems = after_egress_probe(
            &hosts(&[
                "helm.astronomer.io",
                "updates.astronomer.io",
                "quay.io",
                "docker.io",
            ]),
            log,
        )
        .unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("updates.astronomer.io: curl: (6)"));
        assert!(problems[1].starts_with("quay.io: not tested"));
        assert!(problems[1].contains("curl: not found"));
        assert_eq!(
            problems[2],
            "docker.io: not tested (the probe printed nothing for it)"
        );
    }
}
