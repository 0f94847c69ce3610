//! Exit codes: documented in `--help` and the README, the same for every subcommand, never reused.

pub const OK: u8 = 0;
pub const RUNTIME: u8 = 1;
pub const USAGE: u8 = 2;
pub const REFUSED: u8 = 3;
pub const INCOMPLETE: u8 = 4;
pub const ROLLED_BACK: u8 = 5;
pub const NEEDS_HUMAN: u8 = 6;
/// The upgrade failed before it changed the platform; nothing was rolled back.
pub const FAILED_UNTOUCHED: u8 = 7;

/// An error that carries its own exit code (usage errors, refusals); anything else is a runtime error.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Exit {
    pub code: u8,
    pub message: String,
}

impl Exit {
    pub fn usage(message: impl Into<String>) -> anyhow::Error {
        Exit {
            code: USAGE,
            message: message.into(),
        }
        .into()
    }
    pub fn refused(message: impl Into<String>) -> anyhow::Error {
        Exit {
            code: REFUSED,
            message: message.into(),
        }
        .into()
    }
}

pub fn code_for_error(err: &anyhow::Error) -> u8 {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<Exit>().map(|exit| exit.code))
        .unwrap_or(RUNTIME)
}

pub fn for_verdict(verdict: planner::Verdict) -> u8 {
    match verdict {
        planner::Verdict::Go => OK,
        planner::Verdict::NoGo => REFUSED,
        planner::Verdict::Incomplete => INCOMPLETE,
    }
}
