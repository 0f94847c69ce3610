//! What the test modules share: a running simulator with a kubeconfig pointing at it.

use std::path::PathBuf;

use kube_sim::{Options, Scenario, Sim};

/// Starts `scenario` (its delays divided by `time_scale`) and writes a kubeconfig for it into a
/// fresh temporary directory, which lives as long as the returned handle.
pub(crate) async fn start_sim(
    scenario: Scenario,
    time_scale: f64,
) -> (Sim, tempfile::TempDir, PathBuf) {
    start_sim_with(
        scenario,
        Options {
            time_scale,
            ..Options::default()
        },
    )
    .await
}

/// [`start_sim`] with every option; a scenario with `auth` gets this package's `kube-sim` as its
/// exec credential plugin.
pub(crate) async fn start_sim_with(
    scenario: Scenario,
    options: Options,
) -> (Sim, tempfile::TempDir, PathBuf) {
    let sim = Sim::start(
        scenario,
        Options {
            token_plugin: Some(PathBuf::from(env!("CARGO_BIN_EXE_kube-sim"))),
            ..options
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

/// The `astro-upgrade` binary of this workspace (`target/<profile>/astro-upgrade`), built once
/// per test process so a test never runs a stale one: cargo builds another package's binary only
/// for that package's own tests.
pub(crate) fn astro_upgrade_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let status = std::process::Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "executor",
                "--bin",
                "astro-upgrade",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cargo build -p executor failed");
    });
    let exe = std::env::current_exe().expect("the test binary knows its path");
    let profile_dir = exe
        .parent()
        .and_then(std::path::Path::parent)
        .expect("test binaries live in target/<profile>/deps");
    let binary = profile_dir.join(format!("astro-upgrade{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.exists(),
        "{} is missing: build it with cargo build -p executor",
        binary.display()
    );
    binary
}

/// What a child process printed, and how it ended.
pub(crate) struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    fn of(output: std::process::Output) -> Output {
        Output {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// The `astro-upgrade` binary run in `dir` (also its `$HOME`) against the kubeconfig `kubeconfig`.
pub(crate) async fn astro_upgrade(
    dir: &std::path::Path,
    kubeconfig: &std::path::Path,
    args: &[&str],
) -> Output {
    let mut command = tokio::process::Command::new(astro_upgrade_binary());
    command
        .args(args)
        .current_dir(dir)
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", dir)
        .env("NO_COLOR", "1");
    run_to_end(command, &format!("astro-upgrade {}", args.join(" "))).await
}

/// Runs `command` to its end (two minutes at most), its output captured; `what` names it in panics.
pub(crate) async fn run_to_end(mut command: tokio::process::Command, what: &str) -> Output {
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let output = tokio::time::timeout(std::time::Duration::from_secs(120), command.output())
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within two minutes"))
        .unwrap_or_else(|e| panic!("{what} does not run: {e}"));
    Output::of(output)
}

/// The real kubectl (`crate::conformance::kubectl_path`) against `kubeconfig`, with `HOME` in
/// `home` so its discovery cache stays out of the user's.
pub(crate) async fn kubectl(
    kubeconfig: &std::path::Path,
    home: &std::path::Path,
    args: &[&str],
) -> Output {
    let mut command = tokio::process::Command::new(crate::conformance::kubectl_path());
    command
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .env("HOME", home);
    run_to_end(command, &format!("kubectl {}", args.join(" "))).await
}
