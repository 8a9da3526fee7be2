//! The `labvirt` binary: exit codes, data on stdout, diagnostics on stderr.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

fn labvirt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_labvirt"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn write(dir: &tempfile::TempDir, text: &str) -> String {
    let p = dir.path().join("lab.toml");
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_owned()
}

#[test]
fn check_summarises_the_reference_lab_and_its_budget() {
    let o = labvirt(&["check"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(
        out(&o).contains("budget: 7 of 8 vCPUs, 8192 of 17203 MiB, 4 of 8 VMs"),
        "{}",
        out(&o)
    );
    let j: serde_json::Value =
        serde_json::from_slice(&labvirt(&["check", "--format", "json"]).stdout).unwrap();
    assert_eq!(j["budget"]["limits"]["vcpus"], 8);
    assert_eq!(j["vms"][3]["name"], "db1");
}

#[test]
fn an_invalid_lab_exits_1_with_file_line_field_and_hint() {
    let dir = tempfile::tempdir().unwrap();
    let text = labvirt::reference::TOML.replace(
        "segment = \"database\"\nvcpus = 2",
        "segment = \"databse\"\nvcpus = 2",
    );
    let path = write(&dir, &text);
    let o = labvirt(&["check", &path]);
    assert_eq!(o.status.code(), Some(1));
    let e = err(&o);
    assert!(
        e.contains("lab.toml:") && e.contains("vm[3].segment: there is no segment \"databse\""),
        "{e}"
    );
    assert!(e.contains("hint: did you mean `database`?"), "{e}");
    assert!(!e.contains('\u{1b}'), "NO_COLOR: no escapes");
    assert!(out(&o).is_empty(), "no data for an invalid lab");
}

#[test]
fn offline_plans_against_an_empty_host_and_refuse_an_overrun() {
    let o = labvirt(&["plan", "--offline"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(
        out(&o).contains("11 to create, 0 to update, 0 to keep, 0 to remove"),
        "{}",
        out(&o)
    );
    let j: serde_json::Value =
        serde_json::from_slice(&labvirt(&["plan", "--offline", "--format", "json"]).stdout)
            .unwrap();
    assert_eq!(j["networks"][0]["change"], "create");

    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        &labvirt::reference::TOML.replace("cores = 6", "cores = 3"),
    );
    let o = labvirt(&["plan", "--offline", &path]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out(&o).contains("over: 7 vCPUs used, 5 over the limit of 2"),
        "{}",
        out(&o)
    );
}

#[test]
fn graphs_and_xml_need_no_libvirt() {
    let o = labvirt(&["graph", "--format", "dot"]);
    assert!(out(&o).starts_with("digraph \"aws-sim\""));
    assert!(out(&o).contains("seg_public -> seg_private"));
    assert!(
        !out(&o).contains("seg_database -> "),
        "database reaches nothing"
    );
    let o = labvirt(&["graph"]);
    assert!(out(&o).starts_with("flowchart LR"));
    let o = labvirt(&["xml", "--network", "database"]);
    assert!(out(&o).contains("<bridge name='lk-database'"));
    let o = labvirt(&["xml", "--vm", "db1", "--domain-type", "kvm"]);
    assert!(out(&o).starts_with("<domain type='kvm'>"));
    let o = labvirt(&["xml", "--network", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains("hint: its segments: management, public, private, database, container"),
        "{}",
        err(&o)
    );
}

#[test]
fn seed_writes_the_image_or_prints_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let iso = dir.path().join("db1.iso");
    let o = labvirt(&["seed", "--vm", "db1", "-o", iso.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let bytes = std::fs::read(&iso).unwrap();
    assert_eq!(&bytes[16 * 2048 + 1..16 * 2048 + 6], b"CD001");
    let o = labvirt(&["seed", "--vm", "db1"]);
    assert!(out(&o).contains("# user-data\n#cloud-config"));
    let o = labvirt(&["seed", "--vm", "zz"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    assert_eq!(labvirt(&["--help"]).status.code(), Some(0));
    assert!(out(&labvirt(&["--help"])).contains("Exit status:"));
    assert_eq!(labvirt(&["plan", "--bogus"]).status.code(), Some(2));
    assert_eq!(
        labvirt(&["check", "/nonexistent/lab.toml"]).status.code(),
        Some(2)
    );
}

#[cfg(not(feature = "libvirt"))]
#[test]
fn live_commands_say_the_feature_is_not_in_this_build() {
    let o = labvirt(&["status"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("not enabled in this build"), "{}", err(&o));
}

#[cfg(feature = "libvirt")]
#[test]
fn live_commands_against_the_test_driver() {
    let dir = tempfile::tempdir().unwrap();
    let node = dir.path().join("node.xml");
    std::fs::write(
        &node,
        "<node><cpu><nodes>1</nodes><sockets>1</sockets><cores>6</cores><threads>2</threads><active>12</active><mhz>3000</mhz><model>i686</model></cpu><memory>33554432</memory></node>",
    )
    .unwrap();
    let uri = format!("test://{}", node.display());
    let o = labvirt(&["plan", "--uri", &uri]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(
        out(&o).contains("network management     create"),
        "{}",
        out(&o)
    );
    let o = labvirt(&["status", "--uri", &uri, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["vms"][0]["state"], "undefined");
    let o = labvirt(&[
        "status",
        "--uri",
        "qemu+unix:///system?socket=/nonexistent/sock",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o)
            .contains("cannot connect to libvirt at qemu+unix:///system?socket=/nonexistent/sock"),
        "{}",
        err(&o)
    );
}

#[test]
fn the_example_file_is_the_built_in_lab() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let example = std::fs::read_to_string(root.join("examples/aws-vpc.toml")).unwrap();
    assert_eq!(
        example,
        labvirt::reference::TOML,
        "examples/aws-vpc.toml must be the built-in lab, [host] and [[vm]] included"
    );
}
