//! Running work inside a network namespace without touching the caller's.
//!
//! Namespaces are per thread in Linux, so each call runs its closure on a
//! fresh thread that `setns`es first; the caller's thread (and the host's own
//! namespace) are never switched. Sockets opened and processes spawned on that
//! thread live in the target namespace.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use nix::sched::{CloneFlags, setns, unshare};

use super::KernelError;

/// A network namespace to work in.
#[derive(Debug)]
pub enum Netns {
    /// The namespace this process runs in.
    Current,
    /// An open namespace file (from `/run/netns/NAME` or a throwaway one).
    Open {
        /// How to name it in messages.
        label: String,
        /// The namespace.
        fd: OwnedFd,
    },
}

impl Netns {
    /// The namespace `ip netns add NAME` created, or the current one for `None`.
    ///
    /// # Errors
    /// The namespace file cannot be opened.
    pub fn named(name: Option<&str>) -> Result<Self, KernelError> {
        let Some(name) = name else {
            return Ok(Self::Current);
        };
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(KernelError::Netns {
                name: name.into(),
                what: "a namespace name is one path component".into(),
                source: None,
            });
        }
        let path = PathBuf::from("/run/netns").join(name);
        let file = File::open(&path).map_err(|e| KernelError::Netns {
            name: name.into(),
            what: format!(
                "cannot open {} (create it with `ip netns add {name}`)",
                path.display()
            ),
            source: Some(e),
        })?;
        Ok(Self::Open {
            label: name.into(),
            fd: file.into(),
        })
    }

    /// A new, empty namespace that exists as long as this value (and anything
    /// still running in it) does; nothing to clean up by name.
    ///
    /// # Errors
    /// Creating namespaces needs CAP_SYS_ADMIN.
    pub fn throwaway(label: &str) -> Result<Self, KernelError> {
        let err = |what: &str, source: Option<std::io::Error>| KernelError::Netns {
            name: label.into(),
            what: what.into(),
            source,
        };
        // unshare moves only the calling thread; a scoped thread keeps ours where it is.
        let fd = std::thread::scope(|s| {
            s.spawn(|| -> Result<OwnedFd, KernelError> {
                unshare(CloneFlags::CLONE_NEWNET).map_err(|e| {
                    err(
                        "cannot create a network namespace (needs root)",
                        Some(e.into()),
                    )
                })?;
                let f = File::open("/proc/thread-self/ns/net")
                    .map_err(|e| err("cannot open the new namespace", Some(e)))?;
                Ok(f.into())
            })
            .join()
            .unwrap_or_else(|_| Err(err("namespace thread panicked", None)))
        })?;
        Ok(Self::Open {
            label: label.to_owned(),
            fd,
        })
    }

    /// How messages name it: `host` or the namespace name.
    #[must_use]
    pub fn label(&self) -> &str {
        match self {
            Self::Current => "host",
            Self::Open { label, .. } => label,
        }
    }

    /// The namespace file descriptor, if not the current namespace.
    #[must_use]
    pub fn fd(&self) -> Option<&OwnedFd> {
        match self {
            Self::Current => None,
            Self::Open { fd, .. } => Some(fd),
        }
    }

    /// Run `f` on a thread inside this namespace.
    ///
    /// # Errors
    /// Entering the namespace failed.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T, KernelError> {
        std::thread::scope(|s| {
            s.spawn(|| {
                if let Self::Open { fd, label } = self {
                    setns(fd.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|e| {
                        KernelError::Netns {
                            name: label.clone(),
                            what: "cannot enter the namespace (needs root)".into(),
                            source: Some(e.into()),
                        }
                    })?;
                }
                Ok(f())
            })
            .join()
            .unwrap_or_else(|_| {
                Err(KernelError::Netns {
                    name: self.label().into(),
                    what: "worker thread panicked".into(),
                    source: None,
                })
            })
        })
    }
}
