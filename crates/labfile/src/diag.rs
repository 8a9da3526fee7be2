//! Diagnostics about a lab file: what is wrong, where, and what to do.
//!
//! Every problem is collected before anything is reported, so a user fixes a
//! file in one pass instead of one error per run. Each diagnostic names the
//! file, line and column, the field and the offending value, with a hint.
//!
//! Text that comes from the lab file is bounded: a value longer than
//! [`VALUE_MAX`] bytes is shortened wherever it is shown (the value, the
//! message, the rendered source line), so a 50 MB name gives a short
//! diagnostic, not 150 MB of output.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::sync::Arc;

use serde::Serialize;

use crate::span::Span;
use crate::width::{char_width, str_width};
use crate::{Location, Source};

/// Longest value, in bytes, shown whole; longer ones are shortened.
pub const VALUE_MAX: usize = 200;
/// Longest message, field or hint, in bytes.
const TEXT_MAX: usize = 1000;
/// Longest source line shown under a diagnostic, in characters.
const LINE_MAX: usize = 120;

/// `s` shortened to about [`VALUE_MAX`] bytes, saying how long it was.
#[must_use]
pub fn shorten(s: &str) -> Cow<'_, str> {
    shorten_to(s, VALUE_MAX)
}

fn shorten_to(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    let mut cut = max.saturating_sub(40).max(1);
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    Cow::Owned(format!("{}… ({} bytes in all)", &s[..cut], s.len()))
}

/// `s` quoted for a message (`"name"`), shortened like a value.
#[must_use]
pub fn quoted(s: &str) -> String {
    format!("{:?}", shorten(s).as_ref())
}

fn bounded(s: String) -> String {
    match shorten_to(&s, TEXT_MAX) {
        Cow::Borrowed(_) => s,
        Cow::Owned(o) => o,
    }
}

/// How bad a diagnostic is.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Severity {
    /// The lab is invalid; nothing is compiled or applied.
    Error,
    /// The lab is valid but probably not what was meant.
    Warning,
}

impl Severity {
    /// `error` or `warning`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
        }
    }
}

/// A secondary place that explains a diagnostic, such as where a duplicate was
/// first defined, or the segment a VM is on (possibly another crate's section).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Related {
    /// What this place is.
    pub message: String,
    /// Where it is, if the lab came from text.
    pub location: Option<Location>,
    #[serde(skip)]
    span: Option<Span>,
}

/// One problem found in a lab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The field, as a path into the lab file: `segment[1].cidr`, `policy.allow[0].to`.
    pub field: String,
    /// The offending value as written, if there is one (shortened past [`VALUE_MAX`]).
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
    span: Option<Span>,
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
            field: bounded(field),
            value: None,
            message: bounded(message),
            hint: None,
            location: None,
            related: Vec::new(),
            span: None,
        }
    }

    /// Attach the offending value as written (shortened past [`VALUE_MAX`] bytes).
    #[must_use]
    pub fn value(mut self, v: impl AsRef<str>) -> Self {
        self.value = Some(shorten(v.as_ref()).into_owned());
        self
    }

    /// Attach a hint.
    #[must_use]
    pub fn hint(mut self, h: impl Into<String>) -> Self {
        self.hint = Some(bounded(h.into()));
        self
    }

    /// Attach the place of the offending text.
    #[must_use]
    pub fn span(mut self, span: impl Into<Option<Span>>) -> Self {
        self.span = span.into();
        self
    }

    /// Attach a related place (`None` for labs built in code).
    #[must_use]
    pub fn related(mut self, message: impl Into<String>, span: impl Into<Option<Span>>) -> Self {
        self.related.push(Related {
            message: bounded(message.into()),
            location: None,
            span: span.into(),
        });
        self
    }

    /// Where the offending text is, if known.
    #[must_use]
    pub fn byte_span(&self) -> Option<Span> {
        self.span
    }

    /// Whether this is an error (not a warning).
    #[must_use]
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    fn resolve(&mut self, src: &Source) {
        if let Some(s) = self.span {
            self.location = Some(src.location(s.start()));
        }
        for r in &mut self.related {
            if let Some(s) = r.span {
                r.location = Some(src.location(s.start()));
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
    /// Resolve locations against `source` and sort by position.
    #[must_use]
    pub fn new(source: Arc<Source>, mut items: Vec<Diagnostic>) -> Self {
        for d in &mut items {
            d.resolve(&source);
        }
        // Diagnostics without a location (built from code) keep their order, after located ones.
        items.sort_by_key(|d| (d.location.is_none(), d.location));
        Self { source, items }
    }

    /// Merge diagnostics that several crates found in the same source into one sorted list.
    ///
    /// # Errors
    /// The two refer to different sources (their locations could not be shown together).
    pub fn merge(mut self, other: Self) -> Result<Self, MergeError> {
        if !Arc::ptr_eq(&self.source, &other.source) && self.source != other.source {
            return Err(MergeError {
                left: self.source.name().to_owned(),
                right: other.source.name().to_owned(),
            });
        }
        self.items.extend(other.items);
        self.items
            .sort_by_key(|d| (d.location.is_none(), d.location));
        Ok(self)
    }

    /// The source the diagnostics refer to.
    #[must_use]
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// The shared source.
    #[must_use]
    pub fn source_arc(&self) -> &Arc<Source> {
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

    /// Number of errors.
    #[must_use]
    pub fn error_count(&self) -> usize {
        self.errors().count()
    }

    /// Whether there are no diagnostics at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Render for a terminal: a header line per diagnostic, the source line with a
    /// caret under the offending text, notes and the hint. `style` decorates the
    /// severity word (pass [`Style::plain`] for no colour).
    #[must_use]
    pub fn render(&self, style: &Style) -> String {
        let mut out = String::new();
        for d in &self.items {
            self.render_one(&mut out, d, style);
        }
        out
    }

    fn at(&self, loc: Option<Location>) -> String {
        let name = self.source.name();
        loc.map_or_else(|| name.to_owned(), |l| format!("{name}:{l}"))
    }

    fn render_one(&self, out: &mut String, d: &Diagnostic, style: &Style) {
        let on = match d.severity {
            Severity::Error => &style.error,
            Severity::Warning => &style.warning,
        };
        let off = &style.reset;
        let word = d.severity.as_str();
        let _ = writeln!(
            out,
            "{on}{word}{off}: {}: {}: {}",
            self.at(d.location),
            d.field,
            d.message
        );
        let excerpt = match (d.location, d.span) {
            (Some(loc), Some(span)) => Some((loc, span)),
            _ => None,
        };
        if let Some((loc, span)) = excerpt {
            let (shown, pad, carets) = excerpt_line(&self.source, loc, span);
            let gutter = loc.line.to_string().len();
            let _ = writeln!(out, "{:gutter$} |", "");
            let _ = writeln!(out, "{} | {shown}", loc.line);
            let _ = writeln!(out, "{:gutter$} | {pad}{on}{}{off}", "", "^".repeat(carets));
        }
        let pad = match excerpt {
            Some((loc, _)) => " ".repeat(loc.line.to_string().len() + 1),
            None => "  ".to_owned(),
        };
        for r in &d.related {
            let at = r
                .location
                .map_or_else(String::new, |l| format!("{}:{l}: ", self.source.name()));
            let _ = writeln!(out, "{pad}= note: {at}{}", r.message);
        }
        if let Some(h) = &d.hint {
            let _ = writeln!(out, "{pad}= hint: {h}");
        }
    }
}

/// The source line of a diagnostic as shown (windowed around the column when
/// long), the text that puts the caret under the column (tabs copied, wide
/// characters doubled), and the number of carets.
fn excerpt_line(src: &Source, loc: Location, span: Span) -> (String, String, usize) {
    let line = src.line_text(loc.line);
    let chars: Vec<char> = line.chars().collect();
    let col = (loc.column as usize).saturating_sub(1).min(chars.len());
    let (from, to) = if chars.len() <= LINE_MAX {
        (0, chars.len())
    } else {
        let from = col.saturating_sub(LINE_MAX / 3);
        (from, (from + LINE_MAX).min(chars.len()))
    };
    let mut shown = String::new();
    let mut pad = String::new();
    if from > 0 {
        shown.push('…');
        pad.push(' ');
    }
    shown.extend(&chars[from..to]);
    if to < chars.len() {
        shown.push('…');
    }
    for &c in &chars[from..col] {
        if c == '\t' {
            pad.push('\t');
        } else {
            pad.extend(std::iter::repeat_n(' ', char_width(c)));
        }
    }
    // The part of the span on this line, within the window.
    let span_text = src.slice(span);
    let first = span_text.lines().next().unwrap_or("");
    let avail: String = chars[col..to].iter().collect();
    let n = first.chars().count().min(avail.chars().count());
    let carets = str_width(&avail.chars().take(n).collect::<String>()).max(1);
    (shown, pad, carets)
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.items.is_empty() {
            return write!(f, "{}: no problems", self.source.name());
        }
        for (i, d) in self.items.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "{}: {}: {}: {}",
                d.severity.as_str(),
                self.at(d.location),
                d.field,
                d.message
            )?;
            if let Some(v) = &d.value {
                write!(f, "\n  value: {v}")?;
            }
            for r in &d.related {
                let at = r
                    .location
                    .map_or_else(String::new, |l| format!("{}:{l}: ", self.source.name()));
                write!(f, "\n  note: {at}{}", r.message)?;
            }
            if let Some(h) = &d.hint {
                write!(f, "\n  hint: {h}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// Two diagnostic lists about different sources cannot be merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot merge diagnostics about {left} with diagnostics about {right}")]
pub struct MergeError {
    /// One source's name.
    pub left: String,
    /// The other's.
    pub right: String,
}

/// Escape sequences used by [`Diagnostics::render`]; empty strings mean no colour.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
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

    fn one(text: &str, d: Diagnostic) -> String {
        let src = Arc::new(Source::new("lab.toml", text));
        Diagnostics::new(src, vec![d]).render(&Style::plain())
    }

    #[test]
    fn render_points_at_the_value() {
        let d = Diagnostic::error("lab.name", "\"a b\" is not a valid lab name")
            .span(Span::new(13, 18))
            .hint("use letters");
        assert_eq!(
            one("[lab]\nname = \"a b\"\n", d),
            "error: lab.toml:2:8: lab.name: \"a b\" is not a valid lab name\n  |\n2 | name = \"a b\"\n  |        ^^^^^\n  = hint: use letters\n"
        );
    }

    #[test]
    fn carets_line_up_under_tabs_and_wide_characters() {
        let text = "[lab]\n\tname = \"日本x\"\n";
        let x = text.find('x').unwrap();
        let r = one(
            text,
            Diagnostic::error("lab.name", "bad").span(Span::new(x, x + 1)),
        );
        // A tab stays a tab, each wide character pads two columns.
        assert!(
            r.contains("2 | \tname = \"日本x\"\n  | \t            ^\n"),
            "{r:?}"
        );
        let r = one(
            text,
            Diagnostic::error("lab.name", "bad").span(Span::new(x - 6, x + 1)),
        );
        assert!(r.contains("  | \t        ^^^^^\n"), "{r:?}");
    }

    #[test]
    fn huge_values_are_shortened_everywhere() {
        let big = "a".repeat(5_000_000);
        let text = format!("[lab]\nname = \"{big}\"\n");
        let d = Diagnostic::error("lab.name", format!("{} is not a lab name", quoted(&big)))
            .value(&big)
            .span(Span::new(14, 14 + big.len()));
        let ds = Diagnostics::new(Arc::new(Source::new("lab.toml", text)), vec![d]);
        let rendered = ds.render(&Style::plain());
        assert!(rendered.len() < 2_000, "{} bytes", rendered.len());
        assert!(rendered.contains("(5000000 bytes in all)"), "{rendered}");
        assert!(ds.to_string().len() < 2_000);
        let json = serde_json::to_string(ds.items()).unwrap();
        assert!(json.len() < 2_000, "{} bytes of JSON", json.len());
        assert!(
            shorten("é".repeat(300).as_str()).len() < 300,
            "cuts on a char boundary"
        );
    }

    #[test]
    fn display_lists_every_diagnostic() {
        let src = Arc::new(Source::new("f.toml", "a = 1\nb = 2\n"));
        let ds = Diagnostics::new(
            src,
            vec![
                Diagnostic::error("b", "second")
                    .span(Span::new(6, 7))
                    .hint("fix b"),
                Diagnostic::warning("a", "first")
                    .value("1")
                    .span(Span::new(0, 1)),
            ],
        );
        assert_eq!(
            ds.to_string(),
            "warning: f.toml:1:1: a: first\n  value: 1\nerror: f.toml:2:1: b: second\n  hint: fix b"
        );
        let boxed: Box<dyn std::error::Error> = Box::new(ds);
        assert!(boxed.to_string().contains("f.toml:2:1"));
    }

    #[test]
    fn merge_sorts_and_refuses_other_sources() {
        let src = Arc::new(Source::new("f.toml", "a = 1\nb = 2\n"));
        let a = Diagnostics::new(
            Arc::clone(&src),
            vec![Diagnostic::error("b", "x").span(Span::new(6, 7))],
        );
        let b = Diagnostics::new(
            Arc::clone(&src),
            vec![Diagnostic::error("a", "y").span(Span::new(0, 1))],
        );
        let m = a.merge(b).unwrap();
        assert_eq!(m.items()[0].field, "a");
        let other = Diagnostics::new(Arc::new(Source::new("g.toml", "")), vec![]);
        assert!(m.merge(other).is_err());
    }
}
