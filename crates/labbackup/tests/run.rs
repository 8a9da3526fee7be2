//! A set's run as the lab file describes it, on real repositories: hooks in
//! order and without the password, `after` whatever happened, a failing
//! `before` skipping the set, missing paths reported while the rest is backed
//! up, and a `stdin_command` stream that restores byte for byte (and that
//! restic dumps the same).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use labbackup::repo::Repo;
use labbackup::run::{HookPhase, Outcome};

mod common;
use common::restic;

const PASSWORD: &str = "hook-test-pass-3141";

fn parse(text: &str) -> labbackup::Backup {
    labbackup::parse("lab.toml", text).unwrap_or_else(|e| panic!("{e}"))
}

/// `[backup]` on `dir/repo`, initialised, with `sets` appended.
fn setup(dir: &Path, sets: &str) -> (labbackup::Backup, Repo) {
    std::fs::write(dir.join("pass"), format!("{PASSWORD}\n")).unwrap();
    let b = parse(&format!(
        "[backup]\nrepository = \"{}\"\npassword_file = \"{}\"\nstate_dir = \"{}\"\n{sets}",
        dir.join("repo").display(),
        dir.join("pass").display(),
        dir.join("state").display(),
    ));
    let r = Repo::new(&b).unwrap();
    r.init().unwrap();
    (b, r)
}

#[test]
fn hooks_run_around_the_backup_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("src")).unwrap();
    std::fs::write(d.join("src/f"), "data\n").unwrap();
    let log = d.join("log");
    let (b, r) = setup(
        d,
        &format!(
            "[[backup.set]]\nname = \"s\"\npaths = [\"{src}\"]\n\
             before = [\"sh\", \"-c\", \"env > {env}; echo before >> {log}\"]\n\
             after = [\"sh\", \"-c\", \"echo after >> {log}\"]\n",
            src = d.join("src").display(),
            env = d.join("env").display(),
            log = log.display()
        ),
    );
    let run = r.run_set(&b.sets[0], Some("h"));
    assert_eq!(run.outcome, Outcome::Ok, "{run:?}");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "before\nafter\n");
    let env = std::fs::read_to_string(d.join("env")).unwrap();
    assert!(
        !env.contains(PASSWORD),
        "the password is not in a hook's environment"
    );
    assert_eq!(run.hooks.len(), 2);
    assert_eq!(run.hooks[0].phase, HookPhase::Before);
    assert!(run.hooks[0].ended_ms <= run.backup_started_ms);
    assert!(run.hooks[1].ended_ms >= run.backup_ended_ms);
    let snap = run.snapshot.unwrap();
    assert_eq!(snap.tags, vec!["s"]);
    assert_eq!(snap.host, "h");
}

#[test]
fn a_failing_before_hook_skips_the_set_and_after_still_runs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("src")).unwrap();
    let log = d.join("log");
    let (b, r) = setup(
        d,
        &format!(
            "[[backup.set]]\nname = \"s\"\npaths = [\"{src}\"]\n\
             before = [\"sh\", \"-c\", \"echo cannot pause db >&2; exit 7\"]\n\
             after = [\"sh\", \"-c\", \"echo after >> {log}\"]\n",
            src = d.join("src").display(),
            log = log.display()
        ),
    );
    let run = r.run_set(&b.sets[0], None);
    assert_eq!(run.outcome, Outcome::Skipped);
    assert!(run.snapshot.is_none());
    assert_eq!(run.hooks[0].exit_code, Some(7));
    assert_eq!(run.hooks[0].stderr, "cannot pause db");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "after\n");
    assert!(r.snapshots().unwrap().is_empty(), "nothing was backed up");
}

#[test]
fn after_runs_when_the_backup_fails_and_its_own_failure_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("src")).unwrap();
    let log = d.join("log");
    let (b, r) = setup(
        d,
        &format!(
            "[[backup.set]]\nname = \"s\"\npaths = [\"{src}\"]\n\
             after = [\"sh\", \"-c\", \"echo after >> {log}; echo unpause failed >&2; exit 3\"]\n",
            src = d.join("src").display(),
            log = log.display()
        ),
    );
    // The repository disappears: the backup fails.
    std::fs::remove_dir_all(d.join("repo")).unwrap();
    let run = r.run_set(&b.sets[0], None);
    assert_eq!(run.outcome, Outcome::Failed);
    assert!(
        run.error
            .as_deref()
            .unwrap()
            .contains("cannot open the repository"),
        "{run:?}"
    );
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "after\n");
    assert_eq!(run.hooks[0].phase, HookPhase::After);
    assert_eq!(run.hooks[0].exit_code, Some(3));
    assert_eq!(run.hooks[0].stderr, "unpause failed");
}

#[test]
fn a_hook_that_cannot_start_is_a_failure_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("src")).unwrap();
    let (b, r) = setup(
        d,
        &format!(
            "[[backup.set]]\nname = \"s\"\npaths = [\"{}\"]\nbefore = [\"/nonexistent/hook\"]\n",
            d.join("src").display()
        ),
    );
    let run = r.run_set(&b.sets[0], None);
    assert_eq!(run.outcome, Outcome::Skipped);
    assert_eq!(run.hooks[0].exit_code, None);
    assert!(
        run.hooks[0].stderr.contains("cannot run /nonexistent/hook"),
        "{run:?}"
    );
}

#[test]
#[cfg_attr(not(labkit_restic), ignore = "needs restic (Debian package restic)")]
fn a_missing_path_is_reported_and_the_others_are_backed_up() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for x in ["a", "b"] {
        std::fs::create_dir_all(d.join(x)).unwrap();
        std::fs::write(d.join(x).join("f"), x).unwrap();
    }
    let (b, r) = setup(
        d,
        &format!(
            "[[backup.set]]\nname = \"s\"\npaths = [\"{a}\", \"{gone}\", \"{b}\"]\n",
            a = d.join("a").display(),
            gone = d.join("gone").display(),
            b = d.join("b").display()
        ),
    );
    let run = r.run_set(&b.sets[0], None);
    assert_eq!(run.outcome, Outcome::Partial);
    assert!(!run.is_ok());
    assert_eq!(
        run.missing_paths,
        vec![d.join("gone").display().to_string()]
    );
    let o = restic(&d.join("repo"), &d.join("pass"), &["ls", "latest"]);
    let ls = String::from_utf8_lossy(&o.stdout);
    assert!(ls.contains(&format!("{}/f", d.join("a").display())), "{ls}");
    assert!(ls.contains(&format!("{}/f", d.join("b").display())), "{ls}");

    // Every path missing: no snapshot, and the reason.
    std::fs::remove_dir_all(d.join("a")).unwrap();
    std::fs::remove_dir_all(d.join("b")).unwrap();
    let run = r.run_set(&b.sets[0], None);
    assert_eq!(run.outcome, Outcome::Failed);
    assert!(run.snapshot.is_none());
    assert!(
        run.error
            .unwrap()
            .contains("none of the paths of set s exists")
    );
}

#[test]
#[cfg_attr(not(labkit_restic), ignore = "needs restic (Debian package restic)")]
fn a_stdin_command_stream_round_trips_and_a_failing_one_leaves_no_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 5 MB of varied text, as a dump would be.
    let script = "i=0; while [ $i -lt 60000 ]; do echo \"INSERT INTO t VALUES ($i, row-$i);\"; i=$((i+1)); done";
    let (b, r) = setup(
        d,
        &format!(
            "[[backup.set]]\nname = \"dump\"\nstdin_command = [\"sh\", \"-c\", '{script}']\nstdin_filename = \"all.sql\"\n\
             [[backup.set]]\nname = \"broken\"\nstdin_command = [\"sh\", \"-c\", \"echo partial; exit 4\"]\n"
        ),
    );
    let run = r.run_set(&b.sets[0], None);
    assert_eq!(run.outcome, Outcome::Ok, "{run:?}");
    let want = std::process::Command::new("sh")
        .args(["-c", script])
        .output()
        .unwrap()
        .stdout;
    let target = d.join("restored");
    r.restore("dump", None, &target, false).unwrap();
    assert_eq!(std::fs::read(target.join("all.sql")).unwrap(), want);
    let o = restic(
        &d.join("repo"),
        &d.join("pass"),
        &["dump", "latest", "/all.sql"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.stdout, want, "restic dumps the same stream");

    let run = r.run_set(&b.sets[1], None);
    assert_eq!(run.outcome, Outcome::Failed);
    assert!(run.snapshot.is_none());
    assert!(
        run.error
            .as_deref()
            .unwrap()
            .contains("stdin_command of set broken failed"),
        "{run:?}"
    );
    let snaps = r.snapshots().unwrap();
    assert_eq!(snaps.len(), 1, "the partial dump's snapshot was deleted");
    assert_eq!(snaps[0].tags, vec!["dump"]);
}
