use crate::{GlobalArgs, InspectArgs};

pub fn run(_global: &GlobalArgs, _args: InspectArgs) -> anyhow::Result<u8> {
    anyhow::bail!("inspect is not built yet")
}
