//! labnet on the live kernel: load the compiled policy, read it back, diff,
//! coexist with Docker's firewall, and roll back unconfirmed changes.
//!
//! Loading goes through netlink with libnftnl when the `nftnl` feature is on
//! ([`Backend::Netlink`]); without it, and on request, through `nft -f`
//! ([`Backend::Nft`]). Either way the whole table is replaced in one kernel
//! transaction, so a failure leaves the previous ruleset exactly as it was.
//! Reading back uses `nft list`, which prints the kernel's objects.

pub mod apply;
pub mod coexist;
pub mod confirm;
pub mod doctor;
pub mod incremental;
pub mod listing;
pub mod netns;
pub mod nft_cli;
#[cfg(feature = "nftnl")]
pub mod nftnl;
pub use crate::target::program;
pub mod state;
pub mod tool;

use serde::{Deserialize, Serialize};

use crate::ir::PolicyIr;
use crate::model::Lab;
use crate::target::{CompileOptions, TableName, Target, render};
use coexist::Coexist;
pub use listing::{Change, Listing};
pub use netns::Netns;
pub use program::Program;

/// Something went wrong talking to the kernel or its tools.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KernelError {
    /// A network namespace could not be used.
    #[error("network namespace {name}: {what}")]
    Netns {
        /// Its name.
        name: String,
        /// What failed.
        what: String,
        /// Why.
        #[source]
        source: Option<std::io::Error>,
    },
    /// The kernel refused a netlink message; the transaction was aborted.
    #[error("the kernel refused to {what}; nothing was changed")]
    Netlink {
        /// The object of the refused message.
        what: String,
        /// The kernel's error.
        #[source]
        source: std::io::Error,
    },
    /// A program labnet runs (`nft`, `iptables`) failed.
    #[error("{what}")]
    Tool {
        /// Which program.
        tool: String,
        /// What failed, with its stderr.
        what: String,
        /// Why it could not run.
        #[source]
        source: Option<std::io::Error>,
    },
    /// The netlink backend was asked for in a build without it.
    #[error(
        "this build of labnet has no netlink loader (cargo feature `nftnl`, which needs \
         libnftnl-dev and libmnl-dev); rebuild with it, or load with the nft backend"
    )]
    NetlinkNotBuilt,
    /// The compiled program is inconsistent (a labnet bug).
    #[error("internal error building the netlink batch: {0}")]
    Program(String),
    /// Saving or reading labnet's state (pending confirmations, locks) failed.
    #[error("{what} {}", path.display())]
    State {
        /// What failed.
        what: String,
        /// On which file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: Option<std::io::Error>,
    },
    /// Another labnet is changing this namespace's ruleset right now.
    #[error("another labnet is changing the ruleset of {} right now; nothing was changed", where_ns(netns.as_deref()))]
    Busy {
        /// The namespace (`None`: the host's).
        netns: Option<String>,
    },
}

/// `the host's namespace` or `namespace NAME`, for messages.
#[must_use]
pub fn where_ns(netns: Option<&str>) -> String {
    netns.map_or_else(
        || "the host's namespace".to_owned(),
        |n| format!("namespace {n}"),
    )
}

/// How the ruleset reaches the kernel.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Backend {
    /// Netlink batch built with libnftnl when this build has it, else `nft -f`.
    #[default]
    Auto,
    /// One netlink batch built with libnftnl (cargo feature `nftnl`).
    Netlink,
    /// `nft -f` of the compiled script (needs the nftables package).
    Nft,
}

impl Backend {
    /// What `Auto` means in this build.
    #[must_use]
    pub fn resolve(self) -> Self {
        match self {
            Self::Auto if cfg!(feature = "nftnl") => Self::Netlink,
            Self::Auto => Self::Nft,
            b => b,
        }
    }
    /// Name for messages.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Netlink => "netlink",
            Self::Nft => "nft",
        }
    }
}

/// Load `ir` into table `table` of `ns`, replacing only that table, atomically.
///
/// # Errors
/// The kernel or `nft` refused it (nothing changed), or the backend is missing.
pub fn load(
    ns: &Netns,
    ir: &PolicyIr,
    table: &TableName,
    backend: Backend,
) -> Result<Backend, KernelError> {
    match backend.resolve() {
        Backend::Netlink => {
            let program = Program::build(ir, table);
            load_program(ns, &program)?;
            Ok(Backend::Netlink)
        }
        _ => {
            let script = render(
                ir,
                &CompileOptions {
                    target: Target::Nft,
                    table: table.clone(),
                },
            );
            nft_cli::load(ns, &script)?;
            Ok(Backend::Nft)
        }
    }
}

/// Send a netlink program (one transaction) into `ns`.
///
/// # Errors
/// The kernel refused a message, or this build lacks the `nftnl` feature.
pub fn load_program(ns: &Netns, program: &Program) -> Result<(), KernelError> {
    #[cfg(feature = "nftnl")]
    {
        ns.run(|| nftnl::load(program))?
    }
    #[cfg(not(feature = "nftnl"))]
    {
        let _ = (ns, program);
        Err(KernelError::NetlinkNotBuilt)
    }
}

/// What the kernel would hold for `lab`: the compiled script loaded into a
/// throwaway namespace and listed there by the same `nft` that lists the live one.
///
/// # Errors
/// Namespaces or `nft` are unavailable.
pub fn expected_listing(lab: &Lab, table: &TableName) -> Result<Listing, KernelError> {
    let scratch = Netns::throwaway("labnet-expected")?;
    let ir = PolicyIr::build(lab);
    // Netlink when built (the tests hold its listing equal to nft -f's), as
    // it loads in about half the time.
    load(&scratch, &ir, table, Backend::Auto)?;
    let text = nft_cli::list_table(&scratch, table.as_str())?.unwrap_or_default();
    Ok(Listing::parse(&text))
}

/// The live table, or `None` when it is not loaded.
///
/// # Errors
/// `nft` failed.
pub fn live_listing(ns: &Netns, table: &TableName) -> Result<Option<Listing>, KernelError> {
    Ok(nft_cli::list_table(ns, table.as_str())?.map(|t| Listing::parse(&t)))
}

/// The difference between the live table in `ns` and the compiled `lab`;
/// empty when in sync.
///
/// # Errors
/// As [`expected_listing`] and [`live_listing`].
pub fn drift(ns: &Netns, lab: &Lab, table: &TableName) -> Result<Vec<Change>, KernelError> {
    drift_of(live_listing(ns, table)?.as_ref(), lab, table)
}

/// [`drift`] for a live listing already read (`None`: the table is not loaded).
///
/// # Errors
/// As [`expected_listing`].
pub fn drift_of(
    live: Option<&Listing>,
    lab: &Lab,
    table: &TableName,
) -> Result<Vec<Change>, KernelError> {
    let expected = expected_listing(lab, table)?;
    Ok(match live {
        None => vec![Change::TableMissing {
            table: table.as_str().to_owned(),
        }],
        Some(live) => listing::diff(live, &expected),
    })
}

/// Who made the table of labnet's name, as far as labnet can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum TableOwner {
    /// There is no such table.
    Absent,
    /// It carries labnet's marker chain ([`crate::target::OWNER_MARK`]).
    Labnet,
    /// It exists without the marker: someone else's (iptables-nft, a hand-made
    /// table, or one loaded by labnet 0.1, which had no marker).
    Other,
}

/// The owner of a table, from its parsed `nft list table` text (`None`: absent).
#[must_use]
pub fn owner_of(listing: Option<&Listing>) -> TableOwner {
    match listing {
        None => TableOwner::Absent,
        Some(l)
            if l.blocks
                .contains_key(&format!("chain {}", crate::target::OWNER_MARK)) =>
        {
            TableOwner::Labnet
        }
        Some(_) => TableOwner::Other,
    }
}

/// Where on the live kernel a command works; `labnet apply/diff/status/doctor`
/// flatten this.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct LiveOptions {
    /// Work in this network namespace (one `ip netns add NAME` made) instead of the host's.
    #[cfg_attr(feature = "clap", arg(long, value_name = "NAME"))]
    pub netns: Option<String>,
    /// Name of labnet's own nftables table.
    #[cfg_attr(
        feature = "clap",
        arg(long, value_name = "NAME", default_value = "labnet")
    )]
    pub table: TableName,
}

/// How `labnet apply` loads; the flags are this struct.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ApplyOptions {
    /// Print what would change, change nothing.
    #[cfg_attr(feature = "clap", arg(long))]
    pub dry_run: bool,
    /// How the ruleset reaches the kernel.
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value_t = Backend::Auto))]
    pub backend: Backend,
    /// Make room in another tool's firewall (see docs/labnet.md).
    #[cfg_attr(feature = "clap", arg(long, value_enum, value_name = "TOOL"))]
    pub coexist: Vec<coexist::Coexist>,
    /// Restore the previous ruleset unless `labnet confirm` comes within this time (e.g. 60s, 2m).
    #[cfg_attr(feature = "clap", arg(long, value_name = "DURATION", value_parser = confirm::parse_duration))]
    #[serde(skip)]
    pub confirm_within: Option<std::time::Duration>,
}

impl ApplyOptions {
    /// A confirmation window (see [`confirm`]).
    #[must_use]
    pub fn confirm_within(mut self, window: std::time::Duration) -> Self {
        self.confirm_within = Some(window);
        self
    }

    /// Only print what would change.
    #[must_use]
    pub fn dry_run(mut self) -> Self {
        self.dry_run = true;
        self
    }

    /// This loader.
    #[must_use]
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// Make room in another firewall.
    #[must_use]
    pub fn coexist(mut self, with: Coexist) -> Self {
        self.coexist.push(with);
        self
    }
}

impl LiveOptions {
    /// The host's namespace, the default table.
    #[must_use]
    pub fn host() -> Self {
        Self::default()
    }

    /// A namespace made by `ip netns add NAME`, the default table.
    #[must_use]
    pub fn netns(name: impl Into<String>) -> Self {
        Self {
            netns: Some(name.into()),
            table: TableName::default(),
        }
    }

    /// With this table.
    #[must_use]
    pub fn table(mut self, table: TableName) -> Self {
        self.table = table;
        self
    }
}
