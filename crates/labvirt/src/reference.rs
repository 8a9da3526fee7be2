//! The built-in reference lab: labnet's five segments with a host budget and
//! a small VM set that fits it (docs/lab-file.md walks through it).

/// The reference lab file: labnet's reference lab with `[host]` and `[[vm]]`.
pub const TOML: &str = labnet::reference::TOML;

/// The reference lab, read.
///
/// # Panics
/// Never: a test reads it.
#[must_use]
#[allow(clippy::expect_used)]
pub fn lab() -> crate::VirtLab {
    crate::parse("reference.toml", TOML).expect("the reference lab is valid")
}
