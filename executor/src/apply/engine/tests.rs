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
fn task_headers_become_steps_once() {
    let mut w = watch();
    let line = |text: &str| Observation::LogLine {
        pod: "p".into(),
        line: text.into(),
    };
    assert_eq!(
        w.observe(T, &line("TASK [(2/6) Upgrade Astronomer with hooks] *****")),
        [Progress::Step("(2/6) Upgrade Astronomer with hooks".into())]
    );
    assert!(w.observe(T, &line("ok: [localhost]")).is_empty());
    assert!(w
        .observe(T, &line("TASK [(2/6) Upgrade Astronomer with hooks] *****"))
        .is_empty());
    assert_eq!(w.step(), Some("(2/6) Upgrade Astronomer with hooks"));
    assert_eq!(task_name("PLAY [localhost] ****"), None);
    assert_eq!(task_name("TASK [] **"), None);
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
}

#[test]
fn only_an_upgrader_that_ran_and_failed_is_rolled_back() {
    let pull = Failure::ImagePull {
        pod: "p".into(),
        image: "i".into(),
        reason: "ErrImagePull".into(),
        message: String::new(),
    };
    let failed = Failure::JobFailed {
        job: "upgrade-astronomer".into(),
        reason: "BackoffLimitExceeded".into(),
        message: String::new(),
    };
    let deadline = Failure::Deadline {
        job: "upgrade-astronomer".into(),
        waited: Duration::from_secs(2700),
    };
    assert_eq!(
        after_failure(&pull, true, true),
        AfterFailure::DeleteUnstartedJob
    );
    assert_eq!(after_failure(&failed, true, true), AfterFailure::RollBack);
    assert_eq!(after_failure(&failed, true, false), AfterFailure::Report);
    assert_eq!(after_failure(&failed, false, true), AfterFailure::Report);
    assert_eq!(
        after_failure(&deadline, true, true),
        AfterFailure::Report,
        "never a rollback beside a running upgrade"
    );
}
