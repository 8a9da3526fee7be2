//! labbackup's repositories are restic's: Debian's `restic` lists, checks
//! (reading every pack) and restores what labbackup wrote, byte for byte, and
//! labbackup restores what restic wrote.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;

mod common;
use common::{lab, restic};

fn have_restic() -> bool {
    Command::new("restic")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A tree with what backups get wrong: many small files, a larger one,
/// duplicates, a symlink, odd modes, an empty directory.
fn tree(root: &Path) {
    std::fs::create_dir_all(root.join("etc/ssh")).unwrap();
    std::fs::create_dir_all(root.join("empty")).unwrap();
    for i in 0..200 {
        std::fs::write(
            root.join(format!("etc/f{i:03}.conf")),
            format!("setting = {i}\n").repeat(i % 7 + 1),
        )
        .unwrap();
    }
    let big: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(root.join("big.bin"), &big).unwrap();
    std::fs::write(root.join("copy-of-big.bin"), &big).unwrap();
    std::fs::write(root.join("etc/ssh/sshd_config"), "Port 2201\n").unwrap();
    std::fs::set_permissions(
        root.join("etc/ssh/sshd_config"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::fs::write(root.join("run.sh"), "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(root.join("run.sh"), std::fs::Permissions::from_mode(0o750)).unwrap();
    std::os::unix::fs::symlink("etc/ssh/sshd_config", root.join("link")).unwrap();
}

/// Every entry under `a` and `b`, relative, with kind, mode, content or link target.
fn listing(root: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.file_type().is_symlink() {
                out.push(format!(
                    "{rel} -> {}",
                    std::fs::read_link(&p).unwrap().display()
                ));
            } else if m.is_dir() {
                out.push(format!("{rel}/ {:o}", m.permissions().mode() & 0o7777));
                walk(base, &p, out);
            } else {
                let data = std::fs::read(&p).unwrap();
                let sum = data
                    .iter()
                    .fold(0u64, |h, &b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
                out.push(format!(
                    "{rel} {:o} {} {sum:x}",
                    m.permissions().mode() & 0o7777,
                    data.len()
                ));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out
}

#[test]
#[cfg_attr(not(labkit_restic), ignore = "needs restic (Debian package restic)")]
fn restic_lists_checks_and_restores_what_labbackup_wrote() {
    assert!(have_restic());
    let dir = tempfile::tempdir().unwrap();
    let (repo, pass, src) = (
        dir.path().join("repo"),
        dir.path().join("pass"),
        dir.path().join("src"),
    );
    std::fs::write(&pass, "correct horse battery staple\n").unwrap();
    tree(&src);
    let b = lab(&repo, &pass, &src, None);
    let r = labbackup::repo::Repo::new(&b).unwrap();
    r.init().unwrap();
    let snap = r.backup_set(&b.sets[0], Some("labhost")).unwrap();
    assert_eq!(snap.tags, ["configs"]);
    assert_eq!(snap.host, "labhost");

    let out = restic(&repo, &pass, &["snapshots", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["hostname"], "labhost");
    assert_eq!(list[0]["tags"][0], "configs");
    assert!(list[0]["id"].as_str().unwrap().starts_with(&snap.id[..8]));

    let out = restic(&repo, &pass, &["check", "--read-data"]);
    assert!(
        out.status.success(),
        "restic check --read-data: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let target = dir.path().join("by-restic");
    let out = restic(
        &repo,
        &pass,
        &["restore", "latest", "--target", target.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // restic restores the absolute path under the target.
    let restored = target.join(src.strip_prefix("/").unwrap());
    assert_eq!(listing(&restored), listing(&src));
}

#[test]
#[cfg_attr(not(labkit_restic), ignore = "needs restic (Debian package restic)")]
fn labbackup_restores_what_restic_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, pass, src) = (
        dir.path().join("repo"),
        dir.path().join("pass"),
        dir.path().join("src"),
    );
    std::fs::write(&pass, "another password\n").unwrap();
    tree(&src);
    assert!(restic(&repo, &pass, &["init"]).status.success());
    let out = restic(
        &repo,
        &pass,
        &[
            "backup",
            "--tag",
            "configs",
            "--host",
            "old",
            src.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b = lab(&repo, &pass, &src, None);
    let r = labbackup::repo::Repo::new(&b).unwrap();
    let snaps = r.snapshots().unwrap();
    assert_eq!((snaps.len(), snaps[0].host.as_str()), (1, "old"));
    let target = dir.path().join("by-labbackup");
    r.restore("configs", None, &target, false).unwrap();
    let restored = target.join(src.strip_prefix("/").unwrap());
    let restored = if restored.exists() {
        restored
    } else {
        target.clone()
    };
    assert_eq!(listing(&restored), listing(&src));

    // A target with files in it is refused, and nothing is written there.
    std::fs::write(target.join("keep.txt"), "mine").unwrap();
    let before = listing(&target);
    let err = r.restore("configs", None, &target, false).unwrap_err();
    assert!(
        matches!(err, labbackup::repo::BackupError::TargetNotEmpty(_)),
        "{err}"
    );
    assert_eq!(listing(&target), before);
}

#[test]
fn a_wrong_password_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, pass, src) = (
        dir.path().join("repo"),
        dir.path().join("pass"),
        dir.path().join("src"),
    );
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(&pass, "right\n").unwrap();
    let b = lab(&repo, &pass, &src, None);
    labbackup::repo::Repo::new(&b).unwrap().init().unwrap();
    std::fs::write(&pass, "wrong\n").unwrap();
    let err = labbackup::repo::Repo::new(&b)
        .unwrap()
        .snapshots()
        .unwrap_err();
    let text = format!("{err}");
    assert!(text.starts_with("cannot open the repository at "), "{text}");
    assert!(
        !format!("{err:?}").contains("wrong\n") && !text.contains("wrong"),
        "the password never appears"
    );
}
