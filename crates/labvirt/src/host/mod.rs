//! A live libvirt host (feature `libvirt`): observe it, plan against it, apply
//! a plan, report status, move NICs off `default`, and remove what labvirt owns.
//!
//! Everything decided here returns data ([`Planned`], [`ApplyReport`],
//! [`Status`], [`MigrateReport`]); the binary renders it.

mod ffi;

use std::process::Command;

use serde::Serialize;
use virt::connect::Connect;
use virt::domain::Domain;
use virt::network::Network;
use virt::storage_pool::StoragePool;
use virt::storage_vol::StorageVol;
use virt::stream::Stream;
use virt::sys;

pub use ffi::Lease;

use crate::caps::{self, CapsError, Choice};
use crate::model::{DomainType, VirtLab};
use crate::observe::{self, Observed, ObservedDomain, ObservedNetwork, ObservedPool, ParseError};
use crate::plan::{self, Change, Plan};
use crate::spec::{self, Desired, DomainSpec, NetworkSpec};
use crate::xml;

/// What went wrong talking to libvirt.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// The connection could not be opened.
    #[error("cannot connect to libvirt at {uri}")]
    Connect {
        /// The URI.
        uri: String,
        /// libvirt's error.
        #[source]
        source: virt::error::Error,
    },
    /// A libvirt call failed.
    #[error("libvirt could not {action} {object}")]
    Call {
        /// What labvirt was doing.
        action: &'static str,
        /// On what.
        object: String,
        /// libvirt's error.
        #[source]
        source: virt::error::Error,
    },
    /// libvirt's XML could not be read.
    #[error("cannot read the XML of {object}")]
    Xml {
        /// Whose.
        object: String,
        /// Why.
        #[source]
        source: ParseError,
    },
    /// No usable domain type.
    #[error("cannot choose a domain type")]
    Caps(#[source] CapsError),
    /// The plan has conflicts or exceeds the budget; nothing was changed.
    #[error("the plan cannot be applied: {conflicts} conflict(s), budget {fits}", fits = if *.fits { "fits" } else { "exceeded" })]
    Refused {
        /// How many pre-flight conflicts.
        conflicts: usize,
        /// Whether the budget fits.
        fits: bool,
    },
    /// A network cannot be removed while VMs use it.
    #[error("network {network} is still used by {vms:?}")]
    InUse {
        /// The network.
        network: String,
        /// The VMs on it.
        vms: Vec<String>,
    },
    /// A seed image could not be built.
    #[error("cannot build the cloud-init seed of {vm}")]
    Seed {
        /// The VM.
        vm: String,
        /// Why.
        #[source]
        source: crate::iso::IsoError,
    },
    /// A VM's segment network is not defined and running (the lab is not applied yet).
    #[error("network {network}, where VM {vm} belongs, is not running; nothing was moved")]
    NotRunning {
        /// The network.
        network: String,
        /// The VM that would move to it.
        vm: String,
    },
    /// libvirt accepted no more bytes of an upload.
    #[error("the upload of volume {volume} stalled")]
    UploadStalled {
        /// The volume.
        volume: String,
    },
    /// Re-plugging a guest's NIC after a network restart failed.
    #[error("cannot re-plug {tap} into bridge {bridge}")]
    Replug {
        /// Tap device.
        tap: String,
        /// Bridge.
        bridge: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

fn call<T>(
    action: &'static str,
    object: impl Into<String>,
    r: Result<T, virt::error::Error>,
) -> Result<T, HostError> {
    r.map_err(|source| HostError::Call {
        action,
        object: object.into(),
        source,
    })
}

/// A plan with what it was made from.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Planned {
    /// The domain type domains get, and why.
    pub choice: Choice,
    /// The desired state.
    pub desired: Desired,
    /// What the host had.
    pub observed: Observed,
    /// The plan.
    pub plan: Plan,
}

/// What `apply` did, step by step.
#[derive(Debug, Clone, Serialize, Default)]
#[non_exhaustive]
pub struct ApplyReport {
    /// One line per action, in order.
    pub done: Vec<String>,
    /// Things the user must know (restarts pending, re-plugs done).
    pub notes: Vec<String>,
}

impl ApplyReport {
    /// Whether nothing was changed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.done.is_empty()
    }
}

/// A network's state.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct NetworkStatus {
    /// Name.
    pub name: String,
    /// Defined on the host.
    pub defined: bool,
    /// Running.
    pub active: bool,
    /// Autostarted.
    pub autostart: bool,
    /// Bridge.
    pub bridge: Option<String>,
    /// Current DHCP leases; `None` when the driver cannot tell (the test driver).
    pub leases: Option<Vec<Lease>>,
}

/// A VM's state.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct VmStatus {
    /// Name.
    pub name: String,
    /// `running`, `shut off`, `paused`, ... or `undefined`.
    pub state: String,
    /// vCPUs.
    pub vcpus: u32,
    /// Memory, MiB.
    pub memory_mib: u64,
    /// Network of its lab NIC.
    pub network: String,
    /// Its address: the lease, else the lab file's.
    pub ip: Option<String>,
    /// SSH port.
    pub ssh_port: u16,
}

/// `status`.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Status {
    /// The lab.
    pub lab: String,
    /// The URI.
    pub uri: String,
    /// Networks in segment order.
    pub networks: Vec<NetworkStatus>,
    /// VMs in file order.
    pub vms: Vec<VmStatus>,
}

/// What `migrate_default` did.
#[derive(Debug, Clone, Serialize, Default)]
#[non_exhaustive]
pub struct MigrateReport {
    /// (VM, MAC, from, to, live) for every NIC moved.
    pub moved: Vec<(String, String, String, String, bool)>,
    /// Domains still on `default` (not in the lab file), which keep it running.
    pub left: Vec<String>,
    /// Whether `default` was stopped and its autostart disabled.
    pub default_stopped: bool,
}

/// A connection to a libvirt host.
#[derive(Debug)]
pub struct Libvirt {
    conn: Connect,
    uri: String,
    netns: Option<String>,
}

impl Drop for Libvirt {
    fn drop(&mut self) {
        let _ = self.conn.close();
    }
}

/// Tell `progress` about a step and record it.
fn log(progress: &mut dyn FnMut(&str), report: &mut ApplyReport, s: String) {
    progress(&s);
    report.done.push(s);
}

fn state_word(s: sys::virDomainState) -> &'static str {
    match s {
        sys::VIR_DOMAIN_RUNNING => "running",
        sys::VIR_DOMAIN_BLOCKED => "blocked",
        sys::VIR_DOMAIN_PAUSED => "paused",
        sys::VIR_DOMAIN_SHUTDOWN => "shutting down",
        sys::VIR_DOMAIN_SHUTOFF => "shut off",
        sys::VIR_DOMAIN_CRASHED => "crashed",
        sys::VIR_DOMAIN_PMSUSPENDED => "suspended",
        _ => "unknown",
    }
}

impl Libvirt {
    /// Connect to `uri`.
    ///
    /// # Errors
    /// [`HostError::Connect`].
    pub fn open(uri: &str) -> Result<Self, HostError> {
        // libvirt's default handler prints every error to stderr; labvirt
        // reports them itself, once, with context.
        virt::error::clear_error_callback();
        let conn = Connect::open(Some(uri)).map_err(|source| HostError::Connect {
            uri: uri.to_owned(),
            source,
        })?;
        Ok(Self {
            conn,
            uri: uri.to_owned(),
            netns: None,
        })
    }

    /// The daemon runs in network namespace `name` (`ip netns`), not in this
    /// process's: re-plugging a guest's tap after a network restart happens there.
    #[must_use]
    pub fn in_netns(mut self, name: impl Into<String>) -> Self {
        self.netns = Some(name.into());
        self
    }

    /// The URI.
    #[must_use]
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Whether the daemon runs on this machine (re-plugging and the CPU check need that).
    #[must_use]
    pub fn is_local(&self) -> bool {
        let rest = self.uri.split_once("://").map_or("", |(_, r)| r);
        rest.starts_with('/') || rest.is_empty()
    }

    /// Every network, domain and pool on the host.
    ///
    /// # Errors
    /// A failed libvirt call or unreadable XML.
    pub fn observe(&self) -> Result<Observed, HostError> {
        let mut out = Observed::default();
        for n in call("list", "networks", self.conn.list_all_networks(0))? {
            let name = call("read", "a network's name", n.get_name())?;
            // The persistent definition; the test driver knows only the current one.
            let xml = match n.get_xml_desc(sys::VIR_NETWORK_XML_INACTIVE) {
                Ok(x) => x,
                Err(_) => call("read", format!("network {name}"), n.get_xml_desc(0))?,
            };
            let (owner, uuid, spec) =
                observe::parse_network(&xml).map_err(|source| HostError::Xml {
                    object: format!("network {name}"),
                    source,
                })?;
            out.networks.push(ObservedNetwork {
                active: call("read", format!("network {name}"), n.is_active())?,
                autostart: call("read", format!("network {name}"), n.get_autostart())?,
                name,
                owner,
                uuid,
                spec,
            });
        }
        for d in call("list", "domains", self.conn.list_all_domains(0))? {
            out.domains.push(self.observe_domain(&d)?);
        }
        for p in call("list", "storage pools", self.conn.list_all_storage_pools(0))? {
            let name = call("read", "a pool's name", p.get_name())?;
            let xml = call("read", format!("pool {name}"), p.get_xml_desc(0))?;
            let path = roxmltree::Document::parse(&xml).ok().and_then(|d| {
                d.descendants()
                    .find(|n| n.has_tag_name("path"))
                    .and_then(|n| n.text())
                    .map(str::to_owned)
            });
            let active = call("read", format!("pool {name}"), p.is_active())?;
            let volumes = if active {
                call(
                    "list",
                    format!("volumes of pool {name}"),
                    p.list_all_volumes(0),
                )?
                .iter()
                .filter_map(|v| v.get_name().ok())
                .collect()
            } else {
                Vec::new()
            };
            out.pools.push(ObservedPool {
                name,
                path,
                active,
                volumes,
            });
        }
        // The test driver's host is imaginary; this machine's links are not its.
        if self.is_local() && !self.uri.starts_with("test:") {
            out.links = self.host_links();
        }
        Ok(out)
    }

    /// The interfaces of the daemon's network namespace (`ip -j addr show`).
    /// Best effort: without `ip` the pre-flight covers libvirt's objects only.
    fn host_links(&self) -> Vec<observe::HostLink> {
        let mut cmd = Command::new("ip");
        if let Some(ns) = &self.netns {
            cmd.args(["-n", ns]);
        }
        match cmd.args(["-j", "addr", "show"]).output() {
            Ok(o) if o.status.success() => {
                observe::parse_ip_addr_json(&String::from_utf8_lossy(&o.stdout))
            }
            _ => Vec::new(),
        }
    }

    fn observe_domain(&self, d: &Domain) -> Result<ObservedDomain, HostError> {
        let name = call("read", "a domain's name", d.get_name())?;
        let active = call("read", format!("domain {name}"), d.is_active())?;
        // The persistent definition for what labvirt compares; the live one for taps.
        let xml = call(
            "read",
            format!("domain {name}"),
            d.get_xml_desc(sys::VIR_DOMAIN_XML_INACTIVE),
        )?;
        let mut o = observe::parse_domain(&xml).map_err(|source| HostError::Xml {
            object: format!("domain {name}"),
            source,
        })?;
        if active {
            let live = call("read", format!("domain {name}"), d.get_xml_desc(0))?;
            let l = observe::parse_domain(&live).map_err(|source| HostError::Xml {
                object: format!("domain {name}"),
                source,
            })?;
            for nic in &mut o.nics {
                nic.tap = l
                    .nics
                    .iter()
                    .find(|n| n.mac == nic.mac)
                    .and_then(|n| n.tap.clone());
            }
        }
        o.active = active;
        o.autostart = d.get_autostart().unwrap_or(false);
        Ok(o)
    }

    /// The domain type for `lab` on this host.
    ///
    /// # Errors
    /// [`HostError::Caps`] when none fits.
    pub fn choose_type(&self, asked: Option<DomainType>) -> Result<Choice, HostError> {
        let caps = call(
            "read",
            "the host's capabilities",
            self.conn.get_capabilities(),
        )?;
        let cpuinfo = if self.is_local() {
            std::fs::read_to_string("/proc/cpuinfo").ok()
        } else {
            None
        };
        caps::choose(&caps, asked, cpuinfo.as_deref().and_then(caps::cpu_flags))
            .map_err(HostError::Caps)
    }

    /// The plan for `lab`.
    ///
    /// # Errors
    /// Reading the host failed.
    pub fn plan(&self, lab: &VirtLab) -> Result<Planned, HostError> {
        let choice = self.choose_type(lab.host.domain_type)?;
        let observed = self.observe()?;
        let desired = spec::desired(lab, choice.domain_type, &|key| {
            let path = lab.host.pools.get(key)?;
            observed
                .pools
                .iter()
                .find(|p| p.path.as_deref() == Some(path.as_str()))
                .map(|p| p.name.clone())
        });
        let plan = plan::plan(&desired, &lab.host, &observed);
        Ok(Planned {
            choice,
            desired,
            observed,
            plan,
        })
    }

    /// Carry out `planned`; `progress` hears each step as it starts.
    /// Refuses, changing nothing, when the plan has conflicts or exceeds the budget.
    ///
    /// # Errors
    /// [`HostError::Refused`], or the libvirt call that failed (steps before it stay done,
    /// and a second apply continues from there).
    pub fn apply(
        &self,
        planned: &Planned,
        progress: &mut dyn FnMut(&str),
    ) -> Result<ApplyReport, HostError> {
        let plan = &planned.plan;
        if !plan.is_applicable() {
            return Err(HostError::Refused {
                conflicts: plan.conflicts.len(),
                fits: plan.budget.fits(),
            });
        }
        let mut report = ApplyReport::default();
        for p in &plan.pools {
            if p.change == Change::Create {
                log(
                    progress,
                    &mut report,
                    format!("define pool {} at {}", p.name, p.path),
                );
                let spec = planned.desired.pools.iter().find(|s| s.name == p.name);
                let xml = spec.map(xml::pool).unwrap_or_default();
                let pool = call(
                    "define",
                    format!("pool {}", p.name),
                    StoragePool::define_xml(&self.conn, &xml, 0),
                )?;
                call("build", format!("pool {}", p.name), pool.build(0))?;
                call("start", format!("pool {}", p.name), pool.create(0))?;
                call(
                    "autostart",
                    format!("pool {}", p.name),
                    pool.set_autostart(true),
                )?;
            }
        }
        for (n, s) in plan.networks.iter().filter_map(|n| {
            planned
                .desired
                .networks
                .iter()
                .find(|s| s.name == n.name)
                .map(|s| (n, s))
        }) {
            match &n.change {
                Change::Create => {
                    log(
                        progress,
                        &mut report,
                        format!("define network {} (bridge {})", s.name, s.bridge),
                    );
                    call(
                        "define",
                        format!("network {}", s.name),
                        Network::define_xml(&self.conn, &xml::network(s, &planned.desired.lab)),
                    )?;
                }
                Change::Update { live: true, .. } => {
                    log(
                        progress,
                        &mut report,
                        format!("update network {} live (DHCP and DNS hosts)", s.name),
                    );
                    self.edit_hosts(&s.name, &n.edits)?;
                }
                Change::Update { live: false, what } => {
                    log(
                        progress,
                        &mut report,
                        format!("redefine network {} ({})", s.name, what.join(", ")),
                    );
                    let uuid = planned
                        .observed
                        .network(&s.name)
                        .and_then(|o| o.uuid.as_deref());
                    let def = xml::with_uuid(&xml::network(s, &planned.desired.lab), uuid);
                    let net = call(
                        "define",
                        format!("network {}", s.name),
                        Network::define_xml(&self.conn, &def),
                    )?;
                    if call("read", format!("network {}", s.name), net.is_active())? {
                        log(progress, &mut report, format!("restart network {}", s.name));
                        call("stop", format!("network {}", s.name), net.destroy())?;
                        call("start", format!("network {}", s.name), net.create())?;
                        let replugged = self.replug(s, &planned.observed)?;
                        if !replugged.is_empty() {
                            report.notes.push(format!(
                                "network {} restarted; re-plugged {} into {}",
                                s.name,
                                replugged.join(", "),
                                s.bridge
                            ));
                        }
                    }
                }
                Change::Keep | Change::Remove => {}
            }
            if n.start || n.change == Change::Create {
                let net = call(
                    "find",
                    format!("network {}", s.name),
                    Network::lookup_by_name(&self.conn, &s.name),
                )?;
                if !call("read", format!("network {}", s.name), net.is_active())? {
                    log(progress, &mut report, format!("start network {}", s.name));
                    call("start", format!("network {}", s.name), net.create())?;
                }
                if !call("read", format!("network {}", s.name), net.get_autostart())? {
                    call(
                        "autostart",
                        format!("network {}", s.name),
                        net.set_autostart(true),
                    )?;
                }
            }
        }
        for d in &plan.domains {
            let Some(s) = planned
                .desired
                .domains
                .iter()
                .find(|s| s.vm.name.as_str() == d.name)
            else {
                continue;
            };
            if d.change != Change::Keep || !d.volumes.is_empty() {
                let note = self.volumes(s, d.change != Change::Create, &mut |m| {
                    log(progress, &mut report, m);
                })?;
                report.notes.extend(note);
            }
            match &d.change {
                Change::Create => {
                    log(
                        progress,
                        &mut report,
                        format!("define VM {} on {}", d.name, s.network),
                    );
                    call(
                        "define",
                        format!("domain {}", d.name),
                        Domain::define_xml(&self.conn, &xml::domain(s)),
                    )?;
                }
                Change::Update { live, what } => {
                    log(
                        progress,
                        &mut report,
                        format!("redefine VM {} ({})", d.name, what.join(", ")),
                    );
                    let uuid = planned
                        .observed
                        .domain(&d.name)
                        .and_then(|o| o.uuid.as_deref());
                    let dom = call(
                        "define",
                        format!("domain {}", d.name),
                        Domain::define_xml(&self.conn, &xml::with_uuid(&xml::domain(s), uuid)),
                    )?;
                    if *live {
                        log(
                            progress,
                            &mut report,
                            format!("move VM {}'s NIC to {} live", d.name, s.network),
                        );
                        call(
                            "update the NIC of",
                            format!("domain {}", d.name),
                            dom.update_device_flags(
                                &xml::interface(&s.network, &s.vm.mac.to_string()),
                                sys::VIR_DOMAIN_AFFECT_LIVE,
                            ),
                        )?;
                    } else if planned.observed.domain(&d.name).is_some_and(|o| o.active) {
                        report.notes.push(format!(
                            "VM {} runs its old definition until it is restarted ({})",
                            d.name,
                            what.join(", ")
                        ));
                    }
                }
                Change::Keep | Change::Remove => {}
            }
            if d.start || d.change == Change::Create {
                let dom = call(
                    "find",
                    format!("domain {}", d.name),
                    Domain::lookup_by_name(&self.conn, &d.name),
                )?;
                if s.vm.autostart && !dom.get_autostart().unwrap_or(false) {
                    call(
                        "autostart",
                        format!("domain {}", d.name),
                        dom.set_autostart(true),
                    )?;
                }
                if !call("read", format!("domain {}", d.name), dom.is_active())? {
                    log(progress, &mut report, format!("start VM {}", d.name));
                    call("start", format!("domain {}", d.name), dom.create())?;
                }
            }
        }
        for d in plan.domains.iter().filter(|d| d.change == Change::Remove) {
            log(progress, &mut report, format!("remove VM {}", d.name));
            self.remove_domain(&d.name, &planned.observed)?;
        }
        for n in plan.networks.iter().filter(|n| n.change == Change::Remove) {
            log(progress, &mut report, format!("remove network {}", n.name));
            let net = call(
                "find",
                format!("network {}", n.name),
                Network::lookup_by_name(&self.conn, &n.name),
            )?;
            if call("read", format!("network {}", n.name), net.is_active())? {
                call("stop", format!("network {}", n.name), net.destroy())?;
            }
            call("undefine", format!("network {}", n.name), net.undefine())?;
        }
        Ok(report)
    }

    fn edit_hosts(&self, name: &str, e: &plan::HostEdits) -> Result<(), HostError> {
        let net = call(
            "find",
            format!("network {name}"),
            Network::lookup_by_name(&self.conn, name),
        )?;
        let flags = sys::VIR_NETWORK_UPDATE_AFFECT_LIVE | sys::VIR_NETWORK_UPDATE_AFFECT_CONFIG;
        let obj = || format!("network {name}");
        for h in &e.del_dhcp {
            call(
                "delete a DHCP host of",
                obj(),
                net.update(
                    sys::VIR_NETWORK_UPDATE_COMMAND_DELETE,
                    sys::VIR_NETWORK_SECTION_IP_DHCP_HOST,
                    -1,
                    &xml::dhcp_host(h),
                    flags,
                ),
            )?;
        }
        for h in &e.add_dhcp {
            call(
                "add a DHCP host to",
                obj(),
                net.update(
                    sys::VIR_NETWORK_UPDATE_COMMAND_ADD_LAST,
                    sys::VIR_NETWORK_SECTION_IP_DHCP_HOST,
                    -1,
                    &xml::dhcp_host(h),
                    flags,
                ),
            )?;
        }
        for h in &e.del_dns {
            call(
                "delete a DNS host of",
                obj(),
                net.update(
                    sys::VIR_NETWORK_UPDATE_COMMAND_DELETE,
                    sys::VIR_NETWORK_SECTION_DNS_HOST,
                    -1,
                    &xml::dns_host(h),
                    flags,
                ),
            )?;
        }
        for h in &e.add_dns {
            call(
                "add a DNS host to",
                obj(),
                net.update(
                    sys::VIR_NETWORK_UPDATE_COMMAND_ADD_LAST,
                    sys::VIR_NETWORK_SECTION_DNS_HOST,
                    -1,
                    &xml::dns_host(h),
                    flags,
                ),
            )?;
        }
        Ok(())
    }

    /// After a network restart its bridge is new and the running guests'
    /// taps are on no bridge: put each back. Needs the daemon's network
    /// namespace, i.e. labvirt on the libvirt host itself.
    fn replug(&self, s: &NetworkSpec, before: &Observed) -> Result<Vec<String>, HostError> {
        let mut done = Vec::new();
        for d in before.domains.iter().filter(|d| d.active) {
            // The taps as they are now (a domain keeps its tap across a network restart).
            let Ok(dom) = Domain::lookup_by_name(&self.conn, &d.name) else {
                continue;
            };
            let now = self.observe_domain(&dom)?;
            for nic in now
                .nics
                .iter()
                .filter(|n| n.network.as_deref() == Some(s.name.as_str()))
            {
                let Some(tap) = &nic.tap else { continue };
                if !self.is_local() {
                    continue;
                }
                let mut cmd = Command::new("ip");
                if let Some(ns) = &self.netns {
                    cmd.args(["-n", ns]);
                }
                let out = cmd
                    .args(["link", "set", "dev", tap, "master", &s.bridge, "up"])
                    .output();
                match out {
                    Ok(o) if o.status.success() => done.push(format!("{} ({tap})", d.name)),
                    Ok(o) => {
                        return Err(HostError::Replug {
                            tap: tap.clone(),
                            bridge: s.bridge.clone(),
                            source: std::io::Error::other(
                                String::from_utf8_lossy(&o.stderr).trim().to_owned(),
                            ),
                        });
                    }
                    Err(source) => {
                        return Err(HostError::Replug {
                            tap: tap.clone(),
                            bridge: s.bridge.clone(),
                            source,
                        });
                    }
                }
            }
        }
        Ok(done)
    }

    /// Create the disk and seed volumes that are missing (the seed also when
    /// `refresh_seed`); a note when the driver cannot upload (the test driver).
    fn volumes(
        &self,
        s: &DomainSpec,
        refresh_seed: bool,
        step: &mut dyn FnMut(String),
    ) -> Result<Option<String>, HostError> {
        let pool = call(
            "find",
            format!("pool {}", s.disk.pool),
            StoragePool::lookup_by_name(&self.conn, &s.disk.pool),
        )?;
        if StorageVol::lookup_by_name(&pool, &s.disk.name).is_err() {
            step(format!(
                "create volume {}/{} ({} GiB qcow2{})",
                s.disk.pool,
                s.disk.name,
                s.disk.capacity >> 30,
                if s.disk.backing.is_some() {
                    ", overlay"
                } else {
                    ""
                }
            ));
            call(
                "create",
                format!("volume {}", s.disk.name),
                StorageVol::create_xml(&pool, &xml::volume(&s.disk), 0),
            )?;
        }
        let iso = s.seed_files.iso().map_err(|source| HostError::Seed {
            vm: s.vm.name.to_string(),
            source,
        })?;
        let existing = StorageVol::lookup_by_name(&pool, &s.seed.name).ok();
        if existing.is_some() && !refresh_seed {
            return Ok(None);
        }
        if let Some(v) = existing {
            call("delete", format!("volume {}", s.seed.name), v.delete(0))?;
        }
        step(format!(
            "write cloud-init seed {}/{} ({} bytes)",
            s.seed.pool,
            s.seed.name,
            iso.len()
        ));
        let mut vs = s.seed.clone();
        vs.capacity = iso.len() as u64;
        let vol = call(
            "create",
            format!("volume {}", vs.name),
            StorageVol::create_xml(&pool, &xml::volume(&vs), 0),
        )?;
        let stream = call(
            "open a stream for",
            format!("volume {}", vs.name),
            Stream::new(&self.conn, 0),
        )?;
        match vol.upload(&stream, 0, iso.len() as u64, 0) {
            Ok(()) => {}
            Err(e) if e.code() == virt::error::ErrorNumber::NoSupport => {
                return Ok(Some(format!(
                    "this driver cannot upload volumes: seed {} of VM {} is empty",
                    vs.name, s.vm.name
                )));
            }
            Err(source) => {
                return Err(HostError::Call {
                    action: "upload",
                    object: format!("volume {}", vs.name),
                    source,
                });
            }
        }
        let mut sent = 0;
        while sent < iso.len() {
            let n = call(
                "upload",
                format!("volume {}", vs.name),
                stream.send(&iso[sent..]),
            )?;
            if n == 0 {
                let _ = stream.abort();
                return Err(HostError::UploadStalled { volume: vs.name });
            }
            sent += n;
        }
        call(
            "finish the upload of",
            format!("volume {}", vs.name),
            stream.finish(),
        )?;
        Ok(None)
    }

    fn remove_domain(&self, name: &str, observed: &Observed) -> Result<(), HostError> {
        let dom = call(
            "find",
            format!("domain {name}"),
            Domain::lookup_by_name(&self.conn, name),
        )?;
        if call("read", format!("domain {name}"), dom.is_active())? {
            call("stop", format!("domain {name}"), dom.destroy())?;
        }
        call(
            "undefine",
            format!("domain {name}"),
            dom.undefine_flags(sys::VIR_DOMAIN_UNDEFINE_NVRAM),
        )
        .or_else(|_| call("undefine", format!("domain {name}"), dom.undefine()))?;
        // Its volumes, by labvirt's naming, in every pool.
        for p in &observed.pools {
            for v in [spec::disk_volume(name), spec::seed_volume(name)] {
                if p.volumes.contains(&v)
                    && let Ok(pool) = StoragePool::lookup_by_name(&self.conn, &p.name)
                    && let Ok(vol) = StorageVol::lookup_by_name(&pool, &v)
                {
                    call("delete", format!("volume {v}"), vol.delete(0))?;
                }
            }
        }
        Ok(())
    }

    /// Networks and VMs of `lab` as they are now.
    ///
    /// # Errors
    /// A failed libvirt call.
    pub fn status(&self, lab: &VirtLab) -> Result<Status, HostError> {
        let observed = self.observe()?;
        let mut networks = Vec::new();
        let mut all_leases: Vec<Lease> = Vec::new();
        for seg in lab.net.lab().segments() {
            let name = seg.name.as_str();
            let o = observed.network(name);
            let leases = match (o, Network::lookup_by_name(&self.conn, name)) {
                (Some(o), Ok(net)) if o.active => match ffi::leases(&net) {
                    Ok(l) => Some(l),
                    Err(e) if e.code() == virt::error::ErrorNumber::NoSupport => None,
                    Err(source) => {
                        return Err(HostError::Call {
                            action: "read the leases of",
                            object: format!("network {name}"),
                            source,
                        });
                    }
                },
                _ => Some(Vec::new()),
            };
            all_leases.extend(leases.iter().flatten().cloned());
            networks.push(NetworkStatus {
                name: name.to_owned(),
                defined: o.is_some(),
                active: o.is_some_and(|o| o.active),
                autostart: o.is_some_and(|o| o.autostart),
                bridge: o.and_then(|o| o.spec.bridge.clone()),
                leases,
            });
        }
        let mut vms = Vec::new();
        for vm in &lab.vms {
            let name = vm.name.as_str();
            let (state, vcpus, memory_mib) = match Domain::lookup_by_name(&self.conn, name) {
                Ok(d) => {
                    let info = call("read", format!("domain {name}"), d.get_info())?;
                    (
                        state_word(info.state).to_owned(),
                        info.nr_virt_cpu,
                        info.max_mem / 1024,
                    )
                }
                Err(_) => ("undefined".to_owned(), vm.vcpus, u64::from(vm.memory_mib)),
            };
            let mac = vm.mac.to_string();
            let ip = all_leases
                .iter()
                .find(|l| l.mac == mac)
                .map(|l| l.ip.clone())
                .or_else(|| vm.ip.map(|i| i.to_string()));
            vms.push(VmStatus {
                name: name.to_owned(),
                state,
                vcpus,
                memory_mib,
                network: vm.segment.clone(),
                ip,
                ssh_port: vm.ssh_port,
            });
        }
        Ok(Status {
            lab: lab.name().to_owned(),
            uri: self.uri.clone(),
            networks,
            vms,
        })
    }

    /// Remove what labvirt owns for `lab`: its domains (and their volumes), then its networks.
    ///
    /// # Errors
    /// [`HostError::InUse`] when a domain labvirt does not own is on a lab network (nothing
    /// is removed), or the libvirt call that failed.
    pub fn destroy(
        &self,
        lab: &VirtLab,
        progress: &mut dyn FnMut(&str),
    ) -> Result<ApplyReport, HostError> {
        let observed = self.observe()?;
        let name = lab.name();
        let ours = |o: &Option<String>| o.as_deref() == Some(name);
        for n in observed.networks.iter().filter(|n| ours(&n.owner)) {
            let users: Vec<String> = observed
                .domains
                .iter()
                .filter(|d| {
                    !ours(&d.owner)
                        && d.nics
                            .iter()
                            .any(|x| x.network.as_deref() == Some(n.name.as_str()))
                })
                .map(|d| d.name.clone())
                .collect();
            if !users.is_empty() {
                return Err(HostError::InUse {
                    network: n.name.clone(),
                    vms: users,
                });
            }
        }
        let mut report = ApplyReport::default();
        for d in observed.domains.iter().filter(|d| ours(&d.owner)) {
            let s = format!("remove VM {}", d.name);
            progress(&s);
            report.done.push(s);
            self.remove_domain(&d.name, &observed)?;
        }
        for n in observed.networks.iter().filter(|n| ours(&n.owner)) {
            let s = format!("remove network {}", n.name);
            progress(&s);
            report.done.push(s);
            let net = call(
                "find",
                format!("network {}", n.name),
                Network::lookup_by_name(&self.conn, &n.name),
            )?;
            if n.active {
                call("stop", format!("network {}", n.name), net.destroy())?;
            }
            call("undefine", format!("network {}", n.name), net.undefine())?;
        }
        Ok(report)
    }

    /// Phase 2 of the reference procedure: every NIC on `default` moves to
    /// its VM's segment network (same MAC; live and persistent when the VM
    /// runs). `default` is stopped and its autostart turned off only when no
    /// domain uses it any more.
    ///
    /// # Errors
    /// A failed libvirt call; NICs moved before it stay moved.
    pub fn migrate_default(
        &self,
        lab: &VirtLab,
        progress: &mut dyn FnMut(&str),
    ) -> Result<MigrateReport, HostError> {
        let observed = self.observe()?;
        // Every target network must be running before any NIC moves, so a
        // migration is never left half done for want of one.
        for d in &observed.domains {
            let Some(vm) = lab.vm(&d.name) else { continue };
            if d.nics
                .iter()
                .any(|n| n.network.as_deref() == Some("default"))
                && !observed.network(&vm.segment).is_some_and(|n| n.active)
            {
                return Err(HostError::NotRunning {
                    network: vm.segment.clone(),
                    vm: d.name.clone(),
                });
            }
        }
        let mut report = MigrateReport::default();
        for d in &observed.domains {
            let on_default: Vec<_> = d
                .nics
                .iter()
                .filter(|n| n.network.as_deref() == Some("default"))
                .collect();
            if on_default.is_empty() {
                continue;
            }
            let Some(vm) = lab.vm(&d.name) else {
                report.left.push(d.name.clone());
                continue;
            };
            let dom = call(
                "find",
                format!("domain {}", d.name),
                Domain::lookup_by_name(&self.conn, &d.name),
            )?;
            for nic in on_default {
                let mac = nic.mac.map(|m| m.to_string()).unwrap_or_default();
                progress(&format!(
                    "move VM {}'s NIC {mac} from default to {}",
                    d.name, vm.segment
                ));
                let iface = xml::interface(&vm.segment, &mac);
                let mut flags = sys::VIR_DOMAIN_AFFECT_CONFIG;
                if d.active {
                    flags |= sys::VIR_DOMAIN_AFFECT_LIVE;
                }
                call(
                    "move the NIC of",
                    format!("domain {}", d.name),
                    dom.update_device_flags(&iface, flags),
                )?;
                report.moved.push((
                    d.name.clone(),
                    mac,
                    "default".to_owned(),
                    vm.segment.clone(),
                    d.active,
                ));
            }
        }
        if report.left.is_empty()
            && let Ok(net) = Network::lookup_by_name(&self.conn, "default")
        {
            progress("stop network default and turn off its autostart");
            if call("read", "network default", net.is_active())? {
                call("stop", "network default", net.destroy())?;
            }
            call("autostart", "network default", net.set_autostart(false))?;
            report.default_stopped = true;
        }
        Ok(report)
    }

    /// The current DHCP leases of network `name`.
    ///
    /// # Errors
    /// A failed libvirt call.
    pub fn leases(&self, name: &str) -> Result<Vec<Lease>, HostError> {
        let net = call(
            "find",
            format!("network {name}"),
            Network::lookup_by_name(&self.conn, name),
        )?;
        call(
            "read the leases of",
            format!("network {name}"),
            ffi::leases(&net),
        )
    }

    /// Restart network `name` and re-plug the running guests on it (what a
    /// restarting update does), for operators and tests.
    ///
    /// # Errors
    /// A failed libvirt call or re-plug.
    pub fn restart_network(&self, lab: &VirtLab, name: &str) -> Result<Vec<String>, HostError> {
        let observed = self.observe()?;
        let desired = spec::desired(lab, DomainType::Qemu, &|_| None);
        let net = call(
            "find",
            format!("network {name}"),
            Network::lookup_by_name(&self.conn, name),
        )?;
        call("stop", format!("network {name}"), net.destroy())?;
        call("start", format!("network {name}"), net.create())?;
        match desired.networks.iter().find(|n| n.name == name) {
            Some(s) => self.replug(s, &observed),
            None => Ok(Vec::new()),
        }
    }
}
