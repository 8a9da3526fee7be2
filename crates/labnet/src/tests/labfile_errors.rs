//! Every class of bad lab file gets a located, hinted error, all at once, and never a panic.

use crate::diag::{Diagnostic, Severity, Style};
use crate::labfile::parse;

const GOOD: &str = r#"[lab]
name = "t"
domain = "lab.local"
uplink = "eno1"

[[segment]]
name = "a"
cidr = "10.0.0.0/24"
dhcp = { start = "10.0.0.10", end = "10.0.0.50" }
ssh_ports = "2201-2210"

[[segment]]
name = "b"
cidr = "10.0.1.0/24"
gateway = "10.0.1.1"
ssh_ports = "2211-2220"
internet = false

[policy]
[[policy.allow]]
from = "a"
to = "*"
[[policy.allow]]
from = "b"
to = ["a"]
proto = "tcp"
ports = ["5432", "3306-3307"]
"#;

fn errors(text: &str) -> Vec<Diagnostic> {
    match parse("bad.toml", text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(d) => d.errors().cloned().collect(),
    }
}

/// The single error of `text`: (field, line, column, message, hint).
fn one(text: &str) -> (String, u32, u32, String, String) {
    let e = errors(text);
    assert_eq!(e.len(), 1, "expected one error, got {e:#?}");
    let d = &e[0];
    let l = d.location.expect("located");
    (
        d.field.clone(),
        l.line,
        l.column,
        d.message.clone(),
        d.hint.clone().unwrap_or_default(),
    )
}

fn with(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "{from:?} not in the base lab");
    GOOD.replacen(from, to, 1)
}

#[test]
fn the_base_lab_is_valid() {
    let f = parse("good.toml", GOOD).unwrap();
    assert!(f.warnings().is_empty());
    assert_eq!(f.lab().segments().len(), 2);
    assert_eq!(
        f.lab().segments()[0].gateway.to_string(),
        "10.0.0.1",
        "default gateway"
    );
    assert!(f.lab().segments()[0].internet, "internet defaults to true");
    assert_eq!(f.rule_location(1).unwrap().line, 23);
}

#[test]
fn malformed_cidr() {
    let (f, line, col, msg, hint) = one(&with("10.0.1.0/24", "10.0.1.0/33"));
    assert_eq!((f.as_str(), line, col), ("segment[1].cidr", 14, 9));
    assert!(
        msg.contains("\"10.0.1.0/33\"") && msg.contains("33"),
        "{msg}"
    );
    assert!(hint.contains("ADDRESS/LENGTH"), "{hint}");
}

#[test]
fn cidr_with_host_bits_suggests_the_network() {
    let (f, _, _, _, hint) = one(&with("10.0.1.0/24", "10.0.1.7/24"));
    assert_eq!(f, "segment[1].cidr");
    assert_eq!(hint, "did you mean \"10.0.1.0/24\"?");
}

#[test]
fn overlapping_cidrs_point_at_both() {
    let e = errors(&with("10.0.1.0/24", "10.0.0.128/25"));
    // Overlap plus the gateway that now lies outside b's network.
    let d = e
        .iter()
        .find(|d| d.field == "segment[1].cidr")
        .expect("overlap error");
    assert!(
        d.message.contains("overlaps 10.0.0.0/24 of segment \"a\""),
        "{}",
        d.message
    );
    assert_eq!(d.related[0].location.unwrap().line, 8);
}

#[test]
fn gateway_checks() {
    for (gw, what) in [
        ("10.0.2.1", "outside"),
        ("10.0.1.0", "network address"),
        ("10.0.1.255", "broadcast address"),
    ] {
        let (f, line, _, msg, hint) = one(&with(
            "gateway = \"10.0.1.1\"",
            &format!("gateway = \"{gw}\""),
        ));
        assert_eq!((f.as_str(), line), ("segment[1].gateway", 15));
        assert!(msg.contains(what), "{msg}");
        assert!(hint.contains("10.0.1.1"), "{hint}");
    }
}

#[test]
fn dhcp_checks() {
    let (f, _, _, msg, _) = one(&with("end = \"10.0.0.50\"", "end = \"10.0.1.50\""));
    assert_eq!(f, "segment[0].dhcp.end");
    assert!(msg.contains("outside"), "{msg}");
    let (f, _, _, msg, hint) = one(&with("start = \"10.0.0.10\"", "start = \"10.0.0.1\""));
    assert_eq!(f, "segment[0].dhcp");
    assert!(msg.contains("contains the gateway 10.0.0.1"), "{msg}");
    assert!(!hint.is_empty());
    let (f, _, _, msg, hint) = one(&with("start = \"10.0.0.10\"", "start = \"10.0.0.60\""));
    assert_eq!(f, "segment[0].dhcp");
    assert!(msg.contains("reversed"), "{msg}");
    assert!(hint.contains("swap"), "{hint}");
    let (f, ..) = one(&with("end = \"10.0.0.50\"", "end = \"10.0.0.255\""));
    assert_eq!(f, "segment[0].dhcp.end");
}

#[test]
fn ssh_port_checks() {
    let (f, line, col, msg, _) = one(&with("2211-2220", "2205-2220"));
    assert_eq!((f.as_str(), line, col), ("segment[1].ssh_ports", 16, 14));
    assert!(msg.contains("overlaps \"2201-2210\""), "{msg}");
    let (f, _, _, msg, hint) = one(&with("2201-2210", "20-30"));
    assert_eq!(f, "segment[0].ssh_ports");
    assert!(msg.contains("port 22"), "{msg}");
    assert!(hint.contains("never on 22"), "{hint}");
    let (f, _, _, msg, _) = one(&with("2201-2210", "2210-2201"));
    assert_eq!(f, "segment[0].ssh_ports");
    assert!(msg.contains("reversed"), "{msg}");
}

#[test]
fn unknown_and_duplicate_segment_names() {
    let (f, line, col, msg, hint) = one(&with("to = [\"a\"]", "to = [\"aa\", \"a\"]"));
    // Columns point at the string's contents, inside the quotes.
    assert_eq!((f.as_str(), line, col), ("policy.allow[1].to[0]", 25, 8));
    assert_eq!(msg, "no segment is called \"aa\"");
    assert_eq!(hint, "known segments: a, b");
    let (f, _, _, msg, _) = one(&with("from = \"b\"", "from = \"zebra\""));
    assert_eq!(f, "policy.allow[1].from");
    assert!(msg.contains("zebra"));
    let e = errors(&with("name = \"b\"", "name = \"a\""));
    let d = e
        .iter()
        .find(|d| d.field == "segment[1].name")
        .expect("duplicate");
    assert!(
        d.message.contains("already used by segment[0]"),
        "{}",
        d.message
    );
    assert_eq!(d.related[0].location.unwrap().line, 7);
}

#[test]
fn bad_segment_names_get_a_lowercase_hint_and_no_cascade() {
    let text = GOOD.replace("\"a\"", "\"Mgmt\"");
    let (f, _, _, _, hint) = one(&text);
    assert_eq!(f, "segment[0].name");
    assert!(hint.contains("\"mgmt\""), "{hint}");
}

#[test]
fn ports_on_icmp_or_any() {
    let (f, _, _, msg, hint) = one(&with("proto = \"tcp\"", "proto = \"icmp\""));
    assert_eq!(f, "policy.allow[1].ports");
    assert!(msg.contains("\"icmp\""), "{msg}");
    assert!(hint.contains("proto = \"tcp\""));
    let (f, _, _, msg, _) = one(&with("proto = \"tcp\"\n", ""));
    assert_eq!(f, "policy.allow[1].ports");
    assert!(msg.contains("\"any\""), "{msg}");
}

#[test]
fn unknown_keys_everywhere() {
    let text = GOOD
        .replace("uplink = \"eno1\"", "uplink = \"eno1\"\nuplnk = 1")
        .replace(
            "ssh_ports = \"2201-2210\"",
            "ssh_port = \"x\"\nssh_ports = \"2201-2210\"",
        )
        .replace("dhcp = { start", "dhcp = { strt = \"1\", start")
        .replace("to = \"*\"", "to = \"*\"\nport = 5")
        + "\n[dockr]\nx = 1\n";
    let e = errors(&text);
    let fields: Vec<(&str, String)> = e
        .iter()
        .map(|d| (d.field.as_str(), d.hint.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        fields,
        vec![
            ("lab.uplnk", "did you mean `uplink`?".to_owned()),
            ("segment[0].dhcp.strt", "did you mean `start`?".to_owned()),
            (
                "segment[0].ssh_port",
                "did you mean `ssh_ports`?".to_owned()
            ),
            ("policy.allow[0].port", "did you mean `ports`?".to_owned()),
            (
                "dockr",
                "did you mean `docker`? (read by labdocker)".to_owned()
            ),
        ]
    );
}

#[test]
fn wrong_types() {
    let (f, _, _, msg, _) = one(&with("internet = false", "internet = \"no\""));
    assert_eq!(f, "segment[1].internet");
    assert_eq!(msg, "expected true or false, found a string");
    let (f, _, _, msg, _) = one(&with("cidr = \"10.0.0.0/24\"", "cidr = 10"));
    assert_eq!(f, "segment[0].cidr");
    assert_eq!(msg, "expected a string, found an integer");
    let (f, ..) = one(&with("to = \"*\"", "to = 3"));
    assert_eq!(f, "policy.allow[0].to");
}

#[test]
fn missing_pieces() {
    let (f, line, ..) = one(&with("cidr = \"10.0.1.0/24\"\n", ""));
    assert_eq!((f.as_str(), line), ("segment[1].cidr", 12));
    let no_seg: String = GOOD.split("[[segment]]").next().unwrap().to_owned();
    let e = errors(&no_seg);
    assert!(e.iter().any(|d| d.field == "segment"), "{e:#?}");
    let e = errors("");
    assert_eq!(
        e.iter().map(|d| d.field.as_str()).collect::<Vec<_>>(),
        vec!["lab", "segment"]
    );
}

#[test]
fn internet_without_uplink() {
    let (f, line, _, msg, hint) = one(&with("uplink = \"eno1\"\n", ""));
    assert_eq!((f.as_str(), line), ("lab.uplink", 1));
    assert!(msg.contains("segment \"a\" has internet egress"), "{msg}");
    assert!(hint.contains("internet = false"), "{hint}");
}

#[test]
fn toml_syntax_errors_are_located() {
    let (f, line, _, msg, _) = one(&with("name = \"b\"", "name = \"b"));
    assert_eq!((f.as_str(), line), ("(syntax)", 13));
    assert!(msg.starts_with("TOML syntax error"), "{msg}");
    let (_, _, _, msg, hint) = one(&with("cidr = \"10.0.1.0/24\"", "cidr = 10.0.1.0/24"));
    assert!(msg.starts_with("TOML syntax error"), "{msg}");
    assert!(hint.contains("quote"), "{hint}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = GOOD
        .replace("10.0.1.0/24", "10.0.1.0/33")
        .replace("2201-2210", "2201-2250")
        .replace("end = \"10.0.0.50\"", "end = \"10.0.0.5\"")
        .replace("to = [\"a\"]", "to = [\"c\"]")
        .replace("proto = \"tcp\"", "proto = \"icmp\"")
        .replace(
            "domain = \"lab.local\"",
            "domain = \"lab..local\"\nextra = true",
        );
    let e = errors(&text);
    let fields: Vec<&str> = e.iter().map(|d| d.field.as_str()).collect();
    assert_eq!(
        fields,
        vec![
            "lab.domain",
            "lab.extra",
            "segment[0].dhcp",
            "segment[1].cidr",
            "segment[1].ssh_ports",
            "policy.allow[1].to[0]",
            "policy.allow[1].ports",
        ]
    );
    assert!(
        e.iter()
            .all(|d| d.severity == Severity::Error && d.location.is_some() && d.hint.is_some())
    );
    // Rendered with file:line:col, the source line and a caret.
    let rendered = parse("bad.toml", &text)
        .unwrap_err()
        .render(&Style::plain());
    assert!(
        rendered.contains("error: bad.toml:15:9: segment[1].cidr:"),
        "{rendered}"
    );
    assert!(
        rendered.contains("15 | cidr = \"10.0.1.0/33\"\n   |         ^^^^^^^^^^^"),
        "{rendered}"
    );
}

#[test]
fn warnings_do_not_invalidate() {
    let f = parse("w.toml", &with("to = [\"a\"]", "to = [\"b\"]")).unwrap();
    let w: Vec<_> = f.warnings().warnings().collect();
    assert_eq!(w.len(), 1);
    assert!(w[0].message.contains("reach itself"));
}

#[test]
fn special_ranges_and_tiny_segments_are_rejected() {
    let (_, _, _, msg, _) =
        one(&with("10.0.1.0/24", "127.0.1.0/24").replace("10.0.1.1", "127.0.1.1"));
    assert!(msg.contains("loopback"), "{msg}");
    let (_, _, _, msg, _) =
        one(&with("10.0.1.0/24", "10.0.1.0/31").replace("gateway = \"10.0.1.1\"\n", ""));
    assert!(msg.contains("too small"), "{msg}");
}

#[test]
fn builder_errors_are_the_same_checks() {
    use crate::{AllowRule, Lab, Segment, Selector};
    let base = parse("good.toml", GOOD).unwrap();
    let lab = base.lab();
    let mut b = Lab::builder(lab.info().clone());
    for s in lab.segments() {
        b = b.segment(s.clone());
    }
    let mut dup: Segment = lab.segments()[0].clone();
    dup.ssh_ports = "3000".parse().unwrap();
    dup.cidr = "10.0.9.0/24".parse().unwrap();
    dup.gateway = "10.0.9.1".parse().unwrap();
    dup.dhcp = None;
    let err = b
        .segment(dup)
        .allow(AllowRule::new(
            Selector::All,
            Selector::one("b".parse().unwrap()),
        ))
        .build()
        .unwrap_err();
    let fields: Vec<&str> = err.errors().map(|d| d.field.as_str()).collect();
    assert_eq!(fields, vec!["segment[2].name"]);
}

#[test]
fn an_invalid_uplink_is_one_error_not_also_a_missing_one() {
    let (f, _, _, msg, _) = one(&with("uplink = \"eno1\"", "uplink = \"eth 0\""));
    assert_eq!(f, "lab.uplink");
    assert!(msg.contains("not an interface name"), "{msg}");
    let (f, _, _, msg, _) = one(&with("uplink = \"eno1\"", "uplink = 7"));
    assert_eq!(
        (f.as_str(), msg.as_str()),
        ("lab.uplink", "expected a string, found an integer")
    );
}

#[test]
fn empty_from_and_to_lists_both_warn() {
    for (from, to) in [("from = \"a\"", "from = []"), ("to = \"*\"", "to = []")] {
        let f = parse("w.toml", &with(from, to)).unwrap();
        let w: Vec<_> = f.warnings().warnings().collect();
        assert_eq!(w.len(), 1, "{to}: {w:#?}");
        assert!(w[0].message.contains("list is empty"), "{}", w[0].message);
        assert_eq!(
            w[0].field,
            format!("policy.allow[0].{}", &to[..to.find(' ').unwrap()])
        );
    }
}

#[test]
fn type_errors_carry_the_value_as_written() {
    for (from, to, value) in [
        ("internet = false", "internet = \"no\"", "no"),
        ("cidr = \"10.0.0.0/24\"", "cidr = 10", "10"),
        ("to = \"*\"", "to = 3", "3"),
        ("ssh_ports = \"2201-2210\"", "ssh_ports = true", "true"),
    ] {
        let e = errors(&with(from, to));
        assert_eq!(e[0].value.as_deref(), Some(value), "{to}: {e:#?}");
        let json = serde_json::to_value(&e[0]).unwrap();
        assert!(!json["value"].is_null(), "{json}");
    }
}

#[test]
fn a_huge_name_gives_a_short_diagnostic() {
    let huge = "x".repeat(50 << 20);
    let text = with("name = \"a\"", &format!("name = \"{huge}\""));
    let d = parse("huge.toml", &text).unwrap_err();
    let rendered = d.render(&Style::plain());
    assert!(rendered.len() < 8_000, "{} bytes rendered", rendered.len());
    assert!(d.to_string().len() < 8_000);
    assert!(serde_json::to_string(d.items()).unwrap().len() < 8_000);
    assert!(rendered.contains("bytes in all"), "{rendered}");
}

#[test]
fn diagnostics_are_an_error_that_lists_every_problem() {
    let d = parse(
        "bad.toml",
        &with("10.0.1.0/24", "10.0.1.0/33").replace("2201-2210", "22"),
    )
    .unwrap_err();
    let e: Box<dyn std::error::Error> = Box::new(d);
    let s = e.to_string();
    assert!(s.contains("bad.toml:14:9: segment[1].cidr"), "{s}");
    assert!(s.contains("segment[0].ssh_ports"), "{s}");
    assert!(s.contains("hint: "), "{s}");
}

/// A lab written with the grouped syntax: tags, `to = "*"` with `except`,
/// service sets and a deny rule.
const GROUPED: &str = r#"[lab]
name = "g"
domain = "lab.local"
uplink = "eno1"

[[segment]]
name = "mgmt"
cidr = "10.0.0.0/24"
ssh_ports = "2201-2210"

[[segment]]
name = "web"
cidr = "10.0.1.0/24"
ssh_ports = "2211-2220"
tags = ["app"]

[[segment]]
name = "api"
cidr = "10.0.2.0/24"
ssh_ports = "2221-2230"
tags = ["app"]

[[segment]]
name = "db"
cidr = "10.0.3.0/24"
ssh_ports = "2231-2240"

[policy.services]
web = { tcp = ["80", "443"] }
dns = { udp = ["53"], tcp = ["53"] }
pg = { tcp = ["5432"] }

[[policy.allow]]
from = "mgmt"
to = "*"

[[policy.allow]]
from = "tag:app"
to = "*"
except = ["mgmt"]
services = ["web", "dns"]

[[policy.allow]]
from = "tag:app"
to = "db"
services = ["pg"]

[[policy.deny]]
from = "web"
to = "db"
"#;

#[test]
fn grouped_syntax_reads_as_written() {
    use crate::{Packet, Reason};
    let f = parse("grouped.toml", GROUPED).unwrap();
    let lab = f.lab();
    let ip = |s: &str| s.parse().unwrap();
    let tcp = |a: &str, b: &str, port| lab.decide(&Packet::tcp(ip(a), ip(b), port, "lab"));
    // tag:app to "*" except mgmt, on the web and dns services.
    assert!(tcp("10.0.1.5", "10.0.2.5", 443).allowed);
    assert!(tcp("10.0.2.5", "10.0.3.5", 80).allowed);
    assert!(
        !tcp("10.0.2.5", "10.0.0.5", 443).allowed,
        "mgmt is excepted"
    );
    assert!(!tcp("10.0.2.5", "10.0.1.5", 22).allowed, "22 is no service");
    // api reaches db's postgres; web is denied it (deny wins over the allow).
    assert!(tcp("10.0.2.5", "10.0.3.5", 5432).allowed);
    let d = tcp("10.0.1.5", "10.0.3.5", 5432);
    assert_eq!(d.reason, Reason::Denied { rule: 0 });
    assert!(
        !tcp("10.0.1.5", "10.0.3.5", 443).allowed,
        "the deny covers every port"
    );
    // The dns set is two protocols: one rule per protocol, citing one table.
    let dns: Vec<usize> = (0..lab.rules().len())
        .filter(|&i| lab.rule_origin(i) == 1)
        .collect();
    assert_eq!(dns.len(), 3, "web (tcp), dns (udp), dns (tcp)");
    assert_eq!(f.rule_location(dns[1]).unwrap().line, 37);
    assert_eq!(f.deny_location(0).unwrap().line, 48);
    // The query names the deciding deny rule with its line.
    let a = crate::query::Query::new("web", "db")
        .proto(crate::Proto::Tcp)
        .port(5432)
        .answer_in(&f)
        .unwrap();
    assert!(
        a.reason.contains("policy.deny[0] (line 48)"),
        "{}",
        a.reason
    );
    assert!(a.rules.iter().all(|r| r.deny));
    // And printing keeps tags, except and the deny rule.
    let again = parse("again.toml", &crate::labfile::to_toml(lab)).unwrap();
    assert_eq!(again.lab().segments()[1].tags, lab.segments()[1].tags);
    assert_eq!(again.lab().deny_rules(), lab.deny_rules());
}

#[test]
fn grouped_syntax_errors_are_located_and_hinted() {
    let bad = |from: &str, to: &str| {
        assert!(GROUPED.contains(from), "{from:?}");
        GROUPED.replacen(from, to, 1)
    };
    let (field, line, _, msg, hint) = one(&bad(
        "from = \"tag:app\"\nto = \"db\"",
        "from = \"tag:apps\"\nto = \"db\"",
    ));
    assert_eq!((field.as_str(), line), ("policy.allow[2].from", 44));
    assert_eq!(msg, "no segment has the tag \"apps\"");
    assert_eq!(hint, "did you mean \"tag:app\"?");

    let (field, _, _, msg, hint) = one(&bad("services = [\"pg\"]", "services = [\"wbe\"]"));
    assert_eq!(field, "policy.allow[2].services[0]");
    assert_eq!(msg, "no service set is called \"wbe\"");
    assert_eq!(hint, "known service sets: dns, pg, web");

    let (field, ..) = one(&bad(
        "services = [\"pg\"]",
        "services = [\"pg\"]\nproto = \"tcp\"",
    ));
    assert_eq!(field, "policy.allow[2].services");

    let (field, _, _, msg, _) = one(&bad("except = [\"mgmt\"]", "except = \"*\""));
    assert_eq!(field, "policy.allow[1].except");
    assert!(msg.contains("applies to nothing"), "{msg}");

    let (field, ..) = one(&bad("tags = [\"app\"]", "tags = [\"App\"]"));
    assert_eq!(field, "segment[1].tags[0]");

    let (field, ..) = one(&bad(
        "pg = { tcp = [\"5432\"] }",
        "pg = { sctp = [\"5432\"] }",
    ));
    assert_eq!(field, "policy.services.pg.sctp");

    // Several problems at once, each reported.
    let many = bad(
        "from = \"web\"\nto = \"db\"",
        "from = \"wbe\"\nto = \"tag:nope\"",
    );
    assert_eq!(errors(&many).len(), 2);
}
