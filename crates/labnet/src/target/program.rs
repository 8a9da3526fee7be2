//! The compiled policy as nf_tables objects: what one netlink batch creates.
//!
//! This is the `nft` target one level down: the same table, sets, maps,
//! chains and rules, spelled as the kernel's expressions (payload loads,
//! lookups, verdicts) instead of nft syntax. It mirrors what `nft -f` 1.0.x
//! sends for [`crate::target::Target::Nft`], expression for expression, so a
//! table loaded through netlink lists exactly like one loaded by `nft -f`
//! (the kernel tests compare the two listings). Pure data: building it needs
//! no C library, and the `nftnl` feature turns it into messages.

use std::net::Ipv4Addr;

use crate::cidr::Ipv4Cidr;
use crate::ir::{PolicyIr, SourcePolicy};
use crate::proto::L4;
use crate::target::TableName;
use crate::target::layout::{self, Kind};
use crate::target::names;

/// nft's datatype ids (nftables `enum datatypes`), which the kernel stores as
/// the set key type so `nft list` prints elements the way they were written.
pub mod datatype {
    /// `ipv4_addr`
    pub const IPV4_ADDR: u32 = 7;
    /// `inet_proto`
    pub const INET_PROTO: u32 = 12;
    /// `inet_service`
    pub const INET_SERVICE: u32 = 13;
    /// `verdict` (map data)
    pub const VERDICT: u32 = 0xffff_ff00;
    /// nft packs a concatenation's types 6 bits apart.
    pub const CONCAT_SHIFT: u32 = 6;
}

/// A whole table: what the batch creates after deleting the old one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// Table name (family `ip`).
    pub table: String,
    /// Chains, base chains last (so jumps resolve before hooks see packets).
    pub chains: Vec<ChainDef>,
    /// Named sets and maps.
    pub sets: Vec<SetDef>,
    /// Rules in chain order; anonymous sets travel with the rule that uses them.
    pub rules: Vec<RuleDef>,
}

/// A chain; base chains carry a hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainDef {
    /// Name.
    pub name: String,
    /// Hook, type and priority for base chains.
    pub base: Option<BaseChain>,
}

/// The hook of a base chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BaseChain {
    /// `type filter hook forward priority filter; policy accept;`
    FilterForward,
    /// `type nat hook postrouting priority srcnat; policy accept;`
    NatPostrouting,
}

/// One field of a set key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Field {
    /// IPv4 address, 4 bytes, network order.
    Ipv4Addr,
    /// Transport protocol number, 1 byte.
    InetProto,
    /// Port, 2 bytes, network order.
    InetService,
}

impl Field {
    /// Bytes the field really has.
    #[must_use]
    pub fn width(self) -> u32 {
        match self {
            Self::Ipv4Addr => 4,
            Self::InetProto => 1,
            Self::InetService => 2,
        }
    }
    fn datatype(self) -> u32 {
        match self {
            Self::Ipv4Addr => datatype::IPV4_ADDR,
            Self::InetProto => datatype::INET_PROTO,
            Self::InetService => datatype::INET_SERVICE,
        }
    }
}

/// A named set (or verdict map) and its elements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetDef {
    /// Name.
    pub name: String,
    /// Key fields; more than one is a concatenation.
    pub key: Vec<Field>,
    /// True for a verdict map.
    pub verdict_map: bool,
    /// `Some(size)`: an exact-match hash set of that declared size, whose
    /// elements have `start == end`. `None`: an interval set.
    pub size: Option<u32>,
    /// Intervals, sorted and disjoint, inclusive at both ends.
    pub elements: Vec<Interval>,
}

impl SetDef {
    /// nft's key type id: one datatype, or a concatenation of them.
    #[must_use]
    pub fn key_type(&self) -> u32 {
        self.key
            .iter()
            .fold(0, |acc, f| (acc << datatype::CONCAT_SHIFT) | f.datatype())
    }
    /// Key length in bytes: each concatenated field is padded to 4.
    #[must_use]
    pub fn key_len(&self) -> u32 {
        if self.key.len() == 1 {
            self.key[0].width()
        } else {
            4 * u32::try_from(self.key.len()).unwrap_or(u32::MAX)
        }
    }
    /// Whether this is a concatenation (kept as start/end pairs by the kernel's
    /// pipapo set) rather than a single interval key (rbtree, start/end-flag elements).
    #[must_use]
    pub fn is_concat(&self) -> bool {
        self.key.len() > 1
    }
}

/// One element: the keys `start..=end`, and a verdict for maps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interval {
    /// First key, padded as the set key is.
    pub start: Vec<u8>,
    /// Last key (inclusive).
    pub end: Vec<u8>,
    /// Map data.
    pub verdict: Option<Verdict>,
}

/// A rule verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// accept
    Accept,
    /// drop
    Drop,
    /// jump CHAIN
    Jump(String),
}

/// Where a payload load reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Header {
    /// The IPv4 header.
    Network,
    /// The transport header.
    Transport,
}

/// A kernel register: 0 is the verdict register, 1..=4 the 16-byte ones,
/// 8..=23 the 4-byte ones that concatenations are built in.
pub type Reg = u32;

/// An nf_tables expression, as `nft --debug=netlink` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expr {
    /// `payload load LEN @ HEADER + OFFSET => reg DREG`
    Payload {
        /// Header.
        header: Header,
        /// Offset in it.
        offset: u32,
        /// Bytes.
        len: u32,
        /// Destination register.
        dreg: Reg,
    },
    /// `cmp eq|neq reg 1 DATA`
    Cmp {
        /// Negated.
        neq: bool,
        /// Bytes to compare with.
        data: Vec<u8>,
    },
    /// `bitwise reg 1 = (reg 1 & MASK) ^ 0`
    Mask(Vec<u8>),
    /// `lookup reg 1 set NAME [0x1]`, or `dreg 0` for a verdict map.
    Lookup {
        /// Set name.
        set: String,
        /// Inverted (`!= @set`).
        inverted: bool,
        /// A verdict map lookup.
        map: bool,
    },
    /// Lookup in the anonymous set carried by the rule.
    LookupAnon,
    /// `ct load state => reg 1`
    CtState,
    /// `meta load l4proto => reg DREG`
    MetaL4Proto(Reg),
    /// `meta load oifname => reg 1`
    MetaOifname,
    /// `byteorder reg R = hton(reg R, 2, 1)`: nft's no-op widening of l4proto in concatenations.
    ByteorderL4Proto(Reg),
    /// `immediate reg 0 VERDICT`
    Verdict(Verdict),
    /// `masq`
    Masq,
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleDef {
    /// The chain it is appended to.
    pub chain: String,
    /// Expressions in order.
    pub exprs: Vec<Expr>,
    /// Comment (stored as rule user data, as nft does).
    pub comment: Option<String>,
    /// An anonymous constant set this rule looks up (`meta l4proto { tcp, udp }`).
    pub anon_set: Option<Vec<L4>>,
}

const IP_SADDR: u32 = 12;
const IP_DADDR: u32 = 16;
/// NFT_REG32_00: where nft builds concatenations.
const REG32_00: Reg = 8;
const REG_1: Reg = 1;
/// conntrack state bits (`NF_CT_STATE_BIT`): invalid 1, established 2, related 4.
const CT_INVALID: u32 = 1;
const CT_ESTABLISHED_RELATED: u32 = 2 | 4;

impl Program {
    /// The objects of the compiled policy in table `table`.
    #[must_use]
    pub fn build(ir: &PolicyIr, table: &TableName) -> Self {
        let mut p = Self {
            table: table.as_str().to_owned(),
            chains: Vec::new(),
            sets: Vec::new(),
            rules: Vec::new(),
        };
        p.sets.push(addr_set(names::LAB_SET, &ir.lab_nets));
        if !ir.egress_nets.is_empty() {
            p.sets.push(addr_set(names::EGRESS_SET, &ir.egress_nets));
        }
        for sp in &ir.sources {
            p.source_sets(sp);
        }
        p.chains.push(ChainDef {
            name: names::OWNER_MARK.into(),
            base: None,
        });
        for sp in &ir.sources {
            p.source_chain(sp);
        }
        let mut by_addr: Vec<&SourcePolicy> = ir.sources.iter().collect();
        by_addr.sort_by_key(|s| s.cidr);
        p.sets.push(SetDef {
            name: names::SOURCE_MAP.into(),
            key: vec![Field::Ipv4Addr],
            verdict_map: true,
            size: None,
            elements: by_addr
                .iter()
                .map(|s| Interval {
                    verdict: Some(Verdict::Jump(names::chain(&s.segment))),
                    ..cidr_interval(s.cidr)
                })
                .collect(),
        });
        p.forward_chain(ir);
        if let Some(up) = ir.egress_uplink() {
            p.chains.push(ChainDef {
                name: names::POSTROUTING.into(),
                base: Some(BaseChain::NatPostrouting),
            });
            let mut exprs = egress_match(up);
            exprs.push(Expr::Masq);
            p.rule(names::POSTROUTING, exprs, Some("internet egress"));
        }
        p
    }

    fn rule(&mut self, chain: &str, exprs: Vec<Expr>, comment: Option<&str>) {
        self.rules.push(RuleDef {
            chain: chain.into(),
            exprs,
            comment: comment.map(str::to_owned),
            anon_set: None,
        });
    }

    fn source_sets(&mut self, sp: &SourcePolicy) {
        for set in layout::source_sets(sp) {
            let hash = set.prefix.is_some();
            let key = match set.kind {
                Kind::Any => vec![Field::Ipv4Addr],
                Kind::Proto => vec![Field::Ipv4Addr, Field::InetProto],
                Kind::Svc => vec![Field::Ipv4Addr, Field::InetProto, Field::InetService],
            };
            let elements = set
                .elems
                .iter()
                .map(|e| {
                    let (lo, hi) = if hash {
                        (e.net.addr(), e.net.addr())
                    } else {
                        (e.net.addr(), Ipv4Addr::from(e.net.last()))
                    };
                    let (start, end) = match (set.kind, e.ports) {
                        (Kind::Any, _) => (lo.octets().to_vec(), hi.octets().to_vec()),
                        (_, None) => (
                            concat(&[&lo.octets(), &[e.l4.0]]),
                            concat(&[&hi.octets(), &[e.l4.0]]),
                        ),
                        (_, Some(r)) => (
                            concat(&[&lo.octets(), &[e.l4.0], &r.start().to_be_bytes()]),
                            concat(&[&hi.octets(), &[e.l4.0], &r.end().to_be_bytes()]),
                        ),
                    };
                    Interval {
                        start,
                        end,
                        verdict: None,
                    }
                })
                .collect();
            self.sets.push(SetDef {
                name: set.name.clone(),
                key,
                verdict_map: false,
                size: set.size(),
                elements,
            });
        }
    }

    fn source_chain(&mut self, sp: &SourcePolicy) {
        let chain = names::chain(&sp.segment);
        self.chains.push(ChainDef {
            name: chain.clone(),
            base: None,
        });
        let mut same = prefix_match(IP_DADDR, sp.cidr);
        same.push(Expr::Verdict(Verdict::Accept));
        self.rule(&chain, same, Some("same segment"));
        for set in layout::source_sets(sp) {
            let mut exprs = Vec::with_capacity(8);
            if set.prefix.is_some() {
                // nft builds a masked concatenation in the 16-byte register 1
                // (its 4-byte parts are registers 8, 9, 10) and, with no
                // intervals, leaves l4proto in host order.
                exprs.push(load(Header::Network, IP_DADDR, 4, REG_1));
                if let Some(mask) = set.mask() {
                    exprs.push(Expr::Mask(mask.to_vec()));
                }
                if set.kind != Kind::Any {
                    exprs.push(Expr::MetaL4Proto(REG32_00 + 1));
                }
                if set.kind == Kind::Svc {
                    exprs.push(load(Header::Transport, 2, 2, REG32_00 + 2));
                }
            } else {
                exprs.push(load(Header::Network, IP_DADDR, 4, REG32_00));
                exprs.push(Expr::MetaL4Proto(REG32_00 + 1));
                exprs.push(Expr::ByteorderL4Proto(REG32_00 + 1));
                exprs.push(load(Header::Transport, 2, 2, REG32_00 + 2));
            }
            exprs.push(lookup(&set.name, false));
            exprs.push(Expr::Verdict(if set.deny {
                Verdict::Drop
            } else {
                Verdict::Accept
            }));
            self.rules.push(RuleDef {
                chain: chain.clone(),
                exprs,
                comment: None,
                anon_set: None,
            });
        }
    }

    fn forward_chain(&mut self, ir: &PolicyIr) {
        let fwd = names::FORWARD;
        self.chains.push(ChainDef {
            name: fwd.into(),
            base: Some(BaseChain::FilterForward),
        });
        let lab = names::LAB_SET;
        self.rule(
            fwd,
            vec![
                load(Header::Network, IP_SADDR, 4, REG_1),
                lookup(lab, true),
                load(Header::Network, IP_DADDR, 4, REG_1),
                lookup(lab, true),
                Expr::Verdict(Verdict::Accept),
            ],
            Some("not lab traffic"),
        );
        self.rule(
            fwd,
            ct_state(CT_ESTABLISHED_RELATED, Verdict::Accept),
            Some("replies"),
        );
        self.rule(fwd, ct_state(CT_INVALID, Verdict::Drop), Some("invalid"));
        if let Some(up) = ir.egress_uplink() {
            let mut exprs = egress_match(up);
            exprs.push(Expr::Verdict(Verdict::Accept));
            self.rule(fwd, exprs, Some("internet egress"));
        }
        self.rule(
            fwd,
            vec![
                load(Header::Network, IP_SADDR, 4, REG_1),
                Expr::Lookup {
                    set: names::SOURCE_MAP.into(),
                    inverted: false,
                    map: true,
                },
            ],
            None,
        );
        self.rule(
            fwd,
            vec![Expr::Verdict(Verdict::Drop)],
            Some("default deny"),
        );
    }
}

fn load(header: Header, offset: u32, len: u32, dreg: Reg) -> Expr {
    Expr::Payload {
        header,
        offset,
        len,
        dreg,
    }
}

fn lookup(set: &str, inverted: bool) -> Expr {
    Expr::Lookup {
        set: set.into(),
        inverted,
        map: false,
    }
}

fn ct_state(bits: u32, v: Verdict) -> Vec<Expr> {
    vec![
        Expr::CtState,
        Expr::Mask(bits.to_ne_bytes().to_vec()),
        Expr::Cmp {
            neq: true,
            data: vec![0; 4],
        },
        Expr::Verdict(v),
    ]
}

fn egress_match(uplink: &str) -> Vec<Expr> {
    // The kernel compares the whole IFNAMSIZ buffer, NUL-padded.
    let mut name = uplink.as_bytes().to_vec();
    name.resize(16, 0);
    vec![
        load(Header::Network, IP_SADDR, 4, REG_1),
        lookup(names::EGRESS_SET, false),
        load(Header::Network, IP_DADDR, 4, REG_1),
        lookup(names::LAB_SET, true),
        Expr::MetaOifname,
        Expr::Cmp {
            neq: false,
            data: name,
        },
    ]
}

/// `ip daddr CIDR` the way nft emits it: whole bytes are loaded and compared;
/// a prefix that ends inside a byte is masked first.
fn prefix_match(offset: u32, c: Ipv4Cidr) -> Vec<Expr> {
    let octets = c.addr().octets();
    let len = u32::from(c.len());
    if len % 8 == 0 && len > 0 {
        let bytes = (len / 8) as usize;
        vec![
            load(Header::Network, offset, len / 8, REG_1),
            Expr::Cmp {
                neq: false,
                data: octets[..bytes].to_vec(),
            },
        ]
    } else {
        let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
        vec![
            load(Header::Network, offset, 4, REG_1),
            Expr::Mask(mask.to_be_bytes().to_vec()),
            Expr::Cmp {
                neq: false,
                data: octets.to_vec(),
            },
        ]
    }
}

fn addr_set(name: &str, nets: &[Ipv4Cidr]) -> SetDef {
    SetDef {
        name: name.into(),
        key: vec![Field::Ipv4Addr],
        verdict_map: false,
        size: None,
        elements: nets.iter().map(|&c| cidr_interval(c)).collect(),
    }
}

fn cidr_interval(c: Ipv4Cidr) -> Interval {
    Interval {
        start: c.addr().octets().to_vec(),
        end: Ipv4Addr::from(c.last()).octets().to_vec(),
        verdict: None,
    }
}

/// Concatenation data: each field padded to a 4-byte register.
fn concat(fields: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 * fields.len());
    for f in fields {
        out.extend_from_slice(f);
        out.resize(out.len().next_multiple_of(4), 0);
    }
    out
}

/// The elements of a single-field interval set the way the kernel's rbtree
/// set takes them: a start key for each interval and, one past its end, a key
/// flagged interval-end; a leading flagged 0 when the first interval does not
/// start at 0 (nft does this so lookups below the first interval miss).
#[must_use]
pub fn rbtree_elements(set: &SetDef) -> Vec<(Vec<u8>, bool, Option<&Verdict>)> {
    let mut out = Vec::with_capacity(2 * set.elements.len() + 1);
    if set
        .elements
        .first()
        .is_some_and(|e| e.start.iter().any(|&b| b != 0))
    {
        out.push((vec![0; set.key_len() as usize], true, None));
    }
    for e in &set.elements {
        out.push((e.start.clone(), false, e.verdict.as_ref()));
        if let Some(next) = increment(&e.end) {
            out.push((next, true, None));
        }
    }
    out
}

/// Big-endian +1; `None` past the all-ones key.
fn increment(key: &[u8]) -> Option<Vec<u8>> {
    let mut k = key.to_vec();
    for b in k.iter_mut().rev() {
        let (v, carry) = b.overflowing_add(1);
        *b = v;
        if !carry {
            return Some(k);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concat_key_types_match_nft() {
        // Values read off `nft --debug=mnl` (nft 1.0.6) for the same sets.
        let set = |key| SetDef {
            name: String::new(),
            key,
            verdict_map: false,
            size: None,
            elements: vec![],
        };
        let svc = set(vec![Field::Ipv4Addr, Field::InetProto, Field::InetService]);
        assert_eq!((svc.key_type(), svc.key_len()), (0x730d, 12));
        let proto = set(vec![Field::Ipv4Addr, Field::InetProto]);
        assert_eq!((proto.key_type(), proto.key_len()), (0x1cc, 8));
    }

    #[test]
    fn rbtree_elements_match_nft_for_adjacent_networks() {
        // nft --debug=netlink for `set lab` of the reference lab:
        // 0 end, 10.0.0.0, 10.0.1.0 end, 10.0.1.0, ..., 10.0.5.0 end.
        let p = Program::build(
            &PolicyIr::build(&crate::reference::lab()),
            &TableName::default(),
        );
        let lab = p.sets.iter().find(|s| s.name == "lab").unwrap();
        let els = rbtree_elements(lab);
        assert_eq!(els.len(), 11);
        assert_eq!(els[0], (vec![0, 0, 0, 0], true, None));
        assert_eq!(els[1], (vec![10, 0, 0, 0], false, None));
        assert_eq!(els[2], (vec![10, 0, 1, 0], true, None));
        assert_eq!(els[3], (vec![10, 0, 1, 0], false, None));
        assert_eq!(els[10], (vec![10, 0, 5, 0], true, None));
    }

    #[test]
    fn prefix_match_masks_only_partial_bytes() {
        let c: Ipv4Cidr = "10.1.1.0/25".parse().unwrap();
        let e = prefix_match(IP_DADDR, c);
        assert_eq!(e[1], Expr::Mask(vec![255, 255, 255, 128]));
        let c: Ipv4Cidr = "10.1.0.0/16".parse().unwrap();
        let e = prefix_match(IP_DADDR, c);
        assert_eq!(
            e,
            vec![
                load(Header::Network, IP_DADDR, 2, REG_1),
                Expr::Cmp {
                    neq: false,
                    data: vec![10, 1]
                }
            ]
        );
    }

    #[test]
    fn every_lookup_names_a_set_of_the_program() {
        let p = Program::build(
            &PolicyIr::build(&crate::reference::lab()),
            &TableName::default(),
        );
        for r in &p.rules {
            for e in &r.exprs {
                if let Expr::Lookup { set, .. } = e {
                    assert!(p.sets.iter().any(|s| &s.name == set), "{set}");
                }
            }
            assert!(p.chains.iter().any(|c| c.name == r.chain));
        }
    }

    #[test]
    fn increment_carries_and_stops_at_all_ones() {
        assert_eq!(increment(&[10, 0, 0, 255]), Some(vec![10, 0, 1, 0]));
        assert_eq!(increment(&[255; 4]), None);
    }
}
