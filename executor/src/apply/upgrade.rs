//! `apply`: the approved plan checked against the live cluster, the manifest applied, the probe,
//! the upgrade Job watched and verified.

use k8s_openapi::api::batch::v1::Job;
use kube::api::{DeleteParams, PropagationPolicy};
use kube::{Api, Client};
use planner::path::{self as upgrade_path, LTS_0_16_TO_0_23};
use planner::upgrader::UpgraderLog;
use serde_json::json;

use super::engine::{self, Ending, Failure, JobOutcome, JobWatchConfig, Start, PROBE_JOB};
use super::failure::*;
use super::run::*;
use super::{confirm, read_approved_plan, read_manifest, verify};
use crate::exit::Exit;
use crate::manifest::{Manifest, ManifestObject, UPGRADE_NAMESPACE};
use crate::{cluster, collect, ApplyArgs, GlobalArgs};

pub async fn run_apply(global: &GlobalArgs, args: ApplyArgs) -> anyhow::Result<u8> {
    let inputs = read_inputs(&args)?;
    let (out, journal, connection) =
        open_journal_and_connect(global, args.journal.as_deref(), &inputs.manifest).await?;
    let mut run = Run::new(&connection, global, out, journal);
    let plan = &inputs.plan;
    run.record(
        "apply",
        "started",
        &format!(
            "apply of plan {} on context {}",
            short(&plan.plan_digest),
            connection.context
        ),
        json!({"plan_digest": plan.plan_digest, "context": connection.context, "dry_run": args.dry_run}),
    )
    .await;
    if !inputs.approvals.is_empty() {
        let by: Vec<String> = inputs
            .approvals
            .iter()
            .map(|a| format!("{} ({})", a.principal, a.fingerprint))
            .collect();
        run.record(
            "approval",
            "verified",
            &format!("approved by {}", by.join(", ")),
            json!({"by": by, "plan_digest": plan.plan_digest}),
        )
        .await;
    }
    let context = FlowContext {
        global,
        release: plan.cluster_fingerprint.platform_release.clone(),
        namespace: plan
            .cluster_fingerprint
            .platform_namespace
            .clone()
            .unwrap_or_else(|| global.namespace.clone()),
        bounds: inputs.bounds,
        rollback_manifest: inputs.rollback_manifest.as_ref(),
        rollback_path: args.rollback_manifest.as_deref(),
        auto_rollback: args.auto_rollback,
        known_unhealthy: plan.cluster_fingerprint.unhealthy_pods.clone(),
        rerun_command: rerun_command(&args, global),
    };
    let flow = Flow {
        args: &args,
        connection: &connection,
        plan,
        manifest: &inputs.manifest,
        context: &context,
    };
    let outcome = flow.run(&mut run).await;
    match outcome {
        Ok(ending) => finish(&mut run, ending).await,
        Err(err) => {
            run.record(
                "finished",
                "error",
                "",
                json!({"error": format!("{err:#}"), "exit_code": crate::exit::code_for_error(&err)}),
            )
            .await;
            run.out.finish();
            Err(err)
        }
    }
}

/// What `apply` reads before it connects: each refusal here changes nothing.
struct Inputs {
    plan: planner::Plan,
    /// Who approved this exact plan, when an allowed-signers file was given.
    approvals: Vec<crate::approval::Approval>,
    bounds: Bounds,
    manifest: Manifest,
    rollback_manifest: Option<Manifest>,
}

fn read_inputs(args: &ApplyArgs) -> anyhow::Result<Inputs> {
    let plan = read_approved_plan(&args.plan)?;
    let approvals = match crate::cmd::approve::check_approvals(&args.plan, &args.approvals)? {
        None => Vec::new(),
        Some(checked) if checked.enough() => checked.distinct().into_iter().cloned().collect(),
        Some(checked) => {
            return Err(Exit::refused(format!(
                "the plan is not approved: {}; nothing was changed",
                checked.shortfall()
            )))
        }
    };
    let bounds = Bounds::read(&args.timeout, &args.watch)?;
    let manifest = read_manifest(&args.manifest, &LTS_0_16_TO_0_23.upgrade_manifest)?;
    let rollback_manifest = args
        .rollback_manifest
        .as_deref()
        .map(|path| read_manifest(path, &LTS_0_16_TO_0_23.rollback_manifest))
        .transpose()?;
    if args.auto_rollback && rollback_manifest.is_none() {
        return Err(Exit::usage(
            "--auto-rollback needs --rollback-manifest rollback-0.16-to-0.23.yaml",
        ));
    }
    if args.auto_rollback && !plan.acknowledgements.rollback_data_loss {
        return Err(Exit::usage(format!(
            "--auto-rollback needs a plan that acknowledges rollback-data-loss (a rollback deletes \
             the Elasticsearch log volumes and restores the Houston database from this run's \
             backup); nothing was changed. Write the plan again with `--ack rollback-data-loss`, \
             or apply {} without --auto-rollback",
            args.plan.display()
        )));
    }
    Ok(Inputs {
        plan,
        approvals,
        bounds,
        manifest,
        rollback_manifest,
    })
}

/// One `apply` after its inputs were read: what the engine's start decision leads to.
struct Flow<'a> {
    args: &'a ApplyArgs,
    connection: &'a cluster::Cluster,
    plan: &'a planner::Plan,
    manifest: &'a Manifest,
    context: &'a FlowContext<'a>,
}

impl Flow<'_> {
    async fn run(&self, run: &mut Run) -> anyhow::Result<Ending> {
        let upgrade_job = job_of(self.manifest, upgrade_path::UPGRADE_JOB)?;
        let existing = run.existing_job(upgrade_path::UPGRADE_JOB).await?;
        let start = engine::decide_start(engine::existing_of(existing.as_ref()), self.args.rerun);
        match start {
            Start::ReportFinished { complete } => self.report_finished(run, complete).await,
            Start::Reattach => {
                run.mirror = true;
                run.record(
                    "upgrade-job",
                    "reattached",
                    &format!(
                        "Job {} is already running (an earlier run was interrupted): watching it, applying nothing",
                        upgrade_path::UPGRADE_JOB
                    ),
                    json!({"job": upgrade_path::UPGRADE_JOB}),
                )
                .await;
                watch_upgrade(run, self.context, upgrade_job).await
            }
            Start::Apply | Start::DeleteAndApply => {
                self.apply(run, upgrade_job, start == Start::DeleteAndApply)
                    .await
            }
        }
    }

    /// A finished Job is reported, verified or assessed, never re-created silently.
    async fn report_finished(&self, run: &mut Run, complete: bool) -> anyhow::Result<Ending> {
        run.record(
            "upgrade-job",
            if complete { "found-complete" } else { "found-failed" },
            &format!(
                "Job {} already exists and has {}: it is not re-created (pass --rerun to delete and re-create it)",
                upgrade_path::UPGRADE_JOB,
                if complete { "completed" } else { "failed" }
            ),
            json!({"job": upgrade_path::UPGRADE_JOB}),
        )
        .await;
        if complete {
            verify_upgrade(run, self.context, None).await
        } else {
            after_failure(run, self.context, None, None).await
        }
    }

    /// Preflight, confirmation, the manifest's objects, the probe, then the upgrade Job.
    async fn apply(
        &self,
        run: &mut Run,
        upgrade_job: &ManifestObject,
        delete_first: bool,
    ) -> anyhow::Result<Ending> {
        let args = self.args;
        preflight(run, self.connection, &self.context.namespace, self.plan).await?;
        let question = format!(
            "Apply {} to namespace {UPGRADE_NAMESPACE} of context {} and start the upgrade of {}?",
            args.manifest.display(),
            self.connection.context,
            self.context.release.as_deref().unwrap_or("the platform")
        );
        if !args.dry_run {
            run.out.suspend(|| confirm(&question, args.yes))?;
            run.mirror = true;
        }
        if delete_first {
            run.record(
                "upgrade-job",
                "deleting",
                &format!(
                    "--rerun: deleting the finished Job {}",
                    upgrade_path::UPGRADE_JOB
                ),
                json!({"job": upgrade_path::UPGRADE_JOB}),
            )
            .await;
            run.delete_job_and_wait(upgrade_job).await?;
        }
        let options = &self.plan.upgrader_options;
        let configured = with_upgrader_options(upgrade_job, options);
        if !options.is_default() {
            run.record(
                "upgrader-options",
                "set",
                &format!(
                    "the plan's upgrader options, set on Job {}: {}",
                    upgrade_path::UPGRADE_JOB,
                    options.to_cli_args().join(" ")
                ),
                json!({
                    "env": options.env().iter().map(|(name, value)| json!({"name": name, "value": value})).collect::<Vec<_>>(),
                    "command": options.command(),
                    "commander_upgrade_timeout": options.commander_upgrade_timeout,
                    "disable_deployment_upgrades": options.disable_deployment_upgrades,
                }),
            )
            .await;
        }
        for object in self.manifest.objects.iter().filter(|o| o.kind() != "Job") {
            run.apply_object(object, args.dry_run).await?;
        }
        if args.dry_run {
            run.apply_object(&configured, true).await?;
            run.record(
                "apply",
                "dry-run",
                "dry run: the server accepted every object; nothing was persisted and no probe or Job ran",
                json!({}),
            )
            .await;
            return Ok(Ending::DryRun);
        }
        let egress = planned_egress(self.plan);
        if let Some(ending) = probe(run, upgrade_job, &self.context.bounds, &egress).await? {
            return Ok(ending);
        }
        run.apply_object(&configured, false).await?;
        watch_upgrade(run, self.context, &configured).await
    }
}

/// The upgrade Job as the plan runs it: the reviewed manifest's Job with the plan's upgrader
/// options set in its (first) container — `COMMANDER_UPGRADE_TIMEOUT` as an environment
/// variable (replacing one of that name), and for `DISABLE_UPGRADE_DEPLOYMENT` the image's
/// command with that Ansible variable added (the playbook does not read it from the
/// environment). Nothing else of the Job changes; without options it is the Job as reviewed.
pub(super) fn with_upgrader_options(
    job: &ManifestObject,
    options: &planner::UpgraderOptions,
) -> ManifestObject {
    let mut job = job.clone();
    let env = options.env();
    let command = options.command();
    if env.is_empty() && command.is_none() {
        return job;
    }
    if let Some(container) = job.body.pointer_mut("/spec/template/spec/containers/0") {
        if !env.is_empty() {
            let mut vars: Vec<serde_json::Value> = container
                .get("env")
                .and_then(serde_json::Value::as_array)
                .cloned()
                .unwrap_or_default();
            for (name, value) in env {
                vars.retain(|var| {
                    var.get("name").and_then(serde_json::Value::as_str) != Some(name)
                });
                vars.push(json!({"name": name, "value": value}));
            }
            container["env"] = serde_json::Value::Array(vars);
        }
        if let Some(command) = command {
            container["command"] = json!(command);
        }
    }
    job
}

/// The hosts the probe must reach: the plan's list, or for a plan written before the probe
/// tested egress, the path's hosts for its acknowledgements.
fn planned_egress(plan: &planner::Plan) -> Vec<String> {
    if !plan.egress_probe.is_empty() {
        return plan.egress_probe.clone();
    }
    planner::rules::required_egress(
        &LTS_0_16_TO_0_23,
        &planner::Facts::default(),
        &plan.acknowledgements,
    )
    .iter()
    .map(|host| host.host.to_string())
    .collect()
}

/// The same `apply` command with `--rerun`, so the failed Job is deleted and re-created.
pub(super) fn rerun_command(args: &ApplyArgs, global: &GlobalArgs) -> String {
    let mut command = format!(
        "astro-upgrade apply --plan {} --manifest {}",
        args.plan.display(),
        args.manifest.display()
    );
    if let Some(rollback) = &args.rollback_manifest {
        command.push_str(&format!(" --rollback-manifest {}", rollback.display()));
    }
    if args.auto_rollback {
        command.push_str(" --auto-rollback");
    }
    if let Some(context) = global.single_context() {
        command.push_str(&format!(" --context {context}"));
    }
    command.push_str(" --rerun");
    command
}

/// Re-reads the cluster and refuses on drift from the plan or on a missing right (the engine
/// decides; this journals it and says it).
pub(super) async fn preflight(
    run: &mut Run,
    connection: &cluster::Cluster,
    platform_namespace: &str,
    plan: &planner::Plan,
) -> anyhow::Result<()> {
    run.out
        .phase("re-checking the live cluster against the plan");
    let live = live_facts(run, &connection.client, platform_namespace).await?;
    match engine::preflight(&plan.cluster_fingerprint, &live) {
        Ok(()) => {
            run.record(
                "drift-check",
                "passed",
                "the cluster matches the plan's fingerprint",
                json!({}),
            )
            .await;
            run.record(
                "rights",
                "passed",
                "every right the manifest needs is granted",
                json!({}),
            )
            .await;
            Ok(())
        }
        Err(engine::Refusal::Drift(differences)) => {
            run.record(
                "drift-check",
                "refused",
                &format!(
                    "the cluster differs from the plan:\n  - {}",
                    differences.join("\n  - ")
                ),
                json!({"differences": differences}),
            )
            .await;
            Err(Exit::refused(
                "the cluster is not the one the plan was approved for; nothing was changed. \
                 Collect again and write a new plan",
            ))
        }
        Err(engine::Refusal::MissingRights(missing)) => {
            run.record(
                "rights",
                "refused",
                &format!("missing rights: {}", missing.join(", ")),
                json!({"missing": missing}),
            )
            .await;
            Err(Exit::refused(format!(
                "you may not {}; nothing was changed",
                missing.join(", ")
            )))
        }
    }
}

/// What the preflight compares with the plan: server version, pods, releases and rights, read
/// live (the same readers `collect` uses).
async fn live_facts(
    run: &mut Run,
    client: &Client,
    platform_namespace: &str,
) -> anyhow::Result<planner::Facts> {
    let mut facts = planner::Facts::default();
    facts.kubernetes.server_version = Some(cluster::server_version(client).await?);
    tokio::time::timeout(verify::LIST_TIMEOUT, run.view.listed())
        .await
        .map_err(|_| anyhow::anyhow!("cannot list the cluster's pods and Helm release Secrets"))?;
    facts.pods = run.view.pods();
    facts.helm_releases = collect::newest_releases(&run.view.revisions());
    facts.permissions = collect::collect_permissions(client, platform_namespace).await?;
    if let Some(warning) = facts
        .kubernetes
        .server_version
        .as_deref()
        .and_then(cluster::version_warning)
    {
        run.out.warn(&warning);
    }
    Ok(facts)
}

/// Runs the probe Job; `Some(ending)` when it failed and the upgrade must not start.
pub(super) async fn probe(
    run: &mut Run,
    upgrade_job: &ManifestObject,
    bounds: &Bounds,
    egress: &[String],
) -> anyhow::Result<Option<Ending>> {
    let urls: Vec<String> = egress
        .iter()
        .map(|host| {
            LTS_0_16_TO_0_23
                .egress
                .iter()
                .find(|known| known.host == host)
                .map_or_else(|| format!("https://{host}/"), |known| known.url.to_string())
        })
        .collect();
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    let probe = probe_job(upgrade_job, &urls);
    run.delete_job_and_wait(&probe).await?;
    run.apply_object(&probe, false).await?;
    let (outcome, _) = run
        .follow(
            JobWatchConfig {
                job: PROBE_JOB.to_string(),
                claim: claim_of(upgrade_job),
                deadline: PROBE_DEADLINE.min(bounds.timeout),
                bind_timeout: bounds.bind_timeout,
                upgrader: false,
            },
            true,
        )
        .await;
    // read before the Job (and its pod) is deleted: one line per URL
    let probe_log = match (&outcome, egress.is_empty()) {
        (JobOutcome::Succeeded, false) => {
            crate::watch::read_job_logs(&run.client, UPGRADE_NAMESPACE, PROBE_JOB)
                .await
                .map(|pods| {
                    pods.iter()
                        .map(|pod| pod.log.as_str())
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default()
        }
        _ => String::new(),
    };
    let jobs: Api<Job> = Api::namespaced(run.client.clone(), UPGRADE_NAMESPACE);
    let removal = jobs
        .delete(
            PROBE_JOB,
            &DeleteParams {
                propagation_policy: Some(PropagationPolicy::Background),
                ..DeleteParams::default()
            },
        )
        .await;
    if let Err(err) = removal {
        run.out
            .warn(&format!("cannot delete the probe Job {PROBE_JOB}: {err}"));
    }
    let ending = engine::after_probe(&outcome);
    if matches!(outcome, JobOutcome::Succeeded) {
        if let Err(unreachable) = engine::after_egress_probe(egress, &probe_log) {
            run.record(
                "probe",
                "refused",
                &format!(
                    "egress not proven from inside the cluster:\n  - {}",
                    unreachable.join("\n  - ")
                ),
                json!({"egress": egress, "unreachable": unreachable}),
            )
            .await;
            run.out.say(&format!(
                "The upgrade Job was not created: the upgrader needs these hosts, and would fail \
                 without them (updates.astronomer.io only after its point of no return). Allow \
                 HTTPS from namespace {UPGRADE_NAMESPACE} to them, then run the same \
                 `astro-upgrade apply` again. The objects applied so far (ServiceAccount, PVC, \
                 RBAC) stay; remove them with `kubectl delete -f {}` if you give up.",
                LTS_0_16_TO_0_23.upgrade_manifest.file_name
            ));
            return Err(Exit::refused(format!(
                "the cluster does not reach {}; nothing was changed beyond the probe",
                unreachable
                    .iter()
                    .map(|problem| problem.split(':').next().unwrap_or(problem))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if !egress.is_empty() {
            run.record(
                "probe",
                "egress",
                &format!(
                    "egress proven from inside the cluster: {}",
                    egress.join(", ")
                ),
                json!({"egress": egress}),
            )
            .await;
        }
    }
    match outcome {
        JobOutcome::Succeeded => {
            run.record(
                "probe",
                "passed",
                "probe passed: the upgrader's image pulls, the backup PVC binds and the pod schedules",
                json!({}),
            )
            .await;
        }
        JobOutcome::Failed(failure) => {
            run.record(
                "probe",
                "failed",
                &format!("probe failed: {failure}"),
                json!({"failure": failure.kind(), "message": failure.to_string()}),
            )
            .await;
            run.out.say(&format!(
                "The platform was not touched: the upgrade Job was not created. \
                 Fix the cause above, then run the same `astro-upgrade apply` again.\n\
                 The objects applied so far (ServiceAccount, PVC, RBAC) stay; \
                 remove them with `kubectl delete -f {}` if you give up.",
                LTS_0_16_TO_0_23.upgrade_manifest.file_name
            ));
        }
        JobOutcome::Interrupted => {
            run.record(
                "probe",
                "interrupted",
                "interrupted during the probe; the upgrade Job was not created",
                json!({}),
            )
            .await;
        }
        JobOutcome::CredentialsLost(why) => {
            run.credentials_lost(
                PROBE_JOB,
                &why,
                "run the same `astro-upgrade apply` again: the upgrade Job was not created, the platform was not touched",
            )
            .await;
        }
    }
    Ok(ending)
}

pub(super) async fn watch_upgrade(
    run: &mut Run,
    context: &FlowContext<'_>,
    upgrade_job: &ManifestObject,
) -> anyhow::Result<Ending> {
    let (outcome, streamed) = run
        .follow(
            JobWatchConfig {
                job: upgrade_path::UPGRADE_JOB.to_string(),
                claim: claim_of(upgrade_job),
                deadline: context.bounds.timeout,
                bind_timeout: context.bounds.bind_timeout,
                upgrader: true,
            },
            true,
        )
        .await;
    match outcome {
        JobOutcome::Succeeded => {
            run.record(
                "upgrade-job",
                "complete",
                &format!("Job {} completed", upgrade_path::UPGRADE_JOB),
                json!({"job": upgrade_path::UPGRADE_JOB}),
            )
            .await;
            verify_upgrade(run, context, Some(&streamed)).await
        }
        JobOutcome::Failed(failure) => {
            after_failure(run, context, Some(failure), Some(&streamed)).await
        }
        JobOutcome::Interrupted => {
            run.record(
                "upgrade-job",
                "interrupted",
                &format!(
                    "interrupted: stopped watching. The Job {} keeps running in the cluster; run the same `astro-upgrade apply` again to re-attach, or `astro-upgrade status` to see where it stands",
                    upgrade_path::UPGRADE_JOB
                ),
                json!({"job": upgrade_path::UPGRADE_JOB}),
            )
            .await;
            Ok(Ending::Interrupted)
        }
        JobOutcome::CredentialsLost(why) => {
            run.credentials_lost(
                upgrade_path::UPGRADE_JOB,
                &why,
                "`astro-upgrade status` shows where the Job stands, and the same `astro-upgrade apply` re-attaches to it",
            )
            .await;
            Ok(Ending::CredentialsLost)
        }
    }
}

pub(super) async fn verify_upgrade(
    run: &mut Run,
    context: &FlowContext<'_>,
    streamed: Option<&UpgraderLog>,
) -> anyhow::Result<Ending> {
    let target = format!(
        "{}.{}",
        LTS_0_16_TO_0_23.to_platform.major, LTS_0_16_TO_0_23.to_platform.minor
    );
    run.out
        .phase(&format!("verifying the platform is on {target}"));
    let problems = verify::verify_platform(
        &run.view,
        &run.out,
        &context.namespace,
        context.release.as_deref(),
        &target,
        context.bounds.settle,
        &context.known_unhealthy,
    )
    .await?;
    if problems.is_empty() {
        run.record(
            "verify",
            "passed",
            &format!("verified: the platform runs {target}, its release is deployed and every pod is ready"),
            json!({"expect": target}),
        )
        .await;
        return Ok(Ending::Upgraded);
    }
    run.record(
        "verify",
        "failed",
        &format!("verification failed:\n  - {}", problems.join("\n  - ")),
        json!({"expect": target, "problems": problems}),
    )
    .await;
    let failure = Failure::Verification { problems };
    after_failure(run, context, Some(failure), streamed).await
}
