//! kube-sim serving a full paginated pod list of the 5,000-pod scenario, the way kubectl chunks it
//! (`limit=500` pages followed by `continue` tokens), over real HTTP on loopback.
//!
//! Run: `cargo bench -p astro-upgrade-tests --bench sim`

use std::path::Path;

use kube_sim::{Options, Scenario, Sim};

fn main() {
    divan::main();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn large_scenario() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/large-5000-pods.yaml");
    Scenario::from_file(&path).expect("the large scenario parses")
}

/// What a client needs from a page: the continue token, and how many entries it holds (the
/// entries themselves are skipped, so the figure is the server's work plus the transfer).
#[derive(serde::Deserialize)]
struct Page {
    metadata: PageMetadata,
    items: Option<Vec<serde::de::IgnoredAny>>,
    rows: Option<Vec<serde::de::IgnoredAny>>,
}

#[derive(serde::Deserialize)]
struct PageMetadata {
    #[serde(rename = "continue")]
    continue_token: Option<String>,
}

/// Every page of `GET /api/v1/pods?limit=500`; returns the number of pods served.
async fn list_all_pods(client: &reqwest::Client, url: &str, table: bool) -> usize {
    let mut token = String::new();
    let mut count = 0;
    loop {
        let mut request = client.get(format!("{url}/api/v1/pods?limit=500&continue={token}"));
        if table {
            request = request.header(
                "accept",
                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
            );
        }
        let body = request.send().await.unwrap().bytes().await.unwrap();
        let page: Page = serde_json::from_slice(&body).unwrap();
        count += page.items.or(page.rows).map_or(0, |i| i.len());
        match page.metadata.continue_token {
            Some(next) => token = next,
            None => return count,
        }
    }
}

#[divan::bench(args = [false, true], sample_count = 10)]
fn paginated_list_5000_pods(bencher: divan::Bencher, table: bool) {
    let runtime = runtime();
    let sim = runtime
        .block_on(Sim::start(large_scenario(), Options::default()))
        .expect("kube-sim starts");
    let client = reqwest::Client::new();
    let url = sim.url();
    bencher.bench_local(|| {
        let served = runtime.block_on(list_all_pods(&client, &url, table));
        assert_eq!(served, 5000);
    });
    runtime.block_on(sim.shutdown());
}

#[divan::bench(sample_count = 5)]
fn start_5000_pod_scenario(bencher: divan::Bencher) {
    let runtime = runtime();
    bencher.bench_local(|| {
        let sim = runtime
            .block_on(Sim::start(large_scenario(), Options::default()))
            .expect("kube-sim starts");
        runtime.block_on(sim.shutdown());
    });
}
