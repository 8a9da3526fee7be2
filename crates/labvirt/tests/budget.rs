//! The budget arithmetic and MAC derivation, against plain oracles.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::cast_precision_loss)]

use proptest::prelude::*;

fn vm(name: &str, vcpus: u32, memory_mib: u32) -> labvirt::Vm {
    let mut l = labvirt::reference::lab();
    let mut v = l.vms.remove(0);
    v.name = name.parse().unwrap();
    v.vcpus = vcpus;
    v.memory_mib = memory_mib;
    v
}

#[test]
fn the_reference_budget_is_the_procedures() {
    let l = labvirt::reference::lab();
    let lim = labvirt::budget::Limits::of(&l.host);
    // 4 physical cores × 2 = 8 vCPUs; 24 GiB × 0.70 = 16.8 GiB; 8 VMs.
    assert_eq!((lim.vcpus, lim.memory_mib, lim.vms), (8, 17203, 8));
}

#[test]
fn an_overrun_names_the_limit_the_excess_and_the_vms() {
    let l = labvirt::reference::lab();
    let vms = [vm("a", 4, 8192), vm("b", 4, 8192), vm("c", 2, 2048)];
    let b = labvirt::budget::check(&l.host, &vms, labvirt::budget::Other::new(1, 1024, 1));
    assert!(!b.fits());
    let cpu = &b.overruns[0];
    assert_eq!(
        (cpu.used, cpu.limit, cpu.excess(), cpu.other),
        (11, 8, 3, 1)
    );
    assert_eq!(cpu.vms[0], ("a".to_owned(), 4));
    let mem = &b.overruns[1];
    assert_eq!((mem.used, mem.excess()), (19456, 19456 - 17203));
    assert_eq!(b.overruns.len(), 2, "4 VMs are within 8");
}

proptest! {
    #[test]
    fn check_agrees_with_the_plain_sums(
        cores in 1u32..64, reserve in 0u32..8, mem in 1u32..256, rmem in 0u32..16,
        over in 1u32..40, share in 1u32..=100, max in 1u32..16,
        vms in proptest::collection::vec((1u32..16, 64u32..65536), 0..12),
        other in (0u64..8, 0u64..8192, 0u64..3),
    ) {
        let mut h = labvirt::Host::new("test:///default", cores, mem);
        h.reserve_cores = reserve.min(cores - 1);
        h.reserve_memory_gib = rmem.min(mem - 1);
        h.cpu_overcommit = f64::from(over) / 4.0;
        h.memory_max_use = f64::from(share) / 100.0;
        h.max_vms = max;
        let list: Vec<labvirt::Vm> = vms.iter().enumerate().map(|(i, &(c, m))| vm(&format!("v{i}"), c, m)).collect();
        let b = labvirt::budget::check(&h, &list, labvirt::budget::Other::new(other.0, other.1, other.2));
        // The oracle, in integers: vCPUs ≤ cores' × over/4, MiB ≤ mem' × 1024 × share/100.
        let cpu_lim = u64::from(cores - h.reserve_cores) * u64::from(over) / 4;
        let mem_lim = u64::from(mem - h.reserve_memory_gib) * 1024 * u64::from(share) / 100;
        let cpu: u64 = vms.iter().map(|v| u64::from(v.0)).sum::<u64>() + other.0;
        let mib: u64 = vms.iter().map(|v| u64::from(v.1)).sum::<u64>() + other.1;
        let n = vms.len() as u64 + other.2;
        prop_assert_eq!(b.limits.vcpus, cpu_lim);
        prop_assert_eq!(b.limits.memory_mib, mem_lim);
        prop_assert_eq!(b.fits(), cpu <= cpu_lim && mib <= mem_lim && n <= u64::from(max));
        for o in &b.overruns {
            prop_assert_eq!(o.excess(), o.used - o.limit);
            prop_assert_eq!(o.vms.len(), list.len());
        }
    }

    #[test]
    fn derived_macs_are_local_unicast_and_distinct_per_attempt(lab in "[a-z]{1,12}", name in "[a-z][a-z0-9-]{0,20}", a in 0u32..4) {
        let m = labvirt::MacAddr::derived(&lab, &name, a);
        prop_assert!(!m.is_multicast());
        prop_assert_eq!(&m.bytes()[..3], &[0x52, 0x54, 0x00]);
        prop_assert_eq!(m.to_string().parse::<labvirt::MacAddr>().unwrap(), m);
    }

    #[test]
    fn a_lab_of_many_unnamed_macs_gets_distinct_ones(n in 1usize..60) {
        let mut text = String::from("[lab]\nname = \"p\"\ndomain = \"lab.local\"\n[[segment]]\nname = \"s\"\ncidr = \"10.1.0.0/16\"\ndhcp = { start = \"10.1.1.1\", end = \"10.1.1.200\" }\nssh_ports = \"3000-3999\"\ninternet = false\n[host]\ncores = 64\nmemory_gib = 512\n[host.pools]\nfast = \"/i\"\n");
        for i in 0..n {
            text.push_str(&format!("[[vm]]\nname = \"v{i}\"\nsegment = \"s\"\nvcpus = 1\nmemory_mib = 64\ndisk_gib = 1\nssh_port = {}\n", 3000 + i));
        }
        let l = labvirt::parse("p.toml", &text).unwrap();
        let mut macs: Vec<_> = l.vms.iter().map(|v| v.mac).collect();
        macs.sort();
        macs.dedup();
        prop_assert_eq!(macs.len(), n);
    }
}
