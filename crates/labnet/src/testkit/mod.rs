//! Random and synthetic labs for tests and benchmarks (feature `testkit`).
//!
//! Every lab made here goes through [`crate::LabBuilder::build`], the same validation
//! a lab file gets, so a generator bug shows up as a failure, not a silently
//! invalid lab.

pub mod ipt_eval;
pub mod nft_eval;

use std::net::Ipv4Addr;

use proptest::prelude::*;

use crate::cidr::Ipv4Cidr;
use crate::decide::{CtState, Packet};
use crate::model::{AllowRule, DhcpRange, Lab, LabInfo, Segment, Selector};
use crate::names::{DomainName, InterfaceName, LabName, SegmentName};
use crate::port::PortRange;
use crate::proto::{L4, Proto};

/// The uplink of generated labs.
pub const UPLINK: &str = "eno1";

/// Segment names that are nftables keywords or statements elsewhere: generated labs
/// use them so the targets' naming is tested against the parser's keywords.
pub const TRICKY_NAMES: &[&str] = &[
    "fwd",
    "ip",
    "tcp",
    "drop",
    "set",
    "table",
    "chain",
    "meta",
    "accept",
    "jump",
    "counter",
    "map",
    "dnat",
    "snat",
    "policy",
    "hook",
    "elements",
    "type",
    "flags",
    "ct",
    "th",
    "udp",
    "icmp",
    "vmap",
    "goto",
    "return",
    "reject",
    "masquerade",
    "priority",
    "filter",
    "nat",
];

/// Tags generated labs put on segments and select in rules.
pub const TAG_POOL: &[&str] = &["app", "db", "web", "ops"];

/// Ports that rules and packets draw from, so they collide often.
const PORT_POOL: &[u16] = &[
    20, 21, 22, 53, 80, 443, 2200, 2201, 2210, 3306, 3307, 5432, 8080, 65535,
];

#[derive(Debug, Clone)]
struct SegSpec {
    len: u8,
    gap: u32,
    tricky: bool,
    gw_last: bool,
    dhcp: bool,
    internet: bool,
    ssh_width: u16,
    /// Bit k: tag `TAG_POOL[k]`.
    tags: u8,
}

#[derive(Debug, Clone)]
struct RuleSpec {
    from: Vec<usize>,
    from_all: bool,
    to: Vec<usize>,
    to_all: bool,
    proto: Proto,
    ports: Vec<(u16, u16)>,
    /// Select by these tags too (indices into `TAG_POOL`).
    from_tag: Option<usize>,
    to_tag: Option<usize>,
    except: Vec<usize>,
    except_tag: Option<usize>,
    deny: bool,
}

fn seg_spec() -> impl Strategy<Value = SegSpec> {
    (
        prop_oneof![4 => 22u8..=28, 1 => 16u8..=21, 1 => 29u8..=30],
        0u32..3,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop::bool::weighted(0.7),
        1u16..=10,
        0u8..16,
    )
        .prop_map(
            |(len, gap, tricky, gw_last, dhcp, internet, ssh_width, tags)| SegSpec {
                len,
                gap,
                tricky,
                gw_last,
                dhcp,
                internet,
                ssh_width,
                tags,
            },
        )
}

fn rule_spec(n: usize) -> impl Strategy<Value = RuleSpec> {
    let proto = prop_oneof![4 => Just(Proto::Any), 3 => Just(Proto::Tcp), 2 => Just(Proto::Udp), 2 => Just(Proto::Icmp)];
    // Mostly narrow ranges (hash elements, one per port) and sometimes one wider
    // than the layout expands, which takes the interval set.
    let width = prop_oneof![6 => 0u16..3, 1 => 16u16..40];
    let ports = prop::collection::vec((prop::sample::select(PORT_POOL), width), 0..4);
    let tag = || prop::option::weighted(0.25, 0..TAG_POOL.len());
    (
        (
            prop::collection::vec(0..n, 1..=3),
            prop::bool::weighted(0.1),
            prop::collection::vec(0..n, 1..=4),
            prop::bool::weighted(0.2),
            proto,
            ports,
        ),
        (
            tag(),
            tag(),
            prop::collection::vec(0..n, 0..=2),
            tag(),
            prop::bool::weighted(0.2),
        ),
    )
        .prop_map(
            |(
                (from, from_all, to, to_all, proto, ports),
                (from_tag, to_tag, except, except_tag, deny),
            )| RuleSpec {
                from,
                from_all,
                to,
                to_all,
                proto,
                ports: ports
                    .into_iter()
                    .map(|(p, w)| (p, p.saturating_add(w)))
                    .collect(),
                from_tag,
                to_tag,
                except,
                except_tag,
                deny,
            },
        )
}

/// Random valid labs of 1 to `max_segments` segments: random prefix lengths and
/// gaps between networks, gateways at either end, DHCP or not, random matrices
/// with `*`, lists, whole-protocol and port rules, and random internet flags.
pub fn arb_lab(max_segments: usize) -> impl Strategy<Value = Lab> {
    (1..=max_segments.max(1), any::<u32>())
        .prop_flat_map(|(n, base)| {
            (
                prop::collection::vec(seg_spec(), n),
                prop::collection::vec(rule_spec(n), 0..=(2 * n).min(48)),
                Just(base),
            )
        })
        .prop_map(|(segs, rules, base)| build(&segs, &rules, base))
}

fn build(segs: &[SegSpec], rules: &[RuleSpec], base: u32) -> Lab {
    let mut cursor: u32 = u32::from(Ipv4Addr::new(10, 0, 0, 0)) + (base % 1024) * 1024;
    let mut ssh: u16 = 2300;
    let mut names = Vec::new();
    let mut b = Lab::builder(info());
    for (i, s) in segs.iter().enumerate() {
        let size = 1u32 << (32 - u32::from(s.len));
        cursor = cursor.div_ceil(size) * size + s.gap * size;
        let net = Ipv4Cidr::truncating(Ipv4Addr::from(cursor), s.len);
        cursor += size;
        let name = if s.tricky && i < TRICKY_NAMES.len() {
            TRICKY_NAMES[i].to_owned()
        } else {
            format!("s{i}-x")
        };
        let name = SegmentName::new(name).unwrap_or_else(|_| unreachable_name());
        names.push(name.clone());
        let ssh_ports =
            PortRange::new(ssh, ssh + s.ssh_width - 1).unwrap_or_else(|_| unreachable_port());
        ssh += s.ssh_width;
        let mut seg = Segment::new(name, net, ssh_ports);
        let (first, last) = (net.first(), net.last());
        if s.gw_last {
            seg.gateway = Ipv4Addr::from(last - 1);
        }
        if s.dhcp {
            seg.dhcp = Some(if s.gw_last {
                DhcpRange {
                    start: Ipv4Addr::from(first + 1),
                    end: Ipv4Addr::from(last - 2),
                }
            } else {
                DhcpRange {
                    start: Ipv4Addr::from(first + 2),
                    end: Ipv4Addr::from(last - 1),
                }
            });
        }
        seg.internet = s.internet;
        seg.tags = TAG_POOL
            .iter()
            .enumerate()
            .filter(|(k, _)| s.tags & (1 << k) != 0)
            .filter_map(|(_, t)| crate::names::TagName::new(*t).ok())
            .collect();
        b = b.segment(seg);
    }
    // Only tags some segment has can be selected (others are an error).
    let used: Vec<bool> = (0..TAG_POOL.len())
        .map(|k| segs.iter().any(|s| s.tags & (1 << k) != 0))
        .collect();
    for r in rules {
        let pick = |ix: &[usize], tag: Option<usize>| {
            let mut v: Vec<SegmentName> = ix.iter().map(|&k| names[k].clone()).collect();
            v.dedup();
            match tag.filter(|&t| used[t]) {
                Some(t) => Selector::Tagged {
                    names: v,
                    tags: crate::names::TagName::new(TAG_POOL[t])
                        .into_iter()
                        .collect(),
                },
                None => Selector::Names(v),
            }
        };
        let mut rule = AllowRule::new(
            if r.from_all {
                Selector::All
            } else {
                pick(&r.from, r.from_tag)
            },
            if r.to_all {
                Selector::All
            } else {
                pick(&r.to, r.to_tag)
            },
        );
        if !r.except.is_empty() || r.except_tag.is_some_and(|t| used[t]) {
            rule.except = pick(&r.except, r.except_tag);
        }
        rule.proto = r.proto;
        if r.proto.has_ports() {
            rule.ports = r
                .ports
                .iter()
                .filter_map(|&(a, z)| PortRange::new(a, z).ok())
                .collect();
        }
        b = if r.deny { b.deny(rule) } else { b.allow(rule) };
    }
    match b.build() {
        Ok(lab) => lab,
        #[allow(clippy::panic)]
        Err(e) => panic!(
            "testkit generated an invalid lab:\n{}",
            e.render(&crate::diag::Style::plain())
        ),
    }
}

#[allow(clippy::panic)]
fn unreachable_name() -> SegmentName {
    panic!("testkit segment names are valid by construction")
}

#[allow(clippy::panic)]
fn unreachable_port() -> PortRange {
    panic!("testkit port ranges are valid by construction")
}

fn info() -> LabInfo {
    #[allow(clippy::expect_used)]
    LabInfo {
        name: LabName::new("generated").expect("valid"),
        domain: DomainName::new("lab.test").expect("valid"),
        uplink: Some(InterfaceName::new(UPLINK).expect("valid")),
    }
}

/// Random packets for a lab: addresses inside segments (gateways, network and
/// broadcast included) and outside, every protocol class, ports near the
/// rules' ports, every conntrack state, uplink and other output interfaces.
pub fn arb_packet(lab: &Lab) -> impl Strategy<Value = Packet> + use<> {
    let nets: Vec<Ipv4Cidr> = lab.segments().iter().map(|s| s.cidr).collect();
    let mut ports: Vec<u16> = PORT_POOL.to_vec();
    for s in lab.segments() {
        ports.extend([s.ssh_ports.start(), s.ssh_ports.end()]);
    }
    for r in lab.rules() {
        for p in &r.ports {
            ports.extend([
                p.start().saturating_sub(1).max(1),
                p.start(),
                p.end(),
                p.end().saturating_add(1),
            ]);
        }
    }
    ports.sort_unstable();
    ports.dedup();
    let addr = {
        prop_oneof![
            4 => (0..nets.len(), any::<u32>()).prop_map(move |(i, off)| {
                let c = nets[i];
                Ipv4Addr::from(c.first() + (off % u32::try_from(c.size()).unwrap_or(u32::MAX)))
            }),
            1 => prop::sample::select(vec![
                Ipv4Addr::new(203, 0, 113, 7),
                Ipv4Addr::new(172, 17, 0, 2),
                Ipv4Addr::new(192, 168, 122, 10),
                Ipv4Addr::new(198, 51, 100, 1),
            ]),
        ]
    };
    let l4 = prop_oneof![4 => Just(L4::TCP), 2 => Just(L4::UDP), 2 => Just(L4::ICMP), 1 => Just(L4(47)), 1 => Just(L4(132))];
    let port = prop_oneof![3 => prop::sample::select(ports), 1 => 1u16..];
    let ct = prop_oneof![
        7 => Just(CtState::New),
        1 => Just(CtState::Established),
        1 => Just(CtState::Related),
        1 => Just(CtState::Invalid)
    ];
    let oif = prop_oneof![3 => Just(UPLINK.to_owned()), 1 => Just("docker0".to_owned()), 1 => Just("virbr3".to_owned())];
    (addr.clone(), addr, l4, port, ct, oif).prop_map(|(src, dst, l4, port, ct, oif)| Packet {
        src,
        dst,
        l4,
        dport: l4.has_ports().then_some(port),
        ct,
        oif,
    })
}

/// A random lab with `packets` random packets for it.
pub fn arb_lab_with_packets(
    max_segments: usize,
    packets: usize,
) -> impl Strategy<Value = (Lab, Vec<Packet>)> {
    arb_lab(max_segments).prop_flat_map(move |lab| {
        let ps = prop::collection::vec(arb_packet(&lab), packets);
        (Just(lab), ps)
    })
}

/// SplitMix64: a tiny deterministic generator, so synthetic labs are the same on every machine.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    /// Seeded generator.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        // 53 random bits make an exactly representable fraction in [0, 1).
        #[allow(clippy::cast_precision_loss)]
        let x = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        x < p
    }
}

/// Shape of a synthetic benchmark lab.
#[derive(Debug, Clone, Copy)]
pub struct Synthetic {
    /// Number of segments.
    pub segments: usize,
    /// Fraction of ordered segment pairs that get some access.
    pub density: f64,
    /// Fraction of allowed pairs restricted to tcp ports instead of any protocol.
    pub port_rules: f64,
    /// Seed.
    pub seed: u64,
}

impl Synthetic {
    /// `n` segments, 30% of pairs allowed, a tenth of them port-restricted.
    #[must_use]
    pub fn benchmark(n: usize) -> Self {
        Self {
            segments: n,
            density: 0.3,
            port_rules: 0.1,
            seed: 0x1ab_2026,
        }
    }

    /// Build the lab: segment `i` is `10.(i/256).(i%256).0/24`; each source gets one
    /// any-protocol rule and one tcp rule (ports 5432 and 3306-3307) listing its destinations.
    #[must_use]
    pub fn lab(&self) -> Lab {
        let n = self.segments.clamp(1, 65_536);
        let mut rng = SplitMix::new(self.seed);
        let names: Vec<SegmentName> = (0..n)
            .map(|i| SegmentName::new(format!("s{i}")).unwrap_or_else(|_| unreachable_name()))
            .collect();
        let mut b = Lab::builder(info());
        for (i, name) in names.iter().enumerate() {
            let mut seg = benchmark_segment(name, i, n);
            seg.internet = rng.chance(0.8);
            b = b.segment(seg);
        }
        let ports = db_ports();
        for a in 0..n {
            let (mut any, mut tcp) = (Vec::new(), Vec::new());
            for (bi, name) in names.iter().enumerate() {
                if bi != a && rng.chance(self.density) {
                    if rng.chance(self.port_rules) {
                        tcp.push(name.clone());
                    } else {
                        any.push(name.clone());
                    }
                }
            }
            if !any.is_empty() {
                b = b.allow(AllowRule::new(
                    Selector::one(names[a].clone()),
                    Selector::Names(any),
                ));
            }
            if !tcp.is_empty() {
                let mut r = AllowRule::new(Selector::one(names[a].clone()), Selector::Names(tcp));
                r.proto = Proto::Tcp;
                r.ports.clone_from(&ports);
                b = b.allow(r);
            }
        }
        match b.build() {
            Ok(lab) => lab,
            #[allow(clippy::panic)]
            Err(e) => panic!(
                "synthetic lab is invalid:\n{}",
                e.render(&crate::diag::Style::plain())
            ),
        }
    }
}

/// Segment `i` of an `n`-segment benchmark lab: `10.(i/256).(i%256).0/24`,
/// SSH ports from 10000 in ranges sized so that every segment fits.
fn benchmark_segment(name: &SegmentName, i: usize, n: usize) -> Segment {
    let width = u16::try_from((50_000 / n.max(1)).clamp(1, 10)).unwrap_or(1);
    let i32_ = u32::try_from(i).unwrap_or(0);
    let net = Ipv4Cidr::truncating(
        Ipv4Addr::new(10, (i32_ / 256) as u8, (i32_ % 256) as u8, 0),
        24,
    );
    let start = 10_000 + u16::try_from(i).unwrap_or(0).saturating_mul(width);
    let ssh = PortRange::new(start, start + width - 1).unwrap_or_else(|_| unreachable_port());
    Segment::new(name.clone(), net, ssh)
}

/// The benchmark labs' database ports: 5432 and 3306-3307.
fn db_ports() -> Vec<PortRange> {
    vec![
        PortRange::single(5432).unwrap_or_else(|_| unreachable_port()),
        PortRange::new(3306, 3307).unwrap_or_else(|_| unreachable_port()),
    ]
}

/// The benchmark lab's grouped counterpart: `n` segments in tiers of about
/// 50, tagged `tier-K`; each tier may reach about 30% of the tiers with any
/// protocol and a tenth of them on the database ports, through one rule per
/// tier naming tags; a management segment (`s0`) reaches everything but the
/// last tier (`to = "*"` with `except`); and every tier's first segment is
/// denied the next tier. [`flatten`] writes the same matrix the way the flat
/// benchmark lab is written, a destination list per source.
#[must_use]
pub fn grouped(n: usize) -> Lab {
    use crate::names::TagName;
    let n = n.clamp(2, 65_536);
    let tiers = n.div_ceil(50).max(2);
    let mut rng = SplitMix::new(0x1ab_6209);
    let tag = |k: usize| TagName::new(format!("tier-{k}")).unwrap_or_else(|_| unreachable_tag());
    let names: Vec<SegmentName> = (0..n)
        .map(|i| SegmentName::new(format!("s{i}")).unwrap_or_else(|_| unreachable_name()))
        .collect();
    let mut b = Lab::builder(info());
    for (i, name) in names.iter().enumerate() {
        let mut seg = benchmark_segment(name, i, n).with_tags([tag(i % tiers)]);
        seg.internet = rng.chance(0.8);
        b = b.segment(seg);
    }
    let ports = db_ports();
    let sel = |ks: &[usize]| Selector::Tagged {
        names: Vec::new(),
        tags: ks.iter().map(|&k| tag(k)).collect(),
    };
    for k in 0..tiers {
        let (mut any, mut db) = (Vec::new(), Vec::new());
        for d in 0..tiers {
            if rng.chance(0.3) {
                any.push(d);
            } else if rng.chance(0.1) {
                db.push(d);
            }
        }
        if !any.is_empty() {
            b = b.allow(AllowRule::new(sel(&[k]), sel(&any)));
        }
        if !db.is_empty() {
            b = b.allow(
                AllowRule::new(sel(&[k]), sel(&db))
                    .proto(Proto::Tcp)
                    .ports(ports.clone()),
            );
        }
    }
    b = b.allow(
        AllowRule::new(Selector::one(names[0].clone()), Selector::All).except(sel(&[tiers - 1])),
    );
    for k in 0..tiers {
        if let Some(first) = names.get(k) {
            b = b.deny(AllowRule::new(
                Selector::one(first.clone()),
                sel(&[(k + 1) % tiers]),
            ));
        }
    }
    match b.build() {
        Ok(lab) => lab,
        #[allow(clippy::panic)]
        Err(e) => panic!(
            "grouped lab is invalid:\n{}",
            e.render(&crate::diag::Style::plain())
        ),
    }
}

/// The same matrix without tags, `except`, services or deny rules: per
/// source, one rule per kind of access listing its destinations, as the flat
/// benchmark lab is written. Exact for labs whose deny rules take whole
/// pairs away (as [`grouped`]'s do); a deny of some ports of an any-protocol
/// allow has no flat equivalent without deny rules.
#[must_use]
pub fn flatten(lab: &Lab) -> Lab {
    use crate::reach::{PortAccess, RulesBySource, Scratch, source_access};
    let segs = lab.segments();
    let mut b = Lab::builder(lab.info().clone());
    for s in segs {
        let mut s = s.clone();
        s.tags.clear();
        b = b.segment(s);
    }
    let rules = RulesBySource::new(lab);
    let mut scratch = Scratch::default();
    for a in 0..segs.len() {
        let a32 = u32::try_from(a).unwrap_or(u32::MAX);
        let from = || Selector::one(segs[a].name.clone());
        // (proto, ports) -> destinations, in first-seen order.
        let mut groups: Vec<(Access, Vec<SegmentName>)> = Vec::new();
        let mut add = |key: (Proto, Vec<PortRange>), dst: &SegmentName| match groups
            .iter_mut()
            .find(|(k, _)| *k == key)
        {
            Some((_, v)) => v.push(dst.clone()),
            None => groups.push((key, vec![dst.clone()])),
        };
        for (bi, acc) in source_access(lab, &rules, &mut scratch, a32) {
            let dst = &segs[bi as usize].name;
            if acc.any {
                add((Proto::Any, Vec::new()), dst);
                continue;
            }
            for (pa, proto) in [(&acc.tcp, Proto::Tcp), (&acc.udp, Proto::Udp)] {
                match pa {
                    PortAccess::None => {}
                    PortAccess::All => add((proto, Vec::new()), dst),
                    PortAccess::Ports(set) => add((proto, set.ranges().to_vec()), dst),
                }
            }
            if acc.icmp {
                add((Proto::Icmp, Vec::new()), dst);
            }
        }
        for ((proto, ports), to) in groups {
            b = b.allow(
                AllowRule::new(from(), Selector::Names(to))
                    .proto(proto)
                    .ports(ports),
            );
        }
    }
    match b.build() {
        Ok(lab) => lab,
        #[allow(clippy::panic)]
        Err(e) => panic!(
            "flattened lab is invalid:\n{}",
            e.render(&crate::diag::Style::plain())
        ),
    }
}

/// A protocol and its ports (empty: all of them).
type Access = (Proto, Vec<PortRange>);

#[allow(clippy::panic)]
fn unreachable_tag() -> crate::names::TagName {
    panic!("testkit tags are valid by construction")
}
