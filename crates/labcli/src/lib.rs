//! What labkit's binaries share, so that every one behaves the same: data on
//! stdout, diagnostics and progress on stderr, colour only on a terminal and
//! never with `NO_COLOR`, and a lab file read from a path or standard input.
//! The libraries decide; this crate only renders and reads.

use std::io::{self, IsTerminal, Read, Write};
use std::path::Path;

use anyhow::Context as _;
use labfile::{Diagnostics, Document, LoadError, Style};

/// When to colour diagnostics on standard error (`--color`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorWhen {
    /// On a terminal, unless `NO_COLOR` is set or `TERM=dumb`.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Output of one run.
#[derive(Debug)]
pub struct Output {
    color: bool,
    quiet: bool,
}

impl Output {
    /// Output that colours per `when` and, with `quiet`, prints only errors and data.
    #[must_use]
    pub fn new(when: ColorWhen, quiet: bool) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match when {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => {
                !no_color
                    && io::stderr().is_terminal()
                    && std::env::var("TERM").as_deref() != Ok("dumb")
            }
        };
        Self { color, quiet }
    }
    fn style(&self) -> Style {
        if self.color {
            Style::ansi()
        } else {
            Style::plain()
        }
    }

    /// "error", coloured as the library's diagnostics colour it.
    fn error_word(&self) -> String {
        let s = self.style();
        format!("{}error{}", s.error, s.reset)
    }

    /// A fatal error (usage, I/O).
    pub fn error(&self, msg: &str) {
        let _ = writeln!(io::stderr().lock(), "{}: {msg}", self.error_word());
    }

    /// A hint after an error (never suppressed: it says how to fix the error).
    pub fn hint(&self, msg: &str) {
        let _ = writeln!(io::stderr().lock(), "  hint: {msg}");
    }

    /// Whether progress and notes are suppressed.
    #[must_use]
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// Progress and notes; suppressed by `--quiet`.
    pub fn note(&self, msg: &str) {
        if !self.quiet {
            let _ = writeln!(io::stderr().lock(), "{msg}");
        }
    }

    /// Lab diagnostics: errors always, warnings unless `--quiet`.
    pub fn diagnostics(&self, d: &Diagnostics) {
        if d.is_empty() || (self.quiet && !d.has_errors()) {
            return;
        }
        let shown = if self.quiet {
            d.errors_only()
        } else {
            d.clone()
        };
        let mut err = io::stderr().lock();
        let _ = err.write_all(shown.render(&self.style()).as_bytes());
        let n = d.errors().count();
        if n > 0 {
            let _ = writeln!(
                err,
                "{}: {} is not a valid lab: {n} error{}",
                self.error_word(),
                d.source().name(),
                if n == 1 { "" } else { "s" }
            );
        }
    }
}

/// Write data to stdout. A closed pipe (`labnet compile | head`) is not an error.
pub fn data(s: &str) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("cannot write to standard output"))
        }
        _ => Ok(()),
    }
}

/// `--format`, as every labkit binary takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// For programs: one JSON document on standard output.
    Json,
}

/// `--color` as written on the command line (or `NO_COLOR`), read before clap
/// parses, so that clap's own messages (usage errors, help) obey it too.
pub fn color_from_args() -> clap::ColorChoice {
    let mut args = std::env::args_os().skip(1);
    let mut when = None;
    while let Some(a) = args.next() {
        let a = a.to_string_lossy().into_owned();
        if a == "--" {
            break;
        }
        if a == "--color" {
            when = args.next().map(|v| v.to_string_lossy().into_owned());
        } else if let Some(v) = a.strip_prefix("--color=") {
            when = Some(v.to_owned());
        }
    }
    match when.as_deref() {
        Some("never") => clap::ColorChoice::Never,
        Some("always") => clap::ColorChoice::Always,
        _ if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) => {
            clap::ColorChoice::Never
        }
        _ => clap::ColorChoice::Auto,
    }
}

/// Read a lab file's document: a path, or `-` for standard input. `Ok(Err(..))`
/// is a file that is not a lab file (its diagnostics); `Err` is a file that
/// could not be read.
///
/// # Errors
/// The file or standard input could not be read.
pub fn read_document(path: &Path) -> anyhow::Result<Result<Document, Diagnostics>> {
    if path == Path::new("-") {
        let mut bytes = Vec::new();
        io::stdin()
            .read_to_end(&mut bytes)
            .context("cannot read the lab file from standard input")?;
        return Ok(labfile::parse_bytes("<stdin>", bytes));
    }
    match labfile::load(path) {
        Ok(d) => Ok(Ok(d)),
        Err(LoadError::Invalid(d)) => Ok(Err(d)),
        Err(e) => Err(e.into()),
    }
}

/// Read the lab file at `path` (or `-`) and hand its document to `read`, a
/// crate's `from_document`. Diagnostics of either step are printed to
/// stderr; `Ok(None)` means the file is not a valid lab (every binary's exit
/// status 1), `Err` that it could not be read.
///
/// # Errors
/// The file or standard input could not be read.
pub fn load<T>(
    path: &Path,
    out: &Output,
    read: impl FnOnce(&Document) -> Result<T, Diagnostics>,
) -> anyhow::Result<Option<T>> {
    let doc = match read_document(path)? {
        Ok(d) => d,
        Err(d) => {
            out.diagnostics(&d);
            return Ok(None);
        }
    };
    match read(&doc) {
        Ok(v) => Ok(Some(v)),
        Err(d) => {
            out.diagnostics(&d);
            Ok(None)
        }
    }
}

/// Parse the command line with `--color` (and `NO_COLOR`) applied to clap's
/// own messages. Help and version are printed to stdout and give exit status
/// 0; a usage error is printed to stderr and gives 2, every binary's usage
/// status.
///
/// # Errors
/// The exit code to end with when the arguments are not a command to run.
pub fn parse_args<C: clap::Parser>() -> Result<C, std::process::ExitCode> {
    C::command()
        .color(color_from_args())
        .try_get_matches()
        .and_then(|m| C::from_arg_matches(&m))
        .map_err(|e| {
            let _ = e.print();
            std::process::ExitCode::from(if e.use_stderr() { 2 } else { 0 })
        })
}

/// A unified diff of `old` to `new`, as one hunk with every line (the files
/// labkit writes are a few dozen lines); empty when they are equal. The new
/// side is labelled `path (new_label)`.
#[must_use]
pub fn unified_diff(path: &str, new_label: &str, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    // Longest common subsequence: daemon.json files are a few dozen lines.
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out = format!(
        "--- {path}\n+++ {path} ({new_label})\n@@ -{},{} +{},{} @@\n",
        usize::from(!a.is_empty()),
        a.len(),
        usize::from(!b.is_empty()),
        b.len()
    );
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push_str(&format!(" {}\n", a[i]));
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push_str(&format!("+{}\n", b[j]));
            j += 1;
        } else {
            out.push_str(&format!("-{}\n", a[i]));
            i += 1;
        }
    }
    out
}
