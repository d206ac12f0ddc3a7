//! Demangling of symbol names: Rust (legacy and v0) with `rustc-demangle`, C++ (Itanium ABI)
//! with `cpp_demangle`; anything else is returned as it is.

use std::borrow::Cow;

/// Names longer than this are not demangled: a hostile symbol table must not make the
/// demangler spend unbounded time or memory.
const MAX_MANGLED: usize = 16 * 1024;

/// The human-readable form of `raw`: Rust paths without the hash, C++ with namespaces,
/// templates and parameter types.
pub fn demangle(raw: &str) -> Cow<'_, str> {
    if raw.len() > MAX_MANGLED {
        return Cow::Borrowed(raw);
    }
    if let Ok(d) = rustc_demangle::try_demangle(raw) {
        return Cow::Owned(format!("{d:#}"));
    }
    if raw.starts_with("_Z")
        && let Ok(sym) = cpp_demangle::Symbol::new(raw)
        && let Ok(d) =
            sym.demangle_with_options(&cpp_demangle::DemangleOptions::new().recursion_limit(256))
    {
        return Cow::Owned(d);
    }
    Cow::Borrowed(raw)
}

#[cfg(test)]
mod tests {
    use super::demangle;

    #[test]
    fn rust_legacy_without_hash() {
        assert_eq!(
            demangle("_ZN4core3ptr13drop_in_place17h0123456789abcdefE"),
            "core::ptr::drop_in_place"
        );
    }

    #[test]
    fn rust_v0() {
        assert_eq!(demangle("_RNvCs1234_7mycrate3foo"), "mycrate::foo");
    }

    #[test]
    fn cpp_namespaces_and_templates() {
        assert_eq!(demangle("_ZN2ns3fooIiEEvT_"), "void ns::foo<int>(int)");
        assert_eq!(demangle("_ZN3app6Worker3runEv"), "app::Worker::run()");
    }

    #[test]
    fn plain_c_names_pass_through() {
        assert_eq!(demangle("pthread_cond_wait"), "pthread_cond_wait");
        assert_eq!(demangle("_Znot valid"), "_Znot valid");
    }
}
