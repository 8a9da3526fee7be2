//! labfile's TOML reader compared with the `toml` crate (the oracle) on
//! generated documents: whatever labfile accepts, `toml` reads to the same
//! values; documents written in many syntactic forms read the same in both;
//! and no input makes labfile panic.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use labfile::{Document, Item};
use proptest::prelude::*;
use serde_json::{Value as Json, json};

fn mine(item: &Item<'_>) -> Json {
    common::to_json(item, &|item| {
        if let Some(s) = item.as_str() {
            return Some(json!({"s": s}));
        }
        if let Some(i) = item.as_integer() {
            return Some(json!({"i": i}));
        }
        if let Some(f) = item.as_float() {
            return Some(json!({"f": f.to_bits()}));
        }
        if let Some(b) = item.as_bool() {
            return Some(json!({"b": b}));
        }
        Some(json!({"d": item.as_datetime()?.to_string()}))
    })
}

fn oracle(v: &toml::Value) -> Json {
    match v {
        // TOML lets a reader normalise the newlines of multi-line strings;
        // labfile turns CRLF into LF, toml keeps CRLF.
        toml::Value::String(s) => json!({"s": s.replace("\r\n", "\n")}),
        toml::Value::Integer(i) => json!({"i": i}),
        // NaN's sign and payload are not something either reader promises.
        toml::Value::Float(f) if f.is_nan() => json!({"f": f64::NAN.to_bits()}),
        toml::Value::Float(f) => json!({"f": f.to_bits()}),
        toml::Value::Boolean(b) => json!({"b": b}),
        // Canonicalised through labfile's own printing of the same value.
        toml::Value::Datetime(d) => json!({"d": common::datetime_text(&d.to_string())}),
        toml::Value::Array(a) => Json::Array(a.iter().map(oracle).collect()),
        toml::Value::Table(t) => {
            Json::Object(t.iter().map(|(k, v)| (k.clone(), oracle(v))).collect())
        }
    }
}

fn nan_blind(j: Json) -> Json {
    match j {
        Json::Object(m)
            if m.get("f")
                .is_some_and(|f| f64::from_bits(f.as_u64().unwrap_or(0)).is_nan()) =>
        {
            json!({"f": f64::NAN.to_bits()})
        }
        Json::Object(m) => Json::Object(m.into_iter().map(|(k, v)| (k, nan_blind(v))).collect()),
        Json::Array(a) => Json::Array(a.into_iter().map(nan_blind).collect()),
        other => other,
    }
}

fn agree(text: &str) -> Result<(), TestCaseError> {
    let Ok(doc) = Document::parse("gen.toml", text) else {
        return Ok(());
    };
    let ours = nan_blind(mine(&doc.root()));
    let theirs: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => {
            return Err(TestCaseError::fail(format!(
                "labfile accepted what toml refuses ({e}):\n{text}"
            )));
        }
    };
    prop_assert_eq!(
        ours,
        nan_blind(oracle(&toml::Value::Table(theirs))),
        "{}",
        text
    );
    Ok(())
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9_-]{0,6}",
        "[ -~é日]{0,5}".prop_map(|s| format!("{s:?}")),
        "[a-z ]{0,5}".prop_map(|s| format!("'{s}'")),
    ]
}

fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~é日\t]{0,12}".prop_map(|s| format!("{s:?}")),
        "[ -&(-~]{0,12}".prop_map(|s| format!("'{s}'")),
        "[ -~\n]{0,20}".prop_map(|s| format!(
            "\"\"\"\n{}\"\"\"",
            s.replace('\\', "\\\\").replace('"', "\\\"")
        )),
        "[ -&(-~\n]{0,20}".prop_map(|s| format!("'''{s}'''")),
        any::<i64>().prop_map(|i| i.to_string()),
        (0u32..0xffff).prop_map(|i| format!("0x{i:x}")),
        (0u32..0o7777).prop_map(|i| format!("0o{i:o}")),
        (1u32..1_000_000).prop_map(|i| {
            let s = i.to_string();
            s.chars()
                .enumerate()
                .map(|(k, c)| {
                    if k > 0 && k % 2 == 0 {
                        format!("_{c}")
                    } else {
                        c.to_string()
                    }
                })
                .collect()
        }),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:e}")),
        (-1000i32..1000, 0u32..1000).prop_map(|(a, b)| format!("{a}.{b:03}")),
        Just("inf".to_owned()),
        Just("-nan".to_owned()),
        any::<bool>().prop_map(|b| b.to_string()),
        (1900u16..2100, 1u8..13, 1u8..29, 0u8..24, 0u8..60, 0u8..60).prop_map(
            |(y, mo, d, h, mi, s)| { format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z") }
        ),
        (1900u16..2100, 1u8..13, 1u8..29).prop_map(|(y, mo, d)| format!("{y:04}-{mo:02}-{d:02}")),
        (0u8..24, 0u8..60, 0u8..60, 0u32..1000)
            .prop_map(|(h, mi, s, f)| format!("{h:02}:{mi:02}:{s:02}.{f:03}")),
    ]
}

fn value() -> impl Strategy<Value = String> {
    scalar().prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(|v| format!("[{}]", v.join(", "))),
            prop::collection::vec(inner.clone(), 1..4)
                .prop_map(|v| format!("[\n  {},\n]", v.join(",\n  # c\n  "))),
            prop::collection::vec((key(), inner), 0..4).prop_map(|kv| {
                let mut seen = std::collections::HashSet::new();
                let pairs: Vec<String> = kv
                    .into_iter()
                    .filter(|(k, _)| seen.insert(k.clone()))
                    .map(|(k, v)| format!("{k} = {v}"))
                    .collect();
                format!("{{ {} }}", pairs.join(", "))
            }),
        ]
    })
}

/// A document of key/value lines, dotted keys, [tables] and [[arrays of tables]].
fn document() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            (key(), value()).prop_map(|(k, v)| format!("{k} = {v} # note\n")),
            (key(), key(), value()).prop_map(|(a, b, v)| format!("{a}.{b} = {v}\n")),
            key().prop_map(|k| format!("\n[{k}]\n")),
            (key(), key()).prop_map(|(a, b)| format!("[ {a} . {b} ]\n")),
            key().prop_map(|k| format!("[[{k}]]\n")),
        ],
        0..12,
    )
    .prop_map(|lines| lines.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn generated_documents_read_the_same_as_the_oracle(text in document()) {
        agree(&text)?;
    }

    #[test]
    fn mutated_documents_never_panic_and_never_disagree(
        text in document(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), prop_oneof![Just(""), Just("\""), Just("'"), Just("["), Just("]"), Just("{"), Just("}"), Just("="), Just("."), Just(","), Just("\n"), Just("\\"), Just("#"), Just(" "), Just("\r"), Just("0"), Just("-"), Just(":")]), 1..4),
    ) {
        let mut t = text;
        for (ix, ins) in edits {
            let mut at = ix.index(t.len() + 1);
            while !t.is_char_boundary(at) {
                at -= 1;
            }
            if ins.is_empty() && at < t.len() {
                let next = t[at..].chars().next().map_or(1, char::len_utf8);
                t.replace_range(at..at + next, "");
            } else {
                t.insert_str(at, ins);
            }
        }
        agree(&t)?;
    }

    #[test]
    fn documents_the_oracle_writes_read_the_same(text in document()) {
        // toml's own serialisation of a document: another syntactic style.
        if let Ok(t) = text.parse::<toml::Table>() && let Ok(out) = toml::to_string(&t) {
            agree(&out)?;
        }
    }
}
