//! The validated `[docker]` section.

use labnet::Ipv4Cidr;
use serde::Serialize;

/// Log rotation of the default log driver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct LogConfig {
    /// The log driver, e.g. `json-file` or `local`.
    pub driver: String,
    /// Most size of one log file, Docker's syntax (`10m`).
    pub max_size: String,
    /// How many files are kept.
    pub max_file: u32,
}

/// One default address pool: networks of `size` are cut from `base`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct AddressPool {
    /// The pool.
    pub base: Ipv4Cidr,
    /// Prefix length of each network cut from it.
    pub size: u8,
}

/// Swarm mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Swarm {
    /// Whether the host runs a single-node Swarm.
    pub enabled: bool,
    /// The pool Swarm's overlay networks (ingress included) are cut from.
    pub address_pool: Ipv4Cidr,
    /// Prefix length of each.
    pub subnet_size: u8,
}

/// What `prune` may remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PrunePolicy {
    /// Images newer than this (Docker's duration, e.g. `168h`) are kept.
    pub keep_images_newer_than: Option<String>,
    /// Whether volumes are kept.
    pub keep_volumes: bool,
}

/// The `[docker]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Docker {
    /// The Engine's socket, `unix:///...`.
    pub socket: String,
    /// The daemon's data root.
    pub data_root: Option<String>,
    /// The storage driver.
    pub storage_driver: Option<String>,
    /// Log rotation.
    pub log: Option<LogConfig>,
    /// Default address pools, in file order.
    pub address_pools: Vec<AddressPool>,
    /// Swarm mode.
    pub swarm: Option<Swarm>,
    /// The prune policy.
    pub prune: PrunePolicy,
}
