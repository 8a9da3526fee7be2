//! The `labbackup` binary end to end on a real repository.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

fn labbackup(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_labbackup"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn init_run_snapshots_forget_and_restore() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("a.conf"), "a = 1\n").unwrap();
    std::fs::write(src.join("sub/b.tmp"), "scratch").unwrap();
    std::fs::write(src.join("sub/c"), "c").unwrap();
    let pass = dir.path().join("pass");
    std::fs::write(&pass, "s3cret-pass\n").unwrap();
    let lab = dir.path().join("lab.toml");
    std::fs::write(
        &lab,
        format!(
            "[backup]\nrepository = \"{}\"\npassword_file = \"{}\"\nstate_dir = \"{}\"\nretention = {{ daily = 7 }}\n[[backup.set]]\nname = \"configs\"\npaths = [\"{}\"]\nexclude = [\"*.tmp\"]\n",
            dir.path().join("repo").display(),
            pass.display(),
            dir.path().join("state").display(),
            src.display()
        ),
    )
    .unwrap();
    let l = lab.to_str().unwrap();
    let o = labbackup(&["init", l]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let o = labbackup(&["run", l, "--host", "lab1", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let runs: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(runs[0]["outcome"], "ok");
    assert_eq!(runs[0]["snapshot"]["tags"][0], "configs");
    assert!(dir.path().join("state/last-runs.json").exists());
    let o = labbackup(&["snapshots", l]);
    assert!(text(&o.stdout).contains("lab1"), "{}", text(&o.stdout));
    let o = labbackup(&["forget", l, "--dry-run"]);
    assert!(
        text(&o.stdout).contains("keep    daily 1"),
        "{}",
        text(&o.stdout)
    );
    let o = labbackup(&["check", l, "--read-data-percent", "100"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "no errors found\n");
    let o = labbackup(&["forget", l]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));

    let target = dir.path().join("restored");
    let o = labbackup(&[
        "restore",
        l,
        "configs",
        "--target",
        target.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let root = target.join(src.strip_prefix("/").unwrap());
    assert_eq!(
        std::fs::read_to_string(root.join("a.conf")).unwrap(),
        "a = 1\n"
    );
    assert!(
        root.join("sub/c").exists() && !root.join("sub/b.tmp").exists(),
        "excluded *.tmp"
    );
    let o = labbackup(&[
        "restore",
        l,
        "configs",
        "--target",
        target.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("is not empty"),
        "{}",
        text(&o.stderr)
    );

    // A wrong password: exit 2, and the password appears nowhere.
    std::fs::write(&pass, "not-the-password\n").unwrap();
    let o = labbackup(&["snapshots", l]);
    assert_eq!(o.status.code(), Some(2));
    let all = text(&o.stdout) + &text(&o.stderr);
    assert!(
        !all.contains("not-the-password") && !all.contains("s3cret-pass"),
        "{all}"
    );
}

#[test]
fn an_invalid_lab_exits_1_with_file_line_and_hint() {
    let dir = tempfile::tempdir().unwrap();
    let lab = dir.path().join("lab.toml");
    std::fs::write(&lab, "[backup]\nrepository = \"/r\"\npassword = \"x\"\n").unwrap();
    let o = labbackup(&["snapshots", lab.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let e = text(&o.stderr);
    assert!(
        e.contains(
            "backup.password: line 3 holds a plain password, which does not belong in the lab file"
        ),
        "{e}"
    );
    assert!(
        !e.contains("\"x\""),
        "the line with the password is not shown: {e}"
    );
    assert_eq!(labbackup(&["--help"]).status.code(), Some(0));
    assert_eq!(
        labbackup(&["check", lab.to_str().unwrap(), "--read-data-percent", "101"])
            .status
            .code(),
        Some(2)
    );
}
