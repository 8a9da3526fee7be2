//! `labdocker`: the lab host's Docker Engine. A thin binary over the
//! `labdocker` library, which decides; this renders.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};
use labcli::unified_diff;
use labcli::{ColorWhen, Format, Output, data};
use labdocker::audit::Severity;
use labdocker::daemon::DaemonConfig;
use labdocker::swarm::{Publish, Service};
use labdocker::{Docker, Engine};

/// Exit status: success.
const EXIT_OK: u8 = 0;
/// Exit status: the lab or daemon.json is invalid, or the Engine is not as it should be.
const EXIT_FAIL: u8 = 1;
/// Exit status: usage error, unreadable file, or the Engine refused or did not answer.
const EXIT_USAGE: u8 = 2;

const AFTER_HELP: &str = "\
LAB is the lab file (TOML, see docs/lab-file.md); its [docker] section names
the Engine's socket, the daemon settings, the address pools, Swarm and the
prune policy. - reads standard input.

Exit status:
  0  success
  1  the lab or daemon.json is invalid (nothing was written); health found a
     container unhealthy, restarting or dead; audit found something at or above
     --fail-on; a prune removal failed (the others were done); a deployed
     service did not reach its replicas
  2  usage error, a file could not be read or written, or the Engine refused
     or did not answer

Environment:
  NO_COLOR  set to anything to turn colour off (as --color never)

Objects labdocker creates carry the label org.labkit.owner=labkit; it removes
only those, except what the lab's [docker.prune] policy lets prune remove.";

#[derive(Debug, Parser)]
#[command(name = "labdocker", version, about = "The lab host's Docker Engine: daemon config, health, audit, disk, prune, Swarm", after_help = AFTER_HELP, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// When to colour diagnostics on standard error.
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto, global = true)]
    color: ColorWhen,
    /// Do not print notes, only errors and data.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// The Engine's socket, unix:///... (default: the lab's docker.socket).
    #[arg(long, global = true, value_name = "URL")]
    socket: Option<String>,
}

/// `audit --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum AuditFormat {
    /// For people.
    Text,
    /// One JSON document.
    Json,
    /// SARIF 2.1.0, for code-scanning tools.
    Sarif,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check the lab file's docker section (and the sections it depends on).
    Check {
        /// Lab file.
        lab: PathBuf,
    },
    /// Print the daemon.json the lab asks for: CURRENT's keys with the lab's
    /// set; validate it (unknown keys, ranges overlapping the lab, log
    /// rotation, TCP without TLS) and write it with --write.
    DaemonConfig {
        /// Lab file.
        lab: PathBuf,
        /// The daemon.json in use (default: --write's PATH, else /etc/docker/daemon.json).
        #[arg(long, value_name = "PATH")]
        current: Option<PathBuf>,
        /// Write the result to PATH atomically (nothing is written when it has problems).
        #[arg(long, value_name = "PATH")]
        write: Option<PathBuf>,
        /// Print a unified diff from CURRENT instead of the whole file.
        #[arg(long)]
        diff: bool,
        /// Only validate CURRENT as it is; exit 1 on any problem.
        #[arg(long, conflicts_with_all = ["write", "diff"])]
        check: bool,
        /// Output format (json: the file, or the problems with --check).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Containers with state, health, restarts, ports and networks; exit 1
    /// when any is unhealthy, restarting or dead.
    Health {
        /// Lab file.
        lab: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Follow the Engine's events and print health and state changes as they happen.
    Watch {
        /// Lab file.
        lab: PathBuf,
        /// Stop after this many changes.
        #[arg(long)]
        count: Option<usize>,
        /// Replay events since this many seconds ago.
        #[arg(long, value_name = "SECONDS")]
        since: Option<i64>,
        /// Output format (json: one JSON object per line).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Security audit of containers, daemon settings and networks; exit 1 at
    /// or above --fail-on.
    Audit {
        /// Lab file.
        lab: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = AuditFormat::Text)]
        format: AuditFormat,
        /// The lowest severity that makes the exit status 1.
        #[arg(long, default_value = "high", value_parser = parse_severity)]
        fail_on: Severity,
        /// The daemon's daemon.json, for settings /info does not show.
        #[arg(long, value_name = "PATH", default_value = "/etc/docker/daemon.json")]
        daemon_json: PathBuf,
    },
    /// Disk use: images, containers, volumes, build cache.
    Df {
        /// Lab file.
        lab: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Remove what the lab's prune policy allows, exactly the list --dry-run prints.
    Prune {
        /// Lab file.
        lab: PathBuf,
        /// Only list what would be removed, by id and size.
        #[arg(long)]
        dry_run: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Single-node Swarm with the lab's address pool.
    #[command(subcommand)]
    Swarm(SwarmCommand),
}

#[derive(Debug, Subcommand)]
enum SwarmCommand {
    /// Initialise the Swarm with the lab's address pool and subnet size.
    Init {
        /// Lab file.
        lab: PathBuf,
        /// This host's address to advertise.
        #[arg(long, value_name = "ADDRESS")]
        advertise: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// The Swarm, its pools, ingress and services with their tasks.
    Status {
        /// Lab file.
        lab: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Leave the Swarm and remove docker_gwbridge.
    Leave {
        /// Lab file.
        lab: PathBuf,
    },
    /// Deploy a service (owned by labkit) and report its tasks; exit 1 when
    /// it does not reach its replicas within --wait.
    Deploy {
        /// Lab file.
        lab: PathBuf,
        /// Service name.
        name: String,
        /// Image.
        #[arg(long)]
        image: String,
        /// Replicas.
        #[arg(long, default_value_t = 1)]
        replicas: u32,
        /// A port to publish, PUBLISHED:TARGET, with ADDRESS: before and /PROTOCOL
        /// after when wanted (Swarm publishes on every address); repeatable.
        #[arg(value_name = "[ADDRESS:]PUBLISHED:TARGET[/PROTOCOL]")]
        #[arg(long, value_parser = |s: &str| s.parse::<Publish>())]
        publish: Vec<Publish>,
        /// Network (an overlay that does not exist is created); repeatable.
        #[arg(long)]
        network: Vec<String>,
        /// KEY=VALUE; repeatable.
        #[arg(long, value_parser = parse_label)]
        label: Vec<(String, String)>,
        /// Seconds to wait for the tasks to run.
        #[arg(long, default_value_t = 60)]
        wait: u64,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Remove a service labdocker deployed.
    Rm {
        /// Lab file.
        lab: PathBuf,
        /// Service name.
        name: String,
    },
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse()
}

fn parse_label(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("{s:?} is not KEY=VALUE"))
}

fn load(path: &Path, out: &Output) -> Result<Result<(Docker, labnet::LabFile), u8>> {
    Ok(
        match labcli::load(path, out, labdocker::from_document_with_lab)? {
            Some((d, net)) => {
                out.diagnostics(net.warnings());
                Ok((d, net))
            }
            None => Err(EXIT_FAIL),
        },
    )
}

fn json(v: &impl serde::Serialize) -> Result<()> {
    data(&(serde_json::to_string_pretty(v)? + "\n"))
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    #[allow(clippy::cast_precision_loss)]
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn lab_of(cmd: &Command) -> &Path {
    match cmd {
        Command::Check { lab }
        | Command::DaemonConfig { lab, .. }
        | Command::Health { lab, .. }
        | Command::Watch { lab, .. }
        | Command::Audit { lab, .. }
        | Command::Df { lab, .. }
        | Command::Prune { lab, .. }
        | Command::Swarm(
            SwarmCommand::Init { lab, .. }
            | SwarmCommand::Status { lab, .. }
            | SwarmCommand::Leave { lab }
            | SwarmCommand::Deploy { lab, .. }
            | SwarmCommand::Rm { lab, .. },
        ) => lab,
    }
}

fn run(cli: Cli, out: &Output) -> Result<u8> {
    let (docker, net) = match load(lab_of(&cli.command), out)? {
        Ok(b) => b,
        Err(c) => return Ok(c),
    };
    let ranges = labdocker::lab_ranges(&net);
    let socket = cli.socket.clone().unwrap_or_else(|| docker.socket.clone());
    let connect = || -> Result<Engine> {
        let e = Engine::connect(&socket)?;
        Ok(e)
    };
    match cli.command {
        Command::Check { .. } => {
            out.note(&format!(
                "[docker] is valid: {} address pool(s), swarm {}",
                docker.address_pools.len(),
                docker
                    .swarm
                    .map_or("off", |s| if s.enabled { "on" } else { "off" })
            ));
            Ok(EXIT_OK)
        }
        Command::DaemonConfig {
            current,
            write,
            diff,
            check,
            format,
            ..
        } => {
            let path = current
                .or_else(|| write.clone())
                .unwrap_or_else(|| PathBuf::from("/etc/docker/daemon.json"));
            let cur = DaemonConfig::read(&path)?;
            if check {
                let problems = cur.validate(&ranges);
                if format == Format::Json {
                    json(&problems)?;
                }
                for p in &problems {
                    out.error(&p.to_string());
                    out.hint(&p.hint);
                }
                if problems.is_empty() {
                    out.note(&format!("{} has no problems", path.display()));
                }
                return Ok(if problems.is_empty() {
                    EXIT_OK
                } else {
                    EXIT_FAIL
                });
            }
            let text = cur.merged(&docker);
            let result = DaemonConfig::parse(&path, text.clone())?;
            let problems = result.validate(&ranges);
            for p in &problems {
                out.error(&format!("{p} (in the merged result; value {})", p.value));
                out.hint(&p.hint);
            }
            // Networks that exist already keep their subnets whatever the
            // file says: they are checked on the Engine when it answers.
            let mut overlaps = Vec::new();
            match connect().and_then(|e| Ok(e.network_facts()?)) {
                Ok(nets) => {
                    overlaps = labdocker::audit::networks(&nets, &ranges);
                    for f in &overlaps {
                        out.error(&format!("existing {}: {}", f.object, f.evidence));
                        out.hint(f.fix);
                    }
                }
                Err(e) => out.note(&format!(
                    "existing Docker networks were not checked: {}",
                    describe(&e)
                )),
            }
            if diff {
                data(&unified_diff(
                    &path.display().to_string(),
                    "from the lab file",
                    &cur.text,
                    &text,
                ))?;
            } else if write.is_none() {
                data(&text)?;
            }
            if !problems.is_empty() || !overlaps.is_empty() {
                if write.is_some() {
                    out.error("nothing was written");
                }
                return Ok(EXIT_FAIL);
            }
            if let Some(dest) = write {
                let target = DaemonConfig::read(&dest)?;
                if target.text == text {
                    out.note(&format!("{} is already as the lab asks", dest.display()));
                } else {
                    target.write(&text)?;
                    out.note(&format!("wrote {}", dest.display()));
                    out.hint("restart dockerd (systemctl restart docker) for it to take effect");
                }
            }
            Ok(EXIT_OK)
        }
        Command::Health { format, .. } => {
            let engine = connect()?;
            let r = engine.health()?;
            match format {
                Format::Json => json(&r)?,
                Format::Text => {
                    let mut t = format!(
                        "{:<24} {:<11} {:<10} {:>8}  {:<28} NETWORKS\n",
                        "NAME", "STATE", "HEALTH", "RESTARTS", "PORTS"
                    );
                    for c in &r.containers {
                        let ports: Vec<String> = c
                            .ports
                            .iter()
                            .map(|p| format!("{}:{}->{}", p.host_ip, p.host_port, p.container))
                            .collect();
                        let nets: Vec<String> = c
                            .networks
                            .iter()
                            .map(|(n, ip)| format!("{n} {ip}"))
                            .collect();
                        t.push_str(&format!(
                            "{:<24} {:<11} {:<10} {:>8}  {:<28} {}\n",
                            c.name,
                            c.state,
                            serde_json::to_value(c.health)?.as_str().unwrap_or_default(),
                            c.restart_count,
                            if ports.is_empty() {
                                "-".to_owned()
                            } else {
                                ports.join(",")
                            },
                            nets.join(", ")
                        ));
                    }
                    data(&t)?;
                }
            }
            for c in &r.containers {
                if let Some(p) = c.problem() {
                    out.error(&format!("container {}: {p}", c.name));
                }
            }
            if r.ok() {
                out.note(&format!("{} containers, none failing", r.containers.len()));
                Ok(EXIT_OK)
            } else {
                Ok(EXIT_FAIL)
            }
        }
        Command::Watch {
            count,
            since,
            format,
            ..
        } => {
            let engine = connect()?;
            let since = since.map(|s| {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
                now - s
            });
            out.note("watching container health and state changes (Ctrl-C to stop)");
            let mut seen = 0usize;
            let mut failed = None;
            engine.watch(since, |c| {
                let line = match format {
                    Format::Json => serde_json::to_string(&c).unwrap_or_default(),
                    Format::Text => {
                        let h = |h: Option<labdocker::inventory::Health>| {
                            h.and_then(|h| serde_json::to_value(h).ok())
                                .and_then(|v| v.as_str().map(str::to_owned))
                                .unwrap_or_else(|| "?".to_owned())
                        };
                        let what = match (c.action.as_str(), c.to) {
                            ("health_status", Some(_)) => {
                                format!("health {} -> {}", h(c.from), h(c.to))
                            }
                            ("die", _) => format!("died (exit code {})", c.exit_code.unwrap_or(-1)),
                            (a, _) => a.to_owned(),
                        };
                        format!("{} {:<24} {what}", c.time_nanos / 1_000_000_000, c.name)
                    }
                };
                if let Err(e) = data(&(line + "\n")) {
                    failed = Some(e);
                    return ControlFlow::Break(());
                }
                seen += 1;
                if count.is_some_and(|n| seen >= n) {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })?;
            if let Some(e) = failed {
                return Err(e);
            }
            Ok(EXIT_OK)
        }
        Command::Audit {
            format,
            fail_on,
            daemon_json,
            ..
        } => {
            let engine = connect()?;
            let dj = match DaemonConfig::read(&daemon_json) {
                Ok(c) if !c.text.is_empty() => Some(serde_json::Value::Object(c.values)),
                Ok(_) => {
                    out.note(&format!(
                        "{} does not exist: the daemon checks assume Docker's defaults",
                        daemon_json.display()
                    ));
                    Some(serde_json::Value::Object(serde_json::Map::new()))
                }
                Err(e) => {
                    out.error(&format!(
                        "{e}: the daemon checks that need it assume Docker's defaults"
                    ));
                    None
                }
            };
            let r = engine.audit(&ranges, dj.as_ref())?;
            match format {
                AuditFormat::Json => json(&r)?,
                AuditFormat::Sarif => json(&r.to_sarif(env!("CARGO_PKG_VERSION")))?,
                AuditFormat::Text => {
                    let mut t = String::new();
                    for f in &r.findings {
                        t.push_str(&format!(
                            "{:<8} {} {}: {}{}\n    evidence: {}\n    fix: {}\n",
                            f.severity.as_str().to_uppercase(),
                            f.check,
                            f.object,
                            f.title,
                            f.cis.map(|c| format!(" [CIS {c}]")).unwrap_or_default(),
                            f.evidence,
                            f.fix
                        ));
                    }
                    let counts: Vec<String> = Severity::ALL
                        .iter()
                        .rev()
                        .map(|s| format!("{} {s}", r.counts.get(s).copied().unwrap_or(0)))
                        .collect();
                    t.push_str(&format!(
                        "{} containers audited: {}\n",
                        r.containers,
                        counts.join(", ")
                    ));
                    data(&t)?;
                }
            }
            Ok(if r.fails(fail_on) { EXIT_FAIL } else { EXIT_OK })
        }
        Command::Df { format, .. } => {
            let engine = connect()?;
            let d = engine.df()?;
            match format {
                Format::Json => json(&d)?,
                Format::Text => {
                    let mut t = format!(
                        "{:<14} {:>6} {:>7} {:>10} {:>12}\n",
                        "TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"
                    );
                    for (n, u) in [
                        ("Images", d.images),
                        ("Containers", d.containers),
                        ("Local Volumes", d.volumes),
                        ("Build Cache", d.build_cache),
                    ] {
                        t.push_str(&format!(
                            "{n:<14} {:>6} {:>7} {:>10} {:>12}\n",
                            u.count,
                            u.active,
                            bytes(u.size),
                            bytes(u.reclaimable)
                        ));
                    }
                    data(&t)?;
                }
            }
            Ok(EXIT_OK)
        }
        Command::Prune {
            dry_run, format, ..
        } => {
            let engine = connect()?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
            let plan = engine.prune_plan(&docker.prune, now)?;
            let text_plan = |items: &[labdocker::prune::Item]| {
                let mut t = String::new();
                for i in items {
                    let short = i.id.strip_prefix("sha256:").unwrap_or(&i.id);
                    t.push_str(&format!(
                        "{:<12} {:<14} {:>10}  {}\n",
                        i.kind.to_string(),
                        &short[..short.len().min(12)],
                        bytes(i.size),
                        i.name
                    ));
                }
                t
            };
            if dry_run {
                match format {
                    Format::Json => json(&plan)?,
                    Format::Text => data(&text_plan(&plan.items))?,
                }
                out.note(&format!(
                    "would remove {} objects, {} (kept: {} images newer than the policy's limit, {} volumes)",
                    plan.items.len(),
                    bytes(plan.total_size()),
                    plan.kept_new_images,
                    plan.kept_volumes
                ));
                return Ok(EXIT_OK);
            }
            let outcomes = engine.prune(&plan);
            let failed: Vec<_> = outcomes.iter().filter(|o| o.error.is_some()).collect();
            match format {
                Format::Json => json(&outcomes)?,
                Format::Text => {
                    let done: Vec<_> = outcomes
                        .iter()
                        .filter(|o| o.error.is_none())
                        .map(|o| o.item.clone())
                        .collect();
                    data(&text_plan(&done))?;
                }
            }
            for f in &failed {
                out.error(&format!(
                    "{} {} was not removed: {}",
                    f.item.kind,
                    f.item.name,
                    f.error.as_deref().unwrap_or_default()
                ));
            }
            out.note(&format!(
                "removed {} of {} objects",
                outcomes.len() - failed.len(),
                outcomes.len()
            ));
            Ok(if failed.is_empty() {
                EXIT_OK
            } else {
                EXIT_FAIL
            })
        }
        Command::Swarm(cmd) => swarm(cmd, &docker, &connect()?, out),
    }
}

fn render_status(s: &labdocker::swarm::ServiceStatus) -> String {
    let mut t = format!(
        "service {} ({}): {}/{} running{}\n",
        s.name,
        &s.id[..s.id.len().min(12)],
        s.running,
        s.replicas,
        if s.owned { "" } else { " (not labkit's)" }
    );
    for task in &s.tasks {
        t.push_str(&format!(
            "  task {}.{} {:<10} desired {:<10} {}{}\n",
            s.name,
            task.slot,
            task.state,
            task.desired,
            task.message,
            task.error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        ));
    }
    t
}

fn swarm(cmd: SwarmCommand, docker: &Docker, engine: &Engine, out: &Output) -> Result<u8> {
    match cmd {
        SwarmCommand::Init {
            advertise, format, ..
        } => {
            let Some(sw) = docker.swarm.filter(|s| s.enabled) else {
                out.error("the lab file does not enable Swarm");
                out.hint("add swarm = { enabled = true, address_pool = \"172.30.0.0/16\", subnet_size = 24 } to [docker]");
                return Ok(EXIT_FAIL);
            };
            let node = engine.swarm_init(&sw, &advertise)?;
            let st = engine.swarm_status()?;
            match format {
                Format::Json => json(&st)?,
                Format::Text => data(&format!(
                    "swarm active: node {node}, pool {} /{}, ingress {}\n",
                    st.default_addr_pool.join(","),
                    st.subnet_size.unwrap_or(0),
                    st.ingress.join(",")
                ))?,
            }
            Ok(EXIT_OK)
        }
        SwarmCommand::Status { format, .. } => {
            let st = engine.swarm_status()?;
            match format {
                Format::Json => json(&st)?,
                Format::Text => {
                    let mut t = format!("swarm {}", st.state);
                    if st.state == "active" {
                        t.push_str(&format!(
                            ": node {} at {}, pool {} /{}, ingress {}",
                            st.node_id.as_deref().unwrap_or("?"),
                            st.node_addr.as_deref().unwrap_or("?"),
                            st.default_addr_pool.join(","),
                            st.subnet_size.unwrap_or(0),
                            st.ingress.join(",")
                        ));
                    }
                    t.push('\n');
                    for s in &st.services {
                        t.push_str(&render_status(s));
                    }
                    data(&t)?;
                }
            }
            Ok(EXIT_OK)
        }
        SwarmCommand::Leave { .. } => {
            let bridge = engine.swarm_leave()?;
            out.note(if bridge {
                "left the Swarm and removed docker_gwbridge"
            } else {
                "left the Swarm (there was no docker_gwbridge)"
            });
            Ok(EXIT_OK)
        }
        SwarmCommand::Deploy {
            name,
            image,
            replicas,
            publish,
            network,
            label,
            wait,
            format,
            ..
        } => {
            let mut svc = Service::new(&name, &image);
            svc.replicas = replicas;
            svc.publish = publish;
            svc.networks = network;
            svc.labels = label.into_iter().collect::<HashMap<_, _>>();
            let st = engine.deploy(&svc, Duration::from_secs(wait))?;
            match format {
                Format::Json => json(&st)?,
                Format::Text => data(&render_status(&st))?,
            }
            let want = usize::try_from(st.replicas).unwrap_or(0);
            if st.running < want {
                out.error(&format!(
                    "service {name}: {} of {want} tasks run after {wait} s",
                    st.running
                ));
                return Ok(EXIT_FAIL);
            }
            Ok(EXIT_OK)
        }
        SwarmCommand::Rm { name, .. } => {
            engine.remove_service(&name)?;
            out.note(&format!("removed service {name}"));
            Ok(EXIT_OK)
        }
    }
}

fn describe(e: &anyhow::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let m = match c.downcast_ref::<labdocker::bollard::errors::Error>() {
            Some(b) => labdocker::describe(b),
            None => c.to_string(),
        };
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        src = c.source();
    }
    s
}

fn main() -> ExitCode {
    let cli: Cli = match labcli::parse_args() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let out = Output::new(cli.color, cli.quiet);
    match run(cli, &out) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            out.error(&describe(&e));
            ExitCode::from(EXIT_USAGE)
        }
    }
}
