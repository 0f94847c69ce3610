//! The executor's view of the cluster while it works, from four watch streams opened once per
//! run: Pods and Helm release Secrets (`owner=helm`) of all namespaces, Jobs and
//! PersistentVolumeClaims of the upgrade namespace. kube-runtime's watcher resumes each from its
//! last resourceVersion after a dropped connection, lists again after 410 Gone, and backs off on
//! errors. The drift check, the Job watch and the verification all read this one view, so a run
//! costs one list plus one watch per kind. Pods are kept reduced to their `kubectl get pods` facts
//! (and, in the upgrade namespace, sent whole to the Job watch); Secrets only as decoded release
//! metadata.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{AsyncBufReadExt as _, StreamExt as _, TryStreamExt as _};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Secret};
use kube::api::LogParams;
use kube::runtime::{watcher, WatchStreamExt as _};
use kube::{Api, Client, ResourceExt as _};
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;

use crate::apply::engine::Observation;
use crate::collect::{self, ReleaseRevision};
use crate::credentials::{auth_problem, AuthProblem};
use crate::transport::Credentials;

/// What the watches send: an observation, or a note that a stream broke and is being resumed.
#[derive(Debug)]
pub enum Feed {
    Observed(Observation),
    Trouble(String),
    /// The cluster refused the credentials, or they could not be made: resuming with the same
    /// credentials will not help. Seen while the client's credentials were of `generation`.
    AuthTrouble {
        generation: u64,
        problem: AuthProblem,
    },
}

type Key = (String, String);

/// A watched collection, kept as `T` per object, with the listing in progress during a (re)list.
struct Collection<T> {
    items: BTreeMap<Key, T>,
    relisting: BTreeMap<Key, T>,
    listed: bool,
}

impl<T> Default for Collection<T> {
    fn default() -> Self {
        Collection {
            items: BTreeMap::new(),
            relisting: BTreeMap::new(),
            listed: false,
        }
    }
}

#[derive(Default)]
struct State {
    pods: Collection<planner::facts::Pod>,
    releases: Collection<ReleaseRevision>,
}

pub struct ClusterView {
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
    tasks: Vec<JoinHandle<()>>,
}

fn key_of<K: kube::Resource>(object: &K) -> Key {
    (object.namespace().unwrap_or_default(), object.name_any())
}

impl ClusterView {
    /// Opens the four watches. Objects of `upgrade_namespace` (Jobs, Pods, PVCs) are also sent on
    /// `feed` for the Job watch; their authentication troubles are tagged with the generation of
    /// `credentials`, so troubles of credentials already replaced are told apart.
    pub fn start(
        client: &Client,
        credentials: &Credentials,
        upgrade_namespace: &str,
        feed: mpsc::UnboundedSender<Feed>,
    ) -> ClusterView {
        let state = Arc::new(Mutex::new(State::default()));
        let changed = Arc::new(Notify::new());
        let jobs: Api<Job> = Api::namespaced(client.clone(), upgrade_namespace);
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), upgrade_namespace);
        let pods: Api<Pod> = Api::all(client.clone());
        let secrets: Api<Secret> = Api::all(client.clone());
        let namespace = upgrade_namespace.to_string();

        let pod_feed = feed.clone();
        let pod_state = state.clone();
        let pod_changed = changed.clone();
        let on_pod = move |event: watcher::Event<Pod>| {
            if let watcher::Event::Apply(pod) | watcher::Event::InitApply(pod) = &event {
                if pod.namespace().as_deref() == Some(namespace.as_str()) {
                    let _ = pod_feed.send(Feed::Observed(Observation::Pod(Box::new(pod.clone()))));
                }
            }
            if let watcher::Event::Delete(pod) = &event {
                if pod.namespace().as_deref() == Some(namespace.as_str()) {
                    let _ = pod_feed.send(Feed::Observed(Observation::PodDeleted(pod.name_any())));
                }
            }
            if let Ok(mut state) = pod_state.lock() {
                apply_event(&mut state.pods, event, |pod| Some(collect::pod_fact(pod)));
            }
            pod_changed.notify_waiters();
        };
        let release_state = state.clone();
        let release_changed = changed.clone();
        let on_secret = move |event: watcher::Event<Secret>| {
            if let Ok(mut state) = release_state.lock() {
                apply_event(&mut state.releases, event, |secret| {
                    let stored = secret.data.as_ref()?.get("release")?;
                    let mut revision = collect::decode_helm_release(&stored.0)?;
                    revision.namespace = revision.namespace.or(secret.namespace());
                    Some(revision)
                });
            }
            release_changed.notify_waiters();
        };
        let job_feed = feed.clone();
        let on_job = move |event: watcher::Event<Job>| {
            let observation = match event {
                watcher::Event::Apply(job) | watcher::Event::InitApply(job) => {
                    Observation::Job(Box::new(job))
                }
                watcher::Event::Delete(job) => Observation::JobDeleted(job.name_any()),
                watcher::Event::Init | watcher::Event::InitDone => return,
            };
            let _ = job_feed.send(Feed::Observed(observation));
        };
        let claim_feed = feed.clone();
        let on_claim = move |event: watcher::Event<PersistentVolumeClaim>| {
            if let watcher::Event::Apply(claim)
            | watcher::Event::InitApply(claim)
            | watcher::Event::Delete(claim) = event
            {
                let _ = claim_feed.send(Feed::Observed(Observation::Claim(Box::new(claim))));
            }
        };
        let tasks = vec![
            tokio::spawn(follow(
                pods,
                watcher::Config::default(),
                ("pods", credentials.clone()),
                feed.clone(),
                on_pod,
            )),
            tokio::spawn(follow(
                secrets,
                watcher::Config::default().labels("owner=helm"),
                ("Helm release secrets", credentials.clone()),
                feed.clone(),
                on_secret,
            )),
            tokio::spawn(follow(
                jobs,
                watcher::Config::default(),
                ("jobs", credentials.clone()),
                feed.clone(),
                on_job,
            )),
            tokio::spawn(follow(
                claims,
                watcher::Config::default(),
                ("persistentvolumeclaims", credentials.clone()),
                feed,
                on_claim,
            )),
        ];
        ClusterView {
            state,
            changed,
            tasks,
        }
    }

    /// Waits until the Pods and the Helm release Secrets have been listed once.
    pub async fn listed(&self) {
        loop {
            let notified = self.changed.notified();
            if self
                .state
                .lock()
                .is_ok_and(|s| s.pods.listed && s.releases.listed)
            {
                return;
            }
            notified.await;
        }
    }

    /// Waits for the next change to the Pods or the Helm release Secrets.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// Every pod as `kubectl get pods -A` shows it.
    pub fn pods(&self) -> Vec<planner::facts::Pod> {
        self.state
            .lock()
            .map(|s| s.pods.items.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Every decoded Helm release revision, ordered by namespace, release and revision.
    pub fn revisions(&self) -> Vec<ReleaseRevision> {
        let mut revisions: Vec<ReleaseRevision> = self
            .state
            .lock()
            .map(|s| s.releases.items.values().cloned().collect())
            .unwrap_or_default();
        revisions.sort_by(|a, b| {
            (&a.namespace, &a.name, a.revision).cmp(&(&b.namespace, &b.name, b.revision))
        });
        revisions
    }
}

impl Drop for ClusterView {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn apply_event<K: kube::Resource, T>(
    collection: &mut Collection<T>,
    event: watcher::Event<K>,
    reduce: impl Fn(&K) -> Option<T>,
) {
    match event {
        watcher::Event::Init => collection.relisting.clear(),
        watcher::Event::InitApply(object) => {
            if let Some(item) = reduce(&object) {
                collection.relisting.insert(key_of(&object), item);
            }
        }
        watcher::Event::InitDone => {
            collection.items = std::mem::take(&mut collection.relisting);
            collection.listed = true;
        }
        watcher::Event::Apply(object) => match reduce(&object) {
            Some(item) => {
                collection.items.insert(key_of(&object), item);
            }
            None => {
                collection.items.remove(&key_of(&object));
            }
        },
        watcher::Event::Delete(object) => {
            collection.items.remove(&key_of(&object));
        }
    }
}

async fn follow<K>(
    api: Api<K>,
    config: watcher::Config,
    (what, credentials): (&'static str, Credentials),
    feed: mpsc::UnboundedSender<Feed>,
    mut on_event: impl FnMut(watcher::Event<K>),
) where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
    K::DynamicType: Default,
{
    let mut stream = watcher(api, config).default_backoff().boxed();
    while let Some(event) = stream.next().await {
        match event {
            Ok(event) => on_event(event),
            Err(err) => {
                let trouble = match auth_problem(&err) {
                    Some(problem) => Feed::AuthTrouble {
                        generation: credentials.generation(),
                        problem,
                    },
                    None => Feed::Trouble(format!("watch of {what} interrupted ({err}); resuming")),
                };
                let _ = feed.send(trouble);
            }
        }
    }
}

/// Follows a pod's log and sends each line. When the stream ends while the container still runs
/// (a dropped connection, an expired token), it reconnects and skips the lines already sent,
/// counted in `sent`, which a follower started again takes over.
pub fn follow_logs(
    (client, credentials): (&Client, &Credentials),
    namespace: &str,
    pod: String,
    sent_lines: Arc<AtomicUsize>,
    feed: mpsc::UnboundedSender<Feed>,
) -> JoinHandle<()> {
    let credentials = credentials.clone();
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    tokio::spawn(async move {
        let mut sent = sent_lines.load(Ordering::SeqCst);
        let mut failures = 0u32;
        loop {
            let params = LogParams {
                follow: true,
                ..LogParams::default()
            };
            match api.log_stream(&pod, &params).await {
                Ok(stream) => {
                    let mut lines = stream.lines();
                    let mut index = 0usize;
                    // A dropped connection ends the stream like the container's exit does;
                    // the check below tells them apart.
                    while let Ok(Some(line)) = lines.try_next().await {
                        index += 1;
                        if index > sent {
                            sent = index;
                            sent_lines.store(sent, Ordering::SeqCst);
                            failures = 0;
                            let observation = Observation::LogLine {
                                pod: pod.clone(),
                                line,
                            };
                            if feed.send(Feed::Observed(observation)).is_err() {
                                return;
                            }
                        }
                    }
                }
                Err(err) => {
                    failures += 1;
                    if let Some(problem) = auth_problem(&err) {
                        let _ = feed.send(Feed::AuthTrouble {
                            generation: credentials.generation(),
                            problem,
                        });
                    }
                }
            }
            if !still_running(&api, &pod).await || failures > 30 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
}

/// One pod of a Job and its whole log, as the API server has it now.
pub struct PodLog {
    pub pod: String,
    pub log: String,
    /// No container of the pod is running or waiting: its log will not grow.
    pub ended: bool,
}

/// Every pod of Job `job`, oldest first, each with its whole log (not followed).
pub async fn read_job_logs(
    client: &Client,
    namespace: &str,
    job: &str,
) -> anyhow::Result<Vec<PodLog>> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let mut pods = api
        .list(&kube::api::ListParams::default().labels(&format!("job-name={job}")))
        .await?
        .items;
    pods.sort_by(|a, b| {
        (&a.metadata.creation_timestamp, a.metadata.name.as_ref())
            .cmp(&(&b.metadata.creation_timestamp, b.metadata.name.as_ref()))
    });
    let mut logs = Vec::new();
    for pod in pods {
        let name = pod.name_any();
        let ended = !pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .into_iter()
            .flatten()
            .any(|c| {
                c.state
                    .as_ref()
                    .is_some_and(|s| s.running.is_some() || s.waiting.is_some())
            });
        let log = api.logs(&name, &LogParams::default()).await?;
        logs.push(PodLog {
            pod: name,
            log,
            ended,
        });
    }
    Ok(logs)
}

async fn still_running(api: &Api<Pod>, pod: &str) -> bool {
    match api.get_opt(pod).await {
        Ok(Some(pod)) => pod
            .status
            .and_then(|s| s.container_statuses)
            .into_iter()
            .flatten()
            .any(|c| {
                c.state
                    .is_some_and(|s| s.running.is_some() || s.waiting.is_some())
            }),
        Ok(None) => false,
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(namespace: &str, name: &str) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"namespace": namespace, "name": name},
        }))
        .unwrap()
    }

    fn names(collection: &Collection<String>) -> Vec<&str> {
        collection.items.values().map(String::as_str).collect()
    }

    #[test]
    fn a_relist_replaces_the_items_only_when_complete() {
        let mut pods: Collection<String> = Collection::default();
        let reduce = |p: &Pod| Some(p.name_any());
        apply_event(&mut pods, watcher::Event::Init, reduce);
        apply_event(
            &mut pods,
            watcher::Event::InitApply(pod("a", "one")),
            reduce,
        );
        assert!(!pods.listed, "not listed before InitDone");
        apply_event(&mut pods, watcher::Event::InitDone, reduce);
        apply_event(&mut pods, watcher::Event::Apply(pod("a", "two")), reduce);
        assert_eq!(names(&pods), ["one", "two"]);

        // After 410 Gone the watcher lists again; "one" was deleted meanwhile.
        apply_event(&mut pods, watcher::Event::Init, reduce);
        apply_event(
            &mut pods,
            watcher::Event::InitApply(pod("a", "two")),
            reduce,
        );
        assert_eq!(
            names(&pods),
            ["one", "two"],
            "the old items stand until the relist ends"
        );
        apply_event(&mut pods, watcher::Event::InitDone, reduce);
        assert_eq!(names(&pods), ["two"]);
        apply_event(&mut pods, watcher::Event::Delete(pod("a", "two")), reduce);
        assert!(names(&pods).is_empty());
    }

    #[test]
    fn objects_that_do_not_reduce_are_dropped() {
        let mut secrets: Collection<String> = Collection::default();
        apply_event(
            &mut secrets,
            watcher::Event::Apply(pod("a", "x")),
            |p: &Pod| Some(p.name_any()),
        );
        apply_event(
            &mut secrets,
            watcher::Event::Apply(pod("a", "x")),
            |_: &Pod| None,
        );
        assert!(
            names(&secrets).is_empty(),
            "an undecodable update removes the stale item"
        );
    }
}
