//! labbackup: restic-compatible encrypted backups of the lab.
//!
//! Reads `[backup]` through labfile, and backs sets up, lists and restores
//! them through rustic_core, so its repositories are restic repositories.
//! Sets run with their hooks ([`run`]), retention is decided in one pass
//! ([`retention`]), drills restore and verify against the snapshot ([`drill`]),
//! and [`status`] and [`schedule`] give what monitoring and systemd need.

pub mod drill;
pub mod model;
mod read;
pub mod repo;
mod resticlock;
pub mod retention;
pub mod run;
pub mod schedule;
pub mod status;

/// The progress interface rustic_core reports through; a front end
/// implements [`progress::ProgressBars`] and hands it to
/// [`repo::Repo::with_progress`].
pub mod progress {
    pub use rustic_core::{Progress, ProgressBars, ProgressType, RusticProgress};
}

pub use model::{Backup, BackupSet, PasswordSource, Retention};
pub use read::{DEFAULT_STATE_DIR, LABBACKUP_SECTIONS, read};

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
