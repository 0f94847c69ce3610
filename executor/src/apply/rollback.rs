//! The rollback: after a failed upgrade, or asked for with `astro-upgrade rollback`, which refuses
//! a rollback that could only destroy.

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, ServiceAccount};
use kube::{Api, Client};
use planner::path::{self as upgrade_path, LTS_0_16_TO_0_23};
use serde_json::{json, Value};

use super::engine::{self, Ending, Failure, JobOutcome, JobWatchConfig, RollbackGate, Start};
use super::failure::*;
use super::run::*;
use super::{confirm, read_manifest, rollback_command, verify};
use crate::exit::Exit;
use crate::journal::{self, Journal};
use crate::manifest::{Manifest, ManifestObject, UPGRADE_NAMESPACE};
use crate::{GlobalArgs, RollbackArgs};

/// Applies the rollback manifest, watches its Job and verifies the platform is back on 0.16.
/// Never deletes the upgrade's ServiceAccount or PVC: the rollback Job needs both.
pub(super) async fn roll_back(
    run: &mut Run,
    manifest: &Manifest,
    rerun: bool,
    bounds: &Bounds,
    context: &FlowContext<'_>,
) -> anyhow::Result<bool> {
    run.mirror = true;
    let job = job_of(manifest, upgrade_path::ROLLBACK_JOB)?;
    run.record(
        "rollback",
        "started",
        &format!("rolling back with Job {}", upgrade_path::ROLLBACK_JOB),
        json!({"job": upgrade_path::ROLLBACK_JOB}),
    )
    .await;
    if let Some(missing) = missing_rollback_prerequisite(&run.client).await? {
        run.record(
            "rollback",
            "blocked",
            &format!("cannot roll back: {missing}"),
            json!({"missing": missing}),
        )
        .await;
        return Ok(false);
    }
    let outcome = match start_rollback_job(run, job, rerun).await? {
        Some(outcome) => outcome,
        None => {
            run.follow(
                JobWatchConfig {
                    job: upgrade_path::ROLLBACK_JOB.to_string(),
                    claim: claim_of(job),
                    deadline: bounds.timeout,
                    bind_timeout: bounds.bind_timeout,
                    upgrader: false,
                },
                false,
            )
            .await
            .0
        }
    };
    let failure = match outcome {
        JobOutcome::Succeeded => match verify_rollback(run, bounds, context).await? {
            None => return Ok(true),
            Some(problem) => problem,
        },
        JobOutcome::Failed(failure) => failure.to_string(),
        JobOutcome::Interrupted => "interrupted".to_string(),
        JobOutcome::CredentialsLost(why) => {
            run.credentials_lost(
                upgrade_path::ROLLBACK_JOB,
                &why,
                "`astro-upgrade status` shows where the rollback stands, and `astro-upgrade rollback` with the same manifest re-attaches to it",
            )
            .await;
            return Err(Exit::needs_human(format!(
                "lost the credentials while watching Job {}: {why}",
                upgrade_path::ROLLBACK_JOB
            )));
        }
    };
    rollback_failed(run, context, &failure).await;
    Ok(false)
}

/// Creates the rollback Job, or finds it; `Some` when it has already ended.
async fn start_rollback_job(
    run: &mut Run,
    job: &ManifestObject,
    rerun: bool,
) -> anyhow::Result<Option<JobOutcome>> {
    let existing = run.existing_job(upgrade_path::ROLLBACK_JOB).await?;
    Ok(
        match engine::decide_start(engine::existing_of(existing.as_ref()), rerun) {
            Start::Reattach => {
                run.record(
                    "rollback-job",
                    "reattached",
                    &format!(
                        "Job {} is already running: watching it",
                        upgrade_path::ROLLBACK_JOB
                    ),
                    json!({}),
                )
                .await;
                None
            }
            Start::ReportFinished { complete } => {
                run.record(
                    "rollback-job",
                    if complete { "found-complete" } else { "found-failed" },
                    &format!(
                        "Job {} already exists and has {}; it is not re-created (pass --rerun to `astro-upgrade rollback` to run it again)",
                        upgrade_path::ROLLBACK_JOB,
                        if complete { "completed" } else { "failed" }
                    ),
                    json!({}),
                )
                .await;
                Some(if complete {
                    JobOutcome::Succeeded
                } else {
                    JobOutcome::Failed(Failure::JobFailed {
                        job: upgrade_path::ROLLBACK_JOB.to_string(),
                        reason: "AlreadyFailed".to_string(),
                        message: "an earlier rollback Job failed".to_string(),
                    })
                })
            }
            start @ (Start::Apply | Start::DeleteAndApply) => {
                if start == Start::DeleteAndApply {
                    run.delete_job_and_wait(job).await?;
                }
                run.apply_object(job, false).await?;
                None
            }
        },
    )
}

/// After the rollback Job completed: the platform must be back on 0.16; `Some(problem)` if not.
async fn verify_rollback(
    run: &mut Run,
    bounds: &Bounds,
    context: &FlowContext<'_>,
) -> anyhow::Result<Option<String>> {
    run.record(
        "rollback-job",
        "complete",
        &format!("Job {} completed", upgrade_path::ROLLBACK_JOB),
        json!({}),
    )
    .await;
    let source = LTS_0_16_TO_0_23.from_platform.to_string();
    let problems = verify::verify_platform(
        &run.view,
        &run.out,
        &context.namespace,
        context.release.as_deref(),
        &source,
        bounds.settle,
        &context.known_unhealthy,
    )
    .await?;
    if !problems.is_empty() {
        return Ok(Some(format!(
            "verification after the rollback failed: {}",
            problems.join("; ")
        )));
    }
    run.record(
        "rollback",
        "verified",
        &format!("rolled back: the platform runs {source} again and every pod is ready"),
        json!({"expect": source}),
    )
    .await;
    run.out.say(&format!(
        "Airflow deployments upgraded by the failed run are not rolled back by the upgrader, \
         and the rollback deleted the Elasticsearch volumes (logs). The backups stay on PVC {UPGRADE_NAMESPACE}/{}.",
        upgrade_path::BACKUP_PVC
    ));
    Ok(None)
}

/// The hand-off when the rollback failed too: the state and every next command.
async fn rollback_failed(run: &mut Run, context: &FlowContext<'_>, failure: &str) {
    run.record(
        "rollback",
        "failed",
        &format!("ROLLBACK FAILED: {failure}"),
        json!({"message": failure}),
    )
    .await;
    run.out.say(&format!(
        "\nThe upgrade and its rollback both failed. The platform needs a person now. State:\n  \
         - Job {ns}/{up}: failed; Job {ns}/{rb}: failed or unverified\n  \
         - the database backup is on PVC {ns}/{pvc} (do not delete it, nor ServiceAccount {ns}/{sa})\n\
         Next steps, by hand:\n  \
         kubectl logs -n {ns} job/{rb}            # why the rollback failed\n  \
         kubectl logs -n {ns} job/{up}            # why the upgrade failed\n  \
         helm history {rel} -n {pns}              # which revision is live\n  \
         kubectl get pods -n {pns}                # what is not ready\n  \
         astro-upgrade status                     # the journal and the live state\n\
         Then, after fixing the cause:\n  \
         kubectl delete job -n {ns} {rb} && {cmd}\n\
         If the database must be restored by hand, the dump is astronomer-db-backup.tar in the newest \
         directory of the PVC; contact Astronomer support with the journal {journal}.",
        ns = UPGRADE_NAMESPACE,
        up = upgrade_path::UPGRADE_JOB,
        rb = upgrade_path::ROLLBACK_JOB,
        pvc = upgrade_path::BACKUP_PVC,
        sa = upgrade_path::SERVICE_ACCOUNT,
        rel = context.release.as_deref().unwrap_or("astronomer"),
        pns = context.namespace,
        cmd = rollback_command(context.rollback_path, context.global),
        journal = run.journal.path().display(),
    ));
}

/// The rollback Job mounts the backup PVC and runs as the upgrader's ServiceAccount.
pub(super) async fn missing_rollback_prerequisite(
    client: &Client,
) -> anyhow::Result<Option<String>> {
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), UPGRADE_NAMESPACE);
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), UPGRADE_NAMESPACE);
    if claims.get_opt(upgrade_path::BACKUP_PVC).await?.is_none() {
        return Ok(Some(format!(
            "the backup PVC {UPGRADE_NAMESPACE}/{} is gone, and with it the backups the rollback restores",
            upgrade_path::BACKUP_PVC
        )));
    }
    if accounts
        .get_opt(upgrade_path::SERVICE_ACCOUNT)
        .await?
        .is_none()
    {
        return Ok(Some(format!(
            "the ServiceAccount {UPGRADE_NAMESPACE}/{} the rollback runs as is gone; re-apply {} first",
            upgrade_path::SERVICE_ACCOUNT,
            LTS_0_16_TO_0_23.upgrade_manifest.file_name
        )));
    }
    Ok(None)
}

pub async fn run_rollback(global: &GlobalArgs, args: RollbackArgs) -> anyhow::Result<u8> {
    let bounds = Bounds::read(&args.timeout, &args.watch)?;
    let manifest = read_manifest(&args.rollback_manifest, &LTS_0_16_TO_0_23.rollback_manifest)?;
    let (out, journal, connection) =
        open_journal_and_connect(global, args.journal.as_deref(), &manifest).await?;
    refuse_needless_rollback(&connection.client, &journal, args.force).await?;
    out.suspend(|| {
        confirm(
            &format!(
                "Apply {} to namespace {UPGRADE_NAMESPACE} of context {} and roll the platform back to 0.16?",
                args.rollback_manifest.display(),
                connection.context
            ),
            args.yes,
        )
    })?;
    let mut run = Run::new(&connection, global, out, journal);
    tokio::time::timeout(verify::LIST_TIMEOUT, run.view.listed())
        .await
        .map_err(|_| anyhow::anyhow!("cannot list the cluster's pods and Helm release Secrets"))?;
    let release = verify::platform_release_in(&run.view, &global.namespace);
    let known_unhealthy = verify::unhealthy_pods(&run.view, &global.namespace);
    let context = FlowContext {
        global,
        release,
        namespace: global.namespace.clone(),
        bounds,
        rollback_manifest: Some(&manifest),
        rollback_path: Some(&args.rollback_manifest),
        auto_rollback: true,
        known_unhealthy,
        rerun_command: String::new(),
    };
    let back = roll_back(&mut run, &manifest, args.rerun, &context.bounds, &context).await?;
    let ending = if back {
        Ending::RollbackDone
    } else {
        Ending::RollbackFailed
    };
    finish(&mut run, ending).await
}

/// Refuses, before any change, a rollback without its backups, or of an upgrade that the cluster
/// (the upgrader's log) or the journal shows never passed the point of no return.
pub(super) async fn refuse_needless_rollback(
    client: &Client,
    journal: &Journal,
    force: bool,
) -> anyhow::Result<()> {
    if let Some(missing) = missing_rollback_prerequisite(client).await? {
        return Err(Exit::refused(format!(
            "cannot roll back: {missing}; nothing was changed"
        )));
    }
    let evidence = read_upgrader_log(client).await;
    let gate = match &evidence {
        Some(evidence) => engine::rollback_gate(Some(evidence), force),
        None if force => RollbackGate::Allowed,
        None => journal_gate(journal),
    };
    match gate {
        RollbackGate::Allowed => Ok(()),
        RollbackGate::NeverChanged { failed_task } => Err(Exit::refused(format!(
            "the upgrade never passed the point of no return (`{}`){}: the platform is as it was. \
             A rollback would delete the Elasticsearch volumes and restore the newest backup directory \
             (this run's partial dump, or an older attempt's). Nothing was changed. \
             Fix the cause and re-run the upgrade with `astro-upgrade apply … --rerun`; \
             pass --force only if you know the platform changed",
            planner::upgrader::POINT_OF_NO_RETURN,
            failed_task
                .map(|task| format!("; it failed at `{task}`"))
                .unwrap_or_default()
        ))),
    }
}

/// What the journal's last assessment of the upgrader's log says, when the Job is gone.
pub(super) fn journal_gate(journal: &Journal) -> RollbackGate {
    let entries = journal::read(journal.path()).unwrap_or_default();
    let last = entries
        .iter()
        .rev()
        .find(|e| e.step == "upgrader" && e.event == "assessed");
    match last {
        Some(entry) if entry.detail.get("platform_changed") == Some(&json!("no")) => {
            RollbackGate::NeverChanged {
                failed_task: entry
                    .detail
                    .get("failed_task")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            }
        }
        _ => RollbackGate::Allowed,
    }
}
