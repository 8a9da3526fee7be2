//! Marks the tests that need restic ignored (with the reason) where it is
//! missing, and records the rustic_core version the lockfile pins, for drill
//! reports.
fn main() {
    labkit_sysprobe::emit();
    let lock = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let text = std::fs::read_to_string(&lock).unwrap_or_default();
    let version = text
        .split("[[package]]")
        .find(|p| p.contains("name = \"rustic_core\"\n"))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map_or("0.13", |v| v.trim_end_matches('"'));
    println!("cargo:rustc-env=LABBACKUP_RUSTIC_CORE={version}");
}
