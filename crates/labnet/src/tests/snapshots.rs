//! Golden output for the reference lab. The fixtures are this crate's own
//! output, reviewed by hand and checked against `nft -c`, `nft -j -c` and
//! `iptables-restore --test` by the tests in `tests/` (labkit-tests).

use crate::matrix::Matrix;
use crate::reference::file as builtin;
use crate::target::{CompileOptions, TableName, Target, compile};

fn reference(target: Target) -> String {
    compile(
        builtin().lab(),
        &CompileOptions {
            target,
            table: TableName::default(),
        },
    )
}

#[test]
fn reference_nft() {
    insta::assert_snapshot!("reference.nft", reference(Target::Nft));
}

#[test]
fn reference_nft_json() {
    insta::assert_snapshot!("reference.nft.json", reference(Target::NftJson));
}

#[test]
fn reference_iptables() {
    insta::assert_snapshot!("reference.iptables", reference(Target::Iptables));
}

#[test]
fn reference_matrix() {
    let m = Matrix::for_file(&builtin());
    insta::assert_snapshot!("reference.matrix.txt", m.to_text());
    insta::assert_snapshot!("reference.matrix.md", m.to_markdown());
}
