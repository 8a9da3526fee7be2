//! What labbackup's integration tests share: restic on a repository, and a lab
//! file with one set.
#![allow(dead_code, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

/// `restic -r REPO --password-file PASS --no-cache ARGS`, with times in UTC.
pub(crate) fn restic(repo: &Path, pass: &Path, args: &[&str]) -> Output {
    Command::new("restic")
        .arg("-r")
        .arg(repo)
        .arg("--password-file")
        .arg(pass)
        .arg("--no-cache")
        .args(args)
        .env("TZ", "UTC")
        .output()
        .expect("restic")
}

/// A lab whose `[backup]` has `repo`, `pass`, optionally `retention`, and one
/// set `configs` of `src`.
pub(crate) fn lab(
    repo: &Path,
    pass: &Path,
    src: &Path,
    retention: Option<&str>,
) -> labbackup::Backup {
    let retention = retention
        .map(|r| format!("retention = {r}\n"))
        .unwrap_or_default();
    labbackup::parse(
        "lab.toml",
        &format!(
            "[backup]\nrepository = \"{}\"\npassword_file = \"{}\"\n{retention}[[backup.set]]\nname = \"configs\"\npaths = [\"{}\"]\n",
            repo.display(),
            pass.display(),
            src.display()
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}
