//! `labsec`: the lab's security baseline. A thin binary over the `labsec`
//! library, which decides; this renders.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};
use labcli::{ColorWhen, Output, data};
use labsec::audit::Severity;
use labsec::live::{AuditError, Target};

/// Exit status: success.
const EXIT_OK: u8 = 0;
/// Exit status: the lab is invalid, or the audit found something at or above --fail-on.
const EXIT_FAIL: u8 = 1;
/// Exit status: usage error or unreadable file.
const EXIT_USAGE: u8 = 2;

const AFTER_HELP: &str = "\
LAB is the lab file (TOML, see docs/lab-file.md); its [security] section is
the baseline (defaults when it is missing), its segments give each host's SSH
port range. - reads standard input.

Exit status:
  0  success (audit: nothing at or above --fail-on)
  1  the lab is invalid, or the audit found something at or above --fail-on
  2  usage error, or a file could not be read

Environment:
  NO_COLOR  set to anything to turn colour off (as --color never)";

#[derive(Debug, Parser)]
#[command(name = "labsec", version, about = "The lab's security baseline, audited from the daemons' effective configuration", after_help = AFTER_HELP, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// When to colour diagnostics on standard error.
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto, global = true)]
    color: ColorWhen,
    /// Do not print notes, only errors and data.
    #[arg(long, short, global = true)]
    quiet: bool,
}

/// `audit --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum AuditFormat {
    /// For people.
    Human,
    /// One JSON document.
    Json,
    /// SARIF 2.1.0, for code-scanning tools.
    Sarif,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check the lab file's security section (and the sections it depends on).
    Check {
        /// Lab file.
        lab: PathBuf,
    },
    /// Audit this host (or an offline tree) against the baseline; exit 1 at
    /// or above --fail-on.
    Audit {
        /// Lab file.
        lab: PathBuf,
        /// Read everything below DIR instead of this machine (an offline tree,
        /// a mounted VM disk image, fixtures); sshd's configuration is then
        /// read by labsec, not sshd -T.
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        /// The host's segment: its sshd must listen inside the segment's ssh_ports.
        #[arg(long)]
        segment: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = AuditFormat::Human)]
        format: AuditFormat,
        /// The lowest severity that makes the exit status 1.
        #[arg(long, default_value = "high", value_parser = parse_severity)]
        fail_on: Severity,
    },
    /// Write the baseline's files (sshd drop-in, fail2ban jails and filter,
    /// sysctl.d, auditd rules, automatic updates), each validated first, a
    /// backup of every file replaced; --rollback restores the last backup.
    Harden {
        /// Lab file.
        lab: PathBuf,
        /// Write below DIR instead of this machine.
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        /// The host's segment: sshd's port comes from its ssh_ports.
        #[arg(long)]
        segment: Option<String>,
        /// Print a unified diff per file and the sshd settings that change; write nothing.
        #[arg(long, conflicts_with = "rollback")]
        dry_run: bool,
        /// Restore the files the last harden replaced and remove those it created.
        #[arg(long)]
        rollback: bool,
    },
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse()
}

fn lab_of(cmd: &Command) -> &Path {
    match cmd {
        Command::Check { lab } | Command::Audit { lab, .. } | Command::Harden { lab, .. } => lab,
    }
}

fn run(cli: Cli, out: &Output) -> Result<u8> {
    let Some((policy, net)) = labcli::load(lab_of(&cli.command), out, labsec::from_document)?
    else {
        return Ok(EXIT_FAIL);
    };
    out.diagnostics(net.warnings());
    match cli.command {
        Command::Check { .. } => {
            out.note(&format!(
                "[security] is valid: AllowGroups {}, MaxAuthTries {}, LoginGraceTime {}, jails {}",
                if policy.ssh.allow_groups.is_empty() {
                    "unset".to_owned()
                } else {
                    policy.ssh.allow_groups.join(" ")
                },
                policy.ssh.max_auth_tries,
                policy.ssh.login_grace_time,
                policy.fail2ban.jails.join(", ")
            ));
            Ok(EXIT_OK)
        }
        Command::Audit {
            root,
            segment,
            format,
            fail_on,
            ..
        } => {
            let target = root.as_deref().map_or(Target::Host, Target::Root);
            if let Some(r) = &root
                && !r.is_dir()
            {
                out.error(&format!("{} is not a directory", r.display()));
                return Ok(EXIT_USAGE);
            }
            let r = match labsec::live::audit(target, &policy, &net, segment.as_deref()) {
                Ok(r) => r,
                Err(AuditError::UnknownSegment { name, known }) => {
                    out.error(&format!("there is no segment {name:?} in the lab"));
                    out.hint(&format!("the segments are: {}", known.join(", ")));
                    return Ok(EXIT_USAGE);
                }
                Err(e) => return Err(e.into()),
            };
            match format {
                AuditFormat::Json => data(&(serde_json::to_string_pretty(&r)? + "\n"))?,
                AuditFormat::Sarif => data(
                    &(serde_json::to_string_pretty(&r.to_sarif(env!("CARGO_PKG_VERSION")))? + "\n"),
                )?,
                AuditFormat::Human => {
                    let mut t = String::new();
                    for f in &r.findings {
                        t.push_str(&format!(
                            "{:<8} {} {} [{}]\n    evidence: {}{}\n    fix: {}\n",
                            f.severity.as_str().to_uppercase(),
                            f.check,
                            f.title,
                            f.reference,
                            f.evidence,
                            f.location
                                .as_ref()
                                .map(|o| format!(" ({}:{})", o.file, o.line))
                                .unwrap_or_default(),
                            f.remediation
                        ));
                    }
                    let counts: Vec<String> = Severity::ALL
                        .iter()
                        .rev()
                        .map(|s| {
                            format!("{} {}", r.counts.get(s).copied().unwrap_or(0), s.as_str())
                        })
                        .collect();
                    t.push_str(&format!(
                        "{} checks, score {}/100: {}\n",
                        r.checks,
                        r.score,
                        counts.join(", ")
                    ));
                    data(&t)?;
                }
            }
            Ok(if r.fails(fail_on) { EXIT_FAIL } else { EXIT_OK })
        }
        Command::Harden {
            root,
            segment,
            dry_run,
            rollback,
            ..
        } => harden(
            root.as_deref(),
            segment.as_deref(),
            dry_run,
            rollback,
            &policy,
            &net,
            out,
        ),
    }
}

fn harden(
    root: Option<&Path>,
    segment: Option<&str>,
    dry_run: bool,
    rollback: bool,
    policy: &labsec::Security,
    net: &labnet::LabFile,
    out: &Output,
) -> Result<u8> {
    use labsec::harden;
    let tree = labsec::sshd::Tree::new(root.unwrap_or(Path::new("/")));
    if rollback {
        let done = harden::rollback(&tree)?;
        for p in &done {
            out.note(&format!("restored {p}"));
        }
        out.hint("reload sshd, fail2ban and sysctl (systemctl reload ssh fail2ban; sysctl --system) for the old files to take effect");
        return Ok(EXIT_OK);
    }
    let range = match segment {
        None => None,
        Some(name) => match net
            .lab()
            .segments()
            .iter()
            .find(|s| s.name.as_str() == name)
        {
            Some(s) => Some(s.ssh_ports),
            None => {
                out.error(&format!("there is no segment {name:?} in the lab"));
                return Ok(EXIT_USAGE);
            }
        },
    };
    let plan = match harden::plan(&tree, policy, range) {
        Ok(p) => p,
        Err(e @ harden::HardenError::NoAuthorizedKey { .. }) => {
            out.error(&e.to_string());
            out.hint("add a public key to ~/.ssh/authorized_keys of a member of allow_groups first; nothing was written");
            return Ok(EXIT_FAIL);
        }
        Err(harden::HardenError::SelinuxPort { port, labelled }) => {
            out.error(&format!("SELinux is enforcing and port {port} is not labelled ssh_port_t ({labelled}): sshd could not bind it"));
            out.hint(&format!("semanage port -a -t ssh_port_t -p tcp {port}, then run harden again; nothing was written"));
            return Ok(EXIT_FAIL);
        }
        Err(e) => return Err(e.into()),
    };
    for n in &plan.notes {
        out.note(n);
    }
    if plan.changes.is_empty() {
        out.note("the host already meets the baseline: nothing to write");
        return Ok(EXIT_OK);
    }
    if dry_run {
        let mut t = String::new();
        for c in &plan.changes {
            t.push_str(&labcli::unified_diff(
                &c.path,
                "labsec harden",
                c.old.as_deref().unwrap_or(""),
                &c.new,
            ));
        }
        let (source, changed) = harden::sshd_difference(&tree, &plan)?;
        if !changed.is_empty() {
            t.push_str(&format!("--- {source}\n+++ {source} (labsec harden)\n"));
            for (k, b, a) in changed {
                t.push_str(&format!("-{k} {b}\n+{k} {a}\n"));
            }
        }
        data(&t)?;
        out.note(&format!(
            "would write {} files; nothing was written",
            plan.changes.len()
        ));
        return Ok(EXIT_OK);
    }
    match harden::apply(&tree, &plan) {
        Ok(written) => {
            for p in &written {
                out.note(&format!("wrote {p}"));
            }
            out.note(&format!(
                "sshd's port: {}; backups in {}",
                plan.ssh_port,
                harden::backup_dir(&tree).display()
            ));
            out.hint("reload sshd, fail2ban and sysctl (systemctl reload ssh fail2ban; sysctl --system); labsec harden --rollback undoes this");
            Ok(EXIT_OK)
        }
        Err(
            e @ (harden::HardenError::Refused { .. } | harden::HardenError::UnknownSysctl { .. }),
        ) => {
            out.error(&e.to_string());
            out.note("nothing was written");
            Ok(EXIT_FAIL)
        }
        Err(e) => Err(e.into()),
    }
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
            out.error(&format!("{e:#}"));
            ExitCode::from(EXIT_USAGE)
        }
    }
}
