//! Support for labkit's real-system tests: throwaway network namespaces and
//! the rule for when a missing system part skips a test.
//!
//! Tests that need root, `ip` or `nft` skip with a printed reason where those
//! are missing (so `cargo test --workspace` passes on any machine), unless
//! `LABKIT_REQUIRE_SYSTEM=1` is set, as the full test script sets it: then a
//! missing part fails the test instead of silently skipping it.

// Test support: a broken environment must fail the test loudly, not be handled.
#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

use std::io::Write as _;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// Prefix of every namespace these tests create; `scripts/test` removes stale ones.
pub const NETNS_PREFIX: &str = "labkit-t-";

/// Whether missing system parts must fail tests instead of skipping them.
#[must_use]
pub fn system_required() -> bool {
    std::env::var("LABKIT_REQUIRE_SYSTEM").is_ok_and(|v| v == "1")
}

/// Report a skip, or fail when the full suite requires the system part.
///
/// # Panics
/// When `LABKIT_REQUIRE_SYSTEM=1`, so a CI run cannot pass by skipping.
pub fn skip(test: &str, reason: &str) {
    assert!(
        !system_required(),
        "{test}: {reason}, and LABKIT_REQUIRE_SYSTEM=1 forbids skipping"
    );
    // libtest captures eprintln! of passing tests; a skip must be seen, so write
    // to the stderr handle, which the capture does not intercept.
    let _ = writeln!(std::io::stderr(), "SKIP {test}: {reason}");
}

fn runs(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Why network-namespace tests cannot run here, if they cannot.
#[must_use]
pub fn netns_unavailable() -> Option<String> {
    if !runs("ip", &["-V"]) {
        return Some("`ip` (iproute2) is not installed".into());
    }
    if !runs("nft", &["--version"]) {
        return Some("`nft` (nftables) is not installed".into());
    }
    let out = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&out.stdout).trim() != "0" {
        return Some("network namespaces need root".into());
    }
    None
}

/// A network namespace this test created; deleted on drop, also when the test panics.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl Netns {
    /// Create a fresh namespace.
    ///
    /// # Errors
    /// The reason it could not be created.
    pub fn new(tag: &str) -> Result<Self, String> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{NETNS_PREFIX}{}-{n}-{tag}", std::process::id());
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .map_err(|e| format!("cannot run ip: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "ip netns add {name}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Self { name })
    }

    /// The namespace's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Run a command inside the namespace, with optional standard input.
    ///
    /// # Panics
    /// If `ip netns exec` cannot be started at all.
    #[must_use]
    pub fn exec(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name])
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run ip netns exec: {e}"));
        if let (Some(data), Some(mut sin)) = (stdin, child.stdin.take()) {
            let _ = sin.write_all(data);
        }
        child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("ip netns exec failed: {e}"))
    }

    /// Run `nft` with a script or JSON file inside the namespace.
    #[must_use]
    pub fn nft_file(&self, flags: &[&str], content: &str) -> Output {
        let mut f = tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("tempfile: {e}"));
        f.write_all(content.as_bytes())
            .unwrap_or_else(|e| panic!("tempfile: {e}"));
        let path = f.path().to_string_lossy().into_owned();
        let mut args = vec!["nft"];
        args.extend_from_slice(flags);
        args.extend(["-f", path.as_str()]);
        self.exec(&args, None)
    }

    /// `nft -j list table ip NAME` inside the namespace.
    #[must_use]
    pub fn list_table_json(&self, table: &str) -> Output {
        self.exec(&["nft", "-j", "list", "table", "ip", table], None)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Make a namespace for `test`, or report the skip and return `None`.
#[must_use]
pub fn netns_or_skip(test: &str) -> Option<Netns> {
    if let Some(why) = netns_unavailable() {
        skip(test, &why);
        return None;
    }
    match Netns::new("t") {
        Ok(ns) => Some(ns),
        Err(e) => {
            skip(test, &e);
            None
        }
    }
}

/// Whether a command is installed (for optional tools such as iptables-restore).
#[must_use]
pub fn have(cmd: &str, probe: &[&str]) -> bool {
    runs(cmd, probe)
}

/// Standard error of a command, for assertion messages.
#[must_use]
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
