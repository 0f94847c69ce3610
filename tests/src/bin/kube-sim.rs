//! `kube-sim --scenario FILE`: serves a scenario until SIGINT or SIGTERM, so a person or another
//! test can point kubectl or astro-upgrade at it. `kube-sim token --server URL` is the exec
//! credential plugin that the kubeconfig of a scenario with authentication names. `--clusters N` serves N copies of it, each its
//! own API server on its own port, in one process, with one kubeconfig context each (a fleet);
//! `--unreachable N` and `--hanging N` add contexts whose server refuses connections or accepts
//! them and never answers.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use kube_sim::{
    closed_port_url, fleet_kubeconfig, KubeconfigContext, Options, Scenario, Silent, Sim,
};

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
    /// Write a kubeconfig for the server here (context `kube-sim`, namespace `default`; with
    /// several clusters `kube-sim-01`, `kube-sim-02`…, then `unreachable-01`…, `hanging-01`…).
    #[arg(long)]
    kubeconfig_out: Option<PathBuf>,
    /// Divides every scripted delay (600: a ten-minute upgrade in a second).
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// How many simulated clusters to serve, each on its own port (the next ports after
    /// --listen's, or free ones with port 0).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    clusters: u16,
    /// Real milliseconds each API server waits before every answer (a distant cluster).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    latency_ms: u64,
    /// Contexts whose server refuses connections (a closed port).
    #[arg(long, value_name = "N", default_value_t = 0)]
    unreachable: u16,
    /// Contexts whose server accepts connections and never answers.
    #[arg(long, value_name = "N", default_value_t = 0)]
    hanging: u16,
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
    let fleet = cli.clusters > 1 || cli.unreachable > 0 || cli.hanging > 0;
    let mut sims = Vec::new();
    let mut contexts: Vec<KubeconfigContext> = Vec::new();
    for index in 0..cli.clusters {
        let mut listen = cli.listen;
        if listen.port() != 0 {
            let port = listen
                .port()
                .checked_add(index)
                .with_context(|| format!("no port {} + {index}", listen.port()))?;
            listen.set_port(port);
        }
        let sim = Sim::start(
            scenario.clone(),
            Options {
                listen,
                time_scale: cli.time_scale,
                latency: Duration::from_millis(cli.latency_ms),
                token_ttl_s: cli.token_ttl,
                token_plugin: std::env::current_exe().ok(),
                tls: cli.tls,
            },
        )
        .await?;
        println!("listening on {}", sim.url());
        let name = if fleet {
            format!("kube-sim-{:02}", index + 1)
        } else {
            "kube-sim".to_string()
        };
        contexts.push(sim.kubeconfig_context(&name));
        sims.push(sim);
    }
    for index in 0..cli.unreachable {
        let name = format!("unreachable-{:02}", index + 1);
        contexts.push(KubeconfigContext::plain(&name, &closed_port_url()?));
    }
    let mut silent = Vec::new();
    for index in 0..cli.hanging {
        let server = Silent::start()
            .await
            .context("cannot start a hanging server")?;
        let name = format!("hanging-{:02}", index + 1);
        contexts.push(KubeconfigContext::plain(&name, &server.url()));
        silent.push(server);
    }
    if let Some(path) = &cli.kubeconfig_out {
        std::fs::write(path, fleet_kubeconfig(&contexts))
            .with_context(|| format!("cannot write the kubeconfig to {}", path.display()))?;
        println!("kubeconfig written to {}", path.display());
    }
    wait_for_stop_signal().await?;
    for sim in sims {
        sim.shutdown().await;
    }
    drop(silent);
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
