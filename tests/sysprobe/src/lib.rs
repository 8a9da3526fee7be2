//! What this machine can run, probed when a test crate is built.
//!
//! Tests that need root or system programs are marked
//! `#[cfg_attr(not(labkit_netns), ignore = "needs root, ip (iproute2) and nft (nftables)")]`,
//! so where those are missing `cargo test` reports them as *ignored*, with the
//! reason, never as passed. `scripts/test` runs with `--include-ignored`, so
//! there every test runs (and one whose part is missing fails).
//!
//! A build script calls [`emit`]; the cfgs are:
//! - `labkit_root`: the build runs as root;
//! - `labkit_netns`: root, and `ip`, `nft` and `unshare -n` work (network namespaces);
//! - `labkit_iptables`: that, and `iptables` and `iptables-restore`;
//! - `labkit_libvirtd`: network namespaces, and libvirtd, qemu-system-x86_64,
//!   dnsmasq, qemu-img, virsh and apt-get (the guest harness downloads a kernel);
//! - `labkit_xorriso`: xorriso, to read ISO 9660 images back;
//! - `labkit_restic`: restic, to read labbackup's repositories and write its own;
//! - `labkit_rclone`: rclone, whose `serve restic` is a REST repository server;
//! - `labkit_systemd_analyze`: systemd-analyze, to verify generated units;
//! - `labkit_dockerd`: network namespaces, and dockerd, containerd, runc and
//!   busybox (static), for a Docker Engine of the test's own;
//! - `labkit_sshd`: root, sshd (Debian's openssh-server), ssh-keygen and
//!   `unshare --mount`, for `sshd -T` in a mount namespace of the test's own;
//! - `labkit_fail2ban`: fail2ban-client, for fail2ban's configuration test.

// Build scripts talk to cargo on stdout.
#![allow(clippy::print_stdout)]

use std::process::{Command, Stdio};

fn runs(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(2))
            == Some("0")
    })
}

/// What was found, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// Running as root.
    pub root: bool,
    /// Network namespaces with ip and nft.
    pub netns: bool,
    /// iptables and iptables-restore on top.
    pub iptables: bool,
    /// A real libvirtd with QEMU and dnsmasq can run in a namespace.
    pub libvirtd: bool,
    /// xorriso is installed.
    pub xorriso: bool,
    /// restic is installed.
    pub restic: bool,
    /// rclone is installed.
    pub rclone: bool,
    /// systemd-analyze is installed.
    pub systemd_analyze: bool,
    /// A Docker Engine can run in a namespace.
    pub dockerd: bool,
    /// sshd can be run in a mount namespace.
    pub sshd: bool,
    /// fail2ban-client is installed.
    pub fail2ban: bool,
}

/// Look at this machine.
#[must_use]
pub fn probe() -> Probe {
    let root = is_root();
    let netns = root
        && runs("ip", &["-V"])
        && runs("nft", &["--version"])
        && runs("unshare", &["-n", "true"]);
    let iptables =
        netns && runs("iptables", &["--version"]) && runs("iptables-restore", &["--version"]);
    let libvirtd = netns
        && [
            "/usr/sbin/libvirtd",
            "/usr/bin/qemu-system-x86_64",
            "/usr/sbin/dnsmasq",
            "/usr/bin/qemu-img",
            "/usr/bin/virsh",
            "/usr/bin/apt-get",
        ]
        .iter()
        .all(|p| std::path::Path::new(p).exists());
    let xorriso = runs("xorriso", &["-version"]);
    let restic = runs("restic", &["version"]);
    let rclone = runs("rclone", &["version"]);
    let systemd_analyze = runs("systemd-analyze", &["--version"]);
    let dockerd = netns
        && [
            "/usr/sbin/dockerd",
            "/usr/sbin/runc",
            "/usr/bin/containerd",
            "/bin/busybox",
        ]
        .iter()
        .all(|p| std::path::Path::new(p).exists());
    let sshd = root
        && std::path::Path::new("/usr/sbin/sshd").exists()
        && std::path::Path::new("/usr/bin/ssh-keygen").exists()
        && runs("unshare", &["--mount", "true"]);
    let fail2ban = runs("fail2ban-client", &["--version"]);
    Probe {
        root,
        netns,
        iptables,
        libvirtd,
        xorriso,
        restic,
        rclone,
        systemd_analyze,
        dockerd,
        sshd,
        fail2ban,
    }
}

/// Print the cargo directives: the cfgs that hold, their declarations, and when to probe again.
pub fn emit() {
    for cfg in [
        "labkit_root",
        "labkit_netns",
        "labkit_iptables",
        "labkit_libvirtd",
        "labkit_xorriso",
        "labkit_restic",
        "labkit_rclone",
        "labkit_systemd_analyze",
        "labkit_dockerd",
        "labkit_sshd",
        "labkit_fail2ban",
    ] {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
    }
    // Installing a package changes these directories; a different user changes root.
    for dir in ["/usr/sbin", "/usr/bin", "/sbin"] {
        if std::path::Path::new(dir).exists() {
            println!("cargo::rerun-if-changed={dir}");
        }
    }
    println!("cargo::rerun-if-env-changed=USER");
    println!("cargo::rerun-if-env-changed=SUDO_USER");
    let p = probe();
    for (on, cfg) in [
        (p.root, "labkit_root"),
        (p.netns, "labkit_netns"),
        (p.iptables, "labkit_iptables"),
        (p.libvirtd, "labkit_libvirtd"),
        (p.xorriso, "labkit_xorriso"),
        (p.restic, "labkit_restic"),
        (p.rclone, "labkit_rclone"),
        (p.systemd_analyze, "labkit_systemd_analyze"),
        (p.dockerd, "labkit_dockerd"),
        (p.sshd, "labkit_sshd"),
        (p.fail2ban, "labkit_fail2ban"),
    ] {
        if on {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}
