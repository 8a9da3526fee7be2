//! The plan: what `apply` would do to make a host hold the lab, worked out from
//! the desired state and what the host has, as data. Nothing here touches
//! libvirt, so a plan is tested with built `Observed` values and rendered by
//! any front end.

use serde::Serialize;

use crate::budget::{self, Budget, Other};
use crate::observe::{Observed, ParsedNetwork};
use crate::spec::{Desired, DhcpHost, DnsHost};

/// What happens to one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Change {
    /// It does not exist; it is defined (and started).
    Create,
    /// It exists and differs.
    Update {
        /// Whether the change applies to the running object; `false`: it
        /// needs a restart (networks: labvirt restarts them and re-plugs
        /// guests; domains: the new definition applies at the next boot).
        live: bool,
        /// What differs, in words.
        what: Vec<String>,
    },
    /// It is as the lab says.
    Keep,
    /// labvirt owns it for this lab and the lab no longer has it.
    Remove,
}

impl Change {
    /// One word: create, update, keep, remove.
    #[must_use]
    pub fn word(&self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update { .. } => "update",
            Self::Keep => "keep",
            Self::Remove => "remove",
        }
    }
}

/// Live edits of a network's DHCP and DNS hosts (virNetworkUpdate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[non_exhaustive]
pub struct HostEdits {
    /// Reservations to add.
    pub add_dhcp: Vec<DhcpHost>,
    /// Reservations to delete.
    pub del_dhcp: Vec<DhcpHost>,
    /// DNS records to add.
    pub add_dns: Vec<DnsHost>,
    /// DNS records to delete.
    pub del_dns: Vec<DnsHost>,
}

/// One network's part of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct NetworkStep {
    /// Network name.
    pub name: String,
    /// What happens.
    #[serde(flatten)]
    pub change: Change,
    /// For a live update: the host edits.
    pub edits: HostEdits,
    /// Not running or not autostarted: apply starts it and sets autostart.
    pub start: bool,
}

/// One domain's part of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DomainStep {
    /// Domain name.
    pub name: String,
    /// What happens.
    #[serde(flatten)]
    pub change: Change,
    /// Not running: apply starts it.
    pub start: bool,
    /// Volumes to create (disk, seed).
    pub volumes: Vec<String>,
}

/// A storage pool labvirt defines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PoolStep {
    /// libvirt pool name.
    pub name: String,
    /// Directory.
    pub path: String,
    /// What happens (create or keep).
    #[serde(flatten)]
    pub change: Change,
}

/// Something on the host that is not labvirt's and stands in the lab's way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Conflict {
    /// The lab's object that cannot be made.
    pub wanted: String,
    /// What is in the way.
    pub existing: String,
    /// Why.
    pub reason: String,
}

/// The whole plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Plan {
    /// The lab.
    pub lab: String,
    /// Storage pools.
    pub pools: Vec<PoolStep>,
    /// Networks, the lab's in segment order, then removals.
    pub networks: Vec<NetworkStep>,
    /// Domains, the lab's in file order, then removals.
    pub domains: Vec<DomainStep>,
    /// Pre-flight conflicts: apply refuses while there are any.
    pub conflicts: Vec<Conflict>,
    /// The budget, counting the host's other domains.
    pub budget: Budget,
}

impl Plan {
    /// Whether applying it would change nothing.
    #[must_use]
    pub fn is_noop(&self) -> bool {
        self.pools.iter().all(|p| p.change == Change::Keep)
            && self
                .networks
                .iter()
                .all(|n| n.change == Change::Keep && !n.start)
            && self
                .domains
                .iter()
                .all(|d| d.change == Change::Keep && !d.start && d.volumes.is_empty())
    }

    /// Whether apply may go ahead: no conflicts and the lab fits.
    #[must_use]
    pub fn is_applicable(&self) -> bool {
        self.conflicts.is_empty() && self.budget.fits()
    }

    /// Counts of create, update, keep and remove over networks and domains.
    #[must_use]
    pub fn counts(&self) -> [usize; 4] {
        let mut c = [0; 4];
        let changes = self
            .networks
            .iter()
            .map(|n| &n.change)
            .chain(self.domains.iter().map(|d| &d.change))
            .chain(self.pools.iter().map(|p| &p.change));
        for ch in changes {
            c[match ch {
                Change::Create => 0,
                Change::Update { .. } => 1,
                Change::Keep => 2,
                Change::Remove => 3,
            }] += 1;
        }
        c
    }
}

fn diff_sorted<T: Ord + Clone>(want: &[T], have: &[T]) -> (Vec<T>, Vec<T>) {
    let add = want.iter().filter(|w| !have.contains(w)).cloned().collect();
    let del = have.iter().filter(|h| !want.contains(h)).cloned().collect();
    (add, del)
}

fn overlaps(a: (std::net::Ipv4Addr, u8), b: (std::net::Ipv4Addr, u8)) -> bool {
    let net = |(ip, len): (std::net::Ipv4Addr, u8)| labnet::Ipv4Cidr::truncating(ip, len);
    net(a).overlaps(net(b))
}

/// The plan that takes the host from `have` to `want`.
#[must_use]
pub fn plan(want: &Desired, host: &crate::model::Host, have: &Observed) -> Plan {
    let lab = want.lab.as_str();
    let mut conflicts = Vec::new();
    let ours = |owner: &Option<String>| owner.as_deref() == Some(lab);

    let pools = want
        .pools
        .iter()
        .map(|p| {
            let exists = have.pools.iter().any(|o| o.name == p.name);
            PoolStep {
                name: p.name.clone(),
                path: p.path.clone(),
                change: if exists { Change::Keep } else { Change::Create },
            }
        })
        .collect();

    let mut networks = Vec::new();
    for n in &want.networks {
        let wanted = ParsedNetwork::of(n);
        // Pre-flight: name, bridge or subnet taken by something not ours.
        for o in have.networks.iter().filter(|o| !ours(&o.owner)) {
            if o.name == n.name {
                conflicts.push(Conflict {
                    wanted: format!("network {}", n.name),
                    existing: format!("network {}", o.name),
                    reason: "a network of this name exists and labvirt does not own it".to_owned(),
                });
            } else if o.spec.bridge.as_deref() == Some(n.bridge.as_str()) {
                conflicts.push(Conflict {
                    wanted: format!("network {} (bridge {})", n.name, n.bridge),
                    existing: format!("network {}", o.name),
                    reason: format!("bridge {} is already network {}'s", n.bridge, o.name),
                });
            } else if let Some(ip) = o.spec.ip
                && overlaps(ip, (n.gateway, n.prefix))
            {
                conflicts.push(Conflict {
                    wanted: format!("network {} ({}/{})", n.name, n.gateway, n.prefix),
                    existing: format!("network {} ({}/{})", o.name, ip.0, ip.1),
                    reason: "the subnets overlap".to_owned(),
                });
            }
        }
        // Pre-flight on the host's own interfaces: a bridge name or subnet
        // that no libvirt network accounts for (libvirt's own are checked above).
        let libvirt_bridges: Vec<&str> = have
            .networks
            .iter()
            .filter_map(|o| o.spec.bridge.as_deref())
            .collect();
        for l in have
            .links
            .iter()
            .filter(|l| !libvirt_bridges.contains(&l.name.as_str()))
        {
            if l.name == n.bridge {
                conflicts.push(Conflict {
                    wanted: format!("network {} (bridge {})", n.name, n.bridge),
                    existing: format!("interface {}", l.name),
                    reason: format!(
                        "the host already has an interface {} that is no libvirt network's",
                        l.name
                    ),
                });
            } else if let Some(a) = l
                .addrs
                .iter()
                .find(|a| overlaps(**a, (n.gateway, n.prefix)))
            {
                conflicts.push(Conflict {
                    wanted: format!("network {} ({}/{})", n.name, n.gateway, n.prefix),
                    existing: format!("interface {} ({}/{})", l.name, a.0, a.1),
                    reason: "the host already uses an address in this subnet".to_owned(),
                });
            }
        }
        let (change, edits, start) = match have.network(&n.name) {
            None => (Change::Create, HostEdits::default(), true),
            Some(o) if !ours(&o.owner) => (Change::Keep, HostEdits::default(), false),
            Some(o) => {
                let start = !o.active || !o.autostart;
                let mut have_p = o.spec.clone();
                have_p.no_ping = wanted.no_ping;
                if have_p == wanted {
                    (Change::Keep, HostEdits::default(), start)
                } else {
                    let mut what = Vec::new();
                    let (add_dhcp, del_dhcp) = diff_sorted(&wanted.dhcp_hosts, &have_p.dhcp_hosts);
                    let (add_dns, del_dns) = diff_sorted(&wanted.dns_hosts, &have_p.dns_hosts);
                    let hosts_only = ParsedNetwork {
                        dhcp_hosts: wanted.dhcp_hosts.clone(),
                        dns_hosts: wanted.dns_hosts.clone(),
                        ..have_p.clone()
                    } == wanted;
                    if !add_dhcp.is_empty() || !del_dhcp.is_empty() {
                        what.push(format!(
                            "DHCP hosts +{} -{}",
                            add_dhcp.len(),
                            del_dhcp.len()
                        ));
                    }
                    if !add_dns.is_empty() || !del_dns.is_empty() {
                        what.push(format!("DNS hosts +{} -{}", add_dns.len(), del_dns.len()));
                    }
                    if have_p.bridge != wanted.bridge {
                        what.push(format!(
                            "bridge {} → {}",
                            have_p.bridge.unwrap_or_default(),
                            n.bridge
                        ));
                    }
                    if have_p.forward != wanted.forward {
                        what.push(format!(
                            "forward {} → {}",
                            have_p.forward.unwrap_or_else(|| "none".into()),
                            n.forward.as_str()
                        ));
                    }
                    if have_p.ip != wanted.ip {
                        what.push(format!("address → {}/{}", n.gateway, n.prefix));
                    }
                    if have_p.dhcp_range != wanted.dhcp_range {
                        what.push("DHCP range".to_owned());
                    }
                    if have_p.domain != wanted.domain {
                        what.push(format!("domain → {}", n.domain));
                    }
                    let live = hosts_only && o.active;
                    let edits = if live {
                        HostEdits {
                            add_dhcp,
                            del_dhcp,
                            add_dns,
                            del_dns,
                        }
                    } else {
                        HostEdits::default()
                    };
                    (Change::Update { live, what }, edits, start)
                }
            }
        };
        networks.push(NetworkStep {
            name: n.name.clone(),
            change,
            edits,
            start,
        });
    }
    for o in have.networks.iter().filter(|o| ours(&o.owner)) {
        if !want.networks.iter().any(|n| n.name == o.name) {
            networks.push(NetworkStep {
                name: o.name.clone(),
                change: Change::Remove,
                edits: HostEdits::default(),
                start: false,
            });
        }
    }

    let mut domains = Vec::new();
    let mut other = Other::default();
    for o in &have.domains {
        if !ours(&o.owner) {
            if want.domains.iter().any(|d| d.vm.name.as_str() == o.name) {
                conflicts.push(Conflict {
                    wanted: format!("VM {}", o.name),
                    existing: format!("domain {}", o.name),
                    reason: "a domain of this name exists and labvirt does not own it".to_owned(),
                });
            }
            other = Other::new(
                other.vcpus + u64::from(o.vcpus),
                other.memory_mib + o.memory_mib,
                other.vms + 1,
            );
        }
    }
    for d in &want.domains {
        let name = d.vm.name.as_str();
        let vol_exists = |v: &crate::spec::VolumeSpec| {
            have.pools
                .iter()
                .any(|p| p.name == v.pool && p.volumes.contains(&v.name))
        };
        let mut volumes = Vec::new();
        for v in [&d.disk, &d.seed] {
            if !vol_exists(v) {
                volumes.push(format!("{}/{}", v.pool, v.name));
            }
        }
        let (change, start) = match have.domain(name) {
            None => (Change::Create, true),
            Some(o) if !ours(&o.owner) => (Change::Keep, false),
            Some(o) => {
                let start = !o.active;
                // What the host shows (also changes made behind labvirt's back),
                // then the fingerprint for what it cannot show (boot, disks, seed).
                let mut what = Vec::new();
                let mut restart = false;
                if o.vcpus != d.vm.vcpus {
                    what.push(format!("vCPUs {} → {}", o.vcpus, d.vm.vcpus));
                    restart = true;
                }
                if o.memory_mib != u64::from(d.vm.memory_mib) {
                    what.push(format!("memory {} → {} MiB", o.memory_mib, d.vm.memory_mib));
                    restart = true;
                }
                match o.nics.iter().find(|n| n.mac == Some(d.vm.mac)) {
                    Some(n) if n.network.as_deref() == Some(d.network.as_str()) => {}
                    Some(n) => what.push(format!(
                        "NIC {} moves {} → {}",
                        d.vm.mac,
                        n.network.as_deref().unwrap_or("?"),
                        d.network
                    )),
                    None => {
                        what.push(format!("NIC {} on {}", d.vm.mac, d.network));
                        restart = true;
                    }
                }
                if o.fingerprint.as_deref() != Some(crate::xml::fingerprint(d).as_str())
                    && what.is_empty()
                {
                    what.push("definition (boot, disks or seed)".to_owned());
                    restart = true;
                }
                if what.is_empty() {
                    (Change::Keep, start)
                } else {
                    (
                        Change::Update {
                            live: !restart && o.active,
                            what,
                        },
                        start,
                    )
                }
            }
        };
        domains.push(DomainStep {
            name: name.to_owned(),
            change,
            start,
            volumes,
        });
    }
    for o in have.domains.iter().filter(|o| ours(&o.owner)) {
        if !want.domains.iter().any(|d| d.vm.name.as_str() == o.name) {
            domains.push(DomainStep {
                name: o.name.clone(),
                change: Change::Remove,
                start: false,
                volumes: Vec::new(),
            });
        }
    }
    // A network that goes away must not leave a domain that stays on it.
    for n in networks.iter().filter(|n| n.change == Change::Remove) {
        let users: Vec<&str> = have
            .domains
            .iter()
            .filter(|d| {
                domains
                    .iter()
                    .all(|s| s.name != d.name || s.change != Change::Remove)
            })
            .filter(|d| {
                d.nics
                    .iter()
                    .any(|nic| nic.network.as_deref() == Some(n.name.as_str()))
            })
            .map(|d| d.name.as_str())
            .collect();
        if !users.is_empty() {
            conflicts.push(Conflict {
                wanted: format!("remove network {}", n.name),
                existing: users.join(", "),
                reason: "these VMs still use it".to_owned(),
            });
        }
    }
    let vms: Vec<crate::model::Vm> = want.domains.iter().map(|d| d.vm.clone()).collect();
    let budget = budget::check(host, &vms, other);
    Plan {
        lab: want.lab.clone(),
        pools,
        networks,
        domains,
        conflicts,
        budget,
    }
}
