//! restic's own lock files, which rustic_core neither takes nor honours: an
//! exclusive lock in the repository's `locks/`, encrypted with its master
//! key exactly as restic writes them (random 16-byte nonce, AES-256-CTR,
//! Poly1305-AES, the file named by the SHA-256 of its bytes), so that
//! `restic prune` refuses while labbackup writes, and labbackup refuses while
//! restic (or another labbackup, on any host) holds a lock. Like restic, the
//! lock is written, then the others are looked at again, and it is refreshed
//! every 5 minutes so that it never looks stale (restic: older than 30
//! minutes) while its holder lives.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aes256ctr_poly1305aes::Aes256CtrPoly1305Aes;
use aes256ctr_poly1305aes::aead::{Aead, AeadInPlace};
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::repo::BackupError;

/// How often the lock is rewritten (restic: 5 minutes).
const REFRESH: Duration = Duration::from_secs(300);
/// A lock older than this, of another host or a dead process, is stale (restic's 30 minutes).
const STALE_SECS: i64 = 30 * 60;

/// A lock file's content, restic's `Lock`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LockFile {
    time: String,
    exclusive: bool,
    hostname: String,
    #[serde(default)]
    username: String,
    pid: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    uid: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    gid: u32,
}

// serde's skip_serializing_if takes a reference.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(x: &u32) -> bool {
    *x == 0
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn ids() -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    // The owner of /proc/self is this process's user and group.
    std::fs::metadata("/proc/self").map_or((0, 0), |m| (m.uid(), m.gid()))
}

fn random16() -> std::io::Result<[u8; 16]> {
    use std::io::Read;
    let mut n = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut n)?;
    Ok(n)
}

/// The 64-byte key (encryption key, then Poly1305-AES's k and r) of `key`.
fn aead_key(key: &rustic_core::repofile::MasterKey) -> Option<[u8; 64]> {
    if key.encrypt.len() != 32 || key.mac.k.len() != 16 || key.mac.r.len() != 16 {
        return None;
    }
    let mut k = [0u8; 64];
    k[..32].copy_from_slice(&key.encrypt);
    k[32..48].copy_from_slice(&key.mac.k);
    k[48..].copy_from_slice(&key.mac.r);
    Some(k)
}

fn encrypt(key: &[u8; 64], plain: &[u8]) -> std::io::Result<Vec<u8>> {
    let nonce = random16()?;
    let mut out = Vec::with_capacity(plain.len() + 32);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plain);
    let cipher = Aes256CtrPoly1305Aes::new(key.into());
    let tag = cipher
        .encrypt_in_place_detached((&nonce).into(), &[], &mut out[16..])
        .map_err(|_| std::io::Error::other("encryption failed"))?;
    out.extend_from_slice(&tag);
    Ok(out)
}

fn decrypt(key: &[u8; 64], data: &[u8]) -> Option<Vec<u8>> {
    if data.len() < 32 {
        return None;
    }
    let cipher = Aes256CtrPoly1305Aes::new(key.into());
    let plain = cipher.decrypt(data[..16].into(), &data[16..]).ok()?;
    // restic compresses the files of a version 2 repository: a leading byte
    // 2, then zstd; plain JSON starts with `{`. Anything else is not a lock
    // labbackup can read, and counts as held.
    match plain.first() {
        Some(b'{') => Some(plain),
        Some(2) => zstd::decode_all(&plain[1..]).ok(),
        _ => None,
    }
}

/// Where lock files go: rustic_core 0.13 has no lock file type in its
/// backend interface, so labbackup writes `locks/` itself, as files of a
/// local repository or through restic's REST protocol.
#[derive(Debug, Clone)]
pub(crate) enum Store {
    /// A local repository's `locks/` directory.
    Local(std::path::PathBuf),
    /// A REST repository's base URL (without `rest:`), ending in `/`.
    #[cfg(feature = "rest")]
    Rest(String, reqwest::blocking::Client),
}

#[cfg(feature = "rest")]
fn store_error(e: impl std::fmt::Display) -> BackupError {
    lock_io(std::io::Error::other(e.to_string()))
}

impl Store {
    /// The store of `repository`, or `None` when labbackup cannot write its
    /// locks (an OpenDAL service).
    pub(crate) fn of(repository: &str) -> Option<Self> {
        if repository.starts_with('/') {
            return Some(Self::Local(std::path::Path::new(repository).join("locks")));
        }
        #[cfg(feature = "rest")]
        if let Some(url) = repository.strip_prefix("rest:") {
            let base = if url.ends_with('/') {
                url.to_owned()
            } else {
                format!("{url}/")
            };
            let client = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .ok()?;
            return Some(Self::Rest(base, client));
        }
        None
    }

    fn save(&self, name: &str, data: &[u8]) -> Result<(), BackupError> {
        match self {
            Self::Local(dir) => {
                std::fs::create_dir_all(dir).map_err(lock_io)?;
                crate::status::write_atomically(&dir.join(name), data).map_err(lock_io)
            }
            #[cfg(feature = "rest")]
            Self::Rest(base, c) => c
                .post(format!("{base}locks/{name}"))
                .body(data.to_vec())
                .send()
                .and_then(reqwest::blocking::Response::error_for_status)
                .map(drop)
                .map_err(store_error),
        }
    }

    fn list(&self) -> Result<Vec<String>, BackupError> {
        match self {
            Self::Local(dir) => match std::fs::read_dir(dir) {
                Ok(d) => Ok(d
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()))
                    .collect()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
                Err(e) => Err(lock_io(e)),
            },
            #[cfg(feature = "rest")]
            Self::Rest(base, c) => {
                #[derive(Deserialize)]
                struct Entry {
                    name: String,
                }
                let entries: Vec<Entry> = c
                    .get(format!("{base}locks/"))
                    .header("Accept", "application/vnd.x.restic.rest.v2")
                    .send()
                    .and_then(reqwest::blocking::Response::error_for_status)
                    .and_then(reqwest::blocking::Response::json)
                    .map_err(store_error)?;
                Ok(entries.into_iter().map(|e| e.name).collect())
            }
        }
    }

    fn read(&self, name: &str) -> Option<Vec<u8>> {
        match self {
            Self::Local(dir) => std::fs::read(dir.join(name)).ok(),
            #[cfg(feature = "rest")]
            Self::Rest(base, c) => c
                .get(format!("{base}locks/{name}"))
                .send()
                .and_then(reqwest::blocking::Response::error_for_status)
                .and_then(reqwest::blocking::Response::bytes)
                .ok()
                .map(|b| b.to_vec()),
        }
    }

    fn remove(&self, name: &str) {
        match self {
            Self::Local(dir) => {
                let _ = std::fs::remove_file(dir.join(name));
            }
            #[cfg(feature = "rest")]
            Self::Rest(base, c) => {
                let _ = c.delete(format!("{base}locks/{name}")).send();
            }
        }
    }
}

/// A held lock: removed when dropped.
pub(crate) struct ResticLock {
    be: Store,
    current: Arc<Mutex<String>>,
    stop: Arc<AtomicBool>,
    refresher: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for ResticLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResticLock").finish_non_exhaustive()
    }
}

fn write(be: &Store, key: &[u8; 64]) -> Result<String, BackupError> {
    let (uid, gid) = ids();
    let lock = LockFile {
        time: jiff::Timestamp::now().to_string(),
        exclusive: true,
        hostname: hostname(),
        username: std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_default(),
        pid: i64::from(std::process::id()),
        uid,
        gid,
    };
    let json = serde_json::to_vec(&lock).map_err(|e| lock_io(std::io::Error::other(e)))?;
    let data = encrypt(key, &json).map_err(lock_io)?;
    let id: String = sha2::Sha256::digest(&data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    be.save(&id, &data)?;
    Ok(id)
}

fn lock_io(source: std::io::Error) -> BackupError {
    BackupError::Lock {
        path: "locks/".into(),
        source,
    }
}

/// The holder of a live lock in `be` other than `ours`, as (pid, host).
fn other_holder(
    be: &Store,
    key: &[u8; 64],
    ours: Option<&String>,
) -> Result<Option<(String, String)>, BackupError> {
    let list = be.list()?;
    let now = jiff::Timestamp::now().as_second();
    let host = hostname();
    for id in list.iter().filter(|id| Some(*id) != ours) {
        // A lock removed between listing and reading is gone: fine.
        let Some(data) = be.read(id) else {
            continue;
        };
        let Some(lock) =
            decrypt(key, &data).and_then(|p| serde_json::from_slice::<LockFile>(&p).ok())
        else {
            return Ok(Some(("?".to_owned(), format!("an unreadable lock {id}"))));
        };
        let age = lock
            .time
            .parse::<jiff::Timestamp>()
            .map_or(0, |t| now - t.as_second());
        let dead_here =
            lock.hostname == host && !std::path::Path::new(&format!("/proc/{}", lock.pid)).exists();
        if dead_here {
            // A lock of this host whose process is gone (killed, or the host
            // rebooted): remove it, as `restic unlock` would. restic 0.14
            // itself refuses an exclusive lock until then, stale or not.
            be.remove(id);
            continue;
        }
        // restic's rule for other hosts: stale when older than 30 minutes.
        let stale = age > STALE_SECS && lock.hostname != host;
        if !stale {
            return Ok(Some((lock.pid.to_string(), lock.hostname)));
        }
    }
    Ok(None)
}

impl ResticLock {
    /// Take an exclusive restic lock on the repository behind `be`, opened
    /// with `key`.
    ///
    /// # Errors
    /// [`BackupError::Locked`] when another holds a lock (it is not
    /// removed), or the lock cannot be written.
    pub(crate) fn acquire(
        be: Store,
        key: &rustic_core::repofile::MasterKey,
    ) -> Result<Self, BackupError> {
        let key = aead_key(key)
            .ok_or_else(|| lock_io(std::io::Error::other("the repository key is not restic's")))?;
        if let Some((pid, host)) = other_holder(&be, &key, None)? {
            return Err(BackupError::Locked { pid, host });
        }
        let id = write(&be, &key)?;
        // Another may have written its lock in between: look again, and
        // give way if so (both may; neither proceeds unlocked).
        if let Some((pid, host)) = other_holder(&be, &key, Some(&id))? {
            be.remove(&id);
            return Err(BackupError::Locked { pid, host });
        }
        let current = Arc::new(Mutex::new(id));
        let stop = Arc::new(AtomicBool::new(false));
        let refresher = {
            let (be, current, stop) = (be.clone(), current.clone(), stop.clone());
            std::thread::spawn(move || {
                let tick = Duration::from_millis(200);
                let mut waited = Duration::ZERO;
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    waited += tick;
                    if waited < REFRESH {
                        continue;
                    }
                    waited = Duration::ZERO;
                    // A new lock first, then the old one goes: never none.
                    if let Ok(new) = write(&be, &key) {
                        let mut cur = current
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        be.remove(&cur);
                        *cur = new;
                    }
                }
            })
        };
        Ok(Self {
            be,
            current,
            stop,
            refresher: Some(refresher),
        })
    }
}

impl Drop for ResticLock {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.refresher.take() {
            let _ = t.join();
        }
        let id = self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        self.be.remove(&id);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::io::Write as _;
    use std::process::{Command, Stdio};

    use super::ResticLock;
    use crate::repo::{BackupError, Repo};

    fn restic(repo: &std::path::Path, pass: &std::path::Path) -> Command {
        let mut c = Command::new("restic");
        c.arg("-r")
            .arg(repo)
            .arg("--password-file")
            .arg(pass)
            .arg("--no-cache");
        c
    }

    #[test]
    #[cfg_attr(not(labkit_restic), ignore = "needs restic (Debian package restic)")]
    fn restic_sees_labbackups_lock_and_labbackup_sees_restics() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, pass) = (dir.path().join("repo"), dir.path().join("pass"));
        std::fs::write(&pass, "lock-pass\n").unwrap();
        let b = crate::parse(
            "lab.toml",
            &format!(
                "[backup]\nrepository = \"{}\"\npassword_file = \"{}\"\n[[backup.set]]\nname = \"s\"\npaths = [\"/etc/hostname\"]\n",
                repo.display(),
                pass.display()
            ),
        )
        .unwrap();
        let r = Repo::new(&b).unwrap();
        r.init().unwrap();
        let key = r.open().unwrap().key();

        let store = || super::Store::of(&b.repository).unwrap();
        let held = ResticLock::acquire(store(), &key).unwrap();
        let o = restic(&repo, &pass)
            .args(["list", "locks"])
            .output()
            .unwrap();
        let listed = String::from_utf8_lossy(&o.stdout).into_owned();
        assert_eq!(listed.lines().count(), 1, "{listed}");
        // restic decrypts it and reads it as labbackup's, exclusive.
        let o = restic(&repo, &pass)
            .args(["--no-lock", "cat", "lock", listed.trim()])
            .output()
            .unwrap();
        let lock: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
        assert_eq!(lock["exclusive"], true);
        assert_eq!(lock["pid"], i64::from(std::process::id()));
        let o = restic(&repo, &pass).args(["prune"]).output().unwrap();
        assert!(!o.status.success(), "restic prune waits for labbackup");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("locked"),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        drop(held);
        let o = restic(&repo, &pass)
            .args(["list", "locks"])
            .output()
            .unwrap();
        assert!(o.stdout.is_empty(), "the lock is gone with its holder");

        // restic holds a lock while it reads a backup from standard input:
        // labbackup refuses, naming restic's pid, until restic is done.
        let mut child = restic(&repo, &pass)
            .args(["backup", "--stdin", "-q"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"some data\n").unwrap();
        // Wait for restic's lock to appear (`list locks` takes none itself).
        let start = std::time::Instant::now();
        while restic(&repo, &pass)
            .args(["list", "locks"])
            .output()
            .unwrap()
            .stdout
            .is_empty()
        {
            assert!(start.elapsed().as_secs() < 30, "restic never took its lock");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let refused = ResticLock::acquire(store(), &key).unwrap_err();
        assert!(matches!(refused, BackupError::Locked { .. }), "{refused}");
        assert!(
            refused.to_string().contains(&format!("pid {}", child.id())),
            "{refused}"
        );
        drop(stdin);
        assert!(child.wait().unwrap().success());
        let again = ResticLock::acquire(store(), &key).unwrap();
        drop(again);
    }
}
