//! An evaluator for `iptables-restore` input, for the subset labnet emits.
//!
//! The chains are entered as the header tells users to hook them: from the
//! top of FORWARD (policy ACCEPT) and of nat POSTROUTING. Unknown options are
//! errors, so the evaluator never silently ignores a match it cannot check.

use std::collections::HashMap;

use crate::cidr::Ipv4Cidr;
use crate::decide::{CtState, Packet};

#[derive(Debug, Default)]
struct Rule {
    src: Option<Ipv4Cidr>,
    dst: Option<Ipv4Cidr>,
    oif: Option<String>,
    proto: Option<u8>,
    ctstate: Option<Vec<String>>,
    dports: Option<Vec<(u16, u16)>>,
    target: String,
}

/// A parsed restore file: chains per table.
#[derive(Debug, Default)]
pub struct Restore {
    tables: HashMap<String, HashMap<String, Vec<Rule>>>,
}

fn tokens(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            _ => {
                cur.push(c);
                any = true;
            }
        }
    }
    if quoted {
        return Err(format!("unterminated quote in {line:?}"));
    }
    if any {
        out.push(cur);
    }
    Ok(out)
}

/// Parse restore input.
pub fn parse(text: &str) -> Result<Restore, String> {
    let mut r = Restore::default();
    let mut table: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(t) = line.strip_prefix('*') {
            table = Some(t.to_owned());
            r.tables.entry(t.to_owned()).or_default();
            continue;
        }
        let t = table.clone().ok_or("rule outside a table")?;
        if line == "COMMIT" {
            table = None;
            continue;
        }
        if let Some(decl) = line.strip_prefix(':') {
            let name = decl
                .split_whitespace()
                .next()
                .ok_or("empty chain declaration")?;
            r.tables
                .entry(t)
                .or_default()
                .entry(name.to_owned())
                .or_default();
            continue;
        }
        let toks = tokens(line)?;
        let mut it = toks.iter();
        let mut chain = None;
        let mut rule = Rule::default();
        while let Some(tok) = it.next() {
            let mut arg = || {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{tok} needs a value in {line:?}"))
            };
            match tok.as_str() {
                "-A" => chain = Some(arg()?),
                "-s" => rule.src = Some(arg()?.parse().map_err(|e| format!("{e}"))?),
                "-d" => rule.dst = Some(arg()?.parse().map_err(|e| format!("{e}"))?),
                "-o" => rule.oif = Some(arg()?),
                "-p" => {
                    rule.proto = Some(match arg()?.as_str() {
                        "tcp" => 6,
                        "udp" => 17,
                        "icmp" => 1,
                        n => n.parse().map_err(|_| format!("unknown protocol {n}"))?,
                    });
                }
                "-m" => {
                    let m = arg()?;
                    if !matches!(m.as_str(), "conntrack" | "multiport" | "comment") {
                        return Err(format!("unsupported match module {m}"));
                    }
                }
                "--ctstate" => rule.ctstate = Some(arg()?.split(',').map(str::to_owned).collect()),
                "--dports" => {
                    let mut v = Vec::new();
                    for p in arg()?.split(',') {
                        let (a, b) = p.split_once(':').unwrap_or((p, p));
                        v.push((
                            a.parse().map_err(|_| format!("bad port {a}"))?,
                            b.parse().map_err(|_| format!("bad port {b}"))?,
                        ));
                    }
                    rule.dports = Some(v);
                }
                "--comment" => {
                    let _ = arg()?;
                }
                "-j" => rule.target = arg()?,
                other => return Err(format!("unsupported option {other} in {line:?}")),
            }
        }
        let chain = chain.ok_or_else(|| format!("no -A in {line:?}"))?;
        if rule.dports.is_some() && !matches!(rule.proto, Some(6 | 17)) {
            return Err(format!("--dports without -p tcp/udp in {line:?}"));
        }
        r.tables
            .entry(t)
            .or_default()
            .get_mut(&chain)
            .ok_or_else(|| format!("rule for undeclared chain {chain}"))?
            .push(rule);
    }
    Ok(r)
}

#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Accept,
    Drop,
    Masquerade,
    Return,
}

impl Restore {
    /// (accepted, masqueraded), entering `prefix-FORWARD` and `prefix-POSTROUTING`.
    pub fn evaluate(&self, prefix: &str, p: &Packet) -> Result<(bool, bool), String> {
        let filter = self.tables.get("filter").ok_or("no *filter table")?;
        // FORWARD's policy is ACCEPT, so a return from our chain accepts.
        let accept = !matches!(
            self.run(filter, &format!("{prefix}-FORWARD"), p, 0)?,
            Flow::Drop
        );
        let mut masq = false;
        if accept
            && p.ct == CtState::New
            && let Some(nat) = self.tables.get("nat")
        {
            masq = self.run(nat, &format!("{prefix}-POSTROUTING"), p, 0)? == Flow::Masquerade;
        }
        Ok((accept, masq))
    }

    fn run(
        &self,
        t: &HashMap<String, Vec<Rule>>,
        chain: &str,
        p: &Packet,
        depth: usize,
    ) -> Result<Flow, String> {
        if depth > 8 {
            return Err("jump depth exceeded".into());
        }
        let rules = t.get(chain).ok_or_else(|| format!("no chain {chain}"))?;
        for r in rules {
            if r.src.is_some_and(|c| !c.contains(p.src))
                || r.dst.is_some_and(|c| !c.contains(p.dst))
                || r.oif.as_ref().is_some_and(|o| *o != p.oif)
                || r.proto.is_some_and(|x| x != p.l4.0)
            {
                continue;
            }
            if let Some(states) = &r.ctstate {
                let st = match p.ct {
                    CtState::New => "NEW",
                    CtState::Established => "ESTABLISHED",
                    CtState::Related => "RELATED",
                    CtState::Invalid => "INVALID",
                };
                if !states.iter().any(|s| s == st) {
                    continue;
                }
            }
            if let Some(ports) = &r.dports {
                let d = p.dport.ok_or("--dports on a packet without ports")?;
                if !ports.iter().any(|&(a, b)| a <= d && d <= b) {
                    continue;
                }
            }
            match r.target.as_str() {
                "ACCEPT" => return Ok(Flow::Accept),
                "DROP" => return Ok(Flow::Drop),
                "MASQUERADE" => return Ok(Flow::Masquerade),
                "RETURN" => return Ok(Flow::Return),
                other => match self.run(t, other, p, depth + 1)? {
                    Flow::Return => {}
                    f => return Ok(f),
                },
            }
        }
        Ok(Flow::Return)
    }
}
