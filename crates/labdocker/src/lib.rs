//! labdocker: the lab host's Docker Engine through bollard.
//!
//! - [`read`]/[`from_document`]: `[docker]` read through labfile, every
//!   address pool checked against the lab's segments, libvirt's `default`
//!   network and each other.
//! - [`daemon`]: daemon.json generated from the lab, read, validated
//!   (unknown keys, overlapping ranges, rotation, TCP without TLS), merged.
//! - [`Engine`]: the connection (version negotiated) and everything that
//!   asks the Engine: [`inventory`] and health, [`watch`], [`audit`],
//!   [`df`] (both `/system/df` layouts), exact [`prune`], [`swarm`].
//!
//! Every object labdocker creates carries [`OWNER_LABEL`]` = labkit`; it
//! removes only those, except through the lab's prune policy.

pub mod audit;
pub mod daemon;
pub mod df;
mod engine;
pub mod error;
pub mod inventory;
pub mod model;
pub mod prune;
mod read;
pub mod swarm;
pub mod watch;

/// The bollard this crate talks through, for its types.
pub use bollard;
pub use engine::{Engine, OWNER, OWNER_LABEL, owned};
pub use error::{DaemonConfigError, EngineError};
pub use model::{AddressPool, Docker, LogConfig, PrunePolicy, Swarm};
pub use read::{LABDOCKER_SECTIONS, LIBVIRT_DEFAULT, read};

use std::sync::Arc;

use labfile::{Diagnostics, Document, Sink};

/// The Engine's own message for a failed call, else bollard's.
#[must_use]
pub fn describe(e: &bollard::errors::Error) -> String {
    match e {
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        } => format!("{message} (status {status_code})"),
        other => other.to_string(),
    }
}

/// The ranges a Docker network must stay out of: every segment of the lab
/// and libvirt's `default`, each with a name for messages.
#[must_use]
pub fn lab_ranges(net: &labnet::LabFile) -> Vec<(String, labnet::Ipv4Cidr)> {
    let mut v: Vec<(String, labnet::Ipv4Cidr)> = net
        .lab()
        .segments()
        .iter()
        .map(|s| (format!("segment {}", s.name.as_str()), s.cidr))
        .collect();
    if let Ok(c) = LIBVIRT_DEFAULT.parse() {
        v.push(("libvirt's default network".to_owned(), c));
    }
    v
}

/// Read labnet's sections and `[docker]` of `doc`, report unknown sections.
///
/// # Errors
/// Every problem found, from both crates, in file order.
pub fn from_document(doc: &Document) -> Result<Docker, Diagnostics> {
    from_document_with_lab(doc).map(|(d, _)| d)
}

/// As [`from_document`], with labnet's reading of the same file.
///
/// # Errors
/// Every problem found, from both crates, in file order.
pub fn from_document_with_lab(doc: &Document) -> Result<(Docker, labnet::LabFile), Diagnostics> {
    let mut sink = Sink::new();
    let net = labnet::labfile::read(doc, &mut sink);
    let docker = net.as_ref().and_then(|net| read(doc, net, &mut sink));
    doc.finish(&mut sink);
    let all = sink.into_diagnostics(Arc::clone(doc.source()));
    match (docker, net) {
        (Some(d), Some(n)) if !all.has_errors() => Ok((d, n)),
        _ => Err(all),
    }
}

/// Parse a lab file's text.
///
/// # Errors
/// Every problem found.
pub fn parse(name: &str, text: &str) -> Result<Docker, Diagnostics> {
    from_document(&Document::parse(name, text)?)
}
