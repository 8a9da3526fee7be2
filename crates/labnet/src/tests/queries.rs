//! `labnet query` and `labnet matrix` answers on the reference lab and a lab with port rules.

use crate::error::QueryError;
use crate::labfile::{builtin, parse};
use crate::proto::Proto;
use crate::query::{Query, Verdict};

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
    let a = q("management", "database", None, None).answer(&f).unwrap();
    assert_eq!(a.verdict, Verdict::Allowed);
    assert_eq!(a.rules.len(), 1);
    assert_eq!(a.rules[0].index, 0);
    assert_eq!(a.rules[0].line, f.rule_location(0).map(|l| l.line));
    assert!(a.reason.contains("policy.allow[0] (line"), "{}", a.reason);

    let a = q("public", "management", None, None).answer(&f).unwrap();
    assert_eq!(a.verdict, Verdict::Denied);
    assert!(a.reason.contains("denied by default"), "{}", a.reason);

    let a = q("database", "private", Some(Proto::Tcp), Some(2231))
        .answer(&f)
        .unwrap();
    assert_eq!(a.verdict, Verdict::Denied);

    let a = q("database", "internet", None, None).answer(&f).unwrap();
    assert_eq!(a.verdict, Verdict::Allowed);
    assert!(a.masquerade);
    assert!(a.reason.contains("internet = true at line"), "{}", a.reason);

    let a = q("203.0.113.5", "public", Some(Proto::Tcp), Some(2211))
        .answer(&f)
        .unwrap();
    assert_eq!(a.verdict, Verdict::Denied);
    assert!(a.reason.contains("outside the lab"), "{}", a.reason);

    let a = q("10.0.1.150", "10.0.1.20", None, None).answer(&f).unwrap();
    assert_eq!(a.verdict, Verdict::Allowed);
    assert!(a.reason.contains("within a segment"), "{}", a.reason);

    let a = q("public", "10.0.2.1", None, None).answer(&f).unwrap();
    assert!(a.note.as_deref().unwrap_or("").contains("gateway"), "{a:?}");
}

#[test]
fn bad_endpoints_and_flags() {
    let f = builtin();
    let e = q("managment", "public", None, None).answer(&f).unwrap_err();
    assert_eq!(
        e,
        QueryError::UnknownEndpoint {
            given: "managment".into(),
            suggestion: Some("management".into())
        }
    );
    assert!(e.to_string().contains("did you mean \"management\""));
    let e = q("public", "private", Some(Proto::Icmp), Some(5))
        .answer(&f)
        .unwrap_err();
    assert_eq!(e, QueryError::PortWithoutPorts(Proto::Icmp));
    // "internet" is only a destination.
    assert!(q("internet", "public", None, None).answer(&f).is_err());
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
    let a = q("app", "db", None, None).answer(&f).unwrap();
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
        .answer(&f)
        .unwrap();
    assert_eq!(a.verdict, Verdict::Allowed);
    assert_eq!(a.rules[0].line, Some(15));
    assert_eq!(
        q("app", "db", Some(Proto::Tcp), Some(80))
            .answer(&f)
            .unwrap()
            .verdict,
        Verdict::Denied
    );
    assert_eq!(
        q("app", "db", Some(Proto::Tcp), None)
            .answer(&f)
            .unwrap()
            .verdict,
        Verdict::Partial
    );
    assert_eq!(
        q("app", "db", Some(Proto::Udp), None)
            .answer(&f)
            .unwrap()
            .verdict,
        Verdict::Denied
    );
    assert_eq!(
        q("app", "db", Some(Proto::Icmp), None)
            .answer(&f)
            .unwrap()
            .verdict,
        Verdict::Allowed
    );
    let a = q("db", "internet", None, None).answer(&f).unwrap();
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
    let m = crate::matrix::Matrix::new(&f);
    assert_eq!(m.cells.len(), 4);
    assert_eq!(m.cells[1].access, "partial");
    assert_eq!(m.cells[1].lines, vec![15, 20]);
    assert_eq!(m.cells[2].access, "none");
    assert_eq!(m.cells[0].access, "self");
    assert!(m.internet[0].allowed && !m.internet[1].allowed);
}
