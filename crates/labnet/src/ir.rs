//! The policy IR: a lab's routing matrix in the shape the targets render.
//!
//! The IR is organised by source segment. A packet's source address selects
//! one [`SourcePolicy`] (one map lookup), and inside it at most four set
//! lookups decide: same segment, any protocol, whole protocol, protocol and
//! port. So the per-packet cost does not grow with the number of segments or
//! rules; only set sizes do, and sets are looked up in logarithmic time.
//!
//! [`PolicyIr::evaluate`] runs this structure on a packet; the tests hold it
//! (and each rendered target) equal to [`Lab::decide`].

use std::net::Ipv4Addr;

use serde::Serialize;

use crate::cidr::Ipv4Cidr;
use crate::decide::{CtState, Packet};
use crate::model::Lab;
use crate::names::{InterfaceName, LabName, SegmentName};
use crate::port::PortRange;
use crate::proto::L4;
use crate::reach::{PairAccess, PortAccess, RulesBySource, Scratch, for_each_access};

/// What a destination may receive from one source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourcePolicy {
    /// The source segment.
    pub segment: SegmentName,
    /// Its network.
    pub cidr: Ipv4Cidr,
    /// Destinations that may receive anything, sorted by address.
    pub any: Vec<Ipv4Cidr>,
    /// Destinations that may receive a whole protocol (tcp, udp or icmp), sorted.
    pub protos: Vec<(Ipv4Cidr, L4)>,
    /// Destinations that may receive some tcp/udp ports, sorted; ranges disjoint per (cidr, protocol).
    pub services: Vec<(Ipv4Cidr, L4, PortRange)>,
    /// What deny rules stop, checked before the allows (deny wins); only
    /// toward destinations that some allow rule opens. Same shapes as above.
    pub deny_any: Vec<Ipv4Cidr>,
    /// Denied whole protocols.
    pub deny_protos: Vec<(Ipv4Cidr, L4)>,
    /// Denied tcp/udp ports.
    pub deny_services: Vec<(Ipv4Cidr, L4, PortRange)>,
}

/// The policies of sources `range`, and how many pairs they allow.
fn build_sources(
    lab: &Lab,
    rules: &RulesBySource,
    denies: &RulesBySource,
    range: std::ops::Range<usize>,
) -> (Vec<SourcePolicy>, usize) {
    let segs = lab.segments();
    let has_denies = !lab.deny_rules().is_empty();
    let mut scratch = Scratch::default();
    let mut deny_scratch = Scratch::default();
    // Deny access of the current source, by destination index.
    let mut denied: Vec<Option<PairAccess>> = if has_denies {
        vec![None; segs.len()]
    } else {
        Vec::new()
    };
    let mut sources = Vec::with_capacity(range.len());
    let mut allowed_pairs = 0;
    for a in range {
        let seg = &segs[a];
        let a = u32::try_from(a).unwrap_or(u32::MAX);
        let mut sp = SourcePolicy {
            segment: seg.name.clone(),
            cidr: seg.cidr,
            any: Vec::new(),
            protos: Vec::new(),
            services: Vec::new(),
            deny_any: Vec::new(),
            deny_protos: Vec::new(),
            deny_services: Vec::new(),
        };
        let mut touched = Vec::new();
        if has_denies {
            for_each_access(lab, denies, &mut deny_scratch, a, |b, acc| {
                denied[b as usize] = Some(std::mem::take(acc));
                touched.push(b);
            });
        }
        for_each_access(lab, rules, &mut scratch, a, |b, acc| {
            let dst = segs[b as usize].cidr;
            if let Some(d) = denied.get(b as usize).and_then(Option::as_ref) {
                if d.any {
                    return;
                }
                // Counted as allowed only if something is left.
                let mut net = acc.clone();
                net.subtract(d, false);
                if net.is_none() && !acc.any {
                    return;
                }
                push_access(
                    d,
                    dst,
                    &mut sp.deny_any,
                    &mut sp.deny_protos,
                    &mut sp.deny_services,
                );
            }
            allowed_pairs += 1;
            push_access(acc, dst, &mut sp.any, &mut sp.protos, &mut sp.services);
        });
        for b in touched {
            denied[b as usize] = None;
        }
        sources.push(sp);
    }
    (sources, allowed_pairs)
}

/// Push one pair's access as `any`, whole-protocol and port entries.
fn push_access(
    acc: &PairAccess,
    dst: Ipv4Cidr,
    any: &mut Vec<Ipv4Cidr>,
    protos: &mut Vec<(Ipv4Cidr, L4)>,
    services: &mut Vec<(Ipv4Cidr, L4, PortRange)>,
) {
    if acc.any {
        any.push(dst);
        return;
    }
    // Protocol-number order (icmp 1, tcp 6, udp 17) keeps elements sorted.
    if acc.icmp {
        protos.push((dst, L4::ICMP));
    }
    for (access, l4) in [(&acc.tcp, L4::TCP), (&acc.udp, L4::UDP)] {
        if *access == PortAccess::All {
            protos.push((dst, l4));
        }
    }
    for (access, l4) in [(&acc.tcp, L4::TCP), (&acc.udp, L4::UDP)] {
        if let PortAccess::Ports(set) = access {
            services.extend(set.ranges().iter().map(|r| (dst, l4, *r)));
        }
    }
}

/// The compiled policy of a lab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyIr {
    /// The lab's name (for headers and comments).
    pub lab: LabName,
    /// Interface toward the internet.
    pub uplink: Option<InterfaceName>,
    /// Every segment's network, sorted by address.
    pub lab_nets: Vec<Ipv4Cidr>,
    /// Networks of segments with internet egress, sorted.
    pub egress_nets: Vec<Ipv4Cidr>,
    /// One entry per segment, in lab-file order.
    pub sources: Vec<SourcePolicy>,
    /// Number of ordered segment pairs with some access.
    pub allowed_pairs: usize,
}

impl PolicyIr {
    /// Compile a lab.
    #[must_use]
    pub fn build(lab: &Lab) -> Self {
        Self::build_on(lab, crate::par::SPLIT_FROM)
    }

    /// [`Self::build`], on two threads from `parallel_from` segments (tests
    /// compare the two ways on small labs).
    pub(crate) fn build_on(lab: &Lab, parallel_from: usize) -> Self {
        let segs = lab.segments();
        let mut lab_nets: Vec<Ipv4Cidr> = segs.iter().map(|s| s.cidr).collect();
        lab_nets.sort_unstable();
        let mut egress_nets: Vec<Ipv4Cidr> =
            segs.iter().filter(|s| s.internet).map(|s| s.cidr).collect();
        egress_nets.sort_unstable();

        let rules = RulesBySource::new(lab);
        let denies = RulesBySource::denies(lab);
        let n = segs.len();
        let (sources, allowed_pairs) = if n >= parallel_from.max(2) {
            // Sources are independent: the second half on another thread.
            let mid = n / 2;
            let ((mut front, pairs), (rest, more)) = crate::par::join(
                || build_sources(lab, &rules, &denies, 0..mid),
                || build_sources(lab, &rules, &denies, mid..n),
            );
            front.extend(rest);
            (front, pairs + more)
        } else {
            build_sources(lab, &rules, &denies, 0..n)
        };
        Self {
            lab: lab.info().name.clone(),
            uplink: lab.info().uplink.clone(),
            lab_nets,
            egress_nets,
            sources,
            allowed_pairs,
        }
    }

    /// The uplink, when some segment has internet egress (validation guarantees one
    /// then); `None` means no egress rule and no NAT chain at all.
    #[must_use]
    pub fn egress_uplink(&self) -> Option<&str> {
        if self.egress_nets.is_empty() {
            None
        } else {
            self.uplink.as_ref().map(|u| u.as_str())
        }
    }

    /// Run the compiled structure on a packet: (accepted by the filter, masqueraded).
    ///
    /// This mirrors the rendered rulesets statement by statement; see the
    /// `forward` and `postrouting` chains in the nft target.
    #[must_use]
    pub fn evaluate(&self, p: &Packet) -> (bool, bool) {
        let in_lab = |ip: Ipv4Addr| in_sorted(&self.lab_nets, ip);
        let egress_rule = in_sorted(&self.egress_nets, p.src)
            && !in_lab(p.dst)
            && self.uplink.as_ref().is_some_and(|u| u.as_str() == p.oif);
        let accept = self.filter(p, egress_rule, in_lab);
        let masquerade = accept && p.ct == CtState::New && egress_rule;
        (accept, masquerade)
    }

    fn filter(&self, p: &Packet, egress_rule: bool, in_lab: impl Fn(Ipv4Addr) -> bool) -> bool {
        if !in_lab(p.src) && !in_lab(p.dst) {
            return true;
        }
        match p.ct {
            CtState::Established | CtState::Related => return true,
            CtState::Invalid => return false,
            CtState::New => {}
        }
        if egress_rule {
            return true;
        }
        let Some(sp) = self.sources.iter().find(|s| s.cidr.contains(p.src)) else {
            return false;
        };
        if sp.cidr.contains(p.dst) {
            return true;
        }
        // Deny entries first, as the rendered chains check them.
        let port_hit = |list: &[(Ipv4Cidr, L4, PortRange)]| {
            p.l4.has_ports()
                && p.dport.is_some_and(|port| {
                    list.iter()
                        .any(|(c, l4, r)| c.contains(p.dst) && *l4 == p.l4 && r.contains(port))
                })
        };
        if sp.deny_any.iter().any(|c| c.contains(p.dst))
            || sp
                .deny_protos
                .iter()
                .any(|(c, l4)| c.contains(p.dst) && *l4 == p.l4)
            || port_hit(&sp.deny_services)
        {
            return false;
        }
        if sp.any.iter().any(|c| c.contains(p.dst)) {
            return true;
        }
        if sp
            .protos
            .iter()
            .any(|(c, l4)| c.contains(p.dst) && *l4 == p.l4)
        {
            return true;
        }
        port_hit(&sp.services)
    }
}

fn in_sorted(nets: &[Ipv4Cidr], ip: Ipv4Addr) -> bool {
    let i = nets.partition_point(|c| c.first() <= u32::from(ip));
    i > 0 && nets[i - 1].contains(ip)
}
