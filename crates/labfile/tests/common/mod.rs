//! What the reader-against-reference tests share: walking a read value into
//! JSON, and printing a datetime the way labfile does so both sides compare.

use labfile::{Document, Item, Sink};
use serde_json::{Map, Value as Json};

/// `item` as JSON: arrays and tables walked here, every scalar given to `leaf`
/// (which returns `None` only for arrays and tables).
pub(crate) fn to_json(item: &Item<'_>, leaf: &impl Fn(&Item<'_>) -> Option<Json>) -> Json {
    if let Some(j) = leaf(item) {
        return j;
    }
    let mut sink = Sink::new();
    if item.is_array() {
        let a = item.clone().array(&mut sink).unwrap();
        return Json::Array(a.elements().map(|e| to_json(&e.item(), leaf)).collect());
    }
    let mut t = item.clone().table(&mut sink).unwrap();
    let mut m = Map::new();
    for (k, v) in t.entries() {
        m.insert(k.value.to_owned(), to_json(&v, leaf));
    }
    Json::Object(m)
}

/// A TOML datetime literal as labfile prints it, read with labfile itself.
pub(crate) fn datetime_text(literal: &str) -> String {
    let doc = Document::parse("datetime", format!("v = {literal}")).unwrap();
    doc.root()
        .table(&mut Sink::new())
        .unwrap()
        .entries()
        .next()
        .unwrap()
        .1
        .as_datetime()
        .unwrap()
        .to_string()
}
