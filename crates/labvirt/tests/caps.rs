//! The domain type from a host's capabilities, on a recorded real host
//! (fixtures/capabilities-debian12-tcg.xml says where it came from).
#![allow(clippy::unwrap_used)]

use labvirt::DomainType;
use labvirt::caps::{CapsError, choose, cpu_flags};

const CAPS: &str = include_str!("fixtures/capabilities-debian12-tcg.xml");
const NO_VMX: &str = "processor\t: 0\nflags\t\t: fpu vme de pse tsc msr pae hypervisor lahf_lm\n";
const VMX: &str = "flags\t\t: fpu vme vmx hypervisor\n";

#[test]
fn kvm_advertised_without_vmx_falls_back_to_qemu_and_says_why() {
    let c = choose(CAPS, None, cpu_flags(NO_VMX)).unwrap();
    assert_eq!(c.domain_type, DomainType::Qemu);
    assert!(
        c.note
            .unwrap()
            .contains("KVM is advertised but this CPU has no vmx/svm")
    );
}

#[test]
fn kvm_with_vmx_or_on_a_remote_host_is_kvm() {
    assert_eq!(
        choose(CAPS, None, cpu_flags(VMX)).unwrap().domain_type,
        DomainType::Kvm
    );
    let remote = choose(CAPS, None, None).unwrap();
    assert_eq!((remote.domain_type, remote.note), (DomainType::Kvm, None));
}

#[test]
fn what_the_lab_asks_for_wins_with_a_warning_when_it_will_hang() {
    let c = choose(CAPS, Some(DomainType::Kvm), cpu_flags(NO_VMX)).unwrap();
    assert_eq!(c.domain_type, DomainType::Kvm);
    assert!(c.note.unwrap().contains("domain_type = \"qemu\""));
    assert_eq!(
        choose(CAPS, Some(DomainType::Qemu), cpu_flags(NO_VMX))
            .unwrap()
            .note,
        None
    );
    let e = choose(CAPS, Some(DomainType::Test), None).unwrap_err();
    assert_eq!(
        e,
        CapsError::NotOffered {
            asked: "test",
            offered: "qemu, kvm".into()
        }
    );
}

#[test]
fn a_host_without_x86_64_guests_is_an_error() {
    let caps = "<capabilities><guest><arch name='aarch64'><domain type='qemu'/></arch></guest></capabilities>";
    assert_eq!(choose(caps, None, None).unwrap_err(), CapsError::NoGuests);
    assert!(matches!(
        choose("<capabilities", None, None),
        Err(CapsError::Xml(_))
    ));
}
