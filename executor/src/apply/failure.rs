//! What follows a failed upgrade: the upgrader's log read for the phase it reached, then nothing,
//! a rollback, or a hand-off to a person, as the engine decides.

use k8s_openapi::api::batch::v1::Job;
use kube::api::{DeleteParams, PropagationPolicy};
use kube::{Api, Client};
use planner::path::{self as upgrade_path};
use planner::upgrader::{Phase, UpgraderLog};
use serde_json::json;

use super::engine::{self, AfterFailure, Ending, Failure, HandOff, UpgraderEvidence};
use super::rollback::*;
use super::rollback_command;
use super::run::*;
use crate::manifest::UPGRADE_NAMESPACE;
use crate::watch;

/// After a failed upgrade: read how far the upgrader got, then do what the engine decides —
/// nothing but a report before the point of no return, a rollback only with a proven backup.
pub(super) async fn after_failure(
    run: &mut Run,
    context: &FlowContext<'_>,
    failure: Option<Failure>,
    streamed: Option<&UpgraderLog>,
) -> anyhow::Result<Ending> {
    let failure = match failure {
        Some(failure) => {
            run.record(
                "upgrade-job",
                "failed",
                &format!("upgrade failed: {failure}"),
                json!({"failure": failure.kind(), "message": failure.to_string()}),
            )
            .await;
            failure
        }
        None => Failure::JobFailed {
            job: upgrade_path::UPGRADE_JOB.to_string(),
            reason: "Failed".to_string(),
            message: "found failed by this run".to_string(),
        },
    };
    let evidence = if failure_needs_log(&failure) {
        let evidence = upgrader_evidence(&run.client, streamed).await;
        record_evidence(run, &evidence).await;
        evidence
    } else {
        UpgraderEvidence {
            assessment: streamed.cloned().unwrap_or_default().assessment(),
            complete: false,
        }
    };
    let action = engine::after_failure(&failure, &evidence, context.auto_rollback);
    match (action, context.rollback_manifest) {
        (AfterFailure::RollBack, Some(rollback)) => {
            let back = roll_back(run, rollback, false, &context.bounds, context).await?;
            Ok(if back {
                Ending::RolledBack
            } else {
                Ending::RollbackFailed
            })
        }
        (AfterFailure::DeleteUnstartedJob, _) => delete_unstarted_job(run).await,
        (AfterFailure::KeepFailedJob, _) => {
            run.record(
                "upgrade-job",
                "kept-untouched",
                &untouched_message(&evidence, context),
                json!({"job": upgrade_path::UPGRADE_JOB, "next": context.rerun_command}),
            )
            .await;
            Ok(Ending::FailedUntouched)
        }
        (AfterFailure::HandOff(reason), _) => {
            hand_off(run, &reason, &evidence, context).await;
            Ok(Ending::UpgradeFailed)
        }
        // `--auto-rollback` is refused without a rollback manifest, so this cannot happen; if it
        // did, a person decides.
        (AfterFailure::RollBack, None) => {
            hand_off(run, &HandOff::RollbackNotAsked, &evidence, context).await;
            Ok(Ending::UpgradeFailed)
        }
    }
}

async fn hand_off(
    run: &mut Run,
    reason: &HandOff,
    evidence: &UpgraderEvidence,
    context: &FlowContext<'_>,
) {
    run.record(
        "upgrade-job",
        "handed-off",
        &hand_off_message(reason, evidence, context),
        json!({"reason": reason.kind()}),
    )
    .await;
}

/// Whether the decision after this failure depends on how far the upgrader got.
pub(super) fn failure_needs_log(failure: &Failure) -> bool {
    matches!(
        failure,
        Failure::ContainerFailed { .. } | Failure::JobFailed { .. } | Failure::Verification { .. }
    )
}

/// The upgrader's log read whole from the API server (every pod of the Job, oldest first); the
/// streamed log, marked incomplete, when that read fails.
pub(super) async fn upgrader_evidence(
    client: &Client,
    streamed: Option<&UpgraderLog>,
) -> UpgraderEvidence {
    match read_upgrader_log(client).await {
        Some(evidence) => evidence,
        None => UpgraderEvidence {
            assessment: streamed.cloned().unwrap_or_default().assessment(),
            complete: false,
        },
    }
}

/// The upgrade Job's pods' logs, read whole and in order; `None` when there is no pod or the
/// logs cannot be read.
pub(super) async fn read_upgrader_log(client: &Client) -> Option<UpgraderEvidence> {
    let pods = watch::read_job_logs(client, UPGRADE_NAMESPACE, upgrade_path::UPGRADE_JOB)
        .await
        .ok()
        .filter(|pods| !pods.is_empty())?;
    let mut log = UpgraderLog::new();
    for pod in &pods {
        for line in pod.log.lines() {
            log.line(&pod.pod, line);
        }
    }
    Some(UpgraderEvidence {
        assessment: log.assessment(),
        complete: pods.iter().all(|pod| pod.ended),
    })
}

/// Journals what the upgrader's log shows, so `status` and a person at 3 a.m. know whether the
/// platform changed.
pub(super) async fn record_evidence(run: &mut Run, evidence: &UpgraderEvidence) {
    let log = &evidence.assessment;
    let reached = log.reached.map_or("none", Phase::as_str);
    let failed_task = log.failed.as_ref().map(|f| f.task.clone());
    let message = log.failed.as_ref().and_then(|f| f.message.clone());
    let changed = evidence.platform_changed().as_str();
    run.record(
        "upgrader",
        "assessed",
        &format!(
            "upgrader log: reached {}; last task: {}; failed task: {}; platform changed: {changed}; backup: {}",
            log.reached.map_or("no task", Phase::describe),
            log.last_task.as_deref().unwrap_or("none"),
            failed_task.as_deref().unwrap_or("none shown"),
            log.backup.describe(),
        ),
        json!({
            "phase": reached,
            "last_task": log.last_task,
            "failed_task": failed_task,
            "message": message,
            "unknown_task": log.unknown_task,
            "backup": log.backup.as_str(),
            "platform_changed": changed,
            "log_complete": evidence.complete,
        }),
    )
    .await;
}

pub(super) async fn delete_unstarted_job(run: &mut Run) -> anyhow::Result<Ending> {
    let jobs: Api<Job> = Api::namespaced(run.client.clone(), UPGRADE_NAMESPACE);
    let deleted = jobs
        .delete(
            upgrade_path::UPGRADE_JOB,
            &DeleteParams {
                propagation_policy: Some(PropagationPolicy::Background),
                ..DeleteParams::default()
            },
        )
        .await;
    let (event, state) = match deleted {
        Ok(_) => ("deleted-unstarted", "deleted (it never ran)".to_string()),
        Err(err) => (
            "delete-failed",
            format!(
                "never ran, but could not be deleted ({err}): kubectl delete job -n {UPGRADE_NAMESPACE} {}",
                upgrade_path::UPGRADE_JOB
            ),
        ),
    };
    run.record(
        "upgrade-job",
        event,
        &format!(
            "\nThe upgrader never started, so the platform was not touched and nothing is rolled back. State:\n  \
             - Job {UPGRADE_NAMESPACE}/{}: {state}\n  \
             - ServiceAccount, PVC and RBAC objects of the manifest stay\n\
             Next: fix the cause above, then run the same `astro-upgrade apply` again.",
            upgrade_path::UPGRADE_JOB
        ),
        json!({"job": upgrade_path::UPGRADE_JOB}),
    )
    .await;
    Ok(Ending::FailedUntouched)
}

/// The report of a failure before the point of no return: the failing task, its message, the
/// likely cause and fix, the state, and how to re-run.
pub(super) fn untouched_message(evidence: &UpgraderEvidence, context: &FlowContext<'_>) -> String {
    let log = &evidence.assessment;
    let task = log
        .failed
        .as_ref()
        .map(|f| f.task.as_str())
        .or(log.last_task.as_deref())
        .unwrap_or("(before its first task)");
    let mut text = format!(
        "\nThe upgrader failed at task `{task}` ({}), before the point of no return (`{}`): \
         THE PLATFORM WAS NOT CHANGED, and nothing was rolled back \
         (a rollback would delete the Elasticsearch volumes and restore the newest backup directory: \
         this run's partial one, or an older attempt's).",
        log.reached.map_or("no task", Phase::describe),
        planner::upgrader::POINT_OF_NO_RETURN,
    );
    if let Some(message) = log.failed.as_ref().and_then(|f| f.message.as_deref()) {
        text.push_str(&format!("\n  message: {message}"));
    }
    if let Some(remedy) = planner::upgrader::remedy(task) {
        text.push_str(&format!(
            "\n  likely cause: {}\n  fix: {}",
            remedy.cause, remedy.fix
        ));
    }
    text.push_str(&format!(
        "\nState:\n  \
         - Job {ns}/{job}: failed, kept for its log: kubectl logs -n {ns} job/{job}\n  \
         - ServiceAccount {sa} and PVC {pvc} stay\n\
         Next: fix the cause, then start again (the failed Job is deleted first):\n  {rerun}",
        ns = UPGRADE_NAMESPACE,
        job = upgrade_path::UPGRADE_JOB,
        sa = upgrade_path::SERVICE_ACCOUNT,
        pvc = upgrade_path::BACKUP_PVC,
        rerun = context.rerun_command,
    ));
    text
}

/// The hand-off when a person must decide: why, the exact state, and the next commands.
pub(super) fn hand_off_message(
    reason: &HandOff,
    evidence: &UpgraderEvidence,
    context: &FlowContext<'_>,
) -> String {
    let log = &evidence.assessment;
    let ns = UPGRADE_NAMESPACE;
    let job = upgrade_path::UPGRADE_JOB;
    if *reason == HandOff::StillRunning {
        return format!(
            "\nThe deadline passed but the Job {ns}/{job} may still be running; it was not stopped and nothing was rolled back \
             (a rollback beside a running upgrade would race it). Next:\n  \
             astro-upgrade status                 # where it stands\n  \
             kubectl logs -n {ns} job/{job} -f    # follow it\n  \
             astro-upgrade apply … (the same command) re-attaches to it"
        );
    }
    let why = match reason {
        HandOff::StillRunning => unreachable!("answered above"),
        HandOff::JobDeleted => "the upgrade Job was deleted while it was watched".to_string(),
        HandOff::RollbackNotAsked => {
            "the upgrader failed after the point of no return, and no automatic rollback was asked for".to_string()
        }
        HandOff::BackupNotProven(state) => format!(
            "the upgrader failed after the point of no return, but it is not proven that a rollback would restore this run's backup: {}",
            state.describe()
        ),
        HandOff::UnknownTask(task) => format!(
            "the upgrader ran a task this tool does not know (`{task}`; the image is the mutable :latest, and this tool knows the playbook of {}), so whether the platform changed is not known",
            planner::upgrader::PLAYBOOK_TAG
        ),
        HandOff::PhaseUnknown => {
            "the upgrader's log does not show where it failed, so whether the platform changed is not known".to_string()
        }
    };
    let failed = log
        .failed
        .as_ref()
        .map(|f| {
            format!(
                "`{}`{}",
                f.task,
                f.message
                    .as_deref()
                    .map(|m| format!(" ({m})"))
                    .unwrap_or_default()
            )
        })
        .unwrap_or_else(|| "not shown in the log".to_string());
    format!(
        "\nNOT ROLLED BACK: {why}. A person must decide now. State:\n  \
         - upgrader: reached {reached}; last task `{last}`; failed task {failed}\n  \
         - Job {ns}/{job}: kept for its log (kubectl logs -n {ns} job/{job})\n  \
         - ServiceAccount {sa} and PVC {pvc} (the backups) are kept: a rollback needs them\n\
         Look before you act:\n  \
         kubectl logs -n {ns} job/{job}                # where the upgrader stopped\n  \
         helm history {rel} -n {pns}                   # whether the platform release changed\n  \
         kubectl get pods -n {pns}                     # what runs now\n  \
         astro-upgrade status                          # the journal and the live state\n\
         The rollback restores the NEWEST directory under /astronomer-backups on PVC {ns}/{pvc}; \
         roll back only if that directory holds this run's finished astronomer-db-backup.tar:\n  \
         {cmd}",
        reached = log.reached.map_or("no task", Phase::describe),
        last = log.last_task.as_deref().unwrap_or("none"),
        sa = upgrade_path::SERVICE_ACCOUNT,
        pvc = upgrade_path::BACKUP_PVC,
        rel = context.release.as_deref().unwrap_or("astronomer"),
        pns = context.namespace,
        cmd = rollback_command(context.rollback_path, context.global),
    )
}
