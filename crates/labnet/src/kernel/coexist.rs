//! Living beside Docker's firewall.
//!
//! Docker sets the iptables FORWARD policy to DROP. In nftables a packet must
//! be accepted by every base chain on a hook, so labnet's accepts alone do not
//! get lab traffic past Docker's chain. Docker leaves one chain to its users,
//! DOCKER-USER, consulted first in FORWARD; labnet puts an accept there for
//! every packet with an end in the lab, marked with a comment it owns.
//!
//! That opens nothing the lab file does not allow: a drop in any base chain is
//! final, and labnet's own table still sees every such packet and drops what
//! the lab file does not allow. DOCKER-USER only stops vetoing it.

use super::KernelError;
use super::netns::Netns;
use crate::cidr::Ipv4Cidr;

/// The comment that marks labnet's rules in other tools' chains.
pub const OWNER_COMMENT: &str = "labnet: lab traffic is judged by table ip labnet";
/// Docker's chain for user rules.
pub const DOCKER_USER: &str = "DOCKER-USER";

/// Other firewalls labnet can make room in.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Coexist {
    /// Docker's iptables rules (FORWARD policy DROP): accepts in DOCKER-USER.
    Docker,
}

fn iptables(ns: &Netns, args: &[String]) -> Result<String, KernelError> {
    super::tool::run(ns, "iptables", "iptables", args, None)
}

/// Whether Docker's DOCKER-USER chain exists in `ns`.
///
/// # Errors
/// `iptables` cannot run.
pub fn docker_user_exists(ns: &Netns) -> Result<bool, KernelError> {
    match iptables(ns, &["-w".into(), "-S".into(), DOCKER_USER.into()]) {
        Ok(_) => Ok(true),
        Err(KernelError::Tool { source: None, .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The `-S` lines of labnet's rules in DOCKER-USER.
///
/// # Errors
/// `iptables` cannot run.
pub fn owned_rules(ns: &Netns) -> Result<Vec<String>, KernelError> {
    if !docker_user_exists(ns)? {
        return Ok(Vec::new());
    }
    let out = iptables(ns, &["-w".into(), "-S".into(), DOCKER_USER.into()])?;
    Ok(out
        .lines()
        .filter(|l| l.starts_with("-A ") && l.contains(OWNER_COMMENT))
        .map(str::to_owned)
        .collect())
}

/// Put accepts for lab traffic at the top of DOCKER-USER, replacing labnet's earlier ones.
///
/// # Errors
/// DOCKER-USER does not exist (Docker's rules are not loaded), or `iptables` failed.
pub fn apply_docker(ns: &Netns, lab_nets: &[Ipv4Cidr]) -> Result<usize, KernelError> {
    if !docker_user_exists(ns)? {
        return Err(KernelError::Tool {
            tool: "iptables".into(),
            what: format!(
                "coexisting with Docker needs its {DOCKER_USER} chain, and namespace {} has none \
                 (Docker's iptables rules are not loaded)",
                ns.label()
            ),
            source: None,
        });
    }
    remove_docker(ns)?;
    let nets = merge(lab_nets);
    let mut n = 0;
    for dir in ["-d", "-s"] {
        for net in &nets {
            iptables(
                ns,
                &[
                    "-w".into(),
                    "-I".into(),
                    DOCKER_USER.into(),
                    "1".into(),
                    dir.into(),
                    net.to_string(),
                    "-m".into(),
                    "comment".into(),
                    "--comment".into(),
                    OWNER_COMMENT.into(),
                    "-j".into(),
                    "ACCEPT".into(),
                ],
            )?;
            n += 1;
        }
    }
    Ok(n)
}

/// Delete labnet's rules from DOCKER-USER (none is fine).
///
/// # Errors
/// `iptables` failed.
pub fn remove_docker(ns: &Netns) -> Result<usize, KernelError> {
    let rules = owned_rules(ns)?;
    for r in &rules {
        let mut args = vec!["-w".to_owned()];
        args.extend(shell_words(r.replacen("-A ", "-D ", 1).as_str()));
        iptables(ns, &args)?;
    }
    Ok(rules.len())
}

/// Make labnet's DOCKER-USER rules exactly `lines` again (`iptables -S` lines
/// saved before an apply): remove labnet's current ones, then put the saved
/// ones back at the top, in their order. Nothing to do without DOCKER-USER.
///
/// # Errors
/// `iptables` failed.
pub fn restore_docker(ns: &Netns, lines: &[String]) -> Result<(), KernelError> {
    if !docker_user_exists(ns)? {
        return Ok(());
    }
    remove_docker(ns)?;
    for line in lines.iter().rev() {
        let Some(rest) = line.strip_prefix(&format!("-A {DOCKER_USER} ")) else {
            continue;
        };
        let mut args = vec![
            "-w".to_owned(),
            "-I".to_owned(),
            DOCKER_USER.to_owned(),
            "1".to_owned(),
        ];
        args.extend(shell_words(rest));
        iptables(ns, &args)?;
    }
    Ok(())
}

/// Split an `iptables -S` line; its only quoting is double quotes around comments.
fn shell_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut has = false;
    for ch in s.chars() {
        match ch {
            '"' => {
                quoted = !quoted;
                has = true;
            }
            ' ' if !quoted => {
                if has {
                    out.push(std::mem::take(&mut cur));
                    has = false;
                }
            }
            c => {
                cur.push(c);
                has = true;
            }
        }
    }
    if has {
        out.push(cur);
    }
    out
}

/// Fewest networks covering exactly the same addresses (siblings merged), so
/// DOCKER-USER holds as few rules as the address plan allows.
#[must_use]
pub fn merge(nets: &[Ipv4Cidr]) -> Vec<Ipv4Cidr> {
    let mut v: Vec<Ipv4Cidr> = nets.to_vec();
    v.sort_unstable();
    v.dedup();
    loop {
        let mut changed = false;
        let mut out: Vec<Ipv4Cidr> = Vec::with_capacity(v.len());
        for c in v {
            if let Some(last) = out.last().copied() {
                if last.contains(c.addr()) && last.len() <= c.len() {
                    continue;
                }
                if last.len() == c.len() && !last.is_empty() {
                    let parent = Ipv4Cidr::truncating(last.addr(), last.len() - 1);
                    if parent.addr() == last.addr() && parent.contains(c.addr()) {
                        out.pop();
                        out.push(parent);
                        changed = true;
                        continue;
                    }
                }
            }
            out.push(c);
        }
        v = out;
        if !changed {
            return v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Ipv4Cidr {
        s.parse().unwrap()
    }

    #[test]
    fn merge_joins_siblings_only() {
        assert_eq!(
            merge(&[c("10.0.0.0/24"), c("10.0.1.0/24"), c("10.0.2.0/24")]),
            vec![c("10.0.0.0/23"), c("10.0.2.0/24")]
        );
        assert_eq!(
            merge(&[c("10.0.1.0/24"), c("10.0.2.0/24")]),
            vec![c("10.0.1.0/24"), c("10.0.2.0/24")]
        );
        let four: Vec<_> = (0..4).map(|i| c(&format!("10.0.{i}.0/24"))).collect();
        assert_eq!(merge(&four), vec![c("10.0.0.0/22")]);
    }

    #[test]
    fn splits_iptables_lines_with_quoted_comments() {
        assert_eq!(
            shell_words(
                "-D DOCKER-USER -s 10.0.0.0/23 -m comment --comment \"labnet: x y\" -j ACCEPT"
            ),
            [
                "-D",
                "DOCKER-USER",
                "-s",
                "10.0.0.0/23",
                "-m",
                "comment",
                "--comment",
                "labnet: x y",
                "-j",
                "ACCEPT"
            ]
        );
    }
}
