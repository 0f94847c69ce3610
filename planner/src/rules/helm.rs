//! `platform-version` and `helm-release-state`.

use super::{finding, RuleInput};
use crate::facts::{At, HelmGeneration};
use crate::playbook;
use crate::report::{name_list, Finding, Status};
use crate::version::{self, Version};

const ID_VERSION: &str = "platform-version";
const ID_STATE: &str = "helm-release-state";

/// The newest thing Helm said about the platform release: its `helm list` row or the last
/// `helm history` row, whichever has the higher revision (history wins a tie: it is more detailed).
struct Latest {
    release: String,
    namespace: String,
    chart_version: Option<String>,
    status: Option<String>,
    helm: Option<HelmGeneration>,
    at: Vec<At>,
}

fn latest(ctx: &RuleInput) -> Option<Latest> {
    let release = ctx.platform_release();
    let history = ctx.platform_history();
    let last_row = history.last().copied();
    let namespace = ctx.platform_namespace();
    let mut at: Vec<At> = release.iter().map(|r| r.at.clone()).collect();
    match (release, last_row) {
        (None, None) => None,
        (Some(r), Some(row)) if r.revision.is_none_or(|rev| row.revision >= rev) => {
            at.push(row.at.clone());
            Some(Latest {
                release: r.name.clone(),
                namespace,
                chart_version: row
                    .chart_version
                    .clone()
                    .or_else(|| row.app_version.clone()),
                status: Some(row.status.to_ascii_lowercase()),
                helm: r.helm,
                at,
            })
        }
        (Some(r), _) => Some(Latest {
            release: r.name.clone(),
            namespace,
            chart_version: r.chart_version.clone().or_else(|| r.app_version.clone()),
            status: r.status.clone(),
            helm: r.helm,
            at,
        }),
        (None, Some(row)) => Some(Latest {
            release: row
                .release
                .clone()
                .unwrap_or_else(|| ctx.path.platform_chart.to_string()),
            namespace,
            chart_version: row
                .chart_version
                .clone()
                .or_else(|| row.app_version.clone()),
            status: Some(row.status.to_ascii_lowercase()),
            helm: None,
            at: vec![row.at.clone()],
        }),
    }
}

fn no_release(ctx: &RuleInput, id: &str) -> Finding {
    let chart = ctx.path.platform_chart;
    let listed = ctx.facts.helm_releases.len();
    let what = if listed == 0 {
        format!("no Helm release with chart `{chart}` was pasted")
    } else {
        format!("{listed} Helm release(s) listed, none with chart `{chart}` (plain `helm list` hides pending and failed releases)")
    };
    ctx.missing(
        id,
        &what,
        "paste the output of `helm list -A --all` (all namespaces, every state)".into(),
    )
}

/// When several releases' charts match the upgrader's `astronomer-.*`: which one it takes, in
/// words (it upgrades that one with the platform chart and leaves the others).
fn several_platforms(ctx: &RuleInput) -> Option<String> {
    let candidates = playbook::platform_candidates(ctx.facts);
    if candidates.len() < 2 {
        return None;
    }
    let names: Vec<String> = candidates
        .iter()
        .map(|r| {
            let status = r.status.as_deref().unwrap_or("status not shown");
            format!("`{}` ({}, {status})", r.name, playbook::chart_cell(r))
        })
        .collect();
    let taken = match playbook::upgrader_platform_release(ctx.facts) {
        Some(release) => format!(
            "it takes the first that its `helm list` shows (deployed or failed, by name): `{}`",
            release.name
        ),
        None => {
            "its `helm list` shows none of them (neither deployed nor failed), so it stops".into()
        }
    };
    Some(format!(
        "{} releases' charts match the upgrader's `{}` ({}); {taken}",
        candidates.len(),
        playbook::PLATFORM_CHART_PATTERN,
        name_list(&names, ", ")
    ))
}

pub fn platform_version(ctx: &RuleInput) -> Finding {
    let Some(latest) = latest(ctx) else {
        return no_release(ctx, ID_VERSION);
    };
    let path = ctx.path;
    let (release, ns) = (&latest.release, &latest.namespace);
    if let Some(other) = ctx
        .platform_release()
        .filter(|r| r.chart != path.platform_chart)
    {
        // `astronomer-postgresql-1.0.0` matches `astronomer-.*` too, and sorts first
        return finding(
            ID_VERSION,
            Status::Fail,
            format!(
                "the upgrader takes release `{release}` (chart `{}`) for the platform: {}",
                playbook::chart_cell(other),
                several_platforms(ctx).unwrap_or_else(|| format!(
                    "its chart matches `{}`",
                    playbook::PLATFORM_CHART_PATTERN
                ))
            ),
            Some(format!(
                "the upgrader would upgrade `{release}` with the platform chart: rename or uninstall it (`helm uninstall {release} -n {ns}`) so that the platform release is the first deployed release whose chart starts with `{}-`, then paste `helm list -A --all` again",
                path.platform_chart
            )),
            latest.at,
        );
    }
    let Some(version_text) = latest.chart_version.as_deref() else {
        return finding(
            ID_VERSION,
            Status::Unknown,
            format!("the chart version of release `{release}` is not shown"),
            Some("paste the output of `helm list -A --all` with its CHART column".into()),
            latest.at,
        );
    };
    let chart = format!("{}-{version_text}", path.platform_chart);
    let Some(version) = version::parse(version_text) else {
        return finding(
            ID_VERSION,
            Status::Unknown,
            format!("cannot read the chart version `{version_text}` of release `{release}`"),
            Some("paste the output of `helm list -A --all` unedited".into()),
            latest.at,
        );
    };
    let (from, to) = (path.from_platform, path.to_platform);
    let (status, message, remedy) = if from.matches(&version) {
        (
            Status::Pass,
            format!("platform release `{release}` in namespace `{ns}` runs {chart}"),
            None,
        )
    } else if to.matches(&version) {
        let message = if latest.status.as_deref() == Some("deployed") {
            format!("already upgraded: nothing to do (release `{release}` runs {chart})")
        } else {
            format!(
                "release `{release}` already carries {chart}: an upgrade to {} was started",
                path.to_platform
            )
        };
        (
            Status::Fail,
            message,
            Some(format!(
                "do not run the upgrade again; confirm with `helm history {release} -n {ns}` and verify the platform"
            )),
        )
    } else if version < Version::new(from.major, from.minor, 0) {
        (
            Status::Fail,
            format!(
                "release `{release}` runs {chart}; this upgrade starts from {}.x",
                path.from_platform
            ),
            Some(format!(
                "upgrade the platform to the latest {}.x patch first (\"Upgrade to a Patch Version of Astronomer Enterprise\"), then plan again",
                path.from_platform
            )),
        )
    } else {
        (
            Status::Fail,
            format!(
                "release `{release}` runs {chart}, which is not on the {from}.x → {to}.x path{}",
                if version.pre.is_empty() {
                    ""
                } else {
                    " (a pre-release chart)"
                }
            ),
            Some("use the upgrade procedure for the platform version you run".into()),
        )
    };
    finding(ID_VERSION, status, message, remedy, latest.at)
}

pub fn helm_release_state(ctx: &RuleInput) -> Finding {
    let Some(latest) = latest(ctx) else {
        return no_release(ctx, ID_STATE);
    };
    let (release, ns) = (&latest.release, &latest.namespace);
    if latest.helm == Some(HelmGeneration::Helm2) {
        return finding(
            ID_STATE,
            Status::Fail,
            format!("release `{release}` is stored by Helm 2: migrate to Helm 3 first"),
            Some(format!(
                "convert it with the helm-2to3 plugin: `helm3 plugin install https://github.com/helm/helm-2to3` then `helm3 2to3 convert {release}`; paste `helm list -A --all` from Helm 3 afterwards"
            )),
            latest.at,
        );
    }
    let last_deployed = ctx
        .platform_history()
        .iter()
        .rev()
        .find(|row| {
            row.status.eq_ignore_ascii_case("deployed")
                || row.status.eq_ignore_ascii_case("superseded")
        })
        .map(|row| row.revision.to_string())
        .unwrap_or_else(|| "<REVISION>".to_string());
    let several = several_platforms(ctx);
    match latest.status.as_deref() {
        Some("deployed") => match several {
            None => finding(
                ID_STATE,
                Status::Pass,
                format!("release `{release}` in namespace `{ns}` is deployed"),
                None,
                latest.at,
            ),
            Some(several) => finding(
                ID_STATE,
                Status::Warn,
                format!("release `{release}` in namespace `{ns}` is deployed; {several}"),
                Some(format!(
                    "make sure `{release}` is the platform to upgrade: the upgrader upgrades it and leaves the others; to upgrade another, uninstall or rename the releases listed before it"
                )),
                latest.at,
            ),
        },
        Some(status) => {
            let repair = format!(
                "inspect `helm history {release} -n {ns}`, then return to the last good revision with `helm rollback {release} {last_deployed} -n {ns}` and paste `helm list -A --all` again"
            );
            let remedy = match &several {
                Some(_) => format!(
                    "if `{release}` is not the platform, uninstall it (`helm uninstall {release} -n {ns}`) so that the upgrader takes the platform release, then paste `helm list -A --all` again; if it is, {repair}"
                ),
                None => repair,
            };
            finding(
                ID_STATE,
                Status::Fail,
                format!(
                    "release `{release}` is `{status}`, not `deployed`: an earlier Helm operation did not finish{}",
                    several.map(|s| format!("; {s}")).unwrap_or_default()
                ),
                Some(remedy),
                latest.at,
            )
        }
        None => finding(
            ID_STATE,
            Status::Unknown,
            format!("the status of release `{release}` is not shown"),
            Some(format!(
                "paste the output of `helm list -A --all` or `helm history {release} -n {ns}`"
            )),
            latest.at,
        ),
    }
}
