//! labnet's sections of the lab file: `[lab]`, `[[segment]]` and `[policy]`.
//!
//! The file itself, its diagnostics and the generic readers are the shared
//! `labfile` crate's; this module reads labnet's sections from a
//! [`Document`] into the model's draft, which [`crate::model`] validates.
//! Other crates read their own sections from the same document; see
//! docs/lab-file.md for who owns which.
//!
//! ```
//! // One crate alone: parse, read labnet's sections, report unknown sections.
//! let file = labnet::labfile::parse("lab.toml", labnet::reference::TOML)?;
//! assert_eq!(file.lab().segments().len(), 5);
//!
//! // Several crates over one document, with one list of diagnostics.
//! let doc = labfile::Document::parse("lab.toml", labnet::reference::TOML)?;
//! let mut sink = labfile::Sink::new();
//! let net = labnet::labfile::read(&doc, &mut sink).expect("valid");
//! // ... labvirt, labdocker, ... read their sections here ...
//! doc.finish(&mut sink);
//! assert!(!sink.has_errors());
//! assert!(net.segment_span("database").is_some());
//! # Ok::<(), labfile::Diagnostics>(())
//! ```

mod print;
mod read;
#[cfg(test)]
pub(crate) use read::read as read_draft;

use std::path::Path;
use std::sync::Arc;

pub use ::labfile::{Document, Sink, Span};
pub use print::to_toml;
pub use read::LABNET_SECTIONS;

use crate::diag::{Diagnostics, Location, Source};
use crate::model::Lab;
pub use crate::model::Spans;
use ::labfile::LoadError;

/// The generic readers, which now live in the `labfile` crate.
pub mod walk {
    pub use ::labfile::{ArrayReader, Element, Field, Item, TableReader, did_you_mean};
}

/// A validated lab with the text it came from, its warnings and where each part was written.
#[derive(Debug, Clone)]
pub struct LabFile {
    lab: Lab,
    source: Arc<Source>,
    spans: Spans,
    warnings: Diagnostics,
}

impl LabFile {
    /// The lab.
    #[must_use]
    pub fn lab(&self) -> &Lab {
        &self.lab
    }

    /// The source text and its display name.
    #[must_use]
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// Warnings found while validating (the lab is valid regardless).
    #[must_use]
    pub fn warnings(&self) -> &Diagnostics {
        &self.warnings
    }

    /// Where rule `i` (`[[policy.allow]]` number `i`, from 0) starts.
    #[must_use]
    pub fn rule_location(&self, i: usize) -> Option<Location> {
        self.rule_span(i).map(|s| self.source.location(s.start()))
    }

    /// The span of rule `i`'s header.
    #[must_use]
    pub fn rule_span(&self, i: usize) -> Option<Span> {
        self.spans.rules.get(i).copied().flatten()
    }

    /// Where deny rule `i` (`[[policy.deny]]`) starts.
    #[must_use]
    pub fn deny_location(&self, i: usize) -> Option<Location> {
        self.spans
            .denies
            .get(i)
            .copied()
            .flatten()
            .map(|s| self.source.location(s.start()))
    }

    /// Where segment `i` starts.
    #[must_use]
    pub fn segment_location(&self, i: usize) -> Option<Location> {
        self.spans
            .segments
            .get(i)
            .copied()
            .flatten()
            .map(|s| self.source.location(s.start()))
    }

    /// Where the segment called `name` is declared (its `[[segment]]` header), for
    /// notes in other crates' diagnostics: "VM `db1` is on segment `database`,
    /// declared here". The span refers to the same document other crates read.
    #[must_use]
    pub fn segment_span(&self, name: &str) -> Option<Span> {
        let i = self.lab.segment_index(name)? as usize;
        self.spans.segments.get(i).copied().flatten()
    }

    /// Where segment `i`'s `internet` value is written, if it is.
    #[must_use]
    pub fn internet_location(&self, i: usize) -> Option<Location> {
        self.spans
            .internet
            .get(i)
            .copied()
            .flatten()
            .map(|s| self.source.location(s.start()))
    }

    /// Give up the file information, keeping the lab.
    #[must_use]
    pub fn into_lab(self) -> Lab {
        self.lab
    }
}

/// Display name of the built-in reference lab in diagnostics.
pub const BUILTIN_NAME: &str = "<built-in reference lab>";

/// Read labnet's sections of `doc` and validate them. Every problem goes to
/// `sink`, warnings included; the lab comes back when labnet found no error.
/// Does not report unknown sections: the front end calls
/// [`Document::finish`] once every crate has read its own.
pub fn read(doc: &Document, sink: &mut Sink) -> Option<LabFile> {
    let errors = sink.error_count();
    let before = sink.items().len();
    let draft = read::read(doc, sink);
    let validated = crate::model::validate(draft, sink);
    let warnings: Vec<_> = sink.items()[before..]
        .iter()
        .filter(|d| !d.is_error())
        .cloned()
        .collect();
    match validated {
        Some((lab, spans)) if sink.error_count() == errors => Some(LabFile {
            lab,
            source: Arc::clone(doc.source()),
            spans,
            warnings: Diagnostics::new(Arc::clone(doc.source()), warnings),
        }),
        _ => None,
    }
}

/// Parse and validate lab-file text read by labnet alone. `name` is what
/// diagnostics call the file. Sections of other labkit crates are accepted
/// unread; unknown sections are errors.
///
/// # Errors
/// Every problem found, as located diagnostics.
pub fn parse(name: &str, text: &str) -> Result<LabFile, Diagnostics> {
    from_document(&Document::parse(name, text)?)
}

/// [`parse`] for a document already parsed.
///
/// # Errors
/// Every problem found.
pub fn from_document(doc: &Document) -> Result<LabFile, Diagnostics> {
    let mut sink = Sink::new();
    let file = read(doc, &mut sink);
    doc.finish(&mut sink);
    let all = sink.into_diagnostics(Arc::clone(doc.source()));
    match file {
        Some(f) if !all.has_errors() => Ok(LabFile { warnings: all, ..f }),
        _ => Err(all),
    }
}

/// Read, parse and validate a lab file from disk.
///
/// ```no_run
/// match labnet::labfile::load(std::path::Path::new("lab.toml")) {
///     Ok(file) => println!("{} segments", file.lab().segments().len()),
///     Err(labnet::LoadError::Invalid(diags)) => eprintln!("{diags}"),
///     Err(e) => eprintln!("{e}"),
/// }
/// ```
///
/// # Errors
/// The file cannot be read, or it is not a valid lab.
pub fn load(path: &Path) -> Result<LabFile, LoadError> {
    let doc = ::labfile::load(path)?;
    from_document(&doc).map_err(LoadError::Invalid)
}
