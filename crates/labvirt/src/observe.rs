//! What a host holds, as plain data: read from libvirt by the backend, or
//! built by tests. The planner compares it with the desired state.

use std::net::Ipv4Addr;

use serde::Serialize;

use crate::names::MacAddr;
use crate::spec::{DhcpHost, DnsHost, NetworkSpec};
use crate::xml::NAMESPACE;

/// A network on the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ObservedNetwork {
    /// Name.
    pub name: String,
    /// Running.
    pub active: bool,
    /// Started with the host.
    pub autostart: bool,
    /// The lab named in labvirt's metadata element, if it has one.
    pub owner: Option<String>,
    /// libvirt's UUID (a redefinition must carry it).
    pub uuid: Option<String>,
    /// Its definition, parsed from its XML.
    pub spec: ParsedNetwork,
}

impl ObservedNetwork {
    /// An inactive network without an owner.
    #[must_use]
    pub fn new(name: impl Into<String>, spec: ParsedNetwork) -> Self {
        Self {
            name: name.into(),
            active: false,
            autostart: false,
            owner: None,
            uuid: None,
            spec,
        }
    }
}

impl ObservedPool {
    /// An inactive, empty pool.
    #[must_use]
    pub fn new(name: impl Into<String>, path: Option<String>) -> Self {
        Self {
            name: name.into(),
            path,
            active: false,
            volumes: Vec::new(),
        }
    }
}

/// The parts of a network's XML that labvirt compares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[non_exhaustive]
pub struct ParsedNetwork {
    /// Bridge name.
    pub bridge: Option<String>,
    /// Forward mode (`None`: isolated).
    pub forward: Option<String>,
    /// Address and prefix of its first IPv4 `<ip>`.
    pub ip: Option<(Ipv4Addr, u8)>,
    /// DHCP range.
    pub dhcp_range: Option<(Ipv4Addr, Ipv4Addr)>,
    /// Reservations, sorted.
    pub dhcp_hosts: Vec<DhcpHost>,
    /// DNS host records, sorted (one per host name).
    pub dns_hosts: Vec<DnsHost>,
    /// DNS domain.
    pub domain: Option<String>,
    /// Whether dnsmasq's no-ping option is set.
    pub no_ping: bool,
}

/// A NIC of a domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Nic {
    /// MAC address.
    pub mac: Option<MacAddr>,
    /// Network it is on (`type='network'`), if any.
    pub network: Option<String>,
    /// The host-side tap device of a running domain.
    pub tap: Option<String>,
}

/// A domain on the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ObservedDomain {
    /// Name.
    pub name: String,
    /// Running (or paused).
    pub active: bool,
    /// Started with the host.
    pub autostart: bool,
    /// The lab in labvirt's metadata, if any.
    pub owner: Option<String>,
    /// The fingerprint labvirt wrote of the definition it last applied.
    pub fingerprint: Option<String>,
    /// libvirt's UUID (a redefinition must carry it).
    pub uuid: Option<String>,
    /// vCPUs.
    pub vcpus: u32,
    /// Memory, MiB.
    pub memory_mib: u64,
    /// Its NICs.
    pub nics: Vec<Nic>,
}

/// A storage pool on the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ObservedPool {
    /// Name.
    pub name: String,
    /// Its target directory.
    pub path: Option<String>,
    /// Running.
    pub active: bool,
    /// Volume names in it.
    pub volumes: Vec<String>,
}

/// Everything labvirt looks at on a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[non_exhaustive]
pub struct Observed {
    /// Networks.
    pub networks: Vec<ObservedNetwork>,
    /// Domains.
    pub domains: Vec<ObservedDomain>,
    /// Storage pools.
    pub pools: Vec<ObservedPool>,
    /// The host's own network interfaces where the daemon runs (read only
    /// for a local daemon; empty otherwise): a bridge name or subnet in use
    /// there is as much in the way as a libvirt network's.
    pub links: Vec<HostLink>,
}

/// A network interface of the host, with its IPv4 addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct HostLink {
    /// Interface name.
    pub name: String,
    /// Its IPv4 addresses and prefix lengths.
    pub addrs: Vec<(Ipv4Addr, u8)>,
}

impl HostLink {
    /// A link with these addresses.
    #[must_use]
    pub fn new(name: impl Into<String>, addrs: Vec<(Ipv4Addr, u8)>) -> Self {
        Self {
            name: name.into(),
            addrs,
        }
    }
}

/// Read `ip -j addr show`'s output.
#[must_use]
pub fn parse_ip_addr_json(json: &str) -> Vec<HostLink> {
    let Ok(serde_json::Value::Array(links)) = serde_json::from_str::<serde_json::Value>(json)
    else {
        return Vec::new();
    };
    links
        .iter()
        .filter_map(|l| {
            let name = l.get("ifname")?.as_str()?.to_owned();
            let addrs = l
                .get("addr_info")
                .and_then(|a| a.as_array())
                .map(|a| {
                    a.iter()
                        .filter(|x| x.get("family").and_then(|f| f.as_str()) == Some("inet"))
                        .filter_map(|x| {
                            let ip = x.get("local")?.as_str()?.parse().ok()?;
                            let len = u8::try_from(x.get("prefixlen")?.as_u64()?).ok()?;
                            Some((ip, len))
                        })
                        .collect()
                })
                .unwrap_or_default();
            Some(HostLink { name, addrs })
        })
        .collect()
}

impl Observed {
    /// The network called `name`.
    #[must_use]
    pub fn network(&self, name: &str) -> Option<&ObservedNetwork> {
        self.networks.iter().find(|n| n.name == name)
    }

    /// The domain called `name`.
    #[must_use]
    pub fn domain(&self, name: &str) -> Option<&ObservedDomain> {
        self.domains.iter().find(|d| d.name == name)
    }
}

/// Why an XML description could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Not well-formed.
    #[error("libvirt returned XML that does not parse")]
    Xml(#[source] roxmltree::Error),
}

fn owner_of(root: roxmltree::Node<'_, '_>) -> (Option<String>, Option<String>) {
    root.children()
        .find(|n| n.has_tag_name("metadata"))
        .and_then(|m| m.children().find(|n| n.has_tag_name((NAMESPACE, "owner"))))
        .map_or((None, None), |o| {
            (
                o.attribute("lab").map(str::to_owned),
                o.attribute("fingerprint").map(str::to_owned),
            )
        })
}

fn prefix_of(netmask: &str) -> Option<u8> {
    let m: Ipv4Addr = netmask.parse().ok()?;
    let bits = u32::from(m);
    (bits.leading_ones() + bits.trailing_zeros() == 32).then(|| bits.leading_ones() as u8)
}

/// Parse a network's XML (from `virNetworkGetXMLDesc`).
///
/// # Errors
/// [`ParseError`] when it is not XML.
pub fn parse_network(
    xml: &str,
) -> Result<(Option<String>, Option<String>, ParsedNetwork), ParseError> {
    let doc = roxmltree::Document::parse(xml).map_err(ParseError::Xml)?;
    let root = doc.root_element();
    let mut p = ParsedNetwork::default();
    let child = |name: &str| root.children().find(|n| n.has_tag_name(name));
    p.bridge = child("bridge")
        .and_then(|b| b.attribute("name"))
        .map(str::to_owned);
    p.forward = child("forward")
        .and_then(|f| f.attribute("mode").or(Some("nat")))
        .map(str::to_owned);
    p.domain = child("domain")
        .and_then(|d| d.attribute("name"))
        .map(str::to_owned);
    if let Some(ip) = root
        .children()
        .find(|n| n.has_tag_name("ip") && n.attribute("family").is_none_or(|f| f == "ipv4"))
    {
        let addr = ip.attribute("address").and_then(|a| a.parse().ok());
        let prefix = ip
            .attribute("prefix")
            .and_then(|p| p.parse().ok())
            .or_else(|| ip.attribute("netmask").and_then(prefix_of));
        if let (Some(a), Some(l)) = (addr, prefix) {
            p.ip = Some((a, l));
        }
        if let Some(dhcp) = ip.children().find(|n| n.has_tag_name("dhcp")) {
            for n in dhcp.children().filter(roxmltree::Node::is_element) {
                if n.has_tag_name("range") {
                    if let (Some(a), Some(b)) = (
                        n.attribute("start").and_then(|s| s.parse().ok()),
                        n.attribute("end").and_then(|s| s.parse().ok()),
                    ) {
                        p.dhcp_range.get_or_insert((a, b));
                    }
                } else if n.has_tag_name("host")
                    && let (Some(mac), Some(ip)) = (
                        n.attribute("mac").and_then(|m| m.parse().ok()),
                        n.attribute("ip").and_then(|i| i.parse().ok()),
                    )
                {
                    p.dhcp_hosts.push(DhcpHost {
                        mac,
                        name: n.attribute("name").unwrap_or_default().to_owned(),
                        ip,
                    });
                }
            }
        }
    }
    if let Some(dns) = child("dns") {
        for h in dns.children().filter(|n| n.has_tag_name("host")) {
            let Some(ip) = h.attribute("ip").and_then(|i| i.parse().ok()) else {
                continue;
            };
            for name in h.children().filter(|n| n.has_tag_name("hostname")) {
                p.dns_hosts.push(DnsHost {
                    ip,
                    name: name.text().unwrap_or_default().to_owned(),
                });
            }
        }
    }
    p.no_ping = root.descendants().any(|n| {
        n.has_tag_name(("http://libvirt.org/schemas/network/dnsmasq/1.0", "option"))
            && n.attribute("value") == Some("no-ping")
    });
    p.dhcp_hosts.sort();
    p.dns_hosts.sort();
    let uuid = child("uuid")
        .and_then(|u| u.text())
        .map(|t| t.trim().to_owned());
    Ok((owner_of(root).0, uuid, p))
}

/// Parse a domain's XML (from `virDomainGetXMLDesc`) into what labvirt compares.
///
/// # Errors
/// [`ParseError`] when it is not XML.
pub fn parse_domain(xml: &str) -> Result<ObservedDomain, ParseError> {
    let doc = roxmltree::Document::parse(xml).map_err(ParseError::Xml)?;
    let root = doc.root_element();
    let text = |name: &str| {
        root.children()
            .find(|n| n.has_tag_name(name))
            .and_then(|n| n.text())
            .map(str::trim)
    };
    let (owner, fingerprint) = owner_of(root);
    let memory_kib: u64 = root
        .children()
        .find(|n| n.has_tag_name("memory"))
        .and_then(|m| {
            let v: u64 = m.text()?.trim().parse().ok()?;
            Some(match m.attribute("unit").unwrap_or("KiB") {
                "MiB" | "M" => v * 1024,
                "GiB" | "G" => v * 1024 * 1024,
                "b" | "bytes" => v / 1024,
                _ => v,
            })
        })
        .unwrap_or(0);
    let nics = root
        .descendants()
        .filter(|n| {
            n.has_tag_name("interface") && n.parent().is_some_and(|p| p.has_tag_name("devices"))
        })
        .map(|i| {
            let sub = |tag: &str, attr: &str| {
                i.children()
                    .find(|n| n.has_tag_name(tag))
                    .and_then(|n| n.attribute(attr))
                    .map(str::to_owned)
            };
            Nic {
                mac: sub("mac", "address").and_then(|m| m.parse().ok()),
                network: sub("source", "network"),
                tap: sub("target", "dev"),
            }
        })
        .collect();
    Ok(ObservedDomain {
        name: text("name").unwrap_or_default().to_owned(),
        active: false,
        autostart: false,
        owner,
        fingerprint,
        uuid: text("uuid").map(str::to_owned),
        vcpus: text("vcpu").and_then(|v| v.parse().ok()).unwrap_or(0),
        memory_mib: memory_kib / 1024,
        nics,
    })
}

impl ParsedNetwork {
    /// What this would be if it were `spec` (for comparisons).
    #[must_use]
    pub fn of(spec: &NetworkSpec) -> Self {
        Self {
            bridge: Some(spec.bridge.clone()),
            forward: Some(spec.forward.as_str().to_owned()),
            ip: Some((spec.gateway, spec.prefix)),
            dhcp_range: spec.dhcp_range,
            dhcp_hosts: spec.dhcp_hosts.clone(),
            dns_hosts: spec.dns_hosts.clone(),
            domain: Some(spec.domain.clone()),
            no_ping: true,
        }
    }
}
