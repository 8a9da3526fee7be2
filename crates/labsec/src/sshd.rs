//! sshd's effective configuration, computed the way OpenSSH's `servconf.c`
//! does (9.2, Debian 12), for trees where `sshd -T` cannot run (`--root`: an
//! offline tree, a mounted image, fixtures):
//!
//! - keywords are case-insensitive, arguments split on whitespace (an `=`
//!   may separate the keyword), `"..."` quoting, `#` comments;
//! - **first value wins**: a keyword's first active occurrence is kept,
//!   later ones ignored, except the keywords that accumulate (`Port`,
//!   `ListenAddress`, `HostKey`, `AllowUsers`, ...);
//! - `Include` reads files in place, globs sorted, relative paths below
//!   `/etc/ssh`; the Match state in force before it is restored after it, and
//!   a file included inside an inactive Match block never activates;
//! - `Match` starts a block that lasts until the next `Match` or the end of
//!   the file. At startup (no connection) only `Match all` is active. For a
//!   connection, the whole configuration is read again with only Match
//!   blocks applying (first value wins among them), and what they set
//!   replaces the global value: exactly `sshd -T -C ...`.
//!
//! A differential test holds this against the real `sshd -T` over hundreds of
//! generated configurations.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// The connection a configuration is evaluated for (`sshd -T -C`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Connection {
    /// `user=`.
    pub user: String,
    /// `host=`.
    pub host: String,
    /// `addr=`.
    pub addr: Option<IpAddr>,
    /// `laddr=`.
    pub laddr: Option<IpAddr>,
    /// `lport=`.
    pub lport: u16,
    /// `rdomain=`.
    pub rdomain: String,
}

impl Connection {
    /// A connection from `user` at `addr` to `laddr:lport`; the host is the address.
    #[must_use]
    pub fn new(user: &str, addr: IpAddr, laddr: IpAddr, lport: u16) -> Self {
        Self {
            user: user.to_owned(),
            host: addr.to_string(),
            addr: Some(addr),
            laddr: Some(laddr),
            lport,
            rdomain: String::new(),
        }
    }

    /// The `-C` argument sshd takes for this connection.
    #[must_use]
    pub fn spec(&self) -> String {
        let mut v = vec![format!("user={}", self.user), format!("host={}", self.host)];
        if let Some(a) = self.addr {
            v.push(format!("addr={a}"));
        }
        if let Some(a) = self.laddr {
            v.push(format!("laddr={a}"));
        }
        v.push(format!("lport={}", self.lport));
        if !self.rdomain.is_empty() {
            v.push(format!("rdomain={}", self.rdomain));
        }
        v.join(",")
    }
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Origin {
    /// The file, as sshd would open it (the root's prefix removed).
    pub file: String,
    /// Its line.
    pub line: usize,
}

/// One directive as written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Directive {
    keyword: String,
    args: Vec<String>,
    origin: Origin,
}

/// A problem reading the configuration (sshd would refuse to start).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct ConfigProblem {
    /// Where.
    pub origin: Origin,
    /// What.
    pub message: String,
}

/// A structural fact the audit checks (an `Include` after a `Match` in the
/// main file: everything it includes is inside that Match block).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct IncludeAfterMatch {
    /// The Include line.
    pub include: Origin,
    /// The Match line before it.
    pub after: Origin,
}

/// The effective configuration: each keyword's values, with where the first
/// came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Effective {
    values: BTreeMap<String, (Vec<String>, Option<Origin>)>,
}

/// Keywords whose occurrences accumulate rather than the first winning.
const ACCUMULATE: &[&str] = &[
    "port",
    "listenaddress",
    "hostkey",
    "hostcertificate",
    "acceptenv",
    "allowusers",
    "allowgroups",
    "denyusers",
    "denygroups",
    "subsystem",
    "setenv",
    "permitopen",
    "permitlisten",
    "authorizedkeysfile",
    "channeltimeout",
];

/// Keywords sshd takes inside a Match block (sshd_config(5), OpenSSH 9.2);
/// any other there is an error, except under `Match all`.
const MATCH_ALLOWED: &[&str] = &[
    "acceptenv",
    "allowagentforwarding",
    "allowgroups",
    "allowstreamlocalforwarding",
    "allowtcpforwarding",
    "allowusers",
    "authenticationmethods",
    "authorizedkeyscommand",
    "authorizedkeyscommanduser",
    "authorizedkeysfile",
    "authorizedprincipalscommand",
    "authorizedprincipalscommanduser",
    "authorizedprincipalsfile",
    "banner",
    "casignaturealgorithms",
    "channeltimeout",
    "chrootdirectory",
    "clientalivecountmax",
    "clientaliveinterval",
    "denygroups",
    "denyusers",
    "disableforwarding",
    "exposeauthinfo",
    "forcecommand",
    "gatewayports",
    "gssapiauthentication",
    "hostbasedacceptedalgorithms",
    "hostbasedauthentication",
    "hostbasedusesnamefrompacketonly",
    "ignorerhosts",
    "include",
    "ipqos",
    "kbdinteractiveauthentication",
    "kerberosauthentication",
    "loglevel",
    "maxauthtries",
    "maxsessions",
    "passwordauthentication",
    "permitemptypasswords",
    "permitlisten",
    "permitopen",
    "permitrootlogin",
    "permittty",
    "permittunnel",
    "permituserrc",
    "pubkeyacceptedalgorithms",
    "pubkeyauthentication",
    "pubkeyauthoptions",
    "rekeylimit",
    "revokedkeys",
    "rdomain",
    "setenv",
    "streamlocalbindmask",
    "streamlocalbindunlink",
    "trustedusercakeys",
    "unusedconnectiontimeout",
    "x11displayoffset",
    "x11forwarding",
    "x11uselocalhost",
];

/// Old names sshd still reads, and the keyword they set.
const ALIASES: &[(&str, &str)] = &[
    (
        "challengeresponseauthentication",
        "kbdinteractiveauthentication",
    ),
    ("skeyauthentication", "kbdinteractiveauthentication"),
    ("pubkeyacceptedkeytypes", "pubkeyacceptedalgorithms"),
    ("hostbasedacceptedkeytypes", "hostbasedacceptedalgorithms"),
    ("dsaauthentication", "pubkeyauthentication"),
];

fn canonical(k: &str) -> String {
    let k = k.to_ascii_lowercase();
    ALIASES
        .iter()
        .find(|(a, _)| *a == k)
        .map_or(k, |(_, c)| (*c).to_owned())
}

/// Split a line the way sshd's `argv_split` does: whitespace, `"` quotes,
/// `#` starts a comment outside quotes; the keyword may end with `=`.
fn split(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                quoted = false;
            } else {
                cur.push(c);
            }
            continue;
        }
        match c {
            '"' => {
                quoted = true;
                in_word = true;
            }
            '#' if !in_word => break,
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\\' if chars.peek().is_some() => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                    in_word = true;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    // "Keyword=value" and "Keyword = value".
    if let Some(first) = out.first().cloned()
        && let Some((k, v)) = first.split_once('=')
    {
        out[0] = k.to_owned();
        if !v.is_empty() {
            out.insert(1, v.to_owned());
        }
    } else if out.get(1).is_some_and(|a| a == "=") {
        out.remove(1);
    } else if let Some(a) = out.get(1).cloned()
        && let Some(rest) = a.strip_prefix('=')
    {
        if rest.is_empty() {
            out.remove(1);
        } else {
            out[1] = rest.to_owned();
        }
    }
    out
}

/// OpenSSH's `match_pattern`: `*` and `?`.
#[must_use]
pub fn pattern(s: &str, p: &str) -> bool {
    fn go(s: &[u8], p: &[u8]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some((b'*', rest)) => (0..=s.len()).any(|i| go(&s[i..], rest)),
            Some((b'?', rest)) => !s.is_empty() && go(&s[1..], rest),
            Some((c, rest)) => s.first() == Some(c) && go(&s[1..], rest),
        }
    }
    go(s.as_bytes(), p.as_bytes())
}

/// OpenSSH's `match_pattern_list`: 1 when a pattern matches and no negated
/// one does, -1 when a negated one matches, 0 otherwise.
fn pattern_list(s: &str, list: &str, fold: bool) -> i32 {
    let s = if fold {
        s.to_ascii_lowercase()
    } else {
        s.to_owned()
    };
    let mut got = 0;
    for p in list.split(',') {
        let (neg, p) = p.strip_prefix('!').map_or((false, p), |r| (true, r));
        let p = if fold {
            p.to_ascii_lowercase()
        } else {
            p.to_owned()
        };
        if pattern(&s, &p) {
            if neg {
                return -1;
            }
            got = 1;
        }
    }
    got
}

fn cidr_match(addr: IpAddr, p: &str) -> Option<bool> {
    let (a, len) = match p.split_once('/') {
        Some((a, l)) => (a.parse::<IpAddr>().ok()?, l.parse::<u32>().ok()?),
        None => return None,
    };
    match (addr, a) {
        (IpAddr::V4(x), IpAddr::V4(n)) if len <= 32 => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            Some(u32::from(x) & mask == u32::from(n) & mask)
        }
        (IpAddr::V6(x), IpAddr::V6(n)) if len <= 128 => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            Some(u128::from(x) & mask == u128::from(n) & mask)
        }
        _ => Some(false),
    }
}

/// OpenSSH's `addr_match_list`: CIDR blocks or wildcard patterns.
fn addr_list(addr: IpAddr, list: &str) -> i32 {
    let text = addr.to_string();
    let mut got = 0;
    for p in list.split(',') {
        let (neg, p) = p.strip_prefix('!').map_or((false, p), |r| (true, r));
        let hit = cidr_match(addr, p).unwrap_or_else(|| pattern(&text, p));
        if hit {
            if neg {
                return -1;
            }
            got = 1;
        }
    }
    got
}

/// Whether a Match line's criteria hold for `conn` (`None`: at startup, where
/// only `all` holds). `Err` for a malformed line.
fn match_line(args: &[String], conn: Option<&Connection>) -> Result<bool, String> {
    if args.is_empty() {
        return Err("Match with no criteria".to_owned());
    }
    if args[0].eq_ignore_ascii_case("all") {
        if args.len() != 1 {
            return Err("'all' cannot be combined with other Match attributes".to_owned());
        }
        return Ok(true);
    }
    let mut result = true;
    let mut it = args.iter();
    while let Some(attr) = it.next() {
        let Some(arg) = it.next() else {
            return Err(format!("Match {attr} has no argument"));
        };
        let attr = attr.to_ascii_lowercase();
        let Some(c) = conn else {
            if !matches!(
                attr.as_str(),
                "user" | "group" | "host" | "address" | "localaddress" | "localport" | "rdomain"
            ) {
                return Err(format!("unsupported Match attribute {attr}"));
            }
            result = false;
            continue;
        };
        let ok = match attr.as_str() {
            "user" => pattern_list(&c.user, arg, false) == 1,
            // Groups need the system's group database; none is assumed.
            "group" => false,
            "host" => pattern_list(&c.host, arg, true) == 1,
            "address" => c.addr.is_some_and(|a| addr_list(a, arg) == 1),
            "localaddress" => c.laddr.is_some_and(|a| addr_list(a, arg) == 1),
            "localport" => {
                let p: u16 = arg
                    .parse()
                    .map_err(|_| format!("invalid LocalPort {arg}"))?;
                p == c.lport
            }
            "rdomain" => pattern_list(&c.rdomain, arg, false) == 1,
            other => return Err(format!("unsupported Match attribute {other}")),
        };
        if !ok {
            result = false;
        }
    }
    Ok(result)
}

/// The tree a configuration is read from: `/` or an offline root.
#[derive(Debug, Clone)]
pub struct Tree {
    root: PathBuf,
}

impl Tree {
    /// Read files below `root` (`/` for this machine).
    #[must_use]
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_owned(),
        }
    }

    /// The path of `p` (absolute as sshd sees it) in this tree.
    #[must_use]
    pub fn path(&self, p: &str) -> PathBuf {
        self.root.join(p.trim_start_matches('/'))
    }
}

/// The configuration files as read: every directive with its Match context.
#[derive(Debug, Clone, Default)]
pub struct Config {
    lines: Vec<Line>,
    /// Problems sshd would refuse to start with.
    pub problems: Vec<ConfigProblem>,
    /// `Include` lines after a `Match` in the main file.
    pub include_after_match: Vec<IncludeAfterMatch>,
    /// Every file read, as sshd names it.
    pub files: Vec<String>,
}

#[derive(Debug, Clone)]
enum Line {
    Directive(Directive),
    Match(Vec<String>, Origin),
    /// Entering an included file: from an active context or not.
    Enter,
    /// Leaving it: the Match state before it is restored.
    Leave,
}

/// Glob with `*`, `?` and `[...]` in the last components, as glob(3) for sshd's Include.
fn glob(tree: &Tree, pat: &str) -> Vec<String> {
    let mut found = vec![String::from("/")];
    for comp in pat.split('/').filter(|c| !c.is_empty()) {
        let mut next = Vec::new();
        for base in &found {
            if comp.contains(['*', '?', '[']) {
                let Ok(rd) = std::fs::read_dir(tree.path(base)) else {
                    continue;
                };
                let mut names: Vec<String> = rd
                    .filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter(|n| !n.starts_with('.') && pattern_glob(n, comp))
                    .collect();
                names.sort();
                for n in names {
                    next.push(format!("{}/{n}", base.trim_end_matches('/')));
                }
            } else {
                next.push(format!("{}/{comp}", base.trim_end_matches('/')));
            }
        }
        found = next;
    }
    found.retain(|p| tree.path(p).is_file());
    found
}

fn pattern_glob(s: &str, p: &str) -> bool {
    // `[...]` classes are rare in sshd includes; treat them as `?`.
    let mut q = String::new();
    let mut in_class = false;
    for c in p.chars() {
        match c {
            '[' => {
                in_class = true;
                q.push('?');
            }
            ']' if in_class => in_class = false,
            _ if in_class => {}
            c => q.push(c),
        }
    }
    pattern(s, &q)
}

const MAX_DEPTH: usize = 16;

impl Config {
    /// Read `main` (as sshd names it, e.g. `/etc/ssh/sshd_config`) in `tree`.
    #[must_use]
    pub fn read(tree: &Tree, main: &str) -> Self {
        match std::fs::read_to_string(tree.path(main)) {
            Ok(text) => Self::parse(tree, main, &text),
            Err(e) => Self {
                problems: vec![ConfigProblem {
                    origin: Origin {
                        file: main.to_owned(),
                        line: 0,
                    },
                    message: format!("cannot read it: {e}"),
                }],
                ..Self::default()
            },
        }
    }

    /// Read `text` as the main file `name` in `tree`; `problems` has what
    /// sshd would refuse to start with.
    #[must_use]
    pub fn parse(tree: &Tree, name: &str, text: &str) -> Self {
        let mut c = Self::default();
        c.file(tree, name, text, 0);
        let mut problems = Vec::new();
        let _ = c.pass(false, None, &mut problems);
        c.problems.extend(problems);
        c
    }

    fn file(&mut self, tree: &Tree, name: &str, text: &str, depth: usize) {
        self.files.push(name.to_owned());
        let mut last_match: Option<Origin> = None;
        for (i, raw) in text.lines().enumerate() {
            let origin = Origin {
                file: name.to_owned(),
                line: i + 1,
            };
            let words = split(raw);
            let Some(first) = words.first() else { continue };
            let keyword = canonical(first);
            let args = words[1..].to_vec();
            match keyword.as_str() {
                "match" => {
                    last_match = Some(origin.clone());
                    self.lines.push(Line::Match(args, origin));
                }
                "include" => {
                    if depth == 0
                        && let Some(m) = &last_match
                    {
                        self.include_after_match.push(IncludeAfterMatch {
                            include: origin.clone(),
                            after: m.clone(),
                        });
                    }
                    if depth + 1 > MAX_DEPTH {
                        self.problems.push(ConfigProblem {
                            origin,
                            message: "Include nested too deeply".to_owned(),
                        });
                        continue;
                    }
                    if args.is_empty() {
                        self.problems.push(ConfigProblem {
                            origin,
                            message: "Include has no argument".to_owned(),
                        });
                        continue;
                    }
                    for a in &args {
                        let abs = if a.starts_with('/') {
                            a.clone()
                        } else {
                            format!("/etc/ssh/{a}")
                        };
                        for f in glob(tree, &abs) {
                            let Ok(t) = std::fs::read_to_string(tree.path(&f)) else {
                                continue;
                            };
                            self.lines.push(Line::Enter);
                            self.file(tree, &f, &t, depth + 1);
                            self.lines.push(Line::Leave);
                        }
                    }
                }
                _ => {
                    if args.is_empty() && !matches!(keyword.as_str(), "subsystem") {
                        self.problems.push(ConfigProblem {
                            origin: origin.clone(),
                            message: format!("{first} has no argument"),
                        });
                    }
                    self.lines.push(Line::Directive(Directive {
                        keyword,
                        args,
                        origin,
                    }));
                }
            }
        }
    }

    /// One pass over the lines: `conn` `None` is sshd's startup parse (every
    /// line outside Match applies, and `Match all`); `Some` is its reparse for
    /// a connection (only lines of matching Match blocks apply).
    fn pass(
        &self,
        reparse: bool,
        conn: Option<&Connection>,
        problems: &mut Vec<ConfigProblem>,
    ) -> Effective {
        let mut eff = Effective::default();
        // servconf.c's state: `active` is shared by a file and the files it
        // includes (restored after each Include); each file has its own
        // flags: MATCH_ONLY (the reparse, until the file's first Match) and
        // NEVERMATCH (included from an inactive block: its Match lines never
        // activate).
        let mut active = !reparse;
        let mut match_only = reparse;
        let mut never = false;
        let mut stack: Vec<(bool, bool, bool)> = Vec::new();
        for l in &self.lines {
            match l {
                Line::Enter => {
                    stack.push((active, match_only, never));
                    (match_only, never) = if match_only {
                        (true, false)
                    } else {
                        (false, !active)
                    };
                }
                Line::Leave => {
                    if let Some((a, m, n)) = stack.pop() {
                        (active, match_only, never) = (a, m, n);
                    }
                }
                Line::Match(args, origin) => {
                    match match_line(args, if never { None } else { conn }) {
                        Ok(v) => active = !never && v,
                        Err(e) => {
                            problems.push(ConfigProblem {
                                origin: origin.clone(),
                                message: e,
                            });
                            active = false;
                        }
                    }
                    match_only = false;
                }
                Line::Directive(d) => {
                    if !active {
                        // At startup an inactive line is inside a Match
                        // block (not `Match all`): sshd refuses the global
                        // keywords there, active or not.
                        if !reparse && !MATCH_ALLOWED.contains(&d.keyword.as_str()) {
                            problems.push(ConfigProblem {
                                origin: d.origin.clone(),
                                message: format!(
                                    "{} is not allowed within a Match block",
                                    d.keyword
                                ),
                            });
                        }
                        continue;
                    }
                    let acc = ACCUMULATE.contains(&d.keyword.as_str());
                    let e = eff
                        .values
                        .entry(d.keyword.clone())
                        .or_insert_with(|| (Vec::new(), None));
                    if e.1.is_none() {
                        e.0.clone_from(&d.args);
                        e.1 = Some(d.origin.clone());
                    } else if acc {
                        e.0.extend(d.args.iter().cloned());
                    }
                }
            }
        }
        eff
    }

    /// The effective configuration for `conn`, before sshd's defaults;
    /// `None` is what `sshd -T` without `-C` prints: its blank test
    /// connection matches only `Match all`.
    #[must_use]
    pub fn effective(&self, conn: Option<&Connection>) -> Effective {
        let mut problems = Vec::new();
        let mut global = self.pass(false, None, &mut problems);
        // As servconf.c's copy_set_server_options: only the keywords a
        // Match block may set are taken from the reparse (a global one
        // under `Match all` was already read at startup).
        let m = self.pass(true, conn, &mut problems);
        for (k, v) in m.values {
            if MATCH_ALLOWED.contains(&k.as_str()) {
                global.values.insert(k, v);
            }
        }
        global
    }
}

impl Effective {
    /// A keyword's arguments as written (first occurrence, or all for the
    /// accumulating ones), and where it came from.
    #[must_use]
    pub fn raw(&self, keyword: &str) -> Option<(&[String], Option<&Origin>)> {
        self.values
            .get(&canonical(keyword))
            .map(|(v, o)| (v.as_slice(), o.as_ref()))
    }
}

/// The keywords labsec checks, as `sshd -T` names them.
pub const CHECKED: &[&str] = &[
    "passwordauthentication",
    "kbdinteractiveauthentication",
    "permitrootlogin",
    "pubkeyauthentication",
    "permitemptypasswords",
    "port",
    "maxauthtries",
    "logingracetime",
    "x11forwarding",
    "allowtcpforwarding",
    "allowagentforwarding",
    "ignorerhosts",
    "hostbasedauthentication",
    "permituserenvironment",
    "loglevel",
    "clientaliveinterval",
    "clientalivecountmax",
    "ciphers",
    "macs",
    "kexalgorithms",
    "allowgroups",
];

/// sshd's compiled-in defaults for the checked keywords, as Debian 12's
/// OpenSSH 9.2p1 prints them for a configuration with only a host key
/// (`sshd -T`; Debian adds `sntrup761x25519-sha512` to the key exchanges);
/// the differential test compares them with the installed sshd.
pub const DEFAULTS: &[(&str, &str)] = &[
    ("passwordauthentication", "yes"),
    ("kbdinteractiveauthentication", "yes"),
    ("permitrootlogin", "without-password"),
    ("pubkeyauthentication", "yes"),
    ("permitemptypasswords", "no"),
    ("port", "22"),
    ("maxauthtries", "6"),
    ("logingracetime", "120"),
    ("x11forwarding", "no"),
    ("allowtcpforwarding", "yes"),
    ("allowagentforwarding", "yes"),
    ("ignorerhosts", "yes"),
    ("hostbasedauthentication", "no"),
    ("permituserenvironment", "no"),
    ("loglevel", "INFO"),
    ("clientaliveinterval", "0"),
    ("clientalivecountmax", "3"),
    (
        "ciphers",
        "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com",
    ),
    (
        "macs",
        "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1",
    ),
    (
        "kexalgorithms",
        "sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256",
    ),
    ("allowgroups", ""),
];

fn default_of(k: &str) -> &'static str {
    DEFAULTS
        .iter()
        .find(|(d, _)| *d == k)
        .map_or("", |(_, v)| v)
}

/// sshd's `convtime`: `90`, `1m30s`, `2h`; seconds.
#[must_use]
pub fn seconds(v: &str) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    let mut n = String::new();
    for c in v.chars() {
        if c.is_ascii_digit() {
            n.push(c);
            continue;
        }
        let mult = match c {
            's' | 'S' => 1,
            'm' | 'M' => 60,
            'h' | 'H' => 3600,
            'd' | 'D' => 86_400,
            'w' | 'W' => 604_800,
            _ => return None,
        };
        let x: u64 = n.parse().ok()?;
        total = total.checked_add(x.checked_mul(mult)?)?;
        n.clear();
    }
    if !n.is_empty() {
        total = total.checked_add(n.parse().ok()?)?;
    }
    Some(total)
}

/// Apply sshd's `+`, `-` and `^` list modifiers to `default`.
fn algorithms(arg: &str, default: &str) -> String {
    let list = |s: &str| -> Vec<String> {
        s.split(',')
            .filter(|x| !x.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let base = list(default);
    let out: Vec<String> = if let Some(add) = arg.strip_prefix('+') {
        let mut v = base;
        for a in list(add) {
            if !v.contains(&a) {
                v.push(a);
            }
        }
        v
    } else if let Some(del) = arg.strip_prefix('-') {
        let pats = list(del);
        base.into_iter()
            .filter(|a| pattern_list(a, &pats.join(","), false) != 1)
            .collect()
    } else if let Some(first) = arg.strip_prefix('^') {
        let mut v = list(first);
        for a in base {
            if !v.contains(&a) {
                v.push(a);
            }
        }
        v
    } else {
        list(arg)
    };
    out.join(",")
}

impl Effective {
    /// A checked keyword's value as `sshd -T` prints it (defaults applied,
    /// values normalised); `Port` gives one value per port, space-separated.
    #[must_use]
    pub fn value(&self, keyword: &str) -> String {
        let k = canonical(keyword);
        let Some((args, _)) = self.raw(&k) else {
            return default_of(&k).to_owned();
        };
        let first = args.first().map_or("", String::as_str);
        let lower = first.to_ascii_lowercase();
        match k.as_str() {
            "permitrootlogin" => match lower.as_str() {
                "prohibit-password" | "without-password" => "without-password".to_owned(),
                other => other.to_owned(),
            },
            "allowtcpforwarding" => match lower.as_str() {
                "all" => "yes".to_owned(),
                other => other.to_owned(),
            },
            // sshd prints its own names: QUIET is SILENT, DEBUG1 is DEBUG.
            "loglevel" => match lower.as_str() {
                "quiet" => "SILENT".to_owned(),
                "debug1" => "DEBUG".to_owned(),
                other => other.to_ascii_uppercase(),
            },
            "logingracetime" | "clientaliveinterval" => {
                seconds(first).map_or_else(|| first.to_owned(), |s| s.to_string())
            }
            "port" => {
                let ports: Vec<&str> = args.iter().map(String::as_str).collect();
                ports.join(" ")
            }
            "ciphers" | "macs" | "kexalgorithms" => algorithms(first, default_of(&k)),
            "allowgroups" => args.join(" "),
            "maxauthtries" | "clientalivecountmax" => first.to_owned(),
            _ => lower,
        }
    }

    /// Where a keyword's value was set, if it was.
    #[must_use]
    pub fn origin(&self, keyword: &str) -> Option<&Origin> {
        self.raw(keyword).and_then(|(_, o)| o)
    }
}

/// Read `sshd -T` output into keyword → value (values of repeated keywords
/// such as `port` joined with spaces, in order).
#[must_use]
pub fn parse_dump(text: &str) -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, String> = BTreeMap::new();
    for l in text.lines() {
        let Some((k, v)) = l.split_once(' ') else {
            continue;
        };
        m.entry(k.to_owned())
            .and_modify(|e| {
                e.push(' ');
                e.push_str(v);
            })
            .or_insert_with(|| v.to_owned());
    }
    m
}

/// A directive inside a Match block, with the block's criteria.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InMatch {
    /// The Match line's criteria, as written.
    pub criteria: String,
    /// The keyword (canonical, lower case).
    pub keyword: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Where.
    pub origin: Origin,
}

impl Config {
    /// Every directive written inside a Match block other than `Match all`
    /// (those apply to every connection and are in the global values), so
    /// that a check can see what some connections get; except keywords a
    /// `Match all` block before it already set, since in the reparse the
    /// first Match value wins.
    #[must_use]
    pub fn in_match(&self) -> Vec<InMatch> {
        let mut out = Vec::new();
        // None: global; Some(None): Match all; Some(Some(c)): other Match.
        let mut current: Option<Option<String>> = None;
        let mut stack = Vec::new();
        let mut by_all: std::collections::HashSet<String> = std::collections::HashSet::new();
        for l in &self.lines {
            match l {
                Line::Enter => stack.push(current.clone()),
                Line::Leave => current = stack.pop().flatten(),
                Line::Match(args, _) => {
                    let all = args.first().is_some_and(|a| a.eq_ignore_ascii_case("all"));
                    current = Some((!all).then(|| args.join(" ")));
                }
                Line::Directive(d) => {
                    if let Some(None) = &current {
                        by_all.insert(d.keyword.clone());
                    }
                    if let Some(Some(c)) = &current
                        && !by_all.contains(&d.keyword)
                    {
                        out.push(InMatch {
                            criteria: c.clone(),
                            keyword: d.keyword.clone(),
                            args: d.args.clone(),
                            origin: d.origin.clone(),
                        });
                    }
                }
            }
        }
        out
    }
}

/// An `Effective` from `sshd -T` output, for the live audit: every value as
/// sshd printed it.
#[must_use]
pub fn from_dump(text: &str) -> Effective {
    let mut e = Effective::default();
    for (k, v) in parse_dump(text) {
        let args = if k == "port" || k == "allowgroups" {
            v.split(' ').map(str::to_owned).collect()
        } else {
            vec![v]
        };
        e.values.insert(k, (args, None));
    }
    e
}

impl Effective {
    /// Set a keyword's arguments (for evaluating one directive alone).
    pub fn set(&mut self, keyword: &str, args: Vec<String>) {
        self.values.insert(canonical(keyword), (args, None));
    }
}
