//! Where the upgrader decides with a pattern, the same pattern, evaluated the way it evaluates it.
//!
//! The upgrader's `tasks/upgrade.yaml` (tag v0.23.18) picks the platform release, the Airflow
//! releases and the database credentials with regular expressions. A hand-written imitation
//! agrees on the strings people think of and disagrees on the ones that break upgrades (a
//! password holding `@`, a second `astronomer-…` chart), so the checks run the playbook's own
//! expressions with the `regex` crate, with Python's semantics where they differ from its
//! defaults (`\d` is Unicode digits in both; Jinja's `match` test anchors at the start only).

use std::sync::OnceLock;

use regex::Regex;

use crate::facts::{Facts, HelmRelease};

/// `selectattr('chart', 'match', 'astronomer-.*') | list)[0]`: the platform release.
pub const PLATFORM_CHART_PATTERN: &str = "astronomer-.*";
/// `selectattr('chart', 'match', 'airflow-.*')`: the Airflow deployments' releases.
pub const AIRFLOW_CHART_PATTERN: &str = "airflow-.*";
/// `db_connection | regex_search(regex, '\\N') | first`: the bootstrap connection string's
/// user (1), password (2), host (3) and port (4).
pub const CONNECTION_PATTERN: &str = r"postgres:\/\/([^:]*):([^@]*)@([^:]*):(\d*).*";
/// The release list the upgrader reads: `helm list --all-namespaces -o json --offset=0
/// --max=1000` (without `--all`: Helm 3 lists deployed and failed releases only, by name).
pub const RELEASE_LIST_COMMAND: &str = "helm list --all-namespaces -o json --offset=0 --max=1000";

/// Jinja's `match` test is Python's `re.match`: a match that starts at the first character.
fn anchored(pattern: &str) -> Regex {
    Regex::new(&format!("^(?:{pattern})")).expect("the playbook's pattern compiles")
}

fn platform_chart() -> &'static Regex {
    static COMPILED: OnceLock<Regex> = OnceLock::new();
    COMPILED.get_or_init(|| anchored(PLATFORM_CHART_PATTERN))
}

fn airflow_chart() -> &'static Regex {
    static COMPILED: OnceLock<Regex> = OnceLock::new();
    COMPILED.get_or_init(|| anchored(AIRFLOW_CHART_PATTERN))
}

/// `regex_search` is Python's `re.search`: the first match anywhere.
pub(crate) fn connection() -> &'static Regex {
    static COMPILED: OnceLock<Regex> = OnceLock::new();
    COMPILED
        .get_or_init(|| Regex::new(CONNECTION_PATTERN).expect("the playbook's pattern compiles"))
}

/// The CHART cell as Helm prints it and the upgrader matches it: `astronomer-0.16.9`.
pub fn chart_cell(release: &HelmRelease) -> String {
    match &release.chart_version {
        Some(version) => format!("{}-{version}", release.chart),
        None => release.chart.clone(),
    }
}

/// Whether the upgrader would take `release`'s chart for the platform's.
pub fn is_platform_chart(release: &HelmRelease) -> bool {
    platform_chart().is_match(&chart_cell(release))
}

/// Whether the upgrader counts `release` among the Airflow deployments.
pub fn is_airflow_chart(release: &HelmRelease) -> bool {
    airflow_chart().is_match(&chart_cell(release))
}

/// Whether the upgrader's `helm list` (no `--all`) shows a release in this state.
pub fn listed_by_upgrader(release: &HelmRelease) -> bool {
    matches!(release.status.as_deref(), Some("deployed" | "failed"))
}

/// Each release once (a later row of the same namespace and name replaces an earlier one), in
/// `helm list`'s order: by name.
fn releases_by_name(facts: &Facts) -> Vec<&HelmRelease> {
    let mut releases: Vec<&HelmRelease> = Vec::new();
    for release in &facts.helm_releases {
        let same = |r: &&HelmRelease| r.name == release.name && r.namespace == release.namespace;
        match releases.iter_mut().find(|r| same(r)) {
            Some(seen) => *seen = release,
            None => releases.push(release),
        }
    }
    crate::sort::sort_by(&mut releases, |a, b| a.name.cmp(&b.name));
    releases
}

/// Every release whose chart matches the platform pattern, whatever its state, by name.
pub fn platform_candidates(facts: &Facts) -> Vec<&HelmRelease> {
    releases_by_name(facts)
        .into_iter()
        .filter(|r| is_platform_chart(r))
        .collect()
}

/// The release the upgrader takes for the platform: the first one its `helm list` shows
/// (deployed or failed, by name) whose chart matches `astronomer-.*`.
pub fn upgrader_platform_release(facts: &Facts) -> Option<&HelmRelease> {
    platform_candidates(facts)
        .into_iter()
        .find(|r| listed_by_upgrader(r))
}

/// The releases the upgrader names as Airflow deployments (`airflow_releases`), by name.
pub fn upgrader_airflow_releases(facts: &Facts) -> Vec<&HelmRelease> {
    releases_by_name(facts)
        .into_iter()
        .filter(|r| listed_by_upgrader(r) && is_airflow_chart(r))
        .collect()
}

/// The Houston database the upgrader backs up and migrates: the release name with `-` made
/// `_`, then `_houston` (its `database_name`).
pub fn houston_database(release: &str) -> String {
    format!("{}_houston", release.replace('-', "_"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::At;

    fn release(name: &str, chart: &str, version: Option<&str>, status: &str) -> HelmRelease {
        HelmRelease {
            name: name.into(),
            namespace: Some(name.into()),
            revision: Some(1),
            status: Some(status.into()),
            chart: chart.into(),
            chart_version: version.map(Into::into),
            app_version: None,
            helm: None,
            at: At::default(),
        }
    }

    #[test]
    fn charts_match_from_their_start_as_jinja_s_match_does() {
        let platform =
            |chart, version| is_platform_chart(&release("r", chart, version, "deployed"));
        assert!(platform("astronomer", Some("0.16.9")));
        assert!(platform("astronomer-postgresql", Some("1.0.0")));
        // `re.match` anchors at the start: a chart that merely contains the text is not taken
        assert!(!platform("my-astronomer", Some("0.16.9")));
        // `astronomer` without a version prints no `-`
        assert!(!platform("astronomer", None));
        let airflow = |chart, version| is_airflow_chart(&release("r", chart, version, "deployed"));
        assert!(airflow("airflow", Some("0.15.6")));
        assert!(!airflow("apache-airflow", Some("1.0.0")));
        assert!(!airflow("astronomer", Some("0.16.9")));
    }

    #[test]
    fn the_platform_is_the_first_listed_match_by_name() {
        let facts = Facts {
            helm_releases: vec![
                release("astronomer", "astronomer", Some("0.16.9"), "deployed"),
                release("astro-old", "astronomer", Some("0.16.4"), "failed"),
                release(
                    "aaa-pending",
                    "astronomer",
                    Some("0.16.9"),
                    "pending-upgrade",
                ),
                release("quasar", "airflow", Some("0.15.6"), "deployed"),
                release("nebula", "airflow", Some("0.15.6"), "pending-install"),
            ],
            ..Facts::default()
        };
        assert_eq!(
            upgrader_platform_release(&facts).map(|r| r.name.as_str()),
            Some("astro-old")
        );
        let names: Vec<&str> = platform_candidates(&facts)
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(names, ["aaa-pending", "astro-old", "astronomer"]);
        let airflow: Vec<&str> = upgrader_airflow_releases(&facts)
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(airflow, ["quasar"]);
    }

    #[test]
    fn the_houston_database_is_named_as_the_upgrader_names_it() {
        assert_eq!(houston_database("astronomer"), "astronomer_houston");
        assert_eq!(houston_database("ice-ice"), "ice_ice_houston");
    }
}
