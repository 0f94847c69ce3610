//! `approve` and `verify-approval`: a named second person signs this exact plan with the SSH key
//! they already have, and `apply` runs only with enough such signatures.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::json;

use crate::approval::{self, Approval, Rejection};
use crate::exit::{Code, Exit};
use crate::{ApprovalArgs, ApproveArgs, GlobalArgs, OutputFormat, VerifyApprovalArgs};

/// `PLAN.sig`, beside the plan.
pub fn default_signature_path(plan: &Path) -> PathBuf {
    let mut name = plan.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

fn read_plan(path: &Path) -> anyhow::Result<(Vec<u8>, planner::Plan)> {
    let bytes = std::fs::read(path)
        .map_err(|err| Exit::usage(format!("cannot read the plan {}: {err}", path.display())))?;
    let plan: planner::Plan = serde_json::from_slice(&bytes).map_err(|err| {
        Exit::refused(format!(
            "{} is not a plan written by `astro-upgrade plan` ({err})",
            path.display()
        ))
    })?;
    Ok((bytes, plan))
}

pub fn approve(_global: &GlobalArgs, args: ApproveArgs) -> anyhow::Result<Code> {
    let (bytes, plan) = read_plan(&args.plan)?;
    if !plan.verify_digest() {
        return Err(Exit::refused(format!(
            "{}: its digest does not match its content (edited after it was written); not signed",
            args.plan.display()
        )));
    }
    if plan.verdict != planner::Verdict::Go {
        return Err(Exit::refused(format!(
            "{}: the verdict is {}, not GO; not signed",
            args.plan.display(),
            plan.verdict.as_str()
        )));
    }
    let (armored, fingerprint) = sign(&args.key, &bytes)?;
    let target = args
        .signature
        .clone()
        .unwrap_or_else(|| default_signature_path(&args.plan));
    let mut note = format!(
        "# approval of plan {} by key {fingerprint} at {}",
        plan.plan_digest,
        crate::journal::now_rfc3339()
    );
    if let Some(comment) = &args.comment {
        note.push_str(&format!(
            " ({})",
            planner::report::redact_secrets(comment).replace('\n', " ")
        ));
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&target)
        .with_context(|| format!("cannot open {}", target.display()))?;
    writeln!(file, "{note}\n{}", armored.trim_end())
        .with_context(|| format!("cannot write {}", target.display()))?;
    println!(
        "signed plan {} (digest {}) with {fingerprint}; signature appended to {}",
        args.plan.display(),
        plan.plan_digest,
        target.display()
    );
    Ok(Code::Ok)
}

/// Signs with a private key file, or through ssh-agent when `--key` names a public key or a
/// fingerprint; the armored signature and the key's fingerprint.
fn sign(key: &Path, plan: &[u8]) -> anyhow::Result<(String, String)> {
    if let Some(fingerprint) = approval::agent_identity(key) {
        let socket = std::env::var_os("SSH_AUTH_SOCK").ok_or_else(|| {
            Exit::usage(format!(
                "{} is a public key: signing with it needs its ssh-agent, and $SSH_AUTH_SOCK is not set",
                key.display()
            ))
        })?;
        #[cfg(unix)]
        {
            let armored = approval::sign_with_agent(Path::new(&socket), &fingerprint, plan)
                .map_err(|err| Exit::usage(err.to_string()))?;
            return Ok((armored, fingerprint));
        }
        #[cfg(not(unix))]
        {
            let _ = socket;
            return Err(Exit::usage("signing through ssh-agent needs a Unix socket"));
        }
    }
    let private = approval::read_private_key(key).map_err(|err| Exit::usage(err.to_string()))?;
    let armored = approval::sign(&private, plan).map_err(|err| Exit::usage(err.to_string()))?;
    Ok((
        armored,
        private.fingerprint(ssh_key::HashAlg::Sha256).to_string(),
    ))
}

/// The outcome of checking a plan's signatures.
pub struct Checked {
    pub approvals: Vec<Approval>,
    pub rejections: Vec<Rejection>,
    pub required: usize,
}

impl Checked {
    pub fn distinct(&self) -> Vec<&Approval> {
        approval::distinct(&self.approvals)
    }

    pub fn enough(&self) -> bool {
        self.distinct().len() >= self.required
    }

    /// What is missing, in words, for a refusal.
    pub fn shortfall(&self) -> String {
        let have = self.distinct();
        let mut text = format!(
            "{} of {} required approval(s) by distinct allowed signers",
            have.len(),
            self.required
        );
        if !have.is_empty() {
            let names: Vec<&str> = have.iter().map(|a| a.principal.as_str()).collect();
            text.push_str(&format!(" (approved by {})", names.join(", ")));
        }
        if self.approvals.len() > have.len() {
            text.push_str("; the same person's signatures count once");
        }
        for rejection in &self.rejections {
            text.push_str(&format!(
                "; a signature by {} does not count: {}",
                rejection.fingerprint, rejection.reason
            ));
        }
        text
    }
}

/// Checks the plan's signatures when an allowed-signers file is given; `None` without one.
pub fn check_approvals(plan: &Path, args: &ApprovalArgs) -> anyhow::Result<Option<Checked>> {
    let Some(allowed) = &args.allowed_signers else {
        return Ok(None);
    };
    let bytes = std::fs::read(plan)
        .map_err(|err| Exit::usage(format!("cannot read the plan {}: {err}", plan.display())))?;
    let text = std::fs::read_to_string(allowed).map_err(|err| {
        Exit::usage(format!(
            "cannot read the allowed signers {}: {err}",
            allowed.display()
        ))
    })?;
    let signers = approval::parse_allowed_signers(&text, &allowed.display().to_string())
        .map_err(|err| Exit::usage(err.to_string()))?;
    let files = if args.signature.is_empty() {
        vec![default_signature_path(plan)]
    } else {
        args.signature.clone()
    };
    let mut signatures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).map_err(|err| {
            Exit::refused(format!(
                "no approval: cannot read the signature file {} ({err}); sign the plan with `astro-upgrade approve --plan {} --key ~/.ssh/id_ed25519`",
                file.display(),
                plan.display()
            ))
        })?;
        signatures.extend(
            approval::parse_signatures(&text, &file.display().to_string())
                .map_err(|err| Exit::usage(err.to_string()))?,
        );
    }
    let (mut approvals, mut rejections) = (Vec::new(), Vec::new());
    for result in approval::check(&bytes, &signatures, &signers, &approval::now_digits()) {
        match result {
            Ok(approval) => approvals.push(approval),
            Err(rejection) => rejections.push(rejection),
        }
    }
    Ok(Some(Checked {
        approvals,
        rejections,
        required: args.require_approvals.unwrap_or(1),
    }))
}

pub fn verify_approval(global: &GlobalArgs, args: VerifyApprovalArgs) -> anyhow::Result<Code> {
    if args.approvals.allowed_signers.is_none() {
        return Err(Exit::usage(
            "verify-approval needs --allowed-signers FILE (who may approve)",
        ));
    }
    let checked =
        check_approvals(&args.plan, &args.approvals)?.expect("an allowed-signers file was given");
    let code = if checked.enough() {
        Code::Ok
    } else {
        Code::Refused
    };
    match global.output {
        OutputFormat::Json => println!(
            "{}",
            json!({
                "plan": args.plan.display().to_string(),
                "required": checked.required,
                "approved": checked.enough(),
                "approvals": checked.distinct().iter().map(|a| json!({"principal": a.principal, "fingerprint": a.fingerprint})).collect::<Vec<_>>(),
                "rejected": checked.rejections.iter().map(|r| json!({"fingerprint": r.fingerprint, "reason": r.reason})).collect::<Vec<_>>(),
            })
        ),
        OutputFormat::Markdown => {
            println!("## Approvals of {}\n", args.plan.display());
            println!("| principal | key |\n|---|---|");
            for approval in checked.distinct() {
                println!("| {} | `{}` |", approval.principal, approval.fingerprint);
            }
            println!(
                "\n{} of {} required.",
                checked.distinct().len(),
                checked.required
            );
        }
        _ => {
            for approval in checked.distinct() {
                println!(
                    "approved by {} ({})",
                    approval.principal, approval.fingerprint
                );
            }
            for rejection in &checked.rejections {
                println!(
                    "not counted: {}: {}",
                    rejection.fingerprint, rejection.reason
                );
            }
            if checked.enough() {
                println!(
                    "{} of {} required approval(s): the plan may be applied",
                    checked.distinct().len(),
                    checked.required
                );
            } else {
                eprintln!("refused: {}", checked.shortfall());
            }
        }
    }
    Ok(code)
}
