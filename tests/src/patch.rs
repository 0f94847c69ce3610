//! JSON merge patch (RFC 7386) and the subset of strategic merge patch that `kubectl apply` sends.

use serde_json::{Map, Value};

/// RFC 7386: maps merge, `null` deletes, everything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let target_map = target.as_object_mut().expect("made a map above");
    for (key, value) in patch_map {
        if value.is_null() {
            target_map.remove(key);
        } else {
            merge_patch(target_map.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// The merge key of lists that strategic merge patch merges element by element (from the
/// `patchMergeKey` tags of the core types); other lists are replaced whole.
fn merge_key(field: &str) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "hostAliases" => Some(match field {
            "hostAliases" => "ip",
            _ => "name",
        }),
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "ports" => Some("containerPort"),
        "ownerReferences" => Some("uid"),
        "conditions" => Some("type"),
        _ => None,
    }
}

/// Strategic merge patch, for the directives `kubectl apply` and `kubectl patch` emit:
/// `$patch: delete|replace`, `$retainKeys`, `$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>`.
pub fn strategic_merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    if patch_map.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut replacement = patch_map.clone();
        replacement.remove("$patch");
        *target = Value::Object(strip_directives(replacement));
        return;
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let target_map = target.as_object_mut().expect("made a map above");
    if let Some(Value::Array(retain)) = patch_map.get("$retainKeys") {
        let keep: Vec<&str> = retain.iter().filter_map(Value::as_str).collect();
        target_map.retain(|k, _| keep.contains(&k.as_str()));
    }
    for (key, value) in patch_map {
        if let Some(list) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(items)), Value::Array(remove)) =
                (target_map.get_mut(list), value)
            {
                items.retain(|item| !remove.contains(item));
            }
            continue;
        }
        if key.starts_with('$') {
            continue;
        }
        if value.is_null() {
            target_map.remove(key);
            continue;
        }
        if value.get("$patch").and_then(Value::as_str) == Some("delete") {
            target_map.remove(key);
            continue;
        }
        match (value, merge_key(key)) {
            (Value::Array(patch_items), Some(merge_key)) => {
                let existing = target_map
                    .entry(key.clone())
                    .or_insert(Value::Array(vec![]));
                if !existing.is_array() {
                    *existing = Value::Array(vec![]);
                }
                let items = existing.as_array_mut().expect("made an array above");
                merge_list(items, patch_items, merge_key);
            }
            (Value::Array(patch_items), None) => {
                target_map.insert(key.clone(), Value::Array(strip_list(patch_items)));
            }
            (Value::Object(_), _) => {
                strategic_merge_patch(target_map.entry(key.clone()).or_insert(Value::Null), value)
            }
            _ => {
                target_map.insert(key.clone(), value.clone());
            }
        }
    }
}

fn merge_list(items: &mut Vec<Value>, patch_items: &[Value], merge_key: &str) {
    for patch_item in patch_items {
        let key_value = patch_item.get(merge_key);
        let position =
            key_value.and_then(|kv| items.iter().position(|i| i.get(merge_key) == Some(kv)));
        let delete = patch_item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (position, delete) {
            (Some(index), true) => {
                items.remove(index);
            }
            (None, true) => {}
            (Some(index), false) => strategic_merge_patch(&mut items[index], patch_item),
            (None, false) => {
                let mut fresh = Value::Null;
                strategic_merge_patch(&mut fresh, patch_item);
                items.push(fresh);
            }
        }
    }
}

fn strip_list(items: &[Value]) -> Vec<Value> {
    items
        .iter()
        .filter(|i| i.get("$patch").and_then(Value::as_str) != Some("delete"))
        .map(|i| match i {
            Value::Object(map) => Value::Object(strip_directives(map.clone())),
            other => other.clone(),
        })
        .collect()
}

fn strip_directives(map: Map<String, Value>) -> Map<String, Value> {
    map.into_iter()
        .filter(|(k, _)| !k.starts_with('$'))
        .map(|(k, v)| match v {
            Value::Object(inner) => (k, Value::Object(strip_directives(inner))),
            Value::Array(items) => (k, Value::Array(strip_list(&items))),
            other => (k, other),
        })
        .collect()
}

/// RFC 6902 JSON patch (add, remove, replace, test) on JSON pointers.
pub fn json_patch(target: &mut Value, operations: &Value) -> Result<(), String> {
    let operations = operations
        .as_array()
        .ok_or("a JSON patch must be a list of operations")?;
    for operation in operations {
        let op = operation.get("op").and_then(Value::as_str).unwrap_or("");
        let path = operation.get("path").and_then(Value::as_str).unwrap_or("");
        let value = operation.get("value").cloned().unwrap_or(Value::Null);
        let (parent_path, last) = path.rsplit_once('/').ok_or("path must start with /")?;
        let last = last.replace("~1", "/").replace("~0", "~");
        match op {
            "test" => {
                if target.pointer(path) != Some(&value) {
                    return Err(format!("test failed at {path}"));
                }
            }
            "add" | "replace" | "remove" => {
                let parent = target
                    .pointer_mut(parent_path)
                    .ok_or_else(|| format!("no such path {parent_path}"))?;
                match parent {
                    Value::Object(map) => {
                        if op == "remove" || (op == "replace" && !map.contains_key(&last)) {
                            map.remove(&last)
                                .ok_or_else(|| format!("no such path {path}"))?;
                        }
                        if op != "remove" {
                            map.insert(last, value);
                        }
                    }
                    Value::Array(items) => {
                        let index = if last == "-" {
                            items.len()
                        } else {
                            last.parse::<usize>()
                                .map_err(|_| format!("bad index in {path}"))?
                        };
                        match op {
                            "add" if index <= items.len() => items.insert(index, value),
                            "replace" if index < items.len() => items[index] = value,
                            "remove" if index < items.len() => {
                                items.remove(index);
                            }
                            _ => return Err(format!("index out of range in {path}")),
                        }
                    }
                    _ => return Err(format!("{parent_path} is not a container")),
                }
            }
            other => return Err(format!("unsupported JSON patch operation {other:?}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strategic_merge_merges_containers_by_name_and_strips_directives() {
        let mut job = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "upgrade", "image": "a:1", "env": [{"name": "X", "value": "1"}]},
            {"name": "side", "image": "s:1"}
        ], "args": ["a", "b"]}}}});
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "upgrade"}, {"name": "side"}],
            "containers": [{"name": "upgrade", "image": "a:2", "env": [{"name": "Y", "value": "2"}]},
                           {"name": "side", "$patch": "delete"}],
            "args": ["c"]
        }}}});
        strategic_merge_patch(&mut job, &patch);
        assert_eq!(
            job,
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "upgrade", "image": "a:2", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]}
            ], "args": ["c"]}}}})
        );
    }

    #[test]
    fn merge_patch_deletes_on_null() {
        let mut object = json!({"metadata": {"labels": {"a": "1", "b": "2"}}});
        merge_patch(
            &mut object,
            &json!({"metadata": {"labels": {"a": null, "c": "3"}}}),
        );
        assert_eq!(
            object,
            json!({"metadata": {"labels": {"b": "2", "c": "3"}}})
        );
    }

    #[test]
    fn json_patch_adds_and_replaces() {
        let mut object = json!({"a": [1, 2], "b": {"c": 1}});
        json_patch(
            &mut object,
            &json!([{"op": "add", "path": "/a/-", "value": 3}, {"op": "replace", "path": "/b/c", "value": 2}]),
        )
        .unwrap();
        assert_eq!(object, json!({"a": [1, 2, 3], "b": {"c": 2}}));
    }
}
