//! kubectl's pod printer as the planner applies it to Pod objects (`-o json`, `collect`, the
//! executor's watch): READY counts the containers that are running and ready, and STATUS is what
//! `kubectl get pods` prints.

use planner::facts::At;
use planner::input::pods::{pod_from_object, pod_status};
use serde_json::{json, Value};

fn live() -> At {
    At {
        source: "live".into(),
        line: None,
    }
}

fn running(name: &str, ready: bool) -> Value {
    json!({"name": name, "ready": ready, "restartCount": 0,
           "state": {"running": {"startedAt": "2026-11-27T16:00:00Z"}}})
}

fn pod(containers: &[Value], statuses: &[Value], ready_condition: &str) -> Value {
    json!({
        "kind": "Pod",
        "metadata": {"name": "astronomer-houston-6b4f-x2x4q", "namespace": "astronomer"},
        "spec": {"containers": containers},
        "status": {
            "phase": "Running",
            "containerStatuses": statuses,
            "conditions": [{"type": "Ready", "status": ready_condition}],
        },
    })
}

#[test]
fn a_running_container_that_is_not_ready_leaves_the_pod_unhealthy() {
    let object = pod(
        &[json!({"name": "houston"})],
        &[running("houston", false)],
        "False",
    );
    let pod = pod_from_object(&object, None, live()).unwrap();
    assert_eq!(pod.ready.as_deref(), Some("0/1"));
    assert_eq!(pod.status, "Running");
    assert!(!pod.healthy);
    assert_eq!(pod_status(&object), "Running");
}

#[test]
fn a_finished_sidecar_beside_a_running_container_reads_running_or_not_ready_from_the_pod() {
    let containers = [json!({"name": "houston"}), json!({"name": "migrate"})];
    let statuses = [
        running("houston", true),
        json!({"name": "migrate", "ready": false, "restartCount": 0,
               "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}),
    ];
    let ready = pod(&containers, &statuses, "True");
    assert_eq!(pod_status(&ready), "Running");
    assert_eq!(
        pod_from_object(&ready, None, live())
            .unwrap()
            .ready
            .as_deref(),
        Some("1/2")
    );
    assert_eq!(
        pod_status(&pod(&containers, &statuses, "False")),
        "NotReady"
    );
}
