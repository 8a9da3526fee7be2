//! Reading lab files from disk, and replacing output files safely.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::diag::{Diagnostic, Diagnostics};
use crate::document::Document;
use crate::source::Source;
use crate::span::Span;

/// Reading a lab file failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read lab file {path}")]
    Read {
        /// The path given.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The file was read but is not a valid lab; every problem is in the diagnostics.
    #[error("{0}")]
    Invalid(Diagnostics),
}

/// Read and parse a lab file. Text that is not UTF-8 is reported where the
/// first bad byte is, like any other syntax error.
///
/// # Errors
/// The file cannot be read, or it is not TOML.
pub fn load(path: &Path) -> Result<Document, LoadError> {
    let bytes = fs::read(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_bytes(&path.display().to_string(), bytes).map_err(LoadError::Invalid)
}

/// Parse lab-file bytes (from a file or standard input).
///
/// # Errors
/// The bytes are not UTF-8, or not TOML.
pub fn parse_bytes(name: &str, bytes: Vec<u8>) -> Result<Document, Diagnostics> {
    match String::from_utf8(bytes) {
        Ok(text) => Document::parse(name, text),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            // Lossy decoding keeps every byte before the first bad one, so offsets agree.
            let d = Diagnostic::error(
                "(encoding)",
                format!("the file is not UTF-8: byte {at} is not part of a UTF-8 character"),
            )
            .span(Span::new(at, at + 1))
            .hint("save the lab file as UTF-8 text");
            Err(Diagnostics::new(Arc::new(Source::new(name, text)), vec![d]))
        }
    }
}

/// Replacing an output file failed; the old file, if any, is unchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The path names something other than a regular file.
    #[error("{path} is {kind}, not a regular file; nothing was written")]
    NotRegular {
        /// The path.
        path: PathBuf,
        /// `a directory`, `a character device`, ...
        kind: &'static str,
    },
    /// The path is a symbolic link; it is not followed.
    #[error(
        "{path} is a symbolic link (to {target}); nothing was written (give the link's target instead)"
    )]
    Symlink {
        /// The link.
        path: PathBuf,
        /// Where it points.
        target: PathBuf,
    },
    /// Something on the way failed.
    #[error("cannot {what} {path}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// On which path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

fn kind_of(ft: fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    if ft.is_dir() {
        "a directory"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_fifo() {
        "a named pipe (FIFO)"
    } else if ft.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Replace the regular file at `path` with `bytes`, atomically: readers see the
/// old file or the new one, never a part.
///
/// - Only regular files are written. A directory, device, FIFO or socket is
///   refused (nothing is opened, so a FIFO cannot block), and so is a symbolic
///   link: it is not followed, so writing never lands somewhere unexpected.
/// - An existing file keeps its permission bits (and, when the caller may,
///   its owner and group); a new file gets `0666` less the process umask.
/// - The new contents are written to a temporary file beside `path`, flushed
///   to disk, and renamed over it; on any failure the temporary file is
///   removed and `path` is untouched. (A hard link to the old file keeps the
///   old contents: rename replaces the name, not the inode.)
///
/// # Errors
/// The path is not a regular file, or the directory cannot be written.
pub fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    replace_file_with(path, |w| w.write_all(bytes))
}

/// [`replace_file`] with the contents written by `write`, so that large
/// output is streamed to the temporary file instead of held whole.
///
/// # Errors
/// As [`replace_file`], and `write`'s own error (the old file stays).
pub fn replace_file_with(
    path: &Path,
    write: impl FnOnce(&mut dyn io::Write) -> io::Result<()>,
) -> Result<(), WriteError> {
    let io_err = |what, p: &Path| {
        let p = p.to_owned();
        move |source| WriteError::Io {
            what,
            path: p,
            source,
        }
    };
    let existing = match fs::symlink_metadata(path) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(io_err("examine", path)(e)),
    };
    if let Some(m) = &existing {
        let ft = m.file_type();
        if ft.is_symlink() {
            let target = fs::read_link(path).unwrap_or_default();
            return Err(WriteError::Symlink {
                path: path.to_owned(),
                target,
            });
        }
        if !ft.is_file() {
            return Err(WriteError::NotRegular {
                path: path.to_owned(),
                kind: kind_of(ft),
            });
        }
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let base = path
        .file_name()
        .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
    let (tmp_path, mut tmp) = loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let candidate = dir.join(format!(".{base}.tmp-{}-{n}", std::process::id()));
        // 0666 here: the kernel applies the umask, as for any new file.
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o666)
            .open(&candidate)
        {
            Ok(f) => break (candidate, f),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_err("create a temporary file beside", path)(e)),
        }
    };
    let result = (|| -> Result<(), WriteError> {
        if let Some(m) = &existing {
            tmp.set_permissions(fs::Permissions::from_mode(m.mode() & 0o7777))
                .map_err(io_err("keep the permissions of", path))?;
            // Keeping the owner needs privilege; without it the file is the writer's.
            let _ = std::os::unix::fs::fchown(&tmp, Some(m.uid()), Some(m.gid()));
            if m.mode() & 0o6000 != 0 {
                // chown clears set-id bits; put them back.
                let _ = tmp.set_permissions(fs::Permissions::from_mode(m.mode() & 0o7777));
            }
        }
        {
            let mut w = io::BufWriter::with_capacity(64 << 10, &mut tmp);
            write(&mut w).map_err(io_err("write", path))?;
            w.flush().map_err(io_err("write", path))?;
        }
        tmp.sync_all().map_err(io_err("write", path))?;
        fs::rename(&tmp_path, path).map_err(io_err("replace", path))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp_path);
    }
    drop(File::open(&dir).and_then(|d| d.sync_all()));
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_utf8_is_located() {
        let e = parse_bytes("x.toml", b"a = 1\nb = \"\xff\"\n".to_vec()).unwrap_err();
        let d = &e.items()[0];
        assert_eq!(d.location.map(|l| (l.line, l.column)), Some((2, 6)));
        assert!(d.message.contains("not UTF-8"));
    }

    #[test]
    fn replace_keeps_mode_and_refuses_what_is_not_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("out.nft");
        fs::write(&f, "old").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o640)).unwrap();
        replace_file(&f, b"new").unwrap();
        assert_eq!(fs::read_to_string(&f).unwrap(), "new");
        assert_eq!(fs::metadata(&f).unwrap().mode() & 0o777, 0o640);

        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        assert!(matches!(
            replace_file(&link, b"x"),
            Err(WriteError::Symlink { .. })
        ));
        assert_eq!(
            fs::read_to_string(&f).unwrap(),
            "new",
            "the link's target is untouched"
        );
        assert!(matches!(
            replace_file(dir.path(), b"x"),
            Err(WriteError::NotRegular {
                kind: "a directory",
                ..
            })
        ));
        assert!(matches!(
            replace_file(Path::new("/dev/null"), b"x"),
            Err(WriteError::NotRegular {
                kind: "a character device",
                ..
            })
        ));
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 2, "no temporary files left: {names:?}");
    }
}
