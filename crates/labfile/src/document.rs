//! A parsed lab file that several crates read, each its own sections.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::diag::{Diagnostic, Diagnostics};
use crate::read::{Item, did_you_mean};
use crate::sections::{SECTIONS, owner_of};
use crate::sink::Sink;
use crate::source::Source;
use crate::span::Span;
use crate::syntax::{self, Kind, ROOT, Tree, Value};

/// A lab file parsed once, with every key and value's span.
///
/// Each crate asks for its own top-level sections with [`Document::section`];
/// the front end calls [`Document::finish`] once at the end, which reports
/// every top-level section that is neither taken nor one of labkit's.
///
/// ```
/// use labfile::{Document, Sink};
///
/// let doc = Document::parse("lab.toml", "[docker]\ndata_root = \"/data/docker\"\n[dockr]\n")?;
/// let mut sink = Sink::new();
/// let docker = doc.section("docker").and_then(|s| s.table(&mut sink));
/// let root = docker.and_then(|mut t| t.required_str("data_root", "e.g. \"/data/docker\"", &mut sink));
/// assert_eq!(root.map(|f| f.value), Some("/data/docker"));
/// doc.finish(&mut sink);
/// let diags = sink.into_diagnostics(doc.source().clone());
/// let hint = diags.items()[0].hint.as_deref().unwrap_or_default();
/// assert_eq!(hint, "did you mean `docker`? (read by labdocker)");
/// # Ok::<(), labfile::Diagnostics>(())
/// ```
#[derive(Debug)]
pub struct Document {
    source: Arc<Source>,
    tree: Tree,
    /// The root table as a value, for [`Document::root`].
    root: Value,
    /// Names asked for with `section`, present or not (for "did you mean").
    asked: Mutex<Vec<String>>,
    finished: AtomicBool,
}

impl Document {
    /// Parse `text`; `name` is what diagnostics call the file. A TOML syntax
    /// error comes back as diagnostics (the first one: TOML cannot be read past it).
    ///
    /// # Errors
    /// The text is not TOML.
    pub fn parse(name: impl Into<String>, text: impl Into<String>) -> Result<Self, Diagnostics> {
        let source = Arc::new(Source::new(name, text));
        match syntax::parse(source.text()) {
            Ok(tree) => Ok(Self {
                source,
                tree,
                root: Value {
                    kind: Kind::Table(ROOT),
                    span: Span::at(0),
                },
                asked: Mutex::new(Vec::new()),
                finished: AtomicBool::new(false),
            }),
            Err(e) => {
                let mut d =
                    Diagnostic::error("(syntax)", format!("TOML syntax error: {}", e.message))
                        .span(e.span)
                        .value(source.slice(e.span))
                        .hint(e.hint);
                if let Some((what, at)) = e.first {
                    d = d.related(what, at);
                }
                Err(Diagnostics::new(source, vec![d]))
            }
        }
    }

    /// The text and its name, shared with every diagnostic about it.
    #[must_use]
    pub fn source(&self) -> &Arc<Source> {
        &self.source
    }

    pub(crate) fn tree(&self) -> &Tree {
        &self.tree
    }

    /// Top-level keys as written, with where each is.
    pub fn sections(&self) -> impl Iterator<Item = (&str, Span)> {
        self.tree.tables[ROOT as usize]
            .entries
            .iter()
            .map(|(k, _)| (&*k.name, k.span))
    }

    /// The whole document as one table, for tools that walk any TOML (this
    /// takes no section; crates use [`Document::section`]).
    #[must_use]
    pub fn root(&self) -> Item<'_> {
        Item::root(self, &self.root)
    }

    /// Take section `name`: a reader for it, or `None` when the file has none.
    /// Either way the name counts as known for [`Document::finish`].
    #[must_use]
    pub fn section(&self, name: &str) -> Option<Item<'_>> {
        if let Ok(mut asked) = self.asked.lock()
            && !asked.iter().any(|a| a == name)
        {
            asked.push(name.to_owned());
        }
        let root = &self.tree.tables[ROOT as usize];
        let i = self.tree.lookup(ROOT, name)?;
        let (key, value) = &root.entries[i];
        Some(Item::new(
            self,
            value,
            crate::read::Path::default(),
            &key.name,
        ))
    }

    /// The section names asked for so far, in the order first asked.
    #[must_use]
    pub fn taken(&self) -> Vec<String> {
        self.asked.lock().map(|a| a.clone()).unwrap_or_default()
    }

    /// Report each top-level section that no reader took and that is not one of
    /// labkit's sections (see [`crate::sections::SECTIONS`]). Only the first call reports.
    pub fn finish(&self, sink: &mut Sink) {
        if self.finished.swap(true, Ordering::SeqCst) {
            return;
        }
        let asked: Vec<String> = self.asked.lock().map(|a| a.clone()).unwrap_or_default();
        let mut known: Vec<&str> = SECTIONS.iter().map(|s| s.name).collect();
        known.extend(
            asked
                .iter()
                .map(String::as_str)
                .filter(|a| owner_of(a).is_none()),
        );
        for (name, span) in self.sections() {
            if asked.iter().any(|a| a == name) || owner_of(name).is_some() {
                continue;
            }
            let hint = match did_you_mean(name, known.iter().copied()) {
                Some(s) => {
                    let owner =
                        owner_of(s).map_or_else(String::new, |o| format!(" (read by {})", o.owner));
                    format!("did you mean `{s}`?{owner}")
                }
                None => format!("labkit's sections are {}", known.join(", ")),
            };
            sink.push(
                Diagnostic::error(
                    name,
                    format!("unknown section `{}`", crate::diag::shorten(name)),
                )
                .value(name)
                .span(span)
                .hint(hint),
            );
        }
    }
}
