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

/// A lab in `d` with a set `configs` of `d/src`, a hook that records its
/// environment, `rpo_hours` and `rto_minutes`.
fn hooked_lab(d: &std::path::Path) -> std::path::PathBuf {
    std::fs::create_dir_all(d.join("src")).unwrap();
    std::fs::write(d.join("src/a"), "a\n").unwrap();
    std::fs::write(d.join("pass"), "file-pass-2718\n").unwrap();
    let lab = d.join("lab.toml");
    std::fs::write(
        &lab,
        format!(
            "[backup]\nrepository = \"{repo}\"\npassword_file = \"{pass}\"\nstate_dir = \"{state}\"\nrpo_hours = 24\nrto_minutes = 30\n\
             [[backup.set]]\nname = \"configs\"\npaths = [\"{src}\"]\nbefore = [\"sh\", \"-c\", \"env > {env}\"]\n",
            repo = d.join("repo").display(),
            pass = d.join("pass").display(),
            state = d.join("state").display(),
            src = d.join("src").display(),
            env = d.join("hook-env").display()
        ),
    )
    .unwrap();
    lab
}

#[test]
fn drill_status_and_metrics_and_no_password_in_hooks() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let lab = hooked_lab(d);
    let l = lab.to_str().unwrap();
    assert_eq!(labbackup(&["init", l]).status.code(), Some(0));
    // A password handed to labbackup the restic way never reaches a hook.
    let o = Command::new(env!("CARGO_BIN_EXE_labbackup"))
        .args(["run", l])
        .env("RESTIC_PASSWORD", "env-pass-1618")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let env = std::fs::read_to_string(d.join("hook-env")).unwrap();
    assert!(
        !env.contains("env-pass-1618") && !env.contains("file-pass-2718"),
        "{env}"
    );

    let o = labbackup(&["drill", l, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["passed"], true);
    assert_eq!(report["sets"][0]["files"], 1);
    let id = report["id"].as_str().unwrap();
    let md = std::fs::read_to_string(d.join(format!("state/drills/drill-{id}.md"))).unwrap();
    assert!(
        md.contains("PASSED") && md.contains("target 30 min: met"),
        "{md}"
    );

    let metrics = d.join("metrics/labbackup.prom");
    std::fs::create_dir_all(metrics.parent().unwrap()).unwrap();
    let o = labbackup(&[
        "status",
        l,
        "--format",
        "json",
        "--metrics",
        metrics.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let status: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(status["sets"][0]["rpo_met"], true);
    assert_eq!(status["sets"][0]["last_run"]["outcome"], "ok");
    assert_eq!(status["last_drill"]["id"], id);
    let m = std::fs::read_to_string(&metrics).unwrap();
    for line in [
        "labbackup_drill_success 1",
        "labbackup_last_run_success{set=\"configs\"} 1",
        "labbackup_rpo_met{set=\"configs\"} 1",
        "# TYPE labbackup_snapshot_age_seconds gauge",
    ] {
        assert!(m.lines().any(|l| l == line), "{line} in\n{m}");
    }
    // Every sample line is NAME{labels} VALUE with a number, as node_exporter reads it.
    for l in m.lines().filter(|l| !l.starts_with('#')) {
        let (_, v) = l.rsplit_once(' ').unwrap();
        assert!(v.parse::<f64>().is_ok(), "{l}");
    }
    // Written atomically: no temporary file is left beside it.
    assert_eq!(
        std::fs::read_dir(metrics.parent().unwrap())
            .unwrap()
            .count(),
        1
    );

    // verify: the restored tree matches its snapshot, until it does not.
    let snap = report["sets"][0]["snapshot"].as_str().unwrap().to_owned();
    let restored = d.join("r");
    let o = labbackup(&[
        "restore",
        l,
        "configs",
        "--target",
        restored.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let o = labbackup(&["verify", l, &snap[..8], restored.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let a = restored.join(d.join("src/a").strip_prefix("/").unwrap());
    std::fs::write(&a, "b\n").unwrap();
    let o = labbackup(&[
        "verify",
        l,
        &snap,
        restored.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let findings: Vec<String> = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f.contains("/src/a: content differs")),
        "{findings:?}"
    );

    // With a target, the restored tree stays there.
    let o = labbackup(&["drill", l, "--target", d.join("t").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        d.join("t/configs").exists(),
        "kept where it was asked to go"
    );
}

#[test]
#[cfg_attr(
    not(labkit_systemd_analyze),
    ignore = "needs systemd-analyze (Debian package systemd)"
)]
fn schedule_writes_units_that_systemd_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let lab = hooked_lab(d);
    let l = lab.to_str().unwrap();
    let o = labbackup(&["schedule", l, "--dry-run"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let printed = text(&o.stdout);
    assert!(printed.contains("OnCalendar=*-*-* 02:00:00"), "{printed}");
    assert!(printed.contains("Persistent=true") && printed.contains("RandomizedDelaySec=30min"));
    let units = d.join("units");
    let o = labbackup(&[
        "schedule",
        l,
        "--at",
        "03:15",
        "--metrics",
        d.join("m.prom").to_str().unwrap(),
        "--write",
        units.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let service = std::fs::read_to_string(units.join("labbackup-daily.service")).unwrap();
    for want in [" run ", " forget ", " check ", " status "] {
        assert!(service.contains(want), "{want} in {service}");
    }
    let timer = std::fs::read_to_string(units.join("labbackup-daily.timer")).unwrap();
    assert!(timer.contains("OnCalendar=*-*-* 03:15:00"), "{timer}");
    let names = [
        "labbackup-daily.service",
        "labbackup-daily.timer",
        "labbackup-drill.service",
        "labbackup-drill.timer",
    ];
    let o = Command::new("systemd-analyze")
        .arg("verify")
        .arg("--man=no")
        .args(names.iter().map(|n| units.join(n)))
        .current_dir(&units)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    assert!(
        text(&o.stderr).trim().is_empty(),
        "no warnings: {}",
        text(&o.stderr)
    );
    // A bad time is a usage error naming it.
    let o = labbackup(&["schedule", l, "--at", "25:00"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("\"25:00\" is not a time of day"),
        "{}",
        text(&o.stderr)
    );
}
