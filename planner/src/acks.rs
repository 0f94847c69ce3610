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
}
