//! The validated `[host]` and `[[vm]]` sections, with labnet's lab they sit on.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::Serialize;

use crate::names::{MacAddr, VmName};

/// Which hypervisor a domain runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum DomainType {
    /// Hardware virtualisation.
    Kvm,
    /// QEMU's software emulation (TCG): slower, works everywhere.
    Qemu,
    /// libvirt's test driver (`test:///...`), which runs nothing.
    Test,
}

impl DomainType {
    /// libvirt's word for it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kvm => "kvm",
            Self::Qemu => "qemu",
            Self::Test => "test",
        }
    }
}

/// How a segment's network reaches beyond its bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ForwardMode {
    /// libvirt adds no firewall rules: labnet's ruleset alone decides what is
    /// forwarded between segments and what is masqueraded to the internet.
    #[default]
    Open,
    /// libvirt's NAT: its own rules masquerade and reject traffic between its
    /// networks, which overrides the lab's matrix.
    Nat,
    /// Routed without NAT, with libvirt's own forwarding rules.
    Route,
}

impl ForwardMode {
    /// libvirt's word for it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Nat => "nat",
            Self::Route => "route",
        }
    }
}

/// The `[host]` section: the hypervisor and its budget.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Host {
    /// libvirt connection URI.
    pub uri: String,
    /// Physical cores.
    pub cores: u32,
    /// Hardware threads (informational; the budget counts cores).
    pub threads: u32,
    /// Host memory, GiB.
    pub memory_gib: u32,
    /// Cores kept for the host OS.
    pub reserve_cores: u32,
    /// Memory kept for the host OS, GiB.
    pub reserve_memory_gib: u32,
    /// vCPUs per physical core of the VM pool.
    pub cpu_overcommit: f64,
    /// Share of the VM pool's memory VMs may take.
    pub memory_max_use: f64,
    /// Most VMs defined at once.
    pub max_vms: u32,
    /// Storage pools by name: directory paths.
    pub pools: BTreeMap<String, String>,
    /// The domain type asked for; `None` picks it from the host's capabilities.
    pub domain_type: Option<DomainType>,
    /// Forward mode of every segment's network.
    pub forward: ForwardMode,
    /// Public keys put into every VM's cloud-init seed.
    pub authorized_keys: Vec<String>,
}

impl Host {
    /// A host with the reference budget's ratios and no pools.
    #[must_use]
    pub fn new(uri: impl Into<String>, cores: u32, memory_gib: u32) -> Self {
        Self {
            uri: uri.into(),
            cores,
            threads: cores,
            memory_gib,
            reserve_cores: 0,
            reserve_memory_gib: 0,
            cpu_overcommit: 1.0,
            memory_max_use: 1.0,
            max_vms: u32::MAX,
            pools: BTreeMap::new(),
            domain_type: None,
            forward: ForwardMode::Open,
            authorized_keys: Vec::new(),
        }
    }
}

/// How a VM boots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[non_exhaustive]
pub enum Boot {
    /// From its disk (an overlay on `base_image`, or empty for an installer).
    Disk,
    /// A kernel and initrd given directly (paths on the host), with a command line.
    Kernel {
        /// Kernel image path.
        kernel: String,
        /// Initrd path.
        initrd: String,
        /// Kernel command line.
        cmdline: String,
    },
}

/// One `[[vm]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Vm {
    /// Domain and host name.
    pub name: VmName,
    /// The labnet segment its NIC is on.
    pub segment: String,
    /// Virtual CPUs.
    pub vcpus: u32,
    /// Memory, MiB.
    pub memory_mib: u32,
    /// Disk size, GiB.
    pub disk_gib: u32,
    /// Storage pool (a key of `[host.pools]`).
    pub pool: String,
    /// Its address: a DHCP reservation, or the static address in static-only segments.
    pub ip: Option<Ipv4Addr>,
    /// Its NIC's MAC (derived from the name when the file gives none).
    pub mac: MacAddr,
    /// Host port forwarded to its sshd, inside the segment's `ssh_ports`.
    pub ssh_port: u16,
    /// Volume (in the VM's pool) the disk is an overlay on.
    pub base_image: Option<String>,
    /// How it boots.
    pub boot: Boot,
    /// Start it with the host.
    pub autostart: bool,
    /// A file on the host that receives its serial console (else a pty).
    pub console_log: Option<String>,
}

/// Where each VM was written, for diagnostics raised after reading (budget).
#[derive(Debug, Clone, Default)]
pub(crate) struct VmSpans {
    pub(crate) header: Vec<Option<labfile::Span>>,
}

/// labvirt's whole lab: labnet's segments and policy, the host and the VMs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VirtLab {
    /// labnet's lab, with its spans.
    pub net: labnet::LabFile,
    /// The `[host]` section.
    pub host: Host,
    /// The VMs, in file order.
    pub vms: Vec<Vm>,
    pub(crate) spans: VmSpans,
}

impl VirtLab {
    /// The lab's name.
    #[must_use]
    pub fn name(&self) -> &str {
        self.net.lab().info().name.as_str()
    }

    /// The lab's DNS domain.
    #[must_use]
    pub fn domain(&self) -> &str {
        self.net.lab().info().domain.as_str()
    }

    /// Where VM `i`'s `[[vm]]` table starts in the lab file.
    #[must_use]
    pub fn vm_span(&self, i: usize) -> Option<labfile::Span> {
        self.spans.header.get(i).copied().flatten()
    }

    /// The VM called `name`.
    #[must_use]
    pub fn vm(&self, name: &str) -> Option<&Vm> {
        self.vms.iter().find(|v| v.name.as_str() == name)
    }

    /// The VMs on segment `segment`.
    pub fn vms_on<'a>(&'a self, segment: &'a str) -> impl Iterator<Item = &'a Vm> + 'a {
        self.vms.iter().filter(move |v| v.segment == segment)
    }
}
