//! labvirt's sections of the lab file, `[host]` and `[[vm]]`, read through
//! `labfile` and checked against labnet's segments: every problem at once,
//! each with file:line, field, value and a hint, and a note at the segment's
//! declaration when the segment is involved.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;

use labfile::{Diagnostic, Document, Field, Item, Sink, Span, TableReader, did_you_mean, quoted};

use crate::model::{Boot, DomainType, ForwardMode, Host, VirtLab, Vm, VmSpans};
use crate::names::{MacAddr, VmName};

/// The top-level sections labvirt reads (see `labfile::sections`).
pub const LABVIRT_SECTIONS: &[&str] = &["host", "vm"];

/// Read `[host]` and `[[vm]]` from `doc`, whose labnet sections gave `net`.
/// Problems go to `sink`; `None` when any was an error.
pub fn read(doc: &Document, net: labnet::LabFile, sink: &mut Sink) -> Option<VirtLab> {
    let errors = sink.error_count();
    let mut pools = None;
    let host = match doc.section("host") {
        Some(item) => read_host(item, &mut pools, sink),
        None => {
            sink.push(
                Diagnostic::error("host", "the [host] section is missing")
                    .span(Span::at(0))
                    .hint("add [host] with uri, cores and memory_gib; see docs/lab-file.md"),
            );
            None
        }
    };
    let mut spans = VmSpans::default();
    let vms = match doc.section("vm") {
        Some(item) => read_vms(item, &net, pools.as_ref(), &mut spans, sink),
        None => Vec::new(),
    };
    let host = host?;
    (sink.error_count() == errors).then(|| VirtLab::new(net, host, vms, spans))
}

/// `pools` gets `[host.pools]` even when another field of `[host]` is wrong,
/// so the VMs' `pool` fields are still checked.
fn read_host(
    item: Item<'_>,
    pools_out: &mut Option<BTreeMap<String, String>>,
    sink: &mut Sink,
) -> Option<Host> {
    let mut t = item.table(sink)?;
    let errors = sink.error_count();
    let uri = t
        .optional_str("uri", sink)
        .map_or_else(|| "qemu:///system".to_owned(), |f| f.value.to_owned());
    let cores = count(
        &mut t,
        "cores",
        true,
        1,
        4096,
        "add cores = 6 (physical cores)",
        sink,
    )
    .map(|f| f.value);
    let threads = count(&mut t, "threads", false, 1, 8192, "", sink).map(|f| f.value);
    let memory_gib = count(
        &mut t,
        "memory_gib",
        true,
        1,
        1 << 20,
        "add memory_gib = 32",
        sink,
    )
    .map(|f| f.value);
    let reserve_cores_f = count(&mut t, "reserve_cores", false, 0, 4096, "", sink);
    let reserve_cores = reserve_cores_f.map_or(0, |f| f.value);
    let reserve_memory_f = count(&mut t, "reserve_memory_gib", false, 0, 1 << 20, "", sink);
    let reserve_memory_gib = reserve_memory_f.map_or(0, |f| f.value);
    let cpu_overcommit = ratio(
        &mut t,
        "cpu_overcommit",
        0.0,
        64.0,
        "vCPUs per core, e.g. 2.0",
        sink,
    )
    .unwrap_or(1.0);
    let memory_max_use = ratio(
        &mut t,
        "memory_max_use",
        0.0,
        1.0,
        "a share of the pool, e.g. 0.70",
        sink,
    )
    .unwrap_or(1.0);
    let max_vms =
        count(&mut t, "max_vms", false, 1, 100_000, "", sink).map_or(u32::MAX, |f| f.value);
    let mut pools = BTreeMap::new();
    if let Some(mut p) = t.optional("pools").and_then(|p| p.table(sink)) {
        for (key, value) in p.entries().collect::<Vec<_>>() {
            let Some(path) = value.string(sink) else {
                continue;
            };
            if !path.value.starts_with('/') {
                sink.push(
                    value
                        .error(format!("{} is not an absolute path", quoted(path.value)))
                        .hint(
                            "a pool is a directory on the host, e.g. \"/var/lib/libvirt/images\"",
                        ),
                );
                continue;
            }
            if !valid_pool_name(key.value) {
                sink.push(
                    value
                        .error(format!("{} is not a usable pool name", quoted(key.value)))
                        .hint("use letters, digits, '-' and '_', e.g. fast"),
                );
                continue;
            }
            pools.insert(
                key.value.to_owned(),
                path.value.trim_end_matches('/').to_owned(),
            );
        }
        p.finish(sink);
    }
    let domain_type = t.optional("domain_type").and_then(|i| {
        i.parsed(
            "a domain type",
            "write \"kvm\" or \"qemu\"",
            |s| match s {
                "kvm" => Ok(DomainType::Kvm),
                "qemu" => Ok(DomainType::Qemu),
                "test" => Ok(DomainType::Test),
                _ => Err("labvirt knows kvm, qemu and test (libvirt's test driver)"),
            },
            sink,
        )
    });
    let forward = t
        .optional("forward")
        .and_then(|i| {
            i.parsed(
                "a forward mode",
                "write \"open\" (the default), \"nat\" or \"route\"",
                |s| match s {
                    "open" => Ok(ForwardMode::Open),
                    "nat" => Ok(ForwardMode::Nat),
                    "route" => Ok(ForwardMode::Route),
                    _ => Err("libvirt's modes labvirt uses are open, nat and route"),
                },
                sink,
            )
        })
        .map_or(ForwardMode::Open, |f| f.value);
    let mut authorized_keys = Vec::new();
    if let Some(a) = t.optional("authorized_keys").and_then(|a| a.array(sink)) {
        for e in a.elements() {
            if let Some(k) = e.item().string(sink) {
                if k.value.starts_with("ssh-")
                    || k.value.starts_with("ecdsa-")
                    || k.value.starts_with("sk-")
                {
                    authorized_keys.push(k.value.to_owned());
                } else {
                    sink.push(
                        e.item()
                            .error(format!("{} does not look like an OpenSSH public key", quoted(k.value)))
                            .hint("paste a line of ~/.ssh/id_ed25519.pub, e.g. \"ssh-ed25519 AAAA... me@host\""),
                    );
                }
            }
        }
    }
    if let (Some(c), Some(r)) = (cores, Some(reserve_cores))
        && r >= c
    {
        sink.push(
            Diagnostic::error(
                t.key_path("reserve_cores"),
                format!("reserves {r} of the host's {c} cores, leaving none for VMs"),
            )
            .value(r.to_string())
            .span(reserve_cores_f.and_then(|f| f.span))
            .hint("keep reserve_cores below cores"),
        );
    }
    if let (Some(m), r) = (memory_gib, reserve_memory_gib)
        && r >= m
    {
        sink.push(
            Diagnostic::error(
                t.key_path("reserve_memory_gib"),
                format!("reserves {r} of the host's {m} GiB, leaving none for VMs"),
            )
            .value(r.to_string())
            .span(reserve_memory_f.and_then(|f| f.span))
            .hint("keep reserve_memory_gib below memory_gib"),
        );
    }
    t.finish(sink);
    *pools_out = Some(pools.clone());
    if sink.error_count() != errors {
        return None;
    }
    let cores = cores?;
    Some(Host {
        uri,
        cores,
        threads: threads.unwrap_or(cores),
        memory_gib: memory_gib?,
        reserve_cores,
        reserve_memory_gib,
        cpu_overcommit,
        memory_max_use,
        max_vms,
        pools,
        domain_type: domain_type.map(|f| f.value),
        forward,
        authorized_keys,
    })
}

fn valid_pool_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A whole number in `min..=max`; `required` reports a missing one with `hint`.
fn count(
    t: &mut TableReader<'_>,
    key: &'static str,
    required: bool,
    min: i64,
    max: i64,
    hint: &str,
    sink: &mut Sink,
) -> Option<Field<u32>> {
    let f = if required {
        t.required_integer(key, hint, sink)?
    } else {
        t.optional_integer(key, sink)?
    };
    if f.value < min || f.value > max {
        sink.push(
            Diagnostic::error(t.key_path(key), format!("{} is out of range", f.value))
                .value(f.value.to_string())
                .span(f.span)
                .hint(format!("{key} is a whole number from {min} to {max}")),
        );
        return None;
    }
    u32::try_from(f.value).ok().map(|v| Field {
        value: v,
        span: f.span,
    })
}

fn ratio(
    t: &mut TableReader<'_>,
    key: &'static str,
    above: f64,
    max: f64,
    hint: &str,
    sink: &mut Sink,
) -> Option<f64> {
    let f = t.optional(key)?.number(sink)?;
    if !(f.value > above && f.value <= max) {
        sink.push(
            Diagnostic::error(
                t.key_path(key),
                format!("{} is out of range (above {above}, at most {max})", f.value),
            )
            .value(f.value.to_string())
            .span(f.span)
            .hint(hint.to_owned()),
        );
        return None;
    }
    Some(f.value)
}

/// Per-lab uniqueness, each remembering its first use for a note.
#[derive(Default)]
struct Seen {
    ips: HashMap<Ipv4Addr, (String, Option<Span>)>,
    macs: HashMap<MacAddr, (String, Option<Span>)>,
    ports: HashMap<u16, (String, Option<Span>)>,
}

fn read_vms(
    item: Item<'_>,
    net: &labnet::LabFile,
    pools: Option<&BTreeMap<String, String>>,
    spans: &mut VmSpans,
    sink: &mut Sink,
) -> Vec<Vm> {
    let lab = net.lab();
    let mut seen = Seen::default();
    let mut out = Vec::new();
    let mut derive_later: Vec<usize> = Vec::new();
    for named in item.named_tables("every VM needs a name, e.g. name = \"bastion\"", sink) {
        let mut t = named.table;
        let errors = sink.error_count();
        let path = t.path();
        let name = named.name.and_then(|n| match VmName::new(n.value) {
            Ok(v) => Some(v),
            Err(e) => {
                sink.push(
                    Diagnostic::error(
                        t.key_path("name"),
                        format!("{} is not a VM name: {e}", quoted(n.value)),
                    )
                    .value(n.value)
                    .span(n.span)
                    .hint("e.g. \"bastion\" or \"db-1\""),
                );
                None
            }
        });
        let seg_f = t.required_str(
            "segment",
            "name the segment its NIC is on, e.g. segment = \"management\"",
            sink,
        );
        let segment = seg_f.and_then(|s| {
            if let Some(seg) = lab.segment(s.value) {
                return Some(seg);
            }
            let names = lab.segments().iter().map(|s| s.name.as_str());
            let mut d = Diagnostic::error(
                t.key_path("segment"),
                format!("there is no segment {}", quoted(s.value)),
            )
            .value(s.value)
            .span(s.span);
            d = match did_you_mean(s.value, names) {
                Some(m) => d.hint(format!("did you mean `{m}`?")),
                None => d.hint(format!(
                    "the segments are: {}",
                    lab.segments()
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            };
            sink.push(d);
            None
        });
        let seg_note = |d: Diagnostic| match segment {
            Some(s) => d.related(
                format!("segment `{}` ({}) is declared here", s.name, s.cidr),
                net.segment_span(s.name.as_str()),
            ),
            None => d,
        };
        let vcpus = count(&mut t, "vcpus", true, 1, 512, "add vcpus = 2", sink).map(|f| f.value);
        let memory_mib = count(
            &mut t,
            "memory_mib",
            true,
            64,
            16 << 20,
            "add memory_mib = 2048",
            sink,
        )
        .map(|f| f.value);
        let disk_gib = count(
            &mut t,
            "disk_gib",
            true,
            1,
            1 << 16,
            "add disk_gib = 20",
            sink,
        )
        .map(|f| f.value);
        let pool = match t.optional_str("pool", sink) {
            Some(p) => pools.and_then(|h| {
                if h.contains_key(p.value) {
                    return Some(p.value.to_owned());
                }
                let mut d = Diagnostic::error(
                    t.key_path("pool"),
                    format!("there is no pool {} under [host.pools]", quoted(p.value)),
                )
                .value(p.value)
                .span(p.span);
                d = match did_you_mean(p.value, h.keys().map(String::as_str)) {
                    Some(m) => d.hint(format!("did you mean `{m}`?")),
                    None => {
                        d.hint("add it under [host.pools], e.g. fast = \"/var/lib/libvirt/images\"")
                    }
                };
                sink.push(d);
                None
            }),
            None => match pools.map(BTreeMap::len) {
                Some(1) => pools.and_then(|h| h.keys().next().cloned()),
                Some(_) => {
                    sink.push(
                        Diagnostic::error(
                            t.key_path("pool"),
                            "the VM names no pool, and the host has not exactly one",
                        )
                        .span(t.span())
                        .hint("add pool = \"fast\" (a key of [host.pools])"),
                    );
                    None
                }
                None => None,
            },
        };
        let ip = t.optional_ipv4("ip", sink);
        if let (Some(seg), Some(ip)) = (segment, ip) {
            let a = ip.value;
            let problem = if !seg.cidr.contains(a) {
                Some(format!(
                    "{a} is outside segment `{}` ({})",
                    seg.name, seg.cidr
                ))
            } else if a == seg.cidr.addr() || a == seg.cidr.broadcast() {
                Some(format!(
                    "{a} is the network or broadcast address of {}",
                    seg.cidr
                ))
            } else if a == seg.gateway {
                Some(format!(
                    "{a} is segment `{}`'s gateway (the host's address)",
                    seg.name
                ))
            } else {
                None
            };
            if let Some(p) = problem {
                sink.push(seg_note(
                    Diagnostic::error(t.key_path("ip"), p)
                        .value(a.to_string())
                        .span(ip.span)
                        .hint(format!(
                            "pick a host address in {} other than {}",
                            seg.cidr, seg.gateway
                        )),
                ));
            } else if let Some((first, at)) = seen.ips.get(&a) {
                sink.push(
                    Diagnostic::error(
                        t.key_path("ip"),
                        format!("{a} is already {first}'s address"),
                    )
                    .value(a.to_string())
                    .span(ip.span)
                    .related("first used here", *at)
                    .hint("every VM needs its own address"),
                );
            } else {
                seen.ips.insert(a, (path.clone(), ip.span));
            }
        } else if let (Some(seg), None) = (segment, ip)
            && seg.dhcp.is_none()
        {
            sink.push(seg_note(
                Diagnostic::error(
                    t.key_path("ip"),
                    format!(
                        "segment `{}` has static addresses only, so the VM needs an ip",
                        seg.name
                    ),
                )
                .span(t.span())
                .hint(format!("add ip = \"…\" in {}", seg.cidr)),
            ));
        }
        let mac = t.optional("mac").and_then(|m| {
            m.parsed(
                "a MAC address",
                "e.g. \"52:54:00:00:00:05\"",
                str::parse::<MacAddr>,
                sink,
            )
        });
        if let Some(m) = mac {
            if let Some((first, at)) = seen.macs.get(&m.value) {
                sink.push(
                    Diagnostic::error(
                        t.key_path("mac"),
                        format!("{} is already {first}'s MAC", m.value),
                    )
                    .value(m.value.to_string())
                    .span(m.span)
                    .related("first used here", *at)
                    .hint("leave mac out and labvirt derives a unique one from the name"),
                );
            } else {
                seen.macs.insert(m.value, (path.clone(), m.span));
            }
        }
        let ssh = count(
            &mut t,
            "ssh_port",
            true,
            1,
            65535,
            "add ssh_port = 2201 (in the segment's ssh_ports)",
            sink,
        );
        let ssh_span = ssh.and_then(|f| f.span);
        let ssh_port = ssh.and_then(|f| u16::try_from(f.value).ok());
        if let (Some(seg), Some(p)) = (segment, ssh_port) {
            if !seg.ssh_ports.contains(p) {
                sink.push(seg_note(
                    Diagnostic::error(
                        t.key_path("ssh_port"),
                        format!(
                            "{p} is outside segment `{}`'s ssh_ports ({})",
                            seg.name, seg.ssh_ports
                        ),
                    )
                    .value(p.to_string())
                    .span(ssh_span)
                    .hint(format!("pick a port in {}", seg.ssh_ports)),
                ));
            } else if let Some((first, at)) = seen.ports.get(&p) {
                sink.push(
                    Diagnostic::error(
                        t.key_path("ssh_port"),
                        format!("{p} is already {first}'s SSH port"),
                    )
                    .value(p.to_string())
                    .span(ssh_span)
                    .related("first used here", *at)
                    .hint("every VM needs its own ssh_port"),
                );
            } else {
                seen.ports.insert(p, (path.clone(), ssh_span));
            }
        }
        let base_image = t
            .optional_str("base_image", sink)
            .map(|f| f.value.to_owned());
        let kernel = t.optional_str("kernel", sink);
        let initrd = t.optional_str("initrd", sink);
        let cmdline = t.optional_str("cmdline", sink);
        let boot = match (kernel, initrd) {
            (Some(k), Some(i)) => Some(Boot::Kernel {
                kernel: k.value.to_owned(),
                initrd: i.value.to_owned(),
                cmdline: cmdline.map_or_else(|| "console=ttyS0".to_owned(), |c| c.value.to_owned()),
            }),
            (None, None) => {
                if let Some(c) = cmdline {
                    sink.push(
                        Diagnostic::error(
                            t.key_path("cmdline"),
                            "a kernel command line without a kernel",
                        )
                        .span(c.span)
                        .hint("add kernel and initrd, or remove cmdline"),
                    );
                }
                Some(Boot::Disk)
            }
            (Some(f), None) | (None, Some(f)) => {
                sink.push(
                    Diagnostic::error(path.clone(), "kernel and initrd go together")
                        .value(f.value)
                        .span(f.span)
                        .hint("give both (direct kernel boot) or neither (boot from the disk)"),
                );
                None
            }
        };
        let autostart = t.optional_bool("autostart", sink).is_none_or(|f| f.value);
        let console_log = t
            .optional_str("console_log", sink)
            .map(|f| f.value.to_owned());
        spans.header.push(Some(t.span()));
        t.finish(sink);
        if sink.error_count() != errors {
            continue;
        }
        let (
            Some(name),
            Some(seg),
            Some(vcpus),
            Some(memory_mib),
            Some(disk_gib),
            Some(pool),
            Some(ssh_port),
            Some(boot),
        ) = (
            name, segment, vcpus, memory_mib, disk_gib, pool, ssh_port, boot,
        )
        else {
            continue;
        };
        if mac.is_none() {
            derive_later.push(out.len());
        }
        out.push(Vm {
            name,
            segment: seg.name.as_str().to_owned(),
            vcpus,
            memory_mib,
            disk_gib,
            pool,
            ip: ip.map(|f| f.value),
            mac: mac.map_or(MacAddr::new([0; 6]), |f| f.value),
            ssh_port,
            base_image,
            boot,
            autostart,
            console_log,
        });
    }
    // Derived MACs last, so a written MAC always wins and a derived one steps
    // around every MAC in the file.
    let lab_name = lab.info().name.as_str();
    for i in derive_later {
        let mut attempt = 0;
        let mac = loop {
            let m = MacAddr::derived(lab_name, out[i].name.as_str(), attempt);
            if !seen.macs.contains_key(&m) {
                break m;
            }
            attempt += 1;
        };
        seen.macs.insert(mac, (String::new(), None));
        out[i].mac = mac;
    }
    out
}

impl VirtLab {
    pub(crate) fn new(net: labnet::LabFile, host: Host, vms: Vec<Vm>, spans: VmSpans) -> Self {
        Self {
            net,
            host,
            vms,
            spans,
        }
    }
}
