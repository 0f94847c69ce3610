//! Approvals: SSH signatures over a plan, in the format OpenSSH and git already use.
//!
//! A signature is an `SSHSIG` armored block (`ssh-keygen -Y sign -n astro-upgrade-plan`) over the
//! plan file's bytes, so one made with `ssh-keygen` verifies here and one made by `approve`
//! verifies with `ssh-keygen -Y verify`. Who may approve is an `allowed_signers` file as
//! `ssh-keygen(1)` describes it (principals, options such as `namespaces=`, key). The plan digest
//! alone is unkeyed: anyone who can edit `plan.json` can recompute it; a signature by a key the
//! team trusts cannot be recomputed.

use std::path::Path;

use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};

/// The SSHSIG namespace of a plan approval: a signature made for git or a file never counts.
pub const NAMESPACE: &str = "astro-upgrade-plan";

const BEGIN: &str = "-----BEGIN SSH SIGNATURE-----";
const END: &str = "-----END SSH SIGNATURE-----";

/// What went wrong with an approval file, named by file and place.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApprovalError {
    #[error("{file}:{line}: {reason}")]
    AllowedSigners {
        file: String,
        line: usize,
        reason: String,
    },
    #[error("{file}: signature {block}: {reason}")]
    Signature {
        file: String,
        block: usize,
        reason: String,
    },
    #[error("{file}: {reason}")]
    Key { file: String, reason: String },
}

/// One line of an `allowed_signers` file.
#[derive(Debug, Clone)]
pub struct AllowedSigner {
    /// Comma-separated principal patterns, as written (`alice@corp,*@ops.corp`).
    pub principals: String,
    pub key: PublicKey,
    /// `namespaces="…"`: the signature namespaces this key may sign; None means any.
    pub namespaces: Option<Vec<String>>,
    /// A certificate authority line: it vouches for certificates, never for a plain key.
    pub cert_authority: bool,
    /// `valid-after` / `valid-before` as `YYYYMMDD[HHMM[SS]]` (UTC), compared as digits.
    pub valid_after: Option<String>,
    pub valid_before: Option<String>,
    pub line: usize,
}

/// Reads an `allowed_signers` file (`ssh-keygen(1)`, "ALLOWED SIGNERS"); `#` lines and blank
/// lines are skipped.
pub fn parse_allowed_signers(text: &str, file: &str) -> Result<Vec<AllowedSigner>, ApprovalError> {
    let mut signers = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let error = |reason: String| ApprovalError::AllowedSigners {
            file: file.to_string(),
            line: index + 1,
            reason,
        };
        let fields = split_fields(line);
        let [principals, rest @ ..] = fields.as_slice() else {
            return Err(error("no principals".into()));
        };
        let (options, key_fields) = match rest {
            [first, ..] if is_key_type(first) => ("", rest),
            [options, keys @ ..] => (options.as_str(), keys),
            [] => return Err(error("no key".into())),
        };
        let [key_type, key_data, ..] = key_fields else {
            return Err(error("no key after the principals".into()));
        };
        let key = PublicKey::from_openssh(&format!("{key_type} {key_data}"))
            .map_err(|err| error(format!("cannot read the key: {err}")))?;
        let mut signer = AllowedSigner {
            principals: unquote(principals).to_string(),
            key,
            namespaces: None,
            cert_authority: false,
            valid_after: None,
            valid_before: None,
            line: index + 1,
        };
        for option in split_options(options) {
            let (name, value) = match option.split_once('=') {
                Some((name, value)) => (name.to_ascii_lowercase(), Some(unquote(value))),
                None => (option.to_ascii_lowercase(), None),
            };
            match (name.as_str(), value) {
                ("cert-authority", None) => signer.cert_authority = true,
                ("namespaces", Some(value)) => {
                    signer.namespaces =
                        Some(value.split(',').map(|n| n.trim().to_string()).collect())
                }
                ("valid-after", Some(value)) => signer.valid_after = Some(value.to_string()),
                ("valid-before", Some(value)) => signer.valid_before = Some(value.to_string()),
                _ => return Err(error(format!("unknown option `{option}`"))),
            }
        }
        signers.push(signer);
    }
    Ok(signers)
}

fn is_key_type(field: &str) -> bool {
    field.starts_with("ssh-") || field.starts_with("ecdsa-") || field.starts_with("sk-")
}

/// Whitespace-separated fields; a double-quoted stretch stays in its field.
fn split_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    fields.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        fields.push(current);
    }
    fields
}

/// Comma-separated options; commas inside quotes belong to the value.
fn split_options(options: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (i, c) in options.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&options[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&options[start..]);
    parts.into_iter().filter(|p| !p.is_empty()).collect()
}

fn unquote(text: &str) -> &str {
    text.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text)
}

/// The armored blocks of a signature file (several approvals may be appended to one file);
/// text outside the blocks (comments written by `approve`) is ignored.
pub fn parse_signatures(text: &str, file: &str) -> Result<Vec<SshSig>, ApprovalError> {
    let mut signatures = Vec::new();
    let mut rest = text;
    let mut block = 0;
    while let Some(start) = rest.find(BEGIN) {
        block += 1;
        let error = |reason: String| ApprovalError::Signature {
            file: file.to_string(),
            block,
            reason,
        };
        let after = &rest[start..];
        let Some(end) = after.find(END) else {
            return Err(error(format!(
                "the armor is truncated: `{BEGIN}` has no `{END}`"
            )));
        };
        let armored = &after[..end + END.len()];
        let signature = SshSig::from_pem(armored)
            .map_err(|err| error(format!("not an SSH signature: {err}")))?;
        if !supported(signature.algorithm()) {
            return Err(error(format!(
                "unsupported key type {} (use an Ed25519, ECDSA P-256 or RSA key)",
                signature.algorithm()
            )));
        }
        signatures.push(signature);
        rest = &after[end + END.len()..];
    }
    if signatures.is_empty() {
        return Err(ApprovalError::Signature {
            file: file.to_string(),
            block: 0,
            reason: format!("no `{BEGIN}` block"),
        });
    }
    Ok(signatures)
}

fn supported(algorithm: Algorithm) -> bool {
    matches!(
        algorithm,
        Algorithm::Ed25519
            | Algorithm::Ecdsa {
                curve: ssh_key::EcdsaCurve::NistP256
            }
            | Algorithm::Rsa { .. }
    )
}

/// A signature that counts: who approved, with which key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    /// The principals of the allowed-signers line whose key made the signature.
    pub principal: String,
    /// `SHA256:…`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
}

/// Why a signature does not count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub fingerprint: String,
    pub reason: String,
}

/// Checks each signature over `plan` (the plan file's bytes) against the allowed signers at
/// `now` (UTC, `YYYYMMDDHHMMSS`).
pub fn check(
    plan: &[u8],
    signatures: &[SshSig],
    signers: &[AllowedSigner],
    now: &str,
) -> Vec<Result<Approval, Rejection>> {
    signatures
        .iter()
        .map(|signature| check_one(plan, signature, signers, now))
        .collect()
}

fn check_one(
    plan: &[u8],
    signature: &SshSig,
    signers: &[AllowedSigner],
    now: &str,
) -> Result<Approval, Rejection> {
    let fingerprint = PublicKey::from(signature.public_key().clone())
        .fingerprint(HashAlg::Sha256)
        .to_string();
    let reject = |reason: String| Rejection {
        fingerprint: fingerprint.clone(),
        reason,
    };
    if signature.namespace() != NAMESPACE {
        return Err(reject(format!(
            "it was made for namespace `{}`, not `{NAMESPACE}` (sign with `ssh-keygen -Y sign -n {NAMESPACE}`)",
            signature.namespace()
        )));
    }
    let matching: Vec<&AllowedSigner> = signers
        .iter()
        .filter(|s| !s.cert_authority && s.key.key_data() == signature.public_key())
        .collect();
    if matching.is_empty() {
        return Err(reject("its key is not in the allowed signers".into()));
    }
    let Some(signer) = matching.iter().find(|s| allows(s, now)) else {
        let line = matching[0];
        return Err(reject(format!(
            "the allowed signers line {} for {} does not allow it (namespaces or validity)",
            line.line, line.principals
        )));
    };
    signer
        .key
        .verify(NAMESPACE, plan, signature)
        .map_err(|err| reject(format!("it does not verify over this plan: {err}")))?;
    Ok(Approval {
        principal: signer.principals.clone(),
        fingerprint,
    })
}

fn allows(signer: &AllowedSigner, now: &str) -> bool {
    let namespace_ok = signer
        .namespaces
        .as_ref()
        .is_none_or(|names| names.iter().any(|n| pattern_matches(n, NAMESPACE)));
    // Dates compare as digit strings once padded to YYYYMMDDHHMMSS.
    let padded = |date: &str| format!("{date:0<14}");
    let after_ok = signer
        .valid_after
        .as_deref()
        .is_none_or(|after| now >= padded(after).as_str());
    let before_ok = signer
        .valid_before
        .as_deref()
        .is_none_or(|before| now < padded(before).as_str());
    namespace_ok && after_ok && before_ok
}

/// `ssh-keygen`'s patterns: `*` any run, `?` one character.
fn pattern_matches(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    go(&p, &t)
}

/// The approvals that count, one per person: the same key (or the same principals) twice is one.
pub fn distinct(approvals: &[Approval]) -> Vec<&Approval> {
    let mut seen: Vec<&Approval> = Vec::new();
    for approval in approvals {
        if !seen
            .iter()
            .any(|s| s.fingerprint == approval.fingerprint || s.principal == approval.principal)
        {
            seen.push(approval);
        }
    }
    seen
}

/// Reads an OpenSSH private key, asking for its passphrase on the terminal when it is encrypted.
pub fn read_private_key(path: &Path) -> Result<PrivateKey, ApprovalError> {
    let file = path.display().to_string();
    let error = |reason: String| ApprovalError::Key {
        file: file.clone(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|err| error(err.to_string()))?;
    let key = PrivateKey::from_openssh(&text)
        .map_err(|err| error(format!("not an OpenSSH private key: {err}")))?;
    if !supported(key.algorithm()) {
        return Err(error(format!(
            "unsupported key type {} (use an Ed25519, ECDSA P-256 or RSA key)",
            key.algorithm()
        )));
    }
    if !key.is_encrypted() {
        return Ok(key);
    }
    let passphrase = match std::env::var("ASTRO_UPGRADE_KEY_PASSPHRASE") {
        Ok(passphrase) => passphrase,
        Err(_) => {
            rpassword::prompt_password(format!("Passphrase for {file}: ")).map_err(|err| {
                error(format!(
                    "the key is encrypted and no passphrase could be read from a terminal ({err})"
                ))
            })?
        }
    };
    key.decrypt(passphrase.as_bytes())
        .map_err(|_| error("wrong passphrase".into()))
}

/// Signs the plan file's bytes; the armored block `ssh-keygen -Y sign` would write.
pub fn sign(key: &PrivateKey, plan: &[u8]) -> Result<String, ApprovalError> {
    let error = |reason: String| ApprovalError::Key {
        file: "the key".into(),
        reason,
    };
    let signature = key
        .sign(NAMESPACE, HashAlg::Sha512, plan)
        .map_err(|err| error(format!("cannot sign: {err}")))?;
    signature
        .to_pem(LineEnding::LF)
        .map_err(|err| error(format!("cannot write the signature: {err}")))
}

/// Which identity of the running ssh-agent signs: `--key` named a public key file (`…pub`) or a
/// fingerprint (`SHA256:…`) instead of a private key.
pub fn agent_identity(key_arg: &Path) -> Option<String> {
    let text = key_arg.to_string_lossy();
    if text.starts_with("SHA256:") {
        return Some(text.into_owned());
    }
    let content = std::fs::read_to_string(key_arg).ok()?;
    let public = PublicKey::from_openssh(content.trim()).ok()?;
    Some(public.fingerprint(HashAlg::Sha256).to_string())
}

/// Signs the plan through the ssh-agent at `socket` (`$SSH_AUTH_SOCK`) with the identity whose
/// SHA-256 fingerprint is `fingerprint`: the private key never leaves the agent.
#[cfg(unix)]
pub fn sign_with_agent(
    socket: &Path,
    fingerprint: &str,
    plan: &[u8],
) -> Result<String, ApprovalError> {
    use std::io::{Read as _, Write as _};
    const REQUEST_IDENTITIES: u8 = 11;
    const IDENTITIES_ANSWER: u8 = 12;
    const SIGN_REQUEST: u8 = 13;
    const SIGN_RESPONSE: u8 = 14;
    const RSA_SHA2_512: u32 = 4;
    let error = |reason: String| ApprovalError::Key {
        file: format!("ssh-agent {}", socket.display()),
        reason,
    };
    let mut stream = std::os::unix::net::UnixStream::connect(socket)
        .map_err(|err| error(format!("cannot connect: {err}")))?;
    let mut exchange = |kind: u8, payload: &[u8]| -> Result<(u8, Vec<u8>), ApprovalError> {
        let length =
            u32::try_from(payload.len() + 1).map_err(|_| error("request too large".into()))?;
        let mut message = length.to_be_bytes().to_vec();
        message.push(kind);
        message.extend_from_slice(payload);
        stream
            .write_all(&message)
            .map_err(|err| error(format!("cannot write: {err}")))?;
        let mut length = [0u8; 4];
        stream
            .read_exact(&mut length)
            .map_err(|err| error(format!("cannot read: {err}")))?;
        let length = u32::from_be_bytes(length) as usize;
        if length == 0 || length > 256 * 1024 {
            return Err(error(format!("an answer of {length} bytes")));
        }
        let mut answer = vec![0u8; length];
        stream
            .read_exact(&mut answer)
            .map_err(|err| error(format!("cannot read: {err}")))?;
        Ok((answer[0], answer[1..].to_vec()))
    };
    let (kind, body) = exchange(REQUEST_IDENTITIES, &[])?;
    if kind != IDENTITIES_ANSWER {
        return Err(error(format!(
            "unexpected answer {kind} to a list of identities"
        )));
    }
    let mut reader = WireReader(&body);
    let count = reader
        .u32()
        .ok_or_else(|| error("a truncated list of identities".into()))?;
    let mut chosen = None;
    for _ in 0..count {
        let blob = reader
            .string()
            .ok_or_else(|| error("a truncated identity".into()))?;
        let _comment = reader.string();
        if let Ok(key) = PublicKey::from_bytes(blob) {
            if key.fingerprint(HashAlg::Sha256).to_string() == fingerprint {
                chosen = Some((blob.to_vec(), key));
                break;
            }
        }
    }
    let Some((blob, key)) = chosen else {
        return Err(error(format!("the agent holds no identity {fingerprint}")));
    };
    if !supported(key.algorithm()) {
        return Err(error(format!("unsupported key type {}", key.algorithm())));
    }
    let data = SshSig::signed_data(NAMESPACE, HashAlg::Sha512, plan)
        .map_err(|err| error(err.to_string()))?;
    let mut request = Vec::new();
    for field in [&blob[..], &data[..]] {
        request.extend_from_slice(&(field.len() as u32).to_be_bytes());
        request.extend_from_slice(field);
    }
    let flags = if matches!(key.algorithm(), Algorithm::Rsa { .. }) {
        RSA_SHA2_512
    } else {
        0
    };
    request.extend_from_slice(&flags.to_be_bytes());
    let (kind, body) = exchange(SIGN_REQUEST, &request)?;
    if kind != SIGN_RESPONSE {
        return Err(error("the agent refused to sign".into()));
    }
    let signature = WireReader(&body)
        .string()
        .ok_or_else(|| error("a truncated signature".into()))?;
    let signature = ssh_key::Signature::try_from(signature)
        .map_err(|err| error(format!("cannot read the agent's signature: {err}")))?;
    let sshsig = SshSig::new(
        key.key_data().clone(),
        NAMESPACE,
        HashAlg::Sha512,
        signature,
    )
    .map_err(|err| error(err.to_string()))?;
    sshsig
        .to_pem(LineEnding::LF)
        .map_err(|err| error(err.to_string()))
}

/// Reads SSH wire-format fields (`uint32`, `string`).
struct WireReader<'a>(&'a [u8]);

impl<'a> WireReader<'a> {
    fn u32(&mut self) -> Option<u32> {
        let (head, rest) = self.0.split_first_chunk::<4>()?;
        self.0 = rest;
        Some(u32::from_be_bytes(*head))
    }

    fn string(&mut self) -> Option<&'a [u8]> {
        let length = self.u32()? as usize;
        let field = self.0.get(..length)?;
        self.0 = &self.0[length..];
        Some(field)
    }
}

/// Now in UTC as `YYYYMMDDHHMMSS`, the form allowed-signers dates compare with.
pub fn now_digits() -> String {
    jiff::Timestamp::now().strftime("%Y%m%d%H%M%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPDWeQjbxQTlRTtGt6gCu5rDUGhhvQ7IL83yiDVq7UPn";

    #[test]
    fn allowed_signers_lines_read_as_ssh_keygen_documents_them() {
        let text = format!(
            "# team\n\nalice@corp {ED25519} alice's laptop\n\"bob@corp,b@ops\" namespaces=\"git,astro-upgrade-plan\",valid-after=\"20260101\" {ED25519}\n*@ca.corp cert-authority {ED25519}\n"
        );
        let signers = parse_allowed_signers(&text, "allowed").unwrap();
        assert_eq!(signers.len(), 3);
        assert_eq!(signers[0].principals, "alice@corp");
        assert_eq!(signers[0].line, 3);
        assert_eq!(signers[0].namespaces, None);
        assert_eq!(signers[1].principals, "bob@corp,b@ops");
        assert_eq!(
            signers[1].namespaces.as_deref(),
            Some(&["git".to_string(), "astro-upgrade-plan".to_string()][..])
        );
        assert_eq!(signers[1].valid_after.as_deref(), Some("20260101"));
        assert!(signers[2].cert_authority);
        assert!(allows(&signers[1], "20260601120000"));
        assert!(!allows(&signers[1], "20251231235959"), "not valid yet");
        let git_only = AllowedSigner {
            namespaces: Some(vec!["git".into()]),
            ..signers[0].clone()
        };
        assert!(!allows(&git_only, "20260601120000"));
    }

    #[test]
    fn a_bad_allowed_signers_line_names_the_file_and_line() {
        let err = parse_allowed_signers("alice@corp ssh-ed25519 AAAA-not-base64\n", "team.allowed")
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("team.allowed:1: cannot read the key"),
            "{err}"
        );
        let err = parse_allowed_signers(&format!("a b,c {ED25519} x\nalice\n"), "f").unwrap_err();
        assert!(err.to_string().starts_with("f:1: unknown option"), "{err}");
    }

    #[test]
    fn patterns_match_like_ssh_keygen() {
        assert!(pattern_matches("astro-upgrade-*", NAMESPACE));
        assert!(pattern_matches("*", NAMESPACE));
        assert!(pattern_matches("astro-upgrade-pla?", NAMESPACE));
        assert!(!pattern_matches("git", NAMESPACE));
        assert!(!pattern_matches("astro-upgrade", NAMESPACE));
    }

    #[test]
    fn a_truncated_armor_or_no_block_is_named() {
        let err = parse_signatures(
            "-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAQ\n",
            "plan.json.sig",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("plan.json.sig: signature 1: the armor is truncated"),
            "{err}"
        );
        let err = parse_signatures("hello\n", "x.sig").unwrap_err();
        assert!(err
            .to_string()
            .contains("no `-----BEGIN SSH SIGNATURE-----` block"));
    }

    #[test]
    fn one_person_counts_once() {
        let a = Approval {
            principal: "alice@corp".into(),
            fingerprint: "SHA256:a".into(),
        };
        let b = Approval {
            principal: "bob@corp".into(),
            fingerprint: "SHA256:b".into(),
        };
        let a_again = a.clone();
        assert_eq!(distinct(&[a.clone(), a_again, b.clone()]).len(), 2);
        let a_other_key = Approval {
            fingerprint: "SHA256:c".into(),
            ..a.clone()
        };
        assert_eq!(distinct(&[a, a_other_key]).len(), 1);
    }
}
