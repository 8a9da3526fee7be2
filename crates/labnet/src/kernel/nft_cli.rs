//! The `nft` program: the fallback loader, and how labnet reads the kernel's
//! ruleset back (`nft list`, which prints what netlink holds).

use super::KernelError;
use super::netns::Netns;

/// Run `nft ARGS` in `ns` with `stdin` as input; stdout on success.
///
/// # Errors
/// `nft` is missing, or it failed (its stderr is in the error).
pub fn run(ns: &Netns, args: &[&str], stdin: Option<&str>) -> Result<String, KernelError> {
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    super::tool::run(ns, "nft", "nftables", &args, stdin)
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
