//! Write a synthetic benchmark lab as a labnet lab file and as the same policy
//! for Aerleon: `synth N DIR` creates DIR/lab.toml and DIR/aerleon/{def,policies/pol},
//! and the grouped benchmark lab in both forms: DIR/grouped.toml (tags,
//! `except`, deny rules) and DIR/grouped-flat.toml (the same matrix as
//! destination lists).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use labnet::labfile::to_toml;
use labnet::testkit::Synthetic;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [n, dir] = args.as_slice() else {
        bail!("usage: synth SEGMENTS DIR");
    };
    let n: usize = n.parse().context("SEGMENTS must be a number")?;
    let dir = PathBuf::from(dir);
    let lab = Synthetic::benchmark(n).lab();
    std::fs::create_dir_all(dir.join("aerleon/def"))?;
    std::fs::create_dir_all(dir.join("aerleon/policies/pol"))?;
    std::fs::write(dir.join("lab.toml"), to_toml(&lab))?;
    let (nets, services, policy) = labkit_benches::aerleon_policy(&lab);
    std::fs::write(dir.join("aerleon/def/networks.yaml"), nets)?;
    std::fs::write(dir.join("aerleon/def/services.yaml"), services)?;
    std::fs::write(dir.join("aerleon/policies/pol/lab.yaml"), policy)?;
    let grouped = labnet::testkit::grouped(n);
    std::fs::write(dir.join("grouped.toml"), to_toml(&grouped))?;
    std::fs::write(
        dir.join("grouped-flat.toml"),
        to_toml(&labnet::testkit::flatten(&grouped)),
    )?;
    Ok(())
}
