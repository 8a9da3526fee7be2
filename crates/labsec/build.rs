//! Marks the tests that need sshd (Debian's openssh-server) and mount
//! namespaces ignored, with the reason, where they are missing.
fn main() {
    labkit_sysprobe::emit();
}
