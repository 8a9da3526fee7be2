//! `labvirt`: the lab's segments and VMs on libvirt.
//!
//! A thin binary over the `labvirt` library: the library plans, applies and
//! reports as data; this renders it.

mod live;
mod render;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Parser, Subcommand, ValueEnum};
use labcli::{ColorWhen, Format, Output, data};

/// Exit status: success.
pub(crate) const EXIT_OK: u8 = 0;
/// Exit status: the lab is invalid, or the plan is refused (conflicts, budget).
pub(crate) const EXIT_FAIL: u8 = 1;
/// Exit status: usage error, unreadable file, libvirt unreachable or a libvirt call failed.
pub(crate) const EXIT_USAGE: u8 = 2;

const AFTER_HELP: &str = "\
LAB is a lab file (TOML, see docs/lab-file.md), or - for standard input.
Without LAB, commands use the built-in reference lab.

Exit status:
  0  success: the lab is valid; the plan can be applied; apply, destroy or migrate-default finished
  1  the lab is invalid, the plan is refused (a pre-flight conflict or the budget), or
     migrate-default finds a VM's network not running: nothing changed
  2  usage error, a file could not be read or written, libvirt could not be reached or a
     libvirt call failed (apply: the steps before it stay done; apply again to continue)

Environment:
  NO_COLOR  set to anything to turn colour off (as --color never)

plan, apply, status, destroy and migrate-default talk to libvirt: the lab's
[host] uri, or --uri. They need labvirt built with the `libvirt` feature; without
it, `plan --offline` plans against an empty host.";

#[derive(Debug, Parser)]
#[command(name = "labvirt", version, about = "The lab's segments and VMs on libvirt", after_help = AFTER_HELP, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// When to colour diagnostics on standard error.
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto, global = true)]
    color: ColorWhen,
    /// Do not print warnings or progress, only errors and data.
    #[arg(long, short, global = true)]
    quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum GraphFormat {
    /// A Mermaid flowchart.
    Mermaid,
    /// Graphviz DOT.
    Dot,
}

#[derive(Debug, Args)]
pub(crate) struct Target {
    /// Lab file; default: the built-in reference lab.
    pub(crate) lab: Option<PathBuf>,
    /// libvirt URI instead of the lab file's host uri (e.g. test:///PATH.xml, qemu+unix:///system?socket=...).
    #[arg(long)]
    pub(crate) uri: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate the lab's host and VM sections and check the budget.
    Check {
        /// Lab file; default: the built-in reference lab.
        lab: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Show what apply would create, update, keep and remove, and whether updates apply live.
    Plan {
        #[command(flatten)]
        target: Target,
        /// Plan against an empty host, without libvirt.
        #[arg(long)]
        offline: bool,
    },
    /// Make the host hold the lab: pools, volumes, seeds, networks, VMs. A second apply changes nothing.
    Apply {
        #[command(flatten)]
        target: Target,
    },
    /// Networks (active, autostart, bridge, leases) and VMs (state, vCPUs, memory, network, IP, SSH port).
    Status {
        #[command(flatten)]
        target: Target,
    },
    /// Remove the VMs (with their volumes) and networks labvirt made for this lab, nothing else.
    Destroy {
        #[command(flatten)]
        target: Target,
    },
    /// Move every NIC on `default` to its VM's segment, then stop `default` if nothing uses it.
    MigrateDefault {
        #[command(flatten)]
        target: Target,
    },
    /// Draw the topology: segments, VMs and the flows the policy allows.
    Graph {
        /// Lab file; default: the built-in reference lab.
        lab: Option<PathBuf>,
        /// Mermaid or DOT.
        #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
        format: GraphFormat,
    },
    /// Print the libvirt XML labvirt defines for a network or a VM.
    Xml {
        /// Lab file; default: the built-in reference lab.
        lab: Option<PathBuf>,
        /// A segment's network.
        #[arg(long, conflicts_with = "vm", required_unless_present = "vm")]
        network: Option<String>,
        /// A VM's domain.
        #[arg(long)]
        vm: Option<String>,
        /// Domain type to write (the host decides on apply).
        #[arg(long, value_enum, default_value_t = TypeArg::Qemu)]
        domain_type: TypeArg,
    },
    /// Write a VM's cloud-init seed image (ISO 9660, label cidata), or print its files.
    Seed {
        /// Lab file; default: the built-in reference lab.
        lab: Option<PathBuf>,
        /// The VM.
        #[arg(long)]
        vm: String,
        /// Write the image here; without it, print the files.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Output format of the printed files.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TypeArg {
    Kvm,
    Qemu,
}

pub(crate) fn load(lab: Option<&Path>, out: &Output) -> Result<Result<labvirt::VirtLab, u8>> {
    let Some(path) = lab else {
        return Ok(Ok(labvirt::reference::lab()));
    };
    Ok(match labcli::load(path, out, labvirt::from_document)? {
        Some(l) => {
            out.diagnostics(l.net.warnings());
            Ok(l)
        }
        None => Err(EXIT_FAIL),
    })
}

pub(crate) fn json<T: serde::Serialize>(v: &T) -> Result<()> {
    data(&(serde_json::to_string_pretty(v)? + "\n"))
}

fn run(cmd: Command, out: &Output) -> Result<u8> {
    match cmd {
        Command::Check { lab, format } => {
            let lab = match load(lab.as_deref(), out)? {
                Ok(l) => l,
                Err(c) => return Ok(c),
            };
            let budget =
                labvirt::budget::check(&lab.host, &lab.vms, labvirt::budget::Other::default());
            match format {
                Format::Json => json(&serde_json::json!({
                    "lab": lab.name(),
                    "host": &lab.host,
                    "vms": &lab.vms,
                    "budget": &budget,
                }))?,
                Format::Text => data(&render::check(&lab, &budget))?,
            }
            Ok(if budget.fits() { EXIT_OK } else { EXIT_FAIL })
        }
        Command::Plan {
            target,
            offline: true,
        } => {
            let lab = match load(target.lab.as_deref(), out)? {
                Ok(l) => l,
                Err(c) => return Ok(c),
            };
            let dt = lab.host.domain_type.unwrap_or(labvirt::DomainType::Kvm);
            let want = labvirt::spec::desired(&lab, dt, &|_| None);
            let plan =
                labvirt::plan::plan(&want, &lab.host, &labvirt::observe::Observed::default());
            match target.format {
                Format::Json => json(&plan)?,
                Format::Text => data(&render::plan(&plan))?,
            }
            Ok(if plan.is_applicable() {
                EXIT_OK
            } else {
                EXIT_FAIL
            })
        }
        Command::Graph { lab, format } => {
            let lab = match load(lab.as_deref(), out)? {
                Ok(l) => l,
                Err(c) => return Ok(c),
            };
            data(&match format {
                GraphFormat::Mermaid => labvirt::graph::mermaid(&lab),
                GraphFormat::Dot => labvirt::graph::dot(&lab),
            })?;
            Ok(EXIT_OK)
        }
        Command::Xml {
            lab,
            network,
            vm,
            domain_type,
        } => {
            let lab = match load(lab.as_deref(), out)? {
                Ok(l) => l,
                Err(c) => return Ok(c),
            };
            let dt = match domain_type {
                TypeArg::Kvm => labvirt::DomainType::Kvm,
                TypeArg::Qemu => labvirt::DomainType::Qemu,
            };
            let want = labvirt::spec::desired(&lab, dt, &|_| None);
            if let Some(n) = network {
                let Some(s) = want.networks.iter().find(|s| s.name == n) else {
                    out.error(&format!("the lab has no segment {n:?}"));
                    out.hint(&format!(
                        "its segments: {}",
                        names(want.networks.iter().map(|s| s.name.as_str()))
                    ));
                    return Ok(EXIT_USAGE);
                };
                data(&labvirt::xml::network(s, &want.lab))?;
            } else if let Some(v) = vm {
                let Some(d) = want.domains.iter().find(|d| d.vm.name.as_str() == v) else {
                    out.error(&format!("the lab has no VM {v:?}"));
                    out.hint(&format!(
                        "its VMs: {}",
                        names(want.domains.iter().map(|d| d.vm.name.as_str()))
                    ));
                    return Ok(EXIT_USAGE);
                };
                data(&labvirt::xml::domain(d))?;
            }
            Ok(EXIT_OK)
        }
        Command::Seed {
            lab,
            vm,
            output,
            format,
        } => {
            let lab = match load(lab.as_deref(), out)? {
                Ok(l) => l,
                Err(c) => return Ok(c),
            };
            let Some(v) = lab.vm(&vm) else {
                out.error(&format!("the lab has no VM {vm:?}"));
                out.hint(&format!(
                    "its VMs: {}",
                    names(lab.vms.iter().map(|v| v.name.as_str()))
                ));
                return Ok(EXIT_USAGE);
            };
            let seed = labvirt::seed::seed(&lab, v);
            match output {
                Some(path) => {
                    let iso = seed.iso()?;
                    labfile::replace_file(&path, &iso).map_err(|e| {
                        anyhow::Error::new(e).context(format!("cannot write {}", path.display()))
                    })?;
                    out.note(&format!("wrote {} ({} bytes)", path.display(), iso.len()));
                }
                None => match format {
                    Format::Json => json(&seed)?,
                    Format::Text => data(&format!(
                        "# meta-data\n{}\n# user-data\n{}\n# network-config\n{}",
                        seed.meta_data, seed.user_data, seed.network_config
                    ))?,
                },
            }
            Ok(EXIT_OK)
        }
        Command::Plan {
            target,
            offline: false,
        } => live::run(live::Live::Plan, &target, out),
        Command::Apply { target } => live::run(live::Live::Apply, &target, out),
        Command::Status { target } => live::run(live::Live::Status, &target, out),
        Command::Destroy { target } => live::run(live::Live::Destroy, &target, out),
        Command::MigrateDefault { target } => live::run(live::Live::MigrateDefault, &target, out),
    }
}

fn names<'a>(it: impl Iterator<Item = &'a str>) -> String {
    it.collect::<Vec<_>>().join(", ")
}

fn main() -> ExitCode {
    let cli: Cli = match labcli::parse_args() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let out = Output::new(cli.color, cli.quiet);
    match run(cli.command, &out) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            out.error(&format!("{e:#}"));
            ExitCode::from(EXIT_USAGE)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
