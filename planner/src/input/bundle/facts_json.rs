//! [`Facts`] from an already parsed JSON value, by hand.
//!
//! serde's derived `Deserialize` would do the same, but it instantiates serde_json's parser
//! once per field type, which costs the page about 20 KB of gzipped wasm; the readers parse
//! JSON into a [`Value`] anyway. This reader accepts exactly what `serde_json::to_string(&facts)`
//! writes and follows the serde attributes in `facts.rs`: a missing `Option` is `None`, a missing
//! `#[serde(default)]` field is its default, `null` is only an `Option`'s `None`, unknown keys
//! are ignored, `#[serde(flatten)] at` reads `source` and `line` from the same object, and enums
//! are their kebab-case or lowercase names. A duplicate key is the one place it differs: serde
//! rejects it, a [`Value`] keeps the last, as JavaScript does.
//!
//! The reader does not return early: it records the first unreadable value and fills a stand-in
//! for it, because a `?` after every field makes the compiler emit a clean-up path per field,
//! which would give back much of the size this module exists to save.

use std::fmt;

use serde_json::{Map, Value};

use crate::facts::{
    At, BaseImage, BaseShownBy, Certified, CertifiedForm, ConnectionError, Context,
    DatabaseConnection, Diagnostic, EgressCheck, Facts, HelmGeneration, HelmRelease, HelmRevision,
    Image, KubernetesFacts, Permission, Pod, Severity, StorageClass, UpgradeResources,
    UpgraderSplit,
};

/// Where a value could not be read, and why.
#[derive(Debug)]
pub struct Unreadable {
    path: Vec<Segment>,
    problem: Problem,
}

#[derive(Debug, Clone, Copy)]
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

/// `facts.pods[3].ready: expected a string, found a number`.
impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str("the bundle")?;
        }
        for (i, segment) in self.path.iter().enumerate() {
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

/// The bundle's format number (`astro_upgrade_bundle`) and its facts.
pub fn bundle(value: &Value) -> Result<(u32, Facts), Unreadable> {
    let mut reader = Reader::default();
    let fields = reader.fields(value);
    let format = reader.required(&fields, "astro_upgrade_bundle", Reader::number);
    let facts = reader.required(&fields, "facts", facts);
    match reader.failure {
        None => Ok((format, facts)),
        Some(unreadable) => Err(unreadable),
    }
}

/// How a field treats a missing key and `null`.
#[derive(Clone, Copy)]
enum Presence {
    /// Neither `Option` nor `#[serde(default)]`: missing is unreadable, `null` is a wrong type.
    Required,
    /// An `Option`: missing and `null` are `None`.
    Optional,
    /// `#[serde(default)]` on a non-`Option`: missing is the default, `null` is a wrong type.
    Defaulted,
}

type Read<T> = fn(&mut Reader, &Value) -> T;

/// The keys of one JSON object; none when the value was not an object.
struct Fields<'v>(Option<&'v Map<String, Value>>);

#[derive(Default)]
struct Reader {
    /// The path of the value being read.
    path: Vec<Segment>,
    failure: Option<Unreadable>,
}

impl Reader {
    fn fail(&mut self, problem: Problem) {
        if self.failure.is_none() {
            self.failure = Some(Unreadable {
                path: self.path.clone(),
                problem,
            });
        }
    }

    fn expected(&mut self, expected: &'static str, found: &Value) {
        let found = match found {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        };
        self.fail(Problem::Expected { expected, found });
    }

    fn fields<'v>(&mut self, value: &'v Value) -> Fields<'v> {
        let map = value.as_object();
        if map.is_none() {
            self.expected("an object", value);
        }
        Fields(map)
    }

    /// Steps into `key` of `fields` (the caller steps out): its value, if there is one to read.
    fn enter<'v>(
        &mut self,
        fields: &Fields<'v>,
        key: &'static str,
        presence: Presence,
    ) -> Option<&'v Value> {
        let value = fields.0.and_then(|map| map.get(key));
        self.path.push(Segment::Key(key));
        match (value, presence) {
            (None, Presence::Required) => {
                self.fail(Problem::Missing);
                None
            }
            (None, _) | (Some(Value::Null), Presence::Optional) => None,
            (Some(value), _) => Some(value),
        }
    }

    /// Kept small: one copy of it is compiled per field type.
    fn field<T>(
        &mut self,
        fields: &Fields,
        key: &'static str,
        presence: Presence,
        read: Read<T>,
    ) -> Option<T> {
        let read = self
            .enter(fields, key, presence)
            .map(|value| read(self, value));
        self.path.pop();
        read
    }

    fn required<T: Default>(&mut self, fields: &Fields, key: &'static str, read: Read<T>) -> T {
        self.field(fields, key, Presence::Required, read)
            .unwrap_or_default()
    }

    fn optional<T>(&mut self, fields: &Fields, key: &'static str, read: Read<T>) -> Option<T> {
        self.field(fields, key, Presence::Optional, read)
    }

    fn defaulted<T: Default>(&mut self, fields: &Fields, key: &'static str, read: Read<T>) -> T {
        self.field(fields, key, Presence::Defaulted, read)
            .unwrap_or_default()
    }

    /// The `#[serde(flatten)] at` of a fact: its `source` and `line` sit beside the other keys.
    fn at_of(&mut self, fields: &Fields) -> At {
        At {
            source: self.required(fields, "source", Reader::string),
            line: self.optional(fields, "line", Reader::number),
        }
    }

    fn items<'v>(&mut self, value: &'v Value) -> &'v [Value] {
        match value.as_array() {
            Some(items) => items,
            None => {
                self.expected("an array", value);
                &[]
            }
        }
    }

    fn list<T>(&mut self, value: &Value, read: Read<T>) -> Vec<T> {
        let items = self.items(value);
        let mut list = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            self.path.push(Segment::Index(index));
            list.push(read(self, item));
            self.path.pop();
        }
        list
    }

    fn string(&mut self, value: &Value) -> String {
        match value.as_str() {
            Some(s) => s.to_owned(),
            None => {
                self.expected("a string", value);
                String::new()
            }
        }
    }

    fn boolean(&mut self, value: &Value) -> bool {
        value.as_bool().unwrap_or_else(|| {
            self.expected("true or false", value);
            false
        })
    }

    fn number(&mut self, value: &Value) -> u32 {
        match value.as_u64().map(u32::try_from) {
            Some(Ok(n)) => n,
            _ => {
                self.expected("a whole number from 0 to 4294967295", value);
                0
            }
        }
    }

    /// The position of `value` in `names` (a unit enum's serialized names); 0 when it is none.
    fn name_of(&mut self, value: &Value, expected: &'static str, names: &[&str]) -> usize {
        let found = value
            .as_str()
            .and_then(|s| names.iter().position(|name| *name == s));
        found.unwrap_or_else(|| {
            self.expected(expected, value);
            0
        })
    }
}

fn facts(r: &mut Reader, value: &Value) -> Facts {
    let f = r.fields(value);
    Facts {
        kubernetes: r.required(&f, "kubernetes", kubernetes),
        pods: r.defaulted(&f, "pods", |r, v| r.list(v, pod)),
        pods_listed: r.defaulted(&f, "pods_listed", Reader::boolean),
        permissions: r.defaulted(&f, "permissions", |r, v| r.list(v, permission)),
        images: r.defaulted(&f, "images", |r, v| r.list(v, image)),
        helm_releases: r.defaulted(&f, "helm_releases", |r, v| r.list(v, helm_release)),
        helm_list_all: r.optional(&f, "helm_list_all", at),
        helm_history: r.defaulted(&f, "helm_history", |r, v| r.list(v, helm_revision)),
        storage_classes: r.defaulted(&f, "storage_classes", |r, v| r.list(v, storage_class)),
        contexts: r.defaulted(&f, "contexts", |r, v| r.list(v, context)),
        database_connection: r.optional(&f, "database_connection", database_connection),
        egress: r.defaulted(&f, "egress", |r, v| r.list(v, egress_check)),
        upgrade_resources: r.optional(&f, "upgrade_resources", upgrade_resources),
        diagnostics: r.defaulted(&f, "diagnostics", |r, v| r.list(v, diagnostic)),
    }
}

fn kubernetes(r: &mut Reader, value: &Value) -> KubernetesFacts {
    let f = r.fields(value);
    KubernetesFacts {
        client_version: r.optional(&f, "client_version", Reader::string),
        server_version: r.optional(&f, "server_version", Reader::string),
        error: r.optional(&f, "error", connection_error),
        client_at: r.optional(&f, "client_at", at),
        server_at: r.optional(&f, "server_at", at),
        error_at: r.optional(&f, "error_at", at),
    }
}

fn at(r: &mut Reader, value: &Value) -> At {
    let f = r.fields(value);
    r.at_of(&f)
}

fn connection_error(r: &mut Reader, value: &Value) -> ConnectionError {
    let names = [
        "connection-refused",
        "unable-to-connect",
        "unauthorized",
        "other",
    ];
    let variants = [
        ConnectionError::ConnectionRefused,
        ConnectionError::UnableToConnect,
        ConnectionError::Unauthorized,
        ConnectionError::Other,
    ];
    let expected = "connection-refused, unable-to-connect, unauthorized or other";
    variants[r.name_of(value, expected, &names)]
}

fn certified_form(r: &mut Reader, value: &Value) -> CertifiedForm {
    let variants = [
        CertifiedForm::Pinned,
        CertifiedForm::Floating,
        CertifiedForm::Legacy,
    ];
    let expected = "pinned, floating or legacy";
    variants[r.name_of(value, expected, &["pinned", "floating", "legacy"])]
}

fn helm_generation(r: &mut Reader, value: &Value) -> HelmGeneration {
    let variants = [HelmGeneration::Helm2, HelmGeneration::Helm3];
    variants[r.name_of(value, "helm2 or helm3", &["helm2", "helm3"])]
}

fn severity(r: &mut Reader, value: &Value) -> Severity {
    let variants = [Severity::Error, Severity::Warning, Severity::Info];
    let expected = "error, warning or info";
    variants[r.name_of(value, expected, &["error", "warning", "info"])]
}

fn pod(r: &mut Reader, value: &Value) -> Pod {
    let f = r.fields(value);
    Pod {
        namespace: r.optional(&f, "namespace", Reader::string),
        name: r.required(&f, "name", Reader::string),
        ready: r.optional(&f, "ready", Reader::string),
        status: r.required(&f, "status", Reader::string),
        restarts: r.optional(&f, "restarts", Reader::number),
        healthy: r.required(&f, "healthy", Reader::boolean),
        at: r.at_of(&f),
    }
}

fn permission(r: &mut Reader, value: &Value) -> Permission {
    let f = r.fields(value);
    Permission {
        verb: r.required(&f, "verb", Reader::string),
        resource: r.required(&f, "resource", Reader::string),
        namespace: r.optional(&f, "namespace", Reader::string),
        allowed: r.required(&f, "allowed", Reader::boolean),
        all_namespaces: r.defaulted(&f, "all_namespaces", Reader::boolean),
        as_user: r.optional(&f, "as_user", Reader::string),
        at: r.at_of(&f),
    }
}

fn image(r: &mut Reader, value: &Value) -> Image {
    let f = r.fields(value);
    Image {
        reference: r.required(&f, "reference", Reader::string),
        registry: r.optional(&f, "registry", Reader::string),
        repository: r.required(&f, "repository", Reader::string),
        tag: r.optional(&f, "tag", Reader::string),
        digest: r.optional(&f, "digest", Reader::string),
        certified: r.optional(&f, "certified", certified),
        base: r.optional(&f, "base", base_image),
        at: r.at_of(&f),
    }
}

fn base_image(r: &mut Reader, value: &Value) -> BaseImage {
    let f = r.fields(value);
    BaseImage {
        shown_by: r
            .field(&f, "shown_by", Presence::Required, |r, v| {
                [BaseShownBy::From, BaseShownBy::Labels]
                    [r.name_of(v, "from or labels", &["from", "labels"])]
            })
            .unwrap_or(BaseShownBy::From),
        of: r.optional(&f, "of", Reader::string),
    }
}

fn egress_check(r: &mut Reader, value: &Value) -> EgressCheck {
    let f = r.fields(value);
    EgressCheck {
        host: r.required(&f, "host", Reader::string),
        url: r.optional(&f, "url", Reader::string),
        reachable: r.required(&f, "reachable", Reader::boolean),
        detail: r.required(&f, "detail", Reader::string),
        at: r.at_of(&f),
    }
}

fn certified(r: &mut Reader, value: &Value) -> Certified {
    let f = r.fields(value);
    Certified {
        airflow_version: r.required(&f, "airflow_version", Reader::string),
        build_number: r.optional(&f, "build_number", Reader::number),
        distribution: r.optional(&f, "distribution", Reader::string),
        onbuild: r.required(&f, "onbuild", Reader::boolean),
        form: r
            .field(&f, "form", Presence::Required, certified_form)
            .unwrap_or(CertifiedForm::Pinned),
    }
}

fn helm_release(r: &mut Reader, value: &Value) -> HelmRelease {
    let f = r.fields(value);
    HelmRelease {
        name: r.required(&f, "name", Reader::string),
        namespace: r.optional(&f, "namespace", Reader::string),
        revision: r.optional(&f, "revision", Reader::number),
        status: r.optional(&f, "status", Reader::string),
        chart: r.required(&f, "chart", Reader::string),
        chart_version: r.optional(&f, "chart_version", Reader::string),
        app_version: r.optional(&f, "app_version", Reader::string),
        helm: r.optional(&f, "helm", helm_generation),
        at: r.at_of(&f),
    }
}

fn helm_revision(r: &mut Reader, value: &Value) -> HelmRevision {
    let f = r.fields(value);
    HelmRevision {
        release: r.optional(&f, "release", Reader::string),
        revision: r.required(&f, "revision", Reader::number),
        status: r.required(&f, "status", Reader::string),
        chart: r.required(&f, "chart", Reader::string),
        chart_version: r.optional(&f, "chart_version", Reader::string),
        app_version: r.optional(&f, "app_version", Reader::string),
        description: r.optional(&f, "description", Reader::string),
        at: r.at_of(&f),
    }
}

fn storage_class(r: &mut Reader, value: &Value) -> StorageClass {
    let f = r.fields(value);
    StorageClass {
        name: r.required(&f, "name", Reader::string),
        default: r.required(&f, "default", Reader::boolean),
        provisioner: r.optional(&f, "provisioner", Reader::string),
        at: r.at_of(&f),
    }
}

fn context(r: &mut Reader, value: &Value) -> Context {
    let f = r.fields(value);
    Context {
        name: r.required(&f, "name", Reader::string),
        namespace: r.optional(&f, "namespace", Reader::string),
        current: r.required(&f, "current", Reader::boolean),
        at: r.at_of(&f),
    }
}

fn database_connection(r: &mut Reader, value: &Value) -> DatabaseConnection {
    let f = r.fields(value);
    DatabaseConnection {
        scheme: r.required(&f, "scheme", Reader::string),
        host: r.required(&f, "host", Reader::string),
        has_port: r.required(&f, "has_port", Reader::boolean),
        upgrader: r.optional(&f, "upgrader", upgrader_split),
        upgrader_evaluated: r.defaulted(&f, "upgrader_evaluated", Reader::boolean),
        at: r.at_of(&f),
    }
}

fn upgrader_split(r: &mut Reader, value: &Value) -> UpgraderSplit {
    let f = r.fields(value);
    UpgraderSplit {
        user: r.required(&f, "user", Reader::string),
        host: r.required(&f, "host", Reader::string),
        host_holds_password: r.defaulted(&f, "host_holds_password", Reader::boolean),
        port: r.required(&f, "port", Reader::string),
        password_empty: r.defaulted(&f, "password_empty", Reader::boolean),
        percent_encoded: r.defaulted(&f, "percent_encoded", Reader::boolean),
    }
}

fn upgrade_resources(r: &mut Reader, value: &Value) -> UpgradeResources {
    let f = r.fields(value);
    UpgradeResources {
        service_account: r.required(&f, "service_account", Reader::boolean),
        backup_pvc: r.required(&f, "backup_pvc", Reader::boolean),
        upgrade_job: r.optional(&f, "upgrade_job", Reader::string),
    }
}

fn diagnostic(r: &mut Reader, value: &Value) -> Diagnostic {
    let f = r.fields(value);
    Diagnostic {
        source: r.required(&f, "source", Reader::string),
        line: r.optional(&f, "line", Reader::number),
        severity: r
            .field(&f, "severity", Presence::Required, severity)
            .unwrap_or(Severity::Error),
        message: r.required(&f, "message", Reader::string),
    }
}
