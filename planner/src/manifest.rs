//! The upgrade and rollback manifests: which objects a file creates, where, with which images, and
//! the one set of rules they must meet. `check --manifest`, the page and `apply` all judge a
//! manifest here, so a manifest the review accepts is the manifest `apply` sends, and one it
//! refuses is refused by both.
//!
//! Documents are read with `serde_norway` (YAML, of which JSON is a part). The executor sends
//! the very values read here ([`documents`]), so what the review saw is what is applied; a
//! document that cannot be read refuses the whole manifest, naming its line.

use serde_json::Value;

use crate::input::yaml;
use crate::path::{ManifestSpec, UpgradePath};

/// One object of a manifest, with what the rules look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestObject {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    /// `metadata.namespace` when the manifest sets one; None means the context's namespace.
    pub namespace: Option<String>,
    /// Every `image:` value in the object (containers, init containers).
    pub images: Vec<String>,
    /// Namespaces of the ServiceAccount subjects of a (Cluster)RoleBinding (`None`: not set).
    pub service_account_subjects: Vec<Option<String>>,
    /// 1-based line of the object's `kind:` (or of its document).
    pub line: u32,
}

impl ManifestObject {
    /// `Job/upgrade-astronomer`, as messages name it.
    pub fn label(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }

    /// The object a parsed document describes; `None` without `kind` and `metadata.name`.
    pub fn from_value(value: &Value, line: u32) -> Option<ManifestObject> {
        let text = |pointer: &str| {
            value
                .pointer(pointer)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let mut images = Vec::new();
        collect_images(value, &mut images, 0);
        let service_account_subjects = value
            .get("subjects")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|s| s.get("kind").and_then(Value::as_str) == Some("ServiceAccount"))
            .map(|s| {
                s.get("namespace")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect();
        Some(ManifestObject {
            api_version: text("/apiVersion").unwrap_or_default(),
            kind: text("/kind")?,
            name: text("/metadata/name")?,
            namespace: text("/metadata/namespace"),
            images,
            service_account_subjects,
            line,
        })
    }
}

fn collect_images(value: &Value, images: &mut Vec<String>, depth: usize) {
    if depth > 32 {
        return;
    }
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("image", Value::String(image)) => images.push(image.clone()),
                    _ => collect_images(child, images, depth + 1),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                collect_images(item, images, depth + 1);
            }
        }
        _ => {}
    }
}

/// Lists the objects of a manifest in file order. Documents without both `kind` and
/// `metadata.name` are skipped; a `kind: List` contributes its items. A document that cannot be
/// read is the error: a manifest read in part cannot be reviewed.
pub fn read_manifest(text: &str) -> Result<Vec<ManifestObject>, ManifestIssue> {
    let mut objects = Vec::new();
    for (value, line) in documents(text)? {
        let items = match value.get("items").and_then(Value::as_array) {
            Some(items) if value.get("kind").and_then(Value::as_str) == Some("List") => {
                items.iter().collect()
            }
            _ => vec![&value],
        };
        objects.extend(
            items
                .into_iter()
                .filter_map(|item| ManifestObject::from_value(item, line)),
        );
    }
    Ok(objects)
}

/// The documents of a manifest as values, in file order, each with the line of its top-level
/// `kind:` (or of its start); documents holding no value (empty, only comments) are left out.
/// The first document that cannot be read is the error, as a refusal naming its line.
pub fn documents(text: &str) -> Result<Vec<(Value, u32)>, ManifestIssue> {
    let mut values = Vec::new();
    for (document, first_line) in yaml::split_documents(text) {
        // Numbered as a reader counts them: documents that hold something.
        let number = values.len() + 1;
        let value = yaml::parse(document, first_line)
            .map_err(|error| unreadable(number, error.line, error.message))?;
        if value.is_null() {
            continue;
        }
        let line = kind_line(document).map_or(first_line, |offset| first_line + offset);
        values.push((value, line));
    }
    Ok(values)
}

fn unreadable(number: usize, line: u32, what: String) -> ManifestIssue {
    ManifestIssue {
        severity: Severity::Refuse,
        object: None,
        line: Some(line),
        message: format!("document {number} of the manifest is not valid YAML: {what}"),
    }
}

/// Lines after the document's first line where its top-level `kind:` is.
fn kind_line(document: &str) -> Option<u32> {
    document
        .lines()
        .position(|line| line.starts_with("kind:") || line.trim_start().starts_with("\"kind\""))
        .and_then(|index| u32::try_from(index).ok())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The manifest must not be applied.
    Refuse,
    /// Applied, with a warning.
    Warn,
}

/// One thing wrong with a manifest, about one object or the whole file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestIssue {
    pub severity: Severity,
    /// `Kind/name`, or None for the file as a whole.
    pub object: Option<String>,
    pub line: Option<u32>,
    pub message: String,
}

/// Which of the path's manifests `objects` is: the spec whose Job it contains.
pub fn recognise<'p>(objects: &[ManifestObject], path: &'p UpgradePath) -> Vec<&'p ManifestSpec> {
    [&path.upgrade_manifest, &path.rollback_manifest]
        .into_iter()
        .filter(|spec| {
            objects
                .iter()
                .any(|o| o.kind == "Job" && o.name == spec.job_name)
        })
        .collect()
}

/// Everything wrong with `objects` as the manifest `spec` of `path`: objects missing or extra,
/// a namespace other than the upgrade's, a binding of a ServiceAccount elsewhere, an image that
/// is not the upgrader's (refusals), and the mutable `:latest` tag (a warning).
pub fn issues(
    objects: &[ManifestObject],
    spec: &ManifestSpec,
    path: &UpgradePath,
) -> Vec<ManifestIssue> {
    let mut issues = Vec::new();
    let missing: Vec<String> = spec
        .objects
        .iter()
        .filter(|want| {
            !objects
                .iter()
                .any(|o| o.kind == want.kind && o.name == want.name)
        })
        .map(|want| format!("{} `{}`", want.kind, want.name))
        .collect();
    if !missing.is_empty() {
        issues.push(ManifestIssue {
            severity: Severity::Refuse,
            object: None,
            line: None,
            message: format!("missing {} (is it {}?)", missing.join(", "), spec.file_name),
        });
    }
    for object in objects {
        let issue = |severity, message: String| ManifestIssue {
            severity,
            object: Some(object.label()),
            line: Some(object.line),
            message,
        };
        if !spec
            .objects
            .iter()
            .any(|want| want.kind == object.kind && want.name == object.name)
        {
            issues.push(issue(
                Severity::Refuse,
                format!("is not an object of {}", spec.file_name),
            ));
        }
        let target = path.upgrade_namespace;
        if let Some(ns) = object.namespace.as_deref().filter(|ns| *ns != target) {
            issues.push(issue(
                Severity::Refuse,
                format!("sets `namespace: {ns}`; the upgrade's objects must be in `{target}` (its binding names `{target}`)"),
            ));
        }
        if object
            .service_account_subjects
            .iter()
            .any(|ns| ns.as_deref() != Some(target))
        {
            issues.push(issue(
                Severity::Refuse,
                format!(
                    "binds a ServiceAccount outside `{target}`, where the upgrade's objects go"
                ),
            ));
        }
        for image in &object.images {
            let (repository, tag, digest) = split_image(image);
            let name = repository.rsplit('/').next().unwrap_or(repository);
            if name != path.upgrader_image_name {
                issues.push(issue(
                    Severity::Refuse,
                    format!(
                        "runs image `{image}`, not `{}` (or its mirror)",
                        path.upgrader_image
                    ),
                ));
            } else if digest.is_none() && tag.is_none_or(|t| t == "latest") {
                issues.push(issue(
                    Severity::Warn,
                    format!("runs `{image}`, the mutable `:latest`: what runs may differ from what was reviewed; pin a digest (…@sha256:…) if your mirror allows"),
                ));
            }
        }
    }
    issues
}

/// `registry/path:tag@sha256:…` → (`registry/path`, tag, digest).
pub fn split_image(image: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, digest) = match image.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (image, None),
    };
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[last_slash..].rfind(':') {
        Some(colon) => (
            &rest[..last_slash + colon],
            Some(&rest[last_slash + colon + 1..]),
            digest,
        ),
        None => (rest, None, digest),
    }
}
