//! labnet's own tests: properties, lab-file diagnostics, snapshots, queries.

mod labfile_errors;
mod layers;
mod properties;
mod queries;
mod snapshots;
mod threads;
