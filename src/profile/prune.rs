//! pprof's removal of allocator frames from heap stacks.
//!
//! A heap stack starts inside the allocator (`malloc`, `operator new`,
//! `tcmalloc::…`); pprof drops those frames so that the allocation is charged
//! to the code that asked for it (`Envoy::Buffer::Slice::newStorage`, not
//! `tc_new`). Legacy heap dumps get pprof's allocator list below as their
//! `drop_frames`; a protobuf brings its own. The rules are pprof's
//! `Profile.Prune`: within a location, the outermost inlined frame matching
//! the list is removed with everything inlined into it; along a stack, the
//! first such location seen from the root (after at least one user frame)
//! cuts off itself (fully matched) or what is below it (partly matched).
//! Values are never touched: only frames are removed.

use std::collections::HashSet;

use regex::Regex;

use super::{LocationId, Profile};

/// pprof's list of allocator functions for heap profiles (`allocRxStr`),
/// matched against whole simplified names.
pub const ALLOCATOR_FRAMES: &[&str] = &[
    // POSIX entry points.
    "calloc",
    "cfree",
    "malloc",
    "free",
    "memalign",
    "do_memalign",
    "(__)?posix_memalign",
    "pvalloc",
    "valloc",
    "realloc",
    // tcmalloc.
    r"tcmalloc::.*",
    "tc_calloc",
    "tc_cfree",
    "tc_malloc",
    "tc_free",
    "tc_memalign",
    "tc_posix_memalign",
    "tc_pvalloc",
    "tc_valloc",
    "tc_realloc",
    "tc_new",
    "tc_delete",
    "tc_newarray",
    "tc_deletearray",
    "tc_new_nothrow",
    "tc_newarray_nothrow",
    // macOS.
    "malloc_zone_malloc",
    "malloc_zone_calloc",
    "malloc_zone_valloc",
    "malloc_zone_realloc",
    "malloc_zone_memalign",
    "malloc_zone_free",
    // Go runtime.
    r"runtime\..*",
    // Other allocation routines.
    "BaseArena::.*",
    "(::)?do_malloc_no_errno",
    "(::)?do_malloc_pages",
    "(::)?do_malloc",
    "DoSampledAllocation",
    "MallocedMemBlock::MallocedMemBlock",
    "_M_allocate",
    r"__builtin_(vec_)?delete",
    r"__builtin_(vec_)?new",
    "__gnu_cxx::new_allocator::allocate",
    "__libc_malloc",
    "__malloc_alloc_template::allocate",
    "allocate",
    "cpp_alloc",
    r"operator new(\[\])?",
    "simple_alloc::allocate",
];

/// Frames kept even when they match (pprof's `allocSkipRxStr`: Go runtime
/// frames in the middle of stacks).
pub const ALLOCATOR_KEEP_FRAMES: &[&str] = &[
    r"runtime\.panic",
    r"runtime\.reflectcall",
    r"runtime\.call[0-9]*",
];

/// The `drop_frames` pattern legacy heap readers set.
pub fn allocator_drop_frames() -> String {
    ALLOCATOR_FRAMES.join("|")
}

/// The `keep_frames` pattern legacy heap readers set.
pub fn allocator_keep_frames() -> String {
    ALLOCATOR_KEEP_FRAMES.join("|")
}

/// Applies the profile's `drop_frames`/`keep_frames` (no-op when empty or
/// when the pattern does not compile: a protobuf's pattern is its own).
pub fn prune_allocator_frames(profile: &mut Profile) {
    if profile.drop_frames.is_empty() {
        return;
    }
    let Ok(drop) = Regex::new(&format!("^({})$", profile.drop_frames)) else {
        return;
    };
    let keep = if profile.keep_frames.is_empty() {
        None
    } else {
        Regex::new(&format!("^({})$", profile.keep_frames)).ok()
    };
    prune(profile, &drop, keep.as_ref());
}

/// pprof's `Prune(dropRx, keepRx)`.
pub fn prune(profile: &mut Profile, drop: &Regex, keep: Option<&Regex>) {
    let mut prune_whole: HashSet<LocationId> = HashSet::new();
    let mut prune_beneath: HashSet<LocationId> = HashSet::new();
    let functions = &profile.functions;
    for (i, loc) in profile.locations.iter_mut().enumerate() {
        let id = LocationId(u32::try_from(i).unwrap_or(u32::MAX));
        let matched = loc.lines.iter().rposition(|line| {
            functions.get(line.function.0 as usize).is_some_and(|f| {
                let name = simplify_func(&f.name);
                !f.name.is_empty() && drop.is_match(name) && !keep.is_some_and(|k| k.is_match(name))
            })
        });
        if let Some(i) = matched {
            prune_beneath.insert(id);
            if i + 1 == loc.lines.len() {
                prune_whole.insert(id);
            } else {
                loc.lines.drain(..=i);
            }
        }
    }
    for sample in &mut profile.samples {
        let mut found_user = false;
        for i in (0..sample.locations.len()).rev() {
            let id = sample.locations[i];
            let whole = prune_whole.contains(&id);
            let beneath = prune_beneath.contains(&id);
            if !whole && !beneath {
                found_user = true;
                continue;
            }
            if !found_user {
                continue;
            }
            if whole {
                sample.locations.drain(..=i);
            } else {
                sample.locations.drain(..i);
            }
            break;
        }
    }
}

/// pprof's `simplifyFunc`: cut an unsimplified name at its parameter list,
/// keeping `(anonymous namespace)` and `operator()`.
fn simplify_func(name: &str) -> &str {
    let name = name.strip_prefix('.').unwrap_or(name);
    let mut from = 0;
    while let Some(p) = name[from..].find('(') {
        let at = from + p;
        let rest = &name[at..];
        if rest.starts_with("(anonymous namespace)") {
            from = at + "(anonymous namespace)".len();
            continue;
        }
        if name[..at].ends_with("operator") && rest.starts_with("()") {
            from = at + 2;
            continue;
        }
        return &name[..at];
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{
        AddressKind, Function, FunctionId, Line, Location, RuntimeAddr, Sample, ValueType,
    };

    fn profile(stacks: &[&[&[&str]]]) -> Profile {
        // stacks: samples; each a list of locations (leaf first); each location its lines (innermost first).
        let mut p = Profile {
            sample_types: vec![ValueType::new("space", "bytes")],
            drop_frames: allocator_drop_frames(),
            keep_frames: allocator_keep_frames(),
            ..Profile::default()
        };
        for stack in stacks {
            let mut locs = Vec::new();
            for lines in *stack {
                let lines = lines
                    .iter()
                    .map(|n| {
                        p.functions.push(Function {
                            name: n.to_string(),
                            ..Function::default()
                        });
                        Line {
                            function: FunctionId(p.functions.len() as u32 - 1),
                            line: 0,
                            column: 0,
                        }
                    })
                    .collect();
                p.locations.push(Location {
                    address: RuntimeAddr(p.locations.len() as u64 + 1),
                    kind: AddressKind::CallSite,
                    mapping: None,
                    lines,
                    is_folded: false,
                });
                locs.push(LocationId(p.locations.len() as u32 - 1));
            }
            p.samples.push(Sample {
                values: vec![1],
                locations: locs,
                labels: vec![],
            });
        }
        p
    }

    fn names(p: &Profile, s: usize) -> Vec<String> {
        p.samples[s]
            .locations
            .iter()
            .flat_map(|l| p.locations[l.0 as usize].lines.iter())
            .map(|l| p.functions[l.function.0 as usize].name.clone())
            .collect()
    }

    #[test]
    fn allocator_frames_are_cut_from_the_leaf() {
        let mut p = profile(&[&[
            &["tcmalloc::allocate_full_cpp_throw_oom"],
            &["tc_new"],
            &["Envoy::Buffer::Slice::newStorage"],
            &["main"],
        ]]);
        prune_allocator_frames(&mut p);
        assert_eq!(
            names(&p, 0),
            vec!["Envoy::Buffer::Slice::newStorage", "main"]
        );
        assert_eq!(p.total(0), 1);
    }

    #[test]
    fn inlined_allocator_frames_are_cut_inside_a_location() {
        let mut p = profile(&[&[
            &["operator new", "std::vector::_M_realloc_insert"],
            &["main"],
        ]]);
        // `operator new` is the innermost line; the location's caller line survives.
        prune_allocator_frames(&mut p);
        assert_eq!(names(&p, 0), vec!["std::vector::_M_realloc_insert", "main"]);
    }

    #[test]
    fn stacks_of_only_allocator_frames_stay() {
        let mut p = profile(&[&[&["malloc"], &["tc_new"]]]);
        prune_allocator_frames(&mut p);
        assert_eq!(names(&p, 0), vec!["malloc", "tc_new"]);
    }

    #[test]
    fn near_misses_are_kept() {
        let mut p = profile(&[&[&["mallocx_wrapper"], &["Envoy::allocate"], &["main"]]]);
        prune_allocator_frames(&mut p);
        assert_eq!(
            names(&p, 0),
            vec!["mallocx_wrapper", "Envoy::allocate", "main"]
        );
    }

    #[test]
    fn simplify_func_like_pprof() {
        assert_eq!(simplify_func("operator new(unsigned long)"), "operator new");
        assert_eq!(simplify_func("Foo::operator()(int)"), "Foo::operator()");
        assert_eq!(
            simplify_func("(anonymous namespace)::f(int)"),
            "(anonymous namespace)::f"
        );
        assert_eq!(simplify_func("malloc"), "malloc");
    }
}
