//! The packet-level proof: real TCP, UDP and ICMP through the compiled ruleset
//! in throwaway namespaces (anonymous, so they vanish with the test, pass or fail).
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::process::Command;

use labkit_tests::require_netns;
use labnet::kernel::{Netns, coexist, doctor};
use labnet::proof::{self, ProofError, ProofOptions, Report, Topology};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

fn explain(report: &Report) -> String {
    let mut s = format!(
        "observed:\n{}\nexpected:\n{}\n",
        report.matrix(true),
        report.matrix(false)
    );
    for p in report.mismatches() {
        s.push_str(&format!("{p}\n"));
    }
    s
}

#[test]
#[cfg_attr(
    not(labkit_netns),
    ignore = "needs root, ip (iproute2) and nft (nftables)"
)]
fn reference_lab_behaves_as_its_lab_file_packet_by_packet() {
    require_netns();
    let lab = labnet::reference::lab();
    let report = proof::run(&lab, &ProofOptions::default(), |_| Ok(())).unwrap();
    assert!(report.passed(), "{}", explain(&report));
    // The proof must see both outcomes, or it proves nothing.
    assert!(report.probes.iter().any(|p| p.observed));
    assert!(report.probes.iter().any(|p| !p.observed));
    // Egress is masqueraded, inbound from the internet is refused.
    let egress = report
        .probes
        .iter()
        .find(|p| p.to == "internet" && matches!(p.kind, proof::Kind::Tcp { .. }))
        .unwrap();
    assert_eq!(egress.seen_as, Some(report.router_uplink));
    assert_eq!(report.internet.to_string(), "203.0.113.0/24");
    assert!(
        report.count("udp") >= 20,
        "UDP is probed too: {}",
        report.count("udp")
    );
    assert!(
        report
            .probes
            .iter()
            .filter(|p| p.from == "internet")
            .all(|p| !p.observed)
    );
}

#[test]
#[cfg_attr(
    not(labkit_netns),
    ignore = "needs root, ip (iproute2) and nft (nftables)"
)]
fn twenty_random_labs_behave_as_their_lab_files() {
    require_netns();
    let base: u64 = std::env::var("LABKIT_PROOF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x1ab_4e7);
    for k in 0..20u64 {
        let seed = base + k;
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        let mut runner = TestRunner::new_with_rng(
            Config::default(),
            TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
        );
        let lab = labnet::testkit::arb_lab(6)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let report = match proof::run(&lab, &ProofOptions::default(), |_| Ok(())) {
            Ok(r) => r,
            Err(e) => panic!("seed {seed} (LABKIT_PROOF_SEED={seed} reruns it): {e}"),
        };
        assert!(
            report.passed(),
            "seed {seed} (LABKIT_PROOF_SEED={seed} reruns it), lab:\n{}\n{}",
            labnet::labfile::to_toml(&lab),
            explain(&report)
        );
    }
}

fn iptables(ns: &Netns, args: &[&str]) -> Result<(), ProofError> {
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    let out = ns.run(move || Command::new("iptables").args(&args).output())?;
    match out {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(ProofError::Setup(
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )),
        Err(e) => Err(ProofError::Setup(e.to_string())),
    }
}

/// What dockerd does to the FORWARD chain (iptables-nft, as on Debian 12).
fn docker_forward_drop(t: &Topology) -> Result<(), ProofError> {
    iptables(&t.router, &["-P", "FORWARD", "DROP"])?;
    iptables(&t.router, &["-N", "DOCKER-USER"])?;
    iptables(&t.router, &["-A", "DOCKER-USER", "-j", "RETURN"])?;
    iptables(&t.router, &["-I", "FORWARD", "-j", "DOCKER-USER"])
}

#[test]
#[cfg_attr(not(labkit_iptables), ignore = "needs root, ip, nft and iptables")]
fn docker_forward_drop_breaks_the_lab_until_coexist_and_doctor_says_so() {
    require_netns();
    assert!(
        labkit_tests::have("iptables", &["--version"]),
        "iptables is not installed"
    );
    let lab = labnet::reference::lab();
    let opts = ProofOptions::default();
    let nets: Vec<_> = lab.segments().iter().map(|s| s.cidr).collect();

    // Without coexistence: allowed lab traffic dies in Docker's chain, and
    // the doctor names the chain and the fix.
    let broken = proof::run(&lab, &opts, |t| {
        docker_forward_drop(t)?;
        let findings = doctor::examine(&t.router, &lab, "labnet")?;
        assert!(
            findings
                .iter()
                .any(|f| f.chain.contains("filter chain FORWARD")
                    && f.remedy == doctor::Remedy::CoexistDocker),
            "{findings:#?}"
        );
        Ok(())
    })
    .unwrap();
    assert!(!broken.passed());
    assert!(
        broken.mismatches().all(|p| p.expected && !p.observed),
        "coexistence problems only ever block allowed traffic"
    );

    // With coexistence: the proof passes and the doctor is quiet about it.
    let fixed = proof::run(&lab, &opts, |t| {
        docker_forward_drop(t)?;
        let n = coexist::apply_docker(&t.router, &nets)?;
        assert!(n >= 2);
        // Applying twice replaces, not duplicates.
        assert_eq!(coexist::apply_docker(&t.router, &nets)?, n);
        let findings = doctor::examine(&t.router, &lab, "labnet")?;
        assert!(findings.is_empty(), "{findings:#?}");
        Ok(())
    })
    .unwrap();
    assert!(fixed.passed(), "{}", explain(&fixed));
}

/// A lab whose only rule is UDP: the proof must probe UDP (a TCP-only proof
/// would pass it with zero UDP probes), and see the allowed port open and the
/// rest closed.
#[test]
#[cfg_attr(
    not(labkit_netns),
    ignore = "needs root, ip (iproute2) and nft (nftables)"
)]
fn a_udp_only_lab_is_proved_with_udp_probes() {
    require_netns();
    let text = r#"
[lab]
name = "udp"
domain = "lab.local"
[[segment]]
name = "dns"
cidr = "10.7.0.0/24"
ssh_ports = "2201"
internet = false
[[segment]]
name = "client"
cidr = "10.7.1.0/24"
ssh_ports = "2202"
internet = false
[[policy.allow]]
from = "client"
to = "dns"
proto = "udp"
ports = [53]
"#;
    let lab = labnet::labfile::parse("udp.toml", text).unwrap().into_lab();
    let report = proof::run(&lab, &ProofOptions::default(), |_| Ok(())).unwrap();
    assert!(report.passed(), "{}", explain(&report));
    let udp: Vec<_> = report
        .probes
        .iter()
        .filter(|p| matches!(p.kind, proof::Kind::Udp { .. }))
        .collect();
    assert!(udp.len() >= 4, "{udp:#?}");
    assert!(udp.iter().any(|p| p.from == "client"
        && p.to == "dns"
        && p.observed
        && p.kind == proof::Kind::Udp { port: 53 }));
    assert!(
        udp.iter()
            .any(|p| p.from == "client" && p.to == "dns" && !p.observed),
        "other UDP ports stay closed"
    );
    assert!(
        udp.iter()
            .all(|p| !(p.from == "dns" && p.to == "client" && p.observed))
    );
}

/// A lab that uses 203.0.113.0/24, the address block the proof would use for
/// the internet, gets another internet, and the proof still holds.
#[test]
#[cfg_attr(
    not(labkit_netns),
    ignore = "needs root, ip (iproute2) and nft (nftables)"
)]
fn a_lab_on_the_documentation_range_is_proved_with_another_internet() {
    require_netns();
    let text = labnet::labfile::to_toml(&labnet::reference::lab()).replace("10.0.1.", "203.0.113.");
    let lab = labnet::labfile::parse("doc.toml", &text)
        .unwrap()
        .into_lab();
    assert!(
        lab.segments()
            .iter()
            .any(|s| s.cidr.to_string() == "203.0.113.0/24")
    );
    let report = proof::run(&lab, &ProofOptions::default(), |_| Ok(())).unwrap();
    assert_eq!(report.internet.to_string(), "198.51.100.0/24");
    assert!(report.passed(), "{}", explain(&report));
    assert!(
        report
            .probes
            .iter()
            .any(|p| p.to == "internet" && p.observed)
    );
}
