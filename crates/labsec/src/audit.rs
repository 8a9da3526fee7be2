//! The audit: one check per concern, each with a stable id, title,
//! severity, the reference it follows (the CIS Debian Linux 12 Benchmark
//! v1.1.0 where it has one, else the lab's design), the evidence seen, and
//! the remediation. The SSH area reads sshd's effective configuration:
//! `sshd -T` on a live host, labsec's own reader (`crate::sshd`) under an
//! offline root; directives that only some connections get (inside Match
//! blocks) are checked too.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt as _;

use serde::Serialize;
use serde_json::{Value, json};

use crate::model::Security;
use crate::sshd::{Config, Effective, Origin, Tree};

pub use labaudit::Severity;

/// One check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Check {
    /// Stable id, `LS-SSH-01`.
    pub id: &'static str,
    /// The area: `ssh`.
    pub area: &'static str,
    /// What it wants.
    pub title: &'static str,
    /// How bad a finding is.
    pub severity: Severity,
    /// What it follows: `CIS Debian 12 v1.1.0 5.1.20`, or `lab design`.
    pub reference: &'static str,
    /// How to fix a finding.
    pub remediation: &'static str,
}

macro_rules! check {
    ($id:literal, $sev:ident, $r:literal, $title:literal, $fix:literal) => {
        check!("ssh", $id, $sev, $r, $title, $fix)
    };
    ($area:literal, $id:literal, $sev:ident, $r:literal, $title:literal, $fix:literal) => {
        Check {
            id: $id,
            area: $area,
            title: $title,
            severity: Severity::$sev,
            reference: $r,
            remediation: $fix,
        }
    };
}

/// Every check, by id.
pub const CHECKS: &[Check] = &[
    check!(
        "LS-SSH-01",
        High,
        "lab design",
        "PasswordAuthentication no",
        "set PasswordAuthentication no (labsec harden's drop-in does, after checking an authorized key exists)"
    ),
    check!(
        "LS-SSH-02",
        High,
        "lab design",
        "KbdInteractiveAuthentication no",
        "set KbdInteractiveAuthentication no"
    ),
    check!(
        "LS-SSH-03",
        High,
        "CIS Debian 12 v1.1.0 5.1.20",
        "PermitRootLogin no",
        "set PermitRootLogin no; log in as a member of the allowed groups and use sudo"
    ),
    check!(
        "LS-SSH-04",
        High,
        "lab design",
        "PubkeyAuthentication yes",
        "set PubkeyAuthentication yes"
    ),
    check!(
        "LS-SSH-05",
        Critical,
        "CIS Debian 12 v1.1.0 5.1.19",
        "PermitEmptyPasswords no",
        "set PermitEmptyPasswords no"
    ),
    check!(
        "LS-SSH-06",
        Medium,
        "lab design",
        "Port is not 22",
        "set Port to one of the host's segment's ssh_ports"
    ),
    check!(
        "LS-SSH-07",
        Medium,
        "lab design",
        "Port inside the segment's ssh_ports",
        "set Port to one of the host's segment's ssh_ports (the lab's [[segment]] ssh_ports)"
    ),
    check!(
        "LS-SSH-08",
        Medium,
        "CIS Debian 12 v1.1.0 5.1.16",
        "MaxAuthTries at most the lab's max_auth_tries",
        "set MaxAuthTries to [security.ssh] max_auth_tries"
    ),
    check!(
        "LS-SSH-09",
        Low,
        "CIS Debian 12 v1.1.0 5.1.13",
        "LoginGraceTime from 1 to the lab's login_grace_time",
        "set LoginGraceTime to [security.ssh] login_grace_time"
    ),
    check!(
        "LS-SSH-10",
        Medium,
        "CIS Debian 12 v1.1.0 5.1.8",
        "X11Forwarding no",
        "set X11Forwarding no"
    ),
    check!(
        "LS-SSH-11",
        Low,
        "CIS Debian 12 v1.1.0 5.1.8",
        "AllowTcpForwarding no",
        "set AllowTcpForwarding no (or DisableForwarding yes)"
    ),
    check!(
        "LS-SSH-12",
        Low,
        "CIS Debian 12 v1.1.0 5.1.8",
        "AllowAgentForwarding no",
        "set AllowAgentForwarding no"
    ),
    check!(
        "LS-SSH-13",
        Medium,
        "CIS Debian 12 v1.1.0 5.1.11",
        "IgnoreRhosts yes",
        "set IgnoreRhosts yes"
    ),
    check!(
        "LS-SSH-14",
        Medium,
        "CIS Debian 12 v1.1.0 5.1.10",
        "HostbasedAuthentication no",
        "set HostbasedAuthentication no"
    ),
    check!(
        "LS-SSH-15",
        Medium,
        "CIS Debian 12 v1.1.0 5.1.21",
        "PermitUserEnvironment no",
        "set PermitUserEnvironment no"
    ),
    check!(
        "LS-SSH-16",
        Low,
        "CIS Debian 12 v1.1.0 5.1.14",
        "LogLevel INFO or VERBOSE",
        "set LogLevel VERBOSE (fail2ban reads key fingerprints from it)"
    ),
    check!(
        "LS-SSH-17",
        Low,
        "CIS Debian 12 v1.1.0 5.1.7",
        "ClientAliveInterval and ClientAliveCountMax set",
        "set ClientAliveInterval 15 and ClientAliveCountMax 3"
    ),
    check!(
        "LS-SSH-18",
        High,
        "CIS Debian 12 v1.1.0 5.1.6",
        "no weak ciphers",
        "remove CBC, 3DES, arcfour and rijndael ciphers: Ciphers -*-cbc,3des-*,arcfour*"
    ),
    check!(
        "LS-SSH-19",
        Medium,
        "CIS Debian 12 v1.1.0 5.1.15",
        "no weak MACs",
        "remove MD5, SHA-1, RIPEMD and 64-bit MACs: MACs -hmac-md5*,hmac-sha1*,umac-64*,hmac-ripemd*"
    ),
    check!(
        "LS-SSH-20",
        Medium,
        "CIS Debian 12 v1.1.0 5.1.12",
        "no weak key exchanges",
        "remove SHA-1 key exchanges: KexAlgorithms -diffie-hellman-group1-sha1,diffie-hellman-group14-sha1,diffie-hellman-group-exchange-sha1"
    ),
    check!(
        "LS-SSH-21",
        Medium,
        "CIS Debian 12 v1.1.0 5.1.1",
        "sshd configuration files owned by root, not writable by others",
        "chown root:root and chmod 0600 each file sshd reads"
    ),
    check!(
        "LS-SSH-22",
        High,
        "CIS Debian 12 v1.1.0 5.1.2",
        "host private keys owned by root, mode 0600",
        "chown root:root and chmod 0600 /etc/ssh/ssh_host_*_key"
    ),
    check!(
        "LS-SSH-23",
        Medium,
        "lab design",
        "no Include after a Match in sshd_config",
        "move the Include above the first Match: after it, every included line is inside that Match block"
    ),
    check!(
        "LS-SSH-24",
        Medium,
        "CIS Debian 12 v1.1.0 5.1.4",
        "AllowGroups is the lab's allow_groups",
        "set AllowGroups to [security.ssh] allow_groups"
    ),
    check!(
        "LS-SSH-25",
        High,
        "lab design",
        "sshd accepts its configuration",
        "fix the lines named; sshd refuses to start (or to reload) with them"
    ),
    check!(
        "kernel",
        "LS-KRN-01",
        Medium,
        "CIS Debian 12 v1.1.0 3.3.7",
        "reverse path filtering on",
        "set net.ipv4.conf.all.rp_filter = 1 (2, loose, where the lab routes asymmetrically) in /etc/sysctl.d"
    ),
    check!(
        "kernel",
        "LS-KRN-02",
        Medium,
        "CIS Debian 12 v1.1.0 3.3.5",
        "ICMP redirects not accepted",
        "set net.ipv4.conf.all.accept_redirects = 0 and net.ipv4.conf.default.accept_redirects = 0"
    ),
    check!(
        "kernel",
        "LS-KRN-03",
        Medium,
        "CIS Debian 12 v1.1.0 3.3.2",
        "ICMP redirects not sent",
        "set net.ipv4.conf.all.send_redirects = 0 and net.ipv4.conf.default.send_redirects = 0"
    ),
    check!(
        "kernel",
        "LS-KRN-04",
        Medium,
        "CIS Debian 12 v1.1.0 3.3.8",
        "source-routed packets not accepted",
        "set net.ipv4.conf.all.accept_source_route = 0 and net.ipv4.conf.default.accept_source_route = 0"
    ),
    check!(
        "kernel",
        "LS-KRN-05",
        Medium,
        "CIS Debian 12 v1.1.0 3.3.10",
        "TCP SYN cookies on",
        "set net.ipv4.tcp_syncookies = 1"
    ),
    check!(
        "kernel",
        "LS-KRN-06",
        Low,
        "CIS Debian 12 v1.1.0 3.3.9",
        "martian packets logged",
        "set net.ipv4.conf.all.log_martians = 1 and net.ipv4.conf.default.log_martians = 1"
    ),
    check!(
        "kernel",
        "LS-KRN-07",
        Low,
        "CIS Debian 12 v1.1.0 3.3.4",
        "broadcast ICMP ignored",
        "set net.ipv4.icmp_echo_ignore_broadcasts = 1"
    ),
    check!(
        "kernel",
        "LS-KRN-08",
        Medium,
        "CIS Debian 12 v1.1.0 1.5.1",
        "address space layout randomisation full",
        "set kernel.randomize_va_space = 2"
    ),
    check!(
        "kernel",
        "LS-KRN-09",
        Low,
        "lab design (KSPP)",
        "kernel pointers hidden",
        "set kernel.kptr_restrict = 1 (or 2)"
    ),
    check!(
        "kernel",
        "LS-KRN-10",
        Low,
        "lab design (KSPP)",
        "dmesg restricted to root",
        "set kernel.dmesg_restrict = 1"
    ),
    check!(
        "kernel",
        "LS-KRN-11",
        Low,
        "lab design (KSPP)",
        "hard and symbolic link protections on",
        "set fs.protected_hardlinks = 1 and fs.protected_symlinks = 1"
    ),
    check!(
        "host",
        "LS-HST-01",
        Medium,
        "CIS Debian 12 v1.1.0 1.2.2 / lab design",
        "automatic security updates configured",
        "Debian: install unattended-upgrades and set APT::Periodic::Unattended-Upgrade \"1\" in /etc/apt/apt.conf.d/20auto-upgrades; Rocky: dnf-automatic with apply_updates = yes"
    ),
    check!(
        "host",
        "LS-HST-02",
        Medium,
        "CIS Docker Benchmark v1.6.0 1.1.3-1.1.18",
        "auditd watches Docker's files",
        "add -w rules for each file named to /etc/audit/rules.d/docker.rules"
    ),
    check!(
        "host",
        "LS-HST-03",
        High,
        "CIS Debian 12 v1.1.0 1.3.1",
        "SELinux enforcing or AppArmor enabled",
        "keep AppArmor on (no apparmor=0 on the kernel command line) or set SELINUX=enforcing"
    ),
    check!(
        "host",
        "LS-HST-04",
        High,
        "CIS Debian 12 v1.1.0 7.1.11",
        "no world-writable files in system paths",
        "chmod o-w each file named"
    ),
    check!(
        "fail2ban",
        "LS-F2B-01",
        Medium,
        "lab design",
        "fail2ban installed",
        "install fail2ban"
    ),
    check!(
        "fail2ban",
        "LS-F2B-02",
        Medium,
        "lab design",
        "sshd jail enabled on the host's SSH ports",
        "enable [sshd] in /etc/fail2ban/jail.local with port = the sshd ports"
    ),
    check!(
        "fail2ban",
        "LS-F2B-03",
        Medium,
        "lab design",
        "docker-auth jail bans in DOCKER-USER",
        "enable [docker-auth] with banaction = iptables-multiport[chain=\"DOCKER-USER\"]: bans in INPUT never reach Docker-published ports"
    ),
    check!(
        "fail2ban",
        "LS-F2B-04",
        Low,
        "lab design",
        "jail timings as the lab's",
        "set bantime, findtime and maxretry in [DEFAULT] of jail.local to [security.fail2ban]'s"
    ),
];

/// The check `id`.
#[must_use]
pub fn check(id: &str) -> Option<&'static Check> {
    CHECKS.iter().find(|c| c.id == id)
}

/// One thing the audit found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Finding {
    /// The check's id.
    pub check: &'static str,
    /// Its area.
    pub area: &'static str,
    /// Its title.
    pub title: &'static str,
    /// Its severity.
    pub severity: Severity,
    /// Its reference.
    pub reference: &'static str,
    /// What was seen.
    pub evidence: String,
    /// Where, when a file's line says it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Origin>,
    /// How to fix it.
    pub remediation: &'static str,
}

pub(crate) fn finding(id: &'static str, evidence: String, location: Option<Origin>) -> Finding {
    let c = check(id).unwrap_or(&CHECKS[0]);
    Finding {
        check: c.id,
        area: c.area,
        title: c.title,
        severity: c.severity,
        reference: c.reference,
        evidence,
        location,
        remediation: c.remediation,
    }
}

/// What the SSH checks are given.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SshInput<'a> {
    /// The effective configuration for every connection (`sshd -T`, or the
    /// reader's without a connection).
    pub effective: Effective,
    /// The files as read (Match blocks, problems, file list).
    pub config: &'a Config,
    /// The tree the files are in (for their modes).
    pub tree: &'a Tree,
    /// Where `effective` came from: `sshd -T` or `labsec's reader`.
    pub source: String,
    /// The port range the host's segment gives, with the segment's name.
    pub port_range: Option<(String, labnet::PortRange)>,
}

fn weak_cipher(c: &str) -> bool {
    c.contains("-cbc")
        || c.starts_with("3des")
        || c.starts_with("arcfour")
        || c.starts_with("rijndael")
}

fn weak_mac(m: &str) -> bool {
    m.contains("md5")
        || m.starts_with("hmac-sha1")
        || m.starts_with("umac-64")
        || m.contains("ripemd")
}

fn weak_kex(k: &str) -> bool {
    k.ends_with("-sha1") || k.contains("group1-")
}

/// Wanted values of the Match-settable keywords: (keyword, good values, check).
const WANTED: &[(&str, &[&str], &str)] = &[
    ("passwordauthentication", &["no"], "LS-SSH-01"),
    ("kbdinteractiveauthentication", &["no"], "LS-SSH-02"),
    ("permitrootlogin", &["no"], "LS-SSH-03"),
    ("pubkeyauthentication", &["yes"], "LS-SSH-04"),
    ("permitemptypasswords", &["no"], "LS-SSH-05"),
    ("x11forwarding", &["no"], "LS-SSH-10"),
    ("allowtcpforwarding", &["no"], "LS-SSH-11"),
    ("allowagentforwarding", &["no"], "LS-SSH-12"),
    ("ignorerhosts", &["yes"], "LS-SSH-13"),
    ("hostbasedauthentication", &["no"], "LS-SSH-14"),
    ("loglevel", &["INFO", "VERBOSE"], "LS-SSH-16"),
];

/// The SSH checks.
#[must_use]
pub fn ssh(input: &SshInput<'_>, policy: &Security) -> Vec<Finding> {
    let e = &input.effective;
    let at = |k: &str| e.origin(k).cloned();
    let mut out = Vec::new();
    let src = input.source.as_str();
    for (k, good, id) in WANTED {
        let v = e.value(k);
        if !good.contains(&v.as_str()) {
            out.push(finding(id, format!("{k} {v} ({src})"), at(k)));
        }
    }
    // What some connections get: a Match block setting a bad value.
    let single = Effective::default();
    for m in input.config.in_match() {
        if let Some((_, good, id)) = WANTED.iter().find(|(k, _, _)| *k == m.keyword) {
            let mut one = single.clone();
            one.set(&m.keyword, m.args.clone());
            let v = one.value(&m.keyword);
            if !good.contains(&v.as_str()) {
                out.push(finding(
                    id,
                    format!(
                        "{} {v} for connections matching \"Match {}\"",
                        m.keyword, m.criteria
                    ),
                    Some(m.origin.clone()),
                ));
            }
        }
    }
    let ports: Vec<u16> = e
        .value("port")
        .split(' ')
        .filter_map(|p| p.parse().ok())
        .collect();
    if ports.contains(&22) {
        out.push(finding(
            "LS-SSH-06",
            format!("port {} ({src})", e.value("port")),
            at("port"),
        ));
    }
    if let Some((seg, range)) = &input.port_range {
        let outside: Vec<String> = ports
            .iter()
            .filter(|p| !range.contains(**p))
            .map(u16::to_string)
            .collect();
        if !outside.is_empty() {
            out.push(finding(
                "LS-SSH-07",
                format!(
                    "port {} is outside segment {seg}'s ssh_ports {}-{}",
                    outside.join(" "),
                    range.start(),
                    range.end()
                ),
                at("port"),
            ));
        }
    }
    let tries: u32 = e.value("maxauthtries").parse().unwrap_or(u32::MAX);
    if tries > policy.ssh.max_auth_tries {
        out.push(finding(
            "LS-SSH-08",
            format!(
                "maxauthtries {tries}, the lab allows {}",
                policy.ssh.max_auth_tries
            ),
            at("maxauthtries"),
        ));
    }
    let grace: u32 = e.value("logingracetime").parse().unwrap_or(u32::MAX);
    if grace == 0 || grace > policy.ssh.login_grace_time {
        out.push(finding(
            "LS-SSH-09",
            format!(
                "logingracetime {grace}, the lab allows 1 to {}",
                policy.ssh.login_grace_time
            ),
            at("logingracetime"),
        ));
    }
    let pue = e.value("permituserenvironment");
    if pue != "no" {
        out.push(finding(
            "LS-SSH-15",
            format!("permituserenvironment {pue} ({src})"),
            at("permituserenvironment"),
        ));
    }
    let interval = e.value("clientaliveinterval");
    let countmax = e.value("clientalivecountmax");
    if interval == "0" || countmax == "0" {
        out.push(finding(
            "LS-SSH-17",
            format!("clientaliveinterval {interval}, clientalivecountmax {countmax}"),
            at("clientaliveinterval"),
        ));
    }
    for (k, id, weak) in [
        ("ciphers", "LS-SSH-18", weak_cipher as fn(&str) -> bool),
        ("macs", "LS-SSH-19", weak_mac),
        ("kexalgorithms", "LS-SSH-20", weak_kex),
    ] {
        let bad: Vec<String> = e
            .value(k)
            .split(',')
            .filter(|a| weak(a))
            .map(str::to_owned)
            .collect();
        if !bad.is_empty() {
            out.push(finding(id, format!("{k} offers {}", bad.join(",")), at(k)));
        }
    }
    for f in &input.config.files {
        if let Ok(m) = std::fs::metadata(input.tree.path(f))
            && (m.uid() != 0 || m.mode() & 0o022 != 0)
        {
            out.push(finding(
                "LS-SSH-21",
                format!(
                    "{f} is owned by uid {} with mode {:04o}",
                    m.uid(),
                    m.mode() & 0o7777
                ),
                None,
            ));
        }
    }
    if let Ok(rd) = std::fs::read_dir(input.tree.path("/etc/ssh")) {
        let mut keys: Vec<String> = rd
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with("ssh_host_") && n.ends_with("_key"))
            .collect();
        keys.sort();
        for k in keys {
            let p = format!("/etc/ssh/{k}");
            if let Ok(m) = std::fs::metadata(input.tree.path(&p))
                && (m.uid() != 0 || m.mode() & 0o077 != 0)
            {
                out.push(finding(
                    "LS-SSH-22",
                    format!(
                        "{p} is owned by uid {} with mode {:04o}",
                        m.uid(),
                        m.mode() & 0o7777
                    ),
                    None,
                ));
            }
        }
    }
    for i in &input.config.include_after_match {
        out.push(finding(
            "LS-SSH-23",
            format!(
                "Include at {}:{} comes after Match at {}:{}",
                i.include.file, i.include.line, i.after.file, i.after.line
            ),
            Some(i.include.clone()),
        ));
    }
    if !policy.ssh.allow_groups.is_empty() {
        let have = e.value("allowgroups");
        let want = policy.ssh.allow_groups.join(" ");
        if have != want {
            out.push(finding(
                "LS-SSH-24",
                if have.is_empty() {
                    format!("AllowGroups is not set; the lab allows {want}")
                } else {
                    format!("allowgroups {have}; the lab allows {want}")
                },
                at("allowgroups"),
            ));
        }
    }
    for p in &input.config.problems {
        out.push(finding(
            "LS-SSH-25",
            p.message.clone(),
            Some(p.origin.clone()),
        ));
    }
    out
}

/// A whole audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Report {
    /// How many checks ran.
    pub checks: usize,
    /// Findings, most severe first, then by check.
    pub findings: Vec<Finding>,
    /// Findings per severity.
    pub counts: BTreeMap<Severity, usize>,
    /// 100 minus each failed check's weight (once per check, however many
    /// findings it has), as a share of the most that could be lost; 100 is
    /// clean.
    pub score: u32,
}

impl Report {
    /// Sort, count and score `findings` of `checks` checks.
    #[must_use]
    pub fn new(checks: &[Check], mut findings: Vec<Finding>) -> Self {
        findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(a.check.cmp(b.check))
                .then(a.evidence.cmp(&b.evidence))
        });
        findings.dedup();
        let mut counts = BTreeMap::new();
        for f in &findings {
            *counts.entry(f.severity).or_insert(0) += 1;
        }
        let total: u32 = checks.iter().map(|c| c.severity.weight()).sum();
        let mut failed: Vec<&str> = findings.iter().map(|f| f.check).collect();
        failed.sort_unstable();
        failed.dedup();
        let lost: u32 = failed
            .iter()
            .filter_map(|id| checks.iter().find(|c| c.id == *id))
            .map(|c| c.severity.weight())
            .sum();
        let score = (100 * (total - lost.min(total)))
            .checked_div(total)
            .unwrap_or(100);
        Self {
            checks: checks.len(),
            findings,
            counts,
            score,
        }
    }

    /// Whether any finding is at `at` or above.
    #[must_use]
    pub fn fails(&self, at: Severity) -> bool {
        self.findings.iter().any(|f| f.severity >= at)
    }

    /// SARIF 2.1.0: a rule per check, a result per finding, located at the
    /// file and line when one is known.
    #[must_use]
    pub fn to_sarif(&self, tool_version: &str) -> Value {
        let level = |s: Severity| s.sarif_level();
        let rules: Vec<Value> = CHECKS
            .iter()
            .map(|c| {
                json!({
                    "id": c.id,
                    "name": c.title,
                    "shortDescription": { "text": c.title },
                    "help": { "text": c.remediation },
                    "defaultConfiguration": { "level": level(c.severity) },
                    "properties": { "security-severity": c.severity.security_score(), "severity": c.severity.as_str(), "reference": c.reference, "area": c.area },
                })
            })
            .collect();
        let results: Vec<Value> = self
            .findings
            .iter()
            .map(|f| {
                let loc = f.location.as_ref().map_or_else(
                    || json!({ "logicalLocations": [{ "name": f.area, "kind": "module" }] }),
                    |o| {
                        json!({ "physicalLocation": {
                            "artifactLocation": { "uri": o.file.trim_start_matches('/') },
                            "region": { "startLine": o.line.max(1) }
                        }})
                    },
                );
                json!({
                    "ruleId": f.check,
                    "ruleIndex": CHECKS.iter().position(|c| c.id == f.check),
                    "level": level(f.severity),
                    "message": { "text": format!("{}: {}", f.title, f.evidence) },
                    "locations": [loc],
                })
            })
            .collect();
        labaudit::sarif("labsec", tool_version, rules, results)
    }
}
