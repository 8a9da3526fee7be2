//! systemd units for the lab's backups, instead of cron: a daily service that
//! backs up, applies retention and checks, and a monthly drill, each with a
//! timer that catches up on missed runs (`Persistent=true`) and spreads its
//! start (`RandomizedDelaySec`).

use std::path::{Path, PathBuf};

use serde::Serialize;

/// What went wrong making or installing units.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// The daily time is not `HH:MM`.
    #[error("{0:?} is not a time of day as HH:MM (24-hour)")]
    Time(String),
    /// A path cannot be written into a unit.
    #[error("the path {0:?} is not absolute or holds a newline")]
    Path(PathBuf),
    /// A unit could not be written.
    #[error("cannot write {}", .path.display())]
    Write {
        /// The unit file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// How to schedule.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ScheduleOptions {
    /// The labbackup binary the units run (absolute).
    pub binary: PathBuf,
    /// The lab file (absolute).
    pub lab: PathBuf,
    /// When the daily backup starts, `HH:MM`.
    pub daily_at: String,
    /// The most a start is randomly delayed, in systemd's time syntax.
    pub randomized_delay: String,
    /// When the drill runs, a systemd calendar event (monthly by default).
    pub drill_on: String,
    /// Where `status` writes metrics after each backup, if anywhere.
    pub metrics: Option<PathBuf>,
}

impl ScheduleOptions {
    /// The defaults: daily at 02:00 with up to 30 minutes' delay, the drill
    /// on the first of each month at 04:00.
    #[must_use]
    pub fn new(binary: impl Into<PathBuf>, lab: impl Into<PathBuf>) -> Self {
        Self {
            binary: binary.into(),
            lab: lab.into(),
            daily_at: "02:00".to_owned(),
            randomized_delay: "30min".to_owned(),
            drill_on: "*-*-01 04:00:00".to_owned(),
            metrics: None,
        }
    }
}

/// One unit file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Unit {
    /// Its file name, e.g. `labbackup-daily.service`.
    pub name: String,
    /// Its text.
    pub text: String,
}

/// One word of a command line as systemd reads it: quoted when it needs to
/// be, `%` and `$` escaped so systemd expands nothing.
fn word(w: &str) -> String {
    let escaped = w
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('%', "%%")
        .replace('$', "$$");
    if escaped.is_empty() || escaped.contains(|c: char| c.is_whitespace() || c == '\'' || c == ';')
    {
        format!("\"{escaped}\"")
    } else {
        escaped
    }
}

fn path_word(p: &Path) -> Result<String, ScheduleError> {
    let s = p.to_string_lossy();
    if !p.is_absolute() || s.contains('\n') {
        return Err(ScheduleError::Path(p.to_owned()));
    }
    Ok(word(&s))
}

fn parse_time(t: &str) -> Option<(u8, u8)> {
    let (h, m) = t.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u8, u8) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some((h, m))
}

/// The four units: `labbackup-daily.service` and `.timer`,
/// `labbackup-drill.service` and `.timer`.
///
/// # Errors
/// A time that is not `HH:MM`, or a path that is not absolute.
pub fn units(opts: &ScheduleOptions) -> Result<Vec<Unit>, ScheduleError> {
    let (h, m) =
        parse_time(&opts.daily_at).ok_or_else(|| ScheduleError::Time(opts.daily_at.clone()))?;
    let bin = path_word(&opts.binary)?;
    let lab = path_word(&opts.lab)?;
    let lab_shown = opts.lab.display();
    let mut daily = format!(
        "[Unit]\n\
         Description=labkit backup of {lab_shown}: every set, then retention and a check\n\
         Documentation=man:systemd.timer(5)\n\
         Wants=network-online.target\n\
         After=network-online.target\n\
         \n\
         [Service]\n\
         Type=oneshot\n\
         Environment=NO_COLOR=1\n\
         Nice=10\n\
         IOSchedulingClass=idle\n\
         # One after the other; a failure stops the rest and fails the unit.\n\
         ExecStart={bin} --quiet run {lab}\n\
         ExecStart={bin} --quiet forget {lab}\n\
         ExecStart={bin} --quiet check {lab}\n"
    );
    if let Some(metrics) = &opts.metrics {
        let metrics = path_word(metrics)?;
        // Metrics also after a failure, so the alert sees it.
        daily.push_str(&format!(
            "ExecStopPost={bin} --quiet status {lab} --metrics {metrics}\n"
        ));
    }
    let daily_timer = format!(
        "[Unit]\n\
         Description=Daily labkit backup of {lab_shown}\n\
         \n\
         [Timer]\n\
         OnCalendar=*-*-* {h:02}:{m:02}:00\n\
         Persistent=true\n\
         RandomizedDelaySec={delay}\n\
         Unit=labbackup-daily.service\n\
         \n\
         [Install]\n\
         WantedBy=timers.target\n",
        delay = opts.randomized_delay
    );
    let drill = format!(
        "[Unit]\n\
         Description=labkit disaster-recovery drill of {lab_shown}\n\
         After=labbackup-daily.service\n\
         \n\
         [Service]\n\
         Type=oneshot\n\
         Environment=NO_COLOR=1\n\
         Nice=10\n\
         ExecStart={bin} --quiet drill {lab}\n"
    );
    let drill_timer = format!(
        "[Unit]\n\
         Description=Monthly labkit disaster-recovery drill of {lab_shown}\n\
         \n\
         [Timer]\n\
         OnCalendar={on}\n\
         Persistent=true\n\
         RandomizedDelaySec={delay}\n\
         Unit=labbackup-drill.service\n\
         \n\
         [Install]\n\
         WantedBy=timers.target\n",
        on = opts.drill_on,
        delay = opts.randomized_delay
    );
    Ok(vec![
        Unit {
            name: "labbackup-daily.service".to_owned(),
            text: daily,
        },
        Unit {
            name: "labbackup-daily.timer".to_owned(),
            text: daily_timer,
        },
        Unit {
            name: "labbackup-drill.service".to_owned(),
            text: drill,
        },
        Unit {
            name: "labbackup-drill.timer".to_owned(),
            text: drill_timer,
        },
    ])
}

/// Write `units` into `dir` (for systemd, `/etc/systemd/system`), each
/// atomically; return their paths.
///
/// # Errors
/// A file cannot be written.
pub fn install(units: &[Unit], dir: &Path) -> Result<Vec<PathBuf>, ScheduleError> {
    let mut out = Vec::new();
    std::fs::create_dir_all(dir).map_err(|source| ScheduleError::Write {
        path: dir.to_owned(),
        source,
    })?;
    for u in units {
        let path = dir.join(&u.name);
        crate::status::write_atomically(&path, u.text.as_bytes()).map_err(|source| {
            ScheduleError::Write {
                path: path.clone(),
                source,
            }
        })?;
        out.push(path);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_and_escaped_for_systemd() {
        assert_eq!(word("/usr/bin/labbackup"), "/usr/bin/labbackup");
        assert_eq!(word("/srv/my lab.toml"), "\"/srv/my lab.toml\"");
        assert_eq!(word("/srv/100%"), "/srv/100%%");
        assert_eq!(word("/srv/$HOME"), "/srv/$$HOME");
    }

    #[test]
    fn times_are_checked() {
        assert_eq!(parse_time("02:00"), Some((2, 0)));
        assert_eq!(parse_time("23:59"), Some((23, 59)));
        assert_eq!(parse_time("24:00"), None);
        assert_eq!(parse_time("2:00"), None);
        assert_eq!(parse_time("02:60"), None);
        let mut o = ScheduleOptions::new("/usr/bin/labbackup", "/etc/labkit/lab.toml");
        o.daily_at = "25:00".to_owned();
        assert!(matches!(units(&o), Err(ScheduleError::Time(_))));
        let o = ScheduleOptions::new("labbackup", "/etc/labkit/lab.toml");
        assert!(matches!(units(&o), Err(ScheduleError::Path(_))));
    }
}
