//! Listeners and probes: real TCP connections, UDP exchanges and ICMP echoes.
//!
//! Sockets are created inside a namespace (on a thread that entered it) and
//! then used from ordinary threads: a socket stays in the namespace it was
//! created in. TCP and UDP listeners answer each client with the address they
//! saw it as, so one probe shows that the traffic got through, that the reply
//! came back, and whether the source was rewritten.

use std::collections::BTreeSet;
use std::fmt;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use socket2::{Domain, Protocol, Socket, Type};

use super::topology::Topology;
use super::{ProofError, ProofOptions, Report};
use crate::decide::{CtState, Packet};
use crate::kernel::Netns;
use crate::model::Lab;
use crate::proto::{L4, Proto};

/// The internet's name in reports.
pub const INTERNET: &str = "internet";
/// The TCP port the internet host listens on.
pub const INTERNET_PORT: u16 = 80;
/// The UDP port the internet host answers on.
pub const INTERNET_UDP_PORT: u16 = 53;
/// At most this many rule ports are probed per destination besides SSH.
const RULE_PORTS: usize = 4;

/// What a probe sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "proto", rename_all = "lowercase")]
pub enum Kind {
    /// A TCP connection to this port.
    Tcp {
        /// Port.
        port: u16,
    },
    /// A UDP datagram to this port (and its answer).
    Udp {
        /// Port.
        port: u16,
    },
    /// An ICMP echo request.
    Icmp,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp { port } => write!(f, "tcp:{port}"),
            Self::Udp { port } => write!(f, "udp:{port}"),
            Self::Icmp => f.write_str("icmp"),
        }
    }
}

/// One probe and its outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    /// Source segment or `internet`.
    pub from: String,
    /// Destination segment or `internet`.
    pub to: String,
    /// What was sent.
    #[serde(flatten)]
    pub kind: Kind,
    /// The lab file allows it.
    pub expected: bool,
    /// It got through and the reply came back.
    pub observed: bool,
    /// The source address the destination should see (TCP and UDP, when allowed).
    pub expected_seen_as: Option<Ipv4Addr>,
    /// The source address the destination saw (TCP and UDP, when it got through).
    pub seen_as: Option<Ipv4Addr>,
}

impl Probe {
    /// Outcome and (for TCP) the source seen both as the lab file says.
    #[must_use]
    pub fn agrees(&self) -> bool {
        self.expected == self.observed && (!self.observed || self.seen_as == self.expected_seen_as)
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = |b: bool| if b { "passes" } else { "blocked" };
        write!(
            f,
            "{} -> {} {}: lab file says {}, observed {}",
            self.from,
            self.to,
            self.kind,
            word(self.expected),
            word(self.observed)
        )?;
        if self.observed && self.seen_as != self.expected_seen_as {
            write!(
                f,
                " (seen as {}, expected {})",
                self.seen_as.map_or_else(|| "?".into(), |a| a.to_string()),
                self.expected_seen_as
                    .map_or_else(|| "?".into(), |a| a.to_string())
            )?;
        }
        Ok(())
    }
}

struct Endpoint<'a> {
    name: String,
    addr: Ipv4Addr,
    ns: &'a Netns,
    /// Router interface toward it (the packet's output interface).
    oif: String,
}

/// Ports a destination listens on, `(tcp, udp)`: its first SSH port (which
/// rules for any protocol or a whole protocol reach) and some ports of the
/// lab's tcp and udp port rules.
fn ports_for(lab: &Lab, i: usize) -> (Vec<u16>, Vec<u16>) {
    let seg = &lab.segments()[i];
    let pick = |proto: Proto| {
        let mut extra = BTreeSet::new();
        for r in lab.rules().iter().filter(|r| r.proto == proto) {
            for pr in &r.ports {
                extra.insert(pr.start());
                extra.insert(pr.end());
            }
        }
        let mut ports = BTreeSet::new();
        ports.insert(seg.ssh_ports.start());
        ports.extend(extra.into_iter().take(RULE_PORTS));
        ports.into_iter().collect::<Vec<u16>>()
    };
    (pick(Proto::Tcp), pick(Proto::Udp))
}

fn setup_err(what: &str, e: &dyn fmt::Display) -> ProofError {
    ProofError::Setup(format!("{what}: {e}"))
}

/// Accept loop answering every client with the address it came from.
struct Listener {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Listener {
    fn start(
        ns: &Netns,
        addr: Ipv4Addr,
        ports: &[u16],
        udp_ports: &[u16],
    ) -> Result<Self, ProofError> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for &port in udp_ports {
            let sock = ns
                .run(|| UdpSocket::bind(SocketAddrV4::new(addr, port)))?
                .map_err(|e| setup_err(&format!("listen on udp {addr}:{port}"), &e))?;
            sock.set_read_timeout(Some(Duration::from_millis(20)))
                .map_err(|e| setup_err("udp listener", &e))?;
            let stop = Arc::clone(&stop);
            threads.push(std::thread::spawn(move || {
                let mut buf = [0u8; 64];
                while !stop.load(Ordering::Relaxed) {
                    if let Ok((_, peer)) = sock.recv_from(&mut buf) {
                        let _ = sock.send_to(peer.ip().to_string().as_bytes(), peer);
                    }
                }
            }));
        }
        for &port in ports {
            let l = ns
                .run(|| TcpListener::bind(SocketAddrV4::new(addr, port)))?
                .map_err(|e| setup_err(&format!("listen on {addr}:{port}"), &e))?;
            l.set_nonblocking(true)
                .map_err(|e| setup_err("listener", &e))?;
            let stop = Arc::clone(&stop);
            threads.push(std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match l.accept() {
                        Ok((mut s, peer)) => {
                            let _ = s.set_nonblocking(false);
                            let _ = writeln!(s, "{}", peer.ip());
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
            }));
        }
        Ok(Self { stop, threads })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn tcp_probe(
    src: &Netns,
    dst: Ipv4Addr,
    port: u16,
    timeout: Duration,
) -> Result<Option<Ipv4Addr>, ProofError> {
    let sock = src
        .run(|| Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)))?
        .map_err(|e| setup_err("tcp socket", &e))?;
    let to = SocketAddr::V4(SocketAddrV4::new(dst, port));
    if sock.connect_timeout(&to.into(), timeout).is_err() {
        return Ok(None);
    }
    let mut s: TcpStream = sock.into();
    let _ = s.set_read_timeout(Some(timeout));
    let mut buf = String::new();
    if s.read_to_string(&mut buf).is_err() {
        return Ok(None);
    }
    Ok(buf.trim().parse().ok())
}

fn udp_probe(
    src: &Netns,
    dst: Ipv4Addr,
    port: u16,
    timeout: Duration,
) -> Result<Option<Ipv4Addr>, ProofError> {
    let sock = src
        .run(|| UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)))?
        .map_err(|e| setup_err("udp socket", &e))?;
    // connect: only the destination's answer is read (and an ICMP error ends the wait).
    if sock.connect(SocketAddrV4::new(dst, port)).is_err() || sock.send(b"labnet").is_err() {
        return Ok(None);
    }
    let _ = sock.set_read_timeout(Some(timeout));
    let mut buf = [0u8; 64];
    Ok(match sock.recv(&mut buf) {
        Ok(n) => std::str::from_utf8(&buf[..n])
            .ok()
            .and_then(|s| s.trim().parse().ok()),
        Err(_) => None,
    })
}

fn icmp_probe(src: &Netns, dst: Ipv4Addr, timeout: Duration) -> Result<bool, ProofError> {
    let sock = src
        .run(|| Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::ICMPV4)))?
        .map_err(|e| setup_err("icmp socket (ping_group_range)", &e))?;
    // type 8 (echo request); the kernel fills identifier and checksum.
    let req = [8u8, 0, 0, 0, 0, 0, 0, 1, b'l', b'a', b'b', b'n', b'e', b't'];
    let to = SocketAddr::V4(SocketAddrV4::new(dst, 0));
    if sock.send_to(&req, &to.into()).is_err() {
        return Ok(false);
    }
    // A ping socket reads like a UDP socket: std's safe API serves.
    let sock: std::net::UdpSocket = sock.into();
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 256];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if left.is_zero() || sock.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match sock.recv_from(&mut buf) {
            // Only an echo reply (type 0) counts.
            Ok((n, _)) if n > 0 && buf[0] == 0 => return Ok(true),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    Ok(false)
}

/// Start listeners, run every probe (in parallel) and compare with the lab file.
///
/// # Errors
/// A socket or listener could not be created.
pub fn run(lab: &Lab, topo: &Topology, opts: &ProofOptions) -> Result<Report, ProofError> {
    let mut endpoints: Vec<Endpoint<'_>> = topo
        .hosts
        .iter()
        .enumerate()
        .map(|(i, h)| Endpoint {
            name: h.segment.clone(),
            addr: h.addr,
            ns: &h.ns,
            oif: format!("r{i}"),
        })
        .collect();
    endpoints.push(Endpoint {
        name: INTERNET.into(),
        addr: topo.internet_host,
        ns: &topo.internet,
        oif: topo.uplink.clone(),
    });
    let n = topo.hosts.len();
    let mut listeners = Vec::new();
    let mut ports: Vec<(Vec<u16>, Vec<u16>)> = (0..n).map(|i| ports_for(lab, i)).collect();
    ports.push((vec![INTERNET_PORT], vec![INTERNET_UDP_PORT]));
    for (e, (tcp, udp)) in endpoints.iter().zip(&ports) {
        listeners.push(Listener::start(e.ns, e.addr, tcp, udp)?);
    }

    let mut plan: Vec<(usize, usize, Kind)> = Vec::new();
    for a in 0..=n {
        for (b, (tcp, udp)) in ports.iter().enumerate() {
            if a == b {
                continue;
            }
            for &port in tcp {
                plan.push((a, b, Kind::Tcp { port }));
            }
            for &port in udp {
                plan.push((a, b, Kind::Udp { port }));
            }
            plan.push((a, b, Kind::Icmp));
        }
    }

    let mut probes = Vec::with_capacity(plan.len());
    for chunk in plan.chunks(opts.parallel.max(1)) {
        let results: Vec<Result<Probe, ProofError>> = std::thread::scope(|s| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|&(a, b, kind)| {
                    let (src, dst) = (&endpoints[a], &endpoints[b]);
                    s.spawn(move || one(lab, topo, src, dst, kind, opts.timeout))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(ProofError::Setup("probe thread panicked".into())))
                })
                .collect()
        });
        for r in results {
            probes.push(r?);
        }
    }
    drop(listeners);
    Ok(Report {
        segments: topo.hosts.iter().map(|h| h.segment.clone()).collect(),
        internet: topo.internet_net,
        router_uplink: topo.router_uplink,
        probes,
    })
}

fn one(
    lab: &Lab,
    topo: &Topology,
    src: &Endpoint<'_>,
    dst: &Endpoint<'_>,
    kind: Kind,
    timeout: Duration,
) -> Result<Probe, ProofError> {
    let (l4, dport) = match kind {
        Kind::Tcp { port } => (L4::TCP, Some(port)),
        Kind::Udp { port } => (L4::UDP, Some(port)),
        Kind::Icmp => (L4::ICMP, None),
    };
    let decision = lab.decide(&Packet {
        src: src.addr,
        dst: dst.addr,
        l4,
        dport,
        ct: CtState::New,
        oif: dst.oif.clone(),
    });
    let (observed, seen_as) = match kind {
        Kind::Tcp { port } => {
            let seen = tcp_probe(src.ns, dst.addr, port, timeout)?;
            (seen.is_some(), seen)
        }
        Kind::Udp { port } => {
            let seen = udp_probe(src.ns, dst.addr, port, timeout)?;
            (seen.is_some(), seen)
        }
        Kind::Icmp => (icmp_probe(src.ns, dst.addr, timeout)?, None),
    };
    let expected_seen_as = match kind {
        Kind::Tcp { .. } | Kind::Udp { .. } if decision.allowed => Some(if decision.masquerade {
            topo.router_uplink
        } else {
            src.addr
        }),
        _ => None,
    };
    Ok(Probe {
        from: src.name.clone(),
        to: dst.name.clone(),
        kind,
        expected: decision.allowed,
        observed,
        expected_seen_as,
        seen_as,
    })
}
