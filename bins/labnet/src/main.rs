//! `labnet`: check, compile and query a lab's segment routing policy.
//!
//! A thin binary over the `labnet` library: the flags of `compile` and
//! `query` are the library's own option structs, flattened.

mod commands;
mod live;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use labcli::{ColorWhen, Format};

use labnet::kernel::{ApplyOptions, Backend, LiveOptions};
use labnet::query::Query;
use labnet::target::CompileOptions;

/// Exit status: success (valid lab, allowed query).
pub(crate) const EXIT_OK: u8 = 0;
/// Exit status: the lab is invalid, or the query is denied or only partly allowed.
pub(crate) const EXIT_FAIL: u8 = 1;
/// Exit status: usage error, or a file could not be read or written, or the kernel refused.
pub(crate) const EXIT_USAGE: u8 = 2;
/// Exit status: the live ruleset differs from the lab file (`diff`, `status`).
pub(crate) const EXIT_DRIFT: u8 = 3;
/// Exit status: a kernel step failed after the kernel was changed, and the
/// change could not be undone: the ruleset is neither the old nor the new one.
pub(crate) const EXIT_CHANGED: u8 = 4;

const AFTER_HELP: &str = "\
LAB is a lab file (TOML, see docs/lab-file.md), or - for standard input.
Without LAB, commands use the built-in reference lab (print it with `labnet reference`).

Exit status:
  0  success: the lab is valid, the output was written, the query is allowed
  1  the lab is invalid; the query is denied or only partly allowed; verify saw
     traffic differ from the lab file; doctor found problems; confirm found nothing pending
  2  usage error, a file could not be read or written, or the kernel or a tool refused,
     or another apply is pending or running: nothing was changed
  3  diff/status: the live ruleset differs from the lab file
  4  apply/remove: a step failed after the kernel was changed and the change could
     not be undone (the message says what is live; `labnet status` shows it)

Environment:
  NO_COLOR          set to anything to turn colour off (as --color never)
  LABNET_STATE_DIR  where pending confirmations live (default /run/labnet)

apply, diff, status, confirm, cancel, doctor, remove and verify need root.";

#[derive(Debug, Parser)]
#[command(
    name = "labnet",
    version,
    about = "Check, compile and query the segment routing policy of a labkit lab",
    after_help = AFTER_HELP,
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    global: Global,
}

#[derive(Debug, Args)]
struct Global {
    /// When to colour diagnostics on standard error.
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto, global = true)]
    color: ColorWhen,
    /// Do not print warnings or progress, only errors and data.
    #[arg(long, short, global = true)]
    quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum MatrixFormat {
    /// An aligned table.
    Text,
    /// One JSON document.
    Json,
    /// A Markdown table.
    Markdown,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate a lab file and print a summary.
    Check {
        /// Lab file; default: the built-in reference lab.
        lab: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Compile the routing policy for nftables, libnftables JSON or iptables.
    Compile {
        /// Lab file; default: the built-in reference lab.
        lab: Option<PathBuf>,
        #[command(flatten)]
        opts: CompileOptions,
        /// Write here instead of standard output (replaced atomically; nothing is written if the lab is invalid).
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Print the segment-by-segment reachability matrix, internet egress included.
    Matrix {
        /// Lab file; default: the built-in reference lab.
        lab: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = MatrixFormat::Text)]
        format: MatrixFormat,
    },
    /// Ask whether one segment may reach another (or an address), and which rule decides.
    Query {
        /// Lab file; default: the built-in reference lab.
        lab: Option<PathBuf>,
        #[command(flatten)]
        query: Query,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Print the built-in reference lab as a lab file, to start your own from.
    Reference,
    /// Load the compiled policy into the kernel, replacing only labnet's table, atomically.
    Apply {
        /// Lab file; default: the built-in reference lab.
        lab: Option<PathBuf>,
        #[command(flatten)]
        live: LiveOptions,
        #[command(flatten)]
        opts: ApplyOptions,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Compare the live table with the lab file; exit 3 on any difference.
    Diff {
        /// Lab file; default: the built-in reference lab.
        lab: Option<PathBuf>,
        #[command(flatten)]
        live: LiveOptions,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Summarise the live table: loaded, in sync, counters, pending confirmation.
    Status {
        /// Lab file; default: the built-in reference lab.
        lab: Option<PathBuf>,
        #[command(flatten)]
        live: LiveOptions,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Keep an apply made with --confirm-within (otherwise it is rolled back at the deadline).
    Confirm {
        #[command(flatten)]
        live: LiveOptions,
    },
    /// Undo an apply made with --confirm-within now, instead of at the deadline.
    Cancel {
        #[command(flatten)]
        live: LiveOptions,
    },
    /// Find other firewall rules (Docker, libvirt) that drop, reject or rewrite allowed lab traffic.
    Doctor {
        /// Lab file; default: the built-in reference lab.
        lab: Option<PathBuf>,
        #[command(flatten)]
        live: LiveOptions,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Remove labnet's table and its DOCKER-USER accepts (only a table labnet made).
    Remove {
        #[command(flatten)]
        live: LiveOptions,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Prove the policy with real packets in throwaway namespaces; exit 1 on any difference.
    Verify {
        /// Lab file; default: the built-in reference lab.
        lab: Option<PathBuf>,
        /// How the ruleset is loaded into the test router.
        #[arg(long, value_enum, default_value_t = Backend::Auto)]
        backend: Backend,
        /// Milliseconds after which a connection or echo counts as blocked.
        #[arg(long, value_name = "MS", default_value_t = 1500)]
        timeout: u64,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Internal: the rollback watchdog `apply --confirm-within` starts.
    #[command(name = "__watchdog", hide = true)]
    Watchdog {
        /// The pending record.
        record: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli: Cli = match labcli::parse_args() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let out = labcli::Output::new(cli.global.color, cli.global.quiet);
    match commands::run(cli.command, &out) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            out.error(&format!("{e:#}"));
            let code = live::report_error(&e, &out);
            ExitCode::from(code)
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
