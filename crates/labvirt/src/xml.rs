//! libvirt XML for networks, domains, pools and volumes, written from the
//! desired state. Pure text: nothing here needs libvirt.

use std::fmt::Write as _;

use crate::model::{Boot, DomainType};
use crate::spec::{DomainSpec, NetworkSpec, PoolSpec, VolumeSpec};

/// The XML namespace of labvirt's metadata element.
pub const NAMESPACE: &str = "https://labkit.invalid/xmlns/labvirt/1";

/// Escape text for an XML attribute or element.
#[must_use]
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// The metadata element that marks an object as labvirt's, for lab `lab`.
#[must_use]
pub fn owner_element(lab: &str, extra: &[(&str, String)]) -> String {
    let mut s = format!(
        "<labkit:owner xmlns:labkit=\"{NAMESPACE}\" lab=\"{}\"",
        escape(lab)
    );
    for (k, v) in extra {
        let _ = write!(s, " {k}=\"{}\"", escape(v));
    }
    s.push_str("/>");
    s
}

/// A `<host>` element of a network's DHCP section (also virNetworkUpdate's argument).
#[must_use]
pub fn dhcp_host(h: &crate::spec::DhcpHost) -> String {
    format!(
        "<host mac='{}' name='{}' ip='{}'/>",
        h.mac,
        escape(&h.name),
        h.ip
    )
}

/// A `<host>` element of a network's DNS section (also virNetworkUpdate's argument).
#[must_use]
pub fn dns_host(h: &crate::spec::DnsHost) -> String {
    format!(
        "<host ip='{}'><hostname>{}</hostname></host>",
        h.ip,
        escape(&h.name)
    )
}

/// A segment's network.
#[must_use]
pub fn network(n: &NetworkSpec, lab: &str) -> String {
    let mut x = String::new();
    x.push_str("<network xmlns:dnsmasq='http://libvirt.org/schemas/network/dnsmasq/1.0'>\n");
    let _ = writeln!(x, "  <name>{}</name>", escape(&n.name));
    let _ = writeln!(
        x,
        "  <metadata>\n    {}\n  </metadata>",
        owner_element(lab, &[])
    );
    let _ = writeln!(x, "  <forward mode='{}'/>", n.forward.as_str());
    let _ = writeln!(
        x,
        "  <bridge name='{}' stp='on' delay='0'/>",
        escape(&n.bridge)
    );
    let _ = writeln!(
        x,
        "  <domain name='{}' localOnly='yes'/>",
        escape(&n.domain)
    );
    if n.dns_hosts.is_empty() {
        x.push_str("  <dns/>\n");
    } else {
        x.push_str("  <dns>\n");
        for h in &n.dns_hosts {
            let _ = writeln!(x, "    {}", dns_host(h));
        }
        x.push_str("  </dns>\n");
    }
    let _ = write!(
        x,
        "  <ip address='{}' netmask='{}'>",
        n.gateway,
        n.netmask()
    );
    if n.dhcp_range.is_some() || !n.dhcp_hosts.is_empty() {
        x.push_str("\n    <dhcp>\n");
        if let Some((a, b)) = n.dhcp_range {
            let _ = writeln!(x, "      <range start='{a}' end='{b}'/>");
        }
        for h in &n.dhcp_hosts {
            let _ = writeln!(x, "      {}", dhcp_host(h));
        }
        x.push_str("    </dhcp>\n  ");
    }
    x.push_str("</ip>\n");
    // dnsmasq pings an address before offering it, about 3 s per lease; the
    // addresses of a lab network are labvirt's to hand out, so skip it.
    x.push_str(
        "  <dnsmasq:options>\n    <dnsmasq:option value='no-ping'/>\n  </dnsmasq:options>\n",
    );
    x.push_str("</network>\n");
    x
}

/// A directory storage pool.
#[must_use]
pub fn pool(p: &PoolSpec) -> String {
    format!(
        "<pool type='dir'>\n  <name>{}</name>\n  <target>\n    <path>{}</path>\n  </target>\n</pool>\n",
        escape(&p.name),
        escape(&p.path)
    )
}

/// A volume.
#[must_use]
pub fn volume(v: &VolumeSpec) -> String {
    let mut x = format!(
        "<volume>\n  <name>{}</name>\n  <capacity unit='bytes'>{}</capacity>\n  <allocation unit='bytes'>0</allocation>\n  <target>\n    <format type='{}'/>\n  </target>\n",
        escape(&v.name),
        v.capacity,
        v.format
    );
    if let Some(b) = &v.backing {
        let _ = write!(
            x,
            "  <backingStore>\n    <path>{}</path>\n    <format type='qcow2'/>\n  </backingStore>\n",
            escape(b)
        );
    }
    x.push_str("</volume>\n");
    x
}

/// A NIC on `network` with `mac` (also the argument of device updates).
#[must_use]
pub fn interface(network: &str, mac: &str) -> String {
    format!(
        "<interface type='network'>\n  <mac address='{}'/>\n  <source network='{}'/>\n  <model type='virtio'/>\n</interface>\n",
        escape(mac),
        escape(network)
    )
}

/// A VM's domain, with labvirt's metadata (owner, segment, SSH port, fingerprint).
#[must_use]
pub fn domain(d: &DomainSpec) -> String {
    let vm = &d.vm;
    let body = domain_body(d);
    format!(
        "<domain type='{}'>\n  <name>{}</name>\n  <metadata>\n    {}\n  </metadata>\n{body}</domain>\n",
        d.domain_type.as_str(),
        escape(vm.name.as_str()),
        owner_element(
            &d.lab,
            &[
                ("segment", vm.segment.clone()),
                ("ssh_port", vm.ssh_port.to_string()),
                ("fingerprint", fingerprint(d)),
            ]
        )
    )
}

/// The domain's definition without its first lines and metadata: what the fingerprint covers.
#[must_use]
pub(crate) fn domain_body(d: &DomainSpec) -> String {
    let vm = &d.vm;
    let mut x = String::new();
    let _ = writeln!(x, "  <memory unit='MiB'>{}</memory>", vm.memory_mib);
    let _ = writeln!(x, "  <vcpu>{}</vcpu>", vm.vcpus);
    if d.domain_type == DomainType::Test {
        x.push_str("  <os>\n    <type>hvm</type>\n");
    } else {
        x.push_str("  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n");
    }
    match &vm.boot {
        Boot::Kernel {
            kernel,
            initrd,
            cmdline,
        } => {
            let _ = writeln!(x, "    <kernel>{}</kernel>", escape(kernel));
            let _ = writeln!(x, "    <initrd>{}</initrd>", escape(initrd));
            let _ = writeln!(x, "    <cmdline>{}</cmdline>", escape(cmdline));
        }
        Boot::Disk => x.push_str("    <boot dev='hd'/>\n"),
    }
    x.push_str("  </os>\n");
    // Without ACPI libvirt passes -no-acpi, and a guest's poweroff cannot end the VM.
    x.push_str("  <features>\n    <acpi/>\n    <apic/>\n  </features>\n");
    if d.domain_type == DomainType::Kvm {
        x.push_str("  <cpu mode='host-passthrough'/>\n");
    }
    x.push_str("  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>restart</on_reboot>\n  <on_crash>destroy</on_crash>\n");
    x.push_str("  <devices>\n");
    let _ = writeln!(
        x,
        "    <disk type='volume' device='disk'>\n      <driver name='qemu' type='qcow2'/>\n      <source pool='{}' volume='{}'/>\n      <target dev='vda' bus='virtio'/>\n    </disk>",
        escape(&d.disk.pool),
        escape(&d.disk.name)
    );
    let _ = writeln!(
        x,
        "    <disk type='volume' device='cdrom'>\n      <driver name='qemu' type='raw'/>\n      <source pool='{}' volume='{}'/>\n      <target dev='sda' bus='sata'/>\n      <readonly/>\n    </disk>",
        escape(&d.seed.pool),
        escape(&d.seed.name)
    );
    for line in interface(&d.network, &vm.mac.to_string()).lines() {
        let _ = writeln!(x, "    {line}");
    }
    match &vm.console_log {
        Some(path) => {
            let p = escape(path);
            let _ = writeln!(
                x,
                "    <serial type='file'>\n      <source path='{p}'/>\n      <target port='0'/>\n    </serial>\n    <console type='file'>\n      <source path='{p}'/>\n      <target type='serial' port='0'/>\n    </console>"
            );
        }
        None => x.push_str(
            "    <serial type='pty'>\n      <target port='0'/>\n    </serial>\n    <console type='pty'>\n      <target type='serial' port='0'/>\n    </console>\n",
        ),
    }
    x.push_str(
        "    <controller type='usb' model='none'/>\n    <memballoon model='none'/>\n  </devices>\n",
    );
    x
}

/// `xml` (a network or domain definition) with libvirt's UUID for the object
/// it redefines: libvirt refuses a redefinition by name alone.
#[must_use]
pub fn with_uuid(xml: &str, uuid: Option<&str>) -> String {
    let Some(u) = uuid else { return xml.to_owned() };
    match xml.find("</name>") {
        Some(i) => {
            let at = i + "</name>".len();
            format!("{}\n  <uuid>{}</uuid>{}", &xml[..at], escape(u), &xml[at..])
        }
        None => xml.to_owned(),
    }
}

/// FNV-1a, 64-bit, as 16 hex digits: the same in every build and on every host.
fn fnv(parts: &[&[u8]]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in part.iter().chain(&[0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// The fingerprint of a domain's definition and its seed, written into the
/// domain's metadata so that a later plan can tell whether what libvirt
/// cannot show (boot, disks, seed content) changed.
#[must_use]
pub fn fingerprint(d: &DomainSpec) -> String {
    let body = domain_body(d);
    fnv(&[
        d.domain_type.as_str().as_bytes(),
        d.vm.segment.as_bytes(),
        body.as_bytes(),
        d.seed_files.meta_data.as_bytes(),
        d.seed_files.user_data.as_bytes(),
        d.seed_files.network_config.as_bytes(),
        d.disk.backing.as_deref().unwrap_or("").as_bytes(),
        d.disk.capacity.to_string().as_bytes(),
    ])
}
