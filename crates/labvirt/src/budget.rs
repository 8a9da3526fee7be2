//! The host's resource budget: what the VM pool may use, and whether a lab fits.

use serde::Serialize;

use crate::model::{Host, Vm};

/// What the VM pool may hold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Limits {
    /// Most vCPUs: `(cores - reserve_cores) * cpu_overcommit`, rounded down.
    pub vcpus: u64,
    /// Most memory, MiB: `(memory_gib - reserve_memory_gib) * memory_max_use`, rounded down.
    pub memory_mib: u64,
    /// Most VMs.
    pub vms: u64,
}

impl Limits {
    /// The limits of `host`.
    #[must_use]
    pub fn of(host: &Host) -> Self {
        let cores = u64::from(host.cores.saturating_sub(host.reserve_cores));
        let mem_mib = u64::from(host.memory_gib.saturating_sub(host.reserve_memory_gib)) * 1024;
        // Rounded down with a small tolerance, so 4 × 2.0 is 8 and 24576 × 0.7 is 17203,
        // not one less from binary fractions.
        let floor = |x: f64| (x + 1e-9).floor().max(0.0) as u64;
        Self {
            vcpus: floor(cores as f64 * host.cpu_overcommit),
            memory_mib: floor(mem_mib as f64 * host.memory_max_use),
            vms: u64::from(host.max_vms),
        }
    }
}

/// Which limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Resource {
    /// Virtual CPUs.
    Vcpus,
    /// Memory, MiB.
    MemoryMib,
    /// Number of VMs.
    Vms,
}

impl Resource {
    /// Its name in messages.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Vcpus => "vCPUs",
            Self::MemoryMib => "MiB of memory",
            Self::Vms => "VMs",
        }
    }
}

/// A limit exceeded: by how much, and by which VMs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Overrun {
    /// The limit.
    pub resource: Resource,
    /// What the pool may hold.
    pub limit: u64,
    /// What the lab and the host's other domains would use.
    pub used: u64,
    /// Of that, by domains on the host that are not the lab's.
    pub other: u64,
    /// The lab's VMs counted, largest first.
    pub vms: Vec<(String, u64)>,
}

impl Overrun {
    /// How much over the limit.
    #[must_use]
    pub fn excess(&self) -> u64 {
        self.used.saturating_sub(self.limit)
    }
}

/// Use by domains already on the host that the lab does not describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[non_exhaustive]
pub struct Other {
    /// Their vCPUs.
    pub vcpus: u64,
    /// Their memory, MiB.
    pub memory_mib: u64,
    /// How many.
    pub vms: u64,
}

impl Other {
    /// Use by `vms` domains with these totals.
    #[must_use]
    pub fn new(vcpus: u64, memory_mib: u64, vms: u64) -> Self {
        Self {
            vcpus,
            memory_mib,
            vms,
        }
    }
}

/// The budget check of a lab on a host.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Budget {
    /// The pool's limits.
    pub limits: Limits,
    /// vCPUs, memory and VM count the lab's VMs and the other domains use.
    pub used: Other,
    /// Every limit exceeded (empty: it fits).
    pub overruns: Vec<Overrun>,
}

impl Budget {
    /// Whether the lab fits.
    #[must_use]
    pub fn fits(&self) -> bool {
        self.overruns.is_empty()
    }
}

/// Check `vms` (and `other` domains already on the host) against `host`'s budget.
#[must_use]
pub fn check(host: &Host, vms: &[Vm], other: Other) -> Budget {
    let limits = Limits::of(host);
    let sum = |f: &dyn Fn(&Vm) -> u64| vms.iter().map(f).sum::<u64>();
    let used = Other {
        vcpus: sum(&|v| u64::from(v.vcpus)) + other.vcpus,
        memory_mib: sum(&|v| u64::from(v.memory_mib)) + other.memory_mib,
        vms: vms.len() as u64 + other.vms,
    };
    let mut overruns = Vec::new();
    let mut over = |resource, limit: u64, used: u64, other: u64, f: &dyn Fn(&Vm) -> u64| {
        if used > limit {
            let mut list: Vec<(String, u64)> = vms
                .iter()
                .map(|v| (v.name.as_str().to_owned(), f(v)))
                .collect();
            list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            overruns.push(Overrun {
                resource,
                limit,
                used,
                other,
                vms: list,
            });
        }
    };
    over(
        Resource::Vcpus,
        limits.vcpus,
        used.vcpus,
        other.vcpus,
        &|v| u64::from(v.vcpus),
    );
    over(
        Resource::MemoryMib,
        limits.memory_mib,
        used.memory_mib,
        other.memory_mib,
        &|v| u64::from(v.memory_mib),
    );
    over(Resource::Vms, limits.vms, used.vms, other.vms, &|_| 1);
    Budget {
        limits,
        used,
        overruns,
    }
}
