//! The astro-upgrade binary against kube-sim scenarios: collect, then apply an approved plan, and
//! what the simulated cluster shows afterwards. The binary runs as a child process pointed at the
//! in-process simulator through `KUBECONFIG`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use kube_sim::{Scenario, Sim};
use planner::{Acknowledgements, EvidenceKind, Source};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::Command;

const UPGRADE_JOB: &str = "upgrade-astronomer";
const ROLLBACK_JOB: &str = "rollback-astronomer";
/// The approver accepts what an automatic rollback costs; `apply --auto-rollback` needs it.
const ROLLBACK_ACK: &str = "rollback-data-loss";
const HOUSTON_WORKER_CRASHING: &str = "known-crashing=astronomer-houston-worker-5c8d9f7b6-qk2zt";
const JOBS_PATH: &str = "/apis/batch/v1/namespaces/default/jobs";

mod credentials;

fn binary() -> PathBuf {
    crate::support::astro_upgrade_binary()
}

fn workspace_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn text(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// The JSON events of `--output json`, in order.
    fn events(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }
}

struct Cluster {
    sim: Sim,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Cluster {
    /// Starts a scenario; `time_scale` divides its scripted delays.
    async fn start(scenario: &str, time_scale: f64) -> Cluster {
        Cluster::start_with(scenario, time_scale, |_| {}).await
    }

    async fn start_with(
        scenario: &str,
        time_scale: f64,
        change: impl FnOnce(&mut Scenario),
    ) -> Cluster {
        let path = workspace_file(&format!("scenarios/{scenario}.yaml"));
        let mut scenario = Scenario::from_file(&path).expect("the scenario reads");
        change(&mut scenario);
        let (sim, dir, kubeconfig) = crate::support::start_sim(scenario, time_scale).await;
        Cluster {
            sim,
            dir,
            kubeconfig,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(binary());
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("KUBECONFIG", &self.kubeconfig)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    async fn run(&self, args: &[&str]) -> Run {
        let output = tokio::time::timeout(Duration::from_secs(120), self.command(args).output())
            .await
            .expect("astro-upgrade finishes within two minutes")
            .expect("astro-upgrade runs");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// `astro-upgrade collect` against the simulator: the bundle's JSON text.
    async fn collect(&self) -> String {
        let out = self.path("bundle.json");
        let run = self
            .run(&["collect", "--out", out.to_str().expect("utf-8 path")])
            .await;
        assert_eq!(run.code, 0, "collect failed: {}", run.text());
        std::fs::read_to_string(out).expect("the bundle was written")
    }

    /// A plan written by the planner library from `bundle` with the acknowledgements a person gives.
    fn write_plan(&self, bundle: &str, acks: &[&str]) -> PathBuf {
        self.write_plan_with(bundle, acks, &planner::UpgraderOptions::default())
    }

    /// [`Cluster::write_plan`] with options for the upgrader.
    fn write_plan_with(
        &self,
        bundle: &str,
        acks: &[&str],
        options: &planner::UpgraderOptions,
    ) -> PathBuf {
        let mut acknowledgements = Acknowledgements::default();
        for ack in ["database-backup=snapshot-2026-11-27", "system-admin"]
            .iter()
            .chain(acks)
        {
            acknowledgements
                .parse_ack(ack)
                .expect("a valid acknowledgement");
        }
        let source = Source::new("bundle.json", Some(EvidenceKind::Bundle), bundle);
        let plan = planner::make_plan(
            &[source],
            &acknowledgements,
            options,
            &[],
            "2026-11-27T16:00:00Z",
        );
        let path = self.path("plan.json");
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&plan).expect("a plan serialises"),
        )
        .expect("the plan is written");
        path
    }

    async fn approved_plan(&self, acks: &[&str]) -> PathBuf {
        let bundle = self.collect().await;
        let plan = self.write_plan(&bundle, acks);
        let verdict = read_json(&plan)["verdict"].clone();
        assert_eq!(verdict, "GO", "the scenario's plan should be GO");
        plan
    }

    fn apply_args(&self, plan: &Path, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = [
            "apply",
            "--plan",
            plan.to_str().expect("utf-8 path"),
            "--manifest",
            workspace_file("manifests/upgrade-0.16-to-0.23.yaml")
                .to_str()
                .expect("utf-8 path"),
            "--rollback-manifest",
            workspace_file("manifests/rollback-0.16-to-0.23.yaml")
                .to_str()
                .expect("utf-8 path"),
            "--yes",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if !extra.contains(&"--settle") {
            args.extend(["--settle".to_string(), "20s".to_string()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    async fn apply(&self, plan: &Path, extra: &[&str]) -> Run {
        let args = self.apply_args(plan, extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run(&args).await
    }

    /// Deletes an object through the API, as a person with kubectl would.
    async fn delete(&self, path: &str) {
        let deleted = reqwest::Client::new()
            .delete(format!("{}{path}", self.sim.url()))
            .send()
            .await
            .expect("the simulator answers");
        assert!(deleted.status().is_success(), "DELETE {path}");
    }

    /// `astro-upgrade rollback` is refused (exit 3) naming `why`, and changes nothing.
    async fn rollback_is_refused(&self, why: &str) {
        let changes = self.changes().len();
        let rollback = self.rollback(&[]).await;
        assert_eq!(rollback.code, 3, "{}", rollback.text());
        assert!(rollback.text().contains(why), "{why}: {}", rollback.text());
        assert_eq!(
            self.changes().len(),
            changes,
            "a refused rollback changes nothing"
        );
    }

    /// `astro-upgrade rollback` with the repo's rollback manifest.
    async fn rollback(&self, extra: &[&str]) -> Run {
        let manifest = workspace_file("manifests/rollback-0.16-to-0.23.yaml");
        let mut args = vec![
            "rollback",
            "--rollback-manifest",
            manifest.to_str().expect("utf-8 path"),
            "--yes",
            "--settle",
            "20s",
        ];
        args.extend(extra);
        self.run(&args).await
    }

    fn platform_chart_version(&self) -> String {
        let secrets = self.sim.objects("v1", "Secret", Some("astronomer"));
        let newest = secrets
            .iter()
            .filter(|s| {
                s["metadata"]["labels"]["owner"] == "helm"
                    && s["metadata"]["labels"]["name"] == "astronomer"
            })
            .max_by_key(|s| {
                s["metadata"]["labels"]["version"]
                    .as_str()
                    .and_then(|v| v.parse::<u32>().ok())
                    .unwrap_or(0)
            })
            .expect("the platform release has a Secret");
        let status = newest["metadata"]["labels"]["status"]
            .as_str()
            .unwrap_or_default();
        let release = kube_sim::helm::decode_release(newest).expect("the release Secret decodes");
        format!(
            "{} {status}",
            release["chart"]["metadata"]["version"]
                .as_str()
                .unwrap_or_default()
        )
    }

    fn platform_revisions(&self) -> usize {
        self.sim
            .objects("v1", "Secret", Some("astronomer"))
            .iter()
            .filter(|s| {
                s["metadata"]["labels"]["owner"] == "helm"
                    && s["metadata"]["labels"]["name"] == "astronomer"
            })
            .count()
    }

    /// Objects the upgrade manifest creates, as `Kind/name`.
    fn upgrade_objects(&self) -> Vec<String> {
        let mut found = Vec::new();
        for (api_version, kind, namespace) in [
            ("v1", "ServiceAccount", Some("default")),
            ("v1", "PersistentVolumeClaim", Some("default")),
            ("batch/v1", "Job", Some("default")),
            ("rbac.authorization.k8s.io/v1", "ClusterRole", None),
            ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", None),
            ("v1", "ConfigMap", Some("default")),
        ] {
            for object in self.sim.objects(api_version, kind, namespace) {
                let name = object["metadata"]["name"].as_str().unwrap_or_default();
                if name.starts_with("astronomer-upgrade")
                    || name.starts_with("astro-upgrade")
                    || name == UPGRADE_JOB
                {
                    found.push(format!("{kind}/{name}"));
                }
            }
        }
        found
    }

    fn job_posts(&self) -> usize {
        self.sim
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path == JOBS_PATH && r.status < 300)
            .count()
    }

    fn changes(&self) -> Vec<String> {
        self.sim
            .requests()
            .iter()
            .filter(|r| {
                matches!(r.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE")
                    && !r.path.contains("selfsubjectaccessreviews")
            })
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }
}

/// `known-crashing=POD` for every pod the bundle shows unhealthy: the person approving the plan
/// has looked at them.
fn known_crashing(bundle: &str) -> Vec<String> {
    let bundle: Value = serde_json::from_str(bundle).expect("bundle JSON");
    bundle["facts"]["pods"]
        .as_array()
        .expect("pods")
        .iter()
        .filter(|p| p["healthy"] == false)
        .map(|p| format!("known-crashing={}", p["name"].as_str().unwrap_or_default()))
        .collect()
}

/// The JSON events of one journal step and event, in order.
fn events_named(run: &Run, step: &str, status: &str) -> Vec<Value> {
    run.events()
        .into_iter()
        .filter(|e| e["step"] == step && e["status"] == status)
        .collect()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("readable")).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_upgrade_ends_on_0_23_deployed() {
    let cluster = Cluster::start("healthy-upgrade-succeeds", 100.0).await;
    let plan = cluster.approved_plan(&[ROLLBACK_ACK]).await;
    let run = cluster.apply(&plan, &["--auto-rollback"]).await;
    assert_eq!(run.code, 0, "{}", run.text());
    assert_eq!(cluster.platform_chart_version(), "0.23.18 deployed");
    let text = run.text();
    assert!(text.contains("probe passed"), "{text}");
    assert!(
        text.contains("TASK [(6/6) Upgrade Astronomer: Helm upgrade - Turn off airflow auto upgrade configuration."),
        "the upgrader's log is streamed: {text}"
    );
    assert!(
        cluster
            .sim
            .object("batch/v1", "Job", Some("default"), "astro-upgrade-probe")
            .is_none(),
        "the probe Job is removed"
    );
    let journal = cluster
        .sim
        .object("v1", "ConfigMap", Some("default"), "astro-upgrade-journal")
        .expect("the journal is mirrored to a ConfigMap");
    let mirrored = journal["data"]["journal.jsonl"]
        .as_str()
        .unwrap_or_default();
    assert!(
        mirrored.contains("\"step\":\"verify\",\"event\":\"passed\""),
        "{mirrored}"
    );
    let local = std::fs::read_to_string(cluster.path("astro-upgrade-journal.jsonl"))
        .expect("the local journal is written in the working directory");
    assert!(local.contains("\"event\":\"upgraded\""), "{local}");
    assert_eq!(
        cluster.job_posts(),
        2,
        "the probe and the upgrade Job, once each"
    );

    let status = cluster.run(&["status"]).await;
    assert_eq!(status.code, 0, "{}", status.text());
    assert!(
        status
            .text()
            .contains("Job default/upgrade-astronomer: complete"),
        "{}",
        status.text()
    );
    assert!(
        status.text().contains("astronomer-0.23.18 deployed"),
        "{}",
        status.text()
    );
    let verify = cluster
        .run(&["verify", "--expect", "0.23", "--settle", "5s"])
        .await;
    assert_eq!(verify.code, 0, "{}", verify.text());
    let wrong = cluster
        .run(&["verify", "--expect", "0.16", "--settle", "1s"])
        .await;
    assert_eq!(wrong.code, 3, "{}", wrong.text());
    assert!(wrong.text().contains("not 0.16.x"), "{}", wrong.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_upgrade_rolls_back_to_0_16_and_exits_5() {
    let cluster = Cluster::start("upgrade-job-fails", 100.0).await;
    let plan = cluster
        .approved_plan(&[HOUSTON_WORKER_CRASHING, ROLLBACK_ACK])
        .await;
    let revisions_before = cluster.platform_revisions();
    let run = cluster
        .apply(&plan, &["--auto-rollback", "-o", "json"])
        .await;
    assert_eq!(run.code, 5, "{}", run.text());
    assert!(
        events_named(&run, "upgrader", "assessed")
            .iter()
            .any(|e| e["phase"] == "changes-platform"
                && e["backup"] == "proven"
                && e["platform_changed"] == "yes"),
        "the log proves the point of no return passed with a finished backup: {}",
        run.stdout
    );
    assert_eq!(
        cluster.platform_revisions(),
        revisions_before + 2,
        "the failed 0.23 revision the upgrader left, then the rollback's 0.16 revision"
    );
    let events = run.events();
    assert_eq!(
        events.len(),
        run.stdout.lines().count(),
        "with -o json every stdout line is one JSON event: {}",
        run.stdout
    );
    assert!(
        events.iter().any(|e| e["event"] == "job-failed"
            && e["job"] == UPGRADE_JOB
            && e["last_step"]
                .as_str()
                .is_some_and(|s| s.starts_with("(2/6)"))),
        "the failure names the upgrader's step: {}",
        run.stdout
    );
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "log"
                && e["line"].as_str().is_some_and(|l| l.contains("FAILED!"))),
        "the fatal log line is shown"
    );
    assert_eq!(cluster.platform_chart_version(), "0.16.9 deployed");
    assert!(
        cluster
            .sim
            .object(
                "v1",
                "PersistentVolumeClaim",
                Some("default"),
                "astronomer-upgrades-backup"
            )
            .is_some(),
        "the backup PVC is kept"
    );
    assert!(
        cluster
            .sim
            .object(
                "v1",
                "ServiceAccount",
                Some("default"),
                "astronomer-upgrader-service-account"
            )
            .is_some(),
        "the upgrader's ServiceAccount is kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_pull_failure_is_reported_by_name_within_two_simulated_seconds() {
    let time_scale = 2.0;
    let cluster = Cluster::start("image-pull-fails", time_scale).await;
    let plan = cluster.approved_plan(&[]).await;
    let args = cluster.apply_args(&plan, &["-o", "json"]);
    let mut child = cluster
        .command(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .spawn()
        .expect("astro-upgrade starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();

    // The pod shows ErrImagePull `pending_s + creating_s` simulated seconds after it is created
    // (the scenario's script); the pod lives at least that long, so its creation is never missed.
    let script = Scenario::from_file(&workspace_file("scenarios/image-pull-fails.yaml"))
        .expect("the scenario reads")
        .upgrade
        .expect("an upgrade script");
    let failing_after =
        Duration::from_secs_f64((script.pending_s + script.creating_s) / time_scale);
    let pod_created = async {
        loop {
            let created = cluster
                .sim
                .objects("v1", "Pod", Some("default"))
                .into_iter()
                .any(|pod| pod["metadata"]["labels"]["job-name"] == UPGRADE_JOB);
            if created {
                return Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let reported = async {
        while let Some(line) = lines.next_line().await.expect("stdout reads") {
            let event: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
            if event["event"] == "job-failed" && event["failure"] == "image-pull" {
                return (Instant::now(), event);
            }
        }
        panic!("astro-upgrade ended without reporting the image pull failure");
    };
    let (created, (reported_at, event)) = tokio::time::timeout(Duration::from_secs(90), async {
        tokio::join!(pod_created, reported)
    })
    .await
    .expect("the failure is reported");
    let since_created = reported_at.saturating_duration_since(created);
    // The poller sees the pod up to one poll (and a loaded machine's scheduling) late.
    assert!(
        since_created + Duration::from_millis(250) >= failing_after,
        "reported {since_created:?} after the pod's creation, before it could show ErrImagePull ({failing_after:?})"
    );
    let simulated = since_created
        .saturating_sub(failing_after)
        .mul_f64(time_scale);
    assert!(
        simulated < Duration::from_secs(2),
        "reported {simulated:?} (simulated) after the pod showed ErrImagePull"
    );
    let message = event["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("ErrImagePull"),
        "names the state: {message}"
    );
    assert!(
        message.contains("upgrade-astronomer-"),
        "names the pod: {message}"
    );
    assert!(
        message.contains("quay.io/astronomer/lts-016-023-upgrade:latest"),
        "names the image: {message}"
    );
    let status = child.wait().await.expect("astro-upgrade ends");
    assert_eq!(
        status.code(),
        Some(7),
        "the platform was not touched; a person must fix the image source"
    );
    assert!(
        cluster
            .sim
            .object("batch/v1", "Job", Some("default"), UPGRADE_JOB)
            .is_none_or(|job| !job["metadata"]["deletionTimestamp"].is_null()),
        "the upgrade Job that never ran is deleted, so a fixed re-run starts clean"
    );
    assert!(
        cluster
            .sim
            .object("batch/v1", "Job", Some("default"), "rollback-astronomer")
            .is_none(),
        "nothing ran, so nothing is rolled back (it would restore an older backup)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_outage_mid_watch_is_survived_and_nothing_is_applied_twice() {
    // The scenario's API server answers 503 for 90 simulated seconds. Here the window opens 5 s
    // after the Job's creation, so the pod turns Running inside it, and every watch stream ends
    // after one event (as streams do when an API server restarts): astro-upgrade's reconnections
    // and its log stream fall into the outage and must back off, resume from the last
    // resourceVersion and still follow the Job to its completion about 600 s later.
    let cluster = Cluster::start_with("api-outage-mid-upgrade", 40.0, |scenario| {
        scenario.faults.watch_cut_after_events = Some(1);
        let outage = scenario
            .faults
            .api_unavailable
            .as_mut()
            .expect("the scenario has an outage");
        outage.from_s = 5.0;
    })
    .await;
    let plan = cluster.approved_plan(&[ROLLBACK_ACK]).await;
    let run = cluster.apply(&plan, &["--auto-rollback"]).await;
    assert_eq!(run.code, 0, "{}", run.text());
    let requests = cluster.sim.requests();
    let shown = || {
        requests
            .iter()
            .map(|r| format!("{} {} {} {}", r.method, r.path, r.query, r.status))
            .collect::<Vec<_>>()
    };
    let first_outage = requests
        .iter()
        .position(|r| r.status == 503)
        .unwrap_or_else(|| {
            panic!(
                "the outage happened while astro-upgrade was watching: {:#?}",
                shown()
            )
        });
    let resumed = requests[first_outage..].iter().any(|r| {
        r.watch && r.status == 200 && r.path == JOBS_PATH && r.query.contains("resourceVersion=")
    });
    assert!(
        resumed,
        "the Job watch resumed after the outage: {:#?}",
        shown()
    );
    assert_eq!(cluster.platform_chart_version(), "0.23.18 deployed");
    assert_eq!(
        cluster.job_posts(),
        2,
        "the probe and the upgrade Job, once each"
    );
    let created: Vec<&str> = requests
        .iter()
        .filter(|r| r.method == "POST" && r.status < 300 && !r.path.contains("accessreviews"))
        .map(|r| r.path.as_str())
        .collect();
    let mut unique = created.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        created.len() - 1,
        unique.len(),
        "only the jobs path is posted twice (probe, then upgrade): {created:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_mid_upgrade_reattaches_from_the_journal() {
    let cluster = Cluster::start("healthy-upgrade-succeeds", 20.0).await;
    let plan = cluster.approved_plan(&[]).await;
    let args = cluster.apply_args(&plan, &[]);
    let mut child = cluster
        .command(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .spawn()
        .expect("astro-upgrade starts");
    tokio::time::timeout(Duration::from_secs(60), async {
        while cluster
            .sim
            .object("batch/v1", "Job", Some("default"), UPGRADE_JOB)
            .is_none()
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the upgrade Job is created");
    child.kill().await.expect("the first run is killed");
    let uid = cluster
        .sim
        .object("batch/v1", "Job", Some("default"), UPGRADE_JOB)
        .expect("Job")["metadata"]["uid"]
        .clone();
    let posts = cluster.job_posts();

    let run = cluster.apply(&plan, &[]).await;
    assert_eq!(run.code, 0, "{}", run.text());
    assert!(run.text().contains("already running"), "{}", run.text());
    assert_eq!(cluster.job_posts(), posts, "the re-run creates no Job");
    assert_eq!(
        cluster
            .sim
            .object("batch/v1", "Job", Some("default"), UPGRADE_JOB)
            .expect("Job")["metadata"]["uid"],
        uid
    );
    assert_eq!(cluster.platform_chart_version(), "0.23.18 deployed");

    let again = cluster.apply(&plan, &[]).await;
    assert_eq!(again.code, 0, "{}", again.text());
    assert!(
        again.text().contains("is not re-created"),
        "{}",
        again.text()
    );
    assert_eq!(
        cluster.job_posts(),
        posts,
        "a finished Job is never silently re-created"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_no_go_and_drifted_plans_are_refused_with_nothing_changed() {
    let cluster = Cluster::start("healthy-upgrade-succeeds", 100.0).await;
    let bundle = cluster.collect().await;

    let plan = cluster.write_plan(&bundle, &[]);
    let mut tampered = read_json(&plan);
    tampered["findings"][0]["message"] = "all good, trust me".into();
    std::fs::write(&plan, tampered.to_string()).expect("written");
    let run = cluster.apply(&plan, &[]).await;
    assert_eq!(run.code, 3, "{}", run.text());
    assert!(run.text().contains("digest"), "{}", run.text());

    let mut no_go: Value = serde_json::from_str(&bundle).expect("bundle JSON");
    no_go["facts"]["pods"][0]["status"] = "CrashLoopBackOff".into();
    no_go["facts"]["pods"][0]["healthy"] = false.into();
    let plan = cluster.write_plan(&no_go.to_string(), &[]);
    assert_eq!(read_json(&plan)["verdict"], "NO-GO");
    let run = cluster.apply(&plan, &[]).await;
    assert_eq!(run.code, 3, "{}", run.text());
    assert!(run.text().contains("not GO"), "{}", run.text());

    let mut drifted: Value = serde_json::from_str(&bundle).expect("bundle JSON");
    drifted["facts"]["kubernetes"]["server_version"] = "1.16.13-eks-2ba888".into();
    let plan = cluster.write_plan(&drifted.to_string(), &[]);
    assert_eq!(read_json(&plan)["verdict"], "GO");
    let run = cluster.apply(&plan, &[]).await;
    assert_eq!(run.code, 3, "{}", run.text());
    assert!(
        run.text().contains("Kubernetes server version was `1.16.13-eks-2ba888` in the plan and is `1.16.15-eks-ad4801` now"),
        "the drift is named: {}",
        run.text()
    );

    assert_eq!(cluster.upgrade_objects(), Vec::<String>::new());
    assert_eq!(
        cluster.changes(),
        Vec::<String>::new(),
        "no write reached the cluster"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_rights_are_refused_before_any_change() {
    let cluster = Cluster::start("missing-rights", 100.0).await;
    let bundle = cluster.collect().await;
    let mut granted: Value = serde_json::from_str(&bundle).expect("bundle JSON");
    // The plan was approved while the rights were still granted.
    for permission in granted["facts"]["permissions"]
        .as_array_mut()
        .expect("permissions")
    {
        permission["allowed"] = true.into();
    }
    let evicted = granted["facts"]["pods"]
        .as_array()
        .expect("pods")
        .iter()
        .find(|p| p["healthy"] == false)
        .and_then(|p| p["name"].as_str())
        .expect("the scenario has an evicted pod")
        .to_string();
    let plan = cluster.write_plan(
        &granted.to_string(),
        &[&format!("known-crashing={evicted}")],
    );
    assert_eq!(read_json(&plan)["verdict"], "GO");
    let run = cluster.apply(&plan, &[]).await;
    assert_eq!(run.code, 3, "{}", run.text());
    assert!(
        run.text().contains("create clusterroles (cluster-wide)")
            && run
                .text()
                .contains("create clusterrolebindings (cluster-wide)"),
        "{}",
        run.text()
    );
    assert_eq!(cluster.upgrade_objects(), Vec::<String>::new());
    assert_eq!(cluster.changes(), Vec::<String>::new());
}

/// `create clusterroles` yes but `*` on `*` no: `check` on the live cluster is NO-GO on
/// `permissions` alone, naming cluster-admin, and `apply` of a plan approved earlier refuses
/// before any change (kubectl apply would stop at the ClusterRole: RBAC escalation prevention).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_who_may_not_escalate_is_refused_before_any_change() {
    let cluster = Cluster::start("rbac-no-escalate", 100.0).await;
    let bundle = cluster.collect().await;
    let facts: Value = serde_json::from_str(&bundle).expect("bundle JSON");
    let everything = facts["facts"]["permissions"]
        .as_array()
        .expect("permissions")
        .iter()
        .find(|p| p["verb"] == "*" && p["resource"] == "*")
        .expect("collect asked for `*` on `*`")
        .clone();
    assert_eq!(everything["allowed"], false, "{everything}");
    assert_eq!(everything["all_namespaces"], true, "{everything}");
    let denied: Vec<&Value> = facts["facts"]["permissions"]
        .as_array()
        .expect("permissions")
        .iter()
        .filter(|p| p["allowed"] == false)
        .collect();
    assert_eq!(denied.len(), 1, "only `*` on `*` is denied: {denied:?}");

    let mut granted = facts.clone();
    for permission in granted["facts"]["permissions"]
        .as_array_mut()
        .expect("permissions")
    {
        permission["allowed"] = true.into();
    }
    let evicted = known_crashing(&bundle);
    let evicted: Vec<&str> = evicted.iter().map(String::as_str).collect();
    let plan = read_json(&cluster.write_plan(&bundle, &evicted));
    assert_eq!(plan["verdict"], "NO-GO");
    let permissions = plan["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["check"] == "permissions")
        .expect("a permissions finding");
    assert_eq!(permissions["status"], "fail", "{permissions}");
    assert!(
        permissions["remedy"]
            .as_str()
            .is_some_and(|r| r.contains("cluster-admin")
                && r.contains("attempting to grant RBAC permissions not currently held")),
        "{permissions}"
    );

    // The plan was approved while the right was still held.
    let plan = cluster.write_plan(&granted.to_string(), &evicted);
    assert_eq!(read_json(&plan)["verdict"], "GO");
    let run = cluster.apply(&plan, &[]).await;
    assert_eq!(run.code, 3, "{}", run.text());
    assert!(run.text().contains("* * (cluster-wide)"), "{}", run.text());
    assert_eq!(cluster.upgrade_objects(), Vec::<String>::new());
    assert_eq!(cluster.changes(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_rollback_exits_6_with_the_next_manual_steps() {
    let cluster = Cluster::start("rollback-fails", 100.0).await;
    let bundle = cluster.collect().await;
    let acks = known_crashing(&bundle);
    let acks: Vec<&str> = acks.iter().map(String::as_str).collect();
    let plan = cluster.write_plan(&bundle, &[acks.as_slice(), &[ROLLBACK_ACK]].concat());
    assert_eq!(read_json(&plan)["verdict"], "GO");
    let run = cluster.apply(&plan, &["--auto-rollback"]).await;
    assert_eq!(run.code, 6, "{}", run.text());
    let text = run.text();
    assert!(text.contains("ROLLBACK FAILED"), "{text}");
    assert!(
        text.contains("kubectl logs -n default job/rollback-astronomer"),
        "{text}"
    );
    assert!(
        text.contains("helm history astronomer -n astronomer"),
        "{text}"
    );
    assert!(
        text.contains("astro-upgrade rollback --rollback-manifest"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_that_never_binds_stops_at_the_probe() {
    let cluster = Cluster::start("pvc-never-binds", 100.0).await;
    let bundle = cluster.collect().await;
    let acks = known_crashing(&bundle);
    let plan = cluster.write_plan(
        &bundle,
        &acks.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(read_json(&plan)["verdict"], "GO");
    let run = cluster.apply(&plan, &["--bind-timeout", "2s"]).await;
    assert_eq!(
        run.code,
        7,
        "nothing changed on the platform: {}",
        run.text()
    );
    assert!(run.text().contains("probe failed"), "{}", run.text());
    assert!(
        run.text().contains("astronomer-upgrades-backup"),
        "{}",
        run.text()
    );
    assert!(
        cluster
            .sim
            .object("batch/v1", "Job", Some("default"), UPGRADE_JOB)
            .is_none(),
        "the upgrade Job is never created"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_on_a_large_cluster_lists_and_watches_each_kind_once() {
    let cluster = Cluster::start_with("healthy-upgrade-succeeds", 100.0, |scenario| {
        scenario.generate = Some(kube_sim::scenario::GenerateSpec {
            pods: vec![kube_sim::scenario::GeneratedPods {
                namespace: "astronomer-quasaric-sun-9051".into(),
                name_prefix: "quasaric-sun-9051-worker".into(),
                count: 5000,
                image: "quay.io/astronomer/ap-airflow:1.10.12-1-buster-onbuild".into(),
                labels: Default::default(),
                crash_every: 0,
            }],
        });
    })
    .await;
    let plan = cluster.approved_plan(&[]).await;
    let before = cluster.sim.requests().len();
    let run = cluster.apply(&plan, &[]).await;
    assert_eq!(run.code, 0, "{}", run.text());

    let mut per_kind: std::collections::BTreeMap<String, (usize, usize, usize)> =
        Default::default();
    for request in &cluster.sim.requests()[before..] {
        let is_collection = request.watch || request.query.contains("limit=");
        if request.method != "GET" || !is_collection {
            continue;
        }
        let kind = request
            .path
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let counts = per_kind.entry(kind).or_default();
        if request.watch {
            counts.1 += 1;
        } else if request.query.contains("continue=") {
            counts.2 += 1;
        } else {
            counts.0 += 1;
        }
    }
    eprintln!("during apply, per kind (lists, watches, further pages): {per_kind:?}");
    for kind in ["pods", "jobs", "persistentvolumeclaims", "secrets"] {
        assert!(
            per_kind.contains_key(kind),
            "apply watches {kind}: {per_kind:?}"
        );
    }
    for (kind, (lists, watches, _pages)) in &per_kind {
        assert_eq!(
            (*lists, *watches),
            (1, 1),
            "{kind}: one list and one watch during apply: {per_kind:?}"
        );
    }
    assert!(
        per_kind
            .get("pods")
            .is_some_and(|(_, _, pages)| *pages >= 10),
        "the 5,000 pods are listed in pages of 500: {per_kind:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_auto_rollback_a_failure_names_the_rollback_command_which_then_works() {
    let cluster = Cluster::start("upgrade-job-fails", 100.0).await;
    let plan = cluster
        .approved_plan(&["known-crashing=astronomer-houston-worker-5c8d9f7b6-qk2zt"])
        .await;
    let run = cluster.apply(&plan, &[]).await;
    assert_eq!(run.code, 6, "{}", run.text());
    assert!(
        run.text()
            .contains("astro-upgrade rollback --rollback-manifest"),
        "{}",
        run.text()
    );
    let revisions_before = cluster.platform_revisions();

    let manifest = workspace_file("manifests/rollback-0.16-to-0.23.yaml");
    let rollback = cluster
        .run(&[
            "rollback",
            "--rollback-manifest",
            manifest.to_str().expect("utf-8 path"),
            "--yes",
            "--settle",
            "20s",
        ])
        .await;
    assert_eq!(rollback.code, 0, "{}", rollback.text());
    assert_eq!(cluster.platform_chart_version(), "0.16.9 deployed");
    assert_eq!(
        cluster.platform_revisions(),
        revisions_before + 1,
        "the rollback wrote the platform's new revision"
    );
    let job = cluster
        .sim
        .object("batch/v1", "Job", Some("default"), "rollback-astronomer")
        .expect("the rollback Job was created");
    assert_eq!(job["status"]["conditions"][0]["type"], "Complete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_watching_and_leaves_the_job_running() {
    let cluster = Cluster::start("healthy-upgrade-succeeds", 10.0).await;
    let plan = cluster.approved_plan(&[]).await;
    let args = cluster.apply_args(&plan, &[]);
    let child = cluster
        .command(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .spawn()
        .expect("astro-upgrade starts");
    tokio::time::timeout(Duration::from_secs(60), async {
        while cluster
            .sim
            .object("batch/v1", "Job", Some("default"), UPGRADE_JOB)
            .is_none()
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the upgrade Job is created");
    let pid = child.id().expect("the child runs").to_string();
    let signal = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill runs");
    assert!(signal.success());
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("astro-upgrade stops after Ctrl-C")
        .expect("its output is read");
    let text = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(6), "{text}");
    assert!(text.contains("keeps running in the cluster"), "{text}");
    let job = cluster
        .sim
        .object("batch/v1", "Job", Some("default"), UPGRADE_JOB)
        .expect("the Job is left alone");
    assert!(job["metadata"]["deletionTimestamp"].is_null());
    let journal = std::fs::read_to_string(cluster.path("astro-upgrade-journal.jsonl"))
        .expect("the journal is written");
    assert!(journal.contains("\"event\":\"interrupted\""), "{journal}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_persists_nothing() {
    let cluster = Cluster::start("healthy-upgrade-succeeds", 100.0).await;
    let plan = cluster.approved_plan(&[]).await;
    let run = cluster.apply(&plan, &["--dry-run"]).await;
    assert_eq!(run.code, 0, "{}", run.text());
    assert!(
        run.text().contains("nothing was persisted"),
        "{}",
        run.text()
    );
    assert_eq!(cluster.upgrade_objects(), Vec::<String>::new());
    let writes: Vec<_> = cluster
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && !r.path.contains("accessreviews"))
        .collect();
    assert!(
        writes.iter().all(|r| r.query.contains("dryRun=All")),
        "every write is a dry run: {writes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_terminal_only_yes_confirms() {
    let cluster = Cluster::start("healthy-upgrade-succeeds", 100.0).await;
    let plan = cluster.approved_plan(&[]).await;
    let args: Vec<String> = cluster
        .apply_args(&plan, &[])
        .into_iter()
        .filter(|a| a != "--yes")
        .collect();
    let run = cluster
        .run(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    assert_eq!(run.code, 3, "{}", run.text());
    assert!(run.text().contains("pass --yes"), "{}", run.text());
    assert_eq!(cluster.upgrade_objects(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_mirror_that_fails_is_said_and_does_not_stop_the_upgrade() {
    let cluster = Cluster::start_with("healthy-upgrade-succeeds", 100.0, |scenario| {
        for method in ["POST", "PATCH"] {
            scenario
                .faults
                .requests
                .push(kube_sim::scenario::RequestFault {
                    when: kube_sim::scenario::RequestMatch {
                        method: Some(method.into()),
                        path_prefix: Some("/api/v1/namespaces/default/configmaps".into()),
                        after_requests: 0,
                        count: None,
                    },
                    respond: 403,
                });
        }
    })
    .await;
    let plan = cluster.approved_plan(&[]).await;
    let run = cluster.apply(&plan, &[]).await;
    assert_eq!(run.code, 0, "{}", run.text());
    assert_eq!(
        run.text().matches("cannot mirror the journal").count(),
        1,
        "said once: {}",
        run.text()
    );
    assert_eq!(cluster.platform_chart_version(), "0.23.18 deployed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collect_reads_the_evidence_and_keeps_no_secret() {
    let cluster = Cluster::start("healthy-upgrade-succeeds", 100.0).await;
    let text = cluster.collect().await;
    assert!(
        !text.contains("s3cr3t-pw"),
        "the bootstrap password is dropped"
    );
    let bundle: Value = serde_json::from_str(&text).expect("bundle JSON");
    // The user the upgrader will log in as is reported (its playbook prints it too); only
    // the password is never kept.
    assert_eq!(
        bundle["facts"]["database_connection"]["upgrader"]["user"],
        "astro_admin"
    );
    assert_eq!(
        text.matches("astro_admin").count(),
        1,
        "the user appears once, as the upgrader's login: {text}"
    );
    assert_eq!(bundle["astro_upgrade_bundle"], 1);
    assert_eq!(bundle["context"], "kube-sim");
    let facts = &bundle["facts"];
    assert_eq!(facts["kubernetes"]["server_version"], "1.16.15-eks-ad4801");
    let pods = cluster.sim.objects("v1", "Pod", None).len();
    assert_eq!(facts["pods"].as_array().map(Vec::len), Some(pods));
    let permissions = facts["permissions"].as_array().expect("permissions");
    assert_eq!(permissions.len(), 9, "eight create rights and '*' on '*'");
    assert!(permissions.iter().all(|p| p["allowed"] == true));
    let platform = facts["helm_releases"]
        .as_array()
        .expect("releases")
        .iter()
        .find(|r| r["name"] == "astronomer")
        .expect("the platform release");
    assert_eq!(platform["chart_version"], "0.16.9");
    assert_eq!(platform["status"], "deployed");
    assert_eq!(platform["revision"], 4);
    let history = facts["helm_history"].as_array().expect("history");
    assert_eq!(
        history
            .iter()
            .filter(|r| r["release"] == "astronomer")
            .count(),
        4,
        "every stored revision"
    );
    assert_eq!(
        facts["database_connection"]["host"],
        "astro-db.cluster-abc.us-east-1.rds.amazonaws.com"
    );
    assert_eq!(facts["database_connection"]["has_port"], true);
    assert_eq!(facts["storage_classes"][0]["default"], true);
    assert_eq!(facts["upgrade_resources"]["service_account"], false);
    assert!(facts["images"]
        .as_array()
        .expect("images")
        .iter()
        .any(|i| i["certified"]["airflow_version"] == "1.10.12"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_job_is_reported_and_only_rerun_recreates_it() {
    // An early failure (the database cannot be reached): the fix is outside the cluster, and
    // `--rerun` is how the upgrade starts again.
    let cluster = Cluster::start("upgrade-fails-db-unreachable", 100.0).await;
    let plan = cluster.approved_plan(&[HOUSTON_WORKER_CRASHING]).await;
    let first = cluster.apply(&plan, &[]).await;
    assert_eq!(first.code, 7, "{}", first.text());
    let uid = |cluster: &Cluster| {
        cluster
            .sim
            .object("batch/v1", "Job", Some("default"), UPGRADE_JOB)
            .expect("the failed Job is kept for its logs")["metadata"]["uid"]
            .clone()
    };
    let failed_uid = uid(&cluster);
    let posts = cluster.job_posts();

    let again = cluster.apply(&plan, &[]).await;
    assert_eq!(
        again.code,
        7,
        "the found Job's log still shows nothing changed: {}",
        again.text()
    );
    assert!(
        again.text().contains("already exists and has failed"),
        "{}",
        again.text()
    );
    assert!(
        again.text().contains("THE PLATFORM WAS NOT CHANGED"),
        "{}",
        again.text()
    );
    assert_eq!(cluster.job_posts(), posts, "reported, not re-created");

    let rerun = cluster.apply(&plan, &["--rerun"]).await;
    assert_eq!(
        rerun.code,
        7,
        "the scripted upgrade fails again: {}",
        rerun.text()
    );
    assert!(
        rerun.text().contains("--rerun: deleting the finished Job"),
        "{}",
        rerun.text()
    );
    assert_eq!(
        cluster.job_posts(),
        posts + 2,
        "a new probe and a new upgrade Job"
    );
    assert_ne!(uid(&cluster), failed_uid, "the Job was re-created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_never_cuts_off_a_running_rollback() {
    let cluster = Cluster::start("upgrade-job-fails", 40.0).await;
    let plan = cluster
        .approved_plan(&[HOUSTON_WORKER_CRASHING, ROLLBACK_ACK])
        .await;
    let args = cluster.apply_args(&plan, &["--auto-rollback"]);
    let child = cluster
        .command(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .spawn()
        .expect("astro-upgrade starts");
    tokio::time::timeout(Duration::from_secs(60), async {
        while cluster
            .sim
            .object("batch/v1", "Job", Some("default"), "rollback-astronomer")
            .is_none()
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the rollback Job is created");
    let pid = child.id().expect("the child runs").to_string();
    let signal = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill runs");
    assert!(signal.success());
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("astro-upgrade finishes the rollback")
        .expect("its output is read");
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(text.contains("Ctrl-C ignored"), "{text}");
    assert_eq!(output.status.code(), Some(5), "{text}");
    assert_eq!(cluster.platform_chart_version(), "0.16.9 deployed");
}

/// What a run against one of the early-failure scenarios must show: exit 7, the failing task, its
/// message and fix, no rollback Job ever, the platform as it was, the failed Job kept.
async fn an_early_failure_changes_nothing(scenario: &str, task: &str, phase: &str, words: &[&str]) {
    let cluster = Cluster::start(scenario, 100.0).await;
    let plan = cluster
        .approved_plan(&[HOUSTON_WORKER_CRASHING, ROLLBACK_ACK])
        .await;
    let before = cluster.platform_chart_version();
    let revisions = cluster.platform_revisions();
    let run = cluster.apply(&plan, &["--auto-rollback"]).await;
    let text = run.text();
    assert_eq!(run.code, 7, "{scenario}: {text}");
    assert!(text.contains(&format!("failed at task `{task}`")), "{text}");
    assert!(text.contains("THE PLATFORM WAS NOT CHANGED"), "{text}");
    for word in words {
        assert!(
            text.contains(word),
            "{scenario}: missing {word:?} in {text}"
        );
    }
    assert!(
        text.contains("likely cause:") && text.contains("fix:"),
        "{text}"
    );
    assert!(
        text.contains("--auto-rollback --rerun"),
        "how to re-run: {text}"
    );
    assert_eq!(
        cluster.job_posts(),
        2,
        "the probe and the upgrade Job only: no rollback Job was ever created"
    );
    assert!(cluster
        .sim
        .object("batch/v1", "Job", Some("default"), ROLLBACK_JOB)
        .is_none());
    assert_eq!(cluster.platform_chart_version(), before, "{scenario}");
    assert_eq!(cluster.platform_revisions(), revisions, "{scenario}");
    let job = cluster
        .sim
        .object("batch/v1", "Job", Some("default"), UPGRADE_JOB)
        .expect("the failed Job is kept for its log");
    assert_eq!(job["status"]["conditions"][0]["type"], "Failed");
    let journal = std::fs::read_to_string(cluster.path("astro-upgrade-journal.jsonl"))
        .expect("the journal is written");
    let assessed: Value = journal
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["step"] == "upgrader" && e["event"] == "assessed")
        .expect("the journal records the upgrader's phase");
    assert_eq!(assessed["detail"]["phase"], phase, "{journal}");
    assert_eq!(assessed["detail"]["failed_task"], task, "{journal}");
    assert_eq!(assessed["detail"]["platform_changed"], "no", "{journal}");
    assert!(
        journal.contains("\"event\":\"faileduntouched\""),
        "{journal}"
    );

    // `status` tells a person at 3 a.m. that nothing changed.
    let status = cluster.run(&["status"]).await;
    assert!(
        status.text().contains("platform changed: no"),
        "{}",
        status.text()
    );
    // A rollback now would only destroy: it is refused, and nothing is created.
    cluster
        .rollback_is_refused("never passed the point of no return")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_cannot_be_reached_fails_read_only_and_exits_7() {
    an_early_failure_changes_nothing(
        "upgrade-fails-db-unreachable",
        "Check that we can connect to the database",
        "read-only",
        &["unable to connect to database", "pg_isready"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_in_the_database_dump_fails_in_the_backup_and_exits_7() {
    an_early_failure_changes_nothing(
        "upgrade-fails-backup-disk-full",
        "Backup Astronomer database",
        "backup",
        &["No space left on device", "PVC"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_helm_repository_fails_in_the_backup_and_exits_7() {
    an_early_failure_changes_nothing(
        "upgrade-fails-helm-repo-unreachable",
        "Add public helm repo",
        "backup",
        &["helm.astronomer.io", "egress"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_this_tool_does_not_know_is_handed_to_a_person_without_a_rollback() {
    let cluster = Cluster::start("upgrade-fails-unknown-task", 100.0).await;
    let plan = cluster
        .approved_plan(&[HOUSTON_WORKER_CRASHING, ROLLBACK_ACK])
        .await;
    let run = cluster
        .apply(&plan, &["--auto-rollback", "-o", "json"])
        .await;
    assert_eq!(run.code, 6, "{}", run.text());
    let handed = events_named(&run, "upgrade-job", "handed-off");
    assert_eq!(handed.len(), 1, "{}", run.stdout);
    assert_eq!(handed[0]["reason"], "unknown-task");
    let assessed = events_named(&run, "upgrader", "assessed");
    assert_eq!(assessed[0]["platform_changed"], "unknown", "{}", run.stdout);
    assert_eq!(
        assessed[0]["unknown_task"], "Check Airflow chart compatibility",
        "{}",
        run.stdout
    );
    assert!(cluster
        .sim
        .object("batch/v1", "Job", Some("default"), ROLLBACK_JOB)
        .is_none());
    assert_eq!(cluster.platform_chart_version(), "0.16.9 deployed");

    // The rollback runs as the upgrader's ServiceAccount: without it, it is refused up front.
    cluster
        .delete("/api/v1/namespaces/default/serviceaccounts/astronomer-upgrader-service-account")
        .await;
    cluster
        .rollback_is_refused("ServiceAccount default/astronomer-upgrader-service-account")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_point_of_no_return_without_a_proven_backup_nothing_is_rolled_back() {
    let cluster = Cluster::start("upgrade-fails-backup-unproven", 100.0).await;
    let plan = cluster
        .approved_plan(&[HOUSTON_WORKER_CRASHING, ROLLBACK_ACK])
        .await;
    let run = cluster.apply(&plan, &["--auto-rollback"]).await;
    assert_eq!(run.code, 6, "{}", run.text());
    let text = run.text();
    assert!(text.contains("NOT ROLLED BACK"), "{text}");
    assert!(
        text.contains("did not finish"),
        "the backup's state is named: {text}"
    );
    assert!(
        text.contains("helm history astronomer -n astronomer"),
        "{text}"
    );
    assert!(
        text.contains("astro-upgrade rollback --rollback-manifest"),
        "{text}"
    );
    assert!(cluster
        .sim
        .object("batch/v1", "Job", Some("default"), ROLLBACK_JOB)
        .is_none());
    assert!(
        cluster.platform_chart_version().ends_with("failed"),
        "the half-upgraded platform is left as it is: {}",
        cluster.platform_chart_version()
    );

    // Without its backup PVC a rollback is refused before any change.
    cluster
        .delete("/api/v1/namespaces/default/persistentvolumeclaims/astronomer-upgrades-backup")
        .await;
    cluster
        .rollback_is_refused("astronomer-upgrades-backup")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_point_of_no_return_with_a_finished_backup_the_rollback_restores_0_16() {
    let cluster = Cluster::start("upgrade-fails-after-backup", 100.0).await;
    let plan = cluster
        .approved_plan(&[HOUSTON_WORKER_CRASHING, ROLLBACK_ACK])
        .await;
    let run = cluster.apply(&plan, &["--auto-rollback"]).await;
    assert_eq!(run.code, 5, "{}", run.text());
    assert!(cluster
        .sim
        .object("batch/v1", "Job", Some("default"), ROLLBACK_JOB)
        .is_some());
    assert_eq!(cluster.platform_chart_version(), "0.16.9 deployed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_rollback_without_the_acknowledgement_is_refused_before_any_change() {
    let cluster = Cluster::start("healthy-upgrade-succeeds", 100.0).await;
    let plan = cluster.approved_plan(&[]).await;
    let run = cluster.apply(&plan, &["--auto-rollback"]).await;
    assert_eq!(run.code, 2, "{}", run.text());
    assert!(run.text().contains("rollback-data-loss"), "{}", run.text());
    assert!(cluster.changes().is_empty(), "{:?}", cluster.changes());
    let no_manifest = cluster
        .run(&[
            "apply",
            "--plan",
            plan.to_str().expect("utf-8 path"),
            "--manifest",
            workspace_file("manifests/upgrade-0.16-to-0.23.yaml")
                .to_str()
                .expect("utf-8 path"),
            "--auto-rollback",
            "--yes",
        ])
        .await;
    assert_eq!(no_manifest.code, 2, "{}", no_manifest.text());
    assert!(no_manifest.text().contains("--rollback-manifest"));
    assert!(cluster.changes().is_empty());
}

/// upgrade-fails-after-backup, but the play ends well and leaves the platform release `failed`.
async fn completes_but_leaves_the_release_failed() -> Cluster {
    Cluster::start_with("upgrade-fails-after-backup", 100.0, |scenario| {
        let upgrade = scenario.upgrade.as_mut().expect("an upgrade script");
        for task in &mut upgrade.tasks {
            if task.result == kube_sim::scenario::TaskResult::Fatal {
                task.result = kube_sim::scenario::TaskResult::Changed;
            }
        }
        upgrade.on_success = upgrade.on_failure.take();
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verification_that_fails_after_the_job_completed_rolls_back_with_a_proven_backup() {
    // The upgrader ends well, but leaves the platform release `failed`: verification fails
    // after the Job completed, past the point of no return, with this run's dump finished.
    let cluster = completes_but_leaves_the_release_failed().await;
    let plan = cluster
        .approved_plan(&[HOUSTON_WORKER_CRASHING, ROLLBACK_ACK])
        .await;
    let run = cluster
        .apply(&plan, &["--auto-rollback", "--settle", "2s", "-o", "json"])
        .await;
    assert_eq!(run.code, 5, "{}", run.text());
    assert_eq!(
        events_named(&run, "verify", "failed").len(),
        1,
        "{}",
        run.stdout
    );
    let job = cluster
        .sim
        .object("batch/v1", "Job", Some("default"), UPGRADE_JOB)
        .expect("the upgrade Job");
    assert_eq!(job["status"]["conditions"][0]["type"], "Complete");
    assert!(cluster
        .sim
        .object("batch/v1", "Job", Some("default"), ROLLBACK_JOB)
        .is_some());
    assert_eq!(cluster.platform_chart_version(), "0.16.9 deployed");

    // Without the automatic rollback, the same failure is handed to a person.
    let cluster = completes_but_leaves_the_release_failed().await;
    let plan = cluster.approved_plan(&[HOUSTON_WORKER_CRASHING]).await;
    let run = cluster.apply(&plan, &["--settle", "2s"]).await;
    assert_eq!(run.code, 6, "{}", run.text());
    assert!(run.text().contains("NOT ROLLED BACK"), "{}", run.text());
    assert!(cluster
        .sim
        .object("batch/v1", "Job", Some("default"), ROLLBACK_JOB)
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probes_own_image_pull_failure_stops_before_the_upgrade_job() {
    let cluster = Cluster::start_with("healthy-upgrade-succeeds", 100.0, |scenario| {
        scenario.other_jobs =
            Some(serde_norway::from_str("image_pull_fails: true").expect("a job script"));
    })
    .await;
    let plan = cluster.approved_plan(&[]).await;
    let run = cluster.apply(&plan, &[]).await;
    assert_eq!(run.code, 7, "{}", run.text());
    let text = run.text();
    assert!(text.contains("probe failed"), "{text}");
    assert!(text.contains("cannot pull image"), "{text}");
    assert!(
        cluster
            .sim
            .object("batch/v1", "Job", Some("default"), UPGRADE_JOB)
            .is_none(),
        "the upgrade Job is never created"
    );
    assert_eq!(cluster.platform_chart_version(), "0.16.9 deployed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_stops_watching_and_never_rolls_back() {
    let cluster = Cluster::start("healthy-upgrade-succeeds", 5.0).await;
    let plan = cluster.approved_plan(&[ROLLBACK_ACK]).await;
    let run = cluster
        .apply(&plan, &["--auto-rollback", "--timeout", "4s"])
        .await;
    assert_eq!(run.code, 6, "{}", run.text());
    let text = run.text();
    assert!(text.contains("may still be running"), "{text}");
    assert!(
        text.contains("did not finish within 4s (--timeout)"),
        "{text}"
    );
    assert!(
        cluster
            .sim
            .object("batch/v1", "Job", Some("default"), ROLLBACK_JOB)
            .is_none(),
        "a rollback beside a running upgrade would race it"
    );
    let job = cluster
        .sim
        .object("batch/v1", "Job", Some("default"), UPGRADE_JOB)
        .expect("the upgrade Job keeps running");
    assert!(job["status"]["conditions"]
        .as_array()
        .is_none_or(Vec::is_empty));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_plan_or_manifest_is_refused_before_any_change() {
    let cluster = Cluster::start("healthy-upgrade-succeeds", 100.0).await;
    let plan = cluster.approved_plan(&[]).await;
    let changes = cluster.changes().len();

    let garbage = cluster.path("garbage.json");
    std::fs::write(&garbage, "{\"verdict\": \"GO\", ").expect("written");
    let run = cluster.apply(&garbage, &[]).await;
    assert_eq!(run.code, 3, "{}", run.text());
    assert!(run.text().contains("is not a plan"), "{}", run.text());

    let manifest = cluster.path("broken.yaml");
    std::fs::write(&manifest, "kind: [\n").expect("written");
    let run = cluster
        .run(&[
            "apply",
            "--plan",
            plan.to_str().expect("utf-8 path"),
            "--manifest",
            manifest.to_str().expect("utf-8 path"),
            "--yes",
        ])
        .await;
    assert_eq!(run.code, 3, "{}", run.text());
    assert!(run.text().contains("broken.yaml"), "{}", run.text());
    assert!(run.text().contains("not valid YAML"), "{}", run.text());

    let missing = cluster.path("missing.json");
    let run = cluster.apply(&missing, &[]).await;
    assert_eq!(run.code, 2, "{}", run.text());
    assert!(run.text().contains("missing.json"), "{}", run.text());
    assert_eq!(cluster.changes().len(), changes, "nothing was changed");
}

/// A key pair made by the real ssh-keygen; its public key as an allowed-signers line.
fn ssh_key(dir: &Path, name: &str) -> (PathBuf, String) {
    let file = dir.join(name);
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&file)
        .output()
        .expect("ssh-keygen runs (Debian's openssh-client)");
    assert!(made.status.success());
    let public = std::fs::read_to_string(file.with_extension("pub")).expect("public key");
    let key: Vec<&str> = public.split_whitespace().take(2).collect();
    (file, key.join(" "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_runs_only_with_enough_distinct_approvals_of_this_exact_plan() {
    let cluster = Cluster::start("healthy-upgrade-succeeds", 100.0).await;
    let plan = cluster.approved_plan(&[]).await;
    let dir = cluster.dir.path();
    let (alice, alice_pub) = ssh_key(dir, "alice");
    let (bob, bob_pub) = ssh_key(dir, "bob");
    let (_git_only, git_only_pub) = ssh_key(dir, "carol");
    let (mallory, _) = ssh_key(dir, "mallory");
    let allowed = dir.join("allowed_signers");
    std::fs::write(
        &allowed,
        format!(
            "alice@corp {alice_pub}\nbob@corp {bob_pub}\ncarol@corp namespaces=\"git\" {git_only_pub}\n"
        ),
    )
    .unwrap();
    let signatures = dir.join("plan.json.sig");
    let approve = |key: &Path| {
        let output = std::process::Command::new(binary())
            .args(["approve", "--plan"])
            .arg(&plan)
            .arg("--key")
            .arg(key)
            .output()
            .expect("approve runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let refused = |run: &Run, why: &str| {
        assert_eq!(run.code, 3, "{}", run.text());
        assert!(run.text().contains(why), "{why}: {}", run.text());
    };
    let allowed_arg = allowed.to_str().expect("utf-8 path").to_string();
    let two = [
        "--allowed-signers",
        allowed_arg.as_str(),
        "--require-approvals",
        "2",
    ];
    let one = ["--allowed-signers", allowed_arg.as_str()];

    // No signature at all.
    refused(&cluster.apply(&plan, &one).await, "no approval");
    // A stranger's key, and a key that may sign only for git.
    approve(&mallory);
    refused(
        &cluster.apply(&plan, &one).await,
        "not in the allowed signers",
    );
    std::fs::remove_file(&signatures).unwrap();
    let signed = std::process::Command::new("ssh-keygen")
        .args(["-Y", "sign", "-n", "astro-upgrade-plan", "-f"])
        .arg(dir.join("carol"))
        .arg(&plan)
        .output()
        .unwrap();
    assert!(signed.status.success());
    refused(&cluster.apply(&plan, &one).await, "does not allow it");
    // One approval when two are required, and the same person twice.
    std::fs::remove_file(&signatures).unwrap();
    approve(&alice);
    refused(&cluster.apply(&plan, &two).await, "1 of 2 required");
    approve(&alice);
    refused(&cluster.apply(&plan, &two).await, "count once");
    // A plan with one changed byte.
    let original = std::fs::read(&plan).unwrap();
    let mut edited = original.clone();
    edited.push(b'\n');
    std::fs::write(&plan, &edited).unwrap();
    refused(
        &cluster.apply(&plan, &one).await,
        "does not verify over this plan",
    );
    std::fs::write(&plan, &original).unwrap();
    assert!(
        cluster.changes().is_empty(),
        "every refusal comes before any change: {:?}",
        cluster.changes()
    );

    // Two different allowed signers: the upgrade runs, and the journal names them.
    approve(&bob);
    let run = cluster.apply(&plan, &two).await;
    assert_eq!(run.code, 0, "{}", run.text());
    assert!(
        run.text().contains("approved by alice@corp"),
        "{}",
        run.text()
    );
    assert!(run.text().contains("bob@corp"), "{}", run.text());
    let status = cluster.run(&["status"]).await;
    assert!(
        status.text().contains("plan approved by alice@corp"),
        "{}",
        status.text()
    );
}

/// What the real kubectl says about one object of the upgrade: `Some(name)` when it exists.
async fn kubectl_get(cluster: &Cluster, args: &[&str]) -> Option<String> {
    let home = cluster.path("kubectl-home");
    std::fs::create_dir_all(&home).expect("a kubectl home");
    let mut all = vec!["get"];
    all.extend(args);
    all.extend(["-o", "name"]);
    let out = crate::support::kubectl(&cluster.kubeconfig, &home, &all).await;
    if out.code == 0 {
        Some(out.stdout.trim().to_string())
    } else {
        assert!(
            out.stderr.contains("NotFound") || out.stderr.contains("not found"),
            "kubectl get {args:?}: {}",
            out.stderr
        );
        None
    }
}

const UPGRADE_RBAC: [[&str; 2]; 3] = [
    ["clusterrole", "astronomer-upgrader-cluster-role"],
    [
        "clusterrolebinding",
        "astronomer-upgrader-cluster-role-binding",
    ],
    ["serviceaccount", "astronomer-upgrader-service-account"],
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finish_after_a_verified_upgrade_leaves_no_cluster_admin_behind() {
    let cluster = Cluster::start("healthy-upgrade-succeeds", 100.0).await;
    // The upgrade as the procedure runs it by hand: kubectl applies the manifest, the Job runs.
    let home = cluster.path("kubectl-home");
    std::fs::create_dir_all(&home).expect("a kubectl home");
    let manifest = workspace_file("manifests/upgrade-0.16-to-0.23.yaml");
    let applied = crate::support::kubectl(
        &cluster.kubeconfig,
        &home,
        &["apply", "-f", manifest.to_str().expect("utf-8")],
    )
    .await;
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    let deadline = Instant::now() + Duration::from_secs(60);
    while cluster.platform_chart_version() != "0.23.18 deployed" {
        assert!(Instant::now() < deadline, "the upgrade Job did not finish");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let status = cluster.run(&["status"]).await;
    assert_eq!(status.code, 0, "{}", status.text());
    assert!(
        status
            .text()
            .contains("SECURITY: ClusterRoleBinding astronomer-upgrader-cluster-role-binding")
            && status.text().contains("`*` on `*`")
            && status.text().contains("`astro-upgrade finish`"),
        "{}",
        status.text()
    );
    let verify = cluster
        .run(&["verify", "--settle", "5s", "-o", "json"])
        .await;
    assert_eq!(verify.code, 0, "{}", verify.text());
    let security: Vec<Value> = verify
        .events()
        .into_iter()
        .filter(|e| e["event"] == "security")
        .collect();
    assert_eq!(security.len(), 1, "{}", verify.text());
    assert_eq!(security[0]["command"], "astro-upgrade finish");
    let components: Vec<(String, String)> = verify
        .events()
        .into_iter()
        .filter(|e| e["event"] == "component")
        .map(|e| {
            (
                e["component"].as_str().unwrap_or_default().to_string(),
                e["result"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(components.len(), 7, "{}", verify.text());
    let deployments: Vec<Value> = verify
        .events()
        .into_iter()
        .filter(|e| e["event"] == "deployment")
        .collect();
    assert_eq!(deployments.len(), 2, "{}", verify.text());
    assert!(
        deployments.iter().all(|d| d["result"] == "pass"),
        "{deployments:?}"
    );
    assert_eq!(
        deployments[0]["service"],
        "astronomer-meteoric-nebula-2041/meteoric-nebula-2041-webserver:8080"
    );
    assert!(
        components.iter().all(|(_, result)| result == "pass"),
        "{components:?}"
    );
    for [kind, name] in UPGRADE_RBAC {
        assert!(kubectl_get(&cluster, &[kind, name, "-n", "default"])
            .await
            .is_some());
    }

    let finish = cluster.run(&["finish", "--yes", "--settle", "5s"]).await;
    assert_eq!(finish.code, 0, "{}", finish.text());
    assert!(
        finish
            .text()
            .contains("ClusterRoleBinding astronomer-upgrader-cluster-role-binding deleted"),
        "{}",
        finish.text()
    );
    for [kind, name] in UPGRADE_RBAC {
        assert_eq!(
            kubectl_get(&cluster, &[kind, name, "-n", "default"]).await,
            None,
            "{kind}/{name} is left behind"
        );
    }
    assert_eq!(
        kubectl_get(&cluster, &["job", UPGRADE_JOB, "-n", "default"]).await,
        None
    );
    let pods = kubectl_get(
        &cluster,
        &["pods", "-n", "default", "-l", "job-name=upgrade-astronomer"],
    )
    .await;
    assert_eq!(pods.as_deref(), Some(""), "the upgrade Job's pods are gone");
    assert!(
        kubectl_get(
            &cluster,
            &["pvc", "astronomer-upgrades-backup", "-n", "default"]
        )
        .await
        .is_some(),
        "the backup PVC is kept without --delete-backup"
    );
    let journal =
        std::fs::read_to_string(cluster.path("astro-upgrade-journal.jsonl")).expect("journal");
    assert!(
        journal.contains("\"step\":\"finish\",\"event\":\"done\""),
        "{journal}"
    );

    // Idempotent: a second run finds everything gone and says so; --delete-backup takes the PVC.
    let again = cluster
        .run(&["finish", "--yes", "--settle", "5s", "--delete-backup"])
        .await;
    assert_eq!(again.code, 0, "{}", again.text());
    assert!(
        again
            .text()
            .contains("ClusterRole astronomer-upgrader-cluster-role was already absent"),
        "{}",
        again.text()
    );
    assert_eq!(
        kubectl_get(
            &cluster,
            &["pvc", "astronomer-upgrades-backup", "-n", "default"]
        )
        .await,
        None
    );
    let status = cluster.run(&["status"]).await;
    assert!(!status.text().contains("SECURITY"), "{}", status.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finish_before_the_platform_is_verified_refuses_and_deletes_nothing() {
    let cluster = Cluster::start("healthy-upgrade-succeeds", 100.0).await;
    // The upgrade manifest's objects are applied, the upgrade itself has not run: still 0.16.
    let manifest = workspace_file("manifests/upgrade-0.16-to-0.23.yaml");
    let text = std::fs::read_to_string(manifest).expect("the manifest");
    let rbac: Vec<String> = text
        .split("\n---")
        .filter(|doc| !doc.contains("kind: Job"))
        .map(str::to_string)
        .collect();
    let path = cluster.path("rbac.yaml");
    std::fs::write(&path, rbac.join("\n---\n")).expect("written");
    let home = cluster.path("kubectl-home");
    std::fs::create_dir_all(&home).expect("a kubectl home");
    let applied = crate::support::kubectl(
        &cluster.kubeconfig,
        &home,
        &["apply", "-f", path.to_str().expect("utf-8")],
    )
    .await;
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    let changes = cluster.changes().len();

    let finish = cluster.run(&["finish", "--yes", "--settle", "1s"]).await;
    assert_eq!(finish.code, 3, "{}", finish.text());
    assert!(
        finish.text().contains("not verified on 0.23"),
        "{}",
        finish.text()
    );
    assert!(finish.text().contains("not 0.23.x"), "{}", finish.text());
    assert_eq!(
        cluster.changes().len(),
        changes,
        "a refused finish changes nothing"
    );
    for [kind, name] in UPGRADE_RBAC {
        assert!(kubectl_get(&cluster, &[kind, name, "-n", "default"])
            .await
            .is_some());
    }
    let verify = cluster.run(&["verify", "--settle", "1s"]).await;
    assert_eq!(verify.code, 3, "{}", verify.text());
    assert!(verify.text().contains("SECURITY"), "{}", verify.text());

    // --force cleans up anyway.
    let forced = cluster
        .run(&["finish", "--yes", "--settle", "1s", "--force"])
        .await;
    assert_eq!(forced.code, 0, "{}", forced.text());
    for [kind, name] in UPGRADE_RBAC {
        assert_eq!(
            kubectl_get(&cluster, &[kind, name, "-n", "default"]).await,
            None
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn egress_the_probe_cannot_prove_refuses_before_the_upgrade_job() {
    let cluster = Cluster::start_with("healthy-upgrade-succeeds", 100.0, |scenario| {
        scenario.unreachable_hosts = vec!["updates.astronomer.io".into()];
    })
    .await;
    let plan = cluster.approved_plan(&[]).await;
    let planned: Vec<String> = read_json(&plan)["egress_probe"]
        .as_array()
        .expect("the plan names the hosts its probe tests")
        .iter()
        .map(|h| h.as_str().unwrap_or_default().to_string())
        .collect();
    // the scenario's platform runs its in-cluster bitnami/postgresql: Docker Hub too
    assert_eq!(
        planned,
        [
            "helm.astronomer.io",
            "updates.astronomer.io",
            "quay.io",
            "docker.io"
        ]
    );
    let run = cluster.apply(&plan, &["--output", "json"]).await;
    assert_eq!(run.code, 3, "{}", run.text());
    let text = run.text();
    assert!(
        text.contains("curl: (6) Could not resolve host: updates.astronomer.io"),
        "{text}"
    );
    let refused = events_named(&run, "probe", "refused");
    assert_eq!(refused.len(), 1, "{text}");
    let unreachable = refused[0]["unreachable"].as_array().expect("the hosts");
    assert_eq!(unreachable.len(), 1, "{text}");
    assert!(unreachable[0]
        .as_str()
        .unwrap_or_default()
        .starts_with("updates.astronomer.io: "));
    assert!(
        cluster
            .sim
            .object("batch/v1", "Job", Some("default"), UPGRADE_JOB)
            .is_none(),
        "the upgrade Job is never created"
    );
    assert_eq!(cluster.job_posts(), 1, "only the probe ran");
    assert_eq!(cluster.platform_chart_version(), "0.16.9 deployed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_s_upgrader_options_reach_the_upgrade_job_and_only_it() {
    let cluster = Cluster::start("healthy-upgrade-succeeds", 100.0).await;
    let bundle = cluster.collect().await;
    let options = planner::UpgraderOptions {
        commander_upgrade_timeout: Some(900),
        disable_deployment_upgrades: true,
    };
    let plan = cluster.write_plan_with(&bundle, &[], &options);
    assert_eq!(read_json(&plan)["verdict"], "GO");
    let run = cluster.apply(&plan, &["--output", "json"]).await;
    assert_eq!(run.code, 0, "{}", run.text());
    let set = events_named(&run, "upgrader-options", "set");
    assert_eq!(set.len(), 1, "the options are journaled: {}", run.text());
    assert_eq!(set[0]["commander_upgrade_timeout"], 900);
    assert!(
        events_named(&run, "probe", "egress").len() == 1,
        "{}",
        run.text()
    );
    let job = cluster
        .sim
        .object("batch/v1", "Job", Some("default"), UPGRADE_JOB)
        .expect("the upgrade Job ran");
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["env"],
        serde_json::json!([{"name": "COMMANDER_UPGRADE_TIMEOUT", "value": "900"}])
    );
    assert_eq!(
        container["command"],
        serde_json::json!([
            "ansible-playbook",
            "-e",
            "USE_INTERNAL_HELM_REPO=False",
            "-e",
            "DISABLE_UPGRADE_DEPLOYMENT=true",
            "upgrade-astronomer.yaml"
        ])
    );
    // the rest of the Job is the manifest's
    assert_eq!(
        container["image"],
        "quay.io/astronomer/lts-016-023-upgrade:latest"
    );
    assert_eq!(job["spec"]["backoffLimit"], 0);
    // the simulated upgrader skipped steps (5/6) and (6/6), as the playbook's `when:` does
    let pods = cluster.sim.objects("v1", "Pod", Some("default"));
    let pod = pods
        .iter()
        .filter_map(|p| p["metadata"]["name"].as_str())
        .find(|name| name.starts_with("upgrade-astronomer-"))
        .expect("the upgrader's pod");
    let log = cluster
        .sim
        .pod_log("default", pod)
        .expect("the upgrader's log")
        .join("\n");
    for step in ["TASK [(5/6)", "TASK [(6/6)"] {
        let at = log.find(step).expect("the step in the log");
        assert_eq!(
            log[at..].lines().nth(1),
            Some("skipping: [localhost]"),
            "{log}"
        );
    }
    assert_eq!(cluster.job_posts(), 2, "the probe and the upgrade Job");
}

/// Applies the upgrade manifest with the real kubectl and waits for the platform to be on 0.23.
async fn upgrade_by_hand(cluster: &Cluster) {
    let home = cluster.path("kubectl-home");
    std::fs::create_dir_all(&home).expect("a kubectl home");
    let manifest = workspace_file("manifests/upgrade-0.16-to-0.23.yaml");
    let applied = crate::support::kubectl(
        &cluster.kubeconfig,
        &home,
        &["apply", "-f", manifest.to_str().expect("utf-8")],
    )
    .await;
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    let deadline = Instant::now() + Duration::from_secs(60);
    while cluster.platform_chart_version() != "0.23.18 deployed" {
        assert!(Instant::now() < deadline, "the upgrade Job did not finish");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elasticsearch_red_after_the_upgrade_fails_verify_with_exit_3_naming_it() {
    let cluster = Cluster::start_with("healthy-upgrade-succeeds", 100.0, |scenario| {
        let es = scenario
            .services
            .iter_mut()
            .find(|s| s.name == "astronomer-elasticsearch")
            .expect("the scenario has Elasticsearch");
        es.after_upgrade = vec![kube_sim::proxy::ProxyAnswer {
            path: "/_cluster/health".into(),
            status: 200,
            body: r#"{"cluster_name":"astronomer","status":"red"}"#.into(),
        }];
        let webserver = scenario
            .services
            .iter_mut()
            .find(|s| s.name == "quasaric-sun-9051-webserver")
            .expect("the scenario has the deployment's webserver");
        webserver.after_upgrade = vec![kube_sim::proxy::ProxyAnswer {
            path: "/quasaric-sun-9051/airflow/health".into(),
            status: 200,
            body:
                r#"{"metadatabase": {"status": "healthy"}, "scheduler": {"status": "unhealthy"}}"#
                    .into(),
        }];
    })
    .await;
    let before = cluster
        .run(&["verify", "--expect", "0.16", "--settle", "5s"])
        .await;
    assert_eq!(
        before.code,
        0,
        "green before the upgrade: {}",
        before.text()
    );
    upgrade_by_hand(&cluster).await;
    let verify = cluster
        .run(&["verify", "--settle", "5s", "-o", "json"])
        .await;
    assert_eq!(verify.code, 3, "{}", verify.text());
    let failed: Vec<Value> = verify
        .events()
        .into_iter()
        .filter(|e| e["event"] == "component" && e["result"] == "fail")
        .collect();
    assert_eq!(failed.len(), 1, "{}", verify.text());
    assert_eq!(failed[0]["component"], "elasticsearch");
    assert_eq!(
        failed[0]["service"],
        "astronomer/astronomer-elasticsearch:9200"
    );
    assert!(
        failed[0]["evidence"]
            .as_str()
            .unwrap_or_default()
            .contains("cluster health is red"),
        "{}",
        verify.text()
    );
    let deployment: Vec<Value> = verify
        .events()
        .into_iter()
        .filter(|e| e["event"] == "deployment" && e["result"] == "fail")
        .collect();
    assert_eq!(deployment.len(), 1, "{}", verify.text());
    assert_eq!(deployment[0]["deployment"], "quasaric-sun-9051");
    assert!(
        deployment[0]["evidence"]
            .as_str()
            .unwrap_or_default()
            .starts_with("scheduler unhealthy"),
        "{}",
        verify.text()
    );
    let human = cluster.run(&["verify", "--settle", "5s"]).await;
    assert_eq!(human.code, 3);
    assert!(
        human.text().contains("elasticsearch: fail"),
        "{}",
        human.text()
    );
    // A component the proxy cannot reach could not be checked: exit 4 when nothing failed.
    let cluster = Cluster::start_with("healthy-upgrade-succeeds", 100.0, |scenario| {
        scenario.services.retain(|s| s.name != "astronomer-grafana");
    })
    .await;
    let verify = cluster
        .run(&["verify", "--expect", "0.16", "--settle", "5s"])
        .await;
    assert_eq!(verify.code, 4, "{}", verify.text());
    assert!(
        verify.text().contains("grafana: unchecked"),
        "{}",
        verify.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finish_saves_the_backups_off_the_pvc_before_deleting_it() {
    let cluster = Cluster::start_with("healthy-upgrade-succeeds", 100.0, |scenario| {
        scenario.backup_files = vec![
            kube_sim::backup_pod::BackupFile {
                path: "2026-12-04T17-00-00/astronomer-db-backup.tar".into(),
                content: "-- PostgreSQL database dump\n".into(),
            },
            kube_sim::backup_pod::BackupFile {
                path: "2026-12-04T17-00-00/values.yaml".into(),
                content: "global: {baseDomain: astro.example.com}\n".into(),
            },
        ];
    })
    .await;
    upgrade_by_hand(&cluster).await;
    let saved = cluster.path("saved");
    let finish = cluster
        .run(&[
            "finish",
            "--yes",
            "--settle",
            "5s",
            "--delete-backup",
            "--save-backup",
            saved.to_str().expect("utf-8"),
        ])
        .await;
    assert_eq!(finish.code, 0, "{}", finish.text());
    let archive = saved.join("astronomer-backups.tar.gz");
    assert!(
        finish.text().contains("backups saved to"),
        "{}",
        finish.text()
    );
    let listed = std::process::Command::new("tar")
        .arg("tzf")
        .arg(&archive)
        .output()
        .expect("tar runs");
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("./2026-12-04T17-00-00/astronomer-db-backup.tar"),
        "{listed}"
    );
    let dump = std::process::Command::new("tar")
        .arg("xzOf")
        .arg(&archive)
        .arg("./2026-12-04T17-00-00/astronomer-db-backup.tar")
        .output()
        .expect("tar runs");
    assert_eq!(
        String::from_utf8_lossy(&dump.stdout),
        "-- PostgreSQL database dump\n"
    );
    assert_eq!(
        kubectl_get(
            &cluster,
            &["pvc", "astronomer-upgrades-backup", "-n", "default"]
        )
        .await,
        None,
        "--delete-backup deletes the PVC after the copy"
    );
    assert_eq!(
        kubectl_get(
            &cluster,
            &["pod", "astro-upgrade-backup-copy", "-n", "default"]
        )
        .await,
        None,
        "the copy pod is removed"
    );
    let journal =
        std::fs::read_to_string(cluster.path("astro-upgrade-journal.jsonl")).expect("journal");
    assert!(
        journal.contains("\"step\":\"save-backup\",\"event\":\"saved\""),
        "{journal}"
    );
}
