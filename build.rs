// Debian bookworm's libunwind-ptrace.so.0 calls liblzma (MiniDebugInfo) without a DT_NEEDED
// entry for it, and rust-lld (Rust's default linker since 1.90) rejects that; link it here.
fn main() {
    println!("cargo:rustc-link-lib=dylib=lzma");
    // libunwind's calls to sigprocmask come to the binary's own (src/sigprocmask.rs); the
    // library defines none, so programs linking it keep libc's.
    println!("cargo:rustc-link-arg-bins=-Wl,--export-dynamic-symbol=sigprocmask");
}
