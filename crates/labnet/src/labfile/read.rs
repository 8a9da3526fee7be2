//! TOML to draft: each field parsed on its own, with its span.
//!
//! A field that fails to parse is reported and left out of the draft, and the
//! rest of the file is still read, so one run reports every problem.

use std::net::Ipv4Addr;

use toml_span::value::{Value, ValueInner};

use super::walk::{Field, Span, TableReader, expect_str, span_of, type_name};
use crate::cidr::{CidrError, Ipv4Cidr};
use crate::diag::Diagnostic;
use crate::names::{DomainName, InterfaceName, LabName, NameError, SegmentName};
use crate::port::{PortError, PortRange};
use crate::proto::Proto;

/// Top-level sections that labnet reads. Other labkit crates add theirs when they land.
pub const LABNET_SECTIONS: &[&str] = &["lab", "segment", "policy"];

#[derive(Debug, Default)]
pub(crate) struct DraftLab<'a> {
    /// Whether a `[lab]` table was read (its absence is reported on its own).
    pub(crate) lab_read: bool,
    pub(crate) lab_span: Option<Span>,
    pub(crate) name: Option<Field<LabName>>,
    pub(crate) domain: Option<Field<DomainName>>,
    pub(crate) uplink: Option<Field<InterfaceName>>,
    pub(crate) segments: Vec<DraftSegment>,
    /// Names written for segments whose name was invalid: rules naming them are not
    /// reported again as unknown.
    pub(crate) bad_names: Vec<String>,
    pub(crate) rules: Vec<DraftRule<'a>>,
}

#[derive(Debug, Default)]
pub(crate) struct DraftSegment {
    pub(crate) span: Option<Span>,
    pub(crate) name: Option<Field<SegmentName>>,
    pub(crate) cidr: Option<Field<Ipv4Cidr>>,
    pub(crate) gateway: Option<Field<Ipv4Addr>>,
    pub(crate) dhcp: Option<Field<DraftDhcp>>,
    pub(crate) ssh_ports: Option<Field<PortRange>>,
    pub(crate) internet: Option<Field<bool>>,
}

#[derive(Debug, Default)]
pub(crate) struct DraftDhcp {
    pub(crate) start: Option<Field<Ipv4Addr>>,
    pub(crate) end: Option<Field<Ipv4Addr>>,
}

#[derive(Debug)]
pub(crate) enum DraftSel<'a> {
    All,
    /// Borrowed from the parsed document: lists can hold millions of names.
    Names(Vec<Field<&'a str>>),
}

#[derive(Debug, Default)]
pub(crate) struct DraftRule<'a> {
    pub(crate) span: Option<Span>,
    pub(crate) from: Option<Field<DraftSel<'a>>>,
    pub(crate) to: Option<Field<DraftSel<'a>>>,
    pub(crate) proto: Option<Field<Proto>>,
    /// `None` when absent; the outer span is the whole array.
    pub(crate) ports: Option<Field<Vec<Field<PortRange>>>>,
}

/// Read a whole document. `extra_sections` are top-level keys owned by other crates.
pub(crate) fn read<'a>(
    root: &'a Value<'_>,
    extra_sections: &[&'static str],
    diags: &mut Vec<Diagnostic>,
) -> DraftLab<'a> {
    let mut draft = DraftLab::default();
    let Some(top) = root.as_table() else {
        return draft;
    };
    let mut top = TableReader::new(top, "", span_of(root));

    match top.get("lab") {
        Some(v) => read_lab(v, &mut draft, diags),
        None => diags.push(
            Diagnostic::error("lab", "the [lab] section is missing")
                .span(Some(0..0))
                .hint("start the file with [lab] and its name, domain and uplink; see docs/lab-file.md"),
        ),
    }
    match top.get("segment") {
        Some(v) => read_segments(v, &mut draft, diags),
        None => diags.push(
            Diagnostic::error("segment", "the lab has no [[segment]]")
                .span(Some(0..0))
                .hint("add at least one [[segment]] with name, cidr and ssh_ports"),
        ),
    }
    if let Some(v) = top.get("policy") {
        read_policy(v, &mut draft, diags);
    }
    // Sections owned by other labkit crates are theirs to check; they are only known here.
    for s in extra_sections {
        let _ = top.get(s);
    }
    top.finish(diags);
    draft
}

fn read_lab(v: &Value<'_>, draft: &mut DraftLab<'_>, diags: &mut Vec<Diagnostic>) {
    let Some(mut t) = TableReader::from_value(v, "lab", diags) else {
        return;
    };
    draft.lab_read = true;
    draft.lab_span = Some(t.span());
    draft.name = t
        .string("name", Some("add name = \"my-lab\" under [lab]"), diags)
        .and_then(|f| {
            named(
                f,
                "lab.name",
                LabName::new,
                "a lab name",
                "letters, digits, '.', '_' and '-', e.g. \"aws-sim\"",
                diags,
            )
        });
    draft.domain = t
        .string(
            "domain",
            Some("add domain = \"lab.local\" under [lab]"),
            diags,
        )
        .and_then(|f| {
            named(
                f,
                "lab.domain",
                DomainName::new,
                "a DNS domain",
                "a domain such as \"lab.local\"",
                diags,
            )
        });
    draft.uplink = t.string("uplink", None, diags).and_then(|f| {
        named(
            f,
            "lab.uplink",
            InterfaceName::new,
            "an interface name",
            "the host interface toward the internet, as `ip link` shows it, e.g. \"eno1\"",
            diags,
        )
    });
    t.finish(diags);
}

fn named<T>(
    f: Field<String>,
    path: &str,
    make: fn(String) -> Result<T, NameError>,
    what: &str,
    hint: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<Field<T>> {
    match make(f.value.clone()) {
        Ok(v) => Some(Field {
            value: v,
            span: f.span,
        }),
        Err(e) => {
            diags.push(
                Diagnostic::error(path, format!("{:?} is not {what}: it {e}", f.value))
                    .value(f.value)
                    .span(f.span)
                    .hint(hint),
            );
            None
        }
    }
}

fn array_of_tables<'a, 'de>(
    v: &'a Value<'de>,
    path: &str,
    header: &str,
    diags: &mut Vec<Diagnostic>,
) -> Vec<&'a Value<'de>> {
    match v.as_ref() {
        ValueInner::Array(items) => items.iter().collect(),
        _ => {
            diags.push(
                Diagnostic::error(
                    path,
                    format!("expected [[{header}]] tables, found {}", type_name(v)),
                )
                .span(Some(span_of(v)))
                .hint(format!("write each entry as its own [[{header}]] table")),
            );
            Vec::new()
        }
    }
}

fn read_segments(v: &Value<'_>, draft: &mut DraftLab<'_>, diags: &mut Vec<Diagnostic>) {
    for (i, item) in array_of_tables(v, "segment", "segment", diags)
        .into_iter()
        .enumerate()
    {
        let path = format!("segment[{i}]");
        let Some(mut t) = TableReader::from_value(item, &path, diags) else {
            draft.segments.push(DraftSegment::default());
            continue;
        };
        let mut s = DraftSegment {
            span: Some(t.span()),
            ..DraftSegment::default()
        };
        if let Some(f) = t.string(
            "name",
            Some("every segment needs a name, e.g. name = \"public\""),
            diags,
        ) {
            let raw = f.value.clone();
            let hint = segment_name_hint(&raw);
            s.name = named(
                f,
                &t.path("name"),
                SegmentName::new,
                "a segment name",
                &hint,
                diags,
            );
            if s.name.is_none() {
                draft.bad_names.push(raw);
            }
        }
        s.cidr = t
            .string(
                "cidr",
                Some("every segment needs a network, e.g. cidr = \"10.0.1.0/24\""),
                diags,
            )
            .and_then(|f| parse_cidr(f, &t.path("cidr"), diags));
        s.gateway = t
            .string("gateway", None, diags)
            .and_then(|f| parse_addr(f, &t.path("gateway"), diags));
        if let Some(dv) = t.get("dhcp") {
            s.dhcp = read_dhcp(dv, &t.path("dhcp"), diags);
        }
        s.ssh_ports = t
            .require(
                "ssh_ports",
                diags,
                "every segment needs its own SSH port range, e.g. ssh_ports = \"2211-2230\"",
            )
            .and_then(|v| port_range_value(v, &t.path("ssh_ports"), diags));
        s.internet = t.boolean("internet", diags);
        t.finish(diags);
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

fn read_dhcp(v: &Value<'_>, path: &str, diags: &mut Vec<Diagnostic>) -> Option<Field<DraftDhcp>> {
    let mut t = TableReader::from_value(v, path, diags)?;
    let hint = "write dhcp = { start = \"10.0.1.100\", end = \"10.0.1.200\" }, or leave dhcp out for static addresses only";
    let start = t
        .string("start", Some(hint), diags)
        .and_then(|f| parse_addr(f, &t.path("start"), diags));
    let end = t
        .string("end", Some(hint), diags)
        .and_then(|f| parse_addr(f, &t.path("end"), diags));
    t.finish(diags);
    Some(Field::at(DraftDhcp { start, end }, span_of(v)))
}

fn parse_cidr(
    f: Field<String>,
    path: &str,
    diags: &mut Vec<Diagnostic>,
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
            diags.push(
                Diagnostic::error(
                    path,
                    format!("{:?} is not a valid IPv4 network: {e}", f.value),
                )
                .value(f.value)
                .span(f.span)
                .hint(hint),
            );
            None
        }
    }
}

fn parse_addr(
    f: Field<String>,
    path: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<Field<Ipv4Addr>> {
    if let Ok(a) = f.value.parse::<Ipv4Addr>() {
        return Some(Field {
            value: a,
            span: f.span,
        });
    }
    let hint = if f.value.contains('/') {
        "write the address alone, without a prefix length, e.g. \"10.0.1.1\""
    } else {
        "write a dotted-quad IPv4 address, e.g. \"10.0.1.1\""
    };
    diags.push(
        Diagnostic::error(path, format!("{:?} is not an IPv4 address", f.value))
            .value(f.value)
            .span(f.span)
            .hint(hint),
    );
    None
}

/// A port range from a string ("2201-2210", "22") or an integer (22).
fn port_range_value(
    v: &Value<'_>,
    path: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<Field<PortRange>> {
    let (parsed, written) = match v.as_ref() {
        ValueInner::String(s) => (s.parse::<PortRange>(), format!("{s:?}")),
        ValueInner::Integer(i) => (
            u16::try_from(*i)
                .map_err(|_| PortError::BadPort(i.to_string()))
                .and_then(PortRange::single),
            i.to_string(),
        ),
        _ => {
            diags.push(
                Diagnostic::error(
                    path,
                    format!("expected a port or port range, found {}", type_name(v)),
                )
                .span(Some(span_of(v)))
                .hint("write a port as 5432 or \"5432\", a range as \"3306-3307\""),
            );
            return None;
        }
    };
    match parsed {
        Ok(r) => Some(Field::at(r, span_of(v))),
        Err(e) => {
            diags.push(
                Diagnostic::error(path, format!("{written} is not a valid port range: {e}"))
                    .value(written.trim_matches('"').to_owned())
                    .span(Some(span_of(v)))
                    .hint(
                        "ports are 1 to 65535; write a range as \"FIRST-LAST\" with FIRST <= LAST",
                    ),
            );
            None
        }
    }
}

fn read_policy<'a>(v: &'a Value<'_>, draft: &mut DraftLab<'a>, diags: &mut Vec<Diagnostic>) {
    let Some(mut t) = TableReader::from_value(v, "policy", diags) else {
        return;
    };
    if let Some(av) = t.get("allow") {
        for (j, item) in array_of_tables(av, "policy.allow", "policy.allow", diags)
            .into_iter()
            .enumerate()
        {
            let path = format!("policy.allow[{j}]");
            let Some(mut r) = TableReader::from_value(item, &path, diags) else {
                draft.rules.push(DraftRule::default());
                continue;
            };
            let mut rule = DraftRule {
                span: Some(r.span()),
                ..DraftRule::default()
            };
            rule.from = r
                .require(
                    "from",
                    diags,
                    "name the segment that opens connections, e.g. from = \"public\"",
                )
                .and_then(|v| selector(v, &r.path("from"), diags));
            rule.to = r
                .require(
                    "to",
                    diags,
                    "name where it may connect: a segment, a list of segments, or \"*\"",
                )
                .and_then(|v| selector(v, &r.path("to"), diags));
            rule.proto = r.string("proto", None, diags).and_then(|f| match f.value.parse::<Proto>() {
                Ok(p) => Some(Field {
                    value: p,
                    span: f.span,
                }),
                Err(e) => {
                    diags.push(
                        Diagnostic::error(r.path("proto"), e.to_string())
                            .value(f.value)
                            .span(f.span)
                            .hint("proto is one of \"tcp\", \"udp\", \"icmp\" or \"any\" (the default)"),
                    );
                    None
                }
            });
            if let Some(pv) = r.get("ports") {
                rule.ports = ports(pv, &r.path("ports"), diags);
            }
            r.finish(diags);
            draft.rules.push(rule);
        }
    }
    t.finish(diags);
}

fn selector<'a>(
    v: &'a Value<'_>,
    path: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<Field<DraftSel<'a>>> {
    let sel = match v.as_ref() {
        ValueInner::String(s) if s == "*" => DraftSel::All,
        ValueInner::String(_) => {
            DraftSel::Names(vec![Field::at(v.as_str().unwrap_or_default(), span_of(v))])
        }
        ValueInner::Array(items) => {
            let mut names = Vec::with_capacity(items.len());
            for (k, it) in items.iter().enumerate() {
                // Paths are built only for errors: lists can hold millions of names.
                match it.as_str() {
                    Some("*") => diags.push(
                        Diagnostic::error(format!("{path}[{k}]"), "\"*\" cannot be part of a list")
                            .value("*")
                            .span(Some(span_of(it)))
                            .hint("write \"*\" on its own instead of the list"),
                    ),
                    Some(s) => names.push(Field::at(s, span_of(it))),
                    None => {
                        let _ = expect_str(it, &format!("{path}[{k}]"), diags);
                    }
                }
            }
            DraftSel::Names(names)
        }
        _ => {
            diags.push(
                Diagnostic::error(
                    path,
                    format!(
                        "expected a segment name, a list of names or \"*\", found {}",
                        type_name(v)
                    ),
                )
                .span(Some(span_of(v)))
                .hint("e.g. to = \"database\", to = [\"private\", \"database\"] or to = \"*\""),
            );
            return None;
        }
    };
    Some(Field::at(sel, span_of(v)))
}

fn ports(
    v: &Value<'_>,
    path: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<Field<Vec<Field<PortRange>>>> {
    let items: Vec<(String, &Value<'_>)> = match v.as_ref() {
        ValueInner::Array(items) => items
            .iter()
            .enumerate()
            .map(|(k, it)| (format!("{path}[{k}]"), it))
            .collect(),
        // A lone port or range is accepted as a one-element list.
        ValueInner::String(_) | ValueInner::Integer(_) => vec![(path.to_owned(), v)],
        _ => {
            diags.push(
                Diagnostic::error(
                    path,
                    format!("expected a list of ports, found {}", type_name(v)),
                )
                .span(Some(span_of(v)))
                .hint("e.g. ports = [\"5432\", \"3306-3307\"]"),
            );
            return None;
        }
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (p, it) in items {
        match port_range_value(it, &p, diags) {
            Some(f) => out.push(f),
            None => ok = false,
        }
    }
    ok.then(|| Field::at(out, span_of(v)))
}
