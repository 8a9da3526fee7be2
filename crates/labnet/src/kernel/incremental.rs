//! Incremental apply: the smallest transaction from the table labnet loaded
//! last to the one the lab compiles to now.
//!
//! After every apply that it can vouch for, labnet records the lab it loaded
//! and the nf_tables ruleset generation its transaction produced
//! (`applied.json` in the namespace's state directory). The kernel moves the
//! generation on with every committed transaction of any table, so when the
//! generation is still the recorded one, nothing has touched the ruleset
//! since, and the table is exactly the recorded lab's: no listing, no
//! throwaway namespace, just the [`Delta`] between the two compiled
//! programs, sent as one netlink batch that carries the generation (the
//! kernel refuses it if anything committed in between).
//!
//! Anything else (no record, another generation: a hand edit, another tool's
//! transaction, a reboot) takes the full path: read the table, compare, and
//! replace it whole and atomically. A record is written only when the
//! generation after the transaction is exactly one past the one before, so
//! it is never another transaction's.

use serde::{Deserialize, Serialize};

use super::state::{self, write_atomic};
use super::{Change, KernelError, Netns};
use crate::ir::PolicyIr;
use crate::model::Lab;
use crate::target::TableName;
use crate::target::delta::{Delta, DeltaSummary, Step, element_text, render_nft};
use crate::target::program::Program;

/// What labnet recorded after its last apply it can vouch for.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    version: u32,
    table: String,
    generation: u32,
    /// The lab, as a lab file.
    lab: String,
}

fn record_path(netns: Option<&str>) -> std::path::PathBuf {
    state::namespace_dir(netns).join("applied.json")
}

/// Whether a record of an earlier apply exists (whatever it says).
pub(crate) fn has_record(netns: Option<&str>) -> bool {
    record_path(netns).exists()
}

/// Forget the record (after a remove, a confirm-window apply, a failure).
pub(crate) fn forget(netns: Option<&str>) {
    let _ = std::fs::remove_file(record_path(netns));
}

/// Record `lab` as loaded at `generation`.
pub(crate) fn remember(
    netns: Option<&str>,
    table: &TableName,
    generation: u32,
    lab: &Lab,
) -> Result<(), KernelError> {
    let r = Record {
        version: 1,
        table: table.to_string(),
        generation,
        lab: crate::labfile::to_toml(lab),
    };
    let bytes = serde_json::to_vec(&r).map_err(|e| KernelError::State {
        what: format!("cannot encode the apply record ({e}) for"),
        path: record_path(netns),
        source: None,
    })?;
    write_atomic(&record_path(netns), &bytes, false)
}

/// The recorded lab, if the record is for `table` and the kernel is still at
/// its generation (`generation` is the kernel's now).
pub(crate) fn recorded(netns: Option<&str>, table: &TableName, generation: u32) -> Option<Lab> {
    let text = std::fs::read(record_path(netns)).ok()?;
    let r: Record = serde_json::from_slice(&text).ok()?;
    if r.version != 1 || r.table != table.as_str() || r.generation != generation {
        return None;
    }
    crate::labfile::parse("applied.json", &r.lab)
        .ok()
        .map(crate::labfile::LabFile::into_lab)
}

/// The ruleset generation of `ns`, or `None` in a build without netlink.
///
/// # Errors
/// Netlink failed.
pub fn generation(ns: &Netns) -> Result<Option<u32>, KernelError> {
    #[cfg(feature = "nftnl")]
    {
        ns.run(super::nftnl::generation)?.map(Some)
    }
    #[cfg(not(feature = "nftnl"))]
    {
        let _ = ns;
        Ok(None)
    }
}

/// Whether `table` is there and labnet's, asked over netlink without a
/// listing; `None` in a build without netlink.
///
/// # Errors
/// Netlink failed.
pub fn owner(ns: &Netns, table: &TableName) -> Result<Option<super::TableOwner>, KernelError> {
    #[cfg(feature = "nftnl")]
    {
        let t = table.as_str().to_owned();
        let has = ns.run(move || super::nftnl::has_chain(&t, crate::target::OWNER_MARK))??;
        Ok(Some(match has {
            None => super::TableOwner::Absent,
            Some(true) => super::TableOwner::Labnet,
            Some(false) => super::TableOwner::Other,
        }))
    }
    #[cfg(not(feature = "nftnl"))]
    {
        let _ = (ns, table);
        Ok(None)
    }
}

/// How an apply gets the kernel to the lab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Mode {
    /// Only what differs from labnet's last apply, in one transaction.
    Incremental,
    /// The whole table replaced in one transaction.
    Full,
}

/// The plan of an apply.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Plan {
    /// Incremental or full.
    pub mode: Mode,
    /// Why a full replace (none for incremental).
    pub reason: Option<String>,
    /// What the incremental transaction does.
    pub delta: Option<DeltaSummary>,
    /// The incremental transaction as an `nft -f` script (what a dry run shows).
    pub script: Option<String>,
    /// Whether the changes were worked out (from the delta, or by reading and
    /// comparing the live table). A full apply that is not a dry run replaces
    /// the table without reading it first: at 1000 segments the two listings
    /// a comparison needs take most of ten seconds, and the replace is
    /// correct whatever the table held (`labnet diff` compares).
    pub compared: bool,
}

impl Plan {
    pub(crate) fn full(reason: impl Into<String>) -> Self {
        Self {
            mode: Mode::Full,
            reason: Some(reason.into()),
            delta: None,
            script: None,
            compared: true,
        }
    }
}

/// The old and new programs of one table and their delta.
#[derive(Debug, Clone)]
pub struct Incremental {
    old_ir: PolicyIr,
    new_ir: PolicyIr,
    old: Program,
    new: Program,
    /// What differs.
    pub delta: Delta,
}

impl Incremental {
    /// Compile both labs for `table` and compare them.
    #[must_use]
    pub fn new(old_lab: &Lab, new_lab: &Lab, table: &TableName) -> Self {
        let old_ir = PolicyIr::build(old_lab);
        let new_ir = PolicyIr::build(new_lab);
        let old = Program::build(&old_ir, table);
        let new = Program::build(&new_ir, table);
        let delta = Delta::between(&old, &new);
        Self {
            old_ir,
            new_ir,
            old,
            new,
            delta,
        }
    }

    /// The transaction's steps, in order.
    #[must_use]
    pub fn steps(&self) -> Vec<Step<'_>> {
        self.delta.steps(&self.old, &self.new)
    }

    /// The delta as an `nft -f` script.
    #[must_use]
    pub fn script(&self) -> String {
        self.script_of(&self.steps())
    }

    fn script_of(&self, steps: &[Step<'_>]) -> String {
        let rules = |chain: &str| crate::target::chain_rules(&self.new_ir, chain);
        render_nft(steps, &self.new.table, &rules)
    }

    /// The plan an apply reports.
    #[must_use]
    pub fn plan(&self) -> Plan {
        let steps = self.steps();
        Plan {
            mode: Mode::Incremental,
            reason: None,
            delta: Some(self.delta.summary(&steps, &self.new)),
            script: Some(self.script_of(&steps)),
            compared: true,
        }
    }

    /// The differences, in the terms of a listing diff: what the kernel has
    /// (the old program) against what the lab gives (the new one).
    #[must_use]
    pub fn changes(&self) -> Vec<Change> {
        let mut out = Vec::new();
        let kind = |verdict_map: bool| if verdict_map { "map" } else { "set" };
        for step in self.steps() {
            match step {
                Step::CreateSet(s) => match self.old.sets.iter().find(|o| o.name == s.name) {
                    Some(o) => out.push(Change::PropsChanged {
                        block: format!("{} {}", kind(s.verdict_map), s.name),
                        live: o.size.map(|n| format!("size {n}")).into_iter().collect(),
                        expected: s.size.map(|n| format!("size {n}")).into_iter().collect(),
                    }),
                    None => out.push(Change::BlockRemoved {
                        block: format!("{} {}", kind(s.verdict_map), s.name),
                    }),
                },
                Step::DeleteSet(name) if !self.new.sets.iter().any(|n| n.name == name) => {
                    let map = self
                        .old
                        .sets
                        .iter()
                        .any(|o| o.name == name && o.verdict_map);
                    out.push(Change::BlockAdded {
                        block: format!("{} {name}", kind(map)),
                    });
                }
                Step::AddChain(c) if !self.old.chains.iter().any(|o| o.name == c.name) => {
                    out.push(Change::BlockRemoved {
                        block: format!("chain {}", c.name),
                    });
                }
                Step::DeleteChain(c) if !self.new.chains.iter().any(|n| n.name == c) => {
                    out.push(Change::BlockAdded {
                        block: format!("chain {c}"),
                    });
                }
                Step::DeleteElements(s, e) => out.push(Change::ElementsAdded {
                    block: format!("{} {}", kind(s.verdict_map), s.name),
                    elements: e.iter().map(|e| element_text(s, e)).collect(),
                }),
                Step::AddElements(s, e) if s.size.is_some() => {
                    out.push(Change::ElementsRemoved {
                        block: format!("{} {}", kind(s.verdict_map), s.name),
                        elements: e.iter().map(|e| element_text(s, e)).collect(),
                    });
                }
                Step::FlushSet(o) => {
                    let Some(n) = self.new.sets.iter().find(|n| n.name == o.name) else {
                        continue;
                    };
                    let text =
                        |s: &crate::target::program::SetDef| -> std::collections::BTreeSet<String> {
                            s.elements.iter().map(|e| element_text(s, e)).collect()
                        };
                    let (before, after) = (text(o), text(n));
                    let block = format!("{} {}", kind(n.verdict_map), n.name);
                    let gone: Vec<String> = before.difference(&after).cloned().collect();
                    let come: Vec<String> = after.difference(&before).cloned().collect();
                    if !gone.is_empty() {
                        out.push(Change::ElementsAdded {
                            block: block.clone(),
                            elements: gone,
                        });
                    }
                    if !come.is_empty() {
                        out.push(Change::ElementsRemoved {
                            block,
                            elements: come,
                        });
                    }
                }
                Step::FlushChain(c) if self.new.chains.iter().any(|n| n.name == c) => {
                    let before = crate::target::chain_rules(&self.old_ir, c);
                    let after = crate::target::chain_rules(&self.new_ir, c);
                    for r in before.iter().filter(|r| !after.contains(r)) {
                        out.push(Change::RuleAdded {
                            block: format!("chain {c}"),
                            rule: r.clone(),
                        });
                    }
                    for r in after.iter().filter(|r| !before.contains(r)) {
                        out.push(Change::RuleRemoved {
                            block: format!("chain {c}"),
                            rule: r.clone(),
                        });
                    }
                }
                _ => {}
            }
        }
        out
    }
}

/// Send the delta into `ns` as one batch that the kernel takes only at `generation`.
///
/// # Errors
/// The kernel refused it (nothing changed; `ERESTART` when the generation moved on).
pub fn load(ns: &Netns, inc: &Incremental, generation: u32) -> Result<(), KernelError> {
    #[cfg(feature = "nftnl")]
    {
        let steps = inc.steps();
        ns.run(|| super::nftnl::load_delta(&inc.old, &inc.new, &steps, Some(generation)))?
    }
    #[cfg(not(feature = "nftnl"))]
    {
        let _ = (ns, inc, generation);
        Err(KernelError::NetlinkNotBuilt)
    }
}
