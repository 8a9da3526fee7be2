//! labbackup's hooks against a real Docker Engine of the test's own: a
//! container is paused for exactly the duration of its set's backup, and a
//! `stdin_command` dump taken with `docker exec` round-trips through restore.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use labbackup::repo::Repo;
use labkit_tests::dockerd::Dockerd;

fn toml_argv(argv: &[String]) -> String {
    let words: Vec<String> = argv.iter().map(|w| format!("{w:?}")).collect();
    format!("[{}]", words.join(", "))
}

#[test]
#[cfg_attr(
    not(labkit_dockerd),
    ignore = "needs root, network namespaces and Docker Engine (Debian packages docker.io, busybox-static)"
)]
fn a_container_is_paused_for_exactly_its_sets_backup_and_a_dump_round_trips() {
    let docker = Dockerd::start("bk");
    // The container appends the time every 20 ms to a file in its volume:
    // while it is paused, none can appear. busybox's date has no %N, so the
    // time is the kernel's uptime (one clock for host and container, 10 ms
    // steps), turned into wall time below.
    docker.build_busybox(
        "labkit-busybox",
        &[
            "/bin/sh",
            "-c",
            "while true; do cut -d' ' -f1 /proc/uptime >> /data/ticks; usleep 20000; done",
        ],
    );
    let vol = docker.scratch().join("vol");
    std::fs::create_dir_all(&vol).unwrap();
    // A volume big enough that the backup takes a while.
    let big: Vec<u8> = (0..30_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 9) as u8)
        .collect();
    std::fs::write(vol.join("table.dat"), &big).unwrap();
    std::fs::write(
        vol.join("dump.sql"),
        "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\n".repeat(2000),
    )
    .unwrap();
    let o = docker.docker(&[
        "run",
        "-d",
        "--name",
        "db",
        "--network",
        "none",
        "-v",
        &format!("{}:/data", vol.display()),
        "labkit-busybox",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::thread::sleep(std::time::Duration::from_millis(500));

    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("pass"), "docker-pass\n").unwrap();
    let mut pause = docker.docker_argv();
    pause.extend(["pause".to_owned(), "db".to_owned()]);
    let mut unpause = docker.docker_argv();
    unpause.extend(["unpause".to_owned(), "db".to_owned()]);
    let mut dump = docker.docker_argv();
    dump.extend(["exec", "db", "cat", "/data/dump.sql"].map(str::to_owned));
    let b = labbackup::parse(
        "lab.toml",
        &format!(
            "[backup]\nrepository = \"{}\"\npassword_file = \"{}\"\nstate_dir = \"{}\"\n\
             [[backup.set]]\nname = \"docker-volumes\"\npaths = [\"{}\"]\nexclude = [\"ticks\"]\ntags = [\"docker\"]\nbefore = {}\nafter = {}\n\
             [[backup.set]]\nname = \"db-dump\"\nstdin_command = {}\nstdin_filename = \"dump.sql\"\n",
            d.path().join("repo").display(),
            d.path().join("pass").display(),
            d.path().join("state").display(),
            vol.display(),
            toml_argv(&pause),
            toml_argv(&unpause),
            toml_argv(&dump),
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let r = Repo::new(&b).unwrap();
    r.init().unwrap();
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 1;
    let run = r.run_set(&b.sets[0], None);
    assert!(run.is_ok(), "{run:?}");
    assert_eq!(
        run.snapshot.as_ref().unwrap().tags,
        vec!["docker", "docker-volumes"]
    );
    let (start_ms, end_ms) = (run.backup_started_ms, run.backup_ended_ms);
    let (paused_ms, unpause_start_ms) = (
        run.hooks[0].ended_ms,
        run.hooks[1].ended_ms - run.hooks[1].duration_ms,
    );
    assert!(paused_ms <= start_ms && unpause_start_ms >= end_ms);

    // The engine's own record: paused before the backup began, unpaused after it ended.
    let until = (end_ms / 1000 + 2).to_string();
    let o = docker.docker(&[
        "events",
        "--since",
        &since.to_string(),
        "--until",
        &until,
        "--filter",
        "container=db",
        "--format",
        "{{.Action}} {{.TimeNano}}",
    ]);
    let events = String::from_utf8_lossy(&o.stdout).into_owned();
    let at = |action: &str| -> u64 {
        events
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{action} ")))
            .unwrap_or_else(|| panic!("no {action} event in {events}"))
            .parse::<u64>()
            .unwrap()
            / 1_000_000
    };
    let (paused_at, unpaused_at) = (at("pause"), at("unpause"));
    assert!(
        paused_at <= start_ms,
        "paused at {paused_at}, backup from {start_ms}"
    );
    assert!(
        unpaused_at >= end_ms,
        "unpaused at {unpaused_at}, backup to {end_ms}"
    );
    // No tick while the backup ran, and ticks again after.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let uptime_ms = |text: &str| -> Option<u64> {
        let s: f64 = text.split_whitespace().next()?.parse().ok()?;
        Some((s * 1000.0) as u64)
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let boot_ms = now_ms - uptime_ms(&std::fs::read_to_string("/proc/uptime").unwrap()).unwrap();
    let ticks: Vec<u64> = std::fs::read_to_string(vol.join("ticks"))
        .unwrap()
        .lines()
        .filter_map(|l| uptime_ms(l).map(|u| u + boot_ms))
        .collect();
    assert!(ticks.len() > 20, "the container ticks: {ticks:?}");
    // 20 ms either side: the uptime clock has 10 ms steps, and the offset
    // to wall time is read once more.
    assert!(end_ms - start_ms > 200, "a backup long enough to tell");
    assert!(
        !ticks.iter().any(|&t| t > start_ms + 20 && t + 20 < end_ms),
        "the container ran during the backup ({start_ms}..{end_ms})"
    );
    assert!(
        ticks.iter().any(|&t| t > unpaused_at),
        "it runs again after"
    );
    // Paused for the backup and the hooks' own time, not longer.
    let gap = ticks.iter().filter(|&&t| t > end_ms).min().unwrap()
        - ticks.iter().filter(|&&t| t < start_ms).max().unwrap();
    assert!(
        gap < end_ms - start_ms + 3000,
        "paused {gap} ms for a {} ms backup",
        end_ms - start_ms
    );

    // The dump, through docker exec, restores byte for byte.
    let run = r.run_set(&b.sets[1], None);
    assert!(run.is_ok(), "{run:?}");
    let target = d.path().join("restored");
    r.restore("db-dump", None, &target, false).unwrap();
    assert_eq!(
        std::fs::read(target.join("dump.sql")).unwrap(),
        std::fs::read(vol.join("dump.sql")).unwrap()
    );
    let report = r.drill(&[], None).unwrap();
    assert!(report.passed, "{}", report.to_markdown());
}
