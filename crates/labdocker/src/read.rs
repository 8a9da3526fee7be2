//! labdocker's section of the lab file, `[docker]`, read through labfile and
//! checked against labnet's segments: every problem at once, each with
//! file:line, field, value and a hint, and a note at the segment it overlaps.

use labfile::{Diagnostic, Document, Field, Item, Sink, Span, TableReader, quoted};
use labnet::Ipv4Cidr;

use crate::model::{AddressPool, Docker, LogConfig, PrunePolicy, Swarm};

/// The top-level sections labdocker reads (see `labfile::sections`).
pub const LABDOCKER_SECTIONS: &[&str] = &["docker"];

/// libvirt's own `default` network, which a Docker pool must not take either.
pub const LIBVIRT_DEFAULT: &str = "192.168.122.0/24";

/// Read `[docker]` from `doc`, whose labnet sections gave `net`. Problems go
/// to `sink`; `None` when the section is missing or any problem was an error.
pub fn read(doc: &Document, net: &labnet::LabFile, sink: &mut Sink) -> Option<Docker> {
    let Some(item) = doc.section("docker") else {
        sink.push(
            Diagnostic::error("docker", "the [docker] section is missing")
                .span(Span::at(0))
                .hint("add [docker] with socket; see docs/lab-file.md"),
        );
        return None;
    };
    let errors = sink.error_count();
    let mut t = item.table(sink)?;
    let socket = t
        .optional_str("socket", sink)
        .map_or_else(|| "unix:///var/run/docker.sock".to_owned(), |f| {
            if !f.value.starts_with("unix://") {
                sink.push(
                    Diagnostic::error(t.key_path("socket"), format!("{} is not a unix socket", quoted(f.value)))
                        .value(f.value)
                        .span(f.span.unwrap_or(t.span()))
                        .hint("labdocker talks to the local Engine: write \"unix:///var/run/docker.sock\"; a TCP socket without TLS is refused"),
                );
            }
            f.value.to_owned()
        });
    let data_root = absolute(&mut t, "data_root", sink);
    let storage_driver = t
        .optional_str("storage_driver", sink)
        .map(|f| f.value.to_owned());
    let log = t.optional("log").and_then(|l| log(l, sink));
    let mut taken: Vec<(Field<Ipv4Cidr>, String)> = Vec::new();
    let mut address_pools = Vec::new();
    if let Some(a) = t.optional("address_pools") {
        let path = a.path();
        for (i, mut p) in a.tables(sink).into_iter().enumerate() {
            let base = cidr(&mut p, "base", sink);
            let size = prefix(&mut p, "size", sink);
            p.finish(sink);
            if let (Some(base), Some(size)) = (base, size) {
                if size.value < base.value.len() {
                    sink.push(
                        Diagnostic::error(
                            format!("{path}[{i}].size"),
                            format!("/{} is larger than the pool {}", size.value, base.value),
                        )
                        .value(size.value.to_string())
                        .span(size.span.unwrap_or(Span::at(0)))
                        .hint(format!(
                            "networks cut from a /{} are /{} or longer",
                            base.value.len(),
                            base.value.len()
                        )),
                    );
                }
                address_pools.push(AddressPool {
                    base: base.value,
                    size: size.value,
                });
                taken.push((base, format!("{path}[{i}].base")));
            }
        }
    }
    let swarm = t.optional("swarm").and_then(|s| swarm(s, &mut taken, sink));
    let prune = t
        .optional("prune")
        .and_then(|p| prune(p, sink))
        .unwrap_or(PrunePolicy {
            keep_images_newer_than: None,
            keep_volumes: true,
        });
    t.finish(sink);
    overlaps(&taken, net, sink);
    (sink.error_count() == errors).then_some(Docker {
        socket,
        data_root,
        storage_driver,
        log,
        address_pools,
        swarm,
        prune,
    })
}

/// Every pool against the lab's segments, libvirt's `default` and each other.
fn overlaps(taken: &[(Field<Ipv4Cidr>, String)], net: &labnet::LabFile, sink: &mut Sink) {
    let libvirt: Ipv4Cidr = LIBVIRT_DEFAULT
        .parse()
        .unwrap_or_else(|_| Ipv4Cidr::truncating(std::net::Ipv4Addr::new(192, 168, 122, 0), 24));
    for (i, (pool, path)) in taken.iter().enumerate() {
        let span = pool.span.unwrap_or(Span::at(0));
        for seg in net.lab().segments() {
            if pool.value.overlaps(seg.cidr) {
                sink.push(
                    Diagnostic::error(path.clone(), format!("{} overlaps segment {} ({})", pool.value, seg.name.as_str(), seg.cidr))
                        .value(pool.value.to_string())
                        .span(span)
                        .hint("Docker would route that range to its own bridges: choose a pool outside every [[segment]] cidr, e.g. 172.17.0.0/16")
                        .related(
                            format!("segment `{}` ({}) is declared here", seg.name.as_str(), seg.cidr),
                            net.segment_span(seg.name.as_str()),
                        ),
                );
            }
        }
        if pool.value.overlaps(libvirt) {
            sink.push(
                Diagnostic::error(
                    path.clone(),
                    format!(
                        "{} overlaps libvirt's default network {LIBVIRT_DEFAULT}",
                        pool.value
                    ),
                )
                .value(pool.value.to_string())
                .span(span)
                .hint("leave 192.168.122.0/24 to libvirt"),
            );
        }
        for (other, other_path) in &taken[..i] {
            if pool.value.overlaps(other.value) {
                sink.push(
                    Diagnostic::error(
                        path.clone(),
                        format!("{} overlaps {} ({other_path})", pool.value, other.value),
                    )
                    .value(pool.value.to_string())
                    .span(span)
                    .hint("give each pool a range of its own"),
                );
            }
        }
    }
}

fn absolute(t: &mut TableReader<'_>, key: &'static str, sink: &mut Sink) -> Option<String> {
    let f = t.optional_str(key, sink)?;
    if !f.value.starts_with('/') {
        sink.push(
            Diagnostic::error(
                t.key_path(key),
                format!("{} is not an absolute path", quoted(f.value)),
            )
            .value(f.value)
            .span(f.span.unwrap_or(t.span()))
            .hint("write the whole path, e.g. \"/data/docker\""),
        );
        return None;
    }
    Some(f.value.to_owned())
}

fn cidr(t: &mut TableReader<'_>, key: &'static str, sink: &mut Sink) -> Option<Field<Ipv4Cidr>> {
    let path = t.key_path(key);
    let Some(item) = t.optional(key) else {
        sink.push(
            Diagnostic::error(path, "the pool has no base")
                .span(t.span())
                .hint("add base = \"172.17.0.0/16\""),
        );
        return None;
    };
    item.parsed(
        "a CIDR block",
        "write it as \"172.17.0.0/16\"",
        str::parse::<Ipv4Cidr>,
        sink,
    )
}

fn prefix(t: &mut TableReader<'_>, key: &'static str, sink: &mut Sink) -> Option<Field<u8>> {
    let f = t.optional_integer(key, sink)?;
    match u8::try_from(f.value) {
        Ok(v) if (8..=30).contains(&v) => Some(Field {
            value: v,
            span: f.span,
        }),
        _ => {
            sink.push(
                Diagnostic::error(
                    t.key_path(key),
                    format!("{} is not a prefix length from 8 to 30", f.value),
                )
                .value(f.value.to_string())
                .span(f.span.unwrap_or(t.span()))
                .hint("networks of 256 addresses are size = 24"),
            );
            None
        }
    }
}

fn log(item: Item<'_>, sink: &mut Sink) -> Option<LogConfig> {
    let mut t = item.table(sink)?;
    let driver = t
        .optional_str("driver", sink)
        .map_or_else(|| "json-file".to_owned(), |f| f.value.to_owned());
    let max_size = t.optional_str("max_size", sink).map(|f| f.value.to_owned());
    let max_file = t.optional_integer("max_file", sink);
    let span = t.span();
    let path = t.path();
    t.finish(sink);
    if (driver == "json-file" || driver == "local") && (max_size.is_none() || max_file.is_none()) {
        sink.push(
            Diagnostic::error(path, "log rotation is not set")
                .span(span)
                .hint("set max_size = \"10m\" and max_file = 3: without them json-file logs grow until the disk is full"),
        );
        return None;
    }
    Some(LogConfig {
        driver,
        max_size: max_size.unwrap_or_default(),
        max_file: max_file
            .and_then(|f| u32::try_from(f.value).ok())
            .unwrap_or(0),
    })
}

fn swarm(
    item: Item<'_>,
    taken: &mut Vec<(Field<Ipv4Cidr>, String)>,
    sink: &mut Sink,
) -> Option<Swarm> {
    let mut t = item.table(sink)?;
    let enabled = t.optional_bool("enabled", sink).is_none_or(|f| f.value);
    let pool = cidr(&mut t, "address_pool", sink);
    let size = prefix(&mut t, "subnet_size", sink);
    let path = t.key_path("address_pool");
    t.finish(sink);
    let pool = pool?;
    taken.push((pool, path));
    Some(Swarm {
        enabled,
        address_pool: pool.value,
        subnet_size: size.map_or(24, |s| s.value),
    })
}

fn prune(item: Item<'_>, sink: &mut Sink) -> Option<PrunePolicy> {
    let mut t = item.table(sink)?;
    let keep = t
        .optional_str("keep_images_newer_than", sink)
        .map(|f| (f.value.to_owned(), f.span));
    if let Some((v, span)) = &keep
        && !is_duration(v)
    {
        sink.push(
            Diagnostic::error(
                t.key_path("keep_images_newer_than"),
                format!("{} is not a duration", quoted(v)),
            )
            .value(v)
            .span(span.unwrap_or(t.span()))
            .hint("write hours, as Docker's filters take it: \"168h\" is a week"),
        );
    }
    let keep_volumes = t
        .optional_bool("keep_volumes", sink)
        .is_none_or(|f| f.value);
    t.finish(sink);
    Some(PrunePolicy {
        keep_images_newer_than: keep.map(|k| k.0),
        keep_volumes,
    })
}

/// Docker's `until` durations as labkit accepts them: a number and `h`, `m` or `s`.
fn is_duration(v: &str) -> bool {
    let Some(unit) = v.chars().last() else {
        return false;
    };
    let digits = &v[..v.len() - unit.len_utf8()];
    matches!(unit, 'h' | 'm' | 's')
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
}
