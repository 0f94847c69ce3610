//! The upgrader's log, read as Ansible prints it: how far a run got, where it failed, and whether
//! its backup is one a rollback may restore.

use planner::upgrader::{
    phase_of, remedy, task_header, BackupState, LogEvent, Phase, UpgraderLog, DATABASE_BACKUP_TASK,
    POINT_OF_NO_RETURN, UPGRADE_TASKS,
};

const POD: &str = "upgrade-astronomer-x7k2p";

/// An Ansible log of the v0.23.18 playbook that runs every task up to `last` (by name) with
/// realistic results, then ends `last` with `ending` (a result line, or several).
fn log_until(last: &str, ending: &str) -> String {
    let mut text = String::from(
        "\nPLAY [localhost] ***************************************************************\n",
    );
    for task in UPGRADE_TASKS {
        text.push_str(&format!("\nTASK [{}] {}\n", task.name, "*".repeat(20)));
        if task.name == last {
            text.push_str(ending);
            text.push('\n');
            break;
        }
        let result = match task.name {
            "Add private helm repo (for testing only)" => "skipping: [localhost]",
            _ if task.phase == Phase::ReadOnly => "ok: [localhost]",
            _ => "changed: [localhost]",
        };
        text.push_str(result);
        text.push('\n');
    }
    text
}

fn recap(failed: u32) -> String {
    format!(
        "\nPLAY RECAP *********************************************************************\nlocalhost                  : ok=24   changed=3    unreachable=0    failed={failed}    skipped=1    rescued=0    ignored=0\n"
    )
}

const DB_UNREACHABLE: &str = r#"fatal: [localhost]: FAILED! => {"changed": false, "msg": "unable to connect to database: could not connect to server: Connection timed out\n\tIs the server running on host \"astro-db.cluster-abc.us-east-1.rds.amazonaws.com\" (10.0.3.17) and accepting\n\tTCP/IP connections on port 5432?\n"}"#;

#[test]
fn every_pinned_task_has_one_phase_and_the_phases_never_go_back() {
    let mut previous = Phase::ReadOnly;
    for task in UPGRADE_TASKS {
        assert!(task.phase >= previous, "{} goes back a phase", task.name);
        previous = task.phase;
        assert_eq!(phase_of(task.name), Some(task.phase), "{}", task.name);
    }
    assert_eq!(phase_of(POINT_OF_NO_RETURN), Some(Phase::ChangesPlatform));
    assert_eq!(phase_of(DATABASE_BACKUP_TASK), Some(Phase::Backup));
    let first_change = UPGRADE_TASKS
        .iter()
        .position(|t| t.phase == Phase::ChangesPlatform)
        .unwrap();
    assert_eq!(UPGRADE_TASKS[first_change].name, POINT_OF_NO_RETURN);
    assert_eq!(UPGRADE_TASKS[first_change - 1].name, DATABASE_BACKUP_TASK);
    assert_eq!(phase_of("Check Airflow chart compatibility"), None);
    assert_eq!(
        phase_of("Upgrade Astronomer: Helm upgrade (2/5) Run Astronomer DB migration"),
        Some(Phase::ChangesPlatform),
        "the (n/5) playbook of earlier :latest builds is known too"
    );
}

#[test]
fn a_failure_in_a_read_only_task_leaves_the_platform_untouched() {
    let text = log_until("Check that we can connect to the database", DB_UNREACHABLE) + &recap(1);
    let assessment = UpgraderLog::read(POD, &text).assessment();
    assert_eq!(assessment.reached, Some(Phase::ReadOnly));
    let failed = assessment.failed.as_ref().expect("a failed task");
    assert_eq!(failed.task, "Check that we can connect to the database");
    let message = failed.message.as_deref().unwrap();
    assert!(
        message.starts_with("unable to connect to database"),
        "{message}"
    );
    assert!(assessment.platform_untouched());
    assert!(assessment.play_ended);
    assert_eq!(assessment.backup, BackupState::NoSaveDirectory);
    assert!(remedy(&failed.task).unwrap().fix.contains("pg_isready"));
}

#[test]
fn a_failed_database_dump_is_the_backup_phase_and_proves_no_backup() {
    let text = log_until(
        DATABASE_BACKUP_TASK,
        r#"fatal: [localhost]: FAILED! => {"changed": false, "cmd": "/usr/bin/pg_dump --clean --create --format=tar", "msg": "pg_dump: error: could not write to output file: No space left on device\n", "rc": 1}"#,
    ) + &recap(1);
    let assessment = UpgraderLog::read(POD, &text).assessment();
    assert_eq!(assessment.reached, Some(Phase::Backup));
    assert!(assessment.platform_untouched());
    assert_eq!(assessment.backup, BackupState::DumpNotFinished);
    assert!(assessment
        .failed
        .unwrap()
        .message
        .unwrap()
        .contains("No space left on device"));
}

#[test]
fn a_failed_shell_task_reports_its_stderr_not_ansibles_generic_message() {
    let text = log_until(
        "Add public helm repo",
        r#"fatal: [localhost]: FAILED! => {"changed": true, "cmd": "set -xe\nhelm repo add astronomer https://helm.astronomer.io\nhelm repo update\n", "delta": "0:00:10.034", "msg": "non-zero return code", "rc": 1, "stderr": "+ helm repo add astronomer https://helm.astronomer.io\nError: looks like \"https://helm.astronomer.io\" is not a valid chart repository or cannot be reached", "stdout": ""}"#,
    );
    let assessment = UpgraderLog::read(POD, &text).assessment();
    let failed = assessment.failed.unwrap();
    assert_eq!(failed.task, "Add public helm repo");
    assert!(failed.message.unwrap().contains("cannot be reached"));
    assert_eq!(assessment.reached, Some(Phase::Backup));
    assert!(!assessment.play_ended, "no PLAY RECAP yet");
}

#[test]
fn a_failure_after_the_point_of_no_return_with_a_finished_dump_has_a_proven_backup() {
    let task = UPGRADE_TASKS
        .iter()
        .find(|t| t.name.starts_with("(2/6)"))
        .unwrap()
        .name;
    let text = log_until(
        task,
        r#"fatal: [localhost]: FAILED! => {"changed": true, "msg": "non-zero return code", "rc": 1, "stderr": "Error: UPGRADE FAILED: pre-upgrade hooks failed: job failed: BackoffLimitExceeded"}"#,
    ) + &recap(1);
    let assessment = UpgraderLog::read(POD, &text).assessment();
    assert_eq!(assessment.reached, Some(Phase::ChangesPlatform));
    assert!(!assessment.platform_untouched());
    assert_eq!(assessment.backup, BackupState::Proven);
    assert_eq!(assessment.failed.unwrap().task, task);
}

#[test]
fn a_skipped_dump_proves_no_backup() {
    let text = log_until(DATABASE_BACKUP_TASK, "skipping: [localhost]")
        + &format!("\nTASK [{POINT_OF_NO_RETURN}] ****\n")
        + r#"fatal: [localhost]: FAILED! => {"changed": false, "msg": "relation \"User\" does not exist"}"#;
    let assessment = UpgraderLog::read(POD, &text).assessment();
    assert_eq!(assessment.reached, Some(Phase::ChangesPlatform));
    assert_eq!(assessment.backup, BackupState::DumpNotFinished);
}

#[test]
fn a_retried_task_fails_only_when_its_retries_run_out() {
    let wait = "Wait for Houston to apply migrations in 0.16";
    let retries: String = (1..=3)
        .rev()
        .map(|n| format!("FAILED - RETRYING: {wait} ({n} retries left).\n"))
        .collect();
    let recovered = log_until(wait, &(retries.clone() + "ok: [localhost]"));
    let assessment = UpgraderLog::read(POD, &recovered).assessment();
    assert_eq!(
        assessment.failed, None,
        "retries that end ok are no failure"
    );

    let exhausted = log_until(
        wait,
        &(retries
            + r#"fatal: [localhost]: FAILED! => {"attempts": 30, "changed": false, "msg": "Database query failed: relation \"houston$default.User\" does not exist"}"#),
    );
    let assessment = UpgraderLog::read(POD, &exhausted).assessment();
    assert_eq!(assessment.failed.as_ref().unwrap().task, wait);
    assert_eq!(assessment.reached, Some(Phase::ReadOnly));
    assert!(assessment.platform_untouched());
    // the newer Ansible spelling of the retry line names the host
    let mut log = UpgraderLog::new();
    log.line(POD, &format!("TASK [{wait}] ***"));
    log.line(
        POD,
        &format!("FAILED - RETRYING: [localhost]: {wait} (29 retries left)."),
    );
    assert_eq!(log.assessment().failed, None);
}

#[test]
fn an_ignored_failure_is_not_the_failure() {
    let mut log = UpgraderLog::new();
    log.line(POD, "TASK [Add public helm repo] ***");
    log.line(POD, r#"fatal: [localhost]: FAILED! => {"msg": "x"}"#);
    log.line(POD, "...ignoring");
    log.line(POD, "TASK [Backup Astronomer database] ***");
    log.line(POD, "changed: [localhost]");
    assert_eq!(log.assessment().failed, None);
    // without `...ignoring`, the next header settles it
    let mut log = UpgraderLog::new();
    log.line(POD, "TASK [Add public helm repo] ***");
    log.line(POD, r#"fatal: [localhost]: FAILED! => {"msg": "x"}"#);
    assert_eq!(
        log.assessment().failed.unwrap().task,
        "Add public helm repo"
    );
}

#[test]
fn a_header_cut_mid_line_counts_only_when_its_phase_is_certain() {
    let base = log_until(DATABASE_BACKUP_TASK, "changed: [localhost]");
    for (cut, reached, untouched) in [
        ("TASK [Run SQL for Pri", Some(Phase::ChangesPlatform), false),
        ("TASK [(", Some(Phase::ChangesPlatform), false),
        ("TASK [Backup Astronomer", Some(Phase::Backup), true),
        ("TASK [", Some(Phase::Backup), false),
        ("TASK [Verify the", Some(Phase::Backup), false),
    ] {
        let assessment = UpgraderLog::read(POD, &format!("{base}\n{cut}")).assessment();
        assert_eq!(assessment.reached, reached, "{cut}");
        assert_eq!(assessment.platform_untouched(), untouched, "{cut}");
    }
    // A cut prefix shared by tasks of two phases ("Backup Astronomer…" is B, but "B" could also
    // be "Back up the Helm secret state", R, and B tasks): read-only and backup differ, so unknown.
    let assessment = UpgraderLog::read(POD, "TASK [Back").assessment();
    assert!(assessment.unknown_task.is_some());
    assert!(!task_header("TASK [Run SQL for Pri").unwrap().complete);
}

#[test]
fn a_task_this_tool_does_not_know_makes_the_phase_unknown() {
    let base = log_until(DATABASE_BACKUP_TASK, "changed: [localhost]");
    let text = base
        + "\nTASK [Check Airflow chart compatibility] ****\n"
        + r#"fatal: [localhost]: FAILED! => {"changed": false, "msg": "chart airflow-0.15.7 is not supported"}"#
        + &recap(1);
    let assessment = UpgraderLog::read(POD, &text).assessment();
    assert_eq!(
        assessment.unknown_task.as_deref(),
        Some("Check Airflow chart compatibility")
    );
    assert!(!assessment.platform_untouched());
    assert_eq!(
        assessment.failed.unwrap().task,
        "Check Airflow chart compatibility"
    );
}

#[test]
fn a_replaced_pod_keeps_the_first_pods_phase_and_its_backup_only_while_no_newer_dump_follows() {
    let first = log_until(
        UPGRADE_TASKS
            .iter()
            .find(|t| t.name.starts_with("(1/6)"))
            .unwrap()
            .name,
        "changed: [localhost]",
    );
    // The second pod fails its preflight asserts (the release is already on 0.23).
    let second = log_until(
        "Assert helm revision looks right",
        r#"fatal: [localhost]: FAILED! => {"assertion": "'0.16' in helm_history.app_version", "changed": false, "evaluated_to": false, "msg": "Assertion failed"}"#,
    );
    let mut log = UpgraderLog::new();
    for line in first.lines() {
        log.line("upgrade-astronomer-aaaaa", line);
    }
    for line in second.lines() {
        log.line("upgrade-astronomer-bbbbb", line);
    }
    let assessment = log.assessment();
    assert_eq!(assessment.reached, Some(Phase::ChangesPlatform));
    assert_eq!(assessment.backup, BackupState::Proven);
    assert_eq!(
        assessment.failed.unwrap().task,
        "Assert helm revision looks right"
    );

    // A second pod that got as far as a new dump wrote it after the migration: not a backup.
    let sql_ran = log_until(POINT_OF_NO_RETURN, "changed: [localhost]");
    let again = log_until(
        POINT_OF_NO_RETURN,
        r#"fatal: [localhost]: FAILED! => {"msg": "column \"user\" does not exist"}"#,
    );
    let mut log = UpgraderLog::new();
    for line in sql_ran.lines() {
        log.line("upgrade-astronomer-aaaaa", line);
    }
    for line in again.lines() {
        log.line("upgrade-astronomer-bbbbb", line);
    }
    assert_eq!(log.assessment().backup, BackupState::TakenAfterChange);
}

#[test]
fn secrets_in_a_failure_message_are_masked() {
    let mut log = UpgraderLog::new();
    log.line(POD, "TASK [Check that we can connect to the database] ***");
    log.line(
        POD,
        r#"fatal: [localhost]: FAILED! => {"msg": "could not connect: postgres://astro:hunter2-secret@db:5432 refused"}"#,
    );
    let message = log.assessment().failed.unwrap().message.unwrap();
    assert!(!message.contains("hunter2"), "{message}");
}

#[test]
fn phases_and_backup_states_keep_their_journal_names_and_say_what_they_mean() {
    // The journal and the JSON events carry these names; a script reading them matches on them.
    let phases = [Phase::ReadOnly, Phase::Backup, Phase::ChangesPlatform];
    assert_eq!(
        phases.map(Phase::as_str),
        ["read-only", "backup", "changes-platform"]
    );
    // What the operator reads about where the upgrader stopped.
    for (phase, says) in phases.into_iter().zip([
        "nothing written",
        "backup PVC",
        "past the point of no return",
    ]) {
        assert!(phase.describe().contains(says), "{phase:?}");
    }

    let states = [
        BackupState::Proven,
        BackupState::NoSaveDirectory,
        BackupState::DumpNotFinished,
        BackupState::TakenAfterChange,
    ];
    assert_eq!(
        states.map(BackupState::as_str),
        [
            "proven",
            "no-save-directory",
            "dump-not-finished",
            "taken-after-change"
        ]
    );
    for (state, says) in states.into_iter().zip([
        "finished before the platform changed",
        "an older attempt's",
        "did not finish",
        "migrated database",
    ]) {
        assert!(state.describe().contains(says), "{state:?}");
    }
}

#[test]
fn each_phase_is_announced_once_in_order_as_the_log_streams() {
    let text = log_until(
        UPGRADE_TASKS
            .iter()
            .find(|t| t.name.starts_with("(2/6)"))
            .unwrap()
            .name,
        "changed: [localhost]",
    );
    let mut log = UpgraderLog::new();
    let reached: Vec<Phase> = text
        .lines()
        .flat_map(|line| log.line(POD, line))
        .filter_map(|event| match event {
            LogEvent::PhaseReached(phase) => Some(phase),
            _ => None,
        })
        .collect();
    assert_eq!(
        reached,
        [Phase::ReadOnly, Phase::Backup, Phase::ChangesPlatform]
    );
}

#[test]
fn the_first_failure_stays_the_failure_when_a_replaced_pod_fails_again() {
    let first = log_until("Check that we can connect to the database", DB_UNREACHABLE);
    let second = log_until(
        "Add public helm repo",
        r#"fatal: [localhost]: FAILED! => {"changed": false, "msg": "no egress"}"#,
    );
    let mut log = UpgraderLog::new();
    for line in first.lines() {
        log.line("upgrade-astronomer-aaaaa", line);
    }
    for line in second.lines() {
        log.line("upgrade-astronomer-bbbbb", line);
    }
    let failed = log.assessment().failed.unwrap();
    assert_eq!(failed.task, "Check that we can connect to the database");
    assert!(failed
        .message
        .unwrap()
        .contains("unable to connect to database"));
}

#[test]
fn a_failure_before_the_point_of_no_return_comes_with_the_fix_for_its_task() {
    for (task, fix) in [
        ("Find the Astronomer Helm release (helm list)", "helm 2to3"),
        (
            "Assert helm revision looks right",
            "bring the release back to a deployed 0.16 revision",
        ),
        (
            "Find database connection from secret astronomer-boostrap",
            "kubectl get secret astronomer-bootstrap",
        ),
        ("Check that we can connect to the database", "pg_isready"),
        (
            "Wait for Houston to apply migrations in 0.16",
            "wait for Houston to be ready on 0.16",
        ),
        ("Back up the Helm secret state", "-l owner=helm"),
        (
            "Create save directory",
            "kubectl describe pvc -n default astronomer-upgrades-backup",
        ),
        ("Add public helm repo", "helm.astronomer.io:443"),
        (DATABASE_BACKUP_TASK, "delete old astro-save-* directories"),
    ] {
        let text = log_until(
            task,
            r#"fatal: [localhost]: FAILED! => {"changed": false, "msg": "failed"}"#,
        );
        let failed = UpgraderLog::read(POD, &text).assessment().failed.unwrap();
        assert_eq!(failed.task, task);
        let remedy = remedy(&failed.task).unwrap_or_else(|| panic!("no remedy for {task}"));
        assert!(remedy.fix.contains(fix), "{task}: {}", remedy.fix);
    }
    assert_eq!(
        remedy(POINT_OF_NO_RETURN),
        None,
        "past the point of no return, no re-run is suggested"
    );
}
