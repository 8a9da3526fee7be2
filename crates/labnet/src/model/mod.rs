//! The validated lab: what the `[lab]`, `[[segment]]` and `[policy]` sections say.
//!
//! A [`Lab`] only exists after validation (from a file with
//! [`crate::labfile::parse`] or from code with [`LabBuilder`]), so everything
//! downstream (compiler, queries, matrix) may rely on its invariants: segment
//! names unique, networks disjoint, every rule naming known segments.
//!
//! The validation lives here, in `model::validate`: the lab-file reader and the
//! builder both produce a draft (`model::draft`) and hand it over, so nothing in the
//! model depends on how a lab was written down.
//!
//! ```
//! use labnet::{AllowRule, Lab, LabInfo, Segment, Selector};
//!
//! let info = LabInfo::new("small".parse()?, "lab.local".parse()?, None);
//! let lab = Lab::builder(info)
//!     .segment(Segment::new("app".parse()?, "10.1.0.0/24".parse()?, "2201-2210".parse()?).with_internet(false))
//!     .segment(Segment::new("db".parse()?, "10.1.1.0/24".parse()?, "2211-2220".parse()?).with_internet(false))
//!     .allow(AllowRule::new(Selector::one("app".parse()?), Selector::one("db".parse()?)))
//!     .build()?;
//! assert_eq!(lab.segments().len(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub(crate) mod draft;
mod fxhash;
mod validate;

pub use validate::Spans;
pub(crate) use validate::validate;
#[cfg(test)]
pub(crate) use validate::validate_on;

use std::net::Ipv4Addr;

use serde::Serialize;

use crate::cidr::Ipv4Cidr;
use crate::names::{DomainName, InterfaceName, LabName, SegmentName, TagName};
use crate::port::PortRange;
use crate::proto::Proto;

/// The `[lab]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct LabInfo {
    /// The lab's name.
    pub name: LabName,
    /// DNS domain of every segment.
    pub domain: DomainName,
    /// Host interface toward the internet; required when any segment has internet egress.
    pub uplink: Option<InterfaceName>,
}

impl LabInfo {
    /// The `[lab]` section's fields.
    #[must_use]
    pub fn new(name: LabName, domain: DomainName, uplink: Option<InterfaceName>) -> Self {
        Self {
            name,
            domain,
            uplink,
        }
    }
}

/// A DHCP range, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DhcpRange {
    /// First leased address.
    pub start: Ipv4Addr,
    /// Last leased address.
    pub end: Ipv4Addr,
}

impl DhcpRange {
    /// The range `start..=end` (checked against its segment when the lab is built).
    #[must_use]
    pub fn new(start: Ipv4Addr, end: Ipv4Addr) -> Self {
        Self { start, end }
    }

    /// Whether `ip` is leased from this range.
    #[must_use]
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        self.start <= ip && ip <= self.end
    }
}

/// One `[[segment]]`: an isolated network, like an AWS VPC subnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Segment {
    /// Unique name.
    pub name: SegmentName,
    /// Its network.
    pub cidr: Ipv4Cidr,
    /// The host's address in the segment (default: the first host address).
    pub gateway: Ipv4Addr,
    /// Leased addresses; `None` means static addresses only.
    pub dhcp: Option<DhcpRange>,
    /// Host ports forwarded to SSH in this segment; never contains 22.
    pub ssh_ports: PortRange,
    /// Whether the segment may open connections to the internet (NAT via the uplink).
    pub internet: bool,
    /// Tags, for rules that select segments by `"tag:NAME"`.
    pub tags: Vec<TagName>,
}

impl Segment {
    /// A segment with the default gateway, no DHCP and internet egress on.
    pub fn new(name: SegmentName, cidr: Ipv4Cidr, ssh_ports: PortRange) -> Self {
        let gateway = cidr.first_host().unwrap_or(cidr.addr());
        Self {
            name,
            cidr,
            gateway,
            dhcp: None,
            ssh_ports,
            internet: true,
            tags: Vec::new(),
        }
    }

    /// With these tags.
    #[must_use]
    pub fn with_tags(mut self, tags: impl IntoIterator<Item = TagName>) -> Self {
        self.tags = tags.into_iter().collect();
        self
    }

    /// With this gateway instead of the first host address.
    #[must_use]
    pub fn with_gateway(mut self, gateway: Ipv4Addr) -> Self {
        self.gateway = gateway;
        self
    }

    /// With a DHCP range.
    #[must_use]
    pub fn with_dhcp(mut self, dhcp: DhcpRange) -> Self {
        self.dhcp = Some(dhcp);
        self
    }

    /// With internet egress on or off.
    #[must_use]
    pub fn with_internet(mut self, internet: bool) -> Self {
        self.internet = internet;
        self
    }
}

/// Which segments a rule's `from`, `to` or `except` names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Selector {
    /// `"*"`: every segment (for `to`: every segment other than the source).
    All,
    /// Named segments.
    Names(Vec<SegmentName>),
    /// Named segments and every segment carrying one of the tags
    /// (`["db", "tag:app"]` in a lab file).
    Tagged {
        /// Segments by name.
        names: Vec<SegmentName>,
        /// Segments by tag.
        tags: Vec<TagName>,
    },
}

impl Selector {
    /// A single name.
    #[must_use]
    pub fn one(name: SegmentName) -> Self {
        Self::Names(vec![name])
    }

    /// Every segment with this tag.
    #[must_use]
    pub fn tag(tag: TagName) -> Self {
        Self::Tagged {
            names: Vec::new(),
            tags: vec![tag],
        }
    }

    /// Whether this selects nothing by construction (an empty list).
    #[must_use]
    pub fn is_empty_list(&self) -> bool {
        match self {
            Self::All => false,
            Self::Names(n) => n.is_empty(),
            Self::Tagged { names, tags } => names.is_empty() && tags.is_empty(),
        }
    }

    /// Whether segment `seg` is selected (`"*"` selects every segment).
    #[must_use]
    pub fn selects(&self, seg: &Segment) -> bool {
        match self {
            Self::All => true,
            Self::Names(ns) => ns.contains(&seg.name),
            Self::Tagged { names, tags } => {
                names.contains(&seg.name) || tags.iter().any(|t| seg.tags.contains(t))
            }
        }
    }
}

/// One `[[policy.allow]]` rule, or (the same shape) one `[[policy.deny]]` rule.
///
/// A rule that names service sets is one of these per protocol of its
/// services, each citing the same rule of the file ([`Lab::rule_origin`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct AllowRule {
    /// Segments that may open connections.
    pub from: Selector,
    /// Segments they may open connections to.
    pub to: Selector,
    /// Segments taken out of `to` (empty: none).
    #[serde(skip_serializing_if = "Selector::is_empty_list")]
    pub except: Selector,
    /// Protocol restriction.
    pub proto: Proto,
    /// Destination ports (tcp/udp only); empty means every port.
    pub ports: Vec<PortRange>,
}

impl AllowRule {
    /// A rule allowing everything from `from` to `to`.
    #[must_use]
    pub fn new(from: Selector, to: Selector) -> Self {
        Self {
            from,
            to,
            except: Selector::Names(Vec::new()),
            proto: Proto::Any,
            ports: Vec::new(),
        }
    }

    /// Not to these segments.
    #[must_use]
    pub fn except(mut self, except: Selector) -> Self {
        self.except = except;
        self
    }

    /// Only this protocol.
    #[must_use]
    pub fn proto(mut self, proto: Proto) -> Self {
        self.proto = proto;
        self
    }

    /// Only these destination ports (tcp or udp).
    #[must_use]
    pub fn ports(mut self, ports: impl IntoIterator<Item = PortRange>) -> Self {
        self.ports = ports.into_iter().collect();
        self
    }
}

/// A rule with its segment names resolved to indices into [`Lab::segments`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// `None` for `*`.
    pub(crate) from: Option<Vec<u32>>,
    /// `None` for `*` (then minus `except`); a list already has `except` taken out.
    pub(crate) to: Option<Vec<u32>>,
    /// Sorted; only for `to = "*"`.
    pub(crate) except: Vec<u32>,
}

/// A validated lab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lab {
    #[serde(rename = "lab")]
    info: LabInfo,
    #[serde(rename = "segment")]
    segments: Vec<Segment>,
    #[serde(rename = "allow")]
    rules: Vec<AllowRule>,
    #[serde(skip)]
    resolved: Vec<Resolved>,
    #[serde(rename = "deny", skip_serializing_if = "Vec::is_empty")]
    denies: Vec<AllowRule>,
    #[serde(skip)]
    denies_resolved: Vec<Resolved>,
    /// Allow rule index to its `[[policy.allow]]` table's index.
    #[serde(skip)]
    origin: Vec<usize>,
    /// Deny rule index to its `[[policy.deny]]` table's index.
    #[serde(skip)]
    deny_origin: Vec<usize>,
    #[serde(skip)]
    index: fxhash::FxMap<SegmentName, u32>,
}

impl Lab {
    /// Only the validator builds labs.
    pub(crate) fn from_validated(
        info: LabInfo,
        segments: Vec<Segment>,
        allows: RuleList,
        denies: RuleList,
    ) -> Self {
        let RuleList {
            rules,
            resolved,
            origin,
        } = allows;
        let index: fxhash::FxMap<SegmentName, u32> = segments
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), u32::try_from(i).unwrap_or(u32::MAX)))
            .collect();
        Self {
            info,
            segments,
            rules,
            resolved,
            denies: denies.rules,
            denies_resolved: denies.resolved,
            origin,
            deny_origin: denies.origin,
            index,
        }
    }

    /// Start building a lab in code.
    #[must_use]
    pub fn builder(info: LabInfo) -> LabBuilder {
        LabBuilder {
            info,
            segments: Vec::new(),
            rules: Vec::new(),
            denies: Vec::new(),
        }
    }

    /// The `[lab]` section.
    #[must_use]
    pub fn info(&self) -> &LabInfo {
        &self.info
    }

    /// Segments, in lab-file order.
    #[must_use]
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Allow rules, in lab-file order.
    #[must_use]
    pub fn rules(&self) -> &[AllowRule] {
        &self.rules
    }

    /// Deny rules, in lab-file order. A new connection between two segments
    /// is allowed when an allow rule matches it and no deny rule does: deny
    /// wins, whatever the order in the file.
    #[must_use]
    pub fn deny_rules(&self) -> &[AllowRule] {
        &self.denies
    }

    /// The `[[policy.allow]]` table (by index in the file) allow rule `i`
    /// came from; rules naming several protocols of service sets are split.
    #[must_use]
    pub fn rule_origin(&self, i: usize) -> usize {
        self.origin.get(i).copied().unwrap_or(i)
    }

    /// The `[[policy.deny]]` table deny rule `i` came from.
    #[must_use]
    pub fn deny_origin(&self, i: usize) -> usize {
        self.deny_origin.get(i).copied().unwrap_or(i)
    }

    /// The segment called `name`.
    #[must_use]
    pub fn segment(&self, name: &str) -> Option<&Segment> {
        self.segment_index(name)
            .and_then(|i| self.segments.get(i as usize))
    }

    /// Index of the segment called `name`.
    #[must_use]
    pub fn segment_index(&self, name: &str) -> Option<u32> {
        self.index.get(name).copied()
    }

    /// Index of the segment whose network holds `ip`.
    #[must_use]
    pub fn segment_of(&self, ip: Ipv4Addr) -> Option<u32> {
        // Networks are disjoint, so at most one matches; a linear scan keeps the
        // oracle obviously right, which is what it is for.
        self.segments
            .iter()
            .position(|s| s.cidr.contains(ip))
            .and_then(|i| u32::try_from(i).ok())
    }

    pub(crate) fn resolved(&self) -> &[Resolved] {
        &self.resolved
    }

    pub(crate) fn denies_resolved(&self) -> &[Resolved] {
        &self.denies_resolved
    }

    /// A /24 outside every segment, to stand for "the internet" in queries and
    /// in the packet proof. Documentation ranges first (203.0.113.0/24, then
    /// 198.51.100.0/24, 192.0.2.0/24), so a lab that uses one of them as a
    /// segment still gets an internet that is not part of it.
    #[must_use]
    pub fn outside_net(&self) -> Ipv4Cidr {
        let free = |c: Ipv4Cidr| self.segments.iter().all(|s| !s.cidr.overlaps(c));
        let docs = [[203, 0, 113, 0], [198, 51, 100, 0], [192, 0, 2, 0]];
        docs.into_iter()
            .map(|a| Ipv4Cidr::truncating(Ipv4Addr::from(a), 24))
            .chain(
                // Then any public /24: a lab cannot cover them all.
                (u32::from(Ipv4Addr::new(100, 64, 0, 0)) >> 8
                    ..u32::from(Ipv4Addr::new(223, 255, 255, 0)) >> 8)
                    .map(|n| Ipv4Cidr::truncating(Ipv4Addr::from(n << 8), 24)),
            )
            .find(|&c| free(c))
            .unwrap_or_else(|| Ipv4Cidr::truncating(Ipv4Addr::new(203, 0, 113, 0), 24))
    }

    /// Whether any segment has internet egress.
    #[must_use]
    pub fn has_internet(&self) -> bool {
        self.segments.iter().any(|s| s.internet)
    }
}

/// Builds a [`Lab`] in code, validated exactly like a lab file.
#[derive(Debug, Clone)]
pub struct LabBuilder {
    info: LabInfo,
    segments: Vec<Segment>,
    rules: Vec<AllowRule>,
    denies: Vec<AllowRule>,
}

/// Rules of one kind as validation produced them.
#[derive(Debug, Default)]
pub(crate) struct RuleList {
    pub(crate) rules: Vec<AllowRule>,
    pub(crate) resolved: Vec<Resolved>,
    pub(crate) origin: Vec<usize>,
}

impl LabBuilder {
    /// Add a segment.
    #[must_use]
    pub fn segment(mut self, s: Segment) -> Self {
        self.segments.push(s);
        self
    }

    /// Add an allow rule.
    #[must_use]
    pub fn allow(mut self, r: AllowRule) -> Self {
        self.rules.push(r);
        self
    }

    /// Add a deny rule (deny wins over allow; see [`Lab::deny_rules`]).
    #[must_use]
    pub fn deny(mut self, r: AllowRule) -> Self {
        self.denies.push(r);
        self
    }

    /// Validate and build. Errors carry every problem found, as for a file
    /// (fields are named as in a lab file; there are no locations).
    ///
    /// # Errors
    /// The lab breaks a rule a lab file would be refused for.
    pub fn build(self) -> Result<Lab, labfile::Diagnostics> {
        use draft::{Draft, DraftDhcp, DraftRule, DraftSegment, DraftSel};
        use labfile::{Field, Sink, Source};
        use std::sync::Arc;

        fn sel(s: &Selector) -> DraftSel<'_> {
            match s {
                Selector::All => DraftSel::All,
                Selector::Names(ns) => {
                    DraftSel::Names(ns.iter().map(|n| Field::code(n.as_str())).collect())
                }
                Selector::Tagged { names, tags } => DraftSel::Code {
                    names: names.iter().map(SegmentName::as_str).collect(),
                    tags: tags.iter().map(TagName::as_str).collect(),
                },
            }
        }
        fn rule(r: &AllowRule) -> DraftRule<'_> {
            DraftRule {
                span: None,
                from: Some(Field::code(sel(&r.from))),
                to: Some(Field::code(sel(&r.to))),
                except: (!r.except.is_empty_list()).then(|| Field::code(sel(&r.except))),
                proto: Some(Field::code(r.proto)),
                ports: (!r.ports.is_empty())
                    .then(|| Field::code(r.ports.iter().map(|p| Field::code(*p)).collect())),
                services: None,
            }
        }
        let draft = Draft {
            lab_read: true,
            lab_span: None,
            name: Some(Field::code(self.info.name.clone())),
            domain: Some(Field::code(self.info.domain.clone())),
            uplink: self.info.uplink.clone().map(Field::code),
            uplink_written: self.info.uplink.is_some(),
            segments: self
                .segments
                .iter()
                .map(|s| DraftSegment {
                    span: None,
                    name: Some(Field::code(s.name.clone())),
                    cidr: Some(Field::code(s.cidr)),
                    gateway: Some(Field::code(s.gateway)),
                    dhcp: s.dhcp.map(|d| {
                        Field::code(DraftDhcp {
                            start: Some(Field::code(d.start)),
                            end: Some(Field::code(d.end)),
                        })
                    }),
                    ssh_ports: Some(Field::code(s.ssh_ports)),
                    internet: Some(Field::code(s.internet)),
                    tags: s.tags.iter().map(|t| Field::code(t.clone())).collect(),
                })
                .collect(),
            bad_names: Vec::new(),
            rules: self.rules.iter().map(rule).collect(),
            denies: self.denies.iter().map(rule).collect(),
            services: Vec::new(),
        };
        let mut sink = Sink::new();
        let out = validate::validate(draft, &mut sink);
        match out {
            Some((lab, _)) if !sink.has_errors() => Ok(lab),
            _ => Err(sink.into_diagnostics(Arc::new(Source::new("<lab built in code>", "")))),
        }
    }
}
