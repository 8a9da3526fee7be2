//! daemon.json from `[docker]`: the keys the lab decides, in Docker's names.

use serde_json::{Map, Value, json};

use crate::model::Docker;

/// The daemon configuration the lab file asks for. Keys the lab does not set
/// are left out, so Docker's defaults stand.
#[must_use]
pub fn daemon_json(d: &Docker) -> Value {
    let mut m = Map::new();
    if let Some(root) = &d.data_root {
        m.insert("data-root".into(), json!(root));
    }
    if let Some(driver) = &d.storage_driver {
        m.insert("storage-driver".into(), json!(driver));
    }
    if let Some(log) = &d.log {
        m.insert("log-driver".into(), json!(log.driver));
        m.insert(
            "log-opts".into(),
            json!({ "max-size": log.max_size, "max-file": log.max_file.to_string() }),
        );
    }
    if !d.address_pools.is_empty() {
        let pools: Vec<Value> = d
            .address_pools
            .iter()
            .map(|p| json!({ "base": p.base.to_string(), "size": p.size }))
            .collect();
        m.insert("default-address-pools".into(), Value::Array(pools));
    }
    Value::Object(m)
}

/// Every key dockerd 20.10 to 27 accepts in daemon.json (from dockerd's
/// `config.Config` and its platform parts); anything else makes dockerd
/// refuse to start, so it is reported before the file is written.
pub const KNOWN_KEYS: &[&str] = &[
    "allow-nondistributable-artifacts",
    "api-cors-header",
    "authorization-plugins",
    "bip",
    "bip6",
    "bridge",
    "builder",
    "cdi-spec-dirs",
    "cgroup-parent",
    "cluster-advertise",
    "cluster-store",
    "cluster-store-opts",
    "containerd",
    "containerd-namespace",
    "containerd-plugins-namespace",
    "cpu-rt-period",
    "cpu-rt-runtime",
    "data-root",
    "debug",
    "default-address-pools",
    "default-cgroupns-mode",
    "default-gateway",
    "default-gateway-v6",
    "default-ipc-mode",
    "default-network-opts",
    "default-runtime",
    "default-shm-size",
    "default-ulimits",
    "dns",
    "dns-opts",
    "dns-search",
    "exec-opts",
    "exec-root",
    "experimental",
    "features",
    "firewall-backend",
    "fixed-cidr",
    "fixed-cidr-v6",
    "group",
    "host-gateway-ip",
    "hosts",
    "icc",
    "init",
    "init-path",
    "insecure-registries",
    "ip",
    "ip-forward",
    "ip-forward-no-drop",
    "ip-masq",
    "ip6tables",
    "iptables",
    "ipv6",
    "labels",
    "live-restore",
    "log-driver",
    "log-format",
    "log-level",
    "log-opts",
    "max-concurrent-downloads",
    "max-concurrent-uploads",
    "max-download-attempts",
    "metrics-addr",
    "min-api-version",
    "mtu",
    "network-control-plane-mtu",
    "network-diagnostic-port",
    "no-new-privileges",
    "node-generic-resources",
    "oom-score-adjust",
    "pidfile",
    "proxies",
    "raw-logs",
    "registry-mirrors",
    "rootless",
    "runtimes",
    "seccomp-profile",
    "selinux-enabled",
    "shutdown-timeout",
    "storage-driver",
    "storage-opts",
    "swarm-default-advertise-addr",
    "tls",
    "tlscacert",
    "tlscert",
    "tlskey",
    "tlsverify",
    "userland-proxy",
    "userland-proxy-path",
    "userns-remap",
];

/// A daemon.json as read: its keys in file order, and its text for line
/// numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DaemonConfig {
    /// Where it was read from.
    pub path: std::path::PathBuf,
    /// Its text (empty when the file did not exist).
    pub text: String,
    /// Its keys.
    pub values: Map<String, Value>,
}

/// One problem in a daemon.json.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Problem {
    /// The file.
    pub path: String,
    /// The key's line, when it can be found.
    pub line: Option<usize>,
    /// The key.
    pub key: String,
    /// The value, as JSON.
    pub value: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}: {}", self.path, self.key, self.message),
            None => write!(f, "{}: {}: {}", self.path, self.key, self.message),
        }
    }
}

impl DaemonConfig {
    /// Read `path`; a missing file is an empty configuration (Docker's defaults).
    ///
    /// # Errors
    /// When it cannot be read, is not JSON, or not an object.
    pub fn read(path: &std::path::Path) -> Result<Self, crate::error::DaemonConfigError> {
        use crate::error::DaemonConfigError as E;
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(E::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        Self::parse(path, text)
    }

    /// Parse `text` as the file at `path`.
    ///
    /// # Errors
    /// When it is not JSON or not an object.
    pub fn parse(
        path: &std::path::Path,
        text: String,
    ) -> Result<Self, crate::error::DaemonConfigError> {
        use crate::error::DaemonConfigError as E;
        let values = if text.trim().is_empty() {
            Map::new()
        } else {
            match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(m)) => m,
                Ok(_) => {
                    return Err(E::NotObject {
                        path: path.to_owned(),
                    });
                }
                Err(source) => {
                    return Err(E::Syntax {
                        path: path.to_owned(),
                        line: source.line(),
                        column: source.column(),
                        source,
                    });
                }
            }
        };
        Ok(Self {
            path: path.to_owned(),
            text,
            values,
        })
    }

    /// The line of top-level key `key` (its first `"key":`).
    #[must_use]
    pub fn line_of(&self, key: &str) -> Option<usize> {
        let needle = format!("\"{key}\"");
        self.text
            .lines()
            .position(|l| l.trim_start().starts_with(&needle))
            .map(|i| i + 1)
    }

    fn problem(&self, key: &str, message: String, hint: &str) -> Problem {
        Problem {
            path: self.path.display().to_string(),
            line: self.line_of(key),
            key: key.to_owned(),
            value: self
                .values
                .get(key)
                .map(Value::to_string)
                .unwrap_or_default(),
            message,
            hint: hint.to_owned(),
        }
    }

    /// Every problem: unknown keys, ranges (`bip`, `fixed-cidr`,
    /// `default-address-pools`) overlapping `lab` (name, range) or each
    /// other, log rotation missing, a TCP socket without TLS.
    #[must_use]
    pub fn validate(&self, lab: &[(String, labnet::Ipv4Cidr)]) -> Vec<Problem> {
        let mut out = Vec::new();
        for key in self.values.keys() {
            if !KNOWN_KEYS.contains(&key.as_str()) {
                let near = KNOWN_KEYS.iter().find(|k| {
                    k.replace('-', "") == key.replace(['-', '_'], "").to_ascii_lowercase()
                });
                out.push(self.problem(
                    key,
                    format!("{key:?} is not a daemon.json key; dockerd refuses to start with it"),
                    &near.map_or_else(
                        || {
                            "remove it, or see dockerd's documentation for the key's name"
                                .to_owned()
                        },
                        |k| format!("did you mean {k:?}?"),
                    ),
                ));
            }
        }
        let mut ranges: Vec<(String, labnet::Ipv4Cidr)> = Vec::new();
        for key in ["bip", "fixed-cidr"] {
            if let Some(v) = self.values.get(key).and_then(Value::as_str) {
                // bip is an address with a prefix (the bridge's own address).
                match v.split_once('/').and_then(|(a, p)| {
                    Some(labnet::Ipv4Cidr::truncating(
                        a.parse().ok()?,
                        p.parse().ok()?,
                    ))
                }) {
                    Some(c) => ranges.push((key.to_owned(), c)),
                    None => out.push(self.problem(
                        key,
                        format!("{v:?} is not an IPv4 range"),
                        "write it as \"172.17.0.1/16\"",
                    )),
                }
            }
        }
        if let Some(pools) = self
            .values
            .get("default-address-pools")
            .and_then(Value::as_array)
        {
            for (i, p) in pools.iter().enumerate() {
                match p
                    .get("base")
                    .and_then(Value::as_str)
                    .and_then(|b| b.parse().ok())
                {
                    Some(c) => ranges.push((format!("default-address-pools[{i}]"), c)),
                    None => out.push(self.problem(
                        "default-address-pools",
                        format!("pool {i} has no IPv4 base"),
                        "write {\"base\": \"172.17.0.0/16\", \"size\": 24}",
                    )),
                }
            }
        }
        for (i, (what, r)) in ranges.iter().enumerate() {
            let key = what.split('[').next().unwrap_or(what);
            for (name, c) in lab {
                if r.overlaps(*c) {
                    out.push(self.problem(
                        key,
                        format!("{what} {r} overlaps {name} ({c})"),
                        "choose a range outside every lab segment and libvirt's default",
                    ));
                }
            }
            for (other, o) in &ranges[..i] {
                // bip lies inside fixed-cidr or the reverse by design.
                let pair = [what.as_str(), other.as_str()];
                if r.overlaps(*o) && !(pair.contains(&"bip") && pair.contains(&"fixed-cidr")) {
                    out.push(self.problem(
                        key,
                        format!("{what} {r} overlaps {other} ({o})"),
                        "give each range its own addresses",
                    ));
                }
            }
        }
        let driver = self
            .values
            .get("log-driver")
            .and_then(Value::as_str)
            .unwrap_or("json-file");
        if matches!(driver, "json-file" | "local") {
            let opts = self.values.get("log-opts");
            let has = |k: &str| opts.and_then(|o| o.get(k)).is_some();
            if driver == "json-file" && !(has("max-size") && has("max-file")) {
                out.push(
                    self.problem(
                        if self.values.contains_key("log-opts") {
                            "log-opts"
                        } else {
                            "log-driver"
                        },
                        "json-file logs are not rotated (log-opts needs max-size and max-file)"
                            .to_owned(),
                        "set \"log-opts\": {\"max-size\": \"10m\", \"max-file\": \"3\"}",
                    ),
                );
            }
        }
        let tls = self.values.get("tlsverify").and_then(Value::as_bool) == Some(true)
            || self.values.get("tls").and_then(Value::as_bool) == Some(true);
        for h in self
            .values
            .get("hosts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let h = h.as_str().unwrap_or_default();
            if h.starts_with("tcp://") && !tls {
                out.push(self.problem(
                    "hosts",
                    format!("{h} serves the Engine API over TCP without TLS: anyone who reaches it is root on this host"),
                    "remove it, or set tlsverify with tlscacert, tlscert and tlskey",
                ));
            }
        }
        out
    }

    /// This file with the lab's keys set (the lab wins where both set a
    /// key; keys the lab does not decide are kept), as pretty JSON.
    #[must_use]
    pub fn merged(&self, d: &Docker) -> String {
        let mut m = self.values.clone();
        if let Value::Object(lab) = daemon_json(d) {
            for (k, v) in lab {
                m.insert(k, v);
            }
        }
        let mut s = serde_json::to_string_pretty(&Value::Object(m)).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Write `text` to this file atomically (a temporary file renamed over
    /// it), keeping the old file's permissions.
    ///
    /// # Errors
    /// When the directory cannot be written.
    pub fn write(&self, text: &str) -> Result<(), crate::error::DaemonConfigError> {
        let err = |source| crate::error::DaemonConfigError::Write {
            path: self.path.clone(),
            source,
        };
        let dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        std::fs::create_dir_all(dir).map_err(err)?;
        let tmp = dir.join(format!(
            ".{}.labdocker-{}",
            self.path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("daemon.json"),
            std::process::id()
        ));
        std::fs::write(&tmp, text).map_err(err)?;
        if let Ok(meta) = std::fs::metadata(&self.path) {
            let _ = std::fs::set_permissions(&tmp, meta.permissions());
        }
        std::fs::rename(&tmp, &self.path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            err(e)
        })
    }
}
