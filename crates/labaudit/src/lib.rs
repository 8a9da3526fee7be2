//! What labkit's audits (labdocker's and labsec's) share: one severity
//! scale, with its names, its SARIF level, the score GitHub code scanning
//! reads, and its weight in a run's score; and the SARIF 2.1.0 envelope
//! around an audit's rules and results. Each audit keeps its own checks and
//! findings, whose fields differ.

use serde::Serialize;
use serde_json::{Value, json};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Hardening.
    Low,
    /// A real weakness.
    Medium,
    /// A way in, or out of a container.
    High,
    /// Open: root on the host for whoever asks.
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Self; 5] = [
        Self::Info,
        Self::Low,
        Self::Medium,
        Self::High,
        Self::Critical,
    ];

    /// Its name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }

    /// SARIF's level for it.
    #[must_use]
    pub fn sarif_level(self) -> &'static str {
        match self {
            Self::Info => "note",
            Self::Low | Self::Medium => "warning",
            Self::High | Self::Critical => "error",
        }
    }

    /// The `security-severity` score GitHub code scanning reads.
    #[must_use]
    pub fn security_score(self) -> &'static str {
        match self {
            Self::Info => "0.0",
            Self::Low => "3.0",
            Self::Medium => "5.5",
            Self::High => "8.0",
            Self::Critical => "9.5",
        }
    }

    /// Points a failed check of this severity takes off a run's score.
    #[must_use]
    pub fn weight(self) -> u32 {
        match self {
            Self::Info => 0,
            Self::Low => 1,
            Self::Medium => 3,
            Self::High => 7,
            Self::Critical => 10,
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not a severity (info, low, medium, high, critical)"))
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A SARIF 2.1.0 log of one run of `tool` (at `version`) with its `rules`
/// and `results`.
#[must_use]
pub fn sarif(tool: &str, version: &str, rules: Vec<Value>, results: Vec<Value>) -> Value {
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": tool,
                "version": version,
                "informationUri": "https://example.invalid/labkit",
                "rules": Value::Array(rules),
            }},
            "results": Value::Array(results),
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::Severity;

    #[test]
    fn names_order_and_parsing() {
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Info);
        for s in Severity::ALL {
            assert_eq!(s.as_str().parse::<Severity>(), Ok(s));
        }
        assert!("urgent".parse::<Severity>().is_err());
        assert_eq!(Severity::Medium.sarif_level(), "warning");
    }
}
