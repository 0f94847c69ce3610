//! Entry points of the subcommands that talk to a cluster. Each builds its own tokio runtime, so
//! the offline subcommands never start one.

use anyhow::Context as _;

use crate::exit::Code;
use crate::{
    cluster, collect, ApplyArgs, CollectArgs, FinishArgs, GlobalArgs, RollbackArgs, StatusArgs,
    VerifyArgs,
};

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub fn collect(global: &GlobalArgs, args: CollectArgs) -> anyhow::Result<Code> {
    let bundle = runtime()?.block_on(collect_bundle(global))?;
    match &args.out {
        Some(path) => {
            std::fs::write(path, bundle + "\n")
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("bundle written to {}", path.display());
        }
        None => println!("{bundle}"),
    }
    Ok(Code::Ok)
}

async fn collect_bundle(global: &GlobalArgs) -> anyhow::Result<String> {
    let cluster = cluster::connect(global).await?;
    let facts = collect::collect_facts(&cluster, &global.namespace).await?;
    if let Some(warning) = facts
        .kubernetes
        .server_version
        .as_deref()
        .and_then(cluster::version_warning)
    {
        eprintln!("warning: {warning}");
    }
    collect::bundle_json(&facts, &cluster.context)
}

pub fn apply(global: &GlobalArgs, args: ApplyArgs) -> anyhow::Result<Code> {
    let code = runtime()?.block_on(crate::apply::run_apply(global, args))?;
    Ok(Code::from_u8(code))
}
pub fn rollback(global: &GlobalArgs, args: RollbackArgs) -> anyhow::Result<Code> {
    let code = runtime()?.block_on(crate::apply::run_rollback(global, args))?;
    Ok(Code::from_u8(code))
}
pub fn status(global: &GlobalArgs, args: StatusArgs) -> anyhow::Result<Code> {
    runtime()?.block_on(crate::apply::run_status(global, args))
}
pub fn verify(global: &GlobalArgs, args: VerifyArgs) -> anyhow::Result<Code> {
    runtime()?.block_on(crate::apply::run_verify(global, args))
}
pub fn finish(global: &GlobalArgs, args: FinishArgs) -> anyhow::Result<Code> {
    runtime()?.block_on(crate::apply::run_finish(global, args))
}

/// Reads the live cluster into a `collect` bundle, as evidence for `check`/`plan` when no paste is given.
pub fn collect_live_source(global: &GlobalArgs) -> anyhow::Result<planner::Source> {
    let bundle = runtime()?.block_on(collect_bundle(global))?;
    Ok(planner::Source::new(
        "live",
        Some(planner::EvidenceKind::Bundle),
        bundle,
    ))
}
