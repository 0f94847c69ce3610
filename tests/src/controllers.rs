//! What the control plane does beside the API: admission defaults, immutable fields, the Job
//! controller running scripted upgrader pods, PVC binding, ServiceAccount tokens, and the
//! platform's move between versions.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use crate::helm::{decode_release, Release};
use crate::resources::Resource;
use crate::scenario::{JobScript, ReleaseMove, TaskResult, TaskSpec, TransitionSpec};
use crate::seed::{image_repository, NODES};
use crate::server::Shared;
use crate::store::{str_at, ApiError};
use crate::time::now_rfc3339;

pub const UPGRADE_JOB: &str = "upgrade-astronomer";
pub const ROLLBACK_JOB: &str = "rollback-astronomer";

fn resource(api_version: &str, kind: &str) -> &'static Resource {
    Resource::by_kind(api_version, kind).expect("kube-sim serves its own kinds")
}

/// Defaults and validation the API server applies on create (admission + defaulting).
pub fn defaults_on_create(
    shared: &Shared,
    served: &Resource,
    object: &mut Value,
    uid: &str,
) -> Result<(), ApiError> {
    let name = str_at(object, "/metadata/name");
    match served.kind {
        "Job" => {
            if str_at(object, "/spec/template/spec/restartPolicy").is_empty() {
                return Err(ApiError::invalid(
                    served,
                    &name,
                    "spec.template.spec.restartPolicy",
                    "Required value: valid values: \"OnFailure\", \"Never\"",
                ));
            }
            let manual = object.pointer("/spec/manualSelector") == Some(&json!(true));
            if !manual {
                object["spec"]["selector"] = json!({"matchLabels": {"controller-uid": uid}});
                let labels = &mut object["spec"]["template"]["metadata"]["labels"];
                if !labels.is_object() {
                    *labels = json!({});
                }
                labels["controller-uid"] = json!(uid);
                labels["job-name"] = json!(name);
            }
            let spec = &mut object["spec"];
            for (field, default) in [("completions", 1), ("parallelism", 1), ("backoffLimit", 6)] {
                if spec.get(field).is_none() {
                    spec[field] = json!(default);
                }
            }
            object["metadata"]["generation"] = json!(1);
            object["status"] = json!({});
        }
        "Pod" if object.pointer("/status/phase").is_none() => {
            object["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
        }
        "PersistentVolumeClaim" => {
            if object.pointer("/spec/storageClassName").is_none() {
                if let Some(class) = shared.default_storage_class() {
                    object["spec"]["storageClassName"] = json!(class);
                }
            }
            object["spec"]["volumeMode"] = json!("Filesystem");
            object["status"] = json!({"phase": "Pending"});
        }
        "Namespace" => {
            object["spec"] = json!({"finalizers": ["kubernetes"]});
            object["status"] = json!({"phase": "Active"});
        }
        "Deployment" | "StatefulSet" => {
            object["metadata"]["generation"] = json!(1);
        }
        _ => {}
    }
    Ok(())
}

/// 422 for changes to fields the real API server refuses to change.
pub fn check_immutable(served: &Resource, old: &Value, new: &Value) -> Result<(), ApiError> {
    let name = str_at(old, "/metadata/name");
    let immutable: &[(&str, &str)] = match served.kind {
        "Job" => &[
            ("/spec/selector", "spec.selector"),
            ("/spec/template", "spec.template"),
        ],
        "ClusterRoleBinding" => &[("/roleRef", "roleRef")],
        "PersistentVolumeClaim" => &[
            ("/spec/accessModes", "spec.accessModes"),
            ("/spec/storageClassName", "spec.storageClassName"),
            ("/spec/volumeName", "spec.volumeName"),
        ],
        _ => &[],
    };
    for (pointer, field) in immutable {
        let new_value = new.pointer(pointer).cloned().unwrap_or(Value::Null);
        if old.pointer(pointer).cloned().unwrap_or(Value::Null) != new_value {
            return Err(ApiError::immutable(served, &name, field, &new_value));
        }
    }
    Ok(())
}

/// Starts what a newly created object sets in motion.
pub fn after_create(shared: &Arc<Shared>, served: &Resource, object: &Value) {
    match served.kind {
        "Job" => {
            let shared2 = shared.clone();
            let job = object.clone();
            shared.spawn(async move { run_job(shared2, job).await });
        }
        "PersistentVolumeClaim" => {
            let shared2 = shared.clone();
            let pvc = object.clone();
            shared.spawn(async move { bind_claim(shared2, pvc).await });
        }
        "ServiceAccount" => create_token(shared, object),
        "Pod" => crate::backup_pod::on_create(shared, object),
        _ => {}
    }
}

/// Records an Event about an object, as the controller or kubelet named by `component` would.
fn event(
    shared: &Shared,
    involved: &Value,
    warning: bool,
    reason: &str,
    message: &str,
    component: &str,
) {
    let namespace = str_at(involved, "/metadata/namespace");
    let name = str_at(involved, "/metadata/name");
    let now = now_rfc3339();
    let event = json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": format!("{name}.{:016x}", shared.event_counter()), "namespace": namespace},
        "involvedObject": {
            "apiVersion": involved["apiVersion"], "kind": involved["kind"], "namespace": namespace, "name": name,
            "uid": str_at(involved, "/metadata/uid"), "resourceVersion": str_at(involved, "/metadata/resourceVersion"),
        },
        "reason": reason, "message": message, "source": {"component": component},
        "firstTimestamp": now, "lastTimestamp": now, "count": 1,
        "type": if warning { "Warning" } else { "Normal" },
        "eventTime": null, "reportingComponent": "", "reportingInstance": "",
    });
    let _ = shared
        .store
        .lock()
        .expect("store lock")
        .create(resource("v1", "Event"), event);
}

fn create_token(shared: &Shared, account: &Value) {
    let namespace = str_at(account, "/metadata/namespace");
    let name = str_at(account, "/metadata/name");
    let secret_name = format!("{name}-token-{}", shared.suffix(5));
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
        "metadata": {"name": secret_name, "namespace": namespace, "annotations": {
            "kubernetes.io/service-account.name": name,
            "kubernetes.io/service-account.uid": str_at(account, "/metadata/uid"),
        }},
        "data": {"namespace": STANDARD.encode(&namespace), "token": STANDARD.encode("kube-sim-token")},
    });
    let mut store = shared.store.lock().expect("store lock");
    if store.create(resource("v1", "Secret"), secret).is_err() {
        return;
    }
    let sa = resource("v1", "ServiceAccount");
    if let Some(mut current) = store.get(sa, &namespace, &name).cloned() {
        let secrets = current["secrets"].as_array().cloned().unwrap_or_default();
        let mut secrets = secrets;
        secrets.push(json!({"name": secret_name}));
        current["secrets"] = json!(secrets);
        let _ = store.update(sa, current);
    }
}

async fn bind_claim(shared: Arc<Shared>, pvc: Value) {
    let class = str_at(&pvc, "/spec/storageClassName");
    let class_exists = !class.is_empty()
        && shared
            .store
            .lock()
            .expect("store lock")
            .get(resource("storage.k8s.io/v1", "StorageClass"), "", &class)
            .is_some();
    if !class_exists {
        let message = if class.is_empty() {
            "no persistent volumes available for this claim and no storage class is set".to_string()
        } else {
            format!("storageclass.storage.k8s.io \"{class}\" not found")
        };
        let warning = !class.is_empty();
        let reason = if warning {
            "ProvisioningFailed"
        } else {
            "FailedBinding"
        };
        event(
            &shared,
            &pvc,
            warning,
            reason,
            &message,
            "persistentvolume-controller",
        );
        return;
    }
    if shared.scenario.pvc_never_binds {
        let message = format!(
            "Failed to provision volume with StorageClass \"{class}\": error querying for all zones: no instances returned"
        );
        event(
            &shared,
            &pvc,
            true,
            "ProvisioningFailed",
            &message,
            "persistentvolume-controller",
        );
        return;
    }
    shared.sleep(1.0).await;
    let namespace = str_at(&pvc, "/metadata/namespace");
    let name = str_at(&pvc, "/metadata/name");
    let uid = str_at(&pvc, "/metadata/uid");
    shared.modify(
        resource("v1", "PersistentVolumeClaim"),
        &namespace,
        &name,
        |claim| {
            if str_at(claim, "/metadata/uid") != uid {
                return false;
            }
            claim["spec"]["volumeName"] = json!(format!("pvc-{uid}"));
            let storage = claim
                .pointer("/spec/resources/requests/storage")
                .cloned()
                .unwrap_or(json!("1Gi"));
            let modes = claim
                .pointer("/spec/accessModes")
                .cloned()
                .unwrap_or(json!(["ReadWriteOnce"]));
            claim["status"] =
                json!({"phase": "Bound", "accessModes": modes, "capacity": {"storage": storage}});
            true
        },
    );
}

fn default_script(job_name: &str) -> JobScript {
    let task = |name: &str| TaskSpec {
        name: name.into(),
        duration_s: 1.0,
        result: TaskResult::Ok,
        output: vec![],
        message: None,
        cmd: None,
        stderr: None,
        rc: None,
        retries: None,
        retrying: 0,
    };
    JobScript {
        pending_s: 1.0,
        creating_s: 2.0,
        image_pull_fails: false,
        tasks_from: None,
        tasks: vec![task(&format!("Run {job_name}"))],
        overrides: vec![],
        fail_at: None,
        exit_code: 2,
        on_success: None,
        on_failure: None,
    }
}

/// The result Ansible prints for a failed task: a module's `{"changed": false, "msg": ...}`, or a
/// shell task's command result; `attempts` when an `until` loop ran out of retries.
fn fatal_result(task: &TaskSpec) -> Value {
    let mut result = match &task.cmd {
        Some(cmd) => {
            // The command ran for the task's simulated duration, up to now.
            let end = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_micros() as i64;
            let start = end - (task.duration_s.max(0.0) * 1e6).round() as i64;
            let stderr = task.stderr.clone().unwrap_or_default();
            json!({
                "changed": true,
                "cmd": cmd,
                "delta": ansible_delta(task.duration_s),
                "end": ansible_time(end),
                "msg": task.message.as_deref().unwrap_or("non-zero return code"),
                "rc": task.rc.unwrap_or(1),
                "start": ansible_time(start),
                "stderr": stderr,
                "stderr_lines": stderr.lines().collect::<Vec<_>>(),
                "stdout": "",
                "stdout_lines": [],
            })
        }
        None => json!({"changed": false, "msg": task.message.as_deref().unwrap_or_default()}),
    };
    if task.retrying > 0 {
        result["attempts"] = json!(task.retrying + 1);
    }
    result
}

/// JSON as Python's `json.dumps` writes it for Ansible's callback: keys sorted (serde_json's map
/// is ordered), `", "` and `": "` separators, non-ASCII kept.
fn ansible_json(value: &Value) -> String {
    match value {
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(ansible_json).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let entries: Vec<String> = map
                .iter()
                .map(|(key, value)| {
                    format!("{}: {}", Value::from(key.as_str()), ansible_json(value))
                })
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
        scalar => scalar.to_string(),
    }
}

/// `2021-06-01 10:00:00.123456` for microseconds since the epoch, as Ansible's command module
/// writes `start` and `end`.
fn ansible_time(micros: i64) -> String {
    let stamp = crate::time::rfc3339(micros.div_euclid(1_000_000));
    format!(
        "{} {}.{:06}",
        &stamp[..10],
        &stamp[11..19],
        micros.rem_euclid(1_000_000)
    )
}

/// `0:01:30.000000` for 90 seconds, as Ansible's command module writes `delta`.
fn ansible_delta(seconds: f64) -> String {
    let micros = (seconds.max(0.0) * 1e6).round() as u64;
    let whole = micros / 1_000_000;
    format!(
        "{}:{:02}:{:02}.{:06}",
        whole / 3600,
        whole / 60 % 60,
        whole % 60,
        micros % 1_000_000
    )
}

fn task_header(kind: &str, name: &str) -> String {
    let head = format!("{kind} [{name}] ");
    let stars = 79usize.saturating_sub(head.chars().count()).max(3);
    format!("{head}{}", "*".repeat(stars))
}

/// The probe container's variable naming the URLs it tests (the executor's contract with its
/// probe script).
const PROBE_URLS_ENV: &str = "ASTRO_UPGRADE_EGRESS_URLS";

/// The value of environment variable `name` of a container.
fn env_value(container: &Value, name: &str) -> Option<String> {
    container
        .get("env")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|var| var.get("name").and_then(Value::as_str) == Some(name))
        .and_then(|var| var.get("value").and_then(Value::as_str))
        .map(str::to_string)
}

/// What the probe script prints for `url`: `astro-upgrade egress URL: ` and the first line
/// `curl -sSI` prints — curl's DNS error for an unreachable host (or one under it), else an
/// HTTP/2 status line.
fn probe_line(unreachable: &[String], url: &str) -> String {
    let host = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split(['/', ':'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let blocked = unreachable.iter().any(|blocked| {
        let blocked = blocked.to_ascii_lowercase();
        host == blocked || host.ends_with(&format!(".{blocked}"))
    });
    let first = if blocked {
        format!("curl: (6) Could not resolve host: {host}")
    } else if url.contains("/v2/") {
        "HTTP/2 401".to_string()
    } else {
        "HTTP/2 200".to_string()
    };
    format!("astro-upgrade egress {url}: {first}")
}

/// The Ansible variables the upgrader's image passes to its playbook: the container's own
/// `command` when it has one (its `-e` arguments, each `key=value …`), else the image's
/// entrypoint `ansible-playbook -e "USE_INTERNAL_HELM_REPO=$USE_INTERNAL_HELM_REPO" …` with its
/// `ENV USE_INTERNAL_HELM_REPO False` unless the container sets it. An environment variable is
/// not an Ansible variable.
fn ansible_extra_vars(container: &Value) -> Vec<(String, String)> {
    let arguments: Vec<String> = match container.get("command").and_then(Value::as_array) {
        Some(command) => {
            let words: Vec<&str> = command.iter().filter_map(Value::as_str).collect();
            words
                .windows(2)
                .filter(|pair| pair[0] == "-e" || pair[0] == "--extra-vars")
                .map(|pair| pair[1].to_string())
                .collect()
        }
        None => {
            let helm_repo = env_value(container, "USE_INTERNAL_HELM_REPO")
                .unwrap_or_else(|| "False".to_string());
            vec![format!("USE_INTERNAL_HELM_REPO={helm_repo}")]
        }
    };
    arguments
        .iter()
        .flat_map(|argument| argument.split_whitespace())
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, value)| (key.to_string(), value.trim_matches(['"', '\'']).to_string()))
        .collect()
}

/// Ansible's `| bool` of a string.
fn ansible_bool(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "yes" | "on" | "1" | "true" | "y" | "t"
    )
}

/// Steps (5/6) and (6/6) run `when: (DISABLE_UPGRADE_DEPLOYMENT is not defined) or not
/// (DISABLE_UPGRADE_DEPLOYMENT | bool)`: with the variable true they print `skipping`.
fn skip_deployment_upgrades(script: &mut JobScript, container: &Value) {
    let disabled = ansible_extra_vars(container)
        .iter()
        .any(|(key, value)| key == "DISABLE_UPGRADE_DEPLOYMENT" && ansible_bool(value));
    if !disabled {
        return;
    }
    for task in &mut script.tasks {
        if task.name.starts_with("(5/6) ") || task.name.starts_with("(6/6) ") {
            task.result = TaskResult::Skipped;
            task.duration_s = 0.1;
        }
    }
}

struct PodRef {
    namespace: String,
    name: String,
}

/// Runs a Job: one pod through Pending → ContainerCreating → Running → Succeeded/Failed.
async fn run_job(shared: Arc<Shared>, job: Value) {
    let namespace = str_at(&job, "/metadata/namespace");
    let job_name = str_at(&job, "/metadata/name");
    let job_uid = str_at(&job, "/metadata/uid");
    let mut script = match job_name.as_str() {
        UPGRADE_JOB => {
            shared.mark_upgrade_job_created();
            shared.scenario.upgrade.clone()
        }
        ROLLBACK_JOB => shared.scenario.rollback.clone(),
        _ => shared.scenario.other_jobs.clone(),
    }
    .unwrap_or_else(|| default_script(&job_name));
    let container = job
        .pointer("/spec/template/spec/containers/0")
        .cloned()
        .unwrap_or(Value::Null);
    if job_name == UPGRADE_JOB {
        skip_deployment_upgrades(&mut script, &container);
    }
    // The executor's probe runs a shell script, not the playbook: what its curl prints.
    let probe_lines = env_value(&container, PROBE_URLS_ENV).map(|urls| {
        urls.split_whitespace()
            .map(|url| probe_line(&shared.scenario.unreachable_hosts, url))
            .collect::<Vec<String>>()
    });

    let jobs = resource("batch/v1", "Job");
    let pods = resource("v1", "Pod");
    let pod_name = format!("{job_name}-{}", shared.suffix(5));
    let mut template = job.pointer("/spec/template").cloned().unwrap_or(json!({}));
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": pod_name, "namespace": namespace,
            "labels": template["metadata"]["labels"].take(),
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": job_name, "uid": job_uid,
                                  "controller": true, "blockOwnerDeletion": true}],
        },
        "spec": template["spec"].take(),
        "status": {"phase": "Pending", "qosClass": "BestEffort"},
    });
    pod["spec"]["schedulerName"] = json!("default-scheduler");
    let created = shared.store.lock().expect("store lock").create(pods, pod);
    let Ok(pod) = created else { return };
    event(
        &shared,
        &job,
        false,
        "SuccessfulCreate",
        &format!("Created pod: {pod_name}"),
        "job-controller",
    );
    let pod_ref = PodRef {
        namespace: namespace.clone(),
        name: pod_name.clone(),
    };
    let containers: Vec<(String, String)> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| (str_at(c, "/name"), str_at(c, "/image")))
                .collect()
        })
        .unwrap_or_default();
    shared.logs_open(&namespace, &pod_name);
    let started = now_rfc3339();
    let job_alive = |shared: &Shared| {
        shared
            .store
            .lock()
            .expect("store lock")
            .get(jobs, &namespace, &job_name)
            .is_some_and(|j| str_at(j, "/metadata/uid") == job_uid)
    };
    let set_job_status = |shared: &Shared, status: Value| {
        shared.modify(jobs, &namespace, &job_name, |job| {
            if str_at(job, "/metadata/uid") != job_uid {
                return false;
            }
            job["status"] = status.clone();
            true
        })
    };
    set_job_status(&shared, json!({"active": 1, "startTime": started}));

    shared.sleep(script.pending_s).await;
    // The scheduler waits for the pod's claims to bind.
    let mut scheduling_reported = false;
    while has_unbound_claim(&shared, &pod) {
        let message = "pod has unbound immediate PersistentVolumeClaims (repeated 2 times)";
        let alive = update_pod(&shared, &pod_ref, |p| {
            p["status"]["conditions"] = json!([{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": message, "lastProbeTime": null, "lastTransitionTime": started}]);
        });
        if !alive || !job_alive(&shared) {
            return;
        }
        if !scheduling_reported {
            scheduling_reported = true;
            event(
                &shared,
                &pod,
                true,
                "FailedScheduling",
                message,
                "default-scheduler",
            );
        }
        shared.sleep(2.0).await;
    }
    let node = NODES[0];
    let waiting = |reason: &str, message: &str| -> Vec<Value> {
        containers
            .iter()
            .map(|(name, image)| json!({"name": name, "image": image, "imageID": "", "ready": false,
                "restartCount": 0, "started": false, "state": {"waiting": {"reason": reason, "message": message}}}))
            .collect()
    };
    if !update_pod(&shared, &pod_ref, |p| {
        p["spec"]["nodeName"] = json!(node);
        p["status"] = json!({"phase": "Pending", "hostIP": "10.0.1.23", "startTime": started, "qosClass": "BestEffort",
            "conditions": [
                {"type": "Initialized", "status": "True", "lastProbeTime": null, "lastTransitionTime": started},
                {"type": "Ready", "status": "False", "reason": "ContainersNotReady", "lastProbeTime": null, "lastTransitionTime": started},
                {"type": "ContainersReady", "status": "False", "reason": "ContainersNotReady", "lastProbeTime": null, "lastTransitionTime": started},
                {"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": started}],
            "containerStatuses": waiting("ContainerCreating", "")});
    }) {
        return;
    }
    event(
        &shared,
        &pod,
        false,
        "Scheduled",
        &format!("Successfully assigned {namespace}/{pod_name} to {node}"),
        "default-scheduler",
    );
    let first_image = containers
        .first()
        .map(|(_, i)| i.clone())
        .unwrap_or_default();
    event(
        &shared,
        &pod,
        false,
        "Pulling",
        &format!("Pulling image \"{first_image}\""),
        "kubelet",
    );
    shared.sleep(script.creating_s).await;

    if script.image_pull_fails {
        let image = containers
            .first()
            .map(|(_, i)| i.clone())
            .unwrap_or_default();
        let mut back_off = false;
        let mut reported: Vec<&str> = Vec::new();
        loop {
            let (reason, message) = if back_off {
                (
                    "ImagePullBackOff",
                    format!("Back-off pulling image \"{image}\""),
                )
            } else {
                ("ErrImagePull", "rpc error: code = Unknown desc = Error response from daemon: Get https://quay.io/v2/: net/http: request canceled while waiting for connection (Client.Timeout exceeded while awaiting headers)".to_string())
            };
            if !update_pod(&shared, &pod_ref, |p| {
                p["status"]["containerStatuses"] = json!(waiting(reason, &message))
            }) {
                return;
            }
            // Events are written once each; the real ones only count up.
            if !reported.contains(&reason) {
                reported.push(reason);
                if back_off {
                    let back_off_message = format!("Back-off pulling image \"{image}\"");
                    event(
                        &shared,
                        &pod,
                        false,
                        "BackOff",
                        &back_off_message,
                        "kubelet",
                    );
                    event(
                        &shared,
                        &pod,
                        true,
                        "Failed",
                        "Error: ImagePullBackOff",
                        "kubelet",
                    );
                } else {
                    let failed = format!("Failed to pull image \"{image}\": {message}");
                    event(&shared, &pod, true, "Failed", &failed, "kubelet");
                    event(
                        &shared,
                        &pod,
                        true,
                        "Failed",
                        "Error: ErrImagePull",
                        "kubelet",
                    );
                }
            }
            back_off = !back_off;
            shared.sleep(if back_off { 5.0 } else { 20.0 }).await;
        }
    }

    event(
        &shared,
        &pod,
        false,
        "Pulled",
        &format!("Successfully pulled image \"{first_image}\""),
        "kubelet",
    );
    for (name, _) in &containers {
        event(
            &shared,
            &pod,
            false,
            "Created",
            &format!("Created container {name}"),
            "kubelet",
        );
        event(
            &shared,
            &pod,
            false,
            "Started",
            &format!("Started container {name}"),
            "kubelet",
        );
    }
    let ip = shared.pod_ip();
    let running_at = now_rfc3339();
    let running: Vec<Value> = containers
        .iter()
        .map(|(name, image)| json!({"name": name, "image": image,
            "imageID": format!("docker-pullable://{}@sha256:{:064x}", image_repository(image), 23),
            "containerID": format!("docker://{:064x}", name.len() + 7),
            "ready": true, "restartCount": 0, "started": true, "state": {"running": {"startedAt": running_at}}}))
        .collect();
    if !update_pod(&shared, &pod_ref, |p| {
        p["status"]["phase"] = json!("Running");
        p["status"]["podIP"] = json!(ip);
        p["status"]["podIPs"] = json!([{"ip": ip}]);
        p["status"]["containerStatuses"] = json!(running);
        for condition in p["status"]["conditions"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            if condition["type"] == "Ready" || condition["type"] == "ContainersReady" {
                condition["status"] = json!("True");
                condition.as_object_mut().map(|c| c.remove("reason"));
            }
        }
    }) {
        return;
    }

    let log = |line: String| shared.log_line(&namespace, &pod_name, line);
    let (mut ok, mut changed, mut failed, mut skipped) = (0, 0, 0, 0);
    if let Some(lines) = &probe_lines {
        for line in lines {
            shared.sleep(0.5).await;
            log(line.clone());
        }
    } else {
        log(String::new());
        log(task_header("PLAY", "localhost"));
    }
    for task in script.tasks.iter().filter(|_| probe_lines.is_none()) {
        log(String::new());
        log(task_header("TASK", &task.name));
        // An `until` loop: each failed attempt prints a RETRYING line, then the last attempt's result.
        let attempts = f64::from(task.retrying + 1);
        for attempt in 1..=task.retrying {
            shared.sleep(task.duration_s / attempts).await;
            if !job_alive(&shared) {
                shared.logs_close(&namespace, &pod_name);
                return;
            }
            let left = task.retries.unwrap_or(task.retrying) + 1 - attempt;
            log(format!(
                "FAILED - RETRYING: {} ({left} retries left).",
                task.name
            ));
        }
        shared.sleep(task.duration_s / attempts).await;
        if !job_alive(&shared) {
            shared.logs_close(&namespace, &pod_name);
            return;
        }
        for line in &task.output {
            log(line.clone());
        }
        match task.result {
            TaskResult::Ok => {
                ok += 1;
                log("ok: [localhost]".into());
            }
            TaskResult::Changed => {
                ok += 1;
                changed += 1;
                log("changed: [localhost]".into());
            }
            TaskResult::Skipped => {
                skipped += 1;
                log("skipping: [localhost]".into());
            }
            TaskResult::Fatal => {
                failed += 1;
                let details = fatal_result(task);
                log(format!(
                    "fatal: [localhost]: FAILED! => {}",
                    ansible_json(&details)
                ));
                break;
            }
        }
    }
    if probe_lines.is_none() {
        log(String::new());
        log(task_header("PLAY RECAP", "").replace("PLAY RECAP [] ", "PLAY RECAP "));
        log(format!(
            "{:<27}: ok={ok:<4} changed={changed:<4} unreachable=0    failed={failed:<4} skipped={skipped:<4} rescued=0    ignored=0   ",
            "localhost"
        ));
        log(String::new());
    }
    shared.logs_close(&namespace, &pod_name);

    let success = failed == 0;
    let finished_at = now_rfc3339();
    let (exit_code, reason) = if success {
        (0, "Completed")
    } else {
        (script.exit_code, "Error")
    };
    let terminated: Vec<Value> = containers
        .iter()
        .map(|(name, image)| {
            json!({"name": name, "image": image, "imageID": "", "ready": false, "restartCount": 0,
            "started": false, "state": {"terminated": {"exitCode": exit_code, "reason": reason,
            "startedAt": running_at, "finishedAt": finished_at}}})
        })
        .collect();
    if !update_pod(&shared, &pod_ref, |p| {
        p["status"]["phase"] = json!(if success { "Succeeded" } else { "Failed" });
        p["status"]["containerStatuses"] = json!(terminated);
        for condition in p["status"]["conditions"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            if condition["type"] == "Ready" || condition["type"] == "ContainersReady" {
                condition["status"] = json!("False");
                condition["reason"] = json!("PodCompleted");
            }
        }
    }) {
        return;
    }
    let condition = if success {
        json!({"type": "Complete", "status": "True", "lastProbeTime": finished_at, "lastTransitionTime": finished_at})
    } else {
        json!({"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
               "message": "Job has reached the specified backoff limit",
               "lastProbeTime": finished_at, "lastTransitionTime": finished_at})
    };
    let mut status = json!({"startTime": started, "conditions": [condition]});
    if success {
        status["succeeded"] = json!(1);
        status["completionTime"] = json!(finished_at);
    } else {
        status["failed"] = json!(1);
    }
    let transition = if success {
        &script.on_success
    } else {
        &script.on_failure
    };
    if let Some(transition) = transition {
        apply_transition(&shared, transition, &job_name);
    }
    set_job_status(&shared, status);
}

fn has_unbound_claim(shared: &Shared, pod: &Value) -> bool {
    let namespace = str_at(pod, "/metadata/namespace");
    let store = shared.store.lock().expect("store lock");
    pod.pointer("/spec/volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| {
            v.pointer("/persistentVolumeClaim/claimName")
                .and_then(Value::as_str)
        })
        .any(|claim| {
            store
                .get(resource("v1", "PersistentVolumeClaim"), &namespace, claim)
                .is_none_or(|c| str_at(c, "/status/phase") != "Bound")
        })
}

fn update_pod(shared: &Shared, pod: &PodRef, change: impl FnOnce(&mut Value)) -> bool {
    let mut change = Some(change);
    shared.modify(resource("v1", "Pod"), &pod.namespace, &pod.name, |p| {
        if let Some(change) = change.take() {
            change(p);
        }
        true
    })
}

/// The platform moves to another version: images swap, pods restart, a Helm revision is written.
fn apply_transition(shared: &Shared, transition: &TransitionSpec, job_name: &str) {
    let mapped = |image: &str| transition.images.get(image_repository(image)).cloned();
    let mut store = shared.store.lock().expect("store lock");
    for kind in ["Deployment", "StatefulSet"] {
        let served = resource("apps/v1", kind);
        let workloads: Vec<Value> = store.range(served, None, None).cloned().collect();
        for mut workload in workloads {
            let mut changed = false;
            for container in workload
                .pointer_mut("/spec/template/spec/containers")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if let Some(new_image) = mapped(&str_at(container, "/image")) {
                    container["image"] = json!(new_image);
                    changed = true;
                }
            }
            if changed {
                // The rollout finishes at once, so `kubectl rollout status` sees it observed.
                let generation = workload
                    .pointer("/metadata/generation")
                    .and_then(Value::as_i64);
                workload["status"]["observedGeneration"] = json!(generation.unwrap_or(1) + 1);
                let _ = store.update(served, workload);
            }
        }
    }
    let pods = resource("v1", "Pod");
    let restarting: Vec<Value> = store
        .range(pods, None, None)
        .filter(|pod| {
            pod.pointer("/spec/containers")
                .and_then(Value::as_array)
                .is_some_and(|cs| cs.iter().any(|c| mapped(&str_at(c, "/image")).is_some()))
        })
        .cloned()
        .collect();
    for old in restarting {
        let namespace = str_at(&old, "/metadata/namespace");
        let old_name = str_at(&old, "/metadata/name");
        let _ = store.delete(pods, &namespace, &old_name);
        let mut pod = old.clone();
        let base = old_name
            .rsplit_once('-')
            .map_or(old_name.as_str(), |(b, _)| b);
        let is_ordinal = old_name
            .rsplit('-')
            .next()
            .is_some_and(|s| s.chars().all(|c| c.is_ascii_digit()));
        let new_name = if is_ordinal {
            old_name.clone()
        } else {
            format!("{base}-{}", shared.suffix(5))
        };
        let now = now_rfc3339();
        if let Some(meta) = pod["metadata"].as_object_mut() {
            meta.insert("name".into(), json!(new_name));
            meta.insert("creationTimestamp".into(), json!(now));
            meta.remove("uid");
            meta.remove("resourceVersion");
        }
        for container in pod["spec"]["containers"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            if let Some(new_image) = mapped(&str_at(container, "/image")) {
                container["image"] = json!(new_image);
            }
        }
        let images: Vec<(String, String)> = pod["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| (str_at(c, "/name"), str_at(c, "/image")))
            .collect();
        for status in pod["status"]["containerStatuses"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            let name = str_at(status, "/name");
            if let Some((_, image)) = images.iter().find(|(n, _)| *n == name) {
                status["image"] = json!(image);
            }
            status["restartCount"] = json!(0);
            status["state"] = json!({"running": {"startedAt": now}});
            status["ready"] = json!(true);
        }
        pod["status"]["startTime"] = json!(now);
        // The replacement is a fresh pod that runs: whatever the old one was (crash-looping,
        // evicted, being deleted), the new one is Running and Ready.
        pod["status"]["phase"] = json!("Running");
        if let Some(status) = pod["status"].as_object_mut() {
            status.remove("reason");
            status.remove("message");
        }
        if let Some(meta) = pod["metadata"].as_object_mut() {
            meta.remove("deletionTimestamp");
            meta.remove("deletionGracePeriodSeconds");
        }
        for condition in pod["status"]["conditions"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            condition["status"] = json!("True");
            condition["lastTransitionTime"] = json!(now);
        }
        let _ = store.create(pods, pod);
    }

    drop(store);
    for release in &transition.releases {
        write_revision(shared, release, job_name);
    }
}

/// Writes the release's next revision. A `deployed` one supersedes every deployed revision (as
/// Helm 3's upgrade and rollback do); a `failed` one leaves the earlier revisions as they are.
fn write_revision(shared: &Shared, transition: &ReleaseMove, job_name: &str) {
    let mut store = shared.store.lock().expect("store lock");
    let secrets = resource("v1", "Secret");
    let revision_of = |s: &Value| {
        str_at(s, "/metadata/labels/version")
            .parse::<u32>()
            .unwrap_or(0)
    };
    let mut revisions: Vec<(Value, Value)> = store
        .range(secrets, Some(&transition.namespace), None)
        .filter(|s| {
            s.pointer("/metadata/labels/owner").and_then(Value::as_str) == Some("helm")
                && s.pointer("/metadata/labels/name").and_then(Value::as_str)
                    == Some(transition.name.as_str())
        })
        .filter_map(|s| Some((s.clone(), decode_release(s)?)))
        .collect();
    revisions.sort_by_key(|(secret, _)| revision_of(secret));
    let previous = revisions.last().map(|(_, body)| body.clone());
    let revision = revisions.last().map_or(0, |(s, _)| revision_of(s));
    let deployed = transition.status == "deployed";
    if deployed {
        for (secret, body) in &revisions {
            if str_at(body, "/info/status") != "deployed" {
                continue;
            }
            let mut superseded = release_from_body(body, &transition.namespace);
            superseded.status = "superseded".into();
            let mut replacement = superseded.to_secret();
            replacement["metadata"]["resourceVersion"] =
                secret["metadata"]["resourceVersion"].clone();
            let _ = store.update(secrets, replacement);
        }
    }
    let rollback = job_name == ROLLBACK_JOB;
    // A rollback returns to the newest revision that ran the chart version it restores.
    let restored = revisions
        .iter()
        .rev()
        .find(|(_, body)| {
            str_at(body, "/chart/metadata/version") == transition.chart_version
                && matches!(
                    str_at(body, "/info/status").as_str(),
                    "deployed" | "superseded"
                )
        })
        .map_or(revision, |(secret, _)| revision_of(secret));
    let description = match (&transition.description, deployed, rollback) {
        (Some(description), _, _) => description.clone(),
        (None, true, true) => format!("Rollback to {restored}"),
        (None, true, false) => "Upgrade complete".into(),
        (None, false, true) => format!("Rollback \"{}\" failed", transition.name),
        (None, false, false) => format!("Upgrade \"{}\" failed", transition.name),
    };
    let now = now_rfc3339();
    let first_deployed = previous
        .as_ref()
        .map(|b| str_at(b, "/info/first_deployed"))
        .unwrap_or_else(|| now.clone());
    let chart = previous
        .as_ref()
        .map(|b| str_at(b, "/chart/metadata/name"))
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "astronomer".into());
    let release = Release {
        name: transition.name.clone(),
        namespace: transition.namespace.clone(),
        chart,
        chart_version: transition.chart_version.clone(),
        app_version: transition
            .app_version
            .clone()
            .unwrap_or_else(|| transition.chart_version.clone()),
        status: transition.status.clone(),
        revision: revision + 1,
        first_deployed,
        last_deployed: now,
        description,
        values: previous
            .as_ref()
            .map(|b| b["config"].clone())
            .unwrap_or(Value::Null),
    };
    let _ = store.create(secrets, release.to_secret());
}

fn release_from_body(body: &Value, namespace: &str) -> Release {
    Release {
        name: str_at(body, "/name"),
        namespace: namespace.to_string(),
        chart: str_at(body, "/chart/metadata/name"),
        chart_version: str_at(body, "/chart/metadata/version"),
        app_version: str_at(body, "/chart/metadata/appVersion"),
        status: str_at(body, "/info/status"),
        revision: body["version"].as_u64().unwrap_or(1) as u32,
        first_deployed: str_at(body, "/info/first_deployed"),
        last_deployed: str_at(body, "/info/last_deployed"),
        description: str_at(body, "/info/description"),
        values: body["config"].clone(),
    }
}

/// Deletes the pods a Job owns (propagation Background or Foreground).
pub fn delete_job_pods(shared: &Shared, job: &Value) {
    let uid = str_at(job, "/metadata/uid");
    let namespace = str_at(job, "/metadata/namespace");
    let pods = resource("v1", "Pod");
    let owned: Vec<String> = {
        let store = shared.store.lock().expect("store lock");
        store
            .range(pods, Some(&namespace), None)
            .filter(|p| {
                p.pointer("/metadata/labels/controller-uid")
                    .and_then(Value::as_str)
                    == Some(uid.as_str())
            })
            .map(|p| str_at(p, "/metadata/name"))
            .collect()
    };
    for name in owned {
        let _ = shared
            .store
            .lock()
            .expect("store lock")
            .delete(pods, &namespace, &name);
        shared.logs_close(&namespace, &name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(cmd: Option<&str>, duration_s: f64) -> TaskSpec {
        TaskSpec {
            name: "t".into(),
            duration_s,
            result: TaskResult::Fatal,
            output: vec![],
            message: Some("boom".into()),
            cmd: cmd.map(str::to_string),
            stderr: Some("line 1\nline 2".into()),
            rc: Some(3),
            retries: Some(5),
            retrying: 0,
        }
    }

    #[test]
    fn fatal_results_are_printed_as_ansible_prints_them() {
        let module = fatal_result(&task(None, 1.0));
        assert_eq!(
            ansible_json(&module),
            r#"{"changed": false, "msg": "boom"}"#
        );
        let mut retried = task(None, 1.0);
        retried.retrying = 5;
        assert_eq!(
            ansible_json(&fatal_result(&retried)),
            r#"{"attempts": 6, "changed": false, "msg": "boom"}"#
        );
        let shell = fatal_result(&task(Some("helm repo add a b\n"), 90.5));
        let text = ansible_json(&shell);
        assert!(
            text.starts_with(r#"{"changed": true, "cmd": "helm repo add a b\n", "delta": "0:01:30.500000", "end": "#),
            "{text}"
        );
        assert!(
            text.contains(r#", "msg": "boom", "rc": 3, "start": ""#),
            "{text}"
        );
        assert!(
            text.ends_with(r#", "stderr": "line 1\nline 2", "stderr_lines": ["line 1", "line 2"], "stdout": "", "stdout_lines": []}"#),
            "{text}"
        );
        let start = shell["start"].as_str().unwrap();
        let end = shell["end"].as_str().unwrap();
        assert_eq!((start.len(), end.len()), (26, 26), "{start} {end}");
        assert!(start < end);
    }

    #[test]
    fn ansible_times_and_deltas() {
        assert_eq!(
            ansible_time(1_622_541_600_123_456),
            "2021-06-01 10:00:00.123456"
        );
        assert_eq!(ansible_delta(300.0), "0:05:00.000000");
        assert_eq!(ansible_delta(3725.25), "1:02:05.250000");
    }

    #[test]
    fn the_probe_reports_each_url_and_only_unreachable_hosts_fail() {
        let unreachable = vec!["updates.astronomer.io".to_string(), "docker.io".to_string()];
        assert_eq!(
            probe_line(&unreachable, "https://helm.astronomer.io/index.yaml"),
            "astro-upgrade egress https://helm.astronomer.io/index.yaml: HTTP/2 200"
        );
        assert_eq!(
            probe_line(&unreachable, "https://updates.astronomer.io/astronomer-certified"),
            "astro-upgrade egress https://updates.astronomer.io/astronomer-certified: curl: (6) Could not resolve host: updates.astronomer.io"
        );
        assert!(probe_line(&unreachable, "https://registry-1.docker.io/v2/").contains("curl: (6)"));
        assert!(probe_line(&unreachable, "https://quay.io/v2/").ends_with("HTTP/2 401"));
    }

    #[test]
    fn only_an_ansible_variable_skips_the_deployment_upgrades() {
        let tasks = || {
            crate::playbook::playbook("upgrade-v0.23.18")
                .expect("the built-in list")
                .tasks
                .iter()
                .map(|t| t.to_spec())
                .collect::<Vec<_>>()
        };
        let skipped = |container: serde_json::Value| {
            let mut script = default_script("upgrade-astronomer");
            script.tasks = tasks();
            skip_deployment_upgrades(&mut script, &container);
            script
                .tasks
                .iter()
                .filter(|t| t.result == TaskResult::Skipped)
                .map(|t| t.name[..5].to_string())
                .collect::<Vec<_>>()
        };
        // the manifest's Job: the image's entrypoint, no such variable
        assert!(!skipped(json!({"name": "upgrade"})).contains(&"(5/6)".to_string()));
        // an environment variable is not an Ansible variable
        assert!(!skipped(
            json!({"env": [{"name": "DISABLE_UPGRADE_DEPLOYMENT", "value": "true"}]})
        )
        .contains(&"(5/6)".to_string()));
        // the command astro-upgrade gives the container
        let command = json!({"command": ["ansible-playbook", "-e", "USE_INTERNAL_HELM_REPO=False", "-e", "DISABLE_UPGRADE_DEPLOYMENT=true", "upgrade-astronomer.yaml"]});
        let names = skipped(command);
        assert!(names.contains(&"(5/6)".to_string()) && names.contains(&"(6/6)".to_string()));
        // the entrypoint's one variable carries several `key=value` pairs
        let packed = json!({"env": [{"name": "USE_INTERNAL_HELM_REPO", "value": "False DISABLE_UPGRADE_DEPLOYMENT=yes"}]});
        assert!(skipped(packed).contains(&"(5/6)".to_string()));
    }
}
