//! `inspect`: the facts the readers found in pasted files, as one JSON document (the public
//! contract of the readers; see `planner::facts`).

use anyhow::Result;

use crate::evidence::{self, StdinGuard};
use crate::exit::Code;
use crate::render;
use crate::{GlobalArgs, InspectArgs};

pub fn run(_global: &GlobalArgs, args: InspectArgs) -> Result<Code> {
    let kind = args.as_kind.map(|kind| kind.0);
    let mut stdin = StdinGuard::default();
    let sources = args
        .files
        .iter()
        .map(|path| evidence::read_file_source(path, kind, &mut stdin))
        .collect::<Result<Vec<_>>>()?;
    let mut facts = planner::read_sources(&sources);
    // A reader may quote the line it could not read; that line may hold a password.
    for diagnostic in &mut facts.diagnostics {
        diagnostic.message = planner::report::redact_secrets(&diagnostic.message);
    }
    render::to_stdout(&render::json(&facts)?)?;
    Ok(Code::Ok)
}
