//! labvirt against libvirt's test driver (`test:///PATH.xml`): libvirt's own
//! XML parser and object model, no daemon. Each test gets its own node file,
//! because `test:///default` is one shared state per process. The state
//! lives as long as the connection, so each test plans and applies on one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[cfg(not(feature = "libvirt"))]
#[test]
#[ignore = "labvirt's `libvirt` feature is not enabled in this build (scripts/test turns it on)"]
fn test_driver_tests_need_the_libvirt_feature() {
    panic!("built without the `libvirt` feature: the test-driver tests did not run");
}

#[cfg(feature = "libvirt")]
mod driver {
    use labvirt::host::Libvirt;
    use labvirt::plan::Change;

    /// A node file: 6 cores, 32 GiB, the reference lab's two pool directories,
    /// and `extra` (foreign networks or domains).
    fn node(extra: &str) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let pool = |name: &str, uuid: &str, path: &str| {
            format!(
                "<pool type='dir'><name>{name}</name><uuid>{uuid}</uuid><capacity>10995116277760</capacity>\
                 <allocation>0</allocation><available>10995116277760</available><target><path>{path}</path></target></pool>"
            )
        };
        let xml = format!(
            "<node><cpu><nodes>1</nodes><sockets>1</sockets><cores>6</cores><threads>2</threads><active>12</active>\
             <mhz>3000</mhz><model>i686</model></cpu><memory>33554432</memory>{}{}{extra}</node>",
            pool(
                "images",
                "35bb2ad9-388a-cdfe-461a-b8907f6e53fe",
                "/var/lib/libvirt/images"
            ),
            pool(
                "data",
                "35bb2ad9-388a-cdfe-461a-b8907f6e53ff",
                "/data/kvm/images"
            ),
        );
        let path = dir.path().join("node.xml");
        std::fs::write(&path, xml).unwrap();
        let uri = format!("test://{}", path.display());
        (dir, uri)
    }

    fn reference(uri: &str, edit: impl Fn(String) -> String) -> labvirt::VirtLab {
        let text = labvirt::reference::TOML
            .replace("uri = \"qemu:///system\"", &format!("uri = \"{uri}\""));
        labvirt::parse("reference.toml", &edit(text)).unwrap()
    }

    #[test]
    fn libvirt_accepts_every_definition_and_a_second_apply_changes_nothing() {
        let (_dir, uri) = node("");
        let lab = reference(&uri, |t| t);
        let host = Libvirt::open(&uri).unwrap();
        let planned = host.plan(&lab).unwrap();
        assert_eq!(planned.choice.domain_type, labvirt::DomainType::Test);
        // The pools with the lab's directories are found and used, not redefined.
        assert!(
            planned.plan.pools.iter().all(|p| p.change == Change::Keep),
            "{:?}",
            planned.plan.pools
        );
        let report = host.apply(&planned, &mut |_| {}).unwrap();
        assert!(
            report.notes.iter().any(|n| n.contains("cannot upload")),
            "the test driver has no volume upload: {:?}",
            report.notes
        );

        let o = host.observe().unwrap();
        for seg in ["management", "public", "private", "database", "container"] {
            let n = o.network(seg).unwrap();
            assert!(n.active && n.autostart, "{seg}");
            assert_eq!(n.owner.as_deref(), Some("aws-sim"));
        }
        for vm in ["bastion", "web1", "app1", "db1"] {
            let d = o.domain(vm).unwrap();
            assert!(d.active && d.autostart, "{vm}");
            assert!(d.fingerprint.is_some());
        }
        assert!(
            o.pools
                .iter()
                .any(|p| p.name == "data" && p.volumes.contains(&"db1.qcow2".to_owned()))
        );

        let again = host.plan(&lab).unwrap();
        assert!(again.plan.is_noop(), "{:#?}", again.plan);
        assert!(host.apply(&again, &mut |_| {}).unwrap().is_empty());
    }

    #[test]
    fn drift_and_lab_changes_are_planned_and_applied_then_nothing_is_left() {
        let (_dir, uri) = node("");
        let host = Libvirt::open(&uri).unwrap();
        let lab = reference(&uri, |t| t);
        host.apply(&host.plan(&lab).unwrap(), &mut |_| {}).unwrap();

        // web1 grows, a new VM joins Private, db1 leaves.
        let changed = reference(&uri, |t| {
            let t = t.replace(
                "name = \"web1\"\nsegment = \"public\"\nvcpus = 2",
                "name = \"web1\"\nsegment = \"public\"\nvcpus = 1",
            );
            let at = t.find("[[vm]]\nname = \"db1\"").unwrap();
            format!(
                "{}[[vm]]\nname = \"app2\"\nsegment = \"private\"\nvcpus = 1\nmemory_mib = 1024\ndisk_gib = 10\npool = \"fast\"\nip = \"10.0.2.11\"\nssh_port = 2232\n",
                &t[..at]
            )
        });
        let planned = host.plan(&changed).unwrap();
        let p = &planned.plan;
        let step = |n: &str| p.domains.iter().find(|d| d.name == n).unwrap();
        assert!(
            matches!(&step("web1").change, Change::Update { live: false, what } if what[0] == "vCPUs 2 → 1")
        );
        assert_eq!(step("app2").change, Change::Create);
        assert_eq!(step("db1").change, Change::Remove);
        let private = p.networks.iter().find(|n| n.name == "private").unwrap();
        assert!(
            matches!(private.change, Change::Update { live: true, .. }),
            "{private:?}"
        );
        assert_eq!(private.edits.add_dhcp.len(), 1);
        assert_eq!(private.edits.add_dns.len(), 1);
        // Every network drops db1's DNS record and gains app2's.
        let database = p.networks.iter().find(|n| n.name == "database").unwrap();
        assert_eq!(database.edits.del_dhcp.len(), 1);
        assert_eq!(
            (database.edits.add_dns.len(), database.edits.del_dns.len()),
            (1, 1)
        );

        let report = host.apply(&planned, &mut |_| {}).unwrap();
        assert!(
            report.done.iter().any(|s| s == "remove VM db1"),
            "{:?}",
            report.done
        );
        let after = host.plan(&changed).unwrap();
        assert!(after.plan.is_noop(), "{:#?}", after.plan);
        // What libvirt holds now is what the lab says, read back from libvirt's XML.
        let o = host.observe().unwrap();
        assert!(o.domain("db1").is_none());
        assert_eq!(o.domain("web1").unwrap().vcpus, 1);
        let db = o.network("database").unwrap();
        assert!(db.spec.dhcp_hosts.is_empty());
        assert!(db.spec.dns_hosts.iter().any(|h| h.name == "app2"));
    }

    #[test]
    fn foreign_objects_refuse_the_plan_and_nothing_is_changed() {
        let (_dir, uri) = node(
            "<network><name>default</name><uuid>c1f0c0c4-5d1f-4d33-9d1c-000000000001</uuid><bridge name='virbr0'/>\
             <ip address='10.0.1.1' netmask='255.255.255.0'/></network>\
             <domain type='test'><name>legacy</name><memory>4194304</memory><vcpu>4</vcpu><os><type>hvm</type></os></domain>",
        );
        let host = Libvirt::open(&uri).unwrap();
        let lab = reference(&uri, |t| t);
        let planned = host.plan(&lab).unwrap();
        assert_eq!(
            planned.plan.conflicts.len(),
            1,
            "{:?}",
            planned.plan.conflicts
        );
        assert_eq!(planned.plan.conflicts[0].reason, "the subnets overlap");
        // legacy's 4 vCPUs and the lab's 7 exceed the 8 the pool may hold.
        assert_eq!(planned.plan.budget.overruns[0].other, 4);
        let before = host.observe().unwrap();
        let err = host.apply(&planned, &mut |_| {}).unwrap_err();
        assert!(
            matches!(
                err,
                labvirt::host::HostError::Refused {
                    conflicts: 1,
                    fits: false
                }
            ),
            "{err}"
        );
        assert_eq!(host.observe().unwrap(), before, "nothing was defined");
    }

    #[test]
    fn destroy_removes_only_what_labvirt_made_for_this_lab() {
        let (_dir, uri) = node(
            "<network><name>keepme</name><uuid>c1f0c0c4-5d1f-4d33-9d1c-000000000002</uuid><bridge name='virbr7'/>\
             <ip address='192.168.77.1' netmask='255.255.255.0'/></network>",
        );
        let host = Libvirt::open(&uri).unwrap();
        let lab = reference(&uri, |t| t);
        host.apply(&host.plan(&lab).unwrap(), &mut |_| {}).unwrap();
        let report = host.destroy(&lab, &mut |_| {}).unwrap();
        assert_eq!(report.done.len(), 9, "{:?}", report.done);
        let o = host.observe().unwrap();
        assert_eq!(
            o.networks
                .iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>(),
            ["keepme"]
        );
        assert!(o.domains.is_empty());
        // The volumes went with their VMs.
        assert!(
            o.pools.iter().all(|p| p.volumes.is_empty()),
            "{:?}",
            o.pools
        );
    }

    #[test]
    fn destroy_refuses_while_a_foreign_vm_is_on_a_lab_network() {
        let (_dir, uri) = node(
            "<domain type='test'><name>user</name><memory>1048576</memory><vcpu>1</vcpu><os><type>hvm</type></os>\
             <devices><interface type='network'><source network='management'/></interface></devices></domain>",
        );
        let host = Libvirt::open(&uri).unwrap();
        let lab = reference(&uri, |t| t);
        host.apply(&host.plan(&lab).unwrap(), &mut |_| {}).unwrap();
        let before = host.observe().unwrap();
        let err = host.destroy(&lab, &mut |_| {}).unwrap_err();
        match &err {
            labvirt::host::HostError::InUse { network, vms } => {
                assert_eq!(
                    (network.as_str(), vms.as_slice()),
                    ("management", ["user".to_owned()].as_slice())
                );
            }
            other => panic!("{other}"),
        }
        assert_eq!(host.observe().unwrap(), before, "nothing was removed");
    }

    #[test]
    fn migrate_default_moves_nothing_before_the_lab_networks_run() {
        let (_dir, uri) = node(
            "<network><name>default</name><uuid>c1f0c0c4-5d1f-4d33-9d1c-000000000003</uuid><bridge name='virbr0'/>\
             <ip address='192.168.122.1' netmask='255.255.255.0'/></network>\
             <domain type='test'><name>db1</name><memory>1048576</memory><vcpu>1</vcpu><os><type>hvm</type></os>\
             <devices><interface type='network'><mac address='52:54:00:2f:22:79'/><source network='default'/></interface></devices></domain>",
        );
        let host = Libvirt::open(&uri).unwrap();
        let lab = reference(&uri, |t| t);
        let before = host.observe().unwrap();
        let err = host.migrate_default(&lab, &mut |_| {}).unwrap_err();
        assert!(
            matches!(&err, labvirt::host::HostError::NotRunning { network, vm } if network == "database" && vm == "db1"),
            "{err}"
        );
        assert_eq!(host.observe().unwrap(), before);
    }

    #[test]
    fn status_reports_networks_and_vms() {
        let (_dir, uri) = node("");
        let host = Libvirt::open(&uri).unwrap();
        let lab = reference(&uri, |t| t);
        let st = host.status(&lab).unwrap();
        assert!(st.networks.iter().all(|n| !n.defined));
        assert!(st.vms.iter().all(|v| v.state == "undefined"));
        host.apply(&host.plan(&lab).unwrap(), &mut |_| {}).unwrap();
        let st = host.status(&lab).unwrap();
        assert!(
            st.networks
                .iter()
                .all(|n| n.defined && n.active && n.bridge.is_some())
        );
        let db = st.vms.iter().find(|v| v.name == "db1").unwrap();
        assert_eq!(
            (db.state.as_str(), db.vcpus, db.memory_mib, db.ssh_port),
            ("running", 2, 3072, 2251)
        );
        assert_eq!(db.ip.as_deref(), Some("10.0.3.10"));
    }
}
