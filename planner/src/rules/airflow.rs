//! `airflow-releases`: the Airflow deployments the upgrader's step (5/6) upgrades.
//!
//! Step (5/6) sets `astronomer.houston.upgradeDeployments.enabled=true`: Houston's post-upgrade
//! hook upgrades every Airflow deployment to the 0.23 Airflow chart, after the point of no
//! return. A deployment's release left `failed` or `pending-*` by an earlier Helm operation
//! breaks that step, when nothing can be undone by re-running. The upgrader finds the releases
//! the way this check does: `helm list --all-namespaces -o json`, charts matching `airflow-.*`.

use super::{finding, item, item_evidence, worst, RuleInput};
use crate::facts::HelmRelease;
use crate::options::{COMMANDER_UPGRADE_TIMEOUT_ENV, DEFAULT_COMMANDER_UPGRADE_TIMEOUT};
use crate::report::{name_list, Finding, Item, Status};

const ID: &str = "airflow-releases";

/// Seconds of Commander timeout suggested per Airflow deployment when there are many.
const SECONDS_PER_DEPLOYMENT: u32 = 60;

/// Each Airflow release once (`namespace/name`), whatever its state — its chart matched as the
/// upgrader matches it ([`crate::playbook::is_airflow_chart`], `airflow-.*`): a later row of the
/// same release replaces an earlier one, as a later paste supersedes an earlier one.
fn listed_airflow_releases<'f>(ctx: &RuleInput<'f>) -> Vec<&'f HelmRelease> {
    let mut releases: Vec<&HelmRelease> = Vec::new();
    for release in ctx
        .facts
        .helm_releases
        .iter()
        .filter(|r| crate::playbook::is_airflow_chart(r))
    {
        let same = |r: &&HelmRelease| r.name == release.name && r.namespace == release.namespace;
        match releases.iter_mut().find(|r| same(r)) {
            Some(seen) => *seen = release,
            None => releases.push(release),
        }
    }
    releases
}

/// What a release in `status` does to step (5/6).
fn why_it_breaks(status: &str) -> String {
    if status.starts_with("pending") {
        format!("`{status}`: an earlier Helm operation never finished, and Helm refuses to upgrade it (\"another operation (install/upgrade/rollback) is in progress\")")
    } else if status == "failed" {
        "`failed`: its last Helm operation failed, and its upgrade in step (5/6) can fail on the same cause".to_string()
    } else {
        format!("`{status}`, not `deployed`")
    }
}

pub fn airflow_releases(ctx: &RuleInput) -> Finding {
    let releases = listed_airflow_releases(ctx);
    let listed_all = ctx.facts.helm_list_all.as_ref();
    let skipped = ctx.options.disable_deployment_upgrades;
    if ctx.facts.helm_releases.is_empty() && listed_all.is_none() {
        return ctx.missing(
            ID,
            "no `helm list` was pasted: the Airflow deployments' releases are unknown",
            "paste the output of `helm list -A --all` (every namespace, every state)".into(),
        );
    }
    let mut items: Vec<Item> = Vec::new();
    for release in &releases {
        let namespace = release.namespace.as_deref().unwrap_or("?");
        let subject = format!("{namespace}/{}", release.name);
        let chart = match &release.chart_version {
            Some(version) => format!("{}-{version}", release.chart),
            None => release.chart.clone(),
        };
        let status = release.status.as_deref().unwrap_or("");
        let judged = match status {
            "deployed" => item(subject, Status::Pass, format!("deployed ({chart})"), &release.at),
            "" => item(
                subject,
                Status::Unknown,
                "its status is not shown",
                &release.at,
            ),
            other if skipped => item(
                subject,
                Status::Warn,
                format!(
                    "{}; the plan skips steps (5/6) and (6/6), so the upgrader leaves it alone, but it must be repaired before it is upgraded from the UI",
                    why_it_breaks(other)
                ),
                &release.at,
            ),
            other => item(
                subject,
                Status::Fail,
                format!(
                    "{}; step (5/6) upgrades it after the point of no return",
                    why_it_breaks(other)
                ),
                &release.at,
            ),
        };
        items.push(judged);
    }
    let mut evidence = item_evidence(&items);
    let mut status = worst(&items);
    let broken: Vec<&str> = items
        .iter()
        .filter(|i| matches!(i.status, Status::Fail | Status::Warn))
        .map(|i| i.subject.as_str())
        .collect();
    let (mut message, mut remedy) = match status {
        Status::Fail => (
            format!(
                "{} of {} Airflow deployments' releases are not `deployed`: {}; the upgrader's step (5/6) upgrades each one after the point of no return, and fails on these",
                broken.len(),
                releases.len(),
                name_list(&broken, ", ")
            ),
            Some(repair(&items, &releases)),
        ),
        Status::Warn => (
            format!(
                "{} of {} Airflow deployments' releases are not `deployed` ({}); the plan skips their upgrade (steps (5/6) and (6/6))",
                broken.len(),
                releases.len(),
                name_list(&broken, ", ")
            ),
            Some(repair(&items, &releases)),
        ),
        Status::Unknown => (
            "the status of some Airflow deployments' releases is not shown".to_string(),
            Some("paste the output of `helm list -A --all` with its STATUS column".into()),
        ),
        Status::Pass if releases.is_empty() => (
            "no Airflow deployment is listed: step (5/6) has nothing to upgrade".to_string(),
            None,
        ),
        Status::Pass => (
            format!(
                "all {} Airflow deployments' releases are `deployed`",
                releases.len()
            ),
            None,
        ),
    };
    // Nothing fails among what is listed; plain `helm list` may have hidden a pending release.
    if status == Status::Pass && listed_all.is_none() {
        status = Status::Unknown;
        message = format!(
            "{} listed, but plain `helm list` hides releases stuck in `pending-*` states, which step (5/6) cannot upgrade",
            if releases.is_empty() {
                "no Airflow deployment is".to_string()
            } else {
                format!("{} Airflow deployments' releases are `deployed` as", releases.len())
            }
        );
        remedy =
            Some("paste the output of `helm list -A --all` (`--all` lists every state)".into());
    }
    if let Some(at) = listed_all {
        evidence.push(at.clone());
    }
    let timeout = ctx.options.effective_commander_upgrade_timeout();
    let many = releases.len() > ctx.path.airflow_deployments_per_default_timeout;
    let suggested = SECONDS_PER_DEPLOYMENT.saturating_mul(releases.len() as u32);
    if many && !skipped && timeout < suggested && status != Status::Fail {
        status = status.max(Status::Warn);
        message = format!(
            "{message}; with {} deployments the upgrader's {COMMANDER_UPGRADE_TIMEOUT_ENV} of {timeout} s{} may be too short for step (5/6)",
            releases.len(),
            if ctx.options.commander_upgrade_timeout.is_none() {
                " (its default)"
            } else {
                ""
            }
        );
        let raise = format!(
            "write the plan with `--commander-upgrade-timeout {suggested}` (about {SECONDS_PER_DEPLOYMENT} s per deployment): `apply` sets {COMMANDER_UPGRADE_TIMEOUT_ENV} on the upgrade Job"
        );
        remedy = Some(match remedy {
            Some(first) => format!("{first}; {raise}"),
            None => raise,
        });
    } else if skipped {
        message.push_str("; the plan skips steps (5/6) and (6/6): the deployments stay on their 0.16-era chart and are upgraded from the Astronomer UI afterwards");
    } else if timeout != DEFAULT_COMMANDER_UPGRADE_TIMEOUT {
        message.push_str(&format!(
            "; the plan sets {COMMANDER_UPGRADE_TIMEOUT_ENV}={timeout} s for step (5/6)"
        ));
    }
    let mut result = finding(ID, status, message, remedy, evidence);
    result.items = items;
    result
}

/// The commands that bring each release back to `deployed`.
fn repair(items: &[Item], releases: &[&HelmRelease]) -> String {
    let first = releases
        .iter()
        .find(|r| {
            items.iter().any(|i| {
                matches!(i.status, Status::Fail | Status::Warn)
                    && i.subject.ends_with(&format!("/{}", r.name))
            })
        })
        .copied();
    let (name, namespace) = first
        .map(|r| {
            (
                r.name.as_str(),
                r.namespace.as_deref().unwrap_or("<namespace>"),
            )
        })
        .unwrap_or(("<release>", "<namespace>"));
    format!(
        "for each one, find its last good revision with `helm history {name} -n {namespace}` and return to it with `helm rollback {name} <REVISION> -n {namespace}` (or redeploy it from the Astronomer UI), then paste `helm list -A --all` again; or write the plan with `--disable-deployment-upgrades` to upgrade the deployments from the UI after the platform"
    )
}
