//! The throwaway lab network: a router namespace with every gateway, a host
//! namespace per segment, and an "internet" namespace behind the uplink.
//!
//! Built with rtnetlink from inside each namespace. The namespaces are
//! anonymous (held by file descriptors, never named in /run/netns), so they
//! and their veth links vanish when the [`Topology`] is dropped or the process
//! dies, whatever happened in between.

use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;

use futures::TryStreamExt;
use rtnetlink::{Handle, LinkUnspec, LinkVeth, RouteMessageBuilder, new_connection};

use super::ProofError;
use crate::kernel::Netns;
use crate::model::Lab;

/// One segment's test host.
#[derive(Debug)]
pub struct Host {
    /// Segment name.
    pub segment: String,
    /// The host's address (in the segment, not the gateway).
    pub addr: Ipv4Addr,
    /// Its namespace.
    pub ns: Netns,
}

/// The whole throwaway network.
#[derive(Debug)]
pub struct Topology {
    /// Holds every gateway and the uplink; the ruleset goes here.
    pub router: Netns,
    /// One per segment, in lab order.
    pub hosts: Vec<Host>,
    /// The internet host's namespace.
    pub internet: Netns,
    /// Name of the router's uplink interface (the lab's `uplink`).
    pub uplink: String,
    /// The simulated internet: a /24 outside every segment (203.0.113.0/24
    /// unless the lab uses it; see [`Lab::outside_net`]).
    pub internet_net: crate::cidr::Ipv4Cidr,
    /// The router's address there (what masqueraded traffic arrives as).
    pub router_uplink: Ipv4Addr,
    /// The internet host's address.
    pub internet_host: Ipv4Addr,
}

/// Run async rtnetlink work on a thread inside `ns`.
fn with_handle<T: Send>(
    ns: &Netns,
    what: &str,
    f: impl AsyncFnOnce(Handle) -> Result<T, rtnetlink::Error> + Send,
) -> Result<T, ProofError> {
    let what = what.to_owned();
    ns.run(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ProofError::Setup(format!("{what}: tokio runtime: {e}")))?;
        rt.block_on(async {
            let (conn, handle, _) =
                new_connection().map_err(|e| ProofError::Setup(format!("{what}: netlink: {e}")))?;
            tokio::spawn(conn);
            f(handle)
                .await
                .map_err(|e| ProofError::Setup(format!("{what}: {e}")))
        })
    })?
}

async fn index_of(h: &Handle, name: &str) -> Result<u32, rtnetlink::Error> {
    let mut links = h.link().get().match_name(name.to_owned()).execute();
    match links.try_next().await? {
        Some(l) => Ok(l.header.index),
        None => Err(rtnetlink::Error::RequestFailed),
    }
}

async fn addr_up(
    h: &Handle,
    ifname: &str,
    addr: Ipv4Addr,
    len: u8,
) -> Result<u32, rtnetlink::Error> {
    let idx = index_of(h, ifname).await?;
    h.address().add(idx, addr.into(), len).execute().await?;
    h.link()
        .set(LinkUnspec::new_with_index(idx).up().build())
        .execute()
        .await?;
    let lo = index_of(h, "lo").await?;
    h.link()
        .set(LinkUnspec::new_with_index(lo).up().build())
        .execute()
        .await?;
    Ok(idx)
}

async fn default_via(h: &Handle, gw: Ipv4Addr) -> Result<(), rtnetlink::Error> {
    h.route()
        .add(RouteMessageBuilder::<Ipv4Addr>::new().gateway(gw).build())
        .execute()
        .await
}

fn write_sysctl(ns: &Netns, path: &'static str, value: &'static str) -> Result<(), ProofError> {
    ns.run(move || {
        std::fs::write(path, value)
            .map_err(|e| ProofError::Setup(format!("cannot write {path}: {e}")))
    })?
}

/// A host address for the segment's test host: the first one that is not the gateway.
fn host_addr(lab: &Lab, i: usize) -> Option<Ipv4Addr> {
    let s = &lab.segments()[i];
    let first = s.cidr.first_host()?;
    let cand = if first == s.gateway {
        Ipv4Addr::from(u32::from(first).checked_add(1)?)
    } else {
        first
    };
    (s.cidr.contains(cand) && cand != s.cidr.broadcast() && cand != s.gateway).then_some(cand)
}

impl Topology {
    /// Build the network for `lab`.
    ///
    /// # Errors
    /// Namespaces, links or addresses cannot be created (needs root).
    pub fn build(lab: &Lab) -> Result<Self, ProofError> {
        let internet_net = lab.outside_net();
        let (router_uplink, internet_host) = (internet_net.nth_host(1), internet_net.nth_host(2));
        let router = Netns::throwaway("router")?;
        let internet = Netns::throwaway("internet")?;
        let uplink = lab
            .info()
            .uplink
            .as_ref()
            .map_or_else(|| "uplink0".to_owned(), ToString::to_string);
        let mut hosts = Vec::with_capacity(lab.segments().len());
        for (i, s) in lab.segments().iter().enumerate() {
            let addr = host_addr(lab, i).ok_or_else(|| {
                ProofError::Setup(format!(
                    "segment {} ({}) has no address for a test host besides its gateway",
                    s.name, s.cidr
                ))
            })?;
            hosts.push(Host {
                segment: s.name.to_string(),
                addr,
                ns: Netns::throwaway(&format!("host-{}", s.name))?,
            });
        }

        // veths are created in the router; the far end moves to its namespace.
        let moves: Vec<(String, String, i32)> = hosts
            .iter()
            .enumerate()
            .map(|(i, h)| (format!("r{i}"), format!("h{i}"), raw(&h.ns)))
            .chain(std::iter::once((
                uplink.clone(),
                "inet0".to_owned(),
                raw(&internet),
            )))
            .collect();
        let gws: Vec<(Ipv4Addr, u8)> = lab
            .segments()
            .iter()
            .map(|s| (s.gateway, s.cidr.len()))
            .collect();
        let up = uplink.clone();
        with_handle(&router, "router", async move |h: Handle| {
            for (near, far, fd) in &moves {
                h.link()
                    .add(LinkVeth::new(near, far).build())
                    .execute()
                    .await?;
                let far_idx = index_of(&h, far).await?;
                h.link()
                    .set(LinkUnspec::new_with_index(far_idx).setns_by_fd(*fd).build())
                    .execute()
                    .await?;
            }
            for (i, (gw, len)) in gws.iter().enumerate() {
                addr_up(&h, &format!("r{i}"), *gw, *len).await?;
            }
            addr_up(&h, &up, router_uplink, internet_net.len()).await?;
            Ok(())
        })?;
        write_sysctl(&router, "/proc/sys/net/ipv4/ip_forward", "1")?;

        for (i, host) in hosts.iter().enumerate() {
            let seg = &lab.segments()[i];
            let (addr, len, gw) = (host.addr, seg.cidr.len(), seg.gateway);
            let name = format!("h{i}");
            with_handle(
                &host.ns,
                &format!("host {}", host.segment),
                async move |h: Handle| {
                    addr_up(&h, &name, addr, len).await?;
                    default_via(&h, gw).await
                },
            )?;
            // Lets the probe open ICMP echo sockets without raw-socket rights.
            write_sysctl(
                &host.ns,
                "/proc/sys/net/ipv4/ping_group_range",
                "0 2147483647",
            )?;
        }
        with_handle(&internet, "internet", async move |h: Handle| {
            addr_up(&h, "inet0", internet_host, internet_net.len()).await?;
            // An attacker on the uplink side sends lab-bound traffic to the router.
            default_via(&h, router_uplink).await
        })?;
        write_sysctl(
            &internet,
            "/proc/sys/net/ipv4/ping_group_range",
            "0 2147483647",
        )?;
        Ok(Self {
            router,
            hosts,
            internet,
            uplink,
            internet_net,
            router_uplink,
            internet_host,
        })
    }
}

fn raw(ns: &Netns) -> i32 {
    ns.fd().map_or(-1, AsRawFd::as_raw_fd)
}
