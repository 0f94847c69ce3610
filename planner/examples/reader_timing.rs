//! Times `read_source` on the benchmark's generated pastes with `std::time::Instant`, so the
//! same measurement runs natively and as WebAssembly (wasm32-wasip1 under node's `node:wasi`),
//! where divan cannot. See `scripts/wasm-reader-timing` for the wasm run.

use std::time::{Duration, Instant};

use planner::input::{read_source, EvidenceKind, Source};

#[path = "../benches/readers/workload.rs"]
mod workload;

/// Best of `rounds` timed reads, as MB/s (best-of, like divan's "fastest": least disturbed).
fn best_throughput(source: &Source, rounds: u32) -> (f64, Duration) {
    let mut best = Duration::MAX;
    for _ in 0..rounds {
        let start = Instant::now();
        let facts = read_source(source);
        let elapsed = start.elapsed();
        assert!(!facts.pods.is_empty(), "the workload has pods");
        best = best.min(elapsed);
    }
    let megabytes = source.text.len() as f64 / 1e6;
    (megabytes / best.as_secs_f64(), best)
}

fn main() {
    let rounds = 30;
    let cases = [
        (
            "pods_wide_10k_typed",
            Source::new(
                "pods.txt",
                Some(EvidenceKind::Pods),
                workload::pod_table(10_000),
            ),
        ),
        (
            "pods_wide_10k_by_content",
            Source::new("paste.txt", None, workload::pod_table(10_000)),
        ),
        (
            "transcript_5k_lines",
            Source::new(
                "session.txt",
                Some(EvidenceKind::Transcript),
                workload::transcript(5_000),
            ),
        ),
    ];
    for (name, source) in &cases {
        let (throughput, best) = best_throughput(source, rounds);
        println!(
            "{name:<26} {:>9} bytes  best {:>8.2} ms  {throughput:>7.1} MB/s",
            source.text.len(),
            best.as_secs_f64() * 1e3
        );
    }
}
