//! The validated lab: what the `[lab]`, `[[segment]]` and `[policy]` sections say.
//!
//! A [`Lab`] only exists after validation (from a file with
//! [`crate::labfile::parse`] or from code with [`LabBuilder`]), so everything
//! downstream (compiler, queries, matrix) may rely on its invariants: segment
//! names unique, networks disjoint, every rule naming known segments.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use serde::Serialize;

use crate::cidr::Ipv4Cidr;
use crate::names::{DomainName, InterfaceName, LabName, SegmentName};
use crate::port::PortRange;
use crate::proto::Proto;

/// The `[lab]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabInfo {
    /// The lab's name.
    pub name: LabName,
    /// DNS domain of every segment.
    pub domain: DomainName,
    /// Host interface toward the internet; required when any segment has internet egress.
    pub uplink: Option<InterfaceName>,
}

/// A DHCP range, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DhcpRange {
    /// First leased address.
    pub start: Ipv4Addr,
    /// Last leased address.
    pub end: Ipv4Addr,
}

impl DhcpRange {
    /// Whether `ip` is leased from this range.
    #[must_use]
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        self.start <= ip && ip <= self.end
    }
}

/// One `[[segment]]`: an isolated network, like an AWS VPC subnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
        }
    }
}

/// Which segments a rule's `from` or `to` names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Selector {
    /// `"*"`: every segment (for `to`: every segment other than the source).
    All,
    /// Named segments.
    Names(Vec<SegmentName>),
}

impl Selector {
    /// A single name.
    #[must_use]
    pub fn one(name: SegmentName) -> Self {
        Self::Names(vec![name])
    }
}

/// One `[[policy.allow]]` rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AllowRule {
    /// Segments that may open connections.
    pub from: Selector,
    /// Segments they may open connections to.
    pub to: Selector,
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
            proto: Proto::Any,
            ports: Vec::new(),
        }
    }
}

/// A rule with its segment names resolved to indices into [`Lab::segments`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// `None` for `*`.
    pub(crate) from: Option<Vec<u32>>,
    /// `None` for `*`.
    pub(crate) to: Option<Vec<u32>>,
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
    #[serde(skip)]
    index: HashMap<SegmentName, u32>,
}

impl Lab {
    /// Only the validator builds labs.
    pub(crate) fn from_validated(
        info: LabInfo,
        segments: Vec<Segment>,
        rules: Vec<AllowRule>,
        resolved: Vec<Resolved>,
    ) -> Self {
        let index: HashMap<SegmentName, u32> = segments
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), u32::try_from(i).unwrap_or(u32::MAX)))
            .collect();
        Self {
            info,
            segments,
            rules,
            resolved,
            index,
        }
    }

    /// The built-in reference lab (the AWS-VPC-style lab of the original procedures).
    #[must_use]
    pub fn reference() -> Self {
        crate::reference::lab()
    }

    /// Start building a lab in code.
    #[must_use]
    pub fn builder(info: LabInfo) -> LabBuilder {
        LabBuilder {
            info,
            segments: Vec::new(),
            rules: Vec::new(),
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

    /// Whether any segment has internet egress.
    #[must_use]
    pub fn has_internet(&self) -> bool {
        self.segments.iter().any(|s| s.internet)
    }
}

/// Builds a [`Lab`] in code, validated exactly like a lab file.
#[derive(Debug, Clone)]
pub struct LabBuilder {
    pub(crate) info: LabInfo,
    pub(crate) segments: Vec<Segment>,
    pub(crate) rules: Vec<AllowRule>,
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

    /// Validate and build. Errors carry every problem found, as for a file.
    pub fn build(self) -> Result<Lab, crate::diag::Diagnostics> {
        crate::labfile::validate_builder(&self)
    }
}
