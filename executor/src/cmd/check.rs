use crate::{CheckArgs, GlobalArgs, PlanArgs};

pub fn run_check(_global: &GlobalArgs, _args: CheckArgs) -> anyhow::Result<u8> {
    anyhow::bail!("check is not built yet")
}

pub fn run_plan(_global: &GlobalArgs, _args: PlanArgs) -> anyhow::Result<u8> {
    anyhow::bail!("plan is not built yet")
}
