//! What a plan may set on the upgrader beyond the reviewed manifest: the two switches its
//! playbook reads (`tasks/upgrade.yaml` at tag v0.23.18).
//!
//! - `COMMANDER_UPGRADE_TIMEOUT`: read with `lookup('env', 'COMMANDER_UPGRADE_TIMEOUT') |
//!   default('300', True)` and passed to step (5/6) as `astronomer.commander.upgradeTimeout`, the
//!   time Commander gives each Airflow deployment's Helm upgrade. It is an environment variable,
//!   so `apply` sets it in the upgrade Job's container.
//! - `DISABLE_UPGRADE_DEPLOYMENT`: steps (5/6) and (6/6) run `when: (DISABLE_UPGRADE_DEPLOYMENT is
//!   not defined) or not (DISABLE_UPGRADE_DEPLOYMENT | bool)`. That is an Ansible variable, not
//!   an environment lookup: an environment variable of that name is never seen. The image's
//!   entrypoint (`ansible-playbook -e "USE_INTERNAL_HELM_REPO=$USE_INTERNAL_HELM_REPO"
//!   upgrade-astronomer.yaml`, with `ENV USE_INTERNAL_HELM_REPO False`) passes no other
//!   variable, so `apply` gives the container that same command with one more `-e`, the value
//!   written as the string `true` (its truthiness went through four rewrites in September 2021;
//!   `"true" | bool` is true in every one of them).

use serde::{Deserialize, Serialize};

/// The environment variable the upgrader reads its Commander timeout from.
pub const COMMANDER_UPGRADE_TIMEOUT_ENV: &str = "COMMANDER_UPGRADE_TIMEOUT";
/// The upgrader's own default when the variable is unset or empty.
pub const DEFAULT_COMMANDER_UPGRADE_TIMEOUT: u32 = 300;
/// The Ansible variable that skips steps (5/6) and (6/6).
pub const DISABLE_UPGRADE_DEPLOYMENT_VAR: &str = "DISABLE_UPGRADE_DEPLOYMENT";
/// The longest timeout accepted (a day): a larger number is a typo, not a plan.
pub const MAX_COMMANDER_UPGRADE_TIMEOUT: u32 = 86_400;

/// The command the image's entrypoint runs (its `ENV USE_INTERNAL_HELM_REPO False` written out),
/// with `-e DISABLE_UPGRADE_DEPLOYMENT=true` added.
pub const DISABLED_DEPLOYMENT_UPGRADES_COMMAND: [&str; 6] = [
    "ansible-playbook",
    "-e",
    "USE_INTERNAL_HELM_REPO=False",
    "-e",
    "DISABLE_UPGRADE_DEPLOYMENT=true",
    "upgrade-astronomer.yaml",
];

/// What the plan sets on the upgrade Job. The default sets nothing: the Job runs as reviewed.
/// Absent from plans that set nothing, so plans written before these options existed keep
/// their digests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgraderOptions {
    /// Seconds for `COMMANDER_UPGRADE_TIMEOUT` (the upgrader's default is 300).
    /// `plan --commander-upgrade-timeout SECONDS`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commander_upgrade_timeout: Option<u32>,
    /// Skip the upgrader's steps (5/6) and (6/6): the Airflow deployments stay on their
    /// 0.16-era chart and are upgraded from the Astronomer UI later.
    /// `plan --disable-deployment-upgrades`
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_deployment_upgrades: bool,
}

impl UpgraderOptions {
    pub fn is_default(&self) -> bool {
        *self == UpgraderOptions::default()
    }

    /// Reads a timeout as typed (`900`, `900s`): whole seconds, 1 to a day. The CLI and the page
    /// both read it here.
    pub fn parse_timeout(text: &str) -> Result<u32, String> {
        let text = text.trim();
        let digits = text.strip_suffix('s').unwrap_or(text);
        match digits.parse::<u32>() {
            Ok(seconds) if (1..=MAX_COMMANDER_UPGRADE_TIMEOUT).contains(&seconds) => Ok(seconds),
            Ok(_) => Err(format!(
                "the Commander upgrade timeout must be 1 to {MAX_COMMANDER_UPGRADE_TIMEOUT} seconds, not `{text}`"
            )),
            Err(_) => Err(format!(
                "the Commander upgrade timeout is whole seconds (e.g. 900), not `{text}`"
            )),
        }
    }

    /// The timeout the upgrader will use: the plan's, or its default.
    pub fn effective_commander_upgrade_timeout(&self) -> u32 {
        self.commander_upgrade_timeout
            .unwrap_or(DEFAULT_COMMANDER_UPGRADE_TIMEOUT)
    }

    /// Environment variables `apply` sets in the upgrade Job's container.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        self.commander_upgrade_timeout
            .map(|seconds| (COMMANDER_UPGRADE_TIMEOUT_ENV, seconds.to_string()))
            .into_iter()
            .collect()
    }

    /// The command `apply` gives the upgrade Job's container, when the image's own entrypoint
    /// would not do what the plan says.
    pub fn command(&self) -> Option<Vec<String>> {
        self.disable_deployment_upgrades.then(|| {
            DISABLED_DEPLOYMENT_UPGRADES_COMMAND
                .iter()
                .map(|word| word.to_string())
                .collect()
        })
    }

    /// The options as the `plan` flags that set them, in a stable order.
    pub fn to_cli_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(seconds) = self.commander_upgrade_timeout {
            args.push(format!("--commander-upgrade-timeout {seconds}"));
        }
        if self.disable_deployment_upgrades {
            args.push("--disable-deployment-upgrades".to_string());
        }
        args
    }

    /// What each option does to the upgrade, in words, for the plan's Markdown and the page.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(seconds) = self.commander_upgrade_timeout {
            lines.push(format!(
                "`{COMMANDER_UPGRADE_TIMEOUT_ENV}={seconds}`: set as an environment variable of the upgrade Job's container; the upgrader passes it to step (5/6) as `astronomer.commander.upgradeTimeout`, the seconds Commander gives each Airflow deployment's upgrade (default {DEFAULT_COMMANDER_UPGRADE_TIMEOUT})."
            ));
        }
        if self.disable_deployment_upgrades {
            lines.push(format!(
                "`{DISABLE_UPGRADE_DEPLOYMENT_VAR}=true`: the upgrade Job's container runs `{}` (the image's own command plus this Ansible variable, which the playbook does not read from the environment). Steps (5/6) and (6/6) are skipped: the Airflow deployments stay on their 0.16-era chart (airflow-0.15.x) and must each be upgraded from the Astronomer UI after the platform upgrade.",
                DISABLED_DEPLOYMENT_UPGRADES_COMMAND.join(" ")
            ));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_whole_seconds_up_to_a_day() {
        assert_eq!(UpgraderOptions::parse_timeout("900"), Ok(900));
        assert_eq!(UpgraderOptions::parse_timeout(" 1200s "), Ok(1200));
        assert!(UpgraderOptions::parse_timeout("0").is_err());
        assert!(UpgraderOptions::parse_timeout("86401").is_err());
        assert!(UpgraderOptions::parse_timeout("15m").is_err());
        assert!(UpgraderOptions::parse_timeout("-5").is_err());
    }

    #[test]
    fn the_default_sets_nothing_on_the_job() {
        let options = UpgraderOptions::default();
        assert!(options.is_default());
        assert!(options.env().is_empty());
        assert_eq!(options.command(), None);
        assert_eq!(options.effective_commander_upgrade_timeout(), 300);
        assert_eq!(serde_json::to_string(&options).unwrap(), "{}");
    }

    #[test]
    fn each_option_says_how_it_reaches_the_upgrader() {
        let options = UpgraderOptions {
            commander_upgrade_timeout: Some(900),
            disable_deployment_upgrades: true,
        };
        assert_eq!(
            options.env(),
            [("COMMANDER_UPGRADE_TIMEOUT", "900".to_string())]
        );
        let command = options.command().unwrap();
        assert_eq!(
            command.first().map(String::as_str),
            Some("ansible-playbook")
        );
        assert!(command.contains(&"DISABLE_UPGRADE_DEPLOYMENT=true".to_string()));
        assert!(command.contains(&"USE_INTERNAL_HELM_REPO=False".to_string()));
        assert_eq!(
            command.last().map(String::as_str),
            Some("upgrade-astronomer.yaml")
        );
        assert_eq!(
            options.to_cli_args(),
            [
                "--commander-upgrade-timeout 900",
                "--disable-deployment-upgrades"
            ]
        );
        let described = options.describe().join("\n");
        assert!(described.contains("0.16-era chart"), "{described}");
        assert!(described.contains("Astronomer UI"), "{described}");
    }
}
