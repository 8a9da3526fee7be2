//! Marks the tests that need restic ignored (with the reason) where it is missing.
fn main() {
    labkit_sysprobe::emit();
}
