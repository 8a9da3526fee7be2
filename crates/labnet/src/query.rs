//! "May A reach B?": one reachability question, answered with the rule that decides it.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::decide::{CtState, Decision, Packet, Reason};
use crate::error::QueryError;
use crate::labfile::LabFile;
use crate::labfile::walk::did_you_mean;
use crate::model::Lab;
use crate::proto::{L4, Proto};
use crate::reach::{PairAccess, PortAccess, pair_access};

/// An address standing for "the internet" when a query names it.
pub const INTERNET_ADDR: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);

/// A reachability question; the `labnet query` flags are this struct.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args), group(id = "query_options"))]
pub struct Query {
    /// Source: a segment name, or an address (one outside the lab asks about inbound traffic).
    #[cfg_attr(feature = "clap", arg(long, value_name = "SEGMENT|ADDRESS"))]
    pub from: String,
    /// Destination: a segment name, an address, or `internet`.
    #[cfg_attr(feature = "clap", arg(long, value_name = "SEGMENT|ADDRESS|internet"))]
    pub to: String,
    /// Protocol; without it, the answer covers every protocol.
    #[cfg_attr(feature = "clap", arg(long, value_enum))]
    pub proto: Option<Proto>,
    /// Destination port (needs `--proto tcp` or `--proto udp`).
    #[cfg_attr(feature = "clap", arg(long, requires = "proto", value_parser = clap::value_parser!(u16).range(1..)))]
    pub port: Option<u16>,
}

/// The verdict of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Everything asked about is allowed.
    Allowed,
    /// Some protocols or ports are allowed, not all.
    Partial,
    /// Nothing asked about is allowed.
    Denied,
}

/// A rule that decides, with where it is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleRef {
    /// Index into `[[policy.allow]]`, from 0.
    pub index: usize,
    /// Line in the lab file.
    pub line: Option<u32>,
}

/// The answer to a [`Query`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answer {
    /// Source as understood (segment name, or address).
    pub from: String,
    /// Destination as understood.
    pub to: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Why, in one sentence.
    pub reason: String,
    /// The rules that decide (empty for defaults).
    pub rules: Vec<RuleRef>,
    /// Whether the traffic is masqueraded to the uplink's address.
    pub masquerade: bool,
    /// Protocol-level access between two segments, when the question covers protocols.
    pub access: Option<PairAccess>,
    /// Something the asker should know (e.g. the address is the host's own gateway).
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy)]
enum End {
    Seg(u32, Option<Ipv4Addr>),
    Outside(Ipv4Addr),
}

fn resolve(lab: &Lab, s: &str, allow_internet: bool) -> Result<End, QueryError> {
    if allow_internet && s == "internet" {
        return Ok(End::Outside(INTERNET_ADDR));
    }
    if let Some(i) = lab.segment_index(s) {
        return Ok(End::Seg(i, None));
    }
    if let Ok(ip) = s.parse::<Ipv4Addr>() {
        return Ok(lab
            .segment_of(ip)
            .map_or(End::Outside(ip), |i| End::Seg(i, Some(ip))));
    }
    let names = lab.segments().iter().map(|s| s.name.as_str());
    Err(QueryError::UnknownEndpoint {
        given: s.to_owned(),
        suggestion: did_you_mean(s, names).map(str::to_owned),
    })
}

impl Query {
    /// Answer the question for a lab file.
    pub fn answer(&self, file: &LabFile) -> Result<Answer, QueryError> {
        let lab = file.lab();
        if let (Some(p), Some(_)) = (self.proto, self.port)
            && !p.has_ports()
        {
            return Err(QueryError::PortWithoutPorts(p));
        }
        let from = resolve(lab, &self.from, false)?;
        let to = resolve(lab, &self.to, true)?;
        let name = |e: End| match e {
            End::Seg(i, None) => lab.segments()[i as usize].name.to_string(),
            End::Seg(i, Some(ip)) => format!("{ip} ({})", lab.segments()[i as usize].name),
            End::Outside(ip) if ip == INTERNET_ADDR && self.to == "internet" => {
                "internet".to_owned()
            }
            End::Outside(ip) => format!("{ip} (outside the lab)"),
        };
        let note = match to {
            End::Seg(i, Some(ip)) if lab.segments()[i as usize].gateway == ip => Some(format!(
                "{ip} is the gateway of \"{}\": the host itself. Traffic to it is host input, which labnet's forward policy does not filter.",
                lab.segments()[i as usize].name
            )),
            _ => None,
        };
        let mut ans = match (from, to) {
            (End::Seg(a, _), End::Seg(b, _))
                if a != b && self.port.is_none() && self.proto != Some(Proto::Icmp) =>
            {
                self.protocol_level(file, a, b)
            }
            _ => self.packet_level(file, from, to),
        };
        ans.from = name(from);
        ans.to = name(to);
        ans.note = note;
        Ok(ans)
    }

    /// A question about whole protocols between two segments.
    fn protocol_level(&self, file: &LabFile, a: u32, b: u32) -> Answer {
        let lab = file.lab();
        let access = pair_access(lab, a, b);
        let (verdict, what) = match self.proto {
            None | Some(Proto::Any) => (
                if access.is_all() {
                    Verdict::Allowed
                } else if access.is_none() {
                    Verdict::Denied
                } else {
                    Verdict::Partial
                },
                format!("only {}", access.short()),
            ),
            Some(p) => {
                let pa = match p {
                    Proto::Udp => &access.udp,
                    _ => &access.tcp,
                };
                match (access.any, pa) {
                    (true, _) | (_, PortAccess::All) => (Verdict::Allowed, String::new()),
                    (_, PortAccess::None) => (Verdict::Denied, String::new()),
                    (_, PortAccess::Ports(s)) => (Verdict::Partial, format!("only {p} ports {s}")),
                }
            }
        };
        let (sa, sb) = (
            &lab.segments()[a as usize].name,
            &lab.segments()[b as usize].name,
        );
        let rules = refs(file, &access.rules);
        let cite = cite_rules(&rules);
        let reason = match verdict {
            Verdict::Allowed => {
                format!("\"{sa}\" may open connections to \"{sb}\", allowed by {cite}")
            }
            Verdict::Partial => format!("\"{sa}\" may reach \"{sb}\" {what}, allowed by {cite}"),
            Verdict::Denied => format!(
                "no [[policy.allow]] rule lets \"{sa}\" open {}connections to \"{sb}\": denied by default",
                self.proto
                    .filter(|p| *p != Proto::Any)
                    .map_or_else(String::new, |p| format!("{p} "))
            ),
        };
        Answer {
            from: String::new(),
            to: String::new(),
            verdict,
            reason,
            rules: if verdict == Verdict::Denied {
                Vec::new()
            } else {
                rules
            },
            masquerade: false,
            access: Some(access),
            note: None,
        }
    }

    /// A question about one packet: a specific protocol and port, or anything involving outside.
    fn packet_level(&self, file: &LabFile, from: End, to: End) -> Answer {
        let lab = file.lab();
        let addr = |e: End| match e {
            End::Seg(i, ip) => ip.unwrap_or_else(|| {
                // A host address of the segment that is not its gateway.
                let s = &lab.segments()[i as usize];
                let cand = Ipv4Addr::from(s.cidr.first() + 2);
                if cand == s.gateway {
                    Ipv4Addr::from(s.cidr.first() + 1)
                } else {
                    cand
                }
            }),
            End::Outside(ip) => ip,
        };
        let l4 = match self.proto {
            Some(Proto::Udp) => L4::UDP,
            Some(Proto::Icmp) => L4::ICMP,
            _ => L4::TCP,
        };
        let oif = match to {
            End::Outside(_) => lab
                .info()
                .uplink
                .as_ref()
                .map_or("", |u| u.as_str())
                .to_owned(),
            End::Seg(..) => "lab".to_owned(),
        };
        let p = Packet {
            src: addr(from),
            dst: addr(to),
            l4,
            dport: l4.has_ports().then_some(self.port.unwrap_or(443)),
            ct: CtState::New,
            oif,
        };
        let d = lab.decide(&p);
        let verdict = if d.allowed {
            Verdict::Allowed
        } else {
            Verdict::Denied
        };
        let rules = match d.reason {
            Reason::Rule { rule } => refs(file, &[rule]),
            _ => Vec::new(),
        };
        Answer {
            from: String::new(),
            to: String::new(),
            verdict,
            reason: explain(file, &d, &p),
            rules,
            masquerade: d.masquerade,
            access: None,
            note: None,
        }
    }
}

fn refs(file: &LabFile, rules: &[usize]) -> Vec<RuleRef> {
    rules
        .iter()
        .map(|&index| RuleRef {
            index,
            line: file.rule_location(index).map(|l| l.line),
        })
        .collect()
}

fn cite_rules(rules: &[RuleRef]) -> String {
    let parts: Vec<String> = rules
        .iter()
        .map(|r| match r.line {
            Some(l) => format!("policy.allow[{}] (line {l})", r.index),
            None => format!("policy.allow[{}]", r.index),
        })
        .collect();
    parts.join(", ")
}

fn explain(file: &LabFile, d: &Decision, p: &Packet) -> String {
    let lab = file.lab();
    let seg = |i: u32| lab.segments()[i as usize].name.as_str();
    let what = match (p.l4.name(), p.dport) {
        (Some(n), Some(port)) => format!("{n} port {port}"),
        (Some(n), None) => n.to_owned(),
        (None, _) => p.l4.to_string(),
    };
    match d.reason {
        Reason::NotLabTraffic => {
            "neither address is in the lab: labnet does not touch this traffic".to_owned()
        }
        Reason::Reply => "reply traffic of an accepted connection passes".to_owned(),
        Reason::Invalid => "invalid packets are dropped".to_owned(),
        Reason::SameSegment { segment } => format!(
            "both ends are in \"{}\": traffic within a segment is not filtered",
            seg(segment)
        ),
        Reason::Rule { rule } => {
            format!("{what} is allowed by {}", cite_rules(&refs(file, &[rule])))
        }
        Reason::Internet { segment } => {
            let at = file.internet_location(segment as usize).map_or_else(
                || "internet defaults to true".to_owned(),
                |l| format!("internet = true at line {}", l.line),
            );
            format!(
                "\"{}\" has internet egress ({at}), masqueraded via {}",
                seg(segment),
                p.oif
            )
        }
        Reason::NoInternet { segment } => {
            let at = file
                .internet_location(segment as usize)
                .map_or_else(String::new, |l| format!(" (line {})", l.line));
            format!("\"{}\" has internet = false{at}", seg(segment))
        }
        Reason::NotUplink { segment } => format!(
            "\"{}\" may reach the internet only through the uplink",
            seg(segment)
        ),
        Reason::FromOutside => {
            "connections opened from outside the lab into it are never allowed".to_owned()
        }
        Reason::DefaultDeny { from, to } => format!(
            "no [[policy.allow]] rule lets \"{}\" open {what} connections to \"{}\": denied by default",
            seg(from),
            seg(to)
        ),
    }
}
