//! The `nft` program: the fallback loader, and how labnet reads the kernel's
//! ruleset back (`nft list`, which prints what netlink holds).

use std::io::Write as _;
use std::process::{Command, Stdio};

use super::KernelError;
use super::netns::Netns;

/// Run `nft ARGS` in `ns` with `stdin` as input; stdout on success.
///
/// # Errors
/// `nft` is missing, or it failed (its stderr is in the error).
pub fn run(ns: &Netns, args: &[&str], stdin: Option<&str>) -> Result<String, KernelError> {
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    let input = stdin.map(str::to_owned);
    ns.run(move || {
        let mut child = Command::new("nft")
            .args(&args)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| KernelError::Tool {
                tool: "nft".into(),
                what: "cannot run nft (install the nftables package)".into(),
                source: Some(e),
            })?;
        if let (Some(text), Some(mut w)) = (input, child.stdin.take()) {
            w.write_all(text.as_bytes())
                .map_err(|e| KernelError::Tool {
                    tool: "nft".into(),
                    what: "cannot write the ruleset to nft".into(),
                    source: Some(e),
                })?;
        }
        let out = child.wait_with_output().map_err(|e| KernelError::Tool {
            tool: "nft".into(),
            what: "nft did not finish".into(),
            source: Some(e),
        })?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(KernelError::Tool {
                tool: "nft".into(),
                what: format!(
                    "nft {} failed: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
                source: None,
            })
        }
    })?
}

/// Load an `nft -f` script (one transaction).
///
/// # Errors
/// As [`run`].
pub fn load(ns: &Netns, script: &str) -> Result<(), KernelError> {
    run(ns, &["-f", "-"], Some(script)).map(drop)
}

/// `nft list table ip TABLE`, or `None` when the table does not exist.
///
/// # Errors
/// As [`run`], except for a missing table.
pub fn list_table(ns: &Netns, table: &str) -> Result<Option<String>, KernelError> {
    match run(ns, &["list", "table", "ip", table], None) {
        Ok(s) => Ok(Some(s)),
        Err(KernelError::Tool { what, .. }) if what.contains("No such file or directory") => {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// `nft list ruleset`.
///
/// # Errors
/// As [`run`].
pub fn list_ruleset(ns: &Netns) -> Result<String, KernelError> {
    run(ns, &["list", "ruleset"], None)
}
