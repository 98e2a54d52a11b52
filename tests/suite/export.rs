//! `convert` and `flamegraph` end to end: the pprof protobuf reads back
//! with pprof's own names and values, folded stacks add up to the total,
//! SVGs are well-formed XML and carry every owner's colour.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use heapcost::profile::Profile;
use serde_json::Value;
use tempfile::TempDir;

use super::common::traces::{compare, our_traces, pprof_traces};
use super::common::{cache_dir, corpus, fixture, read};

fn heapcost() -> Command {
    let mut cmd = Command::cargo_bin("heapcost").unwrap();
    cmd.timeout(Duration::from_secs(120))
        .env("HEAPCOST_CACHE_DIR", cache_dir());
    cmd
}

fn mini(n: u32) -> String {
    fixture(&format!("mini-envoy/mini-envoy.000{n}.heap"))
        .to_string_lossy()
        .into_owned()
}

/// `-b fixtures/mini-envoy/mini-envoy --symbols-path fixtures/mini-envoy`.
fn symbols() -> Vec<String> {
    vec![
        "-b".into(),
        fixture("mini-envoy/mini-envoy").to_string_lossy().into(),
        "--symbols-path".into(),
        fixture("mini-envoy").to_string_lossy().into(),
    ]
}

fn parse(path: &Path) -> Profile {
    heapcost::read::parse(&read(path), &path.to_string_lossy()).unwrap()
}

fn json(args: &[String]) -> Value {
    let out = heapcost().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every sample type's total as `top --format json` gives it.
fn top_totals(inputs: &[String], extra: &[String]) -> Vec<i64> {
    let p = parse(Path::new(&inputs[0]));
    (0..p.sample_types.len())
        .map(|i| {
            let mut args = vec!["top".to_string(), "--format".into(), "json".into()];
            args.extend(["-s".into(), i.to_string()]);
            args.extend(extra.iter().cloned());
            args.extend(inputs.iter().cloned());
            json(&args)["total"].as_i64().unwrap()
        })
        .collect()
}

#[test]
fn pprof_protobuf_reads_back_with_pprofs_names_and_values() {
    let dir = TempDir::new().unwrap();
    for n in 1..=4 {
        let out = dir.path().join(format!("m{n}.pb.gz"));
        let mut args = vec!["convert".to_string(), "-o".into()];
        args.push(out.to_string_lossy().into());
        args.extend(symbols());
        args.push(mini(n));
        heapcost().args(&args).assert().success();
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
            top_totals(&[mini(n)], &symbols())
        );
    }
}

#[test]
fn pprof_protobuf_of_an_unsymbolized_corpus_dump_keeps_every_value() {
    let dir = TempDir::new().unwrap();
    let input = corpus("envoy-1.34-ext-proc-full-duplex/envoy.prof.0004.heap");
    let out = dir.path().join("e4.pb.gz");
    heapcost()
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
        let mut args = vec!["convert".to_string(), "--folded".into(), "-s".into()];
        args.push(st.into());
        args.extend(symbols());
        args.push(mini(3));
        let out = heapcost().args(&args).output().unwrap();
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
        let total = top_totals(&[mini(3)], &symbols());
        let p = parse(Path::new(&mini(3)));
        let i = p.sample_type_index(st).unwrap();
        assert_eq!(sum, total[i], "{st}");
        assert!(text.contains(
            ";Envoy::Extensions::HttpFilters::ExternalProcessing::Filter::sendBodyChunk;"
        ));
    }
}

/// The `fill="rgb(r,g,b)"` colours of an SVG's frame rectangles, by frame title.
fn svg_frames(svg: &str) -> BTreeMap<String, String> {
    let doc = roxmltree::Document::parse_with_options(
        svg,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("SVG is not well-formed XML: {e}"));
    let mut frames = BTreeMap::new();
    for g in doc.descendants().filter(|n| n.has_tag_name("g")) {
        let title = g
            .children()
            .find(|c| c.has_tag_name("title"))
            .and_then(|t| t.text());
        let fill = g
            .children()
            .find(|c| c.has_tag_name("rect"))
            .and_then(|r| r.attribute("fill"));
        if let (Some(t), Some(f)) = (title, fill) {
            frames.insert(t.to_string(), f.to_string());
        }
    }
    frames
}

fn rgb(hex: &str) -> String {
    let v = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap();
    format!("rgb({},{},{})", v(1), v(3), v(5))
}

#[test]
fn flamegraph_is_well_formed_and_carries_every_owners_colour() {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("f.svg");
    let mut args = vec!["flamegraph".to_string(), "-o".into()];
    args.push(out.to_string_lossy().into());
    args.extend(symbols());
    args.push(mini(3));
    heapcost().args(&args).assert().success();
    let svg = String::from_utf8(read(&out)).unwrap();
    let frames = svg_frames(&svg);
    assert!(frames.len() > 50, "{} frames", frames.len());
    // Every owner attribution finds has a legend entry in its colour, and
    // the frames its rules match are drawn in that colour.
    let mut attr = vec!["attribute".to_string(), "--format".into(), "json".into()];
    attr.extend(symbols());
    attr.push(mini(3));
    let view = json(&attr);
    let owners: Vec<String> = view["owners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap().to_string())
        .collect();
    assert!(owners.contains(&"ext_proc".to_string()));
    for owner in &owners {
        let c = heapcost::render::flamegraph::hex(heapcost::render::flamegraph::owner_color(owner));
        assert!(
            svg.contains(&format!("fill=\"{c}\"><title>{owner}</title>")),
            "legend entry for {owner}"
        );
    }
    let ext_proc = rgb(&heapcost::render::flamegraph::hex(
        heapcost::render::flamegraph::owner_color("ext_proc"),
    ));
    let send = frames
        .iter()
        .find(|(t, _)| {
            t.starts_with(
                "Envoy::Extensions::HttpFilters::ExternalProcessing::Filter::sendBodyChunk ",
            )
        })
        .expect("sendBodyChunk frame");
    assert_eq!(send.1, &ext_proc);
    let main = frames.iter().find(|(t, _)| t.starts_with("main ")).unwrap();
    let grey = heapcost::render::flamegraph::UNOWNED;
    assert_eq!(main.1, &format!("rgb({},{},{})", grey.0, grey.1, grey.2));
}

#[test]
fn flamegraph_of_one_owner_holds_exactly_its_bytes() {
    let mut args = vec![
        "flamegraph".to_string(),
        "--owner".into(),
        "ext_proc".into(),
    ];
    args.extend(symbols());
    args.push(mini(3));
    let out = heapcost().args(&args).output().unwrap();
    assert!(out.status.success());
    let svg = String::from_utf8(out.stdout).unwrap();
    let frames = svg_frames(&svg);
    let all = frames
        .keys()
        .find(|t| t.starts_with("all ("))
        .expect("root frame");
    let mut attr = vec!["attribute".to_string(), "--format".into(), "json".into()];
    attr.extend(symbols());
    attr.push(mini(3));
    let view = json(&attr);
    let ext = view["owners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "ext_proc")
        .unwrap()["value"]
        .as_i64()
        .unwrap();
    let digits: String = all["all (".len()..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',')
        .filter(char::is_ascii_digit)
        .collect();
    assert_eq!(digits.parse::<i64>().unwrap(), ext, "{all}");
    // An owner no sample has is a usage error naming the owners there are.
    let mut bad = vec![
        "flamegraph".to_string(),
        "--owner".into(),
        "ext_porc".into(),
    ];
    bad.extend(symbols());
    bad.push(mini(3));
    let out = heapcost().args(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ext_porc") && err.contains("ext_proc"),
        "{err}"
    );
}

#[test]
fn differential_and_icicle_flamegraphs_are_well_formed() {
    let mut args = vec!["flamegraph".to_string(), "--base".into(), mini(2)];
    args.extend(symbols());
    args.push(mini(3));
    let out = heapcost().args(&args).output().unwrap();
    assert!(out.status.success());
    let svg = String::from_utf8(out.stdout).unwrap();
    let frames = svg_frames(&svg);
    // Dump 3 holds more ext_proc body chunks than dump 2: grown frames are
    // red (r = 255, g = b < 255); the title states the change.
    let send = frames
        .iter()
        .find(|(t, _)| t.starts_with("Envoy::Buffer::Slice::newStorage "))
        .unwrap();
    assert!(send.1.starts_with("rgb(255,"), "{send:?}");
    assert!(send.0.contains("+"), "{send:?}");
    assert!(svg.contains("(red grew, blue shrank)"));

    let mut args = vec!["flamegraph".to_string(), "--icicle".into()];
    args.extend(symbols());
    args.push(mini(3));
    let out = heapcost().args(&args).output().unwrap();
    assert!(out.status.success());
    assert!(svg_frames(&String::from_utf8(out.stdout).unwrap()).len() > 50);
}
