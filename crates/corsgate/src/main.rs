//! The `corsgate` command (work in progress).
fn main() {
    println!("corsgate {}", env!("CARGO_PKG_VERSION"));
}
