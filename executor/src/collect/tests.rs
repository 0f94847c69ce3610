use std::io::Write as _;

use base64::Engine as _;
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus, PodStatus,
};

use super::*;

fn stored_release(json: &serde_json::Value, gzip: bool) -> Vec<u8> {
    let raw = serde_json::to_vec(json).unwrap();
    let bytes = if gzip {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(&raw).unwrap();
        encoder.finish().unwrap()
    } else {
        raw
    };
    base64::engine::general_purpose::STANDARD
        .encode(bytes)
        .into_bytes()
}

#[test]
fn helm_release_secrets_decode_with_and_without_gzip() {
    let record = serde_json::json!({
        "name": "astronomer", "namespace": "astronomer", "version": 7,
        "info": {"status": "deployed", "description": "Upgrade complete"},
        "chart": {"metadata": {"name": "astronomer", "version": "0.16.15", "appVersion": "0.16.15"}},
        "config": {"postgres": {"password": "hunter2"}},
    });
    for gzip in [true, false] {
        let revision = decode_helm_release(&stored_release(&record, gzip)).unwrap();
        assert_eq!(revision.name, "astronomer");
        assert_eq!(revision.revision, 7);
        assert_eq!(revision.status.as_deref(), Some("deployed"));
        assert_eq!(revision.chart, "astronomer");
        assert_eq!(revision.chart_version.as_deref(), Some("0.16.15"));
        assert!(!format!("{revision:?}").contains("hunter2"));
    }
    assert_eq!(decode_helm_release(b"not base64 at all!"), None);
    assert_eq!(decode_helm_release(b""), None);
}

#[test]
fn only_the_newest_revision_of_each_release_is_listed() {
    let revision = |name: &str, revision: u32, status: &str, version: &str| ReleaseRevision {
        name: name.to_string(),
        namespace: Some("astronomer".to_string()),
        revision,
        status: Some(status.to_string()),
        description: None,
        chart: "astronomer".to_string(),
        chart_version: Some(version.to_string()),
        app_version: None,
    };
    let releases = newest_releases(&[
        revision("astronomer", 2, "superseded", "0.16.9"),
        revision("astronomer", 3, "deployed", "0.16.15"),
        revision("other", 1, "deployed", "0.16.1"),
    ]);
    let shown: Vec<_> = releases
        .iter()
        .map(|r| (r.name.as_str(), r.revision, r.chart_version.as_deref()))
        .collect();
    assert_eq!(
        shown,
        [
            ("astronomer", Some(3), Some("0.16.15")),
            ("other", Some(1), Some("0.16.1"))
        ]
    );
}

#[test]
fn the_connection_shape_keeps_no_credentials() {
    let shape = connection_shape(b"postgres://root:s3cret@db.example.com:5432/astro").unwrap();
    assert_eq!(
        (shape.scheme.as_str(), shape.host.as_str(), shape.has_port),
        ("postgres", "db.example.com", true)
    );
    assert!(!serde_json::to_string(&shape).unwrap().contains("s3cret"));
    let shape = connection_shape(b"postgresql://root:p@ss:w@db.example.com/astro").unwrap();
    assert_eq!(
        (shape.scheme.as_str(), shape.host.as_str(), shape.has_port),
        ("postgresql", "db.example.com", false)
    );
    // A `/` in the password does not end the authority early: no part of it becomes the host.
    let shape = connection_shape(b"postgres://root:p@ss/w:rd@db.example.com:5432/astro").unwrap();
    assert_eq!(
        (shape.scheme.as_str(), shape.host.as_str(), shape.has_port),
        ("postgres", "db.example.com", true)
    );
    assert_eq!(connection_shape(b"no scheme here"), None);
}

fn pod_with(phase: &str, states: Vec<(bool, ContainerState)>) -> KubePod {
    KubePod {
        metadata: kube::api::ObjectMeta {
            name: Some("p".into()),
            namespace: Some("astronomer".into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![Default::default(); states.len()],
            ..Default::default()
        }),
        status: Some(PodStatus {
            phase: Some(phase.into()),
            container_statuses: Some(
                states
                    .into_iter()
                    .map(|(ready, state)| ContainerStatus {
                        ready,
                        state: Some(state),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }),
    }
}

fn running() -> ContainerState {
    ContainerState {
        running: Some(Default::default()),
        ..Default::default()
    }
}

#[test]
fn pod_status_reads_like_kubectl_get_pods() {
    let healthy = pod_fact(&pod_with(
        "Running",
        vec![(true, running()), (true, running())],
    ));
    assert_eq!(
        (
            healthy.status.as_str(),
            healthy.ready.as_deref(),
            healthy.healthy
        ),
        ("Running", Some("2/2"), true)
    );

    let half = pod_fact(&pod_with(
        "Running",
        vec![(true, running()), (false, running())],
    ));
    assert!(!half.healthy, "Running 1/2 is not healthy");

    let pulling = pod_with(
        "Pending",
        vec![(
            false,
            ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some("ImagePullBackOff".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )],
    );
    assert_eq!(pod_status(&pulling), "ImagePullBackOff");

    let done = |exit_code, reason: &str| {
        pod_with(
            if exit_code == 0 {
                "Succeeded"
            } else {
                "Failed"
            },
            vec![(
                false,
                ContainerState {
                    terminated: Some(ContainerStateTerminated {
                        exit_code,
                        reason: Some(reason.into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            )],
        )
    };
    let completed = pod_fact(&done(0, "Completed"));
    assert_eq!(
        (completed.status.as_str(), completed.healthy),
        ("Completed", true)
    );
    assert_eq!(pod_fact(&done(2, "Error")).status, "Error");

    // A container killed by a signal, without a reason: kubectl prints Signal:N, not the exit
    // code (the live path once said ExitCode:137 where the pasted output said Signal:9).
    let killed = pod_with(
        "Running",
        vec![(
            false,
            ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: 137,
                    signal: Some(9),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )],
    );
    assert_eq!(pod_status(&killed), "Signal:9");
    let exited = pod_with(
        "Running",
        vec![(
            false,
            ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: 3,
                    ..Default::default()
                }),
                ..Default::default()
            },
        )],
    );
    assert_eq!(pod_status(&exited), "ExitCode:3");
    let mut terminating = pod_with("Running", vec![(true, running())]);
    terminating.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            "2026-12-04T10:00:00Z".parse().unwrap(),
        ));
    assert_eq!(pod_status(&terminating), "Terminating");
    let mut lost = terminating.clone();
    lost.status.as_mut().unwrap().reason = Some("NodeLost".into());
    assert_eq!(pod_status(&lost), "Unknown");
}
