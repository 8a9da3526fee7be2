//! Dependencies inside labvirt point one way: values → model → lab file →
//! analyses (budget, capabilities, seed) → desired state → XML and what a
//! host has → plan and graph → the libvirt backend. A module may use its own
//! layer or earlier ones, never later: the planner knows nothing of libvirt,
//! the model nothing of the file. Checked on the source text, as labnet's.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::Path;

const LAYERS: &[(&str, u8)] = &[
    ("names", 0),
    ("iso", 0),
    ("model", 1),
    ("read", 2),
    ("reference", 2),
    ("budget", 3),
    ("caps", 3),
    ("seed", 3),
    ("spec", 4),
    ("xml", 5),
    ("observe", 5),
    ("plan", 6),
    ("graph", 6),
    ("host", 7),
];

fn layer(m: &str) -> Option<u8> {
    LAYERS.iter().find(|(n, _)| *n == m).map(|(_, l)| *l)
}

fn files(dir: &Path, out: &mut Vec<(String, String)>, root: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out, root);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            out.push((rel, std::fs::read_to_string(&p).unwrap()));
        }
    }
}

#[test]
fn no_module_imports_a_later_layer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&root, &mut all, &root);
    let mut bad = Vec::new();
    for (rel, text) in &all {
        let module = rel.split(['/', '.']).next().unwrap();
        if module == "lib" {
            continue;
        }
        let own = layer(module).unwrap_or_else(|| panic!("{rel}: `{module}` has no layer"));
        let code: String = text
            .split("#[cfg(test)]")
            .next()
            .unwrap()
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for (i, _) in code.match_indices("crate::") {
            let used: String = code[i + 7..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if layer(&used).is_some_and(|l| l > own) {
                bad.push(format!("{rel} uses crate::{used}"));
            }
        }
    }
    assert!(bad.is_empty(), "imports that point back up: {bad:#?}");
}
