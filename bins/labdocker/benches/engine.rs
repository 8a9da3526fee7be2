//! labdocker's Engine calls against the docker CLI doing the same work, on a
//! real Docker Engine of the bench's own (tests/src/dockerd.rs: Debian's
//! docker.io 20.10 in a throwaway namespace, scratch state) with 50 running
//! containers, 10 of them with a healthcheck. Side by side, round after
//! round, in one run:
//!
//! - inventory and health: `Engine::health` (list, then every inspect,
//!   16 at a time, over one connection) and `labdocker health` end to end,
//!   against `docker ps -aq` followed by `docker inspect` of every id (the
//!   only way the CLI gives health, restart counts and networks for all), and
//!   `docker ps --filter health=unhealthy` (which answers only "which are
//!   unhealthy");
//! - audit: `Engine::audit` and `labdocker audit` end to end (inspect of
//!   every container, /info, the networks, 25 checks), against the data
//!   gathering alone of a shell audit: `docker ps -q | xargs docker inspect`
//!   plus `docker info`.
//!
//! `cargo bench -p labdocker-cli --bench engine` (as root);
//! `LABKIT_BENCH_ROUNDS` sets the rounds (default 15),
//! `LABKIT_BENCH_CONTAINERS` the containers (default 50).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use labkit_tests::dockerd::{DOCKER, Dockerd};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(v: &mut [Duration]) -> f64 {
    v.sort();
    if v.len() % 2 == 1 {
        ms(v[v.len() / 2])
    } else {
        f64::midpoint(ms(v[v.len() / 2 - 1]), ms(v[v.len() / 2]))
    }
}

fn sh(script: &str) {
    let o = Command::new("sh")
        .args(["-c", script])
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if let Some(why) = labkit_tests::dockerd::unavailable() {
        eprintln!("skipped: a Docker Engine cannot run here: {why}");
        return;
    }
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let rounds = env("LABKIT_BENCH_ROUNDS", 15);
    let n = env("LABKIT_BENCH_CONTAINERS", 50);
    let d = Dockerd::start("dkbench");
    let engine = labdocker::Engine::connect(&d.host()).unwrap();
    engine
        .build_image("lk-sleep", Dockerd::busybox_context(&["sleep", "3600"]))
        .unwrap();
    let t = Instant::now();
    for i in 0..n {
        let health: &[&str] = if i % 5 == 0 {
            &["--health-cmd", "true", "--health-interval", "2s"]
        } else {
            &[]
        };
        let name = format!("c{i:02}");
        let mut args = vec!["run", "-d", "--name", &name, "--network", "none"];
        args.extend_from_slice(health);
        args.push("lk-sleep");
        let o = d.docker(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    eprintln!(
        "{n} containers started in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let lab = d.scratch().join("lab.toml");
    std::fs::write(
        &lab,
        format!(
            "{}\n[docker]\nsocket = \"{}\"\n",
            labnet::reference::TOML,
            d.host()
        ),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_labdocker");
    let host = d.host();
    let cli_inspect = format!("{DOCKER} -H {host} inspect $({DOCKER} -H {host} ps -aq --no-trunc)");
    let cli_unhealthy = format!("{DOCKER} -H {host} ps --filter health=unhealthy -q");
    let cli_audit = format!(
        "{DOCKER} -H {host} ps -q | xargs {DOCKER} -H {host} inspect; {DOCKER} -H {host} info"
    );
    let lab_s = lab.to_str().unwrap().to_owned();
    let run_bin = |args: &[&str]| {
        let s = Command::new(bin)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(s.code().is_some_and(|c| c <= 1), "{args:?}");
    };
    type Step<'a> = (&'a str, Box<dyn Fn() + 'a>);
    let steps: Vec<Step<'_>> = vec![
        (
            "Engine::health (library)",
            Box::new(|| {
                let r = engine.health().unwrap();
                assert_eq!(r.containers.len(), n);
            }),
        ),
        (
            "labdocker health (process)",
            Box::new(|| run_bin(&["health", &lab_s])),
        ),
        (
            "docker ps -aq + docker inspect (all)",
            Box::new(|| sh(&cli_inspect)),
        ),
        (
            "docker ps --filter health=unhealthy",
            Box::new(|| sh(&cli_unhealthy)),
        ),
        (
            "Engine::audit (library)",
            Box::new(|| {
                let r = engine.audit(&[], None).unwrap();
                assert_eq!(r.containers, n);
            }),
        ),
        (
            "labdocker audit --format json (process)",
            Box::new(|| {
                run_bin(&[
                    "audit",
                    &lab_s,
                    "--format",
                    "json",
                    "--daemon-json",
                    "/nonexistent",
                ]);
            }),
        ),
        (
            "docker ps -q, xargs docker inspect, docker info",
            Box::new(|| sh(&cli_audit)),
        ),
    ];
    // One warm-up of each, then the rounds interleaved so drift hits all alike.
    for (_, f) in &steps {
        f();
    }
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); steps.len()];
    for _ in 0..rounds {
        for (i, (_, f)) in steps.iter().enumerate() {
            let t = Instant::now();
            f();
            times[i].push(t.elapsed());
        }
    }
    println!(
        "{n} containers, {rounds} rounds, Engine {} (API {})",
        engine.server_version(),
        engine.api_version()
    );
    println!("| step | median | min | max |");
    println!("|---|---:|---:|---:|");
    for ((name, _), v) in steps.iter().zip(times.iter_mut()) {
        let med = median(v);
        println!(
            "| {name} | {med:.1} ms | {:.1} ms | {:.1} ms |",
            ms(v[0]),
            ms(v[v.len() - 1])
        );
    }
}
