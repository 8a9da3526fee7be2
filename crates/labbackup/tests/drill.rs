//! The disaster-recovery drill on real repositories: a sound one passes with
//! every entry verified; a stale snapshot misses the RPO; a damaged pack fails
//! the set and the check; restores never leave their target.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use labbackup::repo::{BackupError, Repo};

mod common;
use common::restic;

fn parse(text: &str) -> labbackup::Backup {
    labbackup::parse("lab.toml", text).unwrap_or_else(|e| panic!("{e}"))
}

fn tree(root: &Path) {
    std::fs::create_dir_all(root.join("etc/ssh")).unwrap();
    std::fs::create_dir_all(root.join("empty")).unwrap();
    for i in 0..50 {
        std::fs::write(
            root.join(format!("etc/f{i}")),
            format!("{i}\n").repeat(i + 1),
        )
        .unwrap();
    }
    let big: Vec<u8> = (0..2_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    std::fs::write(root.join("big"), &big).unwrap();
    std::fs::write(root.join("etc/ssh/key"), "secret\n").unwrap();
    std::fs::set_permissions(
        root.join("etc/ssh/key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::os::unix::fs::symlink("etc/ssh/key", root.join("link")).unwrap();
}

fn lab(d: &Path, extra: &str) -> labbackup::Backup {
    std::fs::write(d.join("pass"), "drill-pass\n").unwrap();
    parse(&format!(
        "[backup]\nrepository = \"{}\"\npassword_file = \"{}\"\nstate_dir = \"{}\"\n{extra}\n\
         [[backup.set]]\nname = \"files\"\npaths = [\"{}\"]\n\
         [[backup.set]]\nname = \"dump\"\nstdin_command = [\"seq\", \"1\", \"20000\"]\n",
        d.join("repo").display(),
        d.join("pass").display(),
        d.join("state").display(),
        d.join("src").display()
    ))
}

#[test]
fn a_sound_repository_passes_with_every_entry_verified() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tree(&d.join("src"));
    let b = lab(
        d,
        "rto_minutes = 30\nrpo_hours = 24\ncheck_read_data_percent = 100",
    );
    let r = Repo::new(&b).unwrap();
    r.init().unwrap();
    for s in &b.sets {
        assert!(r.run_set(s, None).is_ok());
    }
    let target = d.join("drill");
    let report = r.drill(&[], Some(&target)).unwrap();
    assert!(report.passed, "{}", report.to_markdown());
    assert_eq!(report.backend, "local");
    assert_eq!(report.repository_version, 2);
    assert!(report.engine.starts_with("rustic_core 0.13"));
    assert!(report.rto_margin_s.unwrap() > 0.0);
    assert!(report.check_findings.is_empty());
    let files = &report.sets[0];
    // 50 + big + key; the link and directories are entries, not files.
    assert_eq!(files.files, 52);
    assert!(files.entries > 52);
    assert_eq!(files.rpo_met, Some(true));
    assert!(files.bytes > 2_000_000);
    assert_eq!(report.sets[1].files, 1);
    // The restored tree is kept when a target is given.
    let root = target
        .join("files")
        .join(d.join("src").strip_prefix("/").unwrap());
    assert_eq!(
        std::fs::read_link(root.join("link")).unwrap(),
        Path::new("etc/ssh/key")
    );
    let md = report.to_markdown();
    assert!(md.contains(": PASSED"), "{md}");
    assert!(md.contains("| files |"), "{md}");
    // Written and read back by status.
    let state = labbackup::status::State::new(d.join("state"));
    let (json, mdfile) = state.save_drill(&report).unwrap();
    assert!(json.exists() && mdfile.exists());
    assert_eq!(state.drill().unwrap().id, report.id);

    // A non-empty target is refused up front.
    assert!(matches!(
        r.drill(&[], Some(&target)),
        Err(BackupError::TargetNotEmpty(_))
    ));
    assert!(matches!(
        r.drill(&["nope".to_owned()], None),
        Err(BackupError::NoSuchSet(_))
    ));
}

#[test]
#[cfg_attr(not(labkit_restic), ignore = "needs restic (Debian package restic)")]
fn a_stale_snapshot_misses_the_rpo_and_fails_the_drill() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tree(&d.join("src"));
    let b = lab(d, "rpo_hours = 1");
    let (repo, pass) = (d.join("repo"), d.join("pass"));
    assert!(restic(&repo, &pass, &["init"]).status.success());
    let two_hours_ago = jiff::Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_hours(2))
        .unwrap()
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string();
    let o = restic(
        &repo,
        &pass,
        &[
            "backup",
            "-q",
            "--tag",
            "files",
            "--time",
            &two_hours_ago,
            d.join("src").to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = Repo::new(&b).unwrap();
    let report = r.drill(&["files".to_owned()], None).unwrap();
    assert!(!report.passed);
    let s = &report.sets[0];
    assert!(s.passed, "the restore itself is sound: {:?}", s.findings);
    assert_eq!(s.rpo_met, Some(false));
    assert!(s.snapshot_age_s.unwrap() >= 7200);
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.contains("over the target of 1 h")),
        "{:?}",
        report.findings
    );
    assert!(!Path::new(&report.target).exists(), "scratch is removed");
}

#[test]
fn a_damaged_pack_fails_the_drill_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("src")).unwrap();
    let data: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(40503) >> 7) as u8)
        .collect();
    std::fs::write(d.join("src/precious.db"), &data).unwrap();
    let b = lab(d, "check_read_data_percent = 100");
    let r = Repo::new(&b).unwrap();
    r.init().unwrap();
    assert!(r.run_set(&b.sets[0], None).is_ok());
    // Flip a byte in the middle of the largest pack.
    let mut packs: Vec<_> = walk(&d.join("repo/data"));
    packs.sort_by_key(|p| std::fs::metadata(p).unwrap().len());
    let pack = packs.last().unwrap();
    let mut bytes = std::fs::read(pack).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::set_permissions(pack, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(pack, &bytes).unwrap();

    let findings = r.check(100).unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f.contains("affected file: ") && f.contains("/src/precious.db")),
        "{findings:#?}"
    );
    let report = r.drill(&["files".to_owned()], None).unwrap();
    assert!(!report.passed);
    assert!(!report.sets[0].passed, "{:?}", report.sets[0]);
    assert!(!report.check_findings.is_empty());
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_restore_never_writes_through_a_link_in_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = d.join("src");
    std::fs::create_dir_all(src.join("conf")).unwrap();
    std::fs::write(src.join("conf/app.ini"), "safe\n").unwrap();
    // The snapshot's own link to outside is restored as a link, not followed.
    std::os::unix::fs::symlink(d.join("outside"), src.join("escape")).unwrap();
    let b = lab(d, "");
    let r = Repo::new(&b).unwrap();
    r.init().unwrap();
    assert!(r.run_set(&b.sets[0], None).is_ok());
    std::fs::create_dir_all(d.join("outside")).unwrap();
    let target = d.join("t");
    r.restore("files", None, &target, false).unwrap();
    let root = target.join(src.strip_prefix("/").unwrap());
    assert!(root.join("escape").symlink_metadata().unwrap().is_symlink());
    assert_eq!(std::fs::read_dir(d.join("outside")).unwrap().count(), 0);

    // A link already in the target where the snapshot has a directory: an
    // overwriting restore would write through it, so it is refused whole.
    std::fs::remove_dir_all(root.join("conf")).unwrap();
    std::os::unix::fs::symlink(d.join("outside"), root.join("conf")).unwrap();
    let e = r.restore("files", None, &target, true).unwrap_err();
    assert!(matches!(e, BackupError::Escape { .. }), "{e}");
    assert!(e.to_string().contains("conf"), "{e}");
    assert_eq!(
        std::fs::read_dir(d.join("outside")).unwrap().count(),
        0,
        "nothing was written outside the target"
    );
}

#[test]
#[cfg_attr(not(labkit_restic), ignore = "needs restic (Debian package restic)")]
fn a_file_that_changes_while_it_is_read_is_backed_up_and_drills_clean() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tree(&d.join("src"));
    let log = d.join("src/busy.log");
    std::fs::write(&log, "start\n".repeat(100_000)).unwrap();
    let b = lab(d, "check_read_data_percent = 100");
    let r = Repo::new(&b).unwrap();
    r.init().unwrap();
    // A writer appends to the log for as long as the backup runs.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            use std::io::Write as _;
            let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                writeln!(f, "line {n} {}", "x".repeat(200)).unwrap();
                n += 1;
                // A busy log, not a flood: the reader must reach its end.
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            n
        })
    };
    let run = r.run_set(&b.sets[0], None);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let lines = writer.join().unwrap();
    assert!(lines > 0);
    assert!(run.is_ok(), "{run:?}");
    let report = r.drill(&["files".to_owned()], None).unwrap();
    assert!(report.passed, "{}", report.to_markdown());
    let o = restic(&d.join("repo"), &d.join("pass"), &["check", "--read-data"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn verification_names_every_kind_of_difference() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tree(&d.join("src"));
    let b = lab(d, "");
    let r = Repo::new(&b).unwrap();
    r.init().unwrap();
    let snap = r.run_set(&b.sets[0], None).snapshot.unwrap();
    let target = d.join("t");
    r.restore("files", None, &target, false).unwrap();
    assert_eq!(r.verify(&snap.id, &target).unwrap(), Vec::<String>::new());

    let root = target.join(d.join("src").strip_prefix("/").unwrap());
    let shown = |rel: &str| format!("{}/{rel}", d.join("src").display());
    // One byte of content, same size and time.
    let big = root.join("big");
    let mtime = std::fs::metadata(&big).unwrap().modified().unwrap();
    let mut bytes = std::fs::read(&big).unwrap();
    bytes[1_500_000] ^= 1;
    std::fs::write(&big, &bytes).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&big)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    // Permissions, modification time, size, a link's target, a missing file.
    std::fs::set_permissions(
        root.join("etc/ssh/key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    std::fs::File::options()
        .write(true)
        .open(root.join("etc/f1"))
        .unwrap()
        .set_modified(std::time::SystemTime::UNIX_EPOCH)
        .unwrap();
    std::fs::write(root.join("etc/f2"), "2\n2\n2\n4\n").unwrap();
    std::fs::remove_file(root.join("link")).unwrap();
    std::os::unix::fs::symlink("/etc/shadow", root.join("link")).unwrap();
    std::fs::remove_file(root.join("etc/f3")).unwrap();

    let findings = r.verify(&snap.id[..8], &target).unwrap();
    let has = |path: &str, what: &str| {
        findings
            .iter()
            .any(|f| f.starts_with(&shown(path)) && f.contains(what))
    };
    assert!(
        has("big", "content differs from the snapshot's in chunk"),
        "{findings:#?}"
    );
    assert!(
        has("etc/ssh/key", "mode 644 instead of 600"),
        "{findings:#?}"
    );
    assert!(has("etc/f1", "modified time differs"), "{findings:#?}");
    assert!(has("etc/f2", "bytes instead of 6"), "{findings:#?}");
    assert!(
        has("link", "links to /etc/shadow instead of etc/ssh/key"),
        "{findings:#?}"
    );
    assert!(has("etc/f3", "not restored"), "{findings:#?}");
    assert_eq!(
        findings.len(),
        7,
        "f2's rewrite changed its time too: {findings:#?}"
    );
}
