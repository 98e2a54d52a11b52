//! Demangling C++ and Rust symbol names, and pprof's simplified form.
//!
//! pprof shows C++ names "demangled, simplified: no parameters, no
//! templates, no return type" by default (`Envoy::Buffer::Slice::newStorage`
//! for `_ZN5Envoy6Buffer5Slice10newStorageEm`); heapcost does the same, and
//! keeps the full demangled name for `--full-names`.

use std::borrow::Cow;

/// How function names are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NameStyle {
    /// pprof's default: no parameters, no template arguments, no return type.
    #[default]
    Simplified,
    /// The whole demangled name, with parameters and template arguments.
    Full,
}

/// The display name of a raw (linkage) symbol name, in `style`. Names that
/// are not mangled come back as they are, simplified the same way when they
/// look like demangled C++.
pub fn demangle(raw: &str, style: NameStyle) -> String {
    if let Some(rust) = demangle_rust(raw, style) {
        return rust;
    }
    if let Some(cpp) = demangle_cpp(raw, style) {
        return cpp;
    }
    match style {
        NameStyle::Full => raw.to_string(),
        NameStyle::Simplified if looks_like_demangled_cpp(raw) => simplify(raw).into_owned(),
        NameStyle::Simplified => raw.to_string(),
    }
}

fn demangle_rust(raw: &str, style: NameStyle) -> Option<String> {
    let d = rustc_demangle::try_demangle(raw).ok()?;
    Some(match style {
        // `{:#}` leaves out the trailing hash, as pprof's Rust handling does.
        NameStyle::Simplified => format!("{d:#}"),
        NameStyle::Full => format!("{d}"),
    })
}

fn demangle_cpp(raw: &str, style: NameStyle) -> Option<String> {
    if !raw.starts_with("_Z") {
        return None;
    }
    let symbol = cpp_demangle::Symbol::new(raw).ok()?;
    let options = cpp_demangle::DemangleOptions::new().recursion_limit(256);
    let options = match style {
        NameStyle::Simplified => options.no_params().no_return_type(),
        NameStyle::Full => options,
    };
    let text = symbol.demangle_with_options(&options).ok()?;
    Some(match style {
        NameStyle::Simplified => simplify(&text).into_owned(),
        NameStyle::Full => text,
    })
}

/// pprof's heuristic for a name that is already demangled C++.
fn looks_like_demangled_cpp(name: &str) -> bool {
    name.contains("::") || name.contains('(') || name.contains('<')
}

/// Removes parameter lists and template argument lists from a demangled C++
/// name, keeping `operator()`, `operator<`, `operator<<` and friends and
/// `(anonymous namespace)`.
pub fn simplify(name: &str) -> Cow<'_, str> {
    if !name.contains(['(', '<']) {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len());
    let bytes = name.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if let Some(op) = operator_at(name, i) {
            out.push_str(op);
            i += op.len();
            continue;
        }
        match bytes[i] {
            b'(' if name[i..].starts_with("(anonymous namespace)") => {
                out.push_str("(anonymous namespace)");
                i += "(anonymous namespace)".len();
            }
            open @ (b'(' | b'<') => {
                let close = if open == b'(' { b')' } else { b'>' };
                match matching(bytes, i, open, close) {
                    Some(end) => i = end + 1,
                    None => return Cow::Borrowed(name),
                }
            }
            _ => {
                let c = name[i..].chars().next().unwrap_or(' ');
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    Cow::Owned(out)
}

/// `operator<` and the other operators whose spelling holds `(`, `<` or `>`,
/// when one starts at byte `i`.
fn operator_at(name: &str, i: usize) -> Option<&'static str> {
    const OPERATORS: [&str; 10] = [
        "operator()",
        "operator<=>",
        "operator<<=",
        "operator>>=",
        "operator<<",
        "operator>>",
        "operator<=",
        "operator>=",
        "operator->",
        "operator<",
    ];
    let rest = name.get(i..)?;
    if !rest.starts_with("operator") {
        return None;
    }
    OPERATORS
        .iter()
        .find(|op| rest.starts_with(**op))
        .copied()
        .or_else(|| rest.starts_with("operator>").then_some("operator>"))
}

/// The index of the bracket closing the one at `start`, counting nesting of
/// the same kind; `None` when unbalanced.
fn matching(bytes: &[u8], start: usize, open: u8, close: u8) -> Option<usize> {
    let mut depth = 0usize;
    for (i, b) in bytes.iter().enumerate().skip(start) {
        if *b == open {
            depth += 1;
        } else if *b == close {
            depth = depth.checked_sub(1)?;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envoy_names() {
        let raw = "_ZN5Envoy6Buffer5Slice10newStorageEm";
        assert_eq!(
            demangle(raw, NameStyle::Simplified),
            "Envoy::Buffer::Slice::newStorage"
        );
        assert_eq!(
            demangle(raw, NameStyle::Full),
            "Envoy::Buffer::Slice::newStorage(unsigned long)"
        );
    }

    #[test]
    fn templates_and_operators() {
        assert_eq!(
            simplify("std::vector<int, std::allocator<int> >::push_back(int const&)"),
            "std::vector::push_back"
        );
        assert_eq!(simplify("Foo::operator()(int)"), "Foo::operator()");
        assert_eq!(simplify("operator<< <char>(std::ostream&)"), "operator<< ");
        assert_eq!(
            simplify("(anonymous namespace)::f(int)"),
            "(anonymous namespace)::f"
        );
        assert_eq!(simplify("a::b"), "a::b");
        assert_eq!(simplify("unbalanced<(x"), "unbalanced<(x");
    }

    #[test]
    fn plain_c_and_rust() {
        assert_eq!(demangle("malloc", NameStyle::Simplified), "malloc");
        assert_eq!(demangle("luaL_newstate", NameStyle::Full), "luaL_newstate");
        assert_eq!(
            demangle(
                "_ZN4core3fmt5write17h0123456789abcdefE",
                NameStyle::Simplified
            ),
            "core::fmt::write"
        );
    }
}
