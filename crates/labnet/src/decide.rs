//! The plain reading of a lab file: what should happen to one packet, and why.
//!
//! This is the oracle the compiled rulesets are tested against, so it is
//! written to be obviously right, rule by rule in lab-file order, with no
//! indexing or precomputation shared with the compiler.

use std::net::Ipv4Addr;

use serde::Serialize;

use crate::model::{AllowRule, Lab, Selector};
use crate::proto::L4;

/// Connection-tracking state of a packet, as netfilter classifies it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CtState {
    /// Opens a connection.
    New,
    /// Part of a connection already accepted.
    Established,
    /// Related to one (an ICMP error, an FTP data channel).
    Related,
    /// Matches no connection and cannot open one.
    Invalid,
}

/// A forwarded IPv4 packet, as the forward hook sees it.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize)]
pub struct Packet {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// IP protocol.
    pub l4: L4,
    /// Destination port (tcp/udp).
    pub dport: Option<u16>,
    /// Conntrack state.
    pub ct: CtState,
    /// Output interface name.
    pub oif: String,
}

impl Packet {
    /// A new TCP connection attempt.
    #[must_use]
    pub fn tcp(src: Ipv4Addr, dst: Ipv4Addr, dport: u16, oif: &str) -> Self {
        Self {
            src,
            dst,
            l4: L4::TCP,
            dport: Some(dport),
            ct: CtState::New,
            oif: oif.to_owned(),
        }
    }
}

/// Why a packet is accepted or dropped.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Reason {
    /// Neither address is in the lab: labnet does not touch it.
    NotLabTraffic,
    /// Reply or related traffic of an accepted connection.
    Reply,
    /// Conntrack calls it invalid.
    Invalid,
    /// Both ends in one segment: not the firewall's business.
    SameSegment {
        /// The segment.
        segment: u32,
    },
    /// An allow rule lets it through (and no deny rule stops it).
    Rule {
        /// Index into [`Lab::rules`].
        rule: usize,
    },
    /// A deny rule stops it (deny wins over any allow rule).
    Denied {
        /// Index into [`Lab::deny_rules`].
        rule: usize,
    },
    /// Internet egress of a segment with `internet = true`, masqueraded.
    Internet {
        /// The source segment.
        segment: u32,
    },
    /// The source segment has `internet = false`.
    NoInternet {
        /// The source segment.
        segment: u32,
    },
    /// Bound outside the lab, but not through the uplink.
    NotUplink {
        /// The source segment.
        segment: u32,
    },
    /// Opened from outside the lab: never allowed.
    FromOutside,
    /// No rule allows this pair, protocol or port.
    DefaultDeny {
        /// Source segment.
        from: u32,
        /// Destination segment.
        to: u32,
    },
}

/// What should happen to a packet.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub struct Decision {
    /// Accepted by labnet's policy.
    pub allowed: bool,
    /// Source-NATed to the uplink's address.
    pub masquerade: bool,
    /// Why.
    #[serde(flatten)]
    pub reason: Reason,
}

impl Decision {
    fn allow(reason: Reason) -> Self {
        Self {
            allowed: true,
            masquerade: matches!(reason, Reason::Internet { .. }),
            reason,
        }
    }

    fn deny(reason: Reason) -> Self {
        Self {
            allowed: false,
            masquerade: false,
            reason,
        }
    }
}

impl Lab {
    /// What the lab file says should happen to `p`.
    #[must_use]
    pub fn decide(&self, p: &Packet) -> Decision {
        let src = self.segment_of(p.src);
        let dst = self.segment_of(p.dst);
        if src.is_none() && dst.is_none() {
            return Decision {
                allowed: true,
                masquerade: false,
                reason: Reason::NotLabTraffic,
            };
        }
        match p.ct {
            CtState::Established | CtState::Related => return Decision::allow(Reason::Reply),
            CtState::Invalid => return Decision::deny(Reason::Invalid),
            CtState::New => {}
        }
        match (src, dst) {
            (Some(a), Some(b)) if a == b => Decision::allow(Reason::SameSegment { segment: a }),
            (Some(a), Some(b)) => {
                // Read as the lab file says: the first deny rule that matches
                // decides; else the first allow rule; else nothing allows it.
                let matches = |r: &AllowRule| {
                    selects(&r.from, self, a, None)
                        && selects(&r.to, self, b, Some(a))
                        && !r.except.selects(&self.segments()[b as usize])
                        && r.proto.matches(p.l4)
                        && (r.ports.is_empty()
                            || p.dport
                                .is_some_and(|d| r.ports.iter().any(|pr| pr.contains(d))))
                };
                if let Some(rule) = self.deny_rules().iter().position(matches) {
                    return Decision::deny(Reason::Denied { rule });
                }
                self.rules().iter().position(matches).map_or(
                    Decision::deny(Reason::DefaultDeny { from: a, to: b }),
                    |rule| Decision::allow(Reason::Rule { rule }),
                )
            }
            (Some(a), None) => {
                let seg = &self.segments()[a as usize];
                if !seg.internet {
                    Decision::deny(Reason::NoInternet { segment: a })
                } else if self
                    .info()
                    .uplink
                    .as_ref()
                    .is_none_or(|u| u.as_str() != p.oif)
                {
                    Decision::deny(Reason::NotUplink { segment: a })
                } else {
                    Decision::allow(Reason::Internet { segment: a })
                }
            }
            (None, _) => Decision::deny(Reason::FromOutside),
        }
    }
}

/// Whether `sel` names segment `i`; for a `to` selector, `"*"` excludes the source `from`.
fn selects(sel: &Selector, lab: &Lab, i: u32, from: Option<u32>) -> bool {
    match sel {
        Selector::All => from != Some(i),
        other => other.selects(&lab.segments()[i as usize]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn reference_matrix_reads_as_the_procedure_says() {
        let lab = crate::reference::lab();
        let d = |a: &str, b: &str| lab.decide(&Packet::tcp(ip(a), ip(b), 443, "x")).allowed;
        // Management to all.
        for dst in ["10.0.1.5", "10.0.2.5", "10.0.3.5", "10.0.4.5"] {
            assert!(d("10.0.0.20", dst), "management -> {dst}");
        }
        assert!(d("10.0.1.150", "10.0.2.150") && d("10.0.1.150", "10.0.3.9"));
        assert!(
            !d("10.0.1.150", "10.0.0.20"),
            "public must not reach management"
        );
        assert!(d("10.0.2.150", "10.0.3.9") && d("10.0.2.150", "10.0.4.150"));
        assert!(!d("10.0.2.150", "10.0.1.150"));
        for dst in ["10.0.0.20", "10.0.1.150", "10.0.2.150", "10.0.4.150"] {
            assert!(!d("10.0.3.9", dst), "database must reach nothing: {dst}");
        }
    }

    #[test]
    fn internet_and_outside() {
        let lab = crate::reference::lab();
        let out = lab.decide(&Packet::tcp(
            ip("10.0.3.9"),
            ip("203.0.113.10"),
            443,
            "eno1",
        ));
        assert!(out.allowed && out.masquerade);
        let wrong_if = lab.decide(&Packet::tcp(
            ip("10.0.3.9"),
            ip("203.0.113.10"),
            443,
            "docker0",
        ));
        assert!(!wrong_if.allowed);
        let inbound = lab.decide(&Packet::tcp(
            ip("203.0.113.10"),
            ip("10.0.1.150"),
            2211,
            "virbr1",
        ));
        assert_eq!(inbound.reason, Reason::FromOutside);
        let reply = Packet {
            ct: CtState::Established,
            ..Packet::tcp(ip("203.0.113.10"), ip("10.0.1.150"), 50000, "virbr1")
        };
        assert!(lab.decide(&reply).allowed);
        let other = lab.decide(&Packet::tcp(
            ip("172.17.0.2"),
            ip("203.0.113.10"),
            80,
            "eno1",
        ));
        assert_eq!(other.reason, Reason::NotLabTraffic);
    }
}
