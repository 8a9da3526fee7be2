//! Which domain type a host can run, from its capabilities XML.

use crate::model::DomainType;

/// The domain type chosen, and why when it is not what one would expect.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Choice {
    /// The type domains are defined with.
    pub domain_type: DomainType,
    /// Said to the user: a fallback or a warning.
    pub note: Option<String>,
}

/// Why no usable type was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CapsError {
    /// The lab asks for a type the host does not offer for x86_64.
    #[error("the lab asks for domain type {asked}, and the host offers {offered}")]
    NotOffered {
        /// Asked for.
        asked: &'static str,
        /// What the host has.
        offered: String,
    },
    /// No x86_64 guest type at all.
    #[error("the host offers no x86_64 guests")]
    NoGuests,
    /// Not XML.
    #[error("the host's capabilities do not parse")]
    Xml(#[source] roxmltree::Error),
}

/// Choose from `caps` (virConnectGetCapabilities); `asked` is the lab's
/// `domain_type`; `cpu_flags` is the local CPU's flags line (None for a
/// remote host) to see through a KVM that is advertised but unusable: a
/// `/dev/kvm` without `vmx`/`svm` is a paravirtual KVM that stock guest
/// kernels hang on, so labvirt falls back to qemu and says so.
///
/// # Errors
/// [`CapsError`].
pub fn choose(
    caps: &str,
    asked: Option<DomainType>,
    cpu_flags: Option<&str>,
) -> Result<Choice, CapsError> {
    let doc = roxmltree::Document::parse(caps).map_err(CapsError::Xml)?;
    let mut offered: Vec<String> = Vec::new();
    for g in doc.descendants().filter(|n| n.has_tag_name("guest")) {
        let Some(arch) = g.children().find(|n| n.has_tag_name("arch")) else {
            continue;
        };
        if arch.attribute("name") != Some("x86_64") {
            continue;
        }
        for d in arch.children().filter(|n| n.has_tag_name("domain")) {
            if let Some(t) = d.attribute("type")
                && !offered.iter().any(|o| o == t)
            {
                offered.push(t.to_owned());
            }
        }
    }
    // libvirt's test driver offers only i686 guests of type `test`.
    let test_driver = doc
        .descendants()
        .any(|n| n.has_tag_name("domain") && n.attribute("type") == Some("test"));
    if test_driver && !offered.iter().any(|o| o == "test") {
        offered.push("test".to_owned());
    }
    if offered.is_empty() {
        return Err(CapsError::NoGuests);
    }
    let has = |t: DomainType| offered.iter().any(|o| o == t.as_str());
    let hw = cpu_flags.map(|f| f.split_whitespace().any(|w| w == "vmx" || w == "svm"));
    if let Some(t) = asked {
        if !has(t) {
            return Err(CapsError::NotOffered {
                asked: t.as_str(),
                offered: offered.join(", "),
            });
        }
        let note = (t == DomainType::Kvm && hw == Some(false)).then(|| {
            "the lab asks for kvm, but this CPU has no vmx/svm flag: /dev/kvm is likely a paravirtual KVM that stock guests hang on; domain_type = \"qemu\" runs them".to_owned()
        });
        return Ok(Choice {
            domain_type: t,
            note,
        });
    }
    if has(DomainType::Kvm) {
        if hw == Some(false) && has(DomainType::Qemu) {
            return Ok(Choice {
                domain_type: DomainType::Qemu,
                note: Some("KVM is advertised but this CPU has no vmx/svm flag (a paravirtual /dev/kvm that stock guests hang on): using qemu (TCG, software emulation)".to_owned()),
            });
        }
        return Ok(Choice {
            domain_type: DomainType::Kvm,
            note: None,
        });
    }
    if has(DomainType::Qemu) {
        return Ok(Choice {
            domain_type: DomainType::Qemu,
            note: Some("the host offers no KVM: using qemu (TCG, software emulation)".to_owned()),
        });
    }
    if has(DomainType::Test) {
        return Ok(Choice {
            domain_type: DomainType::Test,
            note: None,
        });
    }
    Err(CapsError::NotOffered {
        asked: "kvm or qemu",
        offered: offered.join(", "),
    })
}

/// The flags line of `/proc/cpuinfo`'s text.
#[must_use]
pub fn cpu_flags(cpuinfo: &str) -> Option<&str> {
    cpuinfo
        .lines()
        .find(|l| l.starts_with("flags"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v)
}
