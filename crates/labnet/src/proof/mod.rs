//! The packet-level proof: build the lab as throwaway namespaces, load the
//! compiled ruleset into the router, send real traffic between every ordered
//! pair of segments and to and from a simulated internet, and compare what
//! got through with what the lab file says.
//!
//! Traffic never leaves the namespaces built here: every socket is created
//! inside one of them, and they hold only lab and documentation addresses.

pub mod probe;
pub mod topology;

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::ir::PolicyIr;
use crate::kernel::{self, Backend, KernelError};
use crate::model::Lab;
use crate::target::TableName;
pub use probe::{Kind, Probe};
pub use topology::Topology;

/// The proof could not be run (as opposed to: it ran and found differences).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// Building the namespaces, links or addresses failed.
    #[error("cannot build the test network: {0}")]
    Setup(String),
    /// Loading the ruleset or another kernel step failed.
    #[error(transparent)]
    Kernel(#[from] KernelError),
}

/// How to run the proof.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProofOptions {
    /// Loader for the ruleset.
    pub backend: Backend,
    /// How long a connection or echo may take before it counts as blocked.
    pub timeout: Duration,
    /// Most probes in flight at once.
    pub parallel: usize,
}

impl Default for ProofOptions {
    fn default() -> Self {
        Self {
            backend: Backend::Auto,
            timeout: Duration::from_millis(1500),
            parallel: 128,
        }
    }
}

impl ProofOptions {
    /// With this loader.
    #[must_use]
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// With this probe timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// What the proof observed.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Report {
    /// Segment names, in lab order.
    pub segments: Vec<String>,
    /// The network that stood for the internet.
    pub internet: crate::cidr::Ipv4Cidr,
    /// The router's address on it: what masqueraded traffic arrives as.
    pub router_uplink: std::net::Ipv4Addr,
    /// Every probe with its expected and observed outcome.
    pub probes: Vec<Probe>,
}

impl Report {
    /// Probes whose outcome differs from the lab file.
    pub fn mismatches(&self) -> impl Iterator<Item = &Probe> {
        self.probes.iter().filter(|p| !p.agrees())
    }

    /// How many probes of one protocol (`tcp`, `udp`, `icmp`) ran.
    #[must_use]
    pub fn count(&self, proto: &str) -> usize {
        self.probes
            .iter()
            .filter(|p| match p.kind {
                Kind::Tcp { .. } => proto == "tcp",
                Kind::Udp { .. } => proto == "udp",
                Kind::Icmp => proto == "icmp",
            })
            .count()
    }

    /// True when every probe agrees with the lab file.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.mismatches().next().is_none()
    }

    /// The matrix of what got through (`observed`) or should have (`!observed`):
    /// one row per source, one column per destination and the internet.
    #[must_use]
    pub fn matrix(&self, observed: bool) -> String {
        let mut cols = self.segments.clone();
        cols.push(probe::INTERNET.into());
        let mut rows = self.segments.clone();
        rows.push(probe::INTERNET.into());
        let cell = |from: &str, to: &str| -> String {
            if from == to {
                return "·".into();
            }
            let mut parts: Vec<String> = self
                .probes
                .iter()
                .filter(|p| p.from == from && p.to == to)
                .filter(|p| if observed { p.observed } else { p.expected })
                .map(|p| p.kind.to_string())
                .collect();
            parts.dedup();
            if parts.is_empty() {
                "-".into()
            } else {
                parts.join(" ")
            }
        };
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|r| cols.iter().map(|c| cell(r, c)).collect())
            .collect();
        let w0 = rows.iter().map(String::len).max().unwrap_or(0).max(9);
        let widths: Vec<usize> = cols
            .iter()
            .enumerate()
            .map(|(j, c)| {
                cells
                    .iter()
                    .map(|r| r[j].len())
                    .max()
                    .unwrap_or(0)
                    .max(c.len())
            })
            .collect();
        let mut out = String::new();
        let _ = write!(out, "{:w0$}", "from \\ to");
        for (c, w) in cols.iter().zip(&widths) {
            let _ = write!(out, "  {c:w$}");
        }
        out.push('\n');
        for (r, row) in rows.iter().zip(&cells) {
            let _ = write!(out, "{r:w0$}");
            for (c, w) in row.iter().zip(&widths) {
                let _ = write!(out, "  {c:w$}");
            }
            out.push('\n');
        }
        out
    }
}

/// Build the network, optionally prepare the router (`prepare`: e.g. add
/// another firewall's rules), load the lab's ruleset there, and probe.
///
/// # Errors
/// The network or the ruleset could not be set up.
pub fn run(
    lab: &Lab,
    opts: &ProofOptions,
    prepare: impl FnOnce(&Topology) -> Result<(), ProofError>,
) -> Result<Report, ProofError> {
    let topo = Topology::build(lab)?;
    prepare(&topo)?;
    kernel::load(
        &topo.router,
        &PolicyIr::build(lab),
        &TableName::default(),
        opts.backend,
    )?;
    probe::run(lab, &topo, opts)
}
