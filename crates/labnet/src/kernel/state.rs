//! labnet's state on the host: per-namespace locks and pending confirmations.
//!
//! Everything lives under [`state_dir`], one directory per namespace:
//! `host/` for the host's own namespace and `netns/NAME/` for a namespace made
//! by `ip netns add NAME`, so the host can never collide with a namespace
//! that happens to be called `host`. In each:
//!
//! - `lock`: held (`flock`) by whoever is changing that namespace's ruleset
//!   or its pending record; released by the kernel if the holder dies.
//! - `pending.json`: a commit-confirmed apply waiting for confirmation.
//! - `payload.toml`: the lab its watchdog loads.
//! - `watchdog.log`: what the watchdog said.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::KernelError;

/// Where labnet keeps state: `$LABNET_STATE_DIR`, else `/run/labnet`
/// (tmpfs: a reboot forgets the records, and a reboot also forgets the ruleset).
#[must_use]
pub fn state_dir() -> PathBuf {
    std::env::var_os("LABNET_STATE_DIR").map_or_else(|| PathBuf::from("/run/labnet"), PathBuf::from)
}

/// The state directory of one namespace (`None`: the host's).
#[must_use]
pub fn namespace_dir(netns: Option<&str>) -> PathBuf {
    match netns {
        None => state_dir().join("host"),
        Some(n) => state_dir().join("netns").join(n),
    }
}

/// The pending-confirmation record of a namespace.
#[must_use]
pub fn record_path(netns: Option<&str>) -> PathBuf {
    namespace_dir(netns).join("pending.json")
}

pub(crate) fn payload_path(netns: Option<&str>) -> PathBuf {
    namespace_dir(netns).join("payload.toml")
}

pub(crate) fn log_path(netns: Option<&str>) -> PathBuf {
    namespace_dir(netns).join("watchdog.log")
}

pub(crate) fn state_err(what: impl Into<String>, path: &Path, e: io::Error) -> KernelError {
    KernelError::State {
        what: what.into(),
        path: path.to_owned(),
        source: Some(e),
    }
}

/// Seconds since the epoch.
#[must_use]
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `2026-12-01T10:17:07Z` for a time in seconds since the epoch (UTC).
#[must_use]
pub fn rfc3339(unix: u64) -> String {
    let days = unix / 86_400;
    let secs = unix % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = i64::try_from(days).unwrap_or(i64::MAX / 2) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// A process, named so that a reused pid is not mistaken for it: its pid and
/// its start time (clock ticks after boot, `/proc/PID/stat` field 22).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Process {
    /// Process id.
    pub pid: u32,
    /// When it started, in clock ticks after boot.
    pub start_time: u64,
}

impl Process {
    /// This process.
    #[must_use]
    pub fn current() -> Option<Self> {
        let pid = std::process::id();
        start_time(pid).map(|start_time| Self { pid, start_time })
    }

    /// Whether this very process is still running (not another one with its pid).
    #[must_use]
    pub fn is_alive(&self) -> bool {
        start_time(self.pid) == Some(self.start_time)
    }

    /// Send `SIGTERM`, only if it is still this process.
    pub(crate) fn terminate(&self) -> bool {
        if !self.is_alive() {
            return false;
        }
        let Ok(pid) = i32::try_from(self.pid) else {
            return false;
        };
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        )
        .is_ok()
    }
}

fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    // Fields 3, 4, ... follow; starttime is field 22. A zombie has exited.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if fields.first() == Some(&"Z") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// The lock of one namespace's state, held until dropped.
#[derive(Debug)]
pub struct Lock {
    _flock: Flock<File>,
}

impl Lock {
    /// Take the lock of `netns`, or fail at once if someone holds it.
    ///
    /// # Errors
    /// [`KernelError::Busy`] when another labnet holds it; state errors.
    pub fn try_take(netns: Option<&str>) -> Result<Self, KernelError> {
        Self::take_with(netns, FlockArg::LockExclusiveNonblock)
    }

    /// Take the lock of `netns`, waiting for it (the watchdog's rollback must happen).
    ///
    /// # Errors
    /// State errors.
    pub fn wait(netns: Option<&str>) -> Result<Self, KernelError> {
        Self::take_with(netns, FlockArg::LockExclusive)
    }

    fn take_with(netns: Option<&str>, arg: FlockArg) -> Result<Self, KernelError> {
        let dir = namespace_dir(netns);
        fs::create_dir_all(&dir).map_err(|e| state_err("cannot create", &dir, e))?;
        let path = dir.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| state_err("cannot open", &path, e))?;
        match Flock::lock(file, arg) {
            Ok(flock) => Ok(Self { _flock: flock }),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Err(KernelError::Busy {
                netns: netns.map(str::to_owned),
            }),
            Err((_, e)) => Err(state_err("cannot lock", &path, e.into())),
        }
    }
}

/// Write `bytes` to `path` through a temporary file and a rename: readers see
/// the old contents or the new, never a part. With `exclusive`, fail if
/// `path` exists (a hard link, which cannot overwrite, makes the check and the
/// write one atomic step).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], exclusive: bool) -> Result<(), KernelError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    fs::create_dir_all(dir).map_err(|e| state_err("cannot create", dir, e))?;
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let res = (|| {
        let mut f = File::create(&tmp).map_err(|e| state_err("cannot write", &tmp, e))?;
        f.write_all(bytes)
            .and_then(|()| f.sync_all())
            .map_err(|e| state_err("cannot write", &tmp, e))?;
        if exclusive {
            fs::hard_link(&tmp, path).map_err(|e| {
                if e.kind() == io::ErrorKind::AlreadyExists {
                    KernelError::State {
                        what: "another pending record appeared at".into(),
                        path: path.to_owned(),
                        source: Some(e),
                    }
                } else {
                    state_err("cannot create", path, e)
                }
            })
        } else {
            fs::rename(&tmp, path).map_err(|e| state_err("cannot write", path, e))
        }
    })();
    let _ = fs::remove_file(&tmp);
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_127_427), "2026-12-01T12:17:07Z");
    }

    #[test]
    fn host_and_a_namespace_called_host_do_not_collide() {
        assert_ne!(record_path(None), record_path(Some("host")));
        assert_ne!(namespace_dir(None), namespace_dir(Some("host")));
    }

    #[test]
    fn a_process_is_named_by_pid_and_start_time() {
        let me = Process::current().unwrap();
        assert!(me.is_alive());
        let impostor = Process {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(!impostor.is_alive(), "same pid, other start time");
        assert!(!impostor.terminate(), "never signalled");
    }
}
