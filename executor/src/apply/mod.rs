//! `apply` and `rollback`: the state machine ([`engine`]) decides, this module does the kube I/O.

pub mod engine;

use crate::{ApplyArgs, GlobalArgs, RollbackArgs, StatusArgs, VerifyArgs};

pub async fn run_apply(_global: &GlobalArgs, _args: ApplyArgs) -> anyhow::Result<u8> {
    anyhow::bail!("apply is not built yet")
}
pub async fn run_rollback(_global: &GlobalArgs, _args: RollbackArgs) -> anyhow::Result<u8> {
    anyhow::bail!("rollback is not built yet")
}
pub async fn run_status(_global: &GlobalArgs, _args: StatusArgs) -> anyhow::Result<u8> {
    anyhow::bail!("status is not built yet")
}
pub async fn run_verify(_global: &GlobalArgs, _args: VerifyArgs) -> anyhow::Result<u8> {
    anyhow::bail!("verify is not built yet")
}
