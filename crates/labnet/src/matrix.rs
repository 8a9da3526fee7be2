//! The segment-by-segment reachability matrix, internet egress included.

use std::fmt::Write as _;

use serde::Serialize;

use crate::labfile::LabFile;
use crate::model::Lab;
use crate::reach::{PairAccess, RulesBySource, Scratch, source_access};

/// One cell: what `from` may open toward `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Cell {
    /// Source segment.
    pub from: String,
    /// Destination segment.
    pub to: String,
    /// `all`, `partial`, `none`, or `self` (within a segment: not filtered).
    pub access: &'static str,
    /// Protocol-level detail.
    pub detail: PairAccess,
    /// Lines of the rules that grant it (empty for a lab built in code).
    pub lines: Vec<u32>,
}

/// Internet egress of one segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Egress {
    /// Segment.
    pub from: String,
    /// Whether it may open connections to the internet.
    pub allowed: bool,
    /// Through which interface, masqueraded.
    pub uplink: Option<String>,
}

/// The whole matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Matrix {
    /// Lab name.
    pub lab: String,
    /// Segment names, in lab-file order (rows and columns).
    pub segments: Vec<String>,
    /// Row-major cells: `cells[i * n + j]` is from segment i to segment j.
    pub cells: Vec<Cell>,
    /// One entry per segment.
    pub internet: Vec<Egress>,
}

impl Matrix {
    /// The matrix of a lab (built in code or read; no line numbers).
    ///
    /// ```
    /// let m = labnet::matrix::Matrix::new(&labnet::reference::lab());
    /// assert_eq!(m.segments.len(), 5);
    /// ```
    #[must_use]
    pub fn new(lab: &Lab) -> Self {
        Self::build(lab, None)
    }

    /// The matrix of a lab file: each cell lists the lines of the rules that grant it.
    #[must_use]
    pub fn for_file(file: &LabFile) -> Self {
        Self::build(file.lab(), Some(file))
    }

    fn build(lab: &Lab, file: Option<&LabFile>) -> Self {
        let segs = lab.segments();
        let n = segs.len();
        let rules = RulesBySource::new(lab);
        let mut scratch = Scratch::citing();
        let mut cells = Vec::with_capacity(n * n);
        for a in 0..n {
            let a32 = u32::try_from(a).unwrap_or(u32::MAX);
            let mut row: Vec<Option<PairAccess>> = vec![None; n];
            for (b, acc) in source_access(lab, &rules, &mut scratch, a32) {
                row[b as usize] = Some(acc);
            }
            for (b, acc) in row.into_iter().enumerate() {
                let detail = acc.unwrap_or_default();
                let access = if a == b {
                    "self"
                } else if detail.is_all() {
                    "all"
                } else if detail.is_none() {
                    "none"
                } else {
                    "partial"
                };
                let lines = detail
                    .rules
                    .iter()
                    .filter_map(|&r| file.and_then(|f| f.rule_location(r)).map(|l| l.line))
                    .collect();
                cells.push(Cell {
                    from: segs[a].name.to_string(),
                    to: segs[b].name.to_string(),
                    access,
                    detail,
                    lines,
                });
            }
        }
        let uplink = lab.info().uplink.as_ref().map(ToString::to_string);
        Self {
            lab: lab.info().name.to_string(),
            segments: segs.iter().map(|s| s.name.to_string()).collect(),
            cells,
            internet: segs
                .iter()
                .map(|s| Egress {
                    from: s.name.to_string(),
                    allowed: s.internet,
                    uplink: if s.internet { uplink.clone() } else { None },
                })
                .collect(),
        }
    }

    fn text(&self, i: usize, j: usize) -> String {
        let c = &self.cells[i * self.segments.len() + j];
        match c.access {
            "self" => "self".to_owned(),
            "none" => "-".to_owned(),
            _ => c.detail.short(),
        }
    }

    fn net(&self, i: usize) -> &'static str {
        if self.internet[i].allowed { "nat" } else { "-" }
    }

    /// A plain-text table for terminals.
    #[must_use]
    pub fn to_text(&self) -> String {
        let n = self.segments.len();
        let corner = "from \\ to";
        let mut header: Vec<String> = vec![corner.to_owned()];
        header.extend(self.segments.iter().cloned());
        header.push("internet".to_owned());
        let mut rows: Vec<Vec<String>> = vec![header];
        for i in 0..n {
            let mut r = vec![self.segments[i].clone()];
            r.extend((0..n).map(|j| self.text(i, j)));
            r.push(self.net(i).to_owned());
            rows.push(r);
        }
        let widths: Vec<usize> = (0..=n + 1)
            .map(|k| rows.iter().map(|r| r[k].chars().count()).max().unwrap_or(0))
            .collect();
        let mut o = String::new();
        for r in &rows {
            let line: Vec<String> = r
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            let _ = writeln!(o, "{}", line.join("  ").trim_end());
        }
        let _ = writeln!(
            o,
            "\nall: any protocol; tcp:PORTS / udp:PORTS / icmp: only those; -: denied; self: within a segment, not filtered;\nnat: internet egress masqueraded{}.",
            self.internet
                .iter()
                .find_map(|e| e.uplink.as_ref())
                .map_or_else(String::new, |u| format!(" via {u}"))
        );
        o
    }

    /// A Markdown table.
    #[must_use]
    pub fn to_markdown(&self) -> String {
        let n = self.segments.len();
        let mut o = String::new();
        let _ = write!(o, "| from \\ to |");
        for s in &self.segments {
            let _ = write!(o, " {s} |");
        }
        let _ = writeln!(o, " internet |");
        let _ = writeln!(o, "|{}", "---|".repeat(n + 2));
        for i in 0..n {
            let _ = write!(o, "| **{}** |", self.segments[i]);
            for j in 0..n {
                let _ = write!(o, " {} |", self.text(i, j));
            }
            let _ = writeln!(o, " {} |", self.net(i));
        }
        o
    }
}
