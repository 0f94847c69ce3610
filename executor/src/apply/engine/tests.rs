use serde_json::json;

use super::*;

fn job(name: &str, uid: &str, condition: Option<(&str, &str)>) -> Job {
    let conditions = condition
        .map(|(kind, reason)| json!([{"type": kind, "status": "True", "reason": reason, "message": "m"}]))
        .unwrap_or(json!([]));
    serde_json::from_value(json!({
        "metadata": {"name": name, "uid": uid},
        "status": {"conditions": conditions},
    }))
    .unwrap()
}

fn pod(name: &str, job: &str, owner_uid: &str, status: serde_json::Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {
            "name": name,
            "labels": {"job-name": job},
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": job, "uid": owner_uid}],
        },
        "spec": {"containers": [{"name": "upgrade", "image": "quay.io/astronomer/lts-016-023-upgrade:latest"}]},
        "status": status,
    }))
    .unwrap()
}

fn claim(phase: &str) -> PersistentVolumeClaim {
    serde_json::from_value(json!({
        "metadata": {"name": "astronomer-upgrades-backup"},
        "status": {"phase": phase},
    }))
    .unwrap()
}

fn watch() -> JobWatch {
    JobWatch::new(
        JobWatchConfig {
            job: "upgrade-astronomer".into(),
            claim: Some("astronomer-upgrades-backup".into()),
            deadline: Duration::from_secs(600),
            bind_timeout: Duration::from_secs(60),
            upgrader: true,
        },
        Duration::ZERO,
    )
}

const T: Duration = Duration::from_secs(1);

fn waiting(reason: &str) -> serde_json::Value {
    json!({"phase": "Pending", "containerStatuses": [{
        "name": "upgrade", "image": "quay.io/astronomer/lts-016-023-upgrade:latest", "ready": false, "restartCount": 0,
        "imageID": "", "state": {"waiting": {"reason": reason, "message": "pull access denied"}}}]})
}

#[test]
fn a_found_job_is_reattached_or_reported_never_silently_recreated() {
    assert_eq!(decide_start(Existing::Absent, false), Start::Apply);
    assert_eq!(decide_start(Existing::Active, false), Start::Reattach);
    assert_eq!(decide_start(Existing::Active, true), Start::Reattach);
    assert_eq!(
        decide_start(Existing::Failed, false),
        Start::ReportFinished { complete: false }
    );
    assert_eq!(
        decide_start(Existing::Complete, false),
        Start::ReportFinished { complete: true }
    );
    assert_eq!(decide_start(Existing::Failed, true), Start::DeleteAndApply);
    assert_eq!(existing_of(None), Existing::Absent);
    assert_eq!(existing_of(Some(&job("j", "u", None))), Existing::Active);
    assert_eq!(
        existing_of(Some(&job(
            "j",
            "u",
            Some(("Failed", "BackoffLimitExceeded"))
        ))),
        Existing::Failed
    );
}

#[test]
fn image_pull_errors_fail_at_once_naming_pod_and_image() {
    let mut w = watch();
    w.observe(
        T,
        &Observation::Job(Box::new(job("upgrade-astronomer", "u1", None))),
    );
    let progress = w.observe(
        T,
        &Observation::Pod(Box::new(pod(
            "upgrade-astronomer-abcde",
            "upgrade-astronomer",
            "u1",
            waiting("ErrImagePull"),
        ))),
    );
    let Some(Progress::Failed(failure)) = progress.last() else {
        panic!("expected a failure, got {progress:?}");
    };
    assert_eq!(failure.kind(), "image-pull");
    let text = failure.to_string();
    assert!(text.contains("upgrade-astronomer-abcde"), "{text}");
    assert!(
        text.contains("quay.io/astronomer/lts-016-023-upgrade:latest"),
        "{text}"
    );
    assert!(
        w.observe(T, &Observation::Tick).is_empty(),
        "a finished watch reports nothing more"
    );
}

#[test]
fn creating_containers_are_not_failures() {
    let mut w = watch();
    let progress = w.observe(
        T,
        &Observation::Pod(Box::new(pod(
            "p",
            "upgrade-astronomer",
            "u1",
            waiting("ContainerCreating"),
        ))),
    );
    assert_eq!(
        progress,
        [Progress::PodStatus {
            pod: "p".into(),
            status: "ContainerCreating".into()
        }]
    );
}

#[test]
fn pods_of_other_jobs_or_an_older_job_are_ignored() {
    let mut w = watch();
    w.observe(
        T,
        &Observation::Job(Box::new(job("upgrade-astronomer", "new", None))),
    );
    let other_job = pod(
        "probe-x",
        "astro-upgrade-probe",
        "p",
        waiting("ErrImagePull"),
    );
    assert!(w
        .observe(T, &Observation::Pod(Box::new(other_job)))
        .is_empty());
    let old_run = pod(
        "upgrade-astronomer-old",
        "upgrade-astronomer",
        "old",
        waiting("ErrImagePull"),
    );
    assert!(w
        .observe(T, &Observation::Pod(Box::new(old_run)))
        .is_empty());
}

#[test]
fn a_container_error_fails_before_the_job_does() {
    let mut w = watch();
    let status = json!({"phase": "Failed", "containerStatuses": [{
        "name": "upgrade", "image": "i", "ready": false, "restartCount": 0, "imageID": "",
        "state": {"terminated": {"exitCode": 2, "reason": "Error"}}}]});
    let progress = w.observe(
        T,
        &Observation::Pod(Box::new(pod("p", "upgrade-astronomer", "u", status))),
    );
    assert!(progress.contains(&Progress::LogsAvailable { pod: "p".into() }));
    assert!(matches!(
        progress.last(),
        Some(Progress::Failed(Failure::ContainerFailed {
            exit_code: 2,
            ..
        }))
    ));
}

#[test]
fn job_conditions_end_the_watch() {
    let mut w = watch();
    assert_eq!(
        w.observe(
            T,
            &Observation::Job(Box::new(job(
                "upgrade-astronomer",
                "u",
                Some(("Complete", ""))
            )))
        ),
        [Progress::Succeeded]
    );
    let mut w = watch();
    assert!(matches!(
        w.observe(T, &Observation::Job(Box::new(job("upgrade-astronomer", "u", Some(("Failed", "BackoffLimitExceeded")))))).as_slice(),
        [Progress::Failed(Failure::JobFailed { reason, .. })] if reason == "BackoffLimitExceeded"
    ));
}

#[test]
fn a_claim_pending_beyond_the_bound_fails_and_a_bound_one_does_not() {
    let mut w = watch();
    assert!(w
        .observe(
            Duration::from_secs(1),
            &Observation::Claim(Box::new(claim("Pending")))
        )
        .is_empty());
    assert!(w
        .observe(Duration::from_secs(30), &Observation::Tick)
        .is_empty());
    assert!(matches!(
        w.observe(Duration::from_secs(61), &Observation::Tick)
            .as_slice(),
        [Progress::Failed(Failure::ClaimUnbound { .. })]
    ));

    let mut w = watch();
    w.observe(
        Duration::from_secs(1),
        &Observation::Claim(Box::new(claim("Pending"))),
    );
    w.observe(
        Duration::from_secs(5),
        &Observation::Claim(Box::new(claim("Bound"))),
    );
    assert!(w
        .observe(Duration::from_secs(120), &Observation::Tick)
        .is_empty());
}

#[test]
fn the_deadline_fails_a_quiet_job() {
    let mut w = watch();
    assert!(w
        .observe(Duration::from_secs(599), &Observation::Tick)
        .is_empty());
    assert!(matches!(
        w.observe(Duration::from_secs(600), &Observation::Tick)
            .as_slice(),
        [Progress::Failed(Failure::Deadline { .. })]
    ));
}

#[test]
fn task_headers_become_steps_once_and_phases_are_announced_when_reached() {
    let mut w = watch();
    let line = |text: &str| Observation::LogLine {
        pod: "p".into(),
        line: text.into(),
    };
    assert_eq!(
        w.observe(T, &line("TASK [Set up variables] *****")),
        [
            Progress::Step("Set up variables".into()),
            Progress::PhaseReached {
                phase: Phase::ReadOnly,
                task: "Set up variables".into()
            }
        ]
    );
    assert!(w.observe(T, &line("ok: [localhost]")).is_empty());
    assert!(w
        .observe(T, &line("TASK [Set up variables] *****"))
        .is_empty());
    assert_eq!(
        w.observe(T, &line("TASK [Create save directory] ***")),
        [
            Progress::Step("Create save directory".into()),
            Progress::PhaseReached {
                phase: Phase::Backup,
                task: "Create save directory".into()
            }
        ]
    );
    assert_eq!(
        w.observe(T, &line("TASK [Backup Helm backend state] ***")),
        [Progress::Step("Backup Helm backend state".into())],
        "the same phase is not announced again"
    );
    assert_eq!(w.step(), Some("Backup Helm backend state"));
    assert!(w.observe(T, &line("PLAY [localhost] ****")).is_empty());
    assert!(w.observe(T, &line("TASK [] **")).is_empty());
}

#[test]
fn durations_read_as_people_write_them() {
    assert_eq!(parse_duration("45m"), Some(Duration::from_secs(2700)));
    assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
    assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
    assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
    assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
    for bad in ["", "m", "5 minutes", "1d", "-3s", "h1"] {
        assert_eq!(parse_duration(bad), None, "{bad}");
    }
}

#[test]
fn exit_codes_follow_the_ending() {
    assert_eq!(Ending::Upgraded.exit_code(), 0);
    assert_eq!(Ending::RolledBack.exit_code(), 5);
    assert_eq!(Ending::RollbackFailed.exit_code(), 6);
    assert_eq!(Ending::UpgradeFailed.exit_code(), 6);
    assert_eq!(Ending::FailedUntouched.exit_code(), 7);
}

/// A v0.23.18 log that runs every task up to `last`, which ends with `ending`.
fn upgrader_log(last: &str, ending: &str) -> String {
    let mut text = String::from("PLAY [localhost] ****\n");
    for task in planner::upgrader::UPGRADE_TASKS {
        text.push_str(&format!("\nTASK [{}] ****\n", task.name));
        if task.name == last {
            text.push_str(ending);
            text.push('\n');
            break;
        }
        text.push_str("changed: [localhost]\n");
    }
    text
}

const FATAL: &str = r#"fatal: [localhost]: FAILED! => {"changed": false, "msg": "boom"}"#;

fn evidence(text: &str, complete: bool) -> UpgraderEvidence {
    UpgraderEvidence {
        assessment: UpgraderLog::read("upgrade-astronomer-x", text).assessment(),
        complete,
    }
}

fn job_failed() -> Failure {
    Failure::JobFailed {
        job: "upgrade-astronomer".into(),
        reason: "BackoffLimitExceeded".into(),
        message: String::new(),
    }
}

const SECOND_STEP: &str = "(2/6) Upgrade Astronomer: Helm upgrade - Run Astronomer DB migration. Watch for houston db migrations pod to exit in success.";

#[test]
fn a_failure_before_the_point_of_no_return_is_never_rolled_back() {
    for task in [
        "Check that we can connect to the database",
        "Wait for Houston to apply migrations in 0.16",
        "Add public helm repo",
        "Backup Astronomer database",
    ] {
        let early = evidence(&upgrader_log(task, FATAL), false);
        for failure in [
            job_failed(),
            Failure::ContainerFailed {
                pod: "p".into(),
                container: "upgrade".into(),
                exit_code: 2,
                reason: "Error".into(),
            },
        ] {
            assert_eq!(
                after_failure(&failure, &early, true),
                AfterFailure::KeepFailedJob,
                "{task}"
            );
        }
    }
}

#[test]
fn past_the_point_of_no_return_only_a_proven_backup_and_an_asked_rollback_roll_back() {
    let late = evidence(&upgrader_log(SECOND_STEP, FATAL), true);
    assert_eq!(late.assessment.backup, BackupState::Proven);
    assert_eq!(
        after_failure(&job_failed(), &late, true),
        AfterFailure::RollBack
    );
    assert_eq!(
        after_failure(&job_failed(), &late, false),
        AfterFailure::HandOff(HandOff::RollbackNotAsked)
    );
    let verification = Failure::Verification {
        problems: vec!["release astronomer is failed".into()],
    };
    assert_eq!(
        after_failure(&verification, &late, true),
        AfterFailure::RollBack
    );

    let skipped_dump = upgrader_log("Backup Astronomer database", "skipping: [localhost]")
        + "\nTASK [Run SQL for Prisma 1 to Prisma 2 migration] ***\n"
        + FATAL;
    assert_eq!(
        after_failure(&job_failed(), &evidence(&skipped_dump, true), true),
        AfterFailure::HandOff(HandOff::BackupNotProven(BackupState::DumpNotFinished))
    );
}

#[test]
fn a_task_this_tool_does_not_know_is_handed_to_a_person() {
    let text = upgrader_log("Backup Astronomer database", "changed: [localhost]")
        + "\nTASK [Check Airflow chart compatibility] ***\n"
        + FATAL;
    assert_eq!(
        after_failure(&job_failed(), &evidence(&text, true), true),
        AfterFailure::HandOff(HandOff::UnknownTask(
            "Check Airflow chart compatibility".into()
        ))
    );
}

#[test]
fn a_log_that_does_not_show_the_failure_is_not_taken_as_proof_of_an_untouched_platform() {
    // The stream stopped during the backup, the pod failed later, and the log could not be
    // read whole afterwards: the SQL migration may have run.
    let partial = upgrader_log("Backup Astronomer database", "changed: [localhost]");
    assert_eq!(
        after_failure(&job_failed(), &evidence(&partial, false), true),
        AfterFailure::HandOff(HandOff::PhaseUnknown)
    );
    assert_eq!(
        after_failure(&job_failed(), &evidence("", false), true),
        AfterFailure::HandOff(HandOff::PhaseUnknown)
    );
    // Read whole after the pod ended, the same log proves the platform untouched (killed, say,
    // by the OOM killer in the dump).
    assert_eq!(
        after_failure(&job_failed(), &evidence(&partial, true), true),
        AfterFailure::KeepFailedJob
    );
}

#[test]
fn unstarted_deadline_and_deleted_jobs_are_never_rolled_back() {
    let late = evidence(&upgrader_log(SECOND_STEP, FATAL), true);
    let pull = Failure::ImagePull {
        pod: "p".into(),
        image: "i".into(),
        reason: "ErrImagePull".into(),
        message: String::new(),
    };
    assert_eq!(
        after_failure(&pull, &late, true),
        AfterFailure::DeleteUnstartedJob
    );
    for failure in [
        Failure::ClaimUnbound {
            claim: "c".into(),
            waited: Duration::from_secs(120),
        },
        Failure::Unschedulable {
            pod: "p".into(),
            message: "0/3 nodes".into(),
            waited: Duration::from_secs(120),
        },
    ] {
        assert_eq!(
            after_failure(&failure, &late, true),
            AfterFailure::DeleteUnstartedJob
        );
    }
    let deadline = Failure::Deadline {
        job: "upgrade-astronomer".into(),
        waited: Duration::from_secs(2700),
    };
    assert_eq!(
        after_failure(&deadline, &late, true),
        AfterFailure::HandOff(HandOff::StillRunning),
        "never a rollback beside a running upgrade"
    );
    assert_eq!(
        after_failure(
            &Failure::JobDeleted {
                job: "upgrade-astronomer".into()
            },
            &late,
            true
        ),
        AfterFailure::HandOff(HandOff::JobDeleted)
    );
}

#[test]
fn the_rollback_command_refuses_when_the_upgrade_never_changed_the_platform() {
    let early = evidence(&upgrader_log("Add public helm repo", FATAL), true);
    assert_eq!(
        rollback_gate(Some(&early), false),
        RollbackGate::NeverChanged {
            failed_task: Some("Add public helm repo".into())
        }
    );
    assert_eq!(rollback_gate(Some(&early), true), RollbackGate::Allowed);
    let late = evidence(&upgrader_log(SECOND_STEP, FATAL), true);
    assert_eq!(rollback_gate(Some(&late), false), RollbackGate::Allowed);
    assert_eq!(rollback_gate(None, false), RollbackGate::Allowed);
    // A partial log that shows no failure proves nothing.
    let partial = evidence(
        &upgrader_log("Add public helm repo", "changed: [localhost]"),
        false,
    );
    assert_eq!(rollback_gate(Some(&partial), false), RollbackGate::Allowed);
}

#[test]
fn only_the_pods_of_this_tools_jobs_are_its_own() {
    assert!(is_own_pod("default/upgrade-astronomer-6b4ns"));
    assert!(is_own_pod("default/astro-upgrade-probe-x2x9q"));
    assert!(is_own_pod("default/rollback-astronomer-mjkpk"));
    assert!(!is_own_pod("astronomer/upgrade-astronomer-6b4ns"));
    assert!(!is_own_pod("default/upgrade-astronomer-extra-6b4ns"));
    assert!(!is_own_pod("default/upgrade-astronomer"));
    assert!(!is_own_pod("defaultx/upgrade-astronomer-6b4ns"));
}

fn pod_fact(namespace: &str, name: &str, healthy: bool) -> planner::facts::Pod {
    planner::facts::Pod {
        namespace: Some(namespace.into()),
        name: name.into(),
        ready: Some(if healthy { "1/1" } else { "0/1" }.into()),
        status: if healthy {
            "Running"
        } else {
            "CrashLoopBackOff"
        }
        .into(),
        restarts: Some(0),
        healthy,
        at: planner::facts::At {
            source: "live".into(),
            line: None,
        },
    }
}

fn planned_cluster() -> planner::Facts {
    let mut facts = planner::Facts::default();
    facts.kubernetes.server_version = Some("1.16.15-eks-ad4801".into());
    facts.pods = vec![
        pod_fact("astronomer", "astronomer-houston-6b4f-x2x4q", true),
        pod_fact("astronomer", "astronomer-kibana-5c7d-q9z8w", false),
    ];
    facts
}

#[test]
fn the_preflight_refuses_drift_and_missing_rights_but_not_this_tools_own_pods() {
    let planned = planner::plan::ClusterFingerprint::from_facts(&planned_cluster());
    assert_eq!(preflight(&planned, &planned_cluster()), Ok(()));

    // A pod that turned unhealthy between plan and apply is drift.
    let mut live = planned_cluster();
    live.pods[0].healthy = false;
    live.pods[0].status = "Error".into();
    match preflight(&planned, &live) {
        Err(Refusal::Drift(differences)) => assert!(
            differences
                .iter()
                .any(|d| d.contains("astronomer-houston-6b4f-x2x4q")),
            "{differences:?}"
        ),
        other => panic!("drift expected, got {other:?}"),
    }
    // Another server version is drift.
    let mut live = planned_cluster();
    live.kubernetes.server_version = Some("1.17.12".into());
    assert!(matches!(preflight(&planned, &live), Err(Refusal::Drift(_))));

    // A failed pod of this tool's own upgrade Job (before a --rerun) is not.
    let mut live = planned_cluster();
    live.pods
        .push(pod_fact("default", "upgrade-astronomer-6b4ns", false));
    assert_eq!(preflight(&planned, &live), Ok(()));

    // A right that is missing.
    let mut live = planned_cluster();
    live.permissions.push(planner::facts::Permission {
        verb: "create".into(),
        resource: "clusterroles".into(),
        namespace: None,
        allowed: false,
        all_namespaces: false,
        as_user: None,
        at: planner::facts::At {
            source: "live".into(),
            line: None,
        },
    });
    assert_eq!(
        preflight(&planned, &live),
        Err(Refusal::MissingRights(vec![
            "create clusterroles (cluster-wide)".into()
        ]))
    );
}

#[test]
fn a_failed_probe_ends_the_run_untouched_and_a_passed_one_lets_it_go_on() {
    assert_eq!(after_probe(&JobOutcome::Succeeded), None);
    assert_eq!(
        after_probe(&JobOutcome::Failed(Failure::ClaimUnbound {
            claim: "c".into(),
            waited: Duration::from_secs(120),
        })),
        Some(Ending::FailedUntouched)
    );
    assert_eq!(
        after_probe(&JobOutcome::Interrupted),
        Some(Ending::Interrupted)
    );
}

#[test]
fn a_deleted_job_ends_the_watch_only_when_it_is_this_runs_job() {
    let mut w = watch();
    assert_eq!(w.job(), "upgrade-astronomer", "the journal names the job");
    let deleted = |name: &str| Observation::JobDeleted(name.into());
    assert!(
        w.observe(T, &deleted("upgrade-astronomer")).is_empty(),
        "a deletion before this run's Job was seen is an earlier run's (--rerun deletes it)"
    );
    w.observe(
        T,
        &Observation::Job(Box::new(job("upgrade-astronomer", "u1", None))),
    );
    assert!(
        w.observe(T, &deleted("astro-upgrade-probe")).is_empty(),
        "another Job's deletion"
    );
    assert_eq!(
        w.observe(T, &deleted("upgrade-astronomer")),
        [Progress::Failed(Failure::JobDeleted {
            job: "upgrade-astronomer".into()
        })]
    );
}

fn scheduling(status: &str, reason: Option<&str>) -> serde_json::Value {
    json!({"phase": "Pending", "conditions": [{
        "type": "PodScheduled", "status": status, "reason": reason,
        "message": "0/3 nodes are available: 3 Insufficient cpu."}]})
}

#[test]
fn an_unschedulable_pod_fails_after_the_bind_timeout_and_a_scheduled_one_stops_the_clock() {
    let unschedulable = |status| {
        Observation::Pod(Box::new(pod(
            "upgrade-astronomer-abcde",
            "upgrade-astronomer",
            "u1",
            status,
        )))
    };
    let mut w = watch();
    assert_eq!(
        w.observe(
            Duration::from_secs(1),
            &unschedulable(scheduling("False", Some("Unschedulable")))
        ),
        [Progress::PodStatus {
            pod: "upgrade-astronomer-abcde".into(),
            status: "Pending".into()
        }]
    );
    assert!(w
        .observe(Duration::from_secs(60), &Observation::Tick)
        .is_empty());
    assert_eq!(
        w.observe(Duration::from_secs(61), &Observation::Tick),
        [Progress::Failed(Failure::Unschedulable {
            pod: "upgrade-astronomer-abcde".into(),
            message: "0/3 nodes are available: 3 Insufficient cpu.".into(),
            waited: Duration::from_secs(60),
        })]
    );

    // Scheduled at last: the condition turned True (whatever reason it still carries).
    let mut w = watch();
    w.observe(
        Duration::from_secs(1),
        &unschedulable(scheduling("False", Some("Unschedulable"))),
    );
    w.observe(
        Duration::from_secs(30),
        &unschedulable(scheduling("True", Some("Unschedulable"))),
    );
    assert!(w
        .observe(Duration::from_secs(120), &Observation::Tick)
        .is_empty());

    // Only the scheduler's verdict Unschedulable counts, not a pod still waiting for it.
    let mut w = watch();
    w.observe(
        Duration::from_secs(1),
        &unschedulable(scheduling("False", None)),
    );
    assert!(w
        .observe(Duration::from_secs(120), &Observation::Tick)
        .is_empty());
}

#[test]
fn the_probes_log_shows_steps_but_never_an_upgrade_phase() {
    let mut w = JobWatch::new(
        JobWatchConfig {
            job: PROBE_JOB.into(),
            claim: None,
            deadline: Duration::from_secs(600),
            bind_timeout: Duration::from_secs(60),
            upgrader: false,
        },
        Duration::ZERO,
    );
    assert_eq!(
        w.observe(
            T,
            &Observation::LogLine {
                pod: "astro-upgrade-probe-x2x9q".into(),
                line: "TASK [Set up variables] *****".into(),
            }
        ),
        [Progress::Step("Set up variables".into())]
    );
}

#[test]
fn the_failure_decision_reads_the_log_the_watch_streamed() {
    let mut w = watch();
    for line in upgrader_log("Add public helm repo", FATAL).lines() {
        w.observe(
            T,
            &Observation::LogLine {
                pod: "upgrade-astronomer-abcde".into(),
                line: line.into(),
            },
        );
    }
    let streamed = UpgraderEvidence {
        assessment: w.log().assessment(),
        complete: false,
    };
    assert_eq!(
        after_failure(&job_failed(), &streamed, true),
        AfterFailure::KeepFailedJob
    );
}

#[test]
fn the_journal_names_each_hand_off_and_whether_the_platform_changed() {
    let early = evidence(&upgrader_log("Add public helm repo", FATAL), true);
    let late = evidence(&upgrader_log(SECOND_STEP, FATAL), true);
    let partial = evidence(
        &upgrader_log("Add public helm repo", "changed: [localhost]"),
        false,
    );
    assert_eq!(early.platform_changed().as_str(), "no");
    assert_eq!(late.platform_changed().as_str(), "yes");
    assert_eq!(partial.platform_changed().as_str(), "unknown");

    let skipped_dump = evidence(
        &(upgrader_log("Backup Astronomer database", "skipping: [localhost]")
            + "\nTASK [Run SQL for Prisma 1 to Prisma 2 migration] ***\n"
            + FATAL),
        true,
    );
    let unknown = evidence(
        &(upgrader_log("Backup Astronomer database", "changed: [localhost]")
            + "\nTASK [Check Airflow chart compatibility] ***\n"
            + FATAL),
        true,
    );
    let deadline = Failure::Deadline {
        job: "upgrade-astronomer".into(),
        waited: Duration::from_secs(2700),
    };
    let deleted = Failure::JobDeleted {
        job: "upgrade-astronomer".into(),
    };
    for (failure, upgrader, auto_rollback, kind) in [
        (&deadline, &late, true, "still-running"),
        (&deleted, &late, true, "job-deleted"),
        (&job_failed(), &late, false, "rollback-not-asked"),
        (&job_failed(), &skipped_dump, true, "backup-not-proven"),
        (&job_failed(), &unknown, true, "unknown-task"),
        (&job_failed(), &partial, true, "phase-unknown"),
    ] {
        match after_failure(failure, upgrader, auto_rollback) {
            AfterFailure::HandOff(reason) => assert_eq!(reason.kind(), kind),
            other => panic!("{kind}: a hand-off expected, got {other:?}"),
        }
    }
}
