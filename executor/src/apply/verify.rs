//! Step 7 of the procedure, and `status`: is the platform on the expected version, deployed, with
//! every pod ready; where does an upgrade stand according to the journal and the cluster.

use std::time::Duration;

use anyhow::Context as _;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::{Api, Client, ResourceExt as _};
use planner::path::{self as upgrade_path, LTS_0_16_TO_0_23};
use serde_json::json;

use super::duration_arg;
use super::engine;
use crate::collect::{self, ReleaseRevision};
use crate::journal;
use crate::progress::Output;
use crate::watch::ClusterView;

/// Where the upgrade's Jobs, their pods and the journal's ConfigMap live.
const UPGRADE_NAMESPACE: &str = LTS_0_16_TO_0_23.upgrade_namespace;

/// How long the first listing of pods and release Secrets may take before giving up.
pub const LIST_TIMEOUT: Duration = Duration::from_secs(120);
use crate::exit::Code;
use crate::{cluster, GlobalArgs, StatusArgs, VerifyArgs};

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

/// The platform pods unhealthy right now (`namespace/name`), before a standalone rollback starts.
pub fn unhealthy_pods(view: &ClusterView, namespace: &str) -> Vec<String> {
    view.pods()
        .into_iter()
        .filter(|p| p.namespace.as_deref() == Some(namespace) && !p.healthy)
        .map(|p| format!("{namespace}/{}", p.name))
        .collect()
}

/// The name of the platform's release (of the `astronomer` chart) in `namespace`.
pub fn platform_release_in(view: &ClusterView, namespace: &str) -> Option<String> {
    view.revisions()
        .into_iter()
        .filter(|r| {
            r.namespace.as_deref() == Some(namespace) && r.chart == LTS_0_16_TO_0_23.platform_chart
        })
        .max_by_key(|r| r.revision)
        .map(|r| r.name)
}

/// Whether a chart version is a release of the `expect` line (`0.23.18` is on `0.23`), both read
/// by the planner's version parser and compared as numbers, as the `platform-version` check does.
pub fn on_minor(chart_version: &str, expect: &str) -> bool {
    let (Some(version), Some(line)) = (
        planner::version::parse(chart_version),
        planner::version::parse(expect),
    ) else {
        return false;
    };
    let line = upgrade_path::MinorVersion {
        major: line.major,
        minor: line.minor,
    };
    line.matches(&version)
}

/// What is wrong with the platform as the view shows it now (empty when it is as expected):
/// the newest revision of its release must be on `expect` and `deployed`, and every pod of its
/// namespace ready or completed, except those in `known_unhealthy` (`namespace/name`).
fn platform_problems(
    view: &ClusterView,
    namespace: &str,
    release: Option<&str>,
    expect: &str,
    known_unhealthy: &[String],
) -> (Vec<String>, Option<ReleaseRevision>) {
    let mut problems = Vec::new();
    let revision = view
        .revisions()
        .into_iter()
        .filter(|r| r.namespace.as_deref() == Some(namespace))
        .filter(|r| match release {
            Some(name) => r.name == name,
            None => r.chart == LTS_0_16_TO_0_23.platform_chart,
        })
        .max_by_key(|r| r.revision);
    match &revision {
        None => problems.push(format!(
            "no Helm release of the platform in namespace {namespace}"
        )),
        Some(revision) => {
            let version = revision.chart_version.clone().unwrap_or_default();
            let status = revision.status.clone().unwrap_or_default();
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
    for pod in view.pods() {
        let name = format!(
            "{}/{}",
            pod.namespace.as_deref().unwrap_or_default(),
            pod.name
        );
        if pod.namespace.as_deref() == Some(namespace)
            && !pod.healthy
            && !known_unhealthy.contains(&name)
        {
            problems.push(format!(
                "pod {name} is {} ({})",
                pod.status,
                pod.ready.as_deref().unwrap_or("?")
            ));
        }
    }
    (problems, revision)
}

/// Waits up to `settle` for the platform to be as expected; returns what is still wrong then.
pub async fn verify_platform(
    view: &ClusterView,
    out: &Output,
    namespace: &str,
    release: Option<&str>,
    expect: &str,
    settle: Duration,
    known_unhealthy: &[String],
) -> anyhow::Result<Vec<String>> {
    out.phase(&format!(
        "waiting for the release and the pods of {namespace} to settle on {expect}"
    ));
    tokio::time::timeout(LIST_TIMEOUT, view.listed())
        .await
        .map_err(|_| anyhow::anyhow!("cannot list the pods and Helm release Secrets"))?;
    let deadline = tokio::time::sleep(settle);
    tokio::pin!(deadline);
    loop {
        let changed = view.changed();
        let (problems, revision) =
            platform_problems(view, namespace, release, expect, known_unhealthy);
        let settled = problems.is_empty();
        let timed_out = !settled && deadline.is_elapsed();
        if settled || timed_out {
            if let Some(revision) = revision {
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
            }
            if settled {
                let pods = view
                    .pods()
                    .iter()
                    .filter(|p| p.namespace.as_deref() == Some(namespace))
                    .count();
                out.event(
                    "pods",
                    &format!("the {pods} pods of {namespace} are ready or completed (or known unhealthy before the run)"),
                    json!({"namespace": namespace, "pods": pods}),
                );
            }
            return Ok(problems);
        }
        tokio::select! {
            () = changed => {}
            () = &mut deadline => {}
        }
    }
}

pub async fn run_verify(global: &GlobalArgs, args: VerifyArgs) -> anyhow::Result<Code> {
    let settle = duration_arg("--settle", &args.settle)?;
    let expect = args.expect.to_string();
    let out = Output::new(global.output);
    let connection = cluster::connect(global).await?;
    let (feed, _ignored) = tokio::sync::mpsc::unbounded_channel();
    let view = ClusterView::start(
        &connection.client,
        &connection.credentials,
        UPGRADE_NAMESPACE,
        feed,
    );
    let mut problems =
        verify_platform(&view, &out, &global.namespace, None, &expect, settle, &[]).await?;
    if let Some(domain) = &args.base_domain {
        problems.extend(super::endpoints::check(&out, domain).await);
    }
    let release = platform_release_in(&view, &global.namespace)
        .unwrap_or_else(|| LTS_0_16_TO_0_23.platform_chart.to_string());
    out.phase("asking each component through the API server's service proxy");
    let (failed, unchecked) =
        super::services::check(&out, &connection.client, &global.namespace, &release).await;
    problems.extend(failed);
    let mut unchecked = unchecked;
    let deployments = airflow_deployments(&view);
    let (failed, not_checked) =
        super::services::check_deployments(&out, &connection.client, &deployments).await;
    problems.extend(failed);
    unchecked.extend(not_checked);
    security_finding(&out, &connection.client, global).await;
    out.finish();
    if problems.is_empty() && !unchecked.is_empty() {
        out.event(
            "verify-incomplete",
            &format!(
                "verification incomplete: could not check\n  - {}",
                unchecked.join("\n  - ")
            ),
            json!({"expect": expect, "problems": [], "unchecked": unchecked}),
        );
        Ok(Code::Incomplete)
    } else if problems.is_empty() {
        out.event(
            "verified",
            &format!("verified: the platform runs {expect} and is healthy"),
            json!({"expect": expect, "problems": []}),
        );
        Ok(Code::Ok)
    } else {
        out.event(
            "verify-failed",
            &format!("verification failed:\n  - {}", problems.join("\n  - ")),
            json!({"expect": expect, "problems": problems, "unchecked": unchecked}),
        );
        Ok(Code::Refused)
    }
}

/// The Airflow deployments (`namespace`, release): every release of the `airflow` chart.
fn airflow_deployments(view: &ClusterView) -> Vec<(String, String)> {
    let deployments: std::collections::BTreeSet<(String, String)> = view
        .revisions()
        .into_iter()
        .filter(|r| r.chart == "airflow")
        .map(|r| (r.namespace.clone().unwrap_or_default(), r.name))
        .collect();
    deployments.into_iter().collect()
}

/// Says, as a security finding, that the upgrader's cluster-admin binding still stands.
async fn security_finding(
    out: &Output,
    client: &Client,
    global: &GlobalArgs,
) -> Option<serde_json::Value> {
    match super::finish::standing_binding(client, global).await {
        Ok(Some((text, detail))) => {
            out.event("security", &text, detail.clone());
            Some(detail)
        }
        Ok(None) => None,
        Err(err) => {
            out.warn(&format!("{err:#}"));
            None
        }
    }
}

pub async fn run_status(global: &GlobalArgs, args: StatusArgs) -> anyhow::Result<Code> {
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
        let by = entry.detail["by"]
            .as_array()
            .map(|by| {
                let names: Vec<&str> = by.iter().filter_map(|b| b.as_str()).collect();
                format!(" by {}", names.join(", "))
            })
            .unwrap_or_default();
        out.say(&format!(
            "  {}  {:<14} {}{by}",
            entry.ts, entry.step, entry.event
        ));
    }
    if entries.is_empty() {
        out.say("  (empty: no apply or rollback has run from here)");
    }
    if let Some(approval) = entries.iter().rev().find(|e| e.step == "approval") {
        let by: Vec<&str> = approval.detail["by"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|b| b.as_str())
            .collect();
        out.say(&format!(
            "plan approved by {} (checked at {})",
            by.join(", "),
            approval.ts
        ));
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
    let upgrader = upgrader_status(client).await;
    out.say(&format!(
        "upgrader: {}",
        upgrader["summary"].as_str().unwrap_or_default()
    ));
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
    let security = security_finding(&out, client, global).await;
    out.event(
        "status",
        "",
        json!({
            "security": security,
            "journal": source,
            "entries": entries,
            "jobs": job_states,
            "upgrader": upgrader,
            "release": revision.map(|r| json!({
                "name": r.name, "revision": r.revision, "chart_version": r.chart_version, "status": r.status,
            })),
        }),
    );
    out.finish();
    Ok(Code::Ok)
}

/// How far the upgrade Job's playbook got, from its pods' logs: the phase, the last and the
/// failed task, and whether the platform changed.
async fn upgrader_status(client: &Client) -> serde_json::Value {
    use planner::upgrader::Phase;
    let Some(evidence) = super::failure::read_upgrader_log(client).await else {
        return json!({"summary": "no upgrade pod log (the Job never ran, or its pods are gone): see the journal above"});
    };
    let log = &evidence.assessment;
    let changed = evidence.platform_changed().as_str();
    let failed = log.failed.as_ref().map(|f| f.task.clone());
    let summary = format!(
        "reached {}; last task `{}`{}; platform changed: {changed}{}",
        log.reached.map_or("no task", Phase::describe),
        log.last_task.as_deref().unwrap_or("none"),
        failed
            .as_deref()
            .map(|task| format!("; FAILED at `{task}`"))
            .unwrap_or_default(),
        if log.reached == Some(Phase::ChangesPlatform) {
            format!("; backup: {}", log.backup.describe())
        } else {
            String::new()
        },
    );
    json!({
        "summary": summary,
        "phase": log.reached.map(Phase::as_str),
        "last_task": log.last_task,
        "failed_task": failed,
        "platform_changed": changed,
        "backup": log.backup.as_str(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_versions_are_compared_by_minor() {
        assert!(on_minor("0.23.18", "0.23"));
        assert!(on_minor("0.23", "0.23"));
        assert!(on_minor("v0.23.18", "0.23"));
        assert!(on_minor("0.23.18", "0.23.0"));
        assert!(!on_minor("0.230.1", "0.23"));
        assert!(!on_minor("0.2.3", "0.23"));
        assert!(!on_minor("0.16.15", "0.23"));
        assert!(!on_minor("", "0.23"));
        // The path's own lines, as `apply` and `rollback` pass them.
        let to = LTS_0_16_TO_0_23.to_platform.to_string();
        let from = LTS_0_16_TO_0_23.from_platform.to_string();
        assert!(on_minor("0.23.18", &to));
        assert!(on_minor("0.16.15", &from));
        assert!(!on_minor("0.16.15", &to));
    }
}
