//! One module per subcommand. Offline subcommands (inspect, check/plan on pasted evidence) never
//! start a runtime or touch a cluster; the live ones build a tokio runtime here.

use crate::exit::{Code, Exit};
use crate::{Cli, Command};

pub mod approve;
pub mod check;
pub mod docs;
pub mod fleet;
pub mod inspect;
pub mod live;

pub fn run(cli: Cli) -> anyhow::Result<Code> {
    let contexts = cli.global.contexts.len();
    let fleet = match &cli.command {
        Command::Check(args) => Some(args.fleet.is_fleet(contexts)),
        Command::Plan(args) => Some(args.fleet.is_fleet(contexts)),
        Command::Collect(args) => Some(args.fleet.is_fleet(contexts)),
        _ => None,
    };
    match fleet {
        None if contexts > 1 => {
            return Err(Exit::usage(format!(
                "--context given {contexts} times: only check, plan and collect take several contexts (a fleet); this command works on one cluster"
            )))
        }
        Some(false) if fleet_tuned(&cli.command) => {
            return Err(Exit::usage(
                "--parallel and --cluster-timeout are for fleet runs (several --context, --all-contexts or --contexts-from)",
            ))
        }
        Some(false) if out_dir_given(&cli.command) => {
            return Err(Exit::usage(
                "--out-dir is for fleet runs (several --context, --all-contexts or --contexts-from); for one cluster use --out",
            ))
        }
        _ => {}
    }
    match cli.command {
        Command::Inspect(args) => inspect::run(&cli.global, args),
        Command::Check(args) if fleet == Some(true) => fleet::check(&cli.global, args),
        Command::Plan(args) if fleet == Some(true) => fleet::plan(&cli.global, args),
        Command::Collect(args) if fleet == Some(true) => fleet::collect(&cli.global, args),
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

fn out_dir_given(command: &Command) -> bool {
    match command {
        Command::Plan(args) => args.out_dir.is_some(),
        Command::Collect(args) => args.out_dir.is_some(),
        _ => false,
    }
}

fn fleet_tuned(command: &Command) -> bool {
    match command {
        Command::Check(args) => args.fleet.tunes_a_fleet(),
        Command::Plan(args) => args.fleet.tunes_a_fleet(),
        Command::Collect(args) => args.fleet.tunes_a_fleet(),
        _ => false,
    }
}
