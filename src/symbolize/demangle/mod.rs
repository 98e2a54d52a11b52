//! Demangling C++ and Rust symbol names, and pprof's simplified form.
//!
//! pprof shows C++ names "demangled, simplified: no parameters, no
//! templates, no return type" by default (`Envoy::Buffer::Slice::newStorage`
//! for `_ZN5Envoy6Buffer5Slice10newStorageEm`); heapcost does the same, and
//! keeps the full demangled name for `--full-names`.

mod encoding;
mod simplify;

use self::encoding::name_only;
pub use self::simplify::simplify;
use self::simplify::{looks_like_demangled_cpp, pprof_short, remove_template_args};

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
