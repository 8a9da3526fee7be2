//! The compiled rulesets against the real tools and kernel, inside network
//! namespaces these tests create: `nft -c`, `nft -f` then `nft -j list`
//! evaluated against the lab file, `iptables-restore --test`, atomic replace.
//!
//! Nothing here sends a packet; the packet-level proof is a separate test.

// Test helpers: a failed expectation is a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use labkit_tests::{Netns, stderr};
use labnet::labfile;
use labnet::target::{CompileOptions, Target, compile};
use labnet::testkit::{arb_lab, arb_lab_with_packets, nft_eval};
use proptest::prelude::*;

fn opts(target: Target) -> CompileOptions {
    CompileOptions::target(target)
}

fn cases() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        max_shrink_iters: 64,
        // Failures are reproduced from the printed seed; no regression files in the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The kernel's objects as comparable strings: handles dropped, sorted.
fn kernel_objects(json: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(json).expect("nft -j list prints JSON");
    let mut out: Vec<String> = v["nftables"]
        .as_array()
        .expect("nftables array")
        .iter()
        .filter(|o| o.get("metainfo").is_none())
        .map(|o| {
            let mut o = o.clone();
            if let Some(inner) = o.as_object_mut().and_then(|m| m.values_mut().next())
                && let Some(m) = inner.as_object_mut()
            {
                m.remove("handle");
            }
            o.to_string()
        })
        .collect();
    out.sort();
    out
}

#[test]
#[cfg_attr(
    not(labkit_netns),
    ignore = "needs root, ip (iproute2) and nft (nftables)"
)]
fn reference_lab_passes_nft_check_in_both_forms() {
    let ns = labkit_tests::netns();
    let lab = labnet::reference::lab();
    let nft = ns.nft_file(&["-c"], &compile(&lab, &opts(Target::Nft)));
    assert!(
        nft.status.success(),
        "nft -c rejected the reference lab: {}",
        stderr(&nft)
    );
    let json = ns.nft_file(&["-j", "-c"], &compile(&lab, &opts(Target::NftJson)));
    assert!(
        json.status.success(),
        "nft -j -c rejected the reference lab: {}",
        stderr(&json)
    );
}

#[test]
#[cfg_attr(
    not(labkit_iptables),
    ignore = "needs root, ip, nft and iptables-restore"
)]
fn reference_lab_passes_iptables_restore_test() {
    let ns = labkit_tests::netns();
    let text = compile(&labnet::reference::lab(), &opts(Target::Iptables));
    let out = ns.exec(
        &["iptables-restore", "--test", "--noflush"],
        Some(text.as_bytes()),
    );
    assert!(
        out.status.success(),
        "iptables-restore --test: {}",
        stderr(&out)
    );
    // Loading twice refills the chains instead of appending to them.
    for _ in 0..2 {
        let out = ns.exec(&["iptables-restore", "--noflush"], Some(text.as_bytes()));
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let saved = ns.exec(&["iptables-save", "-t", "filter"], None);
    let rules = String::from_utf8_lossy(&saved.stdout)
        .lines()
        .filter(|l| l.starts_with("-A LABNET-"))
        .count();
    let expected = text
        .lines()
        .filter(|l| {
            l.starts_with("-A LABNET-") && !l.contains("MASQ") && !l.contains("POSTROUTING")
        })
        .count();
    assert_eq!(rules, expected, "reloading must not duplicate rules");
}

#[test]
#[cfg_attr(
    not(labkit_netns),
    ignore = "needs root, ip (iproute2) and nft (nftables)"
)]
fn random_labs_pass_nft_check() {
    let ns = labkit_tests::netns();
    proptest!(cases(), |(lab in arb_lab(64))| {
        let script = compile(&lab, &opts(Target::Nft));
        let out = ns.nft_file(&["-c"], &script);
        prop_assert!(out.status.success(), "nft -c rejected:\n{}\n--- script ---\n{}", stderr(&out), script);
    });
}

#[test]
#[cfg_attr(
    not(labkit_iptables),
    ignore = "needs root, ip, nft and iptables-restore"
)]
fn random_labs_pass_iptables_restore_test() {
    let ns = labkit_tests::netns();
    proptest!(cases(), |(lab in arb_lab(64))| {
        let text = compile(&lab, &opts(Target::Iptables));
        let out = ns.exec(&["iptables-restore", "--test", "--noflush"], Some(text.as_bytes()));
        prop_assert!(out.status.success(), "iptables-restore --test: {}", stderr(&out));
    });
}

/// Load the `nft` text into the kernel, list it back as JSON, and evaluate that
/// listing: the ruleset as the kernel holds it decides like the lab file. Then
/// load the `nft-json` form and require the same kernel objects.
#[test]
#[cfg_attr(
    not(labkit_netns),
    ignore = "needs root, ip (iproute2) and nft (nftables)"
)]
fn kernel_ruleset_decides_like_the_lab_file() {
    let ns = labkit_tests::netns();
    proptest!(cases(), |((lab, packets) in arb_lab_with_packets(64, 48))| {
        let load = ns.nft_file(&[], &compile(&lab, &opts(Target::Nft)));
        prop_assert!(load.status.success(), "nft -f: {}", stderr(&load));
        let listed = ns.list_table_json("labnet");
        prop_assert!(listed.status.success(), "nft list: {}", stderr(&listed));
        let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
        let rs = nft_eval::parse(&listed).map_err(TestCaseError::fail)?;
        for p in &packets {
            let d = lab.decide(p);
            let got = rs.evaluate(p).map_err(TestCaseError::fail)?;
            prop_assert_eq!(got, (d.allowed, d.masquerade), "packet {:?} ({:?})", p, d.reason);
        }
        let from_text = kernel_objects(&listed);
        let load = ns.nft_file(&["-j"], &compile(&lab, &opts(Target::NftJson)));
        prop_assert!(load.status.success(), "nft -j -f: {}", stderr(&load));
        let listed = ns.list_table_json("labnet");
        prop_assert_eq!(kernel_objects(&String::from_utf8_lossy(&listed.stdout)), from_text);
    });
}

/// A foreign table (as Docker or libvirt would have) survives every load, and a
/// failing load leaves labnet's previous table exactly as it was.
#[test]
#[cfg_attr(
    not(labkit_netns),
    ignore = "needs root, ip (iproute2) and nft (nftables)"
)]
fn replace_is_atomic_and_touches_nothing_else() {
    let ns = labkit_tests::netns();
    let foreign = "table ip other {\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n\t\tip saddr 172.17.0.0/16 counter accept\n\t}\n}\n";
    let out = ns.nft_file(&[], foreign);
    assert!(out.status.success(), "{}", stderr(&out));
    let other_before = String::from_utf8_lossy(
        &ns.exec(&["nft", "list", "table", "ip", "other"], None)
            .stdout,
    )
    .into_owned();

    let reference = compile(&labnet::reference::lab(), &opts(Target::Nft));
    for _ in 0..2 {
        let out = ns.nft_file(&[], &reference);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let before = String::from_utf8_lossy(&ns.list_table_json("labnet").stdout).into_owned();

    // A different, valid lab whose file is cut off at the end: nft must reject the
    // whole transaction, including the `delete table` at its top.
    let text = labfile::to_toml(&labnet::reference::lab())
        .replace("10.0.4.0/24", "10.0.9.0/24")
        .replace("10.0.4.", "10.0.9.");
    let other_lab = labfile::parse("x.toml", &text).expect("valid").into_lab();
    let mut broken = compile(&other_lab, &opts(Target::Nft));
    broken.truncate(broken.len() - 3);
    let out = ns.nft_file(&[], &broken);
    assert!(
        !out.status.success(),
        "a truncated script must fail to load"
    );
    let after = String::from_utf8_lossy(&ns.list_table_json("labnet").stdout).into_owned();
    assert_eq!(
        kernel_objects(&after),
        kernel_objects(&before),
        "a failed load changed the table"
    );

    let other_after = String::from_utf8_lossy(
        &ns.exec(&["nft", "list", "table", "ip", "other"], None)
            .stdout,
    )
    .into_owned();
    assert_eq!(other_before, other_after, "labnet touched a foreign table");
    assert!(other_after.contains("172.17.0.0/16"));
}

#[test]
#[cfg_attr(
    not(labkit_netns),
    ignore = "needs root, ip (iproute2) and nft (nftables)"
)]
fn namespaces_are_removed_after_use() {
    labkit_tests::require_netns();
    let name = Netns::new("cleanup")
        .expect("make a namespace")
        .name()
        .to_owned();
    let list = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    assert!(
        !String::from_utf8_lossy(&list.stdout).contains(&name),
        "{name} still exists after drop"
    );
}

/// Words of nft's scanner that nft 1.0.6 does accept as a table name (the
/// complement, within the scanner's words, of `NFT_KEYWORDS`).
const NOT_KEYWORDS: &[&str] = &[
    "abort",
    "ackseq",
    "addr",
    "asconf",
    "avgpkt",
    "burst",
    "bypass",
    "bytes",
    "cfi",
    "cgroupv2",
    "check",
    "checksum",
    "chunk",
    "classid",
    "code",
    "count",
    "cpi",
    "csumcov",
    "cwr",
    "daddr",
    "data",
    "dei",
    "destroy",
    "direction",
    "doff",
    "dport",
    "dscp",
    "echo",
    "ecne",
    "eol",
    "error",
    "event",
    "expectation",
    "expiration",
    "fanout",
    "fastopen",
    "filter",
    "flowlabel",
    "gateway",
    "geneve",
    "gre",
    "gretap",
    "group",
    "hdrlength",
    "heartbeat",
    "helper",
    "helpers",
    "hlen",
    "hoplimit",
    "htype",
    "icmpx",
    "id",
    "in",
    "inc",
    "init",
    "json",
    "l3proto",
    "lab",
    "label",
    "labnet",
    "last",
    "left",
    "length",
    "level",
    "ll",
    "lsrr",
    "mangle",
    "maxseg",
    "md5sig",
    "memory",
    "minute",
    "mod",
    "mptcp",
    "mrt",
    "mss",
    "mtu",
    "name",
    "nat",
    "never",
    "nexthdr",
    "nexthop",
    "nh",
    "noop",
    "nop",
    "num",
    "offset",
    "operation",
    "option",
    "options",
    "original",
    "out",
    "over",
    "packets",
    "pcp",
    "performance",
    "persistent",
    "plen",
    "port",
    "ppid",
    "prefix",
    "protocol",
    "ptr",
    "ptype",
    "ra",
    "rate",
    "raw",
    "reply",
    "reqid",
    "reserved",
    "reserved2",
    "right",
    "rr",
    "rules",
    "sack",
    "sack0",
    "sack1",
    "sack2",
    "sack3",
    "saddr",
    "second",
    "security",
    "seed",
    "seqno",
    "sequence",
    "shutdown",
    "sid",
    "snaplen",
    "spi",
    "spnum",
    "sport",
    "ssn",
    "ssrr",
    "state",
    "status",
    "stream",
    "subtype",
    "taddr",
    "tag",
    "timestamp",
    "to",
    "tos",
    "trace",
    "transparent",
    "tsecr",
    "tsn",
    "tsval",
    "ttl",
    "tunnel",
    "tunnels",
    "until",
    "urgptr",
    "used",
    "value",
    "version",
    "vm",
    "vni",
    "vtag",
    "vxlan",
    "week",
    "wildcard",
    "window",
    "with",
    "wscale",
    "xml",
    "zone",
];

/// `NFT_KEYWORDS` is exactly what the installed nft refuses: each keyword
/// breaks the script or the listing labnet uses; each other scanner word, and
/// random names TableName accepts, load, list and delete.
#[test]
#[cfg_attr(
    not(labkit_netns),
    ignore = "needs root, ip (iproute2) and nft (nftables)"
)]
fn table_names_are_refused_exactly_where_nft_cannot_read_them() {
    use labnet::target::{NFT_KEYWORDS, TableName};
    let ns = labkit_tests::netns();
    let works = |name: &str| -> bool {
        let script = format!(
            "table ip {name}\ndelete table ip {name}\ntable ip {name} {{\n\tchain c {{\n\t}}\n}}\n"
        );
        if !ns.nft_file(&[], &script).status.success() {
            return false;
        }
        let listed = ns
            .exec(&["nft", "list", "table", "ip", name], None)
            .status
            .success();
        let _ = ns.exec(&["nft", "flush", "ruleset"], None);
        listed
    };
    for w in NFT_KEYWORDS {
        assert!(TableName::new(*w).is_err(), "{w} must be refused");
        assert!(
            !works(w),
            "nft accepts `{w}` as a table name: drop it from NFT_KEYWORDS"
        );
    }
    for w in NOT_KEYWORDS {
        if TableName::new(*w).is_ok() {
            assert!(works(w), "nft refuses `{w}`: add it to NFT_KEYWORDS");
        }
    }
    proptest!(cases(), |(name in "[a-z][a-z0-9_]{0,15}")| {
        if let Ok(t) = TableName::new(name.clone()) {
            let script = compile(&labnet::reference::lab(), &CompileOptions::target(Target::Nft).table(t));
            let out = ns.nft_file(&[], &script);
            prop_assert!(out.status.success(), "{name}: {}", stderr(&out));
            prop_assert!(ns.exec(&["nft", "list", "table", "ip", &name], None).status.success());
            let _ = ns.exec(&["nft", "flush", "ruleset"], None);
        }
    });
}
