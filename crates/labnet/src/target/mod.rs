//! Rendering the policy IR for a firewall.
//!
//! Every target renders the same [`PolicyIr`], and all output is deterministic:
//! the same lab gives the same bytes.

mod iptables;
mod nft;
mod nft_json;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ir::PolicyIr;
use crate::model::Lab;

/// An output format of `labnet compile`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[non_exhaustive]
pub enum Target {
    /// An `nft -f` script that atomically replaces labnet's own table.
    #[default]
    Nft,
    /// The same ruleset as libnftables JSON, for `nft -j -f` or a libnftables client.
    NftJson,
    /// `iptables-restore --noflush` input, for hosts still on iptables.
    Iptables,
}

impl Target {
    /// Every target.
    pub const ALL: [Self; 3] = [Self::Nft, Self::NftJson, Self::Iptables];

    /// The name used on the command line.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nft => "nft",
            Self::NftJson => "nft-json",
            Self::Iptables => "iptables",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not a target; use nft, nft-json or iptables"))
    }
}

/// The name of labnet's own nftables table; for iptables, upper-cased, the chain prefix.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TableName(String);

impl TableName {
    /// Validate: a lowercase letter, then lowercase letters, digits and `_`; at most 16 characters
    /// (so iptables chain names built from it stay under the 28-character limit).
    pub fn new(s: impl Into<String>) -> Result<Self, String> {
        let s = s.into();
        let ok = s.len() <= 16
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if ok {
            Ok(Self(s))
        } else {
            Err(format!(
                "{s:?} is not a table name: use a lowercase letter, then lowercase letters, digits and '_', at most 16 characters"
            ))
        }
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for TableName {
    fn default() -> Self {
        Self("labnet".to_owned())
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for TableName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for TableName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl From<TableName> for String {
    fn from(t: TableName) -> Self {
        t.0
    }
}

/// Options of the compiler; the `labnet compile` flags are this struct.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args), group(id = "compile_options"))]
#[serde(default, deny_unknown_fields)]
pub struct CompileOptions {
    /// Output format.
    #[cfg_attr(feature = "clap", arg(long, short = 't', value_enum, default_value_t = Target::Nft))]
    pub target: Target,
    /// Name of labnet's own nftables table (for iptables, the upper-cased chain prefix).
    #[cfg_attr(
        feature = "clap",
        arg(long, value_name = "NAME", default_value = "labnet")
    )]
    pub table: TableName,
}

/// Compile a lab for a target.
#[must_use]
pub fn compile(lab: &Lab, opts: &CompileOptions) -> String {
    render(&PolicyIr::build(lab), opts)
}

/// Render an already built IR.
#[must_use]
pub fn render(ir: &PolicyIr, opts: &CompileOptions) -> String {
    match opts.target {
        Target::Nft => nft::render(ir, &opts.table),
        Target::NftJson => nft_json::render(ir, &opts.table),
        Target::Iptables => iptables::render(ir, &opts.table),
    }
}

/// Names shared by the nft and nft-json targets, so both load the same kernel objects.
pub(crate) mod names {
    use crate::names::SegmentName;

    pub(crate) const LAB_SET: &str = "lab";
    pub(crate) const EGRESS_SET: &str = "egress";
    pub(crate) const SOURCE_MAP: &str = "from_segment";
    pub(crate) const FORWARD: &str = "forward";
    pub(crate) const POSTROUTING: &str = "postrouting";

    pub(crate) fn chain(s: &SegmentName) -> String {
        format!("from_{s}")
    }
    pub(crate) fn any_set(s: &SegmentName) -> String {
        format!("{s}_any")
    }
    pub(crate) fn proto_set(s: &SegmentName) -> String {
        format!("{s}_proto")
    }
    pub(crate) fn svc_set(s: &SegmentName) -> String {
        format!("{s}_svc")
    }
}

/// A one-line summary for generated-file headers.
pub(crate) fn summary(ir: &PolicyIr) -> String {
    let n = ir.sources.len();
    format!(
        "lab \"{}\": {n} segment{}, {} of {} ordered segment pairs allowed, internet egress from {}",
        ir.lab,
        if n == 1 { "" } else { "s" },
        ir.allowed_pairs,
        n * n.saturating_sub(1),
        ir.egress_nets.len()
    )
}
