//! Running the audit on a host or an offline tree: which reading of sshd's
//! configuration to use, and the lab's port range for the host.

use std::path::Path;
use std::process::Command;

use crate::audit::{self, Report};
use crate::model::Security;
use crate::sshd::{Config, Tree};

/// What stops an audit before it starts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The segment named for the host is not in the lab.
    #[error("there is no segment {name} in the lab")]
    UnknownSegment {
        /// The name given.
        name: String,
        /// The lab's segments.
        known: Vec<String>,
    },
}

/// Where the audit reads.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Target<'a> {
    /// This machine: `sshd -T` for the effective configuration when sshd is
    /// installed and answers.
    Host,
    /// An offline tree (a mounted image, fixtures): labsec's own reader.
    Root(&'a Path),
}

/// Audit `target` against the lab's `policy`; `segment` is the host's
/// segment, whose `ssh_ports` its sshd must listen inside.
///
/// # Errors
/// When `segment` is not in the lab.
pub fn audit(
    target: Target<'_>,
    policy: &Security,
    lab: &labnet::LabFile,
    segment: Option<&str>,
) -> Result<Report, AuditError> {
    let port_range = match segment {
        None => None,
        Some(name) => {
            let seg = lab
                .lab()
                .segments()
                .iter()
                .find(|s| s.name.as_str() == name)
                .ok_or_else(|| AuditError::UnknownSegment {
                    name: name.to_owned(),
                    known: lab
                        .lab()
                        .segments()
                        .iter()
                        .map(|s| s.name.as_str().to_owned())
                        .collect(),
                })?;
            Some((name.to_owned(), seg.ssh_ports))
        }
    };
    let root = match target {
        Target::Host => Path::new("/"),
        Target::Root(r) => r,
    };
    let tree = Tree::new(root);
    let config = Config::read(&tree, "/etc/ssh/sshd_config");
    let (effective, source) = match target {
        Target::Root(_) => (config.effective(None), "labsec's reader".to_owned()),
        Target::Host => match Command::new("sshd").arg("-T").output() {
            Ok(o) if o.status.success() => (
                crate::sshd::from_dump(&String::from_utf8_lossy(&o.stdout)),
                "sshd -T".to_owned(),
            ),
            // Without its privilege-separation directory (sshd not running
            // yet) sshd -T refuses; it runs in a mount namespace with a
            // /run of its own then.
            Ok(o) => match crate::harden::sshd_dump(&tree, &[]) {
                Ok(dump) => (
                    crate::sshd::from_dump(&dump),
                    "sshd -T (in a mount namespace)".to_owned(),
                ),
                Err(_) => (
                    config.effective(None),
                    format!(
                        "labsec's reader; sshd -T failed: {}",
                        String::from_utf8_lossy(&o.stderr).trim()
                    ),
                ),
            },
            Err(e) => (
                config.effective(None),
                format!("labsec's reader; sshd -T could not run: {e}"),
            ),
        },
    };
    let input = audit::SshInput {
        effective,
        config: &config,
        tree: &tree,
        source,
        port_range,
    };
    let mut findings = audit::ssh(&input, policy);
    let live = matches!(target, Target::Host);
    findings.extend(crate::host::kernel(&tree, live));
    findings.extend(crate::host::host(&tree, live));
    let ports: Vec<u16> = input
        .effective
        .value("port")
        .split(' ')
        .filter_map(|p| p.parse().ok())
        .collect();
    let docker = tree.path("/usr/sbin/dockerd").exists() || tree.path("/usr/bin/dockerd").exists();
    findings.extend(crate::host::fail2ban(&tree, policy, &ports, docker));
    Ok(Report::new(audit::CHECKS, findings))
}
