//! The security audit: one check per concern over inspect data, the
//! daemon's effective settings and its networks. Every check has a stable
//! id, a severity, the CIS Docker Benchmark v1.6.0 recommendation where one
//! exists, and a fix; a finding adds the object and the evidence seen.
//! Secret-looking environment variables are reported by name only: the
//! value never leaves this module.

use std::collections::HashMap;

use bollard::models::ContainerInspectResponse;
use labnet::Ipv4Cidr;
use serde::Serialize;
use serde_json::{Value, json};

pub use labaudit::Severity;

/// One check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Check {
    /// Stable id, `LD-C01` (container), `LD-D01` (daemon), `LD-N01` (network).
    pub id: &'static str,
    /// What it looks for.
    pub title: &'static str,
    /// How bad a finding is.
    pub severity: Severity,
    /// The CIS Docker Benchmark v1.6.0 recommendation, if one exists.
    pub cis: Option<&'static str>,
    /// How to fix a finding.
    pub fix: &'static str,
}

macro_rules! check {
    ($id:literal, $sev:ident, $cis:expr, $title:literal, $fix:literal) => {
        Check {
            id: $id,
            title: $title,
            severity: Severity::$sev,
            cis: $cis,
            fix: $fix,
        }
    };
}

/// Every check, by id.
pub const CHECKS: &[Check] = &[
    check!(
        "LD-C01",
        Critical,
        Some("5.5"),
        "privileged container",
        "drop --privileged; add only the capabilities and devices it needs"
    ),
    check!(
        "LD-C02",
        High,
        Some("5.4"),
        "capabilities added",
        "remove cap_add entries the workload does not need"
    ),
    check!(
        "LD-C03",
        Low,
        Some("5.4"),
        "capabilities not dropped",
        "run with cap_drop: [ALL] and add back what it needs"
    ),
    check!(
        "LD-C04",
        High,
        Some("5.16"),
        "host PID namespace shared",
        "drop --pid=host"
    ),
    check!(
        "LD-C05",
        High,
        Some("5.17"),
        "host IPC namespace shared",
        "drop --ipc=host"
    ),
    check!(
        "LD-C06",
        Medium,
        Some("5.21"),
        "host UTS namespace shared",
        "drop --uts=host"
    ),
    check!(
        "LD-C07",
        High,
        Some("5.10"),
        "host network namespace shared",
        "use a bridge network and publish only the ports it serves"
    ),
    check!(
        "LD-C08",
        Critical,
        Some("5.32"),
        "Docker socket mounted",
        "do not mount docker.sock, not even read-only: any API call through it controls the host"
    ),
    check!(
        "LD-C09",
        High,
        Some("5.6"),
        "sensitive host path mounted",
        "mount a dedicated directory or a volume instead of a host system path"
    ),
    check!(
        "LD-C10",
        Medium,
        Some("5.14"),
        "port published on every address",
        "publish on one address, e.g. -p 127.0.0.1:8080:80, or the segment's address"
    ),
    check!(
        "LD-C11",
        Medium,
        Some("4.1"),
        "runs as root",
        "set USER in the image or --user to an unprivileged uid"
    ),
    check!(
        "LD-C12",
        Low,
        Some("5.13"),
        "root filesystem writable",
        "run with --read-only and a tmpfs or volume where it writes"
    ),
    check!(
        "LD-C13",
        Low,
        Some("5.11"),
        "no memory limit",
        "set --memory"
    ),
    check!(
        "LD-C14",
        Low,
        Some("5.29"),
        "no PIDs limit",
        "set --pids-limit"
    ),
    check!(
        "LD-C15",
        Low,
        Some("5.27"),
        "no healthcheck",
        "add HEALTHCHECK to the image or --health-cmd"
    ),
    check!(
        "LD-C16",
        High,
        Some("4.10"),
        "secret-looking environment variable",
        "pass secrets as files (Docker secrets, a read-only mount, or NAME_FILE) rather than environment variables"
    ),
    check!(
        "LD-C17",
        Medium,
        Some("5.26"),
        "no-new-privileges not set",
        "run with --security-opt no-new-privileges (or set it daemon-wide)"
    ),
    check!(
        "LD-C18",
        High,
        Some("5.22"),
        "seccomp unconfined",
        "remove seccomp=unconfined; write a profile if the default is too strict"
    ),
    check!(
        "LD-D01",
        Medium,
        Some("2.2"),
        "inter-container traffic on the default bridge",
        "set \"icc\": false in daemon.json"
    ),
    check!(
        "LD-D02",
        Low,
        Some("2.15"),
        "live restore off",
        "set \"live-restore\": true (not with Swarm)"
    ),
    check!(
        "LD-D03",
        Low,
        Some("2.16"),
        "userland proxy on",
        "set \"userland-proxy\": false"
    ),
    check!(
        "LD-D04",
        Medium,
        Some("2.14"),
        "no-new-privileges not the default",
        "set \"no-new-privileges\": true in daemon.json"
    ),
    check!(
        "LD-D05",
        Medium,
        Some("2.13"),
        "log driver without rotation or off",
        "set log-driver json-file or local with max-size and max-file (the lab's [docker.log])"
    ),
    check!(
        "LD-N01",
        High,
        None,
        "Docker network overlaps the lab",
        "recreate the network from an address pool outside every lab segment and libvirt's default"
    ),
    check!(
        "LD-N02",
        High,
        None,
        "Swarm ingress overlaps the lab",
        "leave the Swarm and init it with the lab's pool (labdocker swarm init), or recreate ingress from it"
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
    /// Its title.
    pub title: &'static str,
    /// Its severity.
    pub severity: Severity,
    /// CIS Docker Benchmark v1.6.0 recommendation.
    pub cis: Option<&'static str>,
    /// The object: `container web`, `daemon`, `network ingress`.
    pub object: String,
    /// What was seen.
    pub evidence: String,
    /// How to fix it.
    pub fix: &'static str,
}

fn finding(id: &'static str, object: &str, evidence: String) -> Finding {
    let c = check(id).unwrap_or(&CHECKS[0]);
    Finding {
        check: c.id,
        title: c.title,
        severity: c.severity,
        cis: c.cis,
        object: object.to_owned(),
        evidence,
        fix: c.fix,
    }
}

/// Host paths a container must not mount (the path itself or anything below
/// it for the first group; only the path itself for `/`).
const SENSITIVE: &[&str] = &[
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib64",
    "/proc",
    "/sys",
    "/usr",
    "/bin",
    "/sbin",
    "/root",
    "/run",
    "/var/run",
    "/var/lib/docker",
    "/var/lib/libvirt",
    "/var/log",
];

fn sensitive(source: &str) -> bool {
    let s = source.trim_end_matches('/');
    s.is_empty()
        || SENSITIVE
            .iter()
            .any(|p| s == *p || s.strip_prefix(p).is_some_and(|r| r.starts_with('/')))
}

fn docker_sock(source: &str) -> bool {
    source.ends_with("/docker.sock") || source.ends_with("/containerd.sock")
}

/// Whether an environment variable's name looks like it holds a secret.
#[must_use]
pub fn secret_name(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    if n.ends_with("_FILE") || n.ends_with("_PATH") {
        return false;
    }
    [
        "PASSWORD",
        "PASSWD",
        "SECRET",
        "TOKEN",
        "API_KEY",
        "APIKEY",
        "PRIVATE_KEY",
        "ACCESS_KEY",
        "CREDENTIAL",
        "AUTH_KEY",
    ]
    .iter()
    .any(|w| n.contains(w))
}

fn host_mode(v: Option<&String>) -> bool {
    v.is_some_and(|m| m == "host")
}

/// The container checks over one inspect answer.
#[must_use]
pub fn container(i: &ContainerInspectResponse) -> Vec<Finding> {
    let name = i
        .name
        .as_deref()
        .unwrap_or_default()
        .trim_start_matches('/');
    let object = format!("container {name}");
    let o = object.as_str();
    let mut out = Vec::new();
    let default_hc = bollard::models::HostConfig::default();
    let hc = i.host_config.as_ref().unwrap_or(&default_hc);
    let default_cfg = bollard::models::ContainerConfig::default();
    let cfg = i.config.as_ref().unwrap_or(&default_cfg);
    let privileged = hc.privileged == Some(true);
    if privileged {
        out.push(finding("LD-C01", o, "HostConfig.Privileged is true".into()));
    }
    let added: Vec<&String> = hc.cap_add.iter().flatten().collect();
    if !added.is_empty() {
        out.push(finding(
            "LD-C02",
            o,
            format!("HostConfig.CapAdd = {added:?}"),
        ));
    }
    let drops_all = hc
        .cap_drop
        .iter()
        .flatten()
        .any(|c| c.eq_ignore_ascii_case("ALL") || c.eq_ignore_ascii_case("CAP_ALL"));
    if !drops_all && !privileged {
        out.push(finding(
            "LD-C03",
            o,
            format!(
                "HostConfig.CapDrop = {:?}: the default set (14 capabilities) stays",
                hc.cap_drop.clone().unwrap_or_default()
            ),
        ));
    }
    if host_mode(hc.pid_mode.as_ref()) {
        out.push(finding("LD-C04", o, "HostConfig.PidMode = \"host\"".into()));
    }
    if host_mode(hc.ipc_mode.as_ref()) {
        out.push(finding("LD-C05", o, "HostConfig.IpcMode = \"host\"".into()));
    }
    if host_mode(hc.uts_mode.as_ref()) {
        out.push(finding("LD-C06", o, "HostConfig.UTSMode = \"host\"".into()));
    }
    if host_mode(hc.network_mode.as_ref()) {
        out.push(finding(
            "LD-C07",
            o,
            "HostConfig.NetworkMode = \"host\"".into(),
        ));
    }
    for m in i.mounts.iter().flatten() {
        let src = m.source.as_deref().unwrap_or_default();
        let dst = m.destination.as_deref().unwrap_or_default();
        let bind = m.typ.as_deref() == Some("bind");
        if !bind {
            continue;
        }
        let rw = if m.rw == Some(false) {
            "read-only"
        } else {
            "read-write"
        };
        if docker_sock(src) || docker_sock(dst) {
            out.push(finding(
                "LD-C08",
                o,
                format!("{src} is mounted at {dst} ({rw})"),
            ));
        } else if sensitive(src) {
            out.push(finding(
                "LD-C09",
                o,
                format!("{src} is mounted at {dst} ({rw})"),
            ));
        }
    }
    let mut open: Vec<String> = Vec::new();
    for (port, bindings) in hc.port_bindings.iter().flatten() {
        for b in bindings.iter().flatten() {
            let ip = b.host_ip.as_deref().unwrap_or_default();
            if ip.is_empty() || ip == "0.0.0.0" || ip == "::" {
                open.push(format!(
                    "{}:{} -> {port}",
                    if ip.is_empty() { "0.0.0.0" } else { ip },
                    b.host_port.as_deref().unwrap_or_default()
                ));
            }
        }
    }
    open.sort();
    if !open.is_empty() {
        out.push(finding(
            "LD-C10",
            o,
            format!("published on every address: {}", open.join(", ")),
        ));
    }
    let user = cfg.user.as_deref().unwrap_or_default();
    let uid = user.split(':').next().unwrap_or_default();
    if uid.is_empty() || uid == "0" || uid == "root" {
        let userns = hc.userns_mode.as_deref().unwrap_or_default();
        out.push(finding(
            "LD-C11",
            o,
            if user.is_empty() {
                format!(
                    "Config.User is empty (uid 0){}",
                    if userns.is_empty() {
                        ""
                    } else {
                        ", userns mode set"
                    }
                )
            } else {
                format!("Config.User = {user:?}")
            },
        ));
    }
    if hc.readonly_rootfs != Some(true) {
        out.push(finding(
            "LD-C12",
            o,
            "HostConfig.ReadonlyRootfs is false".into(),
        ));
    }
    if hc.memory.unwrap_or(0) <= 0 {
        out.push(finding(
            "LD-C13",
            o,
            "HostConfig.Memory = 0 (unlimited)".into(),
        ));
    }
    if hc.pids_limit.unwrap_or(0) <= 0 {
        out.push(finding(
            "LD-C14",
            o,
            format!(
                "HostConfig.PidsLimit = {} (unlimited)",
                hc.pids_limit.unwrap_or(0)
            ),
        ));
    }
    let hc_test = cfg.healthcheck.as_ref().and_then(|h| h.test.as_ref());
    if hc_test.is_none_or(|t| t.is_empty() || t.first().is_some_and(|f| f == "NONE")) {
        out.push(finding("LD-C15", o, "Config.Healthcheck is not set".into()));
    }
    let mut secrets: Vec<&str> = cfg
        .env
        .iter()
        .flatten()
        .filter_map(|e| {
            let (k, v) = e.split_once('=')?;
            (secret_name(k) && !v.is_empty()).then_some(k)
        })
        .collect();
    secrets.sort_unstable();
    secrets.dedup();
    for k in secrets {
        out.push(finding(
            "LD-C16",
            o,
            format!("environment variable {k} is set (value not shown)"),
        ));
    }
    let opts: Vec<&str> = hc
        .security_opt
        .iter()
        .flatten()
        .map(String::as_str)
        .collect();
    let nnp = opts.iter().any(|s| {
        matches!(
            *s,
            "no-new-privileges" | "no-new-privileges:true" | "no-new-privileges=true"
        )
    });
    if !nnp {
        out.push(finding(
            "LD-C17",
            o,
            format!("HostConfig.SecurityOpt = {opts:?}"),
        ));
    }
    if opts
        .iter()
        .any(|s| *s == "seccomp=unconfined" || *s == "seccomp:unconfined")
    {
        out.push(finding(
            "LD-C18",
            o,
            "HostConfig.SecurityOpt has seccomp=unconfined".into(),
        ));
    }
    out
}

/// The daemon's effective settings the daemon checks read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DaemonFacts {
    /// Inter-container traffic on the default bridge (from the `bridge`
    /// network's options, else daemon.json; `None` without a default bridge).
    pub icc: Option<bool>,
    /// `LiveRestoreEnabled` from `/info`.
    pub live_restore: bool,
    /// `userland-proxy` from daemon.json (Docker's default: true).
    pub userland_proxy: bool,
    /// `no-new-privileges` from daemon.json.
    pub no_new_privileges: bool,
    /// `LoggingDriver` from `/info`.
    pub log_driver: String,
    /// `log-opts` from daemon.json.
    pub log_opts: HashMap<String, String>,
    /// Whether Swarm is active (live restore does not apply then).
    pub swarm_active: bool,
}

impl DaemonFacts {
    /// The facts from `/info`, the `bridge` network's options (if there is
    /// one) and daemon.json (if it could be read).
    #[must_use]
    pub fn new(
        info: &bollard::models::SystemInfo,
        bridge_options: Option<&HashMap<String, String>>,
        daemon_json: Option<&Value>,
    ) -> Self {
        let key = |k: &str| daemon_json.and_then(|d| d.get(k));
        let icc = bridge_options
            .and_then(|o| o.get("com.docker.network.bridge.enable_icc"))
            .map(|v| v == "true")
            .or_else(|| {
                bridge_options
                    .is_some()
                    .then(|| key("icc").and_then(Value::as_bool).unwrap_or(true))
            });
        Self {
            icc,
            live_restore: info.live_restore_enabled == Some(true),
            userland_proxy: key("userland-proxy")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            no_new_privileges: key("no-new-privileges")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            log_driver: info.logging_driver.clone().unwrap_or_default(),
            log_opts: key("log-opts")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                        .collect()
                })
                .unwrap_or_default(),
            swarm_active: info
                .swarm
                .as_ref()
                .and_then(|s| s.local_node_state)
                .is_some_and(|s| s == bollard::models::LocalNodeState::ACTIVE),
        }
    }
}

/// The daemon checks.
#[must_use]
pub fn daemon(f: &DaemonFacts) -> Vec<Finding> {
    let o = "daemon";
    let mut out = Vec::new();
    if f.icc == Some(true) {
        out.push(finding(
            "LD-D01",
            o,
            "the default bridge has com.docker.network.bridge.enable_icc=true".into(),
        ));
    }
    if !f.live_restore && !f.swarm_active {
        out.push(finding("LD-D02", o, "LiveRestoreEnabled is false".into()));
    }
    if f.userland_proxy {
        out.push(finding(
            "LD-D03",
            o,
            "userland-proxy is not false in daemon.json".into(),
        ));
    }
    if !f.no_new_privileges {
        out.push(finding(
            "LD-D04",
            o,
            "no-new-privileges is not true in daemon.json".into(),
        ));
    }
    let rotating = matches!(f.log_driver.as_str(), "json-file" | "local");
    if f.log_driver == "none" {
        out.push(finding("LD-D05", o, "LoggingDriver is none".into()));
    } else if f.log_driver == "json-file"
        && !(f.log_opts.contains_key("max-size") && f.log_opts.contains_key("max-file"))
    {
        out.push(finding(
            "LD-D05",
            o,
            format!(
                "LoggingDriver is json-file and log-opts has no max-size/max-file ({:?})",
                f.log_opts
            ),
        ));
    } else if !rotating && f.log_driver.is_empty() {
        out.push(finding("LD-D05", o, "LoggingDriver is unknown".into()));
    }
    out
}

/// One existing Docker network's subnets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct NetworkFacts {
    /// Its name.
    pub name: String,
    /// Whether it is Swarm's ingress.
    pub ingress: bool,
    /// Its subnets (IPv4 only; others are ignored).
    pub subnets: Vec<Ipv4Cidr>,
}

impl NetworkFacts {
    /// From a network list answer.
    #[must_use]
    pub fn new(n: &bollard::models::Network) -> Self {
        Self {
            name: n.name.clone().unwrap_or_default(),
            ingress: n.ingress == Some(true),
            subnets: n
                .ipam
                .as_ref()
                .and_then(|i| i.config.as_ref())
                .into_iter()
                .flatten()
                .filter_map(|c| c.subnet.as_deref()?.parse().ok())
                .collect(),
        }
    }
}

/// The network checks: every existing network against the lab's ranges
/// (segments and libvirt's default) and the other networks.
#[must_use]
pub fn networks(nets: &[NetworkFacts], lab: &[(String, Ipv4Cidr)]) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, n) in nets.iter().enumerate() {
        let object = format!("network {}", n.name);
        let id = if n.ingress { "LD-N02" } else { "LD-N01" };
        for s in &n.subnets {
            for (what, cidr) in lab {
                if s.overlaps(*cidr) {
                    out.push(finding(
                        id,
                        &object,
                        format!("{s} overlaps {what} ({cidr})"),
                    ));
                }
            }
            for other in &nets[..i] {
                for o in &other.subnets {
                    if s.overlaps(*o) {
                        out.push(finding(
                            "LD-N01",
                            &object,
                            format!("{s} overlaps network {} ({o})", other.name),
                        ));
                    }
                }
            }
        }
    }
    out
}

/// A whole audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Report {
    /// How many containers were audited.
    pub containers: usize,
    /// Findings, most severe first, then by check and object.
    pub findings: Vec<Finding>,
    /// Findings per severity.
    pub counts: HashMap<Severity, usize>,
}

impl Report {
    /// Sort and count `findings`.
    #[must_use]
    pub fn new(containers: usize, mut findings: Vec<Finding>) -> Self {
        findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(a.check.cmp(b.check))
                .then(a.object.cmp(&b.object))
                .then(a.evidence.cmp(&b.evidence))
        });
        let mut counts = HashMap::new();
        for f in &findings {
            *counts.entry(f.severity).or_insert(0) += 1;
        }
        Self {
            containers,
            findings,
            counts,
        }
    }

    /// Whether any finding is at `at` or above.
    #[must_use]
    pub fn fails(&self, at: Severity) -> bool {
        self.findings.iter().any(|f| f.severity >= at)
    }

    /// The report as SARIF 2.1.0: one rule per check, one result per
    /// finding, located at the object by logical location.
    #[must_use]
    pub fn to_sarif(&self, tool_version: &str) -> Value {
        let rules: Vec<Value> = CHECKS
            .iter()
            .map(|c| {
                json!({
                    "id": c.id,
                    "name": c.title,
                    "shortDescription": { "text": c.title },
                    "help": { "text": c.fix },
                    "defaultConfiguration": { "level": c.severity.sarif_level() },
                    "properties": {
                        "security-severity": c.severity.security_score(),
                        "severity": c.severity.as_str(),
                        "tags": c.cis.map(|r| vec![format!("CIS-Docker-1.6.0-{r}")]).unwrap_or_default(),
                    },
                })
            })
            .collect();
        let results: Vec<Value> = self
            .findings
            .iter()
            .map(|f| {
                json!({
                    "ruleId": f.check,
                    "ruleIndex": CHECKS.iter().position(|c| c.id == f.check),
                    "level": f.severity.sarif_level(),
                    "message": { "text": format!("{}: {} ({})", f.object, f.title, f.evidence) },
                    "locations": [{
                        "logicalLocations": [{ "name": f.object, "kind": "object" }]
                    }],
                })
            })
            .collect();
        labaudit::sarif("labdocker", tool_version, rules, results)
    }
}

impl crate::engine::Engine {
    /// Every existing network's subnets, by name.
    ///
    /// # Errors
    /// When the Engine does not answer.
    pub fn network_facts(&self) -> Result<Vec<NetworkFacts>, crate::error::EngineError> {
        let nets = self
            .block(
                self.bollard()
                    .list_networks(None::<bollard::query_parameters::ListNetworksOptions>),
            )
            .map_err(|source| crate::error::EngineError::Api {
                what: "list networks",
                source,
            })?;
        let mut facts: Vec<NetworkFacts> = nets.iter().map(NetworkFacts::new).collect();
        facts.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(facts)
    }

    /// Audit every container, the daemon and its networks. `lab` is the
    /// ranges Docker must stay out of ([`crate::lab_ranges`]); `daemon_json`
    /// the daemon's configuration file when it can be read (the settings
    /// `/info` does not show come from it).
    ///
    /// # Errors
    /// When the Engine does not answer.
    pub fn audit(
        &self,
        lab: &[(String, Ipv4Cidr)],
        daemon_json: Option<&Value>,
    ) -> Result<Report, crate::error::EngineError> {
        let inspected = self.inspect_all()?;
        let d = self.bollard();
        let info = self
            .block(d.info())
            .map_err(|source| crate::error::EngineError::Api {
                what: "describe itself",
                source,
            })?;
        let nets = self
            .block(d.list_networks(None::<bollard::query_parameters::ListNetworksOptions>))
            .map_err(|source| crate::error::EngineError::Api {
                what: "list networks",
                source,
            })?;
        let bridge = nets
            .iter()
            .find(|n| n.name.as_deref() == Some("bridge") && n.driver.as_deref() == Some("bridge"));
        let mut findings: Vec<Finding> = inspected.iter().flat_map(container).collect();
        findings.extend(daemon(&DaemonFacts::new(
            &info,
            bridge.and_then(|b| b.options.as_ref()),
            daemon_json,
        )));
        let mut facts: Vec<NetworkFacts> = nets.iter().map(NetworkFacts::new).collect();
        facts.sort_by(|a, b| a.name.cmp(&b.name));
        findings.extend(networks(&facts, lab));
        Ok(Report::new(inspected.len(), findings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_sensitive_paths_match_whole_components() {
        let mut ids: Vec<&str> = CHECKS.iter().map(|c| c.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), CHECKS.len());
        assert!(sensitive("/"));
        assert!(sensitive("/etc"));
        assert!(sensitive("/etc/ssh/"));
        assert!(!sensitive("/etcetera"));
        assert!(!sensitive("/data/app"));
        assert!(secret_name("DB_PASSWORD"));
        assert!(secret_name("github_token"));
        assert!(!secret_name("DB_PASSWORD_FILE"));
        assert!(!secret_name("PATH"));
        assert_eq!("high".parse::<Severity>(), Ok(Severity::High));
        assert!("urgent".parse::<Severity>().is_err());
    }
}
