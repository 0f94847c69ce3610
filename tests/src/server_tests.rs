//! HTTP-level behaviour kubectl does not exercise: watches, pagination, faults, patches.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{Options, Scenario, Sim};

async fn start(yaml: &str, time_scale: f64) -> Sim {
    let scenario = Scenario::from_yaml("inline.yaml", yaml).expect("scenario parses");
    Sim::start(
        scenario,
        Options {
            time_scale,
            ..Options::default()
        },
    )
    .await
    .expect("starts")
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn get_json(sim: &Sim, path: &str) -> (u16, Value) {
    let response = client()
        .get(format!("{}{path}", sim.url()))
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Reads a watch stream to its end (the server closes it).
async fn watch_lines(sim: &Sim, path: &str) -> Vec<Value> {
    let text = client()
        .get(format!("{}{path}", sim.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

const PODS: &str = "generate:\n  pods:\n    - {namespace: work, name_prefix: p, count: 5000, image: busybox:1.31, crash_every: 1000}\n";

#[tokio::test]
async fn paginated_list_serves_every_pod_once() {
    let sim = start(PODS, 1.0).await;
    let mut names = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let (status, page) =
            get_json(&sim, &format!("/api/v1/pods?limit=500&continue={token}")).await;
        assert_eq!(status, 200);
        pages += 1;
        names.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["metadata"]["name"].as_str().unwrap().to_string()),
        );
        match page["metadata"]["continue"].as_str() {
            Some(next) => token = next.to_string(),
            None => break,
        }
    }
    assert_eq!(pages, 10);
    assert_eq!(names.len(), 5000);
    let mut unique = names.clone();
    unique.dedup();
    assert_eq!(unique.len(), 5000, "no pod twice");
    let (status, crashing) = get_json(
        &sim,
        "/api/v1/namespaces/work/pods?fieldSelector=metadata.name%3Dp-00999",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        crashing["items"][0]["status"]["containerStatuses"][0]["state"]["waiting"]["reason"],
        "CrashLoopBackOff"
    );
}

#[tokio::test]
async fn watch_replays_from_a_resource_version_and_is_cut_after_n_events() {
    let sim = start("faults:\n  watch_cut_after_events: 2\n", 1.0).await;
    let (_, list) = get_json(&sim, "/api/v1/namespaces/default/configmaps").await;
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    for name in ["a", "b", "c"] {
        let response = client()
            .post(format!(
                "{}/api/v1/namespaces/default/configmaps",
                sim.url()
            ))
            .json(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 201);
    }
    let events = watch_lines(
        &sim,
        &format!("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}"),
    )
    .await;
    let seen: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap(),
                e["object"]["metadata"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [("ADDED", "a"), ("ADDED", "b")],
        "cut after two events"
    );
}

#[tokio::test]
async fn watch_from_a_forgotten_resource_version_gets_410() {
    let sim = start(
        "faults:\n  gone_on_old_resource_version: {keep_last_events: 1}\n",
        1.0,
    )
    .await;
    let (_, list) = get_json(&sim, "/api/v1/namespaces/default/configmaps").await;
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    for name in ["a", "b"] {
        client()
            .post(format!(
                "{}/api/v1/namespaces/default/configmaps",
                sim.url()
            ))
            .json(&json!({"metadata": {"name": name}}))
            .send()
            .await
            .unwrap();
    }
    let events = watch_lines(
        &sim,
        &format!("/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}"),
    )
    .await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "ERROR");
    assert_eq!(events[0]["object"]["code"], 410);
    assert!(events[0]["object"]["message"]
        .as_str()
        .unwrap()
        .starts_with("too old resource version"));
}

#[tokio::test]
async fn injected_faults_hit_the_chosen_requests_only() {
    let sim = start(
        "faults:\n  requests:\n    - when: {method: GET, path_prefix: /api/v1/namespaces/default/pods, after_requests: 1, count: 2}\n      respond: 500\n",
        1.0,
    )
    .await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(get_json(&sim, "/api/v1/namespaces/default/pods").await.0);
    }
    assert_eq!(statuses, [200, 500, 500, 200]);
    assert_eq!(
        get_json(&sim, "/api/v1/namespaces/default/secrets").await.0,
        200
    );
    let recorded: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(recorded, [200, 500, 500, 200, 200]);
}

#[tokio::test]
async fn outage_answers_503_then_recovers() {
    let sim = start(
        "faults:\n  api_unavailable: {from_s: 0, for_s: 30}\n",
        100.0,
    )
    .await;
    let (status, body) = get_json(&sim, "/version").await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (503, Some("ServiceUnavailable"))
    );
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(get_json(&sim, "/version").await.0, 200);
}

#[tokio::test]
async fn an_outage_ends_open_watch_streams() {
    let sim = start(
        "faults:\n  api_unavailable: {from_s: 0.3, for_s: 60}\n",
        1.0,
    )
    .await;
    let watch = client()
        .get(format!(
            "{}/api/v1/namespaces/default/pods?watch=true",
            sim.url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        watch.status().as_u16(),
        200,
        "the watch starts before the outage"
    );
    let ended = tokio::time::timeout(std::time::Duration::from_secs(5), watch.text()).await;
    assert!(ended.is_ok(), "the stream ends when the outage begins");
    assert_eq!(
        get_json(&sim, "/api/v1/namespaces/default/pods").await.0,
        503
    );
}

#[tokio::test]
async fn reset_outage_closes_connections() {
    let sim = start(
        "faults:\n  api_unavailable: {from_s: 0, for_s: 3600, mode: reset}\n",
        1.0,
    )
    .await;
    let result = client().get(format!("{}/version", sim.url())).send().await;
    assert!(result.is_err(), "{result:?}");
}

#[tokio::test]
async fn refuse_outage_refuses_connections_then_listens_again() {
    let sim = start(
        "faults:\n  api_unavailable: {from_s: 0.2, for_s: 0.4, mode: refuse}\n",
        1.0,
    )
    .await;
    let fresh = || {
        reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap()
    };
    let url = format!("{}/version", sim.url());
    assert_eq!(
        fresh().get(&url).send().await.unwrap().status().as_u16(),
        200
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let error = fresh().get(&url).send().await.unwrap_err();
    assert!(error.is_connect(), "{error:?}");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        fresh().get(&url).send().await.unwrap().status().as_u16(),
        200
    );
}

#[tokio::test]
async fn server_side_apply_is_refused_like_1_14() {
    let sim = start("", 1.0).await;
    let response = client()
        .patch(format!(
            "{}/api/v1/namespaces/default/configmaps/x?fieldManager=t",
            sim.url()
        ))
        .header("content-type", "application/apply-patch+yaml")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);
}

#[tokio::test]
async fn create_conflicts_and_missing_objects_answer_status_objects() {
    let sim = start("", 1.0).await;
    let create = || {
        client()
            .post(format!(
                "{}/api/v1/namespaces/default/serviceaccounts",
                sim.url()
            ))
            .json(&json!({"metadata": {"name": "sa"}}))
            .send()
    };
    assert_eq!(create().await.unwrap().status().as_u16(), 201);
    let again = create().await.unwrap();
    assert_eq!(again.status().as_u16(), 409);
    let status: Value = again.json().await.unwrap();
    assert_eq!(status["reason"], "AlreadyExists");
    assert_eq!(status["message"], "serviceaccounts \"sa\" already exists");
    let (code, missing) = get_json(&sim, "/apis/batch/v1/namespaces/default/jobs/none").await;
    assert_eq!(code, 404);
    assert_eq!(missing["message"], "jobs.batch \"none\" not found");
    let account = sim
        .object("v1", "ServiceAccount", Some("default"), "sa")
        .unwrap();
    assert_eq!(
        account["secrets"].as_array().unwrap().len(),
        1,
        "token controller ran"
    );
}

#[tokio::test]
async fn clusterrolebinding_role_ref_is_immutable() {
    let sim = start("", 1.0).await;
    let url = format!(
        "{}/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        sim.url()
    );
    let binding = json!({"metadata": {"name": "b"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "one"}, "subjects": []});
    assert_eq!(
        client()
            .post(&url)
            .json(&binding)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        201
    );
    let response = client()
        .patch(format!("{url}/b"))
        .header("content-type", "application/merge-patch+json")
        .body(json!({"roleRef": {"name": "two"}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 422);
    let status: Value = response.json().await.unwrap();
    assert_eq!(status["reason"], "Invalid");
}

/// `kubectl auth can-i '*' '*' --all-namespaces`, asked as JSON and as protobuf: a yes only when
/// the scenario denies nothing, since any deny rule takes part of `*` on `*` away.
#[tokio::test]
async fn access_reviews_for_everything_answer_from_every_deny_rule() {
    fn field(number: u8, value: &[u8]) -> Vec<u8> {
        let mut out = vec![(number << 3) | 2, value.len() as u8];
        out.extend_from_slice(value);
        out
    }
    let protobuf = {
        let attributes = [field(2, b"*"), field(5, b"*")].concat();
        let review = [field(1, b""), field(2, &field(1, &attributes))].concat();
        let type_meta = [
            field(1, b"authorization.k8s.io/v1"),
            field(2, b"SelfSubjectAccessReview"),
        ]
        .concat();
        let unknown = [field(1, &type_meta), field(2, &review)].concat();
        [&b"k8s\0"[..], &unknown].concat()
    };
    let json_body = json!({
        "kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
        "spec": {"resourceAttributes": {"verb": "*", "resource": "*"}},
    })
    .to_string()
    .into_bytes();
    let ask = |sim: &Sim, body: Vec<u8>, content_type: &'static str| {
        let url = format!(
            "{}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            sim.url()
        );
        async move {
            let response = client()
                .post(url)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .expect("request");
            assert_eq!(response.status().as_u16(), 201);
            let review: Value = response.json().await.expect("JSON");
            review["status"]["allowed"].as_bool().expect("allowed")
        }
    };
    for (rbac, everything) in [
        ("", true),
        (
            "rbac:\n  deny:\n    - {verb: escalate, resource: clusterroles, group: rbac.authorization.k8s.io}\n",
            false,
        ),
        (
            "rbac:\n  deny:\n    - {verb: delete, resource: pods, namespace: kube-system}\n",
            false,
        ),
    ] {
        let sim = start(rbac, 1.0).await;
        assert_eq!(
            ask(&sim, json_body.clone(), "application/json").await,
            everything,
            "JSON: {rbac}"
        );
        assert_eq!(
            ask(&sim, protobuf.clone(), "application/vnd.kubernetes.protobuf").await,
            everything,
            "protobuf: {rbac}"
        );
    }
}

/// RBAC escalation prevention: without `escalate`, a ClusterRole may grant only what no deny rule
/// takes away.
#[tokio::test]
async fn a_cluster_role_granting_what_the_user_does_not_hold_is_forbidden() {
    let sim = start(
        "rbac:\n  deny:\n    - {verb: escalate, resource: clusterroles, group: rbac.authorization.k8s.io}\n    - {verb: delete, resource: nodes}\n",
        1.0,
    )
    .await;
    let create = |name: &str, rules: Value| {
        let url = format!(
            "{}/apis/rbac.authorization.k8s.io/v1/clusterroles",
            sim.url()
        );
        let body = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": name}, "rules": rules,
        });
        async move {
            let response = client()
                .post(url)
                .json(&body)
                .send()
                .await
                .expect("request");
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (status, body) = create(
        "everything",
        json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("is attempting to grant RBAC permissions not currently held")
            && message.contains(r#"{APIGroups:["*"], Resources:["*"], Verbs:["*"]}"#),
        "{message}"
    );
    // what the user holds may be granted
    let (status, body) = create(
        "pod-reader",
        json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

/// The exec plugin's URL (`args: [token, --server, URL]`) in the kubeconfig.
fn token_service(sim: &Sim) -> String {
    let kubeconfig = sim.kubeconfig_yaml();
    let start = kubeconfig.find("--server, \"").expect("an exec plugin") + 11;
    let end = start + kubeconfig[start..].find('"').expect("quoted");
    kubeconfig[start..end].to_string()
}

/// The plugin's request, off the runtime's threads (it blocks).
async fn request_token(service: String) -> Result<String, String> {
    tokio::task::spawn_blocking(move || crate::auth::request_token(&service))
        .await
        .expect("the plugin's request runs")
}

#[tokio::test]
async fn tokens_are_required_expire_and_end_the_streams_opened_with_them() {
    // 60 simulated seconds of token life at time scale 60: one real second.
    let sim = start("auth: {token_ttl_s: 60}\n", 60.0).await;
    let (status, body) = get_json(&sim, "/api/v1/namespaces").await;
    assert_eq!(status, 401, "no token");
    assert_eq!(body["reason"], "Unauthorized");

    let credential: Value = serde_json::from_str(
        &request_token(token_service(&sim))
            .await
            .expect("the plugin gets a token"),
    )
    .expect("an ExecCredential");
    assert_eq!(credential["kind"], "ExecCredential");
    let token = credential["status"]["token"].as_str().unwrap().to_string();
    let authorized = |path: &str| {
        client()
            .get(format!("{}{path}", sim.url()))
            .bearer_auth(&token)
            .send()
    };
    assert_eq!(
        authorized("/api/v1/namespaces").await.unwrap().status(),
        200
    );
    let opened = Instant::now();
    let watch = authorized("/api/v1/namespaces?watch=true")
        .await
        .unwrap()
        .text();
    let streamed = tokio::time::timeout(Duration::from_secs(10), watch)
        .await
        .expect("the watch ends when its token expires")
        .expect("the stream ends cleanly");
    assert!(
        opened.elapsed() >= Duration::from_millis(800),
        "not before the token expires: {:?}",
        opened.elapsed()
    );
    assert!(streamed.contains("ADDED"), "{streamed}");
    assert_eq!(
        authorized("/api/v1/namespaces").await.unwrap().status(),
        401,
        "an expired token is refused"
    );
    assert_eq!(sim.token_requests(), 1);

    sim.set_token_plugin(crate::TokenPlugin::Failing);
    let refused = request_token(token_service(&sim))
        .await
        .expect_err("no token");
    assert!(refused.contains("403"), "{refused}");
    assert_eq!(sim.token_requests(), 2, "a refused request is counted too");
}

#[tokio::test]
async fn the_plugin_fails_in_the_scenario_s_window() {
    let yaml = "auth: {token_ttl_s: 600, plugin_fails: {from_s: 60, for_s: 60}}\n";
    let sim = start(yaml, 120.0).await;
    let service = token_service(&sim);
    assert!(
        request_token(service.clone()).await.is_ok(),
        "before the window"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(request_token(service.clone()).await.is_err(), "inside it");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(request_token(service.clone()).await.is_ok(), "after it");
}
