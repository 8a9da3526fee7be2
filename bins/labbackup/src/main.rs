//! `labbackup`: restic-compatible backups of the lab. A thin binary over the
//! `labbackup` library, which decides; this renders.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use std::io::IsTerminal;

use anyhow::Result;
use clap::{Parser, Subcommand};
use labbackup::drill::age;
use labbackup::run::{HookPhase, Outcome, SetRun};
use labbackup::schedule::ScheduleOptions;
use labbackup::status::{CheckRecord, State, Status};
use labcli::{ColorWhen, Format, Output, data};

mod progress;

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
  1  the lab is invalid, a set could not be backed up (the others were),
     check or verify found errors, a drill failed, or status found a missed
     target or a failed last check or drill
  2  usage error, a file could not be read, or the repository refused (a wrong
     password, a non-empty restore target, a restore that would leave its
     target, a lock held by another): nothing was changed

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
    /// Verify a restored tree against its snapshot (kind, mode, time, size,
    /// link target, content); exit 1 on any difference.
    Verify {
        /// Lab file.
        lab: PathBuf,
        /// The snapshot (an id or its prefix) that was restored.
        snapshot: String,
        /// Where it was restored (the --target of restore).
        dir: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Disaster-recovery drill: restore the newest snapshot of each set from a
    /// fresh, cache-less open, verify it against the snapshot, check, and
    /// report against rto_minutes and rpo_hours; exit 1 when anything missed.
    Drill {
        /// Lab file.
        lab: PathBuf,
        /// Sets to drill (default: every set).
        sets: Vec<String>,
        /// Restore here and keep it (must be empty or missing; default: a
        /// scratch directory, removed afterwards).
        #[arg(long)]
        target: Option<PathBuf>,
        /// Also write drill-ID.json and drill-ID.md here (they always go
        /// under the lab's state_dir/drills).
        #[arg(long)]
        report_dir: Option<PathBuf>,
        /// Output format: text prints the Markdown report.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Newest snapshot per set against rpo_hours, repository size, last run,
    /// check and drill; exit 1 when a target is missed or the last check or
    /// drill failed.
    Status {
        /// Lab file.
        lab: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Also write Prometheus textfile-collector metrics here, atomically.
        #[arg(long)]
        metrics: Option<PathBuf>,
    },
    /// systemd units for the daily backup (with retention and check) and the
    /// monthly drill; printed, or installed with --write.
    Schedule {
        /// Lab file.
        lab: PathBuf,
        /// Daily start, HH:MM.
        #[arg(long, default_value = "02:00")]
        at: String,
        /// Most random delay of a start (systemd time span).
        #[arg(long, default_value = "30min")]
        randomized_delay: String,
        /// When the drill runs (systemd calendar event).
        #[arg(long, default_value = "*-*-01 04:00:00")]
        drill_on: String,
        /// After each daily run, write metrics here (see `status --metrics`).
        #[arg(long)]
        metrics: Option<PathBuf>,
        /// The labbackup binary the units run (default: this one).
        #[arg(long)]
        binary: Option<PathBuf>,
        /// Install the units into DIR (default /etc/systemd/system); then run
        /// `systemctl daemon-reload` and enable the timers.
        #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = "/etc/systemd/system")]
        write: Option<PathBuf>,
        /// Only print the units (the default when --write is not given).
        #[arg(long, conflicts_with = "write")]
        dry_run: bool,
    },
}

fn load(path: &Path, out: &Output) -> Result<Result<labbackup::Backup, u8>> {
    Ok(labcli::load(path, out, labbackup::from_document)?.ok_or(EXIT_FAIL))
}

fn run(cmd: Command, out: &Output) -> Result<u8> {
    let lab = match &cmd {
        Command::Init { lab }
        | Command::Run { lab, .. }
        | Command::Snapshots { lab, .. }
        | Command::Forget { lab, .. }
        | Command::Check { lab, .. }
        | Command::Restore { lab, .. }
        | Command::Verify { lab, .. }
        | Command::Drill { lab, .. }
        | Command::Status { lab, .. }
        | Command::Schedule { lab, .. } => lab.clone(),
    };
    let backup = match load(&lab, out)? {
        Ok(b) => b,
        Err(c) => return Ok(c),
    };
    if let Command::Schedule {
        at,
        randomized_delay,
        drill_on,
        metrics,
        binary,
        write,
        ..
    } = cmd
    {
        let binary = match binary {
            Some(b) => b,
            None => std::env::current_exe()?,
        };
        let mut opts = ScheduleOptions::new(binary, std::path::absolute(&lab)?);
        opts.daily_at = at;
        opts.randomized_delay = randomized_delay;
        opts.drill_on = drill_on;
        opts.metrics = metrics.map(std::path::absolute).transpose()?;
        let units = labbackup::schedule::units(&opts)?;
        match write {
            Some(dir) => {
                for p in labbackup::schedule::install(&units, &dir)? {
                    out.note(&format!("wrote {}", p.display()));
                }
                out.hint("run systemctl daemon-reload, then systemctl enable --now labbackup-daily.timer labbackup-drill.timer");
            }
            None => {
                let mut t = String::new();
                for u in &units {
                    t.push_str(&format!("# {}\n{}\n", u.name, u.text));
                }
                data(&t)?;
            }
        }
        return Ok(EXIT_OK);
    }
    let state = State::new(&backup.state_dir);
    let json = matches!(
        &cmd,
        Command::Run {
            format: Format::Json,
            ..
        } | Command::Drill {
            format: Format::Json,
            ..
        }
    );
    let mut repo = labbackup::repo::Repo::new(&backup)?;
    if !out.is_quiet() && !json && std::io::stderr().is_terminal() {
        repo = repo.with_progress(progress::Bars);
    }
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
            let mut runs = Vec::new();
            for s in chosen {
                out.note(&format!("backing up {}", s.name));
                let run = repo.run_set(s, host.as_deref());
                report_run(&run, out);
                runs.push(run);
            }
            if let Err(e) = state.save_runs(&runs) {
                out.error(&format!(
                    "cannot record the runs in {}: {e}",
                    state.dir().display()
                ));
            }
            match format {
                Format::Json => data(&(serde_json::to_string_pretty(&runs)? + "\n"))?,
                Format::Text => {
                    let mut t = String::new();
                    for r in &runs {
                        match &r.snapshot {
                            Some(s) => t.push_str(&format!(
                                "{:<16} {:<8} snapshot {}  {} files, {} bytes, {:.1} s\n",
                                r.set,
                                outcome(r.outcome),
                                &s.id[..8],
                                s.files,
                                s.bytes,
                                s.duration_s
                            )),
                            None => t.push_str(&format!("{:<16} {}\n", r.set, outcome(r.outcome))),
                        }
                    }
                    data(&t)?;
                }
            }
            Ok(if runs.iter().all(SetRun::is_ok) {
                EXIT_OK
            } else {
                EXIT_FAIL
            })
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
            let started = std::time::Instant::now();
            let findings = repo.check(p)?;
            let record = CheckRecord::now(p, started.elapsed().as_secs_f64(), findings.clone());
            if let Err(e) = state.save_check(&record) {
                out.error(&format!(
                    "cannot record the check in {}: {e}",
                    state.dir().display()
                ));
            }
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
        Command::Verify {
            snapshot,
            dir,
            format,
            ..
        } => {
            let findings = repo.verify(&snapshot, &dir)?;
            match format {
                Format::Json => data(&(serde_json::to_string_pretty(&findings)? + "\n"))?,
                Format::Text => {
                    for f in &findings {
                        out.error(f);
                    }
                    if findings.is_empty() {
                        data(&format!("{} matches snapshot {snapshot}\n", dir.display()))?;
                    }
                }
            }
            Ok(if findings.is_empty() {
                EXIT_OK
            } else {
                EXIT_FAIL
            })
        }
        Command::Drill {
            sets,
            target,
            report_dir,
            format,
            ..
        } => {
            out.note(&format!(
                "drill: opening {} as a new machine would (no cache)",
                backup.repository
            ));
            let report = repo.drill(&sets, target.as_deref())?;
            match state.save_drill(&report) {
                Ok((j, m)) => out.note(&format!("report: {} and {}", j.display(), m.display())),
                Err(e) => out.error(&format!(
                    "cannot record the drill in {}: {e}",
                    state.dir().display()
                )),
            }
            if let Some(dir) = report_dir {
                let (j, m) = report.write(&dir)?;
                out.note(&format!("report: {} and {}", j.display(), m.display()));
            }
            match format {
                Format::Json => data(&(serde_json::to_string_pretty(&report)? + "\n"))?,
                Format::Text => data(&report.to_markdown())?,
            }
            for f in &report.findings {
                out.error(f);
            }
            Ok(if report.passed { EXIT_OK } else { EXIT_FAIL })
        }
        Command::Status {
            format, metrics, ..
        } => {
            let status = repo.status(&state)?;
            if let Some(path) = metrics {
                labbackup::status::write_atomically(&path, status.metrics().as_bytes())?;
                out.note(&format!("metrics written to {}", path.display()));
            }
            match format {
                Format::Json => data(&(serde_json::to_string_pretty(&status)? + "\n"))?,
                Format::Text => data(&render_status(&status))?,
            }
            Ok(if status.healthy() { EXIT_OK } else { EXIT_FAIL })
        }
        Command::Schedule { .. } => Ok(EXIT_OK),
    }
}

fn outcome(o: Outcome) -> &'static str {
    match o {
        Outcome::Ok => "ok",
        Outcome::Skipped => "skipped",
        Outcome::Partial => "partial",
        _ => "failed",
    }
}

/// A set's failures on standard error: hooks with their status and stderr,
/// missing paths, the backup's error.
fn report_run(run: &SetRun, out: &Output) {
    for h in run.hooks.iter().filter(|h| !h.success) {
        let phase = match h.phase {
            HookPhase::Before => "before",
            _ => "after",
        };
        let status = h
            .exit_code
            .map_or_else(|| "did not finish".to_owned(), |c| format!("exited {c}"));
        out.error(&format!(
            "set {}: the {phase} hook `{}` {status}{}",
            run.set,
            h.argv.join(" "),
            if h.stderr.is_empty() {
                String::new()
            } else {
                format!(": {}", h.stderr)
            }
        ));
    }
    if run.outcome == Outcome::Skipped {
        out.hint(&format!(
            "set {} was not backed up because its before hook failed",
            run.set
        ));
    }
    for p in &run.missing_paths {
        out.error(&format!(
            "set {}: {p} does not exist; the other paths were backed up",
            run.set
        ));
    }
    if let Some(e) = &run.error {
        out.error(&format!("set {}: {e}", run.set));
    }
}

fn render_status(s: &Status) -> String {
    let mut t = format!(
        "repository {}: {} snapshots, {} bytes\n",
        s.repository, s.snapshots, s.repository_bytes
    );
    for set in &s.sets {
        let age = set
            .age_s
            .map_or_else(|| "no snapshot".to_owned(), |a| format!("{} old", age(a)));
        let rpo = match (set.rpo_met, s.rpo_hours) {
            (Some(true), Some(h)) => format!("within {h} h"),
            (Some(false), Some(h)) => format!("OVER {h} h"),
            _ => String::new(),
        };
        let last = set.last_run.as_ref().map_or(String::new(), |r| {
            format!("last run {}", outcome(r.outcome))
        });
        t.push_str(&format!(
            "{:<16} {:<8} {:<16} {:<14} {last}\n",
            set.set,
            set.snapshot.as_deref().map_or("-", |i| &i[..8]),
            age,
            rpo
        ));
    }
    match &s.last_check {
        Some(c) => t.push_str(&format!(
            "last check {}: {} ({}% of the data read)\n",
            c.time,
            if c.findings.is_empty() {
                "no errors".to_owned()
            } else {
                format!("{} problem(s)", c.findings.len())
            },
            c.read_data_percent
        )),
        None => t.push_str("no check recorded\n"),
    }
    match &s.last_drill {
        Some(d) => t.push_str(&format!(
            "last drill {} ({}): {}, {:.1} s\n",
            d.id,
            d.ended,
            if d.passed { "passed" } else { "FAILED" },
            d.total_s
        )),
        None => t.push_str("no drill recorded\n"),
    }
    t
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
            let source: &(dyn std::error::Error + 'static) = e.as_ref();
            out.error(&labbackup::repo::describe(source));
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
