//! The desired state: what libvirt should hold for a lab, as plain data that
//! the XML writer renders and the planner compares with what a host has.

use std::net::Ipv4Addr;

use serde::Serialize;

use crate::model::{Boot, DomainType, ForwardMode, VirtLab, Vm};
use crate::names::MacAddr;

/// The longest Linux interface name (IFNAMSIZ - 1).
pub const BRIDGE_MAX: usize = 15;

/// A DHCP reservation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[non_exhaustive]
pub struct DhcpHost {
    /// The NIC's MAC.
    pub mac: MacAddr,
    /// Host name.
    pub name: String,
    /// Reserved address.
    pub ip: Ipv4Addr,
}

/// A DNS host record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[non_exhaustive]
pub struct DnsHost {
    /// Address.
    pub ip: Ipv4Addr,
    /// Host name (unqualified; dnsmasq adds the domain).
    pub name: String,
}

/// One segment's libvirt network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct NetworkSpec {
    /// Network name: the segment's name.
    pub name: String,
    /// Bridge interface, at most 15 characters, unique in the lab.
    pub bridge: String,
    /// Forward mode.
    pub forward: ForwardMode,
    /// The host's address in the segment.
    pub gateway: Ipv4Addr,
    /// Prefix length.
    pub prefix: u8,
    /// Leased range, none for static-only segments.
    pub dhcp_range: Option<(Ipv4Addr, Ipv4Addr)>,
    /// Reservations of the segment's VMs that have an address, sorted.
    pub dhcp_hosts: Vec<DhcpHost>,
    /// Records of every VM of the lab with an address, sorted.
    pub dns_hosts: Vec<DnsHost>,
    /// DNS domain, answered locally.
    pub domain: String,
}

impl NetworkSpec {
    /// The netmask in dotted-quad form.
    #[must_use]
    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(
            u32::MAX
                .checked_shl(32 - u32::from(self.prefix))
                .unwrap_or(0),
        )
    }
}

/// A storage volume labvirt creates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct VolumeSpec {
    /// libvirt pool name.
    pub pool: String,
    /// Volume name in the pool.
    pub name: String,
    /// Size in bytes.
    pub capacity: u64,
    /// `qcow2` or `raw`.
    pub format: &'static str,
    /// Backing volume's path, for an overlay.
    pub backing: Option<String>,
}

/// One VM's domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DomainSpec {
    /// The VM as the lab file gives it.
    pub vm: Vm,
    /// Domain type, as chosen for the host.
    pub domain_type: DomainType,
    /// Network of its NIC.
    pub network: String,
    /// The lab's name (in the metadata).
    pub lab: String,
    /// Disk volume.
    pub disk: VolumeSpec,
    /// cloud-init seed volume.
    pub seed: VolumeSpec,
    /// The seed's files.
    pub seed_files: crate::seed::Seed,
}

/// A storage pool labvirt needs: the `[host.pools]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PoolSpec {
    /// The lab file's key (`fast`).
    pub key: String,
    /// libvirt pool name labvirt defines when none has this path: `LAB-KEY`.
    pub name: String,
    /// Directory.
    pub path: String,
}

/// Everything a lab wants from libvirt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Desired {
    /// The lab's name.
    pub lab: String,
    /// One network per segment, in segment order.
    pub networks: Vec<NetworkSpec>,
    /// Storage pools.
    pub pools: Vec<PoolSpec>,
    /// One domain per VM, in file order.
    pub domains: Vec<DomainSpec>,
}

/// Bridge names: `lk-` and the segment name, cut to 15 characters; a cut
/// name that collides gets a number instead of its last characters.
#[must_use]
pub fn bridge_names<'a>(segments: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for seg in segments {
        let clean: String = seg
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let mut name: String = format!("lk-{clean}").chars().take(BRIDGE_MAX).collect();
        let mut n = 1u32;
        while out.contains(&name) {
            let suffix = n.to_string();
            let keep = BRIDGE_MAX - suffix.len();
            name = format!("lk-{clean}").chars().take(keep).collect::<String>() + &suffix;
            n += 1;
        }
        out.push(name);
    }
    out
}

/// The disk volume's name for a VM.
#[must_use]
pub fn disk_volume(vm: &str) -> String {
    format!("{vm}.qcow2")
}

/// The seed volume's name for a VM.
#[must_use]
pub fn seed_volume(vm: &str) -> String {
    format!("{vm}-seed.iso")
}

/// The desired state of `lab` on a host whose domain type is `domain_type`.
/// `pool_names` maps a `[host.pools]` key to the libvirt pool that holds that
/// directory (an existing pool, or the one labvirt will define).
#[must_use]
pub fn desired(
    lab: &VirtLab,
    domain_type: DomainType,
    pool_names: &dyn Fn(&str) -> Option<String>,
) -> Desired {
    let net = lab.net.lab();
    let name = lab.name().to_owned();
    let bridges = bridge_names(net.segments().iter().map(|s| s.name.as_str()));
    let mut dns_hosts: Vec<DnsHost> = lab
        .vms
        .iter()
        .filter_map(|v| {
            v.ip.map(|ip| DnsHost {
                ip,
                name: v.name.as_str().to_owned(),
            })
        })
        .collect();
    dns_hosts.sort();
    let networks = net
        .segments()
        .iter()
        .zip(bridges)
        .map(|(s, bridge)| {
            let mut dhcp_hosts: Vec<DhcpHost> = lab
                .vms_on(s.name.as_str())
                .filter_map(|v| {
                    v.ip.map(|ip| DhcpHost {
                        mac: v.mac,
                        name: v.name.as_str().to_owned(),
                        ip,
                    })
                })
                .collect();
            dhcp_hosts.sort();
            NetworkSpec {
                name: s.name.as_str().to_owned(),
                bridge,
                forward: lab.host.forward,
                gateway: s.gateway,
                prefix: s.cidr.len(),
                dhcp_range: s.dhcp.map(|d| (d.start, d.end)),
                dhcp_hosts,
                dns_hosts: dns_hosts.clone(),
                domain: lab.domain().to_owned(),
            }
        })
        .collect();
    let pools: Vec<PoolSpec> = lab
        .host
        .pools
        .iter()
        .map(|(key, path)| PoolSpec {
            key: key.clone(),
            name: pool_names(key).unwrap_or_else(|| format!("{name}-{key}")),
            path: path.clone(),
        })
        .collect();
    let pool_of = |key: &str| {
        pools
            .iter()
            .find(|p| p.key == key)
            .map_or_else(|| key.to_owned(), |p| p.name.clone())
    };
    let domains = lab
        .vms
        .iter()
        .map(|vm| {
            let pool = pool_of(&vm.pool);
            let backing = vm.base_image.as_ref().map(|b| {
                if b.starts_with('/') {
                    b.clone()
                } else {
                    let dir = lab.host.pools.get(&vm.pool).map_or("", String::as_str);
                    format!("{dir}/{b}")
                }
            });
            DomainSpec {
                vm: vm.clone(),
                domain_type,
                network: vm.segment.clone(),
                lab: name.clone(),
                disk: VolumeSpec {
                    pool: pool.clone(),
                    name: disk_volume(vm.name.as_str()),
                    capacity: u64::from(vm.disk_gib) << 30,
                    format: "qcow2",
                    backing,
                },
                seed_files: crate::seed::seed(lab, vm),
                seed: VolumeSpec {
                    pool,
                    name: seed_volume(vm.name.as_str()),
                    capacity: 0,
                    format: "raw",
                    backing: None,
                },
            }
        })
        .collect();
    Desired {
        lab: name,
        networks,
        pools,
        domains,
    }
}

impl DomainSpec {
    /// Whether it boots a kernel directly.
    #[must_use]
    pub fn direct_boot(&self) -> bool {
        matches!(self.vm.boot, Boot::Kernel { .. })
    }
}
