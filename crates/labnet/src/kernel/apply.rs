//! Applying a lab to the live kernel, removing it, and reporting on it: the
//! decisions `labnet apply/remove/status` (and labctl) need, returned as data.
//!
//! The promises:
//! - Nothing is changed unless every check passes first: the lab, the
//!   namespace, the lock, no pending confirmation, the table being labnet's
//!   own, other firewalls' prerequisites.
//! - A failure after the kernel changed is either rolled back (and reported
//!   as "nothing changed") or reported as [`ApplyError::kernel_changed`].
//! - With a confirmation window, see [`super::confirm`]: killing the applying
//!   process at any moment leaves either the old ruleset, or the new one with
//!   a watchdog that restores the old at the deadline.

use serde::Serialize;

use super::coexist::{self, Coexist};
use super::confirm::{
    self, Event, Health, Pending, PendingState, PendingView, Started, WatchdogCommand,
};
use super::incremental::{self, Incremental, Plan};
use super::state::{self, Lock, Process, now, write_atomic};
use super::{
    ApplyOptions, Backend, Change, KernelError, Listing, LiveOptions, Netns, TableOwner, nft_cli,
    where_ns,
};
use crate::ir::PolicyIr;
use crate::model::Lab;

/// What an apply did (or, for a dry run, would do).
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Applied {
    /// Whether the kernel now holds the lab's ruleset.
    pub applied: bool,
    /// A dry run: nothing was changed.
    pub dry_run: bool,
    /// The lab's name.
    pub lab: String,
    /// labnet's table.
    pub table: String,
    /// The namespace (`None`: the host's).
    pub netns: Option<String>,
    /// How it was loaded.
    pub backend: Backend,
    /// Accept rules put in DOCKER-USER.
    pub coexist_rules: usize,
    /// How the live table differed from the lab before the apply (empty, with
    /// `plan.compared` false, for a full apply that did not read it).
    pub changes: Vec<Change>,
    /// Incremental or full, and for incremental the transaction.
    pub plan: Plan,
    /// The confirmation now pending (or, for a dry run, one already pending).
    pub pending: Option<PendingView>,
    /// A record left by an apply that died before changing anything, removed.
    pub discarded: Option<PendingView>,
}

/// Why an apply or remove did not happen, and whether the kernel changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// A kernel step or a check failed before anything changed.
    #[error(transparent)]
    Kernel(#[from] KernelError),
    /// A commit-confirmed apply is waiting (or its watchdog is gone).
    #[error("{0}; nothing was changed")]
    Pending(PendingView),
    /// The table exists and labnet did not make it.
    #[error(
        "table ip {table} in {} exists and was not made by labnet (it has no `{}` chain); labnet replaces and removes only its own tables, so nothing was changed",
        where_ns(netns.as_deref()),
        crate::target::OWNER_MARK
    )]
    NotOurs {
        /// The table.
        table: String,
        /// The namespace.
        netns: Option<String>,
    },
    /// A confirmation window was asked for without a way to start the watchdog.
    #[error("a confirmation window needs a watchdog program; nothing was changed")]
    NoWatchdog,
    /// The watchdog did not start, or stopped before loading: nothing was loaded.
    #[error("the rollback watchdog did not start ({0}); nothing was changed")]
    WatchdogFailed(String),
    /// Loading failed after part of the change was made, and it was undone.
    #[error("{cause}; what had changed was restored, so nothing was changed")]
    Restored {
        /// What failed.
        cause: String,
    },
    /// The kernel was changed and is not as it was: the caller must say so.
    #[error("{cause}; THE KERNEL WAS CHANGED and could not be restored{}", restore.as_ref().map_or_else(String::new, |r| format!(": {r}")))]
    Changed {
        /// What failed.
        cause: String,
        /// Why the restore failed, if one was tried.
        restore: Option<String>,
    },
}

impl ApplyError {
    /// Whether the kernel may now differ from before the command: nothing
    /// else may be reported as "nothing changed".
    #[must_use]
    pub fn kernel_changed(&self) -> bool {
        matches!(self, Self::Changed { .. })
    }
}

/// Check the pending record under the lock: refuse if one is live or stale,
/// forget one that never loaded. Returns the forgotten one.
fn check_pending(netns: Option<&str>, forget: bool) -> Result<Option<PendingView>, ApplyError> {
    let Some(p) = confirm::pending(netns)? else {
        return Ok(None);
    };
    let view = p.view();
    if view.health == Health::NeverLoaded {
        if forget {
            confirm::discard(netns);
        }
        return Ok(Some(view));
    }
    Err(ApplyError::Pending(view))
}

/// The live table, as text and parsed (read once), unless someone else made it.
fn refuse_foreign(ns: &Netns, live: &LiveOptions) -> Result<Option<(String, Listing)>, ApplyError> {
    let Some(text) = nft_cli::list_table(ns, live.table.as_str())? else {
        return Ok(None);
    };
    let listing = Listing::parse(&text);
    match super::owner_of(Some(&listing)) {
        TableOwner::Other => Err(ApplyError::NotOurs {
            table: live.table.to_string(),
            netns: live.netns.clone(),
        }),
        _ => Ok(Some((text, listing))),
    }
}

/// Apply `lab` to the table and namespace of `live`.
///
/// With `opts.confirm_within`, `watchdog` says how to start the watchdog
/// process; the result carries the pending confirmation.
///
/// # Errors
/// See [`ApplyError`]; only [`ApplyError::Changed`] leaves the kernel changed.
pub fn apply(
    lab: &Lab,
    live: &LiveOptions,
    opts: &ApplyOptions,
    watchdog: Option<&WatchdogCommand>,
) -> Result<Applied, ApplyError> {
    let netns = live.netns.as_deref();
    let ns = Netns::named(netns)?;
    // A dry run changes nothing, so it needs no lock and refuses nothing.
    let _lock = if opts.dry_run {
        None
    } else {
        Some(Lock::try_take(netns)?)
    };
    let mut report = Applied {
        applied: false,
        dry_run: opts.dry_run,
        lab: lab.info().name.to_string(),
        table: live.table.to_string(),
        netns: live.netns.clone(),
        backend: opts.backend.resolve(),
        coexist_rules: 0,
        changes: Vec::new(),
        plan: Plan::full("no record of labnet's last apply in this namespace"),
        pending: None,
        discarded: None,
    };
    if opts.dry_run {
        report.pending = confirm::pending(netns)?.map(|p| p.view());
    } else {
        report.discarded = check_pending(netns, true)?;
    }
    // A rollback window and Docker's rules change more than labnet's table,
    // so only a plain netlink apply may be incremental.
    let plain = opts.confirm_within.is_none()
        && opts.coexist.is_empty()
        && report.backend == Backend::Netlink;
    let generation = incremental::generation(&ns)?;
    if plain
        && let Some(g) = generation
        && let Some(old_lab) = incremental::recorded(netns, &live.table, g)
    {
        let inc = Incremental::new(&old_lab, lab, &live.table);
        report.plan = inc.plan();
        report.changes = inc.changes();
        if opts.dry_run {
            return Ok(report);
        }
        if inc.delta.is_empty() {
            // Nothing to send; the record stays true as it is.
            report.applied = true;
            return Ok(report);
        }
        match incremental::load(&ns, &inc, g) {
            Ok(()) => {
                settle(&ns, netns, &live.table, g, lab);
                report.applied = true;
                return Ok(report);
            }
            // Another transaction committed since the generation was read:
            // the table may have changed, so take the full path below.
            Err(KernelError::Netlink { source, .. })
                if source.raw_os_error() == Some(nix::errno::Errno::ERESTART as i32) =>
            {
                report.plan = Plan::full("the ruleset changed while the delta was being sent");
            }
            Err(e) => {
                incremental::forget(netns);
                return Err(e.into());
            }
        }
    } else if generation.is_none() {
        report.plan =
            Plan::full("this build cannot read the ruleset generation (no netlink loader)");
    } else if !plain {
        report.plan = Plan::full(if opts.confirm_within.is_some() {
            "an apply with a confirmation window replaces the table whole"
        } else if !opts.coexist.is_empty() {
            "an apply that coexists with Docker replaces the table whole"
        } else {
            "the nft backend replaces the table whole"
        });
    } else if incremental::has_record(netns) {
        report.plan = Plan::full(
            "the ruleset changed since labnet's last apply (by hand, another tool, or a reboot)",
        );
    }
    // A plain full apply replaces the table without reading it: only that it
    // is labnet's is checked (two netlink lookups). A dry run, and the paths
    // that may have to put the old table back, read and compare it.
    let cheap = if plain && !opts.dry_run {
        incremental::owner(&ns, &live.table)?
    } else {
        None
    };
    let previous = match cheap {
        Some(TableOwner::Other) => {
            return Err(ApplyError::NotOurs {
                table: live.table.to_string(),
                netns: live.netns.clone(),
            });
        }
        Some(owner) => {
            report.plan.compared = false;
            if owner == TableOwner::Absent {
                report.changes = vec![Change::TableMissing {
                    table: live.table.to_string(),
                }];
                report.plan.compared = true;
            }
            None
        }
        None => {
            let (previous, listing) = refuse_foreign(&ns, live)?.unzip();
            report.changes = super::drift_of(listing.as_ref(), lab, &live.table)?;
            previous
        }
    };
    if opts.dry_run {
        return Ok(report);
    }
    incremental::forget(netns);
    let docker = opts.coexist.contains(&Coexist::Docker);
    if docker && !coexist::docker_user_exists(&ns)? {
        return Err(KernelError::Tool {
            tool: "iptables".into(),
            what: format!(
                "coexisting with Docker needs its DOCKER-USER chain, and {} has none (start dockerd first); nothing was changed",
                where_ns(netns)
            ),
            source: None,
        }
        .into());
    }
    match opts.confirm_within {
        Some(within) => {
            let cmd = watchdog.ok_or(ApplyError::NoWatchdog)?;
            let previous_coexist = if docker || coexist::docker_user_exists(&ns).unwrap_or(false) {
                coexist::owned_rules(&ns)?
            } else {
                Vec::new()
            };
            let pending = Pending {
                version: 1,
                netns: live.netns.clone(),
                table: live.table.to_string(),
                backend: opts.backend,
                coexist: opts.coexist.clone(),
                previous,
                previous_coexist,
                window_secs: within.as_secs().max(1),
                state: PendingState::Arming,
                created: now(),
                deadline: None,
                applier: Process::current(),
                watchdog: None,
            };
            write_atomic(
                &state::payload_path(netns),
                crate::labfile::to_toml(lab).as_bytes(),
                false,
            )?;
            confirm::create(&pending)?;
            let (backend, rules) = run_watchdog(cmd, netns)?;
            report.backend = backend;
            report.coexist_rules = rules;
            report.pending = confirm::pending(netns)?.map(|p| p.view());
        }
        None => {
            let ir = PolicyIr::build(lab);
            let previous_coexist = if docker {
                coexist::owned_rules(&ns)?
            } else {
                Vec::new()
            };
            report.backend = super::load(&ns, &ir, &live.table, opts.backend)?;
            if let Some(g) = generation
                && !docker
            {
                settle(&ns, netns, &live.table, g, lab);
            }
            if docker {
                report.coexist_rules = match coexist::apply_docker(&ns, &ir.lab_nets) {
                    Ok(n) => n,
                    Err(e) => {
                        return Err(undo(&ns, live, previous.as_deref(), &previous_coexist, &e));
                    }
                };
            }
        }
    }
    report.applied = true;
    Ok(report)
}

/// Record `lab` as loaded if the kernel's generation is exactly one past
/// `before` (so the one transaction since was this apply's); else forget.
fn settle(
    ns: &Netns,
    netns: Option<&str>,
    table: &crate::target::TableName,
    before: u32,
    lab: &Lab,
) {
    match incremental::generation(ns) {
        Ok(Some(after)) if after == before.wrapping_add(1) => {
            if incremental::remember(netns, table, after, lab).is_err() {
                incremental::forget(netns);
            }
        }
        _ => incremental::forget(netns),
    }
}

/// After a failure that followed a successful load: put the previous table,
/// and labnet's previous DOCKER-USER rules, back.
fn undo(
    ns: &Netns,
    live: &LiveOptions,
    previous: Option<&str>,
    previous_coexist: &[String],
    cause: &KernelError,
) -> ApplyError {
    match confirm::restore_saved(ns, live.table.as_str(), previous, Some(previous_coexist)) {
        Ok(()) => ApplyError::Restored {
            cause: cause.to_string(),
        },
        Err(r) => ApplyError::Changed {
            cause: cause.to_string(),
            restore: Some(r.to_string()),
        },
    }
}

/// Start the watchdog, tell it to go, and wait until the ruleset is live.
fn run_watchdog(
    cmd: &WatchdogCommand,
    netns: Option<&str>,
) -> Result<(Backend, usize), ApplyError> {
    let fail = |why: String| {
        confirm::discard(netns);
        ApplyError::WatchdogFailed(why)
    };
    let mut w = Started::spawn(cmd, netns).map_err(|e| fail(e.to_string()))?;
    match w.next() {
        Some(Event::Ready) => {}
        other => {
            return Err(fail(format!(
                "it said {other:?} instead of ready; see {}",
                state::log_path(netns).display()
            )));
        }
    }
    if !w.go() {
        return Err(fail(format!(
            "it stopped before loading; see {}",
            state::log_path(netns).display()
        )));
    }
    match w.next() {
        Some(Event::Live {
            backend,
            coexist_rules,
            ..
        }) => Ok((backend, coexist_rules)),
        Some(Event::Failed {
            error,
            changed: false,
        }) => Err(ApplyError::Restored { cause: error }),
        Some(Event::Failed {
            error,
            changed: true,
        }) => Err(ApplyError::Changed {
            cause: error,
            restore: Some("the watchdog could not restore it; see its log".into()),
        }),
        Some(Event::Ready) | None => Err(ApplyError::Changed {
            cause: format!(
                "the watchdog (pid {}) stopped while loading, so the new ruleset may be live without a rollback",
                w.pid()
            ),
            restore: None,
        }),
    }
}

/// What `remove` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Removed {
    /// The table was there and is gone.
    pub table_removed: bool,
    /// labnet's DOCKER-USER accepts deleted.
    pub coexist_rules: usize,
}

/// Remove labnet's table (and anything coexistence added) from the namespace of `live`.
///
/// # Errors
/// A pending confirmation, a table labnet did not make, or a kernel step;
/// [`ApplyError::Changed`] if the table went but DOCKER-USER could not be cleaned.
pub fn remove(live: &LiveOptions) -> Result<Removed, ApplyError> {
    let netns = live.netns.as_deref();
    let ns = Netns::named(netns)?;
    let _lock = Lock::try_take(netns)?;
    check_pending(netns, true)?;
    incremental::forget(netns);
    let present = refuse_foreign(&ns, live)?.is_some();
    if present {
        nft_cli::run(&ns, &["delete", "table", "ip", live.table.as_str()], None)?;
    }
    let coexist_rules = coexist::remove_docker(&ns).map_err(|e| {
        if present {
            ApplyError::Changed {
                cause: format!(
                    "table ip {} was removed, but labnet's DOCKER-USER rules were not: {e}",
                    live.table
                ),
                restore: None,
            }
        } else {
            ApplyError::Kernel(e)
        }
    })?;
    Ok(Removed {
        table_removed: present,
        coexist_rules,
    })
}

/// The live state of labnet's table in a namespace.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Status {
    /// The table.
    pub table: String,
    /// The namespace.
    pub netns: Option<String>,
    /// Whether the table exists.
    pub loaded: bool,
    /// Whether it carries labnet's mark (false for a foreign table of that name).
    pub owned_by_labnet: bool,
    /// Whether it is exactly the lab's compiled ruleset.
    pub in_sync: bool,
    /// The differences.
    pub changes: Vec<Change>,
    /// Chains in the table.
    pub chains: usize,
    /// Rules.
    pub rules: usize,
    /// Set and map elements.
    pub set_elements: usize,
    /// Rules with counters, as listed (the compiled ruleset has none).
    pub counters: Vec<String>,
    /// labnet's accepts in DOCKER-USER.
    pub docker_user_rules: usize,
    /// A pending confirmation, live or stale.
    pub pending: Option<PendingView>,
    /// Whether this build has the netlink loader.
    pub netlink_built: bool,
}

/// Read everything `status` shows, reading the table once.
///
/// # Errors
/// `nft` failed, or the pending record cannot be read.
pub fn status(lab: &Lab, live: &LiveOptions) -> Result<Status, KernelError> {
    let ns = Netns::named(live.netns.as_deref())?;
    let text = nft_cli::list_table(&ns, live.table.as_str())?;
    let listing = text.as_deref().map(Listing::parse);
    let changes = super::drift_of(listing.as_ref(), lab, &live.table)?;
    let (chains, rules, set_elements) = listing.as_ref().map_or((0, 0, 0), Listing::counts);
    Ok(Status {
        table: live.table.to_string(),
        netns: live.netns.clone(),
        loaded: text.is_some(),
        owned_by_labnet: super::owner_of(listing.as_ref()) == TableOwner::Labnet,
        in_sync: changes.is_empty(),
        changes,
        chains,
        rules,
        set_elements,
        counters: text
            .as_deref()
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("counter packets"))
            .map(|l| l.trim().to_owned())
            .collect(),
        docker_user_rules: coexist::owned_rules(&ns).map_or(0, |r| r.len()),
        pending: confirm::pending(live.netns.as_deref())?.map(|p| p.view()),
        netlink_built: cfg!(feature = "nftnl"),
    })
}
