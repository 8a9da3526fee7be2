//! IPv4 networks in CIDR notation.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An IPv4 network: an address with its host bits zero, and a prefix length.
///
/// Parsing is strict on purpose: `10.0.0.5/24` is rejected (with the network
/// it probably meant) instead of being silently truncated, because a lab file
/// that says one thing and means another is the bug this crate exists to stop.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Ipv4Cidr {
    addr: Ipv4Addr,
    len: u8,
}

/// Why a CIDR string or value is not a valid network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CidrError {
    /// No `/` between address and prefix length.
    #[error("missing \"/LENGTH\" after the address")]
    MissingSlash,
    /// The address part is not a dotted-quad IPv4 address.
    #[error("{0:?} is not an IPv4 address")]
    BadAddress(String),
    /// The prefix length is not a number from 0 to 32.
    #[error("prefix length {0:?} is not a number from 0 to 32")]
    BadLength(String),
    /// Host bits are set; carries the network that was probably meant.
    #[error("host bits are set (the network is {0})")]
    HostBitsSet(Ipv4Cidr),
}

impl Ipv4Cidr {
    /// A network from its address and prefix length; fails if `len > 32` or host bits are set.
    pub fn new(addr: Ipv4Addr, len: u8) -> Result<Self, CidrError> {
        if len > 32 {
            return Err(CidrError::BadLength(len.to_string()));
        }
        let net = Self::truncating(addr, len);
        if net.addr != addr {
            return Err(CidrError::HostBitsSet(net));
        }
        Ok(net)
    }

    /// The network containing `addr` with prefix length `len` (clamped to 32).
    #[must_use]
    pub fn truncating(addr: Ipv4Addr, len: u8) -> Self {
        let len = len.min(32);
        let mask = mask(len);
        Self {
            addr: Ipv4Addr::from(u32::from(addr) & mask),
            len,
        }
    }

    /// The network address.
    #[must_use]
    pub fn addr(self) -> Ipv4Addr {
        self.addr
    }

    /// The prefix length.
    #[must_use]
    pub fn len(self) -> u8 {
        self.len
    }

    /// Always false: every network holds at least one address.
    #[must_use]
    pub fn is_empty(self) -> bool {
        false
    }

    /// The first address as an integer.
    #[must_use]
    pub fn first(self) -> u32 {
        u32::from(self.addr)
    }

    /// The last address (the broadcast address for prefixes up to /30) as an integer.
    #[must_use]
    pub fn last(self) -> u32 {
        u32::from(self.addr) | !mask(self.len)
    }

    /// The broadcast (last) address.
    #[must_use]
    pub fn broadcast(self) -> Ipv4Addr {
        Ipv4Addr::from(self.last())
    }

    /// Number of addresses in the network.
    #[must_use]
    pub fn size(self) -> u64 {
        1u64 << (32 - u32::from(self.len))
    }

    /// The address `n` after the network address (clamped to the last address).
    #[must_use]
    pub fn nth_host(self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(self.first().saturating_add(n).min(self.last()))
    }

    /// The first usable host address (network + 1), if the network has room for hosts.
    #[must_use]
    pub fn first_host(self) -> Option<Ipv4Addr> {
        (self.len <= 30).then(|| Ipv4Addr::from(self.first() + 1))
    }

    /// Whether `ip` lies in this network.
    #[must_use]
    pub fn contains(self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.len) == u32::from(self.addr)
    }

    /// Whether the two networks share any address.
    #[must_use]
    pub fn overlaps(self, other: Self) -> bool {
        self.first() <= other.last() && other.first() <= self.last()
    }
}

fn mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    }
}

/// Decimal text of 0 to 255, so writing an address is four table lookups.
static OCTETS: [&str; 256] = {
    [
        "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16",
        "17", "18", "19", "20", "21", "22", "23", "24", "25", "26", "27", "28", "29", "30", "31",
        "32", "33", "34", "35", "36", "37", "38", "39", "40", "41", "42", "43", "44", "45", "46",
        "47", "48", "49", "50", "51", "52", "53", "54", "55", "56", "57", "58", "59", "60", "61",
        "62", "63", "64", "65", "66", "67", "68", "69", "70", "71", "72", "73", "74", "75", "76",
        "77", "78", "79", "80", "81", "82", "83", "84", "85", "86", "87", "88", "89", "90", "91",
        "92", "93", "94", "95", "96", "97", "98", "99", "100", "101", "102", "103", "104", "105",
        "106", "107", "108", "109", "110", "111", "112", "113", "114", "115", "116", "117", "118",
        "119", "120", "121", "122", "123", "124", "125", "126", "127", "128", "129", "130", "131",
        "132", "133", "134", "135", "136", "137", "138", "139", "140", "141", "142", "143", "144",
        "145", "146", "147", "148", "149", "150", "151", "152", "153", "154", "155", "156", "157",
        "158", "159", "160", "161", "162", "163", "164", "165", "166", "167", "168", "169", "170",
        "171", "172", "173", "174", "175", "176", "177", "178", "179", "180", "181", "182", "183",
        "184", "185", "186", "187", "188", "189", "190", "191", "192", "193", "194", "195", "196",
        "197", "198", "199", "200", "201", "202", "203", "204", "205", "206", "207", "208", "209",
        "210", "211", "212", "213", "214", "215", "216", "217", "218", "219", "220", "221", "222",
        "223", "224", "225", "226", "227", "228", "229", "230", "231", "232", "233", "234", "235",
        "236", "237", "238", "239", "240", "241", "242", "243", "244", "245", "246", "247", "248",
        "249", "250", "251", "252", "253", "254", "255",
    ]
};

/// Append the decimal digits of `v` (no allocation, no formatter: rulesets
/// print hundreds of thousands of addresses and ports).
pub(crate) fn push_u16(out: &mut String, v: u16) {
    if let Some(s) = OCTETS.get(usize::from(v)) {
        out.push_str(s);
        return;
    }
    let mut buf = [0u8; 5];
    let mut i = buf.len();
    let mut v = v;
    while v > 0 {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or("0"));
}

impl Ipv4Cidr {
    /// Append `ADDRESS/LENGTH` to `out`, as [`fmt::Display`] writes it.
    pub fn push_to(self, out: &mut String) {
        // Room for the longest form up front: one capacity check, not nine.
        out.reserve(18);
        push_addr(out, self.addr);
        out.push('/');
        out.push_str(OCTETS[usize::from(self.len)]);
    }
}

/// Append a dotted-quad address.
pub(crate) fn push_addr(out: &mut String, a: Ipv4Addr) {
    let [x, y, z, w] = a.octets();
    out.push_str(OCTETS[usize::from(x)]);
    out.push('.');
    out.push_str(OCTETS[usize::from(y)]);
    out.push('.');
    out.push_str(OCTETS[usize::from(z)]);
    out.push('.');
    out.push_str(OCTETS[usize::from(w)]);
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.addr.octets();
        for (k, o) in [a, b, c, d].into_iter().enumerate() {
            if k > 0 {
                f.write_str(".")?;
            }
            f.write_str(OCTETS[usize::from(o)])?;
        }
        f.write_str("/")?;
        f.write_str(OCTETS[usize::from(self.len)])
    }
}

impl FromStr for Ipv4Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, len) = s.split_once('/').ok_or(CidrError::MissingSlash)?;
        let addr: Ipv4Addr = addr
            .parse()
            .map_err(|_| CidrError::BadAddress(addr.to_owned()))?;
        // `u8::from_str` accepts a leading '+', which is not CIDR notation.
        if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) || len.len() > 2 {
            return Err(CidrError::BadLength(len.to_owned()));
        }
        let len: u8 = len
            .parse()
            .map_err(|_| CidrError::BadLength(len.to_owned()))?;
        Self::new(addr, len)
    }
}

impl Serialize for Ipv4Cidr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Ipv4Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_printing_matches_std() {
        for v in [0u16, 7, 10, 99, 100, 255, 256, 999, 1000, 5432, 65535] {
            let mut s = String::new();
            push_u16(&mut s, v);
            assert_eq!(s, v.to_string());
        }
        for (i, o) in OCTETS.iter().enumerate() {
            assert_eq!(*o, i.to_string());
        }
        let mut s = String::new();
        push_addr(&mut s, Ipv4Addr::new(10, 200, 3, 0));
        assert_eq!(s, "10.200.3.0");
    }
    use proptest::prelude::*;

    #[test]
    fn parses_and_prints() {
        let c: Ipv4Cidr = "10.0.1.0/24".parse().unwrap();
        assert_eq!(c.to_string(), "10.0.1.0/24");
        assert_eq!(c.broadcast(), Ipv4Addr::new(10, 0, 1, 255));
        assert_eq!(c.first_host(), Some(Ipv4Addr::new(10, 0, 1, 1)));
        assert_eq!(c.size(), 256);
        assert!(c.contains(Ipv4Addr::new(10, 0, 1, 200)));
        assert!(!c.contains(Ipv4Addr::new(10, 0, 2, 0)));
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!("10.0.0.0".parse::<Ipv4Cidr>(), Err(CidrError::MissingSlash));
        assert!(matches!(
            "10.0.0/24".parse::<Ipv4Cidr>(),
            Err(CidrError::BadAddress(_))
        ));
        assert!(matches!(
            "10.0.0.0/33".parse::<Ipv4Cidr>(),
            Err(CidrError::BadLength(_))
        ));
        assert!(matches!(
            "10.0.0.0/+8".parse::<Ipv4Cidr>(),
            Err(CidrError::BadLength(_))
        ));
        assert!(matches!(
            "10.0.0.0/".parse::<Ipv4Cidr>(),
            Err(CidrError::BadLength(_))
        ));
        let Err(CidrError::HostBitsSet(net)) = "10.0.0.5/24".parse::<Ipv4Cidr>() else {
            panic!("host bits must be rejected")
        };
        assert_eq!(net.to_string(), "10.0.0.0/24");
    }

    #[test]
    fn edge_lengths() {
        let all: Ipv4Cidr = "0.0.0.0/0".parse().unwrap();
        assert_eq!(all.last(), u32::MAX);
        assert!(all.contains(Ipv4Addr::new(203, 0, 113, 9)));
        let one: Ipv4Cidr = "192.0.2.7/32".parse().unwrap();
        assert_eq!(one.first(), one.last());
        assert_eq!(one.first_host(), None);
    }

    #[test]
    fn overlap() {
        let a: Ipv4Cidr = "10.0.0.0/16".parse().unwrap();
        let b: Ipv4Cidr = "10.0.3.0/24".parse().unwrap();
        let c: Ipv4Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(a.overlaps(b) && b.overlaps(a));
        assert!(!a.overlaps(c));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn display_parse_round_trip(addr in any::<u32>(), len in 0u8..=32) {
            let net = Ipv4Cidr::truncating(Ipv4Addr::from(addr), len);
            let back: Ipv4Cidr = net.to_string().parse().unwrap();
            prop_assert_eq!(back, net);
            prop_assert!(net.contains(Ipv4Addr::from(addr)));
            prop_assert!(net.contains(net.broadcast()));
        }
    }
}
