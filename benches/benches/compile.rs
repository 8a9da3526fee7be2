//! Compile time and output size of the policy compiler at 5 to 5000 segments,
//! ~30% of ordered segment pairs allowed, a tenth of those restricted to tcp ports.
//!
//! Run: `cargo bench -p labkit-benches --bench compile`. Sizes are printed to
//! stderr and reported as criterion throughput (bytes of output per second).

// Output sizes are reported on stderr beside criterion's own output.
#![allow(clippy::print_stderr)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use labkit_benches::SIZES;
use labnet::PolicyIr;
use labnet::labfile::{parse, to_toml};
use labnet::target::{CompileOptions, Target, render};
use labnet::testkit::Synthetic;

fn opts(target: Target) -> CompileOptions {
    CompileOptions::target(target)
}

fn compile(c: &mut Criterion) {
    let mut g = c.benchmark_group("compile");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for &n in SIZES {
        let lab = Synthetic::benchmark(n).lab();
        let ir = PolicyIr::build(&lab);
        for target in Target::ALL {
            let out = render(&ir, &opts(target));
            eprintln!(
                "size n={n} target={target}: {} bytes, {} lines, {} of {} pairs allowed",
                out.len(),
                out.lines().count(),
                ir.allowed_pairs,
                n * (n - 1)
            );
            g.throughput(Throughput::Bytes(out.len() as u64));
            // The whole compile: lab to IR to text, as `labnet compile` does after parsing.
            g.bench_with_input(BenchmarkId::new(target.as_str(), n), &lab, |b, lab| {
                b.iter(|| render(&PolicyIr::build(black_box(lab)), &opts(target)));
            });
        }
    }
    g.finish();
}

fn parse_lab(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse+validate");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for &n in SIZES {
        let text = to_toml(&Synthetic::benchmark(n).lab());
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &text, |b, text| {
            b.iter(|| parse("bench.toml", black_box(text)).map(|f| f.lab().segments().len()));
        });
    }
    g.finish();
}

/// What `labnet compile` does between reading the file and writing the
/// output: TOML text to a validated lab, to the IR, to the nft script.
fn end_to_end(c: &mut Criterion) {
    let mut g = c.benchmark_group("text-to-nft");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for &n in SIZES.iter().filter(|&&n| n <= 1000) {
        let text = to_toml(&Synthetic::benchmark(n).lab());
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &text, |b, text| {
            b.iter(|| {
                let f = parse("bench.toml", black_box(text)).map_err(|d| d.to_string());
                f.map(|f| render(&PolicyIr::build(f.lab()), &opts(Target::Nft)).len())
            });
        });
    }
    g.finish();
}

criterion_group!(benches, compile, parse_lab, end_to_end);
criterion_main!(benches);
