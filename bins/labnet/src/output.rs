//! Where output goes: data to stdout, diagnostics and progress to stderr,
//! colour only on a terminal and never with `NO_COLOR`.

use std::io::{self, IsTerminal, Write};

use labnet::diag::{Diagnostics, Style};

use crate::ColorWhen;

pub(crate) struct Output {
    color: bool,
    quiet: bool,
}

impl Output {
    pub(crate) fn new(when: ColorWhen, quiet: bool) -> Self {
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
    pub(crate) fn error(&self, msg: &str) {
        let _ = writeln!(io::stderr().lock(), "{}: {msg}", self.error_word());
    }

    /// A hint after an error (never suppressed: it says how to fix the error).
    pub(crate) fn hint(&self, msg: &str) {
        let _ = writeln!(io::stderr().lock(), "  hint: {msg}");
    }

    /// Progress and notes; suppressed by `--quiet`.
    pub(crate) fn note(&self, msg: &str) {
        if !self.quiet {
            let _ = writeln!(io::stderr().lock(), "{msg}");
        }
    }

    /// Lab diagnostics: errors always, warnings unless `--quiet`.
    pub(crate) fn diagnostics(&self, d: &Diagnostics) {
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
pub(crate) fn data(s: &str) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("cannot write to standard output"))
        }
        _ => Ok(()),
    }
}
