//! Step 7 of the procedure, and `status`: is the platform on the expected version, deployed, with
//! every pod ready; where does an upgrade stand according to the journal and the cluster.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use futures::StreamExt as _;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::runtime::{watcher, WatchStreamExt as _};
use kube::{Api, Client, ResourceExt as _};
use planner::path::{self as upgrade_path, LTS_0_16_TO_0_23};
use serde_json::json;

use super::duration_arg;
use super::engine;
use crate::collect::{self, ReleaseRevision};
use crate::journal;
use crate::manifest::UPGRADE_NAMESPACE;
use crate::progress::Output;
use crate::{cluster, exit, GlobalArgs, StatusArgs, VerifyArgs};

/// The newest revision of the platform release in `namespace` (`release` when known, else the
/// release of the `astronomer` chart).
async fn platform_revision(
    client: &Client,
    namespace: &str,
    release: Option<&str>,
) -> anyhow::Result<Option<ReleaseRevision>> {
    let selector = match release {
        Some(name) => format!("owner=helm,name={name}"),
        None => "owner=helm".to_string(),
    };
    let revisions = collect::helm_revisions(client, Some(namespace), &selector).await?;
    Ok(revisions
        .into_iter()
        .filter(|r| release.is_some() || r.chart == LTS_0_16_TO_0_23.platform_chart)
        .max_by_key(|r| r.revision))
}

pub async fn platform_release(client: &Client, namespace: &str) -> anyhow::Result<Option<String>> {
    Ok(platform_revision(client, namespace, None)
        .await?
        .map(|r| r.name))
}

/// The platform pods unhealthy right now (`namespace/name`), before a standalone rollback starts.
pub async fn unhealthy_pods(client: &Client, namespace: &str) -> anyhow::Result<Vec<String>> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let list = api
        .list(&kube::api::ListParams::default())
        .await
        .with_context(|| format!("cannot list the pods of {namespace}"))?;
    Ok(list
        .items
        .iter()
        .map(collect::pod_fact)
        .filter(|p| !p.healthy)
        .map(|p| format!("{namespace}/{}", p.name))
        .collect())
}

/// Whether a chart version is on the `expect` minor (`0.23.18` is on `0.23`).
pub fn on_minor(chart_version: &str, expect: &str) -> bool {
    let version = chart_version.trim_start_matches('v');
    version == expect || version.starts_with(&format!("{expect}."))
}

/// Checks the release and waits up to `settle` for every platform pod to be ready or completed.
/// Pods in `known_unhealthy` (`namespace/name`, unhealthy already when the plan was approved)
/// do not count. Returns the problems found (empty when the platform is as expected).
pub async fn verify_platform(
    client: &Client,
    out: &Output,
    namespace: &str,
    release: Option<&str>,
    expect: &str,
    settle: Duration,
    known_unhealthy: &[String],
) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    match platform_revision(client, namespace, release).await? {
        None => problems.push(format!(
            "no Helm release of the platform in namespace {namespace}"
        )),
        Some(revision) => {
            let version = revision.chart_version.clone().unwrap_or_default();
            let status = revision.status.clone().unwrap_or_default();
            out.event(
                "release",
                &format!(
                    "Helm release {} revision {}: {}-{version}, {status}",
                    revision.name, revision.revision, revision.chart
                ),
                json!({"release": revision.name, "revision": revision.revision, "chart_version": version, "release_status": status}),
            );
            if !on_minor(&version, expect) {
                problems.push(format!(
                    "Helm release {} is on chart {version}, not {expect}.x",
                    revision.name
                ));
            }
            if status != "deployed" {
                problems.push(format!(
                    "Helm release {} revision {} is {status}, not deployed",
                    revision.name, revision.revision
                ));
            }
        }
    }
    problems.extend(settle_pods(client, out, namespace, settle, known_unhealthy).await?);
    Ok(problems)
}

/// Watches the namespace's pods until all are ready or completed, or `settle` runs out.
async fn settle_pods(
    client: &Client,
    out: &Output,
    namespace: &str,
    settle: Duration,
    known_unhealthy: &[String],
) -> anyhow::Result<Vec<String>> {
    let counts = |pod: &planner::facts::Pod| {
        !pod.healthy && !known_unhealthy.contains(&format!("{namespace}/{}", pod.name))
    };
    out.phase(&format!("waiting for the pods of {namespace} to be ready"));
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let mut stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut pods: BTreeMap<String, planner::facts::Pod> = BTreeMap::new();
    let mut listing: BTreeMap<String, planner::facts::Pod> = BTreeMap::new();
    let mut listed = false;
    let deadline = tokio::time::sleep(settle);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            event = stream.next() => {
                match event {
                    Some(Ok(watcher::Event::Init)) => listing.clear(),
                    Some(Ok(watcher::Event::InitApply(pod))) => {
                        listing.insert(pod.name_any(), collect::pod_fact(&pod));
                    }
                    Some(Ok(watcher::Event::InitDone)) => {
                        pods = std::mem::take(&mut listing);
                        listed = true;
                    }
                    Some(Ok(watcher::Event::Apply(pod))) => {
                        pods.insert(pod.name_any(), collect::pod_fact(&pod));
                    }
                    Some(Ok(watcher::Event::Delete(pod))) => {
                        pods.remove(&pod.name_any());
                    }
                    Some(Err(err)) => {
                        out.event("watch-resumed", &format!("note: watch of pods interrupted ({err}); resuming"), json!({"message": err.to_string()}));
                    }
                    None => break,
                }
                if listed && !pods.values().any(counts) {
                    let known = pods.values().filter(|p| !p.healthy).count();
                    let note = if known > 0 { format!(" ({known} unhealthy already when the plan was approved)") } else { String::new() };
                    out.event("pods", &format!("all {} pods of {namespace} are ready or completed{note}", pods.len() - known), json!({"namespace": namespace, "pods": pods.len(), "known_unhealthy": known}));
                    return Ok(Vec::new());
                }
            }
            () = &mut deadline => break,
        }
    }
    Ok(pods
        .values()
        .filter(|p| counts(p))
        .map(|p| {
            format!(
                "pod {namespace}/{} is {} ({}) after {}s",
                p.name,
                p.status,
                p.ready.as_deref().unwrap_or("?"),
                settle.as_secs()
            )
        })
        .collect())
}

pub async fn run_verify(global: &GlobalArgs, args: VerifyArgs) -> anyhow::Result<u8> {
    let settle = duration_arg("--settle", &args.settle)?;
    let out = Output::new(global.output);
    let connection = cluster::connect(global).await?;
    let mut problems = verify_platform(
        &connection.client,
        &out,
        &global.namespace,
        None,
        &args.expect,
        settle,
        &[],
    )
    .await?;
    if let Some(domain) = &args.base_domain {
        problems.extend(super::endpoints::check(&out, domain).await);
    }
    out.finish();
    if problems.is_empty() {
        out.event(
            "verified",
            &format!("verified: the platform runs {} and is healthy", args.expect),
            json!({"expect": args.expect, "problems": []}),
        );
        Ok(exit::OK)
    } else {
        out.event(
            "verify-failed",
            &format!("verification failed:\n  - {}", problems.join("\n  - ")),
            json!({"expect": args.expect, "problems": problems}),
        );
        Ok(exit::NEEDS_HUMAN)
    }
}

pub async fn run_status(global: &GlobalArgs, args: StatusArgs) -> anyhow::Result<u8> {
    let out = Output::new(global.output);
    let path = args
        .journal
        .clone()
        .unwrap_or_else(|| journal::DEFAULT_PATH.into());
    let mut entries = journal::read(&path)?;
    let connection = cluster::connect(global).await?;
    let client = &connection.client;
    let mut source = path.display().to_string();
    if entries.is_empty() {
        let maps: Api<ConfigMap> = Api::namespaced(client.clone(), UPGRADE_NAMESPACE);
        if let Some(map) = maps.get_opt(journal::CONFIG_MAP).await.ok().flatten() {
            let text = map
                .data
                .and_then(|d| d.get(journal::CONFIG_MAP_KEY).cloned())
                .unwrap_or_default();
            entries = journal::parse_lines(text.lines().map(str::to_string));
            source = format!("ConfigMap {UPGRADE_NAMESPACE}/{}", journal::CONFIG_MAP);
        }
    }
    out.say(&format!("journal ({source}), newest last:"));
    for entry in entries.iter().rev().take(15).rev() {
        out.say(&format!(
            "  {}  {:<14} {}",
            entry.ts, entry.step, entry.event
        ));
    }
    if entries.is_empty() {
        out.say("  (empty: no apply or rollback has run from here)");
    }
    let jobs: Api<Job> = Api::namespaced(client.clone(), UPGRADE_NAMESPACE);
    let pods: Api<Pod> = Api::namespaced(client.clone(), UPGRADE_NAMESPACE);
    let mut job_states = serde_json::Map::new();
    for name in [upgrade_path::UPGRADE_JOB, upgrade_path::ROLLBACK_JOB] {
        let job = jobs
            .get_opt(name)
            .await
            .with_context(|| format!("cannot read Job {name}"))?;
        let state = match engine::existing_of(job.as_ref()) {
            engine::Existing::Absent => "absent",
            engine::Existing::Active => "running",
            engine::Existing::Complete => "complete",
            engine::Existing::Failed => "failed",
        };
        let list = pods
            .list(&kube::api::ListParams::default().labels(&format!("job-name={name}")))
            .await
            .with_context(|| format!("cannot list the pods of Job {name}"))?;
        let pod_states: Vec<String> = list
            .items
            .iter()
            .map(|p| format!("{} {}", p.name_any(), collect::pod_status(p)))
            .collect();
        out.say(&format!(
            "Job {UPGRADE_NAMESPACE}/{name}: {state}{}",
            if pod_states.is_empty() {
                String::new()
            } else {
                format!(" (pods: {})", pod_states.join(", "))
            }
        ));
        job_states.insert(
            name.to_string(),
            json!({"state": state, "pods": pod_states}),
        );
    }
    let revision = platform_revision(client, &global.namespace, None).await?;
    match &revision {
        Some(r) => out.say(&format!(
            "Helm release {}/{} revision {}: {}-{} {}",
            global.namespace,
            r.name,
            r.revision,
            r.chart,
            r.chart_version.as_deref().unwrap_or("?"),
            r.status.as_deref().unwrap_or("?")
        )),
        None => out.say(&format!(
            "no platform Helm release found in namespace {}",
            global.namespace
        )),
    }
    out.event(
        "status",
        "",
        json!({
            "journal": source,
            "entries": entries,
            "jobs": job_states,
            "release": revision.map(|r| json!({
                "name": r.name, "revision": r.revision, "chart_version": r.chart_version, "status": r.status,
            })),
        }),
    );
    out.finish();
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_versions_are_compared_by_minor() {
        assert!(on_minor("0.23.18", "0.23"));
        assert!(on_minor("0.23", "0.23"));
        assert!(!on_minor("0.230.1", "0.23"));
        assert!(!on_minor("0.16.15", "0.23"));
    }
}
