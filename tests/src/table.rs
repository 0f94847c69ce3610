//! Server-side printing (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`), with the
//! column logic of Kubernetes' own printers (pkg/printers/internalversion) of the 1.16–1.18 era.

use serde_json::{json, Value};

use crate::resources::Resource;
use crate::time::{human_duration, now_unix, parse_rfc3339};

/// What each row carries beside its cells (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

impl IncludeObject {
    pub fn parse(value: Option<&str>) -> IncludeObject {
        match value {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

fn column(name: &str, kind: &str, priority: u8, description: &str) -> Value {
    json!({
        "name": name,
        "type": kind,
        "format": if name == "Name" { "name" } else { "" },
        "description": description,
        "priority": priority,
    })
}

fn columns(resource: &Resource) -> Vec<Value> {
    let name = column(
        "Name",
        "string",
        0,
        "Name must be unique within a namespace.",
    );
    let age = column("Age", "string", 0, "CreationTimestamp is a timestamp representing the server time when this object was created.");
    match resource.kind {
        "Pod" => vec![
            name,
            column("Ready", "string", 0, "The aggregate readiness state of this pod for accepting traffic."),
            column("Status", "string", 0, "The aggregate status of the containers in this pod."),
            column("Restarts", "integer", 0, "The number of times the containers in this pod have been restarted."),
            age,
            column("IP", "string", 1, "IP address allocated to the pod. Routable at least within the cluster."),
            column("Node", "string", 1, "NodeName is a request to schedule this pod onto a specific node."),
            column("Nominated Node", "string", 1, "nominatedNodeName is set only when this pod preempts other pods on the node."),
            column("Readiness Gates", "string", 1, "If specified, all readiness gates will be evaluated for pod readiness."),
        ],
        "Job" => vec![
            name,
            column("Completions", "string", 0, "The desired number of successfully finished pods the job should be run with."),
            column("Duration", "string", 0, "Time required to complete the job."),
            age,
            column("Containers", "string", 1, "Names of each container in the template."),
            column("Images", "string", 1, "Images referenced by each container in the template."),
            column("Selector", "string", 1, "A label query over pods that should match the pod count."),
        ],
        "Deployment" => vec![
            name,
            column("Ready", "string", 0, "Number of the pod with ready state"),
            column("Up-to-date", "string", 0, "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
            column("Available", "string", 0, "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
            age,
            column("Containers", "string", 1, "Names of each container in the template."),
            column("Images", "string", 1, "Images referenced by each container in the template."),
            column("Selector", "string", 1, "Label selector for pods."),
        ],
        "Node" => vec![
            name,
            column("Status", "string", 0, "The status of the node"),
            column("Roles", "string", 0, "The roles of the node"),
            age,
            column("Version", "string", 0, "Kubelet Version reported by the node."),
            column("Internal-IP", "string", 1, "List of internal IPs for the node."),
            column("External-IP", "string", 1, "List of external IPs for the node."),
            column("OS-Image", "string", 1, "OS image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."),
            column("Kernel-Version", "string", 1, "Kernel version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
            column("Container-Runtime", "string", 1, "Container runtime version reported by the node through runtime remote API (e.g. docker://1.5.0)."),
        ],
        "StatefulSet" => vec![
            name,
            column("Ready", "string", 0, "Number of the pod with ready state"),
            age,
            column("Containers", "string", 1, "Names of each container in the template."),
            column("Images", "string", 1, "Images referenced by each container in the template."),
        ],
        "StorageClass" => vec![
            name,
            column("Provisioner", "string", 0, "Indicates the type of the provisioner."),
            age,
        ],
        "PersistentVolumeClaim" => vec![
            name,
            column("Status", "string", 0, "The phase the claim is in."),
            column("Volume", "string", 0, "The binding volume of the claim."),
            column("Capacity", "string", 0, "The capacity of the volume."),
            column("Access Modes", "string", 0, "The access modes of the volume."),
            column("StorageClass", "string", 0, "The storage class of the volume."),
            age,
        ],
        "Secret" => vec![
            name,
            column("Type", "string", 0, "The type of the secret"),
            column("Data", "string", 0, "The number of data entries in the secret"),
            age,
        ],
        _ => vec![name, age],
    }
}

fn age(object: &Value) -> String {
    object
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str)
        .and_then(parse_rfc3339)
        .map_or_else(|| "<unknown>".into(), |t| human_duration(now_unix() - t))
}

fn text<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn items<'a>(object: &'a Value, pointer: &str) -> &'a [Value] {
    object
        .pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn or_none(value: &str) -> String {
    if value.is_empty() {
        "<none>".into()
    } else {
        value.to_string()
    }
}

/// READY, STATUS and RESTARTS exactly as `printPod` computes them.
pub fn pod_status(pod: &Value) -> (String, String, i64) {
    let total = items(pod, "/spec/containers").len();
    let mut ready = 0;
    let mut restarts = 0i64;
    let mut reason = text(pod, "/status/phase").to_string();
    if !text(pod, "/status/reason").is_empty() {
        reason = text(pod, "/status/reason").to_string();
    }
    let init_total = items(pod, "/spec/initContainers").len();
    let mut initializing = false;
    for (index, container) in items(pod, "/status/initContainerStatuses")
        .iter()
        .enumerate()
    {
        restarts += container["restartCount"].as_i64().unwrap_or(0);
        let terminated = container.pointer("/state/terminated");
        let waiting_reason = text(container, "/state/waiting/reason");
        if let Some(terminated) = terminated {
            let exit_code = terminated["exitCode"].as_i64().unwrap_or(0);
            if exit_code == 0 {
                continue;
            }
            let signal = terminated["signal"].as_i64().unwrap_or(0);
            reason = match terminated["reason"].as_str().unwrap_or("") {
                "" if signal != 0 => format!("Init:Signal:{signal}"),
                "" => format!("Init:ExitCode:{exit_code}"),
                r => format!("Init:{r}"),
            };
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            reason = format!("Init:{waiting_reason}");
        } else {
            reason = format!("Init:{index}/{init_total}");
        }
        initializing = true;
        break;
    }
    if !initializing {
        restarts = 0;
        let mut has_running = false;
        for container in items(pod, "/status/containerStatuses").iter().rev() {
            restarts += container["restartCount"].as_i64().unwrap_or(0);
            let waiting_reason = text(container, "/state/waiting/reason");
            let terminated = container.pointer("/state/terminated");
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if let Some(terminated) = terminated {
                let signal = terminated["signal"].as_i64().unwrap_or(0);
                reason = match terminated["reason"].as_str().unwrap_or("") {
                    "" if signal != 0 => format!("Signal:{signal}"),
                    "" => format!("ExitCode:{}", terminated["exitCode"].as_i64().unwrap_or(0)),
                    r => r.to_string(),
                };
            } else if container["ready"].as_bool() == Some(true)
                && container.pointer("/state/running").is_some()
            {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            let pod_ready = items(pod, "/status/conditions")
                .iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True");
            reason = if pod_ready { "Running" } else { "NotReady" }.to_string();
        }
    }
    if pod.pointer("/metadata/deletionTimestamp").is_some() {
        reason = if text(pod, "/status/reason") == "NodeLost" {
            "Unknown".into()
        } else {
            "Terminating".into()
        };
    }
    (format!("{ready}/{total}"), reason, restarts)
}

fn container_names_and_images(template_spec: &Value) -> (String, String) {
    let containers = items(template_spec, "/containers");
    let names: Vec<&str> = containers.iter().map(|c| text(c, "/name")).collect();
    let images: Vec<&str> = containers.iter().map(|c| text(c, "/image")).collect();
    (names.join(","), images.join(","))
}

fn selector_text(object: &Value) -> String {
    let labels = object
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object);
    match labels {
        Some(labels) if !labels.is_empty() => labels
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
            .collect::<Vec<_>>()
            .join(","),
        _ => "<none>".into(),
    }
}

fn cells(resource: &Resource, object: &Value) -> Vec<Value> {
    let name = json!(text(object, "/metadata/name"));
    match resource.kind {
        "Pod" => {
            let (ready, status, restarts) = pod_status(object);
            let ip = items(object, "/status/podIPs")
                .first()
                .map(|p| text(p, "/ip"))
                .filter(|ip| !ip.is_empty())
                .unwrap_or(text(object, "/status/podIP"));
            vec![
                name,
                json!(ready),
                json!(status),
                json!(restarts),
                json!(age(object)),
                json!(or_none(ip)),
                json!(or_none(text(object, "/spec/nodeName"))),
                json!(or_none(text(object, "/status/nominatedNodeName"))),
                json!("<none>"),
            ]
        }
        "Job" => {
            let completions = object
                .pointer("/spec/completions")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let succeeded = object
                .pointer("/status/succeeded")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let start = parse_rfc3339(text(object, "/status/startTime"));
            let end =
                parse_rfc3339(text(object, "/status/completionTime")).unwrap_or_else(now_unix);
            let duration = start.map_or_else(String::new, |s| human_duration(end - s));
            let (names, images) = container_names_and_images(
                object
                    .pointer("/spec/template/spec")
                    .unwrap_or(&Value::Null),
            );
            vec![
                name,
                json!(format!("{succeeded}/{completions}")),
                json!(duration),
                json!(age(object)),
                json!(names),
                json!(images),
                json!(selector_text(object)),
            ]
        }
        "Deployment" => {
            let number = |p: &str| object.pointer(p).and_then(Value::as_i64).unwrap_or(0);
            let (names, images) = container_names_and_images(
                object
                    .pointer("/spec/template/spec")
                    .unwrap_or(&Value::Null),
            );
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    number("/status/readyReplicas"),
                    number("/spec/replicas")
                )),
                json!(number("/status/updatedReplicas")),
                json!(number("/status/availableReplicas")),
                json!(age(object)),
                json!(names),
                json!(images),
                json!(selector_text(object)),
            ]
        }
        "StatefulSet" => {
            let number = |p: &str| object.pointer(p).and_then(Value::as_i64).unwrap_or(0);
            let (names, images) = container_names_and_images(
                object
                    .pointer("/spec/template/spec")
                    .unwrap_or(&Value::Null),
            );
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    number("/status/readyReplicas"),
                    number("/spec/replicas")
                )),
                json!(age(object)),
                json!(names),
                json!(images),
            ]
        }
        "Node" => {
            let ready = items(object, "/status/conditions")
                .iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True");
            let mut status = if ready { "Ready" } else { "NotReady" }.to_string();
            if object.pointer("/spec/unschedulable") == Some(&json!(true)) {
                status.push_str(",SchedulingDisabled");
            }
            let address = |kind: &str| {
                items(object, "/status/addresses")
                    .iter()
                    .find(|a| a["type"] == kind)
                    .map_or_else(|| "<none>".to_string(), |a| text(a, "/address").to_string())
            };
            vec![
                name,
                json!(status),
                json!("<none>"),
                json!(age(object)),
                json!(text(object, "/status/nodeInfo/kubeletVersion")),
                json!(address("InternalIP")),
                json!(address("ExternalIP")),
                json!(text(object, "/status/nodeInfo/osImage")),
                json!(text(object, "/status/nodeInfo/kernelVersion")),
                json!(text(object, "/status/nodeInfo/containerRuntimeVersion")),
            ]
        }
        "StorageClass" => {
            let annotations = object.pointer("/metadata/annotations");
            let is_default = [
                "storageclass.kubernetes.io/is-default-class",
                "storageclass.beta.kubernetes.io/is-default-class",
            ]
            .iter()
            .any(|a| annotations.and_then(|m| m.get(*a)).and_then(Value::as_str) == Some("true"));
            let shown = if is_default {
                format!("{} (default)", text(object, "/metadata/name"))
            } else {
                text(object, "/metadata/name").to_string()
            };
            vec![
                json!(shown),
                json!(text(object, "/provisioner")),
                json!(age(object)),
            ]
        }
        "PersistentVolumeClaim" => {
            let bound = text(object, "/status/phase") == "Bound";
            let modes: Vec<&str> = items(object, "/status/accessModes")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            let short_modes: Vec<&str> = modes
                .iter()
                .map(|m| match *m {
                    "ReadWriteOnce" => "RWO",
                    "ReadOnlyMany" => "ROX",
                    "ReadWriteMany" => "RWX",
                    other => other,
                })
                .collect();
            vec![
                name,
                json!(text(object, "/status/phase")),
                json!(text(object, "/spec/volumeName")),
                json!(if bound {
                    text(object, "/status/capacity/storage")
                } else {
                    ""
                }),
                json!(short_modes.join(",")),
                json!(text(object, "/spec/storageClassName")),
                json!(age(object)),
            ]
        }
        "Secret" => {
            let entries = object
                .get("data")
                .and_then(Value::as_object)
                .map_or(0, |d| d.len());
            vec![
                name,
                json!(text(object, "/type")),
                json!(entries),
                json!(age(object)),
            ]
        }
        _ => vec![name, json!(age(object))],
    }
}

/// A Table of these objects, serialised straight from the stored objects (no copies).
pub fn table(
    resource: &Resource,
    objects: &[&Value],
    include: IncludeObject,
    metadata: Value,
) -> Vec<u8> {
    let rows: Vec<Row> = objects
        .iter()
        .map(|object| Row {
            cells: cells(resource, object),
            object: match include {
                IncludeObject::None => None,
                IncludeObject::Metadata => Some(RowObject::Metadata(PartialObjectMetadata {
                    kind: "PartialObjectMetadata",
                    api_version: "meta.k8s.io/v1",
                    metadata: object.get("metadata").unwrap_or(&Value::Null),
                })),
                IncludeObject::Object => Some(RowObject::Object(object)),
            },
        })
        .collect();
    let body = TableBody {
        kind: "Table",
        api_version: "meta.k8s.io/v1",
        metadata,
        column_definitions: columns(resource),
        rows,
    };
    serde_json::to_vec(&body).expect("JSON serialises")
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct TableBody<'a> {
    kind: &'static str,
    api_version: &'static str,
    metadata: Value,
    column_definitions: Vec<Value>,
    rows: Vec<Row<'a>>,
}

#[derive(serde::Serialize)]
struct Row<'a> {
    cells: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    object: Option<RowObject<'a>>,
}

#[derive(serde::Serialize)]
#[serde(untagged)]
enum RowObject<'a> {
    Metadata(PartialObjectMetadata<'a>),
    Object(&'a Value),
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct PartialObjectMetadata<'a> {
    kind: &'static str,
    api_version: &'static str,
    metadata: &'a Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(status: Value) -> Value {
        json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}, {"name": "b"}], "initContainers": [{"name": "i"}]}, "status": status})
    }

    #[test]
    fn pod_columns_follow_kubectl_printers() {
        let running = pod(json!({"phase": "Running", "containerStatuses": [
            {"ready": true, "restartCount": 1, "state": {"running": {}}},
            {"ready": false, "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}));
        assert_eq!(
            pod_status(&running),
            ("1/2".into(), "CrashLoopBackOff".into(), 5)
        );
        let init = pod(json!({"phase": "Pending", "initContainerStatuses": [
            {"restartCount": 0, "state": {"running": {}}}]}));
        assert_eq!(pod_status(&init).1, "Init:0/1");
        let completed = pod(json!({"phase": "Succeeded", "containerStatuses": [
            {"ready": false, "restartCount": 0, "state": {"terminated": {"reason": "Completed", "exitCode": 0}}}]}));
        assert_eq!(
            pod_status(&completed),
            ("0/2".into(), "Completed".into(), 0)
        );
        let evicted = pod(json!({"phase": "Failed", "reason": "Evicted"}));
        assert_eq!(pod_status(&evicted).1, "Evicted");
    }
}
