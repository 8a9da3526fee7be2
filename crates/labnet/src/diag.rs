//! Diagnostics about a lab file. They live in the shared `labfile` crate,
//! so every labkit crate reports problems the same way; re-exported here so
//! labnet's API keeps its paths.

pub use labfile::diag::{
    Diagnostic, Diagnostics, MergeError, Related, Severity, Style, VALUE_MAX, quoted, shorten,
};
pub use labfile::{Location, Source, Span};
