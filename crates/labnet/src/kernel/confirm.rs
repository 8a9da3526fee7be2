//! Commit-confirmed: an apply that undoes itself unless confirmed in time.
//!
//! `labnet apply --confirm-within 60s` saves the table as it was, applies, and
//! leaves a watchdog process that restores the saved table at the deadline
//! unless `labnet confirm` removed the pending record first. An admin who
//! locked themselves out over SSH just waits. Whoever takes the record file
//! first (confirm removes it, the watchdog renames it) wins, so the two
//! cannot both act.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::KernelError;
use super::netns::Netns;
use super::nft_cli;

/// A pending, unconfirmed apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// Namespace name (`None`: the host's).
    pub netns: Option<String>,
    /// labnet's table.
    pub table: String,
    /// `nft list table` text before the apply; `None` if the table was absent.
    pub previous: Option<String>,
    /// Seconds since the epoch when the rollback happens.
    pub deadline: u64,
    /// The watchdog's process id, once started.
    pub watchdog_pid: Option<u32>,
}

/// Where pending records live: `$LABNET_STATE_DIR`, else `/run/labnet`
/// (tmpfs: a reboot forgets them, and a reboot also forgets the ruleset).
#[must_use]
pub fn state_dir() -> PathBuf {
    std::env::var_os("LABNET_STATE_DIR").map_or_else(|| PathBuf::from("/run/labnet"), PathBuf::from)
}

/// The record file for a namespace.
#[must_use]
pub fn record_path(netns: Option<&str>) -> PathBuf {
    state_dir().join(format!("pending-{}.json", netns.unwrap_or("host")))
}

fn state_err(what: String, e: std::io::Error) -> KernelError {
    KernelError::State {
        what,
        source: Some(e),
    }
}

/// Parse `60s`, `2m`, `1h` or plain seconds.
///
/// # Errors
/// Not a duration, or zero.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 's')) => (&s[..i], 1),
        Some((i, 'm')) => (&s[..i], 60),
        Some((i, 'h')) => (&s[..i], 3600),
        _ => (s, 1),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (try 60s, 2m or 1h)"))?;
    if n == 0 {
        return Err("the confirmation window must be longer than 0s".into());
    }
    n.checked_mul(mult)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{s:?} is too long"))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Save what `table` holds now in `ns` and record a pending apply. Call before applying.
///
/// # Errors
/// Another apply is already pending there, or the state cannot be written.
pub fn arm(
    ns: &Netns,
    netns: Option<&str>,
    table: &str,
    within: Duration,
) -> Result<(PathBuf, Pending), KernelError> {
    let path = record_path(netns);
    if path.exists() {
        return Err(KernelError::State {
            what: format!(
                "an apply is already waiting for confirmation ({}); run `labnet confirm` first",
                path.display()
            ),
            source: None,
        });
    }
    let previous = nft_cli::list_table(ns, table)?;
    let pending = Pending {
        netns: netns.map(str::to_owned),
        table: table.to_owned(),
        previous,
        deadline: now() + within.as_secs(),
        watchdog_pid: None,
    };
    write(&path, &pending)?;
    Ok((path, pending))
}

/// Record the watchdog's pid.
///
/// # Errors
/// The record cannot be rewritten.
pub fn set_watchdog(path: &Path, pending: &mut Pending, pid: u32) -> Result<(), KernelError> {
    pending.watchdog_pid = Some(pid);
    write(path, pending)
}

fn write(path: &Path, p: &Pending) -> Result<(), KernelError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| state_err(format!("cannot create {}", dir.display()), e))?;
    let text = serde_json::to_string_pretty(p).map_err(|e| KernelError::State {
        what: format!("cannot encode the pending record: {e}"),
        source: None,
    })?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)
        .map_err(|e| state_err(format!("cannot write {}", tmp.display()), e))?;
    std::fs::rename(&tmp, path)
        .map_err(|e| state_err(format!("cannot write {}", path.display()), e))
}

fn read(path: &Path) -> Result<Pending, KernelError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| state_err(format!("cannot read {}", path.display()), e))?;
    serde_json::from_str(&text).map_err(|e| KernelError::State {
        what: format!("{} is not a pending record: {e}", path.display()),
        source: None,
    })
}

/// Confirm the pending apply in `netns`: keep the new ruleset and stop the watchdog.
/// `Ok(None)` when nothing was pending (or the rollback already happened).
///
/// # Errors
/// The record cannot be read or removed.
pub fn confirm(netns: Option<&str>) -> Result<Option<Pending>, KernelError> {
    let path = record_path(netns);
    let Ok(pending) = read(&path) else {
        return Ok(None);
    };
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(state_err(format!("cannot remove {}", path.display()), e)),
    }
    if let Some(pid) = pending.watchdog_pid {
        // The watchdog would find no record and exit anyway; ending it now
        // just frees it early. It is our own child, named by its pid.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap_or(0)),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    Ok(Some(pending))
}

/// The watchdog: wait for the deadline, then restore unless confirmed.
/// Returns whether it rolled back.
///
/// # Errors
/// The record is unreadable, or the restore failed.
pub fn watch(path: &Path) -> Result<bool, KernelError> {
    let pending = read(path)?;
    let wait = pending.deadline.saturating_sub(now());
    std::thread::sleep(Duration::from_secs(wait));
    let taken = path.with_extension("rolling-back");
    if std::fs::rename(path, &taken).is_err() {
        return Ok(false); // confirmed in time
    }
    let result = rollback(&pending);
    let _ = std::fs::remove_file(&taken);
    result.map(|()| true)
}

/// Put the saved table back in one transaction (or remove the table if there was none).
///
/// # Errors
/// The namespace is gone or `nft` refused the saved table.
pub fn rollback(p: &Pending) -> Result<(), KernelError> {
    let ns = Netns::named(p.netns.as_deref())?;
    let t = &p.table;
    let mut script = format!("table ip {t}\ndelete table ip {t}\n");
    if let Some(prev) = &p.previous {
        script.push_str(prev);
    }
    nft_cli::load(&ns, &script)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").unwrap_err().contains("60s"));
    }
}
