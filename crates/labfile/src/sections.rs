//! Which labkit crate owns which top-level section of the lab file.
//!
//! Each crate reads only its own sections (through [`crate::Document::section`]),
//! and none needs to know the others'. This table is the one place that lists
//! them all, so that a command run by one crate alone (`labnet check`) accepts
//! the sections of crates that did not run, and still reports a misspelt one
//! (`[dockr]`) with a "did you mean". docs/lab-file.md is written from it, and a
//! test keeps the two in step.

/// A top-level section and the crate that reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SectionOwner {
    /// The section's key: `lab` for `[lab]`, `segment` for `[[segment]]`.
    pub name: &'static str,
    /// The crate that reads it.
    pub owner: &'static str,
    /// What it describes.
    pub what: &'static str,
}

const fn owned(name: &'static str, owner: &'static str, what: &'static str) -> SectionOwner {
    SectionOwner { name, owner, what }
}

/// Every section of labkit's lab file, in the order docs/lab-file.md presents them.
pub const SECTIONS: &[SectionOwner] = &[
    owned("lab", "labnet", "the lab's name, DNS domain and uplink"),
    owned("segment", "labnet", "the isolated networks"),
    owned("policy", "labnet", "which segment may reach which"),
    owned(
        "host",
        "labvirt",
        "the hypervisor, its resource budget and storage pools",
    ),
    owned(
        "vm",
        "labvirt",
        "virtual machines and the segments they sit on",
    ),
    owned("docker", "labdocker", "the Docker Engine on the lab host"),
    owned(
        "backup",
        "labbackup",
        "backups, retention and disaster-recovery targets",
    ),
    owned("security", "labsec", "the security baseline"),
];

/// The owner of section `name`, if it is one of labkit's.
#[must_use]
pub fn owner_of(name: &str) -> Option<&'static SectionOwner> {
    SECTIONS.iter().find(|s| s.name == name)
}
