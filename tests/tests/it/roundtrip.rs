//! Round trip: scenario → real kubectl output → the planner's readers → the facts the scenario
//! declares (server version, unhealthy pods, can-i answers). This ties the simulation and the
//! readers to a client neither of them wrote.

use std::collections::BTreeSet;

use planner::input::{read_source, EvidenceKind, Source};

use crate::conformance::{repo_root, Cluster};

/// The eight rights the `permissions` check asks for: (resource, namespace).
const RIGHTS: [(&str, Option<&str>); 8] = [
    ("pods", Some("astronomer")),
    ("serviceaccounts", Some("astronomer")),
    ("jobs", Some("astronomer")),
    ("serviceaccounts", Some("default")),
    ("persistentvolumeclaims", Some("default")),
    ("jobs", Some("default")),
    ("clusterroles", None),
    ("clusterrolebindings", None),
];

async fn round_trip(file: &str) {
    let scenario =
        kube_sim::Scenario::from_file(&repo_root().join("tests/scenarios").join(file)).unwrap();
    let expect = scenario.expect.clone().unwrap_or_default();
    let git_version = scenario.server.git_version.clone();
    let cluster = Cluster::start_scenario(scenario, 1.0).await;

    let version = cluster.kubectl(&["version"]).await;
    assert_eq!(version.code, 0, "{}", version.stderr);
    let facts = read_source(&Source::new(
        "version.txt",
        Some(EvidenceKind::KubectlVersion),
        version.stdout,
    ));
    let server = facts
        .kubernetes
        .server_version
        .unwrap_or_else(|| panic!("{file}: no server version read"));
    assert_eq!(
        server.trim_start_matches('v'),
        git_version.trim_start_matches('v'),
        "{file}"
    );

    let pods = cluster.kubectl(&["get", "pods", "-A"]).await;
    assert_eq!(pods.code, 0, "{}", pods.stderr);
    let facts = read_source(&Source::new(
        "pods.txt",
        Some(EvidenceKind::Pods),
        pods.stdout,
    ));
    assert_eq!(
        facts.pods.len(),
        cluster.sim.objects("v1", "Pod", None).len(),
        "{file}: every pod read"
    );
    let unhealthy: BTreeSet<String> = facts
        .pods
        .iter()
        .filter(|p| !p.healthy)
        .map(|p| format!("{}/{}", p.namespace.as_deref().unwrap_or("?"), p.name))
        .collect();
    let expected: BTreeSet<String> = expect.unhealthy_pods.iter().cloned().collect();
    assert_eq!(unhealthy, expected, "{file}: unhealthy pods");

    let mut transcript = String::new();
    for (resource, namespace) in RIGHTS {
        let mut args = vec!["auth", "can-i", "create", resource];
        if let Some(namespace) = namespace {
            args.extend(["-n", namespace]);
        }
        let answer = cluster.kubectl(&args).await;
        transcript.push_str(&format!("$ kubectl {}\n{}", args.join(" "), answer.stdout));
    }
    // `*` on `*` in every namespace, the right the upgrader's ClusterRole grants.
    let answer = cluster.kubectl(&["auth", "can-i", "*", "*", "-A"]).await;
    transcript.push_str(&format!(
        "$ kubectl auth can-i '*' '*' -A\n{}",
        answer.stdout
    ));
    let facts = read_source(&Source::new(
        "can-i.txt",
        Some(EvidenceKind::CanI),
        transcript.clone(),
    ));
    for (resource, namespace) in RIGHTS {
        let permission = facts
            .permissions
            .iter()
            .find(|p| {
                p.verb == "create" && p.resource == resource && p.namespace.as_deref() == namespace
            })
            .unwrap_or_else(|| {
                panic!("{file}: create {resource} {namespace:?} not read from\n{transcript}")
            });
        let denied = expect
            .denied
            .iter()
            .any(|d| d == &format!("create {resource}"));
        assert_eq!(
            permission.allowed, !denied,
            "{file}: create {resource} {namespace:?}"
        );
    }
    let everything = facts
        .permissions
        .iter()
        .find(|p| p.verb == "*" && p.resource == "*" && p.all_namespaces)
        .unwrap_or_else(|| panic!("{file}: '*' '*' -A not read from\n{transcript}"));
    assert_eq!(
        everything.allowed,
        !expect.denied.iter().any(|d| d == "* *"),
        "{file}: * * --all-namespaces"
    );
}

#[tokio::test]
async fn healthy_upgrade_succeeds() {
    round_trip("healthy-upgrade-succeeds.yaml").await;
}

#[tokio::test]
async fn upgrade_job_fails() {
    round_trip("upgrade-job-fails.yaml").await;
}

#[tokio::test]
async fn image_pull_fails() {
    round_trip("image-pull-fails.yaml").await;
}

#[tokio::test]
async fn pvc_never_binds() {
    round_trip("pvc-never-binds.yaml").await;
}

#[tokio::test]
async fn api_outage_mid_upgrade() {
    round_trip("api-outage-mid-upgrade.yaml").await;
}

#[tokio::test]
async fn missing_rights() {
    round_trip("missing-rights.yaml").await;
}

#[tokio::test]
async fn rbac_no_escalate() {
    round_trip("rbac-no-escalate.yaml").await;
}

#[tokio::test]
async fn rollback_fails() {
    round_trip("rollback-fails.yaml").await;
}

#[tokio::test]
async fn large_5000_pods() {
    round_trip("large-5000-pods.yaml").await;
}

#[tokio::test]
async fn pod_states() {
    round_trip("pod-states.yaml").await;
}

#[tokio::test]
async fn upgrade_fails_after_backup() {
    round_trip("upgrade-fails-after-backup.yaml").await;
}
