//! Fleet runs of the `astro-upgrade` binary: several kube-sim clusters behind one kubeconfig
//! (split over two files, merged as kubectl merges them), one of them unreachable or hanging.
//! The matrix is asserted in every output format, with the exit code (the worst verdict).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use kube_sim::{closed_port_url, fleet_kubeconfig, KubeconfigContext, Scenario, Silent, Sim};
use planner::{EvidenceKind, Source};
use serde_json::Value;
use tokio::process::Command;

use crate::support::{astro_upgrade_binary, run_to_end, Output};

const ACKS: [&str; 4] = [
    "--ack",
    "database-backup=snapshot-2026-12-04",
    "--ack",
    "system-admin",
];

async fn sim(scenario: &str) -> Sim {
    sim_with(scenario, |_| {}).await
}

async fn sim_with(scenario: &str, change: impl FnOnce(&mut Scenario)) -> Sim {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{scenario}.yaml"));
    let mut scenario = Scenario::from_file(&path).expect("the scenario reads");
    change(&mut scenario);
    Sim::start(scenario, kube_sim::Options::default())
        .await
        .expect("kube-sim starts")
}

/// Three clusters: `healthy` (GO with the two acknowledgements), `no-rights` (NO-GO: it may not
/// create ClusterRoles) and `down` (a closed port). The first two contexts are in `a.yaml`, the
/// third in `b.yaml`.
struct Fleet {
    _healthy: Sim,
    _no_rights: Sim,
    dir: tempfile::TempDir,
}

impl Fleet {
    async fn start() -> Fleet {
        let healthy = sim("healthy-upgrade-succeeds").await;
        let no_rights = sim("missing-rights").await;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let down = closed_port_url().expect("a closed port");
        std::fs::write(
            dir.path().join("a.yaml"),
            fleet_kubeconfig(&[
                healthy.kubeconfig_context("healthy"),
                no_rights.kubeconfig_context("no-rights"),
            ]),
        )
        .expect("a.yaml");
        std::fs::write(
            dir.path().join("b.yaml"),
            fleet_kubeconfig(&[KubeconfigContext::plain("down", &down)]),
        )
        .expect("b.yaml");
        Fleet {
            _healthy: healthy,
            _no_rights: no_rights,
            dir,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `KUBECONFIG=a.yaml:b.yaml astro-upgrade ARGS`.
    async fn run(&self, args: &[&str]) -> Output {
        let list = std::env::join_paths([self.path("a.yaml"), self.path("b.yaml")])
            .expect("a KUBECONFIG list");
        let mut command = command(self.dir.path(), args);
        command.env("KUBECONFIG", list);
        run_to_end(command, &format!("astro-upgrade {}", args.join(" "))).await
    }
}

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(astro_upgrade_binary());
    command
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("HOME", dir)
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null());
    command
}

fn with_acks<'a>(args: &[&'a str]) -> Vec<&'a str> {
    args.iter().copied().chain(ACKS).collect()
}

fn row<'a>(fleet: &'a Value, context: &str) -> &'a Value {
    fleet["clusters"]
        .as_array()
        .expect("a clusters array")
        .iter()
        .find(|c| c["context"] == context)
        .unwrap_or_else(|| panic!("no row for {context}: {fleet:#}"))
}

/// The rows of the three clusters as `--output json` must have them.
fn assert_three_rows(fleet: &Value) {
    assert_eq!(fleet["schema_version"], 2, "{fleet:#}");
    assert_eq!(fleet["verdict"], "NO-GO");
    let contexts: Vec<&str> = fleet["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["context"].as_str().unwrap())
        .collect();
    assert_eq!(
        contexts,
        ["healthy", "no-rights", "down"],
        "kubeconfig order"
    );

    let healthy = row(fleet, "healthy");
    assert_eq!(healthy["verdict"], "GO", "{healthy:#}");
    assert_eq!(healthy["access"], "assessed");
    assert_eq!(healthy["server_version"], "1.16.15-eks-ad4801");
    assert_eq!(healthy["platform_version"], "0.16.9");
    assert_eq!(healthy["failing"], serde_json::json!([]));
    assert_eq!(healthy["unknown"], serde_json::json!([]));
    assert_eq!(healthy["report"]["findings"].as_array().unwrap().len(), 16);

    let no_rights = row(fleet, "no-rights");
    assert_eq!(no_rights["verdict"], "NO-GO", "{no_rights:#}");
    let failing: Vec<&str> = no_rights["failing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap())
        .collect();
    assert!(failing.contains(&"permissions"), "{failing:?}");
    assert!(no_rights["server_version"].is_string());

    let down = row(fleet, "down");
    assert_eq!(down["verdict"], "INCOMPLETE", "{down:#}");
    assert_eq!(down["access"], "unreachable");
    assert_eq!(down["unknown"], serde_json::json!(["cluster-access"]));
    assert_eq!(down["server_version"], Value::Null);
    let message = down["report"]["findings"][0]["message"].as_str().unwrap();
    assert!(message.contains("refused"), "{message}");
}

#[tokio::test]
async fn three_clusters_give_the_matrix_in_every_format_and_the_worst_exit_code() {
    let fleet = Fleet::start().await;

    let json = fleet
        .run(&with_acks(&["check", "--all-contexts", "-o", "json"]))
        .await;
    assert_eq!(json.code, 3, "NO-GO is the worst: {}", json.stderr);
    let document: Value = serde_json::from_str(&json.stdout).expect("one JSON document");
    assert_three_rows(&document);
    let failing_no_rights = row(&document, "no-rights")["failing"].clone();

    let human = fleet
        .run(&with_acks(&["check", "--all-contexts", "-o", "human"]))
        .await;
    assert_eq!(human.code, 3, "{}", human.stderr);
    for line in human.stdout.lines() {
        assert!(line.chars().count() <= 100, "wider than 100: {line:?}");
    }
    let lines: Vec<&str> = human.stdout.lines().collect();
    assert!(lines[0].starts_with("CONTEXT "), "{}", human.stdout);
    let words = |line: &str| {
        line.split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        words(lines[1]),
        ["healthy", "1.16.15-eks-ad4801", "0.16.9", "GO", "-"],
        "{}",
        human.stdout
    );
    assert!(lines[2].starts_with("no-rights ") && lines[2].contains(" NO-GO "));
    assert!(lines[2].contains("fail: ") && lines[2].contains("permissions"));
    let down = lines.iter().find(|l| l.starts_with("down ")).unwrap();
    assert_eq!(
        words(down),
        [
            "down",
            "unreachable",
            "-",
            "INCOMPLETE",
            "unknown:",
            "cluster-access"
        ]
    );
    assert!(human
        .stdout
        .contains("3 clusters: 1 GO, 1 NO-GO, 1 INCOMPLETE. Fleet verdict: NO-GO"));
    assert!(
        human.stdout.contains("── no-rights (NO-GO) "),
        "{}",
        human.stdout
    );

    let markdown = fleet
        .run(&with_acks(&["check", "--all-contexts", "-o", "markdown"]))
        .await;
    assert_eq!(markdown.code, 3, "{}", markdown.stderr);
    assert!(markdown
        .stdout
        .starts_with("# Astronomer Enterprise 0.16 → 0.23 fleet readiness: NO-GO"));
    assert!(
        markdown
            .stdout
            .contains("| `healthy` | 1.16.15-eks-ad4801 | 0.16.9 | **GO** | – | – |"),
        "{}",
        markdown.stdout
    );
    assert!(markdown
        .stdout
        .contains("| `down` | unreachable | – | **INCOMPLETE** | – | `cluster-access` |"));
    let failing_cells: Vec<String> = failing_no_rights
        .as_array()
        .unwrap()
        .iter()
        .map(|id| format!("`{}`", id.as_str().unwrap()))
        .collect();
    assert!(
        markdown
            .stdout
            .contains(&format!("| **NO-GO** | {} |", failing_cells.join(", "))),
        "{}",
        markdown.stdout
    );
    for context in ["healthy", "no-rights", "down"] {
        assert!(markdown.stdout.contains(&format!("\n## `{context}`: ")));
    }

    let junit = fleet
        .run(&with_acks(&["check", "--all-contexts", "-o", "junit"]))
        .await;
    assert_eq!(junit.code, 3, "{}", junit.stderr);
    let xml = roxmltree::Document::parse(&junit.stdout).expect("well-formed JUnit");
    let suites: Vec<roxmltree::Node> = xml
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    let names: Vec<&str> = suites.iter().filter_map(|s| s.attribute("name")).collect();
    assert_eq!(names, ["healthy", "no-rights", "down"]);
    let property = |suite: &roxmltree::Node, name: &str| {
        suite
            .descendants()
            .find(|n| n.has_tag_name("property") && n.attribute("name") == Some(name))
            .and_then(|n| n.attribute("value"))
            .map(str::to_string)
    };
    assert_eq!(property(&suites[0], "verdict").as_deref(), Some("GO"));
    assert_eq!(suites[0].attribute("failures"), Some("0"));
    assert_eq!(suites[0].attribute("tests"), Some("16"));
    assert_eq!(property(&suites[1], "verdict").as_deref(), Some("NO-GO"));
    let failed: Vec<&str> = suites[1]
        .children()
        .filter(|c| c.has_tag_name("testcase"))
        .filter(|c| c.children().any(|f| f.has_tag_name("failure")))
        .filter_map(|c| c.attribute("name"))
        .collect();
    for id in failing_no_rights.as_array().unwrap() {
        assert!(failed.contains(&id.as_str().unwrap()), "{failed:?}");
    }
    assert_eq!(
        property(&suites[2], "access").as_deref(),
        Some("unreachable")
    );
    assert_eq!(suites[2].attribute("failures"), Some("1"));
}

#[tokio::test]
async fn contexts_come_from_flags_files_and_merged_kubeconfigs() {
    let fleet = Fleet::start().await;
    // --kubeconfig a:b merges as KUBECONFIG=a:b does; --context twice is a fleet.
    let both = format!(
        "{}:{}",
        fleet.path("a.yaml").display(),
        fleet.path("b.yaml").display()
    );
    let mut command = command(
        fleet.dir.path(),
        &with_acks(&[
            "check",
            "--kubeconfig",
            &both,
            "--context",
            "healthy",
            "--context",
            "down",
            "-o",
            "json",
        ]),
    );
    command.env("KUBECONFIG", fleet.path("nowhere.yaml"));
    let run = run_to_end(command, "check --context twice").await;
    assert_eq!(run.code, 4, "GO and INCOMPLETE: {}", run.stderr);
    let document: Value = serde_json::from_str(&run.stdout).unwrap();
    let contexts: Vec<&str> = document["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["context"].as_str().unwrap())
        .collect();
    assert_eq!(contexts, ["healthy", "down"]);

    std::fs::write(
        fleet.path("wave-1.txt"),
        "# wave 1: the healthy one only\n\nhealthy   # dev\n",
    )
    .unwrap();
    let run = fleet
        .run(&with_acks(&[
            "check",
            "--contexts-from",
            "wave-1.txt",
            "-o",
            "json",
        ]))
        .await;
    assert_eq!(run.code, 0, "one GO cluster: {}", run.stderr);
    let document: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(document["clusters"].as_array().unwrap().len(), 1);
    assert_eq!(document["verdict"], "GO");

    std::fs::write(fleet.path("typo.txt"), "healthy\n\nprod-eu\n").unwrap();
    let run = fleet.run(&["check", "--contexts-from", "typo.txt"]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("typo.txt:3") && run.stderr.contains("prod-eu"),
        "the error names the file, line and context: {}",
        run.stderr
    );

    // One --context alone is the single-cluster report it always was.
    let run = fleet
        .run(&with_acks(&["check", "--context", "healthy", "-o", "json"]))
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["schema_version"], 1);
    assert!(report.get("clusters").is_none());

    let run = fleet
        .run(&["check", "--context", "healthy", "--cluster-timeout", "5s"])
        .await;
    assert_eq!(run.code, 2, "a fleet's flag on one cluster: {}", run.stderr);
    assert!(run.stderr.contains("for fleet runs"), "{}", run.stderr);

    let run = fleet
        .run(&["status", "--context", "healthy", "--context", "down"])
        .await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("only check, plan and collect"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn plan_writes_one_plan_per_go_cluster_and_collect_one_bundle_per_cluster() {
    let fleet = Fleet::start().await;
    let plans = fleet.path("plans");
    // An earlier run's plan for a cluster that is NO-GO now must not stay beside the new ones.
    std::fs::create_dir(&plans).unwrap();
    std::fs::write(plans.join("no-rights.plan.json"), "{\"verdict\": \"GO\"}").unwrap();
    let run = fleet
        .run(&with_acks(&[
            "plan",
            "--all-contexts",
            "--out-dir",
            plans.to_str().unwrap(),
            "-o",
            "json",
        ]))
        .await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(plans.join("healthy.plan.json")).unwrap())
            .expect("the GO cluster's plan");
    assert_eq!(plan["verdict"], "GO");
    assert!(plans.join("healthy.plan.md").exists());
    assert!(
        !plans.join("no-rights.plan.json").exists(),
        "NO-GO: no plan, the old one removed"
    );
    assert!(
        run.stderr.contains("no-rights.plan.json"),
        "the removal is said: {}",
        run.stderr
    );
    assert!(!plans.join("down.plan.json").exists());
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(plans.join("fleet.json")).unwrap()).unwrap();
    assert_eq!(summary, serde_json::from_str::<Value>(&run.stdout).unwrap());
    assert_eq!(
        row(&summary, "healthy")["plan"]["file"],
        "healthy.plan.json"
    );
    assert_eq!(
        row(&summary, "healthy")["plan"]["digest"],
        plan["plan_digest"]
    );
    assert!(row(&summary, "no-rights").get("plan").is_none());
    assert!(plans.join("fleet.md").exists());

    let bundles = fleet.path("bundles");
    let run = fleet
        .run(&[
            "collect",
            "--all-contexts",
            "--out-dir",
            bundles.to_str().unwrap(),
            "-o",
            "json",
        ])
        .await;
    assert_eq!(
        run.code, 4,
        "a cluster could not be collected: {}",
        run.stderr
    );
    assert!(!bundles.join("down.bundle.json").exists());
    // The page's way: the bundles dropped together give the rows the live check gives.
    let sources: Vec<Source> = ["healthy", "no-rights"]
        .iter()
        .map(|context| {
            let name = format!("{context}.bundle.json");
            let text = std::fs::read_to_string(bundles.join(&name)).expect("a bundle");
            Source::new(name, Some(EvidenceKind::Bundle), text)
        })
        .collect();
    let mut acks = planner::Acknowledgements::default();
    for ack in [ACKS[1], ACKS[3]] {
        acks.parse_ack(ack).unwrap();
    }
    let from_bundles =
        planner::fleet::from_bundles(&sources, &acks, &planner::UpgraderOptions::default(), &[]);
    for cluster in &from_bundles.clusters {
        let live = row(&summary, &cluster.context);
        assert_eq!(
            cluster.verdict.as_str(),
            live["verdict"],
            "{}",
            cluster.context
        );
        assert_eq!(serde_json::json!(cluster.failing), live["failing"]);
        assert_eq!(serde_json::json!(cluster.unknown), live["unknown"]);
        assert_eq!(
            serde_json::json!(cluster.server_version),
            live["server_version"]
        );
        assert_eq!(
            serde_json::json!(cluster.platform_version),
            live["platform_version"]
        );
    }
}

#[tokio::test]
async fn a_hanging_cluster_is_cut_off_by_its_timeout_and_a_forbidden_one_reported_while_the_others_finish(
) {
    let healthy = sim("healthy-upgrade-succeeds").await;
    let no_rights = sim("missing-rights").await;
    // These credentials may read the version but not list pods: 403 Forbidden.
    let forbidden = sim_with("healthy-upgrade-succeeds", |scenario| {
        scenario
            .faults
            .requests
            .push(kube_sim::scenario::RequestFault {
                when: kube_sim::scenario::RequestMatch {
                    path_prefix: Some("/api/v1/pods".to_string()),
                    ..Default::default()
                },
                respond: 403,
            });
    })
    .await;
    let hanging = Silent::start().await.expect("a silent server");
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig.yaml");
    std::fs::write(
        &kubeconfig,
        fleet_kubeconfig(&[
            KubeconfigContext::plain("hanging", &hanging.url()),
            healthy.kubeconfig_context("healthy"),
            no_rights.kubeconfig_context("no-rights"),
            forbidden.kubeconfig_context("forbidden"),
        ]),
    )
    .unwrap();
    let mut command = command(
        dir.path(),
        &with_acks(&[
            "check",
            "--all-contexts",
            "--cluster-timeout",
            "3s",
            "--parallel",
            "2",
            "-o",
            "json",
        ]),
    );
    command.env("KUBECONFIG", &kubeconfig);
    // run_to_end's two minutes guard against a hang; the timeout itself is 3 s.
    let run = tokio::time::timeout(Duration::from_secs(110), run_to_end(command, "check"))
        .await
        .expect("the fleet run ends");
    assert_eq!(run.code, 3, "{}", run.stderr);
    let document: Value = serde_json::from_str(&run.stdout).unwrap();
    let hung = row(&document, "hanging");
    assert_eq!(hung["access"], "timed-out", "{hung:#}");
    assert_eq!(hung["verdict"], "INCOMPLETE");
    assert!(hung["report"]["findings"][0]["message"]
        .as_str()
        .unwrap()
        .contains("3s"));
    // With two at a time, the hanging one held a slot: the others still finished complete.
    let healthy_row = row(&document, "healthy");
    assert_eq!(healthy_row["verdict"], "GO");
    assert_eq!(healthy_row["platform_version"], "0.16.9");
    assert_eq!(
        healthy_row["report"]["findings"].as_array().unwrap().len(),
        16
    );
    let no_rights_row = row(&document, "no-rights");
    assert_eq!(no_rights_row["verdict"], "NO-GO");
    assert_eq!(no_rights_row["access"], "assessed");
    let forbidden_row = row(&document, "forbidden");
    assert_eq!(forbidden_row["access"], "forbidden", "{forbidden_row:#}");
    assert_eq!(forbidden_row["verdict"], "INCOMPLETE");
    assert_eq!(
        forbidden_row["unknown"],
        serde_json::json!(["cluster-access"])
    );
}

#[tokio::test]
async fn a_terminal_gets_one_progress_line_per_cluster_as_it_finishes() {
    if !Path::new("/usr/bin/script").exists() {
        panic!("/usr/bin/script (util-linux) is needed to give the run a terminal");
    }
    let fleet = Fleet::start().await;
    let list = std::env::join_paths([fleet.path("a.yaml"), fleet.path("b.yaml")]).unwrap();
    // script(1) runs the command on a pseudo-terminal: stderr is a terminal, stdout goes to a file.
    let line = format!(
        "'{}' check --all-contexts -o json > fleet.json",
        astro_upgrade_binary().display()
    );
    let mut command = Command::new("/usr/bin/script");
    command
        .args(["-qec", &line, "/dev/null"])
        .current_dir(fleet.dir.path())
        .env("KUBECONFIG", list)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    let run = run_to_end(command, "astro-upgrade on a terminal").await;
    let terminal = run.stdout.replace('\r', "");
    let progress: Vec<&str> = terminal
        .lines()
        .filter(|line| line.starts_with('['))
        .collect();
    assert_eq!(progress.len(), 3, "one line per cluster: {terminal}");
    for (done, line) in progress.iter().enumerate() {
        assert!(
            line.starts_with(&format!("[{}/3] ", done + 1)),
            "{terminal}"
        );
    }
    for context in ["healthy", "no-rights", "down"] {
        let lines = progress
            .iter()
            .filter(|line| line.split_whitespace().nth(1) == Some(context))
            .count();
        assert_eq!(lines, 1, "{context}: {terminal}");
    }
    assert!(progress
        .iter()
        .any(|l| l.contains("down") && l.contains("unreachable")));
    let document: Value =
        serde_json::from_str(&std::fs::read_to_string(fleet.path("fleet.json")).unwrap())
            .expect("stdout stays the JSON document");
    assert_eq!(document["clusters"].as_array().unwrap().len(), 3);

    // Piped, stderr gets no progress lines.
    let piped = fleet.run(&["check", "--all-contexts", "-o", "json"]).await;
    assert!(
        !piped.stderr.lines().any(|l| l.starts_with('[')),
        "{}",
        piped.stderr
    );
}
