//! `labsec harden --root` on a fresh Debian 12 tree (tests/fixtures/debian):
//! the dry run writes nothing and shows each file's diff and the sshd
//! settings that change; the real run validates the drop-in with the real
//! `sshd -t` and writes; the audit then comes out clean; a second run writes
//! nothing; a broken candidate is refused before anything is written; no
//! authorized key means no harden; `--rollback` restores the tree exactly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{SECURITY, labsec, tree};

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut m = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                m.insert(
                    e.path().strip_prefix(dir).unwrap().to_owned(),
                    std::fs::read(e.path()).unwrap(),
                );
            }
        }
    }
    m
}

fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    tree("debian")
}

/// `harden` refuses (exit 1) saying each of `needles`, and writes nothing.
fn refused(root: &Path, lab: &Path, needles: &[&str]) {
    let before = snapshot(root);
    let o = labsec(&[
        "harden",
        s(lab),
        "--root",
        s(root),
        "--segment",
        "management",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    for n in needles {
        assert!(err.contains(n), "{n:?} in:\n{err}");
    }
    assert_eq!(snapshot(root), before, "nothing was written");
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
#[cfg_attr(
    not(labkit_sshd),
    ignore = "needs root, sshd (Debian package openssh-server) and unshare --mount"
)]
fn harden_then_audit_is_clean_twice_is_a_no_op_and_rollback_restores() {
    let (_d, root, lab) = setup();
    let before = snapshot(&root);
    let args = ["--root", s(&root), "--segment", "management"];
    let o = labsec(&[&["audit", s(&lab)][..], &args, &["--format", "json"]].concat());
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        r["findings"].as_array().unwrap().len() > 20,
        "a fresh Debian has much to do: {r}"
    );

    let o = labsec(&[&["harden", s(&lab)][..], &args, &["--dry-run"]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let diff = String::from_utf8_lossy(&o.stdout);
    assert!(
        diff.contains("+++ /etc/ssh/sshd_config.d/00-labsec.conf (labsec harden)"),
        "{diff}"
    );
    assert!(
        diff.contains("+Port 2201"),
        "the first of management's ssh_ports: {diff}"
    );
    assert!(
        diff.contains("-passwordauthentication yes\n+passwordauthentication no"),
        "{diff}"
    );
    assert!(diff.contains("-port 22\n+port 2201"), "{diff}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("sshd moves from port 22 to 2201"));
    assert_eq!(snapshot(&root), before, "a dry run writes nothing");

    let o = labsec(&[&["harden", s(&lab)][..], &args].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = labsec(
        &[
            &["audit", s(&lab)][..],
            &args,
            &["--format", "json", "--fail-on", "info"],
        ]
        .concat(),
    );
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["findings"], serde_json::json!([]), "{r:#}");
    assert_eq!(r["score"], 100);
    assert_eq!(o.status.code(), Some(0));

    let after = snapshot(&root);
    let o = labsec(&[&["harden", s(&lab)][..], &args].concat());
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothing to write"));
    assert_eq!(snapshot(&root), after, "a second harden changes nothing");

    let o = labsec(&["harden", s(&lab), "--root", s(&root), "--rollback"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut restored = snapshot(&root);
    restored.retain(|p, _| !p.starts_with("var/backups"));
    assert_eq!(restored, before, "rollback restores the tree exactly");
}

#[test]
#[cfg_attr(
    not(labkit_sshd),
    ignore = "needs root, sshd (Debian package openssh-server) and unshare --mount"
)]
fn a_candidate_sshd_refuses_is_never_written() {
    let (_d, root, lab) = setup();
    // A main file sshd refuses once the drop-in is in: the drop-in is
    // validated together with what it joins.
    let main = root.join("etc/ssh/sshd_config");
    let text = std::fs::read_to_string(&main).unwrap();
    std::fs::write(&main, format!("{text}Match User ada\n    Port 2202\n")).unwrap();
    refused(&root, &lab, &["sshd -t refuses", "nothing was written"]);
}

#[test]
fn without_an_authorized_key_harden_refuses_to_turn_passwords_off() {
    let (_d, root, lab) = setup();
    std::fs::remove_file(root.join("home/ada/.ssh/authorized_keys")).unwrap();
    refused(
        &root,
        &lab,
        &["no allowed user has an authorized key (ada: /home/ada/.ssh/authorized_keys)"],
    );
}

#[test]
#[cfg_attr(
    not(all(labkit_sshd, labkit_fail2ban)),
    ignore = "needs root, sshd, unshare --mount and fail2ban-client (Debian packages openssh-server, fail2ban)"
)]
fn a_jail_fail2ban_refuses_is_never_written() {
    let (_d, root, lab) = setup();
    // A local jail already on the host that names a filter that does not
    // exist: fail2ban's own test fails with the generated jail.local in.
    let jd = root.join("etc/fail2ban/jail.d");
    std::fs::create_dir_all(&jd).unwrap();
    std::fs::write(
        jd.join("broken.local"),
        "[broken]\nenabled = true\nfilter = no-such-filter\nlogpath = /var/log/x.log\n",
    )
    .unwrap();
    refused(
        &root,
        &lab,
        &["fail2ban-client -t refuses", "no-such-filter"],
    );
}

/// Run `script` in a network and mount namespace of its own (loopback up,
/// a tmpfs on /run), and return its standard output.
fn in_namespace(script: &str) -> String {
    let o = Command::new("unshare")
        .args(["--net", "--mount", "--propagation", "private", "sh", "-c"])
        .arg(format!("set -u\nip link set lo up\nmount -t tmpfs labsec-run /run\nmkdir -p /run/sshd\n{script}"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

#[test]
#[cfg_attr(
    not(all(labkit_sshd, labkit_netns)),
    ignore = "needs root, sshd, ssh, sshpass, network and mount namespaces (Debian packages openssh-server, sshpass)"
)]
fn a_real_sshd_takes_the_key_and_refuses_the_password_after_harden_and_rollback_brings_passwords_back()
 {
    if Command::new("sshpass").arg("-V").output().is_err() {
        panic!("sshpass is missing (Debian package sshpass)");
    }
    let (d, root, lab) = setup();
    // ada, her key, her password, and sshd's privilege-separation user, in
    // the namespace's own /etc/passwd, shadow and group (bound over the
    // host's there only); her home is in the scratch tree.
    let home = root.join("home/ada");
    let key = d.path().join("ada_key");
    assert!(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .status()
            .unwrap()
            .success()
    );
    std::fs::copy(key.with_extension("pub"), home.join(".ssh/authorized_keys")).unwrap();
    let hash = Command::new("openssl")
        .args(["passwd", "-6", "ada-password"])
        .output()
        .unwrap();
    let hash = String::from_utf8_lossy(&hash.stdout).trim().to_owned();
    let etc = d.path().join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(etc.join("passwd"), format!("root:x:0:0:root:/root:/bin/sh\nsshd:x:100:65534::/run/sshd:/usr/sbin/nologin\nada:x:1000:1000:Ada:{}:/bin/sh\n", home.display())).unwrap();
    std::fs::write(
        etc.join("shadow"),
        format!(
            "root:*:19000:0:99999:7:::\nsshd:*:19000:0:99999:7:::\nada:{hash}:19000:0:99999:7:::\n"
        ),
    )
    .unwrap();
    std::fs::write(
        etc.join("group"),
        "root:x:0:\nnogroup:x:65534:\nada:x:1000:\nlab-admins:x:1001:ada\n",
    )
    .unwrap();
    for (p, m) in [
        (&home, 0o755),
        (&home.join(".ssh"), 0o700),
        (&home.join(".ssh/authorized_keys"), 0o600),
    ] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
        std::os::unix::fs::chown(p, Some(1000), Some(1000)).unwrap();
    }
    // Each parent of the home must not be writable by others for StrictModes.
    for p in [d.path(), &root, &root.join("home")] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let hostkey = d.path().join("hostkey");
    assert!(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&hostkey)
            .status()
            .unwrap()
            .success()
    );
    let bin = env!("CARGO_BIN_EXE_labsec");
    let script = format!(
        r#"
for f in passwd shadow group; do mount --bind {etc}/$f /etc/$f; done
mount --bind {root}/etc/ssh /etc/ssh
start() {{ /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config -h {hostkey} -o ListenAddress=127.0.0.1 -E {dir}/sshd.log & PID=$!; sleep 1; }}
stop() {{ kill $PID; wait $PID 2>/dev/null; }}
opts="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 -o LogLevel=ERROR"
try() {{ # name port: a key login and a password login
  ssh $opts -o BatchMode=yes -o PasswordAuthentication=no -i {key} -p $2 ada@127.0.0.1 true </dev/null; echo "$1 key $?"
  sshpass -p ada-password ssh $opts -o PubkeyAuthentication=no -o PreferredAuthentications=password -p $2 ada@127.0.0.1 true </dev/null; echo "$1 password $?"
}}
start; try before 22; stop
{bin} harden {lab} --root {root} --segment management >/dev/null 2>&1; echo "harden $?"
start; try hardened 2201; try hardened-old-port 22; stop
{bin} harden {lab} --root {root} --rollback >/dev/null 2>&1; echo "rollback $?"
start; try rolled-back 22; stop
"#,
        etc = etc.display(),
        root = root.display(),
        hostkey = hostkey.display(),
        key = key.display(),
        dir = d.path().display(),
        lab = lab.display(),
    );
    let out = in_namespace(&script);
    let log = std::fs::read_to_string(d.path().join("sshd.log")).unwrap_or_default();
    let got: BTreeMap<String, i32> = out
        .lines()
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_owned(), v.parse().ok()?))
        })
        .collect();
    let want: BTreeMap<String, i32> = [
        ("before key", 0),
        ("before password", 0),
        ("harden", 0),
        ("hardened key", 0),
        ("hardened password", 255),
        ("hardened-old-port key", 255),
        ("hardened-old-port password", 255),
        ("rollback", 0),
        ("rolled-back key", 0),
        ("rolled-back password", 0),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(got, want, "{out}\n--- sshd log\n{log}");
}

#[test]
fn an_enforcing_selinux_without_the_port_labelled_stops_harden_and_a_local_label_lets_it() {
    let (_d, root, lab) = setup();
    std::fs::create_dir_all(root.join("etc/selinux")).unwrap();
    std::fs::write(
        root.join("etc/selinux/config"),
        "SELINUX=enforcing\nSELINUXTYPE=targeted\n",
    )
    .unwrap();
    let before = snapshot(&root);
    let o = labsec(&[
        "harden",
        s(&lab),
        "--root",
        s(&root),
        "--segment",
        "management",
        "--dry-run",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("port 2201 is not labelled ssh_port_t (22)")
            && err.contains("semanage port -a -t ssh_port_t -p tcp 2201"),
        "{err}"
    );
    assert_eq!(snapshot(&root), before);
    let local = root.join("var/lib/selinux/targeted/active");
    std::fs::create_dir_all(&local).unwrap();
    std::fs::write(
        local.join("ports.local"),
        "port -a -t ssh_port_t -r 's0' -p tcp 2201\n",
    )
    .unwrap();
    let o = labsec(&[
        "harden",
        s(&lab),
        "--root",
        s(&root),
        "--segment",
        "management",
        "--dry-run",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn the_sysctl_file_is_checked_against_this_kernel() {
    labsec::harden::sysctl_accepts("# fine\nnet.ipv4.tcp_syncookies = 1\n").unwrap();
    let e = labsec::harden::sysctl_accepts("net.ipv4.no_such_knob = 1\n").unwrap_err();
    assert!(e.to_string().contains("net.ipv4.no_such_knob"), "{e}");
    let e = labsec::harden::sysctl_accepts("kernel.dmesg_restrict = yes\n").unwrap_err();
    assert!(e.to_string().contains("is not a number"), "{e}");
    let sec = labsec::from_document(
        &labfile::Document::parse("lab.toml", format!("{}{SECURITY}", labnet::reference::TOML))
            .unwrap(),
    )
    .unwrap()
    .0;
    for (p, text) in labsec::harden::files(&sec, 2201, true) {
        if p.starts_with("/etc/sysctl.d/") {
            labsec::harden::sysctl_accepts(&text).unwrap();
        }
    }
}
