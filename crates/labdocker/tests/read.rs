//! `[docker]` as the lab file gives it, checked against the reference lab's
//! segments: values, daemon.json, and every problem at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

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

fn lab(docker: &str) -> String {
    format!("{}\n{docker}", labnet::reference::TOML)
}

#[test]
fn the_issues_example_reads_and_makes_its_daemon_json() {
    let d = labdocker::parse("lab.toml", &lab(DOCKER)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(d.socket, "unix:///var/run/docker.sock");
    assert_eq!(d.address_pools[0].size, 24);
    assert_eq!(d.swarm.unwrap().address_pool.to_string(), "172.30.0.0/16");
    assert_eq!(d.prune.keep_images_newer_than.as_deref(), Some("168h"));
    let json = labdocker::daemon::daemon_json(&d);
    assert_eq!(
        json,
        serde_json::json!({
            "data-root": "/data/docker",
            "storage-driver": "overlay2",
            "log-driver": "json-file",
            "log-opts": { "max-size": "10m", "max-file": "3" },
            "default-address-pools": [{ "base": "172.17.0.0/16", "size": 24 }]
        })
    );
}

#[test]
fn every_overlap_and_bad_value_is_named_at_once() {
    // Swarm's own default (10.0.0.0/24) is the reference lab's management
    // segment; a pool over libvirt's default; two pools over each other.
    let bad = r#"
[docker]
socket = "tcp://0.0.0.0:2375"
data_root = "data"
log = { driver = "json-file" }
address_pools = [{ base = "192.168.0.0/16", size = 24 }, { base = "192.168.100.0/24", size = 16 }]
swarm = { address_pool = "10.0.0.0/8", subnet_size = 24 }
[docker.prune]
keep_images_newer_than = "a week"
"#;
    let e = labdocker::parse("lab.toml", &lab(bad))
        .unwrap_err()
        .to_string();
    for want in [
        "docker.socket: \"tcp://0.0.0.0:2375\" is not a unix socket",
        "docker.data_root: \"data\" is not an absolute path",
        "docker.log: log rotation is not set",
        "docker.address_pools[0].base: 192.168.0.0/16 overlaps libvirt's default network 192.168.122.0/24",
        "docker.address_pools[1].size: /16 is larger than the pool 192.168.100.0/24",
        "docker.address_pools[1].base: 192.168.100.0/24 overlaps 192.168.0.0/16 (docker.address_pools[0].base)",
        "docker.swarm.address_pool: 10.0.0.0/8 overlaps segment",
        "docker.prune.keep_images_newer_than: \"a week\" is not a duration",
    ] {
        assert!(e.contains(want), "{want}\nin\n{e}");
    }
    // Each segment the Swarm pool covers is named, with where it is declared.
    assert!(e.matches("overlaps segment").count() >= 5, "{e}");
    assert!(e.contains("is declared here"), "{e}");
}

#[test]
fn a_missing_section_is_an_error_with_a_hint() {
    let e = labdocker::parse("lab.toml", labnet::reference::TOML)
        .unwrap_err()
        .to_string();
    assert!(e.contains("the [docker] section is missing"), "{e}");
}
