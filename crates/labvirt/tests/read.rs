//! labvirt's sections as the lab file gives them: values, defaults, and every
//! problem at once with file:line, field, value, hint and a note at the segment.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

const NET: &str = r#"[lab]
name = "t"
domain = "lab.local"
uplink = "eno1"

[[segment]]
name = "public"
cidr = "10.0.1.0/24"
dhcp = { start = "10.0.1.100", end = "10.0.1.200" }
ssh_ports = "2211-2230"

[[segment]]
name = "database"
cidr = "10.0.3.0/24"
ssh_ports = "2251-2260"
"#;

fn lab(rest: &str) -> Result<labvirt::VirtLab, labfile::Diagnostics> {
    labvirt::parse("lab.toml", &format!("{NET}{rest}"))
}

const HOST: &str = "[host]\nuri = \"test:///default\"\ncores = 4\nmemory_gib = 16\n[host.pools]\nfast = \"/srv/images\"\n";
const HOST_TOP: &str = "[host]\nuri = \"test:///default\"\ncores = 4\nmemory_gib = 16\n";
const POOLS: &str = "[host.pools]\nfast = \"/srv/images\"\n";

#[test]
fn the_reference_lab_reads_with_its_budget_and_vms() {
    let l = labvirt::reference::lab();
    assert_eq!(l.host.cores, 6);
    assert_eq!(l.host.threads, 12);
    assert!((l.host.cpu_overcommit - 2.0).abs() < 1e-9);
    assert_eq!(l.host.pools.len(), 2);
    let names: Vec<&str> = l.vms.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["bastion", "web1", "app1", "db1"]);
    assert_eq!(l.vm("db1").unwrap().pool, "bulk");
    assert_eq!(l.host.forward, labvirt::ForwardMode::Open);
    assert!(labvirt::budget::check(&l.host, &l.vms, Default::default()).fits());
}

#[test]
fn defaults_fill_what_the_file_leaves_out() {
    let l = lab(&format!("{HOST}[[vm]]\nname = \"a\"\nsegment = \"public\"\nvcpus = 1\nmemory_mib = 512\ndisk_gib = 5\nssh_port = 2211\n")).unwrap();
    let v = &l.vms[0];
    assert_eq!(v.pool, "fast", "the only pool");
    assert_eq!(v.ip, None, "a DHCP segment needs no address");
    assert!(v.autostart);
    assert_eq!(v.boot, labvirt::Boot::Disk);
    assert_eq!(v.mac, labvirt::MacAddr::derived("t", "a", 0));
    assert_eq!(l.host.threads, 4);
    assert_eq!(l.host.max_vms, u32::MAX);
}

#[test]
fn every_problem_is_reported_at_once_with_its_place_and_the_segment() {
    let text = format!(
        r#"{HOST_TOP}reserve_cores = 4
cpu_overcommit = 0
{POOLS}
[[vm]]
name = "Web"
segment = "pubic"
vcpus = 0
memory_mib = 512
disk_gib = 5
ssh_port = 2211

[[vm]]
name = "db"
segment = "database"
vcpus = 1
memory_mib = 512
disk_gib = 5
ip = "10.0.3.5"
ssh_port = 2300
pool = "fst"

[[vm]]
name = "db2"
segment = "database"
vcpus = 1
memory_mib = 512
disk_gib = 5
ip = "10.0.9.9"
mac = "01:00:5e:00:00:01"
ssh_port = 2252
kernel = "/boot/vmlinux"

[[vm]]
name = "db3"
segment = "database"
vcpus = 1
memory_mib = 512
disk_gib = 5
ip = "10.0.3.1"
ssh_port = 2252
colour = "red"
"#
    );
    let d = lab(&text).unwrap_err();
    let got: Vec<(String, u32)> = d
        .items()
        .iter()
        .map(|i| (i.field.clone(), i.location.map_or(0, |l| l.line)))
        .collect();
    let fields: Vec<&str> = got.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        [
            "host.reserve_cores",
            "host.cpu_overcommit",
            "vm[0].name",
            "vm[0].segment",
            "vm[0].vcpus",
            "vm[1].ssh_port",
            "vm[1].pool",
            "vm[2].ip",
            "vm[2].mac",
            "vm[2]",
            "vm[3].ip",
            "vm[3].ssh_port",
            "vm[3].colour",
        ],
        "{d}"
    );
    let by = |f: &str| d.items().iter().find(|i| i.field == f).unwrap();
    assert_eq!(
        by("vm[0].segment").hint.as_deref(),
        Some("did you mean `public`?")
    );
    assert_eq!(
        by("vm[1].pool").hint.as_deref(),
        Some("did you mean `fast`?")
    );
    let port = by("vm[1].ssh_port");
    assert_eq!(port.value.as_deref(), Some("2300"));
    assert!(port.message.contains("2251-2260"), "{}", port.message);
    assert_eq!(
        port.related[0].message,
        "segment `database` (10.0.3.0/24) is declared here"
    );
    assert_eq!(
        port.related[0].location.unwrap().line,
        12,
        "labnet's [[segment]] header"
    );
    assert!(
        by("vm[2].ip")
            .message
            .contains("outside segment `database`")
    );
    assert!(by("vm[3].ip").message.contains("gateway"));
    // Rendered, each names the file and line.
    let text = d.to_string();
    assert!(text.contains("lab.toml:"), "{text}");
}

#[test]
fn duplicates_are_reported_with_the_first_use() {
    let vm = |name: &str, ip: &str, mac: &str, port: u16| {
        format!(
            "[[vm]]\nname = \"{name}\"\nsegment = \"database\"\nvcpus = 1\nmemory_mib = 512\ndisk_gib = 5\nip = \"{ip}\"\nmac = \"{mac}\"\nssh_port = {port}\n"
        )
    };
    let text = format!(
        "{HOST}{}{}{}",
        vm("a", "10.0.3.5", "52:54:00:00:00:01", 2251),
        vm("b", "10.0.3.5", "52:54:00:00:00:01", 2251),
        vm("a", "10.0.3.6", "52:54:00:00:00:02", 2252)
    );
    let d = lab(&text).unwrap_err();
    let fields: Vec<&str> = d.items().iter().map(|i| i.field.as_str()).collect();
    assert_eq!(
        fields,
        ["vm[1].ip", "vm[1].mac", "vm[1].ssh_port", "vm[2].name"],
        "{d}"
    );
    for i in d.items() {
        assert_eq!(i.related[0].message, "first used here", "{}", i.field);
    }
}

#[test]
fn a_static_only_segment_needs_each_vm_to_have_an_address() {
    let d = lab(&format!("{HOST}[[vm]]\nname = \"db\"\nsegment = \"database\"\nvcpus = 1\nmemory_mib = 512\ndisk_gib = 5\nssh_port = 2251\n")).unwrap_err();
    let i = &d.items()[0];
    assert_eq!(i.field, "vm[0].ip");
    assert!(i.message.contains("static addresses only"));
    assert_eq!(i.related[0].location.unwrap().line, 12);
}

#[test]
fn a_missing_host_section_is_one_error() {
    let d = lab("[[vm]]\nname = \"a\"\n").unwrap_err();
    assert!(d.items().iter().any(|i| i.field == "host"), "{d}");
}

#[test]
fn unknown_sections_are_reported_once_with_a_guess() {
    let d = lab(&format!("{HOST}[dockr]\nx = 1\n")).unwrap_err();
    assert_eq!(d.items().len(), 1, "{d}");
    assert_eq!(d.items()[0].field, "dockr");
}

#[test]
fn derived_macs_step_around_written_ones() {
    let clash = labvirt::MacAddr::derived("t", "b", 0);
    let text = format!(
        "{HOST}[[vm]]\nname = \"a\"\nsegment = \"public\"\nvcpus = 1\nmemory_mib = 512\ndisk_gib = 5\nssh_port = 2211\nmac = \"{clash}\"\n[[vm]]\nname = \"b\"\nsegment = \"public\"\nvcpus = 1\nmemory_mib = 512\ndisk_gib = 5\nssh_port = 2212\n"
    );
    let l = lab(&text).unwrap();
    assert_eq!(l.vms[0].mac, clash);
    assert_eq!(l.vms[1].mac, labvirt::MacAddr::derived("t", "b", 1));
}
