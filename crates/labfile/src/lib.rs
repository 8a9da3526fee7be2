//! labfile: labkit's lab file, shared by every labkit crate.
//!
//! One TOML file describes the whole lab. Each crate reads its own top-level
//! sections ([`sections::SECTIONS`] says whose is whose) from one parsed
//! [`Document`], with readers that keep the span of every key and value, and
//! reports every problem it finds to a shared [`Sink`]: the field as a path
//! (`segment[1].cidr`), the value as written, file:line:col and a hint. All
//! crates' diagnostics come out as one sorted [`Diagnostics`].
//!
//! ```
//! use labfile::{Document, Sink};
//!
//! let doc = Document::parse("lab.toml", "[backup]\nrepository = \"/mnt/backup\"\nrto_minutes = \"30\"\n")?;
//! let mut sink = Sink::new();
//! if let Some(mut backup) = doc.section("backup").and_then(|s| s.table(&mut sink)) {
//!     let repo = backup.required_str("repository", "e.g. repository = \"/mnt/backup\"", &mut sink);
//!     assert_eq!(repo.map(|r| r.value), Some("/mnt/backup"));
//!     let rto = backup.optional_integer("rto_minutes", &mut sink);
//!     assert!(rto.is_none(), "a string where an integer belongs is reported");
//!     backup.finish(&mut sink);
//! }
//! doc.finish(&mut sink);
//! let diags = sink.into_diagnostics(doc.source().clone());
//! assert_eq!(
//!     diags.to_string(),
//!     "error: lab.toml:3:16: backup.rto_minutes: expected an integer, found a string\n  value: 30\n  hint: write a whole number without quotes, e.g. 4"
//! );
//! # Ok::<(), labfile::Diagnostics>(())
//! ```

pub mod diag;
mod document;
mod fs;
mod read;
pub mod sections;
mod sink;
mod source;
mod span;
mod syntax;
pub mod width;

pub use diag::{Diagnostic, Diagnostics, MergeError, Related, Severity, Style, quoted, shorten};
pub use document::Document;
pub use fs::{LoadError, WriteError, load, parse_bytes, replace_file, replace_file_with};
pub use read::{ArrayReader, Element, Field, Item, Named, TableReader, did_you_mean};
pub use sink::Sink;
pub use source::{Location, Source};
pub use span::Span;
pub use syntax::{Date, Datetime, Offset, Time};
