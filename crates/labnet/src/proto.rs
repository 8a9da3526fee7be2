//! Protocols as the lab file names them, and as packets carry them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The `proto` of an allow rule.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[non_exhaustive]
pub enum Proto {
    /// Every IPv4 protocol, not just the three below.
    #[default]
    Any,
    /// TCP, optionally limited to destination ports.
    Tcp,
    /// UDP, optionally limited to destination ports.
    Udp,
    /// ICMP (every type).
    Icmp,
}

impl Proto {
    /// The lab-file spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Any => "any",
            Self::Tcp => "tcp",
            Self::Udp => "udp",
            Self::Icmp => "icmp",
        }
    }

    /// Whether rules with this protocol may name ports.
    #[must_use]
    pub fn has_ports(self) -> bool {
        matches!(self, Self::Tcp | Self::Udp)
    }

    /// Whether a rule with this protocol matches a packet carrying `l4`.
    #[must_use]
    pub fn matches(self, l4: L4) -> bool {
        match self {
            Self::Any => true,
            Self::Tcp => l4 == L4::TCP,
            Self::Udp => l4 == L4::UDP,
            Self::Icmp => l4 == L4::ICMP,
        }
    }

    /// The packet protocol a specific (non-`any`) rule protocol stands for.
    #[must_use]
    pub fn l4(self) -> Option<L4> {
        match self {
            Self::Any => None,
            Self::Tcp => Some(L4::TCP),
            Self::Udp => Some(L4::UDP),
            Self::Icmp => Some(L4::ICMP),
        }
    }

    /// All values, in lab-file order.
    pub const ALL: [Self; 4] = [Self::Any, Self::Tcp, Self::Udp, Self::Icmp];
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown protocol name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a protocol; use tcp, udp, icmp or any")]
pub struct ProtoError(pub String);

impl FromStr for Proto {
    type Err = ProtoError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| ProtoError(s.to_owned()))
    }
}

/// The IPv4 protocol number a packet carries (the `meta l4proto` of nftables).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct L4(pub u8);

impl L4 {
    /// ICMP, protocol 1.
    pub const ICMP: Self = Self(1);
    /// TCP, protocol 6.
    pub const TCP: Self = Self(6);
    /// UDP, protocol 17.
    pub const UDP: Self = Self(17);

    /// Whether the protocol has TCP/UDP-style ports.
    #[must_use]
    pub fn has_ports(self) -> bool {
        self == Self::TCP || self == Self::UDP
    }

    /// The name nftables and iptables use, if it is one of ours.
    #[must_use]
    pub fn name(self) -> Option<&'static str> {
        match self {
            Self::ICMP => Some("icmp"),
            Self::TCP => Some("tcp"),
            Self::UDP => Some("udp"),
            _ => None,
        }
    }
}

impl fmt::Display for L4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "protocol {}", self.0),
        }
    }
}
