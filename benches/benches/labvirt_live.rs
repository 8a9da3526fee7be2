//! labvirt against a real libvirtd (tests/src/libvirtd.rs: a namespace of its
//! own, scratch state, the QEMU capabilities cache kept warm), round after
//! round: plan and apply of the reference lab on an empty host, then a second
//! plan and an apply that changes nothing; then the time from `apply` of four
//! tiny guests (tests/src/guest.rs) to every one of them holding its lease, as
//! its serial console says. Medians, minimum and maximum over the rounds.
//!
//! `cargo bench -p labkit-benches --bench labvirt_live --features libvirt`
//! (as root); `LABKIT_BENCH_ROUNDS` sets the rounds (default 5).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::time::{Duration, Instant};

use labkit_tests::libvirtd::Libvirtd;
use labvirt::host::Libvirt;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn row(name: &str, v: &mut [Duration]) {
    v.sort();
    let med = if v.len() % 2 == 1 {
        ms(v[v.len() / 2])
    } else {
        (ms(v[v.len() / 2 - 1]) + ms(v[v.len() / 2])) / 2.0
    };
    println!(
        "| {name} | {med:.0} ms | {:.0} ms | {:.0} ms |",
        ms(v[0]),
        ms(v[v.len() - 1])
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rounds: usize = std::env::var("LABKIT_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    // The offline part first: desired state and plan of the reference lab, no libvirt.
    let lab = labvirt::reference::lab();
    let n = 2000;
    let t = Instant::now();
    for _ in 0..n {
        let want = labvirt::spec::desired(&lab, labvirt::DomainType::Qemu, &|_| None);
        std::hint::black_box(labvirt::plan::plan(
            &want,
            &lab.host,
            &labvirt::observe::Observed::default(),
        ));
    }
    println!(
        "offline desired state + plan of the reference lab: {:.1} µs each (mean of {n})\n",
        t.elapsed().as_secs_f64() * 1e6 / f64::from(n)
    );

    // One cold start first, so every measured round has the capabilities cache warm.
    drop(Libvirtd::start("bwarm"));
    let _ = labkit_tests::guest::assets();
    let (mut ready, mut plan1, mut apply1, mut plan2, mut apply2, mut leased) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    for r in 0..rounds {
        let d = Libvirtd::start("bench");
        ready.push(d.ready_after);
        let lab = labvirt::parse("reference.toml", &d.reference_lab_text()).unwrap();
        let host = Libvirt::open(&d.uri()).unwrap();
        let t = Instant::now();
        let planned = host.plan(&lab).unwrap();
        plan1.push(t.elapsed());
        let t = Instant::now();
        host.apply(&planned, &mut |_| {}).unwrap();
        apply1.push(t.elapsed());
        let t = Instant::now();
        let again = host.plan(&lab).unwrap();
        plan2.push(t.elapsed());
        assert!(again.plan.is_noop());
        // What `labvirt apply` does the second time: plan, see nothing to do.
        let t = Instant::now();
        let again = host.plan(&lab).unwrap();
        assert!(host.apply(&again, &mut |_| {}).unwrap().is_empty());
        apply2.push(t.elapsed());
        host.destroy(&lab, &mut |_| {}).unwrap();

        let vms = [
            d.guest_vm("g1", "management", Some("10.0.0.21"), 2202, ""),
            d.guest_vm("g2", "public", None, 2212, ""),
            d.guest_vm("g3", "private", Some("10.0.2.21"), 2232, ""),
            d.guest_vm("g4", "database", Some("10.0.3.21"), 2252, ""),
        ]
        .concat();
        let guests = d.lab(
            "cores = 2\nmemory_gib = 8\ncpu_overcommit = 4.0\ndomain_type = \"qemu\"\n",
            &vms,
        );
        let t = Instant::now();
        host.apply(&host.plan(&guests).unwrap(), &mut |_| {})
            .unwrap();
        for g in ["g1", "g2", "g3", "g4"] {
            d.wait_line(g, 120, |l| l.starts_with("LEASE "));
        }
        leased.push(t.elapsed());
        host.destroy(&guests, &mut |_| {}).unwrap();
        eprintln!("round {}/{rounds} done", r + 1);
    }
    println!("{rounds} rounds against a warm real libvirtd 9.0.0 (QEMU 7.2, TCG):\n");
    println!("| step | median | min | max |\n|---|---:|---:|---:|");
    row("libvirtd ready (capabilities cache warm)", &mut ready);
    row("plan, empty host (5 networks, 4 VMs, 2 pools)", &mut plan1);
    row("first apply (define, volumes, seeds, start)", &mut apply1);
    row("second plan (nothing to do)", &mut plan2);
    row("second apply: plan + nothing done", &mut apply2);
    row("apply of 4 guests → every guest leased", &mut leased);
}
