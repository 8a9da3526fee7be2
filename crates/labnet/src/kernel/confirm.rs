//! Commit-confirmed: an apply that undoes itself unless confirmed in time.
//!
//! [`super::apply::apply`] with a confirmation window does not touch the
//! kernel itself. It saves the table as it was in a pending record, starts a
//! watchdog process (its own process group, deaf to hang-ups) and only then
//! tells it to load; the watchdog loads, starts the window once the new
//! ruleset is live, and restores the saved table at the deadline unless the
//! record was confirmed away first. So whenever the applying process dies,
//! the outcome is one of two: the new ruleset was never loaded (the watchdog
//! had not been told to go, saw its input close, and left), or it was loaded
//! by a watchdog that will roll it back at the deadline.
//!
//! The record is created with a hard link (exactly one of two concurrent
//! applies gets it), changed only under the namespace's lock, and taken by
//! rename (confirm, cancel and the watchdog cannot both act). A watchdog is
//! named by pid and start time, so a pid the kernel reused is never signalled.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::coexist::{self, Coexist};
use super::netns::Netns;
use super::state::{self, Lock, Process, now, record_path, rfc3339, state_err, write_atomic};
use super::{Backend, KernelError, nft_cli};
use crate::ir::PolicyIr;
use crate::target::TableName;

/// Why a confirmation window was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationError {
    /// Not a number with an optional `s`, `m` or `h`.
    #[error("{0:?} is not a duration (try 60s, 2m or 1h)")]
    Malformed(String),
    /// Zero.
    #[error("the confirmation window must be longer than 0s")]
    Zero,
    /// So long that the deadline cannot be written down.
    #[error("{0:?} is too long: the deadline would overflow")]
    Overflow(String),
}

/// Parse `60s`, `2m`, `1h` or plain seconds.
///
/// # Errors
/// Not a duration, zero, or so long that a deadline after it overflows.
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, 's')) => (&t[..i], 1),
        Some((i, 'm')) => (&t[..i], 60),
        Some((i, 'h')) => (&t[..i], 3600),
        _ => (t, 1),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| DurationError::Malformed(s.to_owned()))?;
    if n == 0 {
        return Err(DurationError::Zero);
    }
    let secs = n
        .checked_mul(mult)
        .ok_or_else(|| DurationError::Overflow(s.to_owned()))?;
    deadline_after(now(), secs).ok_or_else(|| DurationError::Overflow(s.to_owned()))?;
    Ok(Duration::from_secs(secs))
}

/// `now + secs`, if it can be a deadline (also as a `SystemTime` and an RFC 3339 year).
fn deadline_after(now: u64, secs: u64) -> Option<u64> {
    let d = now.checked_add(secs)?;
    // Year 9999 is as far as RFC 3339 writes.
    (d < 253_402_300_800).then_some(d)
}

/// Where a pending apply is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum PendingState {
    /// The record exists; the watchdog has not been told to load.
    Arming,
    /// The watchdog is loading the new ruleset.
    Loading,
    /// The new ruleset is live; the window is running.
    Live,
}

/// A pending, unconfirmed apply: the record on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Pending {
    /// Record format.
    pub version: u32,
    /// Namespace name (`None`: the host's).
    pub netns: Option<String>,
    /// labnet's table.
    pub table: String,
    /// How the watchdog loads.
    pub backend: Backend,
    /// Other firewalls the apply makes room in.
    pub coexist: Vec<Coexist>,
    /// `nft list table` text before the apply; `None` if the table was absent.
    pub previous: Option<String>,
    /// labnet's DOCKER-USER rules before the apply (`iptables -S` lines).
    pub previous_coexist: Vec<String>,
    /// Length of the confirmation window, seconds.
    pub window_secs: u64,
    /// Where it is.
    pub state: PendingState,
    /// When the record was made.
    pub created: u64,
    /// When the rollback happens (seconds since the epoch), once live.
    pub deadline: Option<u64>,
    /// The applying process.
    pub applier: Option<Process>,
    /// The watchdog, once started.
    pub watchdog: Option<Process>,
}

/// Whether anyone will act on a pending record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Health {
    /// The watchdog is running (or the apply that made the record still is).
    Watched,
    /// Stale: the watchdog is gone after the load may have happened, so no
    /// rollback will come. Confirm to keep the live ruleset, cancel to restore.
    WatchdogGone,
    /// Stale but harmless: the apply died before the kernel was touched.
    NeverLoaded,
}

/// A pending apply as `status`, `confirm` and refusals describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PendingView {
    /// Namespace (`None`: the host's).
    pub netns: Option<String>,
    /// labnet's table.
    pub table: String,
    /// Where it is.
    pub state: PendingState,
    /// Rollback deadline, seconds since the epoch.
    pub deadline: Option<u64>,
    /// The same, as RFC 3339 UTC.
    pub deadline_utc: Option<String>,
    /// Seconds left until the deadline (0 once passed).
    pub remaining_secs: Option<u64>,
    /// The watchdog's pid, if one was started.
    pub watchdog_pid: Option<u32>,
    /// Whether anyone will act on it.
    pub health: Health,
}

impl std::fmt::Display for PendingView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = super::where_ns(self.netns.as_deref());
        match (self.health, self.state, &self.deadline_utc) {
            (Health::WatchdogGone, ..) => write!(
                f,
                "an unconfirmed apply to {at} has lost its watchdog (pid {}): no rollback will happen; confirm it to keep the live ruleset, or cancel it to restore the saved one",
                self.watchdog_pid
                    .map_or_else(|| "?".into(), |p| p.to_string())
            ),
            (Health::NeverLoaded, ..) => write!(
                f,
                "a pending record for {at} was left by an apply that died before changing the kernel"
            ),
            (_, PendingState::Live, Some(d)) => write!(
                f,
                "an apply to {at} is waiting for confirmation until {d} ({}s left); confirm it to keep it, or cancel it to restore the previous ruleset now",
                self.remaining_secs.unwrap_or(0)
            ),
            _ => write!(
                f,
                "an apply to {at} is being loaded and will wait for confirmation"
            ),
        }
    }
}

impl Pending {
    /// Whether anyone will act on it.
    #[must_use]
    pub fn health(&self) -> Health {
        if self.watchdog.is_some_and(|w| w.is_alive()) {
            return Health::Watched;
        }
        match self.state {
            PendingState::Arming if self.applier.is_some_and(|a| a.is_alive()) => Health::Watched,
            PendingState::Arming => Health::NeverLoaded,
            _ => Health::WatchdogGone,
        }
    }

    /// How it reads in status and refusals.
    #[must_use]
    pub fn view(&self) -> PendingView {
        let t = now();
        PendingView {
            netns: self.netns.clone(),
            table: self.table.clone(),
            state: self.state,
            deadline: self.deadline,
            deadline_utc: self.deadline.map(rfc3339),
            remaining_secs: self.deadline.map(|d| d.saturating_sub(t)),
            watchdog_pid: self.watchdog.map(|w| w.pid),
            health: self.health(),
        }
    }
}

fn read(path: &Path) -> Result<Option<Pending>, KernelError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(state_err("cannot read", path, e)),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| KernelError::State {
            what: format!("not a pending record ({e}):"),
            path: path.to_owned(),
            source: None,
        })
}

fn encode(p: &Pending) -> Vec<u8> {
    serde_json::to_vec_pretty(p).unwrap_or_default()
}

/// The pending record of `netns`, if any.
///
/// # Errors
/// The record exists but cannot be read.
pub fn pending(netns: Option<&str>) -> Result<Option<Pending>, KernelError> {
    read(&record_path(netns))
}

/// Forget a record whose apply died before changing anything (call under the lock).
pub(crate) fn discard(netns: Option<&str>) {
    let _ = std::fs::remove_file(record_path(netns));
    let _ = std::fs::remove_file(state::payload_path(netns));
}

/// How the watchdog is started: labnet's binary runs `labnet __watchdog RECORD`;
/// another front end passes its own program and hidden subcommand, which calls
/// [`watchdog_main`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WatchdogCommand {
    /// The program.
    pub program: PathBuf,
    /// Arguments before the record's path.
    pub args: Vec<std::ffi::OsString>,
}

impl WatchdogCommand {
    /// `program ARGS... RECORD`.
    #[must_use]
    pub fn new(
        program: impl Into<PathBuf>,
        args: impl IntoIterator<Item = impl Into<std::ffi::OsString>>,
    ) -> Self {
        Self {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
        }
    }
}

/// What the watchdog tells the applying process, one JSON line each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub(crate) enum Event {
    /// Running, the record is ours; waiting for `go`.
    Ready,
    /// The new ruleset is live.
    Live {
        deadline: u64,
        backend: Backend,
        coexist_rules: usize,
    },
    /// Loading failed. `changed`: the kernel still differs from before.
    Failed { error: String, changed: bool },
}

/// A running watchdog as the applying process sees it.
pub(crate) struct Started {
    child: std::process::Child,
    lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
}

impl Started {
    pub(crate) fn spawn(cmd: &WatchdogCommand, netns: Option<&str>) -> Result<Self, KernelError> {
        use std::os::unix::process::CommandExt as _;
        use std::process::{Command, Stdio};
        let record = record_path(netns);
        let log_path = state::log_path(netns);
        let log = std::fs::File::create(&log_path)
            .map_err(|e| state_err("cannot create", &log_path, e))?;
        let mut child = Command::new(&cmd.program)
            .args(&cmd.args)
            .arg(&record)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            // Its own process group: a Ctrl-C or a dropped SSH session must
            // not take the rollback with it.
            .process_group(0)
            .spawn()
            .map_err(|e| KernelError::State {
                what: format!(
                    "cannot start the rollback watchdog {}:",
                    cmd.program.display()
                ),
                path: record.clone(),
                source: Some(e),
            })?;
        let out = child.stdout.take().ok_or_else(|| KernelError::State {
            what: "the watchdog has no output pipe:".into(),
            path: record.clone(),
            source: None,
        })?;
        Ok(Self {
            child,
            lines: std::io::BufReader::new(out).lines(),
        })
    }

    pub(crate) fn next(&mut self) -> Option<Event> {
        let line = self.lines.next()?.ok()?;
        serde_json::from_str(&line).ok()
    }

    pub(crate) fn go(&mut self) -> bool {
        self.child
            .stdin
            .as_mut()
            .is_some_and(|i| i.write_all(b"go\n").and_then(|()| i.flush()).is_ok())
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Create the record of a new pending apply (call under the lock). Fails if
/// one exists, even one that appeared a moment ago.
pub(crate) fn create(p: &Pending) -> Result<(), KernelError> {
    write_atomic(&record_path(p.netns.as_deref()), &encode(p), true)
}

fn update(p: &Pending) -> Result<(), KernelError> {
    write_atomic(&record_path(p.netns.as_deref()), &encode(p), false)
}

/// What the watchdog did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WatchdogOutcome {
    /// The applying process went away before saying go: nothing was loaded.
    Aborted,
    /// Loading failed (and anything it had changed was restored).
    Failed,
    /// Confirmed or cancelled in time: the new ruleset stays (or was restored by cancel).
    Confirmed,
    /// Not confirmed: the saved ruleset was restored.
    RolledBack,
}

/// The watchdog's whole life. Run by the hidden subcommand that
/// [`WatchdogCommand`] names, with stdin and stdout the pipes from the
/// applying process.
///
/// # Errors
/// The record cannot be read or the rollback failed (see the watchdog log).
pub fn watchdog_main(record: &Path) -> Result<WatchdogOutcome, KernelError> {
    // A hang-up must not end it: the admin who locked themselves out over SSH
    // is exactly who needs the rollback. (Blocked, not ignored: no unsafe.)
    let mut deaf = nix::sys::signal::SigSet::empty();
    deaf.add(nix::sys::signal::Signal::SIGHUP);
    deaf.add(nix::sys::signal::Signal::SIGINT);
    let _ = deaf.thread_block();
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    run_watchdog(record, &mut stdin.lock(), &mut stdout)
}

fn say(out: &mut impl Write, e: &Event) {
    // The applying process may be gone; the watchdog carries on regardless.
    if let Ok(line) = serde_json::to_string(e) {
        let _ = writeln!(out, "{line}").and_then(|()| out.flush());
    }
    eprintln_log(&format!("{e:?}"));
}

fn eprintln_log(s: &str) {
    let _ = writeln!(std::io::stderr(), "{}: {s}", rfc3339(now()));
}

fn run_watchdog(
    record: &Path,
    input: &mut impl BufRead,
    out: &mut impl Write,
) -> Result<WatchdogOutcome, KernelError> {
    let mut p = read(record)?.ok_or_else(|| KernelError::State {
        what: "no pending record at".into(),
        path: record.to_owned(),
        source: None,
    })?;
    let netns = p.netns.clone();
    if p.state != PendingState::Arming {
        return Err(KernelError::State {
            what: "the pending record is not waiting for a watchdog:".into(),
            path: record.to_owned(),
            source: None,
        });
    }
    p.watchdog = Process::current();
    update(&p)?;
    say(out, &Event::Ready);
    let mut line = String::new();
    if input.read_line(&mut line).unwrap_or(0) == 0 || line.trim() != "go" {
        // The applying process died or changed its mind before the kernel was touched.
        eprintln_log("the applying process went away before go: nothing loaded");
        discard(netns.as_deref());
        return Ok(WatchdogOutcome::Aborted);
    }
    p.state = PendingState::Loading;
    update(&p)?;
    let loaded = load_payload(&p);
    let (backend, coexist_rules) = match loaded {
        Ok(x) => x,
        Err((e, touched)) => {
            let changed = touched && restore(&p).is_err();
            say(
                out,
                &Event::Failed {
                    error: e.to_string(),
                    changed,
                },
            );
            discard(netns.as_deref());
            return Ok(WatchdogOutcome::Failed);
        }
    };
    // The window starts now that the new ruleset is live.
    let deadline = deadline_after(now(), p.window_secs).unwrap_or(u64::MAX);
    p.state = PendingState::Live;
    p.deadline = Some(deadline);
    update(&p)?;
    say(
        out,
        &Event::Live {
            deadline,
            backend,
            coexist_rules,
        },
    );
    // Wait, waking each second to leave early once confirmed or cancelled.
    while now() < deadline {
        if !record.exists() {
            return Ok(WatchdogOutcome::Confirmed);
        }
        std::thread::sleep(
            Duration::from_secs(1).min(Duration::from_secs(deadline.saturating_sub(now()))),
        );
    }
    let _lock = Lock::wait(netns.as_deref())?;
    let Some(taken) = take(netns.as_deref())? else {
        return Ok(WatchdogOutcome::Confirmed);
    };
    let res = restore(&taken);
    finish_taken(netns.as_deref());
    eprintln_log(&format!("rollback: {res:?}"));
    res.map(|()| WatchdogOutcome::RolledBack)
}

/// Load the pending apply's payload. On error, whether the kernel was touched.
fn load_payload(p: &Pending) -> Result<(Backend, usize), (KernelError, bool)> {
    let netns = p.netns.as_deref();
    let path = state::payload_path(netns);
    let untouched = |e| (e, false);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| untouched(state_err("cannot read", &path, e)))?;
    let file = crate::labfile::parse(&path.display().to_string(), &text).map_err(|d| {
        untouched(KernelError::State {
            what: format!("the saved lab is invalid: {d}"),
            path: path.clone(),
            source: None,
        })
    })?;
    let table = TableName::new(p.table.clone()).map_err(|e| {
        untouched(KernelError::State {
            what: e.to_string(),
            path: path.clone(),
            source: None,
        })
    })?;
    let ns = Netns::named(netns).map_err(untouched)?;
    let ir = PolicyIr::build(file.lab());
    let backend = super::load(&ns, &ir, &table, p.backend).map_err(untouched)?;
    let mut rules = 0;
    if p.coexist.contains(&Coexist::Docker) {
        rules = coexist::apply_docker(&ns, &ir.lab_nets).map_err(|e| (e, true))?;
    }
    Ok((backend, rules))
}

/// Take the record by renaming it (whoever renames first acts). `None`: gone already.
fn take(netns: Option<&str>) -> Result<Option<Pending>, KernelError> {
    let path = record_path(netns);
    let taken = path.with_extension("taken");
    match std::fs::rename(&path, &taken) {
        Ok(()) => read(&taken),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(state_err("cannot take", &path, e)),
    }
}

fn finish_taken(netns: Option<&str>) {
    let _ = std::fs::remove_file(record_path(netns).with_extension("taken"));
    let _ = std::fs::remove_file(state::payload_path(netns));
}

/// Put back what the record saved, each part in one transaction: the table
/// (or no table, if there was none) and labnet's DOCKER-USER rules.
///
/// # Errors
/// The namespace is gone, or `nft` or `iptables` refused.
pub fn restore(p: &Pending) -> Result<(), KernelError> {
    let ns = Netns::named(p.netns.as_deref())?;
    let touched = !p.coexist.is_empty() || !p.previous_coexist.is_empty();
    restore_saved(
        &ns,
        &p.table,
        p.previous.as_deref(),
        touched.then_some(&p.previous_coexist[..]),
    )
}

/// Put `previous` back as table `table` (no table when `None`) in one
/// transaction, and, when `coexist` is given, make labnet's DOCKER-USER rules
/// exactly those lines again. Shared by the watchdog, cancel, and an apply
/// undoing itself after a failure.
pub(crate) fn restore_saved(
    ns: &Netns,
    table: &str,
    previous: Option<&str>,
    coexist: Option<&[String]>,
) -> Result<(), KernelError> {
    let mut script = format!("table ip {table}\ndelete table ip {table}\n");
    script.push_str(previous.unwrap_or(""));
    nft_cli::load(ns, &script)?;
    if let Some(lines) = coexist {
        coexist::restore_docker(ns, lines)?;
    }
    Ok(())
}

/// What `confirm` found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Confirmed {
    /// Kept; the watchdog was told to stop (if it was still this watchdog).
    Kept(PendingView),
    /// Nothing was pending.
    NothingPending,
    /// The apply is still loading; there is nothing to confirm yet.
    NotLiveYet(PendingView),
}

/// Confirm the pending apply in `netns`: keep the new ruleset and stop the watchdog.
///
/// # Errors
/// Another labnet holds the lock, or the record cannot be read or removed.
pub fn confirm(netns: Option<&str>) -> Result<Confirmed, KernelError> {
    let _lock = Lock::try_take(netns)?;
    let Some(p) = pending(netns)? else {
        return Ok(Confirmed::NothingPending);
    };
    let view = p.view();
    if p.state != PendingState::Live && view.health == Health::Watched {
        return Ok(Confirmed::NotLiveYet(view));
    }
    let Some(taken) = take(netns)? else {
        return Ok(Confirmed::NothingPending);
    };
    finish_taken(netns);
    if let Some(w) = taken.watchdog {
        // Only if it is still that watchdog: a pid can be reused.
        w.terminate();
    }
    Ok(Confirmed::Kept(view))
}

/// What `cancel` did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cancelled {
    /// The saved ruleset is back.
    Restored(PendingView),
    /// Nothing was pending.
    NothingPending,
    /// A record left by an apply that never loaded was removed; nothing else changed.
    Discarded(PendingView),
}

/// Cancel the pending apply in `netns`: restore the saved ruleset now.
///
/// # Errors
/// Another labnet holds the lock, or the restore failed (the record is kept,
/// renamed to `pending.taken`, for a retry by hand).
pub fn cancel(netns: Option<&str>) -> Result<Cancelled, KernelError> {
    let _lock = Lock::try_take(netns)?;
    let Some(p) = pending(netns)? else {
        return Ok(Cancelled::NothingPending);
    };
    let view = p.view();
    if view.health == Health::NeverLoaded {
        discard(netns);
        return Ok(Cancelled::Discarded(view));
    }
    let Some(taken) = take(netns)? else {
        return Ok(Cancelled::NothingPending);
    };
    if let Some(w) = taken.watchdog {
        w.terminate();
    }
    restore(&taken)?;
    finish_taken(netns);
    Ok(Cancelled::Restored(view))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("0s"), Err(DurationError::Zero));
        assert!(matches!(
            parse_duration("soon"),
            Err(DurationError::Malformed(_))
        ));
        assert!(matches!(
            parse_duration("18446744073709551615s"),
            Err(DurationError::Overflow(_))
        ));
        assert!(matches!(
            parse_duration("9999999999999999h"),
            Err(DurationError::Overflow(_))
        ));
        assert!(
            matches!(
                parse_duration("300000000000s"),
                Err(DurationError::Overflow(_))
            ),
            "past year 9999"
        );
        assert!(!DurationError::Zero.to_string().contains("--"));
    }
}
