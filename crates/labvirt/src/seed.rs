//! A VM's cloud-init NoCloud seed: meta-data, user-data and network-config,
//! packed into an ISO 9660 image labelled `cidata` that the VM sees as a CD-ROM.

use std::fmt::Write as _;

use serde::Serialize;

use crate::model::{VirtLab, Vm};

/// The three files of a seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Seed {
    /// `meta-data`: instance id and host name.
    pub meta_data: String,
    /// `user-data`: `#cloud-config` with the host name, keys and sshd's port.
    pub user_data: String,
    /// `network-config` (version 2): a static address in static-only segments, else DHCP.
    pub network_config: String,
}

/// A YAML scalar written as a JSON string, which YAML reads the same way:
/// safe for keys with spaces, colons or quotes.
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

/// The seed of `vm` in `lab`.
#[must_use]
pub fn seed(lab: &VirtLab, vm: &Vm) -> Seed {
    let name = vm.name.as_str();
    let domain = lab.domain();
    let meta_data = format!(
        "instance-id: {}\nlocal-hostname: {}\n",
        q(&format!("{}-{name}", lab.name())),
        q(name)
    );
    let mut user_data = String::from("#cloud-config\n");
    let _ = writeln!(user_data, "hostname: {}", q(name));
    let _ = writeln!(user_data, "fqdn: {}", q(&format!("{name}.{domain}")));
    user_data.push_str("ssh_pwauth: false\n");
    if lab.host.authorized_keys.is_empty() {
        user_data.push_str("ssh_authorized_keys: []\n");
    } else {
        user_data.push_str("ssh_authorized_keys:\n");
        for k in &lab.host.authorized_keys {
            let _ = writeln!(user_data, "  - {}", q(k));
        }
    }
    // sshd listens on the VM's own port from the segment's range, never 22.
    let _ = write!(
        user_data,
        "write_files:\n  - path: /etc/ssh/sshd_config.d/50-labkit.conf\n    permissions: \"0644\"\n    content: |\n      # Written by labvirt: sshd listens on this VM's port in its segment's range.\n      Port {}\n      PasswordAuthentication no\n",
        vm.ssh_port
    );
    user_data.push_str("runcmd:\n  - [systemctl, restart, ssh]\n");
    let seg = lab.net.lab().segment(&vm.segment);
    let mut network_config = String::from("version: 2\nethernets:\n  nic0:\n");
    let _ = writeln!(
        network_config,
        "    match:\n      macaddress: {}",
        q(&vm.mac.to_string())
    );
    match (seg, vm.ip) {
        (Some(s), Some(ip)) if s.dhcp.is_none() => {
            let _ = writeln!(
                network_config,
                "    addresses: [{}]",
                q(&format!("{ip}/{}", s.cidr.len()))
            );
            let _ = writeln!(
                network_config,
                "    routes:\n      - to: default\n        via: {}",
                q(&s.gateway.to_string())
            );
            let _ = writeln!(
                network_config,
                "    nameservers:\n      addresses: [{}]\n      search: [{}]",
                q(&s.gateway.to_string()),
                q(domain)
            );
        }
        _ => network_config.push_str("    dhcp4: true\n"),
    }
    Seed {
        meta_data,
        user_data,
        network_config,
    }
}

impl Seed {
    /// The ISO 9660 image cloud-init finds by its label, `cidata`.
    ///
    /// # Errors
    /// Only if the files could not be laid out (they always fit).
    pub fn iso(&self) -> Result<Vec<u8>, crate::iso::IsoError> {
        crate::iso::build(
            "cidata",
            &[
                ("meta-data", self.meta_data.as_bytes()),
                ("network-config", self.network_config.as_bytes()),
                ("user-data", self.user_data.as_bytes()),
            ],
        )
    }
}
