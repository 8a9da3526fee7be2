//! The disaster-recovery drill: open the repository as a new machine would
//! (no cache), restore the newest snapshot of each set into scratch, verify
//! every restored entry against the snapshot, check the repository, and time
//! it all against the lab's recovery targets. The report is data; it renders
//! itself as Markdown.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rustic_core::repofile::{Node, NodeType, SnapshotFile};
use rustic_core::{IndexedFull, LsOptions, Repository, RepositoryOptions};
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::repo::{BackupError, Repo};

/// At most this many findings are listed per set (the count is kept).
const FINDINGS_LISTED: usize = 50;

/// How one set fared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SetDrill {
    /// The set.
    pub set: String,
    /// The snapshot restored (hex id), if the set has one.
    pub snapshot: Option<String>,
    /// When that snapshot was taken (RFC 3339).
    pub snapshot_time: Option<String>,
    /// Its age when the drill started, seconds.
    pub snapshot_age_s: Option<i64>,
    /// Whether that age is within `rpo_hours` (`None`: no target).
    pub rpo_met: Option<bool>,
    /// Entries restored and verified (files, directories, links).
    pub entries: u64,
    /// Regular files among them.
    pub files: u64,
    /// Bytes of those files.
    pub bytes: u64,
    /// Restore time, seconds.
    pub restore_s: f64,
    /// Verification time, seconds.
    pub verify_s: f64,
    /// Whether every entry matched the snapshot.
    pub passed: bool,
    /// How many mismatches or errors were found.
    pub finding_count: usize,
    /// The first of them.
    pub findings: Vec<String>,
}

/// A drill's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DrillReport {
    /// Unique id: start time and a random part.
    pub id: String,
    /// Start, RFC 3339 UTC.
    pub started: String,
    /// End, RFC 3339 UTC.
    pub ended: String,
    /// labbackup's version.
    pub tool: String,
    /// rustic_core's version.
    pub engine: String,
    /// The repository's format version (restic's 1 or 2).
    pub repository_version: u32,
    /// The repository.
    pub repository: String,
    /// `local` or `rest`.
    pub backend: String,
    /// Where the sets were restored.
    pub target: String,
    /// Opening and indexing the repository, with no cache, seconds.
    pub open_s: f64,
    /// Per set.
    pub sets: Vec<SetDrill>,
    /// The repository check, seconds.
    pub check_s: f64,
    /// Share of pack data the check read.
    pub check_read_data_percent: u8,
    /// What the check found (empty: sound).
    pub check_findings: Vec<String>,
    /// Whole drill, seconds.
    pub total_s: f64,
    /// The lab's restore target, minutes.
    pub rto_minutes: Option<u32>,
    /// `rto_minutes` less the total, seconds (negative: missed).
    pub rto_margin_s: Option<f64>,
    /// The lab's snapshot age target, hours.
    pub rpo_hours: Option<u32>,
    /// Everything that went wrong, one line each.
    pub findings: Vec<String>,
    /// Whether every set restored and verified, the check was clean, and
    /// both targets were met.
    pub passed: bool,
}

fn secs(i: Instant) -> f64 {
    i.elapsed().as_secs_f64()
}

fn drill_id(now: jiff::Timestamp) -> String {
    let nanos = now.subsec_nanosecond().unsigned_abs();
    format!(
        "{}-{:04x}",
        now.strftime("%Y%m%dT%H%M%SZ"),
        (nanos ^ std::process::id()) & 0xffff
    )
}

/// The restored entry at `path` against the snapshot's `node`: what differs.
fn verify_entry<S: IndexedFull>(
    repo: &Repository<S>,
    node: &Node,
    path: &Path,
    shown: &str,
    findings: &mut Vec<String>,
) -> u64 {
    let meta = match path.symlink_metadata() {
        Ok(m) => m,
        Err(e) => {
            findings.push(format!("{shown}: not restored ({e})"));
            return 0;
        }
    };
    let kind_ok = match &node.node_type {
        NodeType::File => meta.is_file(),
        NodeType::Dir => meta.is_dir(),
        NodeType::Symlink { .. } => meta.is_symlink(),
        _ => true,
    };
    if !kind_ok {
        findings.push(format!("{shown}: restored as another kind of entry"));
        return 0;
    }
    if let NodeType::Symlink { .. } = &node.node_type {
        let want = node.node_type.to_link();
        match std::fs::read_link(path) {
            Ok(got) if got == want => {}
            Ok(got) => findings.push(format!(
                "{shown}: links to {} instead of {}",
                got.display(),
                want.display()
            )),
            Err(e) => findings.push(format!("{shown}: cannot read the link ({e})")),
        }
        return 0;
    }
    use std::os::unix::fs::MetadataExt;
    if let Some(mode) = node.meta.mode {
        // restic stores Go's FileMode: the permission bits are the low nine.
        if mode & 0o777 != meta.mode() & 0o777 {
            findings.push(format!(
                "{shown}: mode {:o} instead of {:o}",
                meta.mode() & 0o777,
                mode & 0o777
            ));
        }
    }
    if node.is_dir() {
        return 0;
    }
    if let Some(mtime) = &node.meta.mtime {
        let got = i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec());
        if got != mtime.as_nanosecond() {
            findings.push(format!(
                "{shown}: modified time differs from the snapshot's"
            ));
        }
    }
    let mut lengths = Vec::new();
    for id in node.content.iter().flatten() {
        match repo.get_index_entry(id) {
            Ok(e) => lengths.push(e.data_length() as usize),
            Err(_) => {
                findings.push(format!(
                    "{shown}: blob {} is not in the index",
                    id.to_hex().as_str()
                ));
                return meta.len();
            }
        }
    }
    // The content's length, from its blobs: a stream's node records no size,
    // and a file that grew while it was read has more content than its
    // recorded size.
    let size: u64 = lengths.iter().map(|&l| l as u64).sum();
    if meta.len() != size {
        findings.push(format!("{shown}: {} bytes instead of {size}", meta.len()));
        return meta.len();
    }
    // Each content blob's id is the SHA-256 of its plain bytes: read the
    // restored file blob by blob and compare, without reading the repository.
    let mut file = match std::fs::File::open(path) {
        Ok(f) => std::io::BufReader::new(f),
        Err(e) => {
            findings.push(format!("{shown}: cannot read ({e})"));
            return 0;
        }
    };
    let mut buf = Vec::new();
    for (i, (id, len)) in node.content.iter().flatten().zip(lengths).enumerate() {
        buf.resize(len, 0);
        if let Err(e) = file.read_exact(&mut buf) {
            findings.push(format!("{shown}: cannot read ({e})"));
            return meta.len();
        }
        let digest = sha2::Sha256::digest(&buf);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        if hex != id.to_hex().as_str() {
            findings.push(format!(
                "{shown}: content differs from the snapshot's in chunk {i}"
            ));
            return meta.len();
        }
    }
    meta.len()
}

impl Repo {
    /// Run the drill for `sets` (empty: every set), restoring into `target`
    /// (which must be empty or missing; default: a scratch directory, removed
    /// afterwards).
    ///
    /// # Errors
    /// Only when the drill cannot start (no such set, a non-empty target);
    /// everything else that fails is in the report.
    pub fn drill(
        &self,
        sets: &[String],
        target: Option<&Path>,
    ) -> Result<DrillReport, BackupError> {
        let backup = self.backup().clone();
        for s in sets {
            if backup.set(s).is_none() {
                return Err(BackupError::NoSuchSet(s.clone()));
            }
        }
        let chosen: Vec<String> = backup
            .sets
            .iter()
            .filter(|s| sets.is_empty() || sets.contains(&s.name))
            .map(|s| s.name.clone())
            .collect();
        let started_at = jiff::Timestamp::now();
        let clock = Instant::now();
        let id = drill_id(started_at);
        let (root, scratch) = match target {
            Some(t) => {
                if std::fs::read_dir(t).is_ok_and(|mut d| d.next().is_some()) {
                    return Err(BackupError::TargetNotEmpty(t.to_owned()));
                }
                (t.to_owned(), false)
            }
            None => (
                std::env::temp_dir().join(format!("labbackup-drill-{id}")),
                true,
            ),
        };
        let mut report = DrillReport {
            id,
            started: started_at.to_string(),
            ended: String::new(),
            tool: format!("labbackup {}", env!("CARGO_PKG_VERSION")),
            engine: format!("rustic_core {}", env!("LABBACKUP_RUSTIC_CORE")),
            repository_version: 0,
            repository: backup.repository.clone(),
            backend: if backup.repository.starts_with("rest:") {
                "rest".to_owned()
            } else {
                "local".to_owned()
            },
            target: root.display().to_string(),
            open_s: 0.0,
            sets: Vec::new(),
            check_s: 0.0,
            check_read_data_percent: backup.check_read_data_percent,
            check_findings: Vec::new(),
            total_s: 0.0,
            rto_minutes: backup.rto_minutes,
            rto_margin_s: None,
            rpo_hours: backup.rpo_hours,
            findings: Vec::new(),
            passed: false,
        };
        self.drill_into(&mut report, &chosen, &root, started_at);
        if scratch {
            let _ = std::fs::remove_dir_all(&root);
        }
        report.total_s = secs(clock);
        report.ended = jiff::Timestamp::now().to_string();
        if let Some(rto) = backup.rto_minutes {
            let margin = f64::from(rto) * 60.0 - report.total_s;
            report.rto_margin_s = Some(margin);
            if margin < 0.0 {
                report.findings.push(format!(
                    "the drill took {:.1} s, over the restore target of {rto} min",
                    report.total_s
                ));
            }
        }
        for s in &report.sets {
            if s.rpo_met == Some(false) {
                report.findings.push(format!(
                    "set {}: the newest snapshot is {} old, over the target of {} h",
                    s.set,
                    age(s.snapshot_age_s.unwrap_or(0)),
                    backup.rpo_hours.unwrap_or(0)
                ));
            }
            if !s.passed {
                report.findings.push(format!(
                    "set {}: {} finding(s){}",
                    s.set,
                    s.finding_count,
                    s.findings
                        .first()
                        .map(|f| format!(", first: {f}"))
                        .unwrap_or_default()
                ));
            }
        }
        if !report.check_findings.is_empty() {
            report.findings.push(format!(
                "the repository check found {} problem(s)",
                report.check_findings.len()
            ));
        }
        report.passed = report.findings.is_empty();
        Ok(report)
    }

    fn drill_into(
        &self,
        report: &mut DrillReport,
        chosen: &[String],
        root: &Path,
        started_at: jiff::Timestamp,
    ) {
        let r = self.backup().repository.clone();
        let open = Instant::now();
        let opened = self
            .repository_with("open", &RepositoryOptions::default().no_cache(true))
            .and_then(|repo| {
                repo.open(&self.credentials())
                    .map_err(crate::repo::fail("open", &r))
            })
            .and_then(|repo| repo.to_indexed().map_err(crate::repo::fail("index", &r)));
        report.open_s = secs(open);
        let repo = match opened {
            Ok(repo) => repo,
            Err(e) => {
                report.findings.push(format!(
                    "cannot open the repository: {}",
                    crate::run::chain(&e)
                ));
                return;
            }
        };
        report.repository_version = repo.config().version;
        let all = match repo.get_all_snapshots() {
            Ok(a) => a,
            Err(e) => {
                report
                    .findings
                    .push(format!("cannot list the snapshots: {e}"));
                return;
            }
        };
        for set in chosen {
            report
                .sets
                .push(self.drill_set(&repo, &all, set, &root.join(set), started_at));
        }
        let check = Instant::now();
        report.check_findings =
            match crate::repo::check_open(&repo, report.check_read_data_percent, &r) {
                Ok(f) => f,
                Err(e) => vec![crate::run::chain(&e)],
            };
        report.check_s = secs(check);
    }

    fn drill_set<S: IndexedFull>(
        &self,
        repo: &Repository<S>,
        all: &[SnapshotFile],
        set: &str,
        dir: &Path,
        started_at: jiff::Timestamp,
    ) -> SetDrill {
        let mut out = SetDrill {
            set: set.to_owned(),
            snapshot: None,
            snapshot_time: None,
            snapshot_age_s: None,
            rpo_met: None,
            entries: 0,
            files: 0,
            bytes: 0,
            restore_s: 0.0,
            verify_s: 0.0,
            passed: false,
            finding_count: 0,
            findings: Vec::new(),
        };
        let Some(snap) = all
            .iter()
            .filter(|s| s.tags.contains(set))
            .max_by(|a, b| a.time.cmp(&b.time))
        else {
            out.finding_count = 1;
            out.findings.push("the set has no snapshot".to_owned());
            return out;
        };
        out.snapshot = Some(snap.id.to_hex().as_str().to_owned());
        out.snapshot_time = Some(snap.time.timestamp().to_string());
        let age_s = started_at.as_second() - snap.time.timestamp().as_second();
        out.snapshot_age_s = Some(age_s);
        out.rpo_met = self
            .backup()
            .rpo_hours
            .map(|h| age_s <= i64::from(h) * 3600);
        let mut findings = Vec::new();
        let restore = Instant::now();
        let id = snap.id.to_hex().as_str().to_owned();
        let restored = crate::repo::restore_snapshot(repo, &id, dir, &self.backup().repository);
        out.restore_s = secs(restore);
        if let Err(e) = restored {
            findings.push(format!("restore failed: {}", crate::run::chain(&e)));
        } else {
            let verify = Instant::now();
            let (entries, files, bytes) = verify_tree(repo, &id, dir, &mut findings);
            (out.entries, out.files, out.bytes) = (entries, files, bytes);
            out.verify_s = secs(verify);
        }
        out.finding_count = findings.len();
        findings.truncate(FINDINGS_LISTED);
        out.passed = findings.is_empty();
        out.findings = findings;
        out
    }
}

/// Every entry of snapshot `id` against the tree restored into `dir`: the
/// counts of entries, regular files and their bytes; what differs goes to
/// `findings`.
fn verify_tree<S: IndexedFull>(
    repo: &Repository<S>,
    id: &str,
    dir: &Path,
    findings: &mut Vec<String>,
) -> (u64, u64, u64) {
    let (mut entries, mut files, mut bytes) = (0, 0, 0);
    let nodes = match repo.node_from_snapshot_path(id, |_| true).and_then(|node| {
        repo.ls(&node, &LsOptions::default())
            .map(|l| l.collect::<Vec<_>>())
    }) {
        Ok(n) => n,
        Err(e) => {
            findings.push(format!(
                "cannot read the snapshot: {}",
                crate::repo::describe(&*e)
            ));
            return (0, 0, 0);
        }
    };
    for entry in nodes {
        match entry {
            Ok((path, node)) => {
                entries += 1;
                let shown = format!("/{}", path.display());
                let b = verify_entry(repo, &node, &dir.join(&path), &shown, findings);
                if node.is_file() {
                    files += 1;
                    bytes += b;
                }
            }
            Err(e) => findings.push(format!(
                "cannot read the snapshot: {}",
                crate::repo::describe(&*e)
            )),
        }
    }
    (entries, files, bytes)
}

impl Repo {
    /// Verify a tree restored into `dir` against `snapshot` (an id or its
    /// prefix), as the drill does: kind, permissions, modification time,
    /// size, link target and content of every entry. What differs, one line
    /// each; empty when the tree is the snapshot.
    ///
    /// # Errors
    /// The repository cannot be opened or indexed.
    pub fn verify(&self, snapshot: &str, dir: &Path) -> Result<Vec<String>, BackupError> {
        let r = self.backup().repository.clone();
        let repo = self
            .open()?
            .to_indexed()
            .map_err(crate::repo::fail("index", &r))?;
        let mut findings = Vec::new();
        verify_tree(&repo, snapshot, dir, &mut findings);
        Ok(findings)
    }
}

/// `3 h 05 min`-style age.
#[must_use]
pub fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    if s < 3600 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else if s < 86_400 {
        format!("{} h {:02} min", s / 3600, (s % 3600) / 60)
    } else {
        format!("{} d {:02} h", s / 86_400, (s % 86_400) / 3600)
    }
}

impl DrillReport {
    /// The report as a Markdown document.
    #[must_use]
    pub fn to_markdown(&self) -> String {
        let mut m = String::new();
        let verdict = if self.passed { "PASSED" } else { "FAILED" };
        m.push_str(&format!(
            "# Disaster-recovery drill {}: {verdict}\n\n",
            self.id
        ));
        m.push_str("| | |\n|---|---|\n");
        m.push_str(&format!("| Started (UTC) | {} |\n", self.started));
        m.push_str(&format!("| Ended (UTC) | {} |\n", self.ended));
        m.push_str(&format!("| Tool | {}, {} |\n", self.tool, self.engine));
        m.push_str(&format!(
            "| Repository | `{}` ({} backend, format version {}) |\n",
            self.repository, self.backend, self.repository_version
        ));
        m.push_str(&format!("| Restored into | `{}` |\n", self.target));
        m.push_str(&format!(
            "| Total duration | {:.1} s{} |\n",
            self.total_s,
            match (self.rto_minutes, self.rto_margin_s) {
                (Some(rto), Some(margin)) if margin >= 0.0 =>
                    format!(" (target {rto} min: met, {margin:.1} s to spare)"),
                (Some(rto), Some(margin)) =>
                    format!(" (target {rto} min: MISSED by {:.1} s)", -margin),
                _ => " (no restore target set)".to_owned(),
            }
        ));
        m.push_str(&format!(
            "| Phases | open {:.2} s, restore {:.2} s, verify {:.2} s, check {:.2} s |\n",
            self.open_s,
            self.sets.iter().map(|s| s.restore_s).sum::<f64>(),
            self.sets.iter().map(|s| s.verify_s).sum::<f64>(),
            self.check_s
        ));
        m.push_str(&format!(
            "| Repository check | {} (read {}% of the data) |\n\n",
            if self.check_findings.is_empty() {
                "no errors".to_owned()
            } else {
                format!("{} problem(s)", self.check_findings.len())
            },
            self.check_read_data_percent
        ));
        m.push_str("## Sets\n\n| Set | Snapshot | Age | RPO | Files | Bytes | Restore | Verify | Result |\n|---|---|---|---|---:|---:|---:|---:|---|\n");
        for s in &self.sets {
            m.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {:.2} s | {:.2} s | {} |\n",
                s.set,
                s.snapshot
                    .as_deref()
                    .map_or("none", |i| &i[..8.min(i.len())]),
                s.snapshot_age_s.map_or_else(|| "-".to_owned(), age),
                match (s.rpo_met, self.rpo_hours) {
                    (Some(true), Some(h)) => format!("met ({h} h)"),
                    (Some(false), Some(h)) => format!("MISSED ({h} h)"),
                    _ => "-".to_owned(),
                },
                s.files,
                s.bytes,
                s.restore_s,
                s.verify_s,
                if s.passed { "passed" } else { "FAILED" }
            ));
        }
        m.push_str("\n## Findings\n\n");
        if self.findings.is_empty() {
            m.push_str("None.\n");
        }
        for f in &self.findings {
            m.push_str(&format!("- {f}\n"));
        }
        for s in &self.sets {
            for f in &s.findings {
                m.push_str(&format!("- {}: {f}\n", s.set));
            }
        }
        for f in &self.check_findings {
            m.push_str(&format!("- check: {f}\n"));
        }
        m
    }

    /// Write `drill-ID.json` and `drill-ID.md` into `dir` (made if missing),
    /// and return their paths.
    ///
    /// # Errors
    /// The directory or a file cannot be written.
    pub fn write(&self, dir: &Path) -> std::io::Result<(PathBuf, PathBuf)> {
        std::fs::create_dir_all(dir)?;
        let json = dir.join(format!("drill-{}.json", self.id));
        let md = dir.join(format!("drill-{}.md", self.id));
        crate::status::write_atomically(
            &json,
            (serde_json::to_string_pretty(self).map_err(std::io::Error::other)? + "\n").as_bytes(),
        )?;
        crate::status::write_atomically(&md, self.to_markdown().as_bytes())?;
        Ok((json, md))
    }
}
