//! `harden`: the files that make a host meet the baseline, generated from
//! the lab file, validated by the real tools before anything is written,
//! written with a backup of every file they replace, and rolled back from
//! that backup. A second run over a hardened tree plans nothing.
//!
//! The sshd drop-in is `sshd_config.d/00-labsec.conf`: Debian's sshd_config
//! includes the drop-ins first and the first value wins, so it sorts first;
//! it ends with a `Match all` block repeating the settings a Match block may
//! change, which comes before any other Match block in the reparse and so
//! wins there too.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use crate::model::{AutoUpdates, Security};
use crate::sshd::{Config, Tree};

/// What stops a harden.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HardenError {
    /// Turning off passwords would lock everyone out.
    #[error(
        "no allowed user has an authorized key ({checked}): turning off password logins would lock everyone out"
    )]
    NoAuthorizedKey {
        /// Who was looked at, and where.
        checked: String,
    },
    /// A generated file was refused by its own tool.
    #[error("{tool} refuses the generated {path}: {message}")]
    Refused {
        /// The tool.
        tool: &'static str,
        /// The file.
        path: String,
        /// What it said.
        message: String,
    },
    /// A file could not be read or written.
    #[error("cannot write {path}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// SELinux would keep sshd off its port.
    #[error(
        "SELinux is enforcing and port {port} is not labelled ssh_port_t ({labelled}): sshd could not bind it"
    )]
    SelinuxPort {
        /// The port.
        port: u16,
        /// The ports that are.
        labelled: String,
    },
    /// A sysctl key of the generated file does not exist on this kernel.
    #[error("{key} in the generated sysctl.d file is not a setting of this kernel (no {path})")]
    UnknownSysctl {
        /// The key.
        key: String,
        /// The /proc/sys path looked for.
        path: String,
    },
    /// There is nothing to roll back.
    #[error("there is no backup in {dir}")]
    NoBackup {
        /// Where it was looked for.
        dir: String,
    },
}

/// One file harden writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Change {
    /// The path, as on the host.
    pub path: String,
    /// What is there now (`None`: nothing).
    pub old: Option<String>,
    /// What harden writes.
    pub new: String,
}

/// What a harden does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Plan {
    /// Files that change, in order.
    pub changes: Vec<Change>,
    /// sshd's port after the harden.
    pub ssh_port: u16,
    /// Notes for the user (why a port was chosen, what was not done).
    pub notes: Vec<String>,
}

/// The files the baseline asks for, as (path, content).
#[must_use]
pub fn files(policy: &Security, port: u16, docker: bool) -> Vec<(String, String)> {
    let s = &policy.ssh;
    let mut sshd = format!(
        "# Written by labsec harden from the lab file; labsec harden --rollback restores what was here.\n\
         # First in sshd_config.d: sshd keeps the first value it reads.\n\
         Port {port}\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         PermitRootLogin no\n\
         PubkeyAuthentication yes\n\
         PermitEmptyPasswords no\n\
         MaxAuthTries {}\n\
         LoginGraceTime {}\n\
         X11Forwarding no\n\
         AllowTcpForwarding no\n\
         AllowAgentForwarding no\n\
         IgnoreRhosts yes\n\
         HostbasedAuthentication no\n\
         PermitUserEnvironment no\n\
         LogLevel VERBOSE\n\
         ClientAliveInterval 15\n\
         ClientAliveCountMax 3\n\
         Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr\n\
         MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,umac-128-etm@openssh.com\n\
         KexAlgorithms sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512\n",
        s.max_auth_tries, s.login_grace_time
    );
    if !s.allow_groups.is_empty() {
        sshd.push_str(&format!("AllowGroups {}\n", s.allow_groups.join(" ")));
    }
    sshd.push_str(
        "\n# Ahead of every other Match block: these hold for every connection.\n\
         Match all\n\
         \x20   PasswordAuthentication no\n\
         \x20   KbdInteractiveAuthentication no\n\
         \x20   PermitRootLogin no\n\
         \x20   PubkeyAuthentication yes\n\
         \x20   PermitEmptyPasswords no\n\
         \x20   X11Forwarding no\n\
         \x20   AllowTcpForwarding no\n\
         \x20   AllowAgentForwarding no\n\
         \x20   IgnoreRhosts yes\n\
         \x20   HostbasedAuthentication no\n\
         \x20   LogLevel VERBOSE\n",
    );
    sshd.push_str(&format!("    MaxAuthTries {}\n", s.max_auth_tries));
    let f = &policy.fail2ban;
    let mut jail = format!(
        "# Written by labsec harden from the lab file.\n[DEFAULT]\nbantime = {}\nfindtime = {}\nmaxretry = {}\n",
        f.bantime, f.findtime, f.maxretry
    );
    if f.jails.iter().any(|j| j == "sshd") {
        jail.push_str(&format!(
            "\n[sshd]\nenabled = true\nport = {port}\nbackend = systemd\n"
        ));
    }
    let mut out = vec![("/etc/ssh/sshd_config.d/00-labsec.conf".to_owned(), sshd)];
    if docker && f.jails.iter().any(|j| j == "docker-auth") {
        jail.push_str(
            "\n# Bans in DOCKER-USER: a ban in INPUT never reaches Docker-published ports.\n\
             [docker-auth]\nenabled = true\nport = 2375,2376\nfilter = docker-auth\nbackend = systemd\n\
             journalmatch = _SYSTEMD_UNIT=docker.service\nbanaction = iptables-multiport[chain=\"DOCKER-USER\"]\n",
        );
        out.push((
            "/etc/fail2ban/filter.d/docker-auth.conf".to_owned(),
            "# Written by labsec harden: failed Docker API authorisations.\n[Definition]\n\
             failregex = ^.*level=(warning|error) msg=\".*(authorization denied|unauthorized|authentication failed).*\" .*client=<HOST>.*$\n\
             ignoreregex =\n"
                .to_owned(),
        ));
        out.push((
            "/etc/audit/rules.d/labsec-docker.rules".to_owned(),
            "# Written by labsec harden: CIS Docker Benchmark 1.1.3 to 1.1.18.\n\
             -w /usr/bin/dockerd -k docker\n-w /usr/sbin/dockerd -k docker\n-w /run/containerd -k docker\n\
             -w /var/lib/docker -k docker\n-w /etc/docker -k docker\n-w /lib/systemd/system/docker.service -k docker\n\
             -w /run/containerd/containerd.sock -k docker\n-w /lib/systemd/system/docker.socket -k docker\n\
             -w /etc/default/docker -k docker\n-w /etc/docker/daemon.json -k docker\n-w /etc/containerd/config.toml -k docker\n\
             -w /etc/sysconfig/docker -k docker\n-w /usr/bin/containerd -k docker\n-w /usr/bin/containerd-shim-runc-v2 -k docker\n\
             -w /usr/bin/runc -k docker\n-w /usr/sbin/runc -k docker\n"
                .to_owned(),
        ));
    }
    out.push(("/etc/fail2ban/jail.local".to_owned(), jail));
    out.push((
        "/etc/sysctl.d/90-labsec.conf".to_owned(),
        "# Written by labsec harden. The lab host routes its segments and runs\n\
         # Docker, so net.ipv4.ip_forward is left as it is.\n\
         net.ipv4.conf.all.rp_filter = 2\nnet.ipv4.conf.all.accept_redirects = 0\nnet.ipv4.conf.default.accept_redirects = 0\n\
         net.ipv4.conf.all.send_redirects = 0\nnet.ipv4.conf.default.send_redirects = 0\n\
         net.ipv4.conf.all.accept_source_route = 0\nnet.ipv4.conf.default.accept_source_route = 0\n\
         net.ipv4.tcp_syncookies = 1\nnet.ipv4.conf.all.log_martians = 1\nnet.ipv4.conf.default.log_martians = 1\n\
         net.ipv4.icmp_echo_ignore_broadcasts = 1\nkernel.randomize_va_space = 2\nkernel.kptr_restrict = 2\n\
         kernel.dmesg_restrict = 1\nfs.protected_hardlinks = 1\nfs.protected_symlinks = 1\n"
            .to_owned(),
    ));
    let periodic = if policy.auto_updates == AutoUpdates::None {
        "0"
    } else {
        "1"
    };
    out.push((
        "/etc/apt/apt.conf.d/20auto-upgrades".to_owned(),
        format!("APT::Periodic::Update-Package-Lists \"1\";\nAPT::Periodic::Unattended-Upgrade \"{periodic}\";\n"),
    ));
    if policy.auto_updates == AutoUpdates::All {
        out.push((
            "/etc/apt/apt.conf.d/52labsec-all-updates".to_owned(),
            "// Written by labsec harden: auto_updates = \"all\".\nUnattended-Upgrade::Origins-Pattern { \"origin=Debian,codename=${distro_codename}\"; };\n".to_owned(),
        ));
    }
    out
}

/// Users of `groups` with a non-empty `~/.ssh/authorized_keys` in `tree`,
/// and a description of who was looked at.
fn keyed_users(tree: &Tree, groups: &[String]) -> (Vec<String>, String) {
    let group = std::fs::read_to_string(tree.path("/etc/group")).unwrap_or_default();
    let passwd = std::fs::read_to_string(tree.path("/etc/passwd")).unwrap_or_default();
    let mut users: Vec<String> = Vec::new();
    let mut gids = Vec::new();
    for l in group.lines() {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() >= 4 && groups.iter().any(|g| g == f[0]) {
            gids.push(f[2].to_owned());
            users.extend(f[3].split(',').filter(|u| !u.is_empty()).map(str::to_owned));
        }
    }
    let mut homes = Vec::new();
    for l in passwd.lines() {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() >= 6 && (users.iter().any(|u| u == f[0]) || gids.iter().any(|g| g == f[3])) {
            homes.push((f[0].to_owned(), f[5].to_owned()));
        }
    }
    homes.sort();
    homes.dedup();
    let keyed: Vec<String> = homes
        .iter()
        .filter(|(_, h)| {
            std::fs::read_to_string(tree.path(&format!("{h}/.ssh/authorized_keys"))).is_ok_and(
                |k| {
                    k.lines()
                        .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                },
            )
        })
        .map(|(u, _)| u.clone())
        .collect();
    let who = if homes.is_empty() {
        format!(
            "no members of {} in /etc/group and /etc/passwd",
            groups.join(", ")
        )
    } else {
        homes
            .iter()
            .map(|(u, h)| format!("{u}: {h}/.ssh/authorized_keys"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    (keyed, who)
}

/// Validate the sshd configuration `tree` would have with `candidate`
/// (path, content) added, with the real `sshd -t`, in a mount namespace
/// where a scratch copy of the tree's /etc/ssh is bound over /etc/ssh.
///
/// # Errors
/// `Refused` with sshd's message; `Io` when the scratch copy cannot be made.
pub fn sshd_accepts(tree: &Tree, candidate: &[(String, String)]) -> Result<(), HardenError> {
    run_sshd(tree, candidate, "-t").map(|_| ())
}

/// `sshd -T` of the configuration `tree` would have with `candidate`
/// added (none: as it is), run as [`sshd_accepts`] runs `sshd -t`.
///
/// # Errors
/// As [`sshd_accepts`].
pub fn sshd_dump(tree: &Tree, candidate: &[(String, String)]) -> Result<String, HardenError> {
    run_sshd(tree, candidate, "-T")
}

/// One sshd setting a harden changes: (keyword, before, after).
pub type SettingChange = (&'static str, String, String);

/// sshd's checked settings that `plan` changes, as (keyword, before,
/// after), and what read them: the real `sshd -T` where it runs, else
/// labsec's reader over a scratch copy of the tree's /etc/ssh.
///
/// # Errors
/// `Io` when the scratch copy cannot be made.
pub fn sshd_difference(
    tree: &Tree,
    plan: &Plan,
) -> Result<(&'static str, Vec<SettingChange>), HardenError> {
    let candidate: Vec<(String, String)> = plan
        .changes
        .iter()
        .map(|c| (c.path.clone(), c.new.clone()))
        .collect();
    let (before, after, source) = match (sshd_dump(tree, &[]), sshd_dump(tree, &candidate)) {
        (Ok(b), Ok(a)) => (
            crate::sshd::from_dump(&b),
            crate::sshd::from_dump(&a),
            "sshd -T",
        ),
        _ => {
            let io = |path: &str| {
                let path = path.to_owned();
                move |source| HardenError::Io { path, source }
            };
            let scratch = tempfile::tempdir().map_err(io("a scratch directory"))?;
            let mirror = Tree::new(scratch.path());
            copy_dir(&tree.path("/etc/ssh"), &mirror.path("/etc/ssh")).map_err(io("/etc/ssh"))?;
            for (p, text) in candidate.iter().filter(|(p, _)| p.starts_with("/etc/ssh/")) {
                let dest = mirror.path(p);
                if let Some(d) = dest.parent() {
                    std::fs::create_dir_all(d).map_err(io(p))?;
                }
                std::fs::write(&dest, text).map_err(io(p))?;
            }
            (
                Config::read(tree, "/etc/ssh/sshd_config").effective(None),
                Config::read(&mirror, "/etc/ssh/sshd_config").effective(None),
                "labsec's reader",
            )
        }
    };
    let changed = crate::sshd::CHECKED
        .iter()
        .map(|k| (*k, before.value(k), after.value(k)))
        .filter(|(_, b, a)| a != b)
        .collect();
    Ok((source, changed))
}

/// Validate the fail2ban configuration `tree` would have with `candidate`
/// added, with fail2ban's own configuration test (`fail2ban-client -c DIR
/// -t`) on a scratch copy. A tree without fail2ban's own files (an offline
/// tree holding only local ones) is tested over this machine's package
/// files. `Ok(false)`: fail2ban is not installed here, so it was not run.
///
/// # Errors
/// `Refused` with fail2ban's message.
pub fn fail2ban_accepts(tree: &Tree, candidate: &[(String, String)]) -> Result<bool, HardenError> {
    let io = |path: &str| {
        let path = path.to_owned();
        move |source| HardenError::Io { path, source }
    };
    if Command::new("fail2ban-client")
        .arg("--version")
        .output()
        .is_err()
    {
        return Ok(false);
    }
    let scratch = tempfile::tempdir().map_err(io("a scratch directory"))?;
    let conf = scratch.path().join("fail2ban");
    let own = tree.path("/etc/fail2ban/jail.conf").exists();
    if !own {
        copy_dir(Path::new("/etc/fail2ban"), &conf).map_err(io("/etc/fail2ban"))?;
    }
    copy_dir(&tree.path("/etc/fail2ban"), &conf).map_err(io("/etc/fail2ban"))?;
    for (p, text) in candidate {
        if let Some(rel) = p.strip_prefix("/etc/fail2ban/") {
            let dest = conf.join(rel);
            if let Some(d) = dest.parent() {
                std::fs::create_dir_all(d).map_err(io(p))?;
            }
            std::fs::write(&dest, text).map_err(io(p))?;
        }
    }
    let o = Command::new("fail2ban-client")
        .arg("-c")
        .arg(&conf)
        .arg("-t")
        .output()
        .map_err(io("fail2ban-client"))?;
    if o.status.success() {
        return Ok(true);
    }
    let text = String::from_utf8_lossy(&o.stderr);
    let errors: Vec<&str> = text.lines().filter(|l| l.contains("ERROR")).collect();
    Err(HardenError::Refused {
        tool: "fail2ban-client -t",
        path: "/etc/fail2ban/jail.local".to_owned(),
        message: errors.join("; "),
    })
}

fn run_sshd(
    tree: &Tree,
    candidate: &[(String, String)],
    flag: &str,
) -> Result<String, HardenError> {
    let io = |path: &str| {
        let path = path.to_owned();
        move |source| HardenError::Io { path, source }
    };
    let scratch = tempfile::tempdir().map_err(io("a scratch directory"))?;
    let etc = scratch.path().join("ssh");
    copy_dir(&tree.path("/etc/ssh"), &etc).map_err(io("/etc/ssh"))?;
    for (p, text) in candidate {
        if let Some(rel) = p.strip_prefix("/etc/ssh/") {
            let dest = etc.join(rel);
            if let Some(d) = dest.parent() {
                std::fs::create_dir_all(d).map_err(io(p))?;
            }
            std::fs::write(&dest, text).map_err(io(p))?;
        }
    }
    let key = scratch.path().join("hostkey");
    let _ = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .output();
    let script = format!(
        "mount -t tmpfs labsec-run /run && mkdir -p /run/sshd && mount --bind {} /etc/ssh && sshd {flag} -f /etc/ssh/sshd_config -h {}",
        etc.display(),
        key.display()
    );
    let o = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .output()
        .map_err(io("unshare"))?;
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    } else {
        Err(HardenError::Refused {
            tool: if flag == "-t" { "sshd -t" } else { "sshd -T" },
            path: "/etc/ssh/sshd_config.d/00-labsec.conf".to_owned(),
            message: String::from_utf8_lossy(&o.stderr).trim().to_owned(),
        })
    }
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    let Ok(rd) = std::fs::read_dir(from) else {
        return Ok(());
    };
    for e in rd {
        let e = e?;
        let t = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &t)?;
        } else if e.file_type()?.is_file() {
            std::fs::copy(e.path(), &t)?;
        }
    }
    Ok(())
}

/// Plan a harden of `tree`: the files that differ from what the baseline
/// asks for. `port_range` is the host's segment's SSH ports.
///
/// # Errors
/// When no allowed user has an authorized key (passwords would be turned
/// off with no way in).
pub fn plan(
    tree: &Tree,
    policy: &Security,
    port_range: Option<labnet::PortRange>,
) -> Result<Plan, HardenError> {
    let mut notes = Vec::new();
    let config = Config::read(tree, "/etc/ssh/sshd_config");
    let eff = config.effective(None);
    let current: Vec<u16> = eff
        .value("port")
        .split(' ')
        .filter_map(|p| p.parse().ok())
        .collect();
    let ssh_port = match port_range {
        Some(r) => match current.iter().find(|p| r.contains(**p) && **p != 22) {
            Some(p) => *p,
            None => {
                notes.push(format!(
                    "sshd moves from port {} to {}, the first of its segment's ssh_ports ({}-{}), which the lab's ruleset lets in",
                    eff.value("port"),
                    r.start(),
                    r.start(),
                    r.end()
                ));
                r.start()
            }
        },
        None => current.iter().copied().find(|p| *p != 22).unwrap_or(22),
    };
    if ssh_port == 22 {
        notes.push(
            "sshd stays on port 22: name the host's segment so that its ssh_ports give the port"
                .to_owned(),
        );
    }
    if !policy.ssh.allow_groups.is_empty() {
        let (keyed, who) = keyed_users(tree, &policy.ssh.allow_groups);
        if keyed.is_empty() && eff.value("passwordauthentication") != "no" {
            return Err(HardenError::NoAuthorizedKey { checked: who });
        }
    }
    if let Some(labelled) = selinux_ssh_ports(tree)
        && !labelled.contains(&ssh_port)
    {
        return Err(HardenError::SelinuxPort {
            port: ssh_port,
            labelled: labelled
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let docker = tree.path("/usr/sbin/dockerd").exists() || tree.path("/usr/bin/dockerd").exists();
    let mut changes = Vec::new();
    for (path, new) in files(policy, ssh_port, docker) {
        let old = std::fs::read_to_string(tree.path(&path)).ok();
        if old.as_deref() != Some(new.as_str()) {
            changes.push(Change { path, old, new });
        }
    }
    Ok(Plan {
        changes,
        ssh_port,
        notes,
    })
}

/// The ports SELinux labels `ssh_port_t` when it is enforcing in `tree`
/// (`None` when it is not): 22 from the base policy and the local
/// additions `semanage port -a -t ssh_port_t` keeps in `ports.local`.
#[must_use]
pub fn selinux_ssh_ports(tree: &Tree) -> Option<Vec<u16>> {
    let cfg = std::fs::read_to_string(tree.path("/etc/selinux/config")).ok()?;
    if !cfg.lines().any(|l| l.trim() == "SELINUX=enforcing") {
        return None;
    }
    let policy = cfg
        .lines()
        .find_map(|l| l.trim().strip_prefix("SELINUXTYPE="))
        .unwrap_or("targeted")
        .to_owned();
    let mut ports = vec![22];
    let local = std::fs::read_to_string(
        tree.path(&format!("/var/lib/selinux/{policy}/active/ports.local")),
    )
    .unwrap_or_default();
    for l in local.lines() {
        let w: Vec<&str> = l.split_whitespace().collect();
        if w.contains(&"ssh_port_t")
            && w.contains(&"tcp")
            && let Some(p) = w.last()
        {
            let (a, b) = p.split_once('-').unwrap_or((p, p));
            if let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>()) {
                ports.extend(a..=b);
            }
        }
    }
    Some(ports)
}

/// Check the generated sysctl.d text as sysctl would read it: `key = value`
/// lines whose keys exist on this kernel and whose values are integers.
///
/// # Errors
/// `UnknownSysctl` for a key this kernel does not have; `Refused` for a
/// line that does not parse.
pub fn sysctl_accepts(text: &str) -> Result<(), HardenError> {
    for (i, l) in text.lines().enumerate() {
        let l = l.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        let Some((k, v)) = l.split_once('=') else {
            return Err(HardenError::Refused {
                tool: "sysctl",
                path: "/etc/sysctl.d/90-labsec.conf".to_owned(),
                message: format!("line {}: not key = value", i + 1),
            });
        };
        let (k, v) = (k.trim(), v.trim());
        let path = format!("/proc/sys/{}", k.replace('.', "/"));
        if !Path::new(&path).exists() {
            return Err(HardenError::UnknownSysctl {
                key: k.to_owned(),
                path,
            });
        }
        if v.parse::<i64>().is_err() {
            return Err(HardenError::Refused {
                tool: "sysctl",
                path: "/etc/sysctl.d/90-labsec.conf".to_owned(),
                message: format!("line {}: {k} = {v:?} is not a number", i + 1),
            });
        }
    }
    Ok(())
}

/// Where backups of a tree's replaced files go.
#[must_use]
pub fn backup_dir(tree: &Tree) -> PathBuf {
    tree.path("/var/backups/labsec")
}

/// Validate and write `plan` into `tree`: the sshd drop-in must pass the real
/// `sshd -t` first (nothing is written when it does not); every file
/// replaced is copied under [`backup_dir`] (with a manifest of files that
/// did not exist) before it is written. Returns the files written.
///
/// # Errors
/// When sshd refuses the drop-in, or a file cannot be written (those written
/// before stay, and their backup restores them).
pub fn apply(tree: &Tree, plan: &Plan) -> Result<Vec<String>, HardenError> {
    if plan.changes.is_empty() {
        return Ok(Vec::new());
    }
    let candidate: Vec<(String, String)> = plan
        .changes
        .iter()
        .map(|c| (c.path.clone(), c.new.clone()))
        .collect();
    if candidate.iter().any(|(p, _)| p.starts_with("/etc/ssh/")) {
        sshd_accepts(tree, &candidate)?;
    }
    if candidate
        .iter()
        .any(|(p, _)| p.starts_with("/etc/fail2ban/"))
    {
        fail2ban_accepts(tree, &candidate)?;
    }
    let io = |path: &str| {
        let path = path.to_owned();
        move |source| HardenError::Io { path, source }
    };
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let dir = backup_dir(tree).join(stamp.to_string());
    std::fs::create_dir_all(&dir).map_err(io("/var/backups/labsec"))?;
    let mut created = String::new();
    for c in &plan.changes {
        match &c.old {
            Some(old) => {
                let b = dir.join(c.path.trim_start_matches('/'));
                if let Some(d) = b.parent() {
                    std::fs::create_dir_all(d).map_err(io(&c.path))?;
                }
                std::fs::write(&b, old).map_err(io(&c.path))?;
            }
            None => {
                created.push_str(&c.path);
                created.push('\n');
            }
        }
    }
    std::fs::write(dir.join("created"), &created).map_err(io("the backup manifest"))?;
    let mut written = Vec::new();
    for c in &plan.changes {
        let p = tree.path(&c.path);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).map_err(io(&c.path))?;
        }
        let tmp = p.with_extension("labsec-tmp");
        std::fs::write(&tmp, &c.new).map_err(io(&c.path))?;
        use std::os::unix::fs::PermissionsExt as _;
        let _ = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600));
        std::fs::rename(&tmp, &p).map_err(io(&c.path))?;
        written.push(c.path.clone());
    }
    Ok(written)
}

/// Restore the newest backup: files harden replaced get their old content,
/// files it created are removed. Returns the paths restored or removed.
///
/// # Errors
/// When there is no backup, or a file cannot be restored.
pub fn rollback(tree: &Tree) -> Result<Vec<String>, HardenError> {
    let base = backup_dir(tree);
    let newest = std::fs::read_dir(&base)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok()?.parse::<u64>().ok())
        .max()
        .ok_or_else(|| HardenError::NoBackup {
            dir: base.display().to_string(),
        })?;
    let dir = base.join(newest.to_string());
    let io = |path: &str| {
        let path = path.to_owned();
        move |source| HardenError::Io { path, source }
    };
    let mut done = Vec::new();
    let created = std::fs::read_to_string(dir.join("created")).unwrap_or_default();
    for p in created.lines().filter(|l| !l.is_empty()) {
        match std::fs::remove_file(tree.path(p)) {
            Ok(()) => done.push(p.to_owned()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(p)(e)),
        }
    }
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)
            .map_err(io(&d.display().to_string()))?
            .flatten()
        {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if path != dir.join("created") {
                let rel = path.strip_prefix(&dir).unwrap_or(&path);
                let target = format!("/{}", rel.display());
                std::fs::copy(&path, tree.path(&target)).map_err(io(&target))?;
                done.push(target);
            }
        }
    }
    std::fs::remove_dir_all(&dir).map_err(io(&dir.display().to_string()))?;
    done.sort();
    Ok(done)
}
