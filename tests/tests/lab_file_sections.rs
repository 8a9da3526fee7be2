//! One lab file for five crates: each reads only its own sections through
//! labfile, notes can point into another crate's section, an unknown section
//! is reported once, and every crate's diagnostics come out as one sorted list.
//!
//! labvirt and labbackup are the real crates. labdocker and labsec do not exist
//! yet; their readers here are stand-ins written against labfile's public
//! readers, reading the sections those crates' issues fix (docs/lab-file.md).
//! Replace them with the real crates as they land.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use labfile::{Document, Sink};

const LAB: &str = r#"
[lab]
name = "full"
domain = "lab.local"
uplink = "eno1"

[[segment]]
name = "management"
cidr = "10.0.0.0/24"
ssh_ports = "2201-2210"

[[segment]]
name = "database"
cidr = "10.0.3.0/24"
ssh_ports = "2251-2260"

[policy]
[[policy.allow]]
from = "management"
to = "*"

[host]
uri = "test:///default"
cores = 6
memory_gib = 32
[host.pools]
fast = "/var/lib/libvirt/images"

[[vm]]
name = "db1"
segment = "database"
vcpus = 1
memory_mib = 1024
disk_gib = 10
ip = "10.0.9.5"
ssh_port = 2251

[docker]
data_root = "/data/docker"

[dockr]
socket = "unix:///var/run/docker.sock"

[backup]
repository = "/mnt/backup/labkit"
password_file = "/etc/labkit/backup.pass"

[security]
auto_updates = "security"
"#;

/// labdocker, labsec: one section each.
fn one_section(doc: &Document, name: &str, key: &'static str, sink: &mut Sink) {
    if let Some(mut t) = doc.section(name).and_then(|s| s.table(sink)) {
        let _ = t.required_str(key, "required", sink);
        t.finish(sink);
    }
}

#[test]
fn five_crates_read_one_file_each_its_own_sections() {
    let doc = Document::parse("full.toml", LAB).unwrap();
    let mut sink = Sink::new();

    let net = labnet::labfile::read(&doc, &mut sink).expect("labnet's sections are valid");
    assert_eq!(
        doc.taken(),
        ["lab", "segment", "policy"],
        "labnet read only its own sections"
    );
    assert!(sink.is_empty(), "{:?}", sink.items());

    assert!(
        labvirt::read(&doc, net, &mut sink).is_none(),
        "db1's address is wrong"
    );
    assert_eq!(doc.taken()[3..], ["host", "vm"]);
    one_section(&doc, "docker", "data_root", &mut sink);
    assert!(labbackup::read(&doc, &mut sink).is_some());
    one_section(&doc, "security", "auto_updates", &mut sink);
    doc.finish(&mut sink);
    doc.finish(&mut sink);

    let all = sink.into_diagnostics(doc.source().clone());
    let fields: Vec<&str> = all.items().iter().map(|d| d.field.as_str()).collect();
    assert_eq!(
        fields,
        ["vm[0].ip", "dockr"],
        "one VM error, the unknown section once, in file order"
    );
    let vm = &all.items()[0];
    let note = &vm.related[0];
    assert_eq!(
        note.message,
        "segment `database` (10.0.3.0/24) is declared here"
    );
    assert_eq!(
        note.location.unwrap().line,
        12,
        "labnet's span, in the same file"
    );
    let unknown = &all.items()[1];
    assert_eq!(unknown.message, "unknown section `dockr`");
    assert_eq!(
        unknown.hint.as_deref(),
        Some("did you mean `docker`? (read by labdocker)")
    );
    let text = all.to_string();
    assert!(
        text.contains("full.toml:35:7: vm[0].ip")
            && text.contains("note: full.toml:12:1: segment `database`"),
        "{text}"
    );
}

#[test]
fn labnet_alone_accepts_the_other_crates_sections_and_still_catches_a_typo() {
    let err = labnet::labfile::parse("full.toml", LAB).unwrap_err();
    let fields: Vec<&str> = err.items().iter().map(|d| d.field.as_str()).collect();
    assert_eq!(fields, ["dockr"]);
    let ok = labnet::labfile::parse(
        "full.toml",
        &LAB.replace("[dockr]\nsocket = \"unix:///var/run/docker.sock\"\n", ""),
    );
    assert!(ok.is_ok(), "{:?}", ok.err().map(|e| e.to_string()));
}

/// labnet's own list of the sections it reads is the registry's, not a second
/// list that could drift from it.
#[test]
fn labnet_reads_exactly_the_sections_the_registry_gives_it() {
    let registry: Vec<&str> = labfile::sections::SECTIONS
        .iter()
        .filter(|s| s.owner == "labnet")
        .map(|s| s.name)
        .collect();
    assert_eq!(labnet::labfile::LABNET_SECTIONS, registry.as_slice());
}

/// labvirt's list is the registry's too.
#[test]
fn labvirt_reads_exactly_the_sections_the_registry_gives_it() {
    let registry: Vec<&str> = labfile::sections::SECTIONS
        .iter()
        .filter(|s| s.owner == "labvirt")
        .map(|s| s.name)
        .collect();
    assert_eq!(labvirt::LABVIRT_SECTIONS, registry.as_slice());
}

/// labbackup's list is the registry's too.
#[test]
fn labbackup_reads_exactly_the_sections_the_registry_gives_it() {
    let registry: Vec<&str> = labfile::sections::SECTIONS
        .iter()
        .filter(|s| s.owner == "labbackup")
        .map(|s| s.name)
        .collect();
    assert_eq!(labbackup::LABBACKUP_SECTIONS, registry.as_slice());
}
