//! Diagnostics about a lab file: what is wrong, where, and what to do.
//!
//! Every problem is collected before anything is reported, so a user fixes a
//! file in one pass instead of one error per run. Each diagnostic names the
//! file, line and column, the field and the offending value, with a hint.

use std::fmt::{self, Write as _};
use std::ops::Range;
use std::sync::Arc;

use serde::Serialize;

/// How bad a diagnostic is.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The lab is invalid; nothing is compiled or applied.
    Error,
    /// The lab is valid but probably not what was meant.
    Warning,
}

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    name: String,
    text: String,
    line_starts: Vec<usize>,
}

impl Source {
    /// A named text. `name` is what diagnostics print as the file.
    #[must_use]
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self {
            name: name.into(),
            text,
            line_starts,
        }
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

    /// Line and column of a byte offset.
    #[must_use]
    pub fn location(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1) - 1;
        let start = self.line_starts.get(line).copied().unwrap_or(0);
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        Location {
            line: u32::try_from(line + 1).unwrap_or(u32::MAX),
            column: u32::try_from(column + 1).unwrap_or(u32::MAX),
        }
    }

    /// The text of a 1-based line, without its newline.
    #[must_use]
    pub fn line_text(&self, line: u32) -> &str {
        let i = (line as usize).saturating_sub(1);
        let start = self.line_starts.get(i).copied().unwrap_or(self.text.len());
        let end = self
            .line_starts
            .get(i + 1)
            .map_or(self.text.len(), |e| e.saturating_sub(1));
        self.text
            .get(start..end.max(start))
            .unwrap_or("")
            .trim_end_matches('\r')
    }
}

/// A secondary place that explains a diagnostic, such as where a duplicate was first defined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Related {
    /// What this place is.
    pub message: String,
    /// Where it is, if the lab came from text.
    pub location: Option<Location>,
    #[serde(skip)]
    span: Option<Range<usize>>,
}

/// One problem found in a lab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The field, as a path into the lab file: `segment[1].cidr`, `policy.allow[0].to`.
    pub field: String,
    /// The offending value as written, if there is one.
    pub value: Option<String>,
    /// What is wrong; reads on its own after the field name.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// Where, once resolved against the source text.
    pub location: Option<Location>,
    /// Other places that explain this one.
    pub related: Vec<Related>,
    #[serde(skip)]
    span: Option<Range<usize>>,
}

impl Diagnostic {
    /// An error about `field`.
    #[must_use]
    pub fn error(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, field.into(), message.into())
    }

    /// A warning about `field`.
    #[must_use]
    pub fn warning(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, field.into(), message.into())
    }

    fn new(severity: Severity, field: String, message: String) -> Self {
        Self {
            severity,
            field,
            value: None,
            message,
            hint: None,
            location: None,
            related: Vec::new(),
            span: None,
        }
    }

    /// Attach the offending value as written.
    #[must_use]
    pub fn value(mut self, v: impl Into<String>) -> Self {
        self.value = Some(v.into());
        self
    }

    /// Attach a hint.
    #[must_use]
    pub fn hint(mut self, h: impl Into<String>) -> Self {
        self.hint = Some(h.into());
        self
    }

    /// Attach the byte range of the offending text.
    #[must_use]
    pub fn span(mut self, span: Option<Range<usize>>) -> Self {
        self.span = span;
        self
    }

    /// Attach a related place.
    #[must_use]
    pub fn related(mut self, message: impl Into<String>, span: Option<Range<usize>>) -> Self {
        self.related.push(Related {
            message: message.into(),
            location: None,
            span,
        });
        self
    }

    /// The byte range of the offending text, if known.
    #[must_use]
    pub fn byte_span(&self) -> Option<Range<usize>> {
        self.span.clone()
    }

    fn resolve(&mut self, src: &Source) {
        if let Some(s) = &self.span {
            self.location = Some(src.location(s.start));
        }
        for r in &mut self.related {
            if let Some(s) = &r.span {
                r.location = Some(src.location(s.start));
            }
        }
    }
}

/// All diagnostics for one source, sorted by position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics {
    source: Arc<Source>,
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Resolve locations against `source` and sort errors and warnings by position.
    #[must_use]
    pub fn new(source: Arc<Source>, mut items: Vec<Diagnostic>) -> Self {
        for d in &mut items {
            d.resolve(&source);
        }
        // Diagnostics without a location (built from code) keep their order, after located ones.
        items.sort_by_key(|d| (d.location.is_none(), d.location));
        Self { source, items }
    }

    /// The source the diagnostics refer to.
    #[must_use]
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// Every diagnostic.
    #[must_use]
    pub fn items(&self) -> &[Diagnostic] {
        &self.items
    }

    /// The errors.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.severity == Severity::Error)
    }

    /// The warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Warning)
    }

    /// The same diagnostics without the warnings.
    #[must_use]
    pub fn errors_only(&self) -> Self {
        Self {
            source: Arc::clone(&self.source),
            items: self.errors().cloned().collect(),
        }
    }

    /// Whether any diagnostic is an error.
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }

    /// Whether there are no diagnostics at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Render for a terminal: a header line per diagnostic, the source line with a
    /// caret under the offending text, the hint, and related places. `style`
    /// decorates the severity word (pass [`Style::plain`] for no colour).
    #[must_use]
    pub fn render(&self, style: &Style) -> String {
        let mut out = String::new();
        for d in &self.items {
            self.render_one(&mut out, d, style);
        }
        out
    }

    fn render_one(&self, out: &mut String, d: &Diagnostic, style: &Style) {
        let (word, on, off) = match d.severity {
            Severity::Error => ("error", &style.error, &style.reset),
            Severity::Warning => ("warning", &style.warning, &style.reset),
        };
        let name = self.source.name();
        let at = d
            .location
            .map_or_else(|| name.to_owned(), |l| format!("{name}:{l}"));
        let _ = writeln!(out, "{on}{word}{off}: {at}: {}: {}", d.field, d.message);
        if let (Some(loc), Some(span)) = (d.location, &d.span) {
            let text = self.source.line_text(loc.line);
            let gutter = loc.line.to_string().len();
            let col = loc.column as usize - 1;
            let span_chars = self
                .source
                .text()
                .get(span.clone())
                .map_or(1, |s| s.lines().next().unwrap_or("").chars().count())
                .max(1);
            let width = span_chars.min(text.chars().count().saturating_sub(col).max(1));
            let _ = writeln!(out, "{:gutter$} |", "");
            let _ = writeln!(out, "{} | {text}", loc.line);
            let _ = writeln!(
                out,
                "{:gutter$} | {:col$}{on}{}{off}",
                "",
                "",
                "^".repeat(width)
            );
        }
        let pad = if d.location.is_some() && d.span.is_some() {
            " ".repeat(d.location.map_or(0, |l| l.line.to_string().len()) + 1)
        } else {
            "  ".to_owned()
        };
        for r in &d.related {
            let at = r
                .location
                .map_or_else(String::new, |l| format!("{name}:{l}: "));
            let _ = writeln!(out, "{pad}= note: {at}{}", r.message);
        }
        if let Some(h) = &d.hint {
            let _ = writeln!(out, "{pad}= hint: {h}");
        }
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors().count();
        write!(
            f,
            "{}: {n} error{} in the lab file",
            self.source.name(),
            if n == 1 { "" } else { "s" }
        )
    }
}

/// Escape sequences used by [`Diagnostics::render`]; empty strings mean no colour.
#[derive(Debug, Clone, Default)]
pub struct Style {
    /// Before "error".
    pub error: String,
    /// Before "warning".
    pub warning: String,
    /// After either.
    pub reset: String,
}

impl Style {
    /// No colour: for pipes, files, `NO_COLOR`.
    #[must_use]
    pub fn plain() -> Self {
        Self::default()
    }

    /// ANSI bold red errors and bold yellow warnings.
    #[must_use]
    pub fn ansi() -> Self {
        Self {
            error: "\x1b[1;31m".into(),
            warning: "\x1b[1;33m".into(),
            reset: "\x1b[0m".into(),
        }
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
    }

    #[test]
    fn render_points_at_the_value() {
        let src = Arc::new(Source::new("lab.toml", "[lab]\nname = \"a b\"\n"));
        let d = Diagnostic::error("lab.name", "\"a b\" is not a valid lab name")
            .span(Some(13..18))
            .hint("use letters");
        let ds = Diagnostics::new(src, vec![d]);
        let r = ds.render(&Style::plain());
        assert_eq!(
            r,
            "error: lab.toml:2:8: lab.name: \"a b\" is not a valid lab name\n  |\n2 | name = \"a b\"\n  |        ^^^^^\n  = hint: use letters\n"
        );
    }
}
