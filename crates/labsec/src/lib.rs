//! labsec: the lab's security baseline.
//!
//! Begun (issue 11): [`sshd`], sshd's effective configuration computed as
//! OpenSSH's `servconf.c` does (Include with globs and relative paths,
//! first value wins, Match blocks for a connection), for trees where
//! `sshd -T` cannot run; held against the real `sshd -T` by a differential
//! test. The `[security]` section, the audit's checks, and `harden` follow.

pub mod sshd;
