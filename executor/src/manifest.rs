//! The upgrade and rollback manifests: multi-document YAML read into objects the executor knows
//! how to apply, and checked against what the path's manifest must contain before anything is sent.

use kube::discovery::ApiResource;
use planner::path::ManifestSpec;
use serde::Deserialize as _;

pub const UPGRADE_NAMESPACE: &str = "default";

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
    #[error("the manifest is not valid YAML: {0}")]
    Yaml(String),
    #[error("document {document} of the manifest has no {field}")]
    MissingField {
        document: usize,
        field: &'static str,
    },
    #[error("document {document}: {kind} {api_version} is not an object this upgrade applies")]
    UnknownKind {
        document: usize,
        kind: String,
        api_version: String,
    },
    #[error("{object} names namespace {namespace:?}: the upgrade's objects must go to `default` (its ClusterRoleBinding grants the ServiceAccount in `default`)")]
    WrongNamespace { object: String, namespace: String },
    #[error("{0} binds a ServiceAccount outside `default`, where the upgrade's objects go")]
    BindingOutsideDefault(String),
    #[error("the manifest lacks {0} (is it {1}?)")]
    MissingObject(String, &'static str),
    #[error("the manifest contains {0}, which {1} does not")]
    UnexpectedObject(String, &'static str),
}

/// Reads every document of `text` and checks it against `spec` (the upgrade or rollback manifest).
pub fn read(text: &str, spec: &ManifestSpec) -> Result<Manifest, ManifestError> {
    let mut objects = Vec::new();
    let mut warnings = Vec::new();
    for (index, document) in serde_norway::Deserializer::from_str(text).enumerate() {
        let document_number = index + 1;
        let value = serde_json::Value::deserialize(document)
            .map_err(|err| ManifestError::Yaml(err.to_string()))?;
        if value.is_null() {
            continue;
        }
        let object = object_of(document_number, value)?;
        warnings.extend(image_warnings(&object));
        objects.push(object);
    }
    for required in spec.objects {
        if !objects
            .iter()
            .any(|o| o.kind() == required.kind && o.name == required.name)
        {
            return Err(ManifestError::MissingObject(
                format!("{}/{}", required.kind, required.name),
                spec.file_name,
            ));
        }
    }
    if let Some(extra) = objects.iter().find(|o| {
        !spec
            .objects
            .iter()
            .any(|r| r.kind == o.kind() && r.name == o.name)
    }) {
        return Err(ManifestError::UnexpectedObject(
            extra.label(),
            spec.file_name,
        ));
    }
    Ok(Manifest { objects, warnings })
}

fn object_of(
    document: usize,
    mut value: serde_json::Value,
) -> Result<ManifestObject, ManifestError> {
    let field = |value: &serde_json::Value, pointer: &str, name: &'static str| {
        value
            .pointer(pointer)
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .ok_or(ManifestError::MissingField {
                document,
                field: name,
            })
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
            document,
            kind,
            api_version,
        });
    };
    let label = format!("{kind}/{name}");
    if namespaced {
        if let Some(namespace) = value
            .pointer("/metadata/namespace")
            .and_then(|v| v.as_str())
        {
            if namespace != UPGRADE_NAMESPACE {
                return Err(ManifestError::WrongNamespace {
                    object: label,
                    namespace: namespace.to_string(),
                });
            }
        }
        value["metadata"]["namespace"] = UPGRADE_NAMESPACE.into();
    }
    if kind == "ClusterRoleBinding" || kind == "RoleBinding" {
        let subjects = value.get("subjects").and_then(|s| s.as_array());
        let outside = subjects.into_iter().flatten().any(|subject| {
            subject.get("kind").and_then(|k| k.as_str()) == Some("ServiceAccount")
                && subject.get("namespace").and_then(|n| n.as_str()) != Some(UPGRADE_NAMESPACE)
        });
        if outside {
            return Err(ManifestError::BindingOutsideDefault(label));
        }
    }
    let gvk = kube::api::GroupVersionKind::gvk(group, version, &kind);
    Ok(ManifestObject {
        resource: ApiResource::from_gvk_with_plural(&gvk, plural),
        namespaced,
        name,
        body: value,
    })
}

/// The pod template's containers of a Job (empty for other kinds).
pub fn job_containers(body: &serde_json::Value) -> Vec<&serde_json::Value> {
    body.pointer("/spec/template/spec/containers")
        .and_then(|c| c.as_array())
        .map(|c| c.iter().collect())
        .unwrap_or_default()
}

fn image_warnings(object: &ManifestObject) -> Vec<String> {
    job_containers(&object.body)
        .into_iter()
        .filter_map(|c| c.get("image").and_then(|i| i.as_str()))
        .filter(|image| {
            let last = image.rsplit('/').next().unwrap_or(image);
            !image.contains('@') && (!last.contains(':') || last.ends_with(":latest"))
        })
        .map(|image| {
            format!(
                "{} runs {image}: a mutable tag, so what runs may not be what was reviewed; pin a digest (…@sha256:…) if your registry mirror allows",
                object.label()
            )
        })
        .collect()
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

    #[test]
    fn another_namespace_is_refused() {
        let text = UPGRADE.replace(
            "name: upgrade-astronomer\n",
            "name: upgrade-astronomer\n  namespace: astronomer\n",
        );
        assert_eq!(
            read(&text, &LTS_0_16_TO_0_23.upgrade_manifest).unwrap_err(),
            ManifestError::WrongNamespace {
                object: "Job/upgrade-astronomer".into(),
                namespace: "astronomer".into()
            }
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
            matches!(err, ManifestError::MissingObject(ref o, _) if o == "Job/rollback-astronomer")
        );
        let binding_elsewhere = UPGRADE.replace("  namespace: default", "  namespace: astronomer");
        assert!(matches!(
            read(&binding_elsewhere, &LTS_0_16_TO_0_23.upgrade_manifest).unwrap_err(),
            ManifestError::BindingOutsideDefault(_)
        ));
        assert!(matches!(
            read("kind: [", &LTS_0_16_TO_0_23.upgrade_manifest).unwrap_err(),
            ManifestError::Yaml(_)
        ));
    }
}
