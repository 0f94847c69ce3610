//! A small reader of Kubernetes YAML manifests: which objects a file creates, where, with which images.
//!
//! Deliberately not a YAML parser (the planner ships to browsers; every KB counts). It reads the
//! block style `kubectl` users write and the upgrade manifests use: documents split by `---`,
//! top-level `kind:` and `metadata:` (with `name:`/`namespace:` one level in), and `image:` keys
//! at any depth. Flow style (`{...}`) and JSON manifests are not understood and yield no objects,
//! which the `manifest-source` check reports as unrecognised rather than guessing.

/// One object of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestObject {
    pub kind: String,
    pub name: String,
    /// `metadata.namespace` when the manifest sets one; None means the context's namespace.
    pub namespace: Option<String>,
    /// Every `image:` value in the object (containers, init containers).
    pub images: Vec<String>,
    /// 1-based line of the object's `kind:`.
    pub line: u32,
}

#[derive(Default)]
struct Draft {
    kind: Option<(String, u32)>,
    name: Option<String>,
    namespace: Option<String>,
    images: Vec<String>,
    /// Indentation of the keys directly under the top-level `metadata:` while inside it.
    metadata_child_indent: Option<Option<usize>>,
}

impl Draft {
    fn finish(self, objects: &mut Vec<ManifestObject>) {
        if let (Some((kind, line)), Some(name)) = (self.kind, self.name) {
            objects.push(ManifestObject {
                kind,
                name,
                namespace: self.namespace,
                images: self.images,
                line,
            });
        }
    }
}

/// Lists the objects of a manifest in file order. Documents without both `kind` and
/// `metadata.name` are skipped.
pub fn read_manifest(text: &str) -> Vec<ManifestObject> {
    let mut objects = Vec::new();
    let mut draft = Draft::default();
    for (index, raw) in text.lines().enumerate() {
        let line_no = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let line = strip_comment(raw.trim_end_matches('\r'));
        if line.starts_with("---") || line.starts_with("...") {
            std::mem::take(&mut draft).finish(&mut objects);
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let content = line.trim_start();
        if indent == 0 {
            draft.metadata_child_indent = None;
            if let Some(value) = key_value(content, "kind") {
                draft.kind = Some((value, line_no));
            } else if content.trim_end() == "metadata:" {
                draft.metadata_child_indent = Some(None);
            }
        } else if let Some(seen) = draft.metadata_child_indent {
            let child_indent = seen.unwrap_or(indent);
            draft.metadata_child_indent = Some(Some(child_indent));
            if child_indent == indent {
                if let Some(value) = key_value(content, "name") {
                    draft.name = Some(value);
                } else if let Some(value) = key_value(content, "namespace") {
                    draft.namespace = Some(value);
                }
            }
        }
        let item = content.strip_prefix("- ").unwrap_or(content).trim_start();
        if let Some(value) = key_value(item, "image") {
            draft.images.push(value);
        }
    }
    draft.finish(&mut objects);
    objects
}

/// `key: value` → the unquoted value; None for other keys or an empty value.
fn key_value(content: &str, key: &str) -> Option<String> {
    let rest = content.strip_prefix(key)?.strip_prefix(':')?;
    let value = rest.trim();
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
        .unwrap_or(value);
    (!value.is_empty()).then(|| value.to_string())
}

/// Drops a `#` comment that starts the line or follows whitespace (a `#` inside a value stays).
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && (i == 0 || bytes[i - 1] == b' ' || bytes[i - 1] == b'\t') {
            return &line[..i];
        }
    }
    line
}
