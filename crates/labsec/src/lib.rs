//! labsec: the lab's security baseline.
//!
//! In progress (issue 11):
//! - [`sshd`]: sshd's effective configuration computed as OpenSSH's
//!   `servconf.c` does (Include with globs and relative paths, first value
//!   wins, Match blocks for a connection), for trees where `sshd -T` cannot
//!   run; held against the real `sshd -T` by a differential test.
//! - [`read`]/[`from_document`]: `[security]` through labfile.
//! - [`audit`] and [`host`]: the checks (SSH, kernel, host, fail2ban) with
//!   stable ids, severities, references and remediations; a score; SARIF.
//! - [`harden`]: the baseline's files, validated by the real `sshd -t`
//!   before anything is written, with backups and rollback.
//! - [`live`]: which reading to use (`sshd -T` on a host, the reader under
//!   an offline root).

pub mod audit;
pub mod harden;
pub mod host;
pub mod live;
pub mod model;
mod read;
pub mod sshd;

pub use model::{AutoUpdates, Fail2ban, Security, SshPolicy};
pub use read::{JAILS, LABSEC_SECTIONS, read};

use std::sync::Arc;

use labfile::{Diagnostics, Document, Sink};

/// Read labnet's sections and `[security]` of `doc`, report unknown sections.
///
/// # Errors
/// Every problem found, from both crates, in file order.
pub fn from_document(doc: &Document) -> Result<(Security, labnet::LabFile), Diagnostics> {
    let mut sink = Sink::new();
    let net = labnet::labfile::read(doc, &mut sink);
    let sec = read(doc, &mut sink);
    doc.finish(&mut sink);
    let all = sink.into_diagnostics(Arc::clone(doc.source()));
    match (sec, net) {
        (Some(s), Some(n)) if !all.has_errors() => Ok((s, n)),
        _ => Err(all),
    }
}
