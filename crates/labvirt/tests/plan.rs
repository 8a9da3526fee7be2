//! The planner against hosts built as data: what the generated XML reads back
//! as (the oracle: parsing labvirt's own XML must give "keep"), changes that
//! apply live or need a restart, foreign objects in the way, removals.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use labvirt::DomainType;
use labvirt::observe::{
    Observed, ObservedDomain, ObservedNetwork, ObservedPool, parse_domain, parse_network,
};
use labvirt::plan::{Change, plan};
use labvirt::spec::{Desired, desired};

fn want() -> (labvirt::VirtLab, Desired) {
    let lab = labvirt::reference::lab();
    let d = desired(&lab, DomainType::Qemu, &|_| None);
    (lab, d)
}

/// A host holding exactly `d`, read back from the XML labvirt writes.
fn host_of(d: &Desired) -> Observed {
    let mut o = Observed::default();
    for n in &d.networks {
        let (owner, uuid, spec) = parse_network(&labvirt::xml::network(n, &d.lab)).unwrap();
        o.networks.push(observed_net(&n.name, owner, uuid, spec));
    }
    for dom in &d.domains {
        let mut od = parse_domain(&labvirt::xml::domain(dom)).unwrap();
        od.active = true;
        od.autostart = true;
        o.domains.push(od);
    }
    for p in &d.pools {
        let vols = d
            .domains
            .iter()
            .filter(|x| x.disk.pool == p.name)
            .flat_map(|x| [x.disk.name.clone(), x.seed.name.clone()])
            .collect();
        o.pools.push(pool(&p.name, &p.path, vols));
    }
    o
}

fn observed_net(
    name: &str,
    owner: Option<String>,
    uuid: Option<String>,
    spec: labvirt::observe::ParsedNetwork,
) -> ObservedNetwork {
    let mut n = ObservedNetwork::new(name, spec);
    n.owner = owner;
    n.uuid = uuid;
    n.active = true;
    n.autostart = true;
    n
}

fn pool(name: &str, path: &str, volumes: Vec<String>) -> ObservedPool {
    let mut p = ObservedPool::new(name, Some(path.to_owned()));
    p.active = true;
    p.volumes = volumes;
    p
}

#[test]
fn an_empty_host_gets_everything_created() {
    let (lab, d) = want();
    let p = plan(&d, &lab.host, &Observed::default());
    assert_eq!(p.counts(), [2 + 5 + 4, 0, 0, 0]);
    assert!(p.is_applicable());
    assert!(!p.is_noop());
    assert!(p.domains.iter().all(|s| s.volumes.len() == 2));
}

#[test]
fn a_host_that_holds_what_labvirt_wrote_needs_nothing() {
    let (lab, d) = want();
    let p = plan(&d, &lab.host, &host_of(&d));
    assert!(p.is_noop(), "{p:#?}");
    assert_eq!(p.counts(), [0, 0, 11, 0]);
}

#[test]
fn a_new_reservation_is_a_live_edit_of_dhcp_and_dns_hosts() {
    let (lab, d) = want();
    let mut have = host_of(&d);
    // The host lacks db1's reservation and record.
    let db = have
        .networks
        .iter_mut()
        .find(|n| n.name == "database")
        .unwrap();
    db.spec.dhcp_hosts.clear();
    db.spec.dns_hosts.retain(|h| h.name != "db1");
    let p = plan(&d, &lab.host, &have);
    let step = p.networks.iter().find(|n| n.name == "database").unwrap();
    assert!(
        matches!(&step.change, Change::Update { live: true, .. }),
        "{step:?}"
    );
    assert_eq!(step.edits.add_dhcp.len(), 1);
    assert_eq!(step.edits.add_dns.len(), 1);
    assert_eq!(step.edits.add_dhcp[0].ip.to_string(), "10.0.3.10");
    assert!(step.edits.del_dhcp.is_empty() && step.edits.del_dns.is_empty());
}

#[test]
fn a_new_bridge_or_range_needs_a_restart() {
    let (lab, d) = want();
    let mut have = host_of(&d);
    have.networks[1].spec.bridge = Some("virbr9".into());
    have.networks[2].spec.dhcp_range = None;
    let p = plan(&d, &lab.host, &have);
    for i in [1, 2] {
        assert!(
            matches!(&p.networks[i].change, Change::Update { live: false, .. }),
            "{:?}",
            p.networks[i]
        );
    }
}

#[test]
fn a_stopped_network_is_started_and_a_stopped_vm_too() {
    let (lab, d) = want();
    let mut have = host_of(&d);
    have.networks[0].active = false;
    have.domains[0].active = false;
    let p = plan(&d, &lab.host, &have);
    assert!(p.networks[0].start && p.networks[0].change == Change::Keep);
    assert!(p.domains[0].start && p.domains[0].change == Change::Keep);
    assert!(!p.is_noop());
}

#[test]
fn vm_changes_say_whether_they_apply_live() {
    let (lab, d) = want();
    let mut have = host_of(&d);
    have.domains[0].vcpus = 4;
    have.domains[1].nics[0].network = Some("default".into());
    let p = plan(&d, &lab.host, &have);
    assert!(
        matches!(&p.domains[0].change, Change::Update { live: false, what } if what[0].starts_with("vCPUs 4"))
    );
    assert!(
        matches!(&p.domains[1].change, Change::Update { live: true, what } if what[0].contains("default → public"))
    );
}

#[test]
fn a_changed_seed_or_boot_is_seen_through_the_fingerprint() {
    let (lab, d) = want();
    let have = host_of(&d);
    let mut lab2 = lab;
    lab2.host
        .authorized_keys
        .push("ssh-ed25519 AAAAC3Nza test@lab".into());
    let d2 = desired(&lab2, DomainType::Qemu, &|_| None);
    let p = plan(&d2, &lab2.host, &have);
    assert!(p.domains.iter().all(|s| matches!(&s.change, Change::Update { live: false, what } if what[0].starts_with("definition"))));
}

#[test]
fn foreign_objects_in_the_way_are_conflicts_before_anything_is_done() {
    let (lab, d) = want();
    let mut have = Observed::default();
    let (_, _, mut spec) = parse_network("<network><name>default</name><bridge name='virbr0'/><ip address='10.0.1.1' netmask='255.255.255.0'/></network>").unwrap();
    have.networks
        .push(observed_net("default", None, None, spec.clone()));
    spec.bridge = Some("lk-private".into());
    spec.ip = Some(("192.168.7.1".parse().unwrap(), 24));
    have.networks.push(observed_net("other", None, None, spec));
    let (_, _, spec) = parse_network("<network><name>management</name></network>").unwrap();
    have.networks
        .push(observed_net("management", None, None, spec));
    let mut bastion = parse_domain(
        "<domain><name>bastion</name><vcpu>1</vcpu><memory unit='KiB'>1048576</memory></domain>",
    )
    .unwrap();
    bastion.active = true;
    have.domains.push(bastion);
    let p = plan(&d, &lab.host, &have);
    let reasons: Vec<&str> = p.conflicts.iter().map(|c| c.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "a network of this name exists and labvirt does not own it",
            "the subnets overlap",
            "bridge lk-private is already network other's",
            "a domain of this name exists and labvirt does not own it",
        ],
        "{:#?}",
        p.conflicts
    );
    assert!(!p.is_applicable());
    // The foreign domain counts against the budget.
    assert_eq!(p.budget.used.vms, 5);
}

#[test]
fn what_labvirt_owns_and_the_lab_dropped_is_removed_unless_a_vm_still_uses_it() {
    let (lab, d) = want();
    let mut have = host_of(&d);
    let (_, _, spec) = parse_network("<network><name>old</name><bridge name='lk-old'/><ip address='10.9.0.1' netmask='255.255.255.0'/></network>").unwrap();
    let mut old = observed_net("old", Some("aws-sim".into()), None, spec);
    old.active = true;
    have.networks.push(old);
    let p = plan(&d, &lab.host, &have);
    assert_eq!(p.networks.last().unwrap().change, Change::Remove);
    assert!(p.is_applicable());
    // A foreign domain on it blocks the removal.
    let mut user = parse_domain("<domain><name>user</name><vcpu>1</vcpu><memory>1024</memory><devices><interface type='network'><source network='old'/></interface></devices></domain>").unwrap();
    user.active = true;
    have.domains.push(user);
    let p = plan(&d, &lab.host, &have);
    assert_eq!(p.conflicts.len(), 1, "{:?}", p.conflicts);
    assert_eq!(p.conflicts[0].existing, "user");
}

#[test]
fn existing_pools_with_the_lab_directory_are_used_not_redefined() {
    let lab = labvirt::reference::lab();
    let d = desired(&lab, DomainType::Qemu, &|k| {
        (k == "fast").then(|| "default".to_owned())
    });
    assert_eq!(
        d.pools.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["aws-sim-bulk", "default"]
    );
    assert!(d.domains[0].disk.pool == "default");
    let mut have = Observed::default();
    have.pools
        .push(pool("default", "/var/lib/libvirt/images", vec![]));
    let p = plan(&d, &lab.host, &have);
    assert_eq!(
        p.pools.iter().map(|s| s.change.word()).collect::<Vec<_>>(),
        ["create", "keep"]
    );
}

#[test]
fn a_budget_overrun_refuses_the_plan() {
    let (mut lab, _) = want();
    lab.host.cores = 3;
    let d = desired(&lab, DomainType::Qemu, &|_| None);
    let p = plan(&d, &lab.host, &Observed::default());
    assert!(!p.is_applicable());
    assert_eq!(
        p.budget.overruns[0].resource,
        labvirt::budget::Resource::Vcpus
    );
    assert_eq!(p.budget.overruns[0].excess(), 7 - 2);
    let _: &ObservedDomain = &parse_domain("<domain><name>x</name></domain>").unwrap();
}

#[test]
fn host_interfaces_in_the_way_are_conflicts_too() {
    use labvirt::observe::{HostLink, parse_ip_addr_json};
    let (lab, d) = want();
    let mut have = Observed::default();
    have.links = parse_ip_addr_json(
        r#"[{"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8}]},
            {"ifname":"lk-public","addr_info":[]},
            {"ifname":"eth1","addr_info":[{"family":"inet6","local":"fd00::1","prefixlen":64},{"family":"inet","local":"10.0.3.77","prefixlen":16}]}]"#,
    );
    assert_eq!(
        have.links[2],
        HostLink::new("eth1", vec![("10.0.3.77".parse().unwrap(), 16)])
    );
    let p = plan(&d, &lab.host, &have);
    let got: Vec<(&str, &str)> = p
        .conflicts
        .iter()
        .map(|c| (c.wanted.as_str(), c.existing.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "network management (10.0.0.1/24)",
                "interface eth1 (10.0.3.77/16)"
            ),
            ("network public (bridge lk-public)", "interface lk-public"),
            (
                "network public (10.0.1.1/24)",
                "interface eth1 (10.0.3.77/16)"
            ),
            (
                "network private (10.0.2.1/24)",
                "interface eth1 (10.0.3.77/16)"
            ),
            (
                "network database (10.0.3.1/24)",
                "interface eth1 (10.0.3.77/16)"
            ),
            (
                "network container (10.0.4.1/24)",
                "interface eth1 (10.0.3.77/16)"
            ),
        ]
    );
    // Once labvirt's own networks hold those bridges, they are not in the way.
    let mut ours = host_of(&d);
    ours.links = vec![HostLink::new(
        "lk-public",
        vec![("10.0.1.1".parse().unwrap(), 24)],
    )];
    assert!(plan(&d, &lab.host, &ours).conflicts.is_empty());
}
