//! Errors of labnet's library areas.

use std::path::PathBuf;

use crate::diag::Diagnostics;

/// Loading a lab file failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read lab file {path}")]
    Read {
        /// The path given.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but is not a valid lab; every problem is in the diagnostics.
    #[error("{0}")]
    Invalid(Diagnostics),
}

/// A reachability question could not be asked of this lab.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// `--from`/`--to` names neither a segment nor an address.
    #[error("{given:?} is neither a segment of this lab nor an IPv4 address{}", suggestion.as_ref().map_or_else(String::new, |s| format!(" (did you mean \"{s}\"?)")))]
    UnknownEndpoint {
        /// What was given.
        given: String,
        /// A close segment name, if any.
        suggestion: Option<String>,
    },
    /// A port was given for a protocol without ports.
    #[error("--port needs --proto tcp or --proto udp (got {0})")]
    PortWithoutPorts(crate::proto::Proto),
}
