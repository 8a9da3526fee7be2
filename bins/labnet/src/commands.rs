//! One function per subcommand.

use std::io::Write as _;
use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use labnet::labfile::{self, LabFile};
use labnet::matrix::Matrix;
use labnet::query::{Query, Verdict};
use labnet::target::{CompileOptions, compile_to};
use labnet::{Diagnostic, PolicyIr, QueryError};

use crate::{Command, EXIT_FAIL, EXIT_OK, Format, MatrixFormat};
use labcli::{Output, data};

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
        Command::Cancel { live } => crate::live::cancel_cmd(&live, out),
        Command::Doctor { lab, live, format } => {
            crate::live::doctor_cmd(lab.as_deref(), &live, format, out)
        }
        Command::Remove { live, format } => crate::live::remove(&live, format, out),
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
        return Ok(Ok(labnet::reference::file()));
    };
    let doc = match labcli::read_document(path)? {
        Ok(d) => d,
        Err(d) => return Ok(Err(d)),
    };
    let file = labfile::from_document(&doc);
    // Freed now, not at exit: the compiler's allocations reuse its memory,
    // which costs less than touching fresh pages.
    drop(doc);
    Ok(file)
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
                "{}: valid lab \"{}\"\n  {}, {}, {} of {} segment pairs allowed, internet egress from {}{via}\n",
                f.source().name(),
                s.lab,
                plural(s.segments, "segment"),
                plural(s.rules, "allow rule"),
                s.allowed_pairs,
                s.pairs,
                plural(s.internet_segments, "segment"),
            ))?;
            Ok(EXIT_OK)
        }
        Err(d) => {
            out.diagnostics(&d);
            Ok(EXIT_FAIL)
        }
    }
}

/// `1 segment`, `2 segments`.
pub(crate) fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
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
    // Streamed: a large ruleset is never held whole.
    let mut counted = Counted::default();
    match output {
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            let mut w = Counting {
                inner: &mut lock,
                n: &mut counted,
            };
            match compile_to(f.lab(), opts, &mut w).and_then(|()| w.flush()) {
                // A closed pipe (`labnet compile | head`) is not an error.
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    return Err(anyhow::Error::new(e).context("cannot write to standard output"));
                }
                _ => {}
            }
        }
        Some(path) => {
            ::labfile::replace_file_with(path, |w| {
                let mut w = Counting {
                    inner: w,
                    n: &mut counted,
                };
                compile_to(f.lab(), opts, &mut w)
            })?;
            out.note(&format!(
                "wrote {}: {} target, {}, {} bytes",
                path.display(),
                opts.target,
                plural(counted.lines, "line"),
                counted.bytes
            ));
        }
    }
    // The process ends next: skip freeing the lab's many small allocations.
    std::mem::forget(f);
    Ok(EXIT_OK)
}

/// Bytes and lines that went through a [`Counting`] writer.
#[derive(Default)]
struct Counted {
    bytes: usize,
    lines: usize,
}

/// A writer that counts what it passes on.
struct Counting<'a, W: std::io::Write + ?Sized> {
    inner: &'a mut W,
    n: &'a mut Counted,
}

impl<W: std::io::Write + ?Sized> std::io::Write for Counting<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let k = self.inner.write(buf)?;
        self.n.bytes += k;
        self.n.lines += count_lines(&buf[..k]);
        Ok(k)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Newlines in `buf`, 64 bytes at a time into a byte counter: the compiler
/// vectorises this, where a filtered count of bytes cost 4 to 5 instructions
/// a byte (33 M instructions at 1000 segments, a fifth of the renderer's).
fn count_lines(buf: &[u8]) -> usize {
    let mut chunks = buf.chunks_exact(64);
    let mut n = 0;
    for c in &mut chunks {
        n += usize::from(c.iter().fold(0u8, |a, &b| a + u8::from(b == b'\n')));
    }
    n + chunks.remainder().iter().filter(|&&b| b == b'\n').count()
}

fn matrix(lab: Option<&Path>, format: MatrixFormat, out: &Output) -> Result<u8> {
    let f = match load_reported(lab, out)? {
        Ok(f) => f,
        Err(code) => return Ok(code),
    };
    let m = Matrix::for_file(&f);
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
    let a = match q.answer_in(&f) {
        Ok(a) => a,
        Err(e) => {
            out.error(&format!("cannot answer the query: {e}"));
            if let Some(h) = query_hint(&e) {
                out.hint(h);
            }
            return Ok(crate::EXIT_USAGE);
        }
    };
    match format {
        Format::Json => data(&format!("{}\n", serde_json::to_string_pretty(&a)?))?,
        Format::Text => {
            let word = match a.verdict {
                Verdict::Allowed => "allowed",
                Verdict::Partial => "partly allowed",
                Verdict::Denied => "denied",
                Verdict::NotFiltered => "not filtered",
                _ => "answered",
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
    // Not filtered: labnet's policy does not stand in the way, as for allowed.
    Ok(
        if matches!(a.verdict, Verdict::Allowed | Verdict::NotFiltered) {
            EXIT_OK
        } else {
            EXIT_FAIL
        },
    )
}

/// The library says what is wrong with a query; the binary says which flag fixes it.
fn query_hint(e: &QueryError) -> Option<&'static str> {
    match e {
        QueryError::PortWithoutProtocol { .. } => Some("add --proto tcp or --proto udp"),
        QueryError::PortWithoutPorts(_) => {
            Some("use --proto tcp or --proto udp with --port, or drop --port")
        }
        QueryError::PortZero => Some("give --port a number from 1 to 65535"),
        QueryError::InternetAsSource => {
            Some("use --from with an address outside the lab, e.g. --from 203.0.113.9")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::count_lines;

    #[test]
    fn lines_are_counted_across_chunk_edges() {
        // Lengths around the 64-byte chunk, newlines at every phase.
        for len in [0, 1, 63, 64, 65, 127, 128, 129, 1000] {
            for every in [1, 2, 7, 64, 65] {
                let buf: Vec<u8> = (0..len)
                    .map(|i| if i % every == 0 { b'\n' } else { b'x' })
                    .collect();
                let plain = buf.iter().filter(|&&b| b == b'\n').count();
                assert_eq!(count_lines(&buf), plain, "len {len}, every {every}");
            }
        }
    }
}
