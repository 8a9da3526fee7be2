//! Large labs are validated, built and rendered on two threads; what comes out
//! must be exactly what one thread makes. The thresholds are lowered here so
//! that small random labs take the two-thread paths too.

use proptest::prelude::*;

use crate::PolicyIr;
use crate::labfile::{read_draft, to_toml};
use crate::model::validate_on;
use crate::target::{TableName, Threads, render_threads};
use crate::testkit::{Synthetic, arb_lab, flatten, grouped};

const ONE: Threads = Threads {
    from: usize::MAX,
    batch: 128,
};
/// Two threads from two sources, in batches of three: several batches, odd
/// and even halves, a last short batch.
const TWO: Threads = Threads { from: 2, batch: 3 };

fn table() -> TableName {
    TableName::new("labnet").unwrap()
}

/// The lab, its spans and every diagnostic, validated with the given threshold.
fn validated(text: &str, parallel_from: usize) -> (Option<String>, Vec<labfile::Diagnostic>) {
    let doc = labfile::Document::parse("t.toml", text).unwrap();
    let mut sink = labfile::Sink::new();
    let draft = read_draft(&doc, &mut sink);
    let out = validate_on(draft, &mut sink, parallel_from);
    // Spans have no equality of their own; their debug text is exact.
    (out.map(|o| format!("{o:?}")), sink.items().to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn two_threads_build_and_render_what_one_does(lab in arb_lab(24)) {
        let one = PolicyIr::build_on(&lab, usize::MAX);
        let two = PolicyIr::build_on(&lab, 2);
        prop_assert_eq!(&one, &two);
        prop_assert_eq!(render_threads(&one, &table(), ONE), render_threads(&one, &table(), TWO));
    }

    #[test]
    fn two_threads_validate_what_one_does(lab in arb_lab(24)) {
        let text = to_toml(&lab);
        let one = validated(&text, usize::MAX);
        prop_assert!(one.0.is_some());
        prop_assert_eq!(one, validated(&text, 2));
    }
}

#[test]
fn errors_in_both_halves_are_all_reported_in_order() {
    let mut text = String::from(
        "[lab]\nname = \"t\"\ndomain = \"t.test\"\nuplink = \"eno1\"\n\n\
         [[segment]]\nname = \"a\"\ncidr = \"10.0.0.0/24\"\ngateway = \"10.0.0.1\"\nssh_ports = \"2200-2209\"\n\n\
         [[segment]]\nname = \"b\"\ncidr = \"10.0.1.0/24\"\ngateway = \"10.0.1.1\"\nssh_ports = \"2210-2219\"\n\n",
    );
    // Rules 0, 7 and 19 of 20 name what does not exist; the rest are fine.
    for i in 0..20 {
        let to = match i {
            0 => "\"nowhere\"",
            7 => "[\"b\", \"tag:none\"]",
            19 => "[\"b\", \"c\"]",
            _ => "\"b\"",
        };
        text.push_str(&format!("[[policy.allow]]\nfrom = \"a\"\nto = {to}\n\n"));
    }
    let one = validated(&text, usize::MAX);
    let two = validated(&text, 2);
    assert_eq!(one, two);
    assert!(two.0.is_none(), "an invalid lab is not returned");
    let paths: Vec<&str> = two.1.iter().map(|d| d.field.as_str()).collect();
    assert_eq!(
        paths,
        [
            "policy.allow[0].to",
            "policy.allow[7].to[1]",
            "policy.allow[19].to[1]"
        ]
    );
}

#[test]
fn large_labs_take_two_threads_and_make_the_same_ruleset() {
    // Above the default thresholds (256 segments, 256 rules): the defaults
    // split the work; compare with one thread.
    for lab in [Synthetic::benchmark(300).lab(), flatten(&grouped(300))] {
        let ir = PolicyIr::build(&lab);
        assert_eq!(ir, PolicyIr::build_on(&lab, usize::MAX));
        assert_eq!(
            render_threads(&ir, &table(), Threads::default()),
            render_threads(&ir, &table(), ONE)
        );
        let text = to_toml(&lab);
        let one = validated(&text, usize::MAX);
        assert!(one.0.is_some());
        assert_eq!(one, validated(&text, 256));
    }
}
