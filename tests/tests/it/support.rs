//! What the test modules share: a running simulator with a kubeconfig pointing at it.

use std::path::PathBuf;

use kube_sim::{Options, Scenario, Sim};

/// Starts `scenario` (its delays divided by `time_scale`) and writes a kubeconfig for it into a
/// fresh temporary directory, which lives as long as the returned handle.
pub(crate) async fn start_sim(
    scenario: Scenario,
    time_scale: f64,
) -> (Sim, tempfile::TempDir, PathBuf) {
    let sim = Sim::start(
        scenario,
        Options {
            time_scale,
            ..Options::default()
        },
    )
    .await
    .expect("kube-sim starts");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = dir.path().join("kubeconfig.yaml");
    sim.write_kubeconfig(&kubeconfig)
        .expect("the kubeconfig is written");
    (sim, dir, kubeconfig)
}
