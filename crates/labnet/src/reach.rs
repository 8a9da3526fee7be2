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

    /// `self` without what `deny` covers.
    fn minus(&self, deny: &Self) -> Self {
        let left = match (self, deny) {
            (Self::None, _) | (_, Self::All) => return Self::None,
            (_, Self::None) => return self.clone(),
            (Self::All, Self::Ports(d)) => PortSet::all().minus(d),
            (Self::Ports(s), Self::Ports(d)) => s.minus(d),
        };
        if left.is_empty() {
            Self::None
        } else {
            Self::Ports(left)
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
    /// Indices of the deny rules that take something away, in lab-file order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub denied_by: Vec<usize>,
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

    /// What is left of `self` once `deny` (access of deny rules) is taken
    /// away. `any` minus something is tcp, udp and icmp minus it: the matrix
    /// and queries speak of those three (the kernel's ruleset, which checks
    /// deny rules first, keeps other protocols allowed exactly).
    pub(crate) fn subtract(&mut self, deny: &Self, cite: bool) {
        if deny.is_none() {
            return;
        }
        if cite {
            self.denied_by.extend(deny.rules.iter().copied());
        }
        if deny.any {
            let (rules, denied_by) = (
                std::mem::take(&mut self.rules),
                std::mem::take(&mut self.denied_by),
            );
            *self = Self {
                rules,
                denied_by,
                ..Self::default()
            };
            return;
        }
        self.any = false;
        self.tcp = self.tcp.minus(&deny.tcp);
        self.udp = self.udp.minus(&deny.udp);
        self.icmp &= !deny.icmp;
    }

    fn grant(&mut self, rule: Option<usize>, proto: Proto, ports: &[crate::port::PortRange]) {
        if let Some(rule) = rule
            && self.rules.last() != Some(&rule)
        {
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

/// Rules (allow or deny) by the source segment they apply to.
#[derive(Debug)]
pub(crate) struct RulesBySource {
    by_source: Vec<Vec<usize>>,
    from_all: Vec<usize>,
    deny: bool,
}

impl RulesBySource {
    /// The allow rules.
    pub(crate) fn new(lab: &Lab) -> Self {
        Self::of(lab, false)
    }

    /// The deny rules.
    pub(crate) fn denies(lab: &Lab) -> Self {
        Self::of(lab, true)
    }

    fn of(lab: &Lab, deny: bool) -> Self {
        let mut by_source = vec![Vec::new(); lab.segments().len()];
        let mut from_all = Vec::new();
        let resolved = if deny {
            lab.denies_resolved()
        } else {
            lab.resolved()
        };
        for (i, r) in resolved.iter().enumerate() {
            match &r.from {
                None => from_all.push(i),
                Some(fs) => fs.iter().for_each(|&f| by_source[f as usize].push(i)),
            }
        }
        Self {
            by_source,
            from_all,
            deny,
        }
    }

    fn rules_of(&self, a: usize, out: &mut Vec<usize>) {
        out.clear();
        out.extend(self.by_source[a].iter().chain(&self.from_all).copied());
        out.sort_unstable();
        out.dedup();
    }
}

/// Reusable scratch space for [`source_access`], so large labs do not allocate per source.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    acc: Vec<PairAccess>,
    seen: Vec<bool>,
    by_cidr: Vec<u32>,
    rules: Vec<usize>,
    /// Record which rules grant each pair (the matrix and queries cite them;
    /// the compiler does not need them, and skips a list per allowed pair).
    pub(crate) track_rules: bool,
}

impl Scratch {
    /// Scratch that records the granting rules.
    pub(crate) fn citing() -> Self {
        Self {
            track_rules: true,
            ..Self::default()
        }
    }
}

/// What segment `a` may reach once deny rules are taken away:
/// `(destination index, access)`, destinations sorted by network.
pub(crate) fn source_access(
    lab: &Lab,
    rules: &RulesBySource,
    scratch: &mut Scratch,
    a: u32,
) -> Vec<(u32, PairAccess)> {
    let mut out = Vec::new();
    for_each_access(lab, rules, scratch, a, |b, acc| {
        out.push((b, std::mem::take(acc)));
    });
    if !lab.deny_rules().is_empty() {
        let denies = RulesBySource::denies(lab);
        let mut deny = Scratch {
            track_rules: scratch.track_rules,
            ..Scratch::default()
        };
        let mut by_dst = std::collections::HashMap::new();
        for_each_access(lab, &denies, &mut deny, a, |b, acc| {
            by_dst.insert(b, std::mem::take(acc));
        });
        for (b, acc) in &mut out {
            if let Some(d) = by_dst.get(b) {
                acc.subtract(d, scratch.track_rules);
            }
        }
        out.retain(|(_, acc)| !acc.is_none());
    }
    out
}

/// What segment `a` may reach, handed to `f` destination by destination in
/// network order, without collecting: the compiler streams every allowed pair
/// of a large lab straight into its sets.
pub(crate) fn for_each_access(
    lab: &Lab,
    rules: &RulesBySource,
    scratch: &mut Scratch,
    a: u32,
    mut f: impl FnMut(u32, &mut PairAccess),
) {
    let n = lab.segments().len();
    if scratch.acc.len() != n {
        scratch.acc = vec![PairAccess::default(); n];
        scratch.seen = vec![false; n];
        // Segment indices in network order, once per lab: walking them is
        // cheaper than sorting each source's destinations.
        let segs = lab.segments();
        let mut order: Vec<u32> = (0..u32::try_from(n).unwrap_or(u32::MAX)).collect();
        order.sort_unstable_by_key(|&b| segs[b as usize].cidr);
        scratch.by_cidr = order;
    }
    let mut list = std::mem::take(&mut scratch.rules);
    rules.rules_of(a as usize, &mut list);
    let mut touched = 0usize;
    let (all_rules, all_resolved) = if rules.deny {
        (lab.deny_rules(), lab.denies_resolved())
    } else {
        (lab.rules(), lab.resolved())
    };
    for &ri in &list {
        let rule = &all_rules[ri];
        let cite = scratch.track_rules.then_some(ri);
        let Scratch { acc, seen, .. } = &mut *scratch;
        let mut grant = |b: u32| {
            if b == a {
                return;
            }
            if !seen[b as usize] {
                seen[b as usize] = true;
                touched += 1;
            }
            acc[b as usize].grant(cite, rule.proto, &rule.ports);
        };
        let res = &all_resolved[ri];
        match &res.to {
            None if res.except.is_empty() => {
                (0..u32::try_from(n).unwrap_or(u32::MAX)).for_each(&mut grant);
            }
            None => (0..u32::try_from(n).unwrap_or(u32::MAX))
                .filter(|b| res.except.binary_search(b).is_err())
                .for_each(&mut grant),
            Some(ts) => ts.iter().copied().for_each(&mut grant),
        }
    }
    scratch.rules = list;
    if touched == 0 {
        return;
    }
    let Scratch {
        acc, seen, by_cidr, ..
    } = &mut *scratch;
    for &b in by_cidr.iter() {
        if seen[b as usize] {
            seen[b as usize] = false;
            f(b, &mut acc[b as usize]);
            acc[b as usize] = PairAccess::default();
            touched -= 1;
            if touched == 0 {
                break;
            }
        }
    }
}

/// Access from `a` to `b` (by index).
#[must_use]
pub fn pair_access(lab: &Lab, a: u32, b: u32) -> PairAccess {
    let rules = RulesBySource::new(lab);
    source_access(lab, &rules, &mut Scratch::citing(), a)
        .into_iter()
        .find(|(d, _)| *d == b)
        .map(|(_, acc)| acc)
        .unwrap_or_default()
}
