//! Forwarding cost through the router namespace: the reference lab's ruleset
//! against a 1000-segment ruleset that contains it, for the same host pair
//! (management → public), in one run, alternating rounds.
//!
//! `cargo run --release -p labkit-benches --example forwarding [ROUNDS]` (root)
//!
//! Two measures: TCP connection setup (each SYN takes the full policy path:
//! set lookups and the source verdict map) and bulk throughput on an
//! established connection (the conntrack fast path).

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::expect_used,
    clippy::unwrap_used
)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use labkit_benches::containing_reference;
use labnet::PolicyIr;
use labnet::kernel::{Backend, Netns, load};
use labnet::proof::Topology;
use labnet::target::TableName;

const PORT: u16 = 2301;
const CONNECTS: usize = 2000;
const BULK: usize = 256 << 20;

/// Connect from inside `ns` (the socket is made there, then used here).
fn connect_in(ns: &Netns, to: SocketAddrV4) -> TcpStream {
    ns.run(move || TcpStream::connect_timeout(&SocketAddr::V4(to), Duration::from_secs(2)))
        .expect("netns")
        .expect("connect")
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let reference = labnet::reference::lab();
    let big = containing_reference(1000);
    assert_eq!(big.segments().len(), 1000);
    let topo = Topology::build(&reference).expect("topology (needs root)");
    let table = TableName::default();
    let (src, dst) = (&topo.hosts[0], &topo.hosts[1]);
    let dst_addr = SocketAddrV4::new(dst.addr, PORT);

    // A listener in the public host that accepts and drains.
    let listener: TcpListener = dst
        .ns
        .run(move || TcpListener::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT)))
        .expect("netns")
        .expect("bind");
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { continue };
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 1 << 16];
                while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
            });
        }
    });

    let irs = [
        ("reference (5 segments)", PolicyIr::build(&reference)),
        ("1000 segments", PolicyIr::build(&big)),
    ];
    let mut connect_us: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut mbps: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let chunk = vec![0u8; 1 << 16];
    for round in 0..rounds {
        for (k, (name, ir)) in irs.iter().enumerate() {
            load(&topo.router, ir, &table, Backend::Auto).expect("load");
            // One thread inside the source namespace makes every connection,
            // so only the connections are timed.
            let mut each = src
                .ns
                .run(move || {
                    (0..CONNECTS)
                        .map(|_| {
                            let t = Instant::now();
                            let s = TcpStream::connect_timeout(
                                &SocketAddr::V4(dst_addr),
                                Duration::from_secs(2),
                            )
                            .expect("connect");
                            let us = t.elapsed().as_secs_f64() * 1e6;
                            drop(s);
                            us
                        })
                        .collect::<Vec<f64>>()
                })
                .expect("netns");
            // The median connection: an occasional SYN retransmit (conntrack
            // or port reuse) says nothing about the ruleset's per-packet cost.
            connect_us[k].push(median(&mut each));
            let mut s = connect_in(&src.ns, dst_addr);
            let t = Instant::now();
            let mut sent = 0;
            while sent < BULK {
                s.write_all(&chunk).expect("send");
                sent += chunk.len();
            }
            mbps[k].push(BULK as f64 / t.elapsed().as_secs_f64() / 1e6);
            eprintln!(
                "round {round} {name}: connect {:.1} µs, bulk {:.0} MB/s",
                connect_us[k].last().unwrap(),
                mbps[k].last().unwrap()
            );
        }
    }
    let c = [median(&mut connect_us[0]), median(&mut connect_us[1])];
    let m = [median(&mut mbps[0]), median(&mut mbps[1])];
    println!("| ruleset | TCP connect (SYN to established), median µs | bulk TCP, median MB/s |");
    println!("|---|---:|---:|");
    for (k, (name, _)) in irs.iter().enumerate() {
        println!("| {name} | {:.1} | {:.0} |", c[k], m[k]);
    }
    println!(
        "| ratio 1000 / reference | {:.3} | {:.3} |",
        c[1] / c[0],
        m[1] / m[0]
    );
    println!(
        "\n{rounds} alternating rounds; {CONNECTS} connections and {} MiB per round and ruleset.",
        BULK >> 20
    );
}
