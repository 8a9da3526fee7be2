//! labnet: the lab file, the segment routing policy of an AWS-VPC-style home
//! lab, and its compiler to nftables, libnftables JSON and iptables.
//!
//! The flow is lab file → [`labfile::parse`] (diagnostics with file, line and
//! column) → validated [`Lab`] → [`PolicyIr`] → [`target::render`]. The
//! plain reading of the lab file, [`Lab::decide`], answers what should happen
//! to any packet; the compiled rulesets are tested to agree with it.
//!
//! ```
//! use labnet::{Lab, target::{compile, CompileOptions}};
//!
//! let lab = Lab::reference();
//! let script = compile(&lab, &CompileOptions::default());
//! assert!(script.contains("table ip labnet {"));
//! ```

pub mod cidr;
pub mod decide;
pub mod diag;
pub mod error;
pub mod ir;
#[cfg(feature = "kernel")]
pub mod kernel;
pub mod labfile;
pub mod matrix;
pub mod model;
pub mod names;
pub mod port;
#[cfg(feature = "proof")]
pub mod proof;
pub mod proto;
pub mod query;
pub mod reach;
pub mod reference;
pub mod target;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
#[cfg(test)]
mod tests;

pub use cidr::Ipv4Cidr;
pub use decide::{CtState, Decision, Packet, Reason};
pub use diag::{Diagnostic, Diagnostics, Severity};
pub use error::{LoadError, QueryError};
pub use ir::PolicyIr;
pub use labfile::LabFile;
pub use model::{AllowRule, DhcpRange, Lab, LabBuilder, LabInfo, Segment, Selector};
pub use names::{DomainName, InterfaceName, LabName, SegmentName};
pub use port::{PortRange, PortSet};
pub use proto::{L4, Proto};
