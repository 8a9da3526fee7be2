//! forget deletes what the policy forgets and prunes, leaving a repository
//! restic checks clean; check reading all data finds a flipped byte.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::Path;

mod common;
use common::{lab, restic};

#[test]
#[cfg_attr(not(labkit_restic), ignore = "needs restic (Debian package restic)")]
fn forget_removes_exactly_the_forgotten_and_the_repository_stays_sound() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, pass, src) = (
        dir.path().join("repo"),
        dir.path().join("pass"),
        dir.path().join("src"),
    );
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(&pass, "pw\n").unwrap();
    assert!(restic(&repo, &pass, &["init"]).status.success());
    let times = [
        "2025-12-27 02:00:00",
        "2025-12-28 02:00:00",
        "2025-12-30 02:00:00",
        "2026-01-02 02:00:00",
        "2026-01-03 02:00:00",
        "2026-01-05 02:00:00",
    ];
    for (i, t) in times.iter().enumerate() {
        // Each snapshot has data of its own, so pruning has something to remove.
        std::fs::write(src.join("f"), format!("version {i}\n").repeat(1000 + i)).unwrap();
        let o = restic(
            &repo,
            &pass,
            &[
                "backup",
                "-q",
                "--tag",
                "configs",
                "--host",
                "h",
                "--time",
                t,
                src.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let b = lab(&repo, &pass, &src, Some("{ daily = 2, weekly = 3 }"));
    let r = labbackup::repo::Repo::new(&b).unwrap();
    let planned = r.forget(true).unwrap();
    let keep: BTreeSet<String> = planned[0]
        .1
        .iter()
        .filter(|d| d.keep)
        .map(|d| d.id.clone())
        .collect();
    // Mon 01-05 (2026-W02) and Sat 01-03 (W01) by day and week, Sun 12-28 (2025-W52) by week.
    let kept_days: Vec<&str> = planned[0]
        .1
        .iter()
        .filter(|d| d.keep)
        .map(|d| &d.time[..10])
        .collect();
    assert_eq!(
        kept_days,
        ["2026-01-05", "2026-01-03", "2025-12-28"],
        "{planned:?}"
    );
    let before_packs = count_files(&repo.join("data"));

    r.forget(false).unwrap();
    let list: serde_json::Value =
        serde_json::from_slice(&restic(&repo, &pass, &["snapshots", "--json"]).stdout).unwrap();
    let left: BTreeSet<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(left, keep, "exactly the kept snapshots remain");
    let o = restic(&repo, &pass, &["check", "--read-data"]);
    assert!(
        o.status.success(),
        "restic check after labbackup's prune: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(r.check(100).unwrap().is_empty());
    assert!(count_files(&repo.join("data")) <= before_packs);
}

fn count_files(dir: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        n += if p.is_dir() { count_files(&p) } else { 1 };
    }
    n
}

fn pack_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            pack_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn check_reading_all_data_finds_a_flipped_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, pass, src) = (
        dir.path().join("repo"),
        dir.path().join("pass"),
        dir.path().join("src"),
    );
    std::fs::create_dir_all(&src).unwrap();
    let data: Vec<u8> = (0..2_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    std::fs::write(src.join("big.bin"), &data).unwrap();
    std::fs::write(&pass, "pw\n").unwrap();
    let b = lab(&repo, &pass, &src, Some("{ last = 1 }"));
    let r = labbackup::repo::Repo::new(&b).unwrap();
    r.init().unwrap();
    r.backup_set(&b.sets[0], Some("h")).unwrap();
    assert!(
        r.check(100).unwrap().is_empty(),
        "a fresh repository is sound"
    );
    let mut packs = Vec::new();
    pack_files(&repo.join("data"), &mut packs);
    let biggest = packs
        .iter()
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap()
        .clone();
    let mut bytes = std::fs::read(&biggest).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&biggest, bytes).unwrap();
    let findings = r.check(100).unwrap();
    assert!(
        !findings.is_empty(),
        "reading all data finds the flipped byte"
    );
}

#[test]
fn a_second_writer_is_refused_with_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, pass, src) = (
        dir.path().join("repo"),
        dir.path().join("pass"),
        dir.path().join("src"),
    );
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("f"), "x").unwrap();
    std::fs::write(&pass, "pw\n").unwrap();
    let b = lab(&repo, &pass, &src, Some("{ last = 1 }"));
    let r = labbackup::repo::Repo::new(&b).unwrap();
    r.init().unwrap();
    let held = r.write_lock().unwrap();
    let err = r.backup_set(&b.sets[0], None).unwrap_err();
    match &err {
        labbackup::repo::BackupError::Locked { pid, .. } => {
            assert_eq!(pid, &std::process::id().to_string());
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("the repository is locked by pid"));
    assert!(
        labbackup::repo::Repo::new(&b)
            .unwrap()
            .snapshots()
            .unwrap()
            .is_empty(),
        "nothing was written"
    );
    drop(held);
    r.backup_set(&b.sets[0], None).unwrap();
    assert_eq!(r.snapshots().unwrap().len(), 1);
}
