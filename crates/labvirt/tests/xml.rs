//! The generated XML, pinned by snapshots (reviewed by eye once, then any
//! change shows up in review), and read back by libvirt's own parser in the
//! test-driver tests (tests/tests/libvirt_testdriver.rs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use labvirt::DomainType;
use labvirt::spec::desired;

fn ref_desired(t: DomainType) -> labvirt::spec::Desired {
    desired(&labvirt::reference::lab(), t, &|_| None)
}

#[test]
fn network_of_a_dhcp_segment() {
    let d = ref_desired(DomainType::Qemu);
    insta::assert_snapshot!(labvirt::xml::network(&d.networks[0], &d.lab));
}

#[test]
fn network_of_a_static_only_segment_has_reservations_and_no_range() {
    let d = ref_desired(DomainType::Qemu);
    let x = labvirt::xml::network(&d.networks[3], &d.lab);
    assert!(!x.contains("<range"));
    assert!(x.contains("<host mac='52:54:00:2f:22:79' name='db1' ip='10.0.3.10'/>"));
    insta::assert_snapshot!(x);
}

#[test]
fn every_network_has_every_vm_in_its_dns() {
    let d = ref_desired(DomainType::Qemu);
    for n in &d.networks {
        let x = labvirt::xml::network(n, &d.lab);
        for vm in ["bastion", "web1", "app1", "db1"] {
            assert!(
                x.contains(&format!("<hostname>{vm}</hostname>")),
                "{} lacks {vm}",
                n.name
            );
        }
        assert!(x.contains("<domain name='lab.local' localOnly='yes'/>"));
        assert!(x.contains("<forward mode='open'/>"));
    }
}

#[test]
fn domain_for_qemu_and_kvm() {
    let d = ref_desired(DomainType::Qemu);
    insta::assert_snapshot!("domain_qemu", labvirt::xml::domain(&d.domains[0]));
    let k = ref_desired(DomainType::Kvm);
    let x = labvirt::xml::domain(&k.domains[0]);
    assert!(x.starts_with("<domain type='kvm'>"));
    assert!(x.contains("<cpu mode='host-passthrough'/>"));
}

#[test]
fn volumes_and_overlays() {
    let mut lab = labvirt::reference::lab();
    lab.vms[0].base_image = Some("debian-12.qcow2".into());
    let d = desired(&lab, DomainType::Qemu, &|_| None);
    insta::assert_snapshot!("overlay_volume", labvirt::xml::volume(&d.domains[0].disk));
    assert!(
        labvirt::xml::volume(&d.domains[1].disk)
            .contains("<capacity unit='bytes'>21474836480</capacity>")
    );
}

#[test]
fn text_from_the_file_is_escaped() {
    assert_eq!(
        labvirt::xml::escape("a<b>&'\""),
        "a&lt;b&gt;&amp;&apos;&quot;"
    );
}

#[test]
fn a_redefinition_carries_the_uuid() {
    let x = labvirt::xml::with_uuid("<network>\n  <name>n</name>\n</network>\n", Some("1-2"));
    assert_eq!(
        x,
        "<network>\n  <name>n</name>\n  <uuid>1-2</uuid>\n</network>\n"
    );
}

#[test]
fn bridge_names_fit_linux_and_stay_unique() {
    let names = labvirt::spec::bridge_names(["management-segment-a", "management-segment-b", "x"]);
    assert_eq!(names, ["lk-management-s", "lk-management-1", "lk-x"]);
    assert!(names.iter().all(|n| n.len() <= labvirt::spec::BRIDGE_MAX));
}
