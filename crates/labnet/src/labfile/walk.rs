//! Reading a spanned TOML table field by field, collecting every problem.
//!
//! Every labkit crate reads its own section of the one lab file; this reader
//! is what they share, so that a wrong type, a missing field and an unknown
//! key read the same whichever crate owns the section.

use std::ops::Range;

use toml_span::value::{Table, Value, ValueInner};

use crate::diag::Diagnostic;

/// A byte range in the lab file.
pub type Span = Range<usize>;

/// A value with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field<T> {
    /// The parsed value.
    pub value: T,
    /// Where it was written; `None` for values built in code.
    pub span: Option<Span>,
}

impl<T> Field<T> {
    /// A value with a span.
    pub fn at(value: T, span: Span) -> Self {
        Self {
            value,
            span: Some(span),
        }
    }

    /// A value built in code.
    pub fn code(value: T) -> Self {
        Self { value, span: None }
    }
}

/// Converts a `toml_span` span.
#[must_use]
pub fn span_of(v: &Value<'_>) -> Span {
    v.span.start..v.span.end
}

/// The TOML type name of a value, for "expected X, found Y" messages.
#[must_use]
pub fn type_name(v: &Value<'_>) -> &'static str {
    match v.as_ref() {
        ValueInner::String(_) => "a string",
        ValueInner::Integer(_) => "an integer",
        ValueInner::Float(_) => "a float",
        ValueInner::Boolean(_) => "a boolean",
        ValueInner::Array(_) => "an array",
        ValueInner::Table(_) => "a table",
    }
}

/// Reads one table; reports unknown keys when finished.
#[derive(Debug)]
pub struct TableReader<'a, 'de> {
    table: &'a Table<'de>,
    path: String,
    span: Span,
    used: Vec<&'static str>,
}

impl<'a, 'de> TableReader<'a, 'de> {
    /// A reader for `table` at `path` (e.g. `segment[2]`), whose header is at `span`.
    #[must_use]
    pub fn new(table: &'a Table<'de>, path: impl Into<String>, span: Span) -> Self {
        Self {
            table,
            path: path.into(),
            span,
            used: Vec::new(),
        }
    }

    /// Read a table value, reporting a type error if it is not a table.
    pub fn from_value(
        v: &'a Value<'de>,
        path: impl Into<String>,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Self> {
        let path = path.into();
        if let Some(t) = v.as_table() {
            Some(Self::new(t, path, span_of(v)))
        } else {
            diags.push(
                Diagnostic::error(&path, format!("expected a table, found {}", type_name(v)))
                    .span(Some(span_of(v))),
            );
            None
        }
    }

    /// The path of a key in this table.
    #[must_use]
    pub fn path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The table's own path.
    #[must_use]
    pub fn table_path(&self) -> &str {
        &self.path
    }

    /// Where the table starts (its header, or its opening brace).
    #[must_use]
    pub fn span(&self) -> Span {
        self.span.clone()
    }

    /// The raw value of `key`, marking it as known.
    pub fn get(&mut self, key: &'static str) -> Option<&'a Value<'de>> {
        self.used.push(key);
        self.table.get(key)
    }

    /// Like [`Self::get`], but reports a missing key.
    pub fn require(
        &mut self,
        key: &'static str,
        diags: &mut Vec<Diagnostic>,
        hint: &str,
    ) -> Option<&'a Value<'de>> {
        let v = self.get(key);
        if v.is_none() {
            diags.push(
                Diagnostic::error(self.path(key), format!("required field `{key}` is missing"))
                    .span(Some(self.span()))
                    .hint(hint),
            );
        }
        v
    }

    /// A string value (`None` when absent or of the wrong type; the latter is reported).
    pub fn string(
        &mut self,
        key: &'static str,
        required: Option<&str>,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Field<String>> {
        let v = match required {
            Some(hint) => self.require(key, diags, hint)?,
            None => self.get(key)?,
        };
        expect_str(v, &self.path(key), diags)
    }

    /// A boolean value.
    pub fn boolean(
        &mut self,
        key: &'static str,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Field<bool>> {
        let v = self.get(key)?;
        if let Some(b) = v.as_bool() {
            Some(Field::at(b, span_of(v)))
        } else {
            diags.push(
                Diagnostic::error(
                    self.path(key),
                    format!("expected true or false, found {}", type_name(v)),
                )
                .span(Some(span_of(v)))
                .hint(format!("write `{key} = true` or `{key} = false`")),
            );
            None
        }
    }

    /// Report every key not read, with a suggestion from `known` keys.
    pub fn finish(self, diags: &mut Vec<Diagnostic>) {
        for k in self.table.keys() {
            if self.used.contains(&k.name.as_ref()) {
                continue;
            }
            let mut d =
                Diagnostic::error(self.path(&k.name), format!("unknown field `{}`", k.name))
                    .value(k.name.to_string())
                    .span(Some(k.span.start..k.span.end));
            d = match did_you_mean(&k.name, self.used.iter().copied()) {
                Some(s) => d.hint(format!("did you mean `{s}`?")),
                None => d.hint(format!("known fields here: {}", self.used.join(", "))),
            };
            diags.push(d);
        }
    }
}

/// A string value, or a reported type error.
pub fn expect_str(v: &Value<'_>, path: &str, diags: &mut Vec<Diagnostic>) -> Option<Field<String>> {
    if let Some(s) = v.as_str() {
        Some(Field::at(s.to_owned(), span_of(v)))
    } else {
        diags.push(
            Diagnostic::error(path, format!("expected a string, found {}", type_name(v)))
                .span(Some(span_of(v)))
                .hint("put the value in double quotes"),
        );
        None
    }
}

/// The closest candidate within a small edit distance, for "did you mean" hints.
pub fn did_you_mean<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    // One edit in a one- or two-letter word is a different word, not a typo.
    let n = word.chars().count();
    let limit = if n < 3 { 0 } else { (n / 3).max(1) };
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word.to_lowercase(), &c.to_lowercase()), c))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, c)| (d, c))
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(
            did_you_mean("ssh_port", ["name", "ssh_ports"]),
            Some("ssh_ports")
        );
        assert_eq!(
            did_you_mean("Management", ["management", "public"]),
            Some("management")
        );
        assert_eq!(did_you_mean("zzz", ["name", "cidr"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
