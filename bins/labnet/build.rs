//! Marks the real-system tests ignored (with the reason) where this machine
//! cannot run them; see labkit-sysprobe.
fn main() {
    labkit_sysprobe::emit();
}
