//! The labdocker binary without an Engine: help, the lab file's diagnostics,
//! an Engine that does not answer, daemon-config offline.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

fn labdocker(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_labdocker"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// The reference lab with the issue's `[docker]` section, in a scratch
/// directory removed when the returned guard drops.
fn example() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("lab.toml");
    std::fs::write(&p, format!("{}{DOCKER}", labnet::reference::TOML)).unwrap();
    let p = p.display().to_string();
    (dir, p)
}

const DOCKER: &str = r#"
[docker]
socket = "unix:///var/run/docker.sock"
data_root = "/data/docker"
storage_driver = "overlay2"
log = { driver = "json-file", max_size = "10m", max_file = 3 }
address_pools = [{ base = "172.17.0.0/16", size = 24 }]
swarm = { enabled = true, address_pool = "172.30.0.0/16", subnet_size = 24 }

[docker.prune]
keep_images_newer_than = "168h"
keep_volumes = true
"#;

#[test]
fn help_lists_every_command_and_the_exit_codes() {
    let (_d, example) = example();
    let o = labdocker(&["--help"]);
    assert!(o.status.success());
    let h = String::from_utf8_lossy(&o.stdout);
    for c in [
        "daemon-config",
        "health",
        "watch",
        "audit",
        "df",
        "prune",
        "swarm",
        "Exit status:",
        "org.labkit.owner=labkit",
    ] {
        assert!(h.contains(c), "{c} in --help:\n{h}");
    }
    let o = labdocker(&["audit", "--help"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("sarif"));
    assert_eq!(
        labdocker(&["audit", &example, "--fail-on", "urgent"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn a_bad_lab_names_file_line_field_and_value_and_exits_1() {
    let (_e, example) = example();
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("lab.toml");
    let text = std::fs::read_to_string(&example).unwrap().replace(
        "address_pools = [{ base = \"172.17.0.0/16\", size = 24 }]",
        "address_pools = [{ base = \"10.0.0.0/16\", size = 24 }]",
    );
    std::fs::write(&p, text).unwrap();
    let o = labdocker(&["health", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("docker.address_pools[0].base"), "{err}");
    assert!(
        err.contains("10.0.0.0/16 overlaps segment management"),
        "{err}"
    );
    assert!(err.contains("lab.toml:"), "{err}");
}

#[test]
fn an_engine_that_does_not_answer_is_exit_2_with_the_socket_named() {
    let (_d, example) = example();
    let o = labdocker(&[
        "health",
        &example,
        "--socket",
        "unix:///nonexistent/docker.sock",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("cannot reach the Docker Engine at unix:///nonexistent/docker.sock"),
        "{err}"
    );
    let o = labdocker(&["df", &example, "--socket", "tcp://127.0.0.1:2375"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not a unix socket"));
}

#[test]
fn daemon_config_offline_prints_diffs_and_refuses_to_write_a_bad_file() {
    let (_e, example) = example();
    let d = tempfile::tempdir().unwrap();
    let cur = d.path().join("daemon.json");
    std::fs::write(
        &cur,
        "{\n  \"icc\": false,\n  \"hosts\": [\"tcp://0.0.0.0:2375\"]\n}\n",
    )
    .unwrap();
    let sock = ["--socket", "unix:///nonexistent/docker.sock"];
    let o = labdocker(
        &[
            &[
                "daemon-config",
                &example,
                "--current",
                cur.to_str().unwrap(),
                "--diff",
            ][..],
            &sock,
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(1), "tcp without TLS");
    let diff = String::from_utf8_lossy(&o.stdout);
    assert!(diff.starts_with("--- "), "{diff}");
    assert!(
        diff.contains("+  \"data-root\": \"/data/docker\","),
        "{diff}"
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("hosts: tcp://0.0.0.0:2375 serves the Engine API over TCP without TLS"),
        "{err}"
    );
    assert!(
        err.contains("existing Docker networks were not checked"),
        "{err}"
    );
    let o = labdocker(
        &[
            &["daemon-config", &example, "--write", cur.to_str().unwrap()][..],
            &sock,
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothing was written"));
    assert!(
        std::fs::read_to_string(&cur).unwrap().contains("tcp://"),
        "the file is untouched"
    );
    let o = labdocker(
        &[
            &[
                "daemon-config",
                &example,
                "--current",
                cur.to_str().unwrap(),
                "--check",
                "--format",
                "json",
            ][..],
            &sock,
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // Docker's default log driver, json-file, without rotation; then the socket.
    assert_eq!(v[0]["key"], "log-driver");
    assert!(v[0]["line"].is_null(), "the key is not in the file");
    assert_eq!(v[1]["key"], "hosts");
    assert_eq!(v[1]["line"], 3);
}
