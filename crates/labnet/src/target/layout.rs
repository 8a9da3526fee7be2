//! How one source segment's allowed destinations are laid out as kernel sets.
//!
//! Every nft-family target (the `nft` script, libnftables JSON and the netlink
//! [`Program`](super::program::Program)) renders this one layout, so the three
//! load identical objects.
//!
//! The layout is exact-match hash sets keyed on the destination address
//! masked to the destinations' prefix length (`ip daddr & 255.255.255.0
//! @web_any_24`), one set per prefix length and kind, declared with an
//! explicit `size` so that the kernel picks its fixed-size hash instead of the
//! resizable one (measured at N=1000: 0.41 s to load against 1.28 s for
//! interval sets, half the kernel memory, about 2 µs less per new
//! connection). A masked lookup in the set of /L networks is exactly "the
//! destination lies in one of them", so nothing is approximated.
//!
//! Only port ranges wider than [`EXPAND_PORTS`] ports keep an interval
//! concatenation (the kernel's pipapo set), because a hash would need one
//! element per port; it is never used for addresses alone.

use crate::cidr::Ipv4Cidr;
use crate::ir::SourcePolicy;
use crate::names::SegmentName;
use crate::port::PortRange;
use crate::proto::L4;

/// Port ranges of at most this many ports become one hash element per port.
pub const EXPAND_PORTS: u32 = 16;

/// What a set's key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `ipv4_addr`: destinations that may receive anything.
    Any,
    /// `ipv4_addr . inet_proto`: destinations that may receive a whole protocol.
    Proto,
    /// `ipv4_addr . inet_proto . inet_service`: single ports.
    Svc,
}

/// One element: which of the fields are in the key depends on the set's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Elem {
    /// The destination network (hash sets store its address only).
    pub net: Ipv4Cidr,
    /// Protocol (Proto, Svc).
    pub l4: L4,
    /// Ports (Svc only); a single port in hash sets.
    pub ports: Option<PortRange>,
}

/// One set of a source's chain, and the rule that looks it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Set {
    /// Set name.
    pub name: String,
    /// What the key holds.
    pub kind: Kind,
    /// Looked up by a `drop` rule (a deny rule's entries, checked first).
    pub deny: bool,
    /// `Some(len)`: a hash set keyed on the destination masked to `len` bits.
    /// `None`: an interval concatenation (only for wide port ranges).
    pub prefix: Option<u8>,
    /// Elements, sorted.
    pub elems: Vec<Elem>,
}

impl Set {
    /// The declared `size` of a hash set: the element count rounded up to a
    /// power of two (at least 16). The kernel refuses elements beyond it, so
    /// an incremental apply that outgrows it replaces the set; a function of
    /// the count alone keeps an incremental apply listing like a full load.
    #[must_use]
    pub fn size(&self) -> Option<u32> {
        self.prefix.map(|_| size_for(self.elems.len()))
    }

    /// The network mask for the masked lookup, when one is needed (`None` for /32).
    #[must_use]
    pub fn mask(&self) -> Option<[u8; 4]> {
        match self.prefix {
            Some(len) if len < 32 => Some(
                u32::MAX
                    .checked_shl(32 - u32::from(len))
                    .unwrap_or(0)
                    .to_be_bytes(),
            ),
            _ => None,
        }
    }
}

/// Declared size for `n` elements.
#[must_use]
pub fn size_for(n: usize) -> u32 {
    u32::try_from(n.max(16).next_power_of_two()).unwrap_or(u32::MAX)
}

/// The sets of one source, in the order of its chain's rules: deny sets
/// (looked up by `drop` rules) before allow sets.
#[must_use]
pub fn source_sets(sp: &SourcePolicy) -> Vec<Set> {
    let mut out = Vec::new();
    kind_sets(
        &mut out,
        &sp.segment,
        true,
        &sp.deny_any,
        &sp.deny_protos,
        &sp.deny_services,
    );
    kind_sets(
        &mut out,
        &sp.segment,
        false,
        &sp.any,
        &sp.protos,
        &sp.services,
    );
    out
}

fn kind_sets(
    out: &mut Vec<Set>,
    s: &SegmentName,
    deny: bool,
    any: &[Ipv4Cidr],
    protos: &[(Ipv4Cidr, L4)],
    services: &[(Ipv4Cidr, L4, PortRange)],
) {
    by_prefix(
        out,
        s,
        deny,
        Kind::Any,
        any.iter().map(|&net| elem(net, L4(0), None)),
    );
    by_prefix(
        out,
        s,
        deny,
        Kind::Proto,
        protos.iter().map(|&(net, l4)| elem(net, l4, None)),
    );
    let mut wide = Vec::new();
    let mut singles = Vec::with_capacity(services.len());
    for &(net, l4, r) in services {
        if r.count() <= EXPAND_PORTS {
            singles.extend((r.start()..=r.end()).map(|p| elem(net, l4, Some(p))));
        } else {
            wide.push(Elem {
                net,
                l4,
                ports: Some(r),
            });
        }
    }
    by_prefix(out, s, deny, Kind::Svc, singles.into_iter());
    if !wide.is_empty() {
        wide.sort_unstable();
        out.push(Set {
            name: format!("{s}_{}svcr", if deny { "deny_" } else { "" }),
            kind: Kind::Svc,
            deny,
            prefix: None,
            elems: wide,
        });
    }
}

fn elem(net: Ipv4Cidr, l4: L4, port: Option<u16>) -> Elem {
    Elem {
        net,
        l4,
        ports: port.and_then(|p| PortRange::single(p).ok()),
    }
}

/// Split `elems` by prefix length into hash sets named `<segment>_<kind>_<len>`,
/// longest prefix first (any order is exact; this one is deterministic).
fn by_prefix(
    out: &mut Vec<Set>,
    s: &SegmentName,
    deny: bool,
    kind: Kind,
    elems: impl Iterator<Item = Elem>,
) {
    let mut elems: Vec<Elem> = elems.collect();
    if elems.is_empty() {
        return;
    }
    let order = |a: &Elem, b: &Elem| b.net.len().cmp(&a.net.len()).then(a.cmp(b));
    // The IR's lists come sorted by address; with one prefix length that is
    // already this order, and checking is cheaper than sorting.
    if !elems.is_sorted_by(|a, b| order(a, b).is_le()) {
        elems.sort_unstable_by(order);
    }
    let word = match kind {
        Kind::Any => "any",
        Kind::Proto => "proto",
        Kind::Svc => "svc",
    };
    let deny_word = if deny { "deny_" } else { "" };
    let set = |len: u8, elems: Vec<Elem>| Set {
        name: format!("{s}_{deny_word}{word}_{len}"),
        kind,
        deny,
        prefix: Some(len),
        elems,
    };
    // Sorted longest prefix first, so one length throughout means first and
    // last agree; then the list is the set's as it is, not copied.
    if let (Some(first), Some(last)) = (elems.first(), elems.last())
        && first.net.len() == last.net.len()
    {
        let len = first.net.len();
        out.push(set(len, elems));
        return;
    }
    for group in elems.chunk_by(|a, b| a.net.len() == b.net.len()) {
        out.push(set(group[0].net.len(), group.to_vec()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Ipv4Cidr {
        s.parse().unwrap()
    }

    #[test]
    fn one_hash_set_per_prefix_length_and_wide_ranges_apart() {
        let sp = SourcePolicy {
            segment: "web".parse().unwrap(),
            cidr: cidr("10.0.0.0/24"),
            any: vec![
                cidr("10.0.1.0/24"),
                cidr("10.1.0.0/16"),
                cidr("10.0.2.0/24"),
            ],
            protos: vec![(cidr("10.0.3.0/25"), L4::UDP)],
            services: vec![
                (
                    cidr("10.0.4.0/24"),
                    L4::TCP,
                    PortRange::new(3306, 3307).unwrap(),
                ),
                (
                    cidr("10.0.4.0/24"),
                    L4::TCP,
                    PortRange::new(8000, 8999).unwrap(),
                ),
            ],
            deny_any: vec![],
            deny_protos: vec![],
            deny_services: vec![],
        };
        let sets = source_sets(&sp);
        let names: Vec<&str> = sets.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "web_any_24",
                "web_any_16",
                "web_proto_25",
                "web_svc_24",
                "web_svcr"
            ]
        );
        assert_eq!(sets[0].elems.len(), 2);
        assert_eq!(sets[3].elems.len(), 2, "3306 and 3307 expanded");
        assert_eq!(sets[4].prefix, None);
        assert_eq!(sets[2].mask(), Some([255, 255, 255, 128]));
        assert_eq!(sets[0].size(), Some(16));
        assert_eq!(sets[4].size(), None);
        assert_eq!(size_for(17), 32);
        assert_eq!(size_for(1024), 1024);
    }
}
