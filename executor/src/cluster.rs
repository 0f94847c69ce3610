//! The connection to the cluster: a kube client from `--kubeconfig`/`--context`, `$KUBECONFIG`,
//! `~/.kube/config` or the in-cluster service account, and the server version gate.

use std::path::PathBuf;

use anyhow::Context as _;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use planner::path::LTS_0_16_TO_0_23;

use crate::transport::{self, Credentials};
use crate::GlobalArgs;

/// A connected client and what the kubeconfig said about the context it uses.
pub struct Cluster {
    pub client: Client,
    /// The client's credentials: their renewals, and how to replace them.
    pub credentials: Credentials,
    /// The context's name; `in-cluster` when running inside a pod.
    pub context: String,
    /// Every context of the kubeconfig, for the `context-namespace` check.
    pub contexts: Vec<planner::facts::Context>,
}

pub async fn connect(global: &GlobalArgs) -> anyhow::Result<Cluster> {
    match load_kubeconfig(global)? {
        Some(kubeconfig) => {
            let context = context_of(global, &kubeconfig);
            connect_to(kubeconfig, &context).await
        }
        None => {
            let (client, credentials) = transport::client(in_cluster_config()?)
                .context("cannot build the Kubernetes client")?;
            Ok(Cluster {
                client,
                credentials,
                context: "in-cluster".to_string(),
                contexts: Vec::new(),
            })
        }
    }
}

/// Reads the kubeconfig (or the in-cluster account) again, as `connect` did, and gives
/// `credentials` the new ones: the exec plugin runs anew on the next request.
pub async fn reconnect(global: &GlobalArgs, credentials: &Credentials) -> anyhow::Result<()> {
    let config = match load_kubeconfig(global)? {
        Some(kubeconfig) => {
            let context = context_of(global, &kubeconfig);
            config_for(kubeconfig, &context).await?
        }
        None => in_cluster_config()?,
    };
    credentials
        .replace(&config)
        .context("cannot build the Kubernetes client")
}

fn context_of(global: &GlobalArgs, kubeconfig: &Kubeconfig) -> String {
    global
        .single_context()
        .map(str::to_string)
        .or_else(|| kubeconfig.current_context.clone())
        .unwrap_or_default()
}

fn in_cluster_config() -> anyhow::Result<Config> {
    Config::incluster()
        .context("no kubeconfig found ($KUBECONFIG, ~/.kube/config) and not running in a cluster")
}

async fn config_for(kubeconfig: Kubeconfig, context: &str) -> anyhow::Result<Config> {
    let options = KubeConfigOptions {
        context: (!context.is_empty()).then(|| context.to_string()),
        ..KubeConfigOptions::default()
    };
    Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .with_context(|| format!("cannot use the kubeconfig context {context:?}"))
}

/// The kubeconfig as kubectl reads it: the `--kubeconfig` files (each flag may hold a
/// ':'-separated list), else the files of `$KUBECONFIG`, else `~/.kube/config`; several files
/// are merged by kubectl's rules (the first to set a value or a name wins). A file named on the
/// command line must exist; in `$KUBECONFIG` a missing one is skipped, as kubectl skips it.
/// `None`: no kubeconfig at all (then only the in-cluster account is left).
pub fn load_kubeconfig(global: &GlobalArgs) -> anyhow::Result<Option<Kubeconfig>> {
    if !global.kubeconfigs.is_empty() {
        let files: Vec<PathBuf> = global
            .kubeconfigs
            .iter()
            .flat_map(std::env::split_paths)
            .filter(|path| !path.as_os_str().is_empty())
            .collect();
        return merge_files(&files, false).map(Some);
    }
    if let Some(list) = std::env::var_os("KUBECONFIG") {
        let files: Vec<PathBuf> = std::env::split_paths(&list)
            .filter(|path| !path.as_os_str().is_empty())
            .collect();
        if !files.is_empty() {
            // An unreadable $KUBECONFIG is an error; only its absence (and no ~/.kube/config)
            // means in-cluster.
            return merge_files(&files, true)
                .context("cannot read the kubeconfig named by $KUBECONFIG")
                .map(Some);
        }
    }
    Ok(Kubeconfig::read().ok())
}

/// Reads and merges `files` in order; `skip_missing` skips files that do not exist, as kubectl
/// does for `$KUBECONFIG`, though not all of them. Each error names its file.
fn merge_files(files: &[PathBuf], skip_missing: bool) -> anyhow::Result<Kubeconfig> {
    let mut merged: Option<Kubeconfig> = None;
    for path in files {
        if skip_missing && !path.exists() {
            continue;
        }
        let next = Kubeconfig::read_from(path)
            .with_context(|| format!("cannot read the kubeconfig {}", path.display()))?;
        merged = Some(match merged {
            None => next,
            Some(first) => first.merge(next).with_context(|| {
                format!(
                    "cannot merge the kubeconfig {} into the ones before it",
                    path.display()
                )
            })?,
        });
    }
    merged.ok_or_else(|| {
        let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        anyhow::anyhow!("none of the kubeconfig files exists: {}", names.join(", "))
    })
}

/// A client for one context of an already loaded kubeconfig: the fleet connects to each of its
/// contexts this way, and a single-cluster command to the one it was given.
pub async fn connect_to(kubeconfig: Kubeconfig, context: &str) -> anyhow::Result<Cluster> {
    let contexts = kubeconfig
        .contexts
        .iter()
        .map(|named| planner::facts::Context {
            name: named.name.clone(),
            namespace: named.context.as_ref().and_then(|c| c.namespace.clone()),
            current: named.name == context,
            at: planner::facts::At {
                source: "live:kubeconfig".to_string(),
                line: None,
            },
        })
        .collect();
    let config = config_for(kubeconfig, context).await?;
    let (client, credentials) =
        transport::client(config).context("cannot build the Kubernetes client")?;
    Ok(Cluster {
        client,
        credentials,
        context: context.to_string(),
        contexts,
    })
}

/// The server's version without the leading `v` (`1.14.10`, `1.16.15-eks-ad4801`).
pub async fn server_version(client: &Client) -> anyhow::Result<String> {
    let info = client
        .apiserver_version()
        .await
        .context("cannot read the server version (GET /version)")?;
    Ok(info
        .git_version
        .strip_prefix('v')
        .unwrap_or(&info.git_version)
        .to_string())
}

/// A warning when the server is outside the range this upgrade and this client were checked
/// on: the planner's requirement (`kubernetes-version`), read with the planner's parser, so a
/// live server is judged as its pasted `kubectl version` would be. None for a version that
/// cannot be read (the check itself reports that).
pub fn version_warning(version: &str) -> Option<String> {
    let supported = LTS_0_16_TO_0_23.kubernetes;
    let parsed = planner::version::parse(version)?;
    if supported.matches(&parsed) {
        return None;
    }
    let why = if supported.is_below(&parsed) {
        "older than this tool was built for"
    } else if !parsed.pre.is_empty() {
        "a pre-release"
    } else {
        "newer than the upgrade was written for"
    };
    Some(format!(
        "the server runs Kubernetes {version}, {why}: the 0.16 → 0.23 upgrade supports {supported} only"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kubeconfig(current: &str, contexts: &[(&str, &str)]) -> String {
        let mut text =
            format!("apiVersion: v1\nkind: Config\ncurrent-context: {current}\nclusters:\n");
        for (name, server) in contexts {
            text.push_str(&format!(
                "- name: {name}\n  cluster:\n    server: {server}\n"
            ));
        }
        text.push_str("contexts:\n");
        for (name, _) in contexts {
            text.push_str(&format!(
                "- name: {name}\n  context:\n    cluster: {name}\n    user: u\n"
            ));
        }
        text.push_str("users:\n- name: u\n  user: {}\n");
        text
    }

    #[test]
    fn several_kubeconfigs_merge_the_first_file_winning() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.yaml");
        let b = dir.path().join("b.yaml");
        std::fs::write(
            &a,
            kubeconfig(
                "dev",
                &[("dev", "https://dev:6443"), ("prod", "https://a-prod:6443")],
            ),
        )
        .unwrap();
        std::fs::write(
            &b,
            kubeconfig(
                "prod",
                &[("prod", "https://b-prod:6443"), ("eu", "https://eu:6443")],
            ),
        )
        .unwrap();
        let merged = merge_files(&[a.clone(), b.clone()], false).unwrap();
        let names: Vec<&str> = merged.contexts.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["dev", "prod", "eu"]);
        assert_eq!(merged.current_context.as_deref(), Some("dev"));
        let prod = merged.clusters.iter().find(|c| c.name == "prod").unwrap();
        let server = prod.cluster.as_ref().and_then(|c| c.server.as_deref());
        assert_eq!(server, Some("https://a-prod:6443"), "the first file's prod");

        let missing = dir.path().join("missing.yaml");
        let skipped = merge_files(&[missing.clone(), b.clone()], true).unwrap();
        assert_eq!(skipped.current_context.as_deref(), Some("prod"));
        let err = merge_files(&[missing.clone(), b], false).unwrap_err();
        assert!(format!("{err:#}").contains("missing.yaml"), "{err:#}");
        let err = merge_files(&[missing], true).unwrap_err();
        assert!(
            format!("{err:#}").contains("none of the kubeconfig files"),
            "{err:#}"
        );
        std::fs::write(&a, "clusters: [unclosed").unwrap();
        let err = merge_files(&[a], false).unwrap_err();
        assert!(format!("{err:#}").contains("a.yaml"), "{err:#}");
    }

    #[test]
    fn servers_outside_the_path_s_range_are_warned() {
        assert_eq!(version_warning("1.16.15-eks-ad4801"), None);
        assert_eq!(version_warning("1.14.10"), None);
        assert_eq!(version_warning("1.18.20-gke.901"), None);
        assert_eq!(version_warning("1.18+.3"), None);
        let newer = version_warning("1.19.0").unwrap();
        assert!(newer.contains("1.14 ≤ version < 1.19"), "{newer}");
        assert!(newer.contains("newer"), "{newer}");
        assert!(version_warning("1.19.0-eks-1").is_some());
        assert!(version_warning("1.19.0-rc.1")
            .unwrap()
            .contains("pre-release"));
        assert!(version_warning("1.13.4").unwrap().contains("older"));
        assert_eq!(version_warning("unreadable"), None);
    }
}
