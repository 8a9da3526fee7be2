//! labbackup: restic-compatible encrypted backups of the lab.
//!
//! Reads `[backup]` through labfile, and backs sets up, lists and restores
//! them through rustic_core, so its repositories are restic repositories.
//! Work in progress: see issue 9 for what is still to come (forget with
//! retention, check, drills, status, schedules, hooks, REST).

pub mod model;
mod read;
pub mod repo;
pub mod retention;

pub use model::{Backup, BackupSet, PasswordSource, Retention};
pub use read::{LABBACKUP_SECTIONS, read};

use std::sync::Arc;

use labfile::{Diagnostics, Document, Sink};

/// Read `[backup]` of `doc` (and let labnet check the lab's own sections).
///
/// # Errors
/// Every problem found.
pub fn from_document(doc: &Document) -> Result<Backup, Diagnostics> {
    let mut sink = Sink::new();
    let backup = read(doc, &mut sink);
    doc.finish(&mut sink);
    let all = sink.into_diagnostics(Arc::clone(doc.source()));
    match backup {
        Some(b) if !all.has_errors() => Ok(b),
        _ => Err(all),
    }
}

/// Parse a lab file's text.
///
/// # Errors
/// Every problem found.
pub fn parse(name: &str, text: &str) -> Result<Backup, Diagnostics> {
    from_document(&Document::parse(name, text)?)
}
