//! `labnet apply/diff/status/confirm/doctor/verify/remove` against the real
//! kernel, in namespaces these tests create (skipped without root).
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use labkit_tests::netns_or_skip;

fn labnet(args: &[&str], state: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_labnet"))
        .args(args)
        .env("NO_COLOR", "1")
        .env("LABNET_STATE_DIR", state)
        .output()
        .expect("run labnet")
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

#[test]
fn apply_diff_status_and_exit_codes() {
    let Some(ns) = netns_or_skip("apply_diff_status_and_exit_codes") else {
        return;
    };
    let st = tempfile::tempdir().unwrap();
    let n = ns.name();
    let o = labnet(&["diff", "--netns", n], st.path());
    assert_eq!(code(&o), 3, "{}", err(&o));
    assert!(out(&o).contains("not loaded"));

    let o = labnet(&["apply", "--netns", n, "--dry-run"], st.path());
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(err(&o).contains("dry run: nothing changed"));
    assert_eq!(
        code(&labnet(&["diff", "--netns", n], st.path())),
        3,
        "dry run changed nothing"
    );

    let o = labnet(&["apply", "--netns", n, "--format", "json"], st.path());
    assert_eq!(code(&o), 0, "{}", err(&o));
    let v: serde_json::Value = serde_json::from_str(&out(&o)).unwrap();
    assert_eq!(v["applied"], true);
    assert_eq!(code(&labnet(&["diff", "--netns", n], st.path())), 0);

    // A hand edit is drift, named, and apply repairs it.
    let o = ns.exec(
        &[
            "nft",
            "add",
            "element",
            "ip",
            "labnet",
            "public_any",
            "{ 10.0.0.0/24 }",
        ],
        None,
    );
    assert!(o.status.success());
    let o = labnet(&["diff", "--netns", n], st.path());
    assert_eq!(code(&o), 3);
    assert_eq!(out(&o), "+ set public_any: elements 10.0.0.0/24\n");
    let o = labnet(&["status", "--netns", n, "--format", "json"], st.path());
    assert_eq!(code(&o), 3);
    let v: serde_json::Value = serde_json::from_str(&out(&o)).unwrap();
    assert_eq!(
        (v["loaded"].clone(), v["in_sync"].clone()),
        (true.into(), false.into())
    );
    assert_eq!(code(&labnet(&["apply", "--netns", n], st.path())), 0);
    assert_eq!(code(&labnet(&["status", "--netns", n], st.path())), 0);

    let o = labnet(&["doctor", "--netns", n], st.path());
    assert_eq!(code(&o), 0, "{}{}", out(&o), err(&o));

    assert_eq!(code(&labnet(&["remove", "--netns", n], st.path())), 0);
    assert_eq!(code(&labnet(&["diff", "--netns", n], st.path())), 3);
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "timed out waiting: {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn unconfirmed_apply_rolls_back_and_confirmed_one_stays() {
    let Some(ns) = netns_or_skip("unconfirmed_apply_rolls_back_and_confirmed_one_stays") else {
        return;
    };
    let st = tempfile::tempdir().unwrap();
    let n = ns.name();
    let small = st.path().join("small.toml");
    std::fs::write(&small, SMALL).unwrap();
    let small = small.to_str().unwrap();
    assert_eq!(code(&labnet(&["apply", "--netns", n], st.path())), 0);
    let before = out(&ns.exec(&["nft", "list", "table", "ip", "labnet"], None));

    let o = labnet(
        &["apply", "--netns", n, "--confirm-within", "4s", small],
        st.path(),
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(err(&o).contains("labnet confirm --netns"));
    // A second apply while one is pending is refused, and changes nothing.
    // (The window above is long enough that a loaded machine still gets here first.)
    let o = labnet(
        &["apply", "--netns", n, "--confirm-within", "5s"],
        st.path(),
    );
    assert_eq!(code(&o), 2);
    assert!(err(&o).contains("already waiting"), "{}", err(&o));
    // Nobody confirms: the reference lab's table comes back, byte for byte.
    let record = st.path().join(format!("pending-{n}.json"));
    wait_until("rollback", || !record.exists());
    wait_until("rollback done", || {
        out(&ns.exec(&["nft", "list", "table", "ip", "labnet"], None)) == before
    });
    let o = labnet(&["confirm", "--netns", n], st.path());
    assert_eq!(code(&o), 1, "nothing left to confirm");

    let o = labnet(
        &["apply", "--netns", n, "--confirm-within", "2s", small],
        st.path(),
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(code(&labnet(&["confirm", "--netns", n], st.path())), 0);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(code(&labnet(&["diff", "--netns", n, small], st.path())), 0);
}

#[test]
fn bad_input_is_refused_with_a_hint_and_changes_nothing() {
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
fn verify_proves_the_reference_lab() {
    if labkit_tests::netns_unavailable().is_some() {
        labkit_tests::skip("verify_proves_the_reference_lab", "needs root, ip and nft");
        return;
    }
    let st = tempfile::tempdir().unwrap();
    let o = labnet(&["verify"], st.path());
    assert_eq!(code(&o), 0, "{}{}", out(&o), err(&o));
    assert!(out(&o).contains("observed (what got through)"));
    assert!(err(&o).contains(", 0 differ"));
    let o = labnet(&["verify", "--format", "json"], st.path());
    let v: serde_json::Value = serde_json::from_str(&out(&o)).unwrap();
    assert_eq!(v["passed"], true);
    assert!(v["probes"].as_array().unwrap().len() >= 40);
}
