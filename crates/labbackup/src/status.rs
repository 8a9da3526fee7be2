//! What `status` reports: each set's newest snapshot against the lab's
//! snapshot age target, the repository's size, and the last run, check and
//! drill as labbackup recorded them in its state directory; and the same as
//! Prometheus textfile-collector metrics.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::drill::DrillReport;
use crate::repo::{BackupError, Repo, fail};
use crate::run::SetRun;

/// Write `bytes` to `path` so that a reader sees the old file or the new one,
/// never a part: a temporary file beside it, synced, then renamed over it.
///
/// # Errors
/// The directory is not writable.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or_else(|| "labbackup".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The last check, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CheckRecord {
    /// When it ended (RFC 3339 UTC).
    pub time: String,
    /// Share of pack data read.
    pub read_data_percent: u8,
    /// How long it took, seconds.
    pub duration_s: f64,
    /// What it found (empty: sound).
    pub findings: Vec<String>,
}

impl CheckRecord {
    /// A record of a check that ended now.
    #[must_use]
    pub fn now(read_data_percent: u8, duration_s: f64, findings: Vec<String>) -> Self {
        Self {
            time: jiff::Timestamp::now().to_string(),
            read_data_percent,
            duration_s,
            findings,
        }
    }
}

/// labbackup's records in the lab's `state_dir`: the last run of each set,
/// the last check, the last drill.
#[derive(Debug, Clone)]
pub struct State {
    dir: PathBuf,
}

impl State {
    /// The records in `dir`.
    #[must_use]
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Its directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn save<T: Serialize>(&self, name: &str, value: &T) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)? + "\n";
        write_atomically(&self.dir.join(name), text.as_bytes())
    }

    fn load<T: for<'de> Deserialize<'de>>(&self, name: &str) -> Option<T> {
        let text = std::fs::read_to_string(self.dir.join(name)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Record these runs, keeping the last run of sets not among them.
    ///
    /// # Errors
    /// The directory is not writable.
    pub fn save_runs(&self, runs: &[SetRun]) -> std::io::Result<()> {
        let mut all: BTreeMap<String, SetRun> = self.load("last-runs.json").unwrap_or_default();
        for r in runs {
            all.insert(r.set.clone(), r.clone());
        }
        self.save("last-runs.json", &all)
    }

    /// The last run of each set.
    #[must_use]
    pub fn runs(&self) -> BTreeMap<String, SetRun> {
        self.load("last-runs.json").unwrap_or_default()
    }

    /// Record a check.
    ///
    /// # Errors
    /// The directory is not writable.
    pub fn save_check(&self, check: &CheckRecord) -> std::io::Result<()> {
        self.save("last-check.json", check)
    }

    /// The last check.
    #[must_use]
    pub fn check(&self) -> Option<CheckRecord> {
        self.load("last-check.json")
    }

    /// Record a drill (its report also goes under `drills/`).
    ///
    /// # Errors
    /// The directory is not writable.
    pub fn save_drill(&self, drill: &DrillReport) -> std::io::Result<(PathBuf, PathBuf)> {
        self.save("last-drill.json", drill)?;
        drill.write(&self.dir.join("drills"))
    }

    /// The last drill.
    #[must_use]
    pub fn drill(&self) -> Option<DrillReport> {
        self.load("last-drill.json")
    }
}

/// One set in `status`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SetStatus {
    /// The set.
    pub set: String,
    /// Its newest snapshot (hex id).
    pub snapshot: Option<String>,
    /// When that was taken (RFC 3339).
    pub time: Option<String>,
    /// Its age now, seconds.
    pub age_s: Option<i64>,
    /// Whether the age is within `rpo_hours` (`None`: no target; a set with
    /// no snapshot misses any target).
    pub rpo_met: Option<bool>,
    /// Files and bytes of that snapshot, and how long it took.
    pub files: u64,
    /// See `files`.
    pub bytes: u64,
    /// See `files`, seconds.
    pub duration_s: f64,
    /// The set's last run, as recorded.
    pub last_run: Option<SetRun>,
}

/// What `status` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Status {
    /// The repository.
    pub repository: String,
    /// Bytes it holds (every file of it).
    pub repository_bytes: u64,
    /// Snapshots in it.
    pub snapshots: usize,
    /// The lab's snapshot age target, hours.
    pub rpo_hours: Option<u32>,
    /// Per set, in lab-file order.
    pub sets: Vec<SetStatus>,
    /// The last check, as recorded.
    pub last_check: Option<CheckRecord>,
    /// The last drill, as recorded.
    pub last_drill: Option<DrillReport>,
}

impl Status {
    /// Whether every set is within its target, and the last check and drill
    /// (where there were any) passed.
    #[must_use]
    pub fn healthy(&self) -> bool {
        self.sets.iter().all(|s| s.rpo_met != Some(false))
            && self
                .last_check
                .as_ref()
                .is_none_or(|c| c.findings.is_empty())
            && self.last_drill.as_ref().is_none_or(|d| d.passed)
    }

    /// Prometheus textfile-collector metrics (for node_exporter).
    #[must_use]
    pub fn metrics(&self) -> String {
        let mut m = String::new();
        let mut family = |name: &str, help: &str, rows: Vec<(String, String)>| {
            if rows.is_empty() {
                return;
            }
            m.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
            for (labels, value) in rows {
                m.push_str(&format!("{name}{labels} {value}\n"));
            }
        };
        let label = |set: &str| {
            format!(
                "{{set=\"{}\"}}",
                set.replace('\\', "\\\\").replace('"', "\\\"")
            )
        };
        let per_set = |f: &dyn Fn(&SetStatus) -> Option<String>| -> Vec<(String, String)> {
            self.sets
                .iter()
                .filter_map(|s| f(s).map(|v| (label(&s.set), v)))
                .collect()
        };
        family(
            "labbackup_last_success_timestamp_seconds",
            "Time of the set's newest snapshot.",
            per_set(&|s| {
                s.time
                    .as_ref()
                    .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                    .map(|t| t.as_second().to_string())
            }),
        );
        family(
            "labbackup_snapshot_age_seconds",
            "Age of the set's newest snapshot.",
            per_set(&|s| s.age_s.map(|a| a.to_string())),
        );
        family(
            "labbackup_last_duration_seconds",
            "How long the set's newest snapshot took.",
            per_set(&|s| s.snapshot.as_ref().map(|_| format!("{:.3}", s.duration_s))),
        );
        family(
            "labbackup_last_bytes",
            "Bytes of the files in the set's newest snapshot.",
            per_set(&|s| s.snapshot.as_ref().map(|_| s.bytes.to_string())),
        );
        family(
            "labbackup_last_run_success",
            "1 when the set's last run succeeded, 0 when not.",
            per_set(&|s| s.last_run.as_ref().map(|r| u8::from(r.is_ok()).to_string())),
        );
        family(
            "labbackup_rpo_met",
            "1 when the set's newest snapshot is within rpo_hours.",
            per_set(&|s| s.rpo_met.map(|x| u8::from(x).to_string())),
        );
        family(
            "labbackup_repository_bytes",
            "Bytes in the repository.",
            vec![(String::new(), self.repository_bytes.to_string())],
        );
        if let Some(c) = &self.last_check {
            family(
                "labbackup_check_success",
                "1 when the last check found nothing.",
                vec![(String::new(), u8::from(c.findings.is_empty()).to_string())],
            );
        }
        if let Some(d) = &self.last_drill {
            family(
                "labbackup_drill_duration_seconds",
                "How long the last drill took.",
                vec![(String::new(), format!("{:.3}", d.total_s))],
            );
            family(
                "labbackup_drill_success",
                "1 when the last drill passed.",
                vec![(String::new(), u8::from(d.passed).to_string())],
            );
            if let Ok(t) = d.ended.parse::<jiff::Timestamp>() {
                family(
                    "labbackup_drill_timestamp_seconds",
                    "When the last drill ended.",
                    vec![(String::new(), t.as_second().to_string())],
                );
            }
        }
        m
    }
}

impl Repo {
    /// The lab's backup status: the repository and the records in `state`.
    ///
    /// # Errors
    /// The repository cannot be opened.
    pub fn status(&self, state: &State) -> Result<Status, BackupError> {
        let backup = self.backup();
        let r = backup.repository.as_str();
        let repo = self
            .repository_with("open", &rustic_core::RepositoryOptions::default())?
            .open(&self.credentials())
            .map_err(fail("open", r))?;
        let files = repo.infos_files().map_err(fail("measure", r))?;
        let repository_bytes = files.repo.iter().map(|f| f.size).sum();
        let all = repo
            .get_all_snapshots()
            .map_err(fail("list the snapshots of", r))?;
        let now = jiff::Timestamp::now().as_second();
        let runs = state.runs();
        let sets = backup
            .sets
            .iter()
            .map(|set| {
                let newest = all
                    .iter()
                    .filter(|s| s.tags.contains(&set.name))
                    .max_by(|a, b| a.time.cmp(&b.time));
                let age_s = newest.map(|s| now - s.time.timestamp().as_second());
                let summary = newest.and_then(|s| s.summary.as_ref());
                SetStatus {
                    set: set.name.clone(),
                    snapshot: newest.map(|s| s.id.to_hex().as_str().to_owned()),
                    time: newest.map(|s| s.time.timestamp().to_string()),
                    age_s,
                    rpo_met: backup
                        .rpo_hours
                        .map(|h| age_s.is_some_and(|a| a <= i64::from(h) * 3600)),
                    files: summary.map_or(0, |x| x.total_files_processed),
                    bytes: summary.map_or(0, |x| x.total_bytes_processed),
                    duration_s: summary.map_or(0.0, |x| x.backup_duration),
                    last_run: runs.get(&set.name).cloned(),
                }
            })
            .collect();
        Ok(Status {
            repository: backup.repository.clone(),
            repository_bytes,
            snapshots: all.len(),
            rpo_hours: backup.rpo_hours,
            sets,
            last_check: state.check(),
            last_drill: state.drill(),
        })
    }
}
