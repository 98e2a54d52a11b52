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
    let options = cpp_demangle::DemangleOptions::new().recursion_limit(1024);
    let whole = parse_symbol(raw).and_then(|symbol| match style {
        NameStyle::Simplified => symbol.demangle_with_options(&options.no_return_type()).ok(),
        NameStyle::Full => symbol.demangle_with_options(&options).ok(),
    });
    let text = match (whole, style) {
        (Some(text), _) => text,
        // cpp_demangle cannot read some SFINAE return types (`enable_if<…>`
        // with `sr` expressions); the name alone is enough for the short form.
        (None, NameStyle::Simplified) => name_only(raw)?,
        (None, NameStyle::Full) => return None,
    };
    Some(match style {
        NameStyle::Simplified => pprof_short(&text),
        NameStyle::Full => text,
    })
}

/// Parses a mangled C++ symbol, with room for Boost's deeply nested
/// templates (cpp_demangle's default parse depth gives up on them).
fn parse_symbol(raw: &str) -> Option<cpp_demangle::Symbol<&[u8]>> {
    let options = cpp_demangle::ParseOptions::default().recursion_limit(1024);
    cpp_demangle::Symbol::new_with_options(raw.as_bytes(), &options).ok()
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
        let (label, r) = [
            ("TV", "vtable for "),
            ("TT", "VTT for "),
            ("TI", "typeinfo for "),
            ("TS", "typeinfo name for "),
            ("GV", "guard variable for "),
        ]
        .iter()
        .find_map(|(code, label)| Some((*label, rest.strip_prefix(code)?)))?;
        (label, r)
    };
    let mangled = format!("_Z{target}");
    let symbol = parse_symbol(&mangled)?;
    let options = cpp_demangle::DemangleOptions::new()
        .recursion_limit(256)
        .no_return_type();
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

/// Demangles just the `<name>` of a function's mangled encoding (its
/// nested or unscoped name, template arguments included), leaving out the
/// return and parameter types; `None` for local names and other forms.
fn name_only(raw: &str) -> Option<String> {
    let rest = raw.strip_prefix("_Z")?;
    let bytes = rest.as_bytes();
    let end = match bytes.first()? {
        b'N' => skip_balanced(bytes, 0)? + 1,
        b'S' | b'0'..=b'9' => {
            let mut i = if rest.starts_with("St") { 2 } else { 0 };
            if !bytes.get(i)?.is_ascii_digit() {
                return None;
            }
            i = skip_source_name(bytes, i)?;
            if bytes.get(i) == Some(&b'I') {
                skip_balanced(bytes, i)? + 1
            } else {
                i
            }
        }
        _ => return None,
    };
    let name = rest.get(..end)?;
    let mangled = format!("_Z{name}");
    let symbol = parse_symbol(&mangled)?;
    symbol
        .demangle_with_options(&cpp_demangle::DemangleOptions::new().recursion_limit(1024))
        .ok()
}

/// `<length><identifier>` at `i`; the index after it.
fn skip_source_name(b: &[u8], i: usize) -> Option<usize> {
    let digits = b
        .get(i..)?
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    let len: usize = std::str::from_utf8(b.get(i..i + digits)?)
        .ok()?
        .parse()
        .ok()?;
    let end = i.checked_add(digits)?.checked_add(len)?;
    (end <= b.len()).then_some(end)
}

/// The index of the `E` closing the group opened at `start` (`N`, `I`, …),
/// skipping nested groups, identifiers, substitutions, literals and the
/// other forms whose digits are not identifier lengths.
fn skip_balanced(b: &[u8], start: usize) -> Option<usize> {
    // Open groups; `true` marks a lambda (`Ul…E`), followed by `[n]_`.
    let mut stack: Vec<bool> = Vec::new();
    let mut i = start;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied().unwrap_or(0);
        match c {
            b'0'..=b'9' => {
                i = skip_source_name(b, i)?;
                continue;
            }
            // Operator names whose second letter is upper case (`aS` is `operator=`).
            b'a' | b'p' | b'm' | b'd' | b'r' | b'o' | b'e' | b'l'
                if matches!(
                    [c, next],
                    [b'a', b'S']
                        | [b'p', b'L']
                        | [b'm', b'I']
                        | [b'm', b'L']
                        | [b'd', b'V']
                        | [b'r', b'M']
                        | [b'a', b'N']
                        | [b'o', b'R']
                        | [b'e', b'O']
                        | [b'l', b'S']
                        | [b'r', b'S']
                ) =>
            {
                i += 2;
                continue;
            }
            b'N' | b'I' | b'X' | b'J' | b'F' | b'Z' => stack.push(false),
            b'U' if next == b'l' => {
                stack.push(true);
                i += 2;
                continue;
            }
            b'U' if next == b't' => {
                i = to_underscore(b, i + 2)?;
                continue;
            }
            b'D' if next == b'T' || next == b't' => {
                stack.push(false);
                i += 2;
                continue;
            }
            b'D' => {
                i += 2;
                continue;
            }
            b'S' => {
                i = if matches!(next, b't' | b'a' | b'b' | b's' | b'i' | b'o' | b'd') {
                    i + 2
                } else {
                    to_underscore(b, i + 1)?
                };
                continue;
            }
            b'T' if next == b'_' || next.is_ascii_digit() || next.is_ascii_uppercase() => {
                i = to_underscore(b, i + 1)?;
                continue;
            }
            b'A' => {
                i = to_underscore(b, i + 1)?;
                continue;
            }
            b'L' if next == b'Z' || next == b'_' => stack.push(false),
            b'L' => {
                // A literal: its type, then its value digits, then `E`.
                i += 1;
                if b.get(i).is_some_and(u8::is_ascii_lowercase) {
                    i += 1;
                } else if b.get(i) == Some(&b'N') {
                    i = skip_balanced(b, i)? + 1;
                } else if b.get(i).is_some_and(u8::is_ascii_digit) {
                    i = skip_source_name(b, i)?;
                } else if b.get(i) == Some(&b'S') {
                    i = to_underscore(b, i + 1)?;
                }
                while b
                    .get(i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() && *c != b'E')
                {
                    i += 1;
                }
                if b.get(i) != Some(&b'E') {
                    return None;
                }
            }
            b'E' => {
                let lambda = stack.pop()?;
                if stack.is_empty() {
                    return Some(i);
                }
                if lambda {
                    i = to_underscore(b, i + 1)?;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The index after the next `_` at or after `i` (seq-ids: `S1_`, `T0_`, `Ut_`).
fn to_underscore(b: &[u8], i: usize) -> Option<usize> {
    let n = b.get(i..)?.iter().position(|c| *c == b'_')?;
    Some(i + n + 1)
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
    // Java's `class.<init>` is not C++.
    !name.contains(".<") && (name.contains(['<', '>', '[', ']']) || name.contains("::"))
}

/// [`demangle`] of each distinct name, keyed by the raw name; shared out
/// over the cores when there are many (a large C++ binary gives thousands of
/// long template names, about 20 µs each).
pub(crate) fn demangle_many<'a>(
    raws: impl Iterator<Item = &'a str>,
    style: NameStyle,
) -> std::collections::HashMap<&'a str, String> {
    let mut distinct: Vec<&str> = raws.collect();
    distinct.sort_unstable();
    distinct.dedup();
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(distinct.len() / 512)
        .max(1);
    let chunk = distinct.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = distinct
            .chunks(chunk)
            .map(|c| {
                scope.spawn(move || {
                    c.iter()
                        .map(|r| (*r, demangle(r, style)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        // A worker that panicked leaves its names to be demangled one by one.
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
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
        assert_eq!(
            short("_ZThn8_N3Foo3barEi"),
            "non-virtual thunk to Foo::bar(int)"
        );
        assert_eq!(
            short(
                "_ZNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEE12_M_constructIPKcEEvT_S8_St20forward_iterator_tag.isra.0"
            ),
            "std::__cxx11::basic_string::_M_construct"
        );
        assert_eq!(
            short("_ZNSt6vectorIiSaIiEE9push_backERKi"),
            "std::vector::push_back"
        );
        // SFINAE return types cpp_demangle cannot read: the name alone is demangled.
        assert_eq!(
            short(
                "_ZNSt3mapI9hobject_tSt4pairISt8weak_ptrI13ObjectContextEPS3_ESt4lessIS0_ESaIS1_IKS0_S6_EEE6insertIS1_IS0_S1_ISt10shared_ptrIS3_ES5_EEEENSt9enable_ifIXsrSt16is_constructibleISA_JT_EE5valueES1_ISt17_Rb_tree_iteratorISA_EbEE4typeEOSK_"
            ),
            "std::map::insert"
        );
        assert_eq!(
            short(
                "_ZSt11make_sharedIN5Envoy10Extensions6Common4Wasm4WasmEJSt10unique_ptrIN10proxy_wasm6WasmVmESt14default_deleteIS7_EERA14_KcEESt10shared_ptrINSt9enable_ifIXntsrSt8is_arrayIT_E5valueESH_E4typeEEDpOT0_"
            ),
            "std::make_shared"
        );
        assert_eq!(
            short(
                "_ZNSt8functionIFmPN10proxy_wasm11ContextBaseEjmmEEaSIZNS0_2v82V821getModuleFunctionImplIJjmmEEEvSt17basic_string_viewIcSt11char_traitsIcEEPS_IFmS2_DpT_EEEUlS2_jmmE_EENSt9enable_ifIXsrNS4_9_CallableIT_NSJ_IXntsrSt7is_sameINSt9remove_cvINSt16remove_referenceISL_E4typeEE4typeES4_E5valueESt5decayISL_EE4type4typeESt15__invoke_resultIRSY_JS2_jmmEEEE5valueERS4_E4typeEOSL_"
            ),
            "std::function::operator="
        );
        assert_eq!(
            short(
                "_ZN5boost9container6vectorIcNS0_22small_vector_allocatorIcNS0_13new_allocatorIvEEvEEvE6insertIPKcEENS0_12vec_iteratorIPcLb0EEENSA_ISB_Lb1EEET_SE_PNS_11move_detail14disable_if_orIvNS_10move_upd8is_sameISE_SB_EENSG_30is_input_iteratorISE_EEE4typeE"
            ),
            "boost::container::vector::insert"
        );
        assert_eq!(
            short("_ZNK5Envoy4Http13HeaderMapImpl3getEv"),
            "Envoy::Http::HeaderMapImpl::get"
        );
    }

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
