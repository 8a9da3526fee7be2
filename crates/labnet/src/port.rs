//! TCP/UDP port ranges and normalised port sets.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An inclusive range of ports, `start..=end`, both from 1 to 65535.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct PortRange {
    start: u16,
    end: u16,
}

/// Why a port or port range is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PortError {
    /// Not a number from 1 to 65535.
    #[error("{0:?} is not a port number from 1 to 65535")]
    BadPort(String),
    /// `start` is greater than `end`.
    #[error("the range is reversed ({start} is greater than {end})")]
    Reversed {
        /// First port as written.
        start: u16,
        /// Last port as written.
        end: u16,
    },
}

impl PortRange {
    /// A range from `start` to `end` inclusive.
    pub fn new(start: u16, end: u16) -> Result<Self, PortError> {
        if start == 0 {
            return Err(PortError::BadPort("0".into()));
        }
        if start > end {
            return Err(PortError::Reversed { start, end });
        }
        Ok(Self { start, end })
    }

    /// A single port.
    pub fn single(port: u16) -> Result<Self, PortError> {
        Self::new(port, port)
    }

    /// First port.
    #[must_use]
    pub fn start(self) -> u16 {
        self.start
    }

    /// Last port.
    #[must_use]
    pub fn end(self) -> u16 {
        self.end
    }

    /// Whether `port` is in the range.
    #[must_use]
    pub fn contains(self, port: u16) -> bool {
        self.start <= port && port <= self.end
    }

    /// Whether the ranges share a port.
    #[must_use]
    pub fn overlaps(self, other: Self) -> bool {
        self.start <= other.end && other.start <= self.end
    }

    /// Number of ports in the range.
    #[must_use]
    pub fn count(self) -> u32 {
        u32::from(self.end) - u32::from(self.start) + 1
    }
}

impl PortRange {
    /// Append `PORT` or `FIRST-LAST` to `out`, as [`fmt::Display`] writes it.
    pub fn push_to(self, out: &mut String) {
        crate::cidr::push_u16(out, self.start);
        if self.end != self.start {
            out.push('-');
            crate::cidr::push_u16(out, self.end);
        }
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

fn parse_port(s: &str) -> Result<u16, PortError> {
    let t = s.trim();
    // u16::from_str takes "+5"; ports are plain digits.
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PortError::BadPort(s.to_owned()));
    }
    match t.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(PortError::BadPort(s.to_owned())),
    }
}

impl FromStr for PortRange {
    type Err = PortError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('-') {
            Some((a, b)) => Self::new(parse_port(a)?, parse_port(b)?),
            None => Self::single(parse_port(s)?),
        }
    }
}

impl Serialize for PortRange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PortRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A set of ports kept as sorted, disjoint, non-adjacent ranges.
///
/// Normalising here means every target renders the same minimal elements, and
/// nftables never sees overlapping interval elements (which it rejects).
#[derive(Clone, PartialEq, Eq, Hash, Default, Debug, Serialize)]
#[serde(transparent)]
pub struct PortSet(Vec<PortRange>);

impl PortSet {
    /// The empty set.
    #[must_use]
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Add a range, merging with neighbours.
    pub fn insert(&mut self, r: PortRange) {
        let mut merged = r;
        let mut out = Vec::with_capacity(self.0.len() + 1);
        let mut placed = false;
        for &cur in &self.0 {
            if u32::from(cur.end) + 1 < u32::from(merged.start) {
                out.push(cur);
            } else if u32::from(merged.end) + 1 < u32::from(cur.start) {
                if !placed {
                    out.push(merged);
                    placed = true;
                }
                out.push(cur);
            } else {
                merged = PortRange {
                    start: merged.start.min(cur.start),
                    end: merged.end.max(cur.end),
                };
            }
        }
        if !placed {
            out.push(merged);
        }
        self.0 = out;
    }

    /// Whether the set holds `port`.
    #[must_use]
    pub fn contains(&self, port: u16) -> bool {
        // Ranges are sorted and disjoint: binary search by start.
        let i = self.0.partition_point(|r| r.start <= port);
        i > 0 && self.0[i - 1].contains(port)
    }

    /// The ranges, sorted and disjoint.
    #[must_use]
    pub fn ranges(&self) -> &[PortRange] {
        &self.0
    }

    /// Whether no port is in the set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every port (1 to 65535).
    #[must_use]
    pub fn all() -> Self {
        Self(vec![PortRange {
            start: 1,
            end: u16::MAX,
        }])
    }

    /// The ports of `self` that are not in `other`.
    #[must_use]
    pub fn minus(&self, other: &Self) -> Self {
        let mut out = Vec::new();
        for &r in &self.0 {
            let mut start = u32::from(r.start);
            let end = u32::from(r.end);
            for o in &other.0 {
                let (os, oe) = (u32::from(o.start), u32::from(o.end));
                if oe < start || os > end {
                    continue;
                }
                if os > start {
                    out.push((start, os - 1));
                }
                start = oe + 1;
                if start > end {
                    break;
                }
            }
            if start <= end {
                out.push((start, end));
            }
        }
        Self(
            out.into_iter()
                .filter_map(|(a, b)| {
                    Some(PortRange {
                        start: u16::try_from(a).ok()?,
                        end: u16::try_from(b).ok()?,
                    })
                })
                .collect(),
        )
    }
}

impl FromIterator<PortRange> for PortSet {
    fn from_iter<I: IntoIterator<Item = PortRange>>(iter: I) -> Self {
        let mut s = Self::new();
        for r in iter {
            s.insert(r);
        }
        s
    }
}

impl fmt::Display for PortSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parse_forms() {
        assert_eq!(
            "22".parse::<PortRange>().unwrap(),
            PortRange::single(22).unwrap()
        );
        assert_eq!(
            "3306-3307".parse::<PortRange>().unwrap(),
            PortRange::new(3306, 3307).unwrap()
        );
        assert!(matches!(
            "0".parse::<PortRange>(),
            Err(PortError::BadPort(_))
        ));
        assert!(matches!(
            "65536".parse::<PortRange>(),
            Err(PortError::BadPort(_))
        ));
        assert!(matches!(
            "+5".parse::<PortRange>(),
            Err(PortError::BadPort(_))
        ));
        assert!(matches!(
            "a-b".parse::<PortRange>(),
            Err(PortError::BadPort(_))
        ));
        assert_eq!(
            "20-10".parse::<PortRange>(),
            Err(PortError::Reversed { start: 20, end: 10 })
        );
    }

    #[test]
    fn set_merges_adjacent_and_overlapping() {
        let s: PortSet = ["10-12", "13", "20-30", "25-40", "5"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(s.to_string(), "5,10-13,20-40");
        assert!(s.contains(13) && s.contains(40) && !s.contains(14) && !s.contains(4));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn range_round_trip(a in 1u16.., b in 1u16..) {
            let r = PortRange::new(a.min(b), a.max(b)).unwrap();
            prop_assert_eq!(r.to_string().parse::<PortRange>().unwrap(), r);
        }

        #[test]
        fn set_membership_matches_ranges(
            ranges in proptest::collection::vec((1u16..200, 0u16..20), 0..12),
            probe in 1u16..230,
        ) {
            let rs: Vec<PortRange> = ranges.iter()
                .map(|&(s, w)| PortRange::new(s, s.saturating_add(w)).unwrap())
                .collect();
            let set: PortSet = rs.iter().copied().collect();
            prop_assert_eq!(set.contains(probe), rs.iter().any(|r| r.contains(probe)));
            for w in set.ranges().windows(2) {
                prop_assert!(u32::from(w[0].end()) + 1 < u32::from(w[1].start()));
            }
        }
    }
}
