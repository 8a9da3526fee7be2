//! Kernel load time of the compiled policy: one libnftnl netlink batch versus
//! `nft -f` of the same policy, into a throwaway namespace (needs root).
//!
//! `cargo bench -p labkit-benches --features nftnl --bench load`

#![allow(clippy::print_stderr, clippy::expect_used)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use labnet::PolicyIr;
use labnet::kernel::{Backend, Netns, load};
use labnet::target::TableName;
use labnet::testkit::Synthetic;

fn bench(c: &mut Criterion) {
    let Ok(ns) = Netns::throwaway("bench-load") else {
        eprintln!("load: skipped, creating a network namespace needs root");
        return;
    };
    let table = TableName::default();
    let mut g = c.benchmark_group("load");
    g.sample_size(10);
    for n in [5usize, 200, 1000, 2000] {
        let ir = PolicyIr::build(&Synthetic::benchmark(n).lab());
        for backend in [Backend::Netlink, Backend::Nft] {
            g.bench_with_input(BenchmarkId::new(backend.as_str(), n), &ir, |b, ir| {
                b.iter(|| load(&ns, ir, &table, backend).expect("load"));
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
