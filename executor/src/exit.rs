//! Exit codes: documented in `--help` and the README, the same for every subcommand, never reused.

use std::fmt::Write as _;

/// Every exit code of `astro-upgrade`. `--help` lists them from [`Code::meaning`].
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Ok = 0,
    Runtime = 1,
    Usage = 2,
    Refused = 3,
    Incomplete = 4,
    RolledBack = 5,
    NeedsHuman = 6,
    /// The upgrade failed before it changed the platform; nothing was rolled back.
    FailedUntouched = 7,
}

impl Code {
    pub const ALL: [Code; 8] = [
        Code::Ok,
        Code::Runtime,
        Code::Usage,
        Code::Refused,
        Code::Incomplete,
        Code::RolledBack,
        Code::NeedsHuman,
        Code::FailedUntouched,
    ];

    /// What the code tells the caller, as `--help` prints it.
    pub fn meaning(self) -> &'static str {
        match self {
            Code::Ok => "GO, or success",
            Code::Runtime => "runtime error (cluster unreachable, I/O failure…)",
            Code::Usage => "usage or input error (bad flag, unreadable file)",
            Code::Refused => {
                "NO-GO, or refused (plan tampered, not GO, drift, missing rights), or a verify check failed"
            }
            Code::Incomplete => {
                "INCOMPLETE (evidence or acknowledgements missing), or a verify check could not be made"
            }
            Code::RolledBack => "upgrade failed and the rollback succeeded",
            Code::NeedsHuman => {
                "needs a human: the upgrade or rollback failed and was not recovered"
            }
            Code::FailedUntouched => {
                "the upgrade failed before it changed the platform (nothing rolled back; fix and re-run)"
            }
        }
    }

    /// The code of a number the apply engine returned; one outside the table (none is made)
    /// counts as a runtime error.
    pub fn from_u8(code: u8) -> Code {
        Code::ALL
            .into_iter()
            .find(|known| *known as u8 == code)
            .unwrap_or(Code::Runtime)
    }
}

impl From<Code> for std::process::ExitCode {
    fn from(code: Code) -> Self {
        std::process::ExitCode::from(code as u8)
    }
}

/// The table of `--help`.
pub fn help() -> String {
    let mut text = String::from("Exit codes (the same for every subcommand):");
    for code in Code::ALL {
        let _ = write!(text, "\n  {}  {}", code as u8, code.meaning());
    }
    text
}

// The numbers by name, for the apply modules, which keep codes as `u8`. Each name stays while
// those modules change, whether or not they use it at the moment.
pub const OK: u8 = Code::Ok as u8;
#[allow(dead_code)]
pub const USAGE: u8 = Code::Usage as u8;
#[allow(dead_code)]
pub const REFUSED: u8 = Code::Refused as u8;
pub const ROLLED_BACK: u8 = Code::RolledBack as u8;
pub const NEEDS_HUMAN: u8 = Code::NeedsHuman as u8;
/// The upgrade failed before it changed the platform; nothing was rolled back.
pub const FAILED_UNTOUCHED: u8 = Code::FailedUntouched as u8;

/// An error that carries its own exit code (usage errors, refusals); anything else is a runtime error.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Exit {
    pub code: Code,
    pub message: String,
}

impl Exit {
    pub fn usage(message: impl Into<String>) -> anyhow::Error {
        Exit {
            code: Code::Usage,
            message: message.into(),
        }
        .into()
    }
    pub fn refused(message: impl Into<String>) -> anyhow::Error {
        Exit {
            code: Code::Refused,
            message: message.into(),
        }
        .into()
    }
    pub fn needs_human(message: impl Into<String>) -> anyhow::Error {
        Exit {
            code: Code::NeedsHuman,
            message: message.into(),
        }
        .into()
    }
}

/// The code of an error: its own when it carries one, else a runtime error.
pub fn of_error(err: &anyhow::Error) -> Code {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<Exit>().map(|exit| exit.code))
        .unwrap_or(Code::Runtime)
}

/// An error and its causes on one line, as `{:#}` writes them, without a cause that only
/// repeats what the text before it already says (kube-rs and hyper print their source inside
/// their own message too: "client error (Connect): client error (Connect): tcp connect error").
pub fn chain_text(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let part = cause.to_string();
        if text.is_empty() {
            text = part;
        } else if !text.ends_with(&part) && !text.contains(&format!("{part}: ")) {
            text.push_str(": ");
            text.push_str(&part);
        }
    }
    text
}

/// [`of_error`] as a number, for the journal.
pub fn code_for_error(err: &anyhow::Error) -> u8 {
    of_error(err) as u8
}

pub fn for_verdict(verdict: planner::Verdict) -> Code {
    match verdict {
        planner::Verdict::Go => Code::Ok,
        planner::Verdict::NoGo => Code::Refused,
        planner::Verdict::Incomplete => Code::Incomplete,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_cause_that_repeats_its_error_is_said_once() {
        #[derive(Debug)]
        struct Layer(&'static str, Option<Box<Layer>>);
        impl std::fmt::Display for Layer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0)
            }
        }
        impl std::error::Error for Layer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                self.1.as_deref().map(|l| l as _)
            }
        }
        let io = Layer("Connection refused (os error 111)", None);
        let tcp = Layer("tcp connect error", Some(Box::new(io)));
        let hyper = Layer("client error (Connect)", Some(Box::new(tcp)));
        let kube = Layer("client error (Connect)", Some(Box::new(hyper)));
        let err = anyhow::Error::new(kube).context("cannot read the server version (GET /version)");
        assert_eq!(
            super::chain_text(&err),
            "cannot read the server version (GET /version): client error (Connect): tcp connect error: Connection refused (os error 111)"
        );
        assert_eq!(
            format!("{err:#}").matches("client error (Connect)").count(),
            2
        );
    }

    use super::*;

    #[test]
    fn codes_are_the_documented_numbers() {
        let numbers: Vec<u8> = Code::ALL.iter().map(|code| *code as u8).collect();
        assert_eq!(numbers, [0, 1, 2, 3, 4, 5, 6, 7]);
        for code in Code::ALL {
            assert_eq!(Code::from_u8(code as u8), code);
        }
        assert_eq!(Code::from_u8(42), Code::Runtime);
        assert_eq!((OK, USAGE, REFUSED), (0, 2, 3));
        assert_eq!((ROLLED_BACK, NEEDS_HUMAN, FAILED_UNTOUCHED), (5, 6, 7));
    }

    #[test]
    fn errors_keep_their_code_through_context() {
        let err = Exit::refused("drift").context("apply");
        assert_eq!(of_error(&err), Code::Refused);
        assert_eq!(code_for_error(&err), 3);
        assert_eq!(of_error(&anyhow::anyhow!("boom")), Code::Runtime);
    }

    #[test]
    fn help_lists_every_code_in_order() {
        let help = help();
        let lines: Vec<&str> = help.lines().skip(1).collect();
        assert_eq!(lines.len(), Code::ALL.len());
        assert!(
            lines[7].starts_with("  7  the upgrade failed before"),
            "{help}"
        );
        assert!(lines[2].contains("usage or input error"), "{help}");
    }
}
