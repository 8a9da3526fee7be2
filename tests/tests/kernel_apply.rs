//! labnet's loaders against the real kernel, inside namespaces the tests create.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use labnet::Lab;
use labnet::PolicyIr;
use labnet::kernel::{self, Backend, Change, Netns, nft_cli};
use labnet::target::TableName;

fn open(ns: &labkit_tests::Netns) -> Netns {
    Netns::named(Some(ns.name())).expect("open namespace")
}

fn table() -> TableName {
    TableName::default()
}

#[cfg(feature = "nftnl")]
#[test]
#[cfg_attr(
    not(labkit_netns),
    ignore = "needs root, ip (iproute2) and nft (nftables)"
)]
fn netlink_batch_lists_exactly_like_nft_f() {
    let (a, b) = (labkit_tests::netns(), labkit_tests::netns());
    let (a, b) = (open(&a), open(&b));
    let check = |lab: &Lab| {
        let ir = PolicyIr::build(lab);
        kernel::load(&a, &ir, &table(), Backend::Nft).expect("nft -f");
        kernel::load(&b, &ir, &table(), Backend::Netlink).expect("netlink");
        let la = nft_cli::list_table(&a, "labnet").unwrap().unwrap();
        let lb = nft_cli::list_table(&b, "labnet").unwrap().unwrap();
        assert_eq!(la, lb, "netlink load lists differently from nft -f");
    };
    check(&labnet::reference::lab());
    use proptest::test_runner::{Config as ProptestConfig, TestRunner};
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(&labnet::testkit::arb_lab(40), |lab| {
            check(&lab);
            Ok(())
        })
        .unwrap();
}

#[cfg(feature = "nftnl")]
#[test]
#[cfg_attr(
    not(labkit_netns),
    ignore = "needs root, ip (iproute2) and nft (nftables)"
)]
fn a_refused_batch_changes_nothing() {
    use labnet::kernel::program::{Expr, Program, RuleDef, Verdict};
    let ns = labkit_tests::netns();
    let ns = open(&ns);
    kernel::load(
        &ns,
        &PolicyIr::build(&labnet::reference::lab()),
        &table(),
        Backend::Netlink,
    )
    .unwrap();
    // Something else in the namespace that must survive too.
    nft_cli::load(&ns, "table inet other {\n chain c {\n type filter hook input priority 0; policy accept;\n }\n}\n")
        .unwrap();
    let before = nft_cli::list_ruleset(&ns).unwrap();

    let lab = labnet::testkit::Synthetic::benchmark(50).lab();
    let mut program = Program::build(&PolicyIr::build(&lab), &table());
    // The last message of the batch jumps to a chain that does not exist: the
    // kernel refuses it after accepting everything before it.
    program.rules.push(RuleDef {
        chain: "forward".into(),
        exprs: vec![Expr::Verdict(Verdict::Jump("no_such_chain".into()))],
        comment: None,
        anon_set: None,
    });
    let err = kernel::load_program(&ns, &program).unwrap_err();
    assert!(
        err.to_string().contains("add rule to chain forward"),
        "{err}"
    );
    assert_eq!(nft_cli::list_ruleset(&ns).unwrap(), before);
}

#[test]
#[cfg_attr(
    not(labkit_netns),
    ignore = "needs root, ip (iproute2) and nft (nftables)"
)]
fn nft_backend_replaces_only_its_table_and_drift_sees_hand_edits() {
    let ns = labkit_tests::netns();
    let ns = open(&ns);
    let lab = labnet::reference::lab();
    assert_eq!(
        kernel::drift(&ns, &lab, &table()).unwrap(),
        vec![Change::TableMissing {
            table: "labnet".into()
        }]
    );
    kernel::load(&ns, &PolicyIr::build(&lab), &table(), Backend::Nft).unwrap();
    assert_eq!(kernel::drift(&ns, &lab, &table()).unwrap(), vec![]);

    nft_cli::run(
        &ns,
        &[
            "add",
            "element",
            "ip",
            "labnet",
            "public_any_24",
            "{ 10.0.0.0 }",
        ],
        None,
    )
    .unwrap();
    nft_cli::run(
        &ns,
        &[
            "insert",
            "rule",
            "ip",
            "labnet",
            "forward",
            "ip",
            "saddr",
            "203.0.113.9",
            "accept",
        ],
        None,
    )
    .unwrap();
    let drift = kernel::drift(&ns, &lab, &table()).unwrap();
    assert_eq!(
        drift,
        vec![
            Change::RuleAdded {
                block: "chain forward".into(),
                rule: "ip saddr 203.0.113.9 accept".into()
            },
            Change::ElementsAdded {
                block: "set public_any_24".into(),
                elements: vec!["10.0.0.0".into()]
            }
        ]
    );
    kernel::load(&ns, &PolicyIr::build(&lab), &table(), Backend::Auto).unwrap();
    assert_eq!(kernel::drift(&ns, &lab, &table()).unwrap(), vec![]);
}
