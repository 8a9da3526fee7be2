//! Text renderings of the library's data.

use std::fmt::Write as _;

use labvirt::budget::Budget;
use labvirt::plan::{Change, Plan};

fn budget(s: &mut String, b: &Budget) {
    let l = &b.limits;
    let _ = writeln!(
        s,
        "budget: {} of {} vCPUs, {} of {} MiB, {} of {} VMs",
        b.used.vcpus, l.vcpus, b.used.memory_mib, l.memory_mib, b.used.vms, l.vms
    );
    for o in &b.overruns {
        let vms: Vec<String> = o.vms.iter().map(|(n, v)| format!("{n} {v}")).collect();
        let _ = writeln!(
            s,
            "  over: {} {} used, {} over the limit of {}{}; the lab's VMs: {}",
            o.used,
            o.resource.as_str(),
            o.excess(),
            o.limit,
            if o.other > 0 {
                format!(", {} by domains that are not the lab's", o.other)
            } else {
                String::new()
            },
            vms.join(", ")
        );
    }
}

pub(crate) fn check(lab: &labvirt::VirtLab, b: &Budget) -> String {
    let mut s = format!(
        "lab {}: {} networks, {} VMs on {}\n",
        lab.name(),
        lab.net.lab().segments().len(),
        lab.vms.len(),
        lab.host.uri
    );
    for v in &lab.vms {
        let ip = v.ip.map_or_else(|| "dhcp".to_owned(), |i| i.to_string());
        let _ = writeln!(
            s,
            "  {:<12} {:<11} {} vCPU {:>6} MiB {:>4} GiB ({}) {:<15} {} ssh {}",
            v.name, v.segment, v.vcpus, v.memory_mib, v.disk_gib, v.pool, ip, v.mac, v.ssh_port
        );
    }
    budget(&mut s, b);
    if !b.fits() {
        s.push_str("the lab does not fit the host's budget\n");
    }
    s
}

fn change(c: &Change) -> String {
    match c {
        Change::Update { live, what } => {
            format!(
                "update ({}) {}",
                if *live { "live" } else { "restart" },
                what.join(", ")
            )
        }
        other => other.word().to_owned(),
    }
}

pub(crate) fn plan(p: &Plan) -> String {
    let mut s = format!("plan for lab {}\n", p.lab);
    for x in &p.pools {
        let _ = writeln!(
            s,
            "  pool    {:<14} {} ({})",
            x.name,
            x.change.word(),
            x.path
        );
    }
    for n in &p.networks {
        let start = if n.start && n.change != Change::Create {
            ", start"
        } else {
            ""
        };
        let _ = writeln!(s, "  network {:<14} {}{start}", n.name, change(&n.change));
    }
    for d in &p.domains {
        let start = if d.start && d.change != Change::Create {
            ", start"
        } else {
            ""
        };
        let vols = if d.volumes.is_empty() {
            String::new()
        } else {
            format!(" (volumes: {})", d.volumes.join(", "))
        };
        let _ = writeln!(
            s,
            "  vm      {:<14} {}{start}{vols}",
            d.name,
            change(&d.change)
        );
    }
    for c in &p.conflicts {
        let _ = writeln!(
            s,
            "  conflict: {} — {} is in the way: {}",
            c.wanted, c.existing, c.reason
        );
    }
    budget(&mut s, &p.budget);
    let [c, u, k, r] = p.counts();
    let _ = writeln!(
        s,
        "{c} to create, {u} to update, {k} to keep, {r} to remove"
    );
    if p.is_noop() {
        s.push_str("nothing to do\n");
    }
    s
}

#[cfg(feature = "libvirt")]
pub(crate) fn applied(r: &labvirt::host::ApplyReport) -> String {
    let mut s = String::new();
    for d in &r.done {
        let _ = writeln!(s, "done: {d}");
    }
    for n in &r.notes {
        let _ = writeln!(s, "note: {n}");
    }
    s
}

#[cfg(feature = "libvirt")]
pub(crate) fn status(st: &labvirt::host::Status) -> String {
    let mut s = format!("lab {} on {}\n", st.lab, st.uri);
    for n in &st.networks {
        let state = if !n.defined {
            "undefined"
        } else if n.active {
            "active"
        } else {
            "inactive"
        };
        let _ = writeln!(
            s,
            "  network {:<12} {:<9} autostart {:<3} bridge {:<15} {} lease(s)",
            n.name,
            state,
            if n.autostart { "yes" } else { "no" },
            n.bridge.as_deref().unwrap_or("-"),
            n.leases
                .as_ref()
                .map_or_else(|| "?".to_owned(), |l| l.len().to_string())
        );
        for l in n.leases.iter().flatten() {
            let _ = writeln!(
                s,
                "    lease {} {} {}",
                l.ip,
                l.mac,
                l.hostname.as_deref().unwrap_or("-")
            );
        }
    }
    for v in &st.vms {
        let _ = writeln!(
            s,
            "  vm      {:<12} {:<9} {} vCPU {:>6} MiB  {:<11} {:<15} ssh {}",
            v.name,
            v.state,
            v.vcpus,
            v.memory_mib,
            v.network,
            v.ip.as_deref().unwrap_or("-"),
            v.ssh_port
        );
    }
    s
}

#[cfg(feature = "libvirt")]
pub(crate) fn migrated(r: &labvirt::host::MigrateReport) -> String {
    let mut s = String::new();
    for (vm, mac, from, to, live) in &r.moved {
        let _ = writeln!(
            s,
            "moved {vm} {mac}: {from} → {to}{}",
            if *live {
                " (live and config)"
            } else {
                " (config)"
            }
        );
    }
    if !r.left.is_empty() {
        let _ = writeln!(
            s,
            "still on default (not in the lab file): {}; default keeps running",
            r.left.join(", ")
        );
    }
    if r.default_stopped {
        s.push_str("default stopped, autostart off\n");
    } else if r.moved.is_empty() && r.left.is_empty() {
        s.push_str("nothing on default\n");
    }
    s
}
