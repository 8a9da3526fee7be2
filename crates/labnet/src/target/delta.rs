//! The smallest nftables transaction from one compiled table to another.
//!
//! [`Delta::between`] compares two [`Program`]s (the table labnet loaded
//! last, and the one the lab now compiles to) object by object:
//!
//! - hash sets with the same declaration get element adds and deletes;
//! - interval sets and maps (`lab`, `egress`, `from_segment`, wide port
//!   ranges), which hold one element per segment at most, are flushed and
//!   filled again when any element differs (an rbtree interval cannot be
//!   deleted by its key alone);
//! - a set whose declaration changed (a hash set that outgrew its declared
//!   size) is deleted and created again, and so are the rules that look it up;
//! - a chain whose rules differ is flushed and filled again; chains and sets
//!   that are gone are deleted, new ones created.
//!
//! The kernel applies the whole delta as one transaction, in the order
//! [`Delta::steps`] gives, which keeps every reference valid at every step
//! (chains exist before map elements jump to them, rules are gone before the
//! sets they look up). The tests hold the kernel's listing after a delta equal
//! to its listing after a full load of the same lab.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use serde::Serialize;

use super::program::{ChainDef, Field, Interval, Program, SetDef, Verdict};

/// One step of a delta, in transaction order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step<'a> {
    /// Create a chain (before anything refers to it).
    AddChain(&'a ChainDef),
    /// Remove every rule of a chain.
    FlushChain(&'a str),
    /// Remove every element of an interval set or map.
    FlushSet(&'a SetDef),
    /// Delete a set (its rules are gone by now).
    DeleteSet(&'a str),
    /// Delete a chain (flushed, and no map element jumps to it any more).
    DeleteChain(&'a str),
    /// Create a set with all its elements.
    CreateSet(&'a SetDef),
    /// Delete these elements of a hash set.
    DeleteElements(&'a SetDef, Vec<&'a Interval>),
    /// Add these elements to a set (all of them, for a flushed interval set).
    AddElements(&'a SetDef, Vec<&'a Interval>),
    /// Append the new program's rules of this chain.
    AddRules(&'a str),
}

/// What [`Delta::between`] found, by object name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delta {
    add_chains: Vec<String>,
    refill_chains: Vec<String>,
    drop_chains: Vec<String>,
    refill_sets: Vec<String>,
    drop_sets: Vec<String>,
    create_sets: Vec<String>,
    /// Hash sets in both: (name, element indices of the old to delete, of the new to add).
    elements: Vec<(String, Vec<usize>, Vec<usize>)>,
}

/// Counts of what a delta does, for reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DeltaSummary {
    /// Chains created.
    pub chains_added: usize,
    /// Chains deleted.
    pub chains_deleted: usize,
    /// Chains whose rules were replaced.
    pub chains_refilled: usize,
    /// Sets created (including re-created ones).
    pub sets_created: usize,
    /// Sets deleted (including re-created ones).
    pub sets_deleted: usize,
    /// Interval sets and maps flushed and filled again.
    pub sets_refilled: usize,
    /// Elements added to hash sets that stayed.
    pub elements_added: usize,
    /// Elements deleted from hash sets that stayed.
    pub elements_deleted: usize,
    /// Netlink messages' worth of objects the delta touches (rules, sets, chains, elements).
    pub objects: usize,
}

fn same_decl(a: &SetDef, b: &SetDef) -> bool {
    a.key == b.key && a.verdict_map == b.verdict_map && a.size == b.size
}

impl Delta {
    /// The delta from `old` (in the kernel) to `new` (wanted); both of one table.
    #[must_use]
    pub fn between(old: &Program, new: &Program) -> Self {
        let mut d = Self::default();
        let old_sets: HashMap<&str, &SetDef> =
            old.sets.iter().map(|s| (s.name.as_str(), s)).collect();
        let new_sets: HashMap<&str, &SetDef> =
            new.sets.iter().map(|s| (s.name.as_str(), s)).collect();
        let mut recreated: BTreeSet<&str> = BTreeSet::new();
        for s in &new.sets {
            match old_sets.get(s.name.as_str()) {
                None => d.create_sets.push(s.name.clone()),
                Some(o) if !same_decl(o, s) => {
                    d.drop_sets.push(s.name.clone());
                    d.create_sets.push(s.name.clone());
                    recreated.insert(&s.name);
                }
                Some(o) if o.elements == s.elements => {}
                Some(_) if s.size.is_none() => d.refill_sets.push(s.name.clone()),
                Some(o) => {
                    let (del, add) = element_difference(&o.elements, &s.elements);
                    d.elements.push((s.name.clone(), del, add));
                }
            }
        }
        for s in &old.sets {
            if !new_sets.contains_key(s.name.as_str()) {
                d.drop_sets.push(s.name.clone());
            }
        }
        let (old_rules, new_rules) = (rules_of(old), rules_of(new));
        let old_chains: HashMap<&str, &ChainDef> =
            old.chains.iter().map(|c| (c.name.as_str(), c)).collect();
        let new_chain_names: BTreeSet<&str> = new.chains.iter().map(|c| c.name.as_str()).collect();
        for c in &new.chains {
            let rules = new_rules.get(c.name.as_str());
            match old_chains.get(c.name.as_str()) {
                Some(o) if o.base == c.base => {
                    let before = old_rules.get(c.name.as_str());
                    let looks_up_recreated = rules.is_some_and(|rs| {
                        rs.iter().any(|r| {
                            r.exprs.iter().any(|e| {
                                matches!(e, super::program::Expr::Lookup { set, .. } if recreated.contains(set.as_str()))
                            })
                        })
                    });
                    if before != rules || looks_up_recreated {
                        d.refill_chains.push(c.name.clone());
                    }
                }
                Some(_) => {
                    // A base chain whose hook changed: delete and create it.
                    d.drop_chains.push(c.name.clone());
                    d.add_chains.push(c.name.clone());
                }
                None => d.add_chains.push(c.name.clone()),
            }
        }
        for c in &old.chains {
            if !new_chain_names.contains(c.name.as_str()) {
                d.drop_chains.push(c.name.clone());
            }
        }
        d
    }

    /// Whether the two programs are the same table.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The steps in transaction order, borrowing objects from `old` and `new`
    /// (the programs [`Delta::between`] compared).
    #[must_use]
    pub fn steps<'a>(&self, old: &'a Program, new: &'a Program) -> Vec<Step<'a>> {
        let set_new = |n: &str| new.sets.iter().find(|s| s.name == n);
        let set_old = |n: &str| old.sets.iter().find(|s| s.name == n);
        let mut v = Vec::new();
        for c in &self.add_chains {
            if !self.drop_chains.contains(c)
                && let Some(def) = new.chains.iter().find(|d| &d.name == c)
            {
                v.push(Step::AddChain(def));
            }
        }
        for c in self.refill_chains.iter().chain(&self.drop_chains) {
            if let Some(def) = old.chains.iter().find(|d| &d.name == c) {
                v.push(Step::FlushChain(&def.name));
            }
        }
        for s in &self.refill_sets {
            if let Some(def) = set_old(s) {
                v.push(Step::FlushSet(def));
            }
        }
        for s in &self.drop_sets {
            if let Some(def) = set_old(s) {
                v.push(Step::DeleteSet(&def.name));
            }
        }
        for c in &self.drop_chains {
            if let Some(def) = old.chains.iter().find(|d| &d.name == c) {
                v.push(Step::DeleteChain(&def.name));
            }
        }
        // Base chains whose hook changed come back after their old self is gone.
        for c in &self.add_chains {
            if self.drop_chains.contains(c)
                && let Some(def) = new.chains.iter().find(|d| &d.name == c)
            {
                v.push(Step::AddChain(def));
            }
        }
        for s in &self.create_sets {
            if let Some(def) = set_new(s) {
                v.push(Step::CreateSet(def));
            }
        }
        for (s, del, add) in &self.elements {
            if let (Some(o), Some(n)) = (set_old(s), set_new(s)) {
                if !del.is_empty() {
                    v.push(Step::DeleteElements(
                        o,
                        del.iter().map(|&i| &o.elements[i]).collect(),
                    ));
                }
                if !add.is_empty() {
                    v.push(Step::AddElements(
                        n,
                        add.iter().map(|&i| &n.elements[i]).collect(),
                    ));
                }
            }
        }
        for s in &self.refill_sets {
            if let Some(def) = set_new(s) {
                v.push(Step::AddElements(def, def.elements.iter().collect()));
            }
        }
        // Rules in the new program's chain order, for new and refilled chains.
        for c in &new.chains {
            if self.add_chains.contains(&c.name) || self.refill_chains.contains(&c.name) {
                v.push(Step::AddRules(&c.name));
            }
        }
        v
    }

    /// Counts for reports; `steps` are this delta's ([`Delta::steps`]) and
    /// `new` the program they lead to.
    #[must_use]
    pub fn summary(&self, steps: &[Step<'_>], new: &Program) -> DeltaSummary {
        let mut s = DeltaSummary {
            chains_added: self.add_chains.len(),
            chains_deleted: self.drop_chains.len(),
            chains_refilled: self.refill_chains.len(),
            sets_created: self.create_sets.len(),
            sets_deleted: self.drop_sets.len(),
            sets_refilled: self.refill_sets.len(),
            ..DeltaSummary::default()
        };
        for (_, del, add) in &self.elements {
            s.elements_deleted += del.len();
            s.elements_added += add.len();
        }
        for step in steps {
            s.objects += match step {
                Step::CreateSet(def) => 1 + def.elements.len(),
                Step::DeleteElements(_, e) | Step::AddElements(_, e) => e.len(),
                Step::AddRules(c) => new.rules.iter().filter(|r| r.chain == *c).count(),
                _ => 1,
            };
        }
        s
    }
}

fn rules_of(p: &Program) -> HashMap<&str, Vec<&super::program::RuleDef>> {
    let mut m: HashMap<&str, Vec<&super::program::RuleDef>> = HashMap::new();
    for r in &p.rules {
        m.entry(r.chain.as_str()).or_default().push(r);
    }
    m
}

/// Indices of `old` elements not in `new`, and of `new` elements not in `old`.
fn element_difference(old: &[Interval], new: &[Interval]) -> (Vec<usize>, Vec<usize>) {
    let o: HashMap<&[u8], usize> = old
        .iter()
        .enumerate()
        .map(|(i, e)| (e.start.as_slice(), i))
        .collect();
    let n: HashMap<&[u8], usize> = new
        .iter()
        .enumerate()
        .map(|(i, e)| (e.start.as_slice(), i))
        .collect();
    let mut del: Vec<usize> = o
        .iter()
        .filter(|(k, _)| !n.contains_key(*k))
        .map(|(_, &i)| i)
        .collect();
    let mut add: Vec<usize> = n
        .iter()
        .filter(|(k, _)| !o.contains_key(*k))
        .map(|(_, &i)| i)
        .collect();
    del.sort_unstable();
    add.sort_unstable();
    (del, add)
}

/// The delta as an `nft -f` script: one transaction, the same steps.
/// `rules` gives the new program's rules of a chain in nft syntax.
#[must_use]
pub fn render_nft(steps: &[Step<'_>], table: &str, rules: &dyn Fn(&str) -> Vec<String>) -> String {
    let mut o = String::new();
    for step in steps {
        match step {
            Step::AddChain(c) => {
                let _ = write!(o, "add chain ip {table} {}", c.name);
                match c.base {
                    Some(super::program::BaseChain::FilterForward) => {
                        o.push_str(" { type filter hook forward priority filter; policy accept; }");
                    }
                    Some(super::program::BaseChain::NatPostrouting) => {
                        o.push_str(
                            " { type nat hook postrouting priority srcnat; policy accept; }",
                        );
                    }
                    None => {}
                }
                o.push('\n');
            }
            Step::FlushChain(c) => {
                let _ = writeln!(o, "flush chain ip {table} {c}");
            }
            Step::FlushSet(s) => {
                let kw = if s.verdict_map { "map" } else { "set" };
                let _ = writeln!(o, "flush {kw} ip {table} {}", s.name);
            }
            Step::DeleteSet(s) => {
                let _ = writeln!(o, "delete set ip {table} {s}");
            }
            Step::DeleteChain(c) => {
                let _ = writeln!(o, "delete chain ip {table} {c}");
            }
            Step::CreateSet(s) => {
                let kw = if s.verdict_map { "map" } else { "set" };
                let _ = write!(o, "add {kw} ip {table} {} {{ type {}", s.name, key_type(s));
                if s.verdict_map {
                    o.push_str(" : verdict");
                }
                match s.size {
                    Some(n) => {
                        let _ = write!(o, "; size {n}; }}");
                    }
                    None => o.push_str("; flags interval; }"),
                }
                o.push('\n');
                elements_cmd(&mut o, "add", table, s, s.elements.iter());
            }
            Step::DeleteElements(s, e) => {
                elements_cmd(&mut o, "delete", table, s, e.iter().copied());
            }
            Step::AddElements(s, e) => elements_cmd(&mut o, "add", table, s, e.iter().copied()),
            Step::AddRules(c) => {
                for r in rules(c) {
                    let _ = writeln!(o, "add rule ip {table} {c} {r}");
                }
            }
        }
    }
    o
}

fn key_type(s: &SetDef) -> String {
    s.key
        .iter()
        .map(|f| match f {
            Field::Ipv4Addr => "ipv4_addr",
            Field::InetProto => "inet_proto",
            Field::InetService => "inet_service",
        })
        .collect::<Vec<_>>()
        .join(" . ")
}

fn elements_cmd<'a>(
    o: &mut String,
    verb: &str,
    table: &str,
    s: &SetDef,
    elems: impl Iterator<Item = &'a Interval>,
) {
    let texts: Vec<String> = elems.map(|e| element_text(s, e)).collect();
    if texts.is_empty() {
        return;
    }
    // Bounded lines keep nft's parser and error messages readable.
    for chunk in texts.chunks(512) {
        let _ = writeln!(
            o,
            "{verb} element ip {table} {} {{ {} }}",
            s.name,
            chunk.join(", ")
        );
    }
}

/// One element as nft writes it (`10.0.1.0 . tcp . 22`, `10.0.0.0/24 : jump from_web`).
#[must_use]
pub fn element_text(s: &SetDef, e: &Interval) -> String {
    let mut out = String::new();
    let mut at = 0usize;
    let stride = if s.key.len() > 1 { 4 } else { 0 };
    for (i, f) in s.key.iter().enumerate() {
        if i > 0 {
            out.push_str(" . ");
        }
        let w = f.width() as usize;
        let lo = &e.start[at..at + w];
        let hi = &e.end[at..at + w];
        match f {
            Field::Ipv4Addr => {
                let a = u32::from_be_bytes([lo[0], lo[1], lo[2], lo[3]]);
                let b = u32::from_be_bytes([hi[0], hi[1], hi[2], hi[3]]);
                addr_range(&mut out, a, b);
            }
            Field::InetProto => {
                out.push_str(&super::nft::l4_name(crate::proto::L4(lo[0])));
            }
            Field::InetService => {
                let a = u16::from_be_bytes([lo[0], lo[1]]);
                let b = u16::from_be_bytes([hi[0], hi[1]]);
                if a == b {
                    let _ = write!(out, "{a}");
                } else {
                    let _ = write!(out, "{a}-{b}");
                }
            }
        }
        at += if stride == 0 { w } else { stride };
    }
    if let Some(v) = &e.verdict {
        out.push_str(" : ");
        match v {
            Verdict::Accept => out.push_str("accept"),
            Verdict::Drop => out.push_str("drop"),
            Verdict::Jump(c) => {
                let _ = write!(out, "jump {c}");
            }
        }
    }
    out
}

/// `a` alone, `a/len` when the range is a prefix, else `a-b`.
fn addr_range(out: &mut String, a: u32, b: u32) {
    let _ = write!(out, "{}", Ipv4Addr::from(a));
    if a == b {
        return;
    }
    let span = u64::from(b - a) + 1;
    if span.is_power_of_two() && u64::from(a) % span == 0 {
        let _ = write!(out, "/{}", 32 - span.trailing_zeros());
    } else {
        let _ = write!(out, "-{}", Ipv4Addr::from(b));
    }
}
