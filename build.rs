// Debian bookworm's libunwind-ptrace.so.0 calls liblzma (MiniDebugInfo) without a DT_NEEDED
// entry for it, and rust-lld (Rust's default linker since 1.90) rejects that; link it here.
fn main() {
    println!("cargo:rustc-link-lib=dylib=lzma");
    // libunwind's calls to sigprocmask come to ours (src/tracer/sigmask.rs).
    println!("cargo:rustc-link-arg-bins=-Wl,--export-dynamic-symbol=sigprocmask");
}
