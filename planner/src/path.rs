//! Every number and name of the 0.16 → 0.23 upgrade path, as data in one place.
//!
//! The rules read these values instead of spelling them out, so a later LTS hop is a second
//! [`UpgradePath`] plus the few rules that really differ. Sources: the upgrade procedure and the
//! internals reference (§1–2: the manifests at tag v0.23.18; §9: the certified image grammar).

use semver::{Comparator, Prerelease, VersionReq};

use crate::version::Version;
pub use crate::version::{compare, Requirement};
pub use semver::Op;

/// A release line: every version of one `MAJOR.MINOR` (the `0.16.x` of the docs). Displays as
/// `0.16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct MinorVersion {
    pub major: u64,
    pub minor: u64,
}

/// Whether a check blocks GO when its evidence is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckKind {
    /// Missing evidence makes the finding `unknown`, which blocks GO.
    Required,
    /// Missing evidence makes the finding a "not evaluated" `warn`, which never blocks GO.
    Advisory,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckSpec {
    pub id: &'static str,
    pub kind: CheckKind,
    /// A short title for tables and JUnit test names.
    pub title: &'static str,
}

/// Where a required permission must be granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermissionScope {
    /// The namespace the platform release lives in.
    PlatformNamespace,
    /// `default`, where the manifest's namespaced objects land.
    UpgradeNamespace,
    /// Cluster-scoped resources.
    Cluster,
    /// Every namespace and the cluster scope at once (`kubectl auth can-i … --all-namespaces`):
    /// what RBAC's escalation check compares a new ClusterRole's rules with.
    AllNamespaces,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequiredPermission {
    pub verb: &'static str,
    /// Plural resource name as `kubectl auth can-i` resolves it.
    pub resource: &'static str,
    pub scope: PermissionScope,
}

/// One object the upgrade or rollback manifest must contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManifestObjectSpec {
    pub kind: &'static str,
    pub name: &'static str,
}

/// A host the upgrade reaches over the internet, and what fails without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EgressHost {
    /// `helm.astronomer.io`; a result for a subdomain (`registry-1.docker.io`) counts for it.
    pub host: &'static str,
    /// What `apply`'s probe fetches, and what the pasted test should (`curl -sSI URL`).
    pub url: &'static str,
    /// Who reaches it, and when, in words.
    pub needed_by: &'static str,
    /// Reached only after the upgrader's point of no return: a failure there is not undone by
    /// re-running, so it must be proven before the upgrade starts.
    pub after_point_of_no_return: bool,
    /// An image registry: on an air-gapped site the acknowledged mirror replaces it.
    pub registry: bool,
    /// Needed only when the platform runs its in-cluster `bitnami/postgresql`.
    pub in_cluster_postgres_only: bool,
}

impl EgressHost {
    /// Whether a test of `host` tells about this one (the host itself or a subdomain).
    pub fn covers(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        host.eq_ignore_ascii_case(self.host)
            || host
                .to_ascii_lowercase()
                .strip_suffix(self.host)
                .is_some_and(|rest| rest.ends_with('.'))
    }
}

/// A manifest of the path: its file name, its URL at the pinned tag, and the objects in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManifestSpec {
    pub file_name: &'static str,
    pub url: &'static str,
    /// The Job whose presence identifies the manifest.
    pub job_name: &'static str,
    pub objects: &'static [ManifestObjectSpec],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpgradePath {
    /// Stable id written into plans.
    pub id: &'static str,
    /// The platform chart minor the upgrade starts from (`astronomer-0.16.x`).
    pub from_platform: MinorVersion,
    /// The platform chart minor the upgrade reaches (`astronomer-0.23.x`).
    pub to_platform: MinorVersion,
    /// The chart name of the platform release (not `airflow`, not `postgresql`).
    pub platform_chart: &'static str,
    /// Used when no platform release says where the platform lives.
    pub default_platform_namespace: &'static str,
    /// Where the manifest's namespaced objects must land (the ClusterRoleBinding names it).
    pub upgrade_namespace: &'static str,
    /// Kubernetes server versions the procedure accepts (outside: the check fails).
    pub kubernetes: Requirement,
    /// What later docs narrowed the range to; accepted but outside it is a warning.
    pub kubernetes_recommended: Requirement,
    /// Largest client/server minor difference kubectl supports.
    pub kubectl_max_skew: u32,
    pub checks: &'static [CheckSpec],
    pub permissions: &'static [RequiredPermission],
    /// The last path segment of an Astronomer Certified image repository, under any registry.
    pub certified_image_name: &'static str,
    /// Repositories the docs name, for messages.
    pub certified_repositories: &'static [&'static str],
    /// The Airflow versions the upgrade accepts (of a certified image's tag).
    pub airflow: Requirement,
    pub upgrader_image: &'static str,
    /// The upgrader image's repository name, to recognise it under a mirror registry.
    pub upgrader_image_name: &'static str,
    /// Hosts the upgrade reaches: charts, the certified-versions feed, image registries.
    pub egress: &'static [EgressHost],
    /// Above this many Airflow deployments the upgrader's default Commander timeout may be too
    /// short for step (5/6), which upgrades them all.
    pub airflow_deployments_per_default_timeout: usize,
    pub git_tag: &'static str,
    pub upgrade_manifest: ManifestSpec,
    pub rollback_manifest: ManifestSpec,
    /// The URL of the procedure page, which never existed (a doc bug).
    pub documented_broken_url: &'static str,
    /// The Secret in the platform namespace holding the database connection string.
    pub bootstrap_secret: &'static str,
    /// What the backup PVC requests; it needs a default StorageClass.
    pub backup_volume_size: &'static str,
    /// The command that upgrades the Astronomer CLI after the platform.
    pub cli_upgrade_command: &'static str,
}

pub const SERVICE_ACCOUNT: &str = "astronomer-upgrader-service-account";
pub const BACKUP_PVC: &str = "astronomer-upgrades-backup";
pub const UPGRADE_JOB: &str = "upgrade-astronomer";
pub const ROLLBACK_JOB: &str = "rollback-astronomer";
pub const CLUSTER_ROLE: &str = "astronomer-upgrader-cluster-role";
pub const CLUSTER_ROLE_BINDING: &str = "astronomer-upgrader-cluster-role-binding";

/// The manifest directory at tag v0.23.18 (the files exist on no branch any more).
macro_rules! manifest_dir_url {
    () => {
        "https://raw.githubusercontent.com/astronomer/astronomer/v0.23.18/bin/migration-scripts/lts-to-lts/0.16-to-0.23/manifests"
    };
}

/// The 0.16 → 0.23 LTS hop.
pub const LTS_0_16_TO_0_23: UpgradePath = UpgradePath {
    id: "astronomer-0.16-to-0.23",
    from_platform: MinorVersion {
        major: 0,
        minor: 16,
    },
    to_platform: MinorVersion {
        major: 0,
        minor: 23,
    },
    platform_chart: "astronomer",
    default_platform_namespace: "astronomer",
    upgrade_namespace: "default",
    // >=1.14, <1.19
    kubernetes: Requirement(&[
        compare(Op::GreaterEq, 1, 14, None),
        compare(Op::Less, 1, 19, None),
    ]),
    // >=1.16
    kubernetes_recommended: Requirement(&[compare(Op::GreaterEq, 1, 16, None)]),
    kubectl_max_skew: 1,
    checks: &[
        CheckSpec {
            id: "kubernetes-version",
            kind: CheckKind::Required,
            title: "Kubernetes server version",
        },
        CheckSpec {
            id: "kubectl-skew",
            kind: CheckKind::Advisory,
            title: "kubectl client/server skew",
        },
        CheckSpec {
            id: "platform-version",
            kind: CheckKind::Required,
            title: "Astronomer platform version",
        },
        CheckSpec {
            id: "helm-release-state",
            kind: CheckKind::Required,
            title: "Helm release state",
        },
        CheckSpec {
            id: "airflow-releases",
            kind: CheckKind::Required,
            title: "Airflow deployments' releases",
        },
        CheckSpec {
            id: "airflow-images",
            kind: CheckKind::Required,
            title: "Airflow images",
        },
        CheckSpec {
            id: "permissions",
            kind: CheckKind::Required,
            title: "Kubernetes permissions",
        },
        CheckSpec {
            id: "system-admin",
            kind: CheckKind::Required,
            title: "Astronomer System Admin",
        },
        CheckSpec {
            id: "database-backup",
            kind: CheckKind::Required,
            title: "Database backup",
        },
        CheckSpec {
            id: "pod-health",
            kind: CheckKind::Required,
            title: "Pod health",
        },
        CheckSpec {
            id: "context-namespace",
            kind: CheckKind::Advisory,
            title: "kubectl context namespace",
        },
        CheckSpec {
            id: "default-storageclass",
            kind: CheckKind::Required,
            title: "Default StorageClass",
        },
        CheckSpec {
            id: "database-connection",
            kind: CheckKind::Required,
            title: "Database connection string",
        },
        CheckSpec {
            id: "egress-or-mirror",
            kind: CheckKind::Required,
            title: "Egress or mirrors",
        },
        CheckSpec {
            id: "manifest-source",
            kind: CheckKind::Advisory,
            title: "Upgrade manifests",
        },
        CheckSpec {
            id: "rollback-readiness",
            kind: CheckKind::Advisory,
            title: "Rollback readiness",
        },
    ],
    permissions: &[
        RequiredPermission {
            verb: "create",
            resource: "pods",
            scope: PermissionScope::PlatformNamespace,
        },
        RequiredPermission {
            verb: "create",
            resource: "serviceaccounts",
            scope: PermissionScope::PlatformNamespace,
        },
        RequiredPermission {
            verb: "create",
            resource: "jobs",
            scope: PermissionScope::PlatformNamespace,
        },
        RequiredPermission {
            verb: "create",
            resource: "serviceaccounts",
            scope: PermissionScope::UpgradeNamespace,
        },
        RequiredPermission {
            verb: "create",
            resource: "persistentvolumeclaims",
            scope: PermissionScope::UpgradeNamespace,
        },
        RequiredPermission {
            verb: "create",
            resource: "jobs",
            scope: PermissionScope::UpgradeNamespace,
        },
        RequiredPermission {
            verb: "create",
            resource: "clusterroles",
            scope: PermissionScope::Cluster,
        },
        RequiredPermission {
            verb: "create",
            resource: "clusterrolebindings",
            scope: PermissionScope::Cluster,
        },
        // The manifest's ClusterRole grants `*` on `*`: RBAC's escalation prevention lets a
        // user create it only holding every right it grants (or with `escalate`), so `create
        // clusterroles` alone ends in "attempting to grant RBAC permissions not currently held".
        RequiredPermission {
            verb: "*",
            resource: "*",
            scope: PermissionScope::AllNamespaces,
        },
    ],
    certified_image_name: "ap-airflow",
    certified_repositories: &["quay.io/astronomer/ap-airflow", "astronomerinc/ap-airflow"],
    // >=1.10.5
    airflow: Requirement(&[compare(Op::GreaterEq, 1, 10, Some(5))]),
    upgrader_image: "quay.io/astronomer/lts-016-023-upgrade:latest",
    upgrader_image_name: "lts-016-023-upgrade",
    egress: &[
        EgressHost {
            host: "helm.astronomer.io",
            url: "https://helm.astronomer.io/index.yaml",
            needed_by: "the upgrader's `Add public helm repo` task (`helm repo add astronomer https://helm.astronomer.io`), before any change",
            after_point_of_no_return: false,
            registry: false,
            in_cluster_postgres_only: false,
        },
        EgressHost {
            host: "updates.astronomer.io",
            url: "https://updates.astronomer.io/astronomer-certified",
            needed_by: "step (4/6), the `airflow-update-check-first-run` Job from Houston's update-airflow-check CronJob, after the point of no return",
            after_point_of_no_return: true,
            registry: false,
            in_cluster_postgres_only: false,
        },
        EgressHost {
            host: "quay.io",
            url: "https://quay.io/v2/",
            needed_by: "the nodes pulling the upgrader image and the 0.23 platform images (quay.io/astronomer)",
            after_point_of_no_return: true,
            registry: true,
            in_cluster_postgres_only: false,
        },
        EgressHost {
            host: "docker.io",
            url: "https://registry-1.docker.io/v2/",
            needed_by: "the nodes pulling the in-cluster database's new image (bitnami/postgresql) during the platform upgrade",
            after_point_of_no_return: true,
            registry: true,
            in_cluster_postgres_only: true,
        },
    ],
    airflow_deployments_per_default_timeout: 10,
    git_tag: "v0.23.18",
    upgrade_manifest: ManifestSpec {
        file_name: "upgrade-0.16-to-0.23.yaml",
        url: concat!(manifest_dir_url!(), "/upgrade-0.16-to-0.23.yaml"),
        job_name: UPGRADE_JOB,
        objects: &[
            ManifestObjectSpec {
                kind: "ServiceAccount",
                name: SERVICE_ACCOUNT,
            },
            ManifestObjectSpec {
                kind: "PersistentVolumeClaim",
                name: BACKUP_PVC,
            },
            ManifestObjectSpec {
                kind: "Job",
                name: UPGRADE_JOB,
            },
            ManifestObjectSpec {
                kind: "ClusterRole",
                name: CLUSTER_ROLE,
            },
            ManifestObjectSpec {
                kind: "ClusterRoleBinding",
                name: CLUSTER_ROLE_BINDING,
            },
        ],
    },
    rollback_manifest: ManifestSpec {
        file_name: "rollback-0.16-to-0.23.yaml",
        url: concat!(manifest_dir_url!(), "/rollback-0.16-to-0.23.yaml"),
        job_name: ROLLBACK_JOB,
        objects: &[ManifestObjectSpec {
            kind: "Job",
            name: ROLLBACK_JOB,
        }],
    },
    documented_broken_url: "https://raw.githubusercontent.com/astronomer/astronomer/master/bin/migration-scripts/lts-to-lts/0.16-to-0.23/manifests/upgrade.yaml",
    bootstrap_secret: "astronomer-bootstrap",
    backup_volume_size: "20Gi",
    cli_upgrade_command: "curl -sSL https://install.astronomer.io | sudo bash -s -- v0.23.0",
};

impl UpgradePath {
    pub fn check(&self, id: &str) -> Option<&CheckSpec> {
        self.checks.iter().find(|c| c.id == id)
    }
}

impl MinorVersion {
    /// Every version of the line as a requirement: `0.16` → `=0.16` (≥ 0.16.0, < 0.17.0).
    pub fn requirement(self) -> VersionReq {
        VersionReq {
            comparators: vec![Comparator {
                op: Op::Exact,
                major: self.major,
                minor: Some(self.minor),
                patch: None,
                pre: Prerelease::EMPTY,
            }],
        }
    }

    /// Whether `version` is a release of this line (a pre-release is not: see
    /// [`crate::version::parse`]).
    pub fn matches(self, version: &Version) -> bool {
        self.requirement().matches(version)
    }
}

impl std::fmt::Display for MinorVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::parse;

    #[test]
    fn the_path_s_requirements_are_their_semver_text() {
        let path = LTS_0_16_TO_0_23;
        for (requirement, text) in [
            (path.kubernetes, ">=1.14, <1.19"),
            (path.kubernetes_recommended, ">=1.16"),
            (path.airflow, ">=1.10.5"),
        ] {
            assert_eq!(requirement.version_req(), VersionReq::parse(text).unwrap());
        }
        assert_eq!(
            path.from_platform.requirement(),
            VersionReq::parse("=0.16").unwrap()
        );
        assert_eq!(
            path.to_platform.requirement(),
            VersionReq::parse("=0.23").unwrap()
        );
        assert_eq!(path.kubernetes.to_string(), "1.14 ≤ version < 1.19");
        assert_eq!(path.airflow.to_string(), "≥ 1.10.5");
    }

    #[test]
    fn the_seed_s_ranges() {
        let path = LTS_0_16_TO_0_23;
        let v = |text: &str| parse(text).unwrap();
        assert!(path.kubernetes.matches(&v("1.14.0")));
        assert!(path.kubernetes.matches(&v("1.18.20-gke.901")));
        assert!(!path.kubernetes.matches(&v("1.19.0")));
        assert!(!path.kubernetes.matches(&v("1.13.12")));
        assert!(path.kubernetes_recommended.matches(&v("1.16")));
        assert!(!path.kubernetes_recommended.matches(&v("1.15.11-gke.3")));
        assert!(path.airflow.matches(&v("1.10.5")));
        assert!(!path.airflow.matches(&v("1.10.4")));
        assert!(path.airflow.matches(&v("2.0.0")));
        assert!(path.from_platform.matches(&v("0.16.15")));
        assert!(path.from_platform.matches(&v("v0.16")));
        assert!(!path.from_platform.matches(&v("0.160.1")));
        assert!(!path.from_platform.matches(&v("0.17.0")));
        assert!(path.to_platform.matches(&v("0.23.18")));
        assert_eq!(path.from_platform.to_string(), "0.16");
    }
}
