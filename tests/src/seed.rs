//! Builds the initial cluster objects a scenario describes.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use crate::helm::Release;
use crate::resources::Resource;
use crate::scenario::{ContainerSpec, ContainerState, PodSpec, Scenario, WorkloadSpec};
use crate::time::{now_unix, parse_age, rfc3339};

/// A deterministic source of pod-name suffixes and IPs, so a scenario seeds the same names every run.
pub struct Naming {
    state: u64,
    ip_counter: u32,
}

/// The characters Kubernetes uses for generated name suffixes (no vowels, no confusable digits).
const SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

impl Naming {
    pub fn new(seed: u64) -> Naming {
        Naming {
            state: seed | 1,
            ip_counter: 0,
        }
    }

    fn next(&mut self) -> u64 {
        // xorshift64*
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn suffix(&mut self, length: usize) -> String {
        (0..length)
            .map(|_| SUFFIX_ALPHABET[(self.next() % SUFFIX_ALPHABET.len() as u64) as usize] as char)
            .collect()
    }

    pub fn pod_ip(&mut self) -> String {
        self.ip_counter += 1;
        let n = self.ip_counter;
        format!("10.{}.{}.{}", 1 + n / 62_500, (n / 250) % 250, n % 250 + 2)
    }
}

pub const NODES: &[&str] = &[
    "ip-10-0-1-23.ec2.internal",
    "ip-10-0-2-147.ec2.internal",
    "ip-10-0-3-88.ec2.internal",
];

fn node_for(name: &str) -> &'static str {
    let hash = name
        .bytes()
        .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
    NODES[hash % NODES.len()]
}

/// `quay.io/astronomer/ap-houston-api:0.16.15` → `ap-houston-api`.
pub fn container_name_for(image: &str) -> String {
    let repository = image_repository(image);
    repository
        .rsplit('/')
        .next()
        .unwrap_or(repository)
        .to_string()
}

/// The image without its tag or digest.
pub fn image_repository(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    match image.rfind(':') {
        Some(colon) if !image[colon..].contains('/') => &image[..colon],
        _ => image,
    }
}

fn timestamp_for_age(age: Option<&str>) -> String {
    let seconds = age.and_then(parse_age).unwrap_or(3 * 86_400);
    rfc3339(now_unix() - seconds)
}

fn container_status(spec: &ContainerSpec, name: &str, started_at: &str) -> Value {
    let state = match spec.state {
        ContainerState::Running => json!({"running": {"startedAt": started_at}}),
        ContainerState::Waiting => {
            let reason = spec
                .reason
                .clone()
                .unwrap_or_else(|| "CrashLoopBackOff".into());
            let message = match reason.as_str() {
                "CrashLoopBackOff" => format!("back-off 5m0s restarting failed container={name}"),
                "ImagePullBackOff" | "ErrImagePull" => {
                    format!("Back-off pulling image \"{}\"", spec.image)
                }
                _ => String::new(),
            };
            json!({"waiting": {"reason": reason, "message": message}})
        }
        ContainerState::Terminated => {
            let exit_code = spec.exit_code.unwrap_or(0);
            let reason = spec
                .reason
                .clone()
                .unwrap_or_else(|| if exit_code == 0 { "Completed" } else { "Error" }.into());
            let mut terminated =
                json!({"exitCode": exit_code, "startedAt": started_at, "finishedAt": started_at});
            // An empty reason is left out, as the kubelet leaves it out.
            if !reason.is_empty() {
                terminated["reason"] = json!(reason);
            }
            if let Some(signal) = spec.signal {
                terminated["signal"] = json!(signal);
            }
            json!({ "terminated": terminated })
        }
    };
    let ready = spec.ready.unwrap_or(spec.state == ContainerState::Running);
    let mut status = json!({
        "name": name,
        "image": spec.image,
        "imageID": format!("docker-pullable://{}@sha256:{:064x}", image_repository(&spec.image), name.len()),
        "ready": ready,
        "restartCount": spec.restarts,
        "started": spec.state == ContainerState::Running,
        "state": state,
    });
    if spec.restarts > 0 {
        status["lastState"] = json!({"terminated": {"exitCode": 1, "reason": "Error", "startedAt": started_at, "finishedAt": started_at}});
    }
    status
}

/// A pod object from a scenario pod description.
pub fn pod_object(spec: &PodSpec, naming: &mut Naming) -> Value {
    let created = timestamp_for_age(spec.age.as_deref());
    let named = |c: &ContainerSpec| {
        c.name
            .clone()
            .unwrap_or_else(|| container_name_for(&c.image))
    };
    let containers: Vec<Value> = spec
        .containers
        .iter()
        .map(|c| json!({"name": named(c), "image": c.image, "imagePullPolicy": "IfNotPresent", "resources": {}}))
        .collect();
    let init_containers: Vec<Value> = spec
        .init_containers
        .iter()
        .map(|c| json!({"name": named(c), "image": c.image, "imagePullPolicy": "IfNotPresent", "resources": {}}))
        .collect();
    let statuses: Vec<Value> = spec
        .containers
        .iter()
        .map(|c| container_status(c, &named(c), &created))
        .collect();
    let init_statuses: Vec<Value> = spec
        .init_containers
        .iter()
        .map(|c| container_status(c, &named(c), &created))
        .collect();
    let all = |state: ContainerState| spec.containers.iter().all(|c| c.state == state);
    let implied_phase = if !spec
        .init_containers
        .iter()
        .all(|c| c.state == ContainerState::Terminated)
    {
        "Pending"
    } else if all(ContainerState::Terminated) {
        if spec
            .containers
            .iter()
            .all(|c| c.exit_code.unwrap_or(0) == 0)
        {
            "Succeeded"
        } else {
            "Failed"
        }
    } else if spec
        .containers
        .iter()
        .any(|c| c.state == ContainerState::Running)
    {
        "Running"
    } else {
        "Pending"
    };
    let phase = spec.phase.clone().unwrap_or_else(|| implied_phase.into());
    let all_ready = statuses.iter().all(|s| s["ready"] == true);
    let node = spec
        .node
        .clone()
        .unwrap_or_else(|| node_for(&spec.name).into());
    let ip = spec.ip.clone().unwrap_or_else(|| naming.pod_ip());
    let condition = |kind: &str, ok: bool| json!({"type": kind, "status": if ok { "True" } else { "False" }, "lastProbeTime": null, "lastTransitionTime": created});
    let mut pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": spec.name,
            "namespace": spec.namespace,
            "labels": spec.labels,
            "creationTimestamp": created,
        },
        "spec": {
            "containers": containers,
            "nodeName": node,
            "restartPolicy": "Always",
            "dnsPolicy": "ClusterFirst",
            "schedulerName": "default-scheduler",
            "serviceAccountName": "default",
            "terminationGracePeriodSeconds": 30,
        },
        "status": {
            "phase": phase,
            "conditions": [
                condition("Initialized", true),
                condition("Ready", all_ready && phase == "Running"),
                condition("ContainersReady", all_ready),
                condition("PodScheduled", true),
            ],
            "hostIP": "10.0.1.23",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "startTime": created,
            "containerStatuses": statuses,
            "qosClass": "BestEffort",
        },
    });
    if !init_containers.is_empty() {
        pod["spec"]["initContainers"] = json!(init_containers);
        pod["status"]["initContainerStatuses"] = json!(init_statuses);
    }
    if let Some(reason) = &spec.reason {
        pod["status"]["reason"] = json!(reason);
    }
    if spec.terminating {
        pod["metadata"]["deletionTimestamp"] = json!(crate::time::now_rfc3339());
        pod["metadata"]["deletionGracePeriodSeconds"] = json!(30);
    }
    pod
}

/// The Deployment or StatefulSet object of a workload description.
pub fn workload_object(kind: &str, spec: &WorkloadSpec) -> Value {
    let mut labels = spec.labels.clone();
    labels
        .entry("app".into())
        .or_insert_with(|| spec.name.clone());
    let containers: Vec<Value> = spec
        .images
        .iter()
        .map(|image| json!({"name": container_name_for(image), "image": image, "imagePullPolicy": "IfNotPresent"}))
        .collect();
    let replicas = spec.replicas;
    let mut object = json!({
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {
            "name": spec.name,
            "namespace": spec.namespace,
            "labels": labels,
            "generation": 1,
            "creationTimestamp": timestamp_for_age(spec.age.as_deref()),
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": containers}},
        },
        "status": {
            "observedGeneration": 1,
            "replicas": replicas,
            "readyReplicas": replicas,
            "updatedReplicas": replicas,
            "availableReplicas": replicas,
        },
    });
    if kind == "StatefulSet" {
        object["spec"]["serviceName"] = json!(spec.name);
        object["status"]["currentReplicas"] = json!(replicas);
    }
    object
}

/// Pod names of a workload: `<deploy>-<hash>-<suffix>` or `<statefulset>-<ordinal>`.
pub fn workload_pods(kind: &str, spec: &WorkloadSpec, naming: &mut Naming) -> Vec<PodSpec> {
    let hash = naming.suffix(9);
    let mut labels = spec.labels.clone();
    labels
        .entry("app".into())
        .or_insert_with(|| spec.name.clone());
    if kind == "Deployment" {
        labels.insert("pod-template-hash".into(), hash.clone());
    }
    (0..spec.replicas)
        .map(|ordinal| PodSpec {
            name: if kind == "StatefulSet" {
                format!("{}-{ordinal}", spec.name)
            } else {
                format!("{}-{hash}-{}", spec.name, naming.suffix(5))
            },
            namespace: spec.namespace.clone(),
            labels: labels.clone(),
            phase: None,
            reason: None,
            node: None,
            ip: None,
            age: spec.age.clone(),
            terminating: false,
            init_containers: vec![],
            containers: spec
                .images
                .iter()
                .map(|image| ContainerSpec {
                    name: None,
                    image: image.clone(),
                    state: ContainerState::Running,
                    ready: Some(true),
                    restarts: 0,
                    reason: None,
                    exit_code: None,
                    signal: None,
                })
                .collect(),
        })
        .collect()
}

/// Every object of the scenario, as (resource, object) pairs in creation order.
pub fn initial_objects(
    scenario: &Scenario,
    naming: &mut Naming,
) -> Result<Vec<(&'static Resource, Value)>, String> {
    let resource = |api_version: &str, kind: &str| {
        Resource::by_kind(api_version, kind)
            .ok_or_else(|| format!("kind {kind} ({api_version}) is not served by kube-sim"))
    };
    let mut objects = Vec::new();

    let mut namespaces: Vec<String> = ["default", "kube-system", "kube-public", "kube-node-lease"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let referenced = scenario
        .namespaces
        .iter()
        .chain(scenario.pods.iter().map(|p| &p.namespace))
        .chain(scenario.deployments.iter().map(|d| &d.namespace))
        .chain(scenario.statefulsets.iter().map(|d| &d.namespace))
        .chain(scenario.helm_releases.iter().map(|r| &r.namespace))
        .chain(scenario.bootstrap_secret.iter().map(|b| &b.namespace))
        .chain(
            scenario
                .generate
                .iter()
                .flat_map(|g| g.pods.iter().map(|p| &p.namespace)),
        );
    let in_objects = scenario
        .objects
        .iter()
        .filter_map(|o| o.pointer("/metadata/namespace").and_then(Value::as_str));
    for namespace in referenced.map(String::as_str).chain(in_objects) {
        if !namespaces.iter().any(|n| n == namespace) {
            namespaces.push(namespace.to_string());
        }
    }
    for namespace in &namespaces {
        objects.push((
            resource("v1", "Namespace")?,
            json!({"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": namespace, "creationTimestamp": timestamp_for_age(Some("90d"))},
                   "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}),
        ));
    }

    let kubelet_version = scenario.server.git_version.clone();
    for (index, node) in NODES.iter().enumerate() {
        let created = timestamp_for_age(Some("90d"));
        objects.push((
            resource("v1", "Node")?,
            json!({"apiVersion": "v1", "kind": "Node",
                   "metadata": {"name": node, "creationTimestamp": created, "labels": {
                       "kubernetes.io/hostname": node, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}},
                   "spec": {"providerID": format!("aws:///us-east-1a/i-0{index}5e1f0c0ffee")},
                   "status": {
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "message": "kubelet is posting ready status",
                                       "lastHeartbeatTime": created, "lastTransitionTime": created}],
                       "addresses": [{"type": "InternalIP", "address": format!("10.0.{}.{}", index + 1, 23 + index)}],
                       "nodeInfo": {"kubeletVersion": kubelet_version, "kubeProxyVersion": kubelet_version,
                                    "containerRuntimeVersion": "docker://19.3.6", "osImage": "Amazon Linux 2",
                                    "kernelVersion": "4.14.203-156.332.amzn2.x86_64", "operatingSystem": "linux",
                                    "architecture": "amd64"}}}),
        ));
    }

    for class in &scenario.storage_classes {
        let mut object = json!({
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": class.name, "creationTimestamp": timestamp_for_age(Some("90d"))},
            "provisioner": class.provisioner,
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "Immediate",
        });
        if class.default {
            object["metadata"]["annotations"] =
                json!({"storageclass.kubernetes.io/is-default-class": "true"});
        }
        objects.push((resource("storage.k8s.io/v1", "StorageClass")?, object));
    }

    let mut pods: Vec<PodSpec> = Vec::new();
    for (kind, workloads) in [
        ("Deployment", &scenario.deployments),
        ("StatefulSet", &scenario.statefulsets),
    ] {
        for workload in workloads {
            objects.push((resource("apps/v1", kind)?, workload_object(kind, workload)));
            if workload.pods {
                pods.extend(workload_pods(kind, workload, naming));
            }
        }
    }
    pods.extend(scenario.pods.iter().cloned());
    for pod in &pods {
        objects.push((resource("v1", "Pod")?, pod_object(pod, naming)));
    }
    if let Some(generate) = &scenario.generate {
        for group in &generate.pods {
            for index in 0..group.count {
                let crashing =
                    group.crash_every > 0 && index % group.crash_every == group.crash_every - 1;
                let spec = PodSpec {
                    name: format!("{}-{index:05}", group.name_prefix),
                    namespace: group.namespace.clone(),
                    labels: group.labels.clone(),
                    phase: None,
                    reason: None,
                    node: None,
                    ip: None,
                    age: None,
                    terminating: false,
                    init_containers: vec![],
                    containers: vec![ContainerSpec {
                        name: None,
                        image: group.image.clone(),
                        state: if crashing {
                            ContainerState::Waiting
                        } else {
                            ContainerState::Running
                        },
                        ready: Some(!crashing),
                        restarts: if crashing { 7 } else { 0 },
                        reason: None,
                        exit_code: None,
                        signal: None,
                    }],
                };
                objects.push((resource("v1", "Pod")?, pod_object(&spec, naming)));
            }
        }
    }

    for release in &scenario.helm_releases {
        let first_deployed = timestamp_for_age(Some("60d"));
        for revision in 1..=release.revision {
            let newest = revision == release.revision;
            let release = Release {
                name: release.name.clone(),
                namespace: release.namespace.clone(),
                chart: release.chart.clone(),
                chart_version: release.version.clone(),
                app_version: release
                    .app_version
                    .clone()
                    .unwrap_or_else(|| release.version.clone()),
                status: if newest {
                    release.status.clone()
                } else {
                    "superseded".into()
                },
                revision,
                first_deployed: first_deployed.clone(),
                last_deployed: timestamp_for_age(Some(&format!(
                    "{}d",
                    2 * (release.revision - revision) + 3
                ))),
                description: if revision == 1 {
                    "Install complete".into()
                } else {
                    "Upgrade complete".into()
                },
                values: release.values.clone(),
            };
            objects.push((resource("v1", "Secret")?, release.to_secret()));
        }
    }

    if let Some(bootstrap) = &scenario.bootstrap_secret {
        objects.push((
            resource("v1", "Secret")?,
            json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                   "metadata": {"name": "astronomer-bootstrap", "namespace": bootstrap.namespace},
                   "data": {"connection": STANDARD.encode(&bootstrap.connection)}}),
        ));
    }

    for object in &scenario.objects {
        let api_version = object["apiVersion"].as_str().unwrap_or("");
        let kind = object["kind"].as_str().unwrap_or("");
        let served = resource(api_version, kind)?;
        let mut object = object.clone();
        if served.namespaced && object.pointer("/metadata/namespace").is_none() {
            object["metadata"]["namespace"] = json!("default");
        }
        objects.push((served, object));
    }
    Ok(objects)
}
