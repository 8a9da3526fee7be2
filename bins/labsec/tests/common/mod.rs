//! What the labsec binary's tests share: the lab file's `[security]`, a
//! fixture tree copied into a scratch root, and running the binary.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The issue's `[security]` section.
pub(crate) const SECURITY: &str = r#"
[security]
ssh = { allow_groups = ["lab-admins"], max_auth_tries = 3, login_grace_time = 30 }
fail2ban = { bantime = "1h", findtime = "10m", maxretry = 5, jails = ["sshd", "docker-auth"] }
auto_updates = "security"
"#;

/// Copy `from` into `to`, every file 0600 (git keeps only the execute bit).
pub(crate) fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap();
            std::fs::set_permissions(&t, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }
}

/// The fixture `name` in a scratch root, and the reference lab with
/// `[security]`: (guard, root, lab file).
pub(crate) fn tree(name: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("root");
    copy(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
        &root,
    );
    let lab = d.path().join("lab.toml");
    std::fs::write(&lab, format!("{}{SECURITY}", labnet::reference::TOML)).unwrap();
    (d, root, lab)
}

/// Run the labsec binary.
pub(crate) fn labsec(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_labsec"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}
