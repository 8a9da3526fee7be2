//! The built-in reference lab: the one way to it, as text, as a file and as a lab.

use crate::labfile::{self, BUILTIN_NAME, LabFile};
use crate::model::Lab;

/// The reference lab as lab-file text (also shipped as `examples/aws-vpc.toml`).
pub const TOML: &str = include_str!("reference.toml");

/// The reference lab with its source text.
///
/// ```
/// let file = labnet::reference::file();
/// assert_eq!(file.lab().info().name.as_str(), "aws-sim");
/// ```
#[must_use]
pub fn file() -> LabFile {
    match labfile::parse(BUILTIN_NAME, TOML) {
        Ok(f) => f,
        // The text is a constant checked by the tests; this arm is unreachable
        // in a released build, and an empty-policy lab is not a safe stand-in.
        #[allow(clippy::panic)]
        Err(e) => panic!(
            "the built-in reference lab is invalid:\n{}",
            e.render(&crate::diag::Style::plain())
        ),
    }
}

/// The reference lab.
#[must_use]
pub fn lab() -> Lab {
    file().into_lab()
}
