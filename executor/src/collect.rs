//! `collect`: the evidence the page takes from pastes, read live from the API into [`Facts`].
//!
//! Lists are paginated (500 objects a page) and each page is reduced to facts before the next is
//! read, so memory stays flat on large clusters. Secret contents are decoded only for the two
//! things the checks need (Helm release metadata, the bootstrap connection's shape) and the
//! decoded bytes are dropped at once.

use std::collections::BTreeMap;
use std::io::Read as _;

use anyhow::Context as _;
use base64::Engine as _;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, Pod as KubePod, PodSpec, Secret, ServiceAccount,
};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{ListParams, ObjectList, PostParams};
use kube::{Api, Client};
use planner::facts::{
    At, DatabaseConnection, Facts, HelmGeneration, HelmRelease, HelmRevision, Image, Permission,
    Pod, UpgradeResources,
};
use planner::path::{PermissionScope, LTS_0_16_TO_0_23};
use serde::Deserialize;

use crate::cluster::{self, Cluster};

const PAGE_SIZE: u32 = 500;
pub const BUNDLE_FORMAT: u32 = 1;

fn at(what: &str) -> At {
    At {
        source: format!("live:{what}"),
        line: None,
    }
}

/// Everything `collect` reads, as facts. `platform_namespace` is where the release and the
/// bootstrap Secret live (`-n`).
pub async fn collect_facts(cluster: &Cluster, platform_namespace: &str) -> anyhow::Result<Facts> {
    let client = &cluster.client;
    let mut facts = Facts::default();
    let version = cluster::server_version(client).await?;
    facts.kubernetes.server_version = Some(version);
    facts.kubernetes.server_at = Some(at("version"));
    facts.contexts = cluster.contexts.clone();

    // The reads below do not depend on one another: asked together, a distant API server costs
    // about the longest of them rather than their sum (a fleet's clusters are often far away).
    // All are awaited, then taken in this order, so the first error is always the same one.
    let workloads = async {
        let mut images = ImageSet::default();
        let mut listed = Facts::default();
        collect_pods(client, &mut listed, &mut images).await?;
        collect_workload_images(client, &mut images).await?;
        anyhow::Ok((listed.pods, images.into_facts()))
    };
    let (workloads, permissions, releases, storage_classes, connection, upgrade_resources) = futures::join!(
        workloads,
        collect_permissions(client, platform_namespace),
        collect_helm_releases(client),
        collect_storage_classes(client),
        collect_bootstrap_connection(client, platform_namespace),
        collect_upgrade_resources(client),
    );
    (facts.pods, facts.images) = workloads?;
    facts.permissions = permissions?;
    let (releases, history) = releases?;
    facts.helm_releases = releases;
    // every release Secret, whatever its state: what `helm list --all` shows
    facts.helm_list_all = Some(at("helm-secrets"));
    facts.helm_history = history;
    facts.storage_classes = storage_classes?;
    facts.database_connection = connection?;
    facts.upgrade_resources = Some(upgrade_resources?);
    Ok(facts)
}

/// The bundle `check --bundle` and the page read: facts plus when and where they were collected.
pub fn bundle_json(facts: &Facts, context: &str) -> anyhow::Result<String> {
    let bundle = serde_json::json!({
        "astro_upgrade_bundle": BUNDLE_FORMAT,
        "collected_at": crate::journal::now_rfc3339(),
        "context": context,
        "facts": facts,
    });
    Ok(serde_json::to_string_pretty(&bundle)?)
}

/// Lists every page of `api`, handing each page to `each` before the next is requested.
async fn for_each_page<K>(
    api: &Api<K>,
    selector: Option<&str>,
    mut each: impl FnMut(ObjectList<K>),
) -> anyhow::Result<()>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut params = ListParams::default().limit(PAGE_SIZE);
    if let Some(selector) = selector {
        params = params.labels(selector);
    }
    loop {
        let page = api.list(&params).await?;
        let next = page.metadata.continue_.clone().filter(|c| !c.is_empty());
        each(page);
        match next {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(()),
        }
    }
}

async fn collect_pods(
    client: &Client,
    facts: &mut Facts,
    images: &mut ImageSet,
) -> anyhow::Result<()> {
    let api: Api<KubePod> = Api::all(client.clone());
    for_each_page(&api, None, |page| {
        for pod in page.items {
            let namespace = pod.metadata.namespace.clone();
            let name = pod.metadata.name.clone().unwrap_or_default();
            let place = format!("pod/{}/{}", namespace.as_deref().unwrap_or("default"), name);
            if let Some(spec) = &pod.spec {
                images.add_spec(spec, &place);
            }
            facts.pods.push(pod_fact(&pod));
        }
    })
    .await
    .context("cannot list pods")
}

/// A pod as `kubectl get pods` would show it: READY, STATUS and RESTARTS, by the planner's one
/// implementation of kubectl's printer (the same the `-o json` reader uses).
pub fn pod_fact(pod: &KubePod) -> Pod {
    let object = pod_object(pod);
    planner::input::pods::pod_from_object(&object, None, at("pods")).unwrap_or_else(|| Pod {
        namespace: pod.metadata.namespace.clone(),
        name: String::new(),
        ready: None,
        status: planner::input::pods::pod_status(&object),
        restarts: None,
        healthy: false,
        at: at("pods"),
    })
}

/// The STATUS column of `kubectl get pods` for this pod.
pub fn pod_status(pod: &KubePod) -> String {
    planner::input::pods::pod_status(&pod_object(pod))
}

/// The pod as the API server sent it (kind included, as the planner's reader expects of a Pod).
fn pod_object(pod: &KubePod) -> serde_json::Value {
    let mut object = serde_json::to_value(pod).unwrap_or_default();
    if let Some(map) = object.as_object_mut() {
        map.insert("kind".into(), "Pod".into());
    }
    object
}

async fn collect_workload_images(client: &Client, images: &mut ImageSet) -> anyhow::Result<()> {
    let deployments: Api<Deployment> = Api::all(client.clone());
    for_each_page(&deployments, None, |page| {
        for d in page.items {
            if let Some(spec) = d.spec.as_ref().and_then(|s| s.template.spec.as_ref()) {
                images.add_spec(spec, &workload_place("deployment", &d.metadata));
            }
        }
    })
    .await
    .context("cannot list deployments")?;
    let statefulsets: Api<StatefulSet> = Api::all(client.clone());
    for_each_page(&statefulsets, None, |page| {
        for s in page.items {
            if let Some(spec) = s.spec.as_ref().and_then(|s| s.template.spec.as_ref()) {
                images.add_spec(spec, &workload_place("statefulset", &s.metadata));
            }
        }
    })
    .await
    .context("cannot list statefulsets")
}

fn workload_place(
    kind: &str,
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> String {
    format!(
        "{kind}/{}/{}",
        meta.namespace.as_deref().unwrap_or("default"),
        meta.name.as_deref().unwrap_or_default()
    )
}

/// Image references, each once, remembering the first workload that runs it.
#[derive(Default)]
struct ImageSet {
    seen: BTreeMap<String, String>,
}

impl ImageSet {
    fn add_spec(&mut self, spec: &PodSpec, place: &str) {
        let containers = spec
            .init_containers
            .iter()
            .flatten()
            .chain(spec.containers.iter());
        for container in containers {
            if let Some(image) = &container.image {
                self.seen
                    .entry(image.clone())
                    .or_insert_with(|| place.to_string());
            }
        }
    }

    fn into_facts(self) -> Vec<Image> {
        self.seen
            .into_iter()
            .map(|(reference, place)| image_fact(&reference, at(&place)))
            .collect()
    }
}

fn image_fact(reference: &str, at: At) -> Image {
    match planner::input::images::parse_reference(reference) {
        Some(parsed) => {
            let certified =
                planner::input::images::certified(&parsed.repository, parsed.tag.as_deref());
            Image {
                reference: reference.to_string(),
                registry: parsed.registry,
                repository: parsed.repository,
                tag: parsed.tag,
                digest: parsed.digest,
                certified,
                base: None,
                at,
            }
        }
        None => Image {
            reference: reference.to_string(),
            registry: None,
            repository: reference.to_string(),
            tag: None,
            digest: None,
            certified: None,
            base: None,
            at,
        },
    }
}

/// The eight rights of the `permissions` check, asked as SelfSubjectAccessReviews.
pub async fn collect_permissions(
    client: &Client,
    platform_namespace: &str,
) -> anyhow::Result<Vec<Permission>> {
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    // Nine independent questions, asked together; the answers keep the path's order.
    let questions = LTS_0_16_TO_0_23.permissions.iter().map(|required| {
        let api = api.clone();
        async move {
            let namespace = match required.scope {
                PermissionScope::PlatformNamespace => Some(platform_namespace.to_string()),
                PermissionScope::UpgradeNamespace => {
                    Some(LTS_0_16_TO_0_23.upgrade_namespace.to_string())
                }
                PermissionScope::Cluster | PermissionScope::AllNamespaces => None,
            };
            // `--all-namespaces` is the empty namespace: RBAC then counts only cluster-wide
            // grants, as its escalation check does for a ClusterRole. `*` has no group, as
            // kubectl asks it.
            let all_namespaces = required.scope == PermissionScope::AllNamespaces;
            let review = SelfSubjectAccessReview {
                spec: SelfSubjectAccessReviewSpec {
                    resource_attributes: Some(ResourceAttributes {
                        verb: Some(required.verb.to_string()),
                        resource: Some(required.resource.to_string()),
                        group: Some(api_group(required.resource).to_string()),
                        namespace: namespace.clone(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                ..Default::default()
            };
            let answer = api
                .create(&PostParams::default(), &review)
                .await
                .with_context(|| {
                    format!(
                        "cannot ask whether I may {} {}",
                        required.verb, required.resource
                    )
                })?;
            anyhow::Ok(Permission {
                verb: required.verb.to_string(),
                resource: required.resource.to_string(),
                namespace,
                allowed: answer.status.map(|s| s.allowed).unwrap_or(false),
                all_namespaces,
                as_user: None,
                at: at("selfsubjectaccessreviews"),
            })
        }
    });
    futures::future::join_all(questions)
        .await
        .into_iter()
        .collect()
}

fn api_group(resource: &str) -> &'static str {
    match resource {
        "jobs" => "batch",
        "clusterroles" | "clusterrolebindings" | "roles" | "rolebindings" => {
            "rbac.authorization.k8s.io"
        }
        "deployments" | "statefulsets" => "apps",
        _ => "",
    }
}

/// The fields of a Helm 3 release record the checks use; everything else (values, manifests,
/// which may hold credentials) is skipped by the deserializer.
#[derive(Deserialize)]
struct HelmRecord {
    name: String,
    #[serde(default)]
    namespace: Option<String>,
    version: u32,
    #[serde(default)]
    info: HelmInfo,
    #[serde(default)]
    chart: Option<HelmChart>,
}

#[derive(Deserialize, Default)]
struct HelmInfo {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
struct HelmChart {
    metadata: HelmChartMetadata,
}

#[derive(Deserialize)]
struct HelmChartMetadata {
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default, rename = "appVersion")]
    app_version: Option<String>,
}

/// One decoded revision of a release, as stored in a `sh.helm.release.v1.*` Secret.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseRevision {
    pub name: String,
    pub namespace: Option<String>,
    pub revision: u32,
    pub status: Option<String>,
    pub description: Option<String>,
    pub chart: String,
    pub chart_version: Option<String>,
    pub app_version: Option<String>,
}

/// Decodes a Helm 3 release Secret's `release` value: base64, then gzip (when compressed), then JSON.
pub fn decode_helm_release(stored: &[u8]) -> Option<ReleaseRevision> {
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(stored.trim_ascii())
        .ok()?;
    let json = if compressed.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(compressed.as_slice())
            .read_to_end(&mut out)
            .ok()?;
        out
    } else {
        compressed
    };
    let record: HelmRecord = serde_json::from_slice(&json).ok()?;
    let chart = record.chart.map(|c| c.metadata);
    Some(ReleaseRevision {
        name: record.name,
        namespace: record.namespace,
        revision: record.version,
        status: record.info.status.map(|s| s.to_lowercase()),
        description: record.info.description,
        chart: chart.as_ref().map(|c| c.name.clone()).unwrap_or_default(),
        chart_version: chart.as_ref().and_then(|c| c.version.clone()),
        app_version: chart.and_then(|c| c.app_version),
    })
}

/// Every decodable Helm 3 release Secret matching `selector` in `namespace` (all when None).
pub async fn helm_revisions(
    client: &Client,
    namespace: Option<&str>,
    selector: &str,
) -> anyhow::Result<Vec<ReleaseRevision>> {
    let api: Api<Secret> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let mut revisions = Vec::new();
    for_each_page(&api, Some(selector), |page| {
        for secret in page.items {
            let namespace = secret.metadata.namespace.clone();
            if let Some(release) = secret.data.as_ref().and_then(|d| d.get("release")) {
                if let Some(mut revision) = decode_helm_release(&release.0) {
                    revision.namespace = revision.namespace.or(namespace);
                    revisions.push(revision);
                }
            }
        }
    })
    .await
    .context("cannot list the Helm release Secrets (label owner=helm)")?;
    revisions.sort_by(|a, b| {
        (&a.namespace, &a.name, a.revision).cmp(&(&b.namespace, &b.name, b.revision))
    });
    Ok(revisions)
}

async fn collect_helm_releases(
    client: &Client,
) -> anyhow::Result<(Vec<HelmRelease>, Vec<HelmRevision>)> {
    let revisions = helm_revisions(client, None, "owner=helm").await?;
    let history = revisions
        .iter()
        .map(|r| HelmRevision {
            release: Some(r.name.clone()),
            revision: r.revision,
            status: r.status.clone().unwrap_or_default(),
            chart: r.chart.clone(),
            chart_version: r.chart_version.clone(),
            app_version: r.app_version.clone(),
            description: r.description.clone(),
            at: at("helm-secrets"),
        })
        .collect();
    Ok((newest_releases(&revisions), history))
}

/// The newest revision of each release, as `helm list -A` shows it.
pub fn newest_releases(revisions: &[ReleaseRevision]) -> Vec<HelmRelease> {
    let mut newest: BTreeMap<(Option<String>, String), &ReleaseRevision> = BTreeMap::new();
    for revision in revisions {
        let key = (revision.namespace.clone(), revision.name.clone());
        let entry = newest.entry(key).or_insert(revision);
        if revision.revision > entry.revision {
            *entry = revision;
        }
    }
    newest
        .into_values()
        .map(|r| HelmRelease {
            name: r.name.clone(),
            namespace: r.namespace.clone(),
            revision: Some(r.revision),
            status: r.status.clone(),
            chart: r.chart.clone(),
            chart_version: r.chart_version.clone(),
            app_version: r.app_version.clone(),
            helm: Some(HelmGeneration::Helm3),
            at: at("helm-secrets"),
        })
        .collect()
}

async fn collect_storage_classes(
    client: &Client,
) -> anyhow::Result<Vec<planner::facts::StorageClass>> {
    let api: Api<StorageClass> = Api::all(client.clone());
    let mut classes = Vec::new();
    for_each_page(&api, None, |page| {
        for class in page.items {
            let annotations = class.metadata.annotations.clone().unwrap_or_default();
            let default = [
                "storageclass.kubernetes.io/is-default-class",
                "storageclass.beta.kubernetes.io/is-default-class",
            ]
            .iter()
            .any(|key| annotations.get(*key).is_some_and(|v| v == "true"));
            classes.push(planner::facts::StorageClass {
                name: class.metadata.name.clone().unwrap_or_default(),
                default,
                provisioner: Some(class.provisioner.clone()),
                at: at("storageclasses"),
            });
        }
    })
    .await
    .context("cannot list storage classes")?;
    Ok(classes)
}

async fn collect_bootstrap_connection(
    client: &Client,
    platform_namespace: &str,
) -> anyhow::Result<Option<DatabaseConnection>> {
    let api: Api<Secret> = Api::namespaced(client.clone(), platform_namespace);
    let secret = api
        .get_opt(LTS_0_16_TO_0_23.bootstrap_secret)
        .await
        .with_context(|| {
            format!(
                "cannot read Secret {platform_namespace}/{}",
                LTS_0_16_TO_0_23.bootstrap_secret
            )
        })?;
    Ok(secret
        .and_then(|s| s.data)
        .and_then(|data| data.get("connection").and_then(|v| connection_shape(&v.0))))
}

/// The scheme, host and whether a port is given, read by the planner's reader of the pasted
/// `kubectl get secret … | base64 -d`, so live and pasted evidence agree (a password holding
/// `/`, `@` or `:` included); the user and password are never copied out.
pub fn connection_shape(connection: &[u8]) -> Option<DatabaseConnection> {
    let text = std::str::from_utf8(connection).ok()?;
    let read = planner::input::connection::read(LTS_0_16_TO_0_23.bootstrap_secret, text, 1, None);
    read.database_connection.map(|shape| DatabaseConnection {
        at: at(&format!("secret/{}", LTS_0_16_TO_0_23.bootstrap_secret)),
        ..shape
    })
}

async fn collect_upgrade_resources(client: &Client) -> anyhow::Result<UpgradeResources> {
    let ns = LTS_0_16_TO_0_23.upgrade_namespace;
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), ns);
    let jobs: Api<Job> = Api::namespaced(client.clone(), ns);
    let service_account = accounts
        .get_opt(planner::path::SERVICE_ACCOUNT)
        .await
        .context("cannot read the upgrader's ServiceAccount")?
        .is_some();
    let backup_pvc = claims
        .get_opt(planner::path::BACKUP_PVC)
        .await
        .context("cannot read the backup PVC")?
        .is_some();
    let upgrade_job = jobs
        .get_opt(planner::path::UPGRADE_JOB)
        .await
        .context("cannot read the upgrade Job")?
        .map(|job| job_state(&job).to_string());
    Ok(UpgradeResources {
        service_account,
        backup_pvc,
        upgrade_job,
    })
}

/// `complete`, `failed` or `active`, from the Job's conditions.
pub fn job_state(job: &Job) -> &'static str {
    let conditions = job
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten();
    for condition in conditions {
        if condition.status == "True" {
            match condition.type_.as_str() {
                "Complete" => return "complete",
                "Failed" => return "failed",
                _ => {}
            }
        }
    }
    "active"
}

#[cfg(test)]
mod tests;
