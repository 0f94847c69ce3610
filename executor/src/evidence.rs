//! Loading pasted evidence from files: `--paste DIR`, `--input KIND=FILE` (parsed by clap in
//! `main.rs`), `--bundle FILE`, `--manifest FILE`, and the files of `inspect`.
//!
//! Every problem a user can fix (a missing folder, an unreadable file, an unknown kind) is a
//! usage error (exit 2) that names the path; odd bytes are not: they are decoded as well as
//! possible, with a warning, because the readers are built to cope with damaged pastes.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Result;
use planner::{Acknowledgements, EvidenceKind, Source};

use crate::exit::Exit;
use crate::EvidenceArgs;

/// Files a paste folder may hold beside the evidence, which are about the evidence rather
/// than evidence themselves (the examples keep their expected verdict there).
const NOT_EVIDENCE: [&str; 3] = ["expected.json", "README.md", "README.txt"];

/// The path that means standard input.
const STDIN: &str = "-";

/// Everything `check` and `plan` evaluate.
#[derive(Debug, Default)]
pub struct Evidence {
    pub sources: Vec<Source>,
    pub manifests: Vec<Source>,
}

impl Evidence {
    /// Reads every file the flags name. `sources` is empty when no evidence flag was given
    /// (the caller then reads the live cluster); manifests alone are not evidence.
    pub fn load(args: &EvidenceArgs) -> Result<Evidence> {
        let mut stdin = StdinGuard::default();
        let mut sources = Vec::new();
        // With several folders, `pods.txt` alone would not say which one an evidence line is in.
        let qualify = args.paste.len() > 1;
        for dir in &args.paste {
            sources.extend(read_paste_dir(dir, qualify)?);
        }
        for input in &args.input {
            sources.push(read_file_source(&input.file, Some(input.kind), &mut stdin)?);
        }
        for path in &args.bundle {
            sources.push(read_file_source(
                path,
                Some(EvidenceKind::Bundle),
                &mut stdin,
            )?);
        }
        let mut manifests = Vec::new();
        for path in &args.manifest {
            manifests.push(read_file_source(path, None, &mut stdin)?);
        }
        Ok(Evidence { sources, manifests })
    }
}

/// The acknowledgements of `--ack` and `--air-gapped`, through the planner's own parser (the
/// page uses the same one).
pub fn acknowledgements(args: &EvidenceArgs) -> Result<Acknowledgements> {
    let mut acks = Acknowledgements::default();
    for ack in &args.ack {
        acks.parse_ack(ack)
            .map_err(|err| Exit::usage(format!("--ack {ack}: {err}")))?;
    }
    if args.air_gapped {
        acks.air_gapped = true;
    }
    Ok(acks)
}

/// Every regular file of a paste folder, sorted by name; the kind comes from the file name
/// (`pods.txt`), else from the content. Sources are named by file name, or by path when
/// `qualify` asks for it.
fn read_paste_dir(dir: &Path, qualify: bool) -> Result<Vec<Source>> {
    let entries = std::fs::read_dir(dir)
        .map_err(|err| Exit::usage(format!("--paste {}: {err}", dir.display())))?;
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    let mut folders: Vec<String> = Vec::new();
    for entry in entries {
        let entry =
            entry.map_err(|err| Exit::usage(format!("--paste {}: {err}", dir.display())))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        // Dot-files and editor backups (`pods.txt~`) are not what the user pasted last.
        let hidden = name.starts_with('.') || name.ends_with('~');
        if hidden || NOT_EVIDENCE.contains(&name.as_str()) {
            continue;
        }
        if path.is_file() {
            files.push((name, path));
        } else if path.is_dir() {
            folders.push(name);
        }
    }
    if files.is_empty() {
        folders.sort();
        let hint = match folders.as_slice() {
            [] => String::new(),
            some => format!(
                "; it has folders, give one of them: {}",
                some.iter()
                    .map(|folder| dir.join(folder).display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        return Err(Exit::usage(format!(
            "--paste {}: the folder holds no evidence files (e.g. kubectl-version.txt, pods.txt){hint}",
            dir.display()
        )));
    }
    files.sort();
    files
        .into_iter()
        .map(|(name, path)| {
            let text = read_text(&path)?;
            let kind = EvidenceKind::from_file_name(&name);
            let name = if qualify {
                path.display().to_string()
            } else {
                name
            };
            Ok(Source::new(name, kind, text))
        })
        .collect()
}

/// One file (or `-` for standard input) as a source named by the path as given.
pub fn read_file_source(
    path: &Path,
    kind: Option<EvidenceKind>,
    stdin: &mut StdinGuard,
) -> Result<Source> {
    if path.as_os_str() == STDIN {
        stdin.claim()?;
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|err| Exit::usage(format!("standard input: {err}")))?;
        return Ok(Source::new("stdin", kind, decode("standard input", &bytes)));
    }
    Ok(Source::new(
        path.display().to_string(),
        kind,
        read_text(path)?,
    ))
}

/// Standard input can be read once; a second `-` is a usage error rather than an empty source.
#[derive(Debug, Default)]
pub struct StdinGuard {
    claimed: bool,
}

impl StdinGuard {
    fn claim(&mut self) -> Result<()> {
        if self.claimed {
            return Err(Exit::usage(
                "standard input (`-`) can be given only once".to_string(),
            ));
        }
        self.claimed = true;
        Ok(())
    }
}

fn read_text(path: &Path) -> Result<String> {
    if path.is_dir() {
        let shown = path.display();
        return Err(Exit::usage(format!(
            "{shown} is a folder: name its files ({shown}/*), or check it all with `astro-upgrade check --paste {shown}`"
        )));
    }
    let bytes = std::fs::read(path)
        .map_err(|err| Exit::usage(format!("cannot read {}: {err}", path.display())))?;
    Ok(decode(&path.display().to_string(), &bytes))
}

/// Text from a paste's bytes: UTF-8, or UTF-16 with a byte-order mark (what PowerShell's `>`
/// writes), else UTF-8 with the undecodable bytes replaced — and a warning saying so.
fn decode(name: &str, bytes: &[u8]) -> String {
    if let Some(text) = decode_utf16(bytes) {
        return text;
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_string(),
        Err(_) => {
            eprintln!(
                "warning: {name} is not valid UTF-8; undecodable bytes were replaced with U+FFFD"
            );
            String::from_utf8_lossy(bytes).into_owned()
        }
    }
}

fn decode_utf16(bytes: &[u8]) -> Option<String> {
    let (body, little_endian) = match bytes {
        [0xFF, 0xFE, body @ ..] => (body, true),
        [0xFE, 0xFF, body @ ..] => (body, false),
        _ => return None,
    };
    let units = body.chunks_exact(2).map(|pair| {
        let pair = [pair[0], pair[1]];
        if little_endian {
            u16::from_le_bytes(pair)
        } else {
            u16::from_be_bytes(pair)
        }
    });
    Some(
        char::decode_utf16(units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_with_bom_is_decoded() {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in "Client Version: v1.18.2".encode_utf16() {
            bytes.extend(unit.to_le_bytes());
        }
        assert_eq!(decode("x", &bytes), "Client Version: v1.18.2");
    }

    #[test]
    fn invalid_utf8_is_read_lossily() {
        assert_eq!(decode("x", b"pod\xFFname"), "pod\u{FFFD}name");
    }

    #[test]
    fn utf8_bom_is_dropped() {
        assert_eq!(decode("x", b"\xEF\xBB\xBFNAME"), "NAME");
    }
}
