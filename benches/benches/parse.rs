//! Spanned TOML readers side by side on the benchmark labs: labfile's own
//! reader (what every labkit crate uses), toml-span (what labnet used before),
//! and the `toml` crate's spanned tree (`toml::de::DeTable`, on toml_parser);
//! `toml::Table` (no spans) for reference. Throughput is bytes of lab file
//! per second, so criterion prints MB/s.
//!
//! Run: `cargo bench -p labkit-benches --bench parse`.

// Lab sizes are reported on stderr beside criterion's own output.
#![allow(clippy::print_stderr)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use labnet::labfile::to_toml;
use labnet::testkit::Synthetic;

fn parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for n in [5usize, 200, 1000] {
        let text = to_toml(&Synthetic::benchmark(n).lab());
        eprintln!("lab n={n}: {} bytes", text.len());
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_with_input(BenchmarkId::new("labfile", n), &text, |b, t| {
            b.iter(|| {
                labfile::Document::parse("bench.toml", black_box(t.as_str()))
                    .map(|d| d.sections().count())
            });
        });
        g.bench_with_input(BenchmarkId::new("toml-span", n), &text, |b, t| {
            b.iter(|| toml_span::parse(black_box(t)).map(|v| v.span.end));
        });
        g.bench_with_input(BenchmarkId::new("toml-detable", n), &text, |b, t| {
            b.iter(|| toml::de::DeTable::parse(black_box(t)).map(|v| v.get_ref().len()));
        });
        g.bench_with_input(BenchmarkId::new("toml-table", n), &text, |b, t| {
            b.iter(|| black_box(t).parse::<toml::Table>().map(|v| v.len()));
        });
    }
    g.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
