//! `astro-upgrade` talks TLS to an API server the way a real cluster is reached: kube-sim serves
//! HTTPS with a certificate of a throwaway authority, and the kubeconfig carries that authority
//! as `certificate-authority-data`. The same check, on the static binary of `scripts/dist`, runs
//! in that script.

use kube_sim::{Options, Scenario, Sim};

use crate::conformance::repo_root;
use crate::support::{self, astro_upgrade};

async fn start_tls_sim() -> (Sim, tempfile::TempDir, std::path::PathBuf) {
    let scenario =
        Scenario::from_file(&repo_root().join("tests/scenarios/healthy-upgrade-succeeds.yaml"))
            .expect("the scenario reads");
    support::start_sim_with(
        scenario,
        Options {
            tls: true,
            ..Options::default()
        },
    )
    .await
}

#[tokio::test]
async fn astro_upgrade_checks_a_cluster_over_tls_with_the_kubeconfig_s_authority() {
    let (sim, dir, kubeconfig) = start_tls_sim().await;
    assert!(sim.url().starts_with("https://127.0.0.1:"), "{}", sim.url());
    let config = std::fs::read_to_string(&kubeconfig).expect("the kubeconfig reads");
    assert!(config.contains("certificate-authority-data: "), "{config}");

    let run = astro_upgrade(
        dir.path(),
        &kubeconfig,
        &[
            "check",
            "--ack",
            "database-backup=CHG-1234",
            "--ack",
            "system-admin",
            "--output",
            "json",
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("a JSON report");
    assert_eq!(report["verdict"], "GO", "{}", run.stdout);
    // The evidence came over this connection: the server answered the reads `check` makes.
    let requests = sim.requests();
    for path in ["/version", "/api/v1/pods"] {
        assert!(
            requests.iter().any(|r| r.path == path && r.status == 200),
            "no {path} in {requests:?}"
        );
    }
    sim.shutdown().await;
}

/// Without the authority the server's certificate is not trusted (the machine's CA files do not
/// hold kube-sim's): the connection is refused before any request, so trust comes from the
/// kubeconfig and nowhere else.
#[tokio::test]
async fn a_kubeconfig_without_the_authority_is_refused_before_any_request() {
    let (sim, dir, kubeconfig) = start_tls_sim().await;
    let config = std::fs::read_to_string(&kubeconfig).expect("the kubeconfig reads");
    let without: String = config
        .lines()
        .filter(|line| !line.contains("certificate-authority-data"))
        .map(|line| format!("{line}\n"))
        .collect();
    assert_ne!(without, config);
    std::fs::write(&kubeconfig, without).expect("the kubeconfig is written");

    let run = astro_upgrade(
        dir.path(),
        &kubeconfig,
        &["collect", "--out", "bundle.json"],
    )
    .await;
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("certificate") || run.stderr.contains("CA certificates"),
        "{}",
        run.stderr
    );
    assert!(!dir.path().join("bundle.json").exists());
    assert_eq!(sim.requests(), [], "no request got through");
    sim.shutdown().await;
}

/// The real kubectl trusts the same kubeconfig: the TLS kube-sim looks like an API server to
/// Go's TLS stack too, not only to rustls.
#[tokio::test]
async fn kubectl_reads_the_tls_simulator_with_the_same_kubeconfig() {
    let (sim, dir, kubeconfig) = start_tls_sim().await;
    let run = support::kubectl(&kubeconfig, dir.path(), &["get", "namespaces"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("astronomer"), "{}", run.stdout);
    sim.shutdown().await;
}
