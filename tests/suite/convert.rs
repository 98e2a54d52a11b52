//! `convert` end to end: the pprof protobuf reads back with pprof's own
//! names and values, and folded stacks add up to the total.

use std::path::Path;

use heapcost::profile::Profile;
use tempfile::TempDir;

use super::common::run::{EXPORT_BOUND, heapcost, mini, run_json};
use super::common::traces::{compare, our_traces, pprof_traces};
use super::common::{corpus, fixture, mini_dump, mini_symbol_args, parse, read};

/// Every sample type's total as `top --format json` gives it.
fn top_totals(inputs: &[String], extra: &[String]) -> Vec<i64> {
    let p = parse(Path::new(&inputs[0]));
    (0..p.sample_types.len())
        .map(|i| {
            let mut args = vec!["top".to_string(), "--format".into(), "json".into()];
            args.extend(["-s".into(), i.to_string()]);
            args.extend(extra.iter().cloned());
            args.extend(inputs.iter().cloned());
            run_json(&args)["total"].as_i64().unwrap()
        })
        .collect()
}

#[test]
fn pprof_protobuf_reads_back_with_pprofs_names_and_values() {
    let dir = TempDir::new().unwrap();
    for n in 1..=4 {
        let out = dir.path().join(format!("m{n}.pb.gz"));
        let written = mini(&["convert", "-o", &out.to_string_lossy()], n);
        assert!(written.status.success());
        assert_eq!(&read(&out)[..2], &[0x1f, 0x8b], "gzipped");
        // Read back without any binary: the names are in the file. Every
        // stack, every frame (inline frames included) and every value equals
        // what pprof printed for the original dump and binary.
        let back = parse(&out);
        let expected = String::from_utf8(read(&fixture(&format!(
            "mini-envoy/mini-envoy.000{n}.traces.txt"
        ))))
        .unwrap();
        compare(our_traces(&back), pprof_traces(&expected), "convert");
        // Totals of every sample type equal top's on the original.
        let converted = vec![out.to_string_lossy().into_owned()];
        assert_eq!(
            top_totals(&converted, &["--no-symbolize".into()]),
            top_totals(&[mini_dump(n)], &mini_symbol_args())
        );
    }
}

#[test]
fn pprof_protobuf_of_an_unsymbolized_corpus_dump_keeps_every_value() {
    let dir = TempDir::new().unwrap();
    let input = corpus("envoy-1.34-ext-proc-full-duplex/envoy.prof.0004.heap");
    let out = dir.path().join("e4.pb.gz");
    heapcost()
        .timeout(EXPORT_BOUND)
        .args(["convert", "--no-symbolize", "-o"])
        .arg(&out)
        .arg(&input)
        .assert()
        .success();
    let (a, b) = (parse(&input), parse(&out));
    assert_eq!(a.sample_types, b.sample_types);
    for i in 0..a.sample_types.len() {
        assert_eq!(a.total(i), b.total(i), "sample type {i}");
    }
    // pprof's legacy reader moves return addresses to the call site; so do we.
    let pc = |p: &Profile| -> Vec<u64> {
        let mut v: Vec<u64> = p.locations.iter().map(|l| l.lookup_address().0).collect();
        v.sort_unstable();
        v
    };
    assert_eq!(pc(&a), pc(&b));
    assert_eq!(a.mappings.len(), b.mappings.len());
}

#[test]
fn folded_stacks_add_up_to_the_total_root_first() {
    for st in ["inuse_space", "alloc_objects"] {
        let out = mini(&["convert", "--folded", "-s", st], 3);
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        let mut sum = 0i64;
        let mut stacks = std::collections::HashSet::new();
        for line in text.lines() {
            let (stack, v) = line.rsplit_once(' ').unwrap();
            sum += v.parse::<i64>().unwrap();
            assert!(
                stacks.insert(stack.to_string()),
                "stacks are summed: {stack}"
            );
            if let Some(i) = stack.find(";main;") {
                assert!(
                    stack[i..].starts_with(";main;Envoy::MainCommon::main;"),
                    "root first: {stack}"
                );
            }
        }
        let total = top_totals(&[mini_dump(3)], &mini_symbol_args());
        let p = parse(Path::new(&mini_dump(3)));
        let i = p
            .select(&heapcost::profile::SampleTypeChoice::from(st))
            .unwrap();
        assert_eq!(sum, total[i], "{st}");
        assert!(text.contains(
            ";Envoy::Extensions::HttpFilters::ExternalProcessing::Filter::sendBodyChunk;"
        ));
    }
}
