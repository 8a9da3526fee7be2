//! daemon.json read, validated, merged, diffed and written: unknown keys with
//! their line, ranges over the lab, rotation, TCP without TLS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use labcli::unified_diff;
use labdocker::daemon::DaemonConfig;

fn lab() -> (labdocker::Docker, Vec<(String, labnet::Ipv4Cidr)>) {
    let text = format!(
        "{}\n[docker]\nlog = {{ driver = \"json-file\", max_size = \"10m\", max_file = 3 }}\naddress_pools = [{{ base = \"172.17.0.0/16\", size = 24 }}]\n",
        labnet::reference::TOML
    );
    let doc = labfile::Document::parse("lab.toml", &text).unwrap();
    let (d, net) = labdocker::from_document_with_lab(&doc).unwrap();
    (d, labdocker::lab_ranges(&net))
}

#[test]
fn every_problem_names_file_line_key_and_value() {
    let (_, ranges) = lab();
    let text = r#"{
  "bip": "10.0.2.1/24",
  "default-address-pools": [{"base": "192.168.0.0/16", "size": 24}],
  "hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2375"],
  "live_restore": true,
  "log-driver": "json-file"
}
"#;
    let c = DaemonConfig::parse(
        std::path::Path::new("/etc/docker/daemon.json"),
        text.to_owned(),
    )
    .unwrap();
    let p = c.validate(&ranges);
    let got: Vec<String> = p.iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        [
            "/etc/docker/daemon.json:5: live_restore: \"live_restore\" is not a daemon.json key; dockerd refuses to start with it",
            "/etc/docker/daemon.json:2: bip: bip 10.0.2.0/24 overlaps segment private (10.0.2.0/24)",
            "/etc/docker/daemon.json:3: default-address-pools: default-address-pools[0] 192.168.0.0/16 overlaps libvirt's default network (192.168.122.0/24)",
            "/etc/docker/daemon.json:6: log-driver: json-file logs are not rotated (log-opts needs max-size and max-file)",
            "/etc/docker/daemon.json:4: hosts: tcp://0.0.0.0:2375 serves the Engine API over TCP without TLS: anyone who reaches it is root on this host",
        ]
    );
    assert_eq!(p[0].hint, "did you mean \"live-restore\"?");
    assert_eq!(p[1].value, "\"10.0.2.1/24\"");
}

#[test]
fn bad_json_is_an_error_with_its_position() {
    let e = DaemonConfig::parse(
        std::path::Path::new("d.json"),
        "{\n  \"icc\": false,\n}\n".to_owned(),
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "d.json:3:1: not JSON");
    let e = DaemonConfig::parse(std::path::Path::new("d.json"), "[1]".to_owned()).unwrap_err();
    assert_eq!(e.to_string(), "d.json: daemon.json must be a JSON object");
}

#[test]
fn merge_keeps_the_users_keys_and_write_is_atomic_and_idempotent() {
    let (d, ranges) = lab();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("daemon.json");
    std::fs::write(
        &path,
        "{\n  \"icc\": false,\n  \"log-driver\": \"local\"\n}\n",
    )
    .unwrap();
    let cur = DaemonConfig::read(&path).unwrap();
    let merged = cur.merged(&d);
    let v: serde_json::Value = serde_json::from_str(&merged).unwrap();
    assert_eq!(v["icc"], false, "a key the lab does not decide stays");
    assert_eq!(v["log-driver"], "json-file", "the lab's key wins");
    assert_eq!(v["default-address-pools"][0]["base"], "172.17.0.0/16");
    let again = DaemonConfig::parse(&path, merged.clone()).unwrap();
    assert!(
        again.validate(&ranges).is_empty(),
        "{:?}",
        again.validate(&ranges)
    );
    let diff = unified_diff("daemon.json", "from the lab file", &cur.text, &merged);
    assert!(diff.contains("-  \"log-driver\": \"local\"\n"), "{diff}");
    assert!(
        diff.contains("+  \"log-driver\": \"json-file\",\n"),
        "{diff}"
    );
    assert!(
        diff.contains("   \"icc\": false,\n") || diff.contains("+  \"icc\": false,\n"),
        "{diff}"
    );
    cur.write(&merged).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), merged);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary file is left"
    );
    let second = DaemonConfig::read(&path).unwrap().merged(&d);
    assert_eq!(second, merged, "a second run changes nothing");
    assert_eq!(
        unified_diff("daemon.json", "from the lab file", &merged, &second),
        ""
    );
    // A missing file is Docker's defaults.
    let none = DaemonConfig::read(&dir.path().join("absent.json")).unwrap();
    assert!(none.values.is_empty() && none.text.is_empty());
}
