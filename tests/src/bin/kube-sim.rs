//! `kube-sim --scenario FILE`: serves a scenario until SIGINT or SIGTERM, so a person or another
//! test can point kubectl or astro-upgrade at it.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use kube_sim::{Options, Scenario, Sim};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "A simulated Kubernetes 1.14-1.18 API server driven by a scenario file"
)]
struct Cli {
    /// Scenario file (format: tests/scenarios/README.md).
    #[arg(long)]
    scenario: PathBuf,
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Write a kubeconfig for the server here (context `kube-sim`, namespace `default`).
    #[arg(long)]
    kubeconfig_out: Option<PathBuf>,
    /// Divides every scripted delay (600: a ten-minute upgrade in a second).
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Serve HTTPS with a certificate from a throwaway authority made at start; the kubeconfig
    /// carries the authority as certificate-authority-data.
    #[arg(long)]
    tls: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let scenario = Scenario::from_file(&cli.scenario)?;
    let sim = Sim::start(
        scenario,
        Options {
            listen: cli.listen,
            time_scale: cli.time_scale,
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
