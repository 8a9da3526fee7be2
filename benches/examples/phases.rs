//! Time each phase of `labnet compile` on a lab file: read, parse+validate, IR, render.
//!
//! `cargo run --release -p labkit-benches --example phases -- LAB.toml [RUNS]`
//! prints the fastest of RUNS (default 1) for each phase. A diagnostic tool
//! for finding where time goes; numbers for claims come from the criterion
//! benches, hyperfine and `peer_aerleon.py`.

// Printing the timings is this tool's output.
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};

fn main() -> Result<()> {
    let path = std::env::args()
        .nth(1)
        .context("usage: phases LAB.toml [RUNS]")?;
    let runs: usize = match std::env::args().nth(2) {
        Some(r) => r.parse().context("RUNS must be a number")?,
        None => 1,
    };
    let mut best = [Duration::MAX; 5];
    let mut bytes = 0;
    for _ in 0..runs.max(1) {
        let mut took = [Duration::ZERO; 5];
        let t = Instant::now();
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
        took[0] = t.elapsed();
        let t = Instant::now();
        let doc =
            labfile::Document::parse(path.as_str(), text.as_str()).map_err(|d| anyhow!("{d}"))?;
        took[1] = t.elapsed();
        let t = Instant::now();
        let file = labnet::labfile::from_document(&doc).map_err(|d| anyhow!("{d}"))?;
        took[2] = t.elapsed();
        let t = Instant::now();
        let ir = labnet::PolicyIr::build(file.lab());
        took[3] = t.elapsed();
        let t = Instant::now();
        let out = labnet::target::render(&ir, &labnet::target::CompileOptions::default());
        took[4] = t.elapsed();
        bytes = out.len();
        for (b, t) in best.iter_mut().zip(took) {
            *b = (*b).min(t);
        }
    }
    let [read, toml, validate, build, render] = best;
    println!(
        "read {read:?}  toml {toml:?}  read+validate {validate:?}  ir {build:?}  render {render:?}  ({bytes} bytes out)"
    );
    Ok(())
}
