//! Fuzz labvirt's sections: any input comes back as a lab or as diagnostics,
//! never a panic; a valid lab's budget, desired state, XML, seed image, plan
//! against an empty host and graphs are all made without one.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match labvirt::parse("fuzz.toml", text) {
        Ok(lab) => {
            let _ = labvirt::budget::check(&lab.host, &lab.vms, Default::default());
            let want = labvirt::spec::desired(&lab, labvirt::DomainType::Qemu, &|_| None);
            for n in &want.networks {
                let xml = labvirt::xml::network(n, &want.lab);
                let (_, _, parsed) = labvirt::observe::parse_network(&xml).expect("labvirt's own XML parses");
                assert_eq!(parsed.bridge.as_deref(), Some(n.bridge.as_str()));
            }
            for d in &want.domains {
                let xml = labvirt::xml::domain(d);
                labvirt::observe::parse_domain(&xml).expect("labvirt's own XML parses");
                d.seed_files.iso().expect("a seed fits its image");
            }
            let _ = labvirt::plan::plan(&want, &lab.host, &Default::default());
            let _ = labvirt::graph::mermaid(&lab);
            let _ = labvirt::graph::dot(&lab);
        }
        Err(diags) => assert!(diags.has_errors()),
    }
});
