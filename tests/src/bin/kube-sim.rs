//! `kube-sim --scenario FILE`: serves a scenario until SIGINT or SIGTERM, so a person or another
//! test can point kubectl or astro-upgrade at it. `kube-sim token --server URL` is the exec
//! credential plugin that the kubeconfig of a scenario with authentication names.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use kube_sim::{Options, Scenario, Sim};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "A simulated Kubernetes 1.14-1.18 API server driven by a scenario file"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Plugin>,
    /// Scenario file (format: tests/scenarios/README.md).
    #[arg(long, required = true)]
    scenario: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Write a kubeconfig for the server here (context `kube-sim`, namespace `default`).
    #[arg(long)]
    kubeconfig_out: Option<PathBuf>,
    /// Divides every scripted delay (600: a ten-minute upgrade in a second).
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Require bearer tokens that live this many simulated seconds, handed out by the exec
    /// credential plugin that --kubeconfig-out names (this binary's `token` subcommand)
    #[arg(long, value_name = "SECONDS")]
    token_ttl: Option<f64>,
    /// Serve HTTPS with a certificate from a new CA, which --kubeconfig-out carries
    #[arg(long)]
    tls: bool,
}

#[derive(Debug, Subcommand)]
enum Plugin {
    /// The exec credential plugin: print an ExecCredential with a fresh token from the server
    Token {
        /// The simulator's URL (http://127.0.0.1:PORT)
        #[arg(long)]
        server: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Plugin::Token { server }) = &cli.command {
        // What kubectl and kube-rs read: the credential on stdout, the reason on stderr, exit 1.
        match kube_sim::auth::request_token(server) {
            Ok(credential) => println!("{credential}"),
            Err(why) => {
                eprintln!("kube-sim (exec credential plugin): {why}");
                std::process::exit(1);
            }
        }
        return Ok(());
    }
    let path = cli.scenario.as_ref().context("--scenario is required")?;
    let scenario = Scenario::from_file(path)?;
    let sim = Sim::start(
        scenario,
        Options {
            listen: cli.listen,
            time_scale: cli.time_scale,
            token_ttl_s: cli.token_ttl,
            token_plugin: std::env::current_exe().ok(),
            tls: cli.tls,
        },
    )
    .await?;
    println!("listening on {}", sim.url());
    if let Some(path) = &cli.kubeconfig_out {
        sim.write_kubeconfig(path)
            .with_context(|| format!("cannot write the kubeconfig to {}", path.display()))?;
        println!("kubeconfig written to {}", path.display());
    }
    wait_for_stop_signal().await?;
    sim.shutdown().await;
    Ok(())
}

async fn wait_for_stop_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("cannot listen for SIGINT")?,
        _ = terminate.recv() => {}
    }
    Ok(())
}
