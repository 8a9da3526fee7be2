//! Helpers shared by the benchmarks and the `synth` generator.

use std::fmt::Write as _;

use labnet::{Lab, Proto, Selector};

/// Segment counts every benchmark and the peer comparison run at.
pub const SIZES: &[usize] = &[5, 50, 200, 1000, 5000];

/// The same policy as Aerleon YAML: (networks.yaml, services.yaml, policy.yaml).
///
/// One Aerleon term per labnet allow rule, with the rule's destinations as a
/// network group; internet egress is one term per lab (Aerleon's nftables
/// generator has no NAT, so masquerading is not part of the comparison).
#[must_use]
pub fn aerleon_policy(lab: &Lab) -> (String, String, String) {
    let segs = lab.segments();
    let mut nets = String::from("networks:\n");
    for s in segs {
        let _ = write!(
            nets,
            "  {}:\n    values:\n      - address: {}\n",
            net_name(s.name.as_str()),
            s.cidr
        );
    }
    let _ = writeln!(nets, "  LAB:\n    values:");
    for s in segs {
        let _ = writeln!(nets, "      - address: {}", s.cidr);
    }
    let egress: Vec<_> = segs.iter().filter(|s| s.internet).collect();
    if !egress.is_empty() {
        let _ = writeln!(nets, "  EGRESS:\n    values:");
        for s in &egress {
            let _ = writeln!(nets, "      - address: {}", s.cidr);
        }
    }
    let mut services = String::from("services:\n");
    let mut policy = String::from(
        "filters:\n  - header:\n      targets:\n        nftables: inet forward\n    terms:\n",
    );
    for (i, r) in lab.rules().iter().enumerate() {
        let from = match &r.from {
            Selector::Names(ns) if ns.len() == 1 => net_name(ns[0].as_str()),
            _ => continue,
        };
        let Selector::Names(to) = &r.to else { continue };
        let group = format!("R{i}_DST");
        let _ = writeln!(nets, "  {group}:\n    values:");
        for n in to {
            if let Some(s) = lab.segment(n.as_str()) {
                let _ = writeln!(nets, "      - address: {}", s.cidr);
            }
        }
        let _ = write!(
            policy,
            "      - name: r{i}\n        source-address: {from}\n        destination-address: {group}\n"
        );
        if r.proto != Proto::Any {
            let _ = writeln!(policy, "        protocol: {}", r.proto);
        }
        if !r.ports.is_empty() {
            let svc = format!("R{i}_PORTS");
            let _ = writeln!(services, "  {svc}:");
            for p in &r.ports {
                let _ = writeln!(services, "    - port: {p}\n      protocol: {}", r.proto);
            }
            let _ = writeln!(policy, "        destination-port: {svc}");
        }
        let _ = writeln!(policy, "        action: accept");
    }
    if !egress.is_empty() {
        let uplink = lab.info().uplink.as_ref().map_or("eno1", |u| u.as_str());
        let _ = write!(
            policy,
            "      - name: internet-egress\n        source-address: EGRESS\n        destination-address-exclude: LAB\n        destination-interface: {uplink}\n        action: accept\n"
        );
    }
    if services == "services:\n" {
        services.push_str("  UNUSED:\n    - port: 1\n      protocol: tcp\n");
    }
    (nets, services, policy)
}

fn net_name(segment: &str) -> String {
    format!("SEG_{}", segment.to_uppercase().replace('-', "_"))
}

/// A lab of `n` segments that contains the reference lab unchanged (its
/// segments, addresses and rules) plus `n - 5` synthetic segments at
/// 10.16.0.0/24 upward, each allowed to about 30% of the others: the forwarding
/// benchmark sends the same reference-lab pair through both rulesets.
#[must_use]
pub fn containing_reference(n: usize) -> labnet::Lab {
    use labnet::testkit::SplitMix;
    use labnet::{AllowRule, Ipv4Cidr, PortRange, Segment, SegmentName, Selector};
    let reference = labnet::reference::lab();
    let mut b = labnet::Lab::builder(reference.info().clone());
    for s in reference.segments() {
        b = b.segment(s.clone());
    }
    for r in reference.rules() {
        b = b.allow(r.clone());
    }
    let extra = n.saturating_sub(reference.segments().len());
    let names: Vec<SegmentName> = (0..extra)
        .filter_map(|i| SegmentName::new(format!("x{i}")).ok())
        .collect();
    let mut rng = SplitMix::new(0x1ab_f0d);
    for (i, name) in names.iter().enumerate() {
        let i = u32::try_from(i).unwrap_or(0);
        let net = Ipv4Cidr::truncating(
            std::net::Ipv4Addr::new(10, 16 + (i / 256) as u8, (i % 256) as u8, 0),
            24,
        );
        // SSH port ranges sized to fit every segment below 65535 (ten ports
        // each up to about 5000 segments, fewer beyond), after the reference
        // lab's own (2201-2250).
        let width = u16::try_from((55_000 / extra.max(1)).clamp(1, 10)).unwrap_or(1);
        let port = 10_000 + u16::try_from(i).unwrap_or(0).saturating_mul(width);
        if let Ok(ssh) = PortRange::new(port, port + width - 1) {
            b = b.segment(Segment::new(name.clone(), net, ssh));
        }
    }
    for a in &names {
        let to: Vec<SegmentName> = names
            .iter()
            .filter(|d| *d != a && rng.chance(0.3))
            .cloned()
            .collect();
        if !to.is_empty() {
            b = b.allow(AllowRule::new(
                Selector::one(a.clone()),
                Selector::Names(to),
            ));
        }
    }
    match b.build() {
        Ok(lab) => lab,
        #[allow(clippy::panic)]
        Err(e) => panic!(
            "the {n}-segment lab containing the reference lab is invalid:\n{}",
            e.render(&labnet::diag::Style::plain())
        ),
    }
}
