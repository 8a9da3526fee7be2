//! Commands that touch the live kernel: apply, diff, status, confirm, cancel,
//! doctor, remove, verify. The library decides and returns data; this renders
//! it and maps its errors to exit codes and to the flags that fix them.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use labnet::kernel::apply::{self, ApplyError};
use labnet::kernel::confirm::{self, Cancelled, Confirmed, Health, PendingView, WatchdogCommand};
use labnet::kernel::doctor::{self, Remedy};
use labnet::kernel::incremental::Mode;
use labnet::kernel::{self, ApplyOptions, KernelError, LiveOptions, Netns, where_ns};
use labnet::proof::{self, ProofOptions};

use crate::commands::{load_reported, plural};
use crate::{EXIT_CHANGED, EXIT_DRIFT, EXIT_FAIL, EXIT_OK, EXIT_USAGE, Format};
use labcli::{Output, data};

fn json<T: Serialize>(v: &T) -> Result<()> {
    data(&format!("{}\n", serde_json::to_string_pretty(v)?))
}

fn where_(live: &LiveOptions) -> String {
    format!(
        "table ip {} in {}",
        live.table,
        where_ns(live.netns.as_deref())
    )
}

fn ns_flag(netns: Option<&str>) -> String {
    netns.map_or_else(String::new, |n| format!(" --netns {n}"))
}

/// The exit status for an error, after printing the hint that names the flag to use.
pub(crate) fn report_error(e: &anyhow::Error, out: &Output) -> u8 {
    let kernel = e
        .downcast_ref::<KernelError>()
        .or_else(|| match e.downcast_ref::<ApplyError>() {
            Some(ApplyError::Kernel(k)) => Some(k),
            _ => None,
        });
    if let Some(a) = e.downcast_ref::<ApplyError>() {
        match a {
            ApplyError::Pending(v) => {
                let ns = ns_flag(v.netns.as_deref());
                out.hint(&format!(
                    "run `labnet confirm{ns}` to keep it, or `labnet cancel{ns}` to restore the previous ruleset"
                ));
            }
            ApplyError::NotOurs { table, .. } => out.hint(&format!(
                "give labnet a table of its own with --table NAME; if labnet 0.1 made `{table}` (it had no marker), delete it once with `nft delete table ip {table}`"
            )),
            ApplyError::Changed { .. } => out.hint("see what is live with `labnet status` and `labnet diff`; `labnet apply` loads the lab again"),
            _ => {}
        }
        if a.kernel_changed() {
            return EXIT_CHANGED;
        }
    }
    match kernel {
        Some(KernelError::Busy { .. }) => out.hint("wait for the other labnet to finish, then run this again"),
        Some(KernelError::NetlinkNotBuilt) => out.hint("use --backend nft, or install a build with netlink: cargo install --path bins/labnet --features nftnl"),
        Some(KernelError::Tool { what, .. }) if what.contains("DOCKER-USER") => {
            out.hint("start dockerd first, or apply without --coexist docker");
        }
        _ => {}
    }
    EXIT_USAGE
}

fn watchdog_command() -> Result<WatchdogCommand> {
    let exe = std::env::current_exe().map_err(|e| {
        anyhow::anyhow!("cannot find the labnet executable for the rollback watchdog: {e}")
    })?;
    Ok(WatchdogCommand::new(exe, ["__watchdog"]))
}

fn pending_text(v: &PendingView) -> String {
    let ns = ns_flag(v.netns.as_deref());
    match v.health {
        Health::WatchdogGone => format!(
            "STALE: its watchdog (pid {}) is gone, so no rollback will happen; `labnet confirm{ns}` keeps the live ruleset, `labnet cancel{ns}` restores the saved one",
            v.watchdog_pid.map_or_else(|| "?".into(), |p| p.to_string())
        ),
        Health::NeverLoaded => format!(
            "a record left by an apply that died before changing anything; the next apply (or `labnet cancel{ns}`) removes it"
        ),
        _ => match &v.deadline_utc {
            Some(d) => format!(
                "waiting for `labnet confirm{ns}` until {d} ({}s left), then the previous ruleset comes back",
                v.remaining_secs.unwrap_or(0)
            ),
            None => "being loaded by its watchdog".to_owned(),
        },
    }
}

pub(crate) fn apply(
    lab: Option<&Path>,
    live: &LiveOptions,
    opts: &ApplyOptions,
    format: Format,
    out: &Output,
) -> Result<u8> {
    let file = match load_reported(lab, out)? {
        Ok(f) => f,
        Err(code) => return Ok(code),
    };
    let wd = if opts.confirm_within.is_some() {
        Some(watchdog_command()?)
    } else {
        None
    };
    let n = file.lab().segments().len();
    if n >= 200 && !opts.dry_run {
        out.note(&format!(
            "comparing and loading {}...",
            plural(n, "segment")
        ));
    }
    let report = apply::apply(file.lab(), live, opts, wd.as_ref())?;
    if let Some(d) = &report.discarded {
        out.note(&format!("removed a stale pending record: {d}"));
    }
    if format == Format::Json {
        json(&report)?;
        return Ok(EXIT_OK);
    }
    if report.dry_run && report.plan.mode == Mode::Incremental {
        let script = report.plan.script.as_deref().unwrap_or_default();
        if script.is_empty() {
            out.note(&format!(
                "{} holds exactly the lab's ruleset (as labnet last applied it); nothing would change",
                where_(live)
            ));
        } else {
            data(script)?;
            let objects = report.plan.delta.map_or(0, |d| d.objects);
            out.note(&format!(
                "this delta of {} would be made to {} in one transaction (dry run: nothing changed)",
                plural(objects, "object"),
                where_(live)
            ));
        }
        if let Some(p) = &report.pending {
            out.note(&format!("note: {}", pending_text(p)));
        }
        return Ok(EXIT_OK);
    }
    if report.dry_run {
        if let Some(why) = &report.plan.reason {
            out.note(&format!("a full replace: {why}"));
        }
        if report.changes.is_empty() {
            out.note(&format!(
                "{} is in sync with the lab file; nothing would change",
                where_(live)
            ));
        } else {
            for c in &report.changes {
                data(&format!("{c}\n"))?;
            }
            out.note(&format!(
                "{} would be made to {} (dry run: nothing changed)",
                plural(report.changes.len(), "change"),
                where_(live)
            ));
        }
        if let Some(p) = &report.pending {
            out.note(&format!("note: {}", pending_text(p)));
        }
        return Ok(EXIT_OK);
    }
    out.note(&format!(
        "applied lab \"{}\" to {} via {} ({}, {}{})",
        report.lab,
        where_(live),
        report.backend.as_str(),
        match report.plan.mode {
            Mode::Incremental => format!(
                "incremental: {}",
                plural(report.plan.delta.map_or(0, |d| d.objects), "object")
            ),
            _ => "full replace".to_owned(),
        },
        if report.plan.compared {
            plural(report.changes.len(), "change")
        } else {
            "not compared first; `labnet diff` compares".to_owned()
        },
        if opts.coexist.is_empty() {
            String::new()
        } else {
            format!(
                ", {} in DOCKER-USER",
                plural(report.coexist_rules, "accept rule")
            )
        }
    ));
    if let Some(p) = &report.pending {
        out.note(&format!(
            "run `labnet confirm{}` by {}, or the previous ruleset comes back ({}s)",
            ns_flag(live.netns.as_deref()),
            p.deadline_utc.as_deref().unwrap_or("the deadline"),
            p.remaining_secs.unwrap_or(0)
        ));
    }
    Ok(EXIT_OK)
}

pub(crate) fn diff(
    lab: Option<&Path>,
    live: &LiveOptions,
    format: Format,
    out: &Output,
) -> Result<u8> {
    let file = match load_reported(lab, out)? {
        Ok(f) => f,
        Err(code) => return Ok(code),
    };
    let ns = Netns::named(live.netns.as_deref())?;
    let changes = kernel::drift(&ns, file.lab(), &live.table)?;
    if format == Format::Json {
        json(&serde_json::json!({ "in_sync": changes.is_empty(), "changes": changes }))?;
    } else if changes.is_empty() {
        out.note(&format!("{} matches the lab file", where_(live)));
    } else {
        for c in &changes {
            data(&format!("{c}\n"))?;
        }
        out.note(&format!(
            "{} differs from the lab file in {} (+ only in the kernel, - only in the lab file); `labnet apply` restores it",
            where_(live),
            plural(changes.len(), "place")
        ));
    }
    Ok(if changes.is_empty() {
        EXIT_OK
    } else {
        EXIT_DRIFT
    })
}

pub(crate) fn status(
    lab: Option<&Path>,
    live: &LiveOptions,
    format: Format,
    out: &Output,
) -> Result<u8> {
    let file = match load_reported(lab, out)? {
        Ok(f) => f,
        Err(code) => return Ok(code),
    };
    let s = apply::status(file.lab(), live)?;
    if format == Format::Json {
        json(&s)?;
    } else {
        let mut t = format!("{}\n", where_(live));
        if s.loaded {
            t.push_str(&format!(
                "  loaded: {}, {}, {}{}\n",
                plural(s.chains, "chain"),
                plural(s.rules, "rule"),
                plural(s.set_elements, "set element"),
                if s.owned_by_labnet {
                    ""
                } else {
                    " (NOT made by labnet: no marker chain)"
                }
            ));
        } else {
            t.push_str("  not loaded\n");
        }
        t.push_str(&format!(
            "  sync: {}\n",
            if s.in_sync {
                "matches the lab file".to_owned()
            } else {
                format!(
                    "{}; see `labnet diff`",
                    plural(s.changes.len(), "difference")
                )
            }
        ));
        if s.counters.is_empty() {
            t.push_str("  counters: none kept (the compiled ruleset has no counter statements)\n");
        } else {
            for c in &s.counters {
                t.push_str(&format!("  counter: {c}\n"));
            }
        }
        t.push_str(&format!(
            "  DOCKER-USER accepts owned by labnet: {}\n",
            s.docker_user_rules
        ));
        if let Some(p) = &s.pending {
            t.push_str(&format!("  pending apply: {}\n", pending_text(p)));
        }
        t.push_str(&format!(
            "  netlink loader: {}\n",
            if s.netlink_built {
                "built in"
            } else {
                "not in this build (nft -f is used)"
            }
        ));
        data(&t)?;
    }
    Ok(if s.in_sync { EXIT_OK } else { EXIT_DRIFT })
}

pub(crate) fn confirm_cmd(live: &LiveOptions, out: &Output) -> Result<u8> {
    match confirm::confirm(live.netns.as_deref())? {
        Confirmed::Kept(_) => {
            out.note(&format!("confirmed: {} stays as applied", where_(live)));
            Ok(EXIT_OK)
        }
        Confirmed::NotLiveYet(v) => {
            out.error(&format!("nothing to confirm yet: {}", pending_text(&v)));
            Ok(EXIT_FAIL)
        }
        _ => {
            out.error("nothing to confirm: no apply is waiting (it was confirmed, rolled back, or made without --confirm-within)");
            Ok(EXIT_FAIL)
        }
    }
}

pub(crate) fn cancel_cmd(live: &LiveOptions, out: &Output) -> Result<u8> {
    match confirm::cancel(live.netns.as_deref())? {
        Cancelled::Restored(_) => {
            out.note(&format!(
                "cancelled: {} is back to what it was before the apply",
                where_(live)
            ));
            Ok(EXIT_OK)
        }
        Cancelled::Discarded(_) => {
            out.note("removed a pending record left by an apply that never changed the kernel");
            Ok(EXIT_OK)
        }
        _ => {
            out.error("nothing to cancel: no apply is waiting for confirmation");
            Ok(EXIT_FAIL)
        }
    }
}

pub(crate) fn watchdog(record: &Path) -> Result<u8> {
    Ok(match confirm::watchdog_main(record)? {
        confirm::WatchdogOutcome::RolledBack => EXIT_FAIL,
        _ => EXIT_OK,
    })
}

pub(crate) fn doctor_cmd(
    lab: Option<&Path>,
    live: &LiveOptions,
    format: Format,
    out: &Output,
) -> Result<u8> {
    let file = match load_reported(lab, out)? {
        Ok(f) => f,
        Err(code) => return Ok(code),
    };
    let ns = Netns::named(live.netns.as_deref())?;
    let findings = doctor::examine(&ns, file.lab(), live.table.as_str())?;
    if format == Format::Json {
        json(&findings)?;
    } else if findings.is_empty() {
        out.note(&format!(
            "nothing else in {} drops, rejects or rewrites traffic the lab file allows",
            ns.label()
        ));
    } else {
        for f in &findings {
            let fix = match &f.remedy {
                Remedy::CoexistDocker => "labnet apply --coexist docker (accepts lab traffic in DOCKER-USER; table ip labnet still decides)".to_owned(),
                other => other.to_string(),
            };
            data(&format!(
                "{}: `{}`\n  problem: {}\n  fix: {fix}\n",
                f.chain, f.what, f.problem
            ))?;
        }
    }
    Ok(if findings.is_empty() {
        EXIT_OK
    } else {
        EXIT_FAIL
    })
}

pub(crate) fn remove(live: &LiveOptions, format: Format, out: &Output) -> Result<u8> {
    let r = apply::remove(live)?;
    if format == Format::Json {
        json(&r)?;
        return Ok(EXIT_OK);
    }
    out.note(&if r.table_removed {
        format!(
            "removed {}{}",
            where_(live),
            if r.coexist_rules > 0 {
                format!(
                    " and {} from DOCKER-USER",
                    plural(r.coexist_rules, "accept rule")
                )
            } else {
                String::new()
            }
        )
    } else {
        format!("{} was not loaded; nothing to remove", where_(live))
    });
    Ok(EXIT_OK)
}

pub(crate) fn verify(
    lab: Option<&Path>,
    backend: kernel::Backend,
    timeout_ms: u64,
    format: Format,
    out: &Output,
) -> Result<u8> {
    let file = match load_reported(lab, out)? {
        Ok(f) => f,
        Err(code) => return Ok(code),
    };
    let opts = ProofOptions::default()
        .backend(backend)
        .timeout(Duration::from_millis(timeout_ms));
    out.note("building throwaway namespaces and probing every segment pair (the host's namespace is not touched)");
    let report = proof::run(file.lab(), &opts, |_| Ok(()))?;
    let bad: Vec<String> = report.mismatches().map(ToString::to_string).collect();
    if format == Format::Json {
        json(
            &serde_json::json!({ "passed": bad.is_empty(), "internet": report.internet, "probes": report.probes }),
        )?;
    } else {
        data(&format!(
            "observed (what got through):\n{}\nexpected (the lab file):\n{}",
            report.matrix(true),
            report.matrix(false)
        ))?;
        for b in &bad {
            data(&format!("MISMATCH {b}\n"))?;
        }
        out.note(&format!(
            "{} ({} tcp, {} udp, {} icmp; internet stood in for by {}), {} differ from the lab file",
            plural(report.probes.len(), "probe"),
            report.count("tcp"),
            report.count("udp"),
            report.count("icmp"),
            report.internet,
            bad.len()
        ));
    }
    Ok(if bad.is_empty() { EXIT_OK } else { EXIT_FAIL })
}
