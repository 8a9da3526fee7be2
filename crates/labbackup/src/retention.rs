//! Which snapshots a retention policy keeps, and why: restic's reading of
//! `--keep-last/hourly/daily/weekly/monthly/yearly`, in one pass.
//!
//! labbackup decides this itself rather than through rustic_core's
//! `KeepOptions`, because rustic_core 0.13 buckets weeks by calendar year and
//! ISO week number, so two days of one ISO week that straddles New Year
//! (Tuesday 30 December 2025 and Friday 2 January 2026, both ISO 2026-W01)
//! count as two weeks; restic counts one. Tests compare this with restic
//! itself and with a plain per-bucket reading of the policy.

use jiff::Zoned;
use serde::Serialize;

use crate::model::Retention;

/// A snapshot to decide about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Candidate {
    /// Its id.
    pub id: String,
    /// When it was taken, in the zone it was taken in (buckets are that zone's days).
    pub time: Zoned,
}

impl Candidate {
    /// A snapshot `id` taken at `time`.
    #[must_use]
    pub fn new(id: impl Into<String>, time: Zoned) -> Self {
        Self {
            id: id.into(),
            time,
        }
    }
}

/// The decision about one snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Decision {
    /// The snapshot.
    pub id: String,
    /// When it was taken.
    pub time: String,
    /// Kept (else forgotten).
    pub keep: bool,
    /// The rules that keep it (`daily 3` is the third day kept), empty when forgotten.
    pub reasons: Vec<String>,
}

/// A snapshot's bucket under one rule, from its time and its place (newest first).
type Bucket = fn(&Zoned, usize) -> i64;

/// The rules, in restic's order, each with its bucket: snapshots in one
/// bucket count once, the newest of them is kept.
pub(crate) fn rules(r: &Retention) -> [(&'static str, u32, Bucket); 6] {
    [
        ("last", r.last, |_, nr| nr as i64),
        ("hourly", r.hourly, |t, _| {
            i64::from(t.year()) * 1_000_000
                + i64::from(t.month()) * 10_000
                + i64::from(t.day()) * 100
                + i64::from(t.hour())
        }),
        ("daily", r.daily, |t, _| {
            i64::from(t.year()) * 10_000 + i64::from(t.month()) * 100 + i64::from(t.day())
        }),
        ("weekly", r.weekly, |t, _| {
            let w = t.date().iso_week_date();
            i64::from(w.year()) * 100 + i64::from(w.week())
        }),
        ("monthly", r.monthly, |t, _| {
            i64::from(t.year()) * 100 + i64::from(t.month())
        }),
        ("yearly", r.yearly, |t, _| i64::from(t.year())),
    ]
}

/// Decide every snapshot of one set, newest first.
#[must_use]
pub fn decide(r: &Retention, snapshots: &[Candidate]) -> Vec<Decision> {
    let mut sorted: Vec<&Candidate> = snapshots.iter().collect();
    sorted.sort_by(|a, b| {
        b.time
            .timestamp()
            .cmp(&a.time.timestamp())
            .then_with(|| a.id.cmp(&b.id))
    });
    let rules = rules(r);
    let mut left: Vec<u32> = rules.iter().map(|r| r.1).collect();
    let mut last: Vec<Option<i64>> = vec![None; rules.len()];
    let mut kept_of: Vec<u32> = vec![0; rules.len()];
    sorted
        .iter()
        .enumerate()
        .map(|(nr, c)| {
            let mut reasons = Vec::new();
            for (i, (name, _, bucket)) in rules.iter().enumerate() {
                if left[i] == 0 {
                    continue;
                }
                let b = bucket(&c.time, nr);
                if last[i] != Some(b) {
                    last[i] = Some(b);
                    left[i] -= 1;
                    kept_of[i] += 1;
                    reasons.push(format!("{name} {}", kept_of[i]));
                }
            }
            Decision {
                id: c.id.clone(),
                time: c.time.timestamp().to_string(),
                keep: !reasons.is_empty(),
                reasons,
            }
        })
        .collect()
}
