//! `labbackup`: restic-compatible backups of the lab. A thin binary over the
//! `labbackup` library, which decides; this renders.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};
use labcli::{ColorWhen, Output, data};

/// Exit status: success.
const EXIT_OK: u8 = 0;
/// Exit status: the lab is invalid, or a set could not be backed up.
const EXIT_FAIL: u8 = 1;
/// Exit status: usage error, unreadable file, or the repository refused.
const EXIT_USAGE: u8 = 2;

const AFTER_HELP: &str = "\
LAB is the lab file (TOML, see docs/lab-file.md) whose [backup] section names
the repository, its password's source and the sets; - reads standard input.

Exit status:
  0  success
  1  the lab is invalid, a set could not be backed up (the others were), or
     check found errors
  2  usage error, a file could not be read, or the repository refused (a wrong
     password, a non-empty restore target): nothing was changed

Environment:
  NO_COLOR  set to anything to turn colour off (as --color never)

The password is read from password_file or password_command only; it never
appears in arguments, output or errors.";

#[derive(Debug, Parser)]
#[command(name = "labbackup", version, about = "restic-compatible backups of the lab", after_help = AFTER_HELP, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// When to colour diagnostics on standard error.
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto, global = true)]
    color: ColorWhen,
    /// Do not print progress, only errors and data.
    #[arg(long, short, global = true)]
    quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// For people.
    Text,
    /// For programs: one JSON document on standard output.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the repository.
    Init {
        /// Lab file.
        lab: PathBuf,
    },
    /// Back up sets (default: every set), one snapshot each, tagged with the set's name.
    Run {
        /// Lab file.
        lab: PathBuf,
        /// Sets to back up.
        sets: Vec<String>,
        /// Host name recorded in the snapshots (default: this machine's).
        #[arg(long)]
        host: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// List the snapshots, oldest first.
    Snapshots {
        /// Lab file.
        lab: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Apply the retention policy per set: forget what it does not keep, then prune.
    Forget {
        /// Lab file.
        lab: PathBuf,
        /// Only show what would be forgotten and why each kept snapshot is kept.
        #[arg(long)]
        dry_run: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Check the repository; exit 1 on any finding.
    Check {
        /// Lab file.
        lab: PathBuf,
        /// Share of pack data to read, 0 to 100 (default: the lab's check_read_data_percent).
        #[arg(long, value_parser = clap::value_parser!(u8).range(0..=100))]
        read_data_percent: Option<u8>,
    },
    /// Restore a set's newest snapshot (or SNAPSHOT) into an empty directory.
    Restore {
        /// Lab file.
        lab: PathBuf,
        /// The set.
        set: String,
        /// A snapshot id (default: the set's newest).
        snapshot: Option<String>,
        /// Where to restore; must be empty or missing.
        #[arg(long)]
        target: PathBuf,
        /// Restore into a directory that has files in it.
        #[arg(long)]
        overwrite: bool,
    },
}

fn load(path: &Path, out: &Output) -> Result<Result<labbackup::Backup, u8>> {
    let doc = match labcli::read_document(path)? {
        Ok(d) => d,
        Err(d) => {
            out.diagnostics(&d);
            return Ok(Err(EXIT_FAIL));
        }
    };
    match labbackup::from_document(&doc) {
        Ok(b) => Ok(Ok(b)),
        Err(d) => {
            out.diagnostics(&d);
            Ok(Err(EXIT_FAIL))
        }
    }
}

fn run(cmd: Command, out: &Output) -> Result<u8> {
    let lab = match &cmd {
        Command::Init { lab }
        | Command::Run { lab, .. }
        | Command::Snapshots { lab, .. }
        | Command::Forget { lab, .. }
        | Command::Check { lab, .. }
        | Command::Restore { lab, .. } => lab.clone(),
    };
    let backup = match load(&lab, out)? {
        Ok(b) => b,
        Err(c) => return Ok(c),
    };
    let repo = labbackup::repo::Repo::new(&backup)?;
    match cmd {
        Command::Init { .. } => {
            repo.init()?;
            out.note(&format!("created repository {}", backup.repository));
            Ok(EXIT_OK)
        }
        Command::Run {
            sets, host, format, ..
        } => {
            for s in &sets {
                if backup.set(s).is_none() {
                    out.error(&format!("there is no backup set {s:?}"));
                    let names: Vec<&str> = backup.sets.iter().map(|s| s.name.as_str()).collect();
                    out.hint(&format!("the sets are: {}", names.join(", ")));
                    return Ok(EXIT_USAGE);
                }
            }
            let chosen: Vec<&labbackup::BackupSet> = backup
                .sets
                .iter()
                .filter(|s| sets.is_empty() || sets.contains(&s.name))
                .collect();
            let mut done = Vec::new();
            let mut failed = 0;
            for s in chosen {
                if s.stdin_command.is_some() || s.before.is_some() || s.after.is_some() {
                    out.error(&format!(
                        "set {}: hooks and stdin_command are not supported by this version yet",
                        s.name
                    ));
                    failed += 1;
                    continue;
                }
                out.note(&format!("backing up {}", s.name));
                match repo.backup_set(s, host.as_deref()) {
                    Ok(snap) => done.push(snap),
                    Err(e) => {
                        out.error(&format!("set {}: {:#}", s.name, anyhow::Error::new(e)));
                        failed += 1;
                    }
                }
            }
            match format {
                Format::Json => data(&(serde_json::to_string_pretty(&done)? + "\n"))?,
                Format::Text => {
                    let mut t = String::new();
                    for s in &done {
                        t.push_str(&format!(
                            "snapshot {} of {} ({})\n",
                            &s.id[..8],
                            s.tags.join(","),
                            s.paths.join(" ")
                        ));
                    }
                    data(&t)?;
                }
            }
            Ok(if failed == 0 { EXIT_OK } else { EXIT_FAIL })
        }
        Command::Snapshots { format, .. } => {
            let snaps = repo.snapshots()?;
            match format {
                Format::Json => data(&(serde_json::to_string_pretty(&snaps)? + "\n"))?,
                Format::Text => {
                    let mut t = String::new();
                    for s in &snaps {
                        t.push_str(&format!(
                            "{}  {}  {:<12} {:<16} {}\n",
                            &s.id[..8],
                            s.time,
                            s.host,
                            s.tags.join(","),
                            s.paths.join(" ")
                        ));
                    }
                    data(&t)?;
                }
            }
            Ok(EXIT_OK)
        }
        Command::Forget {
            format, dry_run, ..
        } => {
            if backup.retention.is_empty() {
                out.error("the lab's retention keeps nothing; refusing to forget every snapshot");
                out.hint("set retention = { daily = 7, weekly = 4, monthly = 12 } under [backup]");
                return Ok(EXIT_FAIL);
            }
            let decided = repo.forget(dry_run)?;
            let mut all = serde_json::Map::new();
            let mut t = String::new();
            for (set, d) in &decided {
                for x in d {
                    t.push_str(&format!(
                        "{set:<16} {}  {}  {}\n",
                        &x.id[..8],
                        if x.keep { "keep  " } else { "forget" },
                        x.reasons.join(", ")
                    ));
                }
                all.insert(set.clone(), serde_json::to_value(d)?);
            }
            match format {
                Format::Json => data(&(serde_json::to_string_pretty(&all)? + "\n"))?,
                Format::Text => data(&t)?,
            }
            if !dry_run {
                out.note("forgotten snapshots deleted and their data pruned");
            }
            Ok(EXIT_OK)
        }
        Command::Check {
            read_data_percent, ..
        } => {
            let p = read_data_percent.unwrap_or(backup.check_read_data_percent);
            out.note(&format!(
                "checking {} (reading {p}% of the data)",
                backup.repository
            ));
            let findings = repo.check(p)?;
            for f in &findings {
                out.error(f);
            }
            if findings.is_empty() {
                data("no errors found\n")?;
                Ok(EXIT_OK)
            } else {
                Ok(EXIT_FAIL)
            }
        }
        Command::Restore {
            set,
            snapshot,
            target,
            overwrite,
            ..
        } => {
            repo.restore(&set, snapshot.as_deref(), &target, overwrite)?;
            out.note(&format!("restored {set} into {}", target.display()));
            Ok(EXIT_OK)
        }
    }
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
