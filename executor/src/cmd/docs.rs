//! `completions SHELL` and `man [SUBCOMMAND]`: what a distribution installs beside the binary,
//! generated from the same clap definition the binary parses with, so they never drift from it.
//! `scripts/dist` ships their output; a bastion without the tarball's files can still print them.

use std::io::Write as _;

use anyhow::Context as _;
use clap::CommandFactory as _;
use clap_mangen::roff::{bold, roman, Roff};

use crate::exit::{Code, Exit};
use crate::{Cli, CompletionsArgs, ManArgs};

const BIN: &str = "astro-upgrade";

pub fn completions(args: &CompletionsArgs) -> anyhow::Result<Code> {
    // Into a buffer first: clap_complete panics on a write error, and a closed pipe
    // (`| head`) deserves an error message, not a panic.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), BIN, &mut script);
    if args.shell == clap_complete::Shell::Bash {
        script = fix_bash_dispatch(script);
    }
    write_stdout(&script)?;
    Ok(Code::Ok)
}

/// clap_complete's bash script spells a subcommand's state two ways when the binary's name holds
/// a hyphen (clap-rs/clap#6421, open): the loop that reads the words arrives at
/// `astro__upgrade__subcmd__check`, the arms that offer the options are labelled
/// `astro__subcmd__upgrade__subcmd__check`, so no subcommand's options ever completed. The arms
/// are relabelled the way the loop spells them.
fn fix_bash_dispatch(script: Vec<u8>) -> Vec<u8> {
    let arm = format!("{}__subcmd__", BIN.replace('-', "__subcmd__"));
    let state = format!("{}__subcmd__", BIN.replace('-', "__"));
    match String::from_utf8(script) {
        Ok(text) => text.replace(&arm, &state).into_bytes(),
        Err(err) => err.into_bytes(),
    }
}

pub fn man(args: &ManArgs) -> anyhow::Result<Code> {
    let Some(dir) = &args.out_dir else {
        write_stdout(&page(args.subcommand.as_deref())?)?;
        return Ok(Code::Ok);
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let pages = std::iter::once(None).chain(subcommands().into_iter().map(Some));
    for subcommand in pages {
        let name = match &subcommand {
            None => format!("{BIN}.1"),
            Some(sub) => format!("{BIN}-{sub}.1"),
        };
        let file = dir.join(name);
        std::fs::write(&file, page(subcommand.as_deref())?)
            .with_context(|| format!("cannot write {}", file.display()))?;
        println!("{}", file.display());
    }
    Ok(Code::Ok)
}

/// The names `man SUBCOMMAND` accepts, in `--help` order: each has its page.
pub fn subcommands() -> Vec<String> {
    Cli::command()
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set())
        .map(|sub| sub.get_name().to_string())
        .collect()
}

/// The roff of astro-upgrade(1), or of astro-upgrade-SUBCOMMAND(1).
pub fn page(subcommand: Option<&str>) -> anyhow::Result<Vec<u8>> {
    let mut command = Cli::command().disable_help_subcommand(true);
    // Built once so subcommands get their display names (`astro-upgrade-check`), which the
    // main page's SUBCOMMANDS section refers to.
    command.build();
    let command = match subcommand {
        None => command,
        Some(name) => command.find_subcommand(name).cloned().ok_or_else(|| {
            Exit::usage(format!(
                "no subcommand '{name}'; pages exist for: {}",
                subcommands().join(", ")
            ))
        })?,
    };
    // Every page's footer names the version, subcommands' too (clap gives them none); the
    // commit is in the main page's VERSION section (a footer has no room for it).
    let man = clap_mangen::Man::new(command.clone())
        .source(concat!("astro-upgrade ", env!("CARGO_PKG_VERSION")));
    let mut out = Vec::new();
    // clap_mangen's own `render`, except that the exit codes (the commands' after-help) become
    // an EXIT STATUS list instead of lines run together into one paragraph under "EXTRA".
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    if command.get_arguments().any(|arg| !arg.is_hide_set()) {
        man.render_options_section(&mut out)?;
    }
    if command.has_subcommands() {
        man.render_subcommands_section(&mut out)?;
    }
    exit_status(&mut out)?;
    if command.get_version().is_some() {
        man.render_version_section(&mut out)?;
    }
    Ok(ascii_safe(out))
}

/// groff's ASCII device (what `man` uses in the C locale, likely on a bastion) has no glyph for
/// the ellipsis the help texts use, and warns for each; `...` reads the same everywhere. (`→`
/// has an ASCII fallback, `->`.)
fn ascii_safe(roff: Vec<u8>) -> Vec<u8> {
    match String::from_utf8(roff) {
        Ok(text) => text.replace('…', "...").into_bytes(),
        Err(err) => err.into_bytes(),
    }
}

/// The table `--help` prints after every command, from the same [`Code::meaning`].
fn exit_status(out: &mut Vec<u8>) -> std::io::Result<()> {
    let mut roff = Roff::default();
    roff.control("SH", ["EXIT STATUS"]);
    roff.text([roman("The same for every subcommand:")]);
    for code in Code::ALL {
        roff.control("TP", []);
        roff.text([bold((code as u8).to_string())]);
        roff.text([roman(code.meaning())]);
    }
    roff.to_writer(out)
}

fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .context("cannot write to standard output")
}
