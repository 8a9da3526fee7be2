//! The validated `[security]` section.

use serde::Serialize;

/// What SSH must look like.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SshPolicy {
    /// Groups allowed to log in (sshd's `AllowGroups`).
    pub allow_groups: Vec<String>,
    /// Most authentication attempts per connection.
    pub max_auth_tries: u32,
    /// Seconds to log in.
    pub login_grace_time: u32,
}

/// fail2ban's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Fail2ban {
    /// How long a ban lasts (fail2ban's time syntax, `1h`).
    pub bantime: String,
    /// The window failures are counted in.
    pub findtime: String,
    /// Failures before a ban.
    pub maxretry: u32,
    /// Jails: `sshd`, `docker-auth`.
    pub jails: Vec<String>,
}

/// Which updates install themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum AutoUpdates {
    /// None.
    None,
    /// Security updates only.
    Security,
    /// All updates.
    All,
}

/// The `[security]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Security {
    /// SSH.
    pub ssh: SshPolicy,
    /// fail2ban.
    pub fail2ban: Fail2ban,
    /// Automatic updates.
    pub auto_updates: AutoUpdates,
}
