//! Draft to validated [`Lab`]: the checks that span fields and segments.
//!
//! The model owns these checks. The lab-file reader and [`super::LabBuilder`]
//! both hand a [`Draft`] here, so a lab built in code is held to exactly the
//! rules a lab file is, and nothing here knows where the draft came from.

use std::net::Ipv4Addr;

use labfile::{Diagnostic, Field, Sink, Span, did_you_mean};

use super::draft::{Draft, DraftDhcp, DraftRule, DraftSel, Entry};
use super::fxhash::FxMap as HashMap;
use super::{AllowRule, DhcpRange, Lab, LabInfo, Resolved, RuleList, Segment, Selector};
use crate::cidr::Ipv4Cidr;
use crate::names::{SegmentName, TagName};
use crate::port::PortRange;
use crate::proto::Proto;

/// Where each part of a validated lab was written (for "decided by the rule at line N").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spans {
    /// `[[segment]]` headers, by segment index.
    pub segments: Vec<Option<Span>>,
    /// `internet = ...` values, by segment index (`None` when left at the default).
    pub internet: Vec<Option<Span>>,
    /// `[[policy.allow]]` headers, by rule index.
    pub rules: Vec<Option<Span>>,
    /// `[[policy.deny]]` headers, by deny rule index.
    pub denies: Vec<Option<Span>>,
}

/// Address blocks a lab segment may not use, with why.
const FORBIDDEN: &[(&str, &str)] = &[
    ("0.0.0.0/8", "\"this network\" (0.0.0.0/8)"),
    ("127.0.0.0/8", "loopback (127.0.0.0/8)"),
    ("169.254.0.0/16", "link-local (169.254.0.0/16)"),
    ("224.0.0.0/4", "multicast (224.0.0.0/4)"),
    ("240.0.0.0/4", "reserved (240.0.0.0/4)"),
];

pub(crate) fn validate(d: Draft<'_>, sink: &mut Sink) -> Option<(Lab, Spans)> {
    validate_on(d, sink, crate::par::SPLIT_FROM)
}

/// [`validate`], checking rule lists of `parallel_from` rules or more on two
/// threads (tests compare the two ways).
pub(crate) fn validate_on(
    d: Draft<'_>,
    sink: &mut Sink,
    parallel_from: usize,
) -> Option<(Lab, Spans)> {
    let errors_before = sink.error_count();
    let mut spans = Spans::default();

    // Segments, one by one.
    let mut segments: Vec<Option<Segment>> = Vec::with_capacity(d.segments.len());
    for (i, s) in d.segments.iter().enumerate() {
        let path = Indexed("segment", i);
        spans.segments.push(s.span);
        spans
            .internet
            .push(s.internet.as_ref().and_then(|f| f.span));
        let cidr = s
            .cidr
            .as_ref()
            .and_then(|c| check_cidr(c, &path, sink).then_some(c.value));
        let gateway = cidr.and_then(|net| check_gateway(net, s.gateway.as_ref(), &path, sink));
        let dhcp = match (&s.dhcp, cidr, gateway) {
            (None, ..) => Some(None),
            (Some(f), Some(net), Some(gw)) => check_dhcp(net, gw, f, &path, sink).map(Some),
            _ => None,
        };
        if let Some(p) = &s.ssh_ports
            && p.value.contains(22)
        {
            sink.push(
                Diagnostic::error(
                    format!("{path}.ssh_ports"),
                    format!("\"{}\" contains port 22", p.value),
                )
                .value(p.value.to_string())
                .span(p.span)
                .hint("SSH is never on 22 in a lab: pick a range above it, e.g. \"2201-2210\""),
            );
        }
        let seg = match (&s.name, cidr, gateway, dhcp, &s.ssh_ports) {
            (Some(n), Some(c), Some(g), Some(dh), Some(p)) if !p.value.contains(22) => {
                let mut tags: Vec<TagName> = s.tags.iter().map(|t| t.value.clone()).collect();
                tags.dedup();
                Some(Segment {
                    name: n.value.clone(),
                    cidr: c,
                    gateway: g,
                    dhcp: dh,
                    ssh_ports: p.value,
                    internet: s.internet.as_ref().is_none_or(|f| f.value),
                    tags,
                })
            }
            _ => None,
        };
        segments.push(seg);
    }

    check_duplicate_names(&d, sink);
    check_overlaps(&d, sink);
    check_ssh_overlaps(&d, sink);

    let any_internet = d
        .segments
        .iter()
        .any(|s| s.internet.as_ref().is_none_or(|f| f.value));
    if any_internet && d.uplink.is_none() && !d.uplink_written && d.lab_read {
        let who = d
            .segments
            .iter()
            .find(|s| s.internet.as_ref().is_none_or(|f| f.value))
            .and_then(|s| s.name.as_ref())
            .map_or_else(
                || "a segment".to_owned(),
                |n| format!("segment \"{}\"", n.value),
            );
        sink.push(
            Diagnostic::error("lab.uplink", format!("{who} has internet egress, but [lab] has no uplink"))
                .span(d.lab_span)
                .hint("add uplink = \"eno1\" (the host interface toward the internet) under [lab], or set internet = false on every segment"),
        );
    }

    // Rules.
    // Name to (index, name): rules resolve here once, and clone the segment's own name.
    let known: HashMap<&str, (u32, &SegmentName)> = d
        .segments
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let i = u32::try_from(i).ok()?;
            s.name.as_ref().map(|n| (n.value.as_str(), (i, &n.value)))
        })
        .collect();
    let mut names_sorted: Vec<&str> = known.keys().copied().collect();
    names_sorted.sort_unstable();
    let mut tags: HashMap<&str, Vec<u32>> = HashMap::default();
    for (i, s) in d.segments.iter().enumerate() {
        for t in &s.tags {
            let v = tags.entry(t.value.as_str()).or_default();
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            if v.last() != Some(&i) {
                v.push(i);
            }
        }
    }
    let services = check_services(&d, sink);
    let names = Names {
        known: &known,
        sorted: &names_sorted,
        bad: &d.bad_names,
        tags: &tags,
        services: &services,
    };
    let mut allows = Some(RuleList::default());
    for (j, (r, got)) in d
        .rules
        .iter()
        .zip(check_rules(
            &d.rules,
            "policy.allow",
            &names,
            sink,
            parallel_from,
        ))
        .enumerate()
    {
        push_rules(&mut allows, got, j, r.span, &mut spans.rules);
    }
    let mut denies = Some(RuleList::default());
    for (j, (r, got)) in d
        .denies
        .iter()
        .zip(check_rules(
            &d.denies,
            "policy.deny",
            &names,
            sink,
            parallel_from,
        ))
        .enumerate()
    {
        push_rules(&mut denies, got, j, r.span, &mut spans.denies);
    }

    if sink.error_count() > errors_before {
        return None;
    }
    let segments: Option<Vec<Segment>> = segments.into_iter().collect();
    let info = LabInfo {
        name: d.name?.value,
        domain: d.domain?.value,
        uplink: d.uplink.map(|u| u.value),
    };
    let lab = Lab::from_validated(info, segments?, allows?, denies?);
    Some((lab, spans))
}

/// What [`check_rule`] makes of each rule, in order.
type Checked = Option<Vec<(AllowRule, Resolved)>>;

/// [`check_rule`] for every rule of a list. Long lists are split in two, the
/// second half checked on another thread into its own sink; its diagnostics
/// follow the first half's, so the sink holds what one thread would push.
fn check_rules(
    rules: &[DraftRule<'_>],
    table: &'static str,
    names: &Names<'_>,
    sink: &mut Sink,
    parallel_from: usize,
) -> Vec<Checked> {
    let one = |from: usize, part: &[DraftRule<'_>], sink: &mut Sink| -> Vec<Checked> {
        part.iter()
            .enumerate()
            .map(|(k, r)| check_rule(r, Indexed(table, from + k), names, sink))
            .collect()
    };
    if rules.len() < parallel_from.max(2) {
        return one(0, rules, sink);
    }
    let mid = rules.len() / 2;
    let (front, back) = rules.split_at(mid);
    let (mut got, (rest, own)) = crate::par::join(
        || one(0, front, sink),
        || {
            let mut own = Sink::new();
            let got = one(mid, back, &mut own);
            (got, own)
        },
    );
    got.extend(rest);
    sink.append(own);
    got
}

/// Add the rules one table of the file became (one per protocol of its
/// services), each with the table's span; a failed one spoils the list.
fn push_rules(
    list: &mut Option<RuleList>,
    got: Option<Vec<(AllowRule, Resolved)>>,
    j: usize,
    span: Option<Span>,
    spans: &mut Vec<Option<Span>>,
) {
    match (list.as_mut(), got) {
        (Some(l), Some(v)) => {
            for (r, res) in v {
                l.rules.push(r);
                l.resolved.push(res);
                l.origin.push(j);
                spans.push(span);
            }
        }
        _ => *list = None,
    }
}

/// What a rule's names can refer to.
struct Names<'a> {
    known: &'a HashMap<&'a str, (u32, &'a SegmentName)>,
    sorted: &'a [&'a str],
    bad: &'a [String],
    tags: &'a HashMap<&'a str, Vec<u32>>,
    services: &'a HashMap<String, Vec<(Proto, Vec<PortRange>)>>,
}

/// `[policy.services]`: every set by name; duplicates are reported.
fn check_services(d: &Draft<'_>, sink: &mut Sink) -> HashMap<String, Vec<(Proto, Vec<PortRange>)>> {
    let mut out: HashMap<String, Vec<(Proto, Vec<PortRange>)>> = HashMap::default();
    for s in &d.services {
        let name = s.name.value.as_str().to_owned();
        if out.contains_key(&name) {
            sink.push(
                Diagnostic::error(
                    format!("policy.services.{name}"),
                    format!("service set \"{name}\" is defined twice"),
                )
                .value(&name)
                .span(s.name.span)
                .hint("give each service set its own name"),
            );
            continue;
        }
        out.insert(name, s.entries.iter().map(|e| e.value.clone()).collect());
    }
    out
}

fn check_cidr(c: &Field<Ipv4Cidr>, path: &Indexed, sink: &mut Sink) -> bool {
    let net = c.value;
    let field = || format!("{path}.cidr");
    if net.len() > 30 {
        sink.push(
            Diagnostic::error(
                field(),
                format!("\"{net}\" is too small: a segment needs room for a gateway, a host, and network and broadcast addresses"),
            )
            .value(net.to_string())
            .span(c.span)
            .hint("use a /30 or larger network, e.g. a /24"),
        );
        return false;
    }
    for (block, what) in FORBIDDEN {
        let Ok(b) = block.parse::<Ipv4Cidr>() else {
            continue;
        };
        if b.overlaps(net) {
            sink.push(
                Diagnostic::error(
                    field(),
                    format!("\"{net}\" overlaps {what}, which is never routed"),
                )
                .value(net.to_string())
                .span(c.span)
                .hint("use a private range such as 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16"),
            );
            return false;
        }
    }
    true
}

fn check_gateway(
    net: Ipv4Cidr,
    gw: Option<&Field<Ipv4Addr>>,
    path: &Indexed,
    sink: &mut Sink,
) -> Option<Ipv4Addr> {
    let Some(gw) = gw else {
        return net.first_host();
    };
    let field = || format!("{path}.gateway");
    let ip = gw.value;
    match not_a_host(net, ip) {
        None => Some(ip),
        Some(msg) => {
            let hint = net.first_host().map_or_else(
                || "pick a host address inside the segment".to_owned(),
                |h| format!("pick a host address inside {net}, e.g. {h}, or leave gateway out to use {h}"),
            );
            sink.push(
                Diagnostic::error(field(), msg)
                    .value(ip.to_string())
                    .span(gw.span)
                    .hint(hint),
            );
            None
        }
    }
}

/// Why `ip` cannot be a host of `net`, if it cannot.
fn not_a_host(net: Ipv4Cidr, ip: Ipv4Addr) -> Option<String> {
    if !net.contains(ip) {
        Some(format!("{ip} is outside the segment's network {net}"))
    } else if ip == net.addr() {
        Some(format!("{ip} is the network address of {net}"))
    } else if ip == net.broadcast() {
        Some(format!("{ip} is the broadcast address of {net}"))
    } else {
        None
    }
}

fn check_dhcp(
    net: Ipv4Cidr,
    gw: Ipv4Addr,
    f: &Field<DraftDhcp>,
    path: &Indexed,
    sink: &mut Sink,
) -> Option<DhcpRange> {
    let (Some(start), Some(end)) = (&f.value.start, &f.value.end) else {
        return None;
    };
    let mut ok = true;
    for (name, a) in [("start", start), ("end", end)] {
        let field = || format!("{path}.dhcp.{name}");
        let msg = if !net.contains(a.value) {
            Some(format!(
                "{} is outside the segment's network {net}",
                a.value
            ))
        } else if a.value == net.addr() {
            Some(format!("{} is the network address of {net}", a.value))
        } else if a.value == net.broadcast() {
            Some(format!("{} is the broadcast address of {net}", a.value))
        } else {
            None
        };
        if let Some(msg) = msg {
            ok = false;
            sink.push(
                Diagnostic::error(field(), msg)
                    .value(a.value.to_string())
                    .span(a.span)
                    .hint(format!(
                        "DHCP leases addresses of the segment: pick hosts inside {net}"
                    )),
            );
        }
    }
    if !ok {
        return None;
    }
    if start.value > end.value {
        sink.push(
            Diagnostic::error(
                format!("{path}.dhcp"),
                format!(
                    "the range is reversed: start {} is after end {}",
                    start.value, end.value
                ),
            )
            .value(format!("{}-{}", start.value, end.value))
            .span(f.span)
            .hint(format!(
                "swap them: start = \"{}\", end = \"{}\"",
                end.value, start.value
            )),
        );
        return None;
    }
    let range = DhcpRange {
        start: start.value,
        end: end.value,
    };
    if range.contains(gw) {
        sink.push(
            Diagnostic::error(
                format!("{path}.dhcp"),
                format!("the range {}-{} contains the gateway {gw}", start.value, end.value),
            )
            .value(format!("{}-{}", start.value, end.value))
            .span(f.span)
            .hint("DHCP would lease the gateway's address to a guest; start the range after the gateway or move the gateway"),
        );
        return None;
    }
    Some(range)
}

fn check_duplicate_names(d: &Draft<'_>, sink: &mut Sink) {
    let mut first: HashMap<&str, (usize, Option<Span>)> = HashMap::default();
    for (i, s) in d.segments.iter().enumerate() {
        let Some(n) = &s.name else { continue };
        if let Some((j, span)) = first.get(n.value.as_str()) {
            sink.push(
                Diagnostic::error(
                    format!("segment[{i}].name"),
                    format!(
                        "segment name \"{}\" is already used by segment[{j}]",
                        n.value
                    ),
                )
                .value(&n.value)
                .span(n.span)
                .related("first used here", *span)
                .hint("every segment needs its own name"),
            );
        } else {
            first.insert(n.value.as_str(), (i, n.span));
        }
    }
}

/// Pairs `(i, j)`, `i < j`, of inclusive ranges `(first, last, index)` that overlap one
/// another, each reported against the widest earlier range. A sorted sweep: O(n log n),
/// so a 5000-segment lab is checked as quickly as a small one.
fn overlapping_pairs<T: Ord + Copy>(mut items: Vec<(T, T, usize)>) -> Vec<(usize, usize)> {
    items.sort_unstable();
    let mut widest: Option<(T, usize)> = None;
    let mut found = Vec::new();
    for &(first, last, i) in &items {
        if let Some((end, j)) = widest
            && first <= end
        {
            found.push((j.min(i), j.max(i)));
        }
        if widest.is_none_or(|(end, _)| last > end) {
            widest = Some((last, i));
        }
    }
    found.sort_unstable();
    found
}

fn check_overlaps(d: &Draft<'_>, sink: &mut Sink) {
    let found = overlapping_pairs(
        d.segments
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                s.cidr
                    .as_ref()
                    .map(|c| (c.value.first(), c.value.last(), i))
            })
            .collect(),
    );
    for (a, b) in found {
        let (Some(ca), Some(cb)) = (&d.segments[a].cidr, &d.segments[b].cidr) else {
            continue;
        };
        let name = |k: usize| {
            d.segments[k]
                .name
                .as_ref()
                .map_or_else(|| format!("segment[{k}]"), |n| format!("\"{}\"", n.value))
        };
        sink.push(
            Diagnostic::error(
                format!("segment[{b}].cidr"),
                format!("{} overlaps {} of segment {}", cb.value, ca.value, name(a)),
            )
            .value(cb.value.to_string())
            .span(cb.span)
            .related(format!("{} is defined here", ca.value), ca.span)
            .hint("segments are isolated networks: give each its own, non-overlapping range"),
        );
    }
}

fn check_ssh_overlaps(d: &Draft<'_>, sink: &mut Sink) {
    let found = overlapping_pairs(
        d.segments
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                s.ssh_ports
                    .as_ref()
                    .map(|p| (p.value.start(), p.value.end(), i))
            })
            .collect(),
    );
    for (a, b) in found {
        let (Some(pa), Some(pb)) = (&d.segments[a].ssh_ports, &d.segments[b].ssh_ports) else {
            continue;
        };
        sink.push(
            Diagnostic::error(
                format!("segment[{b}].ssh_ports"),
                format!("\"{}\" overlaps \"{}\" of segment[{a}]", pb.value, pa.value),
            )
            .value(pb.value.to_string())
            .span(pb.span)
            .related(format!("\"{}\" is defined here", pa.value), pa.span)
            .hint("each segment has its own SSH port range; pick one that no other segment uses"),
        );
    }
}

fn check_rule(
    r: &DraftRule<'_>,
    path: Indexed,
    names: &Names<'_>,
    sink: &mut Sink,
) -> Option<Vec<(AllowRule, Resolved)>> {
    let from = r
        .from
        .as_ref()
        .and_then(|f| check_selector(f, &Sub(path, "from"), names, sink));
    let to =
        r.to.as_ref()
            .and_then(|f| check_selector(f, &Sub(path, "to"), names, sink));
    let mut ok = true;
    let except = match &r.except {
        None => Some((Selector::Names(Vec::new()), Some(Vec::new()))),
        Some(f) if matches!(f.value, DraftSel::All) => {
            ok = false;
            sink.push(
                Diagnostic::error(
                    format!("{path}.except"),
                    "except = \"*\" takes every segment out, so the rule applies to nothing",
                )
                .value("*")
                .span(f.span)
                .hint("list the segments (or \"tag:NAME\") to leave out, or remove the rule"),
            );
            None
        }
        Some(f) => check_selector(f, &Sub(path, "except"), names, sink),
    };
    let proto = r.proto.as_ref().map_or(Proto::Any, |p| p.value);
    let mut ports = Vec::new();
    if let Some(pf) = &r.ports {
        if !proto.has_ports() {
            ok = false;
            let what = if r.proto.is_some() {
                format!("proto is \"{proto}\"")
            } else {
                "proto is not set (so it is \"any\")".to_owned()
            };
            sink.push(
                Diagnostic::error(
                    format!("{path}.ports"),
                    format!("ports apply only to tcp or udp, but {what}"),
                )
                .value(
                    pf.value
                        .iter()
                        .map(|p| p.value.to_string())
                        .collect::<Vec<_>>()
                        .join(","),
                )
                .span(pf.span)
                .hint(
                    "add proto = \"tcp\" (or \"udp\"), or remove ports to allow the whole protocol",
                ),
            );
        } else if pf.value.is_empty() {
            ok = false;
            sink.push(
                Diagnostic::error(
                    format!("{path}.ports"),
                    "the port list is empty, so the rule allows nothing",
                )
                .span(pf.span)
                .hint(format!(
                    "list ports, or remove `ports` to allow every {proto} port"
                )),
            );
        } else {
            ports = pf.value.iter().map(|p| p.value).collect();
        }
    }
    // (protocol, ports) the rule covers: its own, or its service sets'.
    let mut access: Vec<(Proto, Vec<PortRange>)> = vec![(proto, ports)];
    if let Some(sf) = &r.services {
        if r.proto.is_some() || r.ports.is_some() {
            ok = false;
            sink.push(
                Diagnostic::error(
                    format!("{path}.services"),
                    "a rule names either service sets or proto and ports, not both",
                )
                .span(sf.span)
                .hint("move the protocol and ports into a service set, or remove `services`"),
            );
        }
        access.clear();
        let mut sorted: Vec<&str> = names.services.keys().map(String::as_str).collect();
        sorted.sort_unstable();
        for (k, n) in sf.value.iter().enumerate() {
            match names.services.get(n.value) {
                Some(entries) => access.extend(entries.iter().cloned()),
                None => {
                    ok = false;
                    let hint = match did_you_mean(n.value, sorted.iter().copied()) {
                        Some(s) => format!("did you mean \"{s}\"?"),
                        None if sorted.is_empty() => {
                            "define it under [policy.services], e.g. web = { tcp = [\"80\", \"443\"] }".to_owned()
                        }
                        None => format!("known service sets: {}", list(&sorted)),
                    };
                    sink.push(
                        Diagnostic::error(
                            format!("{path}.services[{k}]"),
                            format!("no service set is called {}", labfile::quoted(n.value)),
                        )
                        .value(n.value)
                        .span(n.span)
                        .hint(hint),
                    );
                }
            }
        }
        if sf.value.is_empty() {
            ok = false;
            sink.push(
                Diagnostic::error(
                    format!("{path}.services"),
                    "the list of service sets is empty, so the rule covers nothing",
                )
                .span(sf.span)
                .hint("name service sets from [policy.services], or remove `services`"),
            );
        }
    }
    let ((from, from_ix), (to, to_ix), (except, except_ix)) = (from?, to?, except?);
    if let (Selector::Names(f), Selector::Names(t)) = (&from, &to)
        && f.len() == 1
        && t.len() == 1
        && f[0] == t[0]
    {
        sink.push(
                Diagnostic::warning(
                    format!("{path}.to"),
                    format!("the rule allows \"{}\" to reach itself; traffic within a segment is never filtered, so it does nothing", f[0]),
                )
                .span(r.to.as_ref().and_then(|t| t.span))
                .hint("remove the rule"),
            );
    }
    for (sel, field, what) in [(&from, &r.from, "from"), (&to, &r.to, "to")] {
        if sel.is_empty_list() {
            let hint = if what == "from" {
                "name the segments that open the connections, or remove the rule"
            } else {
                "name the segments it should reach, or remove the rule"
            };
            sink.push(
                Diagnostic::warning(
                    format!("{path}.{what}"),
                    "the list is empty, so the rule allows nothing",
                )
                .value("[]")
                .span(field.as_ref().and_then(|t| t.span))
                .hint(hint),
            );
        }
    }
    if !ok {
        return None;
    }
    let mut except_ix = except_ix.unwrap_or_default();
    except_ix.sort_unstable();
    except_ix.dedup();
    let (to_ix, except_all) = match to_ix {
        Some(v) if !except_ix.is_empty() => (
            Some(
                v.into_iter()
                    .filter(|i| except_ix.binary_search(i).is_err())
                    .collect(),
            ),
            Vec::new(),
        ),
        Some(v) => (Some(v), Vec::new()),
        None => (None, except_ix),
    };
    let resolved = Resolved {
        from: from_ix,
        to: to_ix,
        except: except_all,
    };
    // One rule per (protocol, ports); the last takes the lists instead of a
    // copy (a rule's lists can hold thousands of names).
    let mut out = Vec::with_capacity(access.len());
    let last = access.len().saturating_sub(1);
    let (mut from, mut to, mut except, mut resolved) =
        (Some(from), Some(to), Some(except), Some(resolved));
    for (k, (proto, ports)) in access.into_iter().enumerate() {
        let (Some(f), Some(t), Some(e), Some(r)) = (
            take_or_clone(&mut from, k == last),
            take_or_clone(&mut to, k == last),
            take_or_clone(&mut except, k == last),
            take_or_clone(&mut resolved, k == last),
        ) else {
            break;
        };
        out.push((
            AllowRule {
                from: f,
                to: t,
                except: e,
                proto,
                ports,
            },
            r,
        ));
    }
    Some(out)
}

fn take_or_clone<T: Clone>(o: &mut Option<T>, take: bool) -> Option<T> {
    if take { o.take() } else { o.clone() }
}

fn check_selector(
    f: &Field<DraftSel<'_>>,
    path: &Sub,
    names: &Names<'_>,
    sink: &mut Sink,
) -> Option<(Selector, Option<Vec<u32>>)> {
    if let DraftSel::All = &f.value {
        return Some((Selector::All, None));
    }
    let n = f.value.len();
    let mut out = Vec::with_capacity(n);
    let mut tags_out: Vec<TagName> = Vec::new();
    let mut ix = Vec::with_capacity(n);
    let mut ok = true;
    let lone = matches!(&f.value, DraftSel::Names(ns) if ns.len() == 1);
    let before = sink.error_count();
    f.value.for_each_name(sink, |sink, k, entry, span| {
        // A lone string shares its span with the field; list entries get an index.
        let p = || {
            if lone && f.span.is_some() && f.span == span {
                path.to_string()
            } else {
                format!("{path}[{k}]")
            }
        };
        let name = match entry {
            Entry::Name(name) => name,
            Entry::Tag(tag) => {
                if let (Some(members), Ok(t)) = (names.tags.get(tag), TagName::new(tag)) {
                    ix.extend_from_slice(members);
                    tags_out.push(t);
                    return;
                }
                ok = false;
                let mut known: Vec<&str> = names.tags.keys().copied().collect();
                known.sort_unstable();
                let hint = match did_you_mean(tag, known.iter().copied()) {
                    Some(s) => format!("did you mean \"tag:{s}\"?"),
                    None if known.is_empty() => {
                        "no segment has tags; add tags = [\"NAME\"] to the segments it should select".to_owned()
                    }
                    None => format!("known tags: {}", list(&known)),
                };
                sink.push(
                    Diagnostic::error(p(), format!("no segment has the tag {}", labfile::quoted(tag)))
                        .value(format!("tag:{tag}"))
                        .span(span)
                        .hint(hint),
                );
                return;
            }
        };
        if let Some((i, seg)) = names.known.get(name) {
            out.push((*seg).clone());
            ix.push(*i);
            return;
        }
        ok = false;
        // The segment's own (invalid) name was already reported.
        if names.bad.iter().any(|b| b == name) {
            return;
        }
        let hint = match did_you_mean(name, names.sorted.iter().copied()) {
            Some(s) => format!("did you mean \"{s}\"?"),
            None if names.sorted.is_empty() => {
                "define the segment with [[segment]] first".to_owned()
            }
            None => format!("known segments: {}", list(names.sorted)),
        };
        sink.push(
            Diagnostic::error(p(), format!("no segment is called {}", labfile::quoted(name)))
                .value(name)
                .span(span)
                .hint(hint),
        );
    });
    let bad_elements = sink.error_count() > before;
    if !ok || bad_elements {
        return None;
    }
    let sel = if tags_out.is_empty() {
        Selector::Names(out)
    } else {
        // A tag and a name can select one segment twice.
        ix.sort_unstable();
        ix.dedup();
        Selector::Tagged {
            names: out,
            tags: tags_out,
        }
    };
    Some((sel, Some(ix)))
}

/// A path like `segment[3]`, written out only when a diagnostic needs it.
#[derive(Clone, Copy)]
struct Indexed(&'static str, usize);

impl std::fmt::Display for Indexed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}[{}]", self.0, self.1)
    }
}

/// `policy.allow[2].to`, likewise.
#[derive(Clone, Copy)]
struct Sub(Indexed, &'static str);

impl std::fmt::Display for Sub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

fn list(names: &[&str]) -> String {
    const MAX: usize = 12;
    let mut s = names
        .iter()
        .take(MAX)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > MAX {
        s.push_str(&format!(" and {} more", names.len() - MAX));
    }
    s
}
