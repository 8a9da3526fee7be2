//! labnet's sections of the lab file to a draft: each field parsed on its own,
//! with its span.
//!
//! A field that fails to parse is reported and left out of the draft, and the
//! rest of the file is still read, so one run reports every problem.

use labfile::{Diagnostic, Document, Field, Item, Sink, TableReader, quoted};

use crate::cidr::{CidrError, Ipv4Cidr};
use crate::model::draft::{Draft, DraftDhcp, DraftRule, DraftSegment, DraftSel};
use crate::names::{DomainName, InterfaceName, LabName, NameError, SegmentName};
use crate::port::{PortError, PortRange};
use crate::proto::Proto;

/// The top-level sections labnet reads (see `labfile::sections`).
pub const LABNET_SECTIONS: &[&str] = &["lab", "segment", "policy"];

/// Read labnet's sections of `doc` into a draft; problems go to `sink`.
pub(crate) fn read<'d>(doc: &'d Document, sink: &mut Sink) -> Draft<'d> {
    let mut draft = Draft::default();
    match doc.section("lab") {
        Some(v) => read_lab(v, &mut draft, sink),
        None => sink.push(
            Diagnostic::error("lab", "the [lab] section is missing")
                .span(labfile::Span::at(0))
                .hint("start the file with [lab] and its name, domain and uplink; see docs/lab-file.md"),
        ),
    }
    match doc.section("segment") {
        Some(v) => read_segments(v, &mut draft, sink),
        None => sink.push(
            Diagnostic::error("segment", "the lab has no [[segment]]")
                .span(labfile::Span::at(0))
                .hint("add at least one [[segment]] with name, cidr and ssh_ports"),
        ),
    }
    if let Some(v) = doc.section("policy") {
        read_policy(v, &mut draft, sink);
    }
    draft
}

fn read_lab(v: Item<'_>, draft: &mut Draft<'_>, sink: &mut Sink) {
    let Some(mut t) = v.table(sink) else {
        return;
    };
    draft.lab_read = true;
    draft.lab_span = Some(t.span());
    draft.name = t
        .required_str("name", "add name = \"my-lab\" under [lab]", sink)
        .and_then(|f| {
            named(
                f,
                || "lab.name".to_owned(),
                LabName::new,
                "a lab name",
                "letters, digits, '.', '_' and '-', e.g. \"aws-sim\"",
                sink,
            )
        });
    draft.domain = t
        .required_str("domain", "add domain = \"lab.local\" under [lab]", sink)
        .and_then(|f| {
            named(
                f,
                || "lab.domain".to_owned(),
                DomainName::new,
                "a DNS domain",
                "a domain such as \"lab.local\"",
                sink,
            )
        });
    let uplink = t.optional("uplink");
    draft.uplink_written = uplink.is_some();
    draft.uplink = uplink.and_then(|u| u.string(sink)).and_then(|f| {
        named(
            f,
            || "lab.uplink".to_owned(),
            InterfaceName::new,
            "an interface name",
            "the host interface toward the internet, as `ip link` shows it, e.g. \"eno1\"",
            sink,
        )
    });
    t.finish(sink);
}

/// `path` is written out only if there is something to report.
fn named<T>(
    f: Field<&str>,
    path: impl FnOnce() -> String,
    make: fn(String) -> Result<T, NameError>,
    what: &str,
    hint: &str,
    sink: &mut Sink,
) -> Option<Field<T>> {
    match make(f.value.to_owned()) {
        Ok(v) => Some(Field {
            value: v,
            span: f.span,
        }),
        Err(e) => {
            sink.push(
                Diagnostic::error(path(), format!("{} is not {what}: it {e}", quoted(f.value)))
                    .value(f.value)
                    .span(f.span)
                    .hint(hint),
            );
            None
        }
    }
}

fn read_segments(v: Item<'_>, draft: &mut Draft<'_>, sink: &mut Sink) {
    for mut t in v.tables(sink) {
        let mut s = DraftSegment {
            span: Some(t.span()),
            ..DraftSegment::default()
        };
        if let Some(f) = t.required_str(
            "name",
            "every segment needs a name, e.g. name = \"public\"",
            sink,
        ) {
            let hint = segment_name_hint(f.value);
            s.name = named(
                f,
                || t.key_path("name"),
                SegmentName::new,
                "a segment name",
                &hint,
                sink,
            );
            if s.name.is_none() {
                draft.bad_names.push(f.value.to_owned());
            }
        }
        s.cidr = t
            .required_str(
                "cidr",
                "every segment needs a network, e.g. cidr = \"10.0.1.0/24\"",
                sink,
            )
            .and_then(|f| parse_cidr(f, || t.key_path("cidr"), sink));
        s.gateway = t.optional_ipv4("gateway", sink);
        if let Some(dv) = t.optional("dhcp") {
            s.dhcp = read_dhcp(dv, sink);
        }
        s.ssh_ports = t
            .required(
                "ssh_ports",
                "every segment needs its own SSH port range, e.g. ssh_ports = \"2211-2230\"",
                sink,
            )
            .and_then(|v| port_range_value(&v, sink));
        s.internet = t.optional_bool("internet", sink);
        t.finish(sink);
        draft.segments.push(s);
    }
}

fn segment_name_hint(raw: &str) -> String {
    let lower: String = raw
        .to_lowercase()
        .chars()
        .map(|c| if c == '_' || c == ' ' { '-' } else { c })
        .collect();
    if SegmentName::new(lower.clone()).is_ok() && lower != raw {
        format!("segment names are lowercase letters, digits and '-'; try \"{lower}\"")
    } else {
        "segment names start with a lowercase letter, then lowercase letters, digits and '-', at most 32 characters; \"internet\", \"any\", \"all\" and \"lab\" are reserved".to_owned()
    }
}

fn read_dhcp(v: Item<'_>, sink: &mut Sink) -> Option<Field<DraftDhcp>> {
    let span = v.span();
    let mut t = v.table(sink)?;
    let hint = "write dhcp = { start = \"10.0.1.100\", end = \"10.0.1.200\" }, or leave dhcp out for static addresses only";
    let start = t.required("start", hint, sink).and_then(|i| i.ipv4(sink));
    let end = t.required("end", hint, sink).and_then(|i| i.ipv4(sink));
    t.finish(sink);
    Some(Field::at(DraftDhcp { start, end }, span))
}

fn parse_cidr(
    f: Field<&str>,
    path: impl FnOnce() -> String,
    sink: &mut Sink,
) -> Option<Field<Ipv4Cidr>> {
    match f.value.parse::<Ipv4Cidr>() {
        Ok(c) => Some(Field {
            value: c,
            span: f.span,
        }),
        Err(e) => {
            let hint = match &e {
                CidrError::HostBitsSet(net) => format!("did you mean \"{net}\"?"),
                _ => "write an IPv4 network as ADDRESS/LENGTH, e.g. \"10.0.1.0/24\"".to_owned(),
            };
            sink.push(
                Diagnostic::error(
                    path(),
                    format!("{} is not a valid IPv4 network: {e}", quoted(f.value)),
                )
                .value(f.value)
                .span(f.span)
                .hint(hint),
            );
            None
        }
    }
}

/// A port range from a string ("2201-2210", "22") or an integer (22).
fn port_range_value(v: &Item<'_>, sink: &mut Sink) -> Option<Field<PortRange>> {
    let (parsed, written) = if let Some(s) = v.as_str() {
        (s.parse::<PortRange>(), quoted(s))
    } else if let Some(i) = v.as_integer() {
        (
            u16::try_from(i)
                .map_err(|_| PortError::BadPort(i.to_string()))
                .and_then(PortRange::single),
            i.to_string(),
        )
    } else {
        sink.push(
            v.error(format!(
                "expected a port or port range, found {}",
                v.type_name()
            ))
            .hint("write a port as 5432 or \"5432\", a range as \"3306-3307\""),
        );
        return None;
    };
    match parsed {
        Ok(r) => Some(Field::at(r, v.span())),
        Err(e) => {
            sink.push(
                v.error(format!("{written} is not a valid port range: {e}"))
                    .hint(
                        "ports are 1 to 65535; write a range as \"FIRST-LAST\" with FIRST <= LAST",
                    ),
            );
            None
        }
    }
}

fn read_policy<'d>(v: Item<'d>, draft: &mut Draft<'d>, sink: &mut Sink) {
    let Some(mut t) = v.table(sink) else {
        return;
    };
    if let Some(av) = t.optional("allow") {
        for r in av.tables(sink) {
            draft.rules.push(read_rule(r, sink));
        }
    }
    t.finish(sink);
}

fn read_rule<'d>(mut r: TableReader<'d>, sink: &mut Sink) -> DraftRule<'d> {
    let mut rule = DraftRule {
        span: Some(r.span()),
        ..DraftRule::default()
    };
    rule.from = r
        .required(
            "from",
            "name the segment that opens connections, e.g. from = \"public\"",
            sink,
        )
        .and_then(|v| selector(v, sink));
    rule.to = r
        .required(
            "to",
            "name where it may connect: a segment, a list of segments, or \"*\"",
            sink,
        )
        .and_then(|v| selector(v, sink));
    rule.proto = r.optional("proto").and_then(|v| {
        v.parsed(
            "a protocol",
            "proto is one of \"tcp\", \"udp\", \"icmp\" or \"any\" (the default)",
            |s| s.parse::<Proto>().map_err(|_| "use tcp, udp, icmp or any"),
            sink,
        )
    });
    if let Some(pv) = r.optional("ports") {
        rule.ports = ports(pv, sink);
    }
    r.finish(sink);
    rule
}

fn selector<'d>(v: Item<'d>, sink: &mut Sink) -> Option<Field<DraftSel<'d>>> {
    let span = v.span();
    if let Some(s) = v.as_str() {
        return Some(Field::at(
            if s == "*" {
                DraftSel::All
            } else {
                DraftSel::Names(vec![Field::at(s, span)])
            },
            span,
        ));
    }
    if !v.is_array() {
        sink.push(
            v.error(format!(
                "expected a segment name, a list of names or \"*\", found {}",
                v.type_name()
            ))
            .hint("e.g. to = \"database\", to = [\"private\", \"database\"] or to = \"*\""),
        );
        return None;
    }
    // Walked once, by validation, which reports elements that are not names.
    let arr = v.array(sink)?;
    Some(Field::at(DraftSel::List(arr), span))
}

fn ports(v: Item<'_>, sink: &mut Sink) -> Option<Field<Vec<Field<PortRange>>>> {
    let span = v.span();
    // A lone port or range is accepted as a one-element list.
    if v.as_str().is_some() || v.as_integer().is_some() {
        return port_range_value(&v, sink).map(|p| Field::at(vec![p], span));
    }
    if !v.is_array() {
        sink.push(
            v.error(format!("expected a list of ports, found {}", v.type_name()))
                .hint("e.g. ports = [\"5432\", \"3306-3307\"]"),
        );
        return None;
    }
    let arr = v.array(sink)?;
    let mut out = Vec::with_capacity(arr.len());
    let mut ok = true;
    for el in arr.elements() {
        match port_range_value(&el.item(), sink) {
            Some(f) => out.push(f),
            None => ok = false,
        }
    }
    ok.then(|| Field::at(out, span))
}
