//! The packet-level proof: real TCP and ICMP through the compiled ruleset in
//! throwaway namespaces (anonymous, so they vanish with the test, pass or fail).
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::process::Command;

use labkit_tests::{netns_unavailable, skip};
use labnet::kernel::{Netns, coexist, doctor};
use labnet::proof::{self, ProofError, ProofOptions, Report, Topology};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

fn can_run(test: &str) -> bool {
    match netns_unavailable() {
        Some(why) => {
            skip(test, &why);
            false
        }
        None => true,
    }
}

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
fn reference_lab_behaves_as_its_lab_file_packet_by_packet() {
    if !can_run("reference_lab_behaves_as_its_lab_file_packet_by_packet") {
        return;
    }
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
    assert_eq!(egress.seen_as, Some(proof::ROUTER_UPLINK));
    assert!(
        report
            .probes
            .iter()
            .filter(|p| p.from == "internet")
            .all(|p| !p.observed)
    );
}

#[test]
fn twenty_random_labs_behave_as_their_lab_files() {
    if !can_run("twenty_random_labs_behave_as_their_lab_files") {
        return;
    }
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
fn docker_forward_drop_breaks_the_lab_until_coexist_and_doctor_says_so() {
    if !can_run("docker_forward_drop_breaks_the_lab_until_coexist_and_doctor_says_so") {
        return;
    }
    if !labkit_tests::have("iptables", &["--version"]) {
        skip("docker_forward_drop…", "iptables is not installed");
        return;
    }
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
                    && f.fix.contains("--coexist docker")),
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
