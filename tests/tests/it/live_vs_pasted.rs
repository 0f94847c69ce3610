//! One truth (issue 11): the same cluster gives the same facts and the same check statuses
//! whether its evidence was pasted or collected live.
//!
//! Every scenario of `tests/scenarios/` runs in kube-sim. The pasted side is the real kubectl's
//! output (`kubectl get pods -A`, its `-o json`, `kubectl version`, `kubectl get storageclass`,
//! the `permissions` check's `kubectl auth can-i` questions, the bootstrap Secret's connection
//! through `base64 -d`, `kubectl config get-contexts` and the images of pods and workloads), read
//! by the planner's readers and, written into a paste folder, judged by `astro-upgrade check
//! --paste`. The live side is `astro-upgrade collect` (the real binary) and `check --bundle`.
//! Facts are compared field by field (never the `at` source locations, never a password), and
//! the statuses of every check both sides can decide must be equal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kube_sim::Scenario;
use planner::facts::{Facts, Severity};
use planner::input::{read_source, EvidenceKind, Source};
use planner::path::{PermissionScope, LTS_0_16_TO_0_23};
use serde_json::Value;

use crate::conformance::{kubectl_path, repo_root};
use crate::support::{self, astro_upgrade, Output};

/// Checks `check --paste` and `check --bundle` cannot both decide here, and why.
const EXCLUDED_CHECKS: [(&str, &str); 5] = [
    (
        "kubectl-skew",
        "collect talks to the API server, not through kubectl: the live side has no client version",
    ),
    (
        "platform-version",
        "Helm releases: collect reads Helm 3's release Secrets, but there is no helm client here to paste `helm list -A`",
    ),
    (
        "helm-release-state",
        "Helm releases and history: as platform-version (no `helm history` to paste)",
    ),
    (
        "airflow-releases",
        "Helm releases in every state: collect reads them all from the release Secrets, and no `helm list -A --all` can be pasted here",
    ),
    (
        "rollback-readiness",
        "the upgrade's ServiceAccount, backup PVC and Job are seen by collect only: no paste kind carries them",
    ),
];

/// The same acknowledgements on both sides, so the checks that only read them are decided too.
const ACKS: [&str; 2] = ["system-admin", "database-backup=snapshot-2026-11-27"];

/// The STATUS kubectl shows for each pod of `pod-states.yaml` that is not a plain healthy one.
const POD_STATES: [(&str, &str); 9] = [
    (
        "astronomer-quasaric-sun-9051/quasaric-sun-9051-run-airflow-migrations-8xg2n",
        "Completed",
    ),
    (
        "astronomer-quasaric-sun-9051/quasaric-sun-9051-scheduler-7d9f8c6b5-x2x7p",
        "Error",
    ),
    (
        "astronomer/astronomer-elasticsearch-client-5f7d8c9b4-hq6zr",
        "Signal:9",
    ),
    (
        "astronomer-quasaric-sun-9051/quasaric-sun-9051-worker-1",
        "OOMKilled",
    ),
    (
        "astronomer/astronomer-houston-upgrade-deployments-kw2xh",
        "ExitCode:3",
    ),
    (
        "astronomer-quasaric-sun-9051/quasaric-sun-9051-webserver-6c9d7f8b5-m4n7p",
        "NotReady",
    ),
    ("astronomer/astronomer-nginx-7f9c8d6b5-zt4kq", "Running"),
    (
        "astronomer/astronomer-prisma-6b7c9d8f4-vq8rn",
        "Terminating",
    ),
    ("astronomer/astronomer-registry-0", "Unknown"),
];

/// A fact reduced to what both sides produce: a key (`namespace/name`, `create pods -n ns`) and
/// its compared fields as one line.
type Rows = BTreeMap<String, String>;

/// What one scenario showed on each side, for tests that look closer.
struct Compared {
    /// Pods read from `kubectl get pods -A`, from its `-o json`, and collected live.
    table_pods: Rows,
    json_pods: Rows,
    live_pods: Rows,
    /// Check id → status on each side.
    pasted_statuses: BTreeMap<String, String>,
    live_statuses: BTreeMap<String, String>,
    timing: Timing,
}

#[derive(Debug, Default)]
struct Timing {
    kubectl: Duration,
    collect: Duration,
    checks: Duration,
}

fn scenario_files() -> Vec<String> {
    let dir = repo_root().join("tests/scenarios");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yaml"))
        .collect();
    files.sort();
    files
}

/// The real kubectl's output as a terminal shows it: standard output, then standard error.
fn pasted(output: &Output) -> String {
    format!("{}{}", output.stdout, output.stderr)
}

fn expect_ok(what: &str, output: &Output) {
    assert_eq!(
        output.code, 0,
        "`{what}` failed ({}): {}",
        output.code, output.stderr
    );
}

/// The kubectl outputs a person pastes for this cluster, by paste-folder file name. The pods are
/// given twice, as `pods.txt` (the table) and `pods.json` (`-o json`), for two paste folders.
async fn paste_evidence(kubeconfig: &Path, home: &Path) -> BTreeMap<&'static str, String> {
    let mut files = BTreeMap::new();
    let kubectl = |args: &'static [&'static str]| support::kubectl(kubeconfig, home, args);

    let version = kubectl(&["version"]).await;
    expect_ok("kubectl version", &version);
    files.insert("kubectl-version.txt", pasted(&version));

    let pods = kubectl(&["get", "pods", "-A"]).await;
    expect_ok("kubectl get pods -A", &pods);
    files.insert("pods.txt", pasted(&pods));
    let pods = kubectl(&["get", "pods", "-A", "-o", "json"]).await;
    expect_ok("kubectl get pods -A -o json", &pods);
    files.insert("pods.json", pasted(&pods));

    let classes = kubectl(&["get", "storageclass"]).await;
    expect_ok("kubectl get storageclass", &classes);
    files.insert("storageclass.txt", pasted(&classes));

    let contexts = kubectl(&["config", "get-contexts"]).await;
    expect_ok("kubectl config get-contexts", &contexts);
    files.insert("contexts.txt", pasted(&contexts));

    // The `permissions` check's questions, each after its command line: `yes`/`no` alone would
    // not say what was asked. `no` exits 1.
    let path = &LTS_0_16_TO_0_23;
    let mut transcript = String::new();
    for required in path.permissions {
        let namespace = match required.scope {
            PermissionScope::PlatformNamespace => Some(path.default_platform_namespace),
            PermissionScope::UpgradeNamespace => Some(path.upgrade_namespace),
            PermissionScope::Cluster | PermissionScope::AllNamespaces => None,
        };
        let mut args = vec!["auth", "can-i", required.verb, required.resource];
        if let Some(namespace) = namespace {
            args.extend(["-n", namespace]);
        }
        if required.scope == PermissionScope::AllNamespaces {
            args.push("-A");
        }
        let answer = support::kubectl(kubeconfig, home, &args).await;
        assert!(
            matches!(answer.code, 0 | 1),
            "`kubectl {}` failed ({}): {}",
            args.join(" "),
            answer.code,
            answer.stderr
        );
        // as a shell shows it: `*` quoted, or the shell would expand it
        let typed: Vec<&str> = args
            .iter()
            .map(|a| if *a == "*" { "'*'" } else { a })
            .collect();
        transcript.push_str(&format!(
            "$ kubectl {}\n{}",
            typed.join(" "),
            pasted(&answer)
        ));
    }
    files.insert("can-i.txt", transcript);

    // The connection string as the database-connection check asks for it, through the real
    // `base64 -d`. A missing Secret leaves kubectl's NotFound error, as a terminal shows it.
    let script = format!(
        "\"$1\" --kubeconfig \"$2\" get secret {} -n {} -o jsonpath='{{.data.connection}}' | base64 -d",
        path.bootstrap_secret, path.default_platform_namespace
    );
    let mut shell = tokio::process::Command::new("sh");
    shell
        .arg("-c")
        .arg(&script)
        .arg("sh")
        .arg(kubectl_path())
        .arg(kubeconfig)
        .env("HOME", home);
    let connection = support::run_to_end(shell, &script).await;
    files.insert("connection.txt", pasted(&connection));

    // Every image a pod or a workload template names, one a line (what collect looks at).
    const POD_IMAGES: &str = r#"jsonpath={range .items[*]}{range .spec.initContainers[*]}{.image}{"\n"}{end}{range .spec.containers[*]}{.image}{"\n"}{end}{end}"#;
    const TEMPLATE_IMAGES: &str = r#"jsonpath={range .items[*]}{range .spec.template.spec.initContainers[*]}{.image}{"\n"}{end}{range .spec.template.spec.containers[*]}{.image}{"\n"}{end}{end}"#;
    let pod_images = kubectl(&["get", "pods", "-A", "-o", POD_IMAGES]).await;
    expect_ok("kubectl get pods -A -o jsonpath=…image…", &pod_images);
    let template_images = kubectl(&[
        "get",
        "deployments,statefulsets",
        "-A",
        "-o",
        TEMPLATE_IMAGES,
    ])
    .await;
    expect_ok(
        "kubectl get deployments,statefulsets -A -o jsonpath=…image…",
        &template_images,
    );
    files.insert(
        "images.txt",
        format!("{}{}", pasted(&pod_images), pasted(&template_images)),
    );
    files
}

/// The facts one pasted file gives, read as `check --paste` reads it (kind from the file name).
fn read_pasted(files: &BTreeMap<&'static str, String>, name: &str) -> Facts {
    let text = files
        .get(name)
        .unwrap_or_else(|| panic!("no {name} pasted"));
    read_source(&Source::new(
        name,
        EvidenceKind::from_file_name(name),
        text.as_str(),
    ))
}

fn pod_rows(facts: &Facts) -> Rows {
    let mut rows = Rows::new();
    for pod in &facts.pods {
        let key = format!("{}/{}", pod.namespace.as_deref().unwrap_or("?"), pod.name);
        let row = format!(
            "READY {} STATUS {} RESTARTS {} {}",
            pod.ready.as_deref().unwrap_or("?"),
            pod.status,
            pod.restarts.map_or("?".to_string(), |r| r.to_string()),
            if pod.healthy { "healthy" } else { "unhealthy" }
        );
        if let Some(earlier) = rows.insert(key.clone(), row) {
            rows.insert(key, format!("listed twice (also as {earlier})"));
        }
    }
    rows
}

fn server_rows(facts: &Facts) -> Rows {
    facts
        .kubernetes
        .server_version
        .iter()
        .map(|v| ("server version".to_string(), v.clone()))
        .collect()
}

fn storage_class_rows(facts: &Facts) -> Rows {
    facts
        .storage_classes
        .iter()
        .map(|c| {
            let default = if c.default { "(default) " } else { "" };
            let provisioner = c.provisioner.as_deref().unwrap_or("?");
            (c.name.clone(), format!("{default}{provisioner}"))
        })
        .collect()
}

fn permission_rows(facts: &Facts) -> Rows {
    facts
        .permissions
        .iter()
        .map(|p| {
            let namespace = p
                .namespace
                .as_deref()
                .map_or(String::new(), |ns| format!(" -n {ns}"));
            let key = format!("{} {}{namespace}", p.verb, p.resource);
            (key, if p.allowed { "yes" } else { "no" }.to_string())
        })
        .collect()
}

/// Scheme, host, whether a port is given, and the upgrader pattern's split: all a connection
/// fact holds (never a password).
fn connection_rows(facts: &Facts) -> Rows {
    facts
        .database_connection
        .iter()
        .map(|c| {
            let port = if c.has_port { "with port" } else { "no port" };
            let split = match (&c.upgrader, c.upgrader_evaluated) {
                (Some(s), _) => format!(
                    "upgrader: {}@{}{}:{}{}{}",
                    s.user,
                    if s.host_holds_password { "…@" } else { "" },
                    s.host,
                    s.port,
                    if s.password_empty {
                        ", no password"
                    } else {
                        ""
                    },
                    if s.percent_encoded { ", %-escapes" } else { "" },
                ),
                (None, true) => "upgrader: no match".to_string(),
                (None, false) => "upgrader: not evaluated".to_string(),
            };
            (
                LTS_0_16_TO_0_23.bootstrap_secret.to_string(),
                format!("{}://{} ({port}; {split})", c.scheme, c.host),
            )
        })
        .collect()
}

fn context_rows(facts: &Facts) -> Rows {
    facts
        .contexts
        .iter()
        .map(|c| {
            let current = if c.current { "current, " } else { "" };
            let namespace = c.namespace.as_deref().unwrap_or("(none)");
            (c.name.clone(), format!("{current}namespace {namespace}"))
        })
        .collect()
}

fn image_rows(facts: &Facts) -> Rows {
    facts
        .images
        .iter()
        .map(|i| {
            let certified = i.certified.as_ref().map_or(String::new(), |c| {
                format!("certified Airflow {}", c.airflow_version)
            });
            (i.reference.clone(), certified)
        })
        .collect()
}

/// Each difference between two sides' rows, as a line naming the fact.
fn diff(what: &str, pasted: &Rows, live: &Rows, differences: &mut Vec<String>) {
    for (key, p) in pasted {
        match live.get(key) {
            Some(l) if l == p => {}
            Some(l) => differences.push(format!("{what} {key}: pasted `{p}`, live `{l}`")),
            None => differences.push(format!("{what} {key}: pasted `{p}`, not collected live")),
        }
    }
    for (key, l) in live {
        if !pasted.contains_key(key) {
            differences.push(format!("{what} {key}: live `{l}`, not read from the paste"));
        }
    }
}

/// The diagnostics the readers gave on real kubectl output that a person would have to act on.
fn reader_complaints(name: &str, facts: &Facts) -> Vec<String> {
    facts
        .diagnostics
        .iter()
        .filter(|d| d.severity != Severity::Info)
        .map(|d| {
            format!(
                "{name}:{}: {:?}: {}",
                d.line.unwrap_or(0),
                d.severity,
                d.message
            )
        })
        .collect()
}

/// Check id → status (and the status of each item, for checks that have items), from
/// `check --output json`.
fn statuses(report: &str, what: &str) -> BTreeMap<String, String> {
    let report: Value = serde_json::from_str(report)
        .unwrap_or_else(|e| panic!("{what}: not a JSON report ({e}):\n{report}"));
    let findings = report["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: no findings in {report}"));
    findings
        .iter()
        .map(|f| {
            let mut status = f["status"].as_str().unwrap_or("?").to_string();
            for item in f["items"].as_array().into_iter().flatten() {
                status.push_str(&format!(
                    "; {} {}",
                    item["subject"].as_str().unwrap_or("?"),
                    item["status"].as_str().unwrap_or("?")
                ));
            }
            (f["check"].as_str().unwrap_or("?").to_string(), status)
        })
        .collect()
}

/// `astro-upgrade check --output json` with `evidence` flags: its per-check statuses.
async fn check(
    dir: &Path,
    kubeconfig: &Path,
    evidence: &[&str],
) -> (BTreeMap<String, String>, String) {
    let mut args = vec!["check", "--output", "json"];
    args.extend_from_slice(evidence);
    for ack in ACKS {
        args.extend(["--ack", ack]);
    }
    let run = astro_upgrade(dir, kubeconfig, &args).await;
    let what = format!("astro-upgrade {}", args.join(" "));
    assert!(
        matches!(run.code, 0 | 3 | 4),
        "`{what}` exited {}: {}{}",
        run.code,
        run.stdout,
        run.stderr
    );
    let verdict = serde_json::from_str::<Value>(&run.stdout)
        .ok()
        .and_then(|r| r["verdict"].as_str().map(str::to_string))
        .unwrap_or_default();
    (statuses(&run.stdout, &what), verdict)
}

fn write_paste_dir(dir: &Path, files: &BTreeMap<&'static str, String>, skip: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("the paste folder is created");
    for (name, text) in files {
        if *name != skip {
            std::fs::write(dir.join(name), text).expect("a pasted file is written");
        }
    }
    dir.to_path_buf()
}

/// Runs one repo scenario both ways and asserts they agree; panics naming every difference.
async fn one_truth(file: &str) -> Compared {
    let path = repo_root().join("tests/scenarios").join(file);
    let scenario = Scenario::from_file(&path).expect("the scenario reads");
    one_truth_of(file, scenario).await
}

/// Runs `scenario` (called `file` in messages) both ways and asserts they agree.
async fn one_truth_of(file: &str, scenario: Scenario) -> Compared {
    let storage_classes = scenario.storage_classes.len();
    let has_bootstrap = scenario.bootstrap_secret.is_some();
    let (sim, dir, kubeconfig) = support::start_sim(scenario, 1.0).await;
    let mut timing = Timing::default();

    let started = Instant::now();
    let files = paste_evidence(&kubeconfig, dir.path()).await;
    timing.kubectl = started.elapsed();

    let started = Instant::now();
    let bundle = dir.path().join("bundle.json");
    let bundle_arg = bundle.to_str().expect("a UTF-8 path");
    let collect = astro_upgrade(dir.path(), &kubeconfig, &["collect", "--out", bundle_arg]).await;
    assert_eq!(
        collect.code, 0,
        "{file}: astro-upgrade collect failed: {}{}",
        collect.stdout, collect.stderr
    );
    timing.collect = started.elapsed();
    let bundle_text = std::fs::read_to_string(&bundle).expect("collect wrote the bundle");
    let live = read_source(&Source::new(
        "bundle.json",
        Some(EvidenceKind::Bundle),
        bundle_text,
    ));

    // 1. The facts, field by field.
    let mut differences = Vec::new();
    let mut complaints = reader_complaints("bundle.json", &live);
    let mut read = |name: &str| {
        let facts = read_pasted(&files, name);
        complaints.extend(reader_complaints(name, &facts));
        facts
    };
    let table = read("pods.txt");
    let json = read("pods.json");
    let version = read("kubectl-version.txt");
    let classes = read("storageclass.txt");
    let can_i = read("can-i.txt");
    let connection = read("connection.txt");
    let contexts = read("contexts.txt");
    let images = read("images.txt");
    let (table_pods, json_pods, live_pods) = (pod_rows(&table), pod_rows(&json), pod_rows(&live));
    diff(
        "pod (kubectl get pods -A)",
        &table_pods,
        &live_pods,
        &mut differences,
    );
    diff(
        "pod (kubectl get pods -A -o json)",
        &json_pods,
        &live_pods,
        &mut differences,
    );
    diff(
        "kubectl version:",
        &server_rows(&version),
        &server_rows(&live),
        &mut differences,
    );
    diff(
        "storage class",
        &storage_class_rows(&classes),
        &storage_class_rows(&live),
        &mut differences,
    );
    diff(
        "can-i",
        &permission_rows(&can_i),
        &permission_rows(&live),
        &mut differences,
    );
    diff(
        "connection of",
        &connection_rows(&connection),
        &connection_rows(&live),
        &mut differences,
    );
    diff(
        "context",
        &context_rows(&contexts),
        &context_rows(&live),
        &mut differences,
    );
    diff(
        "image",
        &image_rows(&images),
        &image_rows(&live),
        &mut differences,
    );

    // Agreement on nothing proves nothing: each side must have read the whole cluster.
    let pods = sim.objects("v1", "Pod", None).len();
    let counts = [
        ("pods from the table", table_pods.len(), pods),
        ("pods from -o json", json_pods.len(), pods),
        ("pods collected", live_pods.len(), pods),
        (
            "can-i answers pasted",
            can_i.permissions.len(),
            LTS_0_16_TO_0_23.permissions.len(),
        ),
        (
            "permissions collected",
            live.permissions.len(),
            LTS_0_16_TO_0_23.permissions.len(),
        ),
        (
            "storage classes pasted",
            classes.storage_classes.len(),
            storage_classes,
        ),
        (
            "storage classes collected",
            live.storage_classes.len(),
            storage_classes,
        ),
        (
            "connections pasted",
            usize::from(connection.database_connection.is_some()),
            usize::from(has_bootstrap),
        ),
        (
            "connections collected",
            usize::from(live.database_connection.is_some()),
            usize::from(has_bootstrap),
        ),
        (
            "server versions pasted",
            usize::from(version.kubernetes.server_version.is_some()),
            1,
        ),
        (
            "server versions collected",
            usize::from(live.kubernetes.server_version.is_some()),
            1,
        ),
    ];
    for (what, found, expected) in counts {
        if found != expected {
            differences.push(format!("{what}: {found}, expected {expected}"));
        }
    }
    if images.images.is_empty() || contexts.contexts.is_empty() {
        differences.push("no image or no context read from the paste".to_string());
    }

    // 2. The verdicts: the same statuses from a paste folder (table or JSON pods) and the bundle.
    let started = Instant::now();
    let table_dir = write_paste_dir(&dir.path().join("paste-table"), &files, "pods.json");
    let json_dir = write_paste_dir(&dir.path().join("paste-json"), &files, "pods.txt");
    let (live_statuses, live_verdict) =
        check(dir.path(), &kubeconfig, &["--bundle", bundle_arg]).await;
    let mut pasted_statuses = BTreeMap::new();
    for (pods, paste_dir) in [("pods.txt", &table_dir), ("pods.json", &json_dir)] {
        let paste_arg = paste_dir.to_str().expect("a UTF-8 path");
        let (statuses, _) = check(dir.path(), &kubeconfig, &["--paste", paste_arg]).await;
        for id in LTS_0_16_TO_0_23.checks.iter().map(|c| c.id) {
            if EXCLUDED_CHECKS.iter().any(|(excluded, _)| *excluded == id) {
                continue;
            }
            let pasted = statuses.get(id).map_or("(none)", String::as_str);
            let collected = live_statuses.get(id).map_or("(none)", String::as_str);
            if pasted != collected {
                differences.push(format!(
                    "check {id} (paste with {pods} vs bundle): pasted `{pasted}`, live `{collected}`"
                ));
            }
        }
        pasted_statuses = statuses;
    }
    timing.checks = started.elapsed();

    if !differences.is_empty() || !complaints.is_empty() {
        panic!(
            "{file}: pasted and live evidence disagree ({} differences){}{}\n\nreader diagnostics on real kubectl output:\n  {}\n\nlive verdict {live_verdict}",
            differences.len(),
            if differences.is_empty() { "" } else { ":\n  " },
            differences.join("\n  "),
            if complaints.is_empty() {
                "(none)".to_string()
            } else {
                complaints.join("\n  ")
            },
        );
    }
    drop(sim);
    Compared {
        table_pods,
        json_pods,
        live_pods,
        pasted_statuses,
        live_statuses,
        timing,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_gives_the_same_facts_and_statuses_pasted_or_collected() {
    let files = scenario_files();
    assert!(
        files.len() >= 10,
        "the repo's scenarios are found: {files:?}"
    );
    for (id, why) in EXCLUDED_CHECKS {
        assert!(LTS_0_16_TO_0_23.check(id).is_some(), "no check {id}");
        eprintln!("not compared: {id}: {why}");
    }
    // Built (when stale) before the clock starts, so the first scenario's timing is its own.
    tokio::task::spawn_blocking(support::astro_upgrade_binary)
        .await
        .expect("the binary is built");
    let mut failures = Vec::new();
    let started = Instant::now();
    for file in files {
        let scenario_started = Instant::now();
        let name = file.clone();
        match tokio::spawn(async move { one_truth(&name).await }).await {
            Ok(compared) => {
                let pods = compared.live_pods.len();
                let t = compared.timing;
                eprintln!(
                    "{file}: {pods} pods agree; {:.2?} in all (kubectl {:.2?}, collect {:.2?}, checks {:.2?})",
                    scenario_started.elapsed(),
                    t.kubectl,
                    t.collect,
                    t.checks
                );
            }
            Err(error) => {
                let message = match error.try_into_panic() {
                    Ok(payload) => payload
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "a panic without a message".to_string()),
                    Err(error) => error.to_string(),
                };
                if message.starts_with(&file) {
                    failures.push(message);
                } else {
                    failures.push(format!("{file}: {message}"));
                }
            }
        }
    }
    eprintln!("every scenario: {:.2?}", started.elapsed());
    assert!(
        failures.is_empty(),
        "{} scenario(s) disagree:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_states_show_the_same_status_column_pasted_or_collected() {
    let compared = one_truth("pod-states.yaml").await;
    let sides = [
        ("kubectl get pods -A", &compared.table_pods),
        ("kubectl get pods -A -o json", &compared.json_pods),
        ("collect", &compared.live_pods),
    ];
    for (side, pods) in sides {
        for (pod, status) in POD_STATES {
            let row = pods
                .get(pod)
                .unwrap_or_else(|| panic!("{side}: pod {pod} missing"));
            assert!(
                row.contains(&format!(" STATUS {status} ")),
                "{side}: pod {pod} should show STATUS {status}: {row}"
            );
        }
    }
    // The pods that are not Running-and-ready or Completed fail pod-health on both sides alike.
    let pasted = &compared.pasted_statuses["pod-health"];
    assert!(pasted.starts_with("fail"), "{pasted}");
    assert_eq!(pasted, &compared.live_statuses["pod-health"]);
}

/// Connection strings whose user information holds what a URL parser trips on (`/`, `@`, `:`),
/// an upper-case scheme, an IPv6 host, no port, another database, and what the upgrader's own
/// pattern trips on (a user without a password, an empty port, `%` escapes): `collect` and the
/// reader of the pasted `… | base64 -d` must reduce each to the same scheme, host, port
/// presence and split, and judge it alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_connections_read_the_same_pasted_or_collected() {
    const PASSWORD: &str = "p@ss/w:rd-s3cr3t";
    let connections = [
        // the upgrader ends the password at its first `@`
        (
            format!("postgres://astro_admin:{PASSWORD}@astro-db.example.com:5432/astro"),
            "fail",
        ),
        (
            format!(
                "postgres://astro_admin:{}@astro-db.example.com:5432/astro",
                &PASSWORD[2..]
            ),
            "pass",
        ),
        (
            format!("Postgres://astro_admin:{PASSWORD}@astro-db.example.com:5432"),
            "fail",
        ),
        (
            format!("postgresql://astro_admin:{PASSWORD}@[fd00::5]:5432/astro?sslmode=require"),
            "fail",
        ),
        (
            "postgres://astro_admin:pw@[fd00::5]:5432/astro".to_string(),
            "fail",
        ),
        (
            format!("postgres://astro_admin:{PASSWORD}@astro-db.example.com/astro"),
            "fail",
        ),
        (
            "postgres://astro_admin@astro-db.example.com:5432".to_string(),
            "fail",
        ),
        (
            "postgres://astro_admin:pw@astro-db.example.com:/astro".to_string(),
            "fail",
        ),
        (
            "postgres://astro_admin:p%40ss@astro-db.example.com:5432".to_string(),
            "warn",
        ),
        (
            format!("mysql://root:{PASSWORD}@mysql.example.com:3306"),
            "fail",
        ),
    ];
    let path = repo_root().join("tests/scenarios/healthy-upgrade-succeeds.yaml");
    for (connection, expected) in connections {
        let mut scenario = Scenario::from_file(&path).expect("the scenario reads");
        let secret = scenario
            .bootstrap_secret
            .as_mut()
            .expect("the scenario has a bootstrap Secret");
        secret.connection = connection.clone();
        let label = format!(
            "healthy-upgrade-succeeds.yaml with connection {}",
            connection.replace(PASSWORD, "***")
        );
        let compared = one_truth_of(&label, scenario).await;
        let status = &compared.live_statuses["database-connection"];
        assert_ne!(status, "unknown", "{label}: the connection was read");
        assert!(status.starts_with(expected), "{label}: {status}");
    }
}
