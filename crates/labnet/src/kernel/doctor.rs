//! What else on this host would stop or rewrite lab traffic the lab file allows.
//!
//! nftables runs every base chain on a hook; a packet passes only if none of
//! them drops it. So labnet's accepts are not enough when Docker's iptables
//! FORWARD chain has policy DROP, or libvirt's chains reject traffic between
//! its networks, or libvirt's `nat` mode masquerades lab traffic. The doctor
//! reads the whole ruleset (iptables-nft rules included: they are nf_tables
//! too) and names each such chain or rule with its fix.

use std::fmt;

use serde::Serialize;

use super::KernelError;
use super::coexist::{DOCKER_USER, OWNER_COMMENT};
use super::netns::Netns;
use super::nft_cli;
use crate::cidr::Ipv4Cidr;
use crate::model::Lab;

/// A chain of the live ruleset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveChain {
    /// `ip`, `inet`, ...
    pub family: String,
    /// Table name.
    pub table: String,
    /// Chain name.
    pub name: String,
    /// The hook line (`type filter hook forward priority filter; policy drop;`), if a base chain.
    pub hook: Option<String>,
    /// Rules in order.
    pub rules: Vec<String>,
}

impl LiveChain {
    fn hook_is(&self, hook: &str) -> bool {
        self.hook
            .as_deref()
            .is_some_and(|h| h.contains(&format!("hook {hook} ")))
    }
    fn policy_drop(&self) -> bool {
        self.hook
            .as_deref()
            .is_some_and(|h| h.contains("policy drop"))
    }
    fn id(&self) -> String {
        format!("table {} {} chain {}", self.family, self.table, self.name)
    }
}

/// Parse `nft list ruleset` into its chains.
#[must_use]
pub fn parse_ruleset(text: &str) -> Vec<LiveChain> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut family = String::new();
    let mut table = String::new();
    let mut chain: Option<LiveChain> = None;
    for raw in text.lines() {
        let line = raw.trim();
        let opens = line.matches('{').count();
        let closes = line.matches('}').count();
        if depth == 0 {
            if let Some(rest) = line.strip_prefix("table ") {
                let mut w = rest.split_whitespace();
                family = w.next().unwrap_or_default().to_owned();
                table = w.next().unwrap_or_default().to_owned();
            }
        } else if depth == 1 {
            if let Some(rest) = line.strip_prefix("chain ") {
                chain = Some(LiveChain {
                    family: family.clone(),
                    table: table.clone(),
                    name: rest.trim_end_matches('{').trim().to_owned(),
                    ..LiveChain::default()
                });
            }
        } else if depth == 2
            && let Some(c) = chain.as_mut()
        {
            if line.starts_with("type ") && line.contains(" hook ") {
                c.hook = Some(line.to_owned());
            } else if !line.is_empty() && line != "}" {
                c.rules.push(line.to_owned());
            }
        }
        depth = (depth + opens).saturating_sub(closes);
        if depth <= 1
            && let Some(c) = chain.take()
        {
            out.push(c);
        }
    }
    out
}

/// What to do about a finding. Data, so that each front end can name its own
/// flags (the `labnet` binary turns [`Remedy::CoexistDocker`] into
/// `labnet apply --coexist docker`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Remedy {
    /// Docker's DOCKER-USER chain is there: labnet's Docker coexistence puts
    /// accepts for lab traffic in it.
    CoexistDocker,
    /// The chain belongs to a table iptables-nft manages: accept lab traffic
    /// with these `iptables` commands (nft rules added there would be foreign
    /// to iptables, which rewrites the table).
    IptablesAccept {
        /// The commands, in order.
        commands: Vec<String>,
    },
    /// Another nftables table: insert these accepts.
    NftAccept {
        /// The commands, in order.
        commands: Vec<String>,
    },
    /// libvirt's `nat`/`route` networks reject traffic between networks.
    LibvirtOpen,
    /// libvirt's `nat` mode masquerades lab traffic.
    LibvirtNoNat,
}

impl fmt::Display for Remedy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CoexistDocker => f.write_str(
                "apply with Docker coexistence (accepts lab traffic in DOCKER-USER; table ip labnet still decides)",
            ),
            Self::IptablesAccept { commands } | Self::NftAccept { commands } => write!(
                f,
                "accept lab traffic in this chain ({}); table ip labnet still decides",
                commands.join("; ")
            ),
            Self::LibvirtOpen => f.write_str(
                "give lab networks libvirt forward mode `open` (labnet's table then decides), or remove this rule",
            ),
            Self::LibvirtNoNat => f.write_str(
                "use libvirt forward mode `open` for lab networks; labnet masquerades internet egress itself",
            ),
        }
    }
}

/// One thing that would drop, reject or rewrite allowed lab traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Finding {
    /// `table ip filter chain FORWARD`.
    pub chain: String,
    /// The rule or policy.
    pub what: String,
    /// Why it matters for the lab.
    pub problem: String,
    /// What to do.
    pub remedy: Remedy,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: `{}`\n  problem: {}\n  fix: {}",
            self.chain, self.what, self.problem, self.remedy
        )
    }
}

/// Examine the ruleset of `ns` for `lab` (labnet's own table `own_table` is skipped).
///
/// # Errors
/// `nft` cannot list the ruleset.
pub fn examine(ns: &Netns, lab: &Lab, own_table: &str) -> Result<Vec<Finding>, KernelError> {
    let text = nft_cli::list_ruleset(ns)?;
    // nft does not print iptables' comment match, so labnet's DOCKER-USER
    // rules are recognised through iptables itself.
    let owned = !super::coexist::owned_rules(ns)?.is_empty();
    Ok(examine_ruleset(&text, lab, own_table, owned))
}

/// [`examine`] on a listing already read; `docker_user_owned`: labnet's
/// accepts are in DOCKER-USER.
#[must_use]
pub fn examine_ruleset(
    text: &str,
    lab: &Lab,
    own_table: &str,
    docker_user_owned: bool,
) -> Vec<Finding> {
    let chains = parse_ruleset(text);
    let lab_nets: Vec<Ipv4Cidr> = lab.segments().iter().map(|s| s.cidr).collect();
    let foreign = |c: &&LiveChain| !(c.family == "ip" && c.table == own_table);
    let mut out = Vec::new();
    for base in chains
        .iter()
        .filter(foreign)
        .filter(|c| c.hook_is("forward"))
    {
        // The chains a packet can reach from this base chain, in rule order.
        let mut reach = vec![base];
        let mut i = 0;
        while i < reach.len() {
            let c = reach[i];
            for r in &c.rules {
                if let Some(target) = jump_target(r)
                    && let Some(t) = chains
                        .iter()
                        .find(|x| x.family == c.family && x.table == c.table && x.name == target)
                    && !reach.iter().any(|x| std::ptr::eq(*x, t))
                {
                    reach.push(t);
                }
            }
            i += 1;
        }
        let covered = reach.iter().any(|c| {
            (c.name == DOCKER_USER && docker_user_owned)
                || c.rules.iter().any(|r| r.contains(OWNER_COMMENT))
        });
        if base.policy_drop() && !covered {
            let docker = reach.iter().any(|c| c.name == DOCKER_USER);
            out.push(Finding {
                chain: base.id(),
                what: base.hook.clone().unwrap_or_default(),
                problem: "policy drop: lab traffic this chain does not accept is dropped, \
                          even where the lab file allows it (Docker sets this)"
                    .into(),
                remedy: if docker {
                    Remedy::CoexistDocker
                } else {
                    accept_remedy(base, &lab_nets)
                },
            });
        }
        if covered {
            continue;
        }
        for c in &reach {
            for r in &c.rules {
                let verdict_drop = ends_with_word(r, "drop") || r.contains(" reject");
                if verdict_drop && touches_lab(r, &lab_nets) {
                    out.push(Finding {
                        chain: c.id(),
                        what: r.clone(),
                        problem: "drops or rejects forwarded packets that may be lab traffic \
                                  (libvirt's `nat`/`route` modes reject traffic between its networks)"
                            .into(),
                        remedy: Remedy::LibvirtOpen,
                    });
                }
            }
        }
    }
    for c in chains
        .iter()
        .filter(foreign)
        .filter(|c| c.hook_is("postrouting"))
    {
        for r in &c.rules {
            if !r.contains("masquerade") && !r.contains(" snat ") {
                continue;
            }
            if let Some(net) = lab_nets.iter().find(|n| mentions_net(r, "saddr", **n))
                && !excludes_lab(r, &lab_nets)
            {
                out.push(Finding {
                    chain: c.id(),
                    what: r.clone(),
                    problem: format!(
                        "rewrites the source of traffic from lab segment {net} that does not leave \
                             for the internet, so other segments see the host, not the sender \
                             (libvirt's `nat` mode does this)"
                    ),
                    remedy: Remedy::LibvirtNoNat,
                });
            }
        }
    }
    out
}

/// Accepts for lab traffic in `chain`: iptables commands when iptables-nft
/// manages its table, nft commands otherwise.
fn accept_remedy(chain: &LiveChain, lab_nets: &[Ipv4Cidr]) -> Remedy {
    let iptables_managed =
        chain.family == "ip" && crate::target::IPTABLES_TABLES.contains(&chain.table.as_str());
    if iptables_managed {
        let nets = super::coexist::merge(lab_nets);
        let mut commands = Vec::new();
        for dir in ["-s", "-d"] {
            for n in &nets {
                commands.push(format!(
                    "iptables -t {} -I {} 1 {dir} {n} -j ACCEPT",
                    chain.table, chain.name
                ));
            }
        }
        Remedy::IptablesAccept { commands }
    } else {
        let nets = join(lab_nets);
        Remedy::NftAccept {
            commands: ["saddr", "daddr"]
                .iter()
                .map(|f| {
                    format!(
                        "nft insert rule {} {} {} ip {f} {{ {nets} }} accept",
                        chain.family, chain.table, chain.name
                    )
                })
                .collect(),
        }
    }
}

fn join(nets: &[Ipv4Cidr]) -> String {
    nets.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn jump_target(rule: &str) -> Option<&str> {
    let mut w = rule.split_whitespace();
    while let Some(x) = w.next() {
        if x == "jump" || x == "goto" {
            return w.next().map(|t| t.trim_matches('"'));
        }
    }
    None
}

fn ends_with_word(rule: &str, word: &str) -> bool {
    // Strip a trailing comment first: `... drop comment "x"`.
    let body = rule.split(" comment \"").next().unwrap_or(rule);
    body.split_whitespace().last() == Some(word)
}

/// A drop/reject rule matters when it matches no address at all (interfaces
/// only, as libvirt's rules do) or an address range overlapping the lab.
fn touches_lab(rule: &str, lab: &[Ipv4Cidr]) -> bool {
    if !rule.contains("saddr") && !rule.contains("daddr") {
        return true;
    }
    lab.iter()
        .any(|n| mentions_net(rule, "saddr", *n) || mentions_net(rule, "daddr", *n))
}

/// Whether `ip FIELD X` (not `!=`) in the rule overlaps `net`.
fn mentions_net(rule: &str, field: &str, net: Ipv4Cidr) -> bool {
    let words: Vec<&str> = rule.split_whitespace().collect();
    words.windows(2).any(|w| {
        w[0] == field
            && w[1]
                .parse::<Ipv4Cidr>()
                .or_else(|_| format!("{}/32", w[1]).parse::<Ipv4Cidr>())
                .is_ok_and(|c| c.overlaps(net))
    })
}

/// `ip daddr != NET` where NET covers the whole lab: libvirt's own-network exclusion
/// excludes only its network, so other lab segments are still rewritten.
fn excludes_lab(rule: &str, lab: &[Ipv4Cidr]) -> bool {
    let words: Vec<&str> = rule.split_whitespace().collect();
    words.windows(3).any(|w| {
        w[0] == "daddr"
            && w[1] == "!="
            && w[2].parse::<Ipv4Cidr>().is_ok_and(|c| {
                lab.iter()
                    .all(|n| c.contains(n.addr()) && c.len() <= n.len())
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // `nft list ruleset` after `iptables -P FORWARD DROP; iptables -N DOCKER-USER;
    // iptables -A FORWARD -j DOCKER-USER; iptables -A DOCKER-USER -j RETURN`
    // (iptables 1.8.9 nf_tables, nft 1.0.6), plus libvirt-style nat rules.
    const RULESET: &str = "table ip filter {
\tchain FORWARD {
\t\ttype filter hook forward priority filter; policy drop;
\t\tcounter packets 0 bytes 0 jump DOCKER-USER
\t}

\tchain DOCKER-USER {
\t\tcounter packets 0 bytes 0 return
\t}
}
table ip libvirt_network {
\tchain guest_nat {
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\tip saddr 10.0.1.0/24 ip daddr != 10.0.1.0/24 counter packets 0 bytes 0 masquerade
\t}
\tchain guest_cross {
\t\ttype filter hook forward priority filter; policy accept;
\t\tiifname \"virbr1\" oifname \"virbr1\" accept
\t\toifname \"virbr1\" counter packets 0 bytes 0 reject
\t}
}
";

    #[test]
    fn finds_docker_drop_policy_libvirt_reject_and_masquerade() {
        let lab = crate::reference::lab();
        let f = examine_ruleset(RULESET, &lab, "labnet", false);
        assert_eq!(f.len(), 3, "{f:#?}");
        assert!(f[0].chain.contains("filter chain FORWARD"));
        assert_eq!(f[0].remedy, Remedy::CoexistDocker);
        assert!(f[1].what.contains("reject"));
        assert!(f[2].what.contains("masquerade"));
    }

    #[test]
    fn coexist_accepts_cover_the_drop_policy() {
        let with = RULESET.replace(
            "\t\tcounter packets 0 bytes 0 return",
            &format!("\t\tip saddr 10.0.0.0/22 counter packets 0 bytes 0 accept comment \"{OWNER_COMMENT}\"\n\t\tcounter packets 0 bytes 0 return"),
        );
        let f = examine_ruleset(&with, &crate::reference::lab(), "labnet", false);
        assert!(f.iter().all(|x| !x.chain.contains("FORWARD")), "{f:#?}");
        // As iptables-nft lists them: no comment, but iptables says they are ours.
        let f = examine_ruleset(RULESET, &crate::reference::lab(), "labnet", true);
        assert!(f.iter().all(|x| !x.chain.contains("FORWARD")), "{f:#?}");
    }

    #[test]
    fn a_drop_policy_in_iptables_nft_gets_iptables_commands() {
        // iptables -P FORWARD DROP without Docker: no DOCKER-USER chain.
        let text = "table ip filter {\n\tchain FORWARD {\n\t\ttype filter hook forward priority filter; policy drop;\n\t}\n}\ntable inet mine {\n\tchain fw {\n\t\ttype filter hook forward priority filter; policy drop;\n\t}\n}\n";
        let f = examine_ruleset(text, &crate::reference::lab(), "labnet", false);
        let Remedy::IptablesAccept { commands } = &f[0].remedy else {
            panic!("{f:#?}");
        };
        assert_eq!(
            commands[0],
            "iptables -t filter -I FORWARD 1 -s 10.0.0.0/22 -j ACCEPT"
        );
        assert!(
            commands.iter().all(|c| c.starts_with("iptables ")),
            "{commands:?}"
        );
        let Remedy::NftAccept { commands } = &f[1].remedy else {
            panic!("{f:#?}");
        };
        assert!(
            commands[0].starts_with("nft insert rule inet mine fw ip saddr {"),
            "{commands:?}"
        );
    }

    #[test]
    fn own_table_and_unrelated_rules_are_quiet() {
        let text = "table ip labnet {\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy drop;\n\t\tdrop\n\t}\n}\ntable ip other {\n\tchain f {\n\t\ttype filter hook forward priority filter; policy accept;\n\t\tip saddr 192.168.9.0/24 drop\n\t}\n}\n";
        assert!(examine_ruleset(text, &crate::reference::lab(), "labnet", false).is_empty());
    }
}
