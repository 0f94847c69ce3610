//! Reader throughput on large pastes: a 10,000-pod `kubectl get pods -A -o wide` table and a
//! 5,000-line terminal transcript. Run with `cargo bench -p planner --bench readers`.

use divan::counter::BytesCount;
use divan::{black_box, Bencher};
use planner::input::{read_source, EvidenceKind, Source};
mod workload;

fn main() {
    divan::main();
}

#[divan::bench]
fn pods_wide_10k_typed(bencher: Bencher) {
    let text = workload::pod_table(10_000);
    let source = Source::new("pods.txt", Some(EvidenceKind::Pods), text);
    bencher
        .counter(BytesCount::of_str(&source.text))
        .bench(|| black_box(read_source(black_box(&source))));
}

#[divan::bench]
fn pods_wide_10k_by_content(bencher: Bencher) {
    let text = workload::pod_table(10_000);
    let source = Source::new("paste.txt", None, text);
    bencher
        .counter(BytesCount::of_str(&source.text))
        .bench(|| black_box(read_source(black_box(&source))));
}

#[divan::bench]
fn transcript_5k_lines(bencher: Bencher) {
    let text = workload::transcript(5_000);
    let source = Source::new("session.txt", Some(EvidenceKind::Transcript), text);
    bencher
        .counter(BytesCount::of_str(&source.text))
        .bench(|| black_box(read_source(black_box(&source))));
}
