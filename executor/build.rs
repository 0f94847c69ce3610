//! Records the git commit the binary is built from, for `astro-upgrade --version`: a binary
//! carried into an air-gapped site must say which source it came from.
//!
//! `ASTRO_UPGRADE_COMMIT` overrides it (a build from a source tarball, where there is no git);
//! outside a git checkout it is "unknown". No timestamp or host name goes in: the same commit
//! builds the same binary.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo::rerun-if-env-changed=ASTRO_UPGRADE_COMMIT");
    let commit = match std::env::var("ASTRO_UPGRADE_COMMIT") {
        Ok(commit) if !commit.trim().is_empty() => commit.trim().to_string(),
        _ => {
            watch_git_head();
            git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".to_string())
        }
    };
    println!("cargo::rustc-env=ASTRO_UPGRADE_COMMIT={commit}");
}

/// Asks cargo to run this again when HEAD moves: a new commit on the branch (its ref file, or
/// `packed-refs` once git packs it) or a checkout of another branch (HEAD itself). `--git-path`
/// resolves both in a linked worktree too, where HEAD and the refs live in different places.
/// A path that does not exist is left out: cargo would rerun the script on every build.
fn watch_git_head() {
    let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--path-format=absolute", "--git-path", &name]) {
            if PathBuf::from(&path).exists() {
                println!("cargo::rerun-if-changed={path}");
            }
        }
    }
}

/// One line git printed, or `None` when git is missing or this is not a checkout.
fn git(args: &[&str]) -> Option<String> {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")?;
    let output = Command::new("git")
        .args(args)
        .current_dir(manifest_dir)
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let line = text.trim();
    (output.status.success() && !line.is_empty()).then(|| line.to_string())
}
