//! Faults against the binary and real repositories: a backup killed with
//! SIGKILL mid-run leaves a repository that restic checks clean and that takes
//! the next backup.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn restic(repo: &Path, pass: &Path, args: &[&str]) -> Output {
    Command::new("restic")
        .arg("-r")
        .arg(repo)
        .arg("--password-file")
        .arg(pass)
        .arg("--no-cache")
        .args(args)
        .output()
        .unwrap()
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| {
        d.flatten()
            .map(|e| {
                if e.path().is_dir() {
                    count_files(&e.path())
                } else {
                    1
                }
            })
            .sum()
    })
}

#[test]
#[cfg_attr(not(labkit_restic), ignore = "needs restic (Debian package restic)")]
fn a_backup_killed_mid_run_leaves_a_sound_repository_that_takes_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = d.join("src");
    std::fs::create_dir_all(&src).unwrap();
    // 40 MB that does not deduplicate: several packs, seconds of work.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for f in 0..40 {
        let data: Vec<u8> = (0..1_000_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        std::fs::write(src.join(format!("f{f:02}")), data).unwrap();
    }
    let (repo, pass) = (d.join("repo"), d.join("pass"));
    std::fs::write(&pass, "kill-pass\n").unwrap();
    let lab = d.join("lab.toml");
    std::fs::write(
        &lab,
        format!(
            "[backup]\nrepository = \"{}\"\npassword_file = \"{}\"\nstate_dir = \"{}\"\n[[backup.set]]\nname = \"s\"\npaths = [\"{}\"]\n",
            repo.display(),
            pass.display(),
            d.join("state").display(),
            src.display()
        ),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_labbackup");
    assert!(
        Command::new(bin)
            .args(["init", lab.to_str().unwrap()])
            .status()
            .unwrap()
            .success()
    );
    let packs_before = count_files(&repo.join("data"));
    let mut child = Command::new(bin)
        .args(["--quiet", "run", lab.to_str().unwrap()])
        .spawn()
        .unwrap();
    // Kill it once it has written packs, before it can finish.
    let start = Instant::now();
    while count_files(&repo.join("data")) == packs_before {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the backup ended before it was killed"
        );
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no pack was written"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // SIGKILL: no chance to clean up.
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    // The killed process's restic lock is left behind, as a killed restic's
    // would be: restic refuses to lock until it is removed, so look without
    // locking. labbackup's next run removes it (its pid is gone).
    let o = restic(&repo, &pass, &["--no-lock", "snapshots", "--json"]);
    assert!(
        o.stdout.starts_with(b"[]"),
        "no snapshot was saved: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let o = restic(&repo, &pass, &["--no-lock", "check"]);
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );

    // The next backup works (the lock went with the killed process), and the
    // repository reads back whole.
    let o = Command::new(bin)
        .args(["--quiet", "run", lab.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Now with restic's locking: the stale lock is gone.
    let o = restic(&repo, &pass, &["check", "--read-data"]);
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let o = Command::new(bin)
        .args(["check", lab.to_str().unwrap(), "--read-data-percent", "100"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
