//! Credentials that expire while `apply` watches: kube-sim's tokens come from an exec credential
//! plugin and live a fraction of the upgrade, as EKS's 15-minute tokens do against a 30-minute
//! upgrade. kube-rs runs the plugin again before a token expires (the journal records each
//! renewal); a watch cut by an expiring or revoked token resumes from its resourceVersion; a plugin that stops working is an authentication problem
//! (exit 6), never an upgrade failure, and nothing is rolled back.

use kube_sim::scenario::{AuthSpec, OutageAnchor, WindowSpec};
use kube_sim::TokenPlugin;

use super::*;

fn with_tokens(scenario: &mut Scenario, token_ttl_s: f64, plugin_fails: Option<WindowSpec>) {
    scenario.auth = Some(AuthSpec {
        token_ttl_s,
        plugin_fails,
    });
}

/// Requests answered 401, as `METHOD PATH`.
fn refused(sim: &Sim) -> Vec<String> {
    sim.requests()
        .iter()
        .filter(|r| r.status == 401)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// The Job watch's requests that resumed from a resourceVersion.
fn job_watches_resumed(sim: &Sim) -> usize {
    sim.requests()
        .iter()
        .filter(|r| {
            r.watch
                && r.status == 200
                && r.path == JOBS_PATH
                && r.query.contains("resourceVersion=")
        })
        .count()
}

/// The renewal counts the journal recorded, in order (`credentials renewed` entries).
fn journaled_renewals(cluster: &Cluster) -> Vec<u64> {
    std::fs::read_to_string(cluster.path("astro-upgrade-journal.jsonl"))
        .expect("the journal is written")
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|entry| entry["step"] == "credentials" && entry["event"] == "renewed")
        .map(|entry| entry["detail"]["renewals"].as_u64().expect("a count"))
        .collect()
}

/// Lists (not watches) of the upgrade namespace's Jobs: the watch's initial list and any relist.
fn job_lists(sim: &Sim) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == JOBS_PATH && !r.watch)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_four_token_lifetimes_long_ends_on_0_23_with_fresh_tokens() {
    // The upgrade takes about 600 simulated seconds; tokens live 120 (3 real seconds at scale 40).
    let cluster = Cluster::start_with("healthy-upgrade-succeeds", 40.0, |scenario| {
        with_tokens(scenario, 120.0, None);
    })
    .await;
    let plan = cluster.approved_plan(&[ROLLBACK_ACK]).await;
    let lists_before = job_lists(&cluster.sim);
    let tokens_before = cluster.sim.token_requests();
    let started = Instant::now();
    let run = cluster.apply(&plan, &["--auto-rollback"]).await;
    assert_eq!(run.code, 0, "{}", run.text());
    assert!(
        started.elapsed() >= Duration::from_secs(12),
        "the run outlived four token lifetimes: {:?}",
        started.elapsed()
    );
    assert_eq!(cluster.platform_chart_version(), "0.23.18 deployed");
    assert!(
        cluster.sim.token_requests() >= 4,
        "the plugin ran again as tokens expired: {}",
        cluster.sim.token_requests()
    );
    assert_eq!(
        refused(&cluster.sim),
        Vec::<String>::new(),
        "every request carried a live token: kube-rs refreshes before expiry"
    );
    assert!(
        job_watches_resumed(&cluster.sim) >= 4,
        "the Job watch, cut at each expiry, resumed from its resourceVersion"
    );
    assert_eq!(
        job_lists(&cluster.sim) - lists_before,
        1,
        "one list: every resumption continued from the last event, none was lost to a relist"
    );
    assert!(
        !run.text().contains("credentials"),
        "no credential trouble to report: {}",
        run.text()
    );
    // The journal counts the tokens the apply sent after its first. Not every token the plugin
    // gave is one: kube-rs runs the plugin as the client is built (once for a TLS client
    // certificate, once for the first token, which it renews before use here, as a 3-second
    // token is inside its 60-second renewal margin), and a token given as the run ends may
    // never be sent. Most are.
    let renewals = journaled_renewals(&cluster);
    let apply_tokens = (cluster.sim.token_requests() - tokens_before) as u64;
    assert!(
        renewals.len() >= 3,
        "the journal records the renewals: {renewals:?}"
    );
    assert!(
        renewals.windows(2).all(|pair| pair[0] < pair[1]),
        "{renewals:?}"
    );
    let journaled = renewals.last().copied().unwrap_or_default();
    assert!(
        journaled < apply_tokens && journaled * 2 >= apply_tokens,
        "{journaled} renewals journaled for {apply_tokens} tokens"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_outage_across_a_token_expiry_is_survived() {
    // Tokens live 60 simulated seconds; the API answers 503 for 90 seconds from 5 s after the
    // Job's creation, so tokens expire inside the outage and the resumed watches need new ones.
    let cluster = Cluster::start_with("api-outage-mid-upgrade", 40.0, |scenario| {
        with_tokens(scenario, 60.0, None);
        scenario.faults.watch_cut_after_events = Some(1);
        scenario
            .faults
            .api_unavailable
            .as_mut()
            .expect("the scenario has an outage")
            .from_s = 5.0;
    })
    .await;
    let plan = cluster.approved_plan(&[ROLLBACK_ACK]).await;
    let run = cluster.apply(&plan, &["--auto-rollback"]).await;
    assert_eq!(run.code, 0, "{}", run.text());
    assert_eq!(cluster.platform_chart_version(), "0.23.18 deployed");
    let requests = cluster.sim.requests();
    let outage = requests
        .iter()
        .position(|r| r.status == 503)
        .expect("the outage happened while astro-upgrade watched");
    let tokens_after_outage = requests[outage..]
        .iter()
        .filter(|r| r.path == kube_sim::auth::TOKEN_PATH)
        .count();
    assert!(
        tokens_after_outage >= 1,
        "tokens were renewed after the outage began"
    );
    assert_eq!(refused(&cluster.sim), Vec::<String>::new());
    assert_eq!(
        cluster.job_posts(),
        2,
        "the probe and the upgrade Job, once each"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_that_stops_working_is_an_authentication_problem_and_nothing_is_rolled_back() {
    // From 60 simulated seconds after the upgrade Job's creation the plugin gets no token; the
    // upgrade itself goes on in the cluster and completes about 600 seconds after its start.
    let cluster = Cluster::start_with("healthy-upgrade-succeeds", 10.0, |scenario| {
        with_tokens(
            scenario,
            120.0,
            Some(WindowSpec {
                from_s: 60.0,
                for_s: None,
                anchor: OutageAnchor::UpgradeJob,
            }),
        );
    })
    .await;
    let plan = cluster.approved_plan(&[ROLLBACK_ACK]).await;
    let run = cluster.apply(&plan, &["--auto-rollback"]).await;
    assert_eq!(run.code, 6, "{}", run.text());
    let text = run.text();
    assert!(
        text.contains("authentication problem, not an upgrade failure"),
        "{text}"
    );
    assert!(
        text.contains("no token issued"),
        "the plugin's reason is shown: {text}"
    );
    assert!(text.contains("kubectl get --raw /version"), "{text}");
    assert!(
        text.contains("the same `astro-upgrade apply` re-attaches"),
        "{text}"
    );
    assert!(
        cluster
            .sim
            .object("batch/v1", "Job", Some("default"), ROLLBACK_JOB)
            .is_none(),
        "lost credentials never roll back"
    );
    assert!(
        cluster
            .sim
            .object("batch/v1", "Job", Some("default"), UPGRADE_JOB)
            .is_some(),
        "the upgrade Job is left running"
    );
    let journal = std::fs::read_to_string(cluster.path("astro-upgrade-journal.jsonl"))
        .expect("the journal is written");
    for (step, event) in [("credentials", "refused"), ("credentials", "lost")] {
        assert!(
            journal
                .lines()
                .any(|l| l.contains(&format!("\"step\":\"{step}\""))
                    && l.contains(&format!("\"event\":\"{event}\""))),
            "the journal records {step} {event}: {journal}"
        );
    }
    assert!(
        !journal.contains("kube-sim-token-"),
        "no token in the journal"
    );

    // The operator renews the credentials: `status` sees the cluster again, and `apply`
    // re-attaches to the same Job and follows it to its end.
    cluster.sim.set_token_plugin(TokenPlugin::Working);
    let status = cluster.run(&["status"]).await;
    assert_eq!(status.code, 0, "{}", status.text());
    assert!(
        status
            .text()
            .contains("Job default/upgrade-astronomer: running")
            || status
                .text()
                .contains("Job default/upgrade-astronomer: complete"),
        "{}",
        status.text()
    );
    let posts = cluster.job_posts();
    let again = cluster.apply(&plan, &["--auto-rollback"]).await;
    assert_eq!(again.code, 0, "{}", again.text());
    assert_eq!(
        cluster.job_posts(),
        posts,
        "re-attached: no Job created again"
    );
    assert_eq!(cluster.platform_chart_version(), "0.23.18 deployed");
}

/// Waits until the simulator holds Job `name`.
async fn job_created(sim: &Sim, name: &str) {
    tokio::time::timeout(Duration::from_secs(60), async {
        while sim
            .object("batch/v1", "Job", Some("default"), name)
            .is_none()
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("Job {name} is created"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_tokens_are_replaced_and_the_watches_resume() {
    // Tokens live an hour, so kube-rs keeps using its token; the test revokes every token soon
    // after the upgrade Job appears (as revoking a role's sessions does). Every watch stream ends
    // after one event, so the watches reconnect with the revoked token and meet 401.
    let cluster = Cluster::start_with("healthy-upgrade-succeeds", 20.0, |scenario| {
        with_tokens(scenario, 3600.0, None);
        scenario.faults.watch_cut_after_events = Some(1);
    })
    .await;
    let plan = cluster.approved_plan(&[ROLLBACK_ACK]).await;
    let lists_before = job_lists(&cluster.sim);
    let args = cluster.apply_args(&plan, &["--auto-rollback"]);
    let mut apply = cluster.command(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let revoke = async {
        job_created(&cluster.sim, UPGRADE_JOB).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        cluster.sim.revoke_tokens();
    };
    let (output, ()) = tokio::join!(
        async {
            tokio::time::timeout(Duration::from_secs(120), apply.output())
                .await
                .expect("apply finishes")
                .expect("apply runs")
        },
        revoke
    );
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert_eq!(cluster.platform_chart_version(), "0.23.18 deployed");
    assert!(
        !refused(&cluster.sim).is_empty(),
        "the revoked token met 401"
    );
    assert!(text.contains("new credentials accepted"), "{text}");
    let journal = std::fs::read_to_string(cluster.path("astro-upgrade-journal.jsonl"))
        .expect("the journal is written");
    assert!(
        journal.contains("\"event\":\"refused\"") && journal.contains("\"event\":\"refreshed\""),
        "the journal records the refresh: {journal}"
    );
    assert!(!journal.contains("\"event\":\"lost\""), "{journal}");
    assert_eq!(
        job_lists(&cluster.sim) - lists_before,
        1,
        "the Job watch kept its place across the new credentials: resumed, never listed again"
    );
    assert!(
        job_watches_resumed(&cluster.sim) >= 2,
        "the Job watch resumed from its resourceVersion"
    );
    assert_eq!(
        cluster.job_posts(),
        2,
        "the probe and the upgrade Job, once each"
    );
    assert!(cluster
        .sim
        .object("batch/v1", "Job", Some("default"), ROLLBACK_JOB)
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_that_stops_working_during_the_rollback_hands_over_without_touching_it() {
    let cluster = Cluster::start_with("upgrade-fails-after-backup", 20.0, |scenario| {
        with_tokens(scenario, 120.0, None);
    })
    .await;
    let plan = cluster
        .approved_plan(&[HOUSTON_WORKER_CRASHING, ROLLBACK_ACK])
        .await;
    let args = cluster.apply_args(&plan, &["--auto-rollback"]);
    let mut apply = cluster.command(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let fail_plugin = async {
        job_created(&cluster.sim, ROLLBACK_JOB).await;
        cluster.sim.set_token_plugin(TokenPlugin::Failing);
    };
    let (output, ()) = tokio::join!(
        async {
            tokio::time::timeout(Duration::from_secs(120), apply.output())
                .await
                .expect("apply finishes")
                .expect("apply runs")
        },
        fail_plugin
    );
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(6), "{text}");
    assert!(
        text.contains("authentication problem, not an upgrade failure"),
        "{text}"
    );
    assert!(
        text.contains("`astro-upgrade rollback` with the same manifest re-attaches"),
        "{text}"
    );
    assert!(!text.contains("rollback failed"), "{text}");
    let rollback_posts = cluster
        .sim
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == JOBS_PATH && r.status < 300)
        .count();
    assert_eq!(
        rollback_posts, 3,
        "probe, upgrade, rollback: nothing created again"
    );
    assert!(
        cluster
            .sim
            .object("batch/v1", "Job", Some("default"), ROLLBACK_JOB)
            .is_some(),
        "the rollback Job is left running"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collect_on_a_slow_cluster_outlives_its_tokens() {
    // 300 ms per request and tokens of one second: the collection needs several tokens.
    let cluster = Cluster::start_with("healthy-upgrade-succeeds", 1.0, |scenario| {
        with_tokens(scenario, 1.0, None);
        scenario.faults.latency_ms = 300;
    })
    .await;
    let bundle = cluster.collect().await;
    assert!(bundle.contains("\"pods\""), "a whole bundle");
    assert!(
        cluster.sim.token_requests() >= 3,
        "tokens were renewed during the collection: {}",
        cluster.sim.token_requests()
    );
    assert_eq!(refused(&cluster.sim), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_cannot_get_credentials_says_it_is_an_authentication_problem() {
    let cluster = Cluster::start_with("healthy-upgrade-succeeds", 1.0, |scenario| {
        with_tokens(scenario, 600.0, None);
    })
    .await;
    cluster.sim.set_token_plugin(TokenPlugin::Failing);
    for args in [&["status"][..], &["collect", "--out", "b.json"][..]] {
        let run = cluster.run(args).await;
        assert_eq!(run.code, 1, "{args:?}: {}", run.text());
        let text = run.text();
        assert!(
            text.contains("This is an authentication problem")
                && text.contains("kubectl get --raw /version")
                && text.contains("no token issued"),
            "{args:?}: {text}"
        );
    }
}
