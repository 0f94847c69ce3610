//! [`Facts`] from an already parsed JSON value, by hand.
//!
//! serde's derived `Deserialize` would do the same, but it instantiates serde_json's parser
//! once per field type, which costs the page about 22 KB of gzipped wasm; the readers parse
//! JSON into a [`Value`] anyway. This reader accepts exactly what `serde_json::to_string(&facts)`
//! writes and follows the serde attributes in `facts.rs`: a missing `Option` is `None`, a missing
//! `#[serde(default)]` field is its default, `null` is only an `Option`'s `None`, unknown keys
//! are ignored, `#[serde(flatten)] at` reads `source` and `line` from the same object, and enums
//! are their kebab-case or lowercase names. A duplicate key is the one place it differs: serde
//! rejects it, a [`Value`] keeps the last, as JavaScript does.

use std::fmt;

use serde_json::{Map, Value};

use crate::facts::{
    At, Certified, CertifiedForm, ConnectionError, Context, DatabaseConnection, Diagnostic, Facts,
    HelmGeneration, HelmRelease, HelmRevision, Image, KubernetesFacts, Permission, Pod, Severity,
    StorageClass, UpgradeResources,
};

/// Where a value could not be read, and why.
#[derive(Debug)]
pub struct Unreadable {
    /// Innermost segment first: the path is built as the error travels outwards.
    path: Vec<Segment>,
    problem: Problem,
}

#[derive(Debug)]
enum Segment {
    Key(&'static str),
    Index(usize),
}

#[derive(Debug)]
enum Problem {
    Missing,
    Expected {
        expected: &'static str,
        found: &'static str,
    },
}

impl Unreadable {
    fn new(expected: &'static str, found: &Value) -> Self {
        let found = match found {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        };
        Unreadable {
            path: Vec::new(),
            problem: Problem::Expected { expected, found },
        }
    }

    fn missing(key: &'static str) -> Self {
        Unreadable {
            path: vec![Segment::Key(key)],
            problem: Problem::Missing,
        }
    }

    fn within(mut self, segment: Segment) -> Self {
        self.path.push(segment);
        self
    }
}

/// `facts.pods[3].ready: expected a string, found a number`.
impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str("the bundle")?;
        }
        for (i, segment) in self.path.iter().rev().enumerate() {
            match segment {
                Segment::Key(key) if i == 0 => f.write_str(key)?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        match self.problem {
            Problem::Missing => f.write_str(": missing"),
            Problem::Expected { expected, found } => {
                write!(f, ": expected {expected}, found {found}")
            }
        }
    }
}

type Read<T> = fn(&Value) -> Result<T, Unreadable>;

/// The keys of one JSON object.
struct Fields<'a>(&'a Map<String, Value>);

impl<'a> Fields<'a> {
    fn of(value: &'a Value) -> Result<Self, Unreadable> {
        value
            .as_object()
            .map(Fields)
            .ok_or_else(|| Unreadable::new("an object", value))
    }

    /// A field without `#[serde(default)]` that is not an `Option`.
    fn required<T>(&self, key: &'static str, read: Read<T>) -> Result<T, Unreadable> {
        let value = self.0.get(key).ok_or_else(|| Unreadable::missing(key))?;
        read(value).map_err(|e| e.within(Segment::Key(key)))
    }

    /// An `Option` field: missing and `null` are both `None`.
    fn optional<T>(&self, key: &'static str, read: Read<T>) -> Result<Option<T>, Unreadable> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => read(value)
                .map(Some)
                .map_err(|e| e.within(Segment::Key(key))),
        }
    }

    /// A `#[serde(default)]` field that is not an `Option`: missing is the default, `null` is not.
    fn defaulted<T: Default>(&self, key: &'static str, read: Read<T>) -> Result<T, Unreadable> {
        match self.0.get(key) {
            None => Ok(T::default()),
            Some(value) => read(value).map_err(|e| e.within(Segment::Key(key))),
        }
    }

    /// The `#[serde(flatten)] at` of a fact: its `source` and `line` sit beside the other keys.
    fn at(&self) -> Result<At, Unreadable> {
        Ok(At {
            source: self.required("source", string)?,
            line: self.optional("line", number)?,
        })
    }
}

fn list<T>(value: &Value, read: Read<T>) -> Result<Vec<T>, Unreadable> {
    let items = value
        .as_array()
        .ok_or_else(|| Unreadable::new("an array", value))?;
    items
        .iter()
        .enumerate()
        .map(|(index, item)| read(item).map_err(|e| e.within(Segment::Index(index))))
        .collect()
}

fn string(value: &Value) -> Result<String, Unreadable> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Unreadable::new("a string", value))
}

fn boolean(value: &Value) -> Result<bool, Unreadable> {
    value
        .as_bool()
        .ok_or_else(|| Unreadable::new("true or false", value))
}

fn number(value: &Value) -> Result<u32, Unreadable> {
    value
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| Unreadable::new("a whole number from 0 to 4294967295", value))
}

/// One of `names` (a unit enum's serialized names), as its variant.
fn one_of<T: Copy>(
    value: &Value,
    expected: &'static str,
    names: &[(&str, T)],
) -> Result<T, Unreadable> {
    value
        .as_str()
        .and_then(|s| names.iter().find(|(name, _)| *name == s))
        .map(|&(_, variant)| variant)
        .ok_or_else(|| Unreadable::new(expected, value))
}

/// The bundle's format number (`astro_upgrade_bundle`) and its facts.
pub fn bundle(value: &Value) -> Result<(u32, Facts), Unreadable> {
    let fields = Fields::of(value)?;
    Ok((
        fields.required("astro_upgrade_bundle", number)?,
        fields.required("facts", facts)?,
    ))
}

fn facts(value: &Value) -> Result<Facts, Unreadable> {
    let fields = Fields::of(value)?;
    Ok(Facts {
        kubernetes: fields.required("kubernetes", kubernetes)?,
        pods: fields.defaulted("pods", |v| list(v, pod))?,
        pods_listed: fields.defaulted("pods_listed", boolean)?,
        permissions: fields.defaulted("permissions", |v| list(v, permission))?,
        images: fields.defaulted("images", |v| list(v, image))?,
        helm_releases: fields.defaulted("helm_releases", |v| list(v, helm_release))?,
        helm_history: fields.defaulted("helm_history", |v| list(v, helm_revision))?,
        storage_classes: fields.defaulted("storage_classes", |v| list(v, storage_class))?,
        contexts: fields.defaulted("contexts", |v| list(v, context))?,
        database_connection: fields.optional("database_connection", database_connection)?,
        upgrade_resources: fields.optional("upgrade_resources", upgrade_resources)?,
        diagnostics: fields.defaulted("diagnostics", |v| list(v, diagnostic))?,
    })
}

fn kubernetes(value: &Value) -> Result<KubernetesFacts, Unreadable> {
    let fields = Fields::of(value)?;
    Ok(KubernetesFacts {
        client_version: fields.optional("client_version", string)?,
        server_version: fields.optional("server_version", string)?,
        error: fields.optional("error", connection_error)?,
        client_at: fields.optional("client_at", at)?,
        server_at: fields.optional("server_at", at)?,
        error_at: fields.optional("error_at", at)?,
    })
}

fn at(value: &Value) -> Result<At, Unreadable> {
    Fields::of(value)?.at()
}

fn connection_error(value: &Value) -> Result<ConnectionError, Unreadable> {
    one_of(
        value,
        "connection-refused, unable-to-connect, unauthorized or other",
        &[
            ("connection-refused", ConnectionError::ConnectionRefused),
            ("unable-to-connect", ConnectionError::UnableToConnect),
            ("unauthorized", ConnectionError::Unauthorized),
            ("other", ConnectionError::Other),
        ],
    )
}

fn pod(value: &Value) -> Result<Pod, Unreadable> {
    let fields = Fields::of(value)?;
    Ok(Pod {
        namespace: fields.optional("namespace", string)?,
        name: fields.required("name", string)?,
        ready: fields.optional("ready", string)?,
        status: fields.required("status", string)?,
        restarts: fields.optional("restarts", number)?,
        healthy: fields.required("healthy", boolean)?,
        at: fields.at()?,
    })
}

fn permission(value: &Value) -> Result<Permission, Unreadable> {
    let fields = Fields::of(value)?;
    Ok(Permission {
        verb: fields.required("verb", string)?,
        resource: fields.required("resource", string)?,
        namespace: fields.optional("namespace", string)?,
        allowed: fields.required("allowed", boolean)?,
        all_namespaces: fields.defaulted("all_namespaces", boolean)?,
        as_user: fields.optional("as_user", string)?,
        at: fields.at()?,
    })
}

fn image(value: &Value) -> Result<Image, Unreadable> {
    let fields = Fields::of(value)?;
    Ok(Image {
        reference: fields.required("reference", string)?,
        registry: fields.optional("registry", string)?,
        repository: fields.required("repository", string)?,
        tag: fields.optional("tag", string)?,
        digest: fields.optional("digest", string)?,
        certified: fields.optional("certified", certified)?,
        at: fields.at()?,
    })
}

fn certified(value: &Value) -> Result<Certified, Unreadable> {
    let fields = Fields::of(value)?;
    Ok(Certified {
        airflow_version: fields.required("airflow_version", string)?,
        build_number: fields.optional("build_number", number)?,
        distribution: fields.optional("distribution", string)?,
        onbuild: fields.required("onbuild", boolean)?,
        form: fields.required("form", |v| {
            one_of(
                v,
                "pinned, floating or legacy",
                &[
                    ("pinned", CertifiedForm::Pinned),
                    ("floating", CertifiedForm::Floating),
                    ("legacy", CertifiedForm::Legacy),
                ],
            )
        })?,
    })
}

fn helm_release(value: &Value) -> Result<HelmRelease, Unreadable> {
    let fields = Fields::of(value)?;
    Ok(HelmRelease {
        name: fields.required("name", string)?,
        namespace: fields.optional("namespace", string)?,
        revision: fields.optional("revision", number)?,
        status: fields.optional("status", string)?,
        chart: fields.required("chart", string)?,
        chart_version: fields.optional("chart_version", string)?,
        app_version: fields.optional("app_version", string)?,
        helm: fields.optional("helm", |v| {
            one_of(
                v,
                "helm2 or helm3",
                &[
                    ("helm2", HelmGeneration::Helm2),
                    ("helm3", HelmGeneration::Helm3),
                ],
            )
        })?,
        at: fields.at()?,
    })
}

fn helm_revision(value: &Value) -> Result<HelmRevision, Unreadable> {
    let fields = Fields::of(value)?;
    Ok(HelmRevision {
        release: fields.optional("release", string)?,
        revision: fields.required("revision", number)?,
        status: fields.required("status", string)?,
        chart: fields.required("chart", string)?,
        chart_version: fields.optional("chart_version", string)?,
        app_version: fields.optional("app_version", string)?,
        description: fields.optional("description", string)?,
        at: fields.at()?,
    })
}

fn storage_class(value: &Value) -> Result<StorageClass, Unreadable> {
    let fields = Fields::of(value)?;
    Ok(StorageClass {
        name: fields.required("name", string)?,
        default: fields.required("default", boolean)?,
        provisioner: fields.optional("provisioner", string)?,
        at: fields.at()?,
    })
}

fn context(value: &Value) -> Result<Context, Unreadable> {
    let fields = Fields::of(value)?;
    Ok(Context {
        name: fields.required("name", string)?,
        namespace: fields.optional("namespace", string)?,
        current: fields.required("current", boolean)?,
        at: fields.at()?,
    })
}

fn database_connection(value: &Value) -> Result<DatabaseConnection, Unreadable> {
    let fields = Fields::of(value)?;
    Ok(DatabaseConnection {
        scheme: fields.required("scheme", string)?,
        host: fields.required("host", string)?,
        has_port: fields.required("has_port", boolean)?,
        at: fields.at()?,
    })
}

fn upgrade_resources(value: &Value) -> Result<UpgradeResources, Unreadable> {
    let fields = Fields::of(value)?;
    Ok(UpgradeResources {
        service_account: fields.required("service_account", boolean)?,
        backup_pvc: fields.required("backup_pvc", boolean)?,
        upgrade_job: fields.optional("upgrade_job", string)?,
    })
}

fn diagnostic(value: &Value) -> Result<Diagnostic, Unreadable> {
    let fields = Fields::of(value)?;
    Ok(Diagnostic {
        source: fields.required("source", string)?,
        line: fields.optional("line", number)?,
        severity: fields.required("severity", |v| {
            one_of(
                v,
                "error, warning or info",
                &[
                    ("error", Severity::Error),
                    ("warning", Severity::Warning),
                    ("info", Severity::Info),
                ],
            )
        })?,
        message: fields.required("message", string)?,
    })
}
