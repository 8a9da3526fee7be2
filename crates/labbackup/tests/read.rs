//! `[backup]` as the lab file gives it: values, and every problem at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

const OK: &str = r#"
[backup]
repository = "/mnt/backup/labkit"
password_file = "/etc/labkit/backup.pass"
retention = { daily = 7, weekly = 4, monthly = 12 }
check_read_data_percent = 10
rto_minutes = 30
rpo_hours = 24

[[backup.set]]
name = "docker-volumes"
paths = ["/data/docker/volumes"]
exclude = ["*.tmp"]
tags = ["docker"]
before = ["docker", "pause", "db"]
after = ["docker", "unpause", "db"]
[[backup.set]]
name = "pg-dump"
stdin_command = ["docker", "exec", "db", "pg_dumpall", "-U", "postgres"]
[[backup.set]]
name = "configs"
paths = ["/etc/docker/daemon.json", "/etc/libvirt", "/etc/ssh"]
"#;

#[test]
fn the_issues_example_reads_as_written() {
    let b = labbackup::parse("lab.toml", OK).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(b.repository, "/mnt/backup/labkit");
    assert_eq!(
        b.password,
        labbackup::PasswordSource::File("/etc/labkit/backup.pass".into())
    );
    assert_eq!(
        (
            b.retention.daily,
            b.retention.weekly,
            b.retention.monthly,
            b.retention.last
        ),
        (7, 4, 12, 0)
    );
    assert_eq!(
        (b.check_read_data_percent, b.rto_minutes, b.rpo_hours),
        (10, Some(30), Some(24))
    );
    assert_eq!(b.sets.len(), 3);
    assert_eq!(
        b.sets[0].before.as_deref(),
        Some(&["docker".to_owned(), "pause".into(), "db".into()][..])
    );
    assert_eq!(b.sets[1].stdin_command.as_ref().unwrap()[4], "-U");
    assert!(b.sets[1].paths.is_empty());
}

#[test]
fn every_problem_at_once_with_place_and_hint() {
    let bad = r#"
[backup]
repository = "backups"
password = "hunter2"
retention = { daily = 7, wekly = 4 }
check_read_data_percent = 101

[[backup.set]]
name = "a"
paths = ["relative/dir"]
before = "docker pause db"
[[backup.set]]
name = "b"
[[backup.set]]
name = "a"
paths = ["/x"]
stdin_command = ["pg_dumpall"]
"#;
    let d = labbackup::parse("lab.toml", bad).unwrap_err();
    let fields: Vec<&str> = d.items().iter().map(|i| i.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "backup.password",
            "backup.password_file",
            "backup.repository",
            "backup.retention.wekly",
            "backup.check_read_data_percent",
            "backup.set[0].paths[0]",
            "backup.set[0].before",
            "backup.set[1]",
            "backup.set[2].stdin_command",
            "backup.set[2].name",
        ],
        "{d}: in file order (a problem of a whole table is at its header)"
    );
    let by = |f: &str| d.items().iter().find(|i| i.field == f).unwrap();
    assert!(
        by("backup.password")
            .hint
            .as_deref()
            .unwrap()
            .contains("password_file")
    );
    assert!(
        !d.to_string().contains("hunter2"),
        "a password is never echoed back, nor its line: {d}"
    );
    assert_eq!(
        by("backup.retention.wekly").hint.as_deref(),
        Some("did you mean `weekly`?")
    );
    assert!(
        by("backup.set[0].before")
            .hint
            .as_deref()
            .unwrap()
            .contains("[\"docker\", \"pause\", \"db\"]")
    );
    assert!(d.to_string().contains("lab.toml:3:"), "{d}");
}

#[test]
fn added_fields_read_and_their_problems_are_named() {
    let text = OK.replace(
        "rpo_hours = 24\n",
        "rpo_hours = 24\nstate_dir = \"/srv/labkit/state\"\nrepository_options = { retry = \"3\", timeout = \"2min\" }\n",
    )
    .replace(
        "stdin_command = [\"docker\", \"exec\", \"db\", \"pg_dumpall\", \"-U\", \"postgres\"]\n",
        "stdin_command = [\"docker\", \"exec\", \"db\", \"pg_dumpall\", \"-U\", \"postgres\"]\nstdin_filename = \"all.sql\"\n",
    );
    let b = labbackup::parse("lab.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(b.state_dir, "/srv/labkit/state");
    assert_eq!(
        b.repository_options.get("retry").map(String::as_str),
        Some("3")
    );
    assert_eq!(b.repository_options.len(), 2);
    assert_eq!(b.set("pg-dump").unwrap().stdin_filename, "all.sql");
    // Defaults.
    let b = labbackup::parse("lab.toml", OK).unwrap();
    assert_eq!(b.state_dir, labbackup::DEFAULT_STATE_DIR);
    assert_eq!(b.set("pg-dump").unwrap().stdin_filename, "pg-dump.stdin");
    assert!(b.repository_options.is_empty());

    let bad = OK
        .replace(
            "rpo_hours = 24\n",
            "rpo_hours = 24\nstate_dir = \"state\"\nrepository_options = { retry = 3 }\n",
        )
        .replace(
            "name = \"pg-dump\"\n",
            "name = \"pg-dump\"\nstdin_filename = \"dumps/all.sql\"\n",
        );
    let e = labbackup::parse("lab.toml", &bad).unwrap_err().to_string();
    assert!(
        e.contains("backup.state_dir: \"state\" is not an absolute path"),
        "{e}"
    );
    assert!(e.contains("backup.repository_options.retry"), "{e}");
    assert!(
        e.contains("\"dumps/all.sql\" is not a plain file name"),
        "{e}"
    );
}
