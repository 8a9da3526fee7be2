//! `nft list` output as comparable data, and the difference of two listings.
//!
//! Both sides of a diff are listings printed by the same `nft` from the
//! kernel's objects (the live table, and the compiled ruleset loaded into a
//! throwaway namespace), so equal policies print equal text and the
//! comparison can be plain: per set its properties and element set, per chain
//! its rules in order.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

/// One `set`, `map` or `chain` block of a table listing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Block {
    /// Declaration lines (`type ...`, `flags ...`, hook line).
    pub props: Vec<String>,
    /// Elements of a set or map.
    pub elements: BTreeSet<String>,
    /// Rules of a chain, in order, with counter values removed.
    pub rules: Vec<String>,
}

/// A parsed table listing: blocks by `"set NAME"`, `"map NAME"`, `"chain NAME"`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Listing {
    /// The blocks.
    pub blocks: BTreeMap<String, Block>,
}

impl Listing {
    /// Parse `nft list table` text (one table).
    #[must_use]
    pub fn parse(text: &str) -> Self {
        let mut out = Self::default();
        let mut cur: Option<(String, Block)> = None;
        let mut in_elements = false;
        let mut elem_buf = String::new();
        for raw in text.lines() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with("table ") {
                continue;
            }
            if in_elements {
                elem_buf.push(' ');
                elem_buf.push_str(line);
                if line.ends_with('}') {
                    in_elements = false;
                    if let Some((_, b)) = cur.as_mut() {
                        push_elements(b, &elem_buf);
                    }
                    elem_buf.clear();
                }
                continue;
            }
            let block_start = ["set ", "map ", "chain "]
                .iter()
                .any(|k| line.starts_with(k))
                && line.ends_with('{');
            if block_start && cur.is_none() {
                let key = line.trim_end_matches('{').trim().to_owned();
                cur = Some((key, Block::default()));
                continue;
            }
            if line == "}" {
                if let Some((k, b)) = cur.take() {
                    out.blocks.insert(k, b);
                }
                continue;
            }
            let Some((key, b)) = cur.as_mut() else {
                continue;
            };
            if let Some(rest) = line.strip_prefix("elements = ") {
                if rest.ends_with('}') {
                    push_elements(b, rest);
                } else {
                    in_elements = true;
                    elem_buf = rest.to_owned();
                }
            } else if key.starts_with("chain ") && !line.starts_with("type ") {
                b.rules.push(strip_counters(line));
            } else {
                b.props.push(line.to_owned());
            }
        }
        out
    }

    /// Rules and elements in all blocks (for summaries).
    #[must_use]
    pub fn counts(&self) -> (usize, usize, usize) {
        let chains = self
            .blocks
            .keys()
            .filter(|k| k.starts_with("chain "))
            .count();
        let rules = self.blocks.values().map(|b| b.rules.len()).sum();
        let elements = self.blocks.values().map(|b| b.elements.len()).sum();
        (chains, rules, elements)
    }
}

fn push_elements(b: &mut Block, braced: &str) {
    let inner = braced.trim().trim_start_matches('{').trim_end_matches('}');
    for e in inner.split(',') {
        let e = e.trim();
        if !e.is_empty() {
            b.elements.insert(e.to_owned());
        }
    }
}

/// `counter packets 12 bytes 3400` → `counter`: counters move, rules do not.
fn strip_counters(rule: &str) -> String {
    let mut out = Vec::new();
    let mut words = rule.split_whitespace().peekable();
    while let Some(w) = words.next() {
        out.push(w);
        if w == "counter" && words.peek() == Some(&"packets") {
            for _ in 0..4 {
                words.next();
            }
        }
    }
    out.join(" ")
}

/// One difference between the live table and the compiled one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Change {
    /// labnet's table is not in the kernel at all.
    TableMissing {
        /// Table name.
        table: String,
    },
    /// A set, map or chain the compiled ruleset lacks (added by hand).
    BlockAdded {
        /// `set NAME`, `map NAME` or `chain NAME`.
        block: String,
    },
    /// A compiled set, map or chain the kernel lacks (removed by hand).
    BlockRemoved {
        /// Which.
        block: String,
    },
    /// A declaration line differs.
    PropsChanged {
        /// Which block.
        block: String,
        /// In the kernel.
        live: Vec<String>,
        /// Compiled.
        expected: Vec<String>,
    },
    /// Elements in the kernel that the lab file does not give.
    ElementsAdded {
        /// Which set.
        block: String,
        /// The elements.
        elements: Vec<String>,
    },
    /// Elements the lab file gives that the kernel lacks.
    ElementsRemoved {
        /// Which set.
        block: String,
        /// The elements.
        elements: Vec<String>,
    },
    /// A rule in the kernel that the lab file does not give.
    RuleAdded {
        /// Chain.
        block: String,
        /// The rule.
        rule: String,
    },
    /// A compiled rule the kernel lacks.
    RuleRemoved {
        /// Chain.
        block: String,
        /// The rule.
        rule: String,
    },
    /// Same rules, different order.
    RulesReordered {
        /// Chain.
        block: String,
    },
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TableMissing { table } => {
                write!(f, "table ip {table} is not loaded")
            }
            Self::BlockAdded { block } => write!(f, "+ {block} (not in the lab file)"),
            Self::BlockRemoved { block } => write!(f, "- {block} (missing from the kernel)"),
            Self::PropsChanged {
                block,
                live,
                expected,
            } => write!(
                f,
                "~ {block}: kernel has `{}`, lab file gives `{}`",
                live.join("; "),
                expected.join("; ")
            ),
            Self::ElementsAdded { block, elements } => {
                write!(f, "+ {block}: elements {}", elements.join(", "))
            }
            Self::ElementsRemoved { block, elements } => {
                write!(f, "- {block}: elements {}", elements.join(", "))
            }
            Self::RuleAdded { block, rule } => write!(f, "+ {block}: {rule}"),
            Self::RuleRemoved { block, rule } => write!(f, "- {block}: {rule}"),
            Self::RulesReordered { block } => write!(f, "~ {block}: rules reordered"),
        }
    }
}

/// What changed from `expected` (compiled) to `live` (kernel).
#[must_use]
pub fn diff(live: &Listing, expected: &Listing) -> Vec<Change> {
    let mut out = Vec::new();
    for (k, e) in &expected.blocks {
        let Some(l) = live.blocks.get(k) else {
            out.push(Change::BlockRemoved { block: k.clone() });
            continue;
        };
        if l.props != e.props {
            out.push(Change::PropsChanged {
                block: k.clone(),
                live: l.props.clone(),
                expected: e.props.clone(),
            });
        }
        let added: Vec<String> = l.elements.difference(&e.elements).cloned().collect();
        let removed: Vec<String> = e.elements.difference(&l.elements).cloned().collect();
        if !added.is_empty() {
            out.push(Change::ElementsAdded {
                block: k.clone(),
                elements: added,
            });
        }
        if !removed.is_empty() {
            out.push(Change::ElementsRemoved {
                block: k.clone(),
                elements: removed,
            });
        }
        rule_changes(k, &l.rules, &e.rules, &mut out);
    }
    for k in live.blocks.keys() {
        if !expected.blocks.contains_key(k) {
            out.push(Change::BlockAdded { block: k.clone() });
        }
    }
    out
}

fn rule_changes(block: &str, live: &[String], expected: &[String], out: &mut Vec<Change>) {
    if live == expected {
        return;
    }
    let mut pending: BTreeMap<&str, isize> = BTreeMap::new();
    for r in expected {
        *pending.entry(r).or_default() += 1;
    }
    for r in live {
        *pending.entry(r).or_default() -= 1;
    }
    let mut any = false;
    for r in live {
        if pending.get(r.as_str()).copied().unwrap_or(0) < 0 {
            if let Some(n) = pending.get_mut(r.as_str()) {
                *n += 1;
            }
            any = true;
            out.push(Change::RuleAdded {
                block: block.into(),
                rule: r.clone(),
            });
        }
    }
    for r in expected {
        if pending.get(r.as_str()).copied().unwrap_or(0) > 0 {
            if let Some(n) = pending.get_mut(r.as_str()) {
                *n -= 1;
            }
            any = true;
            out.push(Change::RuleRemoved {
                block: block.into(),
                rule: r.clone(),
            });
        }
    }
    if !any {
        out.push(Change::RulesReordered {
            block: block.into(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shape of `nft list table` output from nft 1.0.6 (kernel 6.x).
    const LIVE: &str = "table ip labnet {
\tset lab {
\t\ttype ipv4_addr
\t\tflags interval
\t\telements = { 10.0.0.0/24, 10.0.1.0/24,
\t\t\t     10.9.0.0/24 }
\t}

\tchain forward {
\t\ttype filter hook forward priority filter; policy accept;
\t\tct state established,related accept comment \"replies\"
\t\tip saddr 10.0.0.5 counter packets 3 bytes 180 accept
\t\tdrop comment \"default deny\"
\t}
}
";

    #[test]
    fn parses_blocks_elements_and_rules() {
        let l = Listing::parse(LIVE);
        let lab = &l.blocks["set lab"];
        assert_eq!(lab.props, ["type ipv4_addr", "flags interval"]);
        assert_eq!(lab.elements.len(), 3);
        let fwd = &l.blocks["chain forward"];
        assert_eq!(fwd.rules[1], "ip saddr 10.0.0.5 counter accept");
        assert_eq!(l.counts(), (1, 3, 3));
    }

    #[test]
    fn diff_names_hand_made_changes() {
        let live = Listing::parse(LIVE);
        let expected = Listing::parse(&LIVE.replace(",\n\t\t\t     10.9.0.0/24 }", " }").replace(
            "\t\tip saddr 10.0.0.5 counter packets 3 bytes 180 accept\n",
            "",
        ));
        let changes = diff(&live, &expected);
        assert_eq!(
            changes,
            vec![
                Change::RuleAdded {
                    block: "chain forward".into(),
                    rule: "ip saddr 10.0.0.5 counter accept".into()
                },
                Change::ElementsAdded {
                    block: "set lab".into(),
                    elements: vec!["10.9.0.0/24".into()]
                },
            ]
        );
        assert!(diff(&live, &live).is_empty());
        assert_eq!(
            diff(&expected, &live)[0],
            Change::RuleRemoved {
                block: "chain forward".into(),
                rule: "ip saddr 10.0.0.5 counter accept".into()
            }
        );
    }

    #[test]
    fn reordering_is_its_own_change() {
        let a = Listing::parse("chain c {\n a\n b\n}\n");
        let b = Listing::parse("chain c {\n b\n a\n}\n");
        assert_eq!(
            diff(&a, &b),
            vec![Change::RulesReordered {
                block: "chain c".into()
            }]
        );
    }
}
