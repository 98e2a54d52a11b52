//! Attribution against ground truth: the mini-envoy workload knows, for every
//! path, how many bytes and objects it holds at each dump
//! (`fixtures/mini-envoy/ground-truth.json`); heapcost's owner and kind
//! values must equal them exactly (gperftools `heapprofile` dumps record
//! every allocation, no sampling).

use std::collections::{BTreeMap, BTreeSet};

use heapcost::analysis::attribution::{AttributionView, attribution};
use heapcost::attribute::{self, RuleSet};
use heapcost::profile::Profile;
use heapcost::symbolize::{self, Options};
use serde_json::Value;

use super::common::{corpus, fixture, read};

const SAMPLE_TYPES: [(&str, &str); 4] = [
    ("alloc_objects", "alloc_objects"),
    ("alloc_space", "alloc_bytes"),
    ("inuse_objects", "inuse_objects"),
    ("inuse_space", "inuse_bytes"),
];

fn ground_truth() -> Value {
    let path = fixture("mini-envoy/ground-truth.json");
    serde_json::from_slice(&read(&path)).unwrap()
}

/// A mini-envoy dump, symbolized as
/// `heapcost -b fixtures/mini-envoy/mini-envoy --symbols-path fixtures/mini-envoy`.
fn symbolized(file: &str) -> Profile {
    let path = fixture(&format!("mini-envoy/{file}"));
    let mut p = heapcost::read::parse(&read(&path), &path.to_string_lossy()).unwrap();
    let mut o = Options::default();
    o.paths.binary = Some(fixture("mini-envoy/mini-envoy"));
    o.paths.dirs = vec![fixture("mini-envoy")];
    symbolize::run(&mut p, &o).unwrap();
    p
}

/// Marker function name -> path key.
fn markers(gt: &Value) -> BTreeMap<String, String> {
    gt["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (v["marker"].as_str().unwrap().to_string(), k.clone()))
        .collect()
}

/// The set of path keys whose marker is on the sample's stack.
fn marker_set(
    p: &Profile,
    s: &heapcost::profile::Sample,
    markers: &BTreeMap<String, String>,
) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    for loc in s.locations.iter().filter_map(|l| p.location(*l)) {
        for name in p.location_names(loc) {
            if let Some(key) = markers.get(&name) {
                set.insert(key.clone());
            }
        }
    }
    set
}

/// The owner the workload's paths imply for a set of markers: a filter's
/// marker decides (the filter caused the bytes); otherwise the connection
/// manager's, then the codec's, the socket's, stats'. `None` for
/// `filter_chain` alone: the per-stream filter objects are built by lambdas
/// that DWARF (and so pprof) names only `operator()`, so which filter owns
/// each is not in the names.
fn expected_owner(set: &BTreeSet<String>) -> Option<&'static str> {
    let has = |prefix: &str| set.iter().any(|k| k.starts_with(prefix));
    if has("ext_proc_") {
        Some("ext_proc")
    } else if has("lua_") {
        Some("lua")
    } else if has("wasm_") {
        Some("wasm")
    } else if has("router_") {
        Some("router")
    } else if has("hcm_") {
        Some("conn_manager")
    } else if has("http2_") || has("http1_") || has("header_map_") {
        Some("codec")
    } else if has("socket_read") {
        Some("network")
    } else if has("stats_") {
        Some("stats")
    } else {
        None
    }
}

/// Bytes and objects of the ground truth's marker sets, keyed by set, for
/// one dump and sample type.
fn truth_sets(dump: &Value, key: &str) -> BTreeMap<BTreeSet<String>, i64> {
    dump["marker_sets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let set = m["paths"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().to_string())
                .collect();
            (set, m["counts"][key].as_i64().unwrap())
        })
        .collect()
}

#[test]
fn owners_equal_the_workloads_ground_truth_exactly() {
    let gt = ground_truth();
    let markers = markers(&gt);
    let rules = RuleSet::builtin().unwrap();
    let mut checked = 0;
    for dump in gt["dumps"].as_array().unwrap() {
        let file = dump["file"].as_str().unwrap();
        let p = symbolized(file);
        let a = attribute::attribute(&p, &rules);
        for (sample_type, key) in SAMPLE_TYPES {
            let index = p
                .select(&heapcost::profile::SampleTypeChoice::from(sample_type))
                .unwrap();
            let truth = truth_sets(dump, key);
            // heapcost's values per (marker set, owner).
            let mut ours: BTreeMap<BTreeSet<String>, BTreeMap<String, i64>> = BTreeMap::new();
            for (i, s) in p.samples.iter().enumerate() {
                let set = marker_set(&p, s, &markers);
                if set.is_empty() {
                    continue; // outside every path: not in the ground truth
                }
                let owner = a.owner_of(i).unwrap().name.clone();
                *ours.entry(set).or_default().entry(owner).or_default() += s.values[index];
            }
            // Per owner: what the workload says vs what heapcost charges.
            let mut truth_by_owner: BTreeMap<&str, i64> = BTreeMap::new();
            let mut ours_by_owner: BTreeMap<String, i64> = BTreeMap::new();
            for (set, &value) in &truth {
                let got = ours.get(set).cloned().unwrap_or_default();
                let sum: i64 = got.values().sum();
                assert_eq!(sum, value, "{file} {sample_type} {set:?}: the set's total");
                match expected_owner(set) {
                    Some(owner) => {
                        assert_eq!(
                            got.iter()
                                .filter(|&(_, &v)| v != 0)
                                .map(|(o, _)| o.as_str())
                                .collect::<Vec<_>>(),
                            if value == 0 { vec![] } else { vec![owner] },
                            "{file} {sample_type} {set:?}: owners"
                        );
                        *truth_by_owner.entry(owner).or_default() += value;
                        for (o, v) in got {
                            *ours_by_owner.entry(o).or_default() += v;
                        }
                        checked += 1;
                    }
                    None => {
                        // filter_chain: the stream's filter objects; each goes to its
                        // filter when a frame names it, else to the filter manager.
                        for o in got.keys() {
                            assert!(
                                ["conn_manager", "wasm", "lua", "ext_proc", "router"]
                                    .contains(&o.as_str()),
                                "{file} {sample_type} {set:?}: owner {o}"
                            );
                        }
                    }
                }
            }
            for (owner, value) in truth_by_owner {
                assert_eq!(
                    ours_by_owner.get(owner).copied().unwrap_or(0),
                    value,
                    "{file} {sample_type}: {owner}"
                );
            }
        }
    }
    assert!(checked > 300, "{checked} marker sets checked");
}

#[test]
fn kinds_equal_the_workloads_ground_truth_exactly() {
    let gt = ground_truth();
    let rules = RuleSet::builtin().unwrap();
    for dump in gt["dumps"].as_array().unwrap() {
        let file = dump["file"].as_str().unwrap();
        let p = symbolized(file);
        for (sample_type, key) in SAMPLE_TYPES {
            let index = p
                .select(&heapcost::profile::SampleTypeChoice::from(sample_type))
                .unwrap();
            let view = attribution(
                &heapcost::attribute::Attributed::new(p.clone(), &rules),
                index,
                0,
            );
            let truth = truth_sets(dump, key);
            let sum_of = |pred: &dyn Fn(&BTreeSet<String>) -> bool| -> i64 {
                truth.iter().filter(|(s, _)| pred(s)).map(|(_, v)| v).sum()
            };
            // Every slice's storage and every slice ring is under a marker.
            let buffer = sum_of(&|s| s.iter().any(|k| k.starts_with("buffer_slice_")));
            assert_eq!(view.kind("buffer"), buffer, "{file} {sample_type}: buffer");
            // Every stat is made under one of the two stats markers.
            let stats = sum_of(&|s| s.iter().any(|k| k.starts_with("stats_")));
            assert_eq!(view.kind("stats"), stats, "{file} {sample_type}: stats");
            assert_eq!(
                view.owner("stats"),
                stats,
                "{file} {sample_type}: stats owner"
            );
            // The ext_proc Buffer::Slice bytes: every ext_proc path through newStorage.
            let ext_proc_buffer = sum_of(&|s| {
                s.iter().any(|k| k.starts_with("ext_proc_"))
                    && s.iter().any(|k| k.starts_with("buffer_slice_"))
            });
            assert_eq!(
                view.cell("ext_proc", "buffer"),
                ext_proc_buffer,
                "{file} {sample_type}"
            );
            // WASM VM creation and the plugin's calls are all VM memory.
            let wasm = sum_of(&|s| s.iter().any(|k| k.starts_with("wasm_")));
            assert!(
                view.kind("wasm_vm") >= wasm,
                "{file} {sample_type}: wasm_vm"
            );
            assert_eq!(
                view.cell("wasm", "wasm_vm") - wasm,
                view.kind("wasm_vm") - wasm
            );
            // Lua states made per worker: all inside liblua.
            let lua_states = sum_of(&|s| s.contains("lua_thread_local"));
            assert!(
                view.cell("lua", "lua_vm") >= lua_states,
                "{file} {sample_type}: lua_vm"
            );
        }
    }
}

#[test]
fn ext_proc_owns_the_slices_split_between_decode_and_encode_data() {
    // The seed analysis of the real incident: 97.84% of the heap flat in
    // Buffer::Slice::newStorage, reached through sendBodyChunk ->
    // serializeMessage, decodeData 67.85% / encodeData 30.40%. The same shape
    // at mini-envoy's peak, with the workload's exact numbers.
    let gt = ground_truth();
    let dump = gt["dumps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["reason"] == "peak")
        .unwrap();
    let p = symbolized(dump["file"].as_str().unwrap());
    let rules = RuleSet::builtin().unwrap();
    let index = p
        .select(&heapcost::profile::SampleTypeChoice::from("inuse_space"))
        .unwrap();
    let view = attribution(
        &heapcost::attribute::Attributed::new(p.clone(), &rules),
        index,
        usize::MAX,
    );
    let truth = truth_sets(dump, "inuse_bytes");
    let through = |entry: &str| -> i64 {
        truth
            .iter()
            .filter(|(s, _)| {
                s.contains(entry)
                    && s.contains("ext_proc_send_body_chunk")
                    && s.contains("buffer_slice_new_storage")
            })
            .map(|(_, v)| v)
            .sum()
    };
    let (decode, encode) = (
        through("ext_proc_decode_data"),
        through("ext_proc_encode_data"),
    );
    assert!(decode > 0 && encode > 0);

    assert_eq!(view.owners[0].name, "ext_proc", "the biggest owner");
    assert_eq!(view.matrix[0].owner, "ext_proc");
    assert_eq!(
        view.matrix[0].kind, "buffer",
        "ext_proc's bytes are Buffer::Slice bytes"
    );
    let ext_proc = &view.owners[0];
    let path_sum = |first: &str| -> i64 {
        ext_proc
            .top_stacks
            .iter()
            .filter(|p| {
                p.path.first().map(String::as_str) == Some(first)
                    && p.path.last().map(String::as_str) == Some("Slice::newStorage")
                    && p.path.iter().any(|f| {
                        f.ends_with("::serializeMessage") || f.ends_with("::prependGrpcFrameHeader")
                    })
            })
            .map(|p| p.value)
            .sum()
    };
    assert_eq!(path_sum("Filter::decodeData"), decode, "request path");
    assert_eq!(path_sum("Filter::encodeData"), encode, "response path");
    let top2: Vec<String> = ext_proc.top_stacks[..2]
        .iter()
        .map(|p| p.path.join(" > "))
        .collect();
    assert_eq!(
        top2,
        [
            "Filter::decodeData > ExternalProcessorStreamImpl::send > Common::serializeMessage > Slice::newStorage",
            "Filter::encodeData > ExternalProcessorStreamImpl::send > Common::serializeMessage > Slice::newStorage",
        ]
    );
    // 70% / 30% at the peak, as the fixture's README states.
    assert_eq!(decode * 3, encode * 7);
}

/// Owner, kind and matrix columns add up to the total, which is `top`'s.
fn assert_columns_add_up(p: &Profile, what: &str, rules: &RuleSet) {
    for index in 0..p.sample_types.len() {
        let view = attribution(
            &heapcost::attribute::Attributed::new(p.clone(), rules),
            index,
            3,
        );
        let top = heapcost::analysis::top::top(
            p,
            &heapcost::profile::NameTable::new(p),
            index,
            Default::default(),
        );
        let st = &p.sample_types[index].kind;
        assert_eq!(view.total, top.total, "{what} {st}: total");
        assert_eq!(
            view.owners.iter().map(|r| r.value).sum::<i64>(),
            view.total,
            "{what} {st}: owners"
        );
        assert_eq!(
            view.kinds.iter().map(|r| r.value).sum::<i64>(),
            view.total,
            "{what} {st}: kinds"
        );
        assert_eq!(
            view.matrix.iter().map(|c| c.value).sum::<i64>(),
            view.total,
            "{what} {st}: matrix"
        );
        check_view(&view, what);
    }
}

fn check_view(view: &AttributionView, what: &str) {
    for o in &view.owners {
        let cells: i64 = view
            .matrix
            .iter()
            .filter(|c| c.owner == o.name)
            .map(|c| c.value)
            .sum();
        assert_eq!(cells, o.value, "{what}: row {}", o.name);
        assert!(o.top_stacks.len() <= 3);
    }
}

#[test]
fn columns_add_up_for_every_fixture_and_corpus_file_and_sample_type() {
    let rules = RuleSet::builtin().unwrap();
    let mut files = 0;
    // Symbolized: every mini-envoy dump, and the split-DWARF build's.
    for n in 1..=4 {
        let p = symbolized(&format!("mini-envoy.000{n}.heap"));
        assert_columns_add_up(&p, &format!("mini-envoy.000{n}"), &rules);
        files += 1;
    }
    // Address level: the Envoy corpus, pprof's test data, the pprof protobufs.
    let mut paths = Vec::new();
    for n in 1..=13 {
        paths.push(corpus(&format!(
            "envoy-1.34-ext-proc-full-duplex/envoy.prof.{n:04}.heap"
        )));
    }
    for f in [
        "cppbench.heap",
        "cppbench.growth",
        "gobench.heap",
        "jemalloc.heap",
    ] {
        paths.push(corpus(&format!("pprof-testdata/{f}")));
    }
    for entry in std::fs::read_dir(fixture("pprof-proto")).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().ends_with(".pb.gz") {
            paths.push(path);
        }
    }
    paths.push(fixture("mini-envoy/split/mini-envoy.0001.heap"));
    for path in paths {
        let what = path.display().to_string();
        let p = heapcost::read::parse(&read(&path), &what).unwrap();
        assert_columns_add_up(&p, &what, &rules);
        files += 1;
    }
    assert!(files >= 22, "{files} files");
}

#[test]
fn every_builtin_rule_has_examples_and_near_misses() {
    let rules = RuleSet::builtin().unwrap();
    for r in rules.owners.iter().chain(&rules.kinds) {
        assert!(
            !r.spec.examples.is_empty(),
            "rule {} has no example",
            r.spec.id
        );
        assert!(
            !r.spec.near_misses.is_empty(),
            "rule {} has no near miss",
            r.spec.id
        );
        assert!(
            !r.spec.description.is_empty(),
            "rule {} has no description",
            r.spec.id
        );
    }
    // The owners and kinds are all there.
    let owners: Vec<String> = rules
        .labels(attribute::Column::Owner)
        .into_iter()
        .map(|(l, _)| l)
        .collect();
    for o in [
        "ext_proc",
        "wasm",
        "lua",
        "router",
        "rbac",
        "jwt_authn",
        "ratelimit",
        "ext_authz",
        "compressor",
        "buffer",
        "health_check",
        "grpc",
        "codec",
        "conn_manager",
        "upstream",
        "config",
        "tls",
        "stats",
        "dns",
        "access_log",
        "admin",
        "tracing",
        "runtime",
        "listener",
        "allocator",
        "libc",
        "libstdc++",
        "startup",
    ] {
        assert!(owners.iter().any(|x| x == o), "owner {o}");
    }
    let kinds: Vec<String> = rules
        .labels(attribute::Column::Kind)
        .into_iter()
        .map(|(l, _)| l)
        .collect();
    for k in [
        "buffer",
        "header_map",
        "protobuf",
        "string",
        "container",
        "wasm_vm",
        "lua_vm",
        "tls",
        "stats",
    ] {
        assert!(kinds.iter().any(|x| x == k), "kind {k}");
    }
}

#[test]
fn diff_of_two_dumps_follows_the_ground_truth() {
    let gt = ground_truth();
    let dumps = gt["dumps"].as_array().unwrap();
    let rules = RuleSet::builtin().unwrap();
    let (d2, d3) = (&dumps[1], &dumps[2]);
    let (base, new) = (
        symbolized(d2["file"].as_str().unwrap()),
        symbolized(d3["file"].as_str().unwrap()),
    );
    for (sample_type, key) in SAMPLE_TYPES {
        let (bi, ni) = (
            base.select(&heapcost::profile::SampleTypeChoice::from(sample_type))
                .unwrap(),
            new.select(&heapcost::profile::SampleTypeChoice::from(sample_type))
                .unwrap(),
        );
        let d = diff_of(&base, bi, &new, ni, &rules);
        let vb = attribution(
            &heapcost::attribute::Attributed::new(base.clone(), &rules),
            bi,
            0,
        );
        let vn = attribution(
            &heapcost::attribute::Attributed::new(new.clone(), &rules),
            ni,
            0,
        );
        assert_eq!(d.total.delta, vn.total - vb.total);
        for r in &d.owners {
            assert_eq!(
                (r.base, r.new),
                (vb.owner(&r.name), vn.owner(&r.name)),
                "{}",
                r.name
            );
        }
        assert_eq!(d.owners.iter().map(|r| r.delta).sum::<i64>(), d.total.delta);
        assert_eq!(d.kinds.iter().map(|r| r.delta).sum::<i64>(), d.total.delta);
        // The slices the workload added between the two dumps.
        let buffer = |dump: &Value| -> i64 {
            truth_sets(dump, key)
                .iter()
                .filter(|(s, _)| s.iter().any(|k| k.starts_with("buffer_slice_")))
                .map(|(_, v)| v)
                .sum()
        };
        let row = d.kinds.iter().find(|r| r.name == "buffer").unwrap();
        assert_eq!(row.delta, buffer(d3) - buffer(d2), "{sample_type}");
        // Largest change first.
        for pair in d.owners.windows(2) {
            assert!(pair[0].delta.abs() >= pair[1].delta.abs());
        }
    }
    // A profile against itself: nothing changed.
    let index = new
        .select(&heapcost::profile::SampleTypeChoice::from("inuse_space"))
        .unwrap();
    let same = diff_of(&new, index, &new, index, &rules);
    assert_eq!(same.total.delta, 0);
    assert!(same.owners.iter().all(|r| r.delta == 0));
    assert!(same.functions.is_empty());
}

/// `diff` of two profiles, each labelled, viewed and tabled once.
fn diff_of(
    base: &Profile,
    bi: usize,
    new: &Profile,
    ni: usize,
    rules: &RuleSet,
) -> heapcost::analysis::diff::Diff {
    let side = |p: &Profile, i: usize| {
        let a = heapcost::attribute::Attributed::new(p.clone(), rules);
        let top = heapcost::analysis::top::top(&a.profile, a.names(), i, Default::default());
        (attribution(&a, i, 0), top)
    };
    let ((vb, tb), (vn, tn)) = (side(base, bi), side(new, ni));
    heapcost::analysis::diff::diff(&vb, &vn, &tb, &tn)
}
