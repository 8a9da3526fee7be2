//! The kernel, host and fail2ban areas of the audit, read from a tree (this
//! machine's `/`, or an offline root), so every check runs on fixtures.
//!
//! - sysctl: the files systemd-sysctl reads (`/etc`, `/run`, `/usr/local/lib`,
//!   `/usr/lib` and `/lib` `sysctl.d/*.conf`, one name shadowing the same
//!   name in later directories, applied in name order, later values winning),
//!   then `/etc/sysctl.conf`; on a live host `/proc/sys` is the value in force.
//! - fail2ban: `jail.conf`, `jail.d/*.conf`, `jail.local`, `jail.d/*.local`
//!   in that order, later values winning, `[DEFAULT]` under each jail.

use std::collections::BTreeMap;

use crate::audit::{Finding, finding};
use crate::model::Security;
use crate::sshd::{Origin, Tree};

/// One setting and where it was set.
type Setting = (String, Option<Origin>);

/// The sysctl values the files set.
#[must_use]
pub fn sysctl_files(tree: &Tree) -> BTreeMap<String, Setting> {
    let dirs = [
        "/etc/sysctl.d",
        "/run/sysctl.d",
        "/usr/local/lib/sysctl.d",
        "/usr/lib/sysctl.d",
        "/lib/sysctl.d",
    ];
    let mut by_name: BTreeMap<String, String> = BTreeMap::new();
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(tree.path(d)) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(n) = e.file_name().into_string() else {
                continue;
            };
            if n.ends_with(".conf") {
                by_name
                    .entry(n.clone())
                    .or_insert_with(|| format!("{d}/{n}"));
            }
        }
    }
    let mut files: Vec<String> = by_name.into_values().collect();
    files.push("/etc/sysctl.conf".to_owned());
    let mut out = BTreeMap::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(tree.path(&f)) else {
            continue;
        };
        for (i, l) in text.lines().enumerate() {
            let l = l.trim();
            if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
                continue;
            }
            let Some((k, v)) = l.split_once('=') else {
                continue;
            };
            let k = k.trim().trim_start_matches('-').replace('/', ".");
            out.insert(
                k,
                (
                    v.trim().to_owned(),
                    Some(Origin {
                        file: f.clone(),
                        line: i + 1,
                    }),
                ),
            );
        }
    }
    out
}

/// The value of `key` in force: `/proc/sys` on a live host, else the files'.
fn sysctl(tree: &Tree, live: bool, files: &BTreeMap<String, Setting>, key: &str) -> Setting {
    if live {
        let p = format!("/proc/sys/{}", key.replace('.', "/"));
        if let Ok(v) = std::fs::read_to_string(&p) {
            return (v.trim().to_owned(), None);
        }
    }
    let _ = tree;
    files.get(key).cloned().unwrap_or_else(|| {
        let d = KERNEL_DEFAULTS
            .iter()
            .find(|(k, _)| *k == key)
            .map_or("?", |(_, v)| v);
        (d.to_owned(), None)
    })
}

/// Linux's own defaults (6.x), for keys no file sets under an offline root.
const KERNEL_DEFAULTS: &[(&str, &str)] = &[
    ("net.ipv4.conf.all.rp_filter", "0"),
    ("net.ipv4.conf.all.accept_redirects", "1"),
    ("net.ipv4.conf.default.accept_redirects", "1"),
    ("net.ipv4.conf.all.send_redirects", "1"),
    ("net.ipv4.conf.default.send_redirects", "1"),
    ("net.ipv4.conf.all.accept_source_route", "0"),
    ("net.ipv4.conf.default.accept_source_route", "1"),
    ("net.ipv4.tcp_syncookies", "1"),
    ("net.ipv4.conf.all.log_martians", "0"),
    ("net.ipv4.conf.default.log_martians", "0"),
    ("net.ipv4.icmp_echo_ignore_broadcasts", "1"),
    ("kernel.randomize_va_space", "2"),
    ("kernel.kptr_restrict", "0"),
    ("kernel.dmesg_restrict", "0"),
    ("fs.protected_hardlinks", "0"),
    ("fs.protected_symlinks", "0"),
];

/// The kernel checks. `live` reads `/proc/sys` (the running kernel).
#[must_use]
pub fn kernel(tree: &Tree, live: bool) -> Vec<Finding> {
    let files = sysctl_files(tree);
    let mut out = Vec::new();
    let rules: &[(&str, &[&str], &[&str])] = &[
        ("LS-KRN-01", &["net.ipv4.conf.all.rp_filter"], &["1", "2"]),
        (
            "LS-KRN-02",
            &[
                "net.ipv4.conf.all.accept_redirects",
                "net.ipv4.conf.default.accept_redirects",
            ],
            &["0"],
        ),
        (
            "LS-KRN-03",
            &[
                "net.ipv4.conf.all.send_redirects",
                "net.ipv4.conf.default.send_redirects",
            ],
            &["0"],
        ),
        (
            "LS-KRN-04",
            &[
                "net.ipv4.conf.all.accept_source_route",
                "net.ipv4.conf.default.accept_source_route",
            ],
            &["0"],
        ),
        ("LS-KRN-05", &["net.ipv4.tcp_syncookies"], &["1"]),
        (
            "LS-KRN-06",
            &[
                "net.ipv4.conf.all.log_martians",
                "net.ipv4.conf.default.log_martians",
            ],
            &["1"],
        ),
        (
            "LS-KRN-07",
            &["net.ipv4.icmp_echo_ignore_broadcasts"],
            &["1"],
        ),
        ("LS-KRN-08", &["kernel.randomize_va_space"], &["2"]),
        ("LS-KRN-09", &["kernel.kptr_restrict"], &["1", "2"]),
        ("LS-KRN-10", &["kernel.dmesg_restrict"], &["1"]),
        (
            "LS-KRN-11",
            &["fs.protected_hardlinks", "fs.protected_symlinks"],
            &["1"],
        ),
    ];
    // net.ipv4.ip_forward is not among them: the lab host routes the
    // segments and runs Docker, so forwarding is on by design.
    for (id, keys, good) in rules {
        for k in *keys {
            let (v, at) = sysctl(tree, live, &files, k);
            if !good.contains(&v.as_str()) {
                let how = match (&at, live) {
                    (Some(_), _) => String::new(),
                    (None, true) => " (running kernel)".to_owned(),
                    (None, false) => " (no file sets it: the kernel's default)".to_owned(),
                };
                out.push(finding(id, format!("{k} = {v}{how}"), at));
            }
        }
    }
    out
}

/// The Docker files auditd must watch (CIS Docker Benchmark v1.6.0
/// 1.1.3 to 1.1.18), those that exist on the host.
const DOCKER_FILES: &[&str] = &[
    "/usr/bin/dockerd",
    "/usr/sbin/dockerd",
    "/run/containerd",
    "/var/lib/docker",
    "/etc/docker",
    "/lib/systemd/system/docker.service",
    "/run/containerd/containerd.sock",
    "/lib/systemd/system/docker.socket",
    "/etc/default/docker",
    "/etc/docker/daemon.json",
    "/etc/containerd/config.toml",
    "/etc/sysconfig/docker",
    "/usr/bin/containerd",
    "/usr/bin/containerd-shim-runc-v2",
    "/usr/bin/runc",
    "/usr/sbin/runc",
];

fn read_glob(tree: &Tree, dir: &str, suffix: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = std::fs::read_dir(tree.path(dir))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().into_string().ok()?;
            n.ends_with(suffix).then(|| {
                let p = format!("{dir}/{n}");
                let t = std::fs::read_to_string(tree.path(&p)).unwrap_or_default();
                (p, t)
            })
        })
        .collect();
    v.sort();
    v
}

/// The host checks.
#[must_use]
pub fn host(tree: &Tree, live: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    // Automatic updates: Debian's unattended-upgrades, Rocky's dnf-automatic.
    let apt = read_glob(tree, "/etc/apt/apt.conf.d", "");
    let unattended = apt.iter().any(|(_, t)| {
        t.lines().any(|l| {
            let l = l.trim();
            l.starts_with("APT::Periodic::Unattended-Upgrade")
                && (l.contains("\"1\"") || l.contains("\"always\""))
        })
    });
    let installed = tree.path("/usr/bin/unattended-upgrade").exists();
    let dnf = std::fs::read_to_string(tree.path("/etc/dnf/automatic.conf")).unwrap_or_default();
    let dnf_ok = dnf
        .lines()
        .any(|l| l.replace(' ', "") == "apply_updates=yes");
    if !(unattended && installed || dnf_ok) {
        out.push(finding(
            "LS-HST-01",
            if !installed && dnf.is_empty() {
                "neither unattended-upgrades (/usr/bin/unattended-upgrade) nor dnf-automatic (/etc/dnf/automatic.conf) is installed".to_owned()
            } else if installed {
                "unattended-upgrades is installed but APT::Periodic::Unattended-Upgrade is not \"1\" in /etc/apt/apt.conf.d".to_owned()
            } else {
                "/etc/dnf/automatic.conf does not set apply_updates = yes".to_owned()
            },
            None,
        ));
    }
    // auditd: every Docker file that exists is watched.
    if tree.path("/usr/sbin/dockerd").exists() || tree.path("/usr/bin/dockerd").exists() {
        let rules: String = read_glob(tree, "/etc/audit/rules.d", ".rules")
            .into_iter()
            .map(|(_, t)| t)
            .chain(std::fs::read_to_string(tree.path("/etc/audit/audit.rules")))
            .collect::<Vec<_>>()
            .join("\n");
        let watched = |f: &str| {
            rules.lines().any(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.windows(2).any(|p| p[0] == "-w" && p[1] == f) || l.contains(&format!("path={f} "))
            })
        };
        let missing: Vec<&str> = DOCKER_FILES
            .iter()
            .copied()
            .filter(|f| tree.path(f).exists() && !watched(f))
            .collect();
        if !missing.is_empty() {
            out.push(finding(
                "LS-HST-02",
                format!("not watched: {}", missing.join(", ")),
                None,
            ));
        }
    }
    // Mandatory access control.
    let selinux = std::fs::read_to_string(tree.path("/etc/selinux/config")).unwrap_or_default();
    let enforcing = selinux.lines().any(|l| l.trim() == "SELINUX=enforcing");
    let apparmor_live = live
        && std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
            .is_ok_and(|v| v.trim() == "Y");
    let grub = std::fs::read_to_string(tree.path("/etc/default/grub")).unwrap_or_default();
    let apparmor_off =
        grub.contains("apparmor=0") || grub.contains("security=selinux") && !enforcing;
    let apparmor_installed = tree.path("/etc/apparmor.d").is_dir();
    let mac = enforcing || apparmor_live || (!live && apparmor_installed && !apparmor_off);
    if !mac {
        out.push(finding(
            "LS-HST-03",
            if apparmor_off {
                "the kernel command line in /etc/default/grub turns AppArmor off".to_owned()
            } else if !selinux.is_empty() {
                "SELinux is not enforcing (/etc/selinux/config) and AppArmor is not enabled"
                    .to_owned()
            } else {
                "neither AppArmor nor SELinux is enabled".to_owned()
            },
            None,
        ));
    }
    // World-writable files in system paths (not following links).
    let mut ww = Vec::new();
    for d in [
        "/etc",
        "/usr/bin",
        "/usr/sbin",
        "/usr/lib/systemd",
        "/usr/local/bin",
        "/usr/local/sbin",
    ] {
        walk(tree, d, &mut ww, 0);
    }
    ww.sort();
    if !ww.is_empty() {
        let shown: Vec<&str> = ww.iter().take(20).map(String::as_str).collect();
        out.push(finding(
            "LS-HST-04",
            format!(
                "{} world-writable: {}{}",
                ww.len(),
                shown.join(", "),
                if ww.len() > 20 { ", ..." } else { "" }
            ),
            None,
        ));
    }
    out
}

fn walk(tree: &Tree, dir: &str, out: &mut Vec<String>, depth: usize) {
    use std::os::unix::fs::MetadataExt as _;
    if depth > 8 {
        return;
    }
    let Ok(rd) = std::fs::read_dir(tree.path(dir)) else {
        return;
    };
    for e in rd.flatten() {
        let Ok(n) = e.file_name().into_string() else {
            continue;
        };
        let p = format!("{}/{n}", dir.trim_end_matches('/'));
        let Ok(m) = e.path().symlink_metadata() else {
            continue;
        };
        if m.file_type().is_symlink() {
            continue;
        }
        if m.is_dir() {
            // A sticky world-writable directory (like /tmp) is by design.
            if m.mode() & 0o002 != 0 && m.mode() & 0o1000 == 0 {
                out.push(p.clone());
            }
            walk(tree, &p, out, depth + 1);
        } else if m.mode() & 0o002 != 0 {
            out.push(p);
        }
    }
}

/// fail2ban's configuration: section → key → (value, where).
fn fail2ban_config(tree: &Tree) -> BTreeMap<String, BTreeMap<String, Setting>> {
    let mut files: Vec<String> = vec!["/etc/fail2ban/jail.conf".to_owned()];
    files.extend(
        read_glob(tree, "/etc/fail2ban/jail.d", ".conf")
            .into_iter()
            .map(|(p, _)| p),
    );
    files.push("/etc/fail2ban/jail.local".to_owned());
    files.extend(
        read_glob(tree, "/etc/fail2ban/jail.d", ".local")
            .into_iter()
            .map(|(p, _)| p),
    );
    let mut out: BTreeMap<String, BTreeMap<String, Setting>> = BTreeMap::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(tree.path(&f)) else {
            continue;
        };
        let mut section = String::new();
        let mut last: Option<String> = None;
        for (i, raw) in text.lines().enumerate() {
            let l = raw.trim_end();
            let t = l.trim_start();
            if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
                continue;
            }
            if let Some(s) = t.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                section = s.trim().to_owned();
                last = None;
                continue;
            }
            // A continuation line (indented) adds to the previous value.
            if l.starts_with([' ', '\t'])
                && let Some(k) = &last
                && let Some(e) = out.get_mut(&section).and_then(|s| s.get_mut(k))
            {
                e.0.push('\n');
                e.0.push_str(t);
                continue;
            }
            if let Some((k, v)) = t.split_once(['=', ':']) {
                let k = k.trim().to_owned();
                out.entry(section.clone()).or_default().insert(
                    k.clone(),
                    (
                        v.trim().to_owned(),
                        Some(Origin {
                            file: f.clone(),
                            line: i + 1,
                        }),
                    ),
                );
                last = Some(k);
            }
        }
    }
    out
}

/// The fail2ban checks; `ssh_ports` are sshd's ports, `docker` whether
/// Docker runs here.
#[must_use]
pub fn fail2ban(tree: &Tree, policy: &Security, ssh_ports: &[u16], docker: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    if !tree.path("/usr/bin/fail2ban-client").exists() && !tree.path("/etc/fail2ban").is_dir() {
        out.push(finding(
            "LS-F2B-01",
            "/usr/bin/fail2ban-client and /etc/fail2ban are missing".to_owned(),
            None,
        ));
        return out;
    }
    let cfg = fail2ban_config(tree);
    let get = |jail: &str, key: &str| -> Option<Setting> {
        cfg.get(jail)
            .and_then(|s| s.get(key))
            .or_else(|| cfg.get("DEFAULT").and_then(|s| s.get(key)))
            .cloned()
    };
    let enabled = |jail: &str| {
        get(jail, "enabled").is_some_and(|(v, _)| v == "true" || v == "yes" || v == "1")
    };
    if policy.fail2ban.jails.iter().any(|j| j == "sshd") {
        if enabled("sshd") {
            let (port, at) = get("sshd", "port").unwrap_or_else(|| ("ssh".to_owned(), None));
            let listed: Vec<String> = port
                .split([',', ' '])
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect();
            let missing: Vec<String> = ssh_ports
                .iter()
                .filter(|p| {
                    !(listed.contains(&p.to_string())
                        || **p == 22 && listed.iter().any(|l| l == "ssh"))
                })
                .map(u16::to_string)
                .collect();
            if !missing.is_empty() {
                out.push(finding(
                    "LS-F2B-02",
                    format!(
                        "the sshd jail watches port {port}, sshd listens on {}",
                        missing.join(" ")
                    ),
                    at,
                ));
            }
        } else {
            out.push(finding(
                "LS-F2B-02",
                "the sshd jail is not enabled".to_owned(),
                None,
            ));
        }
    }
    if docker && policy.fail2ban.jails.iter().any(|j| j == "docker-auth") {
        if enabled("docker-auth") {
            let (action, at) = get("docker-auth", "banaction")
                .or_else(|| get("docker-auth", "action"))
                .unwrap_or_default();
            let chain = get("docker-auth", "chain").map(|c| c.0).unwrap_or_default();
            if !(action.contains("DOCKER-USER") || chain == "DOCKER-USER") {
                out.push(finding(
                    "LS-F2B-03",
                    format!(
                        "the docker-auth jail bans with {:?}, not in the DOCKER-USER chain",
                        if action.is_empty() {
                            "the default action"
                        } else {
                            action.as_str()
                        }
                    ),
                    at,
                ));
            }
        } else {
            out.push(finding(
                "LS-F2B-03",
                "the docker-auth jail is not enabled".to_owned(),
                None,
            ));
        }
    }
    for (key, want) in [
        ("bantime", policy.fail2ban.bantime.clone()),
        ("findtime", policy.fail2ban.findtime.clone()),
        ("maxretry", policy.fail2ban.maxretry.to_string()),
    ] {
        let (v, at) = get("sshd", key).unwrap_or_else(|| ("(fail2ban's default)".to_owned(), None));
        if v != want {
            out.push(finding(
                "LS-F2B-04",
                format!("{key} = {v}, the lab's is {want}"),
                at,
            ));
        }
    }
    out
}
