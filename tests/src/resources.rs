//! The resources kube-sim serves, as legacy discovery lists them.

/// One served resource (one entry of an APIResourceList).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource {
    pub group: &'static str,
    pub version: &'static str,
    /// Plural name, as in URLs.
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub verbs: &'static [&'static str],
    pub short_names: &'static [&'static str],
    /// Subresources listed in discovery (`log`, `status`).
    pub subresources: &'static [&'static str],
}

const CRUD: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// `(group, version)`, `(plural, singular, kind)`, then the rest of a [`Resource`].
const fn resource(
    (group, version): (&'static str, &'static str),
    (plural, singular, kind): (&'static str, &'static str, &'static str),
    namespaced: bool,
    short_names: &'static [&'static str],
    subresources: &'static [&'static str],
) -> Resource {
    Resource {
        group,
        version,
        plural,
        singular,
        kind,
        namespaced,
        verbs: CRUD,
        short_names,
        subresources,
    }
}

pub const RESOURCES: &[Resource] = &[
    resource(
        ("", "v1"),
        ("namespaces", "namespace", "Namespace"),
        false,
        &["ns"],
        &["status"],
    ),
    resource(
        ("", "v1"),
        ("nodes", "node", "Node"),
        false,
        &["no"],
        &["status"],
    ),
    resource(
        ("", "v1"),
        ("pods", "pod", "Pod"),
        true,
        &["po"],
        &["log", "status"],
    ),
    resource(
        ("", "v1"),
        ("serviceaccounts", "serviceaccount", "ServiceAccount"),
        true,
        &["sa"],
        &[],
    ),
    resource(
        ("", "v1"),
        (
            "persistentvolumeclaims",
            "persistentvolumeclaim",
            "PersistentVolumeClaim",
        ),
        true,
        &["pvc"],
        &["status"],
    ),
    resource(("", "v1"), ("secrets", "secret", "Secret"), true, &[], &[]),
    resource(
        ("", "v1"),
        ("configmaps", "configmap", "ConfigMap"),
        true,
        &["cm"],
        &[],
    ),
    resource(("", "v1"), ("events", "event", "Event"), true, &["ev"], &[]),
    resource(
        ("", "v1"),
        ("services", "service", "Service"),
        true,
        &["svc"],
        &["status"],
    ),
    resource(
        ("storage.k8s.io", "v1"),
        ("storageclasses", "storageclass", "StorageClass"),
        false,
        &["sc"],
        &[],
    ),
    resource(
        ("apps", "v1"),
        ("deployments", "deployment", "Deployment"),
        true,
        &["deploy"],
        &["scale", "status"],
    ),
    resource(
        ("apps", "v1"),
        ("daemonsets", "daemonset", "DaemonSet"),
        true,
        &["ds"],
        &["status"],
    ),
    resource(
        ("apps", "v1"),
        ("replicasets", "replicaset", "ReplicaSet"),
        true,
        &["rs"],
        &["scale", "status"],
    ),
    resource(
        ("apps", "v1"),
        ("statefulsets", "statefulset", "StatefulSet"),
        true,
        &["sts"],
        &["scale", "status"],
    ),
    resource(
        ("batch", "v1"),
        ("jobs", "job", "Job"),
        true,
        &[],
        &["status"],
    ),
    resource(
        ("batch", "v1beta1"),
        ("cronjobs", "cronjob", "CronJob"),
        true,
        &["cj"],
        &["status"],
    ),
    resource(
        ("rbac.authorization.k8s.io", "v1"),
        ("clusterroles", "clusterrole", "ClusterRole"),
        false,
        &[],
        &[],
    ),
    resource(
        ("rbac.authorization.k8s.io", "v1"),
        (
            "clusterrolebindings",
            "clusterrolebinding",
            "ClusterRoleBinding",
        ),
        false,
        &[],
        &[],
    ),
    resource(
        ("networking.k8s.io", "v1"),
        ("networkpolicies", "networkpolicy", "NetworkPolicy"),
        true,
        &["netpol"],
        &[],
    ),
    Resource {
        group: "authorization.k8s.io",
        version: "v1",
        plural: "selfsubjectaccessreviews",
        singular: "selfsubjectaccessreview",
        kind: "SelfSubjectAccessReview",
        namespaced: false,
        verbs: &["create"],
        short_names: &[],
        subresources: &[],
    },
];

impl Resource {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `group/version/plural`, the store's key for the resource.
    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.group, self.version, self.plural)
    }

    pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static Resource> {
        RESOURCES
            .iter()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
    }

    pub fn by_kind(api_version: &str, kind: &str) -> Option<&'static Resource> {
        RESOURCES
            .iter()
            .find(|r| r.kind == kind && r.api_version() == api_version)
    }

    pub fn stored(&self) -> bool {
        self.plural != "selfsubjectaccessreviews"
    }
}

/// Groups and their versions in discovery order.
pub fn groups() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut groups: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for r in RESOURCES.iter().filter(|r| !r.group.is_empty()) {
        match groups.iter_mut().find(|(g, _)| *g == r.group) {
            Some((_, versions)) if !versions.contains(&r.version) => versions.push(r.version),
            Some(_) => {}
            None => groups.push((r.group, vec![r.version])),
        }
    }
    groups
}
