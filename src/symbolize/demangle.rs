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
    if let Some(special) = demangle_special(raw, style) {
        return Some(special);
    }
    let symbol = cpp_demangle::Symbol::new(raw).ok()?;
    let options = cpp_demangle::DemangleOptions::new().recursion_limit(256);
    let text = match style {
        NameStyle::Simplified => symbol.demangle_with_options(&options.no_return_type()).ok()?,
        NameStyle::Full => symbol.demangle_with_options(&options).ok()?,
    };
    Some(match style {
        NameStyle::Simplified => pprof_short(&text),
        NameStyle::Full => text,
    })
}

/// Thunks, vtables, typeinfo and guard variables, written as c++filt and
/// pprof write them ("non-virtual thunk to Foo::bar(int)"); the target's
/// parameters stay, its template arguments go in the short form.
fn demangle_special(raw: &str, style: NameStyle) -> Option<String> {
    let rest = raw.strip_prefix("_Z")?;
    let (label, target) = if let Some(r) = rest.strip_prefix("Th") {
        ("non-virtual thunk to ", skip_call_offset_h(r)?)
    } else if let Some(r) = rest.strip_prefix("Tv") {
        ("virtual thunk to ", skip_call_offset_v(r)?)
    } else if let Some(r) = rest.strip_prefix("Tc") {
        let r = skip_call_offset(r)?;
        ("covariant return thunk to ", skip_call_offset(r)?)
    } else {
        let (label, r) = [("TV", "vtable for "), ("TT", "VTT for "), ("TI", "typeinfo for "), ("TS", "typeinfo name for "), ("GV", "guard variable for ")]
            .iter()
            .find_map(|(code, label)| Some((*label, rest.strip_prefix(code)?)))?;
        (label, r)
    };
    let symbol = cpp_demangle::Symbol::new(format!("_Z{target}")).ok()?;
    let options = cpp_demangle::DemangleOptions::new().recursion_limit(256).no_return_type();
    let inner = symbol.demangle_with_options(&options).ok()?;
    Some(match style {
        NameStyle::Simplified => format!("{label}{}", remove_template_args(&inner)),
        NameStyle::Full => format!("{label}{inner}"),
    })
}

/// `h <offset> _` (after `Th` the `h` is already gone).
fn skip_call_offset_h(s: &str) -> Option<&str> {
    let s = s.strip_prefix('n').unwrap_or(s);
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    s.get(digits..)?.strip_prefix('_')
}

/// `v <offset> _ <virtual offset> _` (after `Tv` the `v` is already gone).
fn skip_call_offset_v(s: &str) -> Option<&str> {
    skip_call_offset_h(skip_call_offset_h(s)?)
}

/// A `h…_` or `v…_…_` call offset.
fn skip_call_offset(s: &str) -> Option<&str> {
    if let Some(r) = s.strip_prefix('h') {
        skip_call_offset_h(r)
    } else {
        skip_call_offset_v(s.strip_prefix('v')?)
    }
}

/// Names that are not functions of the program but compiler-made entities
/// ("non-virtual thunk to X(int)", "vtable for X"): pprof keeps their inner
/// parameter lists.
const SPECIAL_PREFIXES: [&str; 12] = [
    "non-virtual thunk to ",
    "virtual thunk to ",
    "covariant return thunk to ",
    "construction vtable for ",
    "vtable for ",
    "VTT for ",
    "typeinfo for ",
    "typeinfo name for ",
    "guard variable for ",
    "reference temporary ",
    "TLS init function for ",
    "TLS wrapper function for ",
];

/// pprof's short form of a demangled name (its demangler's `NoParams` and
/// `NoTemplateParams`): the function's own parameter list and qualifiers
/// go, parameter lists of enclosing functions stay (`f(int)::{lambda()#1}::
/// operator()`), and every template argument list goes.
fn pprof_short(full: &str) -> String {
    if SPECIAL_PREFIXES.iter().any(|p| full.starts_with(p)) {
        return remove_template_args(full);
    }
    let mut name = full.trim_end();
    loop {
        let before = name;
        for q in [" const", " volatile", " &&", " &", " noexcept"] {
            name = name.strip_suffix(q).unwrap_or(name);
        }
        if name == before {
            break;
        }
    }
    if name.ends_with(')')
        && let Some(open) = matching_open(name.as_bytes(), name.len() - 1)
    {
        name = &name[..open];
    }
    remove_template_args(name)
}

/// The index of the `(` matching the `)` at `close`, scanning backwards.
fn matching_open(bytes: &[u8], close: usize) -> Option<usize> {
    let mut depth = 0usize;
    for i in (0..=close).rev() {
        match bytes[i] {
            b')' => depth += 1,
            b'(' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Removes every `<...>` template argument list (keeping `operator<` and
/// friends), and the space before a removed list.
fn remove_template_args(name: &str) -> String {
    let bytes = name.as_bytes();
    let mut out = String::with_capacity(name.len());
    let mut i = 0;
    while i < bytes.len() {
        if let Some(op) = operator_at(name, i) {
            out.push_str(op);
            i += op.len();
            continue;
        }
        if bytes[i] == b'<'
            && let Some(end) = matching(bytes, i, b'<', b'>')
        {
            while out.ends_with(' ') {
                out.pop();
            }
            i = end + 1;
            continue;
        }
        let c = name[i..].chars().next().unwrap_or(' ');
        out.push(c);
        i += c.len_utf8();
    }
    out
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
    fn like_pprof_on_real_ceph_names() {
        let short = |raw: &str| demangle(raw, NameStyle::Simplified);
        assert_eq!(
            short("_ZZN7rocksdb15ConcurrentArena15AllocateAlignedEmmPNS_6LoggerEENKUlvE_clEv"),
            "rocksdb::ConcurrentArena::AllocateAligned(unsigned long, unsigned long, rocksdb::Logger*)::{lambda()#1}::operator()"
        );
        assert_eq!(
            short("_ZStlsISt11char_traitsIcEERSt13basic_ostreamIcT_ES5_PKc"),
            "std::operator<<"
        );
        assert_eq!(short("_ZThn8_N3Foo3barEi"), "non-virtual thunk to Foo::bar(int)");
        assert_eq!(short("_ZNSt6vectorIiSaIiEE9push_backERKi"), "std::vector::push_back");
        assert_eq!(short("_ZNK5Envoy4Http13HeaderMapImpl3getEv"), "Envoy::Http::HeaderMapImpl::get");
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
