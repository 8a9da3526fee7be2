//! Lab to TOML, in the lab file's own layout.
//!
//! Every string written here is a validated name, address or number, none of
//! which can hold a quote or backslash, so quoting needs no escaping.

use std::fmt::Write as _;

use crate::model::{Lab, Selector};
use crate::proto::Proto;

/// Print a lab as a lab file that parses back to the same lab.
#[must_use]
pub fn to_toml(lab: &Lab) -> String {
    let mut o = String::new();
    let info = lab.info();
    let _ = writeln!(o, "[lab]");
    let _ = writeln!(o, "name = \"{}\"", info.name);
    let _ = writeln!(o, "domain = \"{}\"", info.domain);
    if let Some(u) = &info.uplink {
        let _ = writeln!(o, "uplink = \"{u}\"");
    }
    for s in lab.segments() {
        let _ = writeln!(o, "\n[[segment]]");
        let _ = writeln!(o, "name = \"{}\"", s.name);
        let _ = writeln!(o, "cidr = \"{}\"", s.cidr);
        let _ = writeln!(o, "gateway = \"{}\"", s.gateway);
        if let Some(d) = s.dhcp {
            let _ = writeln!(
                o,
                "dhcp = {{ start = \"{}\", end = \"{}\" }}",
                d.start, d.end
            );
        }
        let _ = writeln!(o, "ssh_ports = \"{}\"", s.ssh_ports);
        let _ = writeln!(o, "internet = {}", s.internet);
        if !s.tags.is_empty() {
            let t: Vec<String> = s.tags.iter().map(|t| format!("\"{t}\"")).collect();
            let _ = writeln!(o, "tags = [{}]", t.join(", "));
        }
    }
    if !lab.rules().is_empty() || !lab.deny_rules().is_empty() {
        let _ = writeln!(o, "\n[policy]");
    }
    for (kind, rules) in [("allow", lab.rules()), ("deny", lab.deny_rules())] {
        for r in rules {
            let _ = writeln!(o, "[[policy.{kind}]]");
            let _ = writeln!(o, "from = {}", selector(&r.from));
            let _ = writeln!(o, "to = {}", selector(&r.to));
            if !r.except.is_empty_list() {
                let _ = writeln!(o, "except = {}", selector(&r.except));
            }
            if r.proto != Proto::Any {
                let _ = writeln!(o, "proto = \"{}\"", r.proto);
            }
            if !r.ports.is_empty() {
                let ports: Vec<String> = r.ports.iter().map(|p| format!("\"{p}\"")).collect();
                let _ = writeln!(o, "ports = [{}]", ports.join(", "));
            }
        }
    }
    o
}

fn selector(s: &Selector) -> String {
    match s {
        Selector::All => "\"*\"".to_owned(),
        Selector::Names(ns) if ns.len() == 1 => format!("\"{}\"", ns[0]),
        Selector::Names(ns) => {
            let v: Vec<String> = ns.iter().map(|n| format!("\"{n}\"")).collect();
            format!("[{}]", v.join(", "))
        }
        Selector::Tagged { names, tags } => {
            let v: Vec<String> = names
                .iter()
                .map(|n| format!("\"{n}\""))
                .chain(tags.iter().map(|t| format!("\"tag:{t}\"")))
                .collect();
            format!("[{}]", v.join(", "))
        }
    }
}
