//! Support for labkit's real-system tests: throwaway network namespaces.
//!
//! Tests that need root and system programs carry
//! `#[cfg_attr(not(labkit_netns), ignore = "needs root, ip (iproute2) and nft (nftables)")]`;
//! the build script (labkit-sysprobe) sets `labkit_netns` where they can run.
//! So on a machine without them `cargo test` reports them *ignored*, never
//! passed, and `scripts/test` runs them all with `--include-ignored`. A test
//! that runs and finds its system part missing fails, with the reason.

// Test support: a broken environment must fail the test loudly, not be handled.
#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

use std::io::Write as _;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// Prefix of every namespace these tests create; `scripts/test` removes stale ones.
pub const NETNS_PREFIX: &str = "labkit-t-";

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

/// Fail the test, with the reason, if namespaces cannot be used here.
///
/// # Panics
/// When root, `ip` or `nft` is missing: a test that runs must be able to.
pub fn require_netns() {
    if let Some(why) = netns_unavailable() {
        panic!("this test needs network namespaces: {why}");
    }
}

/// A fresh namespace for a test.
///
/// # Panics
/// When namespaces cannot be used or made.
#[must_use]
pub fn netns() -> Netns {
    require_netns();
    Netns::new("t").unwrap_or_else(|e| panic!("cannot make a namespace: {e}"))
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

pub mod dockerd;
pub mod guest;
pub mod libvirtd;
