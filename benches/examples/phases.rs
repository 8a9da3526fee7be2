//! Time each phase of `labnet compile` on a lab file: read, parse+validate, IR, render.
//!
//! `cargo run --release -p labkit-benches --example phases -- LAB.toml`
//! A diagnostic tool for finding where time goes; numbers for claims come
//! from the criterion benches and `peer_aerleon.py`.

// Printing the timings is this tool's output.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use anyhow::{Context, Result, anyhow};

fn main() -> Result<()> {
    let path = std::env::args().nth(1).context("usage: phases LAB.toml")?;
    let t = Instant::now();
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    let read = t.elapsed();
    let t = Instant::now();
    let doc = labfile::Document::parse(path.as_str(), text.as_str()).map_err(|d| anyhow!("{d}"))?;
    let toml = t.elapsed();
    let t = Instant::now();
    let file = labnet::labfile::from_document(&doc).map_err(|d| anyhow!("{d}"))?;
    let validate = t.elapsed();
    let t = Instant::now();
    let ir = labnet::PolicyIr::build(file.lab());
    let build = t.elapsed();
    let t = Instant::now();
    let out = labnet::target::render(&ir, &labnet::target::CompileOptions::default());
    let render = t.elapsed();
    println!(
        "read {read:?}  toml {toml:?}  read+validate {validate:?}  ir {build:?}  render {render:?}  ({} bytes out)",
        out.len()
    );
    Ok(())
}
