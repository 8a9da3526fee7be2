//! `labsec audit --root` on fixture trees (tests/fixtures, see its README):
//! the hardened tree is clean, the weak one has each finding it was made
//! for, both held in insta snapshots of the JSON report; SARIF points at
//! files and lines; the exit status follows --fail-on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{labsec, tree};

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

fn audit_json(root: &Path, lab: &Path) -> (Option<i32>, serde_json::Value) {
    let o = labsec(&[
        "audit",
        lab.to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
        "--segment",
        "management",
        "--format",
        "json",
        "--fail-on",
        "low",
    ]);
    (
        o.status.code(),
        serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr))),
    )
}

/// The weak fixture with a key anyone can read and a configuration anyone
/// can write (git keeps no modes, so they are set here).
fn weak_tree() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let (d, root, lab) = tree("weak");
    for (f, mode) in [
        ("etc/ssh/ssh_host_rsa_key", 0o644),
        ("etc/ssh/sshd_config.d/10-local.conf", 0o666),
    ] {
        std::fs::set_permissions(root.join(f), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    (d, root, lab)
}

#[test]
#[cfg_attr(
    not(labkit_root),
    ignore = "needs root: the fixtures' files must be owned by root"
)]
fn the_hardened_tree_is_clean() {
    // Its sysctl.d keeps net.ipv4.ip_forward = 1: the lab host routes, and
    // no check asks for 0.
    let (_d, root, lab) = tree("hardened");
    let (code, r) = audit_json(&root, &lab);
    assert_eq!(r["findings"], serde_json::json!([]), "{r:#}");
    assert_eq!(r["score"], 100);
    assert_eq!(code, Some(0));
}

#[test]
#[cfg_attr(
    not(labkit_root),
    ignore = "needs root: the fixtures' files must be owned by root"
)]
fn the_weak_tree_has_each_finding_it_was_made_for() {
    let (_d, root, lab) = weak_tree();
    let (code, r) = audit_json(&root, &lab);
    assert_eq!(code, Some(1));
    insta::assert_snapshot!(serde_json::to_string_pretty(&r).unwrap());
    let ids: std::collections::BTreeSet<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["check"].as_str().unwrap())
        .collect();
    for id in [
        "LS-SSH-01",
        "LS-SSH-03",
        "LS-SSH-06",
        "LS-SSH-08",
        "LS-SSH-09",
        "LS-SSH-10",
        "LS-SSH-18",
        "LS-SSH-21",
        "LS-SSH-22",
        "LS-SSH-23",
        "LS-SSH-24",
        "LS-SSH-25",
    ] {
        assert!(ids.contains(id), "{id} missing: {ids:?}");
    }
    // The drop-in's PasswordAuthentication no is the global value; the
    // Match block re-enables it for one segment, and that is the finding.
    let pw: Vec<&serde_json::Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "LS-SSH-01")
        .collect();
    assert_eq!(pw.len(), 1);
    assert_eq!(
        pw[0]["evidence"],
        "passwordauthentication yes for connections matching \"Match Address 10.0.1.0/24\""
    );
    assert_eq!(pw[0]["location"]["line"], 13);
    // A value a file sets is located at its line; one no file sets is the
    // kernel's default, and says so.
    let krn: Vec<&serde_json::Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "LS-KRN-02")
        .collect();
    assert_eq!(krn[0]["evidence"], "net.ipv4.conf.all.accept_redirects = 1");
    assert_eq!(krn[0]["location"]["file"], "/etc/sysctl.d/99-local.conf");
    assert_eq!(
        krn[1]["evidence"],
        "net.ipv4.conf.default.accept_redirects = 1 (no file sets it: the kernel's default)"
    );
    // SARIF locates findings at their file and line.
    let o = labsec(&[
        "audit",
        lab.to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
        "--format",
        "sarif",
    ]);
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let results = s["runs"][0]["results"].as_array().unwrap();
    assert!(results.iter().any(|x| x["ruleId"] == "LS-SSH-01"
        && x["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            == "etc/ssh/sshd_config"
        && x["locations"][0]["physicalLocation"]["region"]["startLine"] == 13));
    assert_eq!(
        s["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .unwrap()
            .len(),
        labsec::audit::CHECKS.len()
    );
}

#[test]
fn bad_arguments_and_a_bad_lab_are_reported() {
    let (_d, root, lab) = tree("hardened");
    let o = labsec(&[
        "audit",
        lab.to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
        "--segment",
        "dmz",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("there is no segment \"dmz\"") && err.contains("management"),
        "{err}"
    );
    let o = labsec(&["audit", lab.to_str().unwrap(), "--fail-on", "urgent"]);
    assert_eq!(o.status.code(), Some(2));
    let text = std::fs::read_to_string(&lab)
        .unwrap()
        .replace("max_auth_tries = 3", "max_auth_tries = 99")
        .replace("\"docker-auth\"]", "\"docker-auth\", \"nginx\"]");
    std::fs::write(&lab, text).unwrap();
    let o = labsec(&["check", lab.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("security.ssh.max_auth_tries") && err.contains("99 is not from 1 to 10"),
        "{err}"
    );
    assert!(
        err.contains("\"nginx\" is not a jail labsec knows"),
        "{err}"
    );
}

#[test]
#[cfg_attr(
    not(labkit_root),
    ignore = "needs root: the fixtures' files must be owned by root"
)]
fn every_check_fails_in_some_fixture_and_passes_in_the_hardened_one() {
    let (_d, root, lab) = tree("worse");
    let (code, r) = audit_json(&root, &lab);
    assert_eq!(code, Some(1));
    insta::assert_snapshot!(serde_json::to_string_pretty(&r).unwrap());
    let (_w, weak, wlab) = weak_tree();
    let (_, w) = audit_json(&weak, &wlab);
    let failed: std::collections::BTreeSet<String> = [&r, &w]
        .iter()
        .flat_map(|x| {
            x["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["check"].as_str().unwrap().to_owned())
        })
        .collect();
    let all: std::collections::BTreeSet<String> = labsec::audit::CHECKS
        .iter()
        .map(|c| c.id.to_owned())
        .collect();
    let never: Vec<&String> = all.difference(&failed).collect();
    assert!(never.is_empty(), "checks no fixture fails: {never:?}");
}
