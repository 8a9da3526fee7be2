//! A VM's cloud-init seed as readers of ISO 9660 see it: xorriso here; the
//! guest kernel's own iso9660 driver, reading the CD-ROM labvirt uploads
//! through libvirt's storage API, in tests/tests/libvirt_real.rs (this
//! machine's kernel has no iso9660 to loop-mount it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

fn seed_of(vm: &str, keys: &[&str]) -> (labvirt::seed::Seed, Vec<u8>) {
    let mut lab = labvirt::reference::lab();
    lab.host.authorized_keys = keys.iter().map(|k| (*k).to_owned()).collect();
    let v = lab.vm(vm).unwrap().clone();
    let s = labvirt::seed::seed(&lab, &v);
    let iso = s.iso().unwrap();
    (s, iso)
}

#[test]
fn the_seed_says_what_the_vm_needs() {
    let (s, _) = seed_of(
        "db1",
        &["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI test \"quoted\"@lab"],
    );
    assert_eq!(
        s.meta_data,
        "instance-id: \"aws-sim-db1\"\nlocal-hostname: \"db1\"\n"
    );
    assert!(s.user_data.starts_with("#cloud-config\n"));
    assert!(
        s.user_data
            .contains("hostname: \"db1\"\nfqdn: \"db1.lab.local\"\n")
    );
    assert!(
        s.user_data
            .contains("  - \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI test \\\"quoted\\\"@lab\"\n"),
        "{}",
        s.user_data
    );
    assert!(
        s.user_data.contains("      Port 2251\n"),
        "sshd on the VM's ssh_port"
    );
    // Database is static-only: the seed carries the address, route and resolver.
    assert!(
        s.network_config.contains("addresses: [\"10.0.3.10/24\"]"),
        "{}",
        s.network_config
    );
    assert!(s.network_config.contains("via: \"10.0.3.1\""));
    assert!(
        s.network_config
            .contains("macaddress: \"52:54:00:2f:22:79\"")
    );
    // A DHCP segment's VM asks for a lease.
    let (s, _) = seed_of("web1", &[]);
    assert!(s.network_config.contains("dhcp4: true"));
    assert!(s.user_data.contains("ssh_authorized_keys: []"));
}

#[test]
#[cfg_attr(not(labkit_xorriso), ignore = "needs xorriso")]
fn xorriso_reads_the_label_and_every_file_back() {
    let (s, iso) = seed_of("db1", &["ssh-ed25519 AAAA k@h"]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed.iso");
    std::fs::write(&path, &iso).unwrap();
    let out = Command::new("xorriso")
        .args(["-indev", path.to_str().unwrap(), "-pvd_info"])
        .output()
        .expect("xorriso");
    let info =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        info.contains("Volume Id    : CIDATA") || info.contains("Volume id    : 'CIDATA'"),
        "{info}"
    );
    let x = dir.path().join("x");
    let out = Command::new("xorriso")
        .args([
            "-osirrox",
            "on",
            "-indev",
            path.to_str().unwrap(),
            "-extract",
            "/",
            x.to_str().unwrap(),
        ])
        .output()
        .expect("xorriso");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(x.join("user-data")).unwrap(),
        s.user_data
    );
    assert_eq!(
        std::fs::read_to_string(x.join("meta-data")).unwrap(),
        s.meta_data
    );
    assert_eq!(
        std::fs::read_to_string(x.join("network-config")).unwrap(),
        s.network_config
    );
}
