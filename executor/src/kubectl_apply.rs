//! Client-side apply, as `kubectl apply` does it on servers without server-side apply (1.14–1.18):
//! create with the `last-applied-configuration` annotation, or send a three-way JSON merge patch,
//! and delete-and-recreate when the server refuses a change to an immutable field.

use std::time::Duration;

use anyhow::Context as _;
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams, PostParams, PropagationPolicy};
use kube::{Api, Client, ResourceExt};
use serde_json::{Map, Value};

use crate::manifest::ManifestObject;

pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
pub const FIELD_MANAGER: &str = "astro-upgrade";
const GONE_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Created,
    Configured,
    Unchanged,
    /// Deleted and created again because a field the server will not change had to change.
    Replaced,
}

impl Applied {
    pub fn as_str(self) -> &'static str {
        match self {
            Applied::Created => "created",
            Applied::Configured => "configured",
            Applied::Unchanged => "unchanged",
            Applied::Replaced => "replaced",
        }
    }
}

pub fn api_for(client: &Client, object: &ManifestObject) -> Api<DynamicObject> {
    match object.namespace() {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &object.resource),
        None => Api::all_with(client.clone(), &object.resource),
    }
}

/// The object to send: the manifest's object with its own JSON as the last-applied annotation.
pub fn with_last_applied(body: &Value) -> Value {
    let mut desired = body.clone();
    let recorded = serde_json::to_string(body).unwrap_or_default();
    let metadata = desired.as_object_mut().map(|o| {
        o.entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()))
    });
    if let Some(Value::Object(metadata)) = metadata {
        let annotations = metadata
            .entry("annotations")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(annotations) = annotations {
            annotations.insert(LAST_APPLIED.to_string(), Value::String(recorded));
        }
    }
    desired
}

/// The three-way merge patch: fields dropped since the last apply are deleted (null), fields whose
/// live value differs from the desired one are set. Lists are replaced whole (merge-patch semantics).
pub fn three_way_patch(last_applied: &Value, desired: &Value, live: &Value) -> Value {
    let mut patch = Map::new();
    let (Some(desired_map), live_map) = (desired.as_object(), live.as_object()) else {
        return desired.clone();
    };
    for (key, wanted) in desired_map {
        let current = live_map.and_then(|l| l.get(key));
        let before = last_applied.get(key).unwrap_or(&Value::Null);
        match (wanted, current) {
            (Value::Object(_), Some(current @ Value::Object(_))) => {
                let nested = three_way_patch(before, wanted, current);
                if nested.as_object().is_some_and(|m| !m.is_empty()) {
                    patch.insert(key.clone(), nested);
                }
            }
            _ if current == Some(wanted) => {}
            _ => {
                patch.insert(key.clone(), wanted.clone());
            }
        }
    }
    if let Some(before) = last_applied.as_object() {
        for key in before.keys() {
            let live_has = live_map.is_some_and(|l| l.contains_key(key));
            if !desired_map.contains_key(key) && live_has {
                patch.insert(key.clone(), Value::Null);
            }
        }
    }
    Value::Object(patch)
}

/// Applies one object. With `dry_run` every write carries `dryRun=All` and nothing persists.
pub async fn apply(
    client: &Client,
    object: &ManifestObject,
    dry_run: bool,
) -> anyhow::Result<Applied> {
    let api = api_for(client, object);
    let desired = with_last_applied(&object.body);
    let live = api
        .get_opt(&object.name)
        .await
        .with_context(|| format!("cannot read {}", object.label()))?;
    let Some(live) = live else {
        create(&api, object, &desired, dry_run).await?;
        return Ok(Applied::Created);
    };
    let live_json = serde_json::to_value(&live)?;
    let last_applied = live
        .annotations()
        .get(LAST_APPLIED)
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or(Value::Null);
    let patch = three_way_patch(&last_applied, &desired, &live_json);
    if patch.as_object().is_some_and(Map::is_empty) {
        return Ok(Applied::Unchanged);
    }
    let params = PatchParams {
        dry_run,
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..PatchParams::default()
    };
    match api
        .patch(&object.name, &params, &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(Applied::Configured),
        Err(err) if is_immutable_refusal(&err) => {
            if !dry_run {
                delete_and_wait(&api, &object.name, &live).await?;
            }
            create(&api, object, &desired, dry_run).await?;
            Ok(Applied::Replaced)
        }
        Err(err) => Err(err).with_context(|| format!("cannot update {}", object.label())),
    }
}

async fn create(
    api: &Api<DynamicObject>,
    object: &ManifestObject,
    desired: &Value,
    dry_run: bool,
) -> anyhow::Result<()> {
    let data: DynamicObject = serde_json::from_value(desired.clone())
        .with_context(|| format!("{} is not a Kubernetes object", object.label()))?;
    let params = PostParams {
        dry_run,
        field_manager: Some(FIELD_MANAGER.to_string()),
    };
    api.create(&params, &data)
        .await
        .with_context(|| format!("cannot create {}", object.label()))?;
    Ok(())
}

/// 422 Invalid or 409 Conflict because a field may not change (a Job's template, a binding's roleRef).
fn is_immutable_refusal(err: &kube::Error) -> bool {
    match err {
        kube::Error::Api(status) => {
            (status.code == 422 || status.code == 409)
                && (status.message.contains("immutable")
                    || status.message.contains("cannot change")
                    || status.message.contains("updates to"))
        }
        _ => false,
    }
}

/// Deletes an object (its dependents in the foreground) and waits until it is gone.
pub async fn delete_and_wait(
    api: &Api<DynamicObject>,
    name: &str,
    live: &DynamicObject,
) -> anyhow::Result<()> {
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Foreground),
        ..DeleteParams::default()
    };
    match api.delete(name, &params).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 404 => return Ok(()),
        Err(err) => return Err(err).with_context(|| format!("cannot delete {name}")),
    }
    let uid = live.uid().unwrap_or_default();
    let gone = kube::runtime::wait::await_condition(
        api.clone(),
        name,
        kube::runtime::conditions::is_deleted(&uid),
    );
    tokio::time::timeout(GONE_TIMEOUT, gone)
        .await
        .with_context(|| format!("{name} was not gone {GONE_TIMEOUT:?} after its deletion"))?
        .with_context(|| format!("cannot watch {name} being deleted"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn unchanged_objects_produce_an_empty_patch() {
        let desired = with_last_applied(&json!({"metadata": {"name": "a"}, "spec": {"x": 1}}));
        let mut live = desired.clone();
        live["spec"]["defaulted"] = json!(true);
        live["metadata"]["uid"] = json!("u");
        let last = json!({"metadata": {"name": "a"}, "spec": {"x": 1}});
        assert_eq!(three_way_patch(&last, &desired, &live), json!({}));
    }

    #[test]
    fn changes_come_from_live_and_deletions_from_last_applied() {
        let last = json!({"metadata": {"name": "a", "labels": {"old": "1", "keep": "1"}}, "spec": {"x": 1, "list": [1, 2]}});
        let desired = json!({"metadata": {"name": "a", "labels": {"keep": "1"}}, "spec": {"x": 2, "list": [3]}});
        let live = json!({
            "metadata": {"name": "a", "labels": {"old": "1", "keep": "1", "someone-else": "1"}},
            "spec": {"x": 1, "list": [1, 2], "defaulted": true},
        });
        assert_eq!(
            three_way_patch(&last, &desired, &live),
            json!({"metadata": {"labels": {"old": null}}, "spec": {"x": 2, "list": [3]}}),
            "a label someone else set and a defaulted field are left alone"
        );
    }

    #[test]
    fn the_annotation_records_the_object_as_written() {
        let body = json!({"kind": "ServiceAccount", "metadata": {"name": "sa"}});
        let sent = with_last_applied(&body);
        let recorded: Value = serde_json::from_str(
            sent["metadata"]["annotations"][LAST_APPLIED]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(recorded, body);
    }
}
