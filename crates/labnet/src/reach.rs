//! What each segment may reach: the per-pair summary behind the compiler, the
//! matrix and protocol-level queries.

use serde::Serialize;

use crate::model::Lab;
use crate::port::PortSet;
use crate::proto::Proto;

/// Access to one protocol with ports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "access", content = "ports")]
pub enum PortAccess {
    /// None of it.
    #[default]
    None,
    /// Only these destination ports.
    Ports(PortSet),
    /// Every port.
    All,
}

impl PortAccess {
    fn grant(&mut self, ports: &[crate::port::PortRange]) {
        if ports.is_empty() {
            *self = Self::All;
            return;
        }
        match self {
            Self::All => {}
            Self::None => *self = Self::Ports(ports.iter().copied().collect()),
            Self::Ports(set) => ports.iter().for_each(|p| set.insert(*p)),
        }
    }

    /// Whether `port` is allowed.
    #[must_use]
    pub fn allows(&self, port: u16) -> bool {
        match self {
            Self::None => false,
            Self::Ports(s) => s.contains(port),
            Self::All => true,
        }
    }
}

/// What one segment may open toward another, and which rules say so.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PairAccess {
    /// Every protocol.
    pub any: bool,
    /// TCP.
    pub tcp: PortAccess,
    /// UDP.
    pub udp: PortAccess,
    /// ICMP.
    pub icmp: bool,
    /// Indices of the rules that grant something, in lab-file order.
    pub rules: Vec<usize>,
}

impl PairAccess {
    /// Whether nothing is allowed.
    #[must_use]
    pub fn is_none(&self) -> bool {
        !self.any && self.tcp == PortAccess::None && self.udp == PortAccess::None && !self.icmp
    }

    /// Whether everything is allowed.
    #[must_use]
    pub fn is_all(&self) -> bool {
        self.any
    }

    /// Short text: `all`, `-`, or e.g. `tcp:5432,3306-3307 icmp`.
    #[must_use]
    pub fn short(&self) -> String {
        if self.any {
            return "all".to_owned();
        }
        let mut parts = Vec::new();
        for (name, a) in [("tcp", &self.tcp), ("udp", &self.udp)] {
            match a {
                PortAccess::None => {}
                PortAccess::All => parts.push(name.to_owned()),
                PortAccess::Ports(s) => parts.push(format!("{name}:{s}")),
            }
        }
        if self.icmp {
            parts.push("icmp".to_owned());
        }
        if parts.is_empty() {
            "-".to_owned()
        } else {
            parts.join(" ")
        }
    }

    fn grant(&mut self, rule: usize, proto: Proto, ports: &[crate::port::PortRange]) {
        if self.rules.last() != Some(&rule) {
            self.rules.push(rule);
        }
        match proto {
            // Every protocol includes tcp, udp and icmp: say so in each field, so
            // no reader sees `any` next to "tcp: none".
            Proto::Any => {
                self.any = true;
                self.tcp = PortAccess::All;
                self.udp = PortAccess::All;
                self.icmp = true;
            }
            Proto::Tcp => self.tcp.grant(ports),
            Proto::Udp => self.udp.grant(ports),
            Proto::Icmp => self.icmp = true,
        }
    }
}

/// Rules by the source segment they apply to.
#[derive(Debug)]
pub(crate) struct RulesBySource {
    by_source: Vec<Vec<usize>>,
    from_all: Vec<usize>,
}

impl RulesBySource {
    pub(crate) fn new(lab: &Lab) -> Self {
        let mut by_source = vec![Vec::new(); lab.segments().len()];
        let mut from_all = Vec::new();
        for (i, r) in lab.resolved().iter().enumerate() {
            match &r.from {
                None => from_all.push(i),
                Some(fs) => fs.iter().for_each(|&f| by_source[f as usize].push(i)),
            }
        }
        Self {
            by_source,
            from_all,
        }
    }

    fn rules_of(&self, a: usize) -> Vec<usize> {
        let mut rules: Vec<usize> = self.by_source[a]
            .iter()
            .chain(&self.from_all)
            .copied()
            .collect();
        rules.sort_unstable();
        rules.dedup();
        rules
    }
}

/// Reusable scratch space for [`source_access`], so large labs do not allocate per source.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    acc: Vec<PairAccess>,
    touched: Vec<u32>,
}

/// What segment `a` may reach: `(destination index, access)`, destinations sorted by network.
pub(crate) fn source_access(
    lab: &Lab,
    rules: &RulesBySource,
    scratch: &mut Scratch,
    a: u32,
) -> Vec<(u32, PairAccess)> {
    let n = lab.segments().len();
    if scratch.acc.len() != n {
        scratch.acc = vec![PairAccess::default(); n];
    }
    for ri in rules.rules_of(a as usize) {
        let rule = &lab.rules()[ri];
        let Scratch { acc, touched } = &mut *scratch;
        let mut grant = |b: u32| {
            if b == a {
                return;
            }
            let e = &mut acc[b as usize];
            if e.rules.is_empty() {
                touched.push(b);
            }
            e.grant(ri, rule.proto, &rule.ports);
        };
        match &lab.resolved()[ri].to {
            None => (0..u32::try_from(n).unwrap_or(u32::MAX)).for_each(&mut grant),
            Some(ts) => ts.iter().copied().for_each(&mut grant),
        }
    }
    let segs = lab.segments();
    scratch
        .touched
        .sort_unstable_by_key(|&b| segs[b as usize].cidr);
    let out = scratch
        .touched
        .iter()
        .map(|&b| (b, std::mem::take(&mut scratch.acc[b as usize])))
        .collect();
    scratch.touched.clear();
    out
}

/// Access from `a` to `b` (by index).
#[must_use]
pub fn pair_access(lab: &Lab, a: u32, b: u32) -> PairAccess {
    let rules = RulesBySource::new(lab);
    source_access(lab, &rules, &mut Scratch::default(), a)
        .into_iter()
        .find(|(d, _)| *d == b)
        .map(|(_, acc)| acc)
        .unwrap_or_default()
}
