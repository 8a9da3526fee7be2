//! The repository: init, back up a set, list snapshots, restore — through
//! rustic_core, so what labbackup writes is a restic repository.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rustic_backend::BackendOptions;
use rustic_core::ProgressBars;
use rustic_core::{
    BackupOptions, CheckOptions, ConfigOptions, Credentials, KeyOptions, LocalDestination,
    LsOptions, PathList, PruneOptions, ReadSubsetOption, Repository, RepositoryOptions,
    RestoreOptions, SnapshotOptions,
};
use serde::Serialize;

use crate::model::{Backup, BackupSet, PasswordSource};

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// The password file could not be read.
    #[error("cannot read the password file {path}")]
    PasswordFile {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The password command failed or printed nothing.
    #[error("the password command {program} failed ({status})")]
    PasswordCommand {
        /// Its program.
        program: String,
        /// Its exit status or why it could not run.
        status: String,
    },
    /// The password is empty.
    #[error("the repository password is empty")]
    EmptyPassword,
    /// A rustic_core operation failed.
    #[error("cannot {action} the repository at {repository}")]
    Repository {
        /// What labbackup was doing.
        action: &'static str,
        /// Where.
        repository: String,
        /// rustic_core's error.
        #[source]
        source: Box<rustic_core::RusticError>,
    },
    /// A set's paths cannot be used.
    #[error("cannot use the paths of set {set}")]
    Paths {
        /// The set.
        set: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Another labbackup process holds the repository's lock.
    #[error(
        "the repository is locked by pid {pid} on {host} (labbackup or restic); try again when it is done"
    )]
    Locked {
        /// The holder's process id, as it wrote it.
        pid: String,
        /// The holder's host.
        host: String,
    },
    /// The lock file could not be made.
    #[error("cannot lock the repository with {}", .path.display())]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// None of a set's paths exists.
    #[error("none of the paths of set {0} exists")]
    NoSourcePath(String),
    /// The set's `stdin_command` failed; the snapshot it fed was deleted.
    #[error("the stdin_command of set {set} failed; its partial snapshot was deleted")]
    StdinCommand {
        /// The set.
        set: String,
        /// rustic_core's report of the exit status.
        #[source]
        source: Box<rustic_core::RusticError>,
    },
    /// A snapshot's tree would restore outside the target (a `..` or `/` in a
    /// name, an entry below a symbolic link, or a symbolic link already in
    /// the target in the way).
    #[error("snapshot entry {entry:?} would be restored outside {}; nothing was restored", .target.display())]
    Escape {
        /// The entry's path in the snapshot.
        entry: String,
        /// The target.
        target: PathBuf,
    },
    /// rustic_core stopped a restore because data could not be read,
    /// decrypted or written (it panics there; labbackup turns that into this).
    #[error("the restore into {} stopped: {reason}", .target.display())]
    RestoreStopped {
        /// The target.
        target: PathBuf,
        /// What rustic_core reported.
        reason: String,
    },
    /// The repository's backend was left out of this build.
    #[error(
        "the {backend} backend is not enabled in this build (cargo feature {feature} of labbackup)"
    )]
    NotEnabled {
        /// `rest` or `opendal`.
        backend: &'static str,
        /// The cargo feature that brings it.
        feature: &'static str,
    },
    /// The lab file has no such set.
    #[error("there is no backup set {0:?}")]
    NoSuchSet(String),
    /// The set has no snapshot yet.
    #[error("set {0} has no snapshot")]
    NoSnapshot(String),
    /// Restoring into a directory that has files in it.
    #[error("the restore target {} is not empty", .0.display())]
    TargetNotEmpty(PathBuf),
    /// The restore target could not be prepared.
    #[error("cannot prepare the restore target {}", .path.display())]
    Target {
        /// The target.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// One line per cause of `e`, joined with `: `. rustic_core's own errors
/// are shown by their message alone (their full form spans a page, with a
/// backtrace when `RUST_BACKTRACE` is set).
#[must_use]
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(r) = c.downcast_ref::<rustic_core::RusticError>() {
            parts.push(brief(r));
            break;
        }
        parts.push(tidy(&c.to_string()));
        cause = c.source();
    }
    parts.join(": ")
}

/// rustic_core's message, its placeholders filled, without kind or code.
fn brief(r: &rustic_core::RusticError) -> String {
    let log = r.display_log();
    let log = log.strip_prefix("Error: ").unwrap_or(&log);
    match log.split_once(" (kind: related to ") {
        Some((message, rest)) => match rest.split_once("): caused by: ") {
            Some((_, cause)) => format!("{message}: {}", tidy(cause)),
            None => message.to_owned(),
        },
        None => log.to_owned(),
    }
}

/// A message that embeds a rustic_core error's full form: its first part and
/// that error's message line.
pub(crate) fn tidy(text: &str) -> String {
    match text.split_once("`rustic_core` experienced an error") {
        Some((head, rest)) => {
            let message = rest
                .split_once("Message:\n")
                .and_then(|(_, m)| m.lines().next())
                .unwrap_or("");
            format!("{}{message}", head)
        }
        None => text.to_owned(),
    }
}

/// The repository's password, from its source. It never goes to argv, the
/// environment of hooks, logs or errors.
///
/// # Errors
/// [`BackupError`] when it cannot be read or is empty.
pub fn password(src: &PasswordSource) -> Result<String, BackupError> {
    let text = match src {
        PasswordSource::File(path) => {
            std::fs::read_to_string(path).map_err(|source| BackupError::PasswordFile {
                path: path.clone(),
                source,
            })?
        }
        PasswordSource::Command(argv) => {
            let (program, args) = argv.split_first().ok_or(BackupError::EmptyPassword)?;
            let program = program.clone();
            let out = Command::new(&program)
                .args(args)
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .output()
                .map_err(|e| BackupError::PasswordCommand {
                    program: program.clone(),
                    status: e.to_string(),
                })?;
            if !out.status.success() {
                return Err(BackupError::PasswordCommand {
                    program,
                    status: out.status.to_string(),
                });
            }
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
    };
    let first = text.lines().next().unwrap_or("").to_owned();
    if first.is_empty() {
        return Err(BackupError::EmptyPassword);
    }
    Ok(first)
}

/// A snapshot, as `snapshots` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct SnapshotInfo {
    /// Its id (hex).
    pub id: String,
    /// When it was taken (RFC 3339).
    pub time: String,
    /// The host it was taken on.
    pub host: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// Its paths.
    pub paths: Vec<String>,
    /// Files it holds (from its summary; 0 when it has none, as restic 0.14's).
    pub files: u64,
    /// Bytes of those files.
    pub bytes: u64,
    /// Bytes this snapshot added to the repository (before packing).
    pub added_bytes: u64,
    /// How long the backup took, seconds.
    pub duration_s: f64,
}

/// labbackup's own lock on a repository, held while it writes or prunes:
/// rustic_core takes no restic lock files. An OS file lock on
/// `REPOSITORY.labbackup-lock`, beside a local repository (restic does not
/// expect files of others inside it), or on `STATE_DIR/locks/URL.lock` for a
/// remote one (which then serialises only the processes of one host), so it
/// goes with the process, however it ends.
/// restic's own `prune` takes restic's locks, not this one: do not run it
/// while labbackup writes.
#[derive(Debug)]
pub struct WriteLock {
    _file: std::fs::File,
}

fn lock(backup: &Backup) -> Result<WriteLock, BackupError> {
    let repository = backup.repository.as_str();
    let path = if repository.starts_with('/') {
        PathBuf::from(format!(
            "{}.labbackup-lock",
            repository.trim_end_matches('/')
        ))
    } else {
        // A remote repository has no "beside": lock it in the state
        // directory, which serialises the labbackup processes of this host.
        let name: String = repository
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let dir = Path::new(&backup.state_dir).join("locks");
        std::fs::create_dir_all(&dir).map_err(|source| BackupError::Lock {
            path: dir.clone(),
            source,
        })?;
        dir.join(format!("{name}.lock"))
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|source| BackupError::Lock {
            path: path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
            let _ = file.set_len(0);
            let _ = std::io::Write::write_all(
                &mut &file,
                format!("{} {}\n", std::process::id(), host.trim()).as_bytes(),
            );
            Ok(WriteLock { _file: file })
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let mut words = text.split_whitespace();
            Err(BackupError::Locked {
                pid: words.next().unwrap_or("?").to_owned(),
                host: words.next().unwrap_or("?").to_owned(),
            })
        }
        Err(std::fs::TryLockError::Error(source)) => Err(BackupError::Lock { path, source }),
    }
}

/// A connection to the lab's repository.
#[derive(Debug)]
pub struct Repo {
    backup: Backup,
    password: String,
    progress: Option<Shared>,
}

/// Progress bars shared by every repository labbackup opens.
#[derive(Debug, Clone)]
struct Shared(std::sync::Arc<dyn ProgressBars>);

impl ProgressBars for Shared {
    fn progress(&self, kind: rustic_core::ProgressType, prefix: &str) -> rustic_core::Progress {
        self.0.progress(kind, prefix)
    }
}

pub(crate) fn fail(
    action: &'static str,
    repository: &str,
) -> impl FnOnce(Box<rustic_core::RusticError>) -> BackupError + use<> {
    let repository = repository.to_owned();
    move |source| BackupError::Repository {
        action,
        repository,
        source,
    }
}

impl Repo {
    /// The repository of `backup`, its password read from its source.
    ///
    /// # Errors
    /// The password cannot be read.
    pub fn new(backup: &Backup) -> Result<Self, BackupError> {
        Ok(Self {
            password: password(&backup.password)?,
            backup: backup.clone(),
            progress: None,
        })
    }

    /// Report progress (scanning, backing up, restoring, checking) to `bars`.
    #[must_use]
    pub fn with_progress(mut self, bars: impl ProgressBars) -> Self {
        self.progress = Some(Shared(std::sync::Arc::new(bars)));
        self
    }

    /// The lab's `[backup]` this repository belongs to.
    #[must_use]
    pub fn backup(&self) -> &Backup {
        &self.backup
    }

    /// Take labbackup's lock on the repository (see [`WriteLock`]); held
    /// until the returned value is dropped.
    ///
    /// # Errors
    /// [`BackupError::Locked`] with the holder, or the lock file cannot be made.
    pub fn write_lock(&self) -> Result<WriteLock, BackupError> {
        lock(&self.backup)
    }

    /// The repository, opened with the password (one key derivation).
    pub(crate) fn open(&self) -> Result<Repository<rustic_core::OpenStatus>, BackupError> {
        let r = self.backup.repository.as_str();
        self.repository("open")?
            .open(&Credentials::password(&self.password))
            .map_err(fail("open", r))
    }

    fn repository(&self, action: &'static str) -> Result<Repository<()>, BackupError> {
        self.repository_with(action, &RepositoryOptions::default())
    }

    pub(crate) fn repository_with(
        &self,
        action: &'static str,
        opts: &RepositoryOptions,
    ) -> Result<Repository<()>, BackupError> {
        let r = self.backup.repository.as_str();
        if r.starts_with("rest:") && !cfg!(feature = "rest") {
            return Err(BackupError::NotEnabled {
                backend: "REST",
                feature: "rest",
            });
        }
        if r.starts_with("opendal:") && !cfg!(feature = "opendal") {
            return Err(BackupError::NotEnabled {
                backend: "OpenDAL",
                feature: "opendal",
            });
        }
        let mut opts_b = BackendOptions::default().repository(r);
        opts_b.options.clone_from(&self.backup.repository_options);
        let backends = opts_b.to_backends().map_err(fail(action, r))?;
        match &self.progress {
            Some(p) => Repository::new_with_progress(opts, &backends, p.clone()),
            None => Repository::new(opts, &backends),
        }
        .map_err(fail(action, r))
    }

    /// restic's lock on the opened repository (none for an OpenDAL one,
    /// whose files labbackup cannot reach; see [`crate::resticlock`]).
    fn restic_lock<S: rustic_core::Open>(
        &self,
        repo: &Repository<S>,
    ) -> Result<Option<crate::resticlock::ResticLock>, BackupError> {
        crate::resticlock::Store::of(&self.backup.repository)
            .map(|store| crate::resticlock::ResticLock::acquire(store, &repo.key()))
            .transpose()
    }

    pub(crate) fn credentials(&self) -> Credentials {
        Credentials::password(&self.password)
    }

    /// Create the repository.
    ///
    /// # Errors
    /// It exists already, or cannot be written.
    pub fn init(&self) -> Result<(), BackupError> {
        let r = self.backup.repository.as_str();
        let _lock = self.write_lock()?;
        self.repository("initialise")?
            .init(
                &Credentials::password(&self.password),
                &KeyOptions::default(),
                &ConfigOptions::default(),
            )
            .map_err(fail("initialise", r))?;
        Ok(())
    }

    /// Back up `set` as one snapshot tagged with its name (and its tags), as
    /// taken on `host` (default: this machine's host name).
    ///
    /// # Errors
    /// The repository cannot be opened or written.
    pub fn backup_set(
        &self,
        set: &BackupSet,
        host: Option<&str>,
    ) -> Result<SnapshotInfo, BackupError> {
        let r = self.backup.repository.as_str();
        let _lock = self.write_lock()?;
        let repo = self.open()?;
        // restic's lock too, so restic's prune (or a labbackup elsewhere) waits.
        let _restic_lock = self.restic_lock(&repo)?;
        let repo = repo.to_indexed_ids().map_err(fail("index", r))?;
        let mut snap_opts = SnapshotOptions::default();
        if let Some(h) = host {
            snap_opts = snap_opts.host(h.to_owned());
        }
        let mut tags = vec![set.name.clone()];
        tags.extend(set.tags.iter().cloned());
        snap_opts = snap_opts
            .add_tags(&tags.join(","))
            .map_err(fail("tag a snapshot of", r))?;
        let snap = snap_opts
            .to_snapshot()
            .map_err(fail("start a snapshot in", r))?;
        let mut opts = BackupOptions::default();
        opts.excludes.globs = set.exclude.iter().map(|g| format!("!{g}")).collect();
        if let Some(argv) = &set.stdin_command {
            // rustic_core streams the command's output into one file; its
            // exit status is known only after the snapshot is saved.
            opts.stdin_command = Some(rustic_core::CommandInput::from(argv.clone()));
            opts.stdin_filename.clone_from(&set.stdin_filename);
            let source = PathList::from_string("-").map_err(fail("back up to", r))?;
            let time = snap.time.clone();
            return match repo.backup(&opts, &source, snap) {
                Ok(s) => Ok(info(&s)),
                Err(e) => {
                    // The command failed after rustic_core saved the snapshot
                    // it fed: a failed dump must not stand as the set's newest.
                    let partial: Vec<_> = repo
                        .get_all_snapshots()
                        .map_err(fail("list the snapshots of", r))?
                        .into_iter()
                        .filter(|s| s.time == time && s.tags.contains(&set.name))
                        .map(|s| s.id)
                        .collect();
                    if partial.is_empty() {
                        return Err(fail("back up to", r)(e));
                    }
                    repo.delete_snapshots(&partial)
                        .map_err(fail("delete snapshots from", r))?;
                    Err(BackupError::StdinCommand {
                        set: set.name.clone(),
                        source: e,
                    })
                }
            };
        }
        let source: PathList = set.paths.iter().map(PathBuf::from).collect();
        let source = source.sanitize().map_err(|e| BackupError::Paths {
            set: set.name.clone(),
            source: Box::new(e),
        })?;
        let s = repo
            .backup(&opts, &source, snap)
            .map_err(fail("back up to", r))?;
        Ok(info(&s))
    }

    /// Every snapshot, oldest first.
    ///
    /// # Errors
    /// The repository cannot be opened.
    pub fn snapshots(&self) -> Result<Vec<SnapshotInfo>, BackupError> {
        let r = self.backup.repository.as_str();
        let repo = self.open()?;
        let mut all: Vec<_> = repo
            .get_all_snapshots()
            .map_err(fail("list the snapshots of", r))?;
        all.sort_by(|a, b| a.time.cmp(&b.time));
        Ok(all.iter().map(info).collect())
    }

    /// Apply the retention policy to every set: decide, and unless `dry_run`
    /// delete the forgotten snapshots and prune the data only they used.
    /// Sets are decided apart (each set's snapshots carry its name as a tag).
    ///
    /// # Errors
    /// The repository cannot be opened, or deleting or pruning failed.
    pub fn forget(
        &self,
        dry_run: bool,
    ) -> Result<Vec<(String, Vec<crate::retention::Decision>)>, BackupError> {
        let r = self.backup.repository.as_str();
        // One open and one listing for every set's decision and the deletion.
        let repo = self.open()?;
        let all = repo
            .get_all_snapshots()
            .map_err(fail("list the snapshots of", r))?;
        let mut out = Vec::new();
        let mut gone = Vec::new();
        for set in &self.backup.sets {
            let d =
                crate::retention::decide(&self.backup.retention, &candidates_of(&all, &set.name));
            gone.extend(d.iter().filter(|x| !x.keep).map(|x| x.id.clone()));
            out.push((set.name.clone(), d));
        }
        if dry_run || gone.is_empty() {
            return Ok(out);
        }
        let _lock = self.write_lock()?;
        let _restic_lock = self.restic_lock(&repo)?;
        let ids: Vec<rustic_core::repofile::SnapshotId> = all
            .iter()
            .filter(|s| gone.iter().any(|g| g == s.id.to_hex().as_str()))
            .map(|s| s.id)
            .collect();
        repo.delete_snapshots(&ids)
            .map_err(fail("delete snapshots from", r))?;
        let opts = PruneOptions::default();
        let plan = repo.prune_plan(&opts).map_err(fail("plan pruning", r))?;
        repo.prune(&opts, plan).map_err(fail("prune", r))?;
        Ok(out)
    }

    /// Check the repository's structure, and read `read_data_percent` % of its
    /// pack data (100: all of it). The findings, as rustic_core words them;
    /// empty when the repository is sound.
    ///
    /// # Errors
    /// The repository cannot be opened or read.
    pub fn check(&self, read_data_percent: u8) -> Result<Vec<String>, BackupError> {
        let r = self.backup.repository.as_str();
        let repo = self.open()?.to_indexed().map_err(fail("index", r))?;
        check_open(&repo, read_data_percent, r)
    }

    /// The snapshots of `set` (tagged with its name), for a retention decision.
    ///
    /// # Errors
    /// The repository cannot be opened.
    pub fn candidates(&self, set: &str) -> Result<Vec<crate::retention::Candidate>, BackupError> {
        let r = self.backup.repository.as_str();
        let repo = self.open()?;
        let all = repo
            .get_all_snapshots()
            .map_err(fail("list the snapshots of", r))?;
        Ok(candidates_of(&all, set))
    }

    /// Restore the newest snapshot of `set` (or `snapshot`, an id prefix) into
    /// `target`, which must be empty or missing unless `overwrite`.
    ///
    /// # Errors
    /// No such set or snapshot, a target with files in it, or the repository failed.
    pub fn restore(
        &self,
        set: &str,
        snapshot: Option<&str>,
        target: &Path,
        overwrite: bool,
    ) -> Result<(), BackupError> {
        if self.backup.set(set).is_none() {
            return Err(BackupError::NoSuchSet(set.to_owned()));
        }
        if !overwrite && target.exists() {
            let mut entries = std::fs::read_dir(target).map_err(|source| BackupError::Target {
                path: target.to_owned(),
                source,
            })?;
            if entries.next().is_some() {
                return Err(BackupError::TargetNotEmpty(target.to_owned()));
            }
        }
        let r = self.backup.repository.as_str();
        let repo = self.open()?.to_indexed().map_err(fail("index", r))?;
        let wanted = set.to_owned();
        let id = match snapshot {
            Some(id) => id.to_owned(),
            None => {
                let mut snaps: Vec<_> = repo
                    .get_all_snapshots()
                    .map_err(fail("list the snapshots of", r))?
                    .into_iter()
                    .filter(|s| s.tags.contains(&wanted))
                    .collect();
                snaps.sort_by(|a, b| a.time.cmp(&b.time));
                snaps
                    .last()
                    .map(|s| s.id.to_string())
                    .ok_or_else(|| BackupError::NoSnapshot(wanted.clone()))?
            }
        };
        restore_snapshot(&repo, &id, target, r)
    }
}

/// Check an opened repository (see [`Repo::check`]), and name the files of
/// each snapshot whose data lies in a damaged pack.
pub(crate) fn check_open<S: rustic_core::IndexedFull>(
    repo: &Repository<S>,
    read_data_percent: u8,
    r: &str,
) -> Result<Vec<String>, BackupError> {
    let mut opts = CheckOptions::default();
    if read_data_percent > 0 {
        opts.read_data = true;
        opts.read_data_subset = if read_data_percent >= 100 {
            ReadSubsetOption::All
        } else {
            ReadSubsetOption::Percentage(f64::from(read_data_percent))
        };
    }
    let results = repo.check(opts).map_err(fail("check", r))?;
    let mut findings: Vec<String> = results
        .0
        .iter()
        .map(|(level, e)| format!("{level:?}: {}", tidy(&e.to_string())))
        .collect();
    findings.extend(affected_files(repo, &findings));
    Ok(findings)
}

/// The hex words of `text` of 8 digits or more: the ids (or their short
/// forms) that rustic_core's findings name.
fn hex_ids(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_ascii_hexdigit())
        .filter(|w| (8..=64).contains(&w.len()))
}

/// For findings that name packs, the snapshot files whose content is in them.
fn affected_files<S: rustic_core::IndexedFull>(
    repo: &Repository<S>,
    findings: &[String],
) -> Vec<String> {
    let named: Vec<String> = findings
        .iter()
        .flat_map(|f| hex_ids(f).map(str::to_ascii_lowercase))
        .collect();
    let named_id = |id: &str| named.iter().any(|n| id.starts_with(n.as_str()));
    if named.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let Ok(snaps) = repo.get_all_snapshots() else {
        return out;
    };
    for snap in &snaps {
        let id = snap.id.to_hex();
        let Ok(node) = repo.node_from_snapshot_path(id.as_str(), |_| true) else {
            continue;
        };
        let Ok(entries) = repo.ls(&node, &LsOptions::default()) else {
            continue;
        };
        for (path, node) in entries.flatten() {
            let damaged = node.content.iter().flatten().find_map(|blob| {
                if named_id(blob.to_hex().as_str()) {
                    return Some(format!("blob {}", &blob.to_hex().as_str()[..8]));
                }
                repo.get_index_entry(blob)
                    .ok()
                    .filter(|e| named_id(e.pack.to_hex().as_str()))
                    .map(|e| format!("pack {}", &e.pack.to_hex().as_str()[..8]))
            });
            if let Some(place) = damaged {
                out.push(format!(
                    "affected file: /{} in snapshot {} of set {} (data in the damaged {place})",
                    path.display(),
                    &id.as_str()[..8],
                    snap.tags.iter().next().map_or("?", String::as_str)
                ));
            }
        }
    }
    out
}

/// Restore snapshot `id` of an opened repository into `target`, after
/// [`contained`] has found every entry inside it.
pub(crate) fn restore_snapshot<S: rustic_core::IndexedFull>(
    repo: &Repository<S>,
    id: &str,
    target: &Path,
    r: &str,
) -> Result<(), BackupError> {
    let node = repo
        .node_from_snapshot_path(id, |_| true)
        .map_err(fail("find the snapshot in", r))?;
    let ls = LsOptions::default();
    contained(
        repo.ls(&node, &ls)
            .map_err(fail("read", r))?
            .map(|x| x.map_err(fail("read", r))),
        target,
    )?;
    let opts = RestoreOptions::default();
    let dest_text = format!("{}/", target.display());
    let dest =
        LocalDestination::new(&dest_text, true, !node.is_dir()).map_err(fail("restore from", r))?;
    let plan = repo
        .prepare_restore(
            &opts,
            repo.ls(&node, &ls).map_err(fail("read", r))?,
            &dest,
            false,
        )
        .map_err(fail("plan the restore from", r))?;
    let nodes = repo.ls(&node, &ls).map_err(fail("read", r))?;
    // rustic_core 0.13's restorer unwraps read, decrypt and write errors in
    // its worker threads (restore.rs, "TODO: error handling!"): a damaged
    // pack or a full disk would end the process. Catch that panic, keep its
    // message off standard error, and report it as an error.
    quiet_restore_panics();
    let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        repo.restore(plan, &opts, nodes, &dest)
    }));
    match done {
        Ok(result) => result.map_err(fail("restore from", r)),
        Err(payload) => {
            let text = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            Err(BackupError::RestoreStopped {
                target: target.to_owned(),
                reason: panic_reason(&text),
            })
        }
    }
}

/// The guidance of the rustic_core error inside a panic message, or the message.
fn panic_reason(text: &str) -> String {
    text.split_once("guidance: \"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map_or_else(
            || text.lines().next().unwrap_or("unknown").to_owned(),
            |(g, _)| g.to_owned(),
        )
}

/// Once per process: panics raised inside rustic_core's restorer are not
/// printed (they are reported as [`BackupError::RestoreStopped`]); every
/// other panic goes to the hook that was there before.
fn quiet_restore_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_restorer = info.location().is_some_and(|l| {
                l.file().contains("rustic_core") && l.file().ends_with("restore.rs")
            });
            if !in_restorer {
                previous(info);
            }
        }));
    });
}

/// Refuse a restore that would write outside `target`: every entry's path
/// must be plain names (no `..`, no root), no entry may lie below a symbolic
/// link of the snapshot, and nothing may be written through a symbolic link
/// already in the target. Checked before anything is written, so a refused
/// restore changes nothing.
pub(crate) fn contained(
    entries: impl Iterator<Item = Result<(PathBuf, rustic_core::repofile::Node), BackupError>>,
    target: &Path,
) -> Result<(), BackupError> {
    use std::path::Component;
    let mut links = std::collections::HashSet::new();
    let escape = |p: &Path| BackupError::Escape {
        entry: p.display().to_string(),
        target: target.to_owned(),
    };
    for entry in entries {
        let (path, node) = entry?;
        if path.as_os_str().is_empty()
            || !path.components().all(|c| matches!(c, Component::Normal(_)))
            || node.name.contains('/')
        {
            return Err(escape(&path));
        }
        let mut above = path.parent();
        while let Some(a) = above.filter(|a| !a.as_os_str().is_empty()) {
            if links.contains(a) {
                return Err(escape(&path));
            }
            if target
                .join(a)
                .symlink_metadata()
                .is_ok_and(|m| m.is_symlink())
            {
                return Err(escape(&path));
            }
            above = a.parent();
        }
        let is_link = matches!(
            node.node_type,
            rustic_core::repofile::NodeType::Symlink { .. }
        );
        if !is_link
            && target
                .join(&path)
                .symlink_metadata()
                .is_ok_and(|m| m.is_symlink())
        {
            return Err(escape(&path));
        }
        if is_link {
            links.insert(path);
        }
    }
    Ok(())
}

/// The snapshots of `set` (tagged with its name) among `all`.
fn candidates_of(
    all: &[rustic_core::repofile::SnapshotFile],
    set: &str,
) -> Vec<crate::retention::Candidate> {
    all.iter()
        .filter(|s| s.tags.contains(set))
        .map(|s| {
            crate::retention::Candidate::new(s.id.to_hex().as_str().to_owned(), s.time.clone())
        })
        .collect()
}

fn info(s: &rustic_core::repofile::SnapshotFile) -> SnapshotInfo {
    SnapshotInfo {
        id: s.id.to_hex().as_str().to_owned(),
        time: s.time.timestamp().to_string(),
        host: s.hostname.clone(),
        tags: s.tags.iter().cloned().collect(),
        paths: s.paths.iter().cloned().collect(),
        files: s.summary.as_ref().map_or(0, |x| x.total_files_processed),
        bytes: s.summary.as_ref().map_or(0, |x| x.total_bytes_processed),
        added_bytes: s.summary.as_ref().map_or(0, |x| x.data_added),
        duration_s: s.summary.as_ref().map_or(0.0, |x| x.backup_duration),
    }
}
