//! Fuzz labfile's TOML reader on raw bytes: any input comes back as a
//! document or as located diagnostics (rendered without panicking), never a
//! panic, and a document can be walked end to end.

#![no_main]

use labfile::{Item, Sink, Style};
use libfuzzer_sys::fuzz_target;

fn walk(item: &Item<'_>, sink: &mut Sink, depth: usize) {
    assert!(depth < 200, "nesting is bounded by the reader");
    if item.is_array() {
        if let Some(a) = item.clone().array(sink) {
            for e in a.elements() {
                walk(&e.item(), sink, depth + 1);
            }
        }
    } else if item.is_table() {
        if let Some(mut t) = item.clone().table(sink) {
            let items: Vec<_> = t.entries().map(|(_, v)| v).collect();
            for v in items {
                walk(&v, sink, depth + 1);
            }
        }
    } else {
        let _ = (item.as_str(), item.as_integer(), item.as_float(), item.raw());
    }
}

fuzz_target!(|data: &[u8]| {
    match labfile::parse_bytes("fuzz.toml", data.to_vec()) {
        Ok(doc) => {
            let mut sink = Sink::new();
            walk(&doc.root(), &mut sink, 0);
            doc.finish(&mut sink);
            let _ = sink.into_diagnostics(doc.source().clone()).render(&Style::plain());
        }
        Err(d) => {
            assert!(d.has_errors());
            let shown = d.render(&Style::plain());
            assert!(shown.len() < 16 * 1024, "a diagnostic stays short");
            let _ = d.to_string();
        }
    }
});
