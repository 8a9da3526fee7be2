//! Dependencies inside labnet point one way: lab file → model → analyses →
//! targets → backends. A module may use modules of its own layer or of layers
//! before it, never after: the model knows nothing of how a lab was written,
//! the targets nothing of the kernel. Checked on the source text, so a new
//! `use crate::…` that points back up fails here.

use std::collections::BTreeMap;
use std::path::Path;

/// Each top-level module's layer.
const LAYERS: &[(&str, u8)] = &[
    ("diag", 0),
    ("par", 0),
    ("cidr", 1),
    ("port", 1),
    ("names", 1),
    ("proto", 1),
    ("model", 2),
    ("labfile", 3),
    ("reference", 3),
    ("decide", 4),
    ("reach", 4),
    ("ir", 5),
    ("matrix", 5),
    ("query", 5),
    ("target", 6),
    ("kernel", 7),
    ("proof", 8),
    ("testkit", 9),
    // Re-exports only, for `use labnet::error::…`.
    ("error", 9),
    ("tests", 9),
];

fn layer(m: &str) -> Option<u8> {
    LAYERS.iter().find(|(n, _)| *n == m).map(|(_, l)| *l)
}

fn visit(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            visit(&p, root, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            out.push((rel, std::fs::read_to_string(&p).unwrap()));
        }
    }
}

#[test]
fn no_module_imports_a_later_layer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    visit(&root, &root, &mut files);
    let mut bad = BTreeMap::new();
    for (rel, text) in &files {
        let module = rel.split(['/', '.']).next().unwrap();
        if module == "lib" {
            continue;
        }
        let own = layer(module)
            .unwrap_or_else(|| panic!("{rel}: module `{module}` has no layer in LAYERS"));
        // Test code of a module may use anything.
        let body = text.split("#[cfg(test)]").next().unwrap();
        // Doc comments may link anywhere; only code is a dependency.
        let code: String = body
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let body = code.as_str();
        for (i, _) in body.match_indices("crate::") {
            let used: String = body[i + 7..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if let Some(l) = layer(&used)
                && l > own
            {
                bad.entry(rel.clone()).or_insert_with(Vec::new).push(used);
            }
        }
    }
    assert!(bad.is_empty(), "imports that point back up: {bad:#?}");
    assert!(
        files.len() > 30,
        "found the sources ({} files)",
        files.len()
    );
}
