//! The real upgrader as data, and a reader of its log that tells how far a run got.
//!
//! The upgrade Job runs `ansible-playbook` over `playbooks/tasks/upgrade.yaml` of
//! astronomer/astronomer (`bin/migration-scripts/lts-to-lts/0.16-to-0.23/`, tag v0.23.18). Its log
//! is plain Ansible output: a `TASK [name] ***` header per task, then `ok:` / `changed:` /
//! `skipping:` / `fatal:` lines, `FAILED - RETRYING:` lines of retried tasks, and a `PLAY RECAP`.
//! Whether a failed run may be rolled back depends on where it failed: the rollback playbook
//! deletes Houston, Prisma, the Elasticsearch StatefulSets and their volumes, then restores the
//! newest directory under `/astronomer-backups`. So the tasks are pinned here with their phase,
//! and [`UpgraderLog`] reads a log into an [`Assessment`] the executor decides on.

use std::collections::BTreeMap;

/// What a task of the upgrader does to the cluster. Ordered: later phases come after earlier ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Discovery, asserts and database checks: reads only.
    ReadOnly,
    /// Writes only to the backup PVC (or, `Add public helm repo`, to the Job pod's own files).
    Backup,
    /// Changes the platform: the database migration and the Helm upgrades. The first such task
    /// is the point of no return.
    ChangesPlatform,
}

impl Phase {
    /// The stable name used in the journal and JSON events.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::ReadOnly => "read-only",
            Phase::Backup => "backup",
            Phase::ChangesPlatform => "changes-platform",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Phase::ReadOnly => "read-only checks (nothing written)",
            Phase::Backup => "backups (written only to the backup PVC)",
            Phase::ChangesPlatform => "changing the platform (past the point of no return)",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpgraderTask {
    /// The name as `TASK [name]` prints it (`set_fact` / `debug` for unnamed tasks).
    pub name: &'static str,
    pub phase: Phase,
}

const fn task(name: &'static str, phase: Phase) -> UpgraderTask {
    UpgraderTask { name, phase }
}

use Phase::{Backup, ChangesPlatform, ReadOnly};

/// The tag whose playbooks [`UPGRADE_TASKS`] and [`ROLLBACK_TASKS`] were read from.
pub const PLAYBOOK_TAG: &str = "v0.23.18";

/// The task whose start is the point of no return: it runs an autocommitted SQL script.
pub const POINT_OF_NO_RETURN: &str = "Run SQL for Prisma 1 to Prisma 2 migration";
/// Creates `/astronomer-backups/astro-save-<timestamp>`: the directory a rollback will restore
/// from, because the rollback picks the newest one.
pub const SAVE_DIRECTORY_TASK: &str = "Create save directory";
/// `pg_dump` of `<release>_houston` into the save directory.
pub const DATABASE_BACKUP_TASK: &str = "Backup Astronomer database";

/// Every task of `tasks/upgrade.yaml` at [`PLAYBOOK_TAG`], in order.
pub const UPGRADE_TASKS: &[UpgraderTask] = &[
    task("Set up variables", ReadOnly),
    task("Find the Astronomer Helm release (helm list)", ReadOnly),
    task("Find the Astronomer Helm release (parse results)", ReadOnly),
    task("Set commander upgrade timeout", ReadOnly),
    task("Show Airflow releases", ReadOnly),
    task("Show Helm chart info", ReadOnly),
    task("Check that release name and namespace are correctly configured (1/3): helm status", ReadOnly),
    task("Check that release name and namespace are correctly configured (2/3): parse json", ReadOnly),
    task(
        "Check that release name and namespace are correctly configured (3/3): assert contents look right",
        ReadOnly,
    ),
    task("Fetch Helm history from Astronomer (1/2): helm history", ReadOnly),
    task("Fetch Helm history from Astronomer (2/2): parse json", ReadOnly),
    task("Assert helm revision looks right", ReadOnly),
    task("Show information about current Helm revision", ReadOnly),
    task("Fetch Helm values from Astronomer (1/2): helm get values", ReadOnly),
    task("Fetch Helm values from Astronomer (2/2): parse json", ReadOnly),
    // sic: the playbook spells it "boostrap"
    task("Find database connection from secret astronomer-boostrap", ReadOnly),
    task("set_fact", ReadOnly),
    task("debug", ReadOnly),
    task("Check that we can connect to the database", ReadOnly),
    task("Wait for Houston to apply migrations in 0.16", ReadOnly),
    task("Back up the Helm secret state", ReadOnly),
    task("Ensure backup directory is created", Backup),
    task(SAVE_DIRECTORY_TASK, Backup),
    task("Backup Helm backend state", Backup),
    task("Backup Astronomer Helm values", Backup),
    task("Backup Astronomer revision", Backup),
    task("Backup Astronomer Helm status", Backup),
    // Writes the Job pod's Helm repository cache; needs egress to helm.astronomer.io.
    task("Add public helm repo", Backup),
    task("Add private helm repo (for testing only)", Backup),
    task(DATABASE_BACKUP_TASK, Backup),
    task(POINT_OF_NO_RETURN, ChangesPlatform),
    task(
        "(1/6) Upgrade Astronomer: Helm upgrade - Update software in Astronomer. Watch for 'helm list' to show new version.",
        ChangesPlatform,
    ),
    task(
        "(2/6) Upgrade Astronomer: Helm upgrade - Run Astronomer DB migration. Watch for houston db migrations pod to exit in success.",
        ChangesPlatform,
    ),
    task(
        "(3/6) Upgrade Astronomer: Helm upgrade - Initialize Astronomer Secrets. Watch for houston pods to become ready again.",
        ChangesPlatform,
    ),
    task(
        "Wait until the houston backend secret is updated (waiting on previous step to finish)",
        ChangesPlatform,
    ),
    task(
        "(4/6) Update supported Airflow versions list. Look for pod airflow-upgrade-check-first-run to appear after 40 seconds then complete in success",
        ChangesPlatform,
    ),
    task(
        "(5/6) Upgrade Astronomer: Helm upgrade - Update Airflow configurations. Watch for Airflow charts to upgrade version with 'helm list --all-namespaces', watch for airflow pods to start back up.",
        ChangesPlatform,
    ),
    task(
        "(6/6) Upgrade Astronomer: Helm upgrade - Turn off airflow auto upgrade configuration. Perfunctory step, nothing to look for.",
        ChangesPlatform,
    ),
];

/// Task names of earlier builds of the same `:latest` image (the `(n/5)` playbook), which a site
/// may still pull from a mirror. Recognised so their phase is known, never guessed.
pub const EARLIER_UPGRADE_TASKS: &[UpgraderTask] = &[
    task("Add helm repos", Backup),
    task(
        "Upgrade Astronomer: Helm upgrade (1/5) Update software in Astronomer",
        ChangesPlatform,
    ),
    task(
        "Upgrade Astronomer: Helm upgrade (2/5) Run Astronomer DB migration",
        ChangesPlatform,
    ),
    task(
        "Upgrade Astronomer: Helm upgrade (3/5) Initialize Astronomer Secrets",
        ChangesPlatform,
    ),
    task(
        "Wait until the houston backend secret is updated",
        ChangesPlatform,
    ),
    task(
        "Upgrade Astronomer: Helm upgrade (4/5) Update Airflow configurations",
        ChangesPlatform,
    ),
    task(
        "Upgrade Astronomer: Helm upgrade (5/5) Turn off airflow auto upgrade configuration",
        ChangesPlatform,
    ),
    task("Update supported Airflow versions list", ChangesPlatform),
];

/// Every task of `tasks/rollback.yaml` at [`PLAYBOOK_TAG`], in order.
pub const ROLLBACK_TASKS: &[&str] = &[
    "Set up variables",
    "Find the most recent backup file",
    "debug",
    "set_fact",
    "Read revision from backup",
    "Get the information about the helm release",
    "Find database connection from secret astronomer-bootstrap",
    "Ensure DB network policy is removed",
    "Check that we can connect to the database",
    "Show information the revision we are about to restore to",
    "Ensure backup revision exists in Helm state",
    "Ensure DB migration job is deleted",
    "Ensure Houston API is deleted",
    "Ensure Houston workers are deleted",
    "Ensure Prisma is deleted",
    "Get a list of all Pods",
    "Delete all Houston pods",
    "Delete all Prisma pods",
    "Deleting logs, rollback destroys logs because Elasticsearch version downgrade is not supported",
    "Get a list of all PersistentVolumeClaim objects",
    "Delete Elasticsearch volumes",
    "Restore Astronomer DB, retrying until all connections are closed",
    "Drop the migrations table",
    "Rollback with Helm (no hooks)",
];

/// The phase of a task of the upgrade playbook, or `None` for a task this tool does not know.
pub fn phase_of(name: &str) -> Option<Phase> {
    UPGRADE_TASKS
        .iter()
        .chain(EARLIER_UPGRADE_TASKS)
        .find(|t| t.name == name)
        .map(|t| t.phase)
}

/// The task name of an Ansible `TASK [name] ****` header line; `None` for any other line. A
/// header cut before its `]` (a log read while it was written) gives what it has.
pub fn task_header(line: &str) -> Option<TaskHeader<'_>> {
    let rest = line.trim().strip_prefix("TASK [")?;
    match rest.rfind(']') {
        Some(end) => Some(TaskHeader {
            name: rest[..end].trim(),
            complete: true,
        }),
        None => Some(TaskHeader {
            name: rest.trim(),
            complete: false,
        }),
    }
    .filter(|header| !header.name.is_empty())
}

/// `TASK [` and nothing more: a header cut before its name. Its task is not known.
fn cut_header(line: &str) -> Option<TaskHeader<'_>> {
    (line == "TASK [").then_some(TaskHeader {
        name: "",
        complete: false,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskHeader<'a> {
    pub name: &'a str,
    /// False when the line ended before the closing `]`.
    pub complete: bool,
}

/// The phase of a header: a complete name must be known; a cut one counts only when every known
/// task it could be the start of has the same phase.
fn phase_of_header(header: TaskHeader<'_>) -> Option<Phase> {
    if header.name.is_empty() {
        return None;
    }
    if header.complete {
        return phase_of(header.name);
    }
    let mut phases = UPGRADE_TASKS
        .iter()
        .chain(EARLIER_UPGRADE_TASKS)
        .filter(|t| t.name.starts_with(header.name))
        .map(|t| t.phase);
    let first = phases.next()?;
    phases.all(|p| p == first).then_some(first)
}

/// What one upgrader task ended with, as far as the log shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedTask {
    pub task: String,
    /// The `msg` of Ansible's `FAILED! => {…}` (secrets masked), or its `stderr` when there is no `msg`.
    pub message: Option<String>,
}

/// Whether the newest save directory holds a database dump taken before the platform changed:
/// the only backup a rollback may restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupState {
    /// The newest save directory was created by this log and `Backup Astronomer database` ended
    /// `ok`/`changed` in it before any task that changes the platform started.
    Proven,
    /// This log created no save directory: the newest one is an older attempt's (or none).
    NoSaveDirectory,
    /// The newest save directory has no finished dump (the task failed, was skipped or never ran).
    DumpNotFinished,
    /// The newest save directory was created after the platform started changing (a replaced
    /// pod ran the playbook again): its dump is of a migrated database.
    TakenAfterChange,
}

impl BackupState {
    pub fn as_str(self) -> &'static str {
        match self {
            BackupState::Proven => "proven",
            BackupState::NoSaveDirectory => "no-save-directory",
            BackupState::DumpNotFinished => "dump-not-finished",
            BackupState::TakenAfterChange => "taken-after-change",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            BackupState::Proven => "this run's database dump finished before the platform changed",
            BackupState::NoSaveDirectory => {
                "this run created no backup directory: the newest one under /astronomer-backups is an older attempt's"
            }
            BackupState::DumpNotFinished => {
                "the database dump in this run's backup directory did not finish (failed, skipped or never ran)"
            }
            BackupState::TakenAfterChange => {
                "the newest backup directory was written after the platform started changing, so it holds a migrated database"
            }
        }
    }
}

/// What a log says about a run: how far it got, where it failed, and whether its backup holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// The latest phase of any known task that started; `None` when no task started.
    pub reached: Option<Phase>,
    /// The newest task header seen.
    pub last_task: Option<String>,
    /// The first task that failed without `...ignoring`.
    pub failed: Option<FailedTask>,
    /// A task that is not in the pinned list started (a newer `:latest` upgrader, or a cut header
    /// that fits tasks of different phases): the phase after it is not known.
    pub unknown_task: Option<String>,
    pub backup: BackupState,
    /// `PLAY RECAP` was printed: the play ended.
    pub play_ended: bool,
}

impl Assessment {
    /// True when nothing in the log shows a task that changes the platform, and every task seen
    /// is known: the platform is untouched.
    pub fn platform_untouched(&self) -> bool {
        self.unknown_task.is_none() && self.reached < Some(ChangesPlatform)
    }
}

#[derive(Debug, Default, Clone)]
struct PodProgress {
    /// The task whose results the next lines belong to.
    task: Option<String>,
}

#[derive(Debug, Clone, Copy)]
struct SaveDirectory {
    dumped: bool,
    created_after_change: bool,
}

/// Reads upgrader log lines, pod by pod, in the order they were printed. Pods of one Job run one
/// after another (a replaced pod starts the playbook again), so their lines are fed in order.
#[derive(Debug, Default, Clone)]
pub struct UpgraderLog {
    pods: BTreeMap<String, PodProgress>,
    reached: Option<Phase>,
    last_task: Option<String>,
    failed: Option<FailedTask>,
    unknown_task: Option<String>,
    newest_save: Option<SaveDirectory>,
    /// The task of the last `fatal:`, so a following `...ignoring` can take it back.
    pending_fatal: Option<FailedTask>,
    play_ended: bool,
}

/// What one line changed, for the executor's journal and progress display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEvent {
    /// A task started; `phase` is `None` for a task this tool does not know.
    TaskStarted {
        task: String,
        phase: Option<Phase>,
    },
    /// The run entered a later phase than before.
    PhaseReached(Phase),
    TaskFailed(FailedTask),
}

impl UpgraderLog {
    pub fn new() -> UpgraderLog {
        UpgraderLog::default()
    }

    /// Reads a whole log of one pod.
    pub fn read(pod: &str, text: &str) -> UpgraderLog {
        let mut log = UpgraderLog::new();
        for line in text.lines() {
            log.line(pod, line);
        }
        log
    }

    /// Reads one line printed by `pod`; says what changed.
    pub fn line(&mut self, pod: &str, line: &str) -> Vec<LogEvent> {
        let mut events = Vec::new();
        let trimmed = line.trim();
        if let Some(header) = task_header(trimmed).or(cut_header(trimmed)) {
            self.settle_fatal(&mut events);
            let phase = phase_of_header(header);
            let name = match (header.name, header.complete) {
                ("", _) => "(a task header cut short)".to_string(),
                (name, true) => name.to_string(),
                (name, false) => format!("{name}…"),
            };
            self.pods.entry(pod.to_string()).or_default().task = Some(name.clone());
            self.last_task = Some(name.clone());
            events.push(LogEvent::TaskStarted {
                task: name.clone(),
                phase,
            });
            match phase {
                Some(phase) => {
                    if self.reached < Some(phase) {
                        self.reached = Some(phase);
                        events.push(LogEvent::PhaseReached(phase));
                    }
                }
                None => {
                    if self.unknown_task.is_none() {
                        self.unknown_task = Some(name);
                    }
                }
            }
            return events;
        }
        let current = self.pods.get(pod).and_then(|p| p.task.clone());
        if trimmed.starts_with("...ignoring") {
            self.pending_fatal = None;
            return events;
        }
        if trimmed.starts_with("PLAY RECAP") {
            self.settle_fatal(&mut events);
            self.play_ended = true;
            return events;
        }
        if trimmed.starts_with("FAILED - RETRYING") {
            return events;
        }
        let Some(task) = current else {
            return events;
        };
        if let Some(result) = trimmed
            .strip_prefix("fatal: [")
            .or_else(|| trimmed.strip_prefix("failed: ["))
        {
            self.settle_fatal(&mut events);
            self.pending_fatal = Some(FailedTask {
                task,
                message: failure_message(result),
            });
        } else if trimmed.starts_with("ok: [") || trimmed.starts_with("changed: [") {
            self.settle_fatal(&mut events);
            self.succeeded(&task);
        } else if trimmed.starts_with("skipping: [") {
            self.settle_fatal(&mut events);
        }
        events
    }

    /// A `fatal:` stands once the next line is not `...ignoring`.
    fn settle_fatal(&mut self, events: &mut Vec<LogEvent>) {
        if let Some(fatal) = self.pending_fatal.take() {
            if self.failed.is_none() {
                self.failed = Some(fatal.clone());
            }
            events.push(LogEvent::TaskFailed(fatal));
        }
    }

    fn succeeded(&mut self, task: &str) {
        if task == SAVE_DIRECTORY_TASK {
            self.newest_save = Some(SaveDirectory {
                dumped: false,
                created_after_change: self.reached >= Some(ChangesPlatform),
            });
        } else if task == DATABASE_BACKUP_TASK {
            if let Some(save) = &mut self.newest_save {
                save.dumped = true;
            }
        }
    }

    /// The log so far, as the executor decides on it. A `fatal:` at the very end counts.
    pub fn assessment(&self) -> Assessment {
        let failed = self.failed.clone().or_else(|| self.pending_fatal.clone());
        let backup = match self.newest_save {
            None => BackupState::NoSaveDirectory,
            Some(save) if save.created_after_change => BackupState::TakenAfterChange,
            Some(save) if !save.dumped => BackupState::DumpNotFinished,
            Some(_) => BackupState::Proven,
        };
        Assessment {
            reached: self.reached,
            last_task: self.last_task.clone(),
            failed,
            unknown_task: self.unknown_task.clone(),
            backup,
            play_ended: self.play_ended,
        }
    }
}

/// The `msg` (or `stderr`) of `localhost]: FAILED! => {…}`, secrets masked, shortened.
fn failure_message(result: &str) -> Option<String> {
    let json = &result[result.find("=> ")? + 3..];
    let value: serde_json::Value = serde_json::from_str(json.trim()).ok()?;
    // A shell task's `msg` is only "non-zero return code": its stderr says why.
    let text = ["msg", "stderr", "module_stderr"]
        .iter()
        .filter_map(|key| value.get(key).and_then(serde_json::Value::as_str))
        .find(|text| !text.trim().is_empty() && text.trim() != "non-zero return code")?;
    let masked = crate::report::redact_secrets(text.trim());
    const LIMIT: usize = 600;
    Some(match masked.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &masked[..cut]),
        None => masked,
    })
}

/// Why an early task of the upgrader usually fails, and what fixes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remedy {
    pub cause: &'static str,
    pub fix: &'static str,
}

/// The likely cause and the fix of a failure at `task` (tasks before the point of no return).
pub fn remedy(task: &str) -> Option<Remedy> {
    let (cause, fix) = match task {
        "Find the Astronomer Helm release (helm list)"
        | "Find the Astronomer Helm release (parse results)" => (
            "no Helm 3 release with chart astronomer-* was found (a Helm 2 / Tiller release is invisible to the upgrader's Helm 3)",
            "helm list --all-namespaces; migrate a Helm 2 release with helm 2to3 first",
        ),
        "Check that release name and namespace are correctly configured (1/3): helm status"
        | "Check that release name and namespace are correctly configured (3/3): assert contents look right"
        | "Fetch Helm history from Astronomer (1/2): helm history"
        | "Assert helm revision looks right" => (
            "the platform release's newest revision is not a deployed 0.16 revision (a failed or pending upgrade, or an earlier attempt)",
            "helm history <release> -n <namespace>; bring the release back to a deployed 0.16 revision first",
        ),
        "Find database connection from secret astronomer-boostrap" | "set_fact" => (
            "Secret astronomer-bootstrap is missing in the platform namespace, or its connection does not match postgres://USER:PASSWORD@HOST:PORT",
            "kubectl get secret astronomer-bootstrap -n <namespace>; the connection needs the postgres:// scheme and an explicit port",
        ),
        "Check that we can connect to the database" => (
            "the database cannot be reached from the upgrade pod in namespace default (host, port, firewall or security group, NetworkPolicy, credentials)",
            "kubectl run -n default pg-check --rm -it --restart=Never --image=postgres:11 -- pg_isready -h HOST -p PORT",
        ),
        "Wait for Houston to apply migrations in 0.16" => (
            "Houston's 0.16 schema is not in <release>_houston (Houston has not finished its migrations, or an earlier rollback did not)",
            "kubectl get pods -n <namespace> | grep houston; wait for Houston to be ready on 0.16, then re-run",
        ),
        "Back up the Helm secret state" => (
            "the Helm 3 release Secret of the current revision was not found",
            "kubectl get secrets -n <namespace> -l owner=helm",
        ),
        "Ensure backup directory is created"
        | "Create save directory"
        | "Backup Helm backend state"
        | "Backup Astronomer Helm values"
        | "Backup Astronomer revision"
        | "Backup Astronomer Helm status" => (
            "the backup PVC default/astronomer-upgrades-backup is not writable",
            "kubectl describe pvc -n default astronomer-upgrades-backup",
        ),
        "Add public helm repo" | "Add private helm repo (for testing only)" | "Add helm repos" => (
            "the upgrade pod cannot reach https://helm.astronomer.io (no egress, proxy or DNS)",
            "allow egress from namespace default to helm.astronomer.io:443, then re-run",
        ),
        DATABASE_BACKUP_TASK => (
            "pg_dump failed: the 20Gi backup PVC is full, the database is larger than it, or the server is newer than the upgrader's pg_dump",
            "check the database size (SELECT pg_size_pretty(pg_database_size('<release>_houston'))); give the PVC room (delete old astro-save-* directories or a larger PVC), then re-run",
        ),
        _ => return None,
    };
    Some(Remedy { cause, fix })
}
