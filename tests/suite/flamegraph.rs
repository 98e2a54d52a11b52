//! `flamegraph` end to end: SVGs are well-formed XML and carry every
//! owner's colour; one owner's flamegraph holds exactly its bytes; the
//! differential and icicle forms.

use std::collections::BTreeMap;

use tempfile::TempDir;

use super::common::run::{mini, mini_json};
use super::common::{mini_dump, read};

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
    let written = mini(&["flamegraph", "-o", &out.to_string_lossy()], 3);
    assert!(written.status.success());
    let svg = String::from_utf8(read(&out)).unwrap();
    let frames = svg_frames(&svg);
    assert!(frames.len() > 50, "{} frames", frames.len());
    // Every owner attribution finds has a legend entry in its colour, and
    // the frames its rules match are drawn in that colour.
    let view = mini_json(&["attribute", "--format", "json"], 3);
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
    let out = mini(&["flamegraph", "--owner", "ext_proc"], 3);
    assert!(out.status.success());
    let svg = String::from_utf8(out.stdout).unwrap();
    let frames = svg_frames(&svg);
    let all = frames
        .keys()
        .find(|t| t.starts_with("all ("))
        .expect("root frame");
    let view = mini_json(&["attribute", "--format", "json"], 3);
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
    let out = mini(&["flamegraph", "--owner", "ext_porc"], 3);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ext_porc") && err.contains("ext_proc"),
        "{err}"
    );
}

#[test]
fn differential_and_icicle_flamegraphs_are_well_formed() {
    let out = mini(&["flamegraph", "--base", &mini_dump(2)], 3);
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

    let out = mini(&["flamegraph", "--icicle"], 3);
    assert!(out.status.success());
    assert!(svg_frames(&String::from_utf8(out.stdout).unwrap()).len() > 50);
}
