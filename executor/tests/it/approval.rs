//! Approvals with the real OpenSSH client: a signature `ssh-keygen -Y sign` made verifies here,
//! one `approve` made verifies with `ssh-keygen -Y verify`, and an allowed-signers file written
//! for git works unchanged.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{code, path, run, stderr, stdout, HEALTHY_ACKS};

const NAMESPACE: &str = "astro-upgrade-plan";

fn ssh_keygen(args: &[&str]) -> std::process::Output {
    Command::new("ssh-keygen")
        .args(args)
        .output()
        .expect("ssh-keygen runs (Debian's openssh-client; scripts/test installs it)")
}

/// A fresh key pair of `kind` (`ed25519`, `ecdsa`, `rsa`), optionally with a passphrase.
fn key(dir: &Path, name: &str, kind: &str, bits: Option<&str>, passphrase: &str) -> PathBuf {
    let file = dir.join(name);
    let mut args = vec![
        "-q",
        "-t",
        kind,
        "-N",
        passphrase,
        "-C",
        name,
        "-f",
        path(&file),
    ];
    if let Some(bits) = bits {
        args.extend(["-b", bits]);
    }
    let made = ssh_keygen(&args);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    file
}

fn public(key: &Path) -> String {
    std::fs::read_to_string(key.with_extension("pub"))
        .expect("the public key")
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A GO plan of the healthy example, written by the binary.
fn go_plan(dir: &Path) -> PathBuf {
    let plan = dir.join("plan.json");
    let mut args = vec![
        "plan",
        "--paste",
        "examples/healthy-0.16",
        "--out",
        path(&plan),
    ];
    args.extend(HEALTHY_ACKS);
    let output = run(&args);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    plan
}

fn verify(plan: &Path, allowed: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "verify-approval",
        "--plan",
        path(plan),
        "--allowed-signers",
        path(allowed),
    ];
    args.extend(extra);
    run(&args)
}

#[test]
fn ssh_keygen_and_approve_understand_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let plan = go_plan(dir.path());
    let alice = key(dir.path(), "alice", "ed25519", None, "");
    let bob = key(dir.path(), "bob", "ecdsa", Some("256"), "");
    // An allowed-signers file as written for git's ssh signing: principals then key.
    let allowed = dir.path().join("allowed_signers");
    std::fs::write(
        &allowed,
        format!(
            "alice@corp {}\nbob@corp namespaces=\"git,{NAMESPACE}\" {}\n",
            public(&alice),
            public(&bob)
        ),
    )
    .unwrap();

    // ssh-keygen signs; astro-upgrade verifies.
    let signed = ssh_keygen(&[
        "-Y",
        "sign",
        "-f",
        path(&alice),
        "-n",
        NAMESPACE,
        path(&plan),
    ]);
    assert!(
        signed.status.success(),
        "{}",
        String::from_utf8_lossy(&signed.stderr)
    );
    let output = verify(&plan, &allowed, &[]);
    assert_eq!(code(&output), 0, "{}{}", stdout(&output), stderr(&output));
    assert!(
        stdout(&output).contains("approved by alice@corp"),
        "{}",
        stdout(&output)
    );

    // astro-upgrade signs (appending to the same file); ssh-keygen verifies its block.
    let output = run(&[
        "approve",
        "--plan",
        path(&plan),
        "--key",
        path(&bob),
        "--comment",
        "CHG-1234",
    ]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let all = std::fs::read_to_string(dir.path().join("plan.json.sig")).unwrap();
    assert_eq!(all.matches("-----BEGIN SSH SIGNATURE-----").count(), 2);
    let bobs = &all[all.rfind("-----BEGIN SSH SIGNATURE-----").unwrap()..];
    let bobs_file = dir.path().join("bob.sig");
    std::fs::write(&bobs_file, bobs).unwrap();
    let verified = Command::new("ssh-keygen")
        .args([
            "-Y",
            "verify",
            "-f",
            path(&allowed),
            "-I",
            "bob@corp",
            "-n",
            NAMESPACE,
            "-s",
            path(&bobs_file),
        ])
        .stdin(std::fs::File::open(&plan).unwrap())
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "ssh-keygen -Y verify: {}{}",
        String::from_utf8_lossy(&verified.stdout),
        String::from_utf8_lossy(&verified.stderr)
    );

    // Two distinct allowed signers: two approvals.
    let output = verify(&plan, &allowed, &["--require-approvals", "2"]);
    assert_eq!(code(&output), 0, "{}{}", stdout(&output), stderr(&output));
    // Three required: refused, naming what is there.
    let output = verify(&plan, &allowed, &["--require-approvals", "3"]);
    assert_eq!(code(&output), 3);
    assert!(
        stderr(&output).contains("2 of 3 required"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_changed_byte_another_namespace_or_a_stranger_does_not_count() {
    let dir = tempfile::tempdir().unwrap();
    let plan = go_plan(dir.path());
    let alice = key(dir.path(), "alice", "ed25519", None, "");
    let mallory = key(dir.path(), "mallory", "ed25519", None, "");
    let allowed = dir.path().join("allowed_signers");
    std::fs::write(&allowed, format!("alice@corp {}\n", public(&alice))).unwrap();

    // Signed for git, not for plans.
    let signed = ssh_keygen(&["-Y", "sign", "-f", path(&alice), "-n", "git", path(&plan)]);
    assert!(signed.status.success());
    let output = verify(&plan, &allowed, &[]);
    assert_eq!(code(&output), 3);
    assert!(
        stdout(&output).contains("namespace `git`"),
        "{}",
        stdout(&output)
    );

    // A stranger's key.
    std::fs::remove_file(dir.path().join("plan.json.sig")).unwrap();
    let output = run(&["approve", "--plan", path(&plan), "--key", path(&mallory)]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let output = verify(&plan, &allowed, &[]);
    assert_eq!(code(&output), 3);
    assert!(
        stdout(&output).contains("not in the allowed signers"),
        "{}",
        stdout(&output)
    );

    // Alice's signature, then one byte of the plan changes (a space added at its end).
    std::fs::remove_file(dir.path().join("plan.json.sig")).unwrap();
    let output = run(&["approve", "--plan", path(&plan), "--key", path(&alice)]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(code(&verify(&plan, &allowed, &[])), 0);
    let mut bytes = std::fs::read(&plan).unwrap();
    bytes.push(b' ');
    std::fs::write(&plan, bytes).unwrap();
    let output = verify(&plan, &allowed, &[]);
    assert_eq!(code(&output), 3);
    assert!(
        stdout(&output).contains("does not verify over this plan"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn an_encrypted_key_asks_for_its_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let plan = go_plan(dir.path());
    let locked = key(dir.path(), "locked", "ed25519", None, "correct horse");
    let allowed = dir.path().join("allowed_signers");
    std::fs::write(&allowed, format!("carol@corp {}\n", public(&locked))).unwrap();
    let approve = |passphrase: &str| {
        crate::support::astro_upgrade()
            .args(["approve", "--plan", path(&plan), "--key", path(&locked)])
            .env("ASTRO_UPGRADE_KEY_PASSPHRASE", passphrase)
            .output()
            .unwrap()
    };
    let wrong = approve("wrong");
    assert_eq!(code(&wrong), 2);
    assert!(
        stderr(&wrong).contains("wrong passphrase"),
        "{}",
        stderr(&wrong)
    );
    let right = approve("correct horse");
    assert_eq!(code(&right), 0, "{}", stderr(&right));
    assert_eq!(code(&verify(&plan, &allowed, &[])), 0);
}

#[test]
fn bad_approval_input_names_the_file_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let plan = go_plan(dir.path());
    let alice = key(dir.path(), "alice", "ed25519", None, "");
    let allowed = dir.path().join("allowed_signers");
    std::fs::write(&allowed, format!("alice@corp {}\n", public(&alice))).unwrap();
    let signed = ssh_keygen(&[
        "-Y",
        "sign",
        "-f",
        path(&alice),
        "-n",
        NAMESPACE,
        path(&plan),
    ]);
    assert!(signed.status.success());
    let sig = dir.path().join("plan.json.sig");
    let text = std::fs::read_to_string(&sig).unwrap();
    std::fs::write(&sig, &text[..text.find("-----END").unwrap()]).unwrap();
    let output = verify(&plan, &allowed, &[]);
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("plan.json.sig: signature 1: the armor is truncated"),
        "{}",
        stderr(&output)
    );

    // A key type this tool does not sign with (ECDSA P-384).
    let p384 = key(dir.path(), "p384", "ecdsa", Some("384"), "");
    let output = run(&["approve", "--plan", path(&plan), "--key", path(&p384)]);
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("unsupported key type"),
        "{}",
        stderr(&output)
    );
    std::fs::remove_file(&sig).unwrap();
    let signed = ssh_keygen(&[
        "-Y",
        "sign",
        "-f",
        path(&p384),
        "-n",
        NAMESPACE,
        path(&plan),
    ]);
    assert!(signed.status.success());
    let output = verify(&plan, &allowed, &[]);
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("unsupported key type"),
        "{}",
        stderr(&output)
    );

    // A broken allowed-signers line.
    std::fs::write(&allowed, "alice@corp ssh-ed25519 not-a-key\n").unwrap();
    let output = verify(&plan, &allowed, &[]);
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("allowed_signers:1: cannot read the key"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn an_ssh_agent_identity_signs_and_the_private_key_never_leaves_it() {
    let dir = tempfile::tempdir().unwrap();
    let plan = go_plan(dir.path());
    let alice = key(dir.path(), "alice", "ed25519", None, "");
    let bob = key(dir.path(), "bob", "rsa", Some("2048"), "");
    let socket = dir.path().join("agent.sock");
    let mut agent = Command::new("ssh-agent")
        .args(["-D", "-a", path(&socket)])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("ssh-agent starts");
    let started = std::time::Instant::now();
    while !socket.exists() {
        assert!(started.elapsed().as_secs() < 10, "ssh-agent did not listen");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    for key in [&alice, &bob] {
        let added = Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &socket)
            .output()
            .expect("ssh-add runs");
        assert!(
            added.status.success(),
            "{}",
            String::from_utf8_lossy(&added.stderr)
        );
    }
    // The private keys are gone from disk: only the agent can sign now.
    std::fs::remove_file(&alice).unwrap();
    std::fs::remove_file(&bob).unwrap();
    for key in [&alice, &bob] {
        let output = crate::support::astro_upgrade()
            .args(["approve", "--plan", path(&plan), "--key"])
            .arg(key.with_extension("pub"))
            .env("SSH_AUTH_SOCK", &socket)
            .output()
            .unwrap();
        assert_eq!(code(&output), 0, "{}", stderr(&output));
    }
    agent.kill().ok();
    agent.wait().ok();
    let allowed = dir.path().join("allowed_signers");
    std::fs::write(
        &allowed,
        format!("alice@corp {}\nbob@corp {}\n", public(&alice), public(&bob)),
    )
    .unwrap();
    let output = verify(&plan, &allowed, &["--require-approvals", "2"]);
    assert_eq!(code(&output), 0, "{}{}", stdout(&output), stderr(&output));
    // The RSA signature (rsa-sha2-512, through the agent) verifies with ssh-keygen too.
    let all = std::fs::read_to_string(dir.path().join("plan.json.sig")).unwrap();
    let bobs = dir.path().join("bob.sig");
    std::fs::write(
        &bobs,
        &all[all.rfind("-----BEGIN SSH SIGNATURE-----").unwrap()..],
    )
    .unwrap();
    let verified = Command::new("ssh-keygen")
        .args([
            "-Y",
            "verify",
            "-f",
            path(&allowed),
            "-I",
            "bob@corp",
            "-n",
            NAMESPACE,
            "-s",
        ])
        .arg(&bobs)
        .stdin(std::fs::File::open(&plan).unwrap())
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
}
