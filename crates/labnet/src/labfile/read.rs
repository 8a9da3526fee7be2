//! labnet's sections of the lab file to a draft: each field parsed on its own,
//! with its span.
//!
//! A field that fails to parse is reported and left out of the draft, and the
//! rest of the file is still read, so one run reports every problem.

use labfile::{Diagnostic, Document, Field, Item, Sink, TableReader, quoted};

use crate::cidr::{CidrError, Ipv4Cidr};
use crate::model::draft::{Draft, DraftDhcp, DraftRule, DraftSegment, DraftSel, DraftService};
use crate::names::{DomainName, InterfaceName, LabName, NameError, SegmentName, TagName};
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
        if let Some(tv) = t.optional("tags") {
            s.tags = tags(tv, sink);
        }
        t.finish(sink);
        draft.segments.push(s);
    }
}

/// `tags = ["app", "prod"]`.
fn tags(v: Item<'_>, sink: &mut Sink) -> Vec<Field<TagName>> {
    let path = v.path();
    if !v.is_array() {
        sink.push(
            v.error(format!("expected a list of tags, found {}", v.type_name()))
                .hint("e.g. tags = [\"app\", \"prod\"]"),
        );
        return Vec::new();
    }
    let Some(arr) = v.array(sink) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for el in arr.elements() {
        let Some(f) = el.item().string(sink) else {
            continue;
        };
        if let Some(t) = named(
            f,
            || format!("{path}[{}]", el.index()),
            TagName::new,
            "a tag",
            "tags are lowercase letters, digits and '-', starting with a letter, e.g. \"app\"",
            sink,
        ) {
            out.push(t);
        }
    }
    out
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
    if let Some(sv) = t.optional("services") {
        read_services(sv, draft, sink);
    }
    if let Some(av) = t.optional("allow") {
        for r in av.tables(sink) {
            draft.rules.push(read_rule(r, sink));
        }
    }
    if let Some(dv) = t.optional("deny") {
        for r in dv.tables(sink) {
            draft.denies.push(read_rule(r, sink));
        }
    }
    t.finish(sink);
}

/// `[policy.services]`: `web = { tcp = ["80", "443"] }`, `ping = { icmp = true }`.
fn read_services(v: Item<'_>, draft: &mut Draft<'_>, sink: &mut Sink) {
    let Some(mut t) = v.table(sink) else {
        return;
    };
    let hint = "a service set is a table of protocols, e.g. web = { tcp = [\"80\", \"443\"] } or dns = { udp = [\"53\"], tcp = [\"53\"] } or ping = { icmp = true }";
    let entries: Vec<_> = t.entries().collect();
    for (key, item) in entries {
        let path = item.path();
        let Some(name) = named(
            key,
            || path.clone(),
            TagName::new,
            "a service set name",
            "service set names are lowercase letters, digits and '-', e.g. \"web\"",
            sink,
        ) else {
            continue;
        };
        let span = item.span();
        let Some(mut st) = item.table(sink) else {
            continue;
        };
        let mut svc = DraftService {
            name,
            entries: Vec::new(),
        };
        let errors_before = sink.error_count();
        for (pk, pv) in st.entries().collect::<Vec<_>>() {
            let proto = match pk.value {
                "tcp" => Proto::Tcp,
                "udp" => Proto::Udp,
                "icmp" | "any" => {
                    let p = if pk.value == "icmp" {
                        Proto::Icmp
                    } else {
                        Proto::Any
                    };
                    match pv.boolean(sink) {
                        Some(b) if b.value => {
                            svc.entries.push(Field::at((p, Vec::new()), pv.span()));
                        }
                        Some(_) => {}
                        None => continue,
                    }
                    continue;
                }
                other => {
                    sink.push(
                        pv.error(format!(
                            "{} is not a protocol of a service set",
                            quoted(other)
                        ))
                        .hint(hint),
                    );
                    continue;
                }
            };
            // `tcp = true` is every port; else a list of ports.
            if let Some(b) = pv.as_bool() {
                if b {
                    svc.entries.push(Field::at((proto, Vec::new()), pv.span()));
                }
                continue;
            }
            if let Some(list) = ports(pv, sink) {
                if list.value.is_empty() {
                    sink.push(
                        Diagnostic::error(format!("{path}.{}", pk.value), "the port list is empty")
                            .span(list.span)
                            .hint(hint),
                    );
                    continue;
                }
                svc.entries.push(Field::at(
                    (proto, list.value.iter().map(|p| p.value).collect()),
                    list.span.unwrap_or(span),
                ));
            }
        }
        st.finish(sink);
        // A set with a reported problem is still defined, so the rules naming
        // it are not reported again as naming an unknown set.
        if svc.entries.is_empty() && sink.error_count() == errors_before {
            sink.push(
                Diagnostic::error(path.clone(), "the service set covers nothing")
                    .span(span)
                    .hint(hint),
            );
            continue;
        }
        draft.services.push(svc);
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
    rule.except = r.optional("except").and_then(|v| selector(v, sink));
    if let Some(sv) = r.optional("services") {
        rule.services = service_names(sv, sink);
    }
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

/// `services = ["web", "dns"]` (or one name).
fn service_names<'d>(v: Item<'d>, sink: &mut Sink) -> Option<Field<Vec<Field<&'d str>>>> {
    let span = v.span();
    if let Some(s) = v.as_str() {
        return Some(Field::at(vec![Field::at(s, span)], span));
    }
    if !v.is_array() {
        sink.push(
            v.error(format!(
                "expected a list of service set names, found {}",
                v.type_name()
            ))
            .hint("e.g. services = [\"web\", \"dns\"], naming sets from [policy.services]"),
        );
        return None;
    }
    let arr = v.array(sink)?;
    let mut out = Vec::with_capacity(arr.len());
    let mut ok = true;
    for el in arr.elements() {
        match el.item().string(sink) {
            Some(f) => out.push(f),
            None => ok = false,
        }
    }
    ok.then(|| Field::at(out, span))
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
