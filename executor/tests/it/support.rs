//! Running the real `astro-upgrade` binary from the workspace root, as a user would.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the executor crate lives inside the workspace")
        .to_path_buf()
}

pub fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/corpus")
        .join(name)
}

/// The binary with a clean colour environment, run from the workspace root.
pub fn astro_upgrade() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_astro-upgrade"));
    command
        .current_dir(workspace_root())
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("KUBECONFIG");
    command
}

pub fn run(args: &[&str]) -> Output {
    astro_upgrade()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("astro-upgrade runs")
}

pub fn run_with_stdin(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = astro_upgrade()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("astro-upgrade starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin)
        .expect("stdin is written");
    child.wait_with_output().expect("astro-upgrade runs")
}

pub fn path(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn code(output: &Output) -> i32 {
    output.status.code().expect("exited, not killed")
}

pub fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "stdout is not JSON ({err}):\n{}\nstderr:\n{}",
            stdout(output),
            stderr(output)
        )
    })
}

/// The acknowledgement flags of the healthy example, which every format test reuses.
pub const HEALTHY_ACKS: [&str; 4] = ["--ack", "database-backup=CHG-1234", "--ack", "system-admin"];
