//! The apply and rollback runs: plan and drift checks, object-by-object apply, the probe Job, the
//! watched upgrade Job, verification and the rollback, each step journaled.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, ServiceAccount};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, PropagationPolicy};
use kube::{Api, Client};
use planner::path::{self as upgrade_path, LTS_0_16_TO_0_23};
use planner::plan::ClusterFingerprint;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use planner::upgrader::{Phase, UpgraderLog};

use super::engine::{
    self, AfterFailure, Ending, Failure, HandOff, JobWatch, JobWatchConfig, Observation, Progress,
    RollbackGate, Start, UpgraderEvidence,
};
use super::{confirm, duration_arg, read_approved_plan, read_manifest, rollback_command, verify};
use crate::exit::Exit;
use crate::journal::{self, Journal};
use crate::kubectl_apply;
use crate::manifest::{Manifest, ManifestObject, UPGRADE_NAMESPACE};
use crate::progress::Output;
use crate::watch::{self, ClusterView, Feed};
use crate::{cluster, collect, ApplyArgs, GlobalArgs, RollbackArgs, WatchArgs};

pub const PROBE_JOB: &str = "astro-upgrade-probe";
/// The probe only has to pull, mount and start; anything slower than this is a finding in itself.
const PROBE_DEADLINE: Duration = Duration::from_secs(600);
/// How often the deadline clock is advanced on a quiet cluster (not an API poll).
const TICK: Duration = Duration::from_millis(250);

#[derive(Debug)]
enum Outcome {
    Succeeded,
    Failed(Failure),
    Interrupted,
}

/// The upgrader's last task before the end, for the failure message.
fn last_step(watch: &JobWatch) -> Value {
    watch
        .step()
        .map_or(Value::Null, |s| Value::String(s.to_string()))
}

struct Bounds {
    timeout: Duration,
    bind_timeout: Duration,
    settle: Duration,
}

impl Bounds {
    fn read(timeout: &str, watch: &WatchArgs) -> anyhow::Result<Bounds> {
        Ok(Bounds {
            timeout: duration_arg("--timeout", timeout)?,
            bind_timeout: duration_arg("--bind-timeout", &watch.bind_timeout)?,
            settle: duration_arg("--settle", &watch.settle)?,
        })
    }
}

/// One run of the executor against one cluster: its client, output, journal and watches.
struct Run {
    client: Client,
    out: Output,
    journal: Journal,
    /// The ConfigMap mirror starts with the first change to the cluster: a refused run changes nothing.
    mirror: bool,
    mirror_warned: bool,
    feed_tx: mpsc::UnboundedSender<Feed>,
    feed_rx: mpsc::UnboundedReceiver<Feed>,
    view: ClusterView,
    /// The newest observation of each watched object, replayed to each new Job watch.
    seen: BTreeMap<(u8, String), Observation>,
    followed: BTreeMap<String, JoinHandle<()>>,
    interrupts: mpsc::UnboundedReceiver<()>,
    /// Phases the upgrader entered, to be journaled once the observation is handled.
    phases: Vec<(Phase, String)>,
}

impl Run {
    fn new(client: Client, out: Output, journal: Journal) -> Run {
        let (feed_tx, feed_rx) = mpsc::unbounded_channel();
        let view = ClusterView::start(&client, UPGRADE_NAMESPACE, feed_tx.clone());
        let (interrupt_tx, interrupts) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                if interrupt_tx.send(()).is_err() {
                    return;
                }
            }
        });
        Run {
            client,
            out,
            journal,
            mirror: false,
            mirror_warned: false,
            feed_tx,
            feed_rx,
            view,
            seen: BTreeMap::new(),
            followed: BTreeMap::new(),
            interrupts,
            phases: Vec::new(),
        }
    }

    /// Journals a step, mirrors the journal when the run has changed the cluster, and tells the operator.
    async fn record(&mut self, step: &str, event: &str, human: &str, detail: Value) {
        if let Err(err) = self.journal.append(step, event, detail.clone()) {
            self.out.warn(&format!("{err:#}"));
        }
        let mut fields = json!({ "step": step, "status": event });
        if let (Some(fields), Value::Object(detail)) = (fields.as_object_mut(), &detail) {
            fields.extend(detail.clone());
        }
        self.out.event(step, human, fields);
        if self.mirror {
            self.mirror_journal().await;
        }
    }

    async fn mirror_journal(&mut self) {
        let text = match self.journal.mirror_text() {
            Ok(text) => text,
            Err(err) => return self.mirror_failed(&format!("{err:#}")),
        };
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), UPGRADE_NAMESPACE);
        let patch = json!({ "data": { journal::CONFIG_MAP_KEY: text } });
        let patched = api
            .patch(
                journal::CONFIG_MAP,
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await;
        let result = match patched {
            Err(kube::Error::Api(status)) if status.code == 404 => {
                let map: ConfigMap = serde_json::from_value(json!({
                    "metadata": {
                        "name": journal::CONFIG_MAP,
                        "namespace": UPGRADE_NAMESPACE,
                        "labels": {"app.kubernetes.io/managed-by": "astro-upgrade"},
                    },
                    "data": { journal::CONFIG_MAP_KEY: text },
                }))
                .unwrap_or_default();
                api.create(&PostParams::default(), &map).await.map(|_| ())
            }
            other => other.map(|_| ()),
        };
        if let Err(err) = result {
            self.mirror_failed(&err.to_string());
        }
    }

    fn mirror_failed(&mut self, why: &str) {
        if !self.mirror_warned {
            self.mirror_warned = true;
            self.out.warn(&format!(
                "cannot mirror the journal to ConfigMap {UPGRADE_NAMESPACE}/{} ({why}); the local journal {} is complete",
                journal::CONFIG_MAP,
                self.journal.path().display()
            ));
        }
    }

    fn remember(&mut self, observation: &Observation) {
        let key = match observation {
            Observation::Job(job) => (0, job.metadata.name.clone().unwrap_or_default()),
            Observation::JobDeleted(name) => {
                self.seen.remove(&(0, name.clone()));
                return;
            }
            Observation::Pod(pod) => (1, pod.metadata.name.clone().unwrap_or_default()),
            Observation::PodDeleted(name) => {
                self.seen.remove(&(1, name.clone()));
                return;
            }
            Observation::Claim(claim) => (2, claim.metadata.name.clone().unwrap_or_default()),
            Observation::LogLine { .. } | Observation::Tick => return,
        };
        self.seen.insert(key, observation.clone());
    }

    /// Watches one Job until it succeeds, fails, or (when `interruptible`) Ctrl-C is pressed.
    /// Also gives the upgrader's log as streamed (lines may be missing after a dropped stream).
    async fn follow(
        &mut self,
        config: JobWatchConfig,
        interruptible: bool,
    ) -> (Outcome, UpgraderLog) {
        let job = config.job.clone();
        self.out.phase(&format!("watching Job {job}"));
        let mut watch = JobWatch::new(config, self.out.elapsed());
        let outcome = self.follow_until_end(&mut watch, &job, interruptible).await;
        self.record_phases().await;
        (outcome, watch.log().clone())
    }

    async fn follow_until_end(
        &mut self,
        watch: &mut JobWatch,
        job: &str,
        interruptible: bool,
    ) -> Outcome {
        let replay: Vec<Observation> = self.seen.values().cloned().collect();
        for observation in replay {
            let progress = watch.observe(self.out.elapsed(), &observation);
            if let Some(outcome) = self.show(watch, progress) {
                return outcome;
            }
        }
        let mut ticks = tokio::time::interval(TICK);
        loop {
            let observation = tokio::select! {
                feed = self.feed_rx.recv() => match feed {
                    Some(Feed::Observed(observation)) => observation,
                    Some(Feed::Trouble(message)) => {
                        self.out.event("watch-resumed", &format!("note: {message}"), json!({"message": message}));
                        continue;
                    }
                    None => Observation::Tick,
                },
                _ = ticks.tick() => Observation::Tick,
                Some(()) = self.interrupts.recv() => {
                    if interruptible {
                        return Outcome::Interrupted;
                    }
                    self.out.say(&format!(
                        "Ctrl-C ignored: the rollback Job {job} is running and will not be cut off; its state is journaled in {}",
                        self.journal.path().display()
                    ));
                    continue;
                }
            };
            self.remember(&observation);
            if let Observation::LogLine { pod, line } = &observation {
                self.out.log_line(pod, line);
            }
            let progress = watch.observe(self.out.elapsed(), &observation);
            if let Some(outcome) = self.show(watch, progress) {
                self.drain_logs();
                return outcome;
            }
            self.record_phases().await;
        }
    }

    /// Journals each phase the upgrader entered, so `status` and the ConfigMap mirror say
    /// whether the platform may have changed.
    async fn record_phases(&mut self) {
        for (phase, task) in std::mem::take(&mut self.phases) {
            self.record(
                "upgrader",
                "phase",
                &format!("upgrader phase: {} (task: {task})", phase.describe()),
                json!({"phase": phase.as_str(), "task": task}),
            )
            .await;
        }
    }

    /// Prints what a Job watch reported; the outcome when it ended.
    fn show(&mut self, watch: &JobWatch, progress: Vec<Progress>) -> Option<Outcome> {
        for item in progress {
            match item {
                Progress::PodStatus { pod, status } => self.out.event(
                    "pod",
                    &format!("pod {pod}: {status}"),
                    json!({"job": watch.job(), "pod": pod, "pod_status": status}),
                ),
                Progress::LogsAvailable { pod } => {
                    if !self.followed.contains_key(&pod) {
                        let task = watch::follow_logs(
                            &self.client,
                            UPGRADE_NAMESPACE,
                            pod.clone(),
                            self.feed_tx.clone(),
                        );
                        self.followed.insert(pod, task);
                    }
                }
                Progress::Step(step) => self.out.step(watch.job(), &step),
                Progress::PhaseReached { phase, task } => self.phases.push((phase, task)),
                Progress::Succeeded => return Some(Outcome::Succeeded),
                Progress::Failed(failure) => {
                    self.out.event(
                        "job-failed",
                        "",
                        json!({"job": watch.job(), "failure": failure.kind(), "message": failure.to_string(), "last_step": last_step(watch)}),
                    );
                    return Some(Outcome::Failed(failure));
                }
            }
        }
        None
    }

    /// Prints the log lines already received, so the operator sees the failing task's output.
    fn drain_logs(&mut self) {
        while let Ok(feed) = self.feed_rx.try_recv() {
            if let Feed::Observed(observation) = feed {
                if let Observation::LogLine { pod, line } = &observation {
                    self.out.log_line(pod, line);
                }
                self.remember(&observation);
            }
        }
    }

    async fn existing_job(&self, name: &str) -> anyhow::Result<Option<Job>> {
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), UPGRADE_NAMESPACE);
        jobs.get_opt(name)
            .await
            .with_context(|| format!("cannot read Job {UPGRADE_NAMESPACE}/{name}"))
    }

    async fn delete_job_and_wait(&mut self, object: &ManifestObject) -> anyhow::Result<()> {
        let api = kubectl_apply::api_for(&self.client, object);
        if let Some(live) = api.get_opt(&object.name).await? {
            kubectl_apply::delete_and_wait(&api, &object.name, &live).await?;
        }
        Ok(())
    }

    async fn apply_object(&mut self, object: &ManifestObject, dry_run: bool) -> anyhow::Result<()> {
        let applied = kubectl_apply::apply(&self.client, object, dry_run).await?;
        let suffix = if dry_run { " (dry run)" } else { "" };
        self.record(
            "object",
            applied.as_str(),
            &format!("{} {}{suffix}", object.label(), applied.as_str()),
            json!({"object": object.label(), "dry_run": dry_run}),
        )
        .await;
        Ok(())
    }
}

/// The throwaway Job that proves, before anything irreversible, that the upgrader's image pulls,
/// its ServiceAccount is usable, the backup PVC binds and the pod schedules.
pub fn probe_job(upgrade_job: &ManifestObject) -> ManifestObject {
    let template = upgrade_job
        .body
        .pointer("/spec/template/spec")
        .cloned()
        .unwrap_or(json!({}));
    let container = template
        .pointer("/containers/0")
        .cloned()
        .unwrap_or(json!({}));
    let mut probe_container = json!({
        "name": "probe",
        "image": container.get("image").cloned().unwrap_or(Value::Null),
        "command": ["sh", "-c", "true"],
    });
    for field in ["imagePullPolicy", "volumeMounts"] {
        if let Some(value) = container.get(field) {
            probe_container[field] = value.clone();
        }
    }
    let mut spec = json!({
        "restartPolicy": "Never",
        "containers": [probe_container],
    });
    for field in [
        "serviceAccountName",
        "volumes",
        "imagePullSecrets",
        "nodeSelector",
        "tolerations",
    ] {
        if let Some(value) = template.get(field) {
            spec[field] = value.clone();
        }
    }
    let body = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": PROBE_JOB,
            "namespace": UPGRADE_NAMESPACE,
            "labels": {"app.kubernetes.io/managed-by": "astro-upgrade"},
        },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": PROBE_DEADLINE.as_secs(),
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/managed-by": "astro-upgrade"}},
                "spec": spec,
            },
        },
    });
    ManifestObject {
        resource: upgrade_job.resource.clone(),
        namespaced: true,
        name: PROBE_JOB.to_string(),
        body,
    }
}

/// The claim a Job's pod mounts, if any (the backup PVC for the upgrade and rollback Jobs).
fn claim_of(job: &ManifestObject) -> Option<String> {
    job.body
        .pointer("/spec/template/spec/volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find_map(|v| v.pointer("/persistentVolumeClaim/claimName"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn job_of<'m>(manifest: &'m Manifest, name: &str) -> anyhow::Result<&'m ManifestObject> {
    manifest
        .objects
        .iter()
        .find(|o| o.kind() == "Job" && o.name == name)
        .with_context(|| format!("the manifest has no Job {name}"))
}

/// The start shared by `apply` and `rollback`: open the journal and say where it is, show the
/// manifest's warnings, and connect to the cluster.
async fn open_journal_and_connect(
    global: &GlobalArgs,
    journal_path: Option<&Path>,
    manifest: &Manifest,
) -> anyhow::Result<(Output, Journal, cluster::Cluster)> {
    let out = Output::new(global.output);
    let journal = Journal::open(journal_path)?;
    out.event(
        "journal",
        &format!("journal: {}", journal.path().display()),
        json!({"path": journal.path().display().to_string()}),
    );
    for warning in &manifest.warnings {
        out.warn(warning);
    }
    let connection = cluster::connect(global).await?;
    Ok((out, journal, connection))
}

pub async fn run_apply(global: &GlobalArgs, args: ApplyArgs) -> anyhow::Result<u8> {
    let plan = read_approved_plan(&args.plan)?;
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
            "--auto-rollback needs a plan that acknowledges rollback-data-loss (a rollback deletes the \
             Elasticsearch log volumes and restores the Houston database from this run's backup); \
             nothing was changed. Write the plan again with `--ack rollback-data-loss`, or apply {} without --auto-rollback",
            args.plan.display()
        )));
    }
    let (out, journal, connection) =
        open_journal_and_connect(global, args.journal.as_deref(), &manifest).await?;
    let mut run = Run::new(connection.client.clone(), out, journal);
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

    let upgrade_job = job_of(&manifest, upgrade_path::UPGRADE_JOB)?;
    let existing = run.existing_job(upgrade_path::UPGRADE_JOB).await?;
    let start = engine::decide_start(engine::existing_of(existing.as_ref()), args.rerun);
    let release = plan.cluster_fingerprint.platform_release.clone();
    let namespace = plan
        .cluster_fingerprint
        .platform_namespace
        .clone()
        .unwrap_or_else(|| global.namespace.clone());
    let context = FlowContext {
        global,
        release,
        namespace,
        bounds,
        rollback_manifest: rollback_manifest.as_ref(),
        rollback_path: args.rollback_manifest.as_deref(),
        auto_rollback: args.auto_rollback,
        known_unhealthy: plan.cluster_fingerprint.unhealthy_pods.clone(),
        rerun_command: rerun_command(&args, global),
    };

    let outcome = async {
        Ok::<Ending, anyhow::Error>(match start {
        Start::ReportFinished { complete } => {
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
                verify_upgrade(&mut run, &context, None).await?
            } else {
                after_failure(&mut run, &context, None, None).await?
            }
        }
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
            watch_upgrade(&mut run, &context, upgrade_job).await?
        }
        Start::Apply | Start::DeleteAndApply => {
            preflight(&mut run, &connection, &context.namespace, &plan).await?;
            let question = format!(
                "Apply {} to namespace {UPGRADE_NAMESPACE} of context {} and start the upgrade of {}?",
                args.manifest.display(),
                connection.context,
                context.release.as_deref().unwrap_or("the platform")
            );
            if !args.dry_run {
                run.out.suspend(|| confirm(&question, args.yes))?;
                run.mirror = true;
            }
            if start == Start::DeleteAndApply {
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
            for object in manifest.objects.iter().filter(|o| o.kind() != "Job") {
                run.apply_object(object, args.dry_run).await?;
            }
            if args.dry_run {
                run.apply_object(upgrade_job, true).await?;
                run.record(
                    "apply",
                    "dry-run",
                    "dry run: the server accepted every object; nothing was persisted and no probe or Job ran",
                    json!({}),
                )
                .await;
                Ending::DryRun
            } else {
                match probe(&mut run, upgrade_job, &context.bounds).await? {
                    Some(ending) => ending,
                    None => {
                        run.apply_object(upgrade_job, false).await?;
                        watch_upgrade(&mut run, &context, upgrade_job).await?
                    }
                }
            }
        }
    })
    }
    .await;
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

/// What the upgrade flow needs beyond the run itself.
struct FlowContext<'a> {
    global: &'a GlobalArgs,
    release: Option<String>,
    namespace: String,
    bounds: Bounds,
    rollback_manifest: Option<&'a Manifest>,
    rollback_path: Option<&'a Path>,
    /// `--auto-rollback`, with a rollback manifest and a plan acknowledging `rollback-data-loss`.
    auto_rollback: bool,
    /// Pods (`namespace/name`) unhealthy before the run; verification does not wait for them.
    known_unhealthy: Vec<String>,
    /// The `apply` command that starts again after a fixed early failure.
    rerun_command: String,
}

/// The same `apply` command with `--rerun`, so the failed Job is deleted and re-created.
fn rerun_command(args: &ApplyArgs, global: &GlobalArgs) -> String {
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
    if let Some(context) = &global.context {
        command.push_str(&format!(" --context {context}"));
    }
    command.push_str(" --rerun");
    command
}

fn short(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}

/// Re-reads the cluster and refuses on drift from the plan or on a missing right.
async fn preflight(
    run: &mut Run,
    connection: &cluster::Cluster,
    platform_namespace: &str,
    plan: &planner::Plan,
) -> anyhow::Result<()> {
    run.out
        .phase("re-checking the live cluster against the plan");
    let client = &connection.client;
    let mut facts = planner::Facts::default();
    facts.kubernetes.server_version = Some(cluster::server_version(client).await?);
    tokio::time::timeout(verify::LIST_TIMEOUT, run.view.listed())
        .await
        .map_err(|_| anyhow::anyhow!("cannot list the cluster's pods and Helm release Secrets"))?;
    // The pods of this tool's own Jobs (a failed upgrade before a --rerun) are not drift.
    facts.pods = run
        .view
        .pods()
        .into_iter()
        .filter(|pod| {
            !is_own_pod(&format!(
                "{}/{}",
                pod.namespace.as_deref().unwrap_or_default(),
                pod.name
            ))
        })
        .collect();
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
    let now = ClusterFingerprint::from_facts(&facts);
    let mut planned = plan.cluster_fingerprint.clone();
    planned.unhealthy_pods.retain(|pod| !is_own_pod(pod));
    let differences = planned.diff(&now);
    if !differences.is_empty() {
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
        return Err(Exit::refused(
            "the cluster is not the one the plan was approved for; nothing was changed. Collect again and write a new plan",
        ));
    }
    run.record(
        "drift-check",
        "passed",
        "the cluster matches the plan's fingerprint",
        json!({}),
    )
    .await;
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
        run.record(
            "rights",
            "refused",
            &format!("missing rights: {}", missing.join(", ")),
            json!({"missing": missing}),
        )
        .await;
        return Err(Exit::refused(format!(
            "you may not {}; nothing was changed",
            missing.join(", ")
        )));
    }
    run.record(
        "rights",
        "passed",
        "every right the manifest needs is granted",
        json!({}),
    )
    .await;
    Ok(())
}

/// A pod of the probe, upgrade or rollback Job (named `<job>-<suffix>` in `default`), given
/// as `namespace/name`.
fn is_own_pod(qualified: &str) -> bool {
    let Some(name) = qualified.strip_prefix("default/") else {
        return false;
    };
    [
        PROBE_JOB,
        upgrade_path::UPGRADE_JOB,
        upgrade_path::ROLLBACK_JOB,
    ]
    .iter()
    .any(|job| {
        name.strip_prefix(job)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|suffix| !suffix.is_empty() && !suffix.contains('-'))
    })
}

/// Runs the probe Job; `Some(ending)` when it failed and the upgrade must not start.
async fn probe(
    run: &mut Run,
    upgrade_job: &ManifestObject,
    bounds: &Bounds,
) -> anyhow::Result<Option<Ending>> {
    let probe = probe_job(upgrade_job);
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
    match outcome {
        Outcome::Succeeded => {
            run.record(
                "probe",
                "passed",
                "probe passed: the upgrader's image pulls, the backup PVC binds and the pod schedules",
                json!({}),
            )
            .await;
            Ok(None)
        }
        Outcome::Failed(failure) => {
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
            Ok(Some(Ending::FailedUntouched))
        }
        Outcome::Interrupted => {
            run.record(
                "probe",
                "interrupted",
                "interrupted during the probe; the upgrade Job was not created",
                json!({}),
            )
            .await;
            Ok(Some(Ending::Interrupted))
        }
    }
}

async fn watch_upgrade(
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
        Outcome::Succeeded => {
            run.record(
                "upgrade-job",
                "complete",
                &format!("Job {} completed", upgrade_path::UPGRADE_JOB),
                json!({"job": upgrade_path::UPGRADE_JOB}),
            )
            .await;
            verify_upgrade(run, context, Some(&streamed)).await
        }
        Outcome::Failed(failure) => {
            after_failure(run, context, Some(failure), Some(&streamed)).await
        }
        Outcome::Interrupted => {
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
    }
}

async fn verify_upgrade(
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

/// After a failed upgrade: read how far the upgrader got, then do what the engine decides —
/// nothing but a report before the point of no return, a rollback only with a proven backup.
async fn after_failure(
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
            run.out.say(&untouched_message(&evidence, context));
            Ok(Ending::FailedUntouched)
        }
        (AfterFailure::HandOff(reason), _) => {
            run.record(
                "upgrade-job",
                "handed-off",
                &hand_off_message(&reason, &evidence, context),
                json!({"reason": reason.kind()}),
            )
            .await;
            Ok(Ending::UpgradeFailed)
        }
        (AfterFailure::RollBack, None) => {
            let reason = HandOff::RollbackNotAsked;
            run.out.say(&hand_off_message(&reason, &evidence, context));
            Ok(Ending::UpgradeFailed)
        }
    }
}

/// Whether the decision after this failure depends on how far the upgrader got.
fn failure_needs_log(failure: &Failure) -> bool {
    matches!(
        failure,
        Failure::ContainerFailed { .. } | Failure::JobFailed { .. } | Failure::Verification { .. }
    )
}

/// The upgrader's log read whole from the API server (every pod of the Job, oldest first); the
/// streamed log, marked incomplete, when that read fails.
async fn upgrader_evidence(client: &Client, streamed: Option<&UpgraderLog>) -> UpgraderEvidence {
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
async fn record_evidence(run: &mut Run, evidence: &UpgraderEvidence) {
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

async fn delete_unstarted_job(run: &mut Run) -> anyhow::Result<Ending> {
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
fn untouched_message(evidence: &UpgraderEvidence, context: &FlowContext<'_>) -> String {
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
fn hand_off_message(
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

/// Applies the rollback manifest, watches its Job and verifies the platform is back on 0.16.
/// Never deletes the upgrade's ServiceAccount or PVC: the rollback Job needs both.
async fn roll_back(
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
    let existing = run.existing_job(upgrade_path::ROLLBACK_JOB).await?;
    let outcome = match engine::decide_start(engine::existing_of(existing.as_ref()), rerun) {
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
                Outcome::Succeeded
            } else {
                Outcome::Failed(Failure::JobFailed {
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
    };
    let outcome = match outcome {
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
        Outcome::Succeeded => {
            run.record(
                "rollback-job",
                "complete",
                &format!("Job {} completed", upgrade_path::ROLLBACK_JOB),
                json!({}),
            )
            .await;
            let source = format!(
                "{}.{}",
                LTS_0_16_TO_0_23.from_platform.major, LTS_0_16_TO_0_23.from_platform.minor
            );
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
            if problems.is_empty() {
                run.record(
                    "rollback",
                    "verified",
                    &format!(
                        "rolled back: the platform runs {source} again and every pod is ready"
                    ),
                    json!({"expect": source}),
                )
                .await;
                run.out.say(&format!(
                    "Airflow deployments upgraded by the failed run are not rolled back by the upgrader, and the rollback deleted the Elasticsearch volumes (logs). The backups stay on PVC {UPGRADE_NAMESPACE}/{}.",
                    upgrade_path::BACKUP_PVC
                ));
                return Ok(true);
            }
            format!(
                "verification after the rollback failed: {}",
                problems.join("; ")
            )
        }
        Outcome::Failed(failure) => failure.to_string(),
        Outcome::Interrupted => "interrupted".to_string(),
    };
    run.record(
        "rollback",
        "failed",
        &format!("ROLLBACK FAILED: {failure}"),
        json!({"message": failure}),
    )
    .await;
    run.out.say(&format!(
        "\nThe upgrade and its rollback both failed. The platform needs a person now. State:\n  - Job {ns}/{up}: failed; Job {ns}/{rb}: failed or unverified\n  - the database backup is on PVC {ns}/{pvc} (do not delete it, nor ServiceAccount {ns}/{sa})\nNext steps, by hand:\n  kubectl logs -n {ns} job/{rb}            # why the rollback failed\n  kubectl logs -n {ns} job/{up}            # why the upgrade failed\n  helm history {rel} -n {pns}              # which revision is live\n  kubectl get pods -n {pns}                # what is not ready\n  astro-upgrade status                     # the journal and the live state\nThen, after fixing the cause:\n  kubectl delete job -n {ns} {rb} && {cmd}\nIf the database must be restored by hand, the dump is astronomer-db-backup.tar in the newest directory of the PVC; contact Astronomer support with the journal {journal}.",
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
    Ok(false)
}

/// The rollback Job mounts the backup PVC and runs as the upgrader's ServiceAccount.
async fn missing_rollback_prerequisite(client: &Client) -> anyhow::Result<Option<String>> {
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

async fn finish(run: &mut Run, ending: Ending) -> anyhow::Result<u8> {
    let code = ending.exit_code();
    run.record(
        "finished",
        &format!("{ending:?}").to_lowercase(),
        "",
        json!({"exit_code": code}),
    )
    .await;
    run.out.finish();
    Ok(code)
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
    let mut run = Run::new(connection.client.clone(), out, journal);
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
async fn refuse_needless_rollback(
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
fn journal_gate(journal: &Journal) -> RollbackGate {
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

#[cfg(test)]
mod tests {
    use planner::path::LTS_0_16_TO_0_23;

    use super::*;

    const JOB: &str = r#"
apiVersion: batch/v1
kind: Job
metadata:
  name: rollback-astronomer
spec:
  backoffLimit: 0
  template:
    metadata:
      labels: {run: test-rollback}
    spec:
      restartPolicy: Never
      serviceAccountName: astronomer-upgrader-service-account
      containers:
      - name: upgrade
        image: quay.io/astronomer/lts-016-023-upgrade:latest
        imagePullPolicy: Always
        command: ["ansible-playbook", "rollback-astronomer.yaml"]
        env: [{name: SECRET_THING, value: x}]
        volumeMounts: [{name: backups, mountPath: /astronomer-backups}]
      volumes:
      - name: backups
        persistentVolumeClaim: {claimName: astronomer-upgrades-backup}
"#;

    #[test]
    fn only_the_pods_of_this_tools_jobs_are_its_own() {
        assert!(is_own_pod("default/upgrade-astronomer-6b4ns"));
        assert!(is_own_pod("default/astro-upgrade-probe-x2x9q"));
        assert!(is_own_pod("default/rollback-astronomer-mjkpk"));
        assert!(!is_own_pod("astronomer/upgrade-astronomer-6b4ns"));
        assert!(!is_own_pod("default/upgrade-astronomer-extra-6b4ns"));
        assert!(!is_own_pod("default/upgrade-astronomer"));
    }

    #[test]
    fn the_probe_borrows_image_account_and_claim_but_runs_nothing() {
        let manifest = crate::manifest::read(JOB, &LTS_0_16_TO_0_23.rollback_manifest).unwrap();
        let job = &manifest.objects[0];
        let probe = probe_job(job);
        let spec = &probe.body["spec"]["template"]["spec"];
        assert_eq!(probe.name, PROBE_JOB);
        assert_eq!(probe.body["metadata"]["namespace"], "default");
        assert_eq!(probe.body["spec"]["backoffLimit"], 0);
        assert_eq!(
            spec["serviceAccountName"],
            "astronomer-upgrader-service-account"
        );
        assert_eq!(
            spec["volumes"][0]["persistentVolumeClaim"]["claimName"],
            "astronomer-upgrades-backup"
        );
        let container = &spec["containers"][0];
        assert_eq!(
            container["image"],
            "quay.io/astronomer/lts-016-023-upgrade:latest"
        );
        assert_eq!(container["imagePullPolicy"], "Always");
        assert_eq!(container["command"], json!(["sh", "-c", "true"]));
        assert_eq!(
            container["volumeMounts"][0]["mountPath"],
            "/astronomer-backups"
        );
        assert_eq!(
            container.get("env"),
            None,
            "the upgrader's environment is not copied"
        );
        assert_eq!(claim_of(job).as_deref(), Some("astronomer-upgrades-backup"));
    }
}
