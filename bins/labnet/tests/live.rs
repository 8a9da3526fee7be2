//! `labnet apply/diff/status/confirm/cancel/doctor/verify/remove` against the
//! real kernel, in namespaces these tests create. Ignored, with the reason,
//! where root, `ip` or `nft` are missing.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use labkit_tests::netns;

fn labnet_cmd(args: &[&str], state: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_labnet"));
    c.args(args)
        .env("NO_COLOR", "1")
        .env("LABNET_STATE_DIR", state)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn labnet(args: &[&str], state: &Path) -> Output {
    labnet_cmd(args, state).output().expect("run labnet")
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}
fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const SMALL: &str = r#"
[lab]
name = "small"
domain = "lab.local"
uplink = "eno1"
[[segment]]
name = "a"
cidr = "10.1.0.0/24"
ssh_ports = "2201-2210"
[[segment]]
name = "b"
cidr = "10.1.1.0/25"
ssh_ports = "2211-2220"
internet = false
[policy]
[[policy.allow]]
from = "a"
to = "b"
proto = "tcp"
ports = ["5432"]
"#;

/// A test's namespace, state directory and lab files.
struct Env {
    ns: labkit_tests::Netns,
    state: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        Self {
            ns: netns(),
            state: tempfile::tempdir().unwrap(),
        }
    }
    fn n(&self) -> &str {
        self.ns.name()
    }
    fn st(&self) -> &Path {
        self.state.path()
    }
    fn run(&self, args: &[&str]) -> Output {
        labnet(args, self.st())
    }
    fn file(&self, name: &str, text: &str) -> String {
        let p = self.st().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    }
    fn table(&self) -> String {
        out(&self
            .ns
            .exec(&["nft", "list", "table", "ip", "labnet"], None))
    }
    /// The reference lab applied, and the small lab's file: the start of most tests.
    /// Returns the small lab's path and the reference table as listed.
    fn with_reference(&self) -> (String, String) {
        let small = self.file("small.toml", SMALL);
        let o = self.run(&["apply", "--netns", self.n()]);
        assert_eq!(code(&o), 0, "{}", err(&o));
        (small, self.table())
    }
    fn record(&self) -> PathBuf {
        self.st().join("netns").join(self.n()).join("pending.json")
    }
    fn pending(&self) -> Option<serde_json::Value> {
        std::fs::read_to_string(self.record())
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
    }
}

fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(
            t.elapsed() < Duration::from_secs(secs),
            "timed out waiting: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
#[cfg_attr(
    not(labkit_netns),
    ignore = "needs root, ip (iproute2) and nft (nftables)"
)]
fn apply_diff_status_and_exit_codes() {
    let e = Env::new();
    let n = e.n();
    let o = e.run(&["diff", "--netns", n]);
    assert_eq!(code(&o), 3, "{}", err(&o));
    assert!(out(&o).contains("not loaded"));

    let o = e.run(&["apply", "--netns", n, "--dry-run"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(err(&o).contains("dry run: nothing changed"));
    assert_eq!(
        code(&e.run(&["diff", "--netns", n])),
        3,
        "dry run changed nothing"
    );

    let o = e.run(&["apply", "--netns", n, "--format", "json"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let v: serde_json::Value = serde_json::from_str(&out(&o)).unwrap();
    assert_eq!(v["applied"], true);
    assert_eq!(code(&e.run(&["diff", "--netns", n])), 0);

    // A hand edit is drift, named, and apply repairs it.
    let o = e.ns.exec(
        &[
            "nft",
            "add",
            "element",
            "ip",
            "labnet",
            "public_any_24",
            "{ 10.0.0.0 }",
        ],
        None,
    );
    assert!(o.status.success());
    let o = e.run(&["diff", "--netns", n]);
    assert_eq!(code(&o), 3);
    assert_eq!(out(&o), "+ set public_any_24: elements 10.0.0.0\n");
    let o = e.run(&["status", "--netns", n, "--format", "json"]);
    assert_eq!(code(&o), 3);
    let v: serde_json::Value = serde_json::from_str(&out(&o)).unwrap();
    assert_eq!(
        (v["loaded"].clone(), v["in_sync"].clone()),
        (true.into(), false.into())
    );
    assert_eq!(v["owned_by_labnet"], true);
    assert_eq!(code(&e.run(&["apply", "--netns", n])), 0);
    let o = e.run(&["status", "--netns", n]);
    assert_eq!(code(&o), 0);
    assert!(out(&o).contains("loaded: 8 chains"), "{}", out(&o));

    let o = e.run(&["doctor", "--netns", n]);
    assert_eq!(code(&o), 0, "{}{}", out(&o), err(&o));

    assert_eq!(code(&e.run(&["remove", "--netns", n])), 0);
    assert_eq!(code(&e.run(&["diff", "--netns", n])), 3);
}

#[test]
#[cfg_attr(
    not(labkit_netns),
    ignore = "needs root, ip (iproute2) and nft (nftables)"
)]
fn unconfirmed_apply_rolls_back_and_confirmed_one_stays() {
    let e = Env::new();
    let n = e.n();
    let (small, before) = e.with_reference();

    let o = e.run(&["apply", "--netns", n, "--confirm-within", "4s", &small]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(
        err(&o).contains(&format!("labnet confirm --netns {n}")),
        "{}",
        err(&o)
    );
    assert_ne!(
        e.table(),
        before,
        "the new ruleset is live during the window"
    );
    // The status names the deadline as a time, not a raw number.
    let o = e.run(&["status", "--netns", n, &small]);
    let s = out(&o);
    assert!(
        s.contains("pending apply: waiting for `labnet confirm"),
        "{s}"
    );
    assert!(s.contains("Z ("), "an RFC 3339 deadline: {s}");
    // Nobody confirms: the reference lab's table comes back, byte for byte.
    wait_until("rollback", 30, || {
        e.pending().is_none() && !e.record().with_extension("taken").exists()
    });
    wait_until("rollback done", 10, || e.table() == before);
    let o = e.run(&["confirm", "--netns", n]);
    assert_eq!(code(&o), 1, "nothing left to confirm");

    let o = e.run(&["apply", "--netns", n, "--confirm-within", "2s", &small]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(code(&e.run(&["confirm", "--netns", n])), 0);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(code(&e.run(&["diff", "--netns", n, &small])), 0);
}

/// While a confirmation is pending, a plain apply or remove would be silently
/// undone by the watchdog later: both are refused, with the deadline and how
/// to confirm or cancel; cancel restores at once.
#[test]
#[cfg_attr(
    not(labkit_netns),
    ignore = "needs root, ip (iproute2) and nft (nftables)"
)]
fn apply_and_remove_are_refused_while_pending_and_cancel_restores_now() {
    let e = Env::new();
    let n = e.n();
    let (small, before) = e.with_reference();
    let o = e.run(&["apply", "--netns", n, "--confirm-within", "60s", &small]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let during = e.table();
    for args in [
        vec!["apply", "--netns", n],
        vec!["remove", "--netns", n],
        vec!["apply", "--netns", n, "--confirm-within", "5s"],
    ] {
        let o = e.run(&args);
        assert_eq!(code(&o), 2, "{args:?}: {}", err(&o));
        let m = err(&o);
        assert!(
            m.contains("waiting for confirmation until 20"),
            "{args:?}: {m}"
        );
        assert!(m.contains("nothing was changed"), "{m}");
        assert!(
            m.contains(&format!("labnet confirm --netns {n}")) && m.contains("labnet cancel"),
            "{m}"
        );
        assert_eq!(e.table(), during, "{args:?} changed nothing");
    }
    let o = e.run(&["cancel", "--netns", n]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(
        e.table(),
        before,
        "cancel restores the previous table at once"
    );
    assert!(e.pending().is_none());
    assert_eq!(
        code(&e.run(&["cancel", "--netns", n])),
        1,
        "nothing left to cancel"
    );
    assert_eq!(
        code(&e.run(&["apply", "--netns", n, &small])),
        0,
        "and apply works again"
    );
}

#[test]
#[cfg_attr(
    not(labkit_netns),
    ignore = "needs root, ip (iproute2) and nft (nftables)"
)]
fn of_two_concurrent_confirmed_applies_exactly_one_wins() {
    let e = Env::new();
    let n = e.n();
    let small = e.file("small.toml", SMALL);
    for round in 0..3 {
        let a = labnet_cmd(&["apply", "--netns", n, "--confirm-within", "30s"], e.st())
            .spawn()
            .unwrap();
        let b = labnet_cmd(
            &["apply", "--netns", n, "--confirm-within", "30s", &small],
            e.st(),
        )
        .spawn()
        .unwrap();
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        let mut codes = [code(&a), code(&b)];
        codes.sort_unstable();
        assert_eq!(codes, [0, 2], "round {round}: {}\n{}", err(&a), err(&b));
        let loser = if code(&a) == 2 { &a } else { &b };
        assert!(
            err(loser).contains("another labnet is changing")
                || err(loser).contains("waiting for confirmation"),
            "{}",
            err(loser)
        );
        assert_eq!(code(&e.run(&["cancel", "--netns", n])), 0);
    }
}

#[test]
#[cfg_attr(
    not(labkit_netns),
    ignore = "needs root, ip (iproute2) and nft (nftables)"
)]
fn a_deadline_that_overflows_is_refused() {
    let e = Env::new();
    for w in [
        "18446744073709551615s",
        "9999999999999999h",
        "300000000000s",
    ] {
        let o = e.run(&["apply", "--netns", e.n(), "--confirm-within", w]);
        assert_eq!(code(&o), 2, "{w}: {}", err(&o));
        assert!(err(&o).contains("overflow"), "{w}: {}", err(&o));
    }
    assert!(e.table().is_empty(), "nothing was loaded");
}

/// A record whose watchdog is gone (killed, say) would leave the new ruleset
/// without a rollback: status and the next apply say so, and cancel restores.
#[test]
#[cfg_attr(
    not(labkit_netns),
    ignore = "needs root, ip (iproute2) and nft (nftables)"
)]
fn a_stale_record_is_reported_by_status_and_apply() {
    let e = Env::new();
    let n = e.n();
    let (small, before) = e.with_reference();
    assert_eq!(
        code(&e.run(&["apply", "--netns", n, "--confirm-within", "60s", &small])),
        0
    );
    let pid = e.pending().unwrap()["watchdog"]["pid"].as_u64().unwrap();
    // The watchdog is a process this test started (through labnet apply).
    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    wait_until("watchdog gone", 10, || {
        !Path::new(&format!("/proc/{pid}")).exists()
    });
    let o = e.run(&["status", "--netns", n, "--format", "json", &small]);
    let v: serde_json::Value = serde_json::from_str(&out(&o)).unwrap();
    assert_eq!(v["pending"]["health"], "watchdog-gone", "{v}");
    let o = e.run(&["status", "--netns", n, &small]);
    assert!(out(&o).contains("STALE"), "{}", out(&o));
    let o = e.run(&["apply", "--netns", n]);
    assert_eq!(code(&o), 2);
    assert!(
        err(&o).contains("lost its watchdog") && err(&o).contains("no rollback will happen"),
        "{}",
        err(&o)
    );
    assert_eq!(code(&e.run(&["cancel", "--netns", n])), 0);
    assert_eq!(e.table(), before);
}

/// confirm signals the watchdog only if it is still that process: a record
/// naming a pid that now belongs to someone else must not get them killed.
#[test]
#[cfg_attr(
    not(labkit_netns),
    ignore = "needs root, ip (iproute2) and nft (nftables)"
)]
fn confirm_never_signals_a_pid_that_is_not_the_watchdog() {
    let e = Env::new();
    let n = e.n();
    let small = e.file("small.toml", SMALL);
    assert_eq!(
        code(&e.run(&["apply", "--netns", n, "--confirm-within", "60s", &small])),
        0
    );
    let mut rec = e.pending().unwrap();
    let wd = rec["watchdog"]["pid"].as_u64().unwrap();
    let _ = Command::new("kill").args(["-9", &wd.to_string()]).status();
    // A bystander process takes the watchdog's place in the record (as a reused pid would).
    let mut bystander: Child = Command::new("sleep").arg("60").spawn().unwrap();
    rec["watchdog"]["pid"] = bystander.id().into();
    std::fs::write(e.record(), serde_json::to_vec(&rec).unwrap()).unwrap();
    let o = e.run(&["confirm", "--netns", n]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        bystander.try_wait().unwrap().is_none(),
        "confirm signalled a process that is not the watchdog"
    );
    bystander.kill().unwrap();
    let _ = bystander.wait();
}

/// The host's records and those of a namespace literally called `host` live apart.
#[test]
#[cfg_attr(
    not(labkit_netns),
    ignore = "needs root, ip (iproute2) and nft (nftables)"
)]
fn a_namespace_called_host_is_not_the_host() {
    labkit_tests::require_netns();
    if Path::new("/run/netns/host").exists() {
        panic!("a namespace called `host` already exists on this machine; this test makes its own");
    }
    let made = Command::new("ip")
        .args(["netns", "add", "host"])
        .status()
        .unwrap();
    assert!(made.success());
    struct Del;
    impl Drop for Del {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["netns", "del", "host"]).status();
        }
    }
    let _del = Del;
    let st = tempfile::tempdir().unwrap();
    let o = labnet(
        &["apply", "--netns", "host", "--confirm-within", "30s"],
        st.path(),
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    // Confirming the host's own namespace (state only; the host's kernel is not read) finds nothing.
    let o = labnet(&["confirm"], st.path());
    assert_eq!(code(&o), 1, "{}", err(&o));
    assert!(st.path().join("netns/host/pending.json").exists());
    assert_eq!(code(&labnet(&["cancel", "--netns", "host"], st.path())), 0);
}

/// labnet replaces or removes only tables it made: names of iptables-nft's
/// tables and nft keywords are refused outright, and an existing table
/// without labnet's marker is left alone.
#[test]
#[cfg_attr(
    not(labkit_netns),
    ignore = "needs root, ip (iproute2) and nft (nftables)"
)]
fn tables_that_are_not_labnets_are_never_replaced_or_removed() {
    let e = Env::new();
    let n = e.n();
    for t in ["filter", "nat", "fwd", "table"] {
        let o = e.run(&["remove", "--netns", n, "--table", t]);
        assert_eq!(code(&o), 2, "{t}: {}", err(&o));
        assert!(
            err(&o).contains("iptables-nft") || err(&o).contains("nft keyword"),
            "{t}: {}",
            err(&o)
        );
    }
    let o = e.ns.exec(
        &[
            "nft",
            "add table ip mine; add chain ip mine c; add rule ip mine c counter accept",
        ],
        None,
    );
    assert!(o.status.success(), "{}", err(&o));
    let mine = out(&e.ns.exec(&["nft", "list", "table", "ip", "mine"], None));
    for args in [
        vec!["apply", "--netns", n, "--table", "mine"],
        vec!["remove", "--netns", n, "--table", "mine"],
    ] {
        let o = e.run(&args);
        assert_eq!(code(&o), 2, "{args:?}: {}", err(&o));
        assert!(err(&o).contains("was not made by labnet"), "{}", err(&o));
    }
    assert_eq!(
        out(&e.ns.exec(&["nft", "list", "table", "ip", "mine"], None)),
        mine
    );
    // Its own table, under any allowed name, it manages.
    assert_eq!(code(&e.run(&["apply", "--netns", n, "--table", "lab2"])), 0);
    assert_eq!(
        code(&e.run(&["remove", "--netns", n, "--table", "lab2"])),
        0
    );
}

/// Programs that stand in for `iptables` and `nft`, to make a step fail after
/// the kernel changed. The kernel is the real one: the fake `nft` hands every
/// call to the real nft except the ones a test says to fail.
fn fault_tools(dir: &Path, fail_restore: bool) -> String {
    let real_nft = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v nft"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let real_ipt = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v iptables"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    // DOCKER-USER "exists", but inserting into it fails.
    let ipt = format!(
        "#!/bin/sh\ncase \"$*\" in\n  *'-S DOCKER-USER'*) echo '-N DOCKER-USER'; exit 0 ;;\n  *'-I DOCKER-USER'*) echo 'iptables: injected failure' >&2; exit 4 ;;\nesac\nexec {} \"$@\"\n",
        real_ipt.trim()
    );
    let restore = if fail_restore {
        "if [ \"$1\" = -f ] && head -n1 \"$tmp\" | grep -q '^table ip labnet$'; then echo 'nft: injected failure' >&2; exit 1; fi\n"
    } else {
        ""
    };
    let nft = format!(
        "#!/bin/sh\nif [ \"$1\" = -f ] && [ \"$2\" = - ]; then tmp=$(mktemp); cat > \"$tmp\"; {restore}{real} -f \"$tmp\"; rc=$?; rm -f \"$tmp\"; exit $rc; fi\nexec {real} \"$@\"\n",
        real = real_nft.trim()
    );
    for (name, text) in [("iptables", ipt), ("nft", nft)] {
        let p = bin.join(name);
        std::fs::write(&p, text).unwrap();
        std::process::Command::new("chmod")
            .args(["+x", p.to_str().unwrap()])
            .status()
            .unwrap();
    }
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// A failure after the kernel was changed is rolled back (exit 2: nothing
/// changed), or, when even that fails, exits 4: never 2 with a changed kernel.
#[test]
#[cfg_attr(
    not(labkit_netns),
    ignore = "needs root, ip (iproute2) and nft (nftables)"
)]
fn a_failure_after_the_load_rolls_back_or_says_the_kernel_changed() {
    let e = Env::new();
    let n = e.n();
    let (small, before) = e.with_reference();
    for confirm in [false, true] {
        let path = fault_tools(e.st(), false);
        let mut args = vec![
            "apply",
            "--netns",
            n,
            "--backend",
            "nft",
            "--coexist",
            "docker",
            &small,
        ];
        if confirm {
            args.extend(["--confirm-within", "30s"]);
        }
        let o = labnet_cmd(&args, e.st())
            .env("PATH", &path)
            .output()
            .unwrap();
        assert_eq!(code(&o), 2, "confirm={confirm}: {}", err(&o));
        assert!(
            err(&o).contains("injected failure") && err(&o).contains("restored"),
            "{}",
            err(&o)
        );
        assert_eq!(e.table(), before, "confirm={confirm}: rolled back");
        assert!(e.pending().is_none());
    }
    let path = fault_tools(e.st(), true);
    let o = labnet_cmd(
        &[
            "apply",
            "--netns",
            n,
            "--backend",
            "nft",
            "--coexist",
            "docker",
            &small,
        ],
        e.st(),
    )
    .env("PATH", &path)
    .output()
    .unwrap();
    assert_eq!(code(&o), 4, "{}", err(&o));
    assert!(err(&o).contains("THE KERNEL WAS CHANGED"), "{}", err(&o));
    assert_ne!(
        e.table(),
        before,
        "exit 4 told the truth: the small lab is live"
    );
}

/// SIGKILL of `labnet apply --confirm-within` at any moment of a 1000-segment
/// apply: in the end the old ruleset is there, either because the new one was
/// never loaded or because the watchdog restored it at the deadline. Kill
/// points are found by watching the pending record change state.
#[test]
#[cfg_attr(
    not(labkit_netns),
    ignore = "needs root, ip (iproute2) and nft (nftables)"
)]
fn killing_a_confirmed_apply_at_any_moment_never_leaves_the_new_ruleset_unwatched() {
    let e = Env::new();
    let n = e.n();
    let big = e.file(
        "big.toml",
        &labnet::labfile::to_toml(&labnet::testkit::Synthetic::benchmark(1000).lab()),
    );
    assert_eq!(code(&e.run(&["apply", "--netns", n])), 0);
    let before = e.table();
    #[allow(clippy::type_complexity)]
    let points: [(&str, fn(Option<&serde_json::Value>) -> bool); 5] = [
        ("at once", |_| true),
        ("record made, no watchdog yet", |r| {
            r.is_some_and(|r| r["state"] == "arming" && r["watchdog"].is_null())
        }),
        ("watchdog ready, not told to go", |r| {
            r.is_some_and(|r| r["state"] == "arming" && !r["watchdog"].is_null())
        }),
        ("while loading", |r| {
            r.is_some_and(|r| r["state"] == "loading")
        }),
        ("live, window running", |r| {
            r.is_some_and(|r| r["state"] == "live")
        }),
    ];
    for (what, hit) in points {
        // The narrow points (a few milliseconds wide) may be missed by the
        // polling; try again rather than claim a point that was not hit.
        let mut hit_once = false;
        for attempt in 1..=8 {
            let mut child = labnet_cmd(
                &["apply", "--netns", n, "--confirm-within", "3s", &big],
                e.st(),
            )
            .spawn()
            .unwrap();
            let t = Instant::now();
            let mut seen = None;
            loop {
                let rec = e.pending();
                if hit(rec.as_ref()) {
                    seen = Some(rec);
                    break;
                }
                if child.try_wait().unwrap().is_some() || t.elapsed() > Duration::from_secs(120) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            // The applying process is ours; SIGKILL, as an OOM killer or `kill -9` would.
            let _ = child.kill();
            let _ = child.wait();
            let state = seen
                .as_ref()
                .map(|r| r.as_ref().map(|r| r["state"].clone()));
            // Whatever happened, wait for the outcome: no record (aborted or rolled
            // back), or a record the apply left before changing anything.
            // (A watchdog started just before the kill may still be reading the
            // record: a leftover counts only once it has stayed put for a second.)
            let mut still_since: Option<(Instant, serde_json::Value)> = None;
            let taken = e.record().with_extension("taken");
            wait_until(&format!("{what}: outcome"), 120, || match e.pending() {
                // A rollback renames the record, then restores: wait for both.
                None => !taken.exists(),
                Some(r) if r["state"] == "arming" && r["watchdog"].is_null() => {
                    match &still_since {
                        Some((t, prev)) if *prev == r => t.elapsed() > Duration::from_secs(1),
                        _ => {
                            still_since = Some((Instant::now(), r));
                            false
                        }
                    }
                }
                Some(_) => false,
            });
            if e.pending().is_some() {
                let o = e.run(&["status", "--netns", n, "--format", "json"]);
                let v: serde_json::Value = serde_json::from_str(&out(&o)).unwrap();
                assert_eq!(v["pending"]["health"], "never-loaded", "{what}: {v}");
                assert_eq!(code(&e.run(&["cancel", "--netns", n])), 0);
            }
            assert_eq!(
                e.table(),
                before,
                "{what} (state at the kill: {state:?}): the old ruleset must be back"
            );
            if seen.is_some() {
                eprintln!(
                    "kill point `{what}`: hit on attempt {attempt} (record state {state:?}); the old ruleset came back"
                );
                hit_once = true;
                break;
            }
        }
        assert!(hit_once, "{what}: the kill point was never hit");
    }
}

#[test]
#[cfg_attr(
    not(labkit_netns),
    ignore = "needs root, ip (iproute2) and nft (nftables)"
)]
fn bad_input_is_refused_with_a_hint_and_changes_nothing() {
    labkit_tests::require_netns();
    let st = tempfile::tempdir().unwrap();
    let o = labnet(&["apply", "--netns", "labkit-no-such-ns"], st.path());
    assert_eq!(code(&o), 2);
    assert!(
        err(&o).contains("ip netns add labkit-no-such-ns"),
        "{}",
        err(&o)
    );
    let o = labnet(&["apply", "--confirm-within", "0s", "--dry-run"], st.path());
    assert_eq!(code(&o), 2);
    assert!(err(&o).contains("longer than 0s"), "{}", err(&o));
    let o = labnet(&["diff", "--netns", "../etc"], st.path());
    assert_eq!(code(&o), 2);
}

#[test]
#[cfg_attr(
    not(labkit_netns),
    ignore = "needs root, ip (iproute2) and nft (nftables)"
)]
fn verify_proves_the_reference_lab() {
    labkit_tests::require_netns();
    let st = tempfile::tempdir().unwrap();
    let o = labnet(&["verify"], st.path());
    assert_eq!(code(&o), 0, "{}{}", out(&o), err(&o));
    assert!(out(&o).contains("observed (what got through)"));
    assert!(err(&o).contains(", 0 differ"), "{}", err(&o));
    assert!(err(&o).contains(" udp, "), "{}", err(&o));
    let o = labnet(&["verify", "--format", "json"], st.path());
    let v: serde_json::Value = serde_json::from_str(&out(&o)).unwrap();
    assert_eq!(v["passed"], true);
    let probes = v["probes"].as_array().unwrap();
    assert!(probes.iter().filter(|p| p["proto"] == "udp").count() >= 20);
}

/// After a first apply, `apply --dry-run` prints the delta as an nft script
/// and changes nothing; `apply` then sends it and says it was incremental.
#[cfg(feature = "nftnl")]
#[test]
#[cfg_attr(
    not(labkit_netns),
    ignore = "needs root, ip (iproute2) and nft (nftables)"
)]
fn dry_run_prints_the_delta_and_apply_sends_only_it() {
    let e = Env::new();
    let n = e.n();
    let small = e.file("small.toml", SMALL);
    let o = e.run(&["apply", &small, "--netns", n]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(err(&o).contains("full replace"), "{}", err(&o));
    let before = e.table();
    let wider = e.file(
        "wider.toml",
        &SMALL.replace("\"5432\"", "\"5432\", \"6432\""),
    );
    let o = e.run(&["apply", &wider, "--netns", n, "--dry-run"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(
        out(&o),
        "add element ip labnet a_svc_25 { 10.1.1.0 . tcp . 6432 }\n"
    );
    assert!(err(&o).contains("delta of 1 object"), "{}", err(&o));
    assert_eq!(e.table(), before, "a dry run changes nothing");
    let o = e.run(&["apply", &wider, "--netns", n, "--format", "json"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let v: serde_json::Value = serde_json::from_str(&out(&o)).unwrap();
    assert_eq!(v["plan"]["mode"], "incremental");
    assert_eq!(v["plan"]["delta"]["elements_added"], 1);
    assert_eq!(code(&e.run(&["diff", &wider, "--netns", n])), 0);
    let o = e.run(&["apply", &wider, "--netns", n, "--dry-run"]);
    assert!(out(&o).is_empty());
    assert!(err(&o).contains("nothing would change"), "{}", err(&o));
}
