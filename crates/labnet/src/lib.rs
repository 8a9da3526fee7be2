//! labnet: the lab file's network sections, the segment routing policy of an
//! AWS-VPC-style home lab, and its compiler to nftables, libnftables JSON and
//! iptables.
//!
//! The flow is lab file → [`labfile::parse`] (diagnostics with file, line and
//! column, from the shared `labfile` crate) → validated [`Lab`] → [`PolicyIr`]
//! → [`target::render`]. The plain reading of the lab file, [`Lab::decide`],
//! answers what should happen to any packet; the compiled rulesets are tested
//! to agree with it.
//!
//! Compiling the built-in lab:
//!
//! ```
//! use labnet::target::{compile, CompileOptions};
//!
//! let lab = labnet::reference::lab();
//! let script = compile(&lab, &CompileOptions::default());
//! assert!(script.contains("table ip labnet {"));
//! ```
//!
//! Asking a question of a lab (with or without its file's line numbers):
//!
//! ```
//! use labnet::query::{Query, Verdict};
//! use labnet::Proto;
//!
//! let file = labnet::reference::file();
//! let q = Query::new("private", "database").proto(Proto::Tcp).port(5432);
//! let answer = q.answer_in(&file)?;
//! assert_eq!(answer.verdict, Verdict::Allowed);
//! assert_eq!(q.answer(file.lab())?.verdict, Verdict::Allowed);
//! # Ok::<(), labnet::QueryError>(())
//! ```
//!
//! Features: `kernel` (apply, diff, status, confirm and doctor on the live
//! kernel, through `nft`/`iptables` in namespaces), `nftnl` (loading as one
//! libnftnl netlink batch; needs libnftnl-dev), `proof` (the packet-level
//! proof in throwaway namespaces), `clap` (the option structs as clap
//! arguments), `testkit` (generators and independent evaluators).
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod cidr;
pub mod decide;
pub mod diag;
pub mod error;
pub mod ir;
#[cfg(feature = "kernel")]
#[cfg_attr(docsrs, doc(cfg(feature = "kernel")))]
pub mod kernel;
pub mod labfile;
pub mod matrix;
pub mod model;
pub mod names;
mod par;
pub mod port;
#[cfg(feature = "proof")]
#[cfg_attr(docsrs, doc(cfg(feature = "proof")))]
pub mod proof;
pub mod proto;
pub mod query;
pub mod reach;
pub mod reference;
pub mod target;
#[cfg(any(test, feature = "testkit"))]
#[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
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
