//! Validated names: segments, interfaces, DNS domains, the lab itself.
//!
//! Segment names end up in nftables set and chain names, iptables comments,
//! libvirt network names and DNS labels, so they are restricted to what is
//! safe in all of them rather than escaped differently in each.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest segment name accepted.
pub const SEGMENT_NAME_MAX: usize = 32;

/// Names that cannot be segments because the lab file or CLI gives them a meaning.
pub const RESERVED_SEGMENT_NAMES: &[&str] = &["internet", "any", "all", "lab"];

/// Why a name is rejected; the message is written to stand after "name X".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// Empty string.
    #[error("is empty")]
    Empty,
    /// Longer than allowed.
    #[error("is {len} characters long; the limit is {max}")]
    TooLong {
        /// Length given.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// Contains a character outside the allowed set.
    #[error("contains {0:?}; {1}")]
    BadChar(char, &'static str),
    /// Must start with a letter.
    #[error("must start with a lowercase letter")]
    BadStart,
    /// Reserved word.
    #[error("is reserved")]
    Reserved,
}

macro_rules! string_newtype {
    ($(#[$m:meta])* $name:ident, $check:path) => {
        $(#[$m])*
        // Arc: a name is referenced from every rule that lists it, millions of
        // times in large labs; clones must not allocate. Arc<String>, not
        // Arc<str>: a thin pointer, so a list of names takes half the memory.
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
        pub struct $name(Arc<String>);

        impl $name {
            /// Validate and wrap.
            pub fn new(s: impl Into<String>) -> Result<Self, NameError> {
                let s: String = s.into();
                $check(&s)?;
                Ok(Self(Arc::new(s)))
            }

            /// The name as written.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_newtype!(
    /// A segment name: lowercase letter first, then lowercase letters, digits and `-`,
    /// at most [`SEGMENT_NAME_MAX`] characters, not one of [`RESERVED_SEGMENT_NAMES`].
    SegmentName,
    check_segment
);
string_newtype!(
    /// A tag on segments (`tags = ["app"]`), selected in rules as `"tag:app"`, or
    /// the name of a service set (`[policy.services]`): a lowercase letter, then
    /// lowercase letters, digits and `-`, at most [`SEGMENT_NAME_MAX`] characters.
    TagName,
    check_tag
);
string_newtype!(
    /// A network interface name as the kernel accepts it (1 to 15 bytes, no `/`,
    /// whitespace or `:`, not `.` or `..`).
    InterfaceName,
    check_interface
);
string_newtype!(
    /// A DNS domain such as `lab.local`: dot-separated labels of letters, digits and `-`.
    DomainName,
    check_domain
);
string_newtype!(
    /// The lab's own name: letters, digits, `.`, `_` and `-`, at most 64 characters.
    LabName,
    check_lab_name
);

/// A segment name is a tag-shaped name that is not reserved.
fn check_segment(s: &str) -> Result<(), NameError> {
    check_tag(s)?;
    if RESERVED_SEGMENT_NAMES.contains(&s) {
        return Err(NameError::Reserved);
    }
    Ok(())
}

fn check_tag(s: &str) -> Result<(), NameError> {
    let first = s.chars().next().ok_or(NameError::Empty)?;
    if s.len() > SEGMENT_NAME_MAX {
        return Err(NameError::TooLong {
            len: s.chars().count(),
            max: SEGMENT_NAME_MAX,
        });
    }
    if !first.is_ascii_lowercase() {
        return Err(NameError::BadStart);
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(NameError::BadChar(
            c,
            "use lowercase letters, digits and '-'",
        ));
    }
    Ok(())
}

fn check_interface(s: &str) -> Result<(), NameError> {
    if s.is_empty() {
        return Err(NameError::Empty);
    }
    // IFNAMSIZ is 16 including the terminating NUL.
    if s.len() > 15 {
        return Err(NameError::TooLong {
            len: s.len(),
            max: 15,
        });
    }
    if s == "." || s == ".." {
        return Err(NameError::BadChar(
            '.',
            "\".\" and \"..\" are not interface names",
        ));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !c.is_ascii_graphic() || matches!(c, '/' | ':' | '"' | '\\'))
    {
        return Err(NameError::BadChar(
            c,
            "interface names have no '/', ':', quotes, spaces or control characters",
        ));
    }
    Ok(())
}

fn check_domain(s: &str) -> Result<(), NameError> {
    if s.is_empty() {
        return Err(NameError::Empty);
    }
    if s.len() > 253 {
        return Err(NameError::TooLong {
            len: s.len(),
            max: 253,
        });
    }
    for label in s.split('.') {
        if label.is_empty() {
            return Err(NameError::BadChar(
                '.',
                "labels between dots cannot be empty",
            ));
        }
        if label.len() > 63 {
            return Err(NameError::TooLong {
                len: label.len(),
                max: 63,
            });
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(NameError::BadChar(c, "use letters, digits, '-' and '.'"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(NameError::BadChar(
                '-',
                "a label cannot start or end with '-'",
            ));
        }
    }
    Ok(())
}

fn check_lab_name(s: &str) -> Result<(), NameError> {
    if s.is_empty() {
        return Err(NameError::Empty);
    }
    if s.len() > 64 {
        return Err(NameError::TooLong {
            len: s.chars().count(),
            max: 64,
        });
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(NameError::BadChar(
            c,
            "use letters, digits, '.', '_' and '-'",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names() {
        assert!(SegmentName::new("management").is_ok());
        assert!(SegmentName::new("db-2").is_ok());
        assert_eq!(SegmentName::new("Management"), Err(NameError::BadStart));
        assert_eq!(SegmentName::new(""), Err(NameError::Empty));
        assert!(matches!(
            SegmentName::new("a_b"),
            Err(NameError::BadChar('_', _))
        ));
        assert_eq!(SegmentName::new("internet"), Err(NameError::Reserved));
        assert!(matches!(
            SegmentName::new("a".repeat(33)),
            Err(NameError::TooLong { .. })
        ));
    }

    #[test]
    fn interface_names() {
        assert!(InterfaceName::new("eno1").is_ok());
        assert!(InterfaceName::new("br-lab.10").is_ok());
        assert!(InterfaceName::new("a23456789012345").is_ok());
        assert!(InterfaceName::new("a234567890123456").is_err());
        assert!(InterfaceName::new("eth/0").is_err());
        assert!(InterfaceName::new("eth 0").is_err());
        assert!(InterfaceName::new("..").is_err());
    }

    #[test]
    fn domains() {
        assert!(DomainName::new("lab.local").is_ok());
        assert!(DomainName::new("a..b").is_err());
        assert!(DomainName::new("-a.b").is_err());
        assert!(DomainName::new("a_b.local").is_err());
    }
}
