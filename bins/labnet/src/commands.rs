//! One function per subcommand.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use labnet::labfile::{self, LabFile};
use labnet::matrix::Matrix;
use labnet::query::{Query, Verdict};
use labnet::target::{CompileOptions, compile};
use labnet::{Diagnostic, LoadError, PolicyIr};

use crate::output::{Output, data};
use crate::{Command, EXIT_FAIL, EXIT_OK, Format, MatrixFormat};

pub(crate) fn run(cmd: Command, out: &Output) -> Result<u8> {
    match cmd {
        Command::Check { lab, format } => check(lab.as_deref(), format, out),
        Command::Compile { lab, opts, output } => {
            compile_cmd(lab.as_deref(), &opts, output.as_deref(), out)
        }
        Command::Matrix { lab, format } => matrix(lab.as_deref(), format, out),
        Command::Query { lab, query, format } => query_cmd(lab.as_deref(), &query, format, out),
        Command::Reference => {
            data(labnet::reference::TOML)?;
            Ok(EXIT_OK)
        }
        Command::Apply {
            lab,
            live,
            opts,
            format,
        } => crate::live::apply(lab.as_deref(), &live, &opts, format, out),
        Command::Diff { lab, live, format } => {
            crate::live::diff(lab.as_deref(), &live, format, out)
        }
        Command::Status { lab, live, format } => {
            crate::live::status(lab.as_deref(), &live, format, out)
        }
        Command::Confirm { live } => crate::live::confirm_cmd(&live, out),
        Command::Doctor { lab, live, format } => {
            crate::live::doctor_cmd(lab.as_deref(), &live, format, out)
        }
        Command::Remove { live } => crate::live::remove(&live, out),
        Command::Verify {
            lab,
            backend,
            timeout,
            format,
        } => crate::live::verify(lab.as_deref(), backend, timeout, format, out),
        Command::Watchdog { record } => crate::live::watchdog(&record),
    }
}

/// Read a lab: a path, `-` for stdin, or the built-in lab. `Ok(Err(..))` is an invalid lab.
fn load(lab: Option<&Path>) -> Result<Result<LabFile, labnet::Diagnostics>> {
    let Some(path) = lab else {
        return Ok(Ok(labfile::builtin()));
    };
    if path != Path::new("-") {
        return match labfile::load(path) {
            Ok(f) => Ok(Ok(f)),
            Err(LoadError::Invalid(d)) => Ok(Err(d)),
            Err(e) => Err(e.into()),
        };
    }
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("cannot read the lab file from standard input")?;
    Ok(labfile::parse("<stdin>", &text))
}

/// Load, print diagnostics, and hand back a valid lab or the exit status for an invalid one.
pub(crate) fn load_reported(lab: Option<&Path>, out: &Output) -> Result<Result<LabFile, u8>> {
    match load(lab)? {
        Ok(f) => {
            out.diagnostics(f.warnings());
            Ok(Ok(f))
        }
        Err(d) => {
            out.diagnostics(&d);
            Ok(Err(EXIT_FAIL))
        }
    }
}

#[derive(Serialize)]
struct Summary {
    lab: String,
    segments: usize,
    rules: usize,
    allowed_pairs: usize,
    pairs: usize,
    internet_segments: usize,
    uplink: Option<String>,
}

fn summary(f: &LabFile) -> Summary {
    let lab = f.lab();
    let ir = PolicyIr::build(lab);
    let n = lab.segments().len();
    Summary {
        lab: lab.info().name.to_string(),
        segments: n,
        rules: lab.rules().len(),
        allowed_pairs: ir.allowed_pairs,
        pairs: n * n.saturating_sub(1),
        internet_segments: ir.egress_nets.len(),
        uplink: lab.info().uplink.as_ref().map(ToString::to_string),
    }
}

#[derive(Serialize)]
struct CheckReport<'a> {
    file: &'a str,
    valid: bool,
    summary: Option<Summary>,
    diagnostics: &'a [Diagnostic],
}

fn check(lab: Option<&Path>, format: Format, out: &Output) -> Result<u8> {
    let loaded = load(lab)?;
    if format == Format::Json {
        let (file, valid, summary, diags) = match &loaded {
            Ok(f) => (
                f.source().name(),
                true,
                Some(summary(f)),
                f.warnings().items(),
            ),
            Err(d) => (d.source().name(), false, None, d.items()),
        };
        let report = CheckReport {
            file,
            valid,
            summary,
            diagnostics: diags,
        };
        data(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
        return Ok(if valid { EXIT_OK } else { EXIT_FAIL });
    }
    match loaded {
        Ok(f) => {
            out.diagnostics(f.warnings());
            let s = summary(&f);
            let via = s
                .uplink
                .as_deref()
                .map_or_else(String::new, |u| format!(" via {u}"));
            data(&format!(
                "{}: valid lab \"{}\"\n  {} segments, {} allow rules, {} of {} segment pairs allowed, internet egress from {} segments{via}\n",
                f.source().name(),
                s.lab,
                s.segments,
                s.rules,
                s.allowed_pairs,
                s.pairs,
                s.internet_segments,
            ))?;
            Ok(EXIT_OK)
        }
        Err(d) => {
            out.diagnostics(&d);
            Ok(EXIT_FAIL)
        }
    }
}

fn compile_cmd(
    lab: Option<&Path>,
    opts: &CompileOptions,
    output: Option<&Path>,
    out: &Output,
) -> Result<u8> {
    let f = match load_reported(lab, out)? {
        Ok(f) => f,
        Err(code) => return Ok(code),
    };
    let n = f.lab().segments().len();
    if n >= 1000 {
        out.note(&format!("compiling {n} segments for {}...", opts.target));
    }
    let text = compile(f.lab(), opts);
    match output {
        None => data(&text)?,
        Some(path) => {
            write_atomically(path, text.as_bytes())?;
            out.note(&format!(
                "wrote {}: {} target, {} lines, {} bytes",
                path.display(),
                opts.target,
                text.lines().count(),
                text.len()
            ));
        }
    }
    Ok(EXIT_OK)
}

/// Write to a temporary file beside `path` and rename it over: readers see the old
/// file or the new one, never a half-written one.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

fn matrix(lab: Option<&Path>, format: MatrixFormat, out: &Output) -> Result<u8> {
    let f = match load_reported(lab, out)? {
        Ok(f) => f,
        Err(code) => return Ok(code),
    };
    let m = Matrix::new(&f);
    match format {
        MatrixFormat::Text => data(&m.to_text())?,
        MatrixFormat::Markdown => data(&m.to_markdown())?,
        MatrixFormat::Json => data(&format!("{}\n", serde_json::to_string_pretty(&m)?))?,
    }
    Ok(EXIT_OK)
}

fn query_cmd(lab: Option<&Path>, q: &Query, format: Format, out: &Output) -> Result<u8> {
    let f = match load_reported(lab, out)? {
        Ok(f) => f,
        Err(code) => return Ok(code),
    };
    let a = q
        .answer(&f)
        .with_context(|| format!("cannot answer the query in {}", f.source().name()))?;
    match format {
        Format::Json => data(&format!("{}\n", serde_json::to_string_pretty(&a)?))?,
        Format::Text => {
            let word = match a.verdict {
                Verdict::Allowed => "allowed",
                Verdict::Partial => "partly allowed",
                Verdict::Denied => "denied",
            };
            let what = match (q.proto, q.port) {
                (Some(p), Some(port)) => format!(" ({p} port {port})"),
                (Some(p), None) => format!(" ({p})"),
                _ => String::new(),
            };
            let mut s = format!("{word}: {} -> {}{what}\n  {}\n", a.from, a.to, a.reason);
            if let Some(n) = &a.note {
                s.push_str(&format!("  note: {n}\n"));
            }
            data(&s)?;
        }
    }
    Ok(if a.verdict == Verdict::Allowed {
        EXIT_OK
    } else {
        EXIT_FAIL
    })
}
