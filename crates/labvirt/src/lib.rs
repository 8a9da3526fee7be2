//! labvirt: the lab's segments and VMs on libvirt.
//!
//! One libvirt network per labnet segment (bridge, gateway, DHCP range,
//! reservations, DNS records of every VM in every network), one domain per
//! `[[vm]]` (virtio disk and NIC, fixed MAC, a cloud-init seed), a resource
//! budget checked before anything is defined, and a plan of create / update /
//! keep / remove that `apply` carries out idempotently.
//!
//! Without the `libvirt` feature the crate reads the lab file, checks budgets,
//! writes XML and seeds, plans against an [`observe::Observed`] built in code,
//! and draws graphs. With it, `host::Libvirt` talks to a libvirt daemon (or the
//! test driver) through the `virt` crate.
//!
//! ```
//! let lab = labvirt::parse("lab.toml", labvirt::reference::TOML)?;
//! assert_eq!(lab.vms.len(), 4);
//! let budget = labvirt::budget::check(&lab.host, &lab.vms, Default::default());
//! assert!(budget.fits());
//! let want = labvirt::spec::desired(&lab, labvirt::DomainType::Qemu, &|_| None);
//! assert_eq!(want.networks.len(), 5);
//! # Ok::<(), labfile::Diagnostics>(())
//! ```

pub mod budget;
pub mod caps;
pub mod graph;
#[cfg(feature = "libvirt")]
pub mod host;
pub mod iso;
pub mod model;
pub mod names;
pub mod observe;
pub mod plan;
mod read;
pub mod reference;
pub mod seed;
pub mod spec;
pub mod xml;

use std::path::Path;
use std::sync::Arc;

pub use model::{Boot, DomainType, ForwardMode, Host, VirtLab, Vm};
pub use names::{MacAddr, NameError, VmName};
pub use read::{LABVIRT_SECTIONS, read};

use labfile::{Diagnostics, Document, LoadError, Sink};

/// Whether this build can talk to libvirt (the `libvirt` feature).
pub const LIBVIRT_ENABLED: bool = cfg!(feature = "libvirt");

/// Read labnet's and labvirt's sections of `doc`, report unknown sections.
///
/// # Errors
/// Every problem found, from both crates, in file order.
pub fn from_document(doc: &Document) -> Result<VirtLab, Diagnostics> {
    let mut sink = Sink::new();
    let net = labnet::labfile::read(doc, &mut sink);
    let lab = net.and_then(|net| read(doc, net, &mut sink));
    doc.finish(&mut sink);
    let all = sink.into_diagnostics(Arc::clone(doc.source()));
    match lab {
        Some(lab) if !all.has_errors() => Ok(lab),
        _ => Err(all),
    }
}

/// Parse a lab file's text.
///
/// # Errors
/// Every problem found.
pub fn parse(name: &str, text: &str) -> Result<VirtLab, Diagnostics> {
    from_document(&Document::parse(name, text)?)
}

/// Load and read a lab file.
///
/// # Errors
/// The file could not be read, or its problems.
pub fn load(path: &Path) -> Result<VirtLab, LoadError> {
    let doc = labfile::load(path)?;
    from_document(&doc).map_err(LoadError::Invalid)
}
