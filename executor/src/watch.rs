//! Watch streams over the upgrade namespace: one for Jobs, one for Pods, one for
//! PersistentVolumeClaims, for the whole run. kube-runtime's watcher resumes from the last
//! resourceVersion after a dropped connection, lists again after 410 Gone, and backs off on
//! errors; this module turns its events into the engine's observations and follows pod logs.

use std::time::Duration;

use futures::{AsyncBufReadExt as _, StreamExt as _, TryStreamExt as _};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::LogParams;
use kube::runtime::{watcher, WatchStreamExt as _};
use kube::{Api, Client, ResourceExt as _};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::apply::engine::Observation;

/// What the watches send: an observation, or a note that a stream broke and is being resumed.
#[derive(Debug)]
pub enum Feed {
    Observed(Observation),
    Trouble(String),
}

pub struct Watches {
    tasks: Vec<JoinHandle<()>>,
}

impl Watches {
    /// Starts the three watches in `namespace`; everything they see arrives on `feed`.
    pub fn start(client: &Client, namespace: &str, feed: mpsc::UnboundedSender<Feed>) -> Watches {
        let jobs: Api<Job> = Api::namespaced(client.clone(), namespace);
        let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), namespace);
        let tasks = vec![
            tokio::spawn(forward(jobs, feed.clone(), "jobs", |event| match event {
                Change::Applied(job) => Observation::Job(Box::new(job)),
                Change::Deleted(job) => Observation::JobDeleted(job.name_any()),
            })),
            tokio::spawn(forward(pods, feed.clone(), "pods", |event| match event {
                Change::Applied(pod) => Observation::Pod(Box::new(pod)),
                Change::Deleted(pod) => Observation::PodDeleted(pod.name_any()),
            })),
            tokio::spawn(forward(
                claims,
                feed,
                "persistentvolumeclaims",
                |event| match event {
                    Change::Applied(claim) | Change::Deleted(claim) => {
                        Observation::Claim(Box::new(claim))
                    }
                },
            )),
        ];
        Watches { tasks }
    }
}

impl Drop for Watches {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

enum Change<K> {
    Applied(K),
    Deleted(K),
}

async fn forward<K>(
    api: Api<K>,
    feed: mpsc::UnboundedSender<Feed>,
    what: &'static str,
    observe: impl Fn(Change<K>) -> Observation,
) where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
    K::DynamicType: Default,
{
    let mut stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    while let Some(event) = stream.next().await {
        let message = match event {
            Ok(watcher::Event::Apply(object) | watcher::Event::InitApply(object)) => {
                Feed::Observed(observe(Change::Applied(object)))
            }
            Ok(watcher::Event::Delete(object)) => Feed::Observed(observe(Change::Deleted(object))),
            Ok(watcher::Event::Init | watcher::Event::InitDone) => continue,
            Err(err) => Feed::Trouble(format!("watch of {what} interrupted ({err}); resuming")),
        };
        if feed.send(message).is_err() {
            return;
        }
    }
}

/// Follows a pod's log and sends each line. When the stream ends while the container still runs
/// (a dropped connection), it reconnects and skips the lines already sent.
pub fn follow_logs(
    client: &Client,
    namespace: &str,
    pod: String,
    feed: mpsc::UnboundedSender<Feed>,
) -> JoinHandle<()> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    tokio::spawn(async move {
        let mut sent = 0usize;
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
                    loop {
                        match lines.try_next().await {
                            Ok(Some(line)) => {
                                index += 1;
                                if index > sent {
                                    sent = index;
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
                            Ok(None) | Err(_) => break,
                        }
                    }
                }
                Err(_) => failures += 1,
            }
            if !still_running(&api, &pod).await || failures > 30 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
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
