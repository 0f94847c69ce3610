//! One module per subcommand. Offline subcommands (inspect, check/plan on pasted evidence) never
//! start a runtime or touch a cluster; the live ones build a tokio runtime here.

use crate::exit::Code;
use crate::{Cli, Command};

pub mod approve;
pub mod check;
pub mod docs;
pub mod inspect;
pub mod live;

pub fn run(cli: Cli) -> anyhow::Result<Code> {
    match cli.command {
        Command::Inspect(args) => inspect::run(&cli.global, args),
        Command::Check(args) => check::run_check(&cli.global, args),
        Command::Plan(args) => check::run_plan(&cli.global, args),
        Command::Collect(args) => live::collect(&cli.global, args),
        Command::Apply(args) => live::apply(&cli.global, args),
        Command::Rollback(args) => live::rollback(&cli.global, args),
        Command::Status(args) => live::status(&cli.global, args),
        Command::Verify(args) => live::verify(&cli.global, args),
        Command::Finish(args) => live::finish(&cli.global, args),
        Command::Approve(args) => approve::approve(&cli.global, args),
        Command::VerifyApproval(args) => approve::verify_approval(&cli.global, args),
        Command::Completions(args) => docs::completions(&args),
        Command::Man(args) => docs::man(&args),
    }
}
