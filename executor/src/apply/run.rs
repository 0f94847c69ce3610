//! What `apply` and `rollback` share: one run against one cluster (its client, output, journal
//! and watches), the Jobs it follows, and the probe Job built from the upgrade Job.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use planner::upgrader::{Phase, UpgraderLog};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::duration_arg;
use super::engine::{
    Ending, JobOutcome, JobWatch, JobWatchConfig, Observation, Progress, PROBE_JOB,
};
use crate::credentials::{self, AuthProblem};
use crate::journal::{self, Journal};
use crate::kubectl_apply;
use crate::manifest::{Manifest, ManifestObject, UPGRADE_NAMESPACE};
use crate::progress::Output;
use crate::transport::Credentials;
use crate::watch::{self, ClusterView, Feed};
use crate::{cluster, GlobalArgs, WatchArgs};

/// The probe only has to pull, mount and start; anything slower than this is a finding in itself.
pub(super) const PROBE_DEADLINE: Duration = Duration::from_secs(600);

/// How often the deadline clock is advanced on a quiet cluster (not an API poll).
const TICK: Duration = Duration::from_millis(250);

/// The waits before each attempt to connect again after the credentials were refused: a token
/// service that fails for a moment is waited out; one that keeps failing is reported.
const REAUTHENTICATE_WAITS: [Duration; 4] = [
    Duration::from_millis(500),
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
];

/// The upgrader's last task before the end, for the failure message.
fn last_step(watch: &JobWatch) -> Value {
    watch
        .step()
        .map_or(Value::Null, |s| Value::String(s.to_string()))
}

pub(super) struct Bounds {
    pub(super) timeout: Duration,
    pub(super) bind_timeout: Duration,
    pub(super) settle: Duration,
}

impl Bounds {
    pub(super) fn read(timeout: &str, watch: &WatchArgs) -> anyhow::Result<Bounds> {
        Ok(Bounds {
            timeout: duration_arg("--timeout", timeout)?,
            bind_timeout: duration_arg("--bind-timeout", &watch.bind_timeout)?,
            settle: duration_arg("--settle", &watch.settle)?,
        })
    }
}

/// One run of the executor against one cluster: its client, output, journal and watches.
pub(super) struct Run {
    pub(super) client: Client,
    pub(super) out: Output,
    pub(super) journal: Journal,
    /// The ConfigMap mirror starts with the first change to the cluster: a refused run changes nothing.
    pub(super) mirror: bool,
    pub(super) mirror_warned: bool,
    pub(super) feed_tx: mpsc::UnboundedSender<Feed>,
    pub(super) feed_rx: mpsc::UnboundedReceiver<Feed>,
    pub(super) view: ClusterView,
    /// The newest observation of each watched object, replayed to each new Job watch.
    pub(super) seen: BTreeMap<(u8, String), Observation>,
    /// Each followed pod's log stream, and how many of its lines were received.
    pub(super) followed: BTreeMap<String, (JoinHandle<()>, Arc<AtomicUsize>)>,
    /// The client's credentials: renewals to journal, and replaced after a refusal.
    pub(super) credentials: Credentials,
    /// The renewals already journaled.
    pub(super) renewals: tokio::sync::watch::Receiver<u64>,
    /// How to read the kubeconfig again for fresh credentials.
    pub(super) global: GlobalArgs,
    pub(super) interrupts: mpsc::UnboundedReceiver<()>,
    /// Phases the upgrader entered, to be journaled once the observation is handled.
    pub(super) phases: Vec<(Phase, String)>,
}

impl Run {
    pub(super) fn new(
        connection: &cluster::Cluster,
        global: &GlobalArgs,
        out: Output,
        journal: Journal,
    ) -> Run {
        let client = connection.client.clone();
        let credentials = connection.credentials.clone();
        let (feed_tx, feed_rx) = mpsc::unbounded_channel();
        let view = ClusterView::start(&client, &credentials, UPGRADE_NAMESPACE, feed_tx.clone());
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
            renewals: credentials.watch_renewals(),
            credentials,
            global: global.clone(),
            interrupts,
            phases: Vec::new(),
        }
    }

    /// Journals a step, mirrors the journal when the run has changed the cluster, and tells the operator.
    pub(super) async fn record(&mut self, step: &str, event: &str, human: &str, detail: Value) {
        if self.renewals.has_changed().unwrap_or(false) {
            self.note_renewals();
        }
        self.append(step, event, human, detail);
        if self.mirror {
            self.mirror_journal().await;
        }
    }

    /// Journals the credentials the client renewed on its own (kube-rs runs the exec plugin
    /// again before a token expires), so the journal shows each one the run outlived. Not told
    /// on a terminal: nothing for the operator to do.
    fn note_renewals(&mut self) {
        let renewals = *self.renewals.borrow_and_update();
        self.append(
            "credentials",
            "renewed",
            "",
            json!({"renewals": renewals, "by": "the kubeconfig's credentials (exec plugin or token file)"}),
        );
    }

    fn append(&mut self, step: &str, event: &str, human: &str, detail: Value) {
        if let Err(err) = self.journal.append(step, event, detail.clone()) {
            self.out.warn(&format!("{err:#}"));
        }
        let mut fields = json!({ "step": step, "status": event });
        if let (Some(fields), Value::Object(detail)) = (fields.as_object_mut(), &detail) {
            fields.extend(detail.clone());
        }
        self.out.event(step, human, fields);
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
            let why = credentials::auth_problem(&err)
                .map_or_else(|| err.to_string(), |problem| problem.to_string());
            self.mirror_failed(&why);
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
    pub(super) async fn follow(
        &mut self,
        config: JobWatchConfig,
        interruptible: bool,
    ) -> (JobOutcome, UpgraderLog) {
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
    ) -> JobOutcome {
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
                    Some(Feed::AuthTrouble { generation, problem }) => {
                        if generation != self.credentials.generation() {
                            continue;
                        }
                        match self.reauthenticate(&problem).await {
                            Ok(()) => continue,
                            Err(lost) => return JobOutcome::CredentialsLost(lost),
                        }
                    }
                    None => Observation::Tick,
                },
                _ = ticks.tick() => Observation::Tick,
                Ok(()) = self.renewals.changed() => {
                    self.note_renewals();
                    continue;
                }
                Some(()) = self.interrupts.recv() => {
                    if interruptible {
                        return JobOutcome::Interrupted;
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
    fn show(&mut self, watch: &JobWatch, progress: Vec<Progress>) -> Option<JobOutcome> {
        for item in progress {
            match item {
                Progress::PodStatus { pod, status } => self.out.event(
                    "pod",
                    &format!("pod {pod}: {status}"),
                    json!({"job": watch.job(), "pod": pod, "pod_status": status}),
                ),
                Progress::LogsAvailable { pod } => {
                    if !self.followed.contains_key(&pod) {
                        let received = Arc::new(AtomicUsize::new(0));
                        let task = watch::follow_logs(
                            (&self.client, &self.credentials),
                            UPGRADE_NAMESPACE,
                            pod.clone(),
                            received.clone(),
                            self.feed_tx.clone(),
                        );
                        self.followed.insert(pod, (task, received));
                    }
                }
                Progress::Step(step) => self.out.step(watch.job(), &step),
                Progress::PhaseReached { phase, task } => self.phases.push((phase, task)),
                Progress::Succeeded => return Some(JobOutcome::Succeeded),
                Progress::Failed(failure) => {
                    self.out.event(
                        "job-failed",
                        "",
                        json!({"job": watch.job(), "failure": failure.kind(), "message": failure.to_string(), "last_step": last_step(watch)}),
                    );
                    return Some(JobOutcome::Failed(failure));
                }
            }
        }
        None
    }

    /// After the cluster refused this run's credentials (or they could not be made): reads the
    /// kubeconfig again and gives the client new credentials (its exec plugin runs anew), and
    /// proves them with one authenticated request. The watches keep their place: each resumes
    /// from its last resourceVersion with the new credentials. Tries a few times, as a token
    /// service can fail for a moment; the error says why it gave up.
    async fn reauthenticate(&mut self, problem: &AuthProblem) -> Result<(), String> {
        self.record(
            "credentials",
            "refused",
            &format!("{problem}; getting new credentials from the kubeconfig"),
            json!({"problem": problem.to_string()}),
        )
        .await;
        let mut last = problem.to_string();
        for (attempt, wait) in REAUTHENTICATE_WAITS.iter().enumerate() {
            tokio::time::sleep(*wait).await;
            match self.fresh_credentials().await {
                Ok(()) => {
                    self.restart_ended_log_streams();
                    self.record(
                        "credentials",
                        "refreshed",
                        "new credentials accepted; the watches resume from their last resourceVersion",
                        json!({"attempt": attempt + 1, "generation": self.credentials.generation()}),
                    )
                    .await;
                    return Ok(());
                }
                Err(why) => last = why,
            }
        }
        Err(last)
    }

    /// Journals that the run lost sight of Job `job` for want of credentials, with the state it
    /// leaves and the commands to run next (`then`: how to pick the work up again).
    pub(super) async fn credentials_lost(&mut self, job: &str, why: &str, then: &str) {
        let check = credentials::how_to_check(
            self.global.single_context().unwrap_or_default(),
            UPGRADE_NAMESPACE,
        );
        self.record(
            "credentials",
            "lost",
            &format!(
                "authentication problem, not an upgrade failure: {why}.\n\
                 This run can no longer see Job {UPGRADE_NAMESPACE}/{job}, which keeps running in the \
                 cluster; nothing was rolled back, deleted or re-applied.\n\
                 Next: {check}. Then {then}"
            ),
            json!({"job": job, "problem": why}),
        )
        .await;
    }

    async fn fresh_credentials(&self) -> Result<(), String> {
        cluster::reconnect(&self.global, &self.credentials)
            .await
            .map_err(|err| {
                credentials::auth_problem_of(&err)
                    .map_or_else(|| format!("{err:#}"), |problem| problem.to_string())
            })?;
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), UPGRADE_NAMESPACE);
        match jobs.get_opt(planner::path::UPGRADE_JOB).await {
            Ok(_) => Ok(()),
            Err(err) => Err(credentials::auth_problem(&err)
                .map_or_else(|| err.to_string(), |problem| problem.to_string())),
        }
    }

    /// A log stream that gave up while the credentials were refused starts again after the
    /// lines already received; the others carry on with the new credentials by themselves.
    fn restart_ended_log_streams(&mut self) {
        for (pod, (task, received)) in &mut self.followed {
            if task.is_finished() {
                *task = watch::follow_logs(
                    (&self.client, &self.credentials),
                    UPGRADE_NAMESPACE,
                    pod.clone(),
                    received.clone(),
                    self.feed_tx.clone(),
                );
            }
        }
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

    pub(super) async fn existing_job(&self, name: &str) -> anyhow::Result<Option<Job>> {
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), UPGRADE_NAMESPACE);
        jobs.get_opt(name)
            .await
            .with_context(|| format!("cannot read Job {UPGRADE_NAMESPACE}/{name}"))
    }

    pub(super) async fn delete_job_and_wait(
        &mut self,
        object: &ManifestObject,
    ) -> anyhow::Result<()> {
        let api = kubectl_apply::api_for(&self.client, object);
        if let Some(live) = api.get_opt(&object.name).await? {
            kubectl_apply::delete_and_wait(&api, &object.name, &live).await?;
        }
        Ok(())
    }

    pub(super) async fn apply_object(
        &mut self,
        object: &ManifestObject,
        dry_run: bool,
    ) -> anyhow::Result<()> {
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
/// its ServiceAccount is usable, the backup PVC binds and the pod schedules, and that the pod
/// reaches each of `egress_urls` over HTTPS: its container runs the planner's probe script with
/// the image's curl and prints one line per URL (read back by the planner's egress reader). The
/// upgrader's proxy variables are copied so the probe goes out the way the upgrader will; no
/// other part of its environment is.
pub fn probe_job(upgrade_job: &ManifestObject, egress_urls: &[&str]) -> ManifestObject {
    let template = upgrade_job
        .body
        .pointer("/spec/template/spec")
        .cloned()
        .unwrap_or(json!({}));
    let container = template
        .pointer("/containers/0")
        .cloned()
        .unwrap_or(json!({}));
    let script = if egress_urls.is_empty() {
        "true"
    } else {
        planner::input::egress::PROBE_SCRIPT
    };
    let mut probe_container = json!({
        "name": "probe",
        "image": container.get("image").cloned().unwrap_or(Value::Null),
        "command": ["sh", "-c", script],
    });
    if !egress_urls.is_empty() {
        let mut env = vec![json!({
            "name": planner::input::egress::PROBE_URLS_ENV,
            "value": egress_urls.join(" "),
        })];
        let proxies = container
            .get("env")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|var| {
                var.get("name").and_then(Value::as_str).is_some_and(|name| {
                    matches!(
                        name.to_ascii_lowercase().as_str(),
                        "http_proxy" | "https_proxy" | "no_proxy" | "all_proxy"
                    )
                })
            });
        env.extend(proxies.cloned());
        probe_container["env"] = Value::Array(env);
    }
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
pub(super) fn claim_of(job: &ManifestObject) -> Option<String> {
    job.body
        .pointer("/spec/template/spec/volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find_map(|v| v.pointer("/persistentVolumeClaim/claimName"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

pub(super) fn job_of<'m>(manifest: &'m Manifest, name: &str) -> anyhow::Result<&'m ManifestObject> {
    manifest
        .objects
        .iter()
        .find(|o| o.kind() == "Job" && o.name == name)
        .with_context(|| format!("the manifest has no Job {name}"))
}

/// The start shared by `apply` and `rollback`: open the journal and say where it is, show the
/// manifest's warnings, and connect to the cluster.
pub(super) async fn open_journal_and_connect(
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

/// What the upgrade flow needs beyond the run itself.
pub(super) struct FlowContext<'a> {
    pub(super) global: &'a GlobalArgs,
    pub(super) release: Option<String>,
    pub(super) namespace: String,
    pub(super) bounds: Bounds,
    pub(super) rollback_manifest: Option<&'a Manifest>,
    pub(super) rollback_path: Option<&'a Path>,
    /// `--auto-rollback`, with a rollback manifest and a plan acknowledging `rollback-data-loss`.
    pub(super) auto_rollback: bool,
    /// Pods (`namespace/name`) unhealthy before the run; verification does not wait for them.
    pub(super) known_unhealthy: Vec<String>,
    /// The `apply` command that starts again after a fixed early failure.
    pub(super) rerun_command: String,
}

pub(super) fn short(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}

pub(super) async fn finish(run: &mut Run, ending: Ending) -> anyhow::Result<u8> {
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
    fn the_probe_borrows_image_account_and_claim_but_runs_nothing() {
        let manifest = crate::manifest::read(JOB, &LTS_0_16_TO_0_23.rollback_manifest).unwrap();
        let job = &manifest.objects[0];
        let probe = probe_job(job, &[]);
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

    #[test]
    fn the_probe_tests_each_egress_url_through_the_upgrader_s_proxy() {
        let with_proxy = JOB.replace(
            "env: [{name: SECRET_THING, value: x}]",
            "env: [{name: SECRET_THING, value: x}, {name: HTTPS_PROXY, value: \"http://proxy.corp:3128\"}, {name: no_proxy, value: .svc}]",
        );
        let manifest =
            crate::manifest::read(&with_proxy, &LTS_0_16_TO_0_23.rollback_manifest).unwrap();
        let urls = [
            "https://helm.astronomer.io/index.yaml",
            "https://updates.astronomer.io/astronomer-certified",
        ];
        let probe = probe_job(&manifest.objects[0], &urls);
        let container = &probe.body["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(
            container["command"],
            json!(["sh", "-c", planner::input::egress::PROBE_SCRIPT])
        );
        let env = container["env"].as_array().unwrap();
        let names: Vec<&str> = env.iter().map(|v| v["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            ["ASTRO_UPGRADE_EGRESS_URLS", "HTTPS_PROXY", "no_proxy"]
        );
        assert_eq!(env[0]["value"], urls.join(" "));
        assert!(!container.to_string().contains("SECRET_THING"));
    }
}
