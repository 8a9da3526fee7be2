//! labsec's section of the lab file, `[security]`, read through labfile:
//! every problem at once, each with file:line, field, value and a hint.

use labfile::{Diagnostic, Document, Item, Sink, TableReader, quoted};

use crate::model::{AutoUpdates, Fail2ban, Security, SshPolicy};

/// The top-level sections labsec reads (see `labfile::sections`).
pub const LABSEC_SECTIONS: &[&str] = &["security"];

/// The jails labsec knows how to configure.
pub const JAILS: &[&str] = &["sshd", "docker-auth"];

fn strings(item: Item<'_>, sink: &mut Sink) -> Vec<String> {
    let path = item.path();
    let Some(a) = item.array(sink) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in a.elements() {
        match e.as_str() {
            Some(s) => out.push(s.to_owned()),
            None => sink.push(
                Diagnostic::error(format!("{path}[{}]", e.index()), "not a string")
                    .span(e.span())
                    .hint("write each as \"name\""),
            ),
        }
    }
    out
}

fn count(
    t: &mut TableReader<'_>,
    key: &'static str,
    range: std::ops::RangeInclusive<i64>,
    default: u32,
    sink: &mut Sink,
) -> u32 {
    let Some(f) = t.optional_integer(key, sink) else {
        return default;
    };
    if !range.contains(&f.value) {
        sink.push(
            Diagnostic::error(
                t.key_path(key),
                format!(
                    "{} is not from {} to {}",
                    f.value,
                    range.start(),
                    range.end()
                ),
            )
            .value(f.value.to_string())
            .span(f.span.unwrap_or(t.span()))
            .hint(format!("the baseline's value is {default}")),
        );
        return default;
    }
    u32::try_from(f.value).unwrap_or(default)
}

fn duration(t: &mut TableReader<'_>, key: &'static str, default: &str, sink: &mut Sink) -> String {
    let Some(f) = t.optional_str(key, sink) else {
        return default.to_owned();
    };
    let ok = {
        let v = f.value;
        let digits = v.trim_end_matches(['s', 'm', 'h', 'd', 'w']);
        !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && v.len() - digits.len() <= 1
    };
    if !ok {
        sink.push(
            Diagnostic::error(
                t.key_path(key),
                format!("{} is not a duration", quoted(f.value)),
            )
            .value(f.value)
            .span(f.span.unwrap_or(t.span()))
            .hint("a number and s, m, h, d or w, as fail2ban writes it: \"10m\", \"1h\""),
        );
        return default.to_owned();
    }
    f.value.to_owned()
}

/// Read `[security]` from `doc`. Problems go to `sink`; `None` when any was
/// an error. A missing section is the baseline's defaults.
pub fn read(doc: &Document, sink: &mut Sink) -> Option<Security> {
    let errors = sink.error_count();
    let mut ssh = SshPolicy {
        allow_groups: Vec::new(),
        max_auth_tries: 3,
        login_grace_time: 30,
    };
    let mut fail2ban = Fail2ban {
        bantime: "1h".to_owned(),
        findtime: "10m".to_owned(),
        maxretry: 5,
        jails: vec!["sshd".to_owned()],
    };
    let mut auto_updates = AutoUpdates::Security;
    if let Some(item) = doc.section("security") {
        let mut t = item.table(sink)?;
        if let Some(s) = t.optional("ssh").and_then(|i| i.table(sink)) {
            let mut s = s;
            if let Some(g) = s.optional("allow_groups") {
                ssh.allow_groups = strings(g, sink);
            }
            ssh.max_auth_tries = count(&mut s, "max_auth_tries", 1..=10, 3, sink);
            ssh.login_grace_time = count(&mut s, "login_grace_time", 1..=600, 30, sink);
            s.finish(sink);
        }
        if let Some(f) = t.optional("fail2ban").and_then(|i| i.table(sink)) {
            let mut f = f;
            fail2ban.bantime = duration(&mut f, "bantime", "1h", sink);
            fail2ban.findtime = duration(&mut f, "findtime", "10m", sink);
            fail2ban.maxretry = count(&mut f, "maxretry", 1..=100, 5, sink);
            if let Some(j) = f.optional("jails") {
                let path = j.path();
                let span = j.span();
                fail2ban.jails = strings(j, sink);
                for name in &fail2ban.jails {
                    if !JAILS.contains(&name.as_str()) {
                        sink.push(
                            Diagnostic::error(
                                path.clone(),
                                format!("{} is not a jail labsec knows", quoted(name)),
                            )
                            .value(name)
                            .span(span)
                            .hint("the jails are \"sshd\" and \"docker-auth\""),
                        );
                    }
                }
            }
            f.finish(sink);
        }
        if let Some(a) = t.optional_str("auto_updates", sink) {
            auto_updates = match a.value {
                "none" => AutoUpdates::None,
                "security" => AutoUpdates::Security,
                "all" => AutoUpdates::All,
                other => {
                    sink.push(
                        Diagnostic::error(
                            t.key_path("auto_updates"),
                            format!("{} is not none, security or all", quoted(other)),
                        )
                        .value(other)
                        .span(a.span.unwrap_or(t.span()))
                        .hint("the baseline is \"security\""),
                    );
                    AutoUpdates::Security
                }
            };
        }
        t.finish(sink);
    }
    (sink.error_count() == errors).then_some(Security {
        ssh,
        fail2ban,
        auto_updates,
    })
}
