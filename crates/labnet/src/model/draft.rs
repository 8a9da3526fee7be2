//! A lab before validation: what the lab-file reader and [`super::LabBuilder`]
//! both produce, and the only input of [`super::validate`].
//!
//! Each field that parsed on its own is here with its span (`None` for labs
//! built in code); a field that did not parse is absent, already reported.

use std::net::Ipv4Addr;

use labfile::{Field, Span};

use crate::cidr::Ipv4Cidr;
use crate::names::{DomainName, InterfaceName, LabName, SegmentName, TagName};
use crate::port::PortRange;
use crate::proto::Proto;

#[derive(Debug, Default)]
pub(crate) struct Draft<'a> {
    /// Whether a `[lab]` table was read (its absence is reported on its own).
    pub(crate) lab_read: bool,
    pub(crate) lab_span: Option<Span>,
    pub(crate) name: Option<Field<LabName>>,
    pub(crate) domain: Option<Field<DomainName>>,
    pub(crate) uplink: Option<Field<InterfaceName>>,
    /// An uplink was written, valid or not: an invalid one is its own error,
    /// not also a missing one.
    pub(crate) uplink_written: bool,
    pub(crate) segments: Vec<DraftSegment>,
    /// Names written for segments whose name was invalid: rules naming them are not
    /// reported again as unknown.
    pub(crate) bad_names: Vec<String>,
    pub(crate) rules: Vec<DraftRule<'a>>,
    pub(crate) denies: Vec<DraftRule<'a>>,
    /// `[policy.services]`, in file order.
    pub(crate) services: Vec<DraftService>,
}

/// One named service set: `web = { tcp = ["80", "443"] }`.
#[derive(Debug)]
pub(crate) struct DraftService {
    pub(crate) name: Field<TagName>,
    /// (protocol, ports; empty: every port of it), with where each is written.
    pub(crate) entries: Vec<Field<(Proto, Vec<PortRange>)>>,
}

/// One entry of a selector list: a segment's name or `tag:NAME`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Entry<'a> {
    Name(&'a str),
    Tag(&'a str),
}

impl<'a> Entry<'a> {
    fn of(s: &'a str) -> Self {
        match s.strip_prefix("tag:") {
            Some(t) => Self::Tag(t),
            None => Self::Name(s),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct DraftSegment {
    pub(crate) span: Option<Span>,
    pub(crate) name: Option<Field<SegmentName>>,
    pub(crate) cidr: Option<Field<Ipv4Cidr>>,
    pub(crate) gateway: Option<Field<Ipv4Addr>>,
    pub(crate) dhcp: Option<Field<DraftDhcp>>,
    pub(crate) ssh_ports: Option<Field<PortRange>>,
    pub(crate) internet: Option<Field<bool>>,
    pub(crate) tags: Vec<Field<TagName>>,
}

#[derive(Debug, Default)]
pub(crate) struct DraftDhcp {
    pub(crate) start: Option<Field<Ipv4Addr>>,
    pub(crate) end: Option<Field<Ipv4Addr>>,
}

#[derive(Debug)]
pub(crate) enum DraftSel<'a> {
    All,
    /// Names given one by one (a lone string, or a lab built in code).
    Names(Vec<Field<&'a str>>),
    /// Names and tags of a lab built in code.
    Code {
        names: Vec<&'a str>,
        tags: Vec<&'a str>,
    },
    /// A list as written in the file, read in place: lists can hold hundreds
    /// of thousands of names, so they are walked once, by validation, which
    /// also reports the elements that are not names.
    List(labfile::ArrayReader<'a>),
}

impl DraftSel<'_> {
    /// Each entry with its index in the list and where it is written; list
    /// elements that are not strings are reported to `sink` and skipped.
    pub(crate) fn for_each_name(
        &self,
        sink: &mut labfile::Sink,
        mut f: impl FnMut(&mut labfile::Sink, usize, Entry<'_>, Option<labfile::Span>),
    ) {
        match self {
            Self::All => {}
            Self::Names(ns) => {
                for (k, n) in ns.iter().enumerate() {
                    f(sink, k, Entry::of(n.value), n.span);
                }
            }
            Self::Code { names, tags } => {
                for (k, n) in names.iter().enumerate() {
                    f(sink, k, Entry::Name(n), None);
                }
                for (k, t) in tags.iter().enumerate() {
                    f(sink, names.len() + k, Entry::Tag(t), None);
                }
            }
            Self::List(arr) => {
                for e in arr.elements() {
                    match e.as_str() {
                        Some("*") => sink.push(
                            e.item()
                                .error("\"*\" cannot be part of a list")
                                .hint("write \"*\" on its own instead of the list"),
                        ),
                        Some(s) => f(sink, e.index(), Entry::of(s), Some(e.span())),
                        None => {
                            let _ = e.item().string(sink);
                        }
                    }
                }
            }
        }
    }

    /// How many entries the list has.
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::All => 0,
            Self::Names(ns) => ns.len(),
            Self::Code { names, tags } => names.len() + tags.len(),
            Self::List(arr) => arr.len(),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct DraftRule<'a> {
    pub(crate) span: Option<Span>,
    pub(crate) from: Option<Field<DraftSel<'a>>>,
    pub(crate) to: Option<Field<DraftSel<'a>>>,
    pub(crate) except: Option<Field<DraftSel<'a>>>,
    pub(crate) proto: Option<Field<Proto>>,
    /// `None` when absent; the outer span is the whole array.
    pub(crate) ports: Option<Field<Vec<Field<PortRange>>>>,
    /// Names of `[policy.services]` sets.
    pub(crate) services: Option<Field<Vec<Field<&'a str>>>>,
}
