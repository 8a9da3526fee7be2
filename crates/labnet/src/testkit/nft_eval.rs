//! An evaluator for nftables rulesets in libnftables JSON, for the subset labnet
//! emits: what the kernel would do with one packet.
//!
//! It reads both forms: labnet's `nft-json` output (commands such as
//! `{"add": {"set": ...}}`) and what `nft -j list` prints of a loaded table
//! (bare objects). Running it on the kernel's listing after `nft -f` of the
//! `nft` target checks the text target as the kernel understood it.
//!
//! Anything outside the subset is an error, not a guess: a test that reaches
//! an unknown expression fails loudly.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use serde_json::Value;

use crate::decide::{CtState, Packet};

/// One inclusive interval per concatenated field of an element key.
type Key = Vec<(u64, u64)>;

/// A parsed ruleset.
#[derive(Debug, Default)]
pub struct Ruleset {
    sets: HashMap<String, Vec<Key>>,
    maps: HashMap<String, Vec<(Key, Verdict)>>,
    chains: HashMap<String, Chain>,
}

#[derive(Debug, Default)]
struct Chain {
    hook: Option<(String, String)>,
    policy_accept: bool,
    rules: Vec<Vec<Value>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Accept,
    Drop,
    Jump(String),
    Goto(String),
    Return,
}

#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Accept,
    Drop,
    Masquerade,
    /// Fell off the end of the chain or hit `return`.
    Continue,
}

/// Parse a JSON ruleset.
pub fn parse(json: &str) -> Result<Ruleset, String> {
    let v: Value = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
    let items = v
        .get("nftables")
        .and_then(Value::as_array)
        .ok_or("no top-level \"nftables\" array")?;
    let mut rs = Ruleset::default();
    for item in items {
        let obj = item.as_object().ok_or("array item is not an object")?;
        let (verb, body) = obj.iter().next().ok_or("empty object")?;
        let (kind, o) = match verb.as_str() {
            "metainfo" | "delete" | "flush" => continue,
            "add" | "create" => {
                let inner = body.as_object().ok_or("add body is not an object")?;
                let (k, o) = inner.iter().next().ok_or("empty add")?;
                (k.as_str(), o)
            }
            other => (other, body),
        };
        match kind {
            "table" => {}
            "set" => {
                let name = str_of(o, "name")?;
                let elems = o
                    .get("elem")
                    .and_then(Value::as_array)
                    .map(|es| es.iter().map(elem_key).collect::<Result<Vec<_>, _>>())
                    .transpose()?
                    .unwrap_or_default();
                rs.sets.insert(name, elems);
            }
            "map" => {
                let name = str_of(o, "name")?;
                let mut elems = Vec::new();
                for e in o
                    .get("elem")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let pair = e.as_array().ok_or("map element is not a pair")?;
                    let [k, v] = pair.as_slice() else {
                        return Err(format!("map element {e} is not a pair"));
                    };
                    elems.push((
                        elem_key(k)?,
                        verdict(v)?.ok_or_else(|| format!("map value {v} is not a verdict"))?,
                    ));
                }
                rs.maps.insert(name, elems);
            }
            "chain" => {
                let name = str_of(o, "name")?;
                let c = rs.chains.entry(name).or_default();
                if let (Some(h), Some(t)) = (
                    o.get("hook").and_then(Value::as_str),
                    o.get("type").and_then(Value::as_str),
                ) {
                    c.hook = Some((t.to_owned(), h.to_owned()));
                    c.policy_accept = o.get("policy").and_then(Value::as_str) != Some("drop");
                }
            }
            "rule" => {
                let chain = str_of(o, "chain")?;
                let expr = o
                    .get("expr")
                    .and_then(Value::as_array)
                    .ok_or("rule without expr")?;
                rs.chains.entry(chain).or_default().rules.push(expr.clone());
            }
            other => return Err(format!("unsupported object kind {other:?}")),
        }
    }
    Ok(rs)
}

fn str_of(o: &Value, k: &str) -> Result<String, String> {
    o.get(k)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("missing {k:?} in {o}"))
}

/// An element key as one inclusive interval per concatenated field.
fn elem_key(v: &Value) -> Result<Vec<(u64, u64)>, String> {
    // Listings may wrap elements with timeouts or comments in {"elem": {"val": ...}}.
    if let Some(inner) = v.get("elem").and_then(|e| e.get("val")) {
        return elem_key(inner);
    }
    if let Some(parts) = v.get("concat").and_then(Value::as_array) {
        return parts.iter().map(scalar_range).collect();
    }
    Ok(vec![scalar_range(v)?])
}

fn scalar_range(v: &Value) -> Result<(u64, u64), String> {
    if let Some(p) = v.get("prefix") {
        let addr: Ipv4Addr = str_of(p, "addr")?.parse().map_err(|e| format!("{e}"))?;
        let len = p
            .get("len")
            .and_then(Value::as_u64)
            .ok_or("prefix without len")?;
        let len = u32::try_from(len).map_err(|e| e.to_string())?;
        let first = u64::from(u32::from(addr));
        let span = if len == 0 {
            1u64 << 32
        } else {
            1u64 << (32 - len)
        };
        return Ok((first, first + span - 1));
    }
    if let Some(r) = v.get("range").and_then(Value::as_array) {
        let [a, b] = r.as_slice() else {
            return Err(format!("range {v} is not a pair"));
        };
        return Ok((scalar(a)?, scalar(b)?));
    }
    let x = scalar(v)?;
    Ok((x, x))
}

fn scalar(v: &Value) -> Result<u64, String> {
    if let Some(n) = v.as_u64() {
        return Ok(n);
    }
    let s = v.as_str().ok_or_else(|| format!("unsupported value {v}"))?;
    if let Ok(ip) = s.parse::<Ipv4Addr>() {
        return Ok(u64::from(u32::from(ip)));
    }
    match s {
        "icmp" => Ok(1),
        "tcp" => Ok(6),
        "udp" => Ok(17),
        "sctp" => Ok(132),
        "gre" => Ok(47),
        _ => Err(format!("unsupported scalar {s:?}")),
    }
}

fn verdict(v: &Value) -> Result<Option<Verdict>, String> {
    let Some(o) = v.as_object() else {
        return Ok(None);
    };
    let Some((k, body)) = o.iter().next() else {
        return Ok(None);
    };
    Ok(Some(match k.as_str() {
        "accept" => Verdict::Accept,
        "drop" => Verdict::Drop,
        "return" => Verdict::Return,
        "jump" => Verdict::Jump(str_of(body, "target")?),
        "goto" => Verdict::Goto(str_of(body, "target")?),
        _ => return Ok(None),
    }))
}

impl Ruleset {
    /// What the ruleset does to `p`: (accepted by the filter-forward chains, masqueraded).
    ///
    /// Only chains of this ruleset are consulted; "accepted" means none of its
    /// forward base chains dropped the packet.
    pub fn evaluate(&self, p: &Packet) -> Result<(bool, bool), String> {
        let mut accept = true;
        for (name, c) in &self.chains {
            if c.hook
                .as_ref()
                .is_some_and(|(t, h)| t == "filter" && h == "forward")
            {
                let flow = self.run(name, p, 0)?;
                let ok = match flow {
                    Flow::Accept => true,
                    Flow::Drop => false,
                    Flow::Continue => c.policy_accept,
                    Flow::Masquerade => return Err("masquerade in a filter chain".into()),
                };
                accept &= ok;
            }
        }
        let mut masq = false;
        if accept && p.ct == CtState::New {
            for (name, c) in &self.chains {
                if c.hook
                    .as_ref()
                    .is_some_and(|(t, h)| t == "nat" && h == "postrouting")
                {
                    masq |= self.run(name, p, 0)? == Flow::Masquerade;
                }
            }
        }
        Ok((accept, masq))
    }

    fn run(&self, chain: &str, p: &Packet, depth: usize) -> Result<Flow, String> {
        if depth > 16 {
            return Err("jump depth exceeded".into());
        }
        let c = self
            .chains
            .get(chain)
            .ok_or_else(|| format!("no chain {chain:?}"))?;
        'rules: for rule in &c.rules {
            for e in rule {
                let obj = e.as_object().ok_or("expression is not an object")?;
                let (k, body) = obj.iter().next().ok_or("empty expression")?;
                match k.as_str() {
                    "match" => {
                        if !self.matches(body, p)? {
                            continue 'rules;
                        }
                    }
                    "counter" | "log" => {}
                    "masquerade" => return Ok(Flow::Masquerade),
                    "vmap" => {
                        let key = body.get("key").ok_or("vmap without key")?;
                        let data = body
                            .get("data")
                            .and_then(Value::as_str)
                            .ok_or("vmap without named data")?;
                        let k = self.load(key, p)?;
                        let map = self
                            .maps
                            .get(data.trim_start_matches('@'))
                            .ok_or_else(|| format!("no map {data}"))?;
                        let hit = map
                            .iter()
                            .find(|(ks, _)| key_in(&k, ks))
                            .map(|(_, v)| v.clone());
                        match hit {
                            None => continue 'rules,
                            Some(v) => match self.apply(&v, p, depth)? {
                                Flow::Continue if matches!(v, Verdict::Jump(_)) => continue 'rules,
                                f => return Ok(f),
                            },
                        }
                    }
                    _ => {
                        if let Some(v) = verdict(e)? {
                            match self.apply(&v, p, depth)? {
                                Flow::Continue if matches!(v, Verdict::Jump(_)) => continue 'rules,
                                f => return Ok(f),
                            }
                        }
                        return Err(format!("unsupported expression {e}"));
                    }
                }
            }
        }
        Ok(Flow::Continue)
    }

    fn apply(&self, v: &Verdict, p: &Packet, depth: usize) -> Result<Flow, String> {
        Ok(match v {
            Verdict::Accept => Flow::Accept,
            Verdict::Drop => Flow::Drop,
            Verdict::Return => Flow::Continue,
            // A jump that falls off its chain returns to the caller's next rule;
            // a goto does not come back, which ends the calling base chain.
            Verdict::Jump(c) | Verdict::Goto(c) => self.run(c, p, depth + 1)?,
        })
    }

    fn matches(&self, m: &Value, p: &Packet) -> Result<bool, String> {
        let op = m.get("op").and_then(Value::as_str).unwrap_or("==");
        let left = m.get("left").ok_or("match without left")?;
        let right = m.get("right").ok_or("match without right")?;
        // ct state: flags.
        if left
            .get("ct")
            .and_then(|c| c.get("key"))
            .and_then(Value::as_str)
            == Some("state")
        {
            let st = match p.ct {
                CtState::New => "new",
                CtState::Established => "established",
                CtState::Related => "related",
                CtState::Invalid => "invalid",
            };
            let hit = match right {
                Value::String(s) => s == st,
                Value::Array(a) => a.iter().any(|x| x.as_str() == Some(st)),
                _ => return Err(format!("unsupported ct state value {right}")),
            };
            return Ok(match op {
                "==" | "in" => hit,
                "!=" => !hit,
                _ => return Err(format!("unsupported op {op}")),
            });
        }
        if left
            .get("meta")
            .and_then(|c| c.get("key"))
            .and_then(Value::as_str)
            == Some("oifname")
        {
            let want = right.as_str().ok_or("oifname compared with a non-string")?;
            let hit = p.oif == want;
            return Ok(if op == "!=" { !hit } else { hit });
        }
        let key = self.load(left, p)?;
        let hit = match right {
            Value::String(s) if s.starts_with('@') => {
                let set = self
                    .sets
                    .get(&s[1..])
                    .ok_or_else(|| format!("no set {s}"))?;
                set.iter().any(|ks| key_in(&key, ks))
            }
            Value::Object(o) if o.contains_key("set") => {
                let items = o["set"].as_array().ok_or("anonymous set is not a list")?;
                let mut any = false;
                for it in items {
                    any |= key_in(&key, &elem_key(it)?);
                }
                any
            }
            other => key_in(&key, &elem_key(other)?),
        };
        Ok(match op {
            "==" | "in" => hit,
            "!=" => !hit,
            _ => return Err(format!("unsupported op {op}")),
        })
    }

    fn load(&self, e: &Value, p: &Packet) -> Result<Vec<u64>, String> {
        if let Some(parts) = e.get("concat").and_then(Value::as_array) {
            let mut out = Vec::new();
            for part in parts {
                out.extend(self.load(part, p)?);
            }
            return Ok(out);
        }
        // `ip daddr & 255.255.255.0`: the hash-set layout's masked lookup.
        if let Some(and) = e.get("&").and_then(Value::as_array) {
            let [value, mask] = and.as_slice() else {
                return Err(format!("& of {e} is not a pair"));
            };
            let mut v = self.load(value, p)?;
            let mask = scalar(mask)?;
            match v.as_mut_slice() {
                [x] => *x &= mask,
                _ => return Err(format!("& over a concatenation in {e}")),
            }
            return Ok(v);
        }
        if let Some(pl) = e.get("payload") {
            let proto = pl.get("protocol").and_then(Value::as_str).unwrap_or("");
            let field = pl.get("field").and_then(Value::as_str).unwrap_or("");
            return match (proto, field) {
                ("ip", "saddr") => Ok(vec![u64::from(u32::from(p.src))]),
                ("ip", "daddr") => Ok(vec![u64::from(u32::from(p.dst))]),
                // On a packet without ports the kernel reads bytes 2-3 of
                // whatever header is there (an ICMP checksum); stand for them
                // with a value no port element has, so only a ruleset that
                // would match them anyway (none of labnet's: its keys hold
                // tcp or udp) can tell.
                ("th", "dport") => Ok(vec![p.dport.map_or(1 << 20, u64::from)]),
                ("tcp" | "udp", "dport") => p.dport.map(|d| vec![u64::from(d)]).ok_or_else(|| {
                    format!(
                        "{proto} dport read on a {} packet, which has no ports",
                        p.l4
                    )
                }),
                _ => Err(format!("unsupported payload {pl}")),
            };
        }
        if e.get("meta")
            .and_then(|m| m.get("key"))
            .and_then(Value::as_str)
            == Some("l4proto")
        {
            return Ok(vec![u64::from(p.l4.0)]);
        }
        Err(format!("unsupported expression {e}"))
    }
}

fn key_in(key: &[u64], ranges: &[(u64, u64)]) -> bool {
    key.len() == ranges.len()
        && key
            .iter()
            .zip(ranges)
            .all(|(k, (lo, hi))| lo <= k && k <= hi)
}
