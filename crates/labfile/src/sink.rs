//! Where readers put what they find.

use std::sync::Arc;

use crate::diag::{Diagnostic, Diagnostics, Severity};
use crate::source::Source;

/// Collects diagnostics from every reader of one lab file (several crates may
/// push into the same sink), then turns them into one sorted [`Diagnostics`].
#[derive(Debug, Default, Clone)]
pub struct Sink {
    items: Vec<Diagnostic>,
}

impl Sink {
    /// An empty sink.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Add one diagnostic.
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    /// Add several.
    pub fn extend(&mut self, ds: impl IntoIterator<Item = Diagnostic>) {
        self.items.extend(ds);
    }

    /// Move everything `other` holds to the end of this one (a reader that
    /// checked part of a file on another thread into its own sink).
    pub fn append(&mut self, mut other: Sink) {
        self.items.append(&mut other.items);
    }

    /// Whether any error was pushed.
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    /// Errors pushed so far; compare before and after a reader to see whether it failed.
    #[must_use]
    pub fn error_count(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    /// Whether nothing was pushed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// What was pushed, in push order.
    #[must_use]
    pub fn items(&self) -> &[Diagnostic] {
        &self.items
    }

    /// Resolve against `source` and sort by position.
    #[must_use]
    pub fn into_diagnostics(self, source: Arc<Source>) -> Diagnostics {
        Diagnostics::new(source, self.items)
    }
}
