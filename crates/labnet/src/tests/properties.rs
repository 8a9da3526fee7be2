//! The compiler's decisions equal the plain reading of the lab file.
//!
//! Random valid labs (1 to 64 segments, random matrices, port rules, internet
//! flags) and random packets; each compiled form is evaluated on its own terms
//! (the IR structurally, nft-json and iptables text by independent evaluators)
//! and compared with [`Lab::decide`].

use proptest::prelude::*;

use crate::labfile;
use crate::target::{CompileOptions, TableName, Target, compile};
use crate::testkit::{arb_lab, arb_lab_with_packets, ipt_eval, nft_eval};
use crate::{Lab, PolicyIr};

const CASES: u32 = 256;

fn cfg() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        // Shrinking a 64-segment lab is slow and the seed is printed anyway.
        max_shrink_iters: 256,
        // Failures are reproduced from the printed seed; no regression files in the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn opts(target: Target) -> CompileOptions {
    CompileOptions {
        target,
        table: TableName::default(),
    }
}

fn oracle(lab: &Lab, p: &crate::Packet) -> (bool, bool) {
    let d = lab.decide(p);
    (d.allowed, d.masquerade)
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn ir_decides_like_the_lab_file((lab, packets) in arb_lab_with_packets(64, 64)) {
        let ir = PolicyIr::build(&lab);
        for p in &packets {
            prop_assert_eq!(ir.evaluate(p), oracle(&lab, p), "packet {:?}", p);
        }
    }

    #[test]
    fn nft_json_decides_like_the_lab_file((lab, packets) in arb_lab_with_packets(64, 64)) {
        let json = compile(&lab, &opts(Target::NftJson));
        let rs = nft_eval::parse(&json).map_err(TestCaseError::fail)?;
        for p in &packets {
            let got = rs.evaluate(p).map_err(TestCaseError::fail)?;
            prop_assert_eq!(got, oracle(&lab, p), "packet {:?}", p);
        }
    }

    #[test]
    fn iptables_decides_like_the_lab_file((lab, packets) in arb_lab_with_packets(64, 64)) {
        let text = compile(&lab, &opts(Target::Iptables));
        let rs = ipt_eval::parse(&text).map_err(TestCaseError::fail)?;
        for p in &packets {
            let got = rs.evaluate("LABNET", p).map_err(TestCaseError::fail)?;
            prop_assert_eq!(got, oracle(&lab, p), "packet {:?}", p);
        }
    }

    #[test]
    fn lab_file_print_parse_round_trip(lab in arb_lab(64)) {
        let text = labfile::to_toml(&lab);
        let back = labfile::parse("printed.toml", &text)
            .map_err(|e| TestCaseError::fail(e.render(&crate::diag::Style::plain())))?;
        prop_assert_eq!(back.lab(), &lab);
        prop_assert_eq!(labfile::to_toml(back.lab()), text);
    }

    #[test]
    fn output_is_deterministic_and_survives_the_round_trip(lab in arb_lab(32)) {
        let back = labfile::parse("printed.toml", &labfile::to_toml(&lab))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        for t in Target::ALL {
            let a = compile(&lab, &opts(t));
            prop_assert_eq!(&a, &compile(&lab, &opts(t)));
            prop_assert_eq!(&a, &compile(back.lab(), &opts(t)));
        }
    }

    #[test]
    fn json_target_is_valid_json(lab in arb_lab(16)) {
        let json = compile(&lab, &opts(Target::NftJson));
        prop_assert!(serde_json::from_str::<serde_json::Value>(&json).is_ok());
    }

    #[test]
    fn parser_never_panics_on_mutated_files(lab in arb_lab(8), cut in any::<prop::sample::Index>(), junk in "[\\[\\]=\"{},.a-z0-9 \n-]{0,12}") {
        let mut text = labfile::to_toml(&lab);
        let at = cut.index(text.len() + 1);
        let at = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        text.insert_str(at, &junk);
        // Valid or not, it must come back with a result, and errors must point inside the file.
        if let Err(e) = labfile::parse("mutated.toml", &text) {
            prop_assert!(e.has_errors());
            for d in e.items() {
                if let Some(l) = d.location {
                    prop_assert!(l.line as usize <= text.lines().count() + 1);
                }
            }
        }
    }
}

#[test]
fn reference_lab_compiles_to_the_expected_allowed_pairs() {
    let ir = PolicyIr::build(&crate::reference::lab());
    // management 4 + public 3 + private 2 + database 0 + container 0.
    assert_eq!(ir.allowed_pairs, 9);
    assert_eq!(ir.egress_nets.len(), 5);
}

#[test]
fn synthetic_labs_have_the_requested_density() {
    let lab = crate::testkit::Synthetic::benchmark(200).lab();
    let ir = PolicyIr::build(&lab);
    let pairs = 200 * 199;
    let frac = ir.allowed_pairs as f64 / pairs as f64;
    assert!((0.27..0.33).contains(&frac), "density {frac}");
    assert!(ir.sources.iter().any(|s| !s.services.is_empty()));
}

/// The generators reach the new syntax: over random labs and packets, deny
/// rules decide some packets, tag selectors and `except` shape some rules,
/// so the agreement properties above cover them (a generator change that
/// stopped producing them would fail here, not pass quietly).
#[test]
fn generated_labs_exercise_tags_except_and_deny() {
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut denied, mut tagged, mut excepted, mut allowed) = (0, 0, 0, 0);
    for _ in 0..64 {
        let (lab, packets) = arb_lab_with_packets(24, 64)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        for r in lab.rules().iter().chain(lab.deny_rules()) {
            tagged += usize::from(matches!(r.to, crate::Selector::Tagged { .. }));
            excepted += usize::from(!r.except.is_empty_list());
        }
        for p in &packets {
            match lab.decide(p).reason {
                crate::Reason::Denied { .. } => denied += 1,
                crate::Reason::Rule { .. } => allowed += 1,
                _ => {}
            }
        }
    }
    assert!(denied > 20, "deny rules decided only {denied} packets");
    assert!(allowed > 20, "allow rules decided only {allowed} packets");
    assert!(
        tagged > 10 && excepted > 10,
        "{tagged} tagged, {excepted} with except"
    );
}

/// The grouped benchmark lab and its flat form compile to the same policy:
/// the same per-source sets, element for element.
#[test]
fn grouped_benchmark_lab_has_the_flat_forms_matrix() {
    use crate::testkit::{flatten, grouped};
    for n in [60, 300, 700] {
        let g = grouped(n);
        let f = flatten(&g);
        assert!(!g.deny_rules().is_empty() && f.deny_rules().is_empty());
        assert!(
            g.rules().len() < f.rules().len(),
            "n={n}: the grouped form is shorter"
        );
        let (ig, iflat) = (PolicyIr::build(&g), PolicyIr::build(&f));
        assert_eq!(ig.sources, iflat.sources, "n={n}");
        assert_eq!(ig.allowed_pairs, iflat.allowed_pairs);
        assert!(ig.allowed_pairs > 0);
        assert_eq!(
            compile(&g, &opts(Target::Nft)),
            compile(&f, &opts(Target::Nft)),
            "n={n}: the same ruleset"
        );
    }
}
