//! Readers for a crate's own section: typed fields, each problem reported with
//! its path, span, value and a hint, and the reading carried on so one run
//! reports everything.
//!
//! A field that is missing or of the wrong type is reported to the [`Sink`]
//! and comes back as `None`; the caller leaves it out and keeps reading.
//! Required and optional fields are separate methods, so a missing field is
//! reported exactly where the crate says it is required.

use std::net::Ipv4Addr;

use crate::diag::{Diagnostic, quoted, shorten};
use crate::document::Document;
use crate::sink::Sink;
use crate::span::Span;
use crate::syntax::{ArrayData, Datetime, Kind, TableData, Value};

/// A value with where it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<T> {
    /// The value.
    pub value: T,
    /// Where it was written; `None` for values built in code.
    pub span: Option<Span>,
}

impl<T> Field<T> {
    /// A value read from the file.
    pub fn at(value: T, span: Span) -> Self {
        Self {
            value,
            span: Some(span),
        }
    }

    /// A value built in code (no place in any file).
    pub fn code(value: T) -> Self {
        Self { value, span: None }
    }

    /// The same place, another value.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Field<U> {
        Field {
            value: f(self.value),
            span: self.span,
        }
    }
}

/// The TOML type of a value, for "expected X, found Y" messages.
fn type_name(v: &Value) -> &'static str {
    crate::syntax::kind_name(&v.kind)
}

/// The text of a string value, if it is one.
fn str_of<'d>(doc: &'d Document, v: &'d Value) -> Option<&'d str> {
    match v.kind {
        Kind::RawString => Some(doc.source().slice(v.span)),
        Kind::String(i) => doc.tree().strings.get(i as usize).map(|s| &**s),
        _ => None,
    }
}

/// Where a value sits in the file (`segment[2].cidr`), kept as a chain of
/// keys and indices and written out only when a diagnostic needs it: a large
/// lab reads hundreds of thousands of values and reports none.
#[derive(Debug, Clone, Default)]
pub(crate) struct Path(Option<std::sync::Arc<Link>>);

#[derive(Debug)]
struct Link {
    parent: Path,
    seg: Seg,
}

#[derive(Debug, Clone)]
enum Seg {
    Key(std::borrow::Cow<'static, str>),
    Index(usize),
}

impl Path {
    fn child(&self, seg: Seg) -> Self {
        Self(Some(std::sync::Arc::new(Link {
            parent: self.clone(),
            seg,
        })))
    }

    fn render(&self, last: Option<&Seg>) -> String {
        let mut segs: Vec<&Seg> = last.into_iter().collect();
        let mut p = self;
        while let Some(l) = &p.0 {
            segs.push(&l.seg);
            p = &l.parent;
        }
        let mut out = String::new();
        for s in segs.iter().rev() {
            match s {
                Seg::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                Seg::Index(i) => {
                    out.push('[');
                    out.push_str(&i.to_string());
                    out.push(']');
                }
            }
        }
        out
    }
}

/// One value of the lab file at a known path (`segment[2].cidr`).
#[derive(Debug, Clone)]
pub struct Item<'d> {
    doc: &'d Document,
    value: &'d Value,
    /// The parent's path; with `seg`, this item's.
    parent: Path,
    seg: Option<Seg>,
}

impl<'d> Item<'d> {
    pub(crate) fn new(doc: &'d Document, value: &'d Value, parent: Path, key: &str) -> Self {
        Self {
            doc,
            value,
            parent,
            seg: Some(Seg::Key(key.to_owned().into())),
        }
    }

    fn at(doc: &'d Document, value: &'d Value, parent: Path, seg: Seg) -> Self {
        Self {
            doc,
            value,
            parent,
            seg: Some(seg),
        }
    }

    pub(crate) fn root(doc: &'d Document, value: &'d Value) -> Self {
        Self {
            doc,
            value,
            parent: Path::default(),
            seg: None,
        }
    }

    /// Its path in the file (`segment[2].cidr`).
    #[must_use]
    pub fn path(&self) -> String {
        self.parent.render(self.seg.as_ref())
    }

    fn own_path(&self) -> Path {
        match &self.seg {
            Some(s) => self.parent.child(s.clone()),
            None => self.parent.clone(),
        }
    }

    /// Where it is written (strings: their contents; arrays and tables: their
    /// brackets or header).
    #[must_use]
    pub fn span(&self) -> Span {
        self.value.span
    }

    /// `a string`, `an integer`, ...
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        type_name(self.value)
    }

    /// The value's text as written (for messages about it).
    #[must_use]
    pub fn raw(&self) -> &'d str {
        let span = match self.value.kind {
            Kind::Table(id) => self.doc.tree().tables[id as usize].span,
            _ => self.value.span,
        };
        self.doc.source().slice(span)
    }

    /// An error about this value: its path, span and value filled in.
    #[must_use]
    pub fn error(&self, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(self.path(), message)
            .span(self.value.span)
            .value(self.raw())
    }

    /// A warning about this value.
    #[must_use]
    pub fn warning(&self, message: impl Into<String>) -> Diagnostic {
        Diagnostic::warning(self.path(), message)
            .span(self.value.span)
            .value(self.raw())
    }

    fn wrong_type(&self, expected: &str, hint: &str, sink: &mut Sink) {
        sink.push(
            self.error(format!("expected {expected}, found {}", self.type_name()))
                .hint(hint),
        );
    }

    /// The string, if it is one (nothing reported).
    #[must_use]
    pub fn as_str(&self) -> Option<&'d str> {
        str_of(self.doc, self.value)
    }

    /// The integer, if it is one.
    #[must_use]
    pub fn as_integer(&self) -> Option<i64> {
        match self.value.kind {
            Kind::Integer(i) => self.doc.tree().ints.get(i as usize).copied(),
            _ => None,
        }
    }

    /// The float (or integer, widened), if it is one.
    #[must_use]
    #[allow(clippy::cast_precision_loss)] // lab-file numbers are far below 2^53
    pub fn as_float(&self) -> Option<f64> {
        match self.value.kind {
            Kind::Float(f) => self.doc.tree().floats.get(f as usize).copied(),
            Kind::Integer(i) => self.doc.tree().ints.get(i as usize).map(|&i| i as f64),
            _ => None,
        }
    }

    /// The boolean, if it is one.
    #[must_use]
    pub fn as_bool(&self) -> Option<bool> {
        match self.value.kind {
            Kind::Boolean(b) => Some(b),
            _ => None,
        }
    }

    /// The date-time, if it is one.
    #[must_use]
    pub fn as_datetime(&self) -> Option<Datetime> {
        match self.value.kind {
            Kind::Datetime(d) => self.doc.tree().dates.get(d as usize).copied(),
            _ => None,
        }
    }

    /// Whether it is a table.
    #[must_use]
    pub fn is_table(&self) -> bool {
        matches!(self.value.kind, Kind::Table(_))
    }

    /// Whether it is an array.
    #[must_use]
    pub fn is_array(&self) -> bool {
        matches!(self.value.kind, Kind::Array(_))
    }

    /// A string, or a reported type error.
    pub fn string(&self, sink: &mut Sink) -> Option<Field<&'d str>> {
        let s = self.as_str();
        if s.is_none() {
            self.wrong_type("a string", "put the value in double quotes", sink);
        }
        s.map(|s| Field::at(s, self.value.span))
    }

    /// A boolean, or a reported type error.
    pub fn boolean(&self, sink: &mut Sink) -> Option<Field<bool>> {
        let b = self.as_bool();
        if b.is_none() {
            let path = self.path();
            let key = path.rsplit('.').next().unwrap_or("key");
            self.wrong_type(
                "true or false",
                &format!("write `{key} = true` or `{key} = false`"),
                sink,
            );
        }
        b.map(|b| Field::at(b, self.value.span))
    }

    /// An integer, or a reported type error.
    pub fn integer(&self, sink: &mut Sink) -> Option<Field<i64>> {
        let i = self.as_integer();
        if i.is_none() {
            self.wrong_type(
                "an integer",
                "write a whole number without quotes, e.g. 4",
                sink,
            );
        }
        i.map(|i| Field::at(i, self.value.span))
    }

    /// A number (integer or float), or a reported type error.
    pub fn number(&self, sink: &mut Sink) -> Option<Field<f64>> {
        let f = self.as_float();
        if f.is_none() {
            self.wrong_type("a number", "write a number without quotes, e.g. 0.7", sink);
        }
        f.map(|f| Field::at(f, self.value.span))
    }

    /// A string parsed by `parse`; its error message (which reads after "VALUE is not WHAT: ")
    /// is reported with `hint`.
    pub fn parsed<T, E: std::fmt::Display>(
        &self,
        what: &str,
        hint: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
        sink: &mut Sink,
    ) -> Option<Field<T>> {
        let s = self.string(sink)?;
        match parse(s.value) {
            Ok(v) => Some(Field::at(v, self.value.span)),
            Err(e) => {
                sink.push(
                    self.error(format!("{} is not {what}: {e}", quoted(s.value)))
                        .hint(hint),
                );
                None
            }
        }
    }

    /// An IPv4 address (`"10.0.1.1"`), or a reported error.
    pub fn ipv4(&self, sink: &mut Sink) -> Option<Field<Ipv4Addr>> {
        let s = self.string(sink)?;
        if let Ok(a) = s.value.parse::<Ipv4Addr>() {
            return Some(Field::at(a, self.value.span));
        }
        let hint = if s.value.contains('/') {
            "write the address alone, without a prefix length, e.g. \"10.0.1.1\""
        } else {
            "write a dotted-quad IPv4 address, e.g. \"10.0.1.1\""
        };
        sink.push(
            self.error(format!("{} is not an IPv4 address", quoted(s.value)))
                .hint(hint),
        );
        None
    }

    /// A table, or a reported type error.
    pub fn table(self, sink: &mut Sink) -> Option<TableReader<'d>> {
        let Kind::Table(id) = self.value.kind else {
            self.wrong_type(
                "a table",
                &format!(
                    "write it as a [{}] section or an inline table {{ key = value }}",
                    self.path()
                ),
                sink,
            );
            return None;
        };
        let table = &self.doc.tree().tables[id as usize];
        Some(TableReader {
            doc: self.doc,
            table,
            path: self.own_path(),
            span: table.span,
            used: Vec::new(),
            all: false,
        })
    }

    /// An array, or a reported type error.
    pub fn array(self, sink: &mut Sink) -> Option<ArrayReader<'d>> {
        let Kind::Array(id) = self.value.kind else {
            self.wrong_type("an array", "write a list in brackets: [\"a\", \"b\"]", sink);
            return None;
        };
        Some(ArrayReader {
            doc: self.doc,
            array: &self.doc.tree().arrays[id as usize],
            path: self.own_path(),
            span: self.value.span,
        })
    }

    /// An array of tables (`[[header]]` sections), each read with its own
    /// path (`header[0]`, `header[1]`, ...). Elements that are not tables are reported.
    pub fn tables(self, sink: &mut Sink) -> Vec<TableReader<'d>> {
        if !self.is_array() {
            let header = self.path();
            sink.push(
                self.error(format!(
                    "expected [[{header}]] tables, found {}",
                    self.type_name()
                ))
                .hint(format!("write each entry as its own [[{header}]] table")),
            );
            return Vec::new();
        }
        let Some(arr) = self.array(sink) else {
            return Vec::new();
        };
        arr.elements()
            .filter_map(|e| e.item().table(sink))
            .collect()
    }

    /// Like [`Item::tables`], for entries that each have a unique `name`: each
    /// name is read (missing ones reported with `name_hint`) and a name used
    /// twice is reported, with a note at its first use.
    pub fn named_tables(self, name_hint: &str, sink: &mut Sink) -> Vec<Named<'d>> {
        let mut out: Vec<Named<'d>> = Vec::new();
        for mut table in self.tables(sink) {
            let name = table.required_str("name", name_hint, sink);
            if let Some(n) = name
                && let Some(first) = out
                    .iter()
                    .find(|o| o.name.is_some_and(|f| f.value == n.value))
            {
                sink.push(
                    Diagnostic::error(
                        table.key_path("name"),
                        format!(
                            "{} is already the name of {}",
                            quoted(n.value),
                            first.table.path()
                        ),
                    )
                    .value(n.value)
                    .span(n.span)
                    .related("first used here", first.name.and_then(|f| f.span))
                    .hint("every entry needs its own name"),
                );
            }
            out.push(Named { name, table });
        }
        out
    }
}

/// A table entry with its `name` (see [`Item::named_tables`]).
#[derive(Debug)]
#[non_exhaustive]
pub struct Named<'d> {
    /// The name, if it was written as a string.
    pub name: Option<Field<&'d str>>,
    /// The rest of the table (`name` already read).
    pub table: TableReader<'d>,
}

/// Reads one table; [`TableReader::finish`] reports the keys nobody read.
#[derive(Debug)]
pub struct TableReader<'d> {
    doc: &'d Document,
    table: &'d TableData,
    path: Path,
    span: Span,
    used: Vec<&'static str>,
    /// Read through [`TableReader::entries`]: every key is the user's.
    all: bool,
}

impl<'d> TableReader<'d> {
    /// The table's path (`segment[2]`).
    #[must_use]
    pub fn path(&self) -> String {
        self.path.render(None)
    }

    /// The path of one of its keys.
    #[must_use]
    pub fn key_path(&self, key: &str) -> String {
        self.path.render(Some(&Seg::Key(key.to_owned().into())))
    }

    /// Where the table starts (its header, or its opening brace).
    #[must_use]
    pub fn span(&self) -> Span {
        self.span
    }

    /// Whether `key` is written here (nothing is marked read).
    #[must_use]
    pub fn has(&self, key: &str) -> bool {
        self.lookup(key).is_some()
    }

    fn lookup(&self, key: &str) -> Option<&'d Value> {
        self.table
            .entries
            .iter()
            .find(|(k, _)| &*k.name == key)
            .map(|(_, v)| v)
    }

    /// `key`, if written; marks it as read either way.
    pub fn optional(&mut self, key: &'static str) -> Option<Item<'d>> {
        self.used.push(key);
        let v = self.lookup(key)?;
        Some(Item::at(
            self.doc,
            v,
            self.path.clone(),
            Seg::Key(key.into()),
        ))
    }

    /// `key`, or a reported "required field is missing" with `hint`.
    pub fn required(&mut self, key: &'static str, hint: &str, sink: &mut Sink) -> Option<Item<'d>> {
        let v = self.optional(key);
        if v.is_none() {
            sink.push(
                Diagnostic::error(
                    self.key_path(key),
                    format!("required field `{key}` is missing"),
                )
                .span(self.span)
                .hint(hint),
            );
        }
        v
    }

    /// An optional string.
    pub fn optional_str(&mut self, key: &'static str, sink: &mut Sink) -> Option<Field<&'d str>> {
        self.optional(key)?.string(sink)
    }

    /// A required string.
    pub fn required_str(
        &mut self,
        key: &'static str,
        hint: &str,
        sink: &mut Sink,
    ) -> Option<Field<&'d str>> {
        self.required(key, hint, sink)?.string(sink)
    }

    /// An optional boolean.
    pub fn optional_bool(&mut self, key: &'static str, sink: &mut Sink) -> Option<Field<bool>> {
        self.optional(key)?.boolean(sink)
    }

    /// A required boolean.
    pub fn required_bool(
        &mut self,
        key: &'static str,
        hint: &str,
        sink: &mut Sink,
    ) -> Option<Field<bool>> {
        self.required(key, hint, sink)?.boolean(sink)
    }

    /// An optional integer.
    pub fn optional_integer(&mut self, key: &'static str, sink: &mut Sink) -> Option<Field<i64>> {
        self.optional(key)?.integer(sink)
    }

    /// A required integer.
    pub fn required_integer(
        &mut self,
        key: &'static str,
        hint: &str,
        sink: &mut Sink,
    ) -> Option<Field<i64>> {
        self.required(key, hint, sink)?.integer(sink)
    }

    /// An optional IPv4 address.
    pub fn optional_ipv4(&mut self, key: &'static str, sink: &mut Sink) -> Option<Field<Ipv4Addr>> {
        self.optional(key)?.ipv4(sink)
    }

    /// A required IPv4 address.
    pub fn required_ipv4(
        &mut self,
        key: &'static str,
        hint: &str,
        sink: &mut Sink,
    ) -> Option<Field<Ipv4Addr>> {
        self.required(key, hint, sink)?.ipv4(sink)
    }

    /// Every key and value, for tables whose keys are names chosen by the user
    /// (`[host.pools]`); all count as read.
    pub fn entries(&mut self) -> impl Iterator<Item = (Field<&'d str>, Item<'d>)> + '_ {
        self.all = true;
        let doc = self.doc;
        let path = &self.path;
        self.table.entries.iter().map(move |(k, v)| {
            (
                Field::at(&*k.name, k.span),
                Item::new(doc, v, path.clone(), &k.name),
            )
        })
    }

    /// Report every key not read, with a "did you mean" among the keys that were.
    pub fn finish(self, sink: &mut Sink) {
        if self.all {
            return;
        }
        for (k, _) in &self.table.entries {
            if self.used.contains(&&*k.name) {
                continue;
            }
            let d = Diagnostic::error(
                self.key_path(&k.name),
                format!("unknown field `{}`", shorten(&k.name)),
            )
            .value(&*k.name)
            .span(k.span);
            let d = match did_you_mean(&k.name, self.used.iter().copied()) {
                Some(s) => d.hint(format!("did you mean `{s}`?")),
                None => d.hint(format!("known fields here: {}", self.used.join(", "))),
            };
            sink.push(d);
        }
    }
}

/// Reads one array.
#[derive(Debug)]
pub struct ArrayReader<'d> {
    doc: &'d Document,
    array: &'d ArrayData,
    path: Path,
    span: Span,
}

impl<'d> ArrayReader<'d> {
    /// The array's path.
    #[must_use]
    pub fn path(&self) -> String {
        self.path.render(None)
    }

    /// Where it is written, brackets included.
    #[must_use]
    pub fn span(&self) -> Span {
        self.span
    }

    /// Number of elements.
    #[must_use]
    pub fn len(&self) -> usize {
        self.array.items.len()
    }

    /// Whether it has no elements.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.array.items.is_empty()
    }

    /// The elements. Paths (`to[3]`) are built only when asked for, because
    /// lists can hold hundreds of thousands of names.
    pub fn elements(&self) -> impl Iterator<Item = Element<'_, 'd>> {
        self.array
            .items
            .iter()
            .enumerate()
            .map(|(index, value)| Element {
                doc: self.doc,
                value,
                index,
                parent: &self.path,
            })
    }
}

/// One element of an array.
#[derive(Debug, Clone, Copy)]
pub struct Element<'a, 'd> {
    doc: &'d Document,
    value: &'d Value,
    index: usize,
    parent: &'a Path,
}

impl<'d> Element<'_, 'd> {
    /// Its index.
    #[must_use]
    pub fn index(&self) -> usize {
        self.index
    }

    /// Where it is written.
    #[must_use]
    pub fn span(&self) -> Span {
        self.value.span
    }

    /// The string, if it is one (nothing reported, no path built).
    #[must_use]
    pub fn as_str(&self) -> Option<&'d str> {
        str_of(self.doc, self.value)
    }

    /// The element as an [`Item`] with its path (`parent[index]`).
    #[must_use]
    pub fn item(&self) -> Item<'d> {
        Item::at(
            self.doc,
            self.value,
            self.parent.clone(),
            Seg::Index(self.index),
        )
    }
}

/// The closest candidate within a small edit distance, for "did you mean" hints.
pub fn did_you_mean<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    // One edit in a one- or two-letter word is a different word, not a typo;
    // and a very long word is nobody's typo (and would be slow to compare).
    let n = word.chars().count();
    if n > 64 {
        return None;
    }
    let limit = if n < 3 { 0 } else { (n / 3).max(1) };
    let word = word.to_lowercase();
    candidates
        .into_iter()
        .filter(|c| c.len() <= 64)
        .map(|c| (edit_distance(&word, &c.to_lowercase()), c))
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

    fn doc(text: &str) -> Document {
        Document::parse("t.toml", text).unwrap()
    }

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

    #[test]
    fn typed_fields_report_type_errors_with_the_value_as_written() {
        let d = doc("[vm]\ncpus = \"two\"\nok = true\nip = \"10.0.0.5/24\"\n");
        let mut sink = Sink::new();
        let mut t = d.section("vm").unwrap().table(&mut sink).unwrap();
        assert!(t.optional_integer("cpus", &mut sink).is_none());
        assert_eq!(
            t.optional_bool("ok", &mut sink).map(|f| f.value),
            Some(true)
        );
        assert!(t.optional_ipv4("ip", &mut sink).is_none());
        assert!(
            t.required_str("name", "give it a name", &mut sink)
                .is_none()
        );
        t.finish(&mut sink);
        let items = sink.items();
        assert_eq!(items.len(), 3, "{items:#?}");
        assert_eq!(items[0].field, "vm.cpus");
        assert_eq!(items[0].message, "expected an integer, found a string");
        assert_eq!(
            items[0].value.as_deref(),
            Some("two"),
            "type errors carry the value"
        );
        assert!(
            items[1]
                .hint
                .as_deref()
                .unwrap()
                .contains("without a prefix length")
        );
        assert_eq!(items[2].message, "required field `name` is missing");
    }

    #[test]
    fn unknown_keys_get_a_suggestion() {
        let d = doc("[backup]\nrepositry = \"/x\"\n");
        let mut sink = Sink::new();
        let mut t = d.section("backup").unwrap().table(&mut sink).unwrap();
        let _ = t.optional_str("repository", &mut sink);
        t.finish(&mut sink);
        assert_eq!(
            sink.items()[0].hint.as_deref(),
            Some("did you mean `repository`?")
        );
    }

    #[test]
    fn named_tables_report_duplicates_with_a_note() {
        let d = doc("[[vm]]\nname = \"a\"\n[[vm]]\nname = \"b\"\n[[vm]]\nname = \"a\"\n[[vm]]\n");
        let mut sink = Sink::new();
        let named = d
            .section("vm")
            .unwrap()
            .named_tables("add name = \"...\"", &mut sink);
        assert_eq!(named.len(), 4);
        let fields: Vec<&str> = sink.items().iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["vm[2].name", "vm[3].name"]);
        assert!(
            sink.items()[0]
                .message
                .contains("already the name of vm[0]")
        );
        assert!(!sink.items()[0].related.is_empty());
    }

    #[test]
    fn element_paths_are_built_on_demand() {
        let d = doc("x = [\"a\", 2]\n");
        let mut sink = Sink::new();
        let a = d.section("x").unwrap().array(&mut sink).unwrap();
        let el: Vec<_> = a.elements().collect();
        assert_eq!(el[0].as_str(), Some("a"));
        assert!(el[1].as_str().is_none());
        assert_eq!(el[1].item().path(), "x[1]");
        assert!(el[1].item().string(&mut sink).is_none());
        assert_eq!(sink.items()[0].value.as_deref(), Some("2"));
    }

    #[test]
    fn user_keyed_tables() {
        let d = doc("[host.pools]\nfast = \"/var/lib\"\nbulk = \"/data\"\n");
        let mut sink = Sink::new();
        let mut host = d.section("host").unwrap().table(&mut sink).unwrap();
        let mut pools = host.optional("pools").unwrap().table(&mut sink).unwrap();
        let names: Vec<&str> = pools.entries().map(|(k, _)| k.value).collect();
        assert_eq!(names, ["fast", "bulk"]);
        pools.finish(&mut sink);
        host.finish(&mut sink);
        assert!(sink.is_empty(), "{:?}", sink.items());
    }
}
