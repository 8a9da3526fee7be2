//! "May A reach B?": one reachability question, answered with the rule that decides it.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use labfile::did_you_mean;

use crate::decide::{CtState, Decision, Packet, Reason};
use crate::labfile::LabFile;
use crate::model::Lab;
use crate::proto::{L4, Proto};
use crate::reach::{PairAccess, PortAccess, pair_access};

/// A reachability question; the `labnet query` flags are this struct.
///
/// A query checks itself before it is answered: a port needs protocol tcp or
/// udp, and port 0 is refused ([`QueryError`]), rather than being read as tcp.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args), group(id = "query_options"))]
#[non_exhaustive]
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
    /// Destination port (with protocol tcp or udp).
    #[cfg_attr(feature = "clap", arg(long))]
    pub port: Option<u16>,
}

/// The verdict of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Verdict {
    /// Everything asked about is allowed.
    Allowed,
    /// Some protocols or ports are allowed, not all.
    Partial,
    /// Nothing asked about is allowed.
    Denied,
    /// The destination (or source) is the host itself, a segment's gateway:
    /// that traffic is the host's own input or output, which labnet's forward
    /// policy neither allows nor denies.
    NotFiltered,
}

/// A rule that decides, with where it is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RuleRef {
    /// Index into `[[policy.allow]]` (or `[[policy.deny]]`), from 0.
    pub index: usize,
    /// Line in the lab file.
    pub line: Option<u32>,
    /// A `[[policy.deny]]` rule.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub deny: bool,
}

/// The answer to a [`Query`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
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
    /// `internet`, stood in for by an address outside the lab.
    Internet(Ipv4Addr),
}

fn resolve(lab: &Lab, s: &str, allow_internet: bool) -> Result<End, QueryError> {
    if s == "internet" {
        if !allow_internet {
            return Err(QueryError::InternetAsSource);
        }
        // An address outside every segment: the lab may itself use 203.0.113.0/24.
        return Ok(End::Internet(lab.outside_net().nth_host(1)));
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

/// Where a query's line numbers come from: none for a lab built in code.
#[derive(Clone, Copy)]
struct Lines<'a>(Option<&'a LabFile>);

impl Lines<'_> {
    fn rule(self, i: usize) -> Option<u32> {
        self.0.and_then(|f| f.rule_location(i)).map(|l| l.line)
    }
    fn deny(self, i: usize) -> Option<u32> {
        self.0.and_then(|f| f.deny_location(i)).map(|l| l.line)
    }
    fn internet(self, i: usize) -> Option<u32> {
        self.0.and_then(|f| f.internet_location(i)).map(|l| l.line)
    }
}

impl Query {
    /// A question about everything `from` may open toward `to`.
    #[must_use]
    pub fn new(from: impl Into<String>, to: impl Into<String>) -> Self {
        Self {
            from: from.into(),
            to: to.into(),
            proto: None,
            port: None,
        }
    }

    /// Only this protocol.
    #[must_use]
    pub fn proto(mut self, proto: Proto) -> Self {
        self.proto = Some(proto);
        self
    }

    /// Only this destination port (needs protocol tcp or udp).
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Whether the question makes sense on its own (before any lab is asked).
    ///
    /// # Errors
    /// A port without a protocol, with a protocol that has no ports, or port 0.
    pub fn validate(&self) -> Result<(), QueryError> {
        match (self.proto, self.port) {
            (_, Some(0)) => Err(QueryError::PortZero),
            (None, Some(port)) => Err(QueryError::PortWithoutProtocol { port }),
            (Some(p), Some(_)) if !p.has_ports() => Err(QueryError::PortWithoutPorts(p)),
            _ => Ok(()),
        }
    }

    /// Answer the question for a lab (built in code or read from a file; no line numbers).
    ///
    /// # Errors
    /// The query is not valid, or names something the lab does not have.
    pub fn answer(&self, lab: &Lab) -> Result<Answer, QueryError> {
        self.answer_with(lab, Lines(None))
    }

    /// Answer for a lab file: reasons cite the lines of the rules that decide.
    ///
    /// # Errors
    /// As [`Query::answer`].
    pub fn answer_in(&self, file: &LabFile) -> Result<Answer, QueryError> {
        self.answer_with(file.lab(), Lines(Some(file)))
    }

    fn answer_with(&self, lab: &Lab, lines: Lines<'_>) -> Result<Answer, QueryError> {
        self.validate()?;
        let from = resolve(lab, &self.from, false)?;
        let to = resolve(lab, &self.to, true)?;
        let name = |e: End| match e {
            End::Seg(i, None) => lab.segments()[i as usize].name.to_string(),
            End::Seg(i, Some(ip)) => format!("{ip} ({})", lab.segments()[i as usize].name),
            End::Internet(_) => "internet".to_owned(),
            End::Outside(ip) => format!("{ip} (outside the lab)"),
        };
        let gateway = |e: End| match e {
            End::Seg(i, Some(ip)) if lab.segments()[i as usize].gateway == ip => {
                Some((ip, lab.segments()[i as usize].name.as_str()))
            }
            _ => None,
        };
        let mut ans = if let Some((ip, seg)) = gateway(to) {
            Answer::not_filtered(format!(
                "{ip} is the gateway of \"{seg}\": the host itself. Traffic to it is the host's own input, which labnet's forward policy does not filter (the host's input firewall decides)"
            ))
        } else if let Some((ip, seg)) = gateway(from) {
            Answer::not_filtered(format!(
                "{ip} is the gateway of \"{seg}\": the host itself. Traffic it opens is the host's own output, which labnet's forward policy does not filter"
            ))
        } else {
            match (from, to) {
                (End::Seg(a, _), End::Seg(b, _))
                    if a != b && self.port.is_none() && self.proto != Some(Proto::Icmp) =>
                {
                    self.protocol_level(lab, lines, a, b)
                }
                _ => self.packet_level(lab, lines, from, to),
            }
        };
        ans.from = name(from);
        ans.to = name(to);
        Ok(ans)
    }

    /// A question about whole protocols between two segments.
    fn protocol_level(&self, lab: &Lab, lines: Lines<'_>, a: u32, b: u32) -> Answer {
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
        let rules = refs(lab, lines, &access.rules, false);
        let cite = cite_rules(&rules);
        let denied = refs(lab, lines, &access.denied_by, true);
        let but = if denied.is_empty() {
            String::new()
        } else {
            format!(", less what {} denies", cite_rules(&denied))
        };
        let reason = match verdict {
            Verdict::Allowed => {
                format!("\"{sa}\" may open connections to \"{sb}\", allowed by {cite}")
            }
            Verdict::Partial => {
                format!("\"{sa}\" may reach \"{sb}\" {what}, allowed by {cite}{but}")
            }
            Verdict::Denied | Verdict::NotFiltered if !denied.is_empty() => format!(
                "\"{sa}\" may not open {}connections to \"{sb}\": denied by {}",
                self.proto
                    .filter(|p| *p != Proto::Any)
                    .map_or_else(String::new, |p| format!("{p} ")),
                cite_rules(&denied)
            ),
            Verdict::Denied | Verdict::NotFiltered => format!(
                "no [[policy.allow]] rule lets \"{sa}\" open {}connections to \"{sb}\": denied by default",
                self.proto
                    .filter(|p| *p != Proto::Any)
                    .map_or_else(String::new, |p| format!("{p} "))
            ),
        };
        let rules = if verdict == Verdict::Denied {
            denied
        } else {
            rules.into_iter().chain(denied).collect()
        };
        Answer {
            from: String::new(),
            to: String::new(),
            verdict,
            reason,
            rules,
            masquerade: false,
            access: Some(access),
            note: None,
        }
    }

    /// A question about one packet: a specific protocol and port, or anything involving outside.
    fn packet_level(&self, lab: &Lab, lines: Lines<'_>, from: End, to: End) -> Answer {
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
            End::Outside(ip) | End::Internet(ip) => ip,
        };
        let l4 = match self.proto {
            Some(Proto::Udp) => L4::UDP,
            Some(Proto::Icmp) => L4::ICMP,
            _ => L4::TCP,
        };
        let oif = match to {
            End::Outside(_) | End::Internet(_) => lab
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
            Reason::Rule { rule } => refs(lab, lines, &[rule], false),
            Reason::Denied { rule } => refs(lab, lines, &[rule], true),
            _ => Vec::new(),
        };
        Answer {
            from: String::new(),
            to: String::new(),
            verdict,
            reason: explain(lab, lines, &d, &p),
            rules,
            masquerade: d.masquerade,
            access: None,
            note: None,
        }
    }
}

impl Answer {
    fn not_filtered(reason: String) -> Self {
        Self {
            from: String::new(),
            to: String::new(),
            verdict: Verdict::NotFiltered,
            reason,
            rules: Vec::new(),
            masquerade: false,
            access: None,
            note: None,
        }
    }
}

/// References to rules (by the lab's rule index), cited by their table in
/// the file; a table split by its service sets is cited once.
fn refs(lab: &Lab, lines: Lines<'_>, rules: &[usize], deny: bool) -> Vec<RuleRef> {
    let mut out: Vec<RuleRef> = Vec::with_capacity(rules.len());
    for &i in rules {
        let (index, line) = if deny {
            (lab.deny_origin(i), lines.deny(i))
        } else {
            (lab.rule_origin(i), lines.rule(i))
        };
        if !out.iter().any(|r| r.index == index && r.deny == deny) {
            out.push(RuleRef { index, line, deny });
        }
    }
    out
}

fn cite_rules(rules: &[RuleRef]) -> String {
    let parts: Vec<String> = rules
        .iter()
        .map(|r| {
            let kind = if r.deny { "deny" } else { "allow" };
            match r.line {
                Some(l) => format!("policy.{kind}[{}] (line {l})", r.index),
                None => format!("policy.{kind}[{}]", r.index),
            }
        })
        .collect();
    parts.join(", ")
}

fn explain(lab: &Lab, lines: Lines<'_>, d: &Decision, p: &Packet) -> String {
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
            format!(
                "{what} is allowed by {}",
                cite_rules(&refs(lab, lines, &[rule], false))
            )
        }
        Reason::Denied { rule } => format!(
            "{what} is denied by {} (a deny rule wins over every allow rule)",
            cite_rules(&refs(lab, lines, &[rule], true))
        ),
        Reason::Internet { segment } => {
            let at = lines.internet(segment as usize).map_or_else(
                || "internet defaults to true".to_owned(),
                |l| format!("internet = true at line {l}"),
            );
            format!(
                "\"{}\" has internet egress ({at}), masqueraded via {}",
                seg(segment),
                p.oif
            )
        }
        Reason::NoInternet { segment } => {
            let at = lines
                .internet(segment as usize)
                .map_or_else(String::new, |l| format!(" (line {l})"));
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

/// A reachability question could not be asked of this lab.
///
/// Messages name the question's parts, not any command-line flag: the
/// `labnet` binary (and labctl) map them to their own flags.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The source or destination names neither a segment nor an address.
    #[error("{given:?} is neither a segment of this lab nor an IPv4 address{}", suggestion.as_ref().map_or_else(String::new, |s| format!(" (did you mean \"{s}\"?)")))]
    UnknownEndpoint {
        /// What was given.
        given: String,
        /// A close segment name, if any.
        suggestion: Option<String>,
    },
    /// `internet` was given as the source: connections from the internet are
    /// asked about with an outside address.
    #[error(
        "\"internet\" can only be a destination; ask about inbound traffic with an address outside the lab, e.g. 203.0.113.9"
    )]
    InternetAsSource,
    /// A port was given without a protocol.
    #[error("port {port} was given without a protocol; ports belong to tcp or udp")]
    PortWithoutProtocol {
        /// The port.
        port: u16,
    },
    /// A port was given for a protocol without ports.
    #[error("protocol {0} has no ports; ports belong to tcp or udp")]
    PortWithoutPorts(Proto),
    /// Port 0 is not a destination port.
    #[error("port 0 is not a destination port; ports are 1 to 65535")]
    PortZero,
}
