//! Backing up one set as the lab file describes it: its `before` hook, the
//! backup of its paths (or of its `stdin_command`'s output), its `after` hook,
//! and what happened, as data.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::model::BackupSet;
use crate::repo::{BackupError, Repo, SnapshotInfo};

/// Environment variables a hook never inherits: restic's and rustic's ways of
/// passing a repository password, in case labbackup itself was given one.
const PASSWORD_VARIABLES: &[&str] = &[
    "RESTIC_PASSWORD",
    "RESTIC_PASSWORD_FILE",
    "RESTIC_PASSWORD_COMMAND",
    "RUSTIC_PASSWORD",
    "RUSTIC_PASSWORD_FILE",
    "RUSTIC_PASSWORD_COMMAND",
];

/// How much of a hook's standard error a report keeps (its end).
const STDERR_KEPT: usize = 4096;

/// Which hook ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HookPhase {
    /// Before the backup.
    Before,
    /// After the backup, whether or not it succeeded.
    After,
}

/// One run of a hook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HookRun {
    /// Before or after.
    pub phase: HookPhase,
    /// The command, as the lab file gives it.
    pub argv: Vec<String>,
    /// Its exit code; `None` when it could not start or a signal ended it.
    pub exit_code: Option<i32>,
    /// Whether it succeeded.
    pub success: bool,
    /// The end of its standard error (at most 4 KiB), or why it could not start.
    pub stderr: String,
    /// How long it ran, in milliseconds.
    pub duration_ms: u64,
    /// When it ended, milliseconds since the Unix epoch (to line up with the backup).
    pub ended_ms: u64,
}

/// How a set's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// Backed up, every hook succeeded.
    Ok,
    /// The `before` hook failed: nothing was backed up (`after` still ran).
    Skipped,
    /// Some source paths were missing: the others were backed up.
    Partial,
    /// The backup failed, or the `after` hook did.
    Failed,
}

/// What happened to one set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SetRun {
    /// The set.
    pub set: String,
    /// How it ended.
    pub outcome: Outcome,
    /// The snapshot made, if one was.
    pub snapshot: Option<SnapshotInfo>,
    /// The hooks that ran, in order.
    pub hooks: Vec<HookRun>,
    /// Source paths that did not exist.
    pub missing_paths: Vec<String>,
    /// Why the backup failed, with its causes.
    pub error: Option<String>,
    /// When the backup itself started and ended, milliseconds since the Unix
    /// epoch (between the hooks).
    pub backup_started_ms: u64,
    /// See `backup_started_ms`.
    pub backup_ended_ms: u64,
    /// The whole run, hooks included, in milliseconds.
    pub duration_ms: u64,
}

impl SetRun {
    /// Whether the set counts as backed up (no missing path, no failed hook).
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.outcome == Outcome::Ok
    }
}

pub(crate) fn now_ms() -> u64 {
    u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis()),
    )
    .unwrap_or(u64::MAX)
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Run a hook: no shell, no standard input, no password variables; its
/// standard output is discarded and the end of its standard error kept.
pub(crate) fn hook(phase: HookPhase, argv: &[String]) -> HookRun {
    let started = Instant::now();
    let Some((program, args)) = argv.split_first() else {
        return HookRun {
            phase,
            argv: Vec::new(),
            exit_code: None,
            success: false,
            stderr: "an empty command".to_owned(),
            duration_ms: 0,
            ended_ms: now_ms(),
        };
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for v in PASSWORD_VARIABLES {
        cmd.env_remove(v);
    }
    let (exit_code, success, stderr) = match cmd.output() {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stderr);
            let cut = text.len().saturating_sub(STDERR_KEPT);
            let cut = (cut..text.len())
                .find(|&i| text.is_char_boundary(i))
                .unwrap_or(text.len());
            (
                out.status.code(),
                out.status.success(),
                text[cut..].trim_end().to_owned(),
            )
        }
        Err(e) => (None, false, format!("cannot run {program}: {e}")),
    };
    HookRun {
        phase,
        argv: argv.to_vec(),
        exit_code,
        success,
        stderr,
        duration_ms: millis(started.elapsed()),
        ended_ms: now_ms(),
    }
}

pub(crate) fn chain(e: &BackupError) -> String {
    crate::repo::describe(e)
}

impl Repo {
    /// Back up `set` as the lab file says: run `before` (a failure skips the
    /// backup), back up the paths that exist (a missing one is reported and
    /// the run counts as partial) or the output of `stdin_command`, then run
    /// `after`, whatever happened before it. Never an error: every failure
    /// is in the returned [`SetRun`].
    #[must_use]
    pub fn run_set(&self, set: &BackupSet, host: Option<&str>) -> SetRun {
        let started = Instant::now();
        let mut run = SetRun {
            set: set.name.clone(),
            outcome: Outcome::Ok,
            snapshot: None,
            hooks: Vec::new(),
            missing_paths: Vec::new(),
            error: None,
            backup_started_ms: 0,
            backup_ended_ms: 0,
            duration_ms: 0,
        };
        let before_ok = match &set.before {
            Some(argv) => {
                let h = hook(HookPhase::Before, argv);
                let ok = h.success;
                run.hooks.push(h);
                ok
            }
            None => true,
        };
        if before_ok {
            run.backup_started_ms = now_ms();
            let result = if set.stdin_command.is_some() {
                self.backup_set(set, host)
            } else {
                let (present, missing): (Vec<String>, Vec<String>) = set
                    .paths
                    .iter()
                    .cloned()
                    .partition(|p| Path::new(p).symlink_metadata().is_ok());
                run.missing_paths = missing;
                if present.is_empty() {
                    Err(BackupError::NoSourcePath(set.name.clone()))
                } else {
                    let mut only = set.clone();
                    only.paths = present;
                    self.backup_set(&only, host)
                }
            };
            run.backup_ended_ms = now_ms();
            match result {
                Ok(s) => {
                    run.snapshot = Some(s);
                    if !run.missing_paths.is_empty() {
                        run.outcome = Outcome::Partial;
                    }
                }
                Err(e) => {
                    run.error = Some(chain(&e));
                    run.outcome = Outcome::Failed;
                }
            }
        } else {
            run.outcome = Outcome::Skipped;
        }
        if let Some(argv) = &set.after {
            let h = hook(HookPhase::After, argv);
            if !h.success && matches!(run.outcome, Outcome::Ok | Outcome::Partial) {
                run.outcome = Outcome::Failed;
            }
            run.hooks.push(h);
        }
        run.duration_ms = millis(started.elapsed());
        run
    }
}
