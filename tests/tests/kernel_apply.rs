//! labnet's loaders against the real kernel, inside namespaces the tests create.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

#[cfg(feature = "nftnl")]
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
fn sets_larger_than_a_message_list_like_nft_f() {
    // The netlink loader splits elements into messages (256 for verdict maps,
    // 1024 otherwise): 1300 segments give the source map and the lab set more
    // than a message, and s0's port sets (3 ports to each of 1299
    // destinations, and a wide range to each) several.
    let n = 1300;
    let mut text =
        String::from("[lab]\nname = \"big\"\ndomain = \"big.test\"\nuplink = \"eno1\"\n\n");
    for i in 0..n {
        let (hi, lo) = (i / 256, i % 256);
        let port = 20_000 + 10 * i;
        text.push_str(&format!(
            "[[segment]]\nname = \"s{i}\"\ncidr = \"10.{hi}.{lo}.0/24\"\ngateway = \"10.{hi}.{lo}.1\"\nssh_ports = \"{port}-{}\"\n\n",
            port + 9
        ));
    }
    text.push_str(
        "[[policy.allow]]\nfrom = \"s0\"\nto = \"*\"\nproto = \"tcp\"\nports = [\"5432\", \"3306-3307\", \"1000-2000\"]\n\n\
         [[policy.allow]]\nfrom = \"s1\"\nto = \"*\"\n",
    );
    let lab = labnet::labfile::parse("big.toml", &text)
        .unwrap()
        .into_lab();
    let ir = PolicyIr::build(&lab);
    let program = labnet::target::program::Program::build(&ir, &table());
    let sizes: Vec<(String, usize)> = program
        .sets
        .iter()
        .map(|s| (s.name.clone(), s.elements.len()))
        .collect();
    for (name, at_least) in [
        ("s0_svc_24", 3 * 1024),
        ("s0_svcr", 1025),
        ("s1_any_24", 1025),
        ("lab", 1025),
    ] {
        let got = sizes.iter().find(|(s, _)| s == name).map(|(_, k)| *k);
        assert!(
            got.is_some_and(|k| k >= at_least),
            "{name}: {got:?} elements"
        );
    }
    let (a, b) = (labkit_tests::netns(), labkit_tests::netns());
    let (a, b) = (open(&a), open(&b));
    kernel::load(&a, &ir, &table(), Backend::Nft).expect("nft -f");
    kernel::load(&b, &ir, &table(), Backend::Netlink).expect("netlink");
    let la = nft_cli::list_table(&a, "labnet").unwrap().unwrap();
    let lb = nft_cli::list_table(&b, "labnet").unwrap().unwrap();
    assert_eq!(la, lb, "netlink load lists differently from nft -f");
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

/// A lab changed the way people change labs: a rule dropped or added, a
/// segment's internet egress flipped, a segment removed or added.
#[cfg(feature = "nftnl")]
fn mutate(lab: &Lab, rng: &mut labnet::testkit::SplitMix) -> Lab {
    use labnet::{AllowRule, Segment, SegmentName, Selector};
    let mut segs: Vec<Segment> = lab.segments().to_vec();
    let mut rules: Vec<AllowRule> = lab.rules().to_vec();
    let pick = |rng: &mut labnet::testkit::SplitMix, n: usize| (rng.next_u64() % n as u64) as usize;
    match rng.next_u64() % 5 {
        0 if !rules.is_empty() => {
            let i = pick(rng, rules.len());
            rules.remove(i);
        }
        1 if segs.len() > 1 => {
            // Remove a segment and every mention of it.
            let gone = segs.remove(pick(rng, segs.len())).name;
            let keep = |s: &Selector| match s {
                Selector::Names(v) => {
                    let v: Vec<SegmentName> = v.iter().filter(|n| **n != gone).cloned().collect();
                    (!v.is_empty()).then_some(Selector::Names(v))
                }
                other => Some(other.clone()),
            };
            rules = rules
                .iter()
                .filter_map(|r| {
                    let mut r = r.clone();
                    r.from = keep(&r.from)?;
                    r.to = keep(&r.to)?;
                    Some(r)
                })
                .collect();
        }
        2 => {
            let i = pick(rng, segs.len());
            segs[i].internet = !segs[i].internet;
        }
        3 => {
            let k = segs.len();
            let name: SegmentName = format!("new{}", rng.next_u64() % 1000).parse().unwrap();
            if !segs.iter().any(|s| s.name == name) {
                let net = format!("172.16.{}.0/24", k % 256).parse().unwrap();
                let port = 60_000 + (k as u16 % 500) * 10;
                let ssh = labnet::PortRange::new(port, port + 9).unwrap();
                segs.push(Segment::new(name.clone(), net, ssh));
                let to = segs[pick(rng, segs.len())].name.clone();
                rules.push(AllowRule::new(Selector::one(name), Selector::one(to)));
            }
        }
        _ => {
            let a = segs[pick(rng, segs.len())].name.clone();
            let b = segs[pick(rng, segs.len())].name.clone();
            let rule = AllowRule::new(Selector::one(a), Selector::one(b));
            rules.push(if rng.chance(0.5) {
                rule.proto(labnet::Proto::Tcp)
                    .ports([
                        labnet::PortRange::new(8000, 8000 + (rng.next_u64() % 40) as u16).unwrap(),
                    ])
            } else {
                rule
            });
        }
    }
    let mut b = Lab::builder(lab.info().clone());
    for s in segs {
        b = b.segment(s);
    }
    for r in rules {
        b = b.allow(r);
    }
    // A mutation that breaks validation (a new segment's ports meeting an
    // old one's) keeps the lab as it was.
    b.build().unwrap_or_else(|_| lab.clone())
}

/// Every apply after the first is incremental, and the kernel then lists the
/// table exactly as after a full load of the same lab; the delta's nft script
/// does the same through `nft -f`. A hand edit makes the next apply full.
#[cfg(feature = "nftnl")]
#[test]
#[cfg_attr(
    not(labkit_netns),
    ignore = "needs root, ip (iproute2) and nft (nftables)"
)]
fn incremental_apply_lists_exactly_like_a_full_load() {
    use labnet::kernel::apply;
    use labnet::kernel::incremental::{Incremental, Mode};
    use labnet::kernel::{ApplyOptions, LiveOptions};
    use proptest::test_runner::{Config as ProptestConfig, TestRunner};

    let (inc_ns, full_ns, script_ns) = (
        labkit_tests::netns(),
        labkit_tests::netns(),
        labkit_tests::netns(),
    );
    let live = LiveOptions::netns(inc_ns.name());
    let (full, script) = (open(&full_ns), open(&script_ns));
    let inc = open(&inc_ns);
    // Equal as drift compares tables: the same objects with the same
    // declarations, elements and rules in order. (The kernel lists objects in
    // creation order, so a set created by a delta prints after older ones.)
    let list = |ns: &Netns| {
        labnet::kernel::Listing::parse(&nft_cli::list_table(ns, "labnet").unwrap().unwrap())
    };
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(
            &(
                labnet::testkit::arb_lab(24),
                proptest::prelude::any::<u64>(),
            ),
            |(first, seed)| {
                let mut rng = labnet::testkit::SplitMix::new(seed);
                // Start from nothing recorded: the first apply is full.
                let _ = apply::remove(&live);
                let r = apply::apply(&first, &live, &ApplyOptions::default(), None).unwrap();
                assert_eq!(r.plan.mode, Mode::Full);
                let mut lab = first;
                for _ in 0..4 {
                    let next = mutate(&lab, &mut rng);
                    let dry = apply::apply(&next, &live, &ApplyOptions::default().dry_run(), None)
                        .unwrap();
                    assert_eq!(dry.plan.mode, Mode::Incremental, "{:?}", dry.plan.reason);
                    let r = apply::apply(&next, &live, &ApplyOptions::default(), None).unwrap();
                    assert_eq!(r.plan.mode, Mode::Incremental, "{:?}", r.plan.reason);
                    assert_eq!(r.plan.script, dry.plan.script);
                    kernel::load(&full, &PolicyIr::build(&next), &table(), Backend::Nft).unwrap();
                    assert_eq!(
                        list(&inc),
                        list(&full),
                        "incremental apply lists differently"
                    );

                    // The same delta as a script, through nft -f.
                    kernel::load(&script, &PolicyIr::build(&lab), &table(), Backend::Nft).unwrap();
                    let delta = Incremental::new(&lab, &next, &table()).script();
                    if !delta.is_empty() {
                        nft_cli::load(&script, &delta).unwrap();
                    }
                    assert_eq!(
                        list(&script),
                        list(&full),
                        "the delta script lists differently"
                    );
                    lab = next;
                }
                // Applying the same lab again sends nothing.
                let again = apply::apply(&lab, &live, &ApplyOptions::default(), None).unwrap();
                assert_eq!(again.plan.delta.map(|d| d.objects), Some(0));
                Ok(())
            },
        )
        .unwrap();

    // A hand edit moves the generation on: the next apply is a full replace
    // that finds and repairs the edit.
    let lab = labnet::reference::lab();
    apply::apply(&lab, &live, &ApplyOptions::default(), None).unwrap();
    nft_cli::run(
        &inc,
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
    let dry = apply::apply(&lab, &live, &ApplyOptions::default().dry_run(), None).unwrap();
    assert_eq!(dry.plan.mode, Mode::Full);
    assert!(
        dry.plan
            .reason
            .as_deref()
            .unwrap()
            .contains("changed since"),
        "{:?}",
        dry.plan.reason
    );
    let r = apply::apply(&lab, &live, &ApplyOptions::default(), None).unwrap();
    assert_eq!(r.plan.mode, Mode::Full);
    assert!(
        !r.plan.compared,
        "a plain full apply does not read the table"
    );
    assert_eq!(
        dry.changes,
        vec![Change::ElementsAdded {
            block: "set public_any_24".into(),
            elements: vec!["10.0.0.0".into()]
        }]
    );
    assert_eq!(kernel::drift(&inc, &lab, &table()).unwrap(), vec![]);
    let r = apply::apply(&lab, &live, &ApplyOptions::default(), None).unwrap();
    assert_eq!(r.plan.mode, Mode::Incremental);
}

/// A long-lived TCP connection through the lab's router keeps working across
/// incremental and full applies, including one that withdraws the rule that
/// let it open (conntrack's entry carries it), while a new connection then
/// is refused: the applies took effect and conntrack survived them.
#[cfg(feature = "nftnl")]
#[test]
#[cfg_attr(
    not(labkit_netns),
    ignore = "needs root, ip (iproute2) and nft (nftables)"
)]
fn established_connections_survive_every_apply() {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::time::Duration;

    use labnet::kernel::incremental::{self, Incremental};
    use labnet::proof::topology::Topology;
    use labnet::{AllowRule, LabInfo, Proto, Segment, Selector};

    let seg = |name: &str, net: &str, ssh: &str| {
        Segment::new(
            name.parse().unwrap(),
            net.parse().unwrap(),
            ssh.parse().unwrap(),
        )
        .with_internet(false)
    };
    let lab = |allow: bool| {
        let mut b = Lab::builder(LabInfo::new(
            "ct".parse().unwrap(),
            "ct.lab".parse().unwrap(),
            None,
        ))
        .segment(seg("app", "10.77.0.0/24", "2201-2210"))
        .segment(seg("db", "10.77.1.0/24", "2211-2220"));
        if allow {
            b = b.allow(
                AllowRule::new(
                    Selector::one("app".parse().unwrap()),
                    Selector::one("db".parse().unwrap()),
                )
                .proto(Proto::Tcp)
                .ports(["5432".parse().unwrap()]),
            );
        }
        b.build().unwrap()
    };
    let (open_lab, closed_lab) = (lab(true), lab(false));
    let topo = Topology::build(&open_lab).expect("topology");
    kernel::load(
        &topo.router,
        &PolicyIr::build(&open_lab),
        &table(),
        Backend::Netlink,
    )
    .unwrap();
    let db = SocketAddr::from((topo.hosts[1].addr, 5432));
    let listener = topo.hosts[1]
        .ns
        .run(move || TcpListener::bind(db))
        .unwrap()
        .unwrap();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut s = s;
                let mut buf = [0u8; 64];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    let connect = || {
        topo.hosts[0]
            .ns
            .run(move || TcpStream::connect_timeout(&db, Duration::from_millis(800)))
            .unwrap()
    };
    let mut conn = connect().expect("app may open a connection to db:5432");
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let echo = |conn: &mut TcpStream, msg: &[u8]| {
        conn.write_all(msg).unwrap();
        let mut got = vec![0u8; msg.len()];
        conn.read_exact(&mut got)
            .expect("the established connection still answers");
        assert_eq!(got, msg);
    };
    echo(&mut conn, b"before");

    let step = |from: &Lab, to: &Lab| {
        let g = incremental::generation(&topo.router).unwrap().unwrap();
        incremental::load(&topo.router, &Incremental::new(from, to, &table()), g).unwrap();
    };
    // Incremental: the rule that allowed the connection goes.
    step(&open_lab, &closed_lab);
    echo(&mut conn, b"after an incremental apply");
    assert!(connect().is_err(), "a new connection must be refused now");
    // Full replace of the table.
    kernel::load(
        &topo.router,
        &PolicyIr::build(&closed_lab),
        &table(),
        Backend::Netlink,
    )
    .unwrap();
    echo(&mut conn, b"after a full replace");
    kernel::load(
        &topo.router,
        &PolicyIr::build(&closed_lab),
        &table(),
        Backend::Nft,
    )
    .unwrap();
    echo(&mut conn, b"after nft -f");
    // Back again, incrementally: new connections open again.
    step(&closed_lab, &open_lab);
    echo(&mut conn, b"after the rule came back");
    assert!(connect().is_ok());
}
