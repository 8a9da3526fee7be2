//! labbackup's section of the lab file, `[backup]`, read through labfile:
//! every problem at once, with file:line, field, value and a hint.

use labfile::{Diagnostic, Document, Item, Sink, Span, TableReader, did_you_mean, quoted};

use crate::model::{Backup, BackupSet, PasswordSource, Retention};

/// Where labbackup keeps its records (last run, check and drill) when the lab
/// file names no `state_dir`.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/labkit/backup";

/// The top-level sections labbackup reads (see `labfile::sections`).
pub const LABBACKUP_SECTIONS: &[&str] = &["backup"];

/// Read `[backup]` from `doc`; `None` when it is missing or has an error.
pub fn read(doc: &Document, sink: &mut Sink) -> Option<Backup> {
    let Some(item) = doc.section("backup") else {
        sink.push(
            Diagnostic::error("backup", "the [backup] section is missing")
                .span(Span::at(0))
                .hint("add [backup] with repository and password_file; see docs/lab-file.md"),
        );
        return None;
    };
    let errors = sink.error_count();
    let mut t = item.table(sink)?;
    let repository = t
        .required_str("repository", "add repository = \"/mnt/backup/labkit\" (or rest:http://HOST:PORT/PATH)", sink)
        .and_then(|r| {
            let v = r.value;
            let ok = v.starts_with('/')
                || v.starts_with("rest:http://")
                || v.starts_with("rest:https://")
                || v.starts_with("opendal:");
            if ok {
                Some(v.to_owned())
            } else {
                sink.push(
                    Diagnostic::error(t.key_path("repository"), format!("{} is neither an absolute path nor a rest: or opendal: URL", quoted(v)))
                        .value(v)
                        .span(r.span)
                        .hint("write a local path such as \"/mnt/backup/labkit\", or \"rest:http://127.0.0.1:8000/labkit\""),
                );
                None
            }
        });
    let file = t.optional_str("password_file", sink);
    let command = t.optional("password_command").and_then(|c| argv(c, sink));
    if t.has("password") {
        // Point at the section, not at the value: a diagnostic shows the
        // line it points at, and this line holds a password.
        let line = t
            .optional("password")
            .map_or(0, |p| doc.source().location(p.span().start()).line);
        sink.push(
            Diagnostic::error(t.key_path("password"), format!("line {line} holds a plain password, which does not belong in the lab file"))
                .span(Span::at(t.span().start()))
                .hint("put it in a file readable only by root and name it with password_file, or use password_command"),
        );
    }
    let password = match (file, command) {
        (Some(f), None) => Some(PasswordSource::File(f.value.to_owned())),
        (None, Some(c)) => Some(PasswordSource::Command(c)),
        (Some(f), Some(_)) => {
            sink.push(
                Diagnostic::error(
                    t.key_path("password_command"),
                    "password_file and password_command are both given",
                )
                .span(f.span)
                .hint("keep one of them"),
            );
            None
        }
        (None, None) => {
            sink.push(
                Diagnostic::error(t.key_path("password_file"), "the repository's password has no source")
                    .span(t.span())
                    .hint("add password_file = \"/etc/labkit/backup.pass\" or password_command = [\"pass\", \"labkit\"]"),
            );
            None
        }
    };
    let retention = t
        .optional("retention")
        .and_then(|r| retention(r, sink))
        .unwrap_or_default();
    let check_read_data_percent =
        number(&mut t, "check_read_data_percent", 0, 100, sink).map_or(0, |v| v as u8);
    let rto_minutes = number(&mut t, "rto_minutes", 1, 10_000_000, sink);
    let rpo_hours = number(&mut t, "rpo_hours", 1, 1_000_000, sink);
    let repository_options = t
        .optional("repository_options")
        .and_then(|o| options(o, sink))
        .unwrap_or_default();
    let state_dir = t
        .optional_str("state_dir", sink)
        .map(|f| (f.value.to_owned(), f.span));
    if let Some((d, span)) = &state_dir
        && !d.starts_with('/')
    {
        sink.push(
            Diagnostic::error(
                t.key_path("state_dir"),
                format!("{} is not an absolute path", quoted(d)),
            )
            .value(d)
            .span(span.unwrap_or(t.span()))
            .hint("write the whole path, e.g. \"/var/lib/labkit/backup\""),
        );
    }
    let mut sets: Vec<BackupSet> = Vec::new();
    if let Some(s) = t.optional("set") {
        for named in s.named_tables("every set needs a name, e.g. name = \"configs\"", sink) {
            let mut st = named.table;
            let name = named.name.map(|n| n.value.to_owned());
            let paths = st.optional("paths").and_then(|p| strings(p, sink));
            let exclude = st
                .optional("exclude")
                .and_then(|p| strings(p, sink))
                .unwrap_or_default();
            let tags = st
                .optional("tags")
                .and_then(|p| strings(p, sink))
                .unwrap_or_default();
            let before = st.optional("before").and_then(|c| argv(c, sink));
            let after = st.optional("after").and_then(|c| argv(c, sink));
            let stdin_command = st.optional("stdin_command").and_then(|c| argv(c, sink));
            let stdin_filename = st
                .optional_str("stdin_filename", sink)
                .map(|f| (f.value.to_owned(), f.span));
            if let Some((f, span)) = &stdin_filename
                && (f.is_empty() || f.contains('/') || f == "." || f == "..")
            {
                sink.push(
                    Diagnostic::error(
                        st.key_path("stdin_filename"),
                        format!("{} is not a plain file name", quoted(f)),
                    )
                    .value(f)
                    .span(span.unwrap_or(st.span()))
                    .hint("name the stored file without a directory, e.g. \"pg_dumpall.sql\""),
                );
            }
            if let Some(p) = &paths {
                for (i, path) in p.iter().enumerate() {
                    if !path.starts_with('/') {
                        sink.push(
                            Diagnostic::error(
                                format!("{}[{i}]", st.key_path("paths")),
                                format!("{} is not an absolute path", quoted(path)),
                            )
                            .value(path)
                            .span(st.span())
                            .hint("a scheduled backup runs from /; write the whole path"),
                        );
                    }
                }
            }
            match (&paths, &stdin_command) {
                (None, None) => sink.push(
                    Diagnostic::error(st.path(), "the set has neither paths nor stdin_command")
                        .span(st.span())
                        .hint("add paths = [\"/etc/ssh\"], or stdin_command = [\"pg_dumpall\"] for a stream"),
                ),
                (Some(_), Some(_)) => sink.push(
                    Diagnostic::error(st.key_path("stdin_command"), "a set backs up paths or a command's output, not both")
                        .span(st.span())
                        .hint("make the stream its own [[backup.set]]"),
                ),
                _ => {}
            }
            st.finish(sink);
            if let Some(name) = name {
                sets.push(BackupSet {
                    stdin_filename: stdin_filename.map_or_else(|| format!("{name}.stdin"), |f| f.0),
                    name,
                    paths: paths.unwrap_or_default(),
                    exclude,
                    tags,
                    before,
                    after,
                    stdin_command,
                });
            }
        }
    }
    t.finish(sink);
    if sink.error_count() != errors {
        return None;
    }
    Some(Backup {
        repository: repository?,
        password: password?,
        retention,
        check_read_data_percent,
        rto_minutes,
        rpo_hours,
        repository_options,
        state_dir: state_dir.map_or_else(|| DEFAULT_STATE_DIR.to_owned(), |d| d.0),
        sets,
    })
}

fn number(
    t: &mut TableReader<'_>,
    key: &'static str,
    min: i64,
    max: i64,
    sink: &mut Sink,
) -> Option<u32> {
    let f = t.optional_integer(key, sink)?;
    if f.value < min || f.value > max {
        sink.push(
            Diagnostic::error(t.key_path(key), format!("{} is out of range", f.value))
                .value(f.value.to_string())
                .span(f.span)
                .hint(format!("{key} is a whole number from {min} to {max}")),
        );
        return None;
    }
    u32::try_from(f.value).ok()
}

/// A list of strings.
/// `repository_options`: a table of strings, handed to the backend as it is.
fn options(item: Item<'_>, sink: &mut Sink) -> Option<std::collections::BTreeMap<String, String>> {
    let mut t = item.table(sink)?;
    let mut out = std::collections::BTreeMap::new();
    let entries: Vec<_> = t.entries().collect();
    for (k, v) in entries {
        if let Some(s) = v.string(sink) {
            out.insert(k.value.to_owned(), s.value.to_owned());
        }
    }
    Some(out)
}

fn strings(item: Item<'_>, sink: &mut Sink) -> Option<Vec<String>> {
    let a = item.array(sink)?;
    let mut out = Vec::new();
    for e in a.elements() {
        match e.item().string(sink) {
            Some(s) => out.push(s.value.to_owned()),
            None => return None,
        }
    }
    Some(out)
}

/// A command: a non-empty list of strings, run without a shell.
fn argv(item: Item<'_>, sink: &mut Sink) -> Option<Vec<String>> {
    if item.as_str().is_some() {
        sink.push(
            item.error("a command is a list of words, run without a shell")
                .value(item.as_str().unwrap_or_default())
                .hint("write it as [\"docker\", \"pause\", \"db\"]"),
        );
        return None;
    }
    let span = item.span();
    let path = item.path();
    let v = strings(item, sink)?;
    if v.is_empty() {
        sink.push(
            Diagnostic::error(path, "an empty command")
                .span(span)
                .hint("name the program, e.g. [\"docker\", \"pause\", \"db\"]"),
        );
        return None;
    }
    Some(v)
}

fn retention(item: Item<'_>, sink: &mut Sink) -> Option<Retention> {
    let mut t = item.table(sink)?;
    let mut r = Retention::default();
    for (key, slot) in [
        ("last", &mut r.last),
        ("hourly", &mut r.hourly),
        ("daily", &mut r.daily),
        ("weekly", &mut r.weekly),
        ("monthly", &mut r.monthly),
        ("yearly", &mut r.yearly),
    ] {
        if let Some(v) = number(&mut t, key, 0, 100_000, sink) {
            *slot = v;
        }
    }
    let keys: Vec<String> = t.entries().map(|(k, _)| k.value.to_owned()).collect();
    for k in keys {
        if !["last", "hourly", "daily", "weekly", "monthly", "yearly"].contains(&k.as_str()) {
            let guess = did_you_mean(
                &k,
                ["last", "hourly", "daily", "weekly", "monthly", "yearly"],
            );
            let mut d = Diagnostic::error(
                format!("{}.{k}", t.path()),
                format!("unknown retention {}", quoted(&k)),
            )
            .span(t.span());
            d = match guess {
                Some(g) => d.hint(format!("did you mean `{g}`?")),
                None => {
                    d.hint("retention counts are last, hourly, daily, weekly, monthly and yearly")
                }
            };
            sink.push(d);
        }
    }
    Some(r)
}
