//! Errors of labnet's library areas.

pub use labfile::LoadError;

use crate::proto::Proto;

/// A reachability question could not be asked of this lab.
///
/// Messages name the question's parts, not any command-line flag: the
/// `labnet` binary (and labctl) map them to their own flags.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The source or destination names neither a segment nor an address.
    #[error("{given:?} is neither a segment of this lab nor an IPv4 address{}", suggestion.as_ref().map_or_else(String::new, |s| format!(" (did you mean \"{s}\"?)")))]
    UnknownEndpoint {
        /// What was given.
        given: String,
        /// A close segment name, if any.
        suggestion: Option<String>,
    },
    /// `internet` was given as the source: connections from the internet are
    /// asked about with an outside address.
    #[error(
        "\"internet\" can only be a destination; ask about inbound traffic with an address outside the lab, e.g. 203.0.113.9"
    )]
    InternetAsSource,
    /// A port was given without a protocol.
    #[error("port {port} was given without a protocol; ports belong to tcp or udp")]
    PortWithoutProtocol {
        /// The port.
        port: u16,
    },
    /// A port was given for a protocol without ports.
    #[error("protocol {0} has no ports; ports belong to tcp or udp")]
    PortWithoutPorts(Proto),
    /// Port 0 is not a destination port.
    #[error("port 0 is not a destination port; ports are 1 to 65535")]
    PortZero,
}
