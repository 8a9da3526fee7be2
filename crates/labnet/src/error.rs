//! Errors of labnet's library areas, gathered in one place for `use`: each
//! is defined by its area (`LoadError` by the shared labfile crate,
//! `QueryError` by [`crate::query`], `KernelError` and `ApplyError` by the
//! kernel modules).

pub use crate::query::QueryError;
pub use labfile::LoadError;
