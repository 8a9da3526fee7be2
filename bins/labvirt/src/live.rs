//! The commands that talk to libvirt: plan, apply, status, destroy, migrate-default.

use anyhow::Result;
use labcli::Output;

use crate::Target;

/// Which live command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Live {
    Plan,
    Apply,
    Status,
    Destroy,
    MigrateDefault,
}

#[cfg(not(feature = "libvirt"))]
pub(crate) fn run(_which: Live, _target: &Target, out: &Output) -> Result<u8> {
    out.error("this labvirt was built without libvirt support (the cargo feature `libvirt` is not enabled in this build)");
    out.hint("rebuild with --features libvirt (needs libvirt-dev), or plan against an empty host with `labvirt plan --offline`");
    Ok(crate::EXIT_USAGE)
}

#[cfg(feature = "libvirt")]
pub(crate) fn run(which: Live, target: &Target, out: &Output) -> Result<u8> {
    use anyhow::Context as _;
    use labcli::data;
    use labvirt::host::Libvirt;

    use crate::{EXIT_FAIL, EXIT_OK, Format, json, render};

    let lab = match crate::load(target.lab.as_deref(), out)? {
        Ok(l) => l,
        Err(c) => return Ok(c),
    };
    let uri = target.uri.clone().unwrap_or_else(|| lab.host.uri.clone());
    let host = match Libvirt::open(&uri) {
        Ok(h) => h,
        Err(e) => {
            out.error(&format!("{:#}", anyhow::Error::new(e)));
            out.hint("is libvirtd running and its socket reachable? set the lab's host uri, or pass --uri");
            return Ok(crate::EXIT_USAGE);
        }
    };
    let mut progress = |s: &str| out.note(&format!("  {s}"));
    match which {
        Live::Plan | Live::Apply => {
            let planned = host.plan(&lab).context("cannot plan")?;
            if let Some(n) = &planned.choice.note {
                out.note(&format!("note: {n}"));
            }
            if which == Live::Plan || !planned.plan.is_applicable() {
                match target.format {
                    Format::Json => json(&planned.plan)?,
                    Format::Text => data(&render::plan(&planned.plan))?,
                }
                if !planned.plan.is_applicable() {
                    out.error("the plan cannot be applied; nothing was changed");
                    return Ok(EXIT_FAIL);
                }
                return Ok(EXIT_OK);
            }
            if planned.plan.is_noop() {
                match target.format {
                    Format::Json => json(&labvirt::host::ApplyReport::default())?,
                    Format::Text => data("nothing to do: the host holds the lab\n")?,
                }
                return Ok(EXIT_OK);
            }
            out.note(&format!("applying lab {} to {uri}", lab.name()));
            let report = host
                .apply(&planned, &mut progress)
                .context("apply stopped")?;
            match target.format {
                Format::Json => json(&report)?,
                Format::Text => data(&render::applied(&report))?,
            }
            Ok(EXIT_OK)
        }
        Live::Status => {
            let st = host.status(&lab)?;
            match target.format {
                Format::Json => json(&st)?,
                Format::Text => data(&render::status(&st))?,
            }
            Ok(EXIT_OK)
        }
        Live::Destroy => {
            let report = host.destroy(&lab, &mut progress)?;
            match target.format {
                Format::Json => json(&report)?,
                Format::Text => data(&if report.is_empty() {
                    "nothing of this lab's is defined\n".to_owned()
                } else {
                    render::applied(&report)
                })?,
            }
            Ok(EXIT_OK)
        }
        Live::MigrateDefault => {
            let report = match host.migrate_default(&lab, &mut progress) {
                Ok(r) => r,
                Err(e @ labvirt::host::HostError::NotRunning { .. }) => {
                    out.error(&e.to_string());
                    out.hint(
                        "apply the lab first: `labvirt apply` defines and starts its networks",
                    );
                    return Ok(crate::EXIT_FAIL);
                }
                Err(e) => return Err(e.into()),
            };
            match target.format {
                Format::Json => json(&report)?,
                Format::Text => data(&render::migrated(&report))?,
            }
            Ok(EXIT_OK)
        }
    }
}
