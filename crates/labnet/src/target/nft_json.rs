//! The libnftables JSON target (`nft -j -f`): the same objects as the nft script.
//!
//! Written directly as text, one command per line, instead of through a
//! `serde_json::Value` tree: a 5000-segment lab has millions of elements, and
//! the tree would cost gigabytes. Every string written is a validated name or
//! an address, except comments, which go through `serde_json` for escaping.

use std::fmt::Write as _;

use super::layout::{self, Kind};
use super::names;
use super::nft::l4_name;
use super::{TableName, summary};
use crate::cidr::Ipv4Cidr;
use crate::ir::{PolicyIr, SourcePolicy};
use crate::port::PortRange;

struct Out<'a> {
    o: String,
    table: &'a str,
    first: bool,
}

impl Out<'_> {
    fn cmd(&mut self, verb: &str, body: &str) {
        let sep = if self.first { "" } else { ",\n" };
        self.first = false;
        let _ = write!(self.o, "{sep}{{\"{verb}\": {body}}}");
    }

    fn obj(&self, kind: &str, fields: &str) -> String {
        format!(
            "{{\"{kind}\": {{\"family\": \"ip\", \"table\": \"{}\", {fields}}}}}",
            self.table
        )
    }
}

fn prefix(c: Ipv4Cidr) -> String {
    format!(
        "{{\"prefix\": {{\"addr\": \"{}\", \"len\": {}}}}}",
        c.addr(),
        c.len()
    )
}

fn port(r: PortRange) -> String {
    if r.start() == r.end() {
        r.start().to_string()
    } else {
        format!("{{\"range\": [{}, {}]}}", r.start(), r.end())
    }
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

pub(super) fn render(ir: &PolicyIr, table: &TableName) -> String {
    let mut w = Out {
        o: String::with_capacity(8192),
        table: table.as_str(),
        first: true,
    };
    w.o.push_str("{\"nftables\": [\n");
    w.cmd(
        "metainfo",
        &format!(
            "{{\"json_schema_version\": 1, \"comment\": {}}}",
            json_str(&format!("labnet ruleset for {}", summary(ir)))
        ),
    );
    // Same create-delete-create transaction as the nft script.
    let t = format!("{{\"table\": {{\"family\": \"ip\", \"name\": \"{table}\"}}}}");
    w.cmd("add", &t);
    w.cmd("delete", &t);
    w.cmd("add", &t);

    add_set(
        &mut w,
        names::LAB_SET,
        "\"ipv4_addr\"",
        ir.lab_nets.iter().map(|c| prefix(*c)),
    );
    if !ir.egress_nets.is_empty() {
        add_set(
            &mut w,
            names::EGRESS_SET,
            "\"ipv4_addr\"",
            ir.egress_nets.iter().map(|c| prefix(*c)),
        );
    }
    for sp in &ir.sources {
        source_sets(&mut w, sp);
    }
    let mark = w.obj("chain", &format!("\"name\": \"{}\"", names::OWNER_MARK));
    w.cmd("add", &mark);
    // Chains before the map whose elements jump to them.
    for sp in &ir.sources {
        let c = w.obj(
            "chain",
            &format!("\"name\": \"{}\"", names::chain(&sp.segment)),
        );
        w.cmd("add", &c);
    }
    let mut by_addr: Vec<&SourcePolicy> = ir.sources.iter().collect();
    by_addr.sort_by_key(|s| s.cidr);
    let elems: Vec<String> = by_addr
        .iter()
        .map(|s| {
            format!(
                "[{}, {{\"jump\": {{\"target\": \"{}\"}}}}]",
                prefix(s.cidr),
                names::chain(&s.segment)
            )
        })
        .collect();
    let m = w.obj(
        "map",
        &format!(
            "\"name\": \"{}\", \"type\": \"ipv4_addr\", \"map\": \"verdict\", \"flags\": [\"interval\"], \"elem\": [{}]",
            names::SOURCE_MAP,
            elems.join(", ")
        ),
    );
    w.cmd("add", &m);
    for sp in &ir.sources {
        source_rules(&mut w, sp);
    }

    let fwd = w.obj(
        "chain",
        &format!(
            "\"name\": \"{}\", \"type\": \"filter\", \"hook\": \"forward\", \"prio\": 0, \"policy\": \"accept\"",
            names::FORWARD
        ),
    );
    w.cmd("add", &fwd);
    let lab = format!("\"@{}\"", names::LAB_SET);
    let saddr = "{\"payload\": {\"protocol\": \"ip\", \"field\": \"saddr\"}}";
    let daddr = "{\"payload\": {\"protocol\": \"ip\", \"field\": \"daddr\"}}";
    let m = |op: &str, left: &str, right: &str| {
        format!("{{\"match\": {{\"op\": \"{op}\", \"left\": {left}, \"right\": {right}}}}}")
    };
    let ct = "{\"ct\": {\"key\": \"state\"}}";
    rule(
        &mut w,
        names::FORWARD,
        &[
            &m("!=", saddr, &lab),
            &m("!=", daddr, &lab),
            "{\"accept\": null}",
        ],
        Some("not lab traffic"),
    );
    rule(
        &mut w,
        names::FORWARD,
        &[
            &m("in", ct, "[\"established\", \"related\"]"),
            "{\"accept\": null}",
        ],
        Some("replies"),
    );
    rule(
        &mut w,
        names::FORWARD,
        &[&m("in", ct, "\"invalid\""), "{\"drop\": null}"],
        Some("invalid"),
    );
    let egress = format!("\"@{}\"", names::EGRESS_SET);
    let oif = "{\"meta\": {\"key\": \"oifname\"}}";
    let uplink = ir.egress_uplink().map(|u| format!("\"{u}\""));
    if let Some(up) = &uplink {
        rule(
            &mut w,
            names::FORWARD,
            &[
                &m("==", saddr, &egress),
                &m("!=", daddr, &lab),
                &m("==", oif, up),
                "{\"accept\": null}",
            ],
            Some("internet egress"),
        );
    }
    let vmap = format!(
        "{{\"vmap\": {{\"key\": {saddr}, \"data\": \"@{}\"}}}}",
        names::SOURCE_MAP
    );
    rule(&mut w, names::FORWARD, &[&vmap], None);
    rule(
        &mut w,
        names::FORWARD,
        &["{\"drop\": null}"],
        Some("default deny"),
    );

    if let Some(up) = &uplink {
        let post = w.obj(
            "chain",
            &format!(
                "\"name\": \"{}\", \"type\": \"nat\", \"hook\": \"postrouting\", \"prio\": 100, \"policy\": \"accept\"",
                names::POSTROUTING
            ),
        );
        w.cmd("add", &post);
        rule(
            &mut w,
            names::POSTROUTING,
            &[
                &m("==", saddr, &egress),
                &m("!=", daddr, &lab),
                &m("==", oif, up),
                "{\"masquerade\": null}",
            ],
            Some("internet egress"),
        );
    }
    w.o.push_str("\n]}\n");
    w.o
}

fn add_set(w: &mut Out<'_>, name: &str, ty: &str, elems: impl Iterator<Item = String>) {
    let elems: Vec<String> = elems.collect();
    let s = w.obj(
        "set",
        &format!(
            "\"name\": \"{name}\", \"type\": {ty}, \"flags\": [\"interval\"], \"elem\": [{}]",
            elems.join(", ")
        ),
    );
    w.cmd("add", &s);
}

fn source_sets(w: &mut Out<'_>, sp: &SourcePolicy) {
    for set in layout::source_sets(sp) {
        let ty = match set.kind {
            Kind::Any => "\"ipv4_addr\"",
            Kind::Proto => "[\"ipv4_addr\", \"inet_proto\"]",
            Kind::Svc => "[\"ipv4_addr\", \"inet_proto\", \"inet_service\"]",
        };
        let hash = set.prefix.is_some();
        let elems: Vec<String> = set
            .elems
            .iter()
            .map(|e| {
                let addr = if hash {
                    format!("\"{}\"", e.net.addr())
                } else {
                    prefix(e.net)
                };
                match (set.kind, e.ports) {
                    (Kind::Any, _) => addr,
                    (_, None) => format!("{{\"concat\": [{addr}, \"{}\"]}}", l4_name(e.l4)),
                    (_, Some(r)) => format!(
                        "{{\"concat\": [{addr}, \"{}\", {}]}}",
                        l4_name(e.l4),
                        port(r)
                    ),
                }
            })
            .collect();
        let shape = match set.size() {
            Some(size) => format!("\"size\": {size}"),
            None => "\"flags\": [\"interval\"]".to_owned(),
        };
        let s = w.obj(
            "set",
            &format!(
                "\"name\": \"{}\", \"type\": {ty}, {shape}, \"elem\": [{}]",
                set.name,
                elems.join(", ")
            ),
        );
        w.cmd("add", &s);
    }
}

fn source_rules(w: &mut Out<'_>, sp: &SourcePolicy) {
    let chain = names::chain(&sp.segment);
    let daddr = "{\"payload\": {\"protocol\": \"ip\", \"field\": \"daddr\"}}";
    let l4 = "{\"meta\": {\"key\": \"l4proto\"}}";
    let dport = "{\"payload\": {\"protocol\": \"th\", \"field\": \"dport\"}}";
    let m = |left: &str, right: &str| {
        format!("{{\"match\": {{\"op\": \"==\", \"left\": {left}, \"right\": {right}}}}}")
    };
    rule(
        w,
        &chain,
        &[&m(daddr, &prefix(sp.cidr)), "{\"accept\": null}"],
        Some("same segment"),
    );
    for set in layout::source_sets(sp) {
        let addr = match set.mask() {
            Some(mask) => format!(
                "{{\"&\": [{daddr}, \"{}\"]}}",
                std::net::Ipv4Addr::from(mask)
            ),
            None => daddr.to_owned(),
        };
        let key = match set.kind {
            Kind::Any => addr,
            Kind::Proto => format!("{{\"concat\": [{addr}, {l4}]}}"),
            Kind::Svc => format!("{{\"concat\": [{addr}, {l4}, {dport}]}}"),
        };
        let r = format!("\"@{}\"", set.name);
        let lookup = m(&key, &r);
        let verdict = if set.deny {
            "{\"drop\": null}"
        } else {
            "{\"accept\": null}"
        };
        // No `meta l4proto` test: the key holds the protocol (see the nft target).
        rule(w, &chain, &[&lookup, verdict], None);
    }
}

fn rule(w: &mut Out<'_>, chain: &str, expr: &[&str], comment: Option<&str>) {
    let comment = comment.map_or_else(String::new, |c| format!(", \"comment\": {}", json_str(c)));
    let r = w.obj(
        "rule",
        &format!(
            "\"chain\": \"{chain}\", \"expr\": [{}]{comment}",
            expr.join(", ")
        ),
    );
    w.cmd("add", &r);
}
