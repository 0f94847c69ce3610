//! Acknowledgements: what only a person can vouch for.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledgements {
    /// A reference to the database backup (ticket, snapshot id…). `--ack database-backup=REF`
    pub database_backup: Option<String>,
    /// The person is an Astronomer System Admin. `--ack system-admin`
    pub system_admin: bool,
    /// Pods known to crash, by name; they turn a pod-health fail into a warn. `--ack known-crashing=POD[,POD…]`
    pub known_crashing: Vec<String>,
    /// The site has no internet egress. `--air-gapped`
    pub air_gapped: bool,
    /// The registry that mirrors the upgrade's images. `--ack mirrors=REGISTRY`
    pub mirrors: Option<String>,
    /// The internal Helm repository, when one mirrors helm.astronomer.io. `--ack helm-repo=URL`
    pub helm_repository: Option<String>,
    /// The approver accepts what an automatic rollback costs: it deletes the Elasticsearch log
    /// volumes and restores the Houston database from this run's backup, losing later changes.
    /// `apply --auto-rollback` refuses without it. `--ack rollback-data-loss`
    /// (Absent from plans written before it existed, so their digests still verify.)
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rollback_data_loss: bool,
}

/// Why an `--ack` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    #[error("unknown acknowledgement `{0}`: expected one of database-backup=REF, system-admin, known-crashing=POD[,POD…], mirrors=REGISTRY, helm-repo=URL, rollback-data-loss, air-gapped")]
    Unknown(String),
    #[error("acknowledgement `{0}` needs a value: `{0}=…`")]
    MissingValue(&'static str),
    #[error("acknowledgement `{0}` takes no value")]
    UnexpectedValue(&'static str),
}

impl Acknowledgements {
    /// Applies one acknowledgement as spelled on the command line after `--ack`
    /// (`database-backup=CHG-1234`, `system-admin`, `known-crashing=a,b`, `mirrors=REGISTRY`,
    /// `helm-repo=URL`, `rollback-data-loss`); `air-gapped` is accepted too, so the page can use one spelling for all.
    /// The CLI and the page both parse through here, so they agree by construction.
    pub fn parse_ack(&mut self, text: &str) -> Result<(), AckError> {
        let text = text.trim();
        let (name, value) = match text.split_once('=') {
            Some((name, value)) => (name.trim(), Some(value.trim())),
            None => (text, None),
        };
        // a credential in a value (`helm-repo=https://user:password@…`) is dropped at once
        let required = |key: &'static str| match value {
            Some(v) if !v.is_empty() => Ok(crate::report::redact_secrets(v)),
            _ => Err(AckError::MissingValue(key)),
        };
        let flag = |key: &'static str| match value {
            None => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("yes") => Ok(true),
            Some(_) => Err(AckError::UnexpectedValue(key)),
        };
        match name {
            "database-backup" => self.database_backup = Some(required("database-backup")?),
            "system-admin" => self.system_admin = flag("system-admin")?,
            "air-gapped" => self.air_gapped = flag("air-gapped")?,
            "rollback-data-loss" => self.rollback_data_loss = flag("rollback-data-loss")?,
            "mirrors" => self.mirrors = Some(required("mirrors")?),
            "helm-repo" => self.helm_repository = Some(required("helm-repo")?),
            "known-crashing" => {
                let pods = required("known-crashing")?;
                for pod in pods.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    if !self.known_crashing.iter().any(|known| known == pod) {
                        self.known_crashing.push(pod.to_string());
                    }
                }
            }
            other => return Err(AckError::Unknown(other.to_string())),
        }
        Ok(())
    }

    /// The same acknowledgements with any credential in their texts masked, as
    /// [`Acknowledgements::parse_ack`] masks them: the page builds its acknowledgements from its
    /// controls, and whatever the caller, nothing given here may reach a report or a plan.
    pub fn without_secrets(&self) -> Acknowledgements {
        let masked = |text: &Option<String>| text.as_deref().map(crate::report::redact_secrets);
        Acknowledgements {
            database_backup: masked(&self.database_backup),
            mirrors: masked(&self.mirrors),
            helm_repository: masked(&self.helm_repository),
            ..self.clone()
        }
    }

    /// The acknowledgements as the command-line flags that give them, in a stable order.
    pub fn to_cli_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(reference) = &self.database_backup {
            args.push(format!("--ack database-backup={reference}"));
        }
        if self.system_admin {
            args.push("--ack system-admin".to_string());
        }
        if !self.known_crashing.is_empty() {
            args.push(format!(
                "--ack known-crashing={}",
                self.known_crashing.join(",")
            ));
        }
        if self.air_gapped {
            args.push("--air-gapped".to_string());
        }
        if let Some(registry) = &self.mirrors {
            args.push(format!("--ack mirrors={registry}"));
        }
        if let Some(url) = &self.helm_repository {
            args.push(format!("--ack helm-repo={url}"));
        }
        if self.rollback_data_loss {
            args.push("--ack rollback-data-loss".to_string());
        }
        args
    }
}
