// Debian bookworm's libunwind-ptrace.so.0 calls liblzma (MiniDebugInfo) without a DT_NEEDED
// entry for it, and rust-lld (Rust's default linker since 1.90) rejects that; link it here.
// A static build (`make static`: crt-static) needs neither this nor the export below: its
// libraries come from their archives (pkg-config names liblzma for them), and libunwind's
// calls to sigprocmask resolve to the binary's own at link time. An exported symbol would give
// the static executable a dynamic section, which glibc's static start-up code crashes on.
fn main() {
    println!("cargo:rerun-if-env-changed=CARGO_CFG_TARGET_FEATURE");
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    if features.split(',').any(|f| f == "crt-static") {
        return;
    }
    println!("cargo:rustc-link-lib=dylib=lzma");
    // libunwind's calls to sigprocmask come to the binary's own (src/sigprocmask.rs); the
    // library defines none, so programs linking it keep libc's.
    println!("cargo:rustc-link-arg-bins=-Wl,--export-dynamic-symbol=sigprocmask");
}
