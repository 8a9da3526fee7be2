//! Marks the tests that need restic, rclone, systemd-analyze or a Docker
//! Engine ignored (with the reason) where they are missing.
fn main() {
    labkit_sysprobe::emit();
}
