//! `labnet query` and `labnet matrix` answers on the reference lab and a lab with port rules.

use crate::error::QueryError;
use crate::labfile::parse;
use crate::proto::Proto;
use crate::query::{Query, Verdict};
use crate::reference::file as builtin;

fn q(from: &str, to: &str, proto: Option<Proto>, port: Option<u16>) -> Query {
    Query {
        from: from.into(),
        to: to.into(),
        proto,
        port,
    }
}

#[test]
fn reference_lab_answers_cite_their_rules() {
    let f = builtin();
    let a = q("management", "database", None, None)
        .answer_in(&f)
        .unwrap();
    assert_eq!(a.verdict, Verdict::Allowed);
    assert_eq!(a.rules.len(), 1);
    assert_eq!(a.rules[0].index, 0);
    assert_eq!(a.rules[0].line, f.rule_location(0).map(|l| l.line));
    assert!(a.reason.contains("policy.allow[0] (line"), "{}", a.reason);

    let a = q("public", "management", None, None).answer_in(&f).unwrap();
    assert_eq!(a.verdict, Verdict::Denied);
    assert!(a.reason.contains("denied by default"), "{}", a.reason);

    let a = q("database", "private", Some(Proto::Tcp), Some(2231))
        .answer_in(&f)
        .unwrap();
    assert_eq!(a.verdict, Verdict::Denied);

    let a = q("database", "internet", None, None).answer_in(&f).unwrap();
    assert_eq!(a.verdict, Verdict::Allowed);
    assert!(a.masquerade);
    assert!(a.reason.contains("internet = true at line"), "{}", a.reason);

    let a = q("203.0.113.5", "public", Some(Proto::Tcp), Some(2211))
        .answer_in(&f)
        .unwrap();
    assert_eq!(a.verdict, Verdict::Denied);
    assert!(a.reason.contains("outside the lab"), "{}", a.reason);

    let a = q("10.0.1.150", "10.0.1.20", None, None)
        .answer_in(&f)
        .unwrap();
    assert_eq!(a.verdict, Verdict::Allowed);
    assert!(a.reason.contains("within a segment"), "{}", a.reason);

    // A gateway is the host itself: not filtered, whatever the matrix says
    // about its segment (public may reach private, not management).
    for gw in ["10.0.2.1", "10.0.0.1"] {
        let a = q("public", gw, Some(Proto::Tcp), Some(22))
            .answer_in(&f)
            .unwrap();
        assert_eq!(a.verdict, Verdict::NotFiltered, "{a:?}");
        assert!(
            a.reason.contains("gateway") && a.reason.contains("input"),
            "{a:?}"
        );
        let a = q("public", gw, None, None).answer_in(&f).unwrap();
        assert_eq!(a.verdict, Verdict::NotFiltered, "{a:?}");
    }
    let a = q("10.0.1.1", "database", None, None).answer_in(&f).unwrap();
    assert_eq!(
        a.verdict,
        Verdict::NotFiltered,
        "the host's own output: {a:?}"
    );
}

#[test]
fn bad_endpoints_and_flags() {
    let f = builtin();
    let e = q("managment", "public", None, None)
        .answer_in(&f)
        .unwrap_err();
    assert_eq!(
        e,
        QueryError::UnknownEndpoint {
            given: "managment".into(),
            suggestion: Some("management".into())
        }
    );
    assert!(e.to_string().contains("did you mean \"management\""));
    let e = q("public", "private", Some(Proto::Icmp), Some(5))
        .answer_in(&f)
        .unwrap_err();
    assert_eq!(e, QueryError::PortWithoutPorts(Proto::Icmp));
    // "internet" is only a destination.
    assert_eq!(
        q("internet", "public", None, None).answer_in(&f),
        Err(QueryError::InternetAsSource)
    );
    // A query checks itself: no silent tcp for a port without a protocol, no port 0.
    let lab = f.lab();
    assert_eq!(
        q("public", "private", None, Some(80)).answer(lab),
        Err(QueryError::PortWithoutProtocol { port: 80 })
    );
    assert_eq!(
        q("public", "private", Some(Proto::Tcp), Some(0)).answer(lab),
        Err(QueryError::PortZero)
    );
    for e in [
        QueryError::PortWithoutProtocol { port: 80 },
        QueryError::PortWithoutPorts(Proto::Icmp),
        QueryError::PortZero,
        QueryError::InternetAsSource,
    ] {
        assert!(
            !e.to_string().contains("--"),
            "library messages name no CLI flags: {e}"
        );
    }
}

#[test]
fn labs_built_in_code_get_answers_and_a_matrix() {
    use crate::{AllowRule, Lab, LabInfo, Segment, Selector};
    let info = LabInfo::new("code".parse().unwrap(), "lab.local".parse().unwrap(), None);
    let lab = Lab::builder(info)
        .segment(
            Segment::new(
                "a".parse().unwrap(),
                "10.9.0.0/24".parse().unwrap(),
                "2201".parse().unwrap(),
            )
            .with_internet(false),
        )
        .segment(
            Segment::new(
                "b".parse().unwrap(),
                "10.9.1.0/24".parse().unwrap(),
                "2202".parse().unwrap(),
            )
            .with_internet(false),
        )
        .allow(
            AllowRule::new(
                Selector::one("a".parse().unwrap()),
                Selector::one("b".parse().unwrap()),
            )
            .proto(Proto::Udp)
            .ports(["53".parse().unwrap()]),
        )
        .build()
        .unwrap();
    let a = q("a", "b", Some(Proto::Udp), Some(53))
        .answer(&lab)
        .unwrap();
    assert_eq!(a.verdict, Verdict::Allowed);
    assert_eq!(a.rules[0].line, None, "no file, no lines");
    let m = crate::matrix::Matrix::new(&lab);
    assert_eq!(m.cells[1].access, "partial");
    assert!(m.cells[1].lines.is_empty());
}

#[test]
fn a_lab_on_the_documentation_range_gets_an_internet_outside_it() {
    let text = PORTS.replace("10.1.0.0/24", "203.0.113.0/24");
    let f = parse("doc.toml", &text).unwrap();
    assert!(
        !f.lab()
            .outside_net()
            .overlaps("203.0.113.0/24".parse().unwrap())
    );
    let a = q("app", "internet", None, None).answer_in(&f).unwrap();
    assert_eq!(a.to, "internet");
    assert_eq!(a.verdict, Verdict::Allowed, "{a:?}");
    assert!(a.masquerade);
    // And the segment itself is lab traffic, not the internet.
    let a = q("db", "203.0.113.7", None, None).answer_in(&f).unwrap();
    assert!(a.to.contains("(app)"), "{a:?}");
}

#[test]
fn matrix_cells_with_any_protocol_say_so_in_every_field() {
    let m = crate::matrix::Matrix::for_file(&builtin());
    let json = serde_json::to_value(&m).unwrap();
    for c in json["cells"].as_array().unwrap() {
        if c["detail"]["any"] == true {
            assert_eq!(c["detail"]["tcp"]["access"], "all", "{c}");
            assert_eq!(c["detail"]["udp"]["access"], "all", "{c}");
            assert_eq!(c["detail"]["icmp"], true, "{c}");
        }
    }
}

const PORTS: &str = r#"[lab]
name = "p"
domain = "lab.local"
uplink = "eno1"
[[segment]]
name = "app"
cidr = "10.1.0.0/24"
ssh_ports = "2201"
[[segment]]
name = "db"
cidr = "10.1.1.0/24"
ssh_ports = "2202"
internet = false
[policy]
[[policy.allow]]
from = "app"
to = "db"
proto = "tcp"
ports = ["5432", "3306-3307"]
[[policy.allow]]
from = "app"
to = "db"
proto = "icmp"
"#;

#[test]
fn partial_access_is_reported_with_its_ports() {
    let f = parse("ports.toml", PORTS).unwrap();
    let a = q("app", "db", None, None).answer_in(&f).unwrap();
    assert_eq!(a.verdict, Verdict::Partial);
    assert!(
        a.reason.contains("only tcp:3306-3307,5432 icmp"),
        "{}",
        a.reason
    );
    assert_eq!(
        a.rules.iter().map(|r| r.line).collect::<Vec<_>>(),
        vec![Some(15), Some(20)]
    );
    let a = q("app", "db", Some(Proto::Tcp), Some(5432))
        .answer_in(&f)
        .unwrap();
    assert_eq!(a.verdict, Verdict::Allowed);
    assert_eq!(a.rules[0].line, Some(15));
    assert_eq!(
        q("app", "db", Some(Proto::Tcp), Some(80))
            .answer_in(&f)
            .unwrap()
            .verdict,
        Verdict::Denied
    );
    assert_eq!(
        q("app", "db", Some(Proto::Tcp), None)
            .answer_in(&f)
            .unwrap()
            .verdict,
        Verdict::Partial
    );
    assert_eq!(
        q("app", "db", Some(Proto::Udp), None)
            .answer_in(&f)
            .unwrap()
            .verdict,
        Verdict::Denied
    );
    assert_eq!(
        q("app", "db", Some(Proto::Icmp), None)
            .answer_in(&f)
            .unwrap()
            .verdict,
        Verdict::Allowed
    );
    let a = q("db", "internet", None, None).answer_in(&f).unwrap();
    assert_eq!(a.verdict, Verdict::Denied);
    assert!(
        a.reason.contains("internet = false (line 13)"),
        "{}",
        a.reason
    );
}

#[test]
fn matrix_cells() {
    let f = parse("ports.toml", PORTS).unwrap();
    let m = crate::matrix::Matrix::for_file(&f);
    assert_eq!(m.cells.len(), 4);
    assert_eq!(m.cells[1].access, "partial");
    assert_eq!(m.cells[1].lines, vec![15, 20]);
    assert_eq!(m.cells[2].access, "none");
    assert_eq!(m.cells[0].access, "self");
    assert!(m.internet[0].allowed && !m.internet[1].allowed);
}
