//! The lab file: one TOML file describing the whole lab.
//!
//! labnet owns `[lab]`, `[[segment]]` and `[policy]`; other labkit crates own
//! the sections they read and pass their names in [`ParseOptions::other_sections`]
//! so that labnet does not report them as unknown. See `docs/lab-file.md`.

mod print;
mod read;
mod validate;
pub mod walk;

use std::path::Path;
use std::sync::Arc;

pub use print::to_toml;
pub use read::LABNET_SECTIONS;
pub use validate::Spans;

use crate::diag::{Diagnostic, Diagnostics, Location, Source};
use crate::error::LoadError;
use crate::model::{Lab, LabBuilder};
use walk::Field;

/// How to parse.
#[derive(Debug, Clone, Default)]
pub struct ParseOptions {
    /// Top-level sections owned by other crates: accepted without being read.
    pub other_sections: Vec<&'static str>,
}

/// A validated lab with the text it came from, its warnings and where each part was written.
#[derive(Debug, Clone)]
pub struct LabFile {
    lab: Lab,
    source: Arc<Source>,
    spans: Spans,
    warnings: Diagnostics,
}

impl LabFile {
    /// The lab.
    #[must_use]
    pub fn lab(&self) -> &Lab {
        &self.lab
    }

    /// The source text and its display name.
    #[must_use]
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// Warnings found while validating (the lab is valid regardless).
    #[must_use]
    pub fn warnings(&self) -> &Diagnostics {
        &self.warnings
    }

    /// Where rule `i` (`[[policy.allow]]` number `i`, from 0) starts.
    #[must_use]
    pub fn rule_location(&self, i: usize) -> Option<Location> {
        self.spans
            .rules
            .get(i)
            .and_then(Option::as_ref)
            .map(|s| self.source.location(s.start))
    }

    /// Where segment `i` starts.
    #[must_use]
    pub fn segment_location(&self, i: usize) -> Option<Location> {
        self.spans
            .segments
            .get(i)
            .and_then(Option::as_ref)
            .map(|s| self.source.location(s.start))
    }

    /// Where segment `i`'s `internet` value is written, if it is.
    #[must_use]
    pub fn internet_location(&self, i: usize) -> Option<Location> {
        self.spans
            .internet
            .get(i)
            .and_then(Option::as_ref)
            .map(|s| self.source.location(s.start))
    }

    /// Give up the file information, keeping the lab.
    #[must_use]
    pub fn into_lab(self) -> Lab {
        self.lab
    }
}

/// Display name of the built-in reference lab in diagnostics.
pub const BUILTIN_NAME: &str = "<built-in reference lab>";

/// Parse and validate lab-file text. `name` is what diagnostics call the file.
pub fn parse(name: &str, text: &str) -> Result<LabFile, Diagnostics> {
    parse_with(name, text, &ParseOptions::default())
}

/// [`parse`] with options.
pub fn parse_with(name: &str, text: &str, opts: &ParseOptions) -> Result<LabFile, Diagnostics> {
    let source = Arc::new(Source::new(name, text));
    let mut diags = Vec::new();
    let root = match toml_span::parse(text) {
        Ok(v) => v,
        Err(e) => {
            diags.push(toml_error(&e));
            return Err(Diagnostics::new(source, diags));
        }
    };
    let draft = read::read(&root, &opts.other_sections, &mut diags);
    let validated = validate::validate(draft, &mut diags);
    let all = Diagnostics::new(Arc::clone(&source), diags);
    match validated {
        Some((lab, spans)) if !all.has_errors() => Ok(LabFile {
            lab,
            source,
            spans,
            warnings: all,
        }),
        _ => Err(all),
    }
}

/// Read, parse and validate a lab file from disk.
pub fn load(path: &Path) -> Result<LabFile, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&path.display().to_string(), &text).map_err(LoadError::Invalid)
}

/// The built-in reference lab, as a [`LabFile`] whose lines refer to [`crate::reference::TOML`].
#[must_use]
pub fn builtin() -> LabFile {
    crate::reference::file()
}

fn toml_error(e: &toml_span::Error) -> Diagnostic {
    use toml_span::ErrorKind as K;
    let span = e.span.start..e.span.end;
    let (msg, hint) = match &e.kind {
        K::DuplicateKey { key, .. } => (
            format!("`{key}` is set twice"),
            "remove one of them".to_owned(),
        ),
        K::DuplicateTable { name, .. } => (
            format!("table [{name}] is defined twice"),
            "merge the two tables; use [[...]] for a list of tables such as [[segment]]".to_owned(),
        ),
        K::InvalidNumber => (
            "invalid number".to_owned(),
            "quote addresses, networks and dates: cidr = \"10.0.1.0/24\"".to_owned(),
        ),
        K::UnterminatedString => (
            "unterminated string".to_owned(),
            "close the string with a matching quote".to_owned(),
        ),
        _ => (
            format!("{e}"),
            "the file is not valid TOML: quote strings such as names, addresses and networks (cidr = \"10.0.1.0/24\"); see https://toml.io".to_owned(),
        ),
    };
    Diagnostic::error("(syntax)", format!("TOML syntax error: {msg}"))
        .span(Some(span))
        .hint(hint)
}

/// The builder path: the same semantic checks, without spans.
pub(crate) fn validate_builder(b: &LabBuilder) -> Result<Lab, Diagnostics> {
    use crate::model::Selector;
    use read::{DraftDhcp, DraftLab, DraftRule, DraftSegment, DraftSel};

    fn sel(s: &Selector) -> DraftSel<'_> {
        match s {
            Selector::All => DraftSel::All,
            Selector::Names(ns) => {
                DraftSel::Names(ns.iter().map(|n| Field::code(n.as_str())).collect())
            }
        }
    }
    let draft = DraftLab {
        lab_read: true,
        lab_span: None,
        name: Some(Field::code(b.info.name.clone())),
        domain: Some(Field::code(b.info.domain.clone())),
        uplink: b.info.uplink.clone().map(Field::code),
        segments: b
            .segments
            .iter()
            .map(|s| DraftSegment {
                span: None,
                name: Some(Field::code(s.name.clone())),
                cidr: Some(Field::code(s.cidr)),
                gateway: Some(Field::code(s.gateway)),
                dhcp: s.dhcp.map(|d| {
                    Field::code(DraftDhcp {
                        start: Some(Field::code(d.start)),
                        end: Some(Field::code(d.end)),
                    })
                }),
                ssh_ports: Some(Field::code(s.ssh_ports)),
                internet: Some(Field::code(s.internet)),
            })
            .collect(),
        bad_names: Vec::new(),
        rules: b
            .rules
            .iter()
            .map(|r| DraftRule {
                span: None,
                from: Some(Field::code(sel(&r.from))),
                to: Some(Field::code(sel(&r.to))),
                proto: Some(Field::code(r.proto)),
                ports: (!r.ports.is_empty())
                    .then(|| Field::code(r.ports.iter().map(|p| Field::code(*p)).collect())),
            })
            .collect(),
    };
    let mut diags = Vec::new();
    let out = validate::validate(draft, &mut diags);
    let source = Arc::new(Source::new("<lab built in code>", ""));
    match out {
        Some((lab, _))
            if !diags
                .iter()
                .any(|d| d.severity == crate::diag::Severity::Error) =>
        {
            Ok(lab)
        }
        _ => Err(Diagnostics::new(source, diags)),
    }
}
