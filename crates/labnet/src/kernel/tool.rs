//! Running a firewall program (`nft`, `iptables`) inside a namespace.

use std::io::Write as _;
use std::process::{Command, Stdio};

use super::KernelError;
use super::netns::Netns;

/// Run `program ARGS` in `ns`, feeding `stdin`; its stdout on success.
/// `package` is the Debian package to name when the program is missing.
///
/// # Errors
/// The program is missing, or it failed (its stderr is in the error).
pub fn run(
    ns: &Netns,
    program: &str,
    package: &str,
    args: &[String],
    stdin: Option<&str>,
) -> Result<String, KernelError> {
    let err = |what: String, source| KernelError::Tool {
        tool: program.into(),
        what,
        source,
    };
    ns.run(|| {
        let mut child = Command::new(program)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                err(
                    format!("cannot run {program} (install the {package} package)"),
                    Some(e),
                )
            })?;
        if let (Some(text), Some(mut w)) = (stdin, child.stdin.take()) {
            w.write_all(text.as_bytes())
                .map_err(|e| err(format!("cannot write the input of {program}"), Some(e)))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| err(format!("{program} did not finish"), Some(e)))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(err(
                format!(
                    "{program} {} failed: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
                None,
            ))
        }
    })?
}
