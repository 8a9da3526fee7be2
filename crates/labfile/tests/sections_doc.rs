//! docs/lab-file.md's table of who reads which section is labfile's own
//! registry, row for row.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[test]
fn the_documented_owners_are_the_registered_ones() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/lab-file.md"
    ))
    .unwrap();
    let start = doc
        .find("## Who reads which section")
        .expect("the section exists");
    let rows: Vec<(String, String)> = doc[start..]
        .lines()
        .skip_while(|l| !l.starts_with("| `"))
        .take_while(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let name = cells[1]
                .trim_matches('`')
                .trim_start_matches('[')
                .trim_end_matches(']');
            (
                name.trim_matches(['[', ']']).to_owned(),
                cells[2].to_owned(),
            )
        })
        .collect();
    let registered: Vec<(String, String)> = labfile::sections::SECTIONS
        .iter()
        .map(|s| (s.name.to_owned(), s.owner.to_owned()))
        .collect();
    assert_eq!(rows, registered);
}
