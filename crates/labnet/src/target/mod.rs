//! Rendering the policy IR for a firewall.
//!
//! Every target renders the same [`PolicyIr`], and all output is deterministic:
//! the same lab gives the same bytes.

pub mod delta;
mod iptables;
pub mod layout;
mod line;
mod nft;
#[cfg(test)]
pub(crate) use nft::{Threads, render_threads};
mod nft_json;
pub mod program;

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

/// An unknown target name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a target; use nft, nft-json or iptables")]
pub struct TargetError(pub String);

impl FromStr for Target {
    type Err = TargetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| TargetError(s.to_owned()))
    }
}

/// Tables that iptables-nft (the `iptables` most distributions ship) creates
/// and manages in family `ip`; labnet never takes one of these names.
pub const IPTABLES_TABLES: &[&str] = &["filter", "nat", "mangle", "raw", "security"];

/// Words nft 1.0.6 cannot read as a table name, either in a script
/// (`table ip NAME`) or on its command line (`nft list table ip NAME`), which
/// labnet uses to read its table back. Found by trying every word of nft's
/// scanner (src/scanner.l) with nft 1.0.6 in a namespace;
/// `tests/tests/nft_kernel.rs` checks the list against the installed nft.
pub const NFT_KEYWORDS: &[&str] = &[
    "accept",
    "add",
    "ah",
    "all",
    "and",
    "arp",
    "bridge",
    "cgroup",
    "chain",
    "chains",
    "comment",
    "comp",
    "constant",
    "continue",
    "counter",
    "counters",
    "cpu",
    "create",
    "ct",
    "day",
    "dccp",
    "define",
    "delete",
    "describe",
    "device",
    "devices",
    "dnat",
    "drop",
    "dst",
    "dup",
    "dynamic",
    "ecn",
    "element",
    "elements",
    "eq",
    "esp",
    "ether",
    "exists",
    "expires",
    "export",
    "exthdr",
    "fib",
    "flags",
    "flow",
    "flowtable",
    "flowtables",
    "flush",
    "frag",
    "fwd",
    "ge",
    "get",
    "goto",
    "gt",
    "handle",
    "hbh",
    "hook",
    "hooks",
    "hour",
    "ibriport",
    "ibrname",
    "icmp",
    "icmpv6",
    "igmp",
    "iif",
    "iifgroup",
    "iifname",
    "iiftype",
    "import",
    "include",
    "index",
    "inet",
    "insert",
    "interval",
    "ip",
    "ip6",
    "ipsec",
    "jhash",
    "jump",
    "le",
    "limit",
    "limits",
    "list",
    "log",
    "lshift",
    "lt",
    "map",
    "maps",
    "mark",
    "masquerade",
    "meta",
    "meter",
    "meters",
    "mh",
    "missing",
    "monitor",
    "ne",
    "netdev",
    "nftrace",
    "not",
    "notrack",
    "numgen",
    "obriport",
    "obrname",
    "offload",
    "oif",
    "oifgroup",
    "oifname",
    "oiftype",
    "or",
    "osf",
    "pkttype",
    "policy",
    "position",
    "priority",
    "queue",
    "quota",
    "quotas",
    "random",
    "redefine",
    "redirect",
    "reject",
    "rename",
    "replace",
    "reset",
    "return",
    "rshift",
    "rt",
    "rt0",
    "rt2",
    "rtclassid",
    "rule",
    "ruleset",
    "sctp",
    "secmark",
    "secmarks",
    "set",
    "sets",
    "size",
    "skgid",
    "skuid",
    "snat",
    "socket",
    "srh",
    "symhash",
    "synproxy",
    "synproxys",
    "table",
    "tables",
    "tcp",
    "th",
    "time",
    "timeout",
    "tproxy",
    "type",
    "typeof",
    "udp",
    "udplite",
    "undefine",
    "update",
    "vlan",
    "vmap",
    "xor",
    "xt",
];

/// Why a name cannot be labnet's table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TableNameError {
    /// Not a lowercase letter followed by lowercase letters, digits and `_`, or too long.
    #[error(
        "{0:?} is not a table name: use a lowercase letter, then lowercase letters, digits and '_', at most 16 characters"
    )]
    Malformed(String),
    /// A table iptables-nft manages.
    #[error(
        "{0:?} is a table iptables-nft manages; labnet keeps its rules in a table of its own (the default is \"labnet\")"
    )]
    Iptables(String),
    /// A word nft reads as a keyword, so a script naming the table would not parse.
    #[error("{0:?} is an nft keyword; a table of that name cannot be loaded or listed by nft")]
    Keyword(String),
}

/// The name of labnet's own nftables table; for iptables, upper-cased, the chain prefix.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TableName(String);

impl TableName {
    /// Validate: a lowercase letter, then lowercase letters, digits and `_`; at most 16 characters
    /// (so iptables chain names built from it stay under the 28-character limit);
    /// not one of [`IPTABLES_TABLES`] nor [`NFT_KEYWORDS`].
    ///
    /// # Errors
    /// Which rule the name breaks.
    pub fn new(s: impl Into<String>) -> Result<Self, TableNameError> {
        let s = s.into();
        let ok = s.len() <= 16
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok {
            let mut shown = s;
            shown.truncate(shown.floor_char_boundary(64));
            return Err(TableNameError::Malformed(shown));
        }
        if IPTABLES_TABLES.contains(&s.as_str()) {
            return Err(TableNameError::Iptables(s));
        }
        if NFT_KEYWORDS.binary_search(&s.as_str()).is_ok() {
            return Err(TableNameError::Keyword(s));
        }
        Ok(Self(s))
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
    type Err = TableNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for TableName {
    type Error = TableNameError;
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
#[non_exhaustive]
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

impl CompileOptions {
    /// Options for `target`, with the default table.
    #[must_use]
    pub fn target(target: Target) -> Self {
        Self {
            target,
            table: TableName::default(),
        }
    }

    /// With this table name.
    #[must_use]
    pub fn table(mut self, table: TableName) -> Self {
        self.table = table;
        self
    }
}

/// Compile a lab for a target.
///
/// ```
/// use labnet::target::{compile, CompileOptions, Target};
///
/// let rules = compile(&labnet::reference::lab(), &CompileOptions::target(Target::Iptables));
/// assert!(rules.starts_with("# labnet"));
/// ```
#[must_use]
pub fn compile(lab: &Lab, opts: &CompileOptions) -> String {
    render(&PolicyIr::build(lab), opts)
}

/// Compile straight into a writer: the nft target streams through a buffer of
/// about a megabyte, so a ruleset of hundreds of megabytes is never held whole.
///
/// # Errors
/// Writing failed.
pub fn compile_to(
    lab: &Lab,
    opts: &CompileOptions,
    w: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    render_to(&PolicyIr::build(lab), opts, w)
}

/// [`render`] into a writer.
///
/// # Errors
/// Writing failed.
pub fn render_to(
    ir: &PolicyIr,
    opts: &CompileOptions,
    w: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    match opts.target {
        Target::Nft => nft::render_to(ir, &opts.table, w),
        _ => w.write_all(render(ir, opts).as_bytes()),
    }
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

/// The empty chain every table labnet loads carries, so that labnet replaces
/// or removes only tables it made (never iptables-nft's or anyone else's).
/// A chain, not a table comment: nft 1.0.6's JSON neither reads nor prints
/// table comments, and all three loaders must make identical objects.
pub const OWNER_MARK: &str = "managed_by_labnet";

/// Names shared by the nft and nft-json targets, so both load the same kernel objects.
pub(crate) mod names {
    use crate::names::SegmentName;

    pub(crate) const LAB_SET: &str = "lab";
    pub(crate) const EGRESS_SET: &str = "egress";
    pub(crate) const SOURCE_MAP: &str = "from_segment";
    pub(crate) const FORWARD: &str = "forward";
    pub(crate) const POSTROUTING: &str = "postrouting";
    /// An empty chain that marks a table as labnet's own (segment names cannot
    /// hold `_`, so no segment's chain or set can take this name).
    pub(crate) const OWNER_MARK: &str = super::OWNER_MARK;

    pub(crate) fn chain(s: &SegmentName) -> String {
        format!("from_{s}")
    }
}

/// The rules of one chain of the nft target, in nft syntax and in order
/// (empty for a chain it does not have).
#[must_use]
pub fn chain_rules(ir: &PolicyIr, chain: &str) -> Vec<String> {
    match chain {
        names::FORWARD => nft::forward_rules(ir),
        names::POSTROUTING => nft::postrouting_rules(ir),
        _ => {
            let mut v = Vec::new();
            if let Some(sp) = ir
                .sources
                .iter()
                .find(|s| chain.strip_prefix("from_") == Some(s.segment.as_str()))
            {
                nft::source_rules(sp, |r| v.push(r.to_owned()));
            }
            v
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_output_is_the_same_bytes() {
        for n in [5, 50] {
            let lab = crate::testkit::Synthetic::benchmark(n).lab();
            let ir = PolicyIr::build(&lab);
            let whole = render(&ir, &CompileOptions::default());
            for chunk in [1, 100, 4096, 1 << 20] {
                let mut v = Vec::new();
                nft::render_chunked(&ir, &TableName::default(), &mut v, chunk).unwrap();
                assert_eq!(String::from_utf8(v).unwrap(), whole, "n={n} chunk={chunk}");
            }
            for target in Target::ALL {
                let mut v = Vec::new();
                compile_to(&lab, &CompileOptions::target(target), &mut v).unwrap();
                assert_eq!(
                    v,
                    compile(&lab, &CompileOptions::target(target)).into_bytes()
                );
            }
        }
    }
}
