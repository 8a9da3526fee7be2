//! labfile's TOML 1.0 reader: the whole language, a span for every key and value.
//!
//! Why its own reader: the lab file is parsed by every labkit command, and a
//! 1000-segment lab is megabytes of short strings. This reader makes one pass
//! over the bytes, keeps strings without escapes as spans into the text (no
//! copy), and stores tables and arrays in two flat arenas, so a value is
//! 32 bytes and nothing is allocated per string. `benches/benches/parse.rs`
//! measures it against toml-span and the `toml` crate; `tests/conformance.rs`
//! runs the official toml-test suite (TOML 1.0.0) and compares every valid
//! case with the expected JSON; a property test compares it with the `toml`
//! crate on generated documents.
//!
//! Errors stop the parse (TOML gives no safe way to resynchronise) and carry
//! a message, a hint for the mistakes lab files see (unquoted addresses, bare
//! words, Windows paths in basic strings) and, for redefinitions, the place of
//! the first definition.

use std::collections::HashMap;
use std::fmt;

use crate::span::Span;

/// Deepest nesting of arrays and inline tables accepted; deeper input is refused
/// instead of exhausting the stack.
const MAX_DEPTH: usize = 128;

/// The root table's index in [`Tree::tables`].
pub(crate) const ROOT: u32 = 0;

/// A string as read: `None` when it is exactly its span of the text (no
/// escapes), else the decoded text.
pub(crate) type Str = Option<Box<str>>;

/// A date, a time, or both, with an optional offset, as TOML writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Datetime {
    /// `YYYY-MM-DD`, if present.
    pub date: Option<Date>,
    /// `HH:MM:SS[.fraction]`, if present.
    pub time: Option<Time>,
    /// `Z` or `±HH:MM`; only with both a date and a time.
    pub offset: Option<Offset>,
}

/// A calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Date {
    /// Year, 0 to 9999.
    pub year: u16,
    /// Month, 1 to 12.
    pub month: u8,
    /// Day of the month.
    pub day: u8,
}

/// A time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Time {
    /// 0 to 23.
    pub hour: u8,
    /// 0 to 59.
    pub minute: u8,
    /// 0 to 60 (a leap second).
    pub second: u8,
    /// Fraction of the second (digits past the ninth are dropped).
    pub nanosecond: u32,
}

/// A UTC offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Offset {
    /// `Z`.
    Z,
    /// `±HH:MM`, in minutes east of UTC.
    Minutes(i16),
}

impl fmt::Display for Datetime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = self.date {
            write!(f, "{:04}-{:02}-{:02}", d.year, d.month, d.day)?;
            if self.time.is_some() {
                f.write_str("T")?;
            }
        }
        if let Some(t) = self.time {
            write!(f, "{:02}:{:02}:{:02}", t.hour, t.minute, t.second)?;
            if t.nanosecond > 0 {
                let frac = format!("{:09}", t.nanosecond);
                write!(f, ".{}", frac.trim_end_matches('0'))?;
            }
        }
        match self.offset {
            None => Ok(()),
            Some(Offset::Z) => f.write_str("Z"),
            Some(Offset::Minutes(m)) => {
                let sign = if m < 0 { '-' } else { '+' };
                let m = m.unsigned_abs();
                write!(f, "{sign}{:02}:{:02}", m / 60, m % 60)
            }
        }
    }
}

/// What a value is. Eight bytes: anything larger lives in an arena of the
/// [`Tree`] and is named by its index, so a value is 16 bytes in all.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Kind {
    /// A string written without escapes: its text is the value's span.
    RawString,
    /// A decoded string, in [`Tree::strings`].
    String(u32),
    /// In [`Tree::ints`].
    Integer(u32),
    /// In [`Tree::floats`].
    Float(u32),
    Boolean(bool),
    /// In [`Tree::dates`].
    Datetime(u32),
    Array(u32),
    Table(u32),
}

/// A value and where it is written. Strings' spans cover their contents,
/// inside the quotes; arrays' and inline tables' cover the brackets.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Value {
    pub(crate) kind: Kind,
    pub(crate) span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Key {
    pub(crate) name: Box<str>,
    pub(crate) span: Span,
}

/// How a table came to exist, which decides what may add to it later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TableKind {
    Root,
    /// Created as the parent of a `[a.b]` header; `[a]` may still define it, once.
    Implicit,
    /// Defined by a `[header]` or as an `[[array]]` element.
    Header,
    /// Created by dotted keys; only more dotted keys (and sub-table headers) add to it.
    Dotted,
    /// `{ ... }`: complete as written.
    Inline,
}

#[derive(Debug, Clone)]
pub(crate) struct TableData {
    pub(crate) entries: Vec<(Key, Value)>,
    /// Built once a table has more keys than a linear search serves well.
    index: Option<HashMap<Box<str>, u32>>,
    pub(crate) kind: TableKind,
    /// The header, the braces, or the first dotted key that made it.
    pub(crate) span: Span,
}

#[derive(Debug, Clone)]
pub(crate) struct ArrayData {
    pub(crate) items: Vec<Value>,
    /// Made by `[[header]]`s (so more may be appended), not written as `[...]`.
    pub(crate) of_tables: bool,
}

/// A parsed document: tables and arrays in arenas, table 0 the root.
#[derive(Debug, Clone)]
pub(crate) struct Tree {
    pub(crate) tables: Vec<TableData>,
    pub(crate) arrays: Vec<ArrayData>,
    pub(crate) strings: Vec<Box<str>>,
    pub(crate) ints: Vec<i64>,
    pub(crate) floats: Vec<f64>,
    pub(crate) dates: Vec<Datetime>,
}

fn index(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

const INDEX_FROM: usize = 12;

impl Tree {
    fn string(&mut self, s: Str) -> Kind {
        match s {
            None => Kind::RawString,
            Some(b) => {
                self.strings.push(b);
                Kind::String(index(self.strings.len() - 1))
            }
        }
    }

    fn number(&mut self, n: Num) -> Kind {
        match n {
            Num::Int(i) => {
                self.ints.push(i);
                Kind::Integer(index(self.ints.len() - 1))
            }
            Num::Float(f) => {
                self.floats.push(f);
                Kind::Float(index(self.floats.len() - 1))
            }
        }
    }

    fn date(&mut self, d: Datetime) -> Kind {
        self.dates.push(d);
        Kind::Datetime(index(self.dates.len() - 1))
    }

    fn new_table(&mut self, kind: TableKind, span: Span) -> u32 {
        self.tables.push(TableData {
            entries: Vec::new(),
            index: None,
            kind,
            span,
        });
        u32::try_from(self.tables.len() - 1).unwrap_or(u32::MAX)
    }

    fn new_array(&mut self, items: Vec<Value>, of_tables: bool) -> u32 {
        self.arrays.push(ArrayData { items, of_tables });
        u32::try_from(self.arrays.len() - 1).unwrap_or(u32::MAX)
    }

    /// The entry index of `name` in table `t`.
    pub(crate) fn lookup(&self, t: u32, name: &str) -> Option<usize> {
        let table = &self.tables[t as usize];
        match &table.index {
            Some(ix) => ix.get(name).map(|&i| i as usize),
            None => table.entries.iter().position(|(k, _)| &*k.name == name),
        }
    }

    fn insert(&mut self, t: u32, key: Key, value: Value) {
        let table = &mut self.tables[t as usize];
        let i = u32::try_from(table.entries.len()).unwrap_or(u32::MAX);
        if let Some(ix) = &mut table.index {
            ix.insert(key.name.clone(), i);
        }
        table.entries.push((key, value));
        if table.index.is_none() && table.entries.len() > INDEX_FROM {
            table.index = Some(
                table
                    .entries
                    .iter()
                    .enumerate()
                    .map(|(i, (k, _))| (k.name.clone(), u32::try_from(i).unwrap_or(u32::MAX)))
                    .collect(),
            );
        }
    }
}

/// Why the text is not TOML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) message: String,
    pub(crate) hint: String,
    pub(crate) span: Span,
    /// Where the thing it conflicts with was first written.
    pub(crate) first: Option<(String, Span)>,
}

// Boxed: a value is returned hundreds of thousands of times, an error once.
type Result<T> = std::result::Result<T, Box<SyntaxError>>;

const HINT_TOML: &str =
    "the file must be TOML (https://toml.io): key = value lines, [table] headers, quoted strings";
const HINT_QUOTE: &str = "quote addresses, networks, paths and other text: cidr = \"10.0.1.0/24\"";

/// Parse a whole document.
pub(crate) fn parse(text: &str) -> Result<Tree> {
    if u32::try_from(text.len()).is_err() {
        return Err(Box::new(SyntaxError {
            message: format!(
                "the file is {} bytes; lab files are limited to 4 GiB",
                text.len()
            ),
            hint: "split the lab into smaller files".into(),
            span: Span::at(0),
            first: None,
        }));
    }
    let mut p = Parser {
        s: text,
        b: text.as_bytes(),
        i: 0,
        depth: 0,
        tree: Tree {
            tables: Vec::new(),
            arrays: Vec::new(),
            strings: Vec::new(),
            ints: Vec::new(),
            floats: Vec::new(),
            dates: Vec::new(),
        },
        stack: Vec::new(),
    };
    p.tree.new_table(TableKind::Root, Span::at(0));
    p.document()?;
    Ok(p.tree)
}

struct Parser<'s> {
    s: &'s str,
    b: &'s [u8],
    i: usize,
    depth: usize,
    tree: Tree,
    /// Elements of the arrays being read, innermost last: each array takes
    /// its elements off the top in one exact-sized allocation, instead of
    /// growing its own vector element by element.
    stack: Vec<Value>,
}

fn is_bare(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

/// Bytes that may end a scalar such as a number or `true`.
fn ends_scalar(c: Option<u8>) -> bool {
    matches!(
        c,
        None | Some(b' ' | b'\t' | b'\n' | b'\r' | b'#' | b',' | b']' | b'}')
    )
}

/// Bytes that end the plain run of a basic string: `"`, `\\` and control
/// characters (tab excepted). A table, because this test runs on nearly every
/// byte of a large lab file.
static STOPS_BASIC: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = (c < 0x20 && c != 0x09) || c == 0x7f || c == b'"' as usize || c == b'\\' as usize;
        c += 1;
    }
    t
};

/// How many leading bytes of `b` may sit in a basic string as they are. (A
/// word-at-a-time scan was measured and lost: lab-file strings are mostly
/// shorter than a word.)
fn plain_prefix(b: &[u8]) -> usize {
    b.iter()
        .position(|&c| STOPS_BASIC[usize::from(c)])
        .unwrap_or(b.len())
}

fn is_control(c: u8) -> bool {
    (c < 0x20 && c != b'\t') || c == 0x7f
}

pub(crate) fn kind_name(k: &Kind) -> &'static str {
    match k {
        Kind::RawString | Kind::String(_) => "a string",
        Kind::Integer(_) => "an integer",
        Kind::Float(_) => "a float",
        Kind::Boolean(_) => "a boolean",
        Kind::Datetime(_) => "a date-time",
        Kind::Array(_) => "an array",
        Kind::Table(_) => "a table",
    }
}

fn dotted(keys: &[Key]) -> String {
    keys.iter()
        .map(|k| {
            if !k.name.is_empty() && k.name.bytes().all(is_bare) {
                k.name.to_string()
            } else {
                format!("{:?}", &*k.name)
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn peek_at(&self, n: usize) -> Option<u8> {
        self.b.get(self.i + n).copied()
    }

    fn starts(&self, s: &str) -> bool {
        self.b[self.i..].starts_with(s.as_bytes())
    }

    fn err(
        &self,
        span: Span,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Box<SyntaxError> {
        Box::new(SyntaxError {
            message: message.into(),
            hint: hint.into(),
            span,
            first: None,
        })
    }

    fn here(&self) -> Span {
        let end = self.s.ceil_char_boundary(self.i + 1).min(self.s.len());
        Span::new(self.i, end)
    }

    /// The character at the cursor, for messages.
    fn found(&self) -> String {
        match self.s[self.i..].chars().next() {
            None => "the end of the file".into(),
            Some('\n') => "the end of the line".into(),
            Some(c) if c.is_control() => format!("control character U+{:04X}", u32::from(c)),
            Some(c) => format!("`{c}`"),
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t') = self.peek() {
            self.i += 1;
        }
    }

    fn comment(&mut self) -> Result<()> {
        debug_assert_eq!(self.peek(), Some(b'#'));
        self.i += 1;
        while let Some(c) = self.peek() {
            if c == b'\n' || (c == b'\r' && self.peek_at(1) == Some(b'\n')) {
                break;
            }
            if is_control(c) {
                return Err(self.err(
                    self.here(),
                    format!("{} in a comment", self.found()),
                    "comments may hold any text but control characters",
                ));
            }
            self.i += 1;
        }
        Ok(())
    }

    /// A newline at the cursor, if any.
    fn newline(&mut self) -> Result<bool> {
        match self.peek() {
            Some(b'\n') => {
                self.i += 1;
                Ok(true)
            }
            Some(b'\r') if self.peek_at(1) == Some(b'\n') => {
                self.i += 2;
                Ok(true)
            }
            Some(b'\r') => Err(self.err(
                self.here(),
                "a carriage return not followed by a newline",
                "end lines with \\n or \\r\\n",
            )),
            _ => Ok(false),
        }
    }

    /// Whitespace, comments and newlines (between array elements, and between lines).
    fn blank(&mut self) -> Result<()> {
        // Most calls find nothing to skip, or one space.
        match self.peek() {
            Some(b' ' | b'\t' | b'#' | b'\n' | b'\r') => {}
            _ => return Ok(()),
        }
        if self.peek() == Some(b' ')
            && !matches!(self.peek_at(1), Some(b' ' | b'\t' | b'#' | b'\n' | b'\r'))
        {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            match self.peek() {
                Some(b'#') => self.comment()?,
                Some(b'\n' | b'\r') => {
                    self.newline()?;
                }
                _ => return Ok(()),
            }
        }
    }

    /// After a key/value pair or a header: optional whitespace and comment, then the line ends.
    fn line_end(&mut self, what: &str) -> Result<()> {
        self.ws();
        if self.peek() == Some(b'#') {
            self.comment()?;
        }
        if self.peek().is_none() || self.newline()? {
            return Ok(());
        }
        Err(self.err(
            self.here(),
            format!(
                "expected the end of the line after {what}, found {}",
                self.found()
            ),
            "put each key = value pair and each [table] header on its own line",
        ))
    }

    fn document(&mut self) -> Result<()> {
        if self.starts("\u{feff}") {
            self.i += 3;
        }
        let mut current = ROOT;
        loop {
            self.blank()?;
            match self.peek() {
                None => return Ok(()),
                Some(b'[') => {
                    current = self.header()?;
                    self.line_end("the table header")?;
                }
                Some(_) => {
                    self.keyval(current)?;
                    self.line_end("the value")?;
                }
            }
        }
    }

    fn header(&mut self) -> Result<u32> {
        let start = self.i;
        self.i += 1;
        let array = self.peek() == Some(b'[');
        if array {
            self.i += 1;
        }
        self.ws();
        let keys = self.key_path()?;
        self.ws();
        let close = if array { "]]" } else { "]" };
        if !self.starts(close) {
            return Err(self.err(
                self.here(),
                format!(
                    "expected `{close}` to close the table header, found {}",
                    self.found()
                ),
                if array {
                    "an array-of-tables header is [[name]], with no space between the brackets"
                } else {
                    "a table header is [name] or [parent.child] on a line of its own"
                },
            ));
        }
        self.i += close.len();
        let span = Span::new(start, self.i);
        self.header_table(&keys, array, span)
    }

    fn header_table(&mut self, keys: &[Key], array: bool, span: Span) -> Result<u32> {
        let mut t = ROOT;
        // Only errors show the header: build it only for them.
        let shown = || {
            if array {
                format!("[[{}]]", dotted(keys))
            } else {
                format!("[{}]", dotted(keys))
            }
        };
        for (n, k) in keys.iter().enumerate() {
            let last = n + 1 == keys.len();
            let Some(idx) = self.tree.lookup(t, &k.name) else {
                if last && array {
                    let el = self.tree.new_table(TableKind::Header, span);
                    let arr = self.tree.new_array(
                        vec![Value {
                            kind: Kind::Table(el),
                            span,
                        }],
                        true,
                    );
                    self.tree.insert(
                        t,
                        k.clone(),
                        Value {
                            kind: Kind::Array(arr),
                            span,
                        },
                    );
                    return Ok(el);
                }
                let kind = if last {
                    TableKind::Header
                } else {
                    TableKind::Implicit
                };
                let id = self.tree.new_table(kind, span);
                self.tree.insert(
                    t,
                    k.clone(),
                    Value {
                        kind: Kind::Table(id),
                        span,
                    },
                );
                if last {
                    return Ok(id);
                }
                t = id;
                continue;
            };
            let (first_key, value) = &self.tree.tables[t as usize].entries[idx];
            let first = first_key.span;
            let path = dotted(&keys[..=n]);
            match value.kind {
                Kind::Table(id) => {
                    let table = &self.tree.tables[id as usize];
                    let defined = ("first defined here".to_owned(), table.span);
                    if table.kind == TableKind::Inline {
                        return Err(Box::new(SyntaxError {
                            message: format!(
                                "{} adds to `{path}`, which is an inline table {{ ... }}, complete as written",
                                shown()
                            ),
                            hint: "move everything into the inline table, or write it as a [table] section".into(),
                            span,
                            first: Some(defined),
                        }));
                    }
                    if !last {
                        t = id;
                        continue;
                    }
                    if array {
                        return Err(Box::new(SyntaxError {
                            message: format!("{}: `{path}` is already a table, not an array of tables", shown()),
                            hint: "use [[name]] for every entry of a list of tables, or [name] for one table".into(),
                            span,
                            first: Some(defined),
                        }));
                    }
                    return match table.kind {
                        TableKind::Implicit => {
                            let table = &mut self.tree.tables[id as usize];
                            table.kind = TableKind::Header;
                            table.span = span;
                            Ok(id)
                        }
                        TableKind::Dotted => Err(Box::new(SyntaxError {
                            message: format!("table {} is already defined by dotted keys", shown()),
                            hint: "a table is defined once: either with dotted keys or with a [header]".into(),
                            span,
                            first: Some(("defined here".into(), first)),
                        })),
                        _ => Err(Box::new(SyntaxError {
                            message: format!("table {} is defined twice", shown()),
                            hint: "merge the two tables; use [[...]] for a list of tables such as [[segment]]".into(),
                            span,
                            first: Some(defined),
                        })),
                    };
                }
                Kind::Array(aid) if self.tree.arrays[aid as usize].of_tables => {
                    let arr = &self.tree.arrays[aid as usize];
                    if last && !array {
                        return Err(Box::new(SyntaxError {
                            message: format!("{}: `{path}` is a list of tables", shown()),
                            hint: format!("write [[{path}]] to add an entry to it"),
                            span,
                            first: Some(("the list starts here".into(), first)),
                        }));
                    }
                    if last {
                        let el = self.tree.new_table(TableKind::Header, span);
                        self.tree.arrays[aid as usize].items.push(Value {
                            kind: Kind::Table(el),
                            span,
                        });
                        return Ok(el);
                    }
                    match arr.items.last().map(|v| &v.kind) {
                        Some(Kind::Table(id)) => t = *id,
                        _ => {
                            return Err(self.err(
                                span,
                                "internal: empty list of tables",
                                HINT_TOML,
                            ));
                        }
                    }
                }
                ref other => {
                    return Err(Box::new(SyntaxError {
                        message: format!(
                            "{}: `{path}` is already {}, so it cannot hold a table",
                            shown(),
                            kind_name(other)
                        ),
                        hint: "give the table another name, or remove the value".into(),
                        span,
                        first: Some(("the value is set here".into(), first)),
                    }));
                }
            }
        }
        Err(self.err(span, "internal: empty table name", HINT_TOML))
    }

    fn key_path(&mut self) -> Result<Vec<Key>> {
        let mut keys = Vec::with_capacity(1);
        loop {
            self.ws();
            keys.push(self.simple_key()?);
            self.ws();
            if self.peek() == Some(b'.') {
                self.i += 1;
            } else {
                return Ok(keys);
            }
        }
    }

    fn simple_key(&mut self) -> Result<Key> {
        match self.peek() {
            Some(b'"') => {
                if self.starts("\"\"\"") {
                    return Err(self.err(
                        self.here(),
                        "a key cannot be a multi-line string",
                        "quote keys with \"...\" on one line",
                    ));
                }
                let (s, span) = self.basic_string()?;
                let name: Box<str> = match s {
                    None => self.s[span.range()].into(),
                    Some(o) => o,
                };
                Ok(Key { name, span })
            }
            Some(b'\'') => {
                if self.starts("'''") {
                    return Err(self.err(
                        self.here(),
                        "a key cannot be a multi-line string",
                        "quote keys with '...' on one line",
                    ));
                }
                let span = self.literal_string()?;
                Ok(Key {
                    name: self.s[span.range()].into(),
                    span,
                })
            }
            Some(c) if is_bare(c) => {
                let start = self.i;
                while self.peek().is_some_and(is_bare) {
                    self.i += 1;
                }
                let span = Span::new(start, self.i);
                Ok(Key {
                    name: self.s[span.range()].into(),
                    span,
                })
            }
            _ => Err(self.err(
                self.here(),
                format!("expected a key, found {}", self.found()),
                "keys are letters, digits, '_' and '-', or quoted: name = \"x\", \"a key\" = 1",
            )),
        }
    }

    /// `key = value` into table `t` (a section or an inline table).
    fn keyval(&mut self, t: u32) -> Result<()> {
        let keys = self.key_path()?;
        self.ws();
        if self.peek() != Some(b'=') {
            let hint = if self.peek() == Some(b'.') || keys.len() > 1 {
                "write key = value; quote keys that hold dots or spaces"
            } else {
                "write key = value, one pair per line"
            };
            return Err(self.err(
                self.here(),
                format!(
                    "expected `=` after the key `{}`, found {}",
                    dotted(&keys),
                    self.found()
                ),
                hint,
            ));
        }
        self.i += 1;
        self.ws();
        let value = self.value()?;
        let mut t = t;
        let n = keys.len();
        for (j, k) in keys.iter().enumerate() {
            let last = j + 1 == n;
            match self.tree.lookup(t, &k.name) {
                None if last => {
                    self.tree.insert(t, k.clone(), value);
                    return Ok(());
                }
                None => {
                    let id = self.tree.new_table(TableKind::Dotted, k.span);
                    self.tree.insert(
                        t,
                        k.clone(),
                        Value {
                            kind: Kind::Table(id),
                            span: k.span,
                        },
                    );
                    t = id;
                }
                Some(idx) => {
                    let (first, v) = &self.tree.tables[t as usize].entries[idx];
                    let path = dotted(&keys[..=j]);
                    if !last
                        && let Kind::Table(id) = v.kind
                        && self.tree.tables[id as usize].kind == TableKind::Dotted
                    {
                        t = id;
                        continue;
                    }
                    let (message, hint) = if last {
                        (
                            format!("`{path}` is set twice"),
                            "remove one of them".to_owned(),
                        )
                    } else {
                        (
                            format!(
                                "`{path}` is {} defined elsewhere; dotted keys cannot add to it",
                                kind_name(&v.kind)
                            ),
                            format!("set the key inside `{path}`'s own section, or rename it"),
                        )
                    };
                    return Err(Box::new(SyntaxError {
                        message,
                        hint,
                        span: keys[j].span,
                        first: Some(("first set here".into(), first.span)),
                    }));
                }
            }
        }
        Ok(())
    }

    fn value(&mut self) -> Result<Value> {
        let start = self.i;
        match self.peek() {
            Some(b'"') => {
                if self.starts("\"\"\"") {
                    let (s, span) = self.ml_basic_string()?;
                    Ok(Value {
                        kind: self.tree.string(s),
                        span,
                    })
                } else {
                    let (s, span) = self.basic_string()?;
                    Ok(Value {
                        kind: self.tree.string(s),
                        span,
                    })
                }
            }
            Some(b'\'') => {
                let (s, span) = if self.starts("'''") {
                    self.ml_literal_string()?
                } else {
                    let span = self.literal_string()?;
                    (None, span)
                };
                Ok(Value {
                    kind: self.tree.string(s),
                    span,
                })
            }
            Some(b'[') => self.nested(Self::array),
            Some(b'{') => self.nested(Self::inline_table),
            Some(b't') if self.starts("true") && ends_scalar(self.peek_at(4)) => {
                self.i += 4;
                Ok(Value {
                    kind: Kind::Boolean(true),
                    span: Span::new(start, self.i),
                })
            }
            Some(b'f') if self.starts("false") && ends_scalar(self.peek_at(5)) => {
                self.i += 5;
                Ok(Value {
                    kind: Kind::Boolean(false),
                    span: Span::new(start, self.i),
                })
            }
            Some(c)
                if c.is_ascii_digit()
                    || c == b'+'
                    || c == b'-'
                    || self.starts("inf")
                    || self.starts("nan") =>
            {
                self.number_or_datetime()
            }
            None => Err(self.err(
                self.here(),
                "expected a value, found the end of the file",
                "write a value after `=`",
            )),
            Some(b'\n' | b'\r') => Err(self.err(
                self.here(),
                "expected a value, found the end of the line",
                "write the value on the same line as its key: name = \"x\"",
            )),
            Some(_) => {
                let word_end = self.b[self.i..]
                    .iter()
                    .position(|&c| ends_scalar(Some(c)))
                    .map_or(self.b.len(), |n| self.i + n);
                let word_end = self.s.floor_char_boundary(word_end).max(self.here().end());
                let word = &self.s[self.i..word_end];
                Err(self.err(
                    Span::new(self.i, word_end),
                    format!("expected a value, found `{}`", crate::diag::shorten(word)),
                    format!("quote text: \"{}\"; unquoted values are numbers, true, false, dates, [arrays] and {{tables}}", crate::diag::shorten(word)),
                ))
            }
        }
    }

    fn nested(&mut self, f: fn(&mut Self) -> Result<Value>) -> Result<Value> {
        if self.depth >= MAX_DEPTH {
            return Err(self.err(
                self.here(),
                format!("arrays and inline tables are nested more than {MAX_DEPTH} deep"),
                "flatten the structure",
            ));
        }
        self.depth += 1;
        let v = f(self);
        self.depth -= 1;
        v
    }

    fn array(&mut self) -> Result<Value> {
        let start = self.i;
        self.i += 1;
        let base = self.stack.len();
        loop {
            self.blank()?;
            if self.peek() == Some(b']') {
                self.i += 1;
                break;
            }
            let v = match self.plain_string() {
                Some(v) => v,
                None => self.value()?,
            };
            self.stack.push(v);
            self.blank()?;
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    break;
                }
                _ => {
                    return Err(self.err(
                        self.here(),
                        format!("expected `,` or `]` in the array, found {}", self.found()),
                        "separate array elements with commas: [\"a\", \"b\"]",
                    ));
                }
            }
        }
        let mut items = Vec::with_capacity(self.stack.len() - base);
        items.extend(self.stack.drain(base..));
        let id = self.tree.new_array(items, false);
        Ok(Value {
            kind: Kind::Array(id),
            span: Span::new(start, self.i),
        })
    }

    fn inline_table(&mut self) -> Result<Value> {
        let start = self.i;
        self.i += 1;
        let id = self.tree.new_table(TableKind::Inline, Span::at(start));
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
        } else {
            loop {
                self.ws();
                if matches!(self.peek(), Some(b'\n' | b'\r')) {
                    return Err(self.err(
                        self.here(),
                        "an inline table { ... } must be written on one line",
                        "close it with } on this line, or write it as a [table] section",
                    ));
                }
                if self.peek() == Some(b'}') {
                    return Err(self.err(
                        self.here(),
                        "a trailing comma is not allowed in an inline table",
                        "remove the comma before `}`",
                    ));
                }
                self.keyval(id)?;
                self.ws();
                match self.peek() {
                    Some(b',') => self.i += 1,
                    Some(b'}') => {
                        self.i += 1;
                        break;
                    }
                    Some(b'\n' | b'\r') => {
                        return Err(self.err(
                            self.here(),
                            "an inline table { ... } must be written on one line",
                            "close it with } on this line, or write it as a [table] section",
                        ));
                    }
                    _ => {
                        return Err(self.err(
                            self.here(),
                            format!(
                                "expected `,` or `}}` in the inline table, found {}",
                                self.found()
                            ),
                            "separate pairs with commas: { start = \"a\", end = \"b\" }",
                        ));
                    }
                }
            }
        }
        let span = Span::new(start, self.i);
        self.tree.tables[id as usize].span = span;
        Ok(Value {
            kind: Kind::Table(id),
            span,
        })
    }

    fn unterminated(&self, start: usize, multi: bool) -> Box<SyntaxError> {
        self.err(
            Span::new(start, self.i),
            "unterminated string",
            if multi {
                "close the string with a matching quote"
            } else {
                "close the string with a matching quote on the same line; use \"\"\" for a string over several lines"
            },
        )
    }

    fn control_in_string(&self) -> Box<SyntaxError> {
        self.err(
            self.here(),
            format!("{} in a string", self.found()),
            "write control characters as escapes, e.g. \\u0001 (in \"...\" strings)",
        )
    }

    /// `"..."`: the contents (a span when there are no escapes) and their span.
    /// A basic string with nothing to unescape (`"s123"`), taken in one step:
    /// most array elements of a large lab are such names, and going through
    /// [`Self::value`] cost about a third of reading them. Anything else
    /// (escapes, `"""`, an unterminated string) is left to `value`.
    fn plain_string(&mut self) -> Option<Value> {
        if self.peek() != Some(b'"') {
            return None;
        }
        let start = self.i + 1;
        let rest = self.b.get(start..)?;
        let n = plain_prefix(rest);
        // `""` followed by `"` opens a multi-line string.
        if rest.get(n) != Some(&b'"') || (n == 0 && rest.get(1) == Some(&b'"')) {
            return None;
        }
        self.i = start + n + 1;
        Some(Value {
            kind: Kind::RawString,
            span: Span::new(start, start + n),
        })
    }

    fn basic_string(&mut self) -> Result<(Str, Span)> {
        let quote = self.i;
        self.i += 1;
        let start = self.i;
        // Fast path: most strings have no escapes; find the first byte that
        // is not plain text in one scan of the slice.
        let stop = self.i + plain_prefix(&self.b[self.i..]);
        self.i = stop;
        match self.peek() {
            Some(b'"') => {
                let span = Span::new(start, self.i);
                self.i += 1;
                return Ok((None, span));
            }
            Some(b'\\') => {}
            Some(b'\n' | b'\r') | None => return Err(self.unterminated(quote, false)),
            Some(_) => return Err(self.control_in_string()),
        }
        let mut buf = String::from(&self.s[start..self.i]);
        loop {
            match self.peek() {
                Some(b'"') => {
                    let span = Span::new(start, self.i);
                    self.i += 1;
                    return Ok((Some(buf.into_boxed_str()), span));
                }
                Some(b'\\') => self.escape(&mut buf)?,
                Some(b'\n' | b'\r') | None => return Err(self.unterminated(quote, false)),
                Some(c) if is_control(c) => return Err(self.control_in_string()),
                Some(_) => {
                    let from = self.i;
                    self.i += 1;
                    while self
                        .peek()
                        .is_some_and(|c| c != b'"' && c != b'\\' && !is_control(c))
                    {
                        self.i += 1;
                    }
                    buf.push_str(&self.s[from..self.i]);
                }
            }
        }
    }

    fn escape(&mut self, buf: &mut String) -> Result<()> {
        let at = self.i;
        self.i += 1;
        let c = self.peek();
        self.i += 1;
        let ch = match c {
            Some(b'b') => '\u{8}',
            Some(b't') => '\t',
            Some(b'n') => '\n',
            Some(b'f') => '\u{c}',
            Some(b'r') => '\r',
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'u') => self.unicode(at, 4)?,
            Some(b'U') => self.unicode(at, 8)?,
            _ => {
                self.i = at;
                let end = self.s.ceil_char_boundary(at + 2).min(self.s.len());
                return Err(self.err(
                    Span::new(at, end),
                    format!("invalid escape `{}`", &self.s[at..end]),
                    "escapes are \\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX \\UXXXXXXXX; write a backslash as \\\\, or use '...' (no escapes) for paths",
                ));
            }
        };
        buf.push(ch);
        Ok(())
    }

    fn unicode(&mut self, at: usize, n: usize) -> Result<char> {
        let hex = self.s.get(self.i..self.i + n).unwrap_or("");
        let code = (hex.len() == n && hex.bytes().all(|c| c.is_ascii_hexdigit()))
            .then(|| u32::from_str_radix(hex, 16).ok())
            .flatten();
        match code.and_then(char::from_u32) {
            Some(c) => {
                self.i += n;
                Ok(c)
            }
            None => {
                let end = self.s.floor_char_boundary((self.i + n).min(self.s.len()));
                Err(self.err(
                    Span::new(at, end.max(at + 1)),
                    format!("`{}` is not a Unicode scalar value", &self.s[at..end]),
                    "write \\u and 4 hex digits or \\U and 8, naming a character (not a surrogate)",
                ))
            }
        }
    }

    /// `"""..."""`.
    fn ml_basic_string(&mut self) -> Result<(Str, Span)> {
        let quote = self.i;
        self.i += 3;
        self.newline()?;
        let start = self.i;
        let mut buf: Option<String> = None;
        loop {
            match self.peek() {
                None => return Err(self.unterminated(quote, true)),
                Some(b'"') => {
                    let from = self.i;
                    let end = self.quote_run(b'"', "escape the rest as \\\"")?;
                    if let Some(b) = &mut buf {
                        b.push_str(&self.s[from..end.unwrap_or(self.i)]);
                    }
                    let Some(end) = end else {
                        continue;
                    };
                    let span = Span::new(start, end);
                    let s = buf.map(String::into_boxed_str);
                    return Ok((s, span));
                }
                Some(b'\\') => {
                    let b = buf.get_or_insert_with(|| self.s[start..self.i].to_owned());
                    // A backslash ending a line trims the newline and following whitespace.
                    let mut j = self.i + 1;
                    while matches!(self.b.get(j), Some(b' ' | b'\t')) {
                        j += 1;
                    }
                    if matches!(self.b.get(j), Some(b'\n'))
                        || (self.b.get(j) == Some(&b'\r') && self.b.get(j + 1) == Some(&b'\n'))
                    {
                        self.i = j;
                        loop {
                            self.ws();
                            if !self.newline()? {
                                break;
                            }
                        }
                    } else {
                        let mut tmp = std::mem::take(b);
                        let r = self.escape(&mut tmp);
                        buf = Some(tmp);
                        r?;
                    }
                }
                Some(b'\r') => {
                    if self.peek_at(1) != Some(b'\n') {
                        return Err(self.control_in_string());
                    }
                    let b = buf.get_or_insert_with(|| self.s[start..self.i].to_owned());
                    b.push('\n');
                    self.i += 2;
                }
                Some(c) if is_control(c) && c != b'\n' => return Err(self.control_in_string()),
                Some(_) => {
                    let from = self.i;
                    self.i += 1;
                    while self.peek().is_some_and(|c| {
                        c != b'"' && c != b'\\' && c != b'\r' && (c == b'\n' || !is_control(c))
                    }) {
                        self.i += 1;
                    }
                    if let Some(b) = &mut buf {
                        b.push_str(&self.s[from..self.i]);
                    }
                }
            }
        }
    }

    /// At a run of quotes `q` in a multi-line string, move past it. `None`:
    /// fewer than three, so they are part of the string; `Some(end)`: it
    /// closes the string, whose contents end at `end` (up to two of the
    /// quotes belong to the contents).
    fn quote_run(&mut self, q: u8, escape_hint: &str) -> Result<Option<usize>> {
        let run = self.b[self.i..].iter().take_while(|&&c| c == q).count();
        if run > 5 {
            return Err(self.err(
                Span::new(self.i, self.i + run),
                "too many quotes at the end of a multi-line string",
                format!("a multi-line string may end with at most two quotes before its closing three; {escape_hint}"),
            ));
        }
        self.i += run;
        Ok((run >= 3).then(|| self.i - 3))
    }

    /// `'...'`: no escapes, so always a span.
    fn literal_string(&mut self) -> Result<Span> {
        let quote = self.i;
        self.i += 1;
        let start = self.i;
        loop {
            match self.peek() {
                Some(b'\'') => {
                    let span = Span::new(start, self.i);
                    self.i += 1;
                    return Ok(span);
                }
                Some(b'\n' | b'\r') | None => return Err(self.unterminated(quote, false)),
                Some(c) if is_control(c) => return Err(self.control_in_string()),
                Some(_) => self.i += 1,
            }
        }
    }

    /// `'''...'''`.
    fn ml_literal_string(&mut self) -> Result<(Str, Span)> {
        let quote = self.i;
        self.i += 3;
        self.newline()?;
        let start = self.i;
        let mut crlf = false;
        loop {
            match self.peek() {
                None => return Err(self.unterminated(quote, true)),
                Some(b'\'') => {
                    let Some(end) = self.quote_run(
                        b'\'',
                        "literal strings have no escapes: use a \"\"\" string",
                    )?
                    else {
                        continue;
                    };
                    let span = Span::new(start, end);
                    let s = if crlf {
                        Some(self.s[start..end].replace("\r\n", "\n").into_boxed_str())
                    } else {
                        None
                    };
                    return Ok((s, span));
                }
                Some(b'\r') => {
                    if self.peek_at(1) != Some(b'\n') {
                        return Err(self.control_in_string());
                    }
                    crlf = true;
                    self.i += 2;
                }
                Some(c) if is_control(c) && c != b'\n' => return Err(self.control_in_string()),
                Some(_) => self.i += 1,
            }
        }
    }

    fn number_or_datetime(&mut self) -> Result<Value> {
        let start = self.i;
        let tok_char = |c: u8| {
            c.is_ascii_alphanumeric() || matches!(c, b'_' | b'+' | b'-' | b'.' | b':' | b'/')
        };
        while self.peek().is_some_and(tok_char) {
            self.i += 1;
        }
        // `1979-05-27 07:32:00`: a space may separate a date from its time.
        if looks_like_date(&self.b[start..self.i])
            && self.i - start == 10
            && self.peek() == Some(b' ')
            && self.peek_at(1).is_some_and(|c| c.is_ascii_digit())
            && self.peek_at(2).is_some_and(|c| c.is_ascii_digit())
            && self.peek_at(3) == Some(b':')
        {
            self.i += 1;
            while self.peek().is_some_and(tok_char) {
                self.i += 1;
            }
        }
        let tok = &self.s[start..self.i];
        let span = Span::new(start, self.i);
        let is_dt = looks_like_date(tok.as_bytes())
            || (tok.len() >= 3
                && tok.as_bytes()[2] == b':'
                && tok.as_bytes()[..2].iter().all(u8::is_ascii_digit));
        let kind = if is_dt {
            let d = datetime(tok).map_err(|why| {
                self.err(
                    span,
                    format!("`{}` is not a valid date or time: {why}", crate::diag::shorten(tok)),
                    "write dates as 1979-05-27, times as 07:32:00, both as 1979-05-27T07:32:00Z; or quote the value",
                )
            })?;
            self.tree.date(d)
        } else {
            let n = number(tok).map_err(|why| {
                self.err(
                    span,
                    format!(
                        "`{}` is not a valid number: {why}",
                        crate::diag::shorten(tok)
                    ),
                    HINT_QUOTE,
                )
            })?;
            self.tree.number(n)
        };
        if !ends_scalar(self.peek()) {
            return Err(self.err(
                self.here(),
                format!(
                    "unexpected {} after the value `{}`",
                    self.found(),
                    crate::diag::shorten(tok)
                ),
                HINT_QUOTE,
            ));
        }
        Ok(Value { kind, span })
    }
}

fn looks_like_date(b: &[u8]) -> bool {
    b.len() >= 10 && b[4] == b'-' && b[7] == b'-' && b[..4].iter().all(u8::is_ascii_digit)
}

/// Digits of `radix` with single underscores between them.
fn digits(s: &str, radix: u32) -> std::result::Result<String, &'static str> {
    if s.is_empty() {
        return Err("digits are missing");
    }
    if s.starts_with('_') || s.ends_with('_') || s.contains("__") {
        return Err("an underscore must sit between two digits");
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '_' {
            continue;
        }
        if !c.is_digit(radix) {
            return Err(match radix {
                2 => "binary numbers have only the digits 0 and 1",
                8 => "octal numbers have only the digits 0 to 7",
                16 => "hexadecimal numbers have only 0-9 and a-f",
                _ => "it has characters that are not digits",
            });
        }
        out.push(c);
    }
    Ok(out)
}

/// A number as read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    Int(i64),
    Float(f64),
}

fn number(tok: &str) -> std::result::Result<Num, &'static str> {
    match tok {
        "inf" | "+inf" => return Ok(Num::Float(f64::INFINITY)),
        "-inf" => return Ok(Num::Float(f64::NEG_INFINITY)),
        "nan" | "+nan" => return Ok(Num::Float(f64::NAN)),
        "-nan" => return Ok(Num::Float(-f64::NAN)),
        _ => {}
    }
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = tok.strip_prefix(prefix) {
            let d = digits(rest, radix)?;
            return u64::from_str_radix(&d, radix)
                .ok()
                .and_then(|v| i64::try_from(v).ok())
                .map(Num::Int)
                .ok_or("it does not fit in a 64-bit signed integer");
        }
    }
    let (sign, body) = match tok.as_bytes().first() {
        Some(b'+') => ("", &tok[1..]),
        Some(b'-') => ("-", &tok[1..]),
        _ => ("", tok),
    };
    let int_end = body.find(['.', 'e', 'E']).unwrap_or(body.len());
    let int = digits(&body[..int_end], 10)?;
    if int.len() > 1 && int.starts_with('0') {
        return Err("decimal numbers cannot have leading zeros");
    }
    if body[..int_end].len() > 1 && body.starts_with('0') {
        return Err("decimal numbers cannot have leading zeros");
    }
    let rest = &body[int_end..];
    if rest.is_empty() {
        return format!("{sign}{int}")
            .parse::<i64>()
            .map(Num::Int)
            .map_err(|_| "it does not fit in a 64-bit signed integer");
    }
    let mut clean = format!("{sign}{int}");
    let mut rest = rest;
    if let Some(frac) = rest.strip_prefix('.') {
        let end = frac.find(['e', 'E']).unwrap_or(frac.len());
        clean.push('.');
        clean.push_str(
            &digits(&frac[..end], 10).map_err(|_| "a decimal point needs digits on both sides")?,
        );
        rest = &frac[end..];
    }
    if let Some(exp) = rest.strip_prefix(['e', 'E']) {
        let (esign, edigits) = match exp.as_bytes().first() {
            Some(b'+') => ("", &exp[1..]),
            Some(b'-') => ("-", &exp[1..]),
            _ => ("", exp),
        };
        clean.push('e');
        clean.push_str(esign);
        clean.push_str(&digits(edigits, 10).map_err(|_| "an exponent needs digits")?);
        rest = "";
    }
    if !rest.is_empty() {
        return Err("it has characters that are not digits");
    }
    match clean.parse::<f64>() {
        // Written out, not `inf`: too large for a 64-bit float.
        Ok(f) if f.is_infinite() => Err("it does not fit in a 64-bit float"),
        Ok(f) => Ok(Num::Float(f)),
        Err(_) => Err("it is not a number"),
    }
}

fn two(b: &[u8], at: usize) -> Option<u8> {
    match (b.get(at), b.get(at + 1)) {
        (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
            Some((x - b'0') * 10 + (y - b'0'))
        }
        _ => None,
    }
}

fn datetime(tok: &str) -> std::result::Result<Datetime, &'static str> {
    let b = tok.as_bytes();
    let mut dt = Datetime {
        date: None,
        time: None,
        offset: None,
    };
    let mut i = 0;
    if looks_like_date(b) {
        let year = tok[..4].parse::<u16>().map_err(|_| "bad year")?;
        let month = two(b, 5).ok_or("the month needs two digits")?;
        let day = two(b, 8).ok_or("the day needs two digits")?;
        if !(1..=12).contains(&month) {
            return Err("the month is not 01 to 12");
        }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let days = match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        if day == 0 || day > days {
            return Err("that day does not exist in that month");
        }
        dt.date = Some(Date { year, month, day });
        i = 10;
        if i == b.len() {
            return Ok(dt);
        }
        if !matches!(b[i], b'T' | b't' | b' ') {
            return Err("a time must follow the date after `T` or a space");
        }
        i += 1;
    }
    let hour = two(b, i).ok_or("the hour needs two digits")?;
    let minute = (b.get(i + 2) == Some(&b':'))
        .then(|| two(b, i + 3))
        .flatten()
        .ok_or("write the time as HH:MM:SS")?;
    let second = (b.get(i + 5) == Some(&b':'))
        .then(|| two(b, i + 6))
        .flatten()
        .ok_or("write the time as HH:MM:SS (TOML 1.0 requires the seconds)")?;
    if hour > 23 || minute > 59 || second > 60 {
        return Err("the hour, minute or second is out of range");
    }
    i += 8;
    let mut nanosecond = 0u32;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let n = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return Err("a fraction of a second needs digits");
        }
        let frac = &tok[i..i + n.min(9)];
        nanosecond = frac.parse::<u32>().map_err(|_| "bad fraction")?
            * 10u32.pow(9 - u32::try_from(frac.len()).unwrap_or(9));
        i += n;
    }
    dt.time = Some(Time {
        hour,
        minute,
        second,
        nanosecond,
    });
    if i == b.len() {
        return Ok(dt);
    }
    if dt.date.is_none() {
        return Err("a time without a date cannot have an offset");
    }
    match b[i] {
        b'Z' | b'z' if i + 1 == b.len() => dt.offset = Some(Offset::Z),
        s @ (b'+' | b'-') if b.len() == i + 6 && b[i + 3] == b':' => {
            let h = two(b, i + 1).ok_or("the offset needs two-digit hours")?;
            let m = two(b, i + 4).ok_or("the offset needs two-digit minutes")?;
            if h > 23 || m > 59 {
                return Err("the offset is out of range");
            }
            let mins = i16::from(h) * 60 + i16::from(m);
            dt.offset = Some(Offset::Minutes(if s == b'-' { -mins } else { mins }));
        }
        _ => return Err("the offset must be Z or ±HH:MM"),
    }
    Ok(dt)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(text: &str) -> (Tree, String) {
        (parse(text).unwrap(), text.to_owned())
    }

    fn err(text: &str) -> SyntaxError {
        *parse(text).expect_err(text)
    }

    #[test]
    fn raw_strings_are_spans_inside_the_quotes() {
        let (t, text) = root("a = \"x y\"\nb = 'c:\\p'\n");
        let (k, v) = &t.tables[0].entries[0];
        assert_eq!(&*k.name, "a");
        assert_eq!(&text[v.span.range()], "x y");
        assert!(matches!(v.kind, Kind::RawString));
        let (_, v) = &t.tables[0].entries[1];
        assert_eq!(&text[v.span.range()], "c:\\p");
    }

    #[test]
    fn escapes_are_decoded() {
        let (t, _) = root(r#"a = "tab\there \u00e9 \U0001F600 \"q\"""#);
        assert_eq!(t.tables[0].entries[0].1.kind, Kind::String(0));
        assert_eq!(&*t.strings[0], "tab\there é 😀 \"q\"");
        assert_eq!(std::mem::size_of::<Value>(), 16, "values stay small");
    }

    #[test]
    fn array_strings_read_alike_on_the_quick_path_and_off_it() {
        // Plain names take the quick path; empty strings, multi-line strings,
        // escapes and literals do not. Each must read as a lone value would.
        let items = [
            "\"s1\"",
            "\"\"",
            "\"\"\"ml\"\"\"",
            "\"e\\n\"",
            "'lit'",
            "\"tab\there\"",
            "\"\"",
        ];
        let text = format!("a = [{}]\n", items.join(", "));
        let (t, text) = root(&text);
        let Kind::Array(id) = t.tables[0].entries[0].1.kind else {
            panic!("not an array");
        };
        let got = &t.arrays[id as usize].items;
        assert_eq!(got.len(), items.len());
        let mut at = "a = [".len();
        for (v, item) in got.iter().zip(items) {
            let (lone, _) = root(&format!("b = {item}\n"));
            let want = &lone.tables[0].entries[0].1;
            let read = |tree: &Tree, text: &str, v: &Value| match v.kind {
                Kind::RawString => text[v.span.range()].to_owned(),
                Kind::String(i) => tree.strings[i as usize].to_string(),
                _ => panic!("{item} is not a string"),
            };
            let lone_text = format!("b = {item}\n");
            assert_eq!(read(&t, &text, v), read(&lone, &lone_text, want), "{item}");
            // Spans sit at the same place after the opening quote(s).
            assert_eq!(v.span.start() - at, want.span.start() - 4, "{item}");
            assert_eq!(v.span.len(), want.span.len(), "{item}");
            at += item.len() + ", ".len();
        }
        assert!(
            err("a = [\"s1\", \"s2\nb = 1")
                .message
                .contains("unterminated")
        );
        assert!(
            err("a = [\"s1\" \"s2\"]")
                .message
                .contains("expected `,` or `]`")
        );
    }

    #[test]
    fn plain_prefix_stops_where_a_byte_scan_would() {
        let slow = |b: &[u8]| {
            b.iter()
                .position(|&c| c == b'"' || c == b'\\' || is_control(c))
                .unwrap_or(b.len())
        };
        let mut cases: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"abcdefghijklmnop\"".to_vec(),
            "é日本語テキストです\\x".as_bytes().to_vec(),
        ];
        for stop in [b'"', b'\\', 0u8, 0x1f, 0x7f, b'\t'] {
            for at in 0..20 {
                let mut v = vec![b'a'; 24];
                v[at] = stop;
                cases.push(v);
            }
        }
        for c in cases {
            assert_eq!(plain_prefix(&c), slow(&c), "{c:?}");
        }
    }

    #[test]
    fn numbers() {
        for (s, k) in [
            ("1_000", Num::Int(1000)),
            ("-0", Num::Int(0)),
            ("0xff", Num::Int(255)),
            ("0o17", Num::Int(15)),
            ("0b101", Num::Int(5)),
            ("1e06", Num::Float(1e6)),
            ("-3.5e-2", Num::Float(-0.035)),
            ("9223372036854775807", Num::Int(i64::MAX)),
        ] {
            assert_eq!(number(s), Ok(k), "{s}");
        }
        for s in [
            "01",
            "1__0",
            "_1",
            "1.",
            ".5",
            "1e",
            "0x",
            "+0x1",
            "9223372036854775808",
            "1.2.3",
            "10.0.1.0/24",
            "1e999",
        ] {
            assert!(number(s).is_err(), "{s}");
        }
    }

    #[test]
    fn datetimes() {
        let (t, _) = root("a = 1979-05-27 07:32:00.5-07:00\nb = 07:32:00\nc = 2024-02-29\n");
        let Kind::Datetime(a) = t.tables[0].entries[0].1.kind else {
            panic!()
        };
        let a = t.dates[a as usize];
        let Some(_) = Some(()) else { panic!() };
        assert_eq!(a.to_string(), "1979-05-27T07:32:00.5-07:00");
        assert!(datetime("2023-02-29").is_err());
        assert!(datetime("07:32").is_err());
    }

    #[test]
    fn table_rules() {
        assert!(
            parse("[a.b]\n[a]\n").is_ok(),
            "[a] may define an implicit table once"
        );
        let e = err("[a]\nx = 1\n[a]\n");
        assert!(e.message.contains("defined twice"), "{e:?}");
        assert_eq!(e.first.map(|f| f.1), Some(Span::new(0, 3)));
        assert!(err("a.b = 1\n[a]\n").message.contains("dotted keys"));
        assert!(
            parse("a.b = 1\n[a.c]\n").is_ok(),
            "a sub-table of a dotted table"
        );
        assert!(err("a = {b = 1}\n[a.c]\n").message.contains("inline table"));
        assert!(
            err("a = [1]\n[[a]]\n").message.contains("integer")
                || parse("a = [1]\n[[a]]\n").is_err()
        );
        assert!(err("[[a]]\n[a]\n").message.contains("list of tables"));
        assert!(err("x = 1\nx = 2\n").message.contains("set twice"));
        let (t, _) = root("[[s]]\nn = 1\n[s.sub]\nm = 2\n[[s]]\nn = 3\n");
        let Kind::Array(a) = t.tables[0].entries[0].1.kind else {
            panic!()
        };
        assert_eq!(t.arrays[a as usize].items.len(), 2);
    }

    #[test]
    fn helpful_errors() {
        let e = err("cidr = 10.0.1.0/24\n");
        assert!(e.message.contains("not a valid number"), "{e:?}");
        assert_eq!(e.span, Span::new(7, 18));
        assert!(e.hint.contains("quote"));
        let e = err("name = public\n");
        assert!(e.message.contains("found `public`"), "{e:?}");
        assert!(err("a = \"x\nb = 1").message.contains("unterminated"));
        assert!(err("a = \"c:\\path\"").hint.contains("'...'"));
        assert!(err("a = { b = 1, }").message.contains("trailing comma"));
        assert!(
            err(&format!("a = {}", "[".repeat(10_000)))
                .message
                .contains("nested")
        );
    }
}
