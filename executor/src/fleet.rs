//! Fleet runs of `check`, `plan` and `collect`: which contexts, and each cluster collected
//! concurrently (at most `--parallel` at a time, each within `--cluster-timeout`). A cluster that
//! cannot be reached, refuses us or takes too long becomes a finding of that cluster (the
//! planner's [`planner::fleet::ClusterResult::not_assessed`]); the others finish regardless.
//! What the rows say and how they render is the planner's; this module only talks to clusters.

use std::io::IsTerminal as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::StreamExt as _;
use kube::config::Kubeconfig;
use planner::fleet::Access;

use crate::exit::Exit;
use crate::{cluster, collect, FleetArgs, GlobalArgs};

/// The contexts a fleet run assesses, in the order named, and the kubeconfig they come from.
pub struct Selection {
    pub kubeconfig: Kubeconfig,
    pub contexts: Vec<String>,
}

/// Reads the kubeconfig (all files merged) and picks the contexts: `--all-contexts`, or the
/// `--context` flags followed by the lines of `--contexts-from`, each once. A context the
/// kubeconfig does not have is a usage error naming it (and the file and line it came from).
pub fn select(global: &GlobalArgs, fleet: &FleetArgs) -> anyhow::Result<Selection> {
    if fleet.all_contexts && !global.contexts.is_empty() {
        return Err(Exit::usage(
            "--all-contexts assesses every context of the kubeconfig: drop --context, or list the contexts with --context or --contexts-from instead",
        ));
    }
    let kubeconfig = cluster::load_kubeconfig(global)
        .map_err(|err| Exit::usage(format!("{err:#}")))?
        .ok_or_else(|| {
            Exit::usage(
                "a fleet run needs a kubeconfig ($KUBECONFIG, ~/.kube/config or --kubeconfig)",
            )
        })?;
    let known: Vec<&str> = kubeconfig
        .contexts
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    let mut named: Vec<(String, String)> = Vec::new();
    if fleet.all_contexts {
        named.extend(known.iter().map(|c| (c.to_string(), String::new())));
    }
    for context in &global.contexts {
        named.push((context.clone(), "--context".to_string()));
    }
    if let Some(file) = &fleet.contexts_from {
        named.extend(read_contexts_file(file)?);
    }
    let mut contexts: Vec<String> = Vec::new();
    for (context, from) in named {
        if !known.contains(&context.as_str()) {
            return Err(Exit::usage(format!(
                "{from}: no context {context:?} in the kubeconfig (its contexts: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )));
        }
        if !contexts.contains(&context) {
            contexts.push(context);
        }
    }
    if contexts.is_empty() {
        return Err(Exit::usage(
            "no context selected: the kubeconfig or --contexts-from lists none",
        ));
    }
    Ok(Selection {
        kubeconfig,
        contexts,
    })
}

/// `--contexts-from FILE`: one context per line, blank lines and `#` comments (whole lines or
/// after a name) skipped. Each context comes with `FILE:LINE`, for the error that names it.
fn read_contexts_file(file: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let bytes = std::fs::read(file).map_err(|err| {
        Exit::usage(format!(
            "cannot read --contexts-from {}: {err}",
            file.display()
        ))
    })?;
    let text = String::from_utf8(bytes).map_err(|err| {
        Exit::usage(format!(
            "{}: not UTF-8 text (byte {})",
            file.display(),
            err.utf8_error().valid_up_to()
        ))
    })?;
    Ok(parse_contexts(&text)
        .into_iter()
        .map(|(line, context)| (context, format!("{}:{line}", file.display())))
        .collect())
}

/// The contexts of a `--contexts-from` text with their line numbers (from 1).
fn parse_contexts(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .filter_map(|(index, line)| {
            let line = line.split('#').next().unwrap_or("").trim();
            let line = line.trim_start_matches('\u{feff}');
            (!line.is_empty()).then(|| (index + 1, line.to_string()))
        })
        .collect()
}

/// What collecting one cluster gave: its bundle (and, for the progress line, its server
/// version and pod count), or why it could not be assessed.
pub enum Outcome {
    Collected {
        server_version: Option<String>,
        pods: usize,
        bundle: String,
    },
    NotAssessed {
        access: Access,
        detail: String,
    },
}

/// Collects every selected cluster, at most `--parallel` at a time, each within
/// `--cluster-timeout`; outcomes come back in the selection's order. On a terminal, stderr gets
/// one line per cluster as it finishes.
pub fn collect_all(
    global: &GlobalArgs,
    fleet: &FleetArgs,
    selection: &Selection,
) -> anyhow::Result<Vec<(String, Outcome)>> {
    let timeout = crate::apply::engine::parse_duration(fleet.cluster_timeout())
        .context("--cluster-timeout was checked when the command line was read")?;
    let parallel = usize::from(fleet.parallel());
    let total = selection.contexts.len();
    eprintln!(
        "Assessing {total} clusters, at most {parallel} at a time, each within {}.",
        fleet.cluster_timeout()
    );
    let progress = std::io::stderr().is_terminal();
    let started = Instant::now();
    let runtime = crate::cmd::live::runtime()?;
    let mut outcomes: Vec<Option<Outcome>> = (0..total).map(|_| None).collect();
    runtime.block_on(async {
        let mut finished = futures::stream::iter(selection.contexts.iter().enumerate())
            .map(|(index, context)| {
                let kubeconfig = selection.kubeconfig.clone();
                let namespace = global.namespace.clone();
                async move {
                    let outcome = collect_within(kubeconfig, context, &namespace, timeout).await;
                    (index, outcome)
                }
            })
            .buffer_unordered(parallel);
        let mut done = 0;
        while let Some((index, outcome)) = finished.next().await {
            done += 1;
            if progress {
                let what = match &outcome {
                    Outcome::Collected {
                        server_version,
                        pods,
                        ..
                    } => format!(
                        "collected (Kubernetes {}, {pods} pods)",
                        server_version.as_deref().unwrap_or("?")
                    ),
                    Outcome::NotAssessed { access, .. } => access.as_str().to_string(),
                };
                eprintln!(
                    "[{done}/{total}] {:<30} {what} at {:.1}s",
                    selection.contexts[index],
                    started.elapsed().as_secs_f64()
                );
            }
            outcomes[index] = Some(outcome);
        }
    });
    Ok(selection
        .contexts
        .iter()
        .cloned()
        .zip(outcomes)
        .map(|(context, outcome)| {
            let outcome = outcome.unwrap_or(Outcome::NotAssessed {
                access: Access::Failed,
                detail: "not collected".to_string(),
            });
            (context, outcome)
        })
        .collect())
}

async fn collect_within(
    kubeconfig: Kubeconfig,
    context: &str,
    namespace: &str,
    timeout: Duration,
) -> Outcome {
    let work = async {
        let cluster = cluster::connect_to(kubeconfig, context).await?;
        let facts = collect::collect_facts(&cluster, namespace).await?;
        let bundle = collect::bundle_json(&facts, &cluster.context)?;
        anyhow::Ok(Outcome::Collected {
            server_version: facts.kubernetes.server_version,
            pods: facts.pods.len(),
            bundle,
        })
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(Ok(collected)) => collected,
        Ok(Err(err)) => Outcome::NotAssessed {
            access: access_of(&err),
            detail: crate::exit::chain_text(&err),
        },
        Err(_) => Outcome::NotAssessed {
            access: Access::TimedOut,
            detail: format!(
                "no complete answer within {} (--cluster-timeout)",
                humanize(timeout)
            ),
        },
    }
}

fn humanize(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if seconds >= 60 && seconds.is_multiple_of(60) {
        format!("{}m", seconds / 60)
    } else {
        format!("{:.0}s", duration.as_secs_f64())
    }
}

/// Why a cluster could not be assessed, from its error: the API server answering 401 or 403 is
/// forbidden; no HTTP answer at all (refused, reset, DNS, TLS) is unreachable; anything else
/// (a bad kubeconfig entry, a server error) failed.
fn access_of(err: &anyhow::Error) -> Access {
    for cause in err.chain() {
        if let Some(kube_error) = cause.downcast_ref::<kube::Error>() {
            return match kube_error {
                kube::Error::Api(status) if matches!(status.code, 401 | 403) => Access::Forbidden,
                kube::Error::Api(_) => Access::Failed,
                kube::Error::HyperError(_)
                | kube::Error::Service(_)
                | kube::Error::RustlsTls(_) => Access::Unreachable,
                kube::Error::Auth(_) => Access::Forbidden,
                _ => Access::Failed,
            };
        }
    }
    Access::Failed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contexts_file_skips_blanks_and_comments_and_keeps_line_numbers() {
        let text = "# wave 1\n\ndev\n  staging  # after lunch\n\u{feff}\narn:aws:eks:eu-west-1:1:cluster/prod\n";
        assert_eq!(
            parse_contexts(text),
            [
                (3, "dev".to_string()),
                (4, "staging".to_string()),
                (6, "arn:aws:eks:eu-west-1:1:cluster/prod".to_string()),
            ]
        );
    }

    #[test]
    fn errors_are_told_apart_by_what_the_server_said() {
        let api = |code: u16| {
            anyhow::Error::new(kube::Error::Api(Box::new(kube::core::Status {
                code,
                ..kube::core::Status::default()
            })))
            .context("cannot list pods")
        };
        assert_eq!(access_of(&api(403)), Access::Forbidden);
        assert_eq!(access_of(&api(401)), Access::Forbidden);
        assert_eq!(access_of(&api(500)), Access::Failed);
        assert_eq!(
            access_of(&anyhow::anyhow!("bad kubeconfig")),
            Access::Failed
        );
    }

    #[test]
    fn timeouts_read_as_they_were_written() {
        assert_eq!(humanize(Duration::from_secs(120)), "2m");
        assert_eq!(humanize(Duration::from_secs(3)), "3s");
    }
}
