//! Properties over generated profiles (proptest):
//! - a profile written as gperftools text, as a pprof protobuf and as
//!   folded stacks reads back to the same totals (and the same value per
//!   stack);
//! - merging is associative (and the order of the inputs does not change
//!   any value);
//! - owner and kind columns, and the owner x kind matrix, always add up to
//!   the total.
//!
//! The protobuf is encoded with the tests' protobuf builder
//! (`common::protobuf`, prost's wire helpers) and the folded stacks are
//! written and read here: the crate has no protobuf or folded writer yet
//! (`convert`).

use std::collections::BTreeMap;

use heapcost::profile::{LabelValue, Profile};
use proptest::prelude::*;

use super::common::protobuf::{Pb, gzip};

/// Addresses stacks are made of: 48 return addresses in one mapping.
fn address(i: usize) -> u64 {
    0x40_0000_1000 + 0x10 * i as u64
}

const POOL: usize = 48;

/// One generated bucket: stack (indices into the address pool, leaf first)
/// and `[inuse_count, inuse_bytes, alloc_count, alloc_bytes]`.
type Bucket = (Vec<usize>, [i64; 4]);

fn bucket() -> impl Strategy<Value = Bucket> {
    let stack = prop::collection::vec(0..POOL, 1..12);
    let counts = (0i64..1000, 1i64..1 << 30, 0i64..1000, 1i64..1 << 30);
    (stack, counts).prop_map(|(stack, (ic, size, ac, asize))| {
        // A count of 0 has 0 bytes (a reader refuses anything else).
        let ib = if ic == 0 { 0 } else { size };
        let ab = if ac == 0 { 0 } else { asize.max(ib) };
        (stack, [ic, ib, ac.max(ic), ab])
    })
}

fn buckets() -> impl Strategy<Value = Vec<Bucket>> {
    prop::collection::vec(bucket(), 1..40)
}

/// The buckets as a gperftools `heapprofile` dump with a maps trailer. The
/// header's allocation totals always differ from its in-use totals, so
/// every dump has the four sample types (and any two merge).
fn gperftools_text(buckets: &[Bucket]) -> String {
    let mut sums = [0i64; 4];
    for (_, v) in buckets {
        for (s, x) in sums.iter_mut().zip(v) {
            *s += x;
        }
    }
    let alloc_count = sums[2].max(sums[0]) + 1;
    let mut text = format!(
        "heap profile: {}: {} [{alloc_count}: {}] @ heapprofile\n",
        sums[0],
        sums[1],
        sums[3] + 1
    );
    for (stack, [ic, ib, ac, ab]) in buckets {
        text.push_str(&format!("{ic}: {ib} [{ac}: {ab}] @"));
        for i in stack {
            text.push_str(&format!(" {:#x}", address(*i)));
        }
        text.push('\n');
    }
    text.push_str(
        "MAPPED_LIBRARIES:\n4000000000-4000100000 r-xp 00000000 08:01 7 /usr/local/bin/envoy\n",
    );
    text
}

/// The buckets as a `profile.proto`: the same sample types as the text
/// reader gives (alloc before in-use), one location per pool address,
/// optionally one named function per location.
fn pprof_bytes(buckets: &[Bucket], names: Option<&[String]>) -> Vec<u8> {
    let mut pb = Pb {
        sample_types: vec![(1, 2), (3, 4), (5, 2), (6, 4)],
        samples: buckets
            .iter()
            .map(|(stack, [ic, ib, ac, ab])| {
                let ids = stack.iter().map(|i| *i as u64 + 1).collect();
                (ids, vec![*ac, *ab, *ic, *ib], vec![])
            })
            .collect(),
        mappings: vec![(1, 0x40_0000_0000, 0x40_0010_0000, 7)],
        locations: (0..POOL)
            .map(|i| {
                let id = i as u64 + 1;
                // A line without a line number: only the function.
                let lines = if names.is_some() {
                    vec![(id, 0)]
                } else {
                    vec![]
                };
                (id, 1, address(i), lines)
            })
            .collect(),
        functions: vec![],
        strings: [
            "",
            "alloc_objects",
            "count",
            "alloc_space",
            "bytes",
            "inuse_objects",
            "inuse_space",
            "/usr/local/bin/envoy",
        ]
        .map(String::from)
        .to_vec(),
        default_sample_type: 0,
        comments: vec![],
    };
    if let Some(names) = names {
        for i in 0..POOL {
            pb.functions.push((i as u64 + 1, pb.strings.len() as i64));
            pb.strings.push(names[i % names.len()].clone());
        }
    }
    pb.encode()
}

/// Folded stacks of one sample type (root first, `;`-separated frame
/// names, a space, the value), as flamegraph tools read them.
fn write_folded(p: &Profile, index: usize) -> String {
    let mut out = String::new();
    for s in &p.samples {
        let mut frames: Vec<String> = Vec::new();
        for id in s.locations.iter().rev() {
            let loc = p.location(*id).unwrap();
            frames.extend(p.location_names(loc).into_iter().rev());
        }
        out.push_str(&format!("{} {}\n", frames.join(";"), s.values[index]));
    }
    out
}

/// Reads folded stacks back: value per stack (identical stacks added up).
fn read_folded(text: &str) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let (stack, value) = line.rsplit_once(' ').unwrap();
        *out.entry(stack.to_string()).or_insert(0) += value.parse::<i64>().unwrap();
    }
    out
}

/// A profile's values per (raw stack addresses, labels), in sample-type
/// order: what must not change however the samples are split or ordered.
fn by_stack(p: &Profile) -> BTreeMap<(Vec<u64>, Vec<String>), Vec<i64>> {
    let mut out: BTreeMap<(Vec<u64>, Vec<String>), Vec<i64>> = BTreeMap::new();
    for s in &p.samples {
        let stack = s
            .locations
            .iter()
            .map(|l| p.location(*l).unwrap().address.0)
            .collect();
        let labels = s
            .labels
            .iter()
            .map(|l| match &l.value {
                LabelValue::Str(v) => format!("{}={v}", l.key),
                LabelValue::Num { value, .. } => format!("{}={value}", l.key),
            })
            .collect();
        let e = out
            .entry((stack, labels))
            .or_insert_with(|| vec![0; s.values.len()]);
        for (a, b) in e.iter_mut().zip(&s.values) {
            *a += b;
        }
    }
    out
}

/// Values per stack without labels (the protobuf here has none).
fn by_addresses(p: &Profile) -> BTreeMap<Vec<u64>, Vec<i64>> {
    let mut out: BTreeMap<Vec<u64>, Vec<i64>> = BTreeMap::new();
    for ((stack, _), values) in by_stack(p) {
        let e = out.entry(stack).or_insert_with(|| vec![0; values.len()]);
        for (a, b) in e.iter_mut().zip(&values) {
            *a += b;
        }
    }
    out
}

fn totals(p: &Profile) -> Vec<i64> {
    (0..p.sample_types.len()).map(|i| p.total(i)).collect()
}

fn read_text(buckets: &[Bucket], name: &str) -> Profile {
    heapcost::read::parse(gperftools_text(buckets).as_bytes(), name).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn text_protobuf_and_folded_agree(buckets in buckets()) {
        let text = read_text(&buckets, "gen.heap");
        let pb = heapcost::read::parse(&pprof_bytes(&buckets, None), "gen.pb").unwrap();
        let kinds = |p: &Profile| p.sample_types.iter().map(|t| t.kind.clone()).collect::<Vec<_>>();
        prop_assert_eq!(kinds(&text), kinds(&pb));
        let mut expected = [0i64; 4];
        for (_, [ic, ib, ac, ab]) in &buckets {
            for (e, v) in expected.iter_mut().zip([ac, ab, ic, ib]) {
                *e += v;
            }
        }
        prop_assert_eq!(totals(&text), expected.to_vec());
        prop_assert_eq!(totals(&pb), expected.to_vec());
        prop_assert_eq!(by_addresses(&text), by_addresses(&pb));
        // Gzip'd, the same.
        let z = heapcost::read::parse(&gzip(gperftools_text(&buckets).as_bytes()), "gen.heap.gz").unwrap();
        prop_assert_eq!(by_stack(&z), by_stack(&text));
        // Folded, per sample type: same total, same value per stack.
        for index in 0..text.sample_types.len() {
            let folded = read_folded(&write_folded(&text, index));
            prop_assert_eq!(folded.values().sum::<i64>(), text.total(index));
            let from_pb = read_folded(&write_folded(&pb, index));
            prop_assert_eq!(folded, from_pb);
        }
    }

    #[test]
    fn merging_is_associative(a in buckets(), b in buckets(), c in buckets()) {
        let (pa, pb, pc) = (read_text(&a, "a"), read_text(&b, "b"), read_text(&c, "c"));
        let merge = heapcost::profile::merge;
        let left = merge(vec![merge(vec![pa.clone(), pb.clone()]).unwrap(), pc.clone()]).unwrap();
        let right = merge(vec![pa.clone(), merge(vec![pb.clone(), pc.clone()]).unwrap()]).unwrap();
        let flat = merge(vec![pa.clone(), pb.clone(), pc.clone()]).unwrap();
        let reversed = merge(vec![pc, pb, pa]).unwrap();
        prop_assert_eq!(by_stack(&left), by_stack(&right));
        prop_assert_eq!(by_stack(&left), by_stack(&flat));
        prop_assert_eq!(by_stack(&left), by_stack(&reversed));
        prop_assert_eq!(totals(&left), totals(&reversed));
        let sources = |p: &Profile| p.sources.iter().map(|s| s.path.clone()).collect::<Vec<_>>();
        prop_assert_eq!(sources(&left), vec!["a", "b", "c"]);
        prop_assert_eq!(sources(&right), vec!["a", "b", "c"]);
    }

    #[test]
    fn owners_and_kinds_add_up_to_the_total(
        buckets in buckets(),
        picks in prop::collection::vec(0usize..10_000, POOL),
        negative in any::<bool>(),
    ) {
        let rules = heapcost::attribute::RuleSet::builtin().unwrap();
        // Names the rules know (their examples and near misses), and some they do not.
        let mut pool: Vec<String> = rules
            .owners
            .iter()
            .chain(&rules.kinds)
            .flat_map(|r| r.spec.examples.iter().chain(&r.spec.near_misses).cloned())
            .collect();
        pool.extend(["main", "", "std::vector<int>::push_back", "Envoy::"].map(String::from));
        let names: Vec<String> = picks.iter().map(|i| pool[i % pool.len()].clone()).collect();
        let mut buckets = buckets;
        if negative {
            // pprof protobufs may carry negative values (diffs): still exact.
            for (_, v) in buckets.iter_mut().step_by(3) {
                v[1] = -v[1];
            }
        }
        let p = heapcost::read::parse(&pprof_bytes(&buckets, Some(&names)), "named.pb").unwrap();
        for index in 0..p.sample_types.len() {
            let view = heapcost::analysis::attribution::attribution(&heapcost::attribute::Attributed::new(p.clone(), &rules), index, 3);
            prop_assert_eq!(view.total, p.total(index));
            prop_assert_eq!(view.owners.iter().map(|o| o.value).sum::<i64>(), view.total);
            prop_assert_eq!(view.kinds.iter().map(|k| k.value).sum::<i64>(), view.total);
            prop_assert_eq!(view.matrix.iter().map(|c| c.value).sum::<i64>(), view.total);
        }
    }
}
