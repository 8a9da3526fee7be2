//! labsec's sshd configuration reader against the real `sshd -T` (Debian
//! 12's OpenSSH 9.2p1): hundreds of generated trees, each a main
//! sshd_config with Includes (absolute globs, relative paths below
//! /etc/ssh, nested, inside Match blocks), first-value-wins repeats, aliases,
//! `Keyword=value` and quoting, and Match blocks (User, Address, Host,
//! LocalAddress, LocalPort, All; lists, negations, wildcards, CIDR), each
//! evaluated for a generated connection (and without one). For every
//! directive labsec checks, its value must equal sshd's.
//!
//! sshd runs in a mount namespace of the test's own (`unshare --mount`) with
//! a tmpfs on /run (for its privilege-separation directory) and each case's
//! tree bound over /etc/ssh, so relative Includes resolve inside the case;
//! the host's own /etc/ssh and /run are untouched. `LABSEC_SEED` replays a run;
//! `LABSEC_CASES` sets how many (default 400).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;
use std::process::Command;

use labsec::sshd::{CHECKED, Config, Connection, DEFAULTS, Tree, parse_dump};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: reproducible from the seed printed on failure.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
    fn chance(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }
}

const USERS: &[&str] = &["alice", "bob", "root", "carol"];
const ADDRS: &[&str] = &["10.0.0.7", "10.0.1.20", "192.168.122.5", "203.0.113.9"];
const HOSTS: &[&str] = &[
    "bastion.lab.local",
    "web1.lab.local",
    "203.0.113.9",
    "Gateway.Example",
];
const LPORTS: &[u16] = &[22, 2201, 2211];

/// A directive allowed anywhere (also inside Match) with a valid random value.
fn match_directive(r: &mut Rng) -> String {
    let yn = |r: &mut Rng| (*r.pick(&["yes", "no", "YES", "No"])).to_owned();
    let (k, v) = match r.below(14) {
        0 => ("PasswordAuthentication", yn(r)),
        1 => (
            *r.pick(&[
                "KbdInteractiveAuthentication",
                "ChallengeResponseAuthentication",
            ]),
            yn(r),
        ),
        2 => (
            "PermitRootLogin",
            (*r.pick(&[
                "yes",
                "no",
                "prohibit-password",
                "without-password",
                "forced-commands-only",
            ]))
            .to_owned(),
        ),
        3 => ("PubkeyAuthentication", yn(r)),
        4 => ("PermitEmptyPasswords", yn(r)),
        5 => ("MaxAuthTries", r.below(10).to_string()),
        6 => ("X11Forwarding", yn(r)),
        7 => (
            "AllowTcpForwarding",
            (*r.pick(&["yes", "no", "all", "local", "remote"])).to_owned(),
        ),
        8 => ("AllowAgentForwarding", yn(r)),
        9 => ("IgnoreRhosts", yn(r)),
        10 => ("HostbasedAuthentication", yn(r)),
        11 => (
            "LogLevel",
            (*r.pick(&[
                "QUIET", "FATAL", "ERROR", "INFO", "verbose", "DEBUG", "DEBUG2",
            ]))
            .to_owned(),
        ),
        12 => (
            "ClientAliveInterval",
            (*r.pick(&["0", "30", "2m", "1m30s", "300"])).to_owned(),
        ),
        _ => ("ClientAliveCountMax", r.below(6).to_string()),
    };
    let k = if r.chance(15) {
        k.to_ascii_lowercase()
    } else {
        k.to_owned()
    };
    match r.below(6) {
        0 => format!("{k}={v}"),
        1 => format!("{k} = {v}"),
        2 => format!("\t{k}   \"{v}\""),
        _ => format!("{k} {v}"),
    }
}

/// A directive only the global context takes.
fn global_directive(r: &mut Rng) -> String {
    match r.below(8) {
        0 => format!("Port {}", r.pick(&["22", "2201", "2222", "2231"])),
        1 => format!(
            "LoginGraceTime {}",
            r.pick(&["30", "2m", "1m30s", "0", "45s"])
        ),
        2 => format!("PermitUserEnvironment {}", r.pick(&["yes", "no"])),
        3 => format!(
            "Ciphers {}",
            r.pick(&[
                "aes256-gcm@openssh.com,chacha20-poly1305@openssh.com",
                "+aes128-cbc",
                "-aes*-ctr",
                "^aes256-ctr",
                "aes128-ctr,aes256-ctr,3des-cbc",
            ])
        ),
        4 => format!(
            "MACs {}",
            r.pick(&[
                "hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com",
                "-hmac-sha1*,umac-64*",
                "+hmac-md5"
            ])
        ),
        5 => format!(
            "KexAlgorithms {}",
            r.pick(&[
                "curve25519-sha256,diffie-hellman-group16-sha512",
                "-ecdh-sha2-*",
                "+diffie-hellman-group14-sha1"
            ])
        ),
        6 => format!(
            "AllowGroups {}",
            r.pick(&["lab-admins", "lab-admins wheel", "ops"])
        ),
        _ => match_directive(r),
    }
}

fn criteria(r: &mut Rng) -> String {
    let mut parts = Vec::new();
    for _ in 0..=r.below(2) {
        let p = match r.below(5) {
            0 => {
                let u = r.pick(USERS);
                format!(
                    "User {}",
                    r.pick(&[
                        u.to_string(),
                        format!("!{u},*"),
                        "a*".to_owned(),
                        format!("{u},carol"),
                        "?ob".to_owned()
                    ])
                )
            }
            1 => format!(
                "Address {}",
                r.pick(&[
                    "10.0.0.0/24",
                    "10.0.0.0/16,!10.0.1.20",
                    "203.0.113.*",
                    "192.168.122.5",
                    "!10.0.0.7,10.0.0.0/8"
                ])
            ),
            2 => format!(
                "Host {}",
                r.pick(&[
                    "*.lab.local",
                    "WEB1.lab.local",
                    "gateway.*",
                    "!bastion.lab.local,*"
                ])
            ),
            3 => format!("LocalPort {}", r.pick(LPORTS)),
            _ => format!(
                "LocalAddress {}",
                r.pick(&["10.0.0.1", "10.0.0.0/8", "127.0.0.1"])
            ),
        };
        parts.push(p);
    }
    if r.chance(10) {
        return "All".to_owned();
    }
    parts.join(" ")
}

/// One file's lines: directives, and Match blocks when `matches`.
fn body(r: &mut Rng, global: bool, includes: &mut Vec<String>, depth: usize) -> String {
    let mut s = String::new();
    let mut in_match = false;
    for _ in 0..r.below(7) + 1 {
        match r.below(10) {
            0 | 1 if depth < 2 => {
                // The main file includes anything; a part only the drop-ins,
                // which include nothing: nesting without cycles.
                let inc = match if depth == 0 { r.below(3) } else { 0 } {
                    0 => "/etc/ssh/sshd_config.d/*.conf".to_owned(),
                    1 => format!("extra/part{}.conf", includes.len()),
                    _ => format!(
                        "/etc/ssh/extra/part{}.conf extra/missing-*.conf",
                        includes.len()
                    ),
                };
                if !inc.contains("sshd_config.d") {
                    includes.push(format!("part{}", includes.len()));
                }
                let _ = writeln!(s, "Include {inc}");
            }
            2 => {
                let _ = writeln!(s, "Match {}", criteria(r));
                in_match = true;
            }
            3 => s.push_str("# a comment\n\n"),
            _ => {
                let d = if global && !in_match {
                    global_directive(r)
                } else {
                    match_directive(r)
                };
                let _ = writeln!(s, "{d}");
            }
        }
    }
    s
}

fn write_case(r: &mut Rng, root: &Path) {
    let ssh = root.join("etc/ssh");
    std::fs::create_dir_all(ssh.join("sshd_config.d")).unwrap();
    std::fs::create_dir_all(ssh.join("extra")).unwrap();
    let mut includes = Vec::new();
    let main = body(r, true, &mut includes, 0);
    std::fs::write(ssh.join("sshd_config"), main).unwrap();
    for i in 0..r.below(3) {
        let mut more = Vec::new();
        let b = body(r, true, &mut more, 2);
        std::fs::write(
            ssh.join(format!("sshd_config.d/{:02}-x.conf", 10 + i * 10)),
            b,
        )
        .unwrap();
    }
    // Included parts: the global-only keywords are refused inside a Match,
    // and a part may be included from one, so parts hold Match-safe lines.
    let mut i = 0;
    while i < includes.len() {
        let mut more = Vec::new();
        let b = body(r, false, &mut more, 1);
        std::fs::write(ssh.join(format!("extra/{}.conf", includes[i])), b).unwrap();
        i += 1;
    }
}

fn conn(r: &mut Rng) -> Option<Connection> {
    if r.chance(10) {
        return None;
    }
    let addr: IpAddr = r.pick(ADDRS).parse().unwrap();
    let laddr: IpAddr = r.pick(&["10.0.0.1", "127.0.0.1"]).parse().unwrap();
    let user = r.pick(USERS).to_string();
    let mut c = Connection::new(&user, addr, laddr, *r.pick(LPORTS));
    c.host = (*r.pick(HOSTS)).to_owned();
    Some(c)
}

#[test]
#[cfg_attr(
    not(labkit_sshd),
    ignore = "needs root, sshd (Debian package openssh-server) and unshare --mount"
)]
fn labsecs_reading_agrees_with_sshd_t_on_every_checked_directive() {
    let seed: u64 = std::env::var("LABSEC_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    let n: usize = std::env::var("LABSEC_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(400);
    let mut r = Rng(seed);
    let mut dir = tempfile::tempdir().unwrap();
    if std::env::var_os("LABSEC_KEEP").is_some() {
        eprintln!("keeping {}", dir.path().display());
        dir.disable_cleanup(true);
    }
    let key = dir.path().join("hostkey");
    let o = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(o.status.success());
    let mut script =
        String::from("set -e\nmount -t tmpfs labsec-run /run\nmkdir -m 0755 /run/sshd\n");
    let mut cases = Vec::new();
    for i in 0..n {
        let root = dir.path().join(format!("case{i}"));
        write_case(&mut r, &root);
        let c = conn(&mut r);
        let spec = c
            .as_ref()
            .map(|c| format!(" -C {}", c.spec()))
            .unwrap_or_default();
        let _ = writeln!(
            script,
            "mount --bind {root}/etc/ssh /etc/ssh\nsshd -T -f /etc/ssh/sshd_config -h {key}{spec} > {root}/out 2> {root}/err || echo $? > {root}/failed\numount /etc/ssh",
            root = root.display(),
            key = key.display()
        );
        cases.push((root, c));
    }
    let o = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "the namespace script: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut compared = 0;
    let mut refused = 0;
    for (i, (root, c)) in cases.iter().enumerate() {
        let tree = Tree::new(root);
        let cfg = Config::read(&tree, "/etc/ssh/sshd_config");
        if root.join("failed").exists() {
            // sshd refused the tree: labsec must have seen a problem too.
            let err = std::fs::read_to_string(root.join("err")).unwrap();
            refused += 1;
            eprintln!("case {i} refused: {}", err.trim());
            if c.is_none() && err.contains("not in connection test specification") {
                // `sshd -T` without -C refuses a `Match LocalPort` (its
                // blank test connection has no port); the tree is valid.
                continue;
            }
            assert!(
                !cfg.problems.is_empty(),
                "seed {seed} case {i}: sshd refused ({err}) and labsec saw no problem"
            );
            continue;
        }
        let dump = parse_dump(&std::fs::read_to_string(root.join("out")).unwrap());
        let eff = cfg.effective(c.as_ref());
        for k in CHECKED {
            let theirs = dump.get(*k).cloned().unwrap_or_default();
            let ours = eff.value(k);
            assert_eq!(
                ours,
                theirs,
                "seed {seed} case {i} ({}), {k}: labsec {ours:?}, sshd -T {theirs:?}\n--- sshd_config\n{}",
                c.as_ref()
                    .map_or("no connection".to_owned(), Connection::spec),
                std::fs::read_to_string(root.join("etc/ssh/sshd_config")).unwrap()
            );
            compared += 1;
        }
    }
    eprintln!(
        "seed {seed}: {} cases, {compared} values compared, {refused} refused by sshd",
        n
    );
    // Refusals are mostly a drop-in with global keywords included from
    // inside a Match block (about one tree in ten); each still checks that
    // labsec reports what sshd refuses, but most trees must be compared.
    assert!(
        refused * 4 < n,
        "the generator makes mostly valid trees ({refused} of {n} refused)"
    );
}

#[test]
#[cfg_attr(
    not(labkit_sshd),
    ignore = "needs root, sshd (Debian package openssh-server) and unshare --mount"
)]
fn the_built_in_defaults_are_the_installed_sshds() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("hostkey");
    assert!(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .status()
            .unwrap()
            .success()
    );
    std::fs::write(dir.path().join("empty"), "").unwrap();
    let script = format!(
        "mount -t tmpfs labsec-run /run && mkdir /run/sshd && sshd -T -f {} -h {}",
        dir.path().join("empty").display(),
        key.display()
    );
    let o = Command::new("unshare")
        .args(["--mount", "sh", "-c", &script])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dump = parse_dump(&String::from_utf8_lossy(&o.stdout));
    for (k, v) in DEFAULTS {
        assert_eq!(dump.get(*k).map_or("", String::as_str), *v, "{k}");
    }
}
