//! The real upgrader's Ansible tasks, spelled out once: `tasks/upgrade.yaml` and
//! `tasks/rollback.yaml` of the playbook in `bin/migration-scripts/lts-to-lts/0.16-to-0.23/playbooks/`
//! of astronomer/astronomer at tag v0.23.18. Scenarios name a list with `tasks_from:` and change
//! single tasks with `overrides:` / `fail_at:` (see `tests/scenarios/README.md`).
//!
//! Names are exactly what `ansible-playbook` prints in `TASK [...]` (unnamed tasks print their
//! module, `set_fact` / `debug`; `astronomer-boostrap` is the playbook's own spelling). Results are
//! those of a successful run; durations are simulated seconds chosen so a whole upgrade takes about
//! ten minutes and a rollback about three. `cmd` marks a `shell` task (its failure prints Ansible's
//! shell result: `cmd`, `rc`, `stderr`, `msg: non-zero return code`); `retries` is the task's
//! `retries:` (an `until` loop prints `FAILED - RETRYING: ...` lines).

use crate::scenario::{TaskResult, TaskSpec};

/// One task of a built-in list.
#[derive(Debug, Clone, Copy)]
pub struct PlaybookTask {
    pub name: &'static str,
    pub result: TaskResult,
    pub duration_s: f64,
    /// The command of a `shell` task, as Ansible reports it in `cmd` (templates filled in for
    /// release `astronomer` in namespace `astronomer`).
    pub cmd: Option<&'static str>,
    /// The task's `retries:` (with `until:`).
    pub retries: Option<u32>,
}

/// A named list of tasks, for `tasks_from:`.
#[derive(Debug, Clone, Copy)]
pub struct Playbook {
    pub id: &'static str,
    pub source: &'static str,
    pub tasks: &'static [PlaybookTask],
}

const fn task(name: &'static str, result: TaskResult, duration_s: f64) -> PlaybookTask {
    PlaybookTask {
        name,
        result,
        duration_s,
        cmd: None,
        retries: None,
    }
}

const fn ok(name: &'static str, duration_s: f64) -> PlaybookTask {
    task(name, TaskResult::Ok, duration_s)
}

const fn changed(name: &'static str, duration_s: f64) -> PlaybookTask {
    task(name, TaskResult::Changed, duration_s)
}

const fn shell(
    name: &'static str,
    result: TaskResult,
    duration_s: f64,
    cmd: &'static str,
) -> PlaybookTask {
    PlaybookTask {
        cmd: Some(cmd),
        ..task(name, result, duration_s)
    }
}

const fn retried(task: PlaybookTask, retries: u32) -> PlaybookTask {
    PlaybookTask {
        retries: Some(retries),
        ..task
    }
}

const OK: TaskResult = TaskResult::Ok;
const CHANGED: TaskResult = TaskResult::Changed;

/// The user-supplied values saved by the backup, as the upgrade's `helm upgrade -f` reads them.
macro_rules! values {
    () => {
        "/astronomer-backups/astro-save-2021-06-01-10-00-00/helm-user-values.json"
    };
}

pub const UPGRADE_V0_23_18: &[PlaybookTask] = &[
    ok("Set up variables", 0.2),
    shell(
        "Find the Astronomer Helm release (helm list)",
        OK,
        2.0,
        "helm list --all-namespaces -o json --offset=0 --max=1000\n",
    ),
    ok("Find the Astronomer Helm release (parse results)", 0.2),
    ok("Set commander upgrade timeout", 0.2),
    ok("Show Airflow releases", 0.2),
    ok("Show Helm chart info", 0.2),
    shell(
        "Check that release name and namespace are correctly configured (1/3): helm status",
        OK,
        1.0,
        "helm status -o json --namespace astronomer astronomer\n",
    ),
    ok(
        "Check that release name and namespace are correctly configured (2/3): parse json",
        0.2,
    ),
    ok(
        "Check that release name and namespace are correctly configured (3/3): assert contents look right",
        0.2,
    ),
    shell(
        "Fetch Helm history from Astronomer (1/2): helm history",
        OK,
        1.0,
        "helm history -o json --namespace astronomer astronomer\n",
    ),
    ok("Fetch Helm history from Astronomer (2/2): parse json", 0.2),
    ok("Assert helm revision looks right", 0.2),
    ok("Show information about current Helm revision", 0.2),
    shell(
        "Fetch Helm values from Astronomer (1/2): helm get values",
        OK,
        1.0,
        "helm get values -o json --namespace astronomer astronomer\n",
    ),
    ok("Fetch Helm values from Astronomer (2/2): parse json", 0.2),
    ok("Find database connection from secret astronomer-boostrap", 1.0),
    ok("set_fact", 0.2),
    ok("set_fact", 0.2),
    ok("debug", 0.2),
    ok("debug", 0.2),
    ok("debug", 0.2),
    ok("Check that we can connect to the database", 1.0),
    retried(ok("Wait for Houston to apply migrations in 0.16", 2.4), 30),
    ok("Back up the Helm secret state", 1.0),
    ok("set_fact", 0.2),
    ok("set_fact", 0.2),
    ok("set_fact", 0.2),
    ok("set_fact", 0.2),
    changed("Ensure backup directory is created", 0.2),
    changed("Create save directory", 0.2),
    changed("Backup Helm backend state", 0.5),
    changed("Backup Astronomer Helm values", 0.5),
    changed("Backup Astronomer revision", 0.5),
    changed("Backup Astronomer Helm status", 0.5),
    shell(
        "Add public helm repo",
        CHANGED,
        4.0,
        "helm repo add astronomer https://helm.astronomer.io\nhelm repo update\n",
    ),
    task(
        "Add private helm repo (for testing only)",
        TaskResult::Skipped,
        0.2,
    ),
    changed("Backup Astronomer database", 40.0),
    changed("Run SQL for Prisma 1 to Prisma 2 migration", 20.0),
    shell(
        "(1/6) Upgrade Astronomer: Helm upgrade - Update software in Astronomer. Watch for 'helm list' to show new version.",
        CHANGED,
        90.0,
        concat!(
            "helm upgrade --namespace astronomer --reset-values -f ",
            values!(),
            " --no-hooks --set astronomer.houston.upgradeDeployments.enabled=false --version=0.23 astronomer astronomer/astronomer\n"
        ),
    ),
    shell(
        "(2/6) Upgrade Astronomer: Helm upgrade - Run Astronomer DB migration. Watch for houston db migrations pod to exit in success.",
        CHANGED,
        120.0,
        concat!(
            "helm upgrade --namespace astronomer --reset-values -f ",
            values!(),
            " --set astronomer.houston.upgradeDeployments.enabled=false --version=0.23 astronomer astronomer/astronomer\n"
        ),
    ),
    shell(
        "(3/6) Upgrade Astronomer: Helm upgrade - Initialize Astronomer Secrets. Watch for houston pods to become ready again.",
        CHANGED,
        60.0,
        "kubectl rollout restart --namespace astronomer deployments\n",
    ),
    retried(
        ok(
            "Wait until the houston backend secret is updated (waiting on previous step to finish)",
            10.0,
        ),
        48,
    ),
    shell(
        "(4/6) Update supported Airflow versions list. Look for pod airflow-upgrade-check-first-run to appear after 40 seconds then complete in success",
        CHANGED,
        45.0,
        "kubectl create job --namespace astronomer --from=cronjob/astronomer-houston-update-airflow-check airflow-upgrade-check-first-run\n",
    ),
    shell(
        "(5/6) Upgrade Astronomer: Helm upgrade - Update Airflow configurations. Watch for Airflow charts to upgrade version with 'helm list --all-namespaces', watch for airflow pods to start back up.",
        CHANGED,
        140.0,
        concat!(
            "helm upgrade --namespace astronomer --reset-values -f ",
            values!(),
            " --set astronomer.houston.upgradeDeployments.enabled=true --set astronomer.airflowChartVersion=0.18 --version=0.23 astronomer astronomer/astronomer\n"
        ),
    ),
    shell(
        "(6/6) Upgrade Astronomer: Helm upgrade - Turn off airflow auto upgrade configuration. Perfunctory step, nothing to look for.",
        CHANGED,
        40.0,
        concat!(
            "helm upgrade --namespace astronomer --reset-values -f ",
            values!(),
            " --no-hooks --set astronomer.houston.upgradeDeployments.enabled=false --version=0.23 astronomer astronomer/astronomer\n"
        ),
    ),
];

pub const ROLLBACK_V0_23_18: &[PlaybookTask] = &[
    ok("Set up variables", 0.2),
    ok("Find the most recent backup file", 1.0),
    ok("debug", 0.2),
    ok("set_fact", 0.2),
    ok("Read revision from backup", 0.5),
    ok("Get the information about the helm release", 0.5),
    ok("debug", 0.2),
    ok("debug", 0.2),
    ok("Find database connection from secret astronomer-bootstrap", 1.0),
    ok("set_fact", 0.2),
    ok("set_fact", 0.2),
    ok("debug", 0.2),
    ok("debug", 0.2),
    ok("debug", 0.2),
    changed("Ensure DB network policy is removed", 3.0),
    retried(ok("Check that we can connect to the database", 1.0), 10),
    ok("Show information the revision we are about to restore to", 0.2),
    changed("Ensure backup revision exists in Helm state", 2.0),
    changed("Ensure DB migration job is deleted", 2.0),
    changed("Ensure Houston API is deleted", 5.0),
    changed("Ensure Houston workers are deleted", 5.0),
    changed("Ensure Prisma is deleted", 5.0),
    ok("Get a list of all Pods", 1.0),
    changed("Delete all Houston pods", 3.0),
    changed("Delete all Prisma pods", 3.0),
    changed(
        "Deleting logs, rollback destroys logs because Elasticsearch version downgrade is not supported",
        15.0,
    ),
    changed(
        "Deleting logs, rollback destroys logs because Elasticsearch version downgrade is not supported",
        15.0,
    ),
    ok("Get a list of all PersistentVolumeClaim objects", 1.0),
    changed("Delete Elasticsearch volumes", 10.0),
    retried(
        changed(
            "Restore Astronomer DB, retrying until all connections are closed",
            40.0,
        ),
        15,
    ),
    changed("Drop the migrations table", 2.0),
    shell(
        "Rollback with Helm (no hooks)",
        CHANGED,
        60.0,
        "helm rollback astronomer 4 --no-hooks --namespace astronomer\n",
    ),
];

/// Every list `tasks_from:` may name.
pub const PLAYBOOKS: &[Playbook] = &[
    Playbook {
        id: "upgrade-v0.23.18",
        source: "tasks/upgrade.yaml",
        tasks: UPGRADE_V0_23_18,
    },
    Playbook {
        id: "rollback-v0.23.18",
        source: "tasks/rollback.yaml",
        tasks: ROLLBACK_V0_23_18,
    },
];

pub fn playbook(id: &str) -> Option<&'static Playbook> {
    PLAYBOOKS.iter().find(|p| p.id == id)
}

impl PlaybookTask {
    pub fn to_spec(&self) -> TaskSpec {
        TaskSpec {
            name: self.name.into(),
            duration_s: self.duration_s,
            result: self.result,
            output: vec![],
            message: None,
            cmd: self.cmd.map(str::to_string),
            stderr: None,
            rc: None,
            retries: self.retries,
            retrying: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_have_the_playbooks_task_counts_and_ends() {
        assert_eq!(UPGRADE_V0_23_18.len(), 45);
        assert_eq!(ROLLBACK_V0_23_18.len(), 32);
        assert!(UPGRADE_V0_23_18[44]
            .name
            .starts_with("(6/6) Upgrade Astronomer"));
        assert_eq!(ROLLBACK_V0_23_18[31].name, "Rollback with Helm (no hooks)");
        let steps: Vec<&str> = UPGRADE_V0_23_18
            .iter()
            .filter(|t| t.name.starts_with('('))
            .map(|t| &t.name[..5])
            .collect();
        assert_eq!(
            steps,
            ["(1/6)", "(2/6)", "(3/6)", "(4/6)", "(5/6)", "(6/6)"]
        );
    }

    #[test]
    fn a_whole_run_takes_about_ten_and_three_minutes() {
        let total = |tasks: &[PlaybookTask]| tasks.iter().map(|t| t.duration_s).sum::<f64>();
        let upgrade = total(UPGRADE_V0_23_18);
        assert!((570.0..=600.0).contains(&upgrade), "{upgrade}");
        let rollback = total(ROLLBACK_V0_23_18);
        assert!((150.0..=200.0).contains(&rollback), "{rollback}");
    }
}
