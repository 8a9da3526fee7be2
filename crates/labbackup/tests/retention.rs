//! The retention policy: a hand-counted two-year timeline, a property test
//! against a plain per-bucket reading, restic 0.14's own `forget --dry-run`,
//! and the New Year week on which rustic_core's `KeepOptions` differs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use jiff::Zoned;
use labbackup::Retention;
use labbackup::retention::{Candidate, decide};
use proptest::prelude::*;

mod common;

fn at(s: &str) -> Zoned {
    format!("{s}[UTC]").parse().unwrap()
}

fn retention(
    last: u32,
    hourly: u32,
    daily: u32,
    weekly: u32,
    monthly: u32,
    yearly: u32,
) -> Retention {
    let mut r = Retention::default();
    (r.last, r.hourly, r.daily, r.weekly, r.monthly, r.yearly) =
        (last, hourly, daily, weekly, monthly, yearly);
    r
}

#[test]
fn two_years_of_nightly_snapshots_keep_the_procedures_19() {
    // One snapshot at 02:00 UTC every night for 730 nights, the last on Tuesday 2026-12-01.
    let end = at("2026-12-01T02:00:00");
    let snaps: Vec<Candidate> = (0..730)
        .map(|d| {
            let t = end.checked_sub(jiff::Span::new().days(d)).unwrap();
            Candidate::new(t.date().to_string(), t)
        })
        .collect();
    let kept: Vec<String> = decide(&retention(0, 0, 7, 4, 12, 0), &snaps)
        .into_iter()
        .filter(|d| d.keep)
        .map(|d| d.id)
        .collect();
    // Counted by hand: 7 days; ISO weeks 49 and 48 are in them, 47 and 46 add
    // their Sundays; 12 months, of which December and November are in them.
    assert_eq!(
        kept,
        [
            "2026-12-01",
            "2026-11-30",
            "2026-11-29",
            "2026-11-28",
            "2026-11-27",
            "2026-11-26",
            "2026-11-25",
            "2026-11-22",
            "2026-11-15",
            "2026-10-31",
            "2026-09-30",
            "2026-08-31",
            "2026-07-31",
            "2026-06-30",
            "2026-05-31",
            "2026-04-30",
            "2026-03-31",
            "2026-02-28",
            "2026-01-31",
        ]
    );
    let d = decide(&retention(0, 0, 7, 4, 12, 0), &snaps);
    assert_eq!(d[0].reasons, ["daily 1", "weekly 1", "monthly 1"]);
    assert_eq!(
        (d[9].id.as_str(), d[9].reasons.clone()),
        ("2026-11-22", vec!["weekly 3".to_owned()])
    );
}

/// The plain reading: for each rule, group by bucket, take the N buckets with
/// the newest snapshots, keep each one's newest.
fn oracle(r: &Retention, snaps: &[(String, Zoned)]) -> BTreeSet<String> {
    let key = |rule: &str, t: &Zoned, id: &str| -> String {
        match rule {
            "last" => id.to_owned(),
            "hourly" => t.strftime("%Y-%m-%d %H").to_string(),
            "daily" => t.strftime("%Y-%m-%d").to_string(),
            "weekly" => {
                let w = t.date().iso_week_date();
                format!("{}-W{}", w.year(), w.week())
            }
            "monthly" => t.strftime("%Y-%m").to_string(),
            _ => t.strftime("%Y").to_string(),
        }
    };
    let mut keep = BTreeSet::new();
    for (rule, n) in [
        ("last", r.last),
        ("hourly", r.hourly),
        ("daily", r.daily),
        ("weekly", r.weekly),
        ("monthly", r.monthly),
        ("yearly", r.yearly),
    ] {
        let mut newest: BTreeMap<String, (jiff::Timestamp, String)> = BTreeMap::new();
        for (id, t) in snaps {
            let k = key(rule, t, id);
            let e = newest.entry(k).or_insert((t.timestamp(), id.clone()));
            if (t.timestamp(), std::cmp::Reverse(id.clone()))
                > (e.0, std::cmp::Reverse(e.1.clone()))
            {
                *e = (t.timestamp(), id.clone());
            }
        }
        let mut buckets: Vec<(jiff::Timestamp, String)> = newest.into_values().collect();
        buckets.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        keep.extend(buckets.into_iter().take(n as usize).map(|(_, id)| id));
    }
    keep
}

proptest! {
    #[test]
    fn decide_agrees_with_the_plain_reading(
        offsets in proptest::collection::btree_set(0i64..(2 * 366 * 24 * 3600), 0..60),
        r in (0u32..4, 0u32..4, 0u32..10, 0u32..6, 0u32..14, 0u32..3),
    ) {
        let start = at("2024-12-20T00:00:00").timestamp();
        let snaps: Vec<(String, Zoned)> = offsets
            .iter()
            .enumerate()
            .map(|(i, o)| (format!("s{i:03}"), (start + jiff::Span::new().seconds(*o)).to_zoned(jiff::tz::TimeZone::UTC)))
            .collect();
        let ret = retention(r.0, r.1, r.2, r.3, r.4, r.5);
        let cands: Vec<Candidate> = snaps.iter().map(|(id, t)| Candidate::new(id.clone(), t.clone())).collect();
        let got: BTreeSet<String> = decide(&ret, &cands).into_iter().filter(|d| d.keep).map(|d| d.id).collect();
        prop_assert_eq!(got, oracle(&ret, &snaps));
    }
}

#[test]
fn the_new_year_week_is_one_week_as_restic_counts_it() {
    // Sat 2025-12-27 is ISO 2025-W52; Tue 2025-12-30 and Fri 2026-01-02 are both 2026-W01.
    let snaps = [
        ("a", "2025-12-27T02:00:00"),
        ("b", "2025-12-30T02:00:00"),
        ("c", "2026-01-02T02:00:00"),
    ];
    let cands: Vec<Candidate> = snaps
        .iter()
        .map(|(id, t)| Candidate::new(*id, at(t)))
        .collect();
    let kept: Vec<String> = decide(&retention(0, 0, 0, 2, 0, 0), &cands)
        .into_iter()
        .filter(|d| d.keep)
        .map(|d| d.id)
        .collect();
    assert_eq!(kept, ["c", "a"]);

    // rustic_core 0.13's KeepOptions counts b's week apart from c's (the calendar
    // years differ), so it keeps b instead of a: why labbackup decides itself.
    let files: Vec<rustic_core::repofile::SnapshotFile> = snaps
        .iter()
        .map(|(_, t)| rustic_core::repofile::SnapshotFile {
            time: at(t),
            ..Default::default()
        })
        .collect();
    let mut keep = rustic_core::KeepOptions::default();
    keep.keep_weekly = Some(2);
    let out = keep.apply(files, &at("2026-01-03T00:00:00")).unwrap();
    let rustic_kept: Vec<String> = out
        .iter()
        .filter(|f| f.keep)
        .map(|f| f.snapshot.time.date().to_string())
        .collect();
    assert_eq!(
        rustic_kept,
        ["2026-01-02", "2025-12-30"],
        "if this changes, rustic_core now counts ISO weeks as restic does"
    );
}

/// restic 0.14 decides the same, on a repository whose snapshots it wrote
/// with forged times around New Year and over months.
#[test]
#[cfg_attr(not(labkit_restic), ignore = "needs restic (Debian package restic)")]
fn restic_forgets_exactly_what_labbackup_would() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, pass, src) = (
        dir.path().join("repo"),
        dir.path().join("pass"),
        dir.path().join("src"),
    );
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("f"), "x").unwrap();
    std::fs::write(&pass, "pw\n").unwrap();
    let restic = |args: &[&str]| {
        let o = common::restic(&repo, &pass, args);
        assert!(
            o.status.success(),
            "restic {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        o.stdout
    };
    restic(&["init"]);
    let times = [
        "2025-10-30 02:00:00",
        "2025-11-28 23:30:00",
        "2025-12-01 02:00:00",
        "2025-12-27 02:00:00",
        "2025-12-28 02:00:00",
        "2025-12-29 01:00:00",
        "2025-12-30 02:00:00",
        "2025-12-31 23:59:00",
        "2026-01-01 00:01:00",
        "2026-01-02 02:00:00",
        "2026-01-02 14:00:00",
        "2026-01-04 02:00:00",
        "2026-01-05 02:00:00",
    ];
    for t in times {
        restic(&[
            "backup",
            "-q",
            "--tag",
            "configs",
            "--host",
            "h",
            "--time",
            t,
            src.to_str().unwrap(),
        ]);
    }
    let lab = common::lab(&repo, &pass, &src, None);
    let cands = labbackup::repo::Repo::new(&lab)
        .unwrap()
        .candidates("configs")
        .unwrap();
    assert_eq!(cands.len(), times.len());
    for (r, flags) in [
        (
            retention(0, 0, 3, 2, 0, 0),
            vec!["--keep-daily", "3", "--keep-weekly", "2"],
        ),
        (
            retention(2, 0, 0, 0, 3, 1),
            vec![
                "--keep-last",
                "2",
                "--keep-monthly",
                "3",
                "--keep-yearly",
                "1",
            ],
        ),
        (
            retention(0, 2, 0, 4, 0, 0),
            vec!["--keep-hourly", "2", "--keep-weekly", "4"],
        ),
    ] {
        let mut args = vec!["forget", "--dry-run", "--json"];
        args.extend(flags.iter().copied());
        let out: serde_json::Value = serde_json::from_slice(&restic(&args)).unwrap();
        let restic_keep: BTreeSet<String> = out[0]["keep"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect();
        let ours: BTreeSet<String> = decide(&r, &cands)
            .into_iter()
            .filter(|d| d.keep)
            .map(|d| d.id)
            .collect();
        assert_eq!(ours, restic_keep, "{flags:?}");
    }
}
