//! The validated `[backup]` section.

use serde::Serialize;

/// Where the repository's password comes from; never the password itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
#[non_exhaustive]
pub enum PasswordSource {
    /// A file whose first line is the password.
    File(String),
    /// A command (argv, run without a shell) whose first output line is the password.
    Command(Vec<String>),
}

/// How many snapshots of each kind a set keeps (restic's `--keep-*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[non_exhaustive]
pub struct Retention {
    /// The newest N, whatever their times.
    pub last: u32,
    /// The newest of each of the last N hours that have one.
    pub hourly: u32,
    /// The newest of each of the last N days that have one.
    pub daily: u32,
    /// The newest of each of the last N ISO weeks that have one.
    pub weekly: u32,
    /// The newest of each of the last N months that have one.
    pub monthly: u32,
    /// The newest of each of the last N years that have one.
    pub yearly: u32,
}

impl Retention {
    /// Whether it keeps nothing (forget would remove every snapshot).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// One `[[backup.set]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct BackupSet {
    /// Unique name; the snapshot's tag.
    pub name: String,
    /// Paths to back up.
    pub paths: Vec<String>,
    /// Glob patterns left out.
    pub exclude: Vec<String>,
    /// Extra tags.
    pub tags: Vec<String>,
    /// Run before the backup (argv); a failure skips the set.
    pub before: Option<Vec<String>>,
    /// Run after the backup, also when it failed (argv).
    pub after: Option<Vec<String>>,
    /// A command whose standard output is stored as one file.
    pub stdin_command: Option<Vec<String>>,
    /// The name that file has in the snapshot (default `NAME.stdin`).
    pub stdin_filename: String,
}

/// The `[backup]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Backup {
    /// A local path, or `rest:http://HOST:PORT/PATH`.
    pub repository: String,
    /// Backend options, as rustic_backend takes them (e.g. an OpenDAL
    /// service's `bucket` and `region`, or `retry` and `timeout`).
    pub repository_options: std::collections::BTreeMap<String, String>,
    /// The password's source.
    pub password: PasswordSource,
    /// Retention per set.
    pub retention: Retention,
    /// Share of the pack data `check` reads, 0 to 100.
    pub check_read_data_percent: u8,
    /// Disaster-recovery restore target, minutes.
    pub rto_minutes: Option<u32>,
    /// Most age of a set's newest snapshot, hours.
    pub rpo_hours: Option<u32>,
    /// Where the last run, check and drill are recorded (for `status`).
    pub state_dir: String,
    /// The sets, in file order.
    pub sets: Vec<BackupSet>,
}

impl Backup {
    /// The set called `name`.
    #[must_use]
    pub fn set(&self, name: &str) -> Option<&BackupSet> {
        self.sets.iter().find(|s| s.name == name)
    }
}
