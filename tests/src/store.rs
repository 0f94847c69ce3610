//! The in-memory object store: objects keyed by resource, namespace and name, one global
//! resourceVersion counter, and a bounded history of watch events.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::resources::Resource;

/// (resource key `group/version/plural`, namespace or "", name)
pub type ObjectKey = (String, String, String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

#[derive(Debug)]
pub struct WatchEvent {
    pub resource_version: u64,
    pub resource: String,
    pub namespace: String,
    pub event_type: EventType,
    pub object: Value,
}

/// An API error, answered as a `Status` object.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

fn qualified(resource: &Resource) -> String {
    if resource.group.is_empty() {
        resource.plural.to_string()
    } else {
        format!("{}.{}", resource.plural, resource.group)
    }
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    pub fn not_found(resource: &Resource, name: &str) -> ApiError {
        ApiError {
            details: Some(json!({"name": name, "group": resource.group, "kind": resource.plural})),
            ..ApiError::new(
                404,
                "NotFound",
                format!("{} \"{name}\" not found", qualified(resource)),
            )
        }
    }

    pub fn already_exists(resource: &Resource, name: &str) -> ApiError {
        ApiError {
            details: Some(json!({"name": name, "group": resource.group, "kind": resource.plural})),
            ..ApiError::new(
                409,
                "AlreadyExists",
                format!("{} \"{name}\" already exists", qualified(resource)),
            )
        }
    }

    pub fn conflict(resource: &Resource, name: &str) -> ApiError {
        ApiError {
            details: Some(json!({"name": name, "group": resource.group, "kind": resource.plural})),
            ..ApiError::new(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                    qualified(resource)
                ),
            )
        }
    }

    /// 422 for a change to an immutable field.
    pub fn immutable(resource: &Resource, name: &str, field: &str, value: &Value) -> ApiError {
        let kind = if resource.group.is_empty() {
            resource.kind.to_string()
        } else {
            format!("{}.{}", resource.kind, resource.group)
        };
        let cause = format!("Invalid value: {value}: field is immutable");
        ApiError {
            details: Some(json!({
                "name": name, "group": resource.group, "kind": resource.kind,
                "causes": [{"reason": "FieldValueInvalid", "message": cause, "field": field}]
            })),
            ..ApiError::new(
                422,
                "Invalid",
                format!("{kind} \"{name}\" is invalid: {field}: {cause}"),
            )
        }
    }

    pub fn invalid(resource: &Resource, name: &str, field: &str, problem: &str) -> ApiError {
        ApiError {
            details: Some(json!({
                "name": name, "group": resource.group, "kind": resource.kind,
                "causes": [{"reason": "FieldValueRequired", "message": problem, "field": field}]
            })),
            ..ApiError::new(
                422,
                "Invalid",
                format!(
                    "{} \"{name}\" is invalid: {field}: {problem}",
                    resource.kind
                ),
            )
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    pub fn status_body(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

pub struct Store {
    objects: BTreeMap<ObjectKey, Value>,
    resource_version: u64,
    history: VecDeque<Arc<WatchEvent>>,
    /// Watches may start from this resourceVersion or later; older ones get 410 Gone.
    oldest_watchable: u64,
    keep_events: usize,
    sender: broadcast::Sender<Arc<WatchEvent>>,
    uid_counter: u64,
    /// While the initial cluster is loaded no watch events are kept.
    seeding: bool,
}

/// What a watch starting at a resourceVersion gets: the events it missed, and a live feed.
pub struct WatchStart {
    pub replay: Vec<Arc<WatchEvent>>,
    pub live: broadcast::Receiver<Arc<WatchEvent>>,
}

const DEFAULT_HISTORY: usize = 100_000;

impl Store {
    pub fn new(keep_events: Option<u64>) -> Store {
        let (sender, _) = broadcast::channel(65_536);
        Store {
            objects: BTreeMap::new(),
            resource_version: 1000,
            history: VecDeque::new(),
            oldest_watchable: 1000,
            keep_events: keep_events.map_or(DEFAULT_HISTORY, |k| k as usize),
            sender,
            uid_counter: 0,
            seeding: true,
        }
    }

    pub fn resource_version(&self) -> u64 {
        self.resource_version
    }

    /// Ends seeding and forgets history up to now: loading the initial cluster is not something a
    /// watch replays.
    pub fn compact(&mut self) {
        self.seeding = false;
        self.history.clear();
        self.oldest_watchable = self.resource_version;
    }

    pub fn next_uid(&mut self) -> String {
        self.uid_counter += 1;
        let n = self.uid_counter;
        format!(
            "5e1f{:04x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            (n >> 48) & 0xffff,
            (n >> 32) & 0xffff,
            (n >> 20) & 0xfff,
            (n >> 8) & 0xfff,
            n.wrapping_mul(0x9e37_79b9_7f4a) & 0xffff_ffff_ffff
        )
    }

    pub fn get(&self, resource: &Resource, namespace: &str, name: &str) -> Option<&Value> {
        self.objects
            .get(&(resource.key(), namespace.to_string(), name.to_string()))
    }

    /// Objects of a resource (in one namespace, or all), in key order, starting after `after`.
    pub fn range<'a>(
        &'a self,
        resource: &Resource,
        namespace: Option<&'a str>,
        after: Option<(String, String)>,
    ) -> impl Iterator<Item = &'a Value> + 'a {
        use std::ops::Bound;
        let key = resource.key();
        let start = match after {
            Some((ns, name)) => Bound::Excluded((key.clone(), ns, name)),
            None => Bound::Included((
                key.clone(),
                namespace.unwrap_or("").to_string(),
                String::new(),
            )),
        };
        self.objects
            .range((start, Bound::Unbounded))
            .take_while(move |((k, ns, _), _)| {
                *k == key && namespace.is_none_or(|wanted| ns == wanted)
            })
            .map(|(_, v)| v)
    }

    /// Stores a new object: fills uid, creationTimestamp (unless already set), resourceVersion.
    pub fn create(&mut self, resource: &Resource, mut object: Value) -> Result<Value, ApiError> {
        let namespace = str_at(&object, "/metadata/namespace");
        let name = str_at(&object, "/metadata/name");
        let key = (resource.key(), namespace.clone(), name.clone());
        if self.objects.contains_key(&key) {
            return Err(ApiError::already_exists(resource, &name));
        }
        let uid = self.next_uid();
        self.resource_version += 1;
        let meta = metadata_mut(&mut object);
        meta.entry("uid").or_insert_with(|| uid.into());
        meta.entry("creationTimestamp")
            .or_insert_with(|| crate::time::now_rfc3339().into());
        meta.insert(
            "resourceVersion".into(),
            self.resource_version.to_string().into(),
        );
        // Only the API server sets a deletionTimestamp (on delete); a seeded object may carry
        // one (a pod stuck Terminating), a created one may not.
        if !self.seeding {
            meta.remove("deletionTimestamp");
            meta.remove("deletionGracePeriodSeconds");
        }
        if !resource.namespaced {
            meta.remove("namespace");
        }
        object["apiVersion"] = resource.api_version().into();
        object["kind"] = resource.kind.into();
        self.objects.insert(key, object.clone());
        self.record(resource, &namespace, EventType::Added, &object);
        Ok(object)
    }

    /// Replaces an existing object, keeping its identity (uid, creationTimestamp).
    pub fn update(&mut self, resource: &Resource, mut object: Value) -> Result<Value, ApiError> {
        let namespace = str_at(&object, "/metadata/namespace");
        let name = str_at(&object, "/metadata/name");
        let key = (resource.key(), namespace.clone(), name.clone());
        let Some(existing) = self.objects.get(&key) else {
            return Err(ApiError::not_found(resource, &name));
        };
        let current_rv = str_at(existing, "/metadata/resourceVersion");
        let sent_rv = str_at(&object, "/metadata/resourceVersion");
        if !sent_rv.is_empty() && sent_rv != current_rv {
            return Err(ApiError::conflict(resource, &name));
        }
        let identity: Vec<(String, Value)> = ["uid", "creationTimestamp", "deletionTimestamp"]
            .iter()
            .filter_map(|f| {
                existing
                    .pointer(&format!("/metadata/{f}"))
                    .map(|v| (f.to_string(), v.clone()))
            })
            .collect();
        let generation = existing
            .pointer("/metadata/generation")
            .and_then(Value::as_i64);
        let spec_changed = existing.get("spec") != object.get("spec");
        self.resource_version += 1;
        let meta = metadata_mut(&mut object);
        for (field, value) in identity {
            meta.insert(field, value);
        }
        if let Some(generation) = generation {
            let next = if spec_changed {
                generation + 1
            } else {
                generation
            };
            meta.insert("generation".into(), next.into());
        }
        meta.insert(
            "resourceVersion".into(),
            self.resource_version.to_string().into(),
        );
        object["apiVersion"] = resource.api_version().into();
        object["kind"] = resource.kind.into();
        self.objects.insert(key, object.clone());
        self.record(resource, &namespace, EventType::Modified, &object);
        Ok(object)
    }

    pub fn delete(
        &mut self,
        resource: &Resource,
        namespace: &str,
        name: &str,
    ) -> Result<Value, ApiError> {
        let key = (resource.key(), namespace.to_string(), name.to_string());
        let Some(mut object) = self.objects.remove(&key) else {
            return Err(ApiError::not_found(resource, name));
        };
        self.resource_version += 1;
        metadata_mut(&mut object).insert(
            "resourceVersion".into(),
            self.resource_version.to_string().into(),
        );
        self.record(resource, namespace, EventType::Deleted, &object);
        Ok(object)
    }

    fn record(
        &mut self,
        resource: &Resource,
        namespace: &str,
        event_type: EventType,
        object: &Value,
    ) {
        if self.seeding {
            return;
        }
        let event = Arc::new(WatchEvent {
            resource_version: self.resource_version,
            resource: resource.key(),
            namespace: namespace.to_string(),
            event_type,
            object: object.clone(),
        });
        self.history.push_back(event.clone());
        while self.history.len() > self.keep_events {
            if let Some(dropped) = self.history.pop_front() {
                self.oldest_watchable = dropped.resource_version;
            }
        }
        // Nobody listening is fine.
        let _ = self.sender.send(event);
    }

    /// Starts a watch after `from` (events with a greater resourceVersion), or 410 Gone when
    /// those events are no longer remembered.
    pub fn watch_from(&self, from: u64) -> Result<WatchStart, ApiError> {
        if from < self.oldest_watchable {
            return Err(ApiError::new(
                410,
                "Expired",
                format!(
                    "too old resource version: {from} ({})",
                    self.oldest_watchable
                ),
            ));
        }
        Ok(WatchStart {
            replay: self
                .history
                .iter()
                .filter(|e| e.resource_version > from)
                .cloned()
                .collect(),
            live: self.sender.subscribe(),
        })
    }
}

pub fn str_at(object: &Value, pointer: &str) -> String {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

pub fn metadata_mut(object: &mut Value) -> &mut serde_json::Map<String, Value> {
    if !object.is_object() {
        *object = json!({});
    }
    let meta = object
        .as_object_mut()
        .map(|o| o.entry("metadata").or_insert_with(|| json!({})))
        .expect("object was just made a map");
    if !meta.is_object() {
        *meta = json!({});
    }
    meta.as_object_mut().expect("metadata was just made a map")
}
