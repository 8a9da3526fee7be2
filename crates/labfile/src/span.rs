//! Byte ranges in the lab file.

use std::ops::Range;

/// A byte range in a lab file's text: where a key, a value or a table header is written.
///
/// Spans are what diagnostics point at; [`crate::Source::location`] turns
/// their start into a line and column. Offsets are `u32`, so lab files are
/// limited to 4 GiB (the reader refuses larger ones with a diagnostic).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct Span {
    start: u32,
    end: u32,
}

impl Span {
    /// The range `start..end`; offsets past 4 GiB are clamped.
    #[must_use]
    pub fn new(start: usize, end: usize) -> Self {
        let clamp = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
        let (start, end) = (clamp(start), clamp(end));
        Self {
            start,
            end: end.max(start),
        }
    }

    /// An empty span at `at`.
    #[must_use]
    pub fn at(at: usize) -> Self {
        Self::new(at, at)
    }

    /// First byte.
    #[must_use]
    pub fn start(self) -> usize {
        self.start as usize
    }

    /// One past the last byte.
    #[must_use]
    pub fn end(self) -> usize {
        self.end as usize
    }

    /// Length in bytes.
    #[must_use]
    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    /// Whether it covers no bytes.
    #[must_use]
    pub fn is_empty(self) -> bool {
        self.start == self.end
    }

    /// As a `Range` for slicing.
    #[must_use]
    pub fn range(self) -> Range<usize> {
        self.start()..self.end()
    }

    /// The smallest span covering both.
    #[must_use]
    pub fn join(self, other: Self) -> Self {
        Self {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

impl From<Range<usize>> for Span {
    fn from(r: Range<usize>) -> Self {
        Self::new(r.start, r.end)
    }
}
