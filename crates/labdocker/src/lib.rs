//! labdocker: the lab host's Docker Engine.
//!
//! Begun (issue 10): `[docker]` read through labfile, every address pool
//! checked against the lab's segments, libvirt's `default` network and each
//! other, and daemon.json generated from it. The Engine itself (bollard),
//! health, audit, prune and Swarm follow.

pub mod daemon;
pub mod model;
mod read;

pub use model::{AddressPool, Docker, LogConfig, PrunePolicy, Swarm};
pub use read::{LABDOCKER_SECTIONS, LIBVIRT_DEFAULT, read};

use std::sync::Arc;

use labfile::{Diagnostics, Document, Sink};

/// Read labnet's sections and `[docker]` of `doc`, report unknown sections.
///
/// # Errors
/// Every problem found, from both crates, in file order.
pub fn from_document(doc: &Document) -> Result<Docker, Diagnostics> {
    let mut sink = Sink::new();
    let net = labnet::labfile::read(doc, &mut sink);
    let docker = net.as_ref().and_then(|net| read(doc, net, &mut sink));
    doc.finish(&mut sink);
    let all = sink.into_diagnostics(Arc::clone(doc.source()));
    match docker {
        Some(d) if !all.has_errors() => Ok(d),
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
