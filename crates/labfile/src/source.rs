//! The text a lab was read from, and positions in it.

use std::fmt;

use serde::Serialize;

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Serialize)]
pub struct Location {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub column: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// The text a lab was read from, with its display name.
#[derive(Debug, Clone)]
pub struct Source {
    name: String,
    text: String,
    /// Byte offsets of line starts, found the first time a location is asked
    /// for: a valid lab file is parsed without ever needing them.
    line_starts: std::sync::OnceLock<Vec<usize>>,
}

impl PartialEq for Source {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.text == other.text
    }
}

impl Eq for Source {}

impl Source {
    /// A named text. `name` is what diagnostics print as the file.
    #[must_use]
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            text: text.into(),
            line_starts: std::sync::OnceLock::new(),
        }
    }

    fn line_starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| {
            let mut v = Vec::with_capacity(self.text.len() / 32 + 1);
            v.push(0);
            v.extend(
                self.text
                    .bytes()
                    .enumerate()
                    .filter(|&(_, b)| b == b'\n')
                    .map(|(i, _)| i + 1),
            );
            v
        })
    }

    /// The display name (a path, or a description such as the built-in lab).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The full text.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text of a span, or `""` if it does not fall on character boundaries.
    #[must_use]
    pub fn slice(&self, span: crate::Span) -> &str {
        self.text.get(span.range()).unwrap_or("")
    }

    /// Line and column of a byte offset.
    #[must_use]
    pub fn location(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let starts = self.line_starts();
        let line = starts.partition_point(|&s| s <= offset).max(1) - 1;
        let start = starts.get(line).copied().unwrap_or(0);
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        Location {
            line: u32::try_from(line + 1).unwrap_or(u32::MAX),
            column: u32::try_from(column + 1).unwrap_or(u32::MAX),
        }
    }

    /// The text of a 1-based line, without its line ending.
    #[must_use]
    pub fn line_text(&self, line: u32) -> &str {
        let i = (line as usize).saturating_sub(1);
        let starts = self.line_starts();
        let start = starts.get(i).copied().unwrap_or(self.text.len());
        let end = starts
            .get(i + 1)
            .map_or(self.text.len(), |e| e.saturating_sub(1));
        self.text
            .get(start..end.max(start))
            .unwrap_or("")
            .trim_end_matches('\r')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_one_based_and_count_chars() {
        let s = Source::new("f.toml", "a = 1\nb = \"é\" x\n");
        assert_eq!(s.location(0), Location { line: 1, column: 1 });
        assert_eq!(s.location(6), Location { line: 2, column: 1 });
        // 'x' sits after a two-byte character.
        let x = s.text().find('x').unwrap();
        assert_eq!(s.location(x), Location { line: 2, column: 9 });
        assert_eq!(s.line_text(2), "b = \"é\" x");
        assert_eq!(s.line_text(9), "");
        assert_eq!(s.location(10_000), Location { line: 3, column: 1 });
    }

    #[test]
    fn crlf_lines_lose_their_cr() {
        let s = Source::new("f.toml", "a = 1\r\nb = 2\r\n");
        assert_eq!(s.line_text(1), "a = 1");
        assert_eq!(s.location(7), Location { line: 2, column: 1 });
    }
}
