//! Entry points of the subcommands that talk to a cluster.

use crate::{ApplyArgs, CollectArgs, GlobalArgs, RollbackArgs, StatusArgs, VerifyArgs};

pub fn collect(_global: &GlobalArgs, _args: CollectArgs) -> anyhow::Result<u8> {
    anyhow::bail!("collect is not built yet")
}
pub fn apply(_global: &GlobalArgs, _args: ApplyArgs) -> anyhow::Result<u8> {
    anyhow::bail!("apply is not built yet")
}
pub fn rollback(_global: &GlobalArgs, _args: RollbackArgs) -> anyhow::Result<u8> {
    anyhow::bail!("rollback is not built yet")
}
pub fn status(_global: &GlobalArgs, _args: StatusArgs) -> anyhow::Result<u8> {
    anyhow::bail!("status is not built yet")
}
pub fn verify(_global: &GlobalArgs, _args: VerifyArgs) -> anyhow::Result<u8> {
    anyhow::bail!("verify is not built yet")
}

/// Reads the live cluster into a `collect` bundle, as evidence for `check`/`plan` when no paste is given.
pub fn collect_live_source(_global: &GlobalArgs) -> anyhow::Result<planner::Source> {
    anyhow::bail!("live collection is not built yet")
}
