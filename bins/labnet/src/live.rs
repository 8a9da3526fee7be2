//! Commands that touch the live kernel: apply, diff, status, confirm, doctor,
//! remove, verify.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;

use labnet::PolicyIr;
use labnet::kernel::coexist::{self, Coexist};
use labnet::kernel::{self, ApplyOptions, Change, LiveOptions, Netns, confirm, doctor};
use labnet::proof::{self, ProofOptions};

use crate::commands::load_reported;
use crate::output::{Output, data};
use crate::{EXIT_DRIFT, EXIT_FAIL, EXIT_OK, Format};

fn json<T: Serialize>(v: &T) -> Result<()> {
    data(&format!("{}\n", serde_json::to_string_pretty(v)?))
}

fn open(live: &LiveOptions) -> Result<Netns> {
    Ok(Netns::named(live.netns.as_deref())?)
}

fn where_(live: &LiveOptions) -> String {
    format!(
        "table ip {} in {}",
        live.table,
        live.netns.as_deref().map_or_else(
            || "the host's namespace".to_owned(),
            |n| format!("namespace {n}")
        )
    )
}

#[derive(Serialize)]
struct Applied<'a> {
    applied: bool,
    lab: String,
    table: &'a str,
    netns: Option<&'a str>,
    backend: &'static str,
    coexist_rules: usize,
    confirm_deadline: Option<u64>,
    changes: Vec<Change>,
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
    let lab = file.lab();
    let ns = open(live)?;
    let changes = kernel::drift(&ns, lab, &live.table)?;
    let mut report = Applied {
        applied: false,
        lab: lab.info().name.to_string(),
        table: live.table.as_str(),
        netns: live.netns.as_deref(),
        backend: opts.backend.resolve().as_str(),
        coexist_rules: 0,
        confirm_deadline: None,
        changes,
    };
    if opts.dry_run {
        if format == Format::Json {
            json(&report)?;
        } else if report.changes.is_empty() {
            out.note(&format!(
                "{} is in sync with the lab file; nothing would change",
                where_(live)
            ));
        } else {
            for c in &report.changes {
                data(&format!("{c}\n"))?;
            }
            out.note(&format!(
                "{} change(s) would be made to {} (dry run: nothing changed)",
                report.changes.len(),
                where_(live)
            ));
        }
        return Ok(EXIT_OK);
    }
    // Check everything that can fail before the kernel changes, so nothing is half-applied.
    let docker = opts.coexist.contains(&Coexist::Docker);
    if docker && !coexist::docker_user_exists(&ns)? {
        anyhow::bail!(
            "--coexist docker: there is no DOCKER-USER chain in {} (start dockerd first, or drop --coexist); nothing was changed",
            ns.label()
        );
    }
    let armed = match opts.confirm_within {
        Some(d) => Some(confirm::arm(
            &ns,
            live.netns.as_deref(),
            live.table.as_str(),
            d,
        )?),
        None => None,
    };
    let ir = PolicyIr::build(lab);
    let loaded = kernel::load(&ns, &ir, &live.table, opts.backend);
    let backend = match loaded {
        Ok(b) => b,
        Err(e) => {
            if let Some((path, _)) = &armed {
                let _ = std::fs::remove_file(path);
            }
            return Err(e.into());
        }
    };
    report.backend = backend.as_str();
    report.applied = true;
    if docker {
        report.coexist_rules = coexist::apply_docker(&ns, &ir.lab_nets)?;
    }
    if let Some((path, mut pending)) = armed {
        let exe = std::env::current_exe()
            .context("cannot find the labnet executable for the watchdog")?;
        let child = {
            use std::os::unix::process::CommandExt as _;
            Command::new(exe)
                .arg("__watchdog")
                .arg(&path)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                // Its own process group: a Ctrl-C or a dropped SSH session
                // must not take the rollback with it.
                .process_group(0)
                .spawn()
                .context("cannot start the rollback watchdog")?
        };
        confirm::set_watchdog(&path, &mut pending, child.id())?;
        report.confirm_deadline = Some(pending.deadline);
        out.note(&format!(
            "run `labnet confirm{}` within {}s, or the previous ruleset comes back",
            live.netns
                .as_deref()
                .map_or_else(String::new, |n| format!(" --netns {n}")),
            opts.confirm_within.map_or(0, |d| d.as_secs())
        ));
    }
    if format == Format::Json {
        json(&report)?;
    } else {
        out.note(&format!(
            "applied lab \"{}\" to {} via {} ({} change(s){})",
            report.lab,
            where_(live),
            report.backend,
            report.changes.len(),
            if docker {
                format!(", {} accept rule(s) in DOCKER-USER", report.coexist_rules)
            } else {
                String::new()
            }
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
    let ns = open(live)?;
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
            "{} differs from the lab file in {} place(s) (+ only in the kernel, - only in the lab file); `labnet apply` restores it",
            where_(live),
            changes.len()
        ));
    }
    Ok(if changes.is_empty() {
        EXIT_OK
    } else {
        EXIT_DRIFT
    })
}

#[derive(Serialize)]
struct Status {
    table: String,
    netns: Option<String>,
    loaded: bool,
    in_sync: bool,
    drift: usize,
    chains: usize,
    rules: usize,
    set_elements: usize,
    counters: Vec<String>,
    docker_user_rules: usize,
    pending_confirmation: Option<u64>,
    netlink_built: bool,
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
    let ns = open(live)?;
    // One read of the live table serves the counts, the drift and the counters.
    let text = kernel::nft_cli::list_table(&ns, live.table.as_str())?;
    let listing = text.as_deref().map(kernel::Listing::parse);
    let changes = kernel::drift_of(listing.as_ref(), file.lab(), &live.table)?;
    let (chains, rules, set_elements) = listing.as_ref().map_or((0, 0, 0), kernel::Listing::counts);
    let pending = std::fs::read_to_string(confirm::record_path(live.netns.as_deref()))
        .ok()
        .and_then(|t| serde_json::from_str::<confirm::Pending>(&t).ok())
        .map(|p| p.deadline);
    let counters = text
        .as_deref()
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("counter packets"))
        .map(|l| l.trim().to_owned())
        .collect();
    let s = Status {
        table: live.table.to_string(),
        netns: live.netns.clone(),
        loaded: listing.is_some(),
        in_sync: changes.is_empty(),
        drift: changes.len(),
        chains,
        rules,
        set_elements,
        counters,
        docker_user_rules: coexist::owned_rules(&ns).map_or(0, |r| r.len()),
        pending_confirmation: pending,
        netlink_built: cfg!(feature = "nftnl"),
    };
    if format == Format::Json {
        json(&s)?;
    } else {
        let mut t = format!("{}\n", where_(live));
        if s.loaded {
            t.push_str(&format!(
                "  loaded: {} chains, {} rules, {} set elements\n",
                s.chains, s.rules, s.set_elements
            ));
        } else {
            t.push_str("  not loaded\n");
        }
        t.push_str(&format!(
            "  sync: {}\n",
            if s.in_sync {
                "matches the lab file".to_owned()
            } else {
                format!("{} difference(s); see `labnet diff`", s.drift)
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
        if let Some(d) = s.pending_confirmation {
            t.push_str(&format!(
                "  waiting for `labnet confirm` until {d} (unix time)\n"
            ));
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
        Some(_) => {
            out.note(&format!("confirmed: {} stays as applied", where_(live)));
            Ok(EXIT_OK)
        }
        None => {
            out.error("nothing to confirm: no apply is waiting (it was confirmed, rolled back, or made without --confirm-within)");
            Ok(EXIT_FAIL)
        }
    }
}

pub(crate) fn watchdog(record: &Path) -> Result<u8> {
    Ok(if confirm::watch(record)? {
        EXIT_FAIL
    } else {
        EXIT_OK
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
    let ns = open(live)?;
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
            data(&format!("{f}\n"))?;
        }
    }
    Ok(if findings.is_empty() {
        EXIT_OK
    } else {
        EXIT_FAIL
    })
}

pub(crate) fn remove(live: &LiveOptions, out: &Output) -> Result<u8> {
    let ns = open(live)?;
    let removed = kernel::remove(&ns, &live.table)?;
    out.note(&if removed {
        format!("removed {}", where_(live))
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
    let opts = ProofOptions {
        backend,
        timeout: Duration::from_millis(timeout_ms),
        ..ProofOptions::default()
    };
    out.note("building throwaway namespaces and probing every segment pair (the host's namespace is not touched)");
    let report = proof::run(file.lab(), &opts, |_| Ok(()))?;
    let bad: Vec<String> = report.mismatches().map(ToString::to_string).collect();
    if format == Format::Json {
        json(&serde_json::json!({ "passed": bad.is_empty(), "probes": report.probes }))?;
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
            "{} probes, {} differ from the lab file",
            report.probes.len(),
            bad.len()
        ));
    }
    Ok(if bad.is_empty() { EXIT_OK } else { EXIT_FAIL })
}
