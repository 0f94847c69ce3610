//! The real kubectl against kube-sim: the proof that the simulation is faithful.
//!
//! kubectl is the one `scripts/install-kubectl` prints (`$KUBECTL`, else Debian's 1.20 client,
//! else `/usr/bin/kubectl`). Every test asserts kubectl's exit code and the text it prints.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use kube_sim::{Scenario, Sim};
use serde_json::Value;

pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The kubectl to run, installed once per test process.
pub(crate) fn kubectl_path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let script = repo_root().join("scripts/install-kubectl");
        let output = std::process::Command::new(&script)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            output.status.success(),
            "install-kubectl failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
    })
}

/// A running simulator with a kubeconfig pointing at it.
pub(crate) struct Cluster {
    pub sim: Sim,
    kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

pub(crate) struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Cluster {
    pub async fn start(scenario_file: &str, time_scale: f64) -> Cluster {
        let path = repo_root().join("tests/scenarios").join(scenario_file);
        let scenario = Scenario::from_file(&path).expect("repo scenarios parse");
        Cluster::start_scenario(scenario, time_scale).await
    }

    pub async fn start_scenario(scenario: Scenario, time_scale: f64) -> Cluster {
        let (sim, dir, kubeconfig) = crate::support::start_sim(scenario, time_scale).await;
        Cluster {
            sim,
            kubeconfig,
            _dir: dir,
        }
    }

    /// Over HTTPS, with tokens that live `token_ttl_s` simulated seconds: kubectl sends
    /// credentials only over TLS.
    async fn start_with_tokens(scenario_file: &str, time_scale: f64, token_ttl_s: f64) -> Cluster {
        let path = repo_root().join("tests/scenarios").join(scenario_file);
        let scenario = Scenario::from_file(&path).expect("repo scenarios parse");
        let options = kube_sim::Options {
            time_scale,
            token_ttl_s: Some(token_ttl_s),
            tls: true,
            ..kube_sim::Options::default()
        };
        let (sim, dir, kubeconfig) = crate::support::start_sim_with(scenario, options).await;
        Cluster {
            sim,
            kubeconfig,
            _dir: dir,
        }
    }

    pub async fn kubectl(&self, args: &[&str]) -> Run {
        let output = tokio::process::Command::new(kubectl_path())
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .env("HOME", self._dir.path())
            .kill_on_drop(true)
            .output()
            .await
            .expect("kubectl runs");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

fn manifest(name: &str) -> String {
    repo_root()
        .join("tests/manifests")
        .join(name)
        .display()
        .to_string()
}

/// The whitespace-separated words of the line whose first word is `first`.
fn row<'a>(table: &'a str, first: &str) -> Vec<&'a str> {
    table
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|words| words.first() == Some(&first))
        .unwrap_or_else(|| panic!("no row {first:?} in:\n{table}"))
}

fn rows_named<'a>(table: &'a str, prefix: &str) -> Vec<Vec<&'a str>> {
    table
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|words| words.iter().any(|w| w.starts_with(prefix)))
        .collect()
}

#[tokio::test]
async fn version_reports_the_scenario_server_version() {
    let cluster = Cluster::start("healthy-upgrade-succeeds.yaml", 1.0).await;
    let run = cluster.kubectl(&["version"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let server_line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("Server Version:"))
        .unwrap_or_else(|| panic!("no server line in {}", run.stdout));
    assert!(server_line.contains("v1.16.15-eks-ad4801"), "{server_line}");
    if server_line.contains("version.Info{") {
        assert!(
            server_line.contains(r#"Major:"1", Minor:"16+""#),
            "{server_line}"
        );
        assert!(
            server_line.contains(r#"GoVersion:"go1.13.15""#),
            "{server_line}"
        );
    }
}

#[tokio::test]
async fn get_pods_all_namespaces_prints_kubectl_status_columns() {
    let cluster = Cluster::start("upgrade-job-fails.yaml", 1.0).await;
    let run = cluster.kubectl(&["get", "pods", "-A"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let header: Vec<&str> = run
        .stdout
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    );
    let worker = rows_named(&run.stdout, "astronomer-houston-worker-");
    assert_eq!(
        worker,
        vec![vec![
            "astronomer",
            "astronomer-houston-worker-5c8d9f7b6-qk2zt",
            "0/1",
            "CrashLoopBackOff",
            "37",
            "2d"
        ]]
    );
    let completed = rows_named(&run.stdout, "quasaric-sun-9051-run-airflow-migrations-");
    assert_eq!(completed[0][2..5], ["0/1", "Completed", "0"]);
    let masters = rows_named(&run.stdout, "astronomer-elasticsearch-master-");
    assert_eq!(masters.len(), 3);
    assert!(masters
        .iter()
        .all(|r| r[2..6] == ["1/1", "Running", "0", "41d"]));
    let pod_count = run.stdout.lines().count() - 1;
    assert_eq!(pod_count, cluster.sim.objects("v1", "Pod", None).len());
}

#[tokio::test]
async fn get_pods_shows_signals_exit_codes_not_ready_terminating_and_unknown() {
    let cluster = Cluster::start("pod-states.yaml", 1.0).await;
    let run = cluster.kubectl(&["get", "pods", "-A"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    // READY, STATUS and RESTARTS of the one pod whose name starts with `name`.
    let status = |name: &str| -> Vec<String> {
        let rows = rows_named(&run.stdout, name);
        assert_eq!(rows.len(), 1, "{name}: {}", run.stdout);
        rows[0][2..5].iter().map(|w| w.to_string()).collect()
    };
    for (name, expected) in [
        ("quasaric-sun-9051-scheduler-", ["0/1", "Error", "0"]),
        ("astronomer-elasticsearch-client-", ["0/1", "Signal:9", "0"]),
        ("quasaric-sun-9051-worker-1", ["0/1", "OOMKilled", "0"]),
        (
            "astronomer-houston-upgrade-deployments-",
            ["0/1", "ExitCode:3", "0"],
        ),
        ("quasaric-sun-9051-webserver-", ["1/2", "NotReady", "0"]),
        ("astronomer-nginx-", ["0/1", "Running", "2"]),
        ("astronomer-prisma-", ["1/1", "Terminating", "0"]),
        ("astronomer-registry-0", ["1/1", "Unknown", "0"]),
        (
            "quasaric-sun-9051-run-airflow-migrations-",
            ["0/1", "Completed", "0"],
        ),
    ] {
        assert_eq!(status(name), expected, "{name}");
    }

    let run = cluster
        .kubectl(&["get", "pods", "-n", "astronomer", "-o", "json"])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let list: Value = serde_json::from_str(&run.stdout).expect("kubectl prints JSON");
    let pod = |name: &str| -> Value {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["metadata"]["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no pod {name}"))
    };
    for name in ["astronomer-prisma-6b7c9d8f4-vq8rn", "astronomer-registry-0"] {
        let pod = pod(name);
        let deletion = pod["metadata"]["deletionTimestamp"].as_str().unwrap_or("");
        assert!(
            deletion.ends_with('Z') && deletion.len() == 20,
            "{name}: {deletion:?}"
        );
        assert_eq!(pod["metadata"]["deletionGracePeriodSeconds"], 30, "{name}");
    }
    assert_eq!(pod("astronomer-registry-0")["status"]["reason"], "NodeLost");
    let killed = pod("astronomer-elasticsearch-client-5f7d8c9b4-hq6zr");
    let terminated = &killed["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(terminated["signal"], 9);
    assert_eq!(terminated["exitCode"], 137);
    assert!(terminated.get("reason").is_none(), "{terminated}");

    // A client cannot create a pod that is already being deleted.
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("pod.json");
    std::fs::write(
        &manifest,
        serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "created-terminating", "namespace": "default",
                         "deletionTimestamp": "2021-06-01T10:00:00Z", "deletionGracePeriodSeconds": 30},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        })
        .to_string(),
    )
    .unwrap();
    let run = cluster
        .kubectl(&["create", "-f", manifest.to_str().unwrap()])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let created = cluster
        .sim
        .object("v1", "Pod", Some("default"), "created-terminating")
        .unwrap();
    assert!(
        created["metadata"].get("deletionTimestamp").is_none(),
        "{created}"
    );
    assert!(created["metadata"]
        .get("deletionGracePeriodSeconds")
        .is_none());
    let run = cluster
        .kubectl(&["get", "pod", "created-terminating"])
        .await;
    assert_eq!(row(&run.stdout, "created-terminating")[2], "Pending");
}

#[tokio::test]
async fn get_pods_wide_adds_ip_and_node() {
    let cluster = Cluster::start("pvc-never-binds.yaml", 1.0).await;
    let run = cluster
        .kubectl(&["get", "pods", "-n", "astronomer", "-o", "wide"])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let header = run.stdout.lines().next().unwrap();
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        [
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED",
            "NODE",
            "READINESS",
            "GATES"
        ]
    );
    let curator = row(
        &run.stdout,
        "astronomer-elasticsearch-curator-1606780800-x7k2p",
    );
    assert_eq!(curator[1..3], ["0/1", "Init:0/1"]);
    let pod = cluster
        .sim
        .object("v1", "Pod", Some("astronomer"), curator[0])
        .unwrap();
    assert_eq!(curator[5], pod["status"]["podIP"].as_str().unwrap());
    assert_eq!(curator[6], pod["spec"]["nodeName"].as_str().unwrap());
    assert_eq!(curator[7..9], ["<none>", "<none>"]);
}

#[tokio::test]
async fn get_pods_json_lists_the_stored_pods() {
    let cluster = Cluster::start("healthy-upgrade-succeeds.yaml", 1.0).await;
    let run = cluster
        .kubectl(&["get", "pods", "-n", "astronomer", "-o", "json"])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let list: Value = serde_json::from_str(&run.stdout).expect("kubectl prints JSON");
    assert_eq!(list["kind"], "List");
    let mut printed: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert_eq!(p["kind"], "Pod");
            p["metadata"]["name"].as_str().unwrap()
        })
        .collect();
    let stored = cluster.sim.objects("v1", "Pod", Some("astronomer"));
    let mut expected: Vec<&str> = stored
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap())
        .collect();
    printed.sort();
    expected.sort();
    assert_eq!(printed, expected);
    assert!(expected.len() > 20);
}

#[tokio::test]
async fn auth_can_i_answers_from_the_scenario_rbac() {
    let healthy = Cluster::start("healthy-upgrade-succeeds.yaml", 1.0).await;
    let run = healthy
        .kubectl(&["auth", "can-i", "create", "clusterrolebindings"])
        .await;
    assert_eq!((run.code, run.stdout.trim()), (0, "yes"), "{}", run.stderr);

    let restricted = Cluster::start("missing-rights.yaml", 1.0).await;
    let run = restricted
        .kubectl(&["auth", "can-i", "create", "clusterrolebindings"])
        .await;
    assert_eq!((run.code, run.stdout.trim()), (1, "no"), "{}", run.stderr);
    let run = restricted
        .kubectl(&["auth", "can-i", "create", "pods", "-n", "astronomer"])
        .await;
    assert_eq!((run.code, run.stdout.trim()), (0, "yes"), "{}", run.stderr);
    let reviews = restricted
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/selfsubjectaccessreviews"))
        .count();
    assert_eq!(reviews, 2, "each can-i is one access review");
}

/// The response body `kubectl -v=8` logs: `Response Body: {...}` up to 1.26, and from klog's
/// structured logging on (1.27+) `"Response Body" body="{...}"` with the JSON quoted.
fn logged_response_body(stderr: &str) -> Option<String> {
    stderr.lines().find_map(|line| {
        if let Some((_, body)) = line.split_once("Response Body: ") {
            return Some(body.to_string());
        }
        let (_, quoted) = line.split_once("\"Response Body\" body=")?;
        serde_json::from_str::<String>(quoted).ok()
    })
}

/// `kubectl auth can-i '*' '*' --all-namespaces`: may I hold what the upgrader's ClusterRole
/// grants? The real kubectl asks for verb and resource `*` with no namespace; kube-sim answers
/// yes only when its scenario denies nothing, and the planner's reader reads the answer as the
/// `permissions` check needs it.
#[tokio::test]
async fn auth_can_i_everything_in_every_namespace() {
    let healthy = Cluster::start("healthy-upgrade-succeeds.yaml", 1.0).await;
    for all in ["--all-namespaces", "-A"] {
        let run = healthy
            .kubectl(&["auth", "can-i", "*", "*", all, "-v=8"])
            .await;
        assert_eq!((run.code, run.stdout.trim()), (0, "yes"), "{}", run.stderr);
        // kube-sim echoes the question: `*` and `*`, and no namespace (every namespace)
        let body = logged_response_body(&run.stderr)
            .unwrap_or_else(|| panic!("no response body logged:\n{}", run.stderr));
        let review: Value = serde_json::from_str(&body).expect("a JSON review");
        let asked = &review["spec"]["resourceAttributes"];
        assert_eq!(
            (asked["verb"].as_str(), asked["resource"].as_str()),
            (Some("*"), Some("*")),
            "{body}"
        );
        assert!(asked.get("namespace").is_none(), "{body}");
    }

    let restricted = Cluster::start("missing-rights.yaml", 1.0).await;
    let run = restricted
        .kubectl(&["auth", "can-i", "*", "*", "--all-namespaces"])
        .await;
    assert_eq!((run.code, run.stdout.trim()), (1, "no"), "{}", run.stderr);
    // in one namespace, still no: the scenario denies creating ClusterRoles
    let run = restricted
        .kubectl(&["auth", "can-i", "*", "*", "-n", "astronomer"])
        .await;
    assert_eq!((run.code, run.stdout.trim()), (1, "no"), "{}", run.stderr);

    let pasted = format!(
        "$ kubectl auth can-i '*' '*' --all-namespaces\n{}",
        restricted
            .kubectl(&["auth", "can-i", "*", "*", "--all-namespaces"])
            .await
            .stdout
    );
    let facts = planner::input::read_source(&planner::Source::new(
        "can-i.txt",
        Some(planner::EvidenceKind::CanI),
        pasted.clone(),
    ));
    let read: Vec<_> = facts
        .permissions
        .iter()
        .map(|p| {
            (
                p.verb.as_str(),
                p.resource.as_str(),
                p.namespace.as_deref(),
                p.all_namespaces,
                p.allowed,
            )
        })
        .collect();
    assert_eq!(read, [("*", "*", None, true, false)], "{pasted}");
}

#[tokio::test]
async fn apply_run_log_and_delete_the_upgrade_manifest() {
    // 600: the ten simulated minutes of the upgrade take one second.
    let cluster = Cluster::start("healthy-upgrade-succeeds.yaml", 600.0).await;
    let upgrade = manifest("upgrade-0.16-to-0.23.yaml");
    let run = cluster.kubectl(&["apply", "-f", &upgrade]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout.lines().collect::<Vec<_>>(),
        [
            "serviceaccount/astronomer-upgrader-service-account created",
            "persistentvolumeclaim/astronomer-upgrades-backup created",
            "job.batch/upgrade-astronomer created",
            "clusterrole.rbac.authorization.k8s.io/astronomer-upgrader-cluster-role created",
            "clusterrolebinding.rbac.authorization.k8s.io/astronomer-upgrader-cluster-role-binding created",
        ]
    );
    let job = cluster
        .sim
        .object("batch/v1", "Job", Some("default"), "upgrade-astronomer")
        .unwrap();
    let uid = job["metadata"]["uid"].as_str().unwrap();
    assert_eq!(
        job["spec"]["selector"]["matchLabels"]["controller-uid"],
        uid
    );

    let run = cluster.kubectl(&["apply", "-f", &upgrade]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.lines().all(|l| l.ends_with(" unchanged")) && run.stdout.lines().count() == 5,
        "{}",
        run.stdout
    );

    let run = cluster
        .kubectl(&[
            "wait",
            "--for=condition=complete",
            "job/upgrade-astronomer",
            "--timeout=60s",
        ])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout.trim(),
        "job.batch/upgrade-astronomer condition met"
    );

    let run = cluster.kubectl(&["get", "jobs"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout
            .lines()
            .next()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["NAME", "COMPLETIONS", "DURATION", "AGE"]
    );
    assert_eq!(row(&run.stdout, "upgrade-astronomer")[1], "1/1");

    let run = cluster.kubectl(&["logs", "job/upgrade-astronomer"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let headers = task_names(&run.stdout);
    let expected: Vec<&str> = kube_sim::playbook::UPGRADE_V0_23_18
        .iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(headers, expected, "every real task, in order");
    assert_eq!(headers.first(), Some(&"Set up variables"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("TASK [Find the Astronomer Helm release (helm list)] ***"),
        "{}",
        run.stdout
    );
    assert_eq!(
        task_lines(&run.stdout, "Add private helm repo (for testing only)"),
        ["skipping: [localhost]"]
    );
    assert_eq!(
        task_lines(&run.stdout, "Backup Astronomer database"),
        ["changed: [localhost]"]
    );
    assert_eq!(
        task_lines(&run.stdout, "Check that we can connect to the database"),
        ["ok: [localhost]"]
    );
    let recap = run
        .stdout
        .lines()
        .find(|l| l.starts_with("localhost "))
        .unwrap();
    let counts: Vec<&str> = recap.split_whitespace().skip(2).collect();
    assert_eq!(
        counts,
        [
            "ok=44",
            "changed=15",
            "unreachable=0",
            "failed=0",
            "skipped=1",
            "rescued=0",
            "ignored=0"
        ],
        "{recap}"
    );

    let run = cluster
        .kubectl(&["get", "pods", "-l", "job-name=upgrade-astronomer"])
        .await;
    let pod_row = rows_named(&run.stdout, "upgrade-astronomer-");
    assert_eq!(pod_row.len(), 1, "{}", run.stdout);
    assert_eq!(pod_row[0][1..3], ["0/1", "Completed"]);

    let release = cluster
        .sim
        .object(
            "v1",
            "Secret",
            Some("astronomer"),
            "sh.helm.release.v1.astronomer.v5",
        )
        .expect("the upgrade wrote revision 5");
    assert_eq!(release["metadata"]["labels"]["status"], "deployed");
    let previous = cluster
        .sim
        .object(
            "v1",
            "Secret",
            Some("astronomer"),
            "sh.helm.release.v1.astronomer.v4",
        )
        .unwrap();
    assert_eq!(previous["metadata"]["labels"]["status"], "superseded");
    let run = cluster
        .kubectl(&[
            "get",
            "pods",
            "-n",
            "astronomer",
            "-l",
            "component=houston",
            "-o",
            "jsonpath={.items[*].spec.containers[0].image}",
        ])
        .await;
    assert_eq!(
        run.stdout.split_whitespace().collect::<Vec<_>>(),
        ["quay.io/astronomer/ap-houston-api:0.23.24"; 2]
    );

    let run = cluster.kubectl(&["delete", "-f", &upgrade]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout.lines().collect::<Vec<_>>(),
        [
            r#"serviceaccount "astronomer-upgrader-service-account" deleted"#,
            r#"persistentvolumeclaim "astronomer-upgrades-backup" deleted"#,
            r#"job.batch "upgrade-astronomer" deleted"#,
            r#"clusterrole.rbac.authorization.k8s.io "astronomer-upgrader-cluster-role" deleted"#,
            r#"clusterrolebinding.rbac.authorization.k8s.io "astronomer-upgrader-cluster-role-binding" deleted"#,
        ]
    );
    assert!(cluster
        .sim
        .object("batch/v1", "Job", Some("default"), "upgrade-astronomer")
        .is_none());
    assert!(cluster
        .sim
        .object(
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            None,
            "astronomer-upgrader-cluster-role-binding"
        )
        .is_none());
    assert!(
        cluster.sim.objects("v1", "Pod", Some("default")).is_empty(),
        "the Job's pod goes with it"
    );
}

#[tokio::test]
async fn changed_apply_is_configured_and_job_template_changes_are_refused() {
    let cluster = Cluster::start("healthy-upgrade-succeeds.yaml", 600.0).await;
    let upgrade = manifest("upgrade-0.16-to-0.23.yaml");
    assert_eq!(cluster.kubectl(&["apply", "-f", &upgrade]).await.code, 0);

    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read_to_string(&upgrade).unwrap();
    let relabelled = original.replacen(
        "  name: astronomer-upgrader-service-account\n",
        "  name: astronomer-upgrader-service-account\n  labels:\n    purpose: upgrade\n",
        1,
    );
    let changed = dir.path().join("changed.yaml");
    std::fs::write(&changed, &relabelled).unwrap();
    let run = cluster
        .kubectl(&["apply", "-f", changed.to_str().unwrap()])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("serviceaccount/astronomer-upgrader-service-account configured"),
        "{}",
        run.stdout
    );
    let account = cluster
        .sim
        .object(
            "v1",
            "ServiceAccount",
            Some("default"),
            "astronomer-upgrader-service-account",
        )
        .unwrap();
    assert_eq!(account["metadata"]["labels"]["purpose"], "upgrade");
    assert_eq!(
        account["secrets"].as_array().map(Vec::len),
        Some(1),
        "token secret kept"
    );

    let repinned = original.replace("lts-016-023-upgrade:latest", "lts-016-023-upgrade:1234");
    std::fs::write(&changed, repinned).unwrap();
    let run = cluster
        .kubectl(&["apply", "-f", changed.to_str().unwrap()])
        .await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stderr.contains("field is immutable"), "{}", run.stderr);
    assert!(run.stderr.contains("upgrade-astronomer"), "{}", run.stderr);
}

#[tokio::test]
async fn apply_without_clusterrolebinding_rights_is_forbidden() {
    let cluster = Cluster::start("missing-rights.yaml", 600.0).await;
    let run = cluster
        .kubectl(&["apply", "-f", &manifest("upgrade-0.16-to-0.23.yaml")])
        .await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("job.batch/upgrade-astronomer created"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("forbidden"), "{}", run.stderr);
    assert!(run.stderr.contains("clusterrolebindings"), "{}", run.stderr);
    assert!(cluster
        .sim
        .object(
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            None,
            "astronomer-upgrader-cluster-role-binding"
        )
        .is_none());
}

/// `create clusterroles` is not enough: RBAC's escalation prevention refuses the upgrader's
/// ClusterRole, which grants `*` on `*`, to a user who does not hold that (nor `escalate`).
#[tokio::test]
async fn apply_without_everything_the_cluster_role_grants_is_forbidden() {
    let cluster = Cluster::start("rbac-no-escalate.yaml", 600.0).await;
    let run = cluster
        .kubectl(&["auth", "can-i", "create", "clusterroles"])
        .await;
    assert_eq!((run.code, run.stdout.trim()), (0, "yes"), "{}", run.stderr);
    let run = cluster
        .kubectl(&["auth", "can-i", "*", "*", "--all-namespaces"])
        .await;
    assert_eq!((run.code, run.stdout.trim()), (1, "no"), "{}", run.stderr);
    let run = cluster
        .kubectl(&["apply", "-f", &manifest("upgrade-0.16-to-0.23.yaml")])
        .await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("job.batch/upgrade-astronomer created"),
        "{}",
        run.stdout
    );
    for expected in [
        "Error from server (Forbidden)",
        "clusterroles.rbac.authorization.k8s.io \"astronomer-upgrader-cluster-role\" is forbidden",
        "is attempting to grant RBAC permissions not currently held",
        r#"{APIGroups:["*"], Resources:["*"], Verbs:["*"]}"#,
    ] {
        assert!(run.stderr.contains(expected), "{expected}: {}", run.stderr);
    }
    assert!(cluster
        .sim
        .object(
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
            None,
            "astronomer-upgrader-cluster-role"
        )
        .is_none());
}

/// The platform release's revisions as `N status chart-version`, oldest first.
fn platform_revisions(cluster: &Cluster) -> Vec<String> {
    let mut revisions: Vec<(u64, String)> = cluster
        .sim
        .objects("v1", "Secret", Some("astronomer"))
        .iter()
        .filter(|s| s["metadata"]["labels"]["name"] == "astronomer")
        .filter_map(kube_sim::helm::decode_release)
        .map(|body| {
            let revision = body["version"].as_u64().unwrap_or(0);
            let text = format!(
                "{revision} {} {}",
                body["info"]["status"].as_str().unwrap_or("?"),
                body["chart"]["metadata"]["version"].as_str().unwrap_or("?")
            );
            (revision, text)
        })
        .collect();
    revisions.sort();
    revisions.into_iter().map(|(_, text)| text).collect()
}

/// The images of the pods of one component in namespace `astronomer`, through kubectl.
async fn component_images(cluster: &Cluster, component: &str) -> Vec<String> {
    let selector = format!("component={component}");
    let run = cluster
        .kubectl(&[
            "get",
            "pods",
            "-n",
            "astronomer",
            "-l",
            &selector,
            "-o",
            "jsonpath={.items[*].spec.containers[0].image}",
        ])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout.split_whitespace().map(str::to_string).collect()
}

/// Applies the upgrade manifest, waits for the Job to fail and returns the upgrader's log.
async fn failed_upgrade_log(cluster: &Cluster) -> String {
    let run = cluster
        .kubectl(&["apply", "-f", &manifest("upgrade-0.16-to-0.23.yaml")])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = cluster
        .kubectl(&[
            "wait",
            "--for=condition=failed",
            "job/upgrade-astronomer",
            "--timeout=60s",
        ])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = cluster.kubectl(&["logs", "job/upgrade-astronomer"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout
}

/// The names in a log's `TASK [name] ***` headers, in order.
fn task_names(log: &str) -> Vec<&str> {
    log.lines()
        .filter_map(|l| l.strip_prefix("TASK ["))
        .filter_map(|l| l.rsplit_once("] "))
        .map(|(name, _)| name)
        .collect()
}

/// The lines printed under the first `TASK [name]` header, up to the blank line after them.
fn task_lines<'a>(log: &'a str, name: &str) -> Vec<&'a str> {
    let header = format!("TASK [{name}] ***");
    let mut lines = log.lines().skip_while(|l| !l.starts_with(&header));
    assert!(lines.next().is_some(), "no task {name:?} in:\n{log}");
    lines.take_while(|l| !l.is_empty()).collect()
}

/// The last `TASK [name]` header of a log and the lines after it up to the recap.
fn last_task(log: &str) -> (String, Vec<String>) {
    let lines: Vec<&str> = log.lines().collect();
    let start = lines
        .iter()
        .rposition(|l| l.starts_with("TASK ["))
        .unwrap_or_else(|| panic!("no task in:\n{log}"));
    let name = lines[start]
        .strip_prefix("TASK [")
        .and_then(|l| l.rsplit_once("] "))
        .map(|(name, _)| name.to_string())
        .unwrap();
    let body = lines[start + 1..]
        .iter()
        .take_while(|l| !l.is_empty())
        .map(|l| l.to_string())
        .collect();
    (name, body)
}

const STEP_1: &str = "(1/6) Upgrade Astronomer: Helm upgrade - Update software in Astronomer. Watch for 'helm list' to show new version.";
const STEP_2: &str = "(2/6) Upgrade Astronomer: Helm upgrade - Run Astronomer DB migration. Watch for houston db migrations pod to exit in success.";

#[tokio::test]
async fn failing_upgrade_shows_error_and_its_rollback_completes() {
    let cluster = Cluster::start("upgrade-job-fails.yaml", 600.0).await;
    let log = failed_upgrade_log(&cluster).await;
    let run = cluster.kubectl(&["get", "pods", "-l", "run=upgrade"]).await;
    let pod = rows_named(&run.stdout, "upgrade-astronomer-");
    assert_eq!(pod[0][1..3], ["0/1", "Error"], "{}", run.stdout);
    assert_eq!(
        task_lines(&log, "Backup Astronomer database"),
        ["changed: [localhost]"],
        "the backup was taken"
    );
    let (task, body) = last_task(&log);
    assert_eq!(task, STEP_2);
    assert_eq!(body.len(), 1, "{body:?}");
    let fatal = body[0]
        .strip_prefix("fatal: [localhost]: FAILED! => ")
        .unwrap_or_else(|| panic!("{}", body[0]));
    // A shell task's result, as Ansible prints it: sorted keys, ", " and ": " separators.
    assert!(
        fatal.starts_with(r#"{"changed": true, "cmd": "helm upgrade --namespace astronomer "#),
        "{fatal}"
    );
    let result: Value = serde_json::from_str(fatal).expect("the result is JSON");
    assert_eq!(result["msg"], "non-zero return code");
    assert_eq!(result["rc"], 1);
    assert_eq!(
        result["stderr"],
        "Error: UPGRADE FAILED: pre-upgrade hooks failed: job failed: BackoffLimitExceeded"
    );
    assert_eq!(result["stderr_lines"][0], result["stderr"]);
    assert_eq!(result["delta"], "0:05:00.000000");
    assert!(
        !log.contains("TASK [(3/6)"),
        "the play stops at the failed task"
    );
    let recap = log.lines().find(|l| l.starts_with("localhost ")).unwrap();
    assert!(
        recap.contains("ok=38 ") && recap.contains("changed=10 ") && recap.contains("failed=1 "),
        "{recap}"
    );

    // on_failure: the platform is half-upgraded.
    assert_eq!(
        platform_revisions(&cluster),
        [
            "1 superseded 0.16.9",
            "2 superseded 0.16.9",
            "3 superseded 0.16.9",
            "4 deployed 0.16.9",
            "5 failed 0.23.18"
        ]
    );
    let failed = cluster
        .sim
        .object(
            "v1",
            "Secret",
            Some("astronomer"),
            "sh.helm.release.v1.astronomer.v5",
        )
        .unwrap();
    assert_eq!(failed["metadata"]["labels"]["status"], "failed");
    assert_eq!(
        kube_sim::helm::decode_release(&failed).unwrap()["info"]["description"],
        "Upgrade \"astronomer\" failed: pre-upgrade hooks failed: job failed: BackoffLimitExceeded"
    );
    assert_eq!(
        component_images(&cluster, "houston").await,
        ["quay.io/astronomer/ap-houston-api:0.23.24"; 2]
    );
    assert_eq!(
        component_images(&cluster, "commander").await,
        ["quay.io/astronomer/ap-commander:0.23.0"; 2]
    );
    assert_eq!(
        component_images(&cluster, "astro-ui").await,
        ["astronomerinc/ap-astro-ui:0.16.8"; 2],
        "only the mapped images changed"
    );
    assert_replaced_worker_runs(&cluster).await;

    let run = cluster
        .kubectl(&["apply", "-f", &manifest("rollback-0.16-to-0.23.yaml")])
        .await;
    assert_eq!(run.stdout.trim(), "job.batch/rollback-astronomer created");
    let run = cluster
        .kubectl(&[
            "wait",
            "--for=condition=complete",
            "job/rollback-astronomer",
            "--timeout=60s",
        ])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = cluster.kubectl(&["logs", "job/rollback-astronomer"]).await;
    let (task, body) = last_task(&run.stdout);
    assert_eq!(task, "Rollback with Helm (no hooks)");
    assert_eq!(body, ["changed: [localhost]"]);
    assert_eq!(
        platform_revisions(&cluster),
        [
            "1 superseded 0.16.9",
            "2 superseded 0.16.9",
            "3 superseded 0.16.9",
            "4 superseded 0.16.9",
            "5 failed 0.23.18",
            "6 deployed 0.16.9"
        ]
    );
    let rollback = cluster
        .sim
        .object(
            "v1",
            "Secret",
            Some("astronomer"),
            "sh.helm.release.v1.astronomer.v6",
        )
        .expect("the rollback wrote revision 6");
    let body = kube_sim::helm::decode_release(&rollback).unwrap();
    assert_eq!(body["info"]["description"], "Rollback to 4");
    assert_eq!(
        component_images(&cluster, "houston").await,
        ["astronomerinc/ap-houston-api:0.16.15"; 2]
    );
    assert_eq!(
        component_images(&cluster, "commander").await,
        ["astronomerinc/ap-commander:0.16.0"; 2]
    );
    assert_replaced_worker_runs(&cluster).await;
}

/// The crash-looping Houston worker of upgrade-job-fails runs a mapped image: a transition
/// replaces it with a new pod that runs, Ready.
async fn assert_replaced_worker_runs(cluster: &Cluster) {
    let run = cluster
        .kubectl(&[
            "get",
            "pods",
            "-n",
            "astronomer",
            "-l",
            "component=houston-worker",
        ])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let workers = rows_named(&run.stdout, "astronomer-houston-worker-");
    assert_eq!(workers.len(), 1, "{}", run.stdout);
    assert_ne!(workers[0][0], "astronomer-houston-worker-5c8d9f7b6-qk2zt");
    assert_eq!(workers[0][1..4], ["1/1", "Running", "0"], "{}", run.stdout);
}

/// What one failure scenario's upgrader log must end with, and what it leaves behind.
struct Failure {
    scenario: &'static str,
    task: &'static str,
    /// The fatal result's fields that must be there.
    result: Value,
    /// The platform release's newest revision afterwards.
    newest: &'static str,
}

#[tokio::test]
async fn each_failure_scenario_fails_at_its_task_and_leaves_the_platform_as_described() {
    let unchanged = "4 deployed 0.16.9";
    let failures = [
        Failure {
            scenario: "upgrade-fails-db-unreachable.yaml",
            task: "Check that we can connect to the database",
            result: serde_json::json!({"changed": false, "msg": "unable to connect to database: could not connect to server: Connection timed out\n\tIs the server running on host \"astro-db.cluster-abc.us-east-1.rds.amazonaws.com\" (10.0.3.41) and accepting\n\tTCP/IP connections on port 5432?\n"}),
            newest: unchanged,
        },
        Failure {
            scenario: "upgrade-fails-backup-disk-full.yaml",
            task: "Backup Astronomer database",
            result: serde_json::json!({"changed": false, "msg": "pg_dump: error: could not write to output file: No space left on device\n"}),
            newest: unchanged,
        },
        Failure {
            scenario: "upgrade-fails-helm-repo-unreachable.yaml",
            task: "Add public helm repo",
            result: serde_json::json!({"changed": true, "cmd": "helm repo add astronomer https://helm.astronomer.io\nhelm repo update\n", "msg": "non-zero return code", "rc": 1, "stderr": "Error: looks like \"https://helm.astronomer.io\" is not a valid chart repository or cannot be reached: Get \"https://helm.astronomer.io/index.yaml\": dial tcp: lookup helm.astronomer.io on 10.100.0.10:53: no such host"}),
            newest: unchanged,
        },
        Failure {
            scenario: "upgrade-fails-unknown-task.yaml",
            task: "Check Airflow chart compatibility",
            result: serde_json::json!({"changed": false}),
            newest: unchanged,
        },
        Failure {
            scenario: "upgrade-fails-after-backup.yaml",
            task: STEP_2,
            result: serde_json::json!({"changed": true, "rc": 1, "stderr": "Error: UPGRADE FAILED: pre-upgrade hooks failed: job failed: BackoffLimitExceeded"}),
            newest: "5 failed 0.23.18",
        },
        Failure {
            scenario: "upgrade-fails-backup-unproven.yaml",
            task: STEP_1,
            result: serde_json::json!({"changed": true, "rc": 1, "msg": "non-zero return code"}),
            newest: "5 failed 0.23.18",
        },
    ];
    for failure in failures {
        let scenario = failure.scenario;
        let cluster = Cluster::start(scenario, 600.0).await;
        let log = failed_upgrade_log(&cluster).await;
        let (task, body) = last_task(&log);
        assert_eq!(task, failure.task, "{scenario}");
        assert_eq!(body.len(), 1, "{scenario}: {body:?}");
        let fatal = body[0]
            .strip_prefix("fatal: [localhost]: FAILED! => ")
            .unwrap_or_else(|| panic!("{scenario}: {}", body[0]));
        let result: Value = serde_json::from_str(fatal).expect("the result is JSON");
        for (key, value) in failure.result.as_object().unwrap() {
            assert_eq!(&result[key], value, "{scenario}: {key} in {fatal}");
        }
        assert_eq!(
            platform_revisions(&cluster).last().map(String::as_str),
            Some(failure.newest),
            "{scenario}"
        );
        let changed = failure.newest != unchanged;
        assert_eq!(
            component_images(&cluster, "commander").await[0].starts_with("quay.io/astronomer/"),
            changed,
            "{scenario}: commander's image"
        );
    }
}

#[tokio::test]
async fn the_failure_scenarios_logs_show_what_came_before_the_failure() {
    // The unknown task comes right after the database backup.
    let cluster = Cluster::start("upgrade-fails-unknown-task.yaml", 600.0).await;
    let log = failed_upgrade_log(&cluster).await;
    let names = task_names(&log);
    assert_eq!(
        names[names.len() - 2..],
        [
            "Backup Astronomer database",
            "Check Airflow chart compatibility"
        ]
    );
    assert_eq!(
        task_lines(&log, "Backup Astronomer database"),
        ["changed: [localhost]"]
    );

    // A skipped backup, then the failure at step (1/6).
    let cluster = Cluster::start("upgrade-fails-backup-unproven.yaml", 600.0).await;
    let log = failed_upgrade_log(&cluster).await;
    assert_eq!(
        task_lines(&log, "Backup Astronomer database"),
        ["skipping: [localhost]"]
    );
    assert_eq!(
        task_lines(&log, "Run SQL for Prisma 1 to Prisma 2 migration"),
        ["changed: [localhost]"]
    );

    // Retries print Ansible's RETRYING lines, counting down from the task's retries: 30.
    let cluster = Cluster::start("upgrade-fails-after-backup.yaml", 600.0).await;
    let log = failed_upgrade_log(&cluster).await;
    let wait = "Wait for Houston to apply migrations in 0.16";
    assert_eq!(
        task_lines(&log, wait),
        [
            format!("FAILED - RETRYING: {wait} (30 retries left)."),
            format!("FAILED - RETRYING: {wait} (29 retries left)."),
            format!("FAILED - RETRYING: {wait} (28 retries left)."),
            "ok: [localhost]".to_string(),
        ]
    );
    assert_eq!(
        task_lines(&log, "Backup Astronomer database"),
        ["changed: [localhost]"]
    );
}

#[tokio::test]
async fn a_failing_rollback_retries_the_restore_then_fails() {
    let cluster = Cluster::start("rollback-fails.yaml", 600.0).await;
    failed_upgrade_log(&cluster).await;
    assert_eq!(
        platform_revisions(&cluster).last().map(String::as_str),
        Some("5 failed 0.23.18")
    );
    let run = cluster
        .kubectl(&["apply", "-f", &manifest("rollback-0.16-to-0.23.yaml")])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = cluster
        .kubectl(&[
            "wait",
            "--for=condition=failed",
            "job/rollback-astronomer",
            "--timeout=60s",
        ])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = cluster.kubectl(&["logs", "job/rollback-astronomer"]).await;
    let (task, body) = last_task(&run.stdout);
    assert_eq!(
        task,
        "Restore Astronomer DB, retrying until all connections are closed"
    );
    assert_eq!(body.len(), 16, "{body:?}");
    assert_eq!(
        body[0],
        "FAILED - RETRYING: Restore Astronomer DB, retrying until all connections are closed (15 retries left)."
    );
    assert!(body[14].ends_with(" (1 retries left)."), "{}", body[14]);
    let result: Value = serde_json::from_str(
        body[15]
            .strip_prefix("fatal: [localhost]: FAILED! => ")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(result["attempts"], 16);
    assert_eq!(result["changed"], false);
    assert!(
        result["msg"]
            .as_str()
            .unwrap()
            .contains("is being accessed by other users"),
        "{result}"
    );
    assert_eq!(
        platform_revisions(&cluster).last().map(String::as_str),
        Some("5 failed 0.23.18"),
        "a failed rollback writes no revision"
    );
}

#[tokio::test]
async fn image_pull_failure_shows_in_pod_status() {
    let cluster = Cluster::start("image-pull-fails.yaml", 600.0).await;
    assert_eq!(
        cluster
            .kubectl(&["apply", "-f", &manifest("upgrade-0.16-to-0.23.yaml")])
            .await
            .code,
        0
    );
    let mut seen = Vec::new();
    for _ in 0..50 {
        let run = cluster
            .kubectl(&["get", "pods", "-l", "job-name=upgrade-astronomer"])
            .await;
        if let Some(pod) = rows_named(&run.stdout, "upgrade-astronomer-").first() {
            let status = pod[2].to_string();
            if !seen.contains(&status) {
                seen.push(status);
            }
        }
        if seen.iter().any(|s| s == "ImagePullBackOff") && seen.iter().any(|s| s == "ErrImagePull")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(seen.iter().any(|s| s == "ErrImagePull"), "{seen:?}");
    assert!(seen.iter().any(|s| s == "ImagePullBackOff"), "{seen:?}");
    assert!(
        !seen.iter().any(|s| s == "Running" || s == "Completed"),
        "{seen:?}"
    );
    let run = cluster.kubectl(&["logs", "job/upgrade-astronomer"]).await;
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("is waiting to start"), "{}", run.stderr);
}

#[tokio::test]
async fn unbound_claim_keeps_the_upgrade_pod_pending() {
    let cluster = Cluster::start("pvc-never-binds.yaml", 600.0).await;
    assert_eq!(
        cluster
            .kubectl(&["apply", "-f", &manifest("upgrade-0.16-to-0.23.yaml")])
            .await
            .code,
        0
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let run = cluster.kubectl(&["get", "pvc"]).await;
    assert_eq!(
        row(&run.stdout, "astronomer-upgrades-backup")[1],
        "Pending",
        "{}",
        run.stdout
    );
    let run = cluster.kubectl(&["get", "pods", "-l", "run=upgrade"]).await;
    assert_eq!(
        rows_named(&run.stdout, "upgrade-astronomer-")[0][2],
        "Pending",
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn get_storageclass_marks_the_default() {
    let cluster = Cluster::start("healthy-upgrade-succeeds.yaml", 1.0).await;
    let run = cluster.kubectl(&["get", "storageclass"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        row(&run.stdout, "gp2")[..3],
        ["gp2", "(default)", "kubernetes.io/aws-ebs"]
    );
}

#[test]
fn scenario_unknown_fields_are_rejected_with_file_and_line() {
    let text = "server:\n  git_version: v1.16.15\npods:\n  - name: a\n    namespace: b\n    containers: [{image: x}]\n    restart_count: 3\n";
    let error = Scenario::from_yaml("typo.yaml", text)
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("typo.yaml:"), "{error}");
    assert!(error.contains("restart_count"), "{error}");
    let line: usize = error.split(':').nth(1).unwrap().parse().unwrap();
    assert_eq!(line, 7, "the line of the unknown key: {error}");
}

#[test]
fn every_repo_scenario_parses() {
    let dir = repo_root().join("tests/scenarios");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            Scenario::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
            count += 1;
        }
    }
    // The sixteen scenarios of this tree at least (a new one may be added without editing this).
    assert!(
        count >= 16,
        "only {count} scenarios read from {}",
        dir.display()
    );
}

#[tokio::test]
async fn logs_follow_streams_until_the_container_ends() {
    // 100: the ten simulated minutes take six seconds, long enough to attach while it runs.
    let cluster = Cluster::start("healthy-upgrade-succeeds.yaml", 100.0).await;
    assert_eq!(
        cluster
            .kubectl(&["apply", "-f", &manifest("upgrade-0.16-to-0.23.yaml")])
            .await
            .code,
        0
    );
    let run = cluster
        .kubectl(&[
            "wait",
            "--for=condition=ready",
            "pod",
            "-l",
            "job-name=upgrade-astronomer",
            "--timeout=60s",
        ])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = cluster
        .kubectl(&["logs", "-f", "job/upgrade-astronomer"])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("TASK [(6/6) Upgrade Astronomer: Helm upgrade - Turn off airflow auto upgrade configuration. Perfunctory step, nothing to look for.] ***"),
        "{}",
        run.stdout
    );
    let last = run
        .stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap();
    assert!(
        last.starts_with("localhost ") && last.contains("failed=0"),
        "ends with the recap: {last}"
    );
    let job = cluster
        .sim
        .object("batch/v1", "Job", Some("default"), "upgrade-astronomer")
        .unwrap();
    assert_eq!(
        job["status"]["succeeded"], 1,
        "the stream ended because the pod finished"
    );
}

#[tokio::test]
async fn describe_shows_why_the_upgrade_pod_is_pending() {
    let cluster = Cluster::start("pvc-never-binds.yaml", 600.0).await;
    assert_eq!(
        cluster
            .kubectl(&["apply", "-f", &manifest("upgrade-0.16-to-0.23.yaml")])
            .await
            .code,
        0
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let run = cluster
        .kubectl(&["describe", "pod", "-l", "job-name=upgrade-astronomer"])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(row(&run.stdout, "Status:"), ["Status:", "Pending"]);
    assert_eq!(
        row(&run.stdout, "Controlled"),
        ["Controlled", "By:", "Job/upgrade-astronomer"]
    );
    let events = &run.stdout[run.stdout.find("Events:").expect("an Events section")..];
    assert!(events.contains("FailedScheduling"), "{events}");
    assert!(
        events.contains("unbound immediate PersistentVolumeClaims"),
        "{events}"
    );
    let run = cluster
        .kubectl(&["describe", "pvc", "astronomer-upgrades-backup"])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("ProvisioningFailed"), "{}", run.stdout);
}

#[tokio::test]
async fn kube_sim_binary_announces_its_url_writes_a_kubeconfig_and_stops_on_sigterm() {
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let scenario = repo_root().join("tests/scenarios/missing-rights.yaml");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_kube-sim"))
        .arg("--scenario")
        .arg(&scenario)
        .arg("--kubeconfig-out")
        .arg(&kubeconfig)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("kube-sim starts");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().expect("a first line");
    let url = first
        .strip_prefix("listening on http://127.0.0.1:")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
    assert!(url.parse::<u16>().is_ok(), "{first}");
    lines.next_line().await.unwrap();
    let config = std::fs::read_to_string(&kubeconfig).unwrap();
    assert!(
        config.contains(&format!("server: {}", &first["listening on ".len()..])),
        "{config}"
    );

    let run = tokio::process::Command::new(kubectl_path())
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["auth", "can-i", "create", "clusterroles"])
        .env("HOME", dir.path())
        .output()
        .await
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "no");

    let pid = child.id().expect("running") as i32;
    let status = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(std::time::Duration::from_secs(10), child.wait())
        .await
        .expect("kube-sim stops on SIGTERM")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn kube_sim_binary_rejects_a_bad_scenario_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("bad.yaml");
    std::fs::write(&scenario, "server:\n  git_verison: v1.16.0\n").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kube-sim"))
        .arg("--scenario")
        .arg(&scenario)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("{}:2:", scenario.display())),
        "{stderr}"
    );
    assert!(stderr.contains("unknown field `git_verison`"), "{stderr}");
}

#[tokio::test]
async fn get_nodes_shows_ready_nodes_with_the_server_version() {
    let cluster = Cluster::start("large-5000-pods.yaml", 1.0).await;
    let run = cluster.kubectl(&["get", "nodes"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows: Vec<Vec<&str>> = run
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 3, "{}", run.stdout);
    assert!(
        rows.iter()
            .all(|r| r[1..] == ["Ready", "<none>", "90d", "v1.18.20-gke.901"]),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn platform_rollout_after_the_upgrade_is_complete() {
    let cluster = Cluster::start("healthy-upgrade-succeeds.yaml", 600.0).await;
    assert_eq!(
        cluster
            .kubectl(&["apply", "-f", &manifest("upgrade-0.16-to-0.23.yaml")])
            .await
            .code,
        0
    );
    let run = cluster
        .kubectl(&[
            "wait",
            "--for=condition=complete",
            "job/upgrade-astronomer",
            "--timeout=60s",
        ])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = cluster
        .kubectl(&[
            "rollout",
            "status",
            "deployment/astronomer-houston",
            "-n",
            "astronomer",
            "--timeout=10s",
        ])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("successfully rolled out"),
        "{}",
        run.stdout
    );
    let run = cluster
        .kubectl(&[
            "get",
            "deployment",
            "astronomer-houston",
            "-n",
            "astronomer",
            "-o",
            "wide",
        ])
        .await;
    let houston = row(&run.stdout, "astronomer-houston");
    assert_eq!(houston[1..4], ["2/2", "2", "2"], "{}", run.stdout);
    assert_eq!(
        houston[6], "quay.io/astronomer/ap-houston-api:0.23.24",
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn get_all_lists_workloads_with_their_printer_columns() {
    let cluster = Cluster::start("healthy-upgrade-succeeds.yaml", 1.0).await;
    let run = cluster
        .kubectl(&["get", "all", "-n", "astronomer-quasaric-sun-9051"])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        row(&run.stdout, "deployment.apps/quasaric-sun-9051-scheduler")[1..],
        ["1/1", "1", "1", "30d"]
    );
    assert_eq!(
        row(&run.stdout, "statefulset.apps/quasaric-sun-9051-worker")[1..],
        ["2/2", "30d"]
    );
    assert_eq!(
        row(&run.stdout, "pod/quasaric-sun-9051-worker-1")[1..],
        ["1/1", "Running", "0", "30d"]
    );
}

#[tokio::test]
async fn get_raw_through_the_service_proxy_sees_the_scripted_answers() {
    let mut scenario =
        Scenario::from_file(&repo_root().join("tests/scenarios/healthy-upgrade-succeeds.yaml"))
            .expect("repo scenarios parse");
    let es = scenario
        .services
        .iter_mut()
        .find(|s| s.name == "astronomer-elasticsearch")
        .expect("the scenario has Elasticsearch");
    es.after_upgrade = vec![kube_sim::proxy::ProxyAnswer {
        path: "/_cluster/health".into(),
        status: 200,
        body: r#"{"status":"red"}"#.into(),
    }];
    let cluster = Cluster::start_scenario(scenario, 100.0).await;
    let raw = |path: &'static str| {
        let cluster = &cluster;
        async move { cluster.kubectl(&["get", "--raw", path]).await }
    };
    let health = raw("/api/v1/namespaces/astronomer/services/astronomer-elasticsearch:9200/proxy/_cluster/health").await;
    assert_eq!(health.code, 0, "{}", health.stderr);
    assert!(
        health.stdout.contains(r#""status":"green""#),
        "{}",
        health.stdout
    );
    let houston =
        raw("/api/v1/namespaces/astronomer/services/astronomer-houston:8871/proxy/v1/healthz")
            .await;
    assert_eq!(houston.code, 0, "{}", houston.stderr);
    assert_eq!(houston.stdout.trim(), r#"{"status":"ok"}"#);
    // kubectl reports a backend's 401 and the API server's 404 for an unknown service.
    let registry =
        raw("/api/v1/namespaces/astronomer/services/astronomer-registry:5000/proxy/v2/").await;
    assert_ne!(registry.code, 0);
    // kubectl reads any 401 as its own credentials being refused.
    assert!(
        registry.stderr.contains("provide credentials"),
        "{}",
        registry.stderr
    );
    let missing = raw("/api/v1/namespaces/astronomer/services/astronomer-nothing:80/proxy/").await;
    assert_ne!(missing.code, 0);
    assert!(missing.stderr.contains("not found"), "{}", missing.stderr);

    // Once the upgrade Job exists, Elasticsearch answers red.
    let manifest = repo_root().join("tests/manifests/upgrade-0.16-to-0.23.yaml");
    let applied = cluster
        .kubectl(&["apply", "-f", manifest.to_str().expect("utf-8")])
        .await;
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    let health = raw("/api/v1/namespaces/astronomer/services/astronomer-elasticsearch:9200/proxy/_cluster/health").await;
    assert_eq!(health.code, 0, "{}", health.stderr);
    assert_eq!(health.stdout.trim(), r#"{"status":"red"}"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_gets_a_token_from_the_exec_plugin_and_caches_it_until_it_expires() {
    // Tokens live 60 simulated seconds; at time scale 60, one real second.
    let cluster = Cluster::start_with_tokens("healthy-upgrade-succeeds.yaml", 60.0, 60.0).await;
    assert!(cluster.sim.url().starts_with("https://"));
    let first = cluster.kubectl(&["get", "pods", "-A"]).await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first.stdout.contains("astronomer-houston"),
        "{}",
        first.stdout
    );
    let api_requests = |sim: &Sim| {
        sim.requests()
            .into_iter()
            .filter(|r| r.path != kube_sim::auth::TOKEN_PATH)
            .count()
    };
    let made = api_requests(&cluster.sim);
    assert!(made > 2, "discovery and the list: {made}");
    assert_eq!(
        cluster.sim.token_requests(),
        1,
        "one plugin call serves every request of the run while the token lives"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let second = cluster.kubectl(&["get", "jobs"]).await;
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(
        cluster.sim.token_requests(),
        2,
        "a new process, a new token"
    );
    let refused: Vec<String> = cluster
        .sim
        .requests()
        .iter()
        .filter(|r| r.status == 401)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(
        refused.is_empty(),
        "kubectl never sent a stale token: {refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_ends_when_its_token_expires() {
    let cluster = Cluster::start_with_tokens("healthy-upgrade-succeeds.yaml", 60.0, 60.0).await;
    // kubectl does not open a new watch when one ends: `get -w` returns when the token expires.
    let watch = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        cluster.kubectl(&["get", "jobs", "-w"]),
    )
    .await
    .expect("the watch ends with its token, long before 20 s");
    assert_eq!(watch.code, 0, "{}", watch.stderr);
    let watched = cluster
        .sim
        .requests()
        .into_iter()
        .find(|r| r.watch)
        .expect("kubectl watched");
    assert_eq!(watched.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_reports_a_failing_exec_plugin_as_it_does_against_eks() {
    let cluster = Cluster::start_with_tokens("healthy-upgrade-succeeds.yaml", 60.0, 60.0).await;
    cluster.sim.set_token_plugin(kube_sim::TokenPlugin::Failing);
    let run = cluster.kubectl(&["get", "pods"]).await;
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stderr.contains("getting credentials"),
        "client-go's words for a failed plugin: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("no token issued"),
        "the plugin's own reason reaches the operator: {}",
        run.stderr
    );
    assert!(
        cluster.sim.token_requests() >= 1,
        "the plugin was called and refused"
    );
    let served = cluster
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.path != kube_sim::auth::TOKEN_PATH && r.status == 200)
        .count();
    assert_eq!(served, 0, "nothing is served without a token");
}
