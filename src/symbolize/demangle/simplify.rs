//! pprof's short names: parameters, qualifiers and template arguments
//! removed from demangled names.

use std::borrow::Cow;

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
pub(super) fn pprof_short(full: &str) -> String {
    if SPECIAL_PREFIXES.iter().any(|p| full.starts_with(p)) {
        return remove_template_args(full);
    }
    let mut name = full.trim_end();
    // GCC's clones ("f(int) [clone .isra.0] [clone .cold]") are the same function.
    while let Some(at) = name.rfind(" [clone ") {
        if !name.ends_with(']') {
            break;
        }
        name = name[..at].trim_end();
    }
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
pub(super) fn remove_template_args(name: &str) -> String {
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
pub(super) fn looks_like_demangled_cpp(name: &str) -> bool {
    // Java's `class.<init>` is not C++.
    !name.contains(".<") && (name.contains(['<', '>', '[', ']']) || name.contains("::"))
}

/// pprof's treatment of a name that is already demangled (DWARF gave a
/// plain name, not a linkage name): remove every balanced `(...)` group, then
/// every balanced `<...>` group, exactly as pprof does (so a DWARF-only
/// `operator()<std::string>` becomes `operator`, as in pprof's output).
pub fn simplify(name: &str) -> Cow<'_, str> {
    if !name.contains(['(', '<']) {
        return Cow::Borrowed(name);
    }
    let once = remove_matching(name, b'(', b')');
    Cow::Owned(remove_matching(&once, b'<', b'>'))
}

/// pprof's `removeMatching`: drops each outermost balanced `start…end`
/// group; on an unmatched `end` it gives the name back unchanged.
fn remove_matching(name: &str, start: u8, end: u8) -> String {
    let mut out = name.as_bytes().to_vec();
    let mut nesting = 0i64;
    let mut first = 0usize;
    let mut current = 0usize;
    while current < out.len() {
        let c = out[current];
        if c == start {
            nesting += 1;
            if nesting == 1 {
                first = current;
            }
        } else if c == end {
            nesting -= 1;
            if nesting < 0 {
                return name.to_string();
            }
            if nesting == 0 {
                out.drain(first..=current);
                current = first;
                continue;
            }
        }
        current += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| name.to_string())
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
    use crate::symbolize::demangle::{NameStyle, demangle};

    #[test]
    fn plain_names_like_pprof() {
        assert_eq!(
            simplify("std::vector<int, std::allocator<int> >::push_back(int const&)"),
            "std::vector::push_back"
        );
        // pprof's heuristic, literally: groups go, operator spellings too.
        assert_eq!(
            simplify("operator()<std::__cxx11::basic_string<char> >"),
            "operator"
        );
        assert_eq!(simplify("operator<<"), "operator<<");
        // Not taken for C++ at all (no `::`, `<`, `>`, `[`, `]`): kept whole.
        assert_eq!(demangle("operator()", NameStyle::Simplified), "operator()");
        assert_eq!(
            demangle(
                "operator()<std::__cxx11::basic_string<char> >",
                NameStyle::Simplified
            ),
            "operator"
        );
        assert_eq!(simplify("(anonymous namespace)::f(int)"), "::f");
        assert_eq!(simplify("a::b"), "a::b");
        assert_eq!(simplify("unbalanced<(x"), "unbalanced<(x");
    }
}
