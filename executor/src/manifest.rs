//! The upgrade and rollback manifests: multi-document YAML read into objects the executor knows
//! how to apply, and checked against what the path's manifest must contain before anything is sent.

use kube::discovery::ApiResource;
use planner::path::ManifestSpec;

/// Where the manifests' namespaced objects go: the path's, named once in `planner::path`.
pub const UPGRADE_NAMESPACE: &str = planner::path::LTS_0_16_TO_0_23.upgrade_namespace;

/// The kinds the 0.16 → 0.23 manifests use, with what the API needs to address them.
const KNOWN_KINDS: &[(&str, &str, &str, &str, bool)] = &[
    // (group, version, kind, plural, namespaced)
    ("", "v1", "ServiceAccount", "serviceaccounts", true),
    (
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        true,
    ),
    ("", "v1", "ConfigMap", "configmaps", true),
    ("batch", "v1", "Job", "jobs", true),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        false,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
    ),
    ("rbac.authorization.k8s.io", "v1", "Role", "roles", true),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        true,
    ),
];

#[derive(Debug, Clone)]
pub struct ManifestObject {
    pub resource: ApiResource,
    pub namespaced: bool,
    pub name: String,
    /// The object as written, with `metadata.namespace` set to `default` for namespaced kinds.
    pub body: serde_json::Value,
}

impl ManifestObject {
    pub fn kind(&self) -> &str {
        &self.resource.kind
    }

    /// `Job/upgrade-astronomer`, as messages name it.
    pub fn label(&self) -> String {
        format!("{}/{}", self.resource.kind, self.name)
    }

    pub fn namespace(&self) -> Option<&str> {
        self.namespaced.then_some(UPGRADE_NAMESPACE)
    }
}

#[derive(Debug, Clone)]
pub struct Manifest {
    pub objects: Vec<ManifestObject>,
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ManifestError {
    /// A document that is not YAML: the planner's refusal, naming the document and line.
    #[error("{0}")]
    Unreadable(String),
    #[error("the object at line {line} of the manifest has no {field}")]
    MissingField { line: u32, field: &'static str },
    #[error("line {line}: {kind} {api_version} is not an object this upgrade applies")]
    UnknownKind {
        line: u32,
        kind: String,
        api_version: String,
    },
    /// What the planner's manifest rules refuse (the same rules `check --manifest` applies).
    #[error("{}", .0.join("; "))]
    Refused(Vec<String>),
}

/// Reads every document of `text` as the planner reads it for the review (`check --manifest`,
/// the page), and checks it with the planner's manifest rules against `spec` (the upgrade or
/// rollback manifest). The bodies sent are the very values the review judged.
pub fn read(text: &str, spec: &ManifestSpec) -> Result<Manifest, ManifestError> {
    let path = &planner::path::LTS_0_16_TO_0_23;
    let documents = planner::manifest::documents(text)
        .map_err(|unreadable| ManifestError::Unreadable(unreadable.message))?;
    let mut objects = Vec::new();
    let mut reviewed = Vec::new();
    for (value, line) in documents {
        reviewed.extend(planner::manifest::ManifestObject::from_value(&value, line));
        objects.push(object_of(line, value)?);
    }
    let mut refused = Vec::new();
    let mut warnings = Vec::new();
    for issue in planner::manifest::issues(&reviewed, spec, path) {
        let text = match &issue.object {
            Some(object) => format!("{object} {}", issue.message),
            None => issue.message,
        };
        match issue.severity {
            planner::manifest::Severity::Refuse => refused.push(text),
            planner::manifest::Severity::Warn => warnings.push(text),
        }
    }
    if !refused.is_empty() {
        return Err(ManifestError::Refused(refused));
    }
    Ok(Manifest { objects, warnings })
}

/// The object as the API addresses it; the namespace rules are the planner's, so a namespaced
/// object only gets its (absent) namespace filled in here.
fn object_of(line: u32, mut value: serde_json::Value) -> Result<ManifestObject, ManifestError> {
    let field = |value: &serde_json::Value, pointer: &str, name: &'static str| {
        value
            .pointer(pointer)
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .ok_or(ManifestError::MissingField { line, field: name })
    };
    let api_version = field(&value, "/apiVersion", "apiVersion")?;
    let kind = field(&value, "/kind", "kind")?;
    let name = field(&value, "/metadata/name", "metadata.name")?;
    let (group, version) = match api_version.split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version.as_str()),
    };
    let Some(&(_, _, _, plural, namespaced)) = KNOWN_KINDS
        .iter()
        .find(|(g, v, k, _, _)| *g == group && *v == version && *k == kind)
    else {
        return Err(ManifestError::UnknownKind {
            line,
            kind,
            api_version,
        });
    };
    if namespaced && value.pointer("/metadata/namespace").is_none() {
        value["metadata"]["namespace"] = UPGRADE_NAMESPACE.into();
    }
    let gvk = kube::api::GroupVersionKind::gvk(group, version, &kind);
    Ok(ManifestObject {
        resource: ApiResource::from_gvk_with_plural(&gvk, plural),
        namespaced,
        name,
        body: value,
    })
}

#[cfg(test)]
mod tests {
    use planner::path::LTS_0_16_TO_0_23;

    use super::*;

    const UPGRADE: &str = r#"
apiVersion: v1
kind: ServiceAccount
metadata:
  name: astronomer-upgrader-service-account
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: astronomer-upgrades-backup
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 20Gi}}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: upgrade-astronomer
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      serviceAccountName: astronomer-upgrader-service-account
      containers:
      - name: upgrade
        image: quay.io/astronomer/lts-016-023-upgrade:latest
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: astronomer-upgrader-cluster-role
rules:
- apiGroups: ["*"]
  resources: ["*"]
  verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: astronomer-upgrader-cluster-role-binding
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: astronomer-upgrader-cluster-role}
subjects:
- kind: ServiceAccount
  name: astronomer-upgrader-service-account
  namespace: default
"#;

    #[test]
    fn the_upgrade_manifest_reads_into_five_objects_in_default() {
        let manifest = read(UPGRADE, &LTS_0_16_TO_0_23.upgrade_manifest).unwrap();
        let labels: Vec<_> = manifest.objects.iter().map(ManifestObject::label).collect();
        assert_eq!(
            labels,
            [
                "ServiceAccount/astronomer-upgrader-service-account",
                "PersistentVolumeClaim/astronomer-upgrades-backup",
                "Job/upgrade-astronomer",
                "ClusterRole/astronomer-upgrader-cluster-role",
                "ClusterRoleBinding/astronomer-upgrader-cluster-role-binding",
            ]
        );
        assert_eq!(manifest.objects[2].body["metadata"]["namespace"], "default");
        assert_eq!(manifest.objects[3].body["metadata"].get("namespace"), None);
        assert_eq!(manifest.objects[2].resource.plural, "jobs");
        assert_eq!(manifest.warnings.len(), 1);
        assert!(manifest.warnings[0].contains(":latest"));
    }

    /// `apply` sends what `check --manifest` and the page reviewed: the same objects, read by
    /// the same reader, whatever YAML style the file uses.
    #[test]
    fn apply_reads_the_manifest_as_the_review_does() {
        // A multi-line flow mapping, which the review's reader once could not read.
        let flow = UPGRADE.replace(
            "metadata:\n  name: upgrade-astronomer\n",
            "metadata: {\n  name: upgrade-astronomer}\n",
        );
        for text in [UPGRADE, flow.as_str()] {
            let manifest = read(text, &LTS_0_16_TO_0_23.upgrade_manifest).unwrap();
            let review = planner::manifest::read_manifest(text).unwrap();
            let applied: Vec<_> = manifest.objects.iter().map(ManifestObject::label).collect();
            let reviewed: Vec<_> = review
                .iter()
                .map(planner::manifest::ManifestObject::label)
                .collect();
            assert_eq!(applied, reviewed);
            for (object, reviewed) in manifest.objects.iter().zip(&review) {
                let planner::manifest::ManifestObject {
                    namespace, images, ..
                } = planner::manifest::ManifestObject::from_value(&object.body, reviewed.line)
                    .unwrap();
                assert_eq!(images, reviewed.images, "{}", object.label());
                // The only change made to a body: a namespaced object's namespace filled in.
                match reviewed.namespace {
                    Some(_) => assert_eq!(namespace, reviewed.namespace),
                    None => assert_eq!(namespace.as_deref(), object.namespace()),
                }
            }
        }
    }

    #[test]
    fn another_namespace_is_refused() {
        let text = UPGRADE.replace(
            "name: upgrade-astronomer\n",
            "name: upgrade-astronomer\n  namespace: astronomer\n",
        );
        let err = read(&text, &LTS_0_16_TO_0_23.upgrade_manifest).unwrap_err();
        assert!(
            err.to_string()
                .contains("Job/upgrade-astronomer sets `namespace: astronomer`"),
            "{err}"
        );
    }

    #[test]
    fn missing_and_foreign_objects_are_refused() {
        let without_job = UPGRADE.replace("kind: Job", "kind: CronJob");
        assert!(matches!(
            read(&without_job, &LTS_0_16_TO_0_23.upgrade_manifest).unwrap_err(),
            ManifestError::UnknownKind { .. }
        ));
        let err = read(UPGRADE, &LTS_0_16_TO_0_23.rollback_manifest).unwrap_err();
        assert!(
            err.to_string()
                .contains("missing Job `rollback-astronomer`"),
            "{err}"
        );
        let binding_elsewhere = UPGRADE.replace("  namespace: default", "  namespace: astronomer");
        let err = read(&binding_elsewhere, &LTS_0_16_TO_0_23.upgrade_manifest).unwrap_err();
        assert!(
            err.to_string()
                .contains("binds a ServiceAccount outside `default`"),
            "{err}"
        );
        let err = read(
            "kind: Job\nmetadata: [\n",
            &LTS_0_16_TO_0_23.upgrade_manifest,
        )
        .unwrap_err();
        assert!(matches!(err, ManifestError::Unreadable(_)), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("document 1 of the manifest is not valid YAML: "),
            "{err}"
        );
    }
}
